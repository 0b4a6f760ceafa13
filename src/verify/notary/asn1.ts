/**
 * DER on top of asn1js. asn1js (under pkijs) decodes BER: it accepts non-minimal
 * lengths, INTEGERs and OID arcs, constructed strings, and times such as month 13,
 * all of which Go's encoding/asn1 (and so notation) refuses. `parseDer` decodes with
 * asn1js and then holds every node to DER, so a structure that notation would refuse
 * is refused here before any rule reads it.
 */
import * as asn1js from 'asn1js';

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export type Node = asn1js.AsnType;

const UNIVERSAL = 1;
const CONTEXT = 3;
const U = {
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  NULL: 5,
  OID: 6,
  ENUMERATED: 10,
  SEQUENCE: 16,
  SET: 17,
  UTC_TIME: 23,
  GENERALIZED_TIME: 24,
} as const;

/** Decode exactly one DER value filling `bytes`; any BER-only encoding is a DerError naming `what`. */
export function parseDer(bytes: Uint8Array, what: string): Node {
  const decoded = decodeBer(bytes, what);
  if (decoded.offset === -1 || decoded.result.error)
    throw new DerError(`${what}: not DER (${decoded.result.error || 'undecodable'})`);
  if (decoded.offset !== bytes.length) throw new DerError(`${what}: trailing bytes after the DER value`);
  checkNode(decoded.result, what);
  // Belt and braces: what asn1js writes back must be what we were given.
  if (!Buffer.from(decoded.result.toBER(false)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) {
    throw new DerError(`${what}: re-encoding differs from the bytes (not DER)`);
  }
  return decoded.result;
}

/**
 * asn1js reports most bad input in `result.error`, but throws for some (an empty or
 * unreadable GeneralizedTime: "Wrong input string for conversion"); both are DerErrors.
 */
function decodeBer(bytes: Uint8Array, what: string): ReturnType<typeof asn1js.fromBER> {
  try {
    return asn1js.fromBER(bytes);
  } catch (e) {
    throw new DerError(`${what}: not DER (${(e as Error).message})`);
  }
}

function checkNode(n: Node, what: string): void {
  const { idBlock, lenBlock } = n;
  if (n.error || idBlock.error || lenBlock.error)
    throw new DerError(`${what}: ${n.error || idBlock.error || lenBlock.error}`);
  if (idBlock.isHexOnly || idBlock.tagNumber >= 31) throw new DerError(`${what}: multi-byte tags are not used here`);
  if (idBlock.tagClass === UNIVERSAL && idBlock.tagNumber === 0)
    throw new DerError(`${what}: end-of-contents outside an indefinite length`);
  if (lenBlock.isIndefiniteForm) throw new DerError(`${what}: indefinite length is not DER`);
  if (lenBlock.longFormUsed && (lenBlock.length < 0x80 || lenBlock.blockLength - 1 !== byteCount(lenBlock.length))) {
    throw new DerError(`${what}: non-minimal length`);
  }
  if (idBlock.isConstructed) {
    if (idBlock.tagClass === UNIVERSAL && idBlock.tagNumber !== U.SEQUENCE && idBlock.tagNumber !== U.SET) {
      throw new DerError(`${what}: constructed form of universal tag ${idBlock.tagNumber} is not DER`);
    }
    for (const child of childrenOf(n)) checkNode(child, what);
    return;
  }
  if (idBlock.tagClass === UNIVERSAL) checkPrimitive(idBlock.tagNumber, contents(n), what);
}

function checkPrimitive(tag: number, v: Uint8Array, what: string): void {
  switch (tag) {
    case U.BOOLEAN:
      if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) throw new DerError(`${what}: BOOLEAN is not 0x00 or 0xFF`);
      return;
    case U.INTEGER:
    case U.ENUMERATED:
      if (v.length === 0) throw new DerError(`${what}: empty INTEGER`);
      if (v.length > 1 && ((v[0] === 0 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80)))
        throw new DerError(`${what}: non-minimal INTEGER`);
      return;
    case U.BIT_STRING: {
      const unused = v[0];
      if (
        unused === undefined ||
        unused > 7 ||
        (v.length === 1 && unused > 0) ||
        (v.length > 1 && (v[v.length - 1]! & ((1 << unused) - 1)) !== 0)
      ) {
        throw new DerError(`${what}: malformed BIT STRING padding`);
      }
      return;
    }
    case U.NULL:
      if (v.length !== 0) throw new DerError(`${what}: NULL with contents`);
      return;
    case U.OID:
      checkOid(v, what);
      return;
    case U.UTC_TIME:
    case U.GENERALIZED_TIME:
      timeFromContents(tag, v, what);
      return;
  }
}

