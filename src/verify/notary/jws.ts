/**
 * JWS JSON serialization envelopes (`application/jose+json`) as the Notary Project
 * signature specification profiles them: flattened form, the Notary signed
 * attributes in the protected header, the chain (`x5c`) and timestamp unprotected.
 */
import { isAlg } from './algorithms.js';
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

const TOP_LEVEL = new Set(['payload', 'protected', 'header', 'signature']);

export function parseJws(bytes: Buffer): SignedEnvelope {
  const env = parseJsonObject(bytes.toString('utf8'), 'JWS envelope');
  for (const k of Object.keys(env))
    if (!TOP_LEVEL.has(k)) throw new EnvelopeError(`JWS envelope has unexpected member "${k}"`);
  const protectedB64 = b64urlField(env, 'protected');
  const payloadB64 = b64urlField(env, 'payload');
  const signature = fromB64url(b64urlField(env, 'signature'), 'signature');
  const unprotected = env.header;
  if (!isObject(unprotected)) throw new EnvelopeError('JWS envelope has no unprotected "header" object');

  const h = parseJsonObject(fromB64url(protectedB64, 'protected').toString('utf8'), 'JWS protected header');
  if (!isAlg(h.alg)) throw new EnvelopeError(`unsupported JWS alg ${JSON.stringify(h.alg)}`);
  if (h.cty !== PAYLOAD_CONTENT_TYPE) throw new EnvelopeError(`unsupported content type ${JSON.stringify(h.cty)}`);
  const crit = critSet(h);
  const present = [...NOTARY_CRITICAL].filter((k) => k in h);
  requireCritical(present, crit);

  const envelope: SignedEnvelope = {
    format: 'jws',
    alg: h.alg,
    payload: fromB64url(payloadB64, 'payload'),
    // base64url text is ASCII: UTF-8 encodes it byte for byte
    signedBytes: Buffer.from(`${protectedB64}.${payloadB64}`),
    signature,
    certChain: certChain(unprotected.x5c),
    ...signedAttributes((name) => h[name], rfc3339Time),
    extendedCritical: {},
  };
  for (const name of crit) if (!NOTARY_CRITICAL.has(name)) envelope.extendedCritical[name] = h[name];
  const ts = unprotected[ATTR.timestamp];
  if (ts !== undefined) {
    if (typeof ts !== 'string' || !ts) throw new EnvelopeError('timestamp signature must be a base64 string');
    envelope.timestampToken = Buffer.from(ts, 'base64');
  }
  checkSchemeTimes(envelope);
  return envelope;
}

function critSet(h: Record<string, unknown>): Set<string> {
  const crit = h.crit;
  if (
    !Array.isArray(crit) ||
    crit.length === 0 ||
    !crit.every((c): c is string => typeof c === 'string' && c.length > 0)
  ) {
    throw new EnvelopeError('JWS "crit" must be a non-empty array of header names');
  }
  const set = new Set(crit);
  if (set.size !== crit.length) throw new EnvelopeError('JWS "crit" lists a header twice');
  for (const name of set)
    if (!(name in h)) throw new EnvelopeError(`critical header "${name}" is missing from the protected header`);
  if (!set.has(ATTR.signingScheme)) throw new EnvelopeError(`${ATTR.signingScheme} must be marked critical`);
  return set;
}

function certChain(x5c: unknown): Buffer[] {
  if (!Array.isArray(x5c) || x5c.length === 0) throw new EnvelopeError('JWS envelope has no x5c certificate chain');
  return x5c.map((c, i) => {
    if (typeof c !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(c)) throw new EnvelopeError(`x5c[${i}] is not base64`);
    return Buffer.from(c, 'base64');
  });
}

/** RFC 3339 with a zone, as notation writes it. */
function rfc3339Time(v: unknown, name: string): Date {
  const m =
    typeof v === 'string' ? /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(v) : null;
  if (!m || !writtenAsParsed(m)) throw new EnvelopeError(`${name} is not an RFC 3339 time: ${JSON.stringify(v)}`);
  return new Date(m[0]);
}

/**
 * Whether the time parses and its written fields are those of the instant, in the zone
 * written: Date.parse rolls 2023-02-29 over to March 1 and takes 24:00 as the next day,
 * while Go's time.Parse (notation) refuses both.
 */
function writtenAsParsed(m: RegExpExecArray): boolean {
  const t = Date.parse(m[0]);
  if (Number.isNaN(t)) return false;
  const [text, , , sign, hh, mm] = m;
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm)) : 0;
  return new Date(t + offset * 60_000).toISOString().slice(0, 19) === text.slice(0, 19);
}

function b64urlField(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]*$/.test(v)) throw new EnvelopeError(`JWS "${name}" is not base64url`);
  return v;
}

function fromB64url(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'base64url');
  if (b.toString('base64url') !== s) throw new EnvelopeError(`JWS ${what} is not canonical base64url`);
  return b;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new EnvelopeError(`${what} is not JSON`);
  }
  if (!isObject(v)) throw new EnvelopeError(`${what} is not a JSON object`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
