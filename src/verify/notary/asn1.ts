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
  // asn1js fails the whole decode (offset -1, its reason in result.error) when any node is bad.
  if (decoded.offset === -1) throw new DerError(`${what}: not DER (${decoded.result.error})`);
  if (decoded.offset !== bytes.length) throw new DerError(`${what}: trailing bytes after the DER value`);
  checkNode(decoded.result, what);
  // Belt and braces: what asn1js writes back must be what we were given. It catches the BER forms no
  // check above names (e.g. a RELATIVE-OID arc with a leading 0x80).
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
  // A bad identifier or length fails the whole decode (refused in parseDer); a value asn1js could not
  // read (a UTCTime that is not YYMMDDHHMMSSZ) is only marked on its node.
  if (n.error) throw new DerError(`${what}: not DER (${n.error})`);
  // DER writes tag numbers below 31 in one octet; nothing read here has a tag number of 31 or more.
  if (idBlock.blockLength !== 1) throw new DerError(`${what}: multi-byte tags are not used here`);
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
      if (nonMinimalInteger(v)) throw new DerError(`${what}: non-minimal INTEGER`);
      return;
    case U.BIT_STRING: {
      // The initial octet counts the unused bits of the last octet (asn1js refuses more than 7), and
      // those bits are zero. With no further octet the initial one is the last: non-zero if it counts any.
      const unused = v[0];
      if (unused === undefined || (v[v.length - 1]! & ((1 << unused) - 1)) !== 0)
        throw new DerError(`${what}: malformed BIT STRING padding`);
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
      checkTime(tag, v, what);
      return;
  }
}

/** The first nine bits all equal: the same value has a shorter encoding. */
function nonMinimalInteger(v: Uint8Array): boolean {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: one octet is always minimal, and for it v[1] is undefined so both comparisons below are false as well
  if (v.length < 2) return false;
  return (v[0] === 0 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80);
}

/**
 * Each arc in base 128, minimal: no arc starts with 0x80. (asn1js refuses a last octet that does not
 * end an arc.)
 */
function checkOid(v: Uint8Array, what: string): void {
  if (v.length === 0) throw new DerError(`${what}: empty OBJECT IDENTIFIER`);
  let startsArc = true;
  for (const octet of v) {
    if (startsArc && octet === 0x80) throw new DerError(`${what}: OBJECT IDENTIFIER arc with a non-minimal encoding`);
    startsArc = (octet & 0x80) === 0;
  }
}

function byteCount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 256)) count++;
  return count;
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (fraction without trailing zeros), Zulu, every field in range. */
function checkTime(tag: number, v: Uint8Array, what: string): void {
  const s = Buffer.from(v).toString('latin1');
  const m = (
    tag === U.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d*[1-9])?Z$/
  ).exec(s);
  if (!m) throw new DerError(`${what}: not a DER time: ${JSON.stringify(s)}`);
  const [year, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // Only February's length depends on the year, and only on the year modulo 400: 19YY and 20YY leap alike,
  // so 20YY stands for UTCTime's YY (Date.UTC would read a bare YY as 19YY, and 1900 has no 29 February).
  // Stryker disable next-line ConditionalExpression,ArithmeticOperator: adding or subtracting 2000 (400 × 5) changes no answer
  const fullYear = tag === U.UTC_TIME ? 2000 + year : year;
  const daysInMonth = new Date(Date.UTC(fullYear, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || sec > 59)
    throw new DerError(`${what}: time out of range: ${JSON.stringify(s)}`);
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

/** Context-specific tag number of a node, or -1. */
export function contextTag(n: Node | undefined): number {
  return n && n.idBlock.tagClass === CONTEXT ? n.idBlock.tagNumber : -1;
}
