/**
 * The Notary Project X.509 profile rule by rule: each test builds a chain (or one
 * certificate) that breaks exactly one rule and asserts the reason code and the words of
 * the first rule that refuses it, so that a rule removed or loosened changes the outcome.
 * Chains go through checkIntegrity (the reason code a user sees), single certificates
 * through Certificate and chainProblem. Certificates with odd names, signature
 * algorithms or extension lists are written here with the test DER writer.
 */
import { constants, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import type * as ChecksModule from '../src/verify/notary/checks.js';
import { MEDIA_TYPE_JWS } from '../src/verify/notary/envelope.js';
import type * as X509Module from '../src/verify/notary/x509.js';
import {
  EKU,
  KU,
  SUBJECT,
  der,
  digestOf,
  key,
  makeCert,
  makeChain,
  pem,
  signJws,
  type CertSpec,
  type IssuedCert,
  type KeyPair,
} from './support/notation-signer.js';

// Stryker counts a mutant in x509.ts's module-level tables (algorithm names, subject
// attribute names, excluded EKUs, the parse cache) as covered only by a test that loads
// the module while it runs: each test imports x509.ts (and checks.ts over it) afresh.
let X: typeof X509Module;
let C: typeof ChecksModule;
beforeEach(async () => {
  vi.resetModules();
  X = await import('../src/verify/notary/x509.js');
  C = await import('../src/verify/notary/checks.js');
});

const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(Buffer.from('x509 rules image')),
  size: 16,
};
const LEAF_KEY = key('p256', 'x509-rules-leaf');
const good = makeChain(LEAF_KEY, { label: 'x509-rules' });
const OCSP = '1.3.6.1.5.5.7.48.1';
const CA_ISSUERS = '1.3.6.1.5.5.7.48.2';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';

/** The integrity step for a signature by LEAF_KEY carrying `chain`: null when admitted, else the failure. */
function integrity(chain: Buffer[]) {
  const bytes = signJws({ target: TARGET, alg: 'ES256', key: LEAF_KEY.privateKey, chain });
  const found = { manifest: TARGET, mediaType: MEDIA_TYPE_JWS, bytes } as const;
  const r = C.checkIntegrity(found, TARGET, { understood: new Set() });
  return 'ok' in r ? r : null;
}
const untrusted = (words: string) => ({
  ok: false,
  reason: 'UNTRUSTED_SIGNER',
  detail: expect.stringContaining(words),
});

/** good's root and intermediate, a leaf (LEAF_KEY) as told */
function withLeaf(leaf: Partial<CertSpec>): Buffer[] {
  return makeChain(LEAF_KEY, { root: good.root, label: 'x509-rules', leaf }).chain;
}
/** good's root, an intermediate as told, and a leaf issued by it */
function withIntermediate(intermediate: Partial<CertSpec>): Buffer[] {
  return makeChain(LEAF_KEY, { root: good.root, label: 'x509-rules', intermediate }).chain;
}
const certs = (ders: Buffer[]) => ders.map((d) => X.Certificate.fromDer(d));

// ---------- a certificate writer for what makeCert does not do ----------
const ext = (oid: string, critical: boolean, value: Buffer) =>
  der.seq(der.oid(oid), ...(critical ? [der.bool(true)] : []), der.octets(value));
const kuExt = (bits: Buffer, critical = true) => ext('2.5.29.15', critical, der.bits(bits));
const name = (...attrs: Array<[string, string]>) =>
  der.seq(...attrs.map(([oid, v]) => der.set(der.seq(der.oid(oid), der.utf8(v)))));
const uri = (s: string) => der.tlv(0x86, Buffer.from(s, 'latin1'));
const dnsName = (s: string) => der.tlv(0x82, Buffer.from(s, 'latin1'));

