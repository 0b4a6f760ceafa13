/**
 * COSE_Sign1 envelopes (`application/cose`, RFC 9052) as the Notary Project profiles
 * them: tag 18, the Notary signed attributes in the protected header (times as CBOR
 * tag 1), the chain in x5chain (label 33) and the timestamp unprotected. The
 * signature covers Sig_structure ["Signature1", protected, h'', payload].
 */
import { Decoder, Encoder, Tag } from 'cbor-x';
import { COSE_ALGS } from './algorithms.js';
import { checkStrictCbor } from './cbor-strict.js';
import {
  ATTR,
  EnvelopeError,
  NOTARY_CRITICAL,
  PAYLOAD_CONTENT_TYPE,
  checkSchemeTimes,
  requireCritical,
  signedAttributes,
  type SignedEnvelope,
} from './envelope.js';

const COSE_SIGN1_TAG = 18;
const LABEL = { alg: 1, crit: 2, contentType: 3, x5chain: 33 } as const;

// Maps keep integer labels apart from text labels; no record extensions, plain CBOR.
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as ConstructorParameters<
  typeof Encoder
>[0]);

export function parseCose(bytes: Buffer): SignedEnvelope {
  const top = decode(bytes, 'COSE envelope');
  checkStrictCbor(bytes, 'COSE envelope');
  if (!(top instanceof Tag) || top.tag !== COSE_SIGN1_TAG) throw new EnvelopeError('not a tagged COSE_Sign1 message');
  const parts = top.value as unknown;
  if (!Array.isArray(parts) || parts.length !== 4) throw new EnvelopeError('COSE_Sign1 must be an array of 4');
  const [protectedBytes, unprotected, payload, signature] = parts as unknown[];
  if (!isBytes(protectedBytes) || protectedBytes.length === 0)
    throw new EnvelopeError('COSE protected header is not a byte string');
  if (!(unprotected instanceof Map)) throw new EnvelopeError('COSE unprotected header is not a map');
  if (!isBytes(payload)) throw new EnvelopeError('COSE payload is not an attached byte string');
  if (!isBytes(signature)) throw new EnvelopeError('COSE signature is not a byte string');

  const h = decode(Buffer.from(protectedBytes), 'COSE protected header');
  checkStrictCbor(protectedBytes, 'COSE protected header');
  if (!(h instanceof Map)) throw new EnvelopeError('COSE protected header is not a map');
  const alg = COSE_ALGS.get(h.get(LABEL.alg) as number);
  if (!alg) throw new EnvelopeError(`unsupported COSE alg ${String(h.get(LABEL.alg))}`);
  if (h.get(LABEL.contentType) !== PAYLOAD_CONTENT_TYPE)
    throw new EnvelopeError(`unsupported content type ${JSON.stringify(h.get(LABEL.contentType))}`);
  const crit = critSet(h);
  requireCritical(
    [...NOTARY_CRITICAL].filter((k) => h.has(k)),
    crit,
  );

  const envelope: SignedEnvelope = {
    format: 'cose',
    alg,
    payload: Buffer.from(payload),
    signedBytes: Buffer.from(
      encoder.encode(['Signature1', Buffer.from(protectedBytes), Buffer.alloc(0), Buffer.from(payload)]),
    ),
    signature: Buffer.from(signature),
    certChain: certChain(unprotected.get(LABEL.x5chain)),
    ...signedAttributes((name) => h.get(name), cborTime),
    extendedCritical: {},
  };
  for (const label of crit) {
    if (typeof label === 'number') {
      // integer labels other than the COSE ones we process are not understood
      if (label !== LABEL.alg && label !== LABEL.crit && label !== LABEL.contentType)
        envelope.extendedCritical[String(label)] = h.get(label);
    } else if (!NOTARY_CRITICAL.has(label)) {
      envelope.extendedCritical[label] = h.get(label);
    }
  }
  const ts = unprotected.get(ATTR.timestamp);
  if (ts !== undefined) {
    if (!isBytes(ts) || ts.length === 0) throw new EnvelopeError('timestamp signature must be a byte string');
    envelope.timestampToken = Buffer.from(ts);
  }
  checkSchemeTimes(envelope);
  return envelope;
}

function decode(bytes: Buffer, what: string): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new EnvelopeError(`${what} is not valid CBOR: ${(e as Error).message}`);
  }
}

function critSet(h: Map<unknown, unknown>): Set<string | number> {
  const crit = h.get(LABEL.crit);
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((c) => typeof c === 'string' || typeof c === 'number')) {
    throw new EnvelopeError('COSE crit must be a non-empty array of labels');
  }
  const set = new Set<string | number>(crit as Array<string | number>);
  if (set.size !== crit.length) throw new EnvelopeError('COSE crit lists a label twice');
  for (const label of set)
    if (!h.has(label))
      throw new EnvelopeError(`critical header ${JSON.stringify(label)} is missing from the protected header`);
  if (!set.has(ATTR.signingScheme)) throw new EnvelopeError(`${ATTR.signingScheme} must be marked critical`);
  return set;
}

function certChain(v: unknown): Buffer[] {
  const list = isBytes(v) ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every(isBytes))
    throw new EnvelopeError('COSE envelope has no x5chain certificate chain');
  return list.map((c) => Buffer.from(c));
}

/** cbor-x turns tag 1 (epoch time) into a Date; anything else is not the specified form. */
function cborTime(v: unknown, name: string): Date {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new EnvelopeError(`${name} is not a CBOR tag 1 time`);
  return v;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}
