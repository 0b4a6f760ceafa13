/**
 * A `type: cosign` verifier: Sigstore bundles first, then the legacy `.sig` tag.
 *
 *   1. bundles: the image's bundle referrers, each verified (bundle-verifier.ts) for the
 *      policy's key or keyless identities (signer-policy.ts), then required to be a
 *      cosign signature statement for this digest (statement.ts). The first that passes
 *      admits.
 *   2. legacy: only when no bundle admitted, the `sha256-<hex>.sig` tag (the key
 *      verifier, or legacy-sig.ts for certificates and Rekor SETs).
 *
 * When nothing admits, the most telling failure of both is the verdict.
 */
import { worstFailure, type Verdict, type Verifier, type VerifyContext } from '../types.js';
import { searchBundles, type Failure, type FoundBundle } from './bundle-discovery.js';
import { verifyBundle, type BundleTrust } from './bundle-verifier.js';
import type { SignerPolicy } from './signer-policy.js';
import { isCosignSignatureFor } from './statement.js';

export class CosignVerifier implements Verifier {
  constructor(
    private readonly policy: SignerPolicy,
    /** the legacy `.sig` verifier for the same signer */
    private readonly legacy: Verifier,
  ) {}

  get description(): string {
    return this.policy.signer.kind === 'key' ? this.legacy.description : this.policy.describe();
  }

  async verify(ctx: VerifyContext): Promise<Verdict> {
    const trust = await this.policy.trust(ctx.signal);
    const search = await searchBundles(ctx, (found) => this.judge(found, trust, ctx));
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

  /** One bundle: verified, signed by an accepted signer, a cosign signature of this digest. */
  private judge(found: FoundBundle, trust: BundleTrust, ctx: VerifyContext): Verdict {
    const where = `bundle ${found.manifest.slice(0, 19)}`;
    const verdict = verifyBundle(found.json, trust, ctx.now);
    if (!verdict.ok) return { ...verdict, detail: `${where}: ${verdict.detail}` };
    const who = this.policy.accept(verdict.bundle.signer);
    if (!who.ok) return { ...who, detail: `${where}: ${who.detail}` };
    const { statement, statementProblem } = verdict.bundle;
    if (!statement) return { ok: false, reason: 'SIGNATURE_MISSING', detail: `${where} is not a cosign signature: ${statementProblem}` };
    const check = isCosignSignatureFor(statement, ctx.target.digest);
    if (!check.ok) {
      const reason = check.reason === 'DIGEST_MISMATCH' ? 'DIGEST_MISMATCH' : 'SIGNATURE_MISSING';
      return { ok: false, reason, detail: `${where} by ${who.by} ${check.detail}` };
    }
    return { ok: true, by: `${this.policy.signer.kind === 'key' ? 'cosign' : 'cosign keyless'} bundle, ${who.by}` };
  }
}