interface SigAlg {
  alg: Buffer;
  sign: (data: Buffer, k: KeyObject) => Buffer;
}
const hashAlg = (oid: string) => der.seq(der.oid(oid), der.null());
const SHA = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const rsa = (oid: string, h: string): SigAlg => ({ alg: hashAlg(oid), sign: (d, k) => cryptoSign(h, d, k) });
const ecdsa = (oid: string, h: string): SigAlg => ({ alg: der.seq(der.oid(oid)), sign: (d, k) => cryptoSign(h, d, k) });
/** RSASSA-PSS with explicit parameters (hash, MGF1 with the same hash, salt = hash length) */
const pss = (h: 'sha256' | 'sha384' | 'sha512', salt: number): SigAlg => ({
  alg: der.seq(
    der.oid('1.2.840.113549.1.1.10'),
    der.seq(
      der.ctx(0, true, der.seq(der.oid(SHA[h]))),
      der.ctx(1, true, der.seq(der.oid('1.2.840.113549.1.1.8'), der.seq(der.oid(SHA[h])))),
      der.ctx(2, true, der.int(salt)),
    ),
  ),
  sign: (d, k) => cryptoSign(h, d, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: salt }),
});
const SIG = {
  sha256WithRSAEncryption: rsa('1.2.840.113549.1.1.11', 'sha256'),
  sha384WithRSAEncryption: rsa('1.2.840.113549.1.1.12', 'sha384'),
  sha512WithRSAEncryption: rsa('1.2.840.113549.1.1.13', 'sha512'),
  'RSASSA-PSS over SHA-256': pss('sha256', 32),
  'RSASSA-PSS over SHA-384': pss('sha384', 48),
  'RSASSA-PSS over SHA-512': pss('sha512', 64),
  'ecdsa-with-SHA256': ecdsa('1.2.840.10045.4.3.2', 'sha256'),
  'ecdsa-with-SHA384': ecdsa('1.2.840.10045.4.3.3', 'sha384'),
  'ecdsa-with-SHA512': ecdsa('1.2.840.10045.4.3.4', 'sha512'),
  Ed25519: { alg: der.seq(der.oid('1.3.101.112')), sign: (d: Buffer, k: KeyObject) => cryptoSign(null, d, k) },
} satisfies Record<string, SigAlg>;
const RSA_KEY = key('rsa2048', 'x509-rules');
const ED_KEY: KeyPair = generateKeyPairSync('ed25519');
const KEY_FOR: Record<keyof typeof SIG, KeyPair> = {
  sha256WithRSAEncryption: RSA_KEY,
  sha384WithRSAEncryption: RSA_KEY,
  sha512WithRSAEncryption: RSA_KEY,
  'RSASSA-PSS over SHA-256': RSA_KEY,
  'RSASSA-PSS over SHA-384': RSA_KEY,
  'RSASSA-PSS over SHA-512': RSA_KEY,
  'ecdsa-with-SHA256': key('p256', 'x509-rules-ec'),
  'ecdsa-with-SHA384': key('p256', 'x509-rules-ec'),
  'ecdsa-with-SHA512': key('p256', 'x509-rules-ec'),
  Ed25519: ED_KEY,
};

interface RawSpec {
  key: KeyPair;
  subject?: Buffer;
  /** default: the subject (self-issued) */
  issuerName?: Buffer;
  /** default: key (self-signed) */
  signer?: KeyPair;
  sig?: SigAlg;
  /** the algorithm named inside the TBS, when it should differ from the outer one */
  tbsAlg?: Buffer;
  exts?: Buffer[];
}
let serial = 7000;
function rawCert(spec: RawSpec): Buffer {
  const sig = spec.sig ?? SIG['ecdsa-with-SHA256'];
  const subject = spec.subject ?? name(['2.5.4.3', 'raw']);
  const tbs = der.seq(
    der.ctx(0, true, der.int(2)),
    der.int(serial++),
    spec.tbsAlg ?? sig.alg,
    spec.issuerName ?? subject,
    der.seq(der.tlv(0x17, Buffer.from('200101000000Z')), der.tlv(0x17, Buffer.from('491231000000Z'))),
    subject,
    spec.key.publicKey.export({ type: 'spki', format: 'der' }),
    ...(spec.exts?.length ? [der.ctx(3, true, der.seq(...spec.exts))] : []),
  );
  return der.seq(tbs, sig.alg, der.bits(sig.sign(tbs, (spec.signer ?? spec.key).privateKey)));
}
const EC = key('p256', 'x509-rules-ec');
const parseError = (d: Buffer): Error => {
  try {
    X.Certificate.fromDer(d);
  } catch (e) {
    return e as Error;
  }
  throw new Error('parsed');
};

