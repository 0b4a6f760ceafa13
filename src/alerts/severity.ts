/**
 * How loud a decision is. The table is exhaustive over ReasonCode, so a new code
 * does not compile until someone decides how it should page.
 *
 *   HIGH    evidence of tampering: a signature that does not verify, a digest that
 *           is not the signed one, a revoked signer. Whatever the mode.
 *   MEDIUM  no acceptable signature: missing, untrusted signer, expired, no rule
 *           for the image, no digest to verify; and, in enforce mode, an
 *           infrastructure or policy error that kept a workload out.
 *   LOW     an infrastructure or policy error that did not keep anything out
 *           (audit mode, or onError: allow).
 *   INFO    an allow (only sent as a decision event when DECISION_EVENTS=all).
 */
import type { Decision, ReasonCode } from '../core/decision.js';

export type Severity = 'HIGH' | 'MEDIUM' | 'LOW' | 'INFO';

type Class = 'allow' | 'tampering' | 'unsigned' | 'operational';

const CLASS: Record<ReasonCode, Class> = {
  VERIFIED: 'allow',
  ALLOWLISTED: 'allow',
  UNMATCHED_ALLOWED: 'allow',
  SIGNATURE_INVALID: 'tampering',
  DIGEST_MISMATCH: 'tampering',
  REVOKED: 'tampering',
  ATTESTATION_MISSING: 'unsigned',
  ATTESTATION_FAILED: 'unsigned',
  SIGNATURE_MISSING: 'unsigned',
  UNTRUSTED_SIGNER: 'unsigned',
  EXPIRED: 'unsigned',
  NO_MATCHING_RULE: 'unsigned',
  DIGEST_MISSING: 'unsigned',
  REGISTRY_AUTH_FAILURE: 'operational',
  REGISTRY_ERROR: 'operational',
  KEY_ERROR: 'operational',
  REVOCATION_UNKNOWN: 'operational',
  TIMEOUT: 'operational',
  POLICY_ERROR: 'operational',
  INTERNAL_ERROR: 'operational',
};

export function severityOf(d: Pick<Decision, 'decision' | 'reason' | 'mode'>): Severity {
  switch (CLASS[d.reason]) {
    case 'allow':
      return 'INFO';
    case 'tampering':
      return 'HIGH';
    case 'unsigned':
      return 'MEDIUM';
    case 'operational':
      // kept out (a deny in enforce mode) is an outage someone must look at; admitted is a warning
      return d.decision === 'deny' && d.mode === 'enforce' ? 'MEDIUM' : 'LOW';
    default:
      // a code this build does not know (a newer producer): loud enough to be read
      return 'MEDIUM';
  }
}
