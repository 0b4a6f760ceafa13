/**
 * Every regular expression in a policy (identities, attestation conditions) matches the
 * whole value, as cosign's `--certificate-identity-regexp` does: `…@refs/heads/main` must
 * not admit `…@refs/heads/main-evil`. Wrapped in a group so that an alternation cannot
 * escape the anchors.
 */
export function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}