describe('a valid chain is admitted (so each refusal below is the rule it breaks)', () => {
  it('root, intermediate and code-signing leaf', () => {
    expect(integrity(good.chain)).toBeNull();
    expect(X.chainProblem(certs(good.chain), 'codeSigning')).toBeNull();
  });

  it('a leaf without extended key usage is allowed by the specification', () => {
    expect(integrity(withLeaf({ eku: null }))).toBeNull();
  });

  it('a leaf whose extended key usages include code signing and an unlisted purpose', () => {
    expect(integrity(withLeaf({ eku: ['1.3.6.1.4.1.311.10.3.13', EKU.codeSigning] }))).toBeNull();
  });

  it('each extension the profile understands may be critical', () => {
    const critical = [
      ['2.5.29.17', der.seq(dnsName('signer.example'))], // subjectAltName
      ['2.5.29.14', der.octets(Buffer.alloc(20, 1))], // subjectKeyIdentifier
      ['2.5.29.35', der.seq(der.tlv(0x80, Buffer.alloc(20, 2)))], // authorityKeyIdentifier
      ['2.5.29.32', der.seq(der.seq(der.oid('2.5.29.32.0')))], // certificatePolicies
      ['2.5.29.31', der.seq(der.seq(der.ctx(0, true, der.ctx(0, true, uri('http://crl.example/ca.crl')))))],
      ['1.3.6.1.5.5.7.1.1', der.seq(der.seq(der.oid(OCSP), uri('http://ocsp.example')))], // authorityInfoAccess
    ] as const;
    for (const [oid, value] of critical) {
      expect(integrity(withLeaf({ extra: [{ oid, critical: true, value }] })), oid).toBeNull();
    }
    // the generated chain has basicConstraints, keyUsage and extKeyUsage critical
    expect(integrity(withLeaf({ ekuCritical: true }))).toBeNull();
  });

  it('a certificate valid from/to exactly the instant checked', () => {
    const from = new Date('2030-01-01T00:00:00Z');
    const to = new Date('2031-01-01T00:00:00Z');
    const c = certs(withLeaf({ notBefore: from, notAfter: to })).slice(0, 1);
    expect(X.validityProblem(c, from)).toBeNull();
    expect(X.validityProblem(c, to)).toBeNull();
    expect(X.validityProblem(c, from, to)).toBeNull();
    expect(X.validityProblem(c, new Date(from.getTime() - 1000))).toMatch(
      /is not valid before 2030-01-01T00:00:00.000Z/,
    );
    expect(X.validityProblem(c, from, new Date(to.getTime() + 1000))).toMatch(/expired at 2031-01-01T00:00:00.000Z/);
  });
});

