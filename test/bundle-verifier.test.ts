/**
 * verifyBundle and loggedKeys, called directly: the checks this project adds to
 * @sigstore/verify, each with the reason code and the words a user reads in the
 * decision line. Bundles are signed here with real crypto: by the mock Fulcio (with
 * the mock Rekor and TSA), or by a key or a private CA's leaf the test makes
 * (test/support/bundle-builders.ts, certificates from notation-signer's makeCert).
 *
 *   - what the policy expects against what signed: a key policy refuses a certificate,
 *     a keyless policy refuses a key (naming its hint), a message signature is no image
 *     signature;
 *   - Fulcio needs an SCT; a signing time outside the certificate is EXPIRED (from a
 *     timestamp or a log entry's promise, never from a log entry without a promise);
 *   - a private CA with no log and no timestamp: the chain must hold now, up to 8
 *     certificates above the leaf, each a valid CA whose signature verifies, ending at a
 *     self-signed root (an intermediate alone is no anchor);
 *   - every Rekor entry must name the signer's key (tlog: skip drops the entries);
 *   - the library's errors as reason codes (a key that is not valid, a signature that
 *     does not verify, a missing log entry), and malformed input as a verdict.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loggedKeys,
  verifyBundle,
  type BundleTrust,
  type BundleVerdict,
  type TlogMode,
} from '../src/verify/cosign/bundle-verifier.js';
import { loadPemKey } from '../src/verify/cosign/keys.js';
import { parseTrustedRoot, trustMaterial } from '../src/verify/cosign/trusted-root.js';
import { dsseBundle, type Json, logBody, messageBundle } from './support/bundle-builders.js';
import { der, type IssuedCert, key, makeCert, pem, SUBJECT } from './support/notation-signer.js';
import {
  type Claims,
  cosignStatement,
  type MockSigstore,
  signKeyless,
  signWithKey,
  startMockSigstore,
} from './support/sigstore-signer.js';

const claims: Claims = { iss: 'https://issuer.example', sub: 'https://ci.example/release' };
const STATEMENT = cosignStatement(`sha256:${'ab'.repeat(32)}`, 'registry.example/app');
const HOUR = 3600 * 1000;

type KeyPair = { privateKey: KeyObject; publicKey: KeyObject; publicKeyPem: string };
const ecKey = (): KeyPair => {
  const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { ...k, publicKeyPem: k.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
};
const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s) : s).toString('base64');
const parse = (c: IssuedCert) => X509Certificate.parse(Buffer.from(c.der));
const clone = (j: Json): Json => structuredClone(j);
const vm = (bundle: Json) => bundle.verificationMaterial as Record<string, unknown>;
const failure = (v: BundleVerdict) => (v.ok ? { ok: true } : v);

describe('verifyBundle', () => {
  let mock: MockSigstore;
  let other: MockSigstore;
  let pastCa: MockSigstore;
  const root = () => parseTrustedRoot(mock.trustedRoot, 'mock');

  beforeAll(async () => {
    [mock, other, pastCa] = await Promise.all([
      startMockSigstore(),
      startMockSigstore(),
      // its certificates were valid for 10 minutes, two hours ago
      startMockSigstore({ caClock: new Date(Date.now() - 2 * HOUR) }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([mock, other, pastCa].map((m) => m?.stop()));
  });

  const fulcio = (m = mock, tlog: TlogMode = 'required'): BundleTrust => ({
    material: trustMaterial(parseTrustedRoot(m.trustedRoot, 'mock')),
    signer: { kind: 'fulcio' },
    tlog,
  });
  /** the root's logs and TSAs, with `roots` (and `intermediates`) as its only CAs */
  const privateCa = (
    roots: IssuedCert[],
    intermediates: IssuedCert[] = [],
    opts: { kind?: 'private-ca' | 'fulcio'; tlog?: TlogMode; m?: MockSigstore } = {},
  ): BundleTrust => ({
    material: trustMaterial(parseTrustedRoot((opts.m ?? mock).trustedRoot, 'mock'), {
      privateCas: { roots: roots.map(parse), intermediates: intermediates.map(parse) },
    }),
    signer: { kind: opts.kind ?? 'private-ca' },
    tlog: opts.tlog ?? 'skip',
  });
  const keyTrust = (k: KeyPair, tlog: TlogMode = 'skip', validFor: (d: Date) => boolean = () => true): BundleTrust => ({
    material: trustMaterial(root(), { keys: () => ({ publicKey: k.publicKey, validFor }) }),
    signer: { kind: 'key', key: loadPemKey(k.publicKeyPem), describe: 'key policy-key-7' },
    tlog,
  });
  const asKey = (k: KeyPair, hint = 'hint-of-signer') => ({
    publicKeyPem: k.publicKeyPem,
    hint,
    privateKey: k.privateKey,
  });

  // --- a private PKI: root → intermediate → leaf, all valid 2020..2120 ---
  const leafKey = key('p256', 'bv-leaf');
  const pkiRoot = makeCert({ subject: SUBJECT('BV Root'), key: key('p384', 'bv-root'), ca: true });
  const pkiInt = makeCert({
    subject: SUBJECT('BV Intermediate'),
    key: key('p384', 'bv-int'),
    issuer: pkiRoot,
    ca: true,
  });
  const leafUnder = (issuer: IssuedCert, spec: { notBefore?: Date; notAfter?: Date } = {}) =>
    makeCert({ subject: SUBJECT('BV Signer'), key: leafKey, issuer, ...spec });
  const byLeaf = (leaf: IssuedCert) => ({ certificate: leaf.der, privateKey: leafKey.privateKey });
  const otherRoot = makeCert({ subject: SUBJECT('BV Other Root'), key: key('p384', 'bv-other'), ca: true });

  describe('what signed, against what the policy expects', () => {
    it('a key policy refuses a certificate-signed bundle, naming the key it expects', async () => {
      const bundle = await signKeyless(mock, STATEMENT, { claims, tsa: true });
      expect(failure(verifyBundle(bundle, keyTrust(ecKey()), new Date()))).toEqual({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
        detail: 'bundle is signed with a certificate, the policy expects key policy-key-7',
      });
    });

    it('a keyless policy refuses a key-signed bundle, naming the key hint (or none)', async () => {
      const k = ecKey();
      const hinted = await dsseBundle(asKey(k, 'hint-abc'), STATEMENT);
      expect(failure(verifyBundle(hinted, fulcio(), new Date()))).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
        detail: 'bundle is signed with a public key (hint hint-abc), the policy expects a keyless certificate',
      });
      const unhinted = await dsseBundle(asKey(k, ''), STATEMENT);
      expect(failure(verifyBundle(unhinted, privateCa([pkiRoot]), new Date()))).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringContaining('(hint none)'),
      });
    });

    it('a message-signature bundle is no image signature; over a given artifact it verifies, with no statement', async () => {
      const k = ecKey();
      const artifact = Buffer.from('a release tarball');
      const bundle = await messageBundle(asKey(k), artifact);
      expect(failure(verifyBundle(bundle, keyTrust(k), new Date()))).toEqual({
        ok: false,
        reason: 'SIGNATURE_MISSING',
        detail: 'a message-signature bundle (not a DSSE statement), so not a cosign image signature',
      });
      const verdict = verifyBundle(bundle, keyTrust(k), new Date(), artifact);
      expect(verdict).toMatchObject({
        ok: true,
        bundle: { statement: null, statementProblem: 'a message signature, not a DSSE statement' },
      });
    });

    it('a DSSE payload that is no in-toto statement verifies, with the reason it is no statement', async () => {
      const k = ecKey();
      const bundle = await dsseBundle(asKey(k), Buffer.from('{"hello":"world"}'), {}, 'application/json');
      const verdict = verifyBundle(bundle, keyTrust(k), new Date());
      expect(verdict.ok).toBe(true);
      if (!verdict.ok) return;
      expect(verdict.bundle.statement).toBeNull();
      expect(verdict.bundle.statementProblem).toMatch(/\S/);
      expect(verdict.bundle.signer).toEqual({ kind: 'key', fingerprint: loadPemKey(k.publicKeyPem).fingerprint });
    });
  });

  describe('certificates and signing times', () => {
    it('Fulcio needs an SCT: a certificate without one is refused, the same certificate from a private CA is not', async () => {
      const bundle = await dsseBundle(byLeaf(leafUnder(pkiInt)), STATEMENT, { mock, tsa: true });
      expect(
        failure(verifyBundle(bundle, privateCa([pkiRoot], [pkiInt], { kind: 'fulcio' }), new Date())),
      ).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^certificate transparency: .*SCT/),
      });
      expect(verifyBundle(bundle, privateCa([pkiRoot], [pkiInt]), new Date()).ok).toBe(true);
    });

    it('a Fulcio bundle with no signing time at all is refused', async () => {
      const bundle = await signKeyless(mock, STATEMENT, { claims, rekor: false });
      expect(failure(verifyBundle(bundle, fulcio(mock, 'skip'), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('no trusted signing time'),
      });
    });

    it('a certificate from another CA does not chain, whatever the bundle carries for times', async () => {
      const bundle = clone(await signKeyless(other, STATEMENT, { claims, tsa: false }));
      delete vm(bundle).timestampVerificationData;
      const trust = privateCa([otherRoot], [], { kind: 'fulcio', tlog: 'required', m: other });
      expect(failure(verifyBundle(bundle, trust, new Date()))).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringMatching(
          /^certificate of .* does not chain to a trusted CA: Failed to verify certificate chain: no valid certificate path found$/,
        ),
      });
    });

    it('a log entry without a promise gives no signing time: its integratedTime is not named as the cause', async () => {
      const bundle = clone(await signKeyless(other, STATEMENT, { claims, tsa: true }));
      const entry = (vm(bundle).tlogEntries as Json[])[0]!;
      delete entry.inclusionPromise;
      entry.integratedTime = '946684800'; // 2000-01-01, long before the certificate
      const trust = privateCa([otherRoot], [], { kind: 'fulcio', tlog: 'required', m: other });
      expect(failure(verifyBundle(bundle, trust, new Date()))).toMatchObject({ reason: 'UNTRUSTED_SIGNER' });
    });

    it('a timestamp outside the certificate is EXPIRED, naming the time', async () => {
      const bundle = await signKeyless(pastCa, STATEMENT, { claims, rekor: false, tsa: true });
      expect(failure(verifyBundle(bundle, fulcio(pastCa, 'skip'), new Date()))).toMatchObject({
        reason: 'EXPIRED',
        detail: expect.stringMatching(/^certificate of .* is valid from .* to .*, but the signature was made at 20/),
      });
    });

    it('a log entry (with a promise) outside the certificate is EXPIRED', async () => {
      const bundle = await signKeyless(pastCa, STATEMENT, { claims, rekor: true, tsa: false });
      expect(failure(verifyBundle(bundle, fulcio(pastCa), new Date()))).toMatchObject({
        reason: 'EXPIRED',
        detail: expect.stringContaining('but the signature was made at'),
      });
    });

    it('a missing log entry under tlog: required is named by the library code', async () => {
      const bundle = await signKeyless(mock, STATEMENT, { claims, rekor: false, tsa: true });
      expect(failure(verifyBundle(bundle, fulcio(mock, 'required'), new Date()))).toEqual({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: 'TLOG_ERROR: expected 1 tlog entries, got 0',
      });
      expect(verifyBundle(bundle, fulcio(mock, 'skip'), new Date()).ok).toBe(true);
    });

    it('a certificate-signed bundle whose signature does not verify names the certificate', async () => {
      const bundle = clone(await signKeyless(mock, STATEMENT, { claims, rekor: false, tsa: true }));
      const env = bundle.dsseEnvelope as { payload: string };
      env.payload = b64(cosignStatement(`sha256:${'cd'.repeat(32)}`, 'registry.example/app'));
      expect(failure(verifyBundle(bundle, fulcio(mock, 'skip'), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^signature does not verify with the certificate of /),
      });
    });
  });

  describe('a key policy', () => {
    it('a signature by another key is UNTRUSTED_SIGNER, naming the hint (or none) and the policy key', async () => {
      const signer = ecKey();
      const policy = ecKey();
      const hinted = await dsseBundle(asKey(signer, 'hint-xyz'), STATEMENT);
      expect(failure(verifyBundle(hinted, keyTrust(policy), new Date()))).toEqual({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
        detail: 'bundle signature (key hint hint-xyz) does not verify with key policy-key-7',
      });
      const unhinted = await dsseBundle(asKey(signer, ''), STATEMENT);
      expect(failure(verifyBundle(unhinted, keyTrust(policy), new Date()))).toMatchObject({
        detail: 'bundle signature (key hint none) does not verify with key policy-key-7',
      });
      expect(verifyBundle(hinted, keyTrust(signer), new Date()).ok).toBe(true);
    });

    it('a key the trust material does not hold at the signing time is UNTRUSTED_SIGNER, with the library cause', async () => {
      const k = ecKey();
      const bundle = await signWithKey(k.privateKey, k.publicKeyPem, STATEMENT, mock);
      const verdict = verifyBundle(
        bundle,
        keyTrust(k, 'required', () => false),
        new Date(),
      );
      expect(failure(verdict)).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringMatching(
          /^bundle was not signed by key policy-key-7: Public key is not valid for timestamp/,
        ),
      });
      expect(verifyBundle(bundle, keyTrust(k, 'required'), new Date()).ok).toBe(true);
    });
  });

  describe('Rekor entries must name the signer', () => {
    /** the key bundle with its log entry replaced by one whose dsse body is edited */
    async function relogged(k: KeyPair, edit: (spec: Record<string, unknown>) => void): Promise<Json> {
      const bundle = clone(await signWithKey(k.privateKey, k.publicKeyPem, STATEMENT, mock));
      const entries = vm(bundle).tlogEntries as Json[];
      const body = JSON.parse(Buffer.from(entries[0]!.canonicalizedBody as string, 'base64').toString('utf8'));
      edit(body.spec);
      entries[0] = await logBody(mock, body);
      return bundle;
    }
    const setVerifier = (v: string) => (spec: Record<string, unknown>) => {
      (spec.signatures as Array<{ verifier: string }>)[0]!.verifier = v;
    };

    it('an entry naming no key is refused', async () => {
      const k = ecKey();
      const bundle = await relogged(k, setVerifier(b64('no key here')));
      expect(failure(verifyBundle(bundle, keyTrust(k, 'required'), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^Rekor entry \d+ names no verification key$/),
      });
    });

    it('an entry logged for another key is refused; with tlog: skip the entry is not read', async () => {
      const k = ecKey();
      const bundle = await relogged(k, setVerifier(b64(ecKey().publicKeyPem)));
      expect(failure(verifyBundle(bundle, keyTrust(k, 'required'), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^Rekor entry \d+ was logged for another key than the signer's$/),
      });
      expect(verifyBundle(bundle, keyTrust(k, 'skip'), new Date()).ok).toBe(true);
    });

    it("an entry naming the signer's key among others is accepted", async () => {
      const k = ecKey();
      const bundle = await relogged(k, (spec) => {
        spec.publicKey = b64(ecKey().publicKeyPem);
      });
      expect(verifyBundle(bundle, keyTrust(k, 'required'), new Date()).ok).toBe(true);
    });

    it("a keyless entry must name the signing certificate's key", async () => {
      const bundle = clone(await signKeyless(mock, STATEMENT, { claims }));
      expect(verifyBundle(bundle, fulcio(), new Date()).ok).toBe(true);
      const entries = vm(bundle).tlogEntries as Json[];
      const body = JSON.parse(Buffer.from(entries[0]!.canonicalizedBody as string, 'base64').toString('utf8'));
      body.spec.signatures[0].verifier = b64(ecKey().publicKeyPem);
      entries[0] = await logBody(mock, body);
      expect(failure(verifyBundle(bundle, fulcio(), new Date()))).toMatchObject({
        detail: expect.stringContaining("logged for another key than the signer's"),
      });
    });
  });

  describe('a private CA with no log and no timestamp: the chain must hold now', () => {
    const sign = (leaf: IssuedCert) => dsseBundle(byLeaf(leaf), STATEMENT);

    it('root → intermediate → leaf is admitted, with the certificate as signer', async () => {
      const verdict = verifyBundle(await sign(leafUnder(pkiInt)), privateCa([pkiRoot], [pkiInt]), new Date());
      expect(verdict.ok).toBe(true);
      if (verdict.ok) expect(verdict.bundle.signer.kind).toBe('certificate');
    });

    it('any one of several roots is enough', async () => {
      const bundle = await sign(leafUnder(pkiInt));
      expect(verifyBundle(bundle, privateCa([otherRoot, pkiRoot], [pkiInt]), new Date()).ok).toBe(true);
      expect(failure(verifyBundle(bundle, privateCa([otherRoot], [pkiInt]), new Date()))).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringMatching(/^certificate of .* does not chain to a trusted CA$/),
      });
    });

    it('a leaf expired now is EXPIRED, naming now', async () => {
      const leaf = leafUnder(pkiInt, {
        notBefore: new Date('2021-01-01T00:00:00Z'),
        notAfter: new Date('2022-01-01T00:00:00Z'),
      });
      const now = new Date('2024-06-01T00:00:00Z');
      expect(failure(verifyBundle(await sign(leaf), privateCa([pkiRoot], [pkiInt]), now))).toEqual({
        ok: false,
        reason: 'EXPIRED',
        detail: expect.stringMatching(
          /^certificate of .* is valid from 2021-01-01T00:00:00.000Z to 2022-01-01T00:00:00.000Z, not now \(2024-06-01T00:00:00.000Z\)$/,
        ),
      });
    });

    it('a signature that does not verify with the chained leaf is refused', async () => {
      const bundle = clone(await sign(leafUnder(pkiInt)));
      (bundle.dsseEnvelope as { payload: string }).payload = b64('{"_type":"something else"}');
      expect(failure(verifyBundle(bundle, privateCa([pkiRoot], [pkiInt]), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^signature does not verify with the certificate of /),
      });
    });

    /** root → n intermediates → leaf */
    function ladder(n: number): { intermediates: IssuedCert[]; leaf: IssuedCert } {
      const intermediates: IssuedCert[] = [];
      let issuer = pkiRoot;
      for (let i = 0; i < n; i++) {
        issuer = makeCert({ subject: SUBJECT(`BV Level ${i}`), key: key('p256', `bv-level-${i}`), issuer, ca: true });
        intermediates.push(issuer);
      }
      return { intermediates, leaf: leafUnder(issuer) };
    }

    it('up to 8 certificates above the leaf: 7 intermediates and the root chain, 8 intermediates do not', async () => {
      const seven = ladder(7);
      expect(verifyBundle(await sign(seven.leaf), privateCa([pkiRoot], seven.intermediates), new Date()).ok).toBe(true);
      const eight = ladder(8);
      expect(
        failure(verifyBundle(await sign(eight.leaf), privateCa([pkiRoot], eight.intermediates), new Date())),
      ).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringContaining('does not chain to a trusted CA'),
      });
    });

    /** the leaf's issuer replaced by `issuer` (made by `make`), the root trusted */
    async function withIssuer(issuer: IssuedCert, roots = [pkiRoot]): Promise<BundleVerdict> {
      return verifyBundle(await sign(leafUnder(pkiInt)), privateCa(roots, [issuer]), new Date());
    }
    const intSpec = { subject: SUBJECT('BV Intermediate'), key: key('p384', 'bv-int'), issuer: pkiRoot, ca: true };

    it('each link must be a CA, valid now, named as the issuer, whose signature verifies', async () => {
      expect((await withIssuer(makeCert(intSpec))).ok).toBe(true);
      const refused = { reason: 'UNTRUSTED_SIGNER', detail: expect.stringContaining('does not chain to a trusted CA') };
      // the same name and key, but not a CA
      expect(failure(await withIssuer(makeCert({ ...intSpec, ca: false })))).toMatchObject(refused);
      // the same name and key, expired
      expect(
        failure(
          await withIssuer(
            makeCert({
              ...intSpec,
              notBefore: new Date('2020-01-01T00:00:00Z'),
              notAfter: new Date('2021-01-01T00:00:00Z'),
            }),
          ),
        ),
      ).toMatchObject(refused);
      // the same key under another name
      expect(failure(await withIssuer(makeCert({ ...intSpec, subject: SUBJECT('BV Renamed') })))).toMatchObject(
        refused,
      );
      // the same name with another key
      expect(failure(await withIssuer(makeCert({ ...intSpec, key: key('p384', 'bv-int-2') })))).toMatchObject(refused);
    });

    it('a CA whose key cannot be read is no issuer, even when its own issuer is trusted', async () => {
      // an SPKI with an unknown algorithm: the key cannot be loaded to check a signature
      const spki = der.seq(der.seq(der.oid('1.2.3.4')), der.bits(Buffer.from([1, 2, 3])));
      const unreadable = { privateKey: leafKey.privateKey, publicKey: { export: () => spki } as unknown as KeyObject };
      expect(failure(await withIssuer(makeCert({ ...intSpec, key: unreadable })))).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringContaining('does not chain to a trusted CA'),
      });
    });

    it('an intermediate is no anchor: the chain must end at a trusted self-signed root', async () => {
      // the intermediate is trusted, its root is not
      expect(failure(await withIssuer(pkiInt, [otherRoot]))).toMatchObject({ reason: 'UNTRUSTED_SIGNER' });
      // an intermediate named like its issuer (so subject = issuer) but not self-signed
      const twinRoot = makeCert({ subject: SUBJECT('BV Twin'), key: key('p384', 'bv-twin-root'), ca: true });
      const twinInt = makeCert({
        subject: SUBJECT('BV Twin'),
        key: key('p384', 'bv-twin-int'),
        issuer: twinRoot,
        ca: true,
      });
      const leaf = leafUnder(twinInt);
      expect(verifyBundle(await sign(leaf), privateCa([twinRoot], [twinInt]), new Date()).ok).toBe(true);
      expect(failure(verifyBundle(await sign(leaf), privateCa([otherRoot], [twinInt]), new Date()))).toMatchObject({
        reason: 'UNTRUSTED_SIGNER',
      });
    });
  });

  describe('malformed input ends as a verdict', () => {
    it('a document that is no bundle', () => {
      expect(failure(verifyBundle({}, fulcio(), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^malformed Sigstore bundle: /),
      });
    });

    it('a logged dsse body with no spec (the library throws a TypeError) ends as a failure', async () => {
      const k = ecKey();
      const bundle = clone(await signWithKey(k.privateKey, k.publicKeyPem, STATEMENT, mock));
      (vm(bundle).tlogEntries as Json[])[0] = await logBody(mock, { kind: 'dsse', apiVersion: '0.0.1' });
      expect(failure(verifyBundle(bundle, keyTrust(k, 'required'), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^bundle could not be verified: Cannot read properties of undefined/),
      });
    });

    it('an integratedTime that is no number ends as a failure naming the invalid time', async () => {
      const bundle = clone(await signKeyless(mock, STATEMENT, { claims }));
      (vm(bundle).tlogEntries as Json[])[0]!.integratedTime = 'not a number';
      expect(failure(verifyBundle(bundle, fulcio(), new Date()))).toEqual({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: 'bundle could not be verified: Invalid time value',
      });
    });

    it('a bundle whose certificate bytes are no certificate', async () => {
      const bundle = clone(await signKeyless(mock, STATEMENT, { claims, tsa: true }));
      (vm(bundle).certificate as { rawBytes: string }).rawBytes = b64('no certificate');
      expect(failure(verifyBundle(bundle, fulcio(), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^malformed Sigstore bundle: /),
      });
    });
  });
});

