/**
 * Hostile input for the Notation parsers: DER that BER would accept (non-minimal,
 * indefinite, constructed strings, bad times), truncated and over-long structures,
 * wrong tags; and property tests (fast-check) on the DER layer, certificates and both
 * envelope formats: nothing escapes as an exception other than the parser's own error,
 * and garbage never verifies.
 */
import fc from 'fast-check';
import { Encoder, Tag } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import {
  childrenOf,
  contextTag,
  DerError,
  expectSequence,
  integerBytes,
  isSequence,
  octetsOf,
  oidOf,
  parseDer,
} from '../src/verify/notary/asn1.js';
import { checkIntegrity } from '../src/verify/notary/checks.js';
import { TimestampError, verifyTimestamp } from '../src/verify/notary/timestamp.js';
import { Certificate, CertificateError } from '../src/verify/notary/x509.js';
import { makeTsa, timestampToken } from './support/pki-tsa.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context, makeTrustStore, policy } from './support/notation-context.js';
import { der, digestOf, key, makeChain, pem, signCose, signJws } from './support/notation-signer.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const IMAGE = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}');
const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(IMAGE),
  size: IMAGE.length,
};
const c = makeChain(key('p256', 'der-leaf'), { label: 'der' });
const LEAF = c.leaf.der;
const REASONS = /^(SIGNATURE_INVALID|UNTRUSTED_SIGNER|DIGEST_MISMATCH|EXPIRED|SIGNATURE_MISSING)$/;

const ascii = (s: string) => Buffer.from(s).toString('hex');
/** A primitive value with the given tag octet (hex) and a short-form length. */
const tlv = (tag: string, contentsHex: string) =>
  `${tag} ${(contentsHex.replace(/\s/g, '').length / 2).toString(16).padStart(2, '0')} ${contentsHex}`;
const utc = (s: string) => tlv('17', ascii(s));
const gen = (s: string) => tlv('18', ascii(s));