describe('chain structure', () => {
  it('an empty chain', () => {
    expect(X.chainProblem([], 'codeSigning')).toBe('the certificate chain is empty');
  });

  it('a single certificate that is not self-signed', () => {
    const lone = [good.leaf.der];
    expect(integrity(lone)).toMatchObject(untrusted('the single certificate "CN=Test Signer'));
    expect(X.chainProblem(certs(lone), 'codeSigning')).toMatch(/^the single certificate .* is not self-signed$/);
  });

  it('a single self-signed certificate is held to the leaf rules', () => {
    const self = makeCert({ subject: SUBJECT('Self'), key: LEAF_KEY, ca: true });
    expect(integrity([self.der])).toMatchObject(untrusted('is a CA certificate'));
    const leafOnly = makeCert({ subject: SUBJECT('Self leaf'), key: LEAF_KEY });
    expect(integrity([leafOnly.der])).toBeNull();
  });

  it('a chain that stops at the intermediate (no self-signed root)', () => {
    expect(integrity(good.chain.slice(0, 2))).toMatchObject(
      untrusted('the chain does not end in a self-signed root ("CN=Test Intermediate'),
    );
  });

  it('a self-signed leaf in front of a chain', () => {
    const self = makeCert({ subject: SUBJECT('Self leaf'), key: LEAF_KEY });
    expect(integrity([self.der, good.intermediate.der, good.root.der])).toMatchObject(
      untrusted('leaf certificate "CN=Self leaf,O=Test Org,L=Seattle,ST=WA,C=US" is self-signed'),
    );
  });

  it('a self-signed certificate in the middle of a chain', () => {
    const selfCa = makeCert({ subject: SUBJECT('Self CA'), key: key('p384', 'x509-self-ca'), ca: true, pathLen: 0 });
    const leaf = makeCert({ subject: SUBJECT('Test Signer'), key: LEAF_KEY, issuer: selfCa });
    expect(integrity([leaf.der, selfCa.der, good.root.der])).toMatchObject(
      untrusted('intermediate certificate "CN=Self CA'),
    );
  });

  it('a leaf issued by another intermediate than the one that follows it', () => {
    const other = makeChain(LEAF_KEY, { root: good.root, label: 'x509-other' });
    expect(integrity([other.leaf.der, good.intermediate.der, good.root.der])).toMatchObject(
      untrusted('certificate "CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US" is not issued by "CN=Test Intermediate'),
    );
  });

  it('signed by the next key but naming another issuer is not "issued by" it', () => {
    const stranger = makeCert({ subject: SUBJECT('Somebody Else'), key: key('p384', 'x509-stranger'), ca: true });
    const renamed: IssuedCert = { ...good.intermediate, name: stranger.name };
    const leaf = makeCert({ subject: SUBJECT('Test Signer'), key: LEAF_KEY, issuer: renamed });
    const [l, i] = certs([leaf.der, good.intermediate.der]);
    expect(l!.isIssuedBy(i!)).toBe(false);
    expect(integrity([leaf.der, good.intermediate.der, good.root.der])).toMatchObject(untrusted('is not issued by'));
  });

  it('a signature that cannot be checked with the issuer key type is "not issued by", not an error', () => {
    // an Ed25519 issuer named by a certificate carrying an ECDSA signature
    const edRoot = rawCert({ key: ED_KEY, sig: SIG.Ed25519, subject: name(['2.5.4.3', 'ed root']) });
    const child = rawCert({
      key: EC,
      subject: name(['2.5.4.3', 'child']),
      issuerName: name(['2.5.4.3', 'ed root']),
      signer: EC,
    });
    const [c, r] = certs([child, edRoot]);
    expect(c!.isIssuedBy(r!)).toBe(false);
  });
});

