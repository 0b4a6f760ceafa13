/**
 * Every verifier family at once, loaded with this module: the factories for tests, the
 * benches and anything else that builds a gate by hand. The Runtime (so the Lambda
 * handlers and the CLI) goes through ./load-factories.ts instead, which imports only the
 * families a policy uses: nothing in the handlers' import graph may import this module,
 * or every family is back in their module init (test/bundle-split.test.ts checks it).
 */
import type { AwsClients } from '../core/aws.js';
import type { VerifierFactories } from '../policy/compile.js';
import * as cosign from './cosign-family.js';
import type { KmsKeyStore } from './cosign/keys.js';
import type { DefaultTrustedRoot } from './cosign/trusted-root.js';
import { factoriesFrom } from './load-factories.js';
import * as notary from './notary-family.js';
import * as notationCli from './notary/notation-cli.js';

export { makeKmsKeyStore } from './cosign-family.js';

export interface FactoryDeps {
  clients: AwsClients;
  kmsKeys: KmsKeyStore;
  /** relative file paths in the policy resolve against this folder */
  baseDir: string;
  /** AWS Signer roots (the trust layer), e.g. /opt/trust */
  trustDir?: string;
  /** Config.region: for KMS key ids without an ARN and Signer profiles without a region */
  region?: string;
  /** the public-good Sigstore root (cosign verifiers without a trustedRoot) */
  sigstoreRoot?: DefaultTrustedRoot;
}

export function realVerifierFactories(deps: FactoryDeps): VerifierFactories {
  const { kmsKeys, sigstoreRoot, ...rest } = deps;
  const root = sigstoreRoot ? { sigstoreRoot: () => sigstoreRoot } : {};
  return factoriesFrom({ cosign, notary, notationCli }, { ...rest, kmsKeys: () => kmsKeys, ...root });
}
