/**
 * The Notation verifier's own decisions around the validation steps: how it names
 * itself, what an admitted signature's decision line says (the trust store, what was
 * logged), audit-level logging, several trusted identities, revocation answers under
 * enforce and log, and the errors of a trust policy file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RevocationChecker, type CertStatus } from '../src/verify/notary/revocation.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import type { Certificate } from '../src/verify/notary/x509.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context, imageDescriptor, makeTrustStore, policy } from './support/notation-context.js';
import { key, makeChain, pem, signJws } from './support/notation-signer.js';

const IMAGE = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}');
const TARGET = imageDescriptor(IMAGE);
const SIGNER_ID = 'x509.subject: C=US, ST=WA, O=Test Org, CN=Test Signer';
const SUBJECT = 'CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US';
const c = makeChain(key('p256', 'verifier-leaf'), { label: 'verifier' });
const STORE = makeTrustStore({ ca: { mine: [pem(c.root.der)] } });
const NOW = new Date('2025-06-01T00:00:00Z');

/** A revocation checker whose answers are given (the OCSP/CRL work is tested in notary-revocation). */
class Answers extends RevocationChecker {
  readonly asked: Certificate[][] = [];
  constructor(private readonly answer: CertStatus) {
    super();
  }
  override async checkChain(chain: Certificate[]): Promise<CertStatus> {
    this.asked.push(chain);
    return this.answer;
  }
}

const envelope = (over: { expiry?: Date; chain?: Buffer[] } = {}) =>
  signJws({
    target: TARGET,
    alg: 'ES256',
    key: c.leaf.key.privateKey,
    chain: over.chain ?? c.chain,
    signingTime: new Date('2025-01-01T00:00:00Z'),
    ...(over.expiry ? { expiry: over.expiry } : {}),
  });

async function run(signatures: Buffer[], statement: Record<string, unknown> = {}, revocation?: RevocationChecker) {
  const repo = new MemoryRepo();
  for (const e of signatures) attachSignature(repo, TARGET, e, 'application/jose+json');
  const logs: Array<{ message: string; data: Record<string, unknown> }> = [];
  const v = createNotationVerifier(
    {
      type: 'notation',
      trustPolicy: policy({ trustStores: ['ca:mine'], trustedIdentities: [SIGNER_ID], ...statement }),
      trustStore: STORE,
    },
    {
      baseDir: '/',
      log: (message, data) => logs.push({ message, data }),
      ...(revocation ? { revocation } : {}),
    },
  );
  return { verdict: await v.verify(context(repo, TARGET, NOW)), logs };
}