describe('CA certificates (intermediate and root)', () => {
  it('an intermediate without basicConstraints', () => {
    const chain = withIntermediate({ ca: undefined, keyUsage: [KU.keyCertSign] });
    expect(integrity(chain)).toMatchObject(
      untrusted('"CN=Test Intermediate,O=Test Org,L=Seattle,ST=WA,C=US" lacks basicConstraints cA=true'),
    );
  });

  it('an intermediate without key usage', () => {
    expect(integrity(withIntermediate({ keyUsage: null }))).toMatchObject(
      untrusted('CA certificate "CN=Test Intermediate,O=Test Org,L=Seattle,ST=WA,C=US" has no key usage extension'),
    );
  });

  it('an intermediate whose key usage is not critical: refused for code signing, allowed for time stamping', () => {
    const chain = withIntermediate({
      keyUsage: null,
      extra: [{ oid: '2.5.29.15', critical: false, value: der.bits(Buffer.from([0x06]), 1) }],
    });
    expect(integrity(chain)).toMatchObject(
      untrusted('"CN=Test Intermediate,O=Test Org,L=Seattle,ST=WA,C=US": key usage must be critical'),
    );
    const tsaChain = makeChain(LEAF_KEY, {
      root: good.root,
      label: 'x509-rules',
      intermediate: {
        keyUsage: null,
        extra: [{ oid: '2.5.29.15', critical: false, value: der.bits(Buffer.from([0x06]), 1) }],
      },
      leaf: { eku: [EKU.timeStamping], ekuCritical: true },
    }).chain;
    expect(X.chainProblem(certs(tsaChain), 'timeStamping')).toBeNull();
  });

  it('pathLen: an absent constraint sets no limit; one below the CAs under it is refused', () => {
    const under = (root: IssuedCert) => {
      const int1 = makeCert({ subject: SUBJECT('Int one'), key: key('p384', 'x509-int1'), issuer: root, ca: true });
      const int2 = makeCert({
        subject: SUBJECT('Int two'),
        key: key('p384', 'x509-int2'),
        issuer: int1,
        ca: true,
        pathLen: 0,
      });
      const leaf = makeCert({ subject: SUBJECT('Test Signer'), key: LEAF_KEY, issuer: int2 });
      return [leaf.der, int2.der, int1.der, root.der];
    };
    const root = (pathLen?: number) =>
      makeCert({ subject: SUBJECT('Root limits'), key: key('p384', 'x509-root-limits'), ca: true, pathLen });
    expect(integrity(under(root()))).toBeNull();
    expect(integrity(under(root(2)))).toBeNull();
    expect(integrity(under(root(1)))).toMatchObject(
      untrusted('CA certificate "CN=Root limits,O=Test Org,L=Seattle,ST=WA,C=US" has pathLen 1, needs 2'),
    );
  });

  it('a pathLenConstraint that is negative or too large for a number is a malformed certificate', () => {
    const bcWith = (int: Buffer) => [{ oid: '2.5.29.19', critical: true, value: der.seq(der.bool(true), int) }];
    const negative = makeCert({
      subject: SUBJECT('Neg'),
      key: EC,
      ca: undefined,
      keyUsage: [KU.keyCertSign],
      extra: bcWith(der.tlv(0x02, Buffer.from([0xff]))),
    });
    expect(parseError(negative.der)).toMatchObject({
      name: 'CertificateError',
      message: 'certificate "CN=Neg,O=Test Org,L=Seattle,ST=WA,C=US": pathLenConstraint out of range',
    });
    const huge = makeCert({
      subject: SUBJECT('Huge'),
      key: EC,
      ca: undefined,
      keyUsage: [KU.keyCertSign],
      extra: bcWith(der.tlv(0x02, Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 0, 0]))),
    });
    expect(parseError(huge.der).message).toMatch(/pathLenConstraint out of range/);
  });
});

