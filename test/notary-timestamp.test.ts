/**
 * RFC 3161 timestamp tokens checked one rule at a time, straight through verifyTimestamp:
 * each token here is valid except for the one thing its test breaks, and each test names
 * the error the rule gives, so a rule that stopped working (or a later rule refusing the
 * same token for another reason) shows. The builder is a knob-per-field copy of
 * test/support/pki-tsa.ts, which has no knob for most of the structure broken here.
 */
import { type KeyObject, constants, createHash, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type * as TimestampModule from '../src/verify/notary/timestamp.js';
import { Certificate } from '../src/verify/notary/x509.js';
import { EKU, KU, SUBJECT, der, key, makeCert, type IssuedCert } from './support/notation-signer.js';
import { makeTsa, type Tsa } from './support/pki-tsa.js';

// Stryker counts a mutant in timestamp.ts's module-level tables (hash and signature
// algorithm OIDs) as covered only by a test that loads the module while it runs: each test
// imports timestamp.ts afresh.
let T: typeof TimestampModule;
beforeEach(async () => {
  vi.resetModules();
  T = await import('../src/verify/notary/timestamp.js');
});

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  baselinePolicy: '0.4.0.2023.1.1',
  md5: '1.2.840.113549.2.5',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ecdsaSha1: '1.2.840.10045.4.1',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
};
type Hash = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';
const HASH_OID: Record<Hash, string> = {
  md5: OID.md5,
  sha1: OID.sha1,
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

const SIGNATURE = Buffer.from('the envelope signature bytes');
const GEN_TIME = new Date('2025-01-01T00:00:00Z');
const tsa = makeTsa({ label: 'rules' });
const TRUSTED = [Certificate.fromDer(tsa.root.der)];

/** an INTEGER re-tagged [tag] IMPLICIT */
const implicitInt = (tag: number, n: number) => Buffer.concat([Buffer.from([0x80 | tag]), der.int(n).subarray(1)]);

interface InfoSpec {
  version?: number;
  policy?: string;
  imprintHash?: Hash;
  /** imprint these bytes instead of the envelope signature */
  imprintOf?: Buffer;
  /** the whole AccuracyAsn1 SEQUENCE; null: no accuracy field */
  accuracy?: Buffer | null;
  genTime?: Date;
}

function tstInfo(o: InfoSpec = {}): Buffer {
  const hash = o.imprintHash ?? 'sha256';
  const accuracy = o.accuracy === undefined ? der.seq(der.int(1)) : o.accuracy;
  return der.seq(
    der.int(o.version ?? 1),
    der.oid(o.policy ?? '1.2.3.4.1'),
    der.seq(
      der.seq(der.oid(HASH_OID[hash]), der.null()),
      der.octets(
        createHash(hash)
          .update(o.imprintOf ?? SIGNATURE)
          .digest(),
      ),
    ),
    der.int(4242),
    der.genTime(o.genTime ?? GEN_TIME),
    ...(accuracy ? [accuracy] : []),
  );
}

/** ESSCertIDv2 { [hashAlgorithm], certHash, [issuerSerial] } inside SigningCertificateV2 { certs } */
function essV2(certId: Buffer): Buffer {
  return der.seq(der.oid(OID.signingCertificateV2), der.set(der.seq(der.seq(der.seq(certId)))));
}
const certHash = (hash: Hash, cert: IssuedCert) => der.octets(createHash(hash).update(cert.der).digest());

interface TokenSpec {
  tsa?: Tsa;
  /** the TSA signing certificate (default: tsa.leaf) */
  signer?: IssuedCert;
  info?: Buffer;
  /** bytes carried as the eContent (default: info); null: no eContent */
  eContent?: Buffer | null;
  contentType?: string;
  eContentType?: string;
  /** the signer's digest algorithm (default sha256), also used for the messageDigest attribute */
  digest?: { oid: string; hash: Hash };
  /** the signed attributes, given the valid three; null: no signed attributes */
  attrs?: ((valid: { contentType: Buffer; messageDigest: Buffer; ess: Buffer }) => Buffer[]) | null;
  /** the SignerIdentifier (default IssuerAndSerialNumber of the signer) */
  sid?: Buffer;
  /** certificates carried (default: the signer); null: no certificates field */
  certificates?: Buffer[] | null;
  /** signatureAlgorithm and how the signed attributes are signed (default ecdsa-with-SHA256) */
  sigAlg?: string;
  sign?: (data: Buffer, k: KeyObject) => Buffer;
  signerInfos?: 'one' | 'none' | 'two';
}

function token(o: TokenSpec = {}): Buffer {
  const t = o.tsa ?? tsa;
  const signer = o.signer ?? t.leaf;
  const info = o.info ?? tstInfo();
  const digest = o.digest ?? { oid: OID.sha256, hash: 'sha256' as Hash };
  const valid = {
    contentType: der.seq(der.oid(OID.contentType), der.set(der.oid(OID.tstInfo))),
    messageDigest: der.seq(
      der.oid(OID.messageDigest),
      der.set(der.octets(createHash(digest.hash).update(info).digest())),
    ),
    ess: essV2(certHash('sha256', signer)),
  };
  const attrs = o.attrs === null ? null : (o.attrs ?? ((v) => [v.contentType, v.messageDigest, v.ess]))(valid);
  const signedAttrs = attrs && der.set(...attrs);
  const sign = o.sign ?? ((data, k) => cryptoSign('sha256', data, k));
  const signature = sign(signedAttrs ?? info, signer.key.privateKey);
  const signerInfo = der.seq(
    der.int(1),
    o.sid ?? der.seq(signer.spec.issuer?.name ?? signer.name, der.int(serialOf(signer))),
    der.seq(der.oid(digest.oid), der.null()),
    ...(signedAttrs ? [Buffer.concat([Buffer.from([0xa0]), signedAttrs.subarray(1)])] : []), // [0] IMPLICIT SET
    der.seq(der.oid(o.sigAlg ?? OID.ecdsaSha256)),
    der.octets(signature),
  );
  const infos = { one: [signerInfo], none: [], two: [signerInfo, signerInfo] }[o.signerInfos ?? 'one'];
  const eContent = o.eContent === undefined ? info : o.eContent;
  const certificates = o.certificates === undefined ? [signer.der] : o.certificates;
  const signedData = der.seq(
    der.int(3),
    der.set(der.seq(der.oid(digest.oid), der.null())),
    der.seq(der.oid(o.eContentType ?? OID.tstInfo), ...(eContent ? [der.ctx(0, true, der.octets(eContent))] : [])),
    ...(certificates ? [der.ctx(0, true, ...certificates)] : []),
    der.set(...infos),
  );
  return der.seq(der.oid(o.contentType ?? OID.signedData), der.ctx(0, true, signedData));
}

/** The serial a test certificate was issued with, read back through the verifier's own parser. */
function serialOf(cert: IssuedCert): bigint {
  return BigInt(`0x${Certificate.fromDer(cert.der).serial.toString('hex')}`);
}

function check(t: Buffer, trusted: Certificate[] = TRUSTED) {
  return T.verifyTimestamp(t, SIGNATURE, trusted);
}

/** The TimestampError `t` fails with (anything else thrown fails the test). */
function refusal(t: Buffer, trusted: Certificate[] = TRUSTED): string {
  try {
    check(t, trusted);
  } catch (e) {
    expect(e).toBeInstanceOf(T.TimestampError);
    expect((e as Error).name).toBe('TimestampError');
    return (e as Error).message;
  }
  throw new Error('the timestamp was admitted');
}

it('the baseline token verifies (so each refusal below is the rule it breaks)', () => {
  const v = check(token());
  expect(v.genTime).toEqual(GEN_TIME);
  expect(v.tsaChain.map((c) => c.der)).toEqual([tsa.leaf.der, tsa.root.der]);
});

describe('the token structure', () => {
  it('bytes that are not DER are a malformed token, named as the timestamp token', () => {
    expect(refusal(Buffer.concat([token(), Buffer.from([0])]))).toMatch(
      /^malformed timestamp token: timestamp token: trailing bytes/,
    );
  });

  it('a ContentInfo that is not SignedData', () => {
    expect(refusal(token({ contentType: OID.data }))).toBe('the timestamp token is not CMS SignedData');
  });

  it('SignedData over something other than a TSTInfo', () => {
    expect(refusal(token({ eContentType: OID.data }))).toBe('the timestamp token does not hold a TSTInfo');
  });

  it('SignedData with the TSTInfo left out (detached content)', () => {
    expect(refusal(token({ eContent: null }))).toBe('the timestamp token has no TSTInfo content');
  });

  it.each([
    ['no signer', 'none', 0],
    ['two signers', 'two', 2],
  ] as const)('%s', (_name, signerInfos, n) => {
    expect(refusal(token({ signerInfos }))).toBe(`the timestamp token must have exactly one signer, has ${n}`);
  });

  it('a signer without signed attributes (the signature would cover the TSTInfo alone)', () => {
    expect(refusal(token({ attrs: null }))).toBe('the timestamp signer has no signed attributes');
  });

  it('a signer named by subject key identifier instead of issuer and serial', () => {
    expect(refusal(token({ sid: der.tlv(0x80, Buffer.alloc(20, 7)) }))).toBe(
      'the timestamp signer is not named by issuer and serial number',
    );
  });

  it('a token that does not carry the TSA certificate, or no certificates at all', () => {
    const missing = 'the timestamp token does not carry its signing certificate';
    expect(refusal(token({ certificates: [tsa.root.der] }))).toBe(missing);
    expect(refusal(token({ certificates: null }))).toBe(missing);
  });

  it('a certificate set holding anything but X.509 certificates is malformed, as in notation (Go x509.ParseCertificates)', () => {
    const otherFormat = der.ctx(3, true, der.oid('1.2.3.4'), der.null()); // OtherCertificateFormat
    expect(refusal(token({ certificates: [tsa.leaf.der, otherFormat] }))).toMatch(
      /^malformed timestamp token: malformed certificate: /,
    );
  });

  it('the signing certificate is found by issuer AND serial among others with the same issuer or serial', () => {
    // a sibling TSA certificate from the same root comes first: same issuer, another serial
    const sibling = makeCert({
      subject: SUBJECT('Test TSA sibling'),
      key: key('p256', 'tsa-sibling'),
      issuer: tsa.root,
      keyUsage: [KU.digitalSignature],
      eku: [EKU.timeStamping],
      ekuCritical: true,
    });
    expect(check(token({ certificates: [sibling.der, tsa.root.der, tsa.leaf.der] })).tsaChain[0]!.der).toEqual(
      tsa.leaf.der,
    );
    // a certificate of another issuer with the TSA certificate's serial comes first
    const sameSerial = makeTsa({ label: 'same-serial', leaf: { serial: Number(serialOf(tsa.leaf)) } });
    expect(check(token({ certificates: [sameSerial.leaf.der, tsa.leaf.der] })).tsaChain[0]!.der).toEqual(tsa.leaf.der);
  });

  it('a signed attribute that appears twice', () => {
    expect(refusal(token({ attrs: (v) => [v.contentType, v.contentType, v.messageDigest, v.ess] }))).toBe(
      `signed attribute ${OID.contentType} appears twice`,
    );
  });

  it('a TSTInfo that is not DER is a malformed token, named as the TSTInfo', () => {
    const info = Buffer.concat([tstInfo(), Buffer.from([0])]);
    expect(refusal(token({ info }))).toMatch(/^malformed timestamp token: TSTInfo: trailing bytes/);
  });

  it('a TSTInfo of version 2', () => {
    expect(refusal(token({ info: tstInfo({ version: 2 }) }))).toBe('unsupported TSTInfo version');
  });
});

describe('signed attributes: content type and message digest', () => {
  it('no content-type attribute', () => {
    expect(refusal(token({ attrs: (v) => [v.messageDigest, v.ess] }))).toBe('the signed content type is not TSTInfo');
  });

  it('a content-type attribute naming id-data instead of TSTInfo', () => {
    const contentType = der.seq(der.oid(OID.contentType), der.set(der.oid(OID.data)));
    expect(refusal(token({ attrs: (v) => [contentType, v.messageDigest, v.ess] }))).toBe(
      'the signed content type is not TSTInfo',
    );
  });

  it('a content-type attribute with two values', () => {
    const contentType = der.seq(der.oid(OID.contentType), der.set(der.oid(OID.tstInfo), der.oid(OID.tstInfo)));
    expect(refusal(token({ attrs: (v) => [contentType, v.messageDigest, v.ess] }))).toBe(
      'the signed content type is not TSTInfo',
    );
  });

  it('a content-type attribute whose value is not an OID', () => {
    const contentType = der.seq(der.oid(OID.contentType), der.set(der.int(4)));
    expect(refusal(token({ attrs: (v) => [contentType, v.messageDigest, v.ess] }))).toBe(
      'malformed timestamp token: content-type attribute: expected an OBJECT IDENTIFIER',
    );
  });

  it('a message-digest attribute whose value is not an OCTET STRING', () => {
    const messageDigest = der.seq(der.oid(OID.messageDigest), der.set(der.int(4)));
    expect(refusal(token({ attrs: (v) => [v.contentType, messageDigest, v.ess] }))).toBe(
      'malformed timestamp token: message-digest attribute: expected an OCTET STRING',
    );
  });

  it('the signer digest may be SHA-384 or SHA-512 (the message digest follows it)', () => {
    for (const hash of ['sha384', 'sha512'] as const)
      expect(check(token({ digest: { oid: HASH_OID[hash], hash } })).genTime).toEqual(GEN_TIME);
  });

  it('a signer digest of SHA-1 or MD5 is refused, even when the message digest matches', () => {
    expect(refusal(token({ digest: { oid: OID.sha1, hash: 'sha1' } }))).toBe(
      `unsupported digest algorithm ${OID.sha1}`,
    );
    expect(refusal(token({ digest: { oid: OID.md5, hash: 'sha256' } }))).toBe(
      `unsupported digest algorithm ${OID.md5}`,
    );
  });
});

describe('ESS signing-certificate-v2', () => {
  const withEss = (ess: Buffer) => token({ attrs: (v) => [v.contentType, v.messageDigest, ess] });

  it('an explicit hash algorithm: SHA-256, SHA-384 and SHA-512 are admitted', () => {
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      const ess = essV2(Buffer.concat([der.seq(der.oid(HASH_OID[hash])), certHash(hash, tsa.leaf)]));
      expect(check(withEss(ess)).genTime).toEqual(GEN_TIME);
    }
  });

  it('an explicit SHA-1 or unknown hash algorithm is refused, even when the hash is right', () => {
    for (const [oid, hash] of [
      [OID.sha1, 'sha1'],
      [OID.md5, 'sha256'],
    ] as const) {
      const ess = essV2(Buffer.concat([der.seq(der.oid(oid)), certHash(hash, tsa.leaf)]));
      expect(refusal(withEss(ess))).toBe(`unsupported signing-certificate-v2 hash ${oid}`);
    }
  });

  it('a hash algorithm identifier that does not start with an OID', () => {
    const ess = essV2(Buffer.concat([der.seq(der.int(1)), certHash('sha256', tsa.leaf)]));
    expect(refusal(withEss(ess))).toBe(
      'malformed timestamp token: ESSCertIDv2 hashAlgorithm: expected an OBJECT IDENTIFIER',
    );
  });

  const v2 = (value: Buffer) => der.seq(der.oid(OID.signingCertificateV2), der.set(value));
  it.each([
    ['the attribute value', v2(der.int(1)), 'SigningCertificateV2'],
    ['the certs list', v2(der.seq(der.int(1))), 'SigningCertificateV2 certs'],
    ['the first ESSCertIDv2', v2(der.seq(der.seq(der.int(1)))), 'ESSCertIDv2'],
  ])('%s not a SEQUENCE', (_name, ess, what) => {
    expect(refusal(withEss(ess))).toBe(`malformed timestamp token: ${what}: expected a SEQUENCE`);
  });

  it('a certHash that is not an OCTET STRING', () => {
    expect(refusal(withEss(essV2(der.int(1))))).toBe(
      'malformed timestamp token: ESSCertIDv2 certHash: expected an OCTET STRING',
    );
  });

  it('an issuerSerial that is not a SEQUENCE, or whose serial is not an INTEGER', () => {
    const hash = certHash('sha256', tsa.leaf);
    expect(refusal(withEss(essV2(Buffer.concat([hash, der.int(1)]))))).toBe(
      'malformed timestamp token: ESSCertIDv2 issuerSerial: expected a SEQUENCE',
    );
    const issuerSerial = der.seq(der.seq(der.ctx(4, true, tsa.root.name)), der.octets(Buffer.from([1])));
    expect(refusal(withEss(essV2(Buffer.concat([hash, issuerSerial]))))).toBe(
      'malformed timestamp token: ESSCertIDv2 serialNumber: expected an INTEGER',
    );
  });
});

