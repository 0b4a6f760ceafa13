/**
 * The cosign family's door: the factory the policy compiler calls for each `type: cosign`
 * verifier, wired to its key source. src/verify/load-factories.ts imports this module
 * only for a policy that has cosign verifiers, so the Sigstore libraries and the KMS
 * key store stay out of a Lambda's module init when no rule needs them.
 */
import type { AwsClients } from '../core/aws.js';
import type { Verifier } from '../core/verifier.js';
import type { CosignVerifierConfig } from '../policy/schema.js';
import { createCosignVerifier } from './cosign/factory.js';
import { type KeySource, KmsKeyStore, kmsKeySource, pemFileKeySource, pemKeySource } from './cosign/keys.js';
import type { DefaultTrustedRoot } from './cosign/trusted-root.js';

export { DefaultTrustedRoot } from './cosign/trusted-root.js';

export interface CosignFamilyDeps {
  /** resolves a policy path (relative to the policy file) */
  path: (p: string) => string;
  /** the KMS key store, asked for only by a `kmsKey` verifier (its cache outlives a policy refresh) */
  kmsKeys: () => KmsKeyStore;
  /** the public-good Sigstore root, made once by the caller (cosign verifiers without a trustedRoot) */
  defaultRoot?: () => DefaultTrustedRoot;
}

export function cosignFactory(deps: CosignFamilyDeps): (config: CosignVerifierConfig) => Verifier {
  return (config) =>
    createCosignVerifier(config, {
      path: deps.path,
      keySource: () => cosignKeySource(config, deps.kmsKeys, deps.path),
      ...(deps.defaultRoot ? { defaultRoot: deps.defaultRoot() } : {}),
    });
}

export function cosignKeySource(
  config: CosignVerifierConfig,
  kmsKeys: () => KmsKeyStore,
  path: (p: string) => string,
): KeySource {
  if (config.publicKey) return pemKeySource(config.publicKey);
  if (config.publicKeyFile) return pemFileKeySource(path(config.publicKeyFile));
  return kmsKeySource(kmsKeys(), config.kmsKey!);
}

/** One store per Runtime: KMS clients per region from `clients`, AWS_REGION for bare key ids. */
export function makeKmsKeyStore(clients: Pick<AwsClients, 'kmsFor'>, region?: string): KmsKeyStore {
  return new KmsKeyStore((r) => clients.kmsFor(r), region ? { defaultRegion: region } : {});
}