describe('the signing certificate (leaf)', () => {
  it('a leaf that is a CA', () => {
    expect(integrity(withLeaf({ ca: true, keyUsage: [KU.digitalSignature] }))).toMatchObject(
      untrusted('signing certificate "CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US" is a CA certificate'),
    );
  });

  it('a leaf with basicConstraints cA=false is fine', () => {
    expect(integrity(withLeaf({ ca: false, keyUsage: [KU.digitalSignature] }))).toBeNull();
  });

  it('a leaf without key usage', () => {
    expect(integrity(withLeaf({ keyUsage: null }))).toMatchObject(
      untrusted('signing certificate "CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US" has no key usage extension'),
    );
  });

  it('a leaf whose key usage is not critical: refused for code signing, allowed for time stamping', () => {
    const nonCritical = [{ oid: '2.5.29.15', critical: false, value: der.bits(Buffer.from([0x80]), 7) }];
    expect(integrity(withLeaf({ keyUsage: null, extra: nonCritical }))).toMatchObject(
      untrusted('"CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US": key usage must be critical'),
    );
    const tsa = withLeaf({ keyUsage: null, extra: nonCritical, eku: [EKU.timeStamping], ekuCritical: true });
    expect(X.chainProblem(certs(tsa), 'timeStamping')).toBeNull();
  });

  it('a leaf whose key usage has no bit set', () => {
    expect(integrity(withLeaf({ keyUsage: [] }))).toMatchObject(untrusted('lacks the digitalSignature key usage'));
  });

  it('a leaf that may sign certificates but not data', () => {
    expect(integrity(withLeaf({ keyUsage: [KU.keyCertSign] }))).toMatchObject(
      untrusted('"CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US" lacks the digitalSignature key usage'),
    );
  });

  it('a leaf with key usages besides digitalSignature names them all', () => {
    expect(integrity(withLeaf({ keyUsage: [KU.digitalSignature, KU.keyCertSign, KU.cRLSign] }))).toMatchObject(
      untrusted('has key usages other than digitalSignature (bits 5, 6)'),
    );
    // decipherOnly is bit 8, in the second byte of the BIT STRING
    expect(integrity(withLeaf({ keyUsage: [KU.digitalSignature, 8] }))).toMatchObject(
      untrusted('has key usages other than digitalSignature (bits 8)'),
    );
  });

  it('a leaf whose extended key usage lacks code signing', () => {
    expect(integrity(withLeaf({ eku: ['1.3.6.1.4.1.311.10.3.13'] }))).toMatchObject(
      untrusted('"CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US" has an extended key usage without code signing'),
    );
  });

  it('a leaf with code signing and clientAuth names the excluded purpose', () => {
    expect(integrity(withLeaf({ eku: [EKU.codeSigning, EKU_CLIENT] }))).toMatchObject(
      untrusted(`has extended key usage ${EKU_CLIENT}, which code signing excludes`),
    );
  });

  it('time stamping: timeStamping the only, critical extended key usage', () => {
    const tsa = (leaf: Partial<CertSpec>) => X.chainProblem(certs(withLeaf(leaf)), 'timeStamping');
    expect(tsa({ eku: [EKU.timeStamping], ekuCritical: true })).toBeNull();
    expect(tsa({ eku: [EKU.timeStamping], ekuCritical: false })).toMatch(/: the extended key usage must be critical$/);
    expect(tsa({ eku: [EKU.timeStamping, EKU.codeSigning], ekuCritical: true })).toMatch(
      /must have timeStamping as its only extended key usage$/,
    );
    expect(tsa({ eku: null })).toMatch(/must have timeStamping as its only extended key usage$/);
  });
});

