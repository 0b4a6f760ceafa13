/**
 * Attestation predicate types: a URI, or one of cosign's short names (`cosign attest
 * --type`, `cosign verify-attestation --type`), mapped exactly as cosign maps them.
 * Any other short name is refused: a typo must not become a type nothing carries.
 */

export const PREDICATE_SHORT_NAMES: Readonly<Record<string, string>> = Object.freeze({
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
});

/** scheme ":" then no blanks (cosign accepts what url.ParseRequestURI accepts) */
const URI = /^[a-z][a-z0-9+.-]*:\S+$/i;

/** The predicate type a policy names, or a sentence saying why it names none. */
export function resolvePredicateType(name: string): { uri: string } | { problem: string } {
  const mapped = Object.hasOwn(PREDICATE_SHORT_NAMES, name) ? PREDICATE_SHORT_NAMES[name] : undefined;
  if (mapped) return { uri: mapped };
  if (URI.test(name)) return { uri: name };
  return {
    problem: `"${name.slice(0, 100)}" is neither a URI nor one of cosign's short names (${Object.keys(PREDICATE_SHORT_NAMES).join(', ')})`,
  };
}
