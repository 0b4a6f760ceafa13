/**
 * The COSE_Sign1 envelope parser (application/cose), one rule of the Notary Project
 * signature specification at a time: a valid message is read field by field, then each
 * message below breaks exactly one rule (tag, array shape, header types, crit, content
 * type, x5chain, timestamp) and must be refused by that rule's own check, as an
 * EnvelopeError whose words the user reads in the decision line (SIGNATURE_INVALID
 * through checkIntegrity). The parser does not verify the signature, so the messages
 * are written by hand here with cbor-x, with full control of every part.
 */
import { Encoder, Tag } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { checkIntegrity } from '../src/verify/notary/checks.js';
import { parseCose } from '../src/verify/notary/cose.js';
import { EnvelopeError, MEDIA_TYPE_COSE } from '../src/verify/notary/envelope.js';
import { imageDescriptor } from './support/notation-context.js';
import { key, makeChain, rawSign } from './support/notation-signer.js';

const TARGET = imageDescriptor(Buffer.from('cose image'));
const MANIFEST: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'cd'.repeat(32)}`,
  size: 400,
};
const SHORT = MANIFEST.digest.slice(0, 19);
const LEAF_KEY = key('p256', 'cose-parser');
const { chain: CHAIN } = makeChain(LEAF_KEY, { label: 'cose-parser' });
const PAYLOAD = Buffer.from(JSON.stringify({ targetArtifact: TARGET }));
const SIGNATURE = Buffer.from('not checked by the parser');
const SCHEME = 'io.cncf.notary.signingScheme';
const SIGNING_TIME = 'io.cncf.notary.signingTime';
const AUTHENTIC_TIME = 'io.cncf.notary.authenticSigningTime';
const EXPIRY = 'io.cncf.notary.expiry';
const TIMESTAMP = 'io.cncf.notary.timestampSignature';
const WHEN = new Date('2024-05-01T12:00:00Z');
const epoch = (d: Date) => new Tag(d.getTime() / 1000, 1);

const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as ConstructorParameters<
  typeof Encoder
>[0]);
const encode = (v: unknown) => Buffer.from(cbor.encode(v));

/** The protected header as a map; `over` sets labels (undefined: the label is left out). */
function header(over: Array<[unknown, unknown]> = []): Map<unknown, unknown> {
  const h = new Map<unknown, unknown>([
    [1, -7],
    [2, [SCHEME]],
    [3, 'application/vnd.cncf.notary.payload.v1+json'],
    [SCHEME, 'notary.x509'],
    [SIGNING_TIME, epoch(WHEN)],
  ]);
  for (const [k, v] of over) {
    if (v === undefined) h.delete(k);
    else h.set(k, v);
  }
  return h;
}
function unprotected(over: Array<[unknown, unknown]> = []): Map<unknown, unknown> {
  return new Map<unknown, unknown>([[33, CHAIN], ...over]);
}
interface Parts {
  protectedBytes?: unknown;
  unprotected?: unknown;
  payload?: unknown;
  signature?: unknown;
}
/** A COSE_Sign1 message (tag 18) made of these parts. */
function sign1(h: Map<unknown, unknown> = header(), parts: Parts = {}, tag = 18): Buffer {
  return encode(new Tag(partsOf(h, parts), tag));
}
function partsOf(h: Map<unknown, unknown>, parts: Parts): unknown[] {
  return [
    'protectedBytes' in parts ? parts.protectedBytes : encode(h),
    'unprotected' in parts ? parts.unprotected : unprotected(),
    'payload' in parts ? parts.payload : PAYLOAD,
    'signature' in parts ? parts.signature : SIGNATURE,
  ];
}

/** Refused by the parser with this message, and so denied SIGNATURE_INVALID with it. */
function refused(bytes: Buffer, message: string | RegExp): void {
  let err: unknown;
  try {
    parseCose(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EnvelopeError);
  expect((err as Error).message).toMatch(typeof message === 'string' ? new RegExp(`^${esc(message)}$`) : message);
  const verdict = checkIntegrity({ manifest: MANIFEST, mediaType: MEDIA_TYPE_COSE, bytes }, TARGET, {
    understood: new Set(),
  });
  expect(verdict).toEqual({
    ok: false,
    reason: 'SIGNATURE_INVALID',
    detail: `signature ${SHORT}: ${(err as Error).message}`,
  });
}
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('a valid COSE_Sign1 envelope', () => {
  it('is read part by part: payload, Sig_structure, signature, chain, attributes', () => {
    const h = header([
      [EXPIRY, epoch(new Date('2025-05-01T12:00:00Z'))],
      [2, [SCHEME, EXPIRY]],
    ]);
    const e = parseCose(sign1(h));
    expect(e.format).toBe('cose');
    expect(e.alg).toBe('ES256');
    expect(e.payload).toEqual(PAYLOAD);
    expect(e.signedBytes).toEqual(encode(['Signature1', encode(h), Buffer.alloc(0), PAYLOAD]));
    expect(e.signature).toEqual(SIGNATURE);
    expect(e.certChain).toEqual(CHAIN);
    expect(e.signingScheme).toBe('notary.x509');
    expect(e.signingTime).toEqual(WHEN);
    expect(e.expiry).toEqual(new Date('2025-05-01T12:00:00Z'));
    expect(e.extendedCritical).toEqual({});
    expect(e.timestampToken).toBeUndefined();
  });

  it('the signingAuthority scheme carries an authentic signing time', () => {
    const e = parseCose(
      sign1(
        header([
          [SCHEME, 'notary.x509.signingAuthority'],
          [SIGNING_TIME, undefined],
          [AUTHENTIC_TIME, epoch(WHEN)],
          [2, [SCHEME, AUTHENTIC_TIME]],
        ]),
      ),
    );
    expect(e.signingScheme).toBe('notary.x509.signingAuthority');
    expect(e.authenticSigningTime).toEqual(WHEN);
  });

  it('a chain of one certificate may be a single byte string (RFC 9360)', () => {
    const e = parseCose(sign1(header(), { unprotected: new Map([[33, CHAIN[0]]]) }));
    expect(e.certChain).toEqual([CHAIN[0]]);
  });

  it('critical COSE labels the parser processes (alg, crit, content type) are not handed on; all others are', () => {
    const h = header([
      [2, [SCHEME, 1, 2, 3, 4, 'io.example.policy']],
      [4, Buffer.from('kid')],
      ['io.example.policy', 'strict'],
    ]);
    expect(parseCose(sign1(h)).extendedCritical).toEqual({ '4': Buffer.from('kid'), 'io.example.policy': 'strict' });
    expect(parseCose(sign1(header([[2, [SCHEME, 1, 2, 3]]]))).extendedCritical).toEqual({});
  });

  it('a validly signed message with a critical integer label the verifier does not understand is denied', () => {
    const h = header([
      [2, [SCHEME, 4]],
      [4, Buffer.from('kid')],
    ]);
    const toSign = encode(['Signature1', encode(h), Buffer.alloc(0), PAYLOAD]);
    const bytes = sign1(h, { signature: rawSign('ES256', LEAF_KEY.privateKey, toSign) });
    const verdict = checkIntegrity({ manifest: MANIFEST, mediaType: MEDIA_TYPE_COSE, bytes }, TARGET, {
      understood: new Set(),
    });
    expect(verdict).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: `signature ${SHORT} has critical header(s) not understood: 4`,
    });
  });

  it('the unsigned timestamp is taken as bytes', () => {
    const e = parseCose(sign1(header(), { unprotected: unprotected([[TIMESTAMP, Buffer.from('token')]]) }));
    expect(e.timestampToken).toEqual(Buffer.from('token'));
  });
});

describe('the message structure', () => {
  it('not CBOR', () => {
    refused(Buffer.from([0xff]), /^COSE envelope is not valid CBOR: \S/);
    refused(Buffer.alloc(0), /^COSE envelope is not valid CBOR: \S/);
  });
  it('untagged, or tagged other than 18 (COSE_Sign1)', () => {
    refused(encode(partsOf(header(), {})), 'not a tagged COSE_Sign1 message');
    for (const tag of [17, 98, 19]) refused(sign1(header(), {}, tag), 'not a tagged COSE_Sign1 message');
  });
  it('not an array of four', () => {
    const four = partsOf(header(), {});
    refused(encode(new Tag(four.slice(0, 3), 18)), 'COSE_Sign1 must be an array of 4');
    refused(encode(new Tag([...four, Buffer.from('extra')], 18)), 'COSE_Sign1 must be an array of 4');
    refused(encode(new Tag('four', 18)), 'COSE_Sign1 must be an array of 4');
    refused(encode(new Tag(new Map([[0, four[0]]]), 18)), 'COSE_Sign1 must be an array of 4');
  });
  it('a protected header that is not a non-empty byte string', () => {
    refused(sign1(header(), { protectedBytes: header() }), 'COSE protected header is not a byte string');
    refused(sign1(header(), { protectedBytes: Buffer.alloc(0) }), 'COSE protected header is not a byte string');
  });
  it('an unprotected header that is not a map', () => {
    refused(sign1(header(), { unprotected: [[33, CHAIN]] }), 'COSE unprotected header is not a map');
    refused(sign1(header(), { unprotected: 'x5chain' }), 'COSE unprotected header is not a map');
  });
  it('a detached or non-byte payload', () => {
    refused(sign1(header(), { payload: null }), 'COSE payload is not an attached byte string');
    refused(sign1(header(), { payload: PAYLOAD.toString() }), 'COSE payload is not an attached byte string');
  });
  it('a signature that is not a byte string', () => {
    refused(sign1(header(), { signature: SIGNATURE.toString('hex') }), 'COSE signature is not a byte string');
    refused(sign1(header(), { signature: [...SIGNATURE] }), 'COSE signature is not a byte string');
  });
});

describe('the protected header', () => {
  it('bytes that are not CBOR', () => {
    refused(sign1(header(), { protectedBytes: Buffer.from([0xff]) }), /^COSE protected header is not valid CBOR: \S/);
  });
  it('CBOR that is not a map', () => {
    refused(sign1(header(), { protectedBytes: encode([1, -7]) }), 'COSE protected header is not a map');
  });
  it('an algorithm outside the specification, or none', () => {
    refused(sign1(header([[1, -257]])), 'unsupported COSE alg -257');
    refused(sign1(header([[1, 'ES256']])), 'unsupported COSE alg ES256');
    refused(sign1(header([[1, undefined]])), 'unsupported COSE alg undefined');
  });
  it('a content type other than the Notary payload', () => {
    refused(sign1(header([[3, 'application/json']])), 'unsupported content type "application/json"');
    refused(sign1(header([[3, 50]])), 'unsupported content type 50');
    refused(sign1(header([[3, undefined]])), 'unsupported content type undefined');
  });
});

describe('crit (label 2)', () => {
  const NOT_LABELS = 'COSE crit must be a non-empty array of labels';
  it('absent, not an array, or empty', () => {
    refused(sign1(header([[2, undefined]])), NOT_LABELS);
    refused(sign1(header([[2, SCHEME]])), NOT_LABELS);
    refused(sign1(header([[2, []]])), NOT_LABELS);
  });
  it('an entry that is neither text nor integer', () => {
    refused(sign1(header([[2, [SCHEME, true]]])), NOT_LABELS);
    refused(sign1(header([[2, [true]]])), NOT_LABELS);
    refused(sign1(header([[2, [SCHEME, Buffer.from(SCHEME)]]])), NOT_LABELS);
  });
  it('a label listed twice', () => {
    refused(sign1(header([[2, [SCHEME, SCHEME]]])), 'COSE crit lists a label twice');
  });
  it('a critical label missing from the protected header', () => {
    refused(
      sign1(header([[2, [SCHEME, 'io.example.policy']]])),
      'critical header "io.example.policy" is missing from the protected header',
    );
    refused(sign1(header([[2, [SCHEME, 4]]])), 'critical header 4 is missing from the protected header');
  });
  it('the signing scheme not marked critical (whether present or not)', () => {
    refused(sign1(header([[2, [SIGNING_TIME]]])), `${SCHEME} must be marked critical`);
    refused(
      sign1(
        header([
          [2, [EXPIRY]],
          [EXPIRY, epoch(WHEN)],
          [SCHEME, undefined],
        ]),
      ),
      `${SCHEME} must be marked critical`,
    );
  });
  it.each([AUTHENTIC_TIME, EXPIRY])('%s present but not marked critical', (name) => {
    refused(sign1(header([[name, epoch(WHEN)]])), `${name} must be marked critical`);
  });
});

describe('attribute values', () => {
  it('a signing time that is not CBOR tag 1', () => {
    refused(sign1(header([[SIGNING_TIME, '2024-05-01T12:00:00Z']])), `${SIGNING_TIME} is not a CBOR tag 1 time`);
    refused(sign1(header([[SIGNING_TIME, WHEN.getTime() / 1000]])), `${SIGNING_TIME} is not a CBOR tag 1 time`);
  });
  it('a signing scheme outside the specification', () => {
    refused(sign1(header([[SCHEME, 'notary.default']])), 'unsupported signing scheme "notary.default"');
  });
  it('notary.x509 without a signing time', () => {
    refused(sign1(header([[SIGNING_TIME, undefined]])), 'notary.x509 signature without signing time');
  });
});

describe('the unprotected header', () => {
  const NO_CHAIN = 'COSE envelope has no x5chain certificate chain';
  it('no x5chain, an empty one, or one that is not certificates', () => {
    refused(sign1(header(), { unprotected: new Map() }), NO_CHAIN);
    refused(sign1(header(), { unprotected: new Map([[33, []]]) }), NO_CHAIN);
    refused(sign1(header(), { unprotected: new Map([[33, 'leaf']]) }), NO_CHAIN);
    refused(sign1(header(), { unprotected: new Map([[33, [CHAIN[0], 'intermediate']]]) }), NO_CHAIN);
    refused(sign1(header(), { unprotected: new Map([[33, ['leaf']]]) }), NO_CHAIN);
    refused(sign1(header(), { unprotected: new Map([['33', CHAIN]]) }), NO_CHAIN);
  });
  it('a timestamp that is not a non-empty byte string', () => {
    const BAD = 'timestamp signature must be a byte string';
    refused(sign1(header(), { unprotected: unprotected([[TIMESTAMP, Buffer.alloc(0)]]) }), BAD);
    refused(sign1(header(), { unprotected: unprotected([[TIMESTAMP, 'dG9rZW4=']]) }), BAD);
    refused(sign1(header(), { unprotected: unprotected([[TIMESTAMP, [1, 2]]]) }), BAD);
  });
});

/**
 * Strict CBOR, as go-cose decodes (DupMapKeyEnforcedAPF, IndefLengthForbidden) and RFC 9052
 * §3 requires: cbor-x alone kept the last of two equal labels and read indefinite lengths.
 */
describe('strict CBOR (as notation reads COSE)', () => {
  const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
  /** the default protected header's bytes with one more entry appended (map count + 1) */
  const withExtraEntry = (entry: Buffer) => {
    const bytes = encode(header());
    expect(bytes[0]).toBe(0xa5); // a map of five: the count is in the first byte
    return Buffer.concat([Buffer.from([0xa6]), bytes.subarray(1), entry]);
  };

  it('the default header, re-encoded by hand, is still read (the helper below is sound)', () => {
    const bytes = encode(header());
    expect(parseCose(sign1(header(), { protectedBytes: bytes })).alg).toBe('ES256');
  });

  it('a protected header with a label twice is refused, however the label is written', () => {
    for (const dup of ['01 26', '18 01 26', '19 0001 26', '01 27']) {
      refused(
        sign1(header(), { protectedBytes: withExtraEntry(hex(dup)) }),
        'COSE protected header is not strict CBOR: a map has the same key twice',
      );
    }
    const scheme = encode(SCHEME);
    refused(
      sign1(header(), { protectedBytes: withExtraEntry(Buffer.concat([scheme, encode('notary.x509')])) }),
      'COSE protected header is not strict CBOR: a map has the same key twice',
    );
  });

  it('a distinct extra label is not a duplicate (and is only refused if critical)', () => {
    const e = parseCose(sign1(header(), { protectedBytes: withExtraEntry(hex('04 41 00')) }));
    expect(e.extendedCritical).toEqual({});
  });

  it('an unprotected header with x5chain twice is refused', () => {
    const twice = Buffer.concat([hex('a2'), encode(33), encode(CHAIN), hex('18 21'), encode(CHAIN)]);
    const message = Buffer.concat([hex('d2 84'), encode(encode(header())), twice, encode(PAYLOAD), encode(SIGNATURE)]);
    refused(message, 'COSE envelope is not strict CBOR: a map has the same key twice');
  });

  it('indefinite lengths are refused: the message array, the header map, a byte string', () => {
    const parts = partsOf(header(), {}).map(encode);
    refused(
      Buffer.concat([hex('d2 9f'), ...parts, hex('ff')]),
      'COSE envelope is not strict CBOR: indefinite length (or a break outside one) is not allowed',
    );
    refused(
      sign1(header(), { protectedBytes: hex('bf 01 26 ff') }),
      'COSE protected header is not strict CBOR: indefinite length (or a break outside one) is not allowed',
    );
    const chunkedPayload = Buffer.concat([hex('5f'), encode(PAYLOAD), hex('ff')]);
    // cbor-x itself refuses a chunked byte string
    refused(
      Buffer.concat([hex('d2 84'), parts[0]!, parts[1]!, chunkedPayload, parts[3]!]),
      /^COSE envelope is not valid CBOR: indefinite length/i,
    );
  });

  it('nesting past 32 levels is refused without exhausting the stack', () => {
    const deep = Buffer.concat([Buffer.alloc(40, 0x81), hex('00')]);
    refused(
      sign1(header(), { protectedBytes: deep }),
      'COSE protected header is not strict CBOR: nested deeper than 32',
    );
  });
});
