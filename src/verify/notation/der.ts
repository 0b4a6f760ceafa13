/**
 * A small, strict DER reader: just what X.509 certificates and RFC 3161 timestamp
 * tokens need. Definite lengths only, every length checked against its parent, so a
 * malformed structure is an error rather than a misread.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
} as const;

/** One tag-length-value, with views on the whole encoding and on the contents. */
export interface Tlv {
  /** the identifier octet (class, constructed bit, tag number < 31) */
  tag: number;
  /** the whole TLV, header included (what signatures and hashes cover) */
  raw: Buffer;
  /** the contents */
  value: Buffer;
}

export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new DerError('truncated DER header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('DER length too large');
    if (pos + n > buf.length) throw new DerError('truncated DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
    if (length < 0x80 || (n > 1 && buf[pos - n] === 0)) throw new DerError('non-minimal DER length');
  }
  const end = pos + length;
  if (end > buf.length) throw new DerError('DER value runs past its container');
  return { tag, raw: buf.subarray(offset, end), value: buf.subarray(pos, end) };
}

/** Parse exactly one TLV that fills `buf`. */
export function parseOne(buf: Buffer): Tlv {
  const t = readTlv(buf, 0);
  if (t.raw.length !== buf.length) throw new DerError('trailing bytes after DER value');
  return t;
}

/** The TLVs inside a constructed value. */
export function children(t: Tlv): Tlv[] {
  if ((t.tag & 0x20) === 0) throw new DerError(`tag 0x${t.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < t.value.length) {
    const c = readTlv(t.value, pos);
    out.push(c);
    pos += c.raw.length;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got ${t ? '0x' + t.tag.toString(16) : 'nothing'}`);
  return t;
}

export function seq(t: Tlv | undefined, what: string): Tlv[] {
  return children(expectTag(t, TAG.SEQUENCE, what));
}

export function oid(t: Tlv | undefined, what = 'OID'): string {
  const v = expectTag(t, TAG.OID, what).value;
  if (v.length === 0) throw new DerError(`${what}: empty OID`);
  const parts: number[] = [];
  let n = 0;
  for (const b of v) {
    n = n * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(n);
      n = 0;
    }
  }
  const first = parts.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

export function integer(t: Tlv | undefined, what = 'INTEGER'): bigint {
  const v = expectTag(t, TAG.INTEGER, what).value;
  if (v.length === 0) throw new DerError(`${what}: empty INTEGER`);
  let n = 0n;
  for (const b of v) n = (n << 8n) | BigInt(b);
  if (v[0]! & 0x80) n -= 1n << BigInt(v.length * 8);
  return n;
}

export function boolean(t: Tlv | undefined, what = 'BOOLEAN'): boolean {
  const v = expectTag(t, TAG.BOOLEAN, what).value;
  if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) throw new DerError(`${what}: not a DER BOOLEAN`);
  return v[0] === 0xff;
}

export function octets(t: Tlv | undefined, what = 'OCTET STRING'): Buffer {
  return expectTag(t, TAG.OCTET_STRING, what).value;
}

/** BIT STRING contents without the unused-bits octet, and that count. */
export function bitString(t: Tlv | undefined, what = 'BIT STRING'): { bytes: Buffer; unused: number } {
  const v = expectTag(t, TAG.BIT_STRING, what).value;
  if (v.length === 0 || v[0]! > 7) throw new DerError(`${what}: malformed BIT STRING`);
  return { bytes: v.subarray(1), unused: v[0]! };
}

/** UTCTime or GeneralizedTime, Zulu only (as RFC 5280 and RFC 3161 require), fractions allowed. */
export function time(t: Tlv | undefined, what = 'time'): Date {
  if (!t) throw new DerError(`${what}: missing`);
  const s = t.value.toString('latin1');
  let m: RegExpExecArray | null;
  if (t.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return utc(yy < 50 ? 2000 + yy : 1900 + yy, m.slice(2, 7).map(Number), 0);
  }
  if (t.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(s))) {
    const ms = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
    return utc(Number(m[1]), m.slice(2, 7).map(Number), ms);
  }
  throw new DerError(`${what}: not a UTC DER time: ${JSON.stringify(s)}`);
}

function utc(year: number, [mo, d, h, mi, s]: number[], ms: number): Date {
  return new Date(Date.UTC(year, mo! - 1, d, h, mi, s, ms));
}

/** The text of a directory string (UTF8, Printable, IA5, T61 as latin1, BMP). */
export function directoryString(t: Tlv): string {
  switch (t.tag) {
    case 0x0c:
      return t.value.toString('utf8');
    case 0x13:
    case 0x16:
    case 0x14:
      return t.value.toString('latin1');
    case 0x1e: {
      const swapped = Buffer.from(t.value);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    default:
      return t.value.toString('utf8');
  }
}

/** Context-specific tag number of a TLV, or -1. */
export function contextTag(t: Tlv | undefined): number {
  return t && (t.tag & 0xc0) === 0x80 ? t.tag & 0x1f : -1;
}
