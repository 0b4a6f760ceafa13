/**
 * Attestation rules of a cosign verifier: for every required predicate type, at least
 * one in-toto statement of that type, signed by the verifier's key or identity, names
 * the image as its subject and meets every condition.
 *
 * Only the signed statement counts: the predicate type and subject are read from the
 * verified DSSE payload, never from referrer-manifest or layer annotations.
 *
 *   ATTESTATION_MISSING  no statement of the type, by an accepted signer, for this image
 *                        (absent, untrusted, tampered, or for another image)
 *   ATTESTATION_FAILED   some exist, but none meets every condition; the detail names
 *                        the path, what was expected and what was found
 */
import { eachBundle, type Failure, type FoundBundle } from './bundle-discovery.js';
import { Condition, type ConditionSpec } from '../../policy/conditions.js';
import { resolvePredicateType } from '../../policy/predicate-types.js';
import { namesDigest, subjectDigests, type InTotoStatement } from './statement.js';
import { worstFailure, VerifierError, type VerifyContext } from '../../core/verifier.js';

export interface AttestationSpec {
  predicateType: string;
  conditions?: ConditionSpec[] | undefined;
}

/** A statement whose signature verified and whose signer the policy accepts. */
export interface SignedStatement {
  /** where it came from, e.g. "bundle sha256:0123456789ab" or ".att layer 1" */
  where: string;
  /** the accepted signer, as the decision names it */
  by: string;
  statement: InTotoStatement;
}

/** What was found for an image: accepted statements, and why the other evidence was rejected. */
export interface Evidence {
  statements: SignedStatement[];
  rejected: Failure[];
  /** the first registry error while reading evidence (the unread one might have been good) */
  fetchError?: unknown;
}

export type AttestationResult =
  | { ok: true; predicateType: string; where: string; by: string; conditions: number }
  | { ok: false; predicateType: string; reason: 'ATTESTATION_MISSING' | 'ATTESTATION_FAILED'; detail: string };

/** One required attestation, compiled from the policy. */
export class AttestationRule {
  readonly predicateType: string;
  private readonly conditions: Condition[];

  constructor(readonly spec: AttestationSpec) {
    const resolved = resolvePredicateType(spec.predicateType);
    if ('problem' in resolved) throw new VerifierError('POLICY_ERROR', `attestation predicateType ${resolved.problem}`);
    this.predicateType = resolved.uri;
    try {
      this.conditions = (spec.conditions ?? []).map((c) => new Condition(c));
    } catch (e) {
      throw new VerifierError('POLICY_ERROR', (e as Error).message);
    }
  }

  /** Judge the evidence for image `digest`; statements are parsed already (once per decision). */
  judge(digest: string, evidence: Evidence): AttestationResult {
    const type = this.predicateType;
    const ofType = evidence.statements.filter((s) => s.statement.predicateType === type);
    const forImage = ofType.filter((s) => namesDigest(s.statement, digest));
    if (!forImage.length)
      return {
        ok: false,
        predicateType: type,
        reason: 'ATTESTATION_MISSING',
        detail: this.missing(digest, ofType, evidence.rejected),
      };
    let first: { where: string; by: string; failure: string } | undefined;
    for (const signed of forImage) {
      const failure = this.firstFailure(signed.statement);
      if (!failure)
        return {
          ok: true,
          predicateType: type,
          where: signed.where,
          by: signed.by,
          conditions: this.conditions.length,
        };
      first ??= { where: signed.where, by: signed.by, failure };
    }
    const more =
      forImage.length > 1 ? ` (${forImage.length} attestations of this type, none meets every condition)` : '';
    return {
      ok: false,
      predicateType: type,
      reason: 'ATTESTATION_FAILED',
      detail: `attestation ${type} in ${first!.where} by ${first!.by}: ${first!.failure}${more}`,
    };
  }

  /** The first condition the statement does not meet, as "path: expected …, found …". */
  private firstFailure(statement: InTotoStatement): string | undefined {
    const root = {
      _type: statement.type,
      predicateType: statement.predicateType,
      subject: statement.subject,
      predicate: statement.predicate,
    };
    for (const condition of this.conditions) {
      const result = condition.evaluate(root);
      if (!result.ok) return `${result.path}: expected ${result.expected}, found ${result.found}`;
    }
    return undefined;
  }

  private missing(digest: string, ofType: SignedStatement[], rejected: Failure[]): string {
    const why: string[] = [];
    if (ofType.length)
      why.push(
        `${ofType.length} signed for another image (${ofType
          .flatMap((s) => subjectDigests(s.statement))
          .slice(0, 3)
          .join(', ')})`,
      );
    const worst = worstFailure(rejected);
    if (worst) why.push(`${rejected.length} rejected, e.g. ${worst.detail}`);
    return `no valid attestation ${this.predicateType} for ${digest} by a trusted signer${why.length ? `: ${why.join('; ')}` : ''}`;
  }
}

/** "attestation <type>: <where> by <who>, N conditions hold" for verifiedBy. */
export function describePass(result: Extract<AttestationResult, { ok: true }>): string {
  return `attestation ${result.predicateType}: ${result.where} by ${result.by}, ${result.conditions} condition${result.conditions === 1 ? ' holds' : 's hold'}`;
}

/**
 * Read every bundle referrer of the image (at most MAX_BUNDLE_REFERRERS) and check each
 * once: attestation rules need all of them, not the first that passes.
 */
export async function readBundleStatements(
  ctx: VerifyContext,
  check: (found: FoundBundle) => SignedStatement | Failure,
): Promise<Evidence> {
  const evidence: Evidence = { statements: [], rejected: [] };
  const { fetchError } = await eachBundle(ctx, (found) => {
    const checked = 'ok' in found ? found : check(found);
    if ('statement' in checked) evidence.statements.push(checked);
    else evidence.rejected.push(checked);
    return false;
  });
  return fetchError ? { ...evidence, fetchError } : evidence;
}