describe('parseDer refuses what DER forbids', () => {
  // Each case names the check that refuses it: parseDer ends with a re-encoding comparison that
  // refuses most non-DER input again, so asserting only "throws" would not prove the check itself.
  it.each([
    ['non-minimal short length in long form', '04 81 03 010203', /: non-minimal length$/],
    ['long-form length with a leading zero octet', '04 82 0003 010203', /: non-minimal length$/],
    ['long form for a length that fits in one octet less', `04 82 00ff ${'00'.repeat(255)}`, /: non-minimal length$/],
    ['long form for an INTEGER of one octet (asn1js re-encodes it unchanged)', '02 81 01 05', /: non-minimal length$/],
    ['indefinite length', '30 80 0500 0000', /: indefinite length is not DER$/],
    ['over-long length (runs past the input)', '04 84 7fffffff 00', /: not DER \(Maximum ASN\.1 content length/],
    ['truncated value', '30 05 0500', /: not DER \(End of input reached/],
    ['truncated header', '30', /: not DER \(Zero buffer length\)/],
    ['trailing bytes', '0500 00', /: trailing bytes after the DER value$/],
    ['non-minimal positive INTEGER', '02 02 007f', /: non-minimal INTEGER$/],
    ['non-minimal negative INTEGER', '02 02 ff80', /: non-minimal INTEGER$/],
    ['non-minimal ENUMERATED', '0a 02 0001', /: non-minimal INTEGER$/],
    ['empty INTEGER', '02 00', /: empty INTEGER$/],
    ['empty ENUMERATED', '0a 00', /: empty INTEGER$/],
    ['BOOLEAN other than 00/FF', '01 01 01', /: BOOLEAN is not 0x00 or 0xFF$/],
    ['BOOLEAN of two octets', '01 02 ffff', /: BOOLEAN is not 0x00 or 0xFF$/],
    ['empty BOOLEAN', '01 00', /: BOOLEAN is not 0x00 or 0xFF$/],
    ['NULL with contents', '05 01 00', /: NULL with contents$/],
    ['constructed OCTET STRING', '24 06 0401aa 0401bb', /: constructed form of universal tag 4 is not DER$/],
    ['constructed BIT STRING', '23 04 03020000', /: constructed form of universal tag 3 is not DER$/],
    ['constructed INTEGER (asn1js refuses it)', '22 03 020100', /: not DER \(Constructed encoding used for primitive/],
    ['end-of-contents at the top', '00 00', /: end-of-contents outside an indefinite length$/],
    ['end-of-contents inside a definite-length SEQUENCE', '30 02 0000', /: end-of-contents outside an indefinite/],
    ['OID arc with a leading 0x80', '06 03 2a 80 01', /: OBJECT IDENTIFIER arc with a non-minimal encoding$/],
    ['OID whose first arc starts with 0x80', '06 02 80 01', /: OBJECT IDENTIFIER arc with a non-minimal encoding$/],
    ['OID ending inside an arc (asn1js refuses it)', '06 02 2a 86', /: not DER \(End of input reached/],
    ['empty OID', '06 00', /: empty OBJECT IDENTIFIER$/],
    ['BIT STRING with more than 7 unused bits (asn1js refuses it)', '03 02 08 00', /: not DER \(Unused bits/],
    ['BIT STRING with non-zero padding bits', '03 02 01 01', /: malformed BIT STRING padding$/],
    ['BIT STRING with only the high padding bit set', '03 02 07 c0', /: malformed BIT STRING padding$/],
    ['BIT STRING without its initial octet', '03 00', /: malformed BIT STRING padding$/],
    ['BIT STRING without bits that counts unused bits', '03 01 01', /: malformed BIT STRING padding$/],
    ['UTCTime with month 13', utc('251301000000Z'), /: time out of range: "251301000000Z"$/],
    ['UTCTime with month 0', utc('250001000000Z'), /: time out of range/],
    ['UTCTime with day 0', utc('250100000000Z'), /: time out of range/],
    ['UTCTime on 30 February', utc('250230000000Z'), /: time out of range/],
    ['UTCTime on 29 February 1950 (not a leap year)', utc('500229000000Z'), /: time out of range/],
    ['UTCTime with minute 60', utc('250101006000Z'), /: time out of range/],
    ['UTCTime with second 60', utc('250101000060Z'), /: time out of range/],
    [
      'UTCTime with an offset instead of Z',
      utc('250101000000+0100'),
      /: not DER \(Wrong input string for conversion\)/,
    ],
    [
      'UTCTime with an offset, inside a SEQUENCE',
      tlv('30', utc('250101000000+0100')),
      /: not DER \(Wrong input string for conversion\)/,
    ],
    ['UTCTime without seconds', utc('2501010000Z'), /: not DER \(Wrong input string/],
    ['UTCTime with a character before it', utc('x250101000000Z'), /: not a DER time: "x250101000000Z"$/],
    ['UTCTime with a character after the Z', utc('250101000000Zx'), /: not a DER time/],
    ['GeneralizedTime with a trailing zero in the fraction', gen('20250101000000.10Z'), /: not a DER time/],
    ['GeneralizedTime with a zero fraction', gen('20250101000000.0Z'), /: not a DER time/],
    ['GeneralizedTime with an empty fraction', gen('20250101000000.Z'), /: not a DER time/],
    ['GeneralizedTime without minutes and seconds', gen('2025010100.20250101000000Z'), /: not a DER time/],
    ['GeneralizedTime with a letter before it', gen('x20250101000000Z'), /: not DER \(Wrong input string/],
    [
      'GeneralizedTime with a character after the Z (asn1js refuses it first)',
      gen('20250101000000Zx'),
      /: not DER \(Wrong input string/,
    ],
    ['GeneralizedTime hour 24', gen('20250101240000Z'), /: time out of range/],
    ['GeneralizedTime on 29 February 2100 (not a leap year)', gen('21000229000000Z'), /: time out of range/],
    ['multi-byte tag number (asn1js refuses universal 37+)', '1f 81 00 00', /: not DER \(UNIVERSAL 37/],
    ['multi-byte tag number 31', '9f 1f 00', /: multi-byte tags are not used here$/],
    ['tag number 30 written in two octets', '9f 1e 00', /: multi-byte tags are not used here$/],
    ['RELATIVE-OID arc with a leading 0x80 (only the re-encoding sees it)', '0d 02 80 01', /: re-encoding differs/],
  ])('%s', (_name, bytes, message) => {
    expect(() => parseDer(hex(bytes), 'test')).toThrow(message);
    expect(() => parseDer(hex(bytes), 'test')).toThrow(DerError);
  });

  it('names what it was reading in the error, as a DerError', () => {
    const e = (() => {
      try {
        parseDer(hex('02 00'), 'serial number');
      } catch (err) {
        return err as Error;
      }
    })();
    expect(e).toBeInstanceOf(DerError);
    expect(e?.name).toBe('DerError');
    expect(e?.message).toBe('serial number: empty INTEGER');
  });

  it('accepts the DER forms of the same values', () => {
    for (const ok of [
      '04 03 010203',
      '02 01 7f',
      '02 01 00',
      '02 01 ff',
      '02 02 0080',
      '02 02 ff7f',
      '02 01 80',
      '0a 01 05',
      '01 01 ff',
      '01 01 00',
      '05 00',
      '06 03 2a 86 48',
      '06 04 2a 81 80 00', // arc 16384: 0x80 inside an arc is fine
      '03 02 07 80',
      '03 02 00 ff',
      '03 01 00',
      '9e 00', // tag number 30 in one octet
      '81 05 6140622e63', // rfc822Name [1] IMPLICIT IA5String: context tags are not read as BOOLEAN
      utc('250228000000Z'),
      utc('000229000000Z'), // 2000 is a leap year
      utc('480229000000Z'),
      utc('520229000000Z'),
      utc('491231235959Z'),
      gen('20240229000000Z'),
      gen('20250101000000.1Z'),
      gen('20250101000000.5Z'),
      gen('20250101000000.05Z'),
      gen('20250101000000.123456Z'),
      gen('20251231235959Z'),
    ]) {
      expect(() => parseDer(hex(ok), 'test'), ok).not.toThrow();
    }
    const long = der.octets(Buffer.alloc(200));
    expect(parseDer(long, 'test')).toBeDefined();
    expect(() => parseDer(hex(`04 81 80 ${'00'.repeat(128)}`), 'test')).not.toThrow();
    expect(() => parseDer(hex(`04 82 0100 ${'00'.repeat(256)}`), 'test')).not.toThrow();
  });
});

describe('reading checked nodes', () => {
  const node = (h: string) => parseDer(hex(h), 'test');

  it('expectSequence returns the children of a SEQUENCE and refuses anything else', () => {
    expect(expectSequence(node('30 06 020101 020102'), 'seq').map((n) => integerBytes(n, 'n'))).toEqual([
      Buffer.from([1]),
      Buffer.from([2]),
    ]);
    expect(expectSequence(node('30 00'), 'seq')).toEqual([]);
    for (const notSeq of ['31 03 020101', '02 01 01', 'b0 00', '10 00'])
      expect(() => expectSequence(node(notSeq), 'TBSCertificate'), notSeq).toThrow(
        /^TBSCertificate: expected a SEQUENCE$/,
      );
    expect(() => expectSequence(undefined, 'TBSCertificate')).toThrow(/^TBSCertificate: expected a SEQUENCE$/);
  });

  it('isSequence: a universal SEQUENCE only', () => {
    expect(isSequence(node('30 00'))).toBe(true);
    expect(isSequence(node('31 00'))).toBe(false);
    expect(isSequence(node('b0 00'))).toBe(false); // context-specific [16]
    expect(isSequence(undefined)).toBe(false);
  });

  it('oidOf, octetsOf and integerBytes read their type and refuse another one by name', () => {
    expect(oidOf(node('06 03 2a 86 48'), 'alg')).toBe('1.2.840');
    expect(() => oidOf(node('02 01 05'), 'signature algorithm')).toThrow(
      /^signature algorithm: expected an OBJECT IDENTIFIER$/,
    );
    expect(() => oidOf(undefined, 'alg')).toThrow(/^alg: expected an OBJECT IDENTIFIER$/);
    expect(octetsOf(node('04 02 abcd'), 'digest')).toEqual(Buffer.from('abcd', 'hex'));
    expect(() => octetsOf(node('02 01 05'), 'message digest')).toThrow(/^message digest: expected an OCTET STRING$/);
    expect(() => octetsOf(undefined, 'message digest')).toThrow(/^message digest: expected an OCTET STRING$/);
    expect(integerBytes(node('02 02 0080'), 'serial')).toEqual(Buffer.from('0080', 'hex'));
    expect(() => integerBytes(node('04 01 05'), 'serialNumber')).toThrow(/^serialNumber: expected an INTEGER$/);
  });

  it('contextTag: the number of a context-specific tag, otherwise -1', () => {
    expect(contextTag(node('a0 00'))).toBe(0);
    expect(contextTag(node('83 00'))).toBe(3);
    expect(contextTag(node('30 00'))).toBe(-1);
    expect(contextTag(node('41 00'))).toBe(-1); // application class
    expect(contextTag(undefined)).toBe(-1);
  });

  it('childrenOf: the children of a constructed node, none for a primitive one', () => {
    expect(childrenOf(node('30 03 020101'))).toHaveLength(1);
    expect(childrenOf(node('02 01 01'))).toEqual([]);
    expect(childrenOf(node('05 00'))).toEqual([]);
  });
});

describe('certificates', () => {
  it('every truncation of a certificate is a CertificateError', () => {
    for (let n = 0; n < LEAF.length; n++)
      expect(() => Certificate.fromDer(LEAF.subarray(0, n)), `length ${n}`).toThrow(CertificateError);
  });

  it('a certificate with the wrong outer tag (SET), or with a byte appended, is refused', () => {
    expect(() => Certificate.fromDer(Buffer.concat([Buffer.from([0x31]), LEAF.subarray(1)]))).toThrow(CertificateError);
    expect(() => Certificate.fromDer(Buffer.concat([LEAF, Buffer.from([0])]))).toThrow(CertificateError);
  });

  it('a certificate re-encoded with a non-minimal outer length is refused', () => {
    // 30 82 LL LL … → 30 83 00 LL LL …: same value, BER but not DER
    expect(LEAF[1]).toBe(0x82);
    const padded = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), LEAF.subarray(2)]);
    expect(() => Certificate.fromDer(padded)).toThrow(/non-minimal length/);
  });

  it('property: any single-byte change either parses or is a CertificateError, never another exception', () => {
    fc.assert(
      fc.property(fc.nat({ max: LEAF.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bad = Buffer.from(LEAF);
        bad[at]! ^= xor;
        try {
          Certificate.fromDer(bad);
        } catch (e) {
          if (!(e instanceof CertificateError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an empty or unreadable time, which asn1js throws on, is a DerError (found by the property below)', () => {
    for (const bytes of [
      [24, 0],
      [23, 0],
      [24, 3, 0x41, 0x42, 0x43],
      [23, 1, 0xff],
    ]) {
      expect(() => parseDer(Uint8Array.from(bytes), 'time')).toThrow(DerError);
      expect(() => Certificate.fromDer(Buffer.from(bytes))).toThrow(CertificateError);
    }
  });

  it('property: random bytes are a DerError / CertificateError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseDer(bytes, 'random');
        } catch (e) {
          if (!(e instanceof DerError)) throw e;
        }
        expect(() => Certificate.fromDer(Buffer.from(bytes))).toThrow(CertificateError);
      }),
      { numRuns: 300 },
    );
  });
});

describe('envelope parsers (property tests)', () => {
  const found = (bytes: Buffer, mediaType: 'application/jose+json' | 'application/cose') => ({
    manifest: { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 },
    mediaType,
    bytes,
  });
  const integrity = (bytes: Buffer, mediaType: 'application/jose+json' | 'application/cose') =>
    checkIntegrity(found(bytes, mediaType), TARGET, { understood: new Set() });
  const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as ConstructorParameters<
    typeof Encoder
  >[0]);
  const b64url = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64url'));
  const jsonValue = fc.jsonValue({ maxDepth: 3 });

  it('JWS: random bytes, random JSON and JWS-shaped objects are denied with a reason code, never thrown', () => {
    const jwsShaped = fc.record(
      {
        payload: fc.oneof(b64url, jsonValue),
        protected: fc.oneof(
          b64url,
          fc
            .dictionary(
              fc.constantFrom(
                'alg',
                'crit',
                'cty',
                'io.cncf.notary.signingScheme',
                'io.cncf.notary.signingTime',
                'io.cncf.notary.expiry',
                'x',
              ),
              jsonValue,
            )
            .map((h) => Buffer.from(JSON.stringify(h)).toString('base64url')),
        ),
        header: fc.oneof(
          jsonValue,
          fc.record({
            x5c: fc.array(fc.oneof(fc.constant(LEAF.toString('base64')), fc.base64String()), { maxLength: 3 }),
          }),
        ),
        signature: b64url,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map(Buffer.from),
          jsonValue.map((v) => Buffer.from(JSON.stringify(v))),
          jwsShaped.map((v) => Buffer.from(JSON.stringify(v))),
        ),
        (bytes) => {
          const v = integrity(bytes, 'application/jose+json');
          expect(v).toMatchObject({ ok: false, reason: expect.stringMatching(REASONS) });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('COSE: random bytes, random CBOR and COSE_Sign1-shaped messages are denied with a reason code, never thrown', () => {
    const anyCbor = fc.oneof(
      fc.integer(),
      fc.string(),
      fc.uint8Array({ maxLength: 32 }).map(Buffer.from),
      fc.boolean(),
      fc.constant(null),
    );
    const header = fc
      .array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(1, 2, 3, 33, 'io.cncf.notary.signingScheme', 'io.cncf.notary.signingTime'),
            fc.integer(),
          ),
          fc.oneof(anyCbor, fc.array(anyCbor, { maxLength: 3 })),
        ),
        { maxLength: 6 },
      )
      .map((entries) => new Map<unknown, unknown>(entries));
    const sign1 = fc
      .tuple(
        header.map((h) => Buffer.from(cbor.encode(h))),
        header,
        fc.oneof(anyCbor, fc.constant(IMAGE)),
        anyCbor,
        fc.constantFrom(18, 17, 98),
      )
      .map(([p, u, payload, sig, tag]) => Buffer.from(cbor.encode(new Tag([p, u, payload, sig], tag))));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map(Buffer.from),
          anyCbor.map((v) => Buffer.from(cbor.encode(v))),
          sign1,
        ),
        (bytes) => {
          const v = integrity(bytes, 'application/cose');
          expect(v).toMatchObject({ ok: false, reason: expect.stringMatching(REASONS) });
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a signed envelope with any one byte changed is never an exception: a verdict with a code, or still valid', async () => {
    const store = makeTrustStore({ ca: { mine: [pem(c.root.der)] } });
    const verifier = createNotationVerifier(
      { type: 'notation', trustPolicy: policy({ trustStores: ['ca:mine'] }), trustStore: store },
      { baseDir: '/' },
    );
    for (const [sign, mediaType] of [
      [signJws, 'application/jose+json'],
      [signCose, 'application/cose'],
    ] as const) {
      const good = sign({ target: TARGET, alg: 'ES256', key: c.leaf.key.privateKey, chain: c.chain });
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
          const bad = Buffer.from(good);
          bad[at]! ^= xor;
          const repo = new MemoryRepo();
          attachSignature(repo, TARGET, bad, mediaType);
          const v = await verifier.verify(context(repo, TARGET));
          if (!v.ok) expect(v.reason).toMatch(REASONS);
        }),
        { numRuns: 150 },
      );
    }
  });

  it('a timestamp token with any one byte changed fails as a TimestampError or still verifies, never another exception', () => {
    const tsa = makeTsa({ label: 'der-tsa' });
    const signature = Buffer.from('the envelope signature');
    const token = timestampToken({ signature, tsa });
    const trusted = [Certificate.fromDer(tsa.root.der)];
    expect(verifyTimestamp(token, signature, trusted).genTime).toEqual(new Date('2025-01-01T00:00:00Z'));
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bad = Buffer.from(token);
        bad[at]! ^= xor;
        try {
          verifyTimestamp(bad, signature, trusted);
        } catch (e) {
          if (!(e instanceof TimestampError)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });
});
