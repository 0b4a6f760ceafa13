/**
 * A `type: cosign` verifier: Sigstore bundles first, then the legacy `.sig` tag; and,
 * when the policy lists attestations, signed in-toto attestations for the image.
 *
 *   1. bundles: the image's bundle referrers, each verified (bundle-verifier.ts) for the
 *      policy's key or keyless identities (signer-policy.ts), then required to be a
 *      cosign signature statement for this digest (statement.ts). The first that passes
 *      admits.
 *   2. legacy: only when no bundle admitted, the `sha256-<hex>.sig` tag (the key
 *      verifier, or legacy-sig.ts for certificates and Rekor SETs).
 *   3. attestations (attestations.ts): every bundle is read and verified once, its
 *      statement kept; the `.att` tag is read only when a required type is not met
 *      by bundles. Each rule needs one statement of its type, by an accepted signer,
 *      for this image, meeting every condition. With `signature: false` steps 1-2 are
 *      skipped and the attestations alone decide.
 *
 * When nothing admits, the most telling failure is the verdict. A missing signature
 * under `signature: true` stays a signature failure, even when attestations fail too.
 */
import { worstFailure, type VerifierVerdict, type Verifier, type VerifyContext } from '../../core/verifier.js';
import {
  describePass,
  readBundleStatements,
  type AttestationResult,
  type AttestationRule,
  type Evidence,
  type SignedStatement,
} from './attestations.js';
import { searchBundles, type BundleSearch, type Failure, type FoundBundle } from './bundle-discovery.js';
import { verifyBundle, type BundleTrust } from './bundle-verifier.js';
import { readLegacyAttestations } from './legacy-attestations.js';
import type { SignerPolicy } from './signer-policy.js';
import { isCosignSignatureFor } from './statement.js';

export interface AttestationRequirement {
  rules: AttestationRule[];
  /** false: the attestations alone admit (no image signature needed) */
  signature: boolean;
}

export class CosignVerifier implements Verifier {
  constructor(
    private readonly policy: SignerPolicy,
    /** the legacy `.sig` verifier for the same signer */
    private readonly legacy: Verifier,
    private readonly attestations?: AttestationRequirement,
  ) {}

  /** the legacy verifier's: it is built for the same signer (the key verifier names its key fingerprint) */
  get description(): string {
    return this.legacy.description;
  }

