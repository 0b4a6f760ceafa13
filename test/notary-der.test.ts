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
import { DerError, parseDer } from '../src/verify/notary/asn1.js';
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

describe('parseDer refuses what DER forbids', () => {
  it.each([
    ['non-minimal short length in long form', '04 81 03 010203'],
    ['long-form length with a leading zero octet', '04 82 0003 010203'],
    ['indefinite length', '30 80 0500 0000'],
    ['over-long length (runs past the input)', '04 84 7fffffff 00'],
    ['truncated value', '30 05 0500'],
    ['truncated header', '30'],
    ['trailing bytes', '0500 00'],
    ['non-minimal positive INTEGER', '02 02 007f'],
    ['non-minimal negative INTEGER', '02 02 ff80'],
    ['empty INTEGER', '02 00'],
    ['BOOLEAN other than 00/FF', '01 01 01'],
    ['NULL with contents', '05 01 00'],
    ['constructed OCTET STRING', '24 06 0401aa 0401bb'],
    ['OID arc with a leading 0x80', '06 03 2a 80 01'],
    ['OID ending inside an arc', '06 02 2a 86'],
    ['BIT STRING with more than 7 unused bits', '03 02 08 00'],
    ['BIT STRING with non-zero padding bits', '03 02 01 01'],
    ['UTCTime with month 13', `17 0d ${Buffer.from('251301000000Z').toString('hex')}`],
    ['UTCTime on 30 February', `17 0d ${Buffer.from('250230000000Z').toString('hex')}`],
    ['UTCTime with an offset instead of Z', `17 11 ${Buffer.from('250101000000+0100').toString('hex')}`],
    ['UTCTime without seconds', `17 0b ${Buffer.from('2501010000Z').toString('hex')}`],
    [
      'GeneralizedTime with a trailing zero in the fraction',
      `18 12 ${Buffer.from('20250101000000.10Z').toString('hex')}`,
    ],
    ['GeneralizedTime hour 24', `18 0f ${Buffer.from('20250101240000Z').toString('hex')}`],
    ['multi-byte tag number', '1f 81 00 00'],
  ])('%s', (_name, bytes) => {
    expect(() => parseDer(hex(bytes), 'test')).toThrow(DerError);
  });

  it('accepts the DER forms of the same values', () => {
    for (const ok of [
      '04 03 010203',
      '02 01 7f',
      '02 02 0080',
      '02 01 80',
      '01 01 ff',
      '05 00',
      '06 03 2a 86 48',
      '03 02 07 80',
      `17 0d ${Buffer.from('250228000000Z').toString('hex')}`,
      `18 11 ${Buffer.from('20250101000000.1Z').toString('hex')}`,
    ]) {
      expect(() => parseDer(hex(ok), 'test'), ok).not.toThrow();
    }
    const long = der.octets(Buffer.alloc(200));
    expect(parseDer(long, 'test')).toBeDefined();
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