describe('extensions', () => {
  it('an unknown critical extension is named', () => {
    const extra = [
      { oid: '1.2.3.4', critical: true, value: der.null() },
      { oid: '1.2.3.5', critical: true, value: der.null() },
      { oid: '1.2.3.6', critical: false, value: der.null() },
    ];
    expect(integrity(withLeaf({ extra }))).toMatchObject(
      untrusted(
        '"CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US" has unsupported critical extension(s) 1.2.3.4, 1.2.3.5',
      ),
    );
  });

  it('a certificate with no extensions at all parses (and is refused as a leaf: no key usage)', () => {
    const bare = makeCert({ subject: SUBJECT('Bare'), key: EC, keyUsage: null, eku: null });
    const c = X.Certificate.fromDer(bare.der);
    expect(c.extensions.size).toBe(0);
    expect(c.keyUsage).toBeUndefined();
    expect(X.chainProblem([c], 'codeSigning')).toMatch(/has no key usage extension$/);
  });

  it('the same extension twice is a malformed certificate', () => {
    const d = rawCert({ key: EC, exts: [kuExt(Buffer.from([0x80])), kuExt(Buffer.from([0x80]))] });
    expect(parseError(d)).toMatchObject({
      name: 'CertificateError',
      message: 'malformed certificate: duplicate extension 2.5.29.15',
    });
  });

  it('a key usage that is not a BIT STRING is a malformed extension', () => {
    const d = rawCert({ key: EC, exts: [ext('2.5.29.15', true, der.octets(Buffer.from([0x80])))] });
    expect(parseError(d).message).toBe(
      'certificate "CN=raw": malformed extension 2.5.29.15: keyUsage is not a BIT STRING',
    );
  });

  it('an extension value that is not DER names the extension', () => {
    const d = rawCert({
      key: EC,
      exts: [ext('2.5.29.15', true, Buffer.concat([der.bits(Buffer.from([0x80])), Buffer.from([0])]))],
    });
    expect(parseError(d).message).toBe(
      'certificate "CN=raw": malformed extension 2.5.29.15: extension 2.5.29.15: trailing bytes after the DER value',
    );
  });

  it('OCSP and CRL addresses: only OCSP URIs and full-name URIs count', () => {
    const aia = ext(
      '1.3.6.1.5.5.7.1.1',
      false,
      der.seq(
        der.seq(der.oid(CA_ISSUERS), uri('http://ca.example/issuer.cer')),
        der.seq(der.oid(OCSP), dnsName('ocsp-by-name.example')),
        der.seq(der.oid(OCSP), uri('http://ocsp.example')),
      ),
    );
    const crl = ext(
      '2.5.29.31',
      false,
      der.seq(der.seq(der.ctx(0, true, der.ctx(0, true, dnsName('crl.example'), uri('http://crl.example/ca.crl'))))),
    );
    const withBoth = X.Certificate.fromDer(rawCert({ key: EC, exts: [aia, crl] }));
    expect(withBoth.ocspUrls).toEqual(['http://ocsp.example']);
    expect(withBoth.crlUrls).toEqual(['http://crl.example/ca.crl']);
    const ocspOnly = X.Certificate.fromDer(rawCert({ key: EC, exts: [aia] }));
    expect(ocspOnly.crlUrls).toEqual([]);
    expect(ocspOnly.hasRevocationInfo).toBe(true);
    const crlOnly = X.Certificate.fromDer(rawCert({ key: EC, exts: [crl] }));
    expect(crlOnly.ocspUrls).toEqual([]);
    expect(crlOnly.hasRevocationInfo).toBe(true);
    const caIssuersOnly = X.Certificate.fromDer(
      rawCert({
        key: EC,
        exts: [ext('1.3.6.1.5.5.7.1.1', false, der.seq(der.seq(der.oid(CA_ISSUERS), uri('http://ca.example/i.cer'))))],
      }),
    );
    expect(caIssuersOnly.ocspUrls).toEqual([]);
    expect(caIssuersOnly.hasRevocationInfo).toBe(false);
  });
});

describe('certificate signature algorithms', () => {
  it.each(Object.keys(SIG) as Array<keyof typeof SIG>)('%s is accepted and verifies', (alg) => {
    const k = KEY_FOR[alg];
    const c = X.Certificate.fromDer(rawCert({ key: k, sig: SIG[alg] }));
    expect(c.weakSignatureProblem()).toBeNull();
    expect(c.isSelfSigned()).toBe(true);
  });

  it.each([
    ['sha1WithRSAEncryption', rsa('1.2.840.113549.1.1.5', 'sha1'), RSA_KEY, '1.2.840.113549.1.1.5'],
    [
      'md5WithRSAEncryption',
      { alg: hashAlg('1.2.840.113549.1.1.4'), sign: () => Buffer.alloc(256) },
      RSA_KEY,
      '1.2.840.113549.1.1.4',
    ],
    ['ecdsa-with-SHA1', ecdsa('1.2.840.10045.4.1', 'sha1'), EC, '1.2.840.10045.4.1'],
  ] as Array<[string, SigAlg, KeyPair, string]>)('%s is refused by name', (_n, sig, k, oid) => {
    const c = X.Certificate.fromDer(rawCert({ key: k, sig, subject: name(['2.5.4.3', 'weak']) }));
    expect(c.weakSignatureProblem()).toBe(
      `certificate "CN=weak" is signed with ${oid}, which is not allowed (SHA-256 or stronger required)`,
    );
    expect(X.chainProblem([c], 'codeSigning')).toBe(c.weakSignatureProblem());
  });

  it('RSASSA-PSS without parameters means SHA-1 (RFC 4055 defaults) and is refused', () => {
    const sig: SigAlg = {
      alg: der.seq(der.oid('1.2.840.113549.1.1.10')),
      sign: (d, k) => cryptoSign('sha1', d, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 }),
    };
    const c = X.Certificate.fromDer(rawCert({ key: RSA_KEY, sig, subject: name(['2.5.4.3', 'pss1']) }));
    expect(c.weakSignatureProblem()).toBe(
      'certificate "CN=pss1" is signed with RSASSA-PSS over 1.3.14.3.2.26, which is not allowed (SHA-256 or stronger required)',
    );
  });

  it('an outer signature algorithm that differs from the TBS one is a malformed certificate', () => {
    const d = rawCert({ key: EC, sig: SIG['ecdsa-with-SHA256'], tbsAlg: SIG['ecdsa-with-SHA384'].alg });
    expect(parseError(d)).toMatchObject({
      name: 'CertificateError',
      message:
        'malformed certificate: signature algorithm 1.2.840.10045.4.3.2 differs from the TBS algorithm 1.2.840.10045.4.3.3',
    });
  });
});

