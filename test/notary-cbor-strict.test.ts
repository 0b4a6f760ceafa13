/**
 * The strict CBOR walker under COSE (src/verify/notary/cbor-strict.ts), item by item: what
 * go-cose refuses (a map key twice however it is written, indefinite lengths) and what a
 * hostile input could use (nesting, truncation, trailing bytes, reserved headers).
 */
import { describe, expect, it } from 'vitest';
import { checkStrictCbor } from '../src/verify/notary/cbor-strict.js';
import { EnvelopeError } from '../src/verify/notary/envelope.js';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const check = (s: string) => checkStrictCbor(hex(s), 'test');
const refusedWith = (s: string, problem: string) => {
  expect(() => check(s), s).toThrow(EnvelopeError);
  expect(() => check(s), s).toThrow(`test is not strict CBOR: ${problem}`);
};
const DUPLICATE = 'a map has the same key twice';

describe('checkStrictCbor', () => {
  it('accepts one definite item of each kind', () => {
    for (const ok of [
      '00',
      '20',
      '41 00',
      '61 61',
      '82 01 02',
      'a1 01 02',
      'c1 00',
      'f5',
      'f9 3c00',
      '1b 0000000000000001',
    ])
      expect(() => check(ok), ok).not.toThrow();
  });

  it('refuses bytes after the item', () => {
    expect(() => check('01 02')).toThrow('test: trailing bytes after the CBOR item');
  });

  it('refuses truncated heads and contents, indefinite lengths, breaks and reserved headers', () => {
    refusedWith('19 00', 'truncated');
    refusedWith('42 00', 'truncated');
    refusedWith('82 01', 'truncated');
    refusedWith('9f 01 ff', 'indefinite length (or a break outside one) is not allowed');
    refusedWith('bf 01 02 ff', 'indefinite length (or a break outside one) is not allowed');
    refusedWith('ff', 'indefinite length (or a break outside one) is not allowed');
    refusedWith('1c', 'reserved additional information 28');
  });

  it('the same key twice is refused, for integers, negative integers, text and bytes, however written', () => {
    refusedWith('a2 01 00 01 00', DUPLICATE);
    refusedWith('a2 01 00 18 01 00', DUPLICATE); // 1 in one byte and in two
    refusedWith('a2 20 00 38 00 00', DUPLICATE); // -1 in one byte and in two
    refusedWith('a2 61 61 00 78 01 61 00', DUPLICATE); // "a" with a short and a long length
    refusedWith('a2 41 00 00 41 00 00', DUPLICATE); // h'00' twice
  });

  it('keys that differ are not duplicates, across kinds too', () => {
    for (const ok of [
      'a2 21 00 00 00', // -2 and 0
      'a2 20 00 01 00', // -1 and 1
      'a2 41 61 00 61 61 00', // h'61' and "a"
      'a2 41 00 00 41 01 00', // h'00' and h'01'
      'a2 20 00 21 00', // -1 and -2
      'a2 61 40 00 40 00', // "@" and h'' (the text's content is the bytes' whole encoding)
      'a2 41 01 00 81 01 00', // h'01' and [1] (same content, different heads)
      'a2 41 80 00 41 81 00', // h'80' and h'81' (neither is UTF-8: compared as bytes, not as text)
    ])
      expect(() => check(ok), ok).not.toThrow();
  });

  it('nesting is bounded at 32 levels, through arrays, tags, map values and map keys', () => {
    const nested = (open: string, close: string, n: number) => `${open.repeat(n)}00${close.repeat(n)}`;
    for (const [open, close] of [
      ['81', ''],
      ['c1', ''],
      ['a100', ''],
      ['a1', '00'],
    ]) {
      expect(() => check(nested(open!, close!, 32)), `${open} × 32`).not.toThrow();
      refusedWith(nested(open!, close!, 33), 'nested deeper than 32');
    }
  });
});
