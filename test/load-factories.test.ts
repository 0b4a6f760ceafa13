/**
 * loadVerifierFactories imports the verifier families a policy uses and no others (the
 * Lambda bundles split at those imports, test/bundle-split.test.ts); the Runtime compiles
 * every policy through it. A factory of a family that was not loaded refuses to build.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy, factoriesUsed } from '../src/policy/compile.js';
import { type LoadedPolicy, validate } from '../src/policy/load.js';
import { VerifierError } from '../src/core/verifier.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { baseDirFor, type FamilyState, loadVerifierFactories } from '../src/verify/load-factories.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';

const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const COSIGN = { type: 'cosign', publicKey };
const KMS_COSIGN = {
  type: 'cosign',
  kmsKey: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
};
const KEYLESS = {
  type: 'cosign',
  keyless: {
    identities: [{ issuer: 'https://token.actions.githubusercontent.com', subject: 'https://github.com/o/r' }],
  },
};
const AWS_SIGNER = {
  type: 'aws-signer',
  signingProfiles: ['arn:aws:signer:us-east-1:123456789012:/signing-profiles/app'],
  revocation: 'skip',
};

function loaded(verifiers: Record<string, unknown>[][], notationPath?: string): LoadedPolicy {
  const rules = verifiers.map((v, i) => ({ name: `r${i}`, images: [`r${i}/**`], verifiers: v }));
  return {
    document: validate({ version: 1, rules }, 'test'),
    origin: 'test',
    ...(notationPath ? { notationPath } : {}),
  };
}

const deps = (state: FamilyState = {}) => ({
  clients: makeAwsClients(),
  state,
  baseDir: process.cwd(),
  trustDir: 'layers/trust',
});

describe('factoriesUsed', () => {
  it('names the factory of each verifier type in the rules, and the NOTATION_PATH delegate', () => {
    expect(factoriesUsed(loaded([[COSIGN], [AWS_SIGNER, COSIGN]]))).toEqual(new Set(['cosign', 'awsSigner']));
    expect(factoriesUsed(loaded([[COSIGN]], '/usr/bin/notation'))).toEqual(new Set(['cosign', 'notationCli']));
    expect(factoriesUsed(loaded([[AWS_SIGNER]]))).toEqual(new Set(['awsSigner']));
  });
});

describe('loadVerifierFactories', () => {
  it('loads the cosign family alone for a cosign policy: the others refuse to build', async () => {
    const policy = loaded([[COSIGN]]);
    const factories = await loadVerifierFactories(policy, deps());
    expect(compilePolicy(policy, factories).rules[0]?.verifiers).toHaveLength(1);
    expect(() => factories.awsSigner(AWS_SIGNER as never)).toThrow(/aws-signer verifier family was not loaded/);
    expect(() => factories.notation({} as never)).toThrow(/notation verifier family was not loaded/);
    expect(() => factories.notationCli('/usr/bin/notation')).toThrow(/NOTATION_PATH verifier family was not loaded/);
  });

  it('loads the Notary family for an aws-signer policy, and the delegate for NOTATION_PATH, without cosign', async () => {
    const policy = loaded([[AWS_SIGNER]], '/usr/bin/notation');
    const factories = await loadVerifierFactories(policy, deps());
    const compiled = compilePolicy(policy, factories);
    expect(compiled.rules.map((r) => r.verifiers.map((v) => v.description))).toEqual([
      ['aws-signer arn:aws:signer:us-east-1:123456789012:/signing-profiles/app'],
      [expect.stringContaining('notation')],
    ]);
    expect(() => factories.cosign(COSIGN as never)).toThrow(/cosign verifier family was not loaded/);
  });

  it('keeps one KMS key store in the caller state across policies (its cache outlives a refresh)', async () => {
    const state: FamilyState = {};
    const policy = loaded([[KMS_COSIGN]]);
    compilePolicy(policy, await loadVerifierFactories(policy, deps(state)));
    const first = state.kmsKeys;
    expect(first).toBeDefined();
    compilePolicy(policy, await loadVerifierFactories(policy, deps(state)));
    expect(state.kmsKeys).toBe(first);
  });

  it('keeps one Sigstore root in the caller state across policies, read from the shipped file unless a refresh is set', async () => {
    const state: FamilyState = {};
    const policy = loaded([[KEYLESS]]);
    compilePolicy(policy, await loadVerifierFactories(policy, deps(state)));
    const first = state.sigstoreRoot;
    expect(first).toBeDefined();
    compilePolicy(policy, await loadVerifierFactories(policy, deps(state)));
    expect(state.sigstoreRoot).toBe(first);
    const root = await first!.get();
    expect(root.certificateAuthorities.length).toBeGreaterThan(0);
  });
});

describe("relative paths in a Notary policy start at the policy's folder", () => {
  const ROOT_PEM = readFileSync('layers/trust/signer-roots/aws-signer-notation-root.pem');
  const policyDir = mkdtempSync(join(tmpdir(), 'factories-base-'));
  mkdirSync(join(policyDir, 'store', 'x509', 'ca', 'acme'), { recursive: true });
  writeFileSync(join(policyDir, 'store', 'x509', 'ca', 'acme', 'root.pem'), ROOT_PEM);
  mkdirSync(join(policyDir, 'roots'));
  writeFileSync(join(policyDir, 'roots', 'root.pem'), ROOT_PEM);
  const emptyTrustDir = mkdtempSync(join(tmpdir(), 'factories-trust-'));
  const depsAt = (baseDir: string) => ({ ...deps(), baseDir, trustDir: emptyTrustDir });

  it('a notation trustStore folder', async () => {
    const notation = {
      type: 'notation',
      trustStore: 'store',
      trustPolicy: {
        version: '1.0',
        trustPolicies: [
          {
            name: 'p',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:acme'],
            trustedIdentities: ['*'],
          },
        ],
      },
    };
    const policy = loaded([[notation]]);
    expect(compilePolicy(policy, await loadVerifierFactories(policy, depsAt(policyDir))).rules).toHaveLength(1);
    const elsewhere = await loadVerifierFactories(policy, depsAt(emptyTrustDir));
    expect(() => compilePolicy(policy, elsewhere)).toThrow(`Notation trust store ${join(emptyTrustDir, 'store')}`);
  });

  it('an aws-signer trustStore folder', async () => {
    const policy = loaded([[{ ...AWS_SIGNER, trustStore: 'roots' }]]);
    expect(compilePolicy(policy, await loadVerifierFactories(policy, depsAt(policyDir))).rules).toHaveLength(1);
    const elsewhere = await loadVerifierFactories(policy, depsAt(emptyTrustDir));
    expect(() => compilePolicy(policy, elsewhere)).toThrow(
      `aws-signer trustStore ${join(emptyTrustDir, 'roots')} cannot be read`,
    );
  });
});

describe('realVerifierFactories (every family at once, for tests and benches)', () => {
  it("hands the caller's KMS key store to cosign verifiers", async () => {
    const store = makeKmsKeyStore(makeAwsClients(), 'eu-west-1');
    const get = vi.spyOn(store, 'get').mockRejectedValue(new VerifierError('KEY_ERROR', 'KMS said no'));
    const policy = loaded([[KMS_COSIGN]]);
    const factories = realVerifierFactories({ clients: makeAwsClients(), kmsKeys: store, baseDir: process.cwd() });
    const verifier = compilePolicy(policy, factories).rules[0]!.verifiers[0]!;
    const reg = new MemoryRegistry();
    const image = await reg.pushImage('team/app', 'v1');
    await expect(verifier.verify(verifyContext(reg.repository('team/app'), image.digest))).rejects.toThrow(
      'KMS said no',
    );
    expect(get).toHaveBeenCalledWith(KMS_COSIGN.kmsKey, expect.anything());
  });
});

describe('baseDirFor (where the relative paths of a policy start)', () => {
  it("a policy file's paths are relative to the file's folder", () => {
    expect(baseDirFor('POLICY_FILE', { POLICY_FILE: '/etc/gate/policy.yaml' })).toBe('/etc/gate');
  });

  it('an inline or SSM policy, even with POLICY_FILE also set, uses the working directory', () => {
    expect(baseDirFor('POLICY', { POLICY_FILE: '/etc/gate/policy.yaml' })).toBe(process.cwd());
    expect(baseDirFor('POLICY_PARAMETER', { POLICY_FILE: '/etc/gate/policy.yaml' })).toBe(process.cwd());
    expect(baseDirFor('POLICY_FILE', {})).toBe(process.cwd());
  });
});
