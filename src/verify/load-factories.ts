/**
 * The verifier factories a policy needs, and only those: each family (cosign; Notation
 * and AWS Signer; the NOTATION_PATH delegate) is imported when a policy first uses it.
 * The Lambda bundles are split at these imports (scripts/bundle.mjs), so a family's
 * libraries (Sigstore, pkijs/asn1js/cbor-x, the KMS and Signer clients) are neither
 * compiled nor run at module init, and never for a policy that does not use them.
 * The Runtime builds its gate with loadVerifierFactories(); tests and the benches may
 * take every family at once from ./factories.ts.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { AwsClients } from '../core/aws.js';
import type { PolicyVariables, SigstoreRefresh } from '../core/config.js';
import { factoriesUsed, type VerifierFactories } from '../policy/compile.js';
import type { LoadedPolicy } from '../policy/load.js';
import type { KmsKeyStore } from './cosign/keys.js';
import type { DefaultTrustedRoot } from './cosign/trusted-root.js';

export type CosignFamily = typeof import('./cosign-family.js');
export type NotaryFamily = typeof import('./notary-family.js');
export type NotationCliFamily = typeof import('./notary/notation-cli.js');

/** The family modules at hand; a factory whose family is absent refuses to build. */
export interface Families {
  cosign?: CosignFamily;
  notary?: NotaryFamily;
  notationCli?: NotationCliFamily;
}

export interface FamilyDeps {
  clients: AwsClients;
  /** the KMS key store: made by the cosign family on first need, kept by the caller across policy refreshes */
  kmsKeys: () => KmsKeyStore;
  /** relative file paths in the policy resolve against this folder */
  baseDir: string;
  /** AWS Signer roots and the Sigstore root (the trust layer), e.g. /opt/trust */
  trustDir?: string;
  /** Config.region: for KMS key ids without an ARN and Signer profiles without a region */
  region?: string;
  /** the public-good Sigstore root (cosign verifiers without a trustedRoot), kept by the caller */
  sigstoreRoot?: () => DefaultTrustedRoot;
}

/** What a caller keeps across policy refreshes so that a family's caches outlive one policy. */
export interface FamilyState {
  kmsKeys?: KmsKeyStore;
  /** read (or refreshed through TUF) once per container, across policy rebuilds */
  sigstoreRoot?: DefaultTrustedRoot;
}

export type LazyFamilyDeps = Omit<FamilyDeps, 'kmsKeys' | 'sigstoreRoot'> & {
  state: FamilyState;
  /** Config.sigstoreRefresh: whether the Sigstore root is refreshed through TUF (default: off) */
  sigstoreRefresh?: SigstoreRefresh;
};

/** Imports the families `loaded` uses (in parallel) and wires their factories to `deps`. */
export async function loadVerifierFactories(loaded: LoadedPolicy, deps: LazyFamilyDeps): Promise<VerifierFactories> {
  const used = factoriesUsed(loaded);
  const [cosign, notary, notationCli] = await Promise.all([
    used.has('cosign') ? import('./cosign-family.js') : undefined,
    used.has('notation') || used.has('awsSigner') ? import('./notary-family.js') : undefined,
    used.has('notationCli') ? import('./notary/notation-cli.js') : undefined,
  ]);
  const { state, sigstoreRefresh, ...rest } = deps;
  // asked for only by cosign verifiers, so only when the cosign family is loaded
  const kmsKeys = () => (state.kmsKeys ??= cosign!.makeKmsKeyStore(deps.clients, deps.region));
  const trustDir = deps.trustDir;
  const sigstoreRoot = trustDir
    ? {
        sigstoreRoot: () =>
          (state.sigstoreRoot ??= new cosign!.DefaultTrustedRoot({
            trustDir,
            // Stryker disable next-line ObjectLiteral,StringLiteral: only kind 'tuf' is read; any other kind reads the shipped file
            refresh: sigstoreRefresh ?? { kind: 'off' },
          })),
      }
    : {};
  return factoriesFrom({ cosign, notary, notationCli }, { ...rest, kmsKeys, ...sigstoreRoot });
}

/** The factories of the families given; one for a family not given throws (a bug: see factoriesUsed). */
export function factoriesFrom(families: Families, deps: FamilyDeps): VerifierFactories {
  const path = (p: string) => (isAbsolute(p) ? p : resolve(deps.baseDir, p));
  const { cosign, notary, notationCli } = families;
  const notaryDeps = {
    baseDir: deps.baseDir,
    path,
    signerFor: (region: string) => deps.clients.signerFor(region),
    ...(deps.trustDir ? { trustDir: deps.trustDir } : {}),
    ...(deps.region ? { region: deps.region } : {}),
  };
  return {
    cosign: cosign
      ? cosign.cosignFactory({
          path,
          kmsKeys: deps.kmsKeys,
          ...(deps.sigstoreRoot ? { defaultRoot: deps.sigstoreRoot } : {}),
        })
      : notLoaded('cosign'),
    notation: notary ? notary.notationFactory(notaryDeps) : notLoaded('notation'),
    awsSigner: notary ? notary.awsSignerFactory(notaryDeps) : notLoaded('aws-signer'),
    notationCli: notationCli ? (p) => notationCli.createNotationCliVerifier(p) : notLoaded('NOTATION_PATH'),
  };
}

function notLoaded(family: string): () => never {
  return () => {
    throw new Error(`internal: the ${family} verifier family was not loaded for this policy`);
  };
}

/** A policy file's relative paths are relative to the file itself. */
export function baseDirFor(origin: string, policy: PolicyVariables): string {
  return origin === 'POLICY_FILE' && policy.POLICY_FILE ? dirname(resolve(policy.POLICY_FILE)) : process.cwd();
}
