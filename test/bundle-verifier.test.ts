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
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
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
import { type IssuedCert, key, makeCert, pem, SUBJECT } from './support/notation-signer.js';
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
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const parse = (c: IssuedCert) => X509Certificate.parse(c.der);
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
  const asKey = (k: KeyPair, hint = 'hint-of-signer') => ({ publicKeyPem: k.publicKeyPem, hint, privateKey: k.privateKey });

  // --- a private PKI: root → intermediate → leaf, all valid 2020..2120 ---
  const leafKey = key('p256', 'bv-leaf');
  const pkiRoot = makeCert({ subject: SUBJECT('BV Root'), key: key('p384', 'bv-root'), ca: true });
  const pkiInt = makeCert({ subject: SUBJECT('BV Intermediate'), key: key('p384', 'bv-int'), issuer: pkiRoot, ca: true });
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

  describe('malformed input ends as a verdict', () => {
    it('a document that is no bundle', () => {
      expect(failure(verifyBundle({}, fulcio(), new Date()))).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(/^malformed Sigstore bundle: /),
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
    expect(loggedKeys(body({ content: { envelope: { signatures: [{ sig: 'c2ln', publicKey: b64(keyPem) }] } } }))).toEqual([
      spki,
    ]); // intoto 0.0.2
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

export { createHash };
