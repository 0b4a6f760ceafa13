/**
 * A policy's `type: cosign` verifier, built: which signer (key or keyless), which trust
 * (the shipped public-good root, a private Sigstore root, private CAs), which
 * transparency rule (cosign's defaults: a log entry is required for Fulcio keyless,
 * not for keys and private CAs), which legacy `.sig` verifier backs it, and which
 * attestations it also requires.
 */
import { once } from '../../core/cache.js';
import type { CosignVerifierConfig } from '../../policy/schema.js';
import { CosignKeyVerifier } from './legacy-key.js';
import { AttestationRule } from './attestations.js';
import type { KeySource } from './keys.js';
import { VerifierError } from '../../core/verifier.js';
import type { TlogMode } from './bundle-verifier.js';
import { LegacySigVerifier } from './legacy-keyless.js';
import { SignerPolicy, type CosignSigner } from './signer-policy.js';
import { type DefaultTrustedRoot, readPemCertificates, readTrustedRoot, type PrivateCas } from './trusted-root.js';
import { CosignVerifier, type AttestationRequirement } from './verifier.js';

export interface CosignFactoryDeps {
  /** resolves a policy path (relative to the policy file) */
  path: (p: string) => string;
  keySource: () => KeySource;
  /** the public-good root (the trust layer's, kept by the Runtime): used when the policy names no trustedRoot */
  defaultRoot?: DefaultTrustedRoot;
}

export function createCosignVerifier(config: CosignVerifierConfig, deps: CosignFactoryDeps): CosignVerifier {
  const tlog: TlogMode = config.tlog ?? (config.keyless && !config.keyless.caRoots ? 'required' : 'skip');
  const trustedRoot = once(() => {
    if (config.trustedRoot) return Promise.resolve().then(() => readTrustedRoot(deps.path(config.trustedRoot!)));
    if (!deps.defaultRoot)
      return Promise.reject(
        new VerifierError('POLICY_ERROR', 'no Sigstore trusted root: set trustedRoot or TRUST_DIR'),
      );
    return deps.defaultRoot.get();
  });
  const signer = cosignSigner(config, deps);
  const policy = new SignerPolicy(signer, tlog, trustedRoot);
  // a key without a log keeps the key verifier (every scheme cosign and KMS use); the rest go through @sigstore/verify
  const legacy =
    signer.kind === 'key' && tlog === 'skip' ? new CosignKeyVerifier(signer.source) : new LegacySigVerifier(policy);
  return new CosignVerifier(policy, legacy, attestationRequirement(config));
}

/** The policy's attestations (their predicate types resolved, conditions compiled), if any. */
function attestationRequirement(config: CosignVerifierConfig): AttestationRequirement | undefined {
  if (!config.attestations?.length) return undefined;
  return { rules: config.attestations.map((spec) => new AttestationRule(spec)), signature: config.signature ?? true };
}

function cosignSigner(config: CosignVerifierConfig, deps: CosignFactoryDeps): CosignSigner {
  const { keyless } = config;
  if (!keyless) return { kind: 'key', source: deps.keySource() };
  if (!keyless.caRoots) return { kind: 'keyless', identities: keyless.identities };
  const { caRoots, caIntermediates } = keyless;
  const privateCas = once(
    (): PrivateCas => ({
      roots: readPemCertificates(deps.path(caRoots), 'caRoots'),
      // Stryker disable next-line ArrayDeclaration: a trust list entry that is not a CA certificate is never chosen as an issuer (chainsTo wants isCA)
      intermediates: caIntermediates ? readPemCertificates(deps.path(caIntermediates), 'caIntermediates') : [],
    }),
  );
  return { kind: 'keyless', identities: keyless.identities, privateCas };
}
