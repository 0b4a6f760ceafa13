/**
 * The keyless part of the policy document, and private PKI (caRoots): a certificate
 * with no log entry and no timestamp is checked against the CA at the current time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIssues, policySchema } from '../src/policy/schema.js';
import { verifyBundle } from '../src/verify/cosign/bundle-verifier.js';
import { anchored } from '../src/policy/regex.js';
import { parseTrustedRoot, readPemCertificates, trustMaterial } from '../src/verify/cosign/trusted-root.js';
import { cosignStatement, signKeyless, startMockSigstore, type MockSigstore } from './support/sigstore-signer.js';

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

  it('is not refreshed unless asked; a failed refresh falls back to the shipped root, logged', async () => {
    const { defaultTrustedRoot, resetDefaultTrustedRoot } = await import('../src/verify/cosign/trusted-root.js');
    const logs: string[] = [];
    let fetched = 0;
    const fetchRoot = async () => {
      fetched++;
      throw new Error('offline');
    };
    resetDefaultTrustedRoot();
    await defaultTrustedRoot({ trustDir: 'layers/trust', env: {}, fetchRoot, log: (m) => logs.push(m) });
    expect(fetched).toBe(0);
    resetDefaultTrustedRoot();
    const root = await defaultTrustedRoot({
      trustDir: 'layers/trust',
      env: { SIGSTORE_TRUST_REFRESH: 'tuf' },
      fetchRoot,
      log: (m) => logs.push(m),
    });
    expect(fetched).toBe(1);
    expect(root.certificateAuthorities.length).toBeGreaterThan(0);
    expect(logs).toEqual([expect.stringContaining('refresh failed: using the shipped root')]);
    resetDefaultTrustedRoot();
  });
});