describe('Notation verifier decisions', () => {
  it('an admitted signature names the signer and the trust store that anchored it, and no detail', async () => {
    expect((await run([envelope()])).verdict).toEqual({
      ok: true,
      by: `notation x509.subject:${SUBJECT} (ca:mine)`,
    });
  });

  it('no signature: SIGNATURE_MISSING naming Notation', async () => {
    expect((await run([])).verdict).toEqual({
      ok: false,
      reason: 'SIGNATURE_MISSING',
      detail: 'no Notation signature found',
    });
  });

  it('any one of several trusted identities admits', async () => {
    const ids = ['x509.subject: C=US, ST=WA, O=Other Org, CN=Someone', SIGNER_ID];
    expect((await run([envelope()], { trustedIdentities: ids })).verdict).toMatchObject({ ok: true });
  });

  it('audit: an untrusted chain and an expired signature are admitted, each logged under its validation', async () => {
    const other = makeChain(key('p256', 'verifier-leaf'), { rootKey: key('p384', 'verifier-other'), label: 'other' });
    const { verdict, logs } = await run([envelope({ chain: other.chain, expiry: new Date('2025-02-01T00:00:00Z') })], {
      signatureVerification: { level: 'audit' },
    });
    const untrusted = `the certificate chain of "${SUBJECT}" does not lead to a certificate in the ca trust stores of policy "test"`;
    const expired = 'the signature expired at 2025-02-01T00:00:00.000Z';
    expect(verdict).toEqual({
      ok: true,
      by: `notation x509.subject:${SUBJECT} (untrusted)`,
      detail: `verified under "test" (audit); logged: authenticity: ${untrusted}; expiry: ${expired}`,
    });
    expect(logs).toEqual([
      {
        message: 'Notation authenticity validation failed (logged by trust policy "test")',
        data: { reason: 'UNTRUSTED_SIGNER', detail: untrusted },
      },
      {
        message: 'Notation expiry validation failed (logged by trust policy "test")',
        data: { reason: 'EXPIRED', detail: expired },
      },
    ]);
  });

  it('revocation enforced: REVOKED with the checker’s words; logged: admitted, the revocation logged', async () => {
    const revoked = new Answers({ status: 'revoked', detail: 'certificate "CN=Test Signer" is revoked' });
    expect((await run([envelope()], {}, revoked)).verdict).toEqual({
      ok: false,
      reason: 'REVOKED',
      detail: 'certificate "CN=Test Signer" is revoked',
    });
    expect(revoked.asked).toHaveLength(1);
    const { verdict, logs } = await run(
      [envelope()],
      { signatureVerification: { level: 'strict', override: { revocation: 'log' } } },
      revoked,
    );
    expect(verdict).toEqual({
      ok: true,
      by: `notation x509.subject:${SUBJECT} (ca:mine)`,
      detail: 'verified under "test" (strict); logged: revocation: certificate "CN=Test Signer" is revoked',
    });
    expect(logs).toEqual([
      {
        message: 'Notation revocation validation failed (logged by trust policy "test")',
        data: { reason: 'REVOKED', detail: 'certificate "CN=Test Signer" is revoked' },
      },
    ]);
  });
});

describe('Notation verifier configuration', () => {
  const config = (over: Record<string, unknown>) => ({ type: 'notation' as const, trustStore: STORE, ...over });

  it('is described by its trust policy: the statement names inline, the file path otherwise', () => {
    const two = {
      version: '1.0',
      trustPolicies: [
        { ...(policy({}).trustPolicies as object[])[0], name: 'first', registryScopes: ['registry.example.com/a'] },
        { ...(policy({}).trustPolicies as object[])[0], name: 'second' },
      ],
    };
    const withStores = JSON.parse(
      JSON.stringify(two).replaceAll('"trustedIdentities"', '"trustStores":["ca:mine"],"trustedIdentities"'),
    );
    expect(createNotationVerifier(config({ trustPolicy: withStores }), { baseDir: '/' }).description).toBe(
      'notation trust policy (first, second)',
    );
    const dir = mkdtempSync(join(tmpdir(), 'notation-policy-'));
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(withStores));
    expect(createNotationVerifier(config({ trustPolicyFile: 'policy.json' }), { baseDir: dir }).description).toBe(
      `notation trust policy ${join(dir, 'policy.json')}`,
    );
  });

  it('POLICY_ERROR naming the policy: inline and invalid, a file that cannot be read, a file that is not JSON', () => {
    expect(() => createNotationVerifier(config({ trustPolicy: { version: '9' } }), { baseDir: '/' })).toThrow(
      expect.objectContaining({
        reason: 'POLICY_ERROR',
        message: expect.stringMatching(/^Notation trust policy \(inline\): ./),
      }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'notation-policy-'));
    expect(() => createNotationVerifier(config({ trustPolicyFile: 'absent.json' }), { baseDir: dir })).toThrow(
      expect.objectContaining({
        reason: 'POLICY_ERROR',
        message: `Notation trust policy ${join(dir, 'absent.json')}: cannot read the file`,
      }),
    );
    writeFileSync(join(dir, 'bad.json'), '{"version": ');
    expect(() => createNotationVerifier(config({ trustPolicyFile: 'bad.json' }), { baseDir: dir })).toThrow(
      expect.objectContaining({
        reason: 'POLICY_ERROR',
        message: expect.stringMatching(new RegExp(`^Notation trust policy ${join(dir, 'bad.json')}: not JSON: .`)),
      }),
    );
  });
});
