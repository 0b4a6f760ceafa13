/**
 * The Notary family's door: the factories the policy compiler calls for `type: notation`
 * and `type: aws-signer` verifiers. src/verify/load-factories.ts imports this module only
 * for a policy that has such verifiers, so pkijs, asn1js, cbor-x and the Signer client
 * stay out of a Lambda's module init when no rule needs them.
 */
import type { SignerClient } from '@aws-sdk/client-signer';
import type { Verifier } from '../core/verifier.js';
import type { AwsSignerVerifierConfig, NotationVerifierConfig } from '../policy/schema.js';
import { createAwsSignerVerifier } from './notary/aws-signer.js';
import { createNotationVerifier } from './notary/verifier.js';

export interface NotaryFamilyDeps {
  /** the folder a policy's relative paths resolve against */
  baseDir: string;
  /** resolves a policy path (relative to the policy file) */
  path: (p: string) => string;
  /** a Signer client per region (made on first revocation check) */
  signerFor: (region: string) => Promise<SignerClient>;
  /** AWS Signer roots (the trust layer), e.g. /opt/trust */
  trustDir?: string;
  /** Config.region: for Signer profiles without a region */
  region?: string;
}

export function notationFactory(deps: NotaryFamilyDeps): (config: NotationVerifierConfig) => Verifier {
  return (config) => createNotationVerifier(config, { baseDir: deps.baseDir });
}

export function awsSignerFactory(deps: NotaryFamilyDeps): (config: AwsSignerVerifierConfig) => Verifier {
  return (config) =>
    createAwsSignerVerifier(
      { ...config, ...(config.trustStore ? { trustStore: deps.path(config.trustStore) } : {}) },
      {
        signer: deps.signerFor,
        ...(deps.trustDir ? { trustDir: deps.trustDir } : {}),
        ...(deps.region ? { region: deps.region } : {}),
      },
    );
}