describe('the message imprint', () => {
  it('an imprint by SHA-256, SHA-384 or SHA-512 of the signature is admitted', () => {
    for (const imprintHash of ['sha256', 'sha384', 'sha512'] as const)
      expect(check(token({ info: tstInfo({ imprintHash }) })).genTime).toEqual(GEN_TIME);
  });

  it('an imprint by SHA-1 or MD5 is refused, even when it is the right hash', () => {
    for (const imprintHash of ['sha1', 'md5'] as const)
      expect(refusal(token({ info: tstInfo({ imprintHash }) }))).toBe(
        `unsupported message imprint hash ${HASH_OID[imprintHash]}`,
      );
  });

  it('an imprint of another signature', () => {
    expect(refusal(token({ info: tstInfo({ imprintOf: Buffer.from('another signature') }) }))).toBe(
      'the timestamp is for a different signature (message imprint mismatch)',
    );
  });
});

describe('the signature over the signed attributes', () => {
  const rsaTsa = makeTsa({ label: 'rsa', leaf: { key: key('rsa2048', 'tsa-rsa') } });
  const rsaTrusted = [Certificate.fromDer(rsaTsa.root.der)];
  const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

  it('a signature made over other bytes does not verify', () => {
    const t = token({ sign: (data, k) => cryptoSign('sha256', Buffer.concat([data, Buffer.from([0])]), k) });
    expect(refusal(t)).toBe('the timestamp token signature does not verify');
  });

  it.each([
    [OID.ecdsaSha256, 'sha256'],
    [OID.ecdsaSha384, 'sha384'],
    [OID.ecdsaSha512, 'sha512'],
  ] as const)('ECDSA %s verifies with its own hash, whatever the signer digest (%s)', (sigAlg, hash) => {
    expect(check(token({ sigAlg, sign: (d, k) => cryptoSign(hash, d, k) })).genTime).toEqual(GEN_TIME);
    if (hash !== 'sha256')
      expect(refusal(token({ sigAlg, sign: (d, k) => cryptoSign('sha256', d, k) }))).toBe(
        'the timestamp token signature does not verify',
      );
  });

  it.each([
    [OID.sha256WithRsa, 'sha256'],
    [OID.sha384WithRsa, 'sha384'],
    [OID.sha512WithRsa, 'sha512'],
  ] as const)('RSA PKCS #1 v1.5 %s verifies with its own hash (%s)', (sigAlg, hash) => {
    const t = token({ tsa: rsaTsa, sigAlg, sign: (d, k) => cryptoSign(hash, d, k) });
    expect(check(t, rsaTrusted).genTime).toEqual(GEN_TIME);
    const pssSigned = token({ tsa: rsaTsa, sigAlg, sign: (d, k) => cryptoSign(hash, d, { key: k, ...pss }) });
    expect(refusal(pssSigned, rsaTrusted)).toBe('the timestamp token signature does not verify');
  });

  it('rsaEncryption and RSASSA-PSS take their hash from the signer digest', () => {
    const digest = { oid: OID.sha384, hash: 'sha384' as Hash };
    const pkcs1 = (h: Hash) =>
      token({ tsa: rsaTsa, digest, sigAlg: OID.rsaEncryption, sign: (d, k) => cryptoSign(h, d, k) });
    expect(check(pkcs1('sha384'), rsaTrusted).genTime).toEqual(GEN_TIME);
    expect(refusal(pkcs1('sha256'), rsaTrusted)).toBe('the timestamp token signature does not verify');
    const withPss = (h: Hash) =>
      token({ tsa: rsaTsa, digest, sigAlg: OID.rsaPss, sign: (d, k) => cryptoSign(h, d, { key: k, ...pss }) });
    expect(check(withPss('sha384'), rsaTrusted).genTime).toEqual(GEN_TIME);
    expect(refusal(withPss('sha256'), rsaTrusted)).toBe('the timestamp token signature does not verify');
    // a PKCS #1 v1.5 signature labelled RSASSA-PSS
    const mislabelled = token({ tsa: rsaTsa, digest, sigAlg: OID.rsaPss, sign: (d, k) => cryptoSign('sha384', d, k) });
    expect(refusal(mislabelled, rsaTrusted)).toBe('the timestamp token signature does not verify');
  });

  it('an unsupported signature algorithm (ecdsa-with-SHA1) does not verify', () => {
    expect(refusal(token({ sigAlg: OID.ecdsaSha1, sign: (d, k) => cryptoSign('sha1', d, k) }))).toBe(
      'the timestamp token signature does not verify',
    );
  });

  it('an algorithm that does not fit the key does not verify, as in notation (Go CheckSignature)', () => {
    // a valid RSA PKCS #1 v1.5 signature labelled ecdsa-with-SHA256
    const rsaAsEc = token({ tsa: rsaTsa, sigAlg: OID.ecdsaSha256, sign: (d, k) => cryptoSign('sha256', d, k) });
    expect(refusal(rsaAsEc, rsaTrusted)).toBe('the timestamp token signature does not verify');
    // a valid ECDSA signature labelled sha256WithRSAEncryption
    expect(refusal(token({ sigAlg: OID.sha256WithRsa }))).toBe('the timestamp token signature does not verify');
    // a PSS signature by an RSASSA-PSS-only key, labelled ecdsa-with-SHA256 or sha256WithRSAEncryption
    const pssKey = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
    const pssTsa = makeTsa({ label: 'rsa-pss', leaf: { key: pssKey } });
    for (const sigAlg of [OID.ecdsaSha256, OID.sha256WithRsa, OID.rsaPss]) {
      const t = token({ tsa: pssTsa, sigAlg, sign: (d, k) => cryptoSign('sha256', d, k) });
      expect(refusal(t, [Certificate.fromDer(pssTsa.root.der)])).toBe('the timestamp token signature does not verify');
    }
  });
});

