/**
 * The decision contract (DESIGN.md, "Decision"): one per container image, with a
 * reason code that every log line, alert, decision event and CLI row carries.
 */

export const REASON_CODES = [
  'VERIFIED',
  'ALLOWLISTED',
  'UNMATCHED_ALLOWED',
  'NO_MATCHING_RULE',
  'DIGEST_MISSING',
  'SIGNATURE_MISSING',
  'SIGNATURE_INVALID',
  'UNTRUSTED_SIGNER',
  'DIGEST_MISMATCH',
  'EXPIRED',
  'REVOKED',
  'REVOCATION_UNKNOWN',
  'ATTESTATION_MISSING',
  'ATTESTATION_FAILED',
  'REGISTRY_AUTH_FAILURE',
  'REGISTRY_ERROR',
  'KEY_ERROR',
  'TIMEOUT',
  'POLICY_ERROR',
  'INTERNAL_ERROR',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

/** Codes that come from infrastructure trouble; `onError` decides them in enforce mode. */
export const ERROR_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'REGISTRY_AUTH_FAILURE',
  'REGISTRY_ERROR',
  'KEY_ERROR',
  'REVOCATION_UNKNOWN',
  'TIMEOUT',
  'INTERNAL_ERROR',
]);

export interface Decision {
  container: string;
  image: string;
  digest: string | null;
  decision: 'allow' | 'deny';
  reason: ReasonCode;
  rule: string | null;
  verifiedBy: string[];
  detail: string;
  durationMs: number;
  /**
   * Set when the policy is in audit mode (or onError: allow turned an error into an
   * allow): what enforce mode would have said. A deny that was admitted keeps its
   * code in `reason` and `decision` stays 'deny'; the caller admits by mode.
   */
  mode: 'enforce' | 'audit';
  /** present when the cause may pass by itself (registry 5xx, timeout): worth a later retry */
  retryable?: true;
  /**
   * present when ECS reported no digest and the gate resolved this tag at the registry
   * itself: `digest` is what the tag named then, which ECS may or may not pull
   */
  digestResolvedFromTag?: string;
}

/** "web: 1234.dkr.ecr…/app@sha256:ab… DENIED SIGNATURE_MISSING, no cosign signature found, rule app" */
export function decisionLine(d: Decision): string {
  const where = d.digest && !d.image.includes('@') ? `${d.image}@${d.digest}` : d.image;
  const verdict = d.decision === 'allow' ? 'ALLOWED' : d.mode === 'audit' ? 'DENIED (audit: admitted)' : 'DENIED';
  const rule = d.rule ? `, rule ${d.rule}` : '';
  return `${d.container}: ${where} ${verdict} ${d.reason}, ${d.detail}${rule}`;
}

/** True when the caller must keep the workload out: a deny in enforce mode. */
export function blocks(d: Decision): boolean {
  return d.decision === 'deny' && d.mode === 'enforce';
}