/** Each arc in base 128, minimal: no arc starts with 0x80, the last octet ends an arc. */
function checkOid(v: Uint8Array, what: string): void {
  if (v.length === 0 || v[v.length - 1]! & 0x80) throw new DerError(`${what}: truncated OBJECT IDENTIFIER`);
  for (let i = 0; i < v.length; i++) {
    const startsArc = i === 0 || (v[i - 1]! & 0x80) === 0;
    if (startsArc && v[i] === 0x80) throw new DerError(`${what}: OBJECT IDENTIFIER arc with a non-minimal encoding`);
  }
}

function byteCount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 256)) count++;
  return count;
}

const UTC_RE = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GEN_RE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/;

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (fraction without trailing zeros), Zulu, every field in range. */
function timeFromContents(tag: number, v: Uint8Array, what: string): Date {
  const s = Buffer.from(v).toString('latin1');
  const m = (tag === U.UTC_TIME ? UTC_RE : GEN_RE).exec(s);
  if (!m) throw new DerError(`${what}: not a DER time: ${JSON.stringify(s)}`);
  const yy = Number(m[1]);
  const year = tag === U.UTC_TIME ? (yy < 50 ? 2000 + yy : 1900 + yy) : yy;
  const [mo, d, h, mi, sec] = m.slice(2, 7).map(Number) as [number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || sec > 59)
    throw new DerError(`${what}: time out of range: ${JSON.stringify(s)}`);
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  return new Date(Date.UTC(year, mo - 1, d, h, mi, sec, ms));
}

// ---------- reading checked nodes ----------

/** The whole encoding of a node (what signatures and hashes cover). */
export function raw(n: Node): Buffer {
  const v = n.valueBeforeDecodeView;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** The contents octets of a node. */
export function contents(n: Node): Buffer {
  return raw(n).subarray(n.idBlock.blockLength + n.lenBlock.blockLength);
}

export function childrenOf(n: Node): Node[] {
  const value = (n.valueBlock as { value?: unknown }).value;
  return Array.isArray(value) ? (value as Node[]) : [];
}

function isUniversal(n: Node | undefined, tag: number): n is Node {
  return !!n && n.idBlock.tagClass === UNIVERSAL && n.idBlock.tagNumber === tag;
}

export function expectSequence(n: Node | undefined, what: string): Node[] {
  if (!isUniversal(n, U.SEQUENCE) || !n.idBlock.isConstructed) throw new DerError(`${what}: expected a SEQUENCE`);
  return childrenOf(n);
}

export function isSequence(n: Node | undefined): boolean {
  return isUniversal(n, U.SEQUENCE);
}

export function oidOf(n: Node | undefined, what: string): string {
  if (!(n instanceof asn1js.ObjectIdentifier)) throw new DerError(`${what}: expected an OBJECT IDENTIFIER`);
  return n.valueBlock.toString();
}

export function octetsOf(n: Node | undefined, what: string): Buffer {
  if (!(n instanceof asn1js.OctetString) || n.idBlock.isConstructed)
    throw new DerError(`${what}: expected an OCTET STRING`);
  return contents(n);
}

/** The INTEGER contents (two's complement, minimal), e.g. for serial-number comparison. */
export function integerBytes(n: Node | undefined, what: string): Buffer {
  if (!(n instanceof asn1js.Integer)) throw new DerError(`${what}: expected an INTEGER`);
  return contents(n);
}

export function timeOf(n: Node | undefined, what: string): Date {
  if (!isUniversal(n, U.UTC_TIME) && !isUniversal(n, U.GENERALIZED_TIME))
    throw new DerError(`${what}: expected a time`);
  return timeFromContents(n.idBlock.tagNumber, contents(n), what);
}

/** Context-specific tag number of a node, or -1. */
export function contextTag(n: Node | undefined): number {
  return n && n.idBlock.tagClass === CONTEXT ? n.idBlock.tagNumber : -1;
}