describe('loggedKeys', () => {
  const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = k.publicKey.export({ type: 'spki', format: 'der' });
  const keyPem = k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const body = (spec: unknown) => Buffer.from(JSON.stringify({ kind: 'x', apiVersion: '0.0.1', spec }));

  it('reads the key of every entry kind cosign and Rekor write', () => {
    const cert = makeCert({ subject: SUBJECT('BV Logged'), key: { privateKey: k.privateKey, publicKey: k.publicKey } });
    expect(loggedKeys(body({ signature: { publicKey: { content: b64(keyPem) } } }))).toEqual([spki]); // hashedrekord
    expect(loggedKeys(body({ signature: { publicKey: { content: b64(pem(cert.der)) } } }))).toEqual([spki]);
    expect(loggedKeys(body({ signatures: [{ signature: 'c2ln', verifier: b64(keyPem) }] }))).toEqual([spki]); // dsse
    expect(
      loggedKeys(body({ content: { envelope: { signatures: [{ sig: 'c2ln', publicKey: b64(keyPem) }] } } })),
    ).toEqual([spki]); // intoto 0.0.2
    expect(loggedKeys(body({ publicKey: b64(keyPem) }))).toEqual([spki]); // intoto 0.0.1
  });

  it('reads nothing from a body that is no JSON, has no spec, or names no key', () => {
    expect(loggedKeys(Buffer.from('not json {'))).toEqual([]);
    expect(loggedKeys(Buffer.from('null'))).toEqual([]);
    expect(loggedKeys(body(null))).toEqual([]);
    expect(loggedKeys(body({ signature: null, signatures: 'x', content: { envelope: 7 } }))).toEqual([]);
    expect(loggedKeys(body({ publicKey: b64('neither a certificate nor a key') }))).toEqual([]);
  });

  it('reads only base64 text of a certificate or a public key: never a private key, never a non-string', () => {
    const privatePem = k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(loggedKeys(body({ publicKey: b64(privatePem) }))).toEqual([]);
    // the PEM's own bytes as a JSON array: not base64 text, so no key
    expect(loggedKeys(body({ publicKey: [...Buffer.from(keyPem)] }))).toEqual([]);
  });
});
