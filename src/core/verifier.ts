/**
 * The verifier contract. A verifier reads the signatures of one image digest through
 * a RepositoryClient and returns a VerifierVerdict (the first stage of an image's
 * result; decide.ts lists the stages); it never decides allow/deny on its own
 * (decide() does, from the policy's `require`, mode and onError).
 *
 * Bad evidence is a returned failure with a reason code. Trouble reaching the
 * evidence (registry, KMS, Signer) is a thrown error: RegistryError, or
 * VerifierError with an error code (KEY_ERROR, TIMEOUT, ...), so decide() can apply
 * `onError` to it and the hook can wait on transient ones.
 */
import type { ReasonCode } from './decision.js';
import type { ImageReference } from './reference.js';
import type { Descriptor, RepositoryClient } from './registry.js';

export interface VerifyTarget {
  ref: ImageReference;
  /** the digest that will run; every signature must bind to exactly this */
  digest: string;
  /** the image's manifest descriptor (mediaType, size), fetched once per decision */
  descriptor: () => Promise<Descriptor>;
}

export interface VerifyContext {
  target: VerifyTarget;
  repo: RepositoryClient;
  signal: AbortSignal;
  now: Date;
}

/** What one verifier says about the evidence: passed (by whom), or failed with a reason. */
export type VerifierVerdict =
  | { ok: true; by: string; detail?: string }
  | { ok: false; reason: FailureReason; detail: string };

/** The codes a verifier may return as a failed verdict (bad or absent evidence). */
export type FailureReason = Extract<
  ReasonCode,
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_INVALID'
  | 'UNTRUSTED_SIGNER'
  | 'DIGEST_MISMATCH'
  | 'EXPIRED'
  | 'REVOKED'
  | 'ATTESTATION_MISSING'
  | 'ATTESTATION_FAILED'
>;

export interface Verifier {
  /** e.g. "cosign key sha256:ab12…" — shown in verifiedBy and logs */
  readonly description: string;
  verify(ctx: VerifyContext): Promise<VerifierVerdict>;
}

/** An error while verifying that is not the signature's fault. */
export class VerifierError extends Error {
  constructor(
    readonly reason: Extract<
      ReasonCode,
      'KEY_ERROR' | 'REVOCATION_UNKNOWN' | 'TIMEOUT' | 'REGISTRY_ERROR' | 'INTERNAL_ERROR' | 'POLICY_ERROR'
    >,
    message: string,
    readonly transient = false,
  ) {
    super(message);
    this.name = 'VerifierError';
  }
}

/** When several failures are seen, report the most telling one (tampering over absence). */
const FAILURE_RANK: Record<FailureReason, number> = {
  REVOKED: 8,
  DIGEST_MISMATCH: 7,
  SIGNATURE_INVALID: 6,
  EXPIRED: 5,
  UNTRUSTED_SIGNER: 4,
  ATTESTATION_FAILED: 3,
  ATTESTATION_MISSING: 2,
  SIGNATURE_MISSING: 1,
};

export function worstFailure<T extends { reason: FailureReason }>(failures: T[]): T | undefined {
  return failures.reduce<T | undefined>(
    (worst, f) => (!worst || FAILURE_RANK[f.reason] > FAILURE_RANK[worst.reason] ? f : worst),
    undefined,
  );
}
