/**
 * The keyless part of the policy document, and private PKI (caRoots): a certificate
 * with no log entry and no timestamp is checked against the CA at the current time.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIssues, policySchema } from '../src/policy/schema.js';
import { verifyBundle } from '../src/verify/cosign/bundle-verifier.js';
import { anchored } from '../src/policy/regex.js';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { makeAwsClients } from '../src/core/aws.js';
import type { Descriptor } from '../src/core/registry.js';
import type { VerifierVerdict, VerifyContext } from '../src/core/verifier.js';
import type { CosignVerifierConfig } from '../src/policy/schema.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import {
  DefaultTrustedRoot,
  parseTrustedRoot,
  readPemCertificates,
  readTrustedRoot,
  trustMaterial,
} from '../src/verify/cosign/trusted-root.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  startMockSigstore,
  type MockSigstore,
} from './support/sigstore-signer.js';

const unusedKey = () => pemKeySource('unused');
const shipped = () => readTrustedRoot('layers/trust/sigstore/trusted_root.json');
const noFetch = async (): Promise<TrustedRoot> => {
  throw new Error('TUF asked');
};

function policyError(verifier: Record<string, unknown>): string | undefined {
  const r = policySchema.safeParse({
    version: 1,
    rules: [{ name: 'app', images: ['**'], verifiers: [{ type: 'cosign', ...verifier }] }],
  });
  return r.success ? undefined : describeIssues(r.error);
}

describe('keyless policy', () => {
  const id = {
    issuer: 'https://token.actions.githubusercontent.com',
    subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
  };

  it('accepts identities with exact values, anchored regexes and GitHub claims', () => {
    expect(
      policyError({
        keyless: {
          identities: [
            id,
            { issuerRegExp: 'https://gitlab\\.com', subjectRegExp: 'project_path:acme/.*:ref_type:branch:ref:main' },
          ],
        },
      }),
    ).toBeUndefined();
    expect(
      policyError({
        keyless: { identities: [{ ...id, github: { repository: 'acme/app', ref: 'refs/heads/main' } }] },
        tlog: 'skip',
      }),
    ).toBeUndefined();
  });

  it('refuses keyless beside a key', () => {
    expect(policyError({ publicKey: 'PEM', keyless: { identities: [id] } })).toMatch(
      /keyless cannot stand beside a key/,
    );
  });

  it('refuses an identity without a subject, and a Fulcio identity without an issuer', () => {
    expect(policyError({ keyless: { identities: [{ issuer: id.issuer }] } })).toMatch(
      /exactly one of subject, subjectRegExp/,
    );
    expect(policyError({ keyless: { identities: [{ subject: id.subject }] } })).toMatch(
      /a Fulcio identity needs an issuer/,
    );
    // a private CA may have no OIDC issuer
    expect(policyError({ keyless: { identities: [{ subject: id.subject }], caRoots: 'ca.pem' } })).toBeUndefined();
  });

  it('refuses a regex that does not compile, unknown keys, and a bad tlog value', () => {
    expect(policyError({ keyless: { identities: [{ issuer: id.issuer, subjectRegExp: '(' }] } })).toMatch(
      /not a valid regular expression/,
    );
    expect(policyError({ keyless: { identities: [{ ...id, san: 'x' }] } })).toMatch(/Unrecognized key/);
    expect(policyError({ publicKey: 'PEM', tlog: 'maybe' })).toBeDefined();
  });

  it('a regex matches the whole value', () => {
    expect(anchored('a|b').test('ab')).toBe(false);
    expect(anchored('main').test('refs/heads/main')).toBe(false);
    expect(anchored('.*main').test('refs/heads/main')).toBe(true);
  });
});

describe('private PKI (caRoots), no log, no timestamp', () => {
  let mock: MockSigstore;
  let caFile: string;
  beforeAll(async () => {
    mock = await startMockSigstore();
    caFile = join(mkdtempSync(join(tmpdir(), 'ca-')), 'ca.pem');
    writeFileSync(
      caFile,
      `-----BEGIN CERTIFICATE-----\n${mock.caRoot.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`,
    );
  });
  afterAll(async () => mock?.stop());

  const trust = (roots = readPemCertificates(caFile, 'caRoots')) => ({
    material: trustMaterial(parseTrustedRoot(mock.trustedRoot, 'mock'), { privateCas: { roots, intermediates: [] } }),
    tlog: 'skip' as const,
    signer: { kind: 'private-ca' as const },
  });

  it('verifies the chain at the current time (the library alone throws a TypeError here)', async () => {
    const bundle = await signKeyless(mock, cosignStatement(`sha256:${'a'.repeat(64)}`, 'x'), {
      claims: { iss: 'https://ca.example', sub: 'https://ci.example/build' },
      rekor: false,
    });
    expect(verifyBundle(bundle, trust(), new Date())).toMatchObject({ ok: true });
    expect(verifyBundle(bundle, trust(), new Date(Date.now() + 3600_000))).toMatchObject({
      ok: false,
      reason: 'EXPIRED',
    });
  });

  it('UNTRUSTED_SIGNER for another CA', async () => {
    const other = await startMockSigstore();
    try {
      const bundle = await signKeyless(other, cosignStatement(`sha256:${'a'.repeat(64)}`, 'x'), {
        claims: { iss: 'https://ca.example', sub: 's' },
        rekor: false,
      });
      expect(verifyBundle(bundle, trust(), new Date())).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    } finally {
      await other.stop();
    }
  });
});

describe('the shipped trusted root and its opt-in refresh', () => {
  it('ships the public-good root with its digest', async () => {
    const { createHash } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync('layers/trust/sigstore/trusted_root.json');
    const recorded = readFileSync('layers/trust/sigstore/trusted_root.json.sha256', 'utf8').split(' ')[0];
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(recorded);
    expect(() => parseTrustedRoot(bytes.toString(), 'shipped')).not.toThrow();
  });

  it('is not refreshed unless asked, and is read once by its owner', async () => {
    let fetched = 0;
    const root = new DefaultTrustedRoot({
      trustDir: 'layers/trust',
      refresh: { kind: 'off' },
      fetchRoot: async () => {
        fetched++;
        return shipped();
      },
    });
    const first = root.get();
    expect(root.get()).toBe(first);
    expect(await first).toEqual(shipped());
    expect(fetched).toBe(0);
  });

  it('a refresh asks TUF once; its root is checked like a file and used', async () => {
    const mock = await startMockSigstore();
    try {
      const logs: string[] = [];
      let fetched = 0;
      const root = new DefaultTrustedRoot({
        trustDir: 'layers/trust',
        refresh: { kind: 'tuf', timeoutMs: 5_000 },
        fetchRoot: async () => {
          fetched++;
          return parseTrustedRoot(mock.trustedRoot, 'mock');
        },
        log: (m) => logs.push(m),
      });
      expect(await root.get()).toEqual(parseTrustedRoot(mock.trustedRoot, 'mock'));
      await root.get();
      expect(fetched).toBe(1);
      expect(logs).toEqual(['Sigstore trusted root refreshed through TUF']);
    } finally {
      await mock.stop();
    }
  });

  it.each([
    ['fails', noFetch, /TUF asked/],
    ['does not answer in time', () => new Promise<TrustedRoot>(() => undefined), /no answer within 20 ms/],
    [
      'answers a root without a log key start',
      async () => {
        const root = shipped();
        return {
          ...root,
          tlogs: root.tlogs.map((t) => ({ ...t, publicKey: { ...t.publicKey!, validFor: undefined } })),
        };
      },
      /validFor.start is missing/,
    ],
  ])('a refresh that %s falls back to the shipped root, logged', async (_, fetchRoot, error) => {
    const logs: { message: string; extra?: Record<string, unknown> }[] = [];
    const root = new DefaultTrustedRoot({
      trustDir: 'layers/trust',
      refresh: { kind: 'tuf', timeoutMs: 20 },
      fetchRoot,
      log: (message, extra) => logs.push({ message, ...(extra ? { extra } : {}) }),
    });
    expect(await root.get()).toEqual(shipped());
    expect(logs).toEqual([
      {
        message: 'Sigstore trusted root refresh failed: using the shipped root',
        extra: expect.objectContaining({ error: expect.stringMatching(error) }),
      },
    ]);
  });
});

describe('a cosign verifier without a trustedRoot: the default root its owner keeps', () => {
  let mock: MockSigstore;
  let trustDir: string;
  let reg: MemoryRegistry;
  let image: Descriptor;
  const identity = { issuer: 'https://ca.example', subject: 'https://ci.example/build' };
  const config: CosignVerifierConfig = { type: 'cosign', keyless: { identities: [identity] } };

  beforeAll(async () => {
    mock = await startMockSigstore();
    trustDir = mkdtempSync(join(tmpdir(), 'trust-'));
    mkdirSync(join(trustDir, 'sigstore'));
    writeFileSync(join(trustDir, 'sigstore', 'trusted_root.json'), mock.trustedRoot);
    reg = new MemoryRegistry();
    image = await reg.pushImage('app', 'v1');
    const statement = cosignStatement(image.digest, `${reg.host}/app`);
    const bundle = await signKeyless(mock, statement, { claims: { iss: identity.issuer, sub: identity.subject } });
    await pushBundle(reg, 'app', image, bundle);
  });
  afterAll(async () => mock?.stop());

  const verify = (verifier: { verify: (ctx: VerifyContext) => Promise<VerifierVerdict> }) =>
    verifier.verify(verifyContext(reg.repository('app'), image.digest));

  it('verifies against the trust layer root', async () => {
    const defaultRoot = new DefaultTrustedRoot({ trustDir, refresh: { kind: 'off' }, fetchRoot: noFetch });
    const verifier = createCosignVerifier(config, { path: (p) => p, keySource: unusedKey, defaultRoot });
    expect(await verify(verifier)).toMatchObject({ ok: true });
  });

  it('POLICY_ERROR when there is no default root (no TRUST_DIR), never an allow', async () => {
    const verifier = createCosignVerifier(config, { path: (p) => p, keySource: unusedKey });
    await expect(verify(verifier)).rejects.toMatchObject({ name: 'VerifierError', reason: 'POLICY_ERROR' });
  });

  it('every verifier the factories make shares the one root: TUF is asked once', async () => {
    let fetched = 0;
    const sigstoreRoot = new DefaultTrustedRoot({
      trustDir: 'layers/trust',
      refresh: { kind: 'tuf', timeoutMs: 5_000 },
      fetchRoot: async () => {
        fetched++;
        return parseTrustedRoot(mock.trustedRoot, 'mock');
      },
    });
    const clients = makeAwsClients();
    const factories = () =>
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: '.', sigstoreRoot });
    // two policy builds, as a Runtime makes on a refresh: the root (here: the mock one from "TUF") is kept
    expect(await verify(factories().cosign(config))).toMatchObject({ ok: true });
    expect(await verify(factories().cosign(config))).toMatchObject({ ok: true });
    expect(fetched).toBe(1);
  });
});