describe('parsing', () => {
  it('subject names print as notation prints them, every short name known', () => {
    const subject = name(
      ['2.5.4.6', 'US'],
      ['2.5.4.8', 'WA'],
      ['2.5.4.7', 'Seattle'],
      ['2.5.4.9', '1 Main St'],
      ['2.5.4.17', '98101'],
      ['2.5.4.10', 'Org'],
      ['2.5.4.11', 'Unit'],
      ['2.5.4.5', '42'],
      ['2.5.4.3', 'Signer'],
      ['1.2.3.4', 'other'],
    );
    expect(X.Certificate.fromDer(rawCert({ key: EC, subject })).subject).toBe(
      '1.2.3.4=other,CN=Signer,SERIALNUMBER=42,OU=Unit,O=Org,POSTALCODE=98101,STREET=1 Main St,L=Seattle,ST=WA,C=US',
    );
  });

  it('bytes that are not a certificate are a CertificateError naming what was parsed', () => {
    const e = parseError(Buffer.concat([good.leaf.der, Buffer.from([0])]));
    expect(e).toBeInstanceOf(X.CertificateError);
    expect(e.name).toBe('CertificateError');
    expect(e.message).toBe('malformed certificate: certificate: trailing bytes after the DER value');
  });

  it('a certificate is parsed once, and each extension once (a warm Lambda sees the same chains)', () => {
    const d = rawCert({ key: EC, exts: [ext('2.5.29.37', false, der.seq(der.oid(EKU.codeSigning)))] });
    const c = X.Certificate.fromDer(d);
    expect(X.Certificate.fromDer(Buffer.from(d))).toBe(c);
    expect(c.extKeyUsage).toBe(c.extKeyUsage);
  });

  it('the parsed-certificate cache keeps at most 512 certificates, the oldest going first', () => {
    const first = rawCert({ key: EC, subject: name(['2.5.4.3', 'first of many']) });
    const kept = X.Certificate.fromDer(first);
    for (let i = 0; i < 512; i++) X.Certificate.fromDer(rawCert({ key: EC, subject: name(['2.5.4.3', `many ${i}`]) }));
    const again = X.Certificate.fromDer(first);
    expect(again).not.toBe(kept);
    expect(again.der).toEqual(kept.der);
  });

  it('PEM: several blocks with any line breaks; PEM without a certificate is refused', () => {
    const body = (d: Buffer) => d.toString('base64').replace(/(.{10})/g, '$1 \r\n\t');
    const text = `junk\n-----BEGIN CERTIFICATE-----\n${body(good.leaf.der)}\n-----END CERTIFICATE-----\n${pem(good.root.der)}`;
    const parsed = X.parseCertificates(Buffer.from(text));
    expect(parsed.map((c) => c.der)).toEqual([good.leaf.der, good.root.der]);
    expect(() =>
      X.parseCertificates(Buffer.from('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')),
    ).toThrow(new X.CertificateError('no CERTIFICATE block in PEM'));
    expect(X.parseCertificates(good.root.der).map((c) => c.der)).toEqual([good.root.der]);
  });
});
