/**
 * The real verifier for each policy verifier type, wired to the AWS clients and the
 * shared key store. The policy compiler calls these; tests may pass their own.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { AwsClients } from '../core/aws.js';
import type { PolicyVariables } from '../core/config.js';
import type { VerifierFactories } from '../policy/compile.js';
import type { CosignVerifierConfig } from '../policy/schema.js';
import { createAwsSignerVerifier } from './notary/aws-signer.js';
import { createCosignVerifier } from './cosign/factory.js';
import { KmsKeyStore, kmsKeySource, pemFileKeySource, pemKeySource } from './cosign/keys.js';
import type { DefaultTrustedRoot } from './cosign/trusted-root.js';
import { createNotationCliVerifier } from './notary/notation-cli.js';
import { createNotationVerifier } from './notary/verifier.js';

export interface FactoryDeps {
  clients: AwsClients;
  kmsKeys: KmsKeyStore;
  /** relative file paths in the policy resolve against this folder */
  baseDir: string;
  /** AWS Signer roots (the trust layer), e.g. /opt/trust */
  trustDir?: string;
  /** Config.region: for KMS key ids without an ARN and Signer profiles without a region */
  region?: string;
  /** the public-good Sigstore root, kept by the Runtime (cosign verifiers without a trustedRoot) */
  sigstoreRoot?: DefaultTrustedRoot;
}

export function makeKmsKeyStore(clients: AwsClients, region?: string): KmsKeyStore {
  return new KmsKeyStore((r) => clients.kmsFor(r), region ? { defaultRegion: region } : {});
}

export function realVerifierFactories(deps: FactoryDeps): VerifierFactories {
  const path = (p: string) => (isAbsolute(p) ? p : resolve(deps.baseDir, p));
  return {
    cosign: (config) =>
      createCosignVerifier(config, {
        path,
        keySource: () => cosignKeySource(config, deps, path),
        ...(deps.sigstoreRoot ? { defaultRoot: deps.sigstoreRoot } : {}),
      }),
    notation: (config) => createNotationVerifier(config, { baseDir: deps.baseDir }),
    awsSigner: (config) =>
      createAwsSignerVerifier(
        { ...config, ...(config.trustStore ? { trustStore: path(config.trustStore) } : {}) },
        {
          signer: (region) => deps.clients.signerFor(region),
          ...(deps.trustDir ? { trustDir: deps.trustDir } : {}),
          ...(deps.region ? { region: deps.region } : {}),
        },
      ),
    notationCli: (notationPath) => createNotationCliVerifier(notationPath),
  };
}

export function cosignKeySource(
  config: CosignVerifierConfig,
  deps: Pick<FactoryDeps, 'kmsKeys'>,
  path: (p: string) => string,
) {
  if (config.publicKey) return pemKeySource(config.publicKey);
  if (config.publicKeyFile) return pemFileKeySource(path(config.publicKeyFile));
  return kmsKeySource(deps.kmsKeys, config.kmsKey!);
}

/** A policy file's relative paths are relative to the file itself. */
export function baseDirFor(origin: string, policy: PolicyVariables): string {
  return origin === 'POLICY_FILE' && policy.POLICY_FILE ? dirname(resolve(policy.POLICY_FILE)) : process.cwd();
}
