/**
 * Who a cosign verifier accepts, shared by its bundle and legacy `.sig` paths: the
 * trust material to verify with (built once: the root, and for keys the loaded key),
 * and whether a verified signer is one the policy names.
 */
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import type { KeyFinderFunc } from '@sigstore/verify';
import { shortFingerprint, type KeySource, type PublicKeyHandle } from './keys.js';
import type { BundleTrust, Failure, TlogMode, VerifiedSigner } from './bundle-verifier.js';
import { describeIdentity, IdentityMatcher, type PolicyIdentity } from './identity.js';
import { trustMaterial, type PrivateCas } from './trusted-root.js';

export type CosignSigner =
  | { kind: 'key'; source: KeySource }
  | { kind: 'keyless'; identities: PolicyIdentity[]; privateCas?: () => PrivateCas };

/**
 * A trusted root with nothing in it: keys with `tlog: skip` trust only the key. It holds
 * only the four lists toTrustMaterial reads (a media type would be read by nothing).
 */
const EMPTY_ROOT = {
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
} as unknown as TrustedRoot;

export class SignerPolicy {
  private readonly identities: IdentityMatcher[];
  private built: Promise<BundleTrust> | undefined;

  constructor(
    readonly signer: CosignSigner,
    readonly tlog: TlogMode,
    private readonly trustedRoot: () => Promise<TrustedRoot>,
  ) {
    this.identities = signer.kind === 'keyless' ? signer.identities.map((i) => new IdentityMatcher(i)) : [];
  }

  /** "cosign keyless <subject> from <issuer>" or "cosign key" (the key verifier names its key) */
  describe(): string {
    if (this.signer.kind === 'key') return `cosign ${this.signer.source.describe}`;
    return `cosign keyless ${this.identities.map((m) => m.describe()).join(' | ')}`;
  }

  trust(signal: AbortSignal): Promise<BundleTrust> {
    if (!this.built) {
      this.built = this.build(signal);
      this.built.catch(() => {
        this.built = undefined; // a KMS or file hiccup must not stick
      });
    }
    return this.built;
  }

  /** Is the verified signer one the policy accepts? `by` names it for the decision. */
  accept(signer: VerifiedSigner): { ok: true; by: string } | Failure {
    if (signer.kind === 'key') return { ok: true, by: `key ${shortFingerprint(signer.fingerprint)}` };
    const found = signer.identity;
    if (this.identities.some((m) => m.matches(found))) return { ok: true, by: describeIdentity(found) };
    return {
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: `signed by ${describeIdentity(found)}; the policy expects ${this.identities.map((m) => m.describe()).join(' or ')}`,
    };
  }

  private async build(signal: AbortSignal): Promise<BundleTrust> {
    const { signer, tlog } = this;
    if (signer.kind === 'key') {
      const key = await signer.source.load(signal);
      const root = tlog === 'skip' ? EMPTY_ROOT : await this.trustedRoot();
      const describe = `${signer.source.describe} ${shortFingerprint(key.fingerprint)}`;
      return { material: trustMaterial(root, { keys: keyFinder(key) }), tlog, signer: { kind: 'key', key, describe } };
    }
    const root = await this.trustedRoot();
    if (signer.privateCas)
      return {
        material: trustMaterial(root, { privateCas: signer.privateCas() }),
        tlog,
        signer: { kind: 'private-ca' },
      };
    return { material: trustMaterial(root), tlog, signer: { kind: 'fulcio' } };
  }
}

/**
 * The policy's key, whatever the bundle's hint says: the hint is unsigned, and the
 * signature check decides. Its validity is unbounded, as for a key on the command line.
 */
function keyFinder(key: PublicKeyHandle): KeyFinderFunc {
  return () => ({ publicKey: key.key, validFor: () => true });
}