describe('the time range', () => {
  const range = (accuracy: Buffer | null, policy?: string) => {
    const v = check(token({ info: tstInfo({ accuracy, policy }) }));
    return [GEN_TIME.getTime() - v.lower.getTime(), v.upper.getTime() - GEN_TIME.getTime()];
  };

  it('accuracy seconds, millis and micros all widen it ([genTime - accuracy, genTime + accuracy])', () => {
    // 2 s + 300 ms + 500 µs = 2300.5 ms; Date keeps whole milliseconds (truncated toward zero)
    expect(range(der.seq(der.int(2), implicitInt(0, 300), implicitInt(1, 500)))).toEqual([2301, 2300]);
    expect(range(der.seq(der.int(3)))).toEqual([3000, 3000]);
    expect(range(der.seq(implicitInt(0, 250)))).toEqual([250, 250]);
  });

  it('no accuracy: ±1 s under the baseline time-stamp policy, exact under any other', () => {
    expect(range(null, OID.baselinePolicy)).toEqual([1000, 1000]);
    expect(range(null)).toEqual([0, 0]);
  });
});

describe('the TSA chain', () => {
  const tsaLeaf = (issuer: IssuedCert, label: string, spec: Partial<Parameters<typeof makeCert>[0]> = {}) =>
    makeCert({
      subject: SUBJECT(`Test TSA ${label}`),
      key: key('p256', `tsa-${label}`),
      issuer,
      keyUsage: [KU.digitalSignature],
      eku: [EKU.timeStamping],
      ekuCritical: true,
      ...spec,
    });

  /** root → n intermediates → TSA certificate; the token carries the TSA certificate and the intermediates */
  function deepChain(n: number) {
    const root = makeCert({ subject: SUBJECT(`Deep Root ${n}`), key: key('p256', `deep-root-${n}`), ca: true });
    let issuer = root;
    const intermediates: IssuedCert[] = [];
    for (let i = 1; i <= n; i++) {
      issuer = makeCert({
        subject: SUBJECT(`Deep CA ${n}.${i}`),
        key: key('p256', `deep-${n}-${i}`),
        issuer,
        ca: true,
      });
      intermediates.unshift(issuer);
    }
    const leaf = tsaLeaf(issuer, `deep-${n}`);
    const t = token({ signer: leaf, certificates: [leaf.der, ...intermediates.map((c) => c.der)] });
    return { t, trusted: [Certificate.fromDer(root.der)] };
  }

  it('the walk from the TSA certificate follows up to 7 intermediates, and gives up past that', () => {
    const seven = deepChain(7);
    expect(check(seven.t, seven.trusted).tsaChain).toHaveLength(9);
    const eight = deepChain(8);
    expect(refusal(eight.t, eight.trusted)).toContain('does not chain to a trusted TSA certificate');
  });

  it('the issuer is picked from the token certificates, skipping ones that did not issue it', () => {
    const root = makeCert({ subject: SUBJECT('Pick Root'), key: key('p256', 'pick-root'), ca: true });
    const ca = makeCert({ subject: SUBJECT('Pick CA'), key: key('p256', 'pick-ca'), issuer: root, ca: true });
    const leaf = tsaLeaf(ca, 'pick');
    const unrelated = makeTsa({ label: 'unrelated' }).root;
    const t = token({ signer: leaf, certificates: [leaf.der, unrelated.der, ca.der] });
    expect(check(t, [Certificate.fromDer(root.der)]).tsaChain.map((c) => c.der)).toEqual([leaf.der, ca.der, root.der]);
  });

  it('a TSA certificate whose issuer is neither trusted nor in the token', () => {
    const other = makeTsa({ label: 'untrusted' });
    expect(refusal(token({ tsa: other }))).toMatch(
      /^the timestamp authority "CN=Test TSA untrusted[^"]*" does not chain to a trusted TSA certificate$/,
    );
  });

  it('an untrusted self-signed root ends the walk: a cross-certificate of it is not followed from there', () => {
    const trustedRoot = makeCert({ subject: SUBJECT('Cross Trusted Root'), key: key('p256', 'cross-t'), ca: true });
    const ownRoot = makeCert({ subject: SUBJECT('Cross Own Root'), key: key('p256', 'cross-own'), ca: true });
    // the same name and key as ownRoot, issued by the trusted root
    const cross = makeCert({ ...ownRoot.spec, issuer: trustedRoot });
    const leaf = tsaLeaf(ownRoot, 'cross');
    const trusted = [Certificate.fromDer(trustedRoot.der)];
    expect(refusal(token({ signer: leaf, certificates: [leaf.der, ownRoot.der, cross.der] }), trusted)).toMatch(
      /^the timestamp authority "CN=Test TSA cross[^"]*" does not chain to a trusted TSA certificate$/,
    );
    // the cross-certificate as the TSA certificate's issuer is a path to the trusted root
    const viaCross = check(token({ signer: leaf, certificates: [leaf.der, cross.der, ownRoot.der] }), trusted);
    expect(viaCross.tsaChain.map((c) => c.der)).toEqual([leaf.der, cross.der, trustedRoot.der]);
  });

  it('a self-signed TSA certificate in the trust store is the whole chain', () => {
    const self = makeCert({
      subject: SUBJECT('Self-signed TSA'),
      key: key('p256', 'self-tsa'),
      keyUsage: [KU.digitalSignature],
      eku: [EKU.timeStamping],
      ekuCritical: true,
    });
    const trusted = [Certificate.fromDer(tsa.root.der), Certificate.fromDer(self.der)];
    expect(check(token({ signer: self }), trusted).tsaChain.map((c) => c.der)).toEqual([self.der]);
  });

  it('a TSA certificate not valid at genTime', () => {
    const late = makeTsa({ label: 'late', leaf: { notBefore: new Date('2025-06-01T00:00:00Z') } });
    expect(refusal(token({ tsa: late }), [Certificate.fromDer(late.root.der)])).toMatch(
      /^timestamp authority chain: certificate "[^"]*" is not valid before 2025-06-01/,
    );
  });
});