  async verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    const trust = await this.policy.trust(ctx.signal);
    if (!this.attestations)
      return this.signature(
        ctx,
        await searchBundles(ctx, (found) => this.asSignature(this.check(found, trust, ctx), ctx)),
      );
    const evidence = await readBundleStatements(ctx, (found) => this.check(found, trust, ctx));
    let signed: Extract<VerifierVerdict, { ok: true }> | undefined;
    if (this.attestations.signature) {
      const verdict = await this.signature(ctx, this.signatureSearch(evidence, ctx));
      if (!verdict.ok) return verdict;
      signed = verdict;
    }
    return this.judgeAttestations(ctx, trust, evidence, this.attestations.rules, signed);
  }

  /** The signature verdict from the bundles searched, falling back to the legacy `.sig`. */
  private async signature(ctx: VerifyContext, search: BundleSearch): Promise<VerifierVerdict> {
    if (search.passed) return search.passed;
    const legacy = await this.legacy.verify(ctx);
    if (legacy.ok) return legacy;
    if (search.fetchError) throw search.fetchError;
    const failures: Failure[] = [...search.failures];
    // an absent .sig says nothing when bundles were there to judge
    if (legacy.reason !== 'SIGNATURE_MISSING' || failures.length === 0) failures.push(legacy);
    const worst = worstFailure(failures)!;
    const more = failures.length > 1 ? ` (${failures.length} signatures tried)` : '';
    return { ...worst, detail: `${worst.detail}${more}` };
  }

  /** One bundle: verified, signed by an accepted signer, holding an in-toto statement. */
  private check(found: FoundBundle, trust: BundleTrust, ctx: VerifyContext): SignedStatement | Failure {
    const where = `bundle ${found.manifest.slice(0, 19)}`;
    const verdict = verifyBundle(found.json, trust, ctx.now);
    if (!verdict.ok) return { ...verdict, detail: `${where}: ${verdict.detail}` };
    const who = this.policy.accept(verdict.bundle.signer);
    if (!who.ok) return { ...who, detail: `${where}: ${who.detail}` };
    const { statement, statementProblem } = verdict.bundle;
    if (!statement)
      return {
        ok: false,
        reason: 'SIGNATURE_MISSING',
        detail: `${where} is not a cosign signature: ${statementProblem}`,
      };
    return { where, by: who.by, statement };
  }

  /** A checked bundle as a signature verdict: a cosign signature statement for exactly this digest. */
  private asSignature(checked: SignedStatement | Failure, ctx: VerifyContext): VerifierVerdict {
    if ('ok' in checked) return checked;
    const check = isCosignSignatureFor(checked.statement, ctx.target.digest);
    if (!check.ok) {
      const reason = check.reason === 'DIGEST_MISMATCH' ? 'DIGEST_MISMATCH' : 'SIGNATURE_MISSING';
      return { ok: false, reason, detail: `${checked.where} by ${checked.by} ${check.detail}` };
    }
    return { ok: true, by: `${this.policy.signer.kind === 'key' ? 'cosign' : 'cosign keyless'} bundle, ${checked.by}` };
  }

  /** The signature search over bundles already read for the attestations (no second fetch). */
  private signatureSearch(evidence: Evidence, ctx: VerifyContext): BundleSearch {
    const verdicts = [...evidence.statements.map((s) => this.asSignature(s, ctx)), ...evidence.rejected];
    const passed = verdicts.find((v): v is Extract<VerifierVerdict, { ok: true }> => v.ok);
    // Stryker disable next-line MethodExpression: failures are read only when nothing passed, when every verdict is one
    const failures = verdicts.filter((v): v is Failure => !v.ok);
    return {
      bundles: verdicts.length,
      failures,
      ...(passed ? { passed } : {}),
      ...(evidence.fetchError ? { fetchError: evidence.fetchError } : {}),
    };
  }

  private async judgeAttestations(
    ctx: VerifyContext,
    trust: BundleTrust,
    bundles: Evidence,
    rules: AttestationRule[],
    signed: Extract<VerifierVerdict, { ok: true }> | undefined,
  ): Promise<VerifierVerdict> {
    const digest = ctx.target.digest;
    let results = rules.map((rule) => rule.judge(digest, bundles));
    let evidence = bundles;
    if (results.some((r) => !r.ok)) {
      // bundles did not meet every rule: cosign's legacy .att tag may
      const legacy = await readLegacyAttestations(ctx, trust, this.policy);
      evidence = merge(bundles, legacy);
      results = rules.map((rule) => rule.judge(digest, evidence));
    }
    const failed = results.filter((r): r is Extract<AttestationResult, { ok: false }> => !r.ok);
    if (failed.length) {
      // evidence we could not read may have met the rule: an error, never a verdict
      if (evidence.fetchError && failed.some((f) => f.reason === 'ATTESTATION_MISSING')) throw evidence.fetchError;
      // the most telling first; every unmet attestation is named (verify --explain shows one a line)
      const worst = worstFailure(failed)!;
      const others = failed.filter((f) => f !== worst).map((f) => f.detail);
      return { ok: false, reason: worst.reason, detail: [worst.detail, ...others].join('; ') };
    }
    const passes = results.map((r) => describePass(r as Extract<AttestationResult, { ok: true }>));
    const signature = signed ? signed.by : `${this.description} (signature not required)`;
    return { ok: true, by: [signature, ...passes].join(' + ') };
  }
}

function merge(a: Evidence, b: Evidence): Evidence {
  const fetchError = a.fetchError ?? b.fetchError;
  return {
    statements: [...a.statements, ...b.statements],
    rejected: [...a.rejected, ...b.rejected],
    ...(fetchError ? { fetchError } : {}),
  };
}
