/**
 * CBOR held to what go-cose (and so notation) decodes: definite lengths only and no map
 * with the same key twice (RFC 9052 §3: such a header must be rejected). cbor-x, which
 * decodes our COSE envelopes, accepts both and keeps the last of two equal keys, so a
 * header read here could differ from the one notation refuses. Written by hand because
 * cbor-x has no option for either; this only walks item headers, it decodes nothing.
 */
import { EnvelopeError } from './envelope.js';

const MAJOR = { uint: 0, negint: 1, bytes: 2, text: 3, array: 4, map: 5, tag: 6, simple: 7 } as const;
/** deeper than any COSE header; bounds the recursion on hostile input */
const MAX_DEPTH = 32;

/** Throws an EnvelopeError naming `what` unless `bytes` is exactly one strict CBOR item. */
export function checkStrictCbor(bytes: Uint8Array, what: string): void {
  const end = new Walker(bytes, what).item(0);
  if (end !== bytes.length) throw new EnvelopeError(`${what}: trailing bytes after the CBOR item`);
}

interface Head {
  major: number;
  /** the argument: a length, a count, a tag number or an integer's magnitude */
  arg: bigint;
  /** offset just past the head */
  next: number;
}

class Walker {
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  /** Walks the item at `at`; returns the offset just past it. */
  item(at: number, depth = 0): number {
    if (depth > MAX_DEPTH) throw this.error(`nested deeper than ${MAX_DEPTH}`);
    const head = this.head(at);
    switch (head.major) {
      case MAJOR.bytes:
      case MAJOR.text:
        return this.skip(head.next, head.arg);
      case MAJOR.array: {
        let next = head.next;
        for (let i = 0n; i < head.arg; i++) next = this.item(next, depth + 1);
        return next;
      }
      case MAJOR.map:
        return this.map(head, depth);
      case MAJOR.tag:
        return this.item(head.next, depth + 1);
      default:
        return head.next;
    }
  }

  private map(head: Head, depth: number): number {
    const keys = new Set<string>();
    let next = head.next;
    for (let i = 0n; i < head.arg; i++) {
      const key = this.key(next, depth + 1);
      if (keys.has(key.id)) throw this.error('a map has the same key twice');
      keys.add(key.id);
      next = this.item(key.end, depth + 1);
    }
    return next;
  }

  /**
   * A key's identity by value (1 written in one byte or in two is the same key) and where it
   * ends. Each key is walked once: walking it again for the map would make nested keys cost
   * twice per level, exponential in the depth.
   */
  private key(at: number, depth: number): { id: string; end: number } {
    const head = this.head(at);
    if (head.major === MAJOR.uint) return { id: `int:${head.arg}`, end: head.next };
    if (head.major === MAJOR.negint) return { id: `int:${-1n - head.arg}`, end: head.next };
    const end = this.item(at, depth);
    const bytes = Buffer.from(this.bytes.subarray(head.major === MAJOR.text ? head.next : at, end));
    return { id: head.major === MAJOR.text ? `text:${bytes.toString('utf8')}` : `raw:${bytes.toString('hex')}`, end };
  }

  private head(at: number): Head {
    const first = this.byteAt(at);
    const major = first >> 5;
    const info = first & 0x1f;
    if (info < 24) return { major, arg: BigInt(info), next: at + 1 };
    if (info === 31) throw this.error('indefinite length (or a break outside one) is not allowed');
    if (info > 27) throw this.error(`reserved additional information ${info}`);
    const size = 1 << (info - 24); // 1, 2, 4 or 8 bytes
    let arg = 0n;
    for (let i = 1; i <= size; i++) arg = (arg << 8n) | BigInt(this.byteAt(at + i));
    return { major, arg, next: at + 1 + size };
  }

  private skip(from: number, length: bigint): number {
    if (BigInt(from) + length > BigInt(this.bytes.length)) throw this.error('truncated');
    return from + Number(length);
  }

  private byteAt(at: number): number {
    const b = this.bytes[at];
    if (b === undefined) throw this.error('truncated');
    return b;
  }

  private error(problem: string): EnvelopeError {
    return new EnvelopeError(`${this.what} is not strict CBOR: ${problem}`);
  }
}
