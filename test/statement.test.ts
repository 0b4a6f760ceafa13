/**
 * The in-toto statement rules one by one (src/verify/cosign/statement.ts): what makes a
 * DSSE payload a statement, and a statement a cosign signature of one image digest.
 * Each case breaks exactly one rule; pinned by mutation testing (README "Mutation testing").
 */
import { describe, expect, it } from 'vitest';
import {
  COSIGN_SIGN_PREDICATE,
  IN_TOTO_PAYLOAD_TYPE,
  type InTotoStatement,
  isCosignSignatureFor,
  namesDigest,
  parseStatement,
  subjectDigests,
} from '../src/verify/cosign/statement.js';

const HEX = 'a'.repeat(64);
const D = `sha256:${HEX}`;
const good = {
  _type: 'https://in-toto.io/Statement/v1',
  predicateType: COSIGN_SIGN_PREDICATE,
  subject: [{ name: 'app', digest: { sha256: HEX } }],
  predicate: { note: 'x' },
};
const parse = (doc: unknown, type = IN_TOTO_PAYLOAD_TYPE) =>
  parseStatement(type, Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));

function statement(over: Partial<InTotoStatement> = {}): InTotoStatement {
  const s = parse(good);
  if (typeof s === 'string') throw new Error(s);
  return { ...s, ...over };
}

describe('parseStatement', () => {
  it('reads a statement with any spacing, keeping type, predicateType, subjects and predicate', () => {
    expect(parse(JSON.stringify(good, null, 2))).toEqual({
      type: 'https://in-toto.io/Statement/v1',
      predicateType: COSIGN_SIGN_PREDICATE,
      subject: good.subject,
      predicate: { note: 'x' },
    });
    expect(parse({ ...good, _type: 'https://in-toto.io/Statement/v0.1' })).toMatchObject({
      type: 'https://in-toto.io/Statement/v0.1',
    });
  });

  it('refuses each broken rule with its own reason', () => {
    expect(parse(good, 'application/vnd.dsse+json')).toBe(
      'DSSE payload type is "application/vnd.dsse+json", not application/vnd.in-toto+json',
    );
    expect(parse('{not json')).toBe('the DSSE payload is not JSON');
    for (const notObject of ['null', '[]', '"s"', '1'])
      expect(parse(notObject)).toBe('the in-toto statement is not a JSON object');
    for (const _type of [undefined, 1, 'https://example.com/Statement/v1', 'in-toto.io/Statement/v1'])
      expect(parse({ ...good, _type })).toBe('the payload is not an in-toto statement (_type)');
    for (const predicateType of [undefined, '', 7])
      expect(parse({ ...good, predicateType })).toBe('the in-toto statement has no predicateType');
    const noSubject = 'the in-toto statement has no valid subject list';
    for (const subject of [
      undefined,
      { digest: { sha256: HEX } },
      [null],
      [[]],
      [{ name: 'app' }],
      [{ digest: null }],
      [{ digest: [HEX] }],
      [{ digest: { sha256: 1 } }],
      [{ digest: { sha256: HEX } }, { digest: { sha512: {} } }],
    ])
      expect(parse({ ...good, subject })).toBe(noSubject);
  });

  it('accepts an empty subject list (it then names no digest)', () => {
    const s = parse({ ...good, subject: [] });
    expect(s).toMatchObject({ subject: [] });
    expect(namesDigest(s as InTotoStatement, D)).toBe(false);
  });
});

describe('namesDigest and isCosignSignatureFor', () => {
  it('matches the algorithm and hex of one subject, hex case-insensitively in the statement', () => {
    expect(namesDigest(statement(), D)).toBe(true);
    const upper = statement({ subject: [{ digest: { sha256: HEX.toUpperCase() } }] });
    expect(namesDigest(upper, D)).toBe(true);
    const second = statement({ subject: [{ digest: { sha256: 'b'.repeat(64) } }, { digest: { sha256: HEX } }] });
    expect(namesDigest(second, D)).toBe(true);
  });

  it('does not match another digest, another algorithm, or a digest without algorithm or hex', () => {
    expect(namesDigest(statement(), `sha256:${'b'.repeat(64)}`)).toBe(false);
    expect(namesDigest(statement({ subject: [{ digest: { sha512: HEX } }] }), D)).toBe(false);
    for (const malformed of [HEX, `:${HEX}`, 'sha256:', ''])
      expect(namesDigest(statement({ subject: [{ digest: { '': HEX, sha256: '' } }] }), malformed)).toBe(false);
  });

  it('a cosign signature of this digest passes', () => {
    expect(isCosignSignatureFor(statement(), D)).toEqual({ ok: true });
  });

  it('an attestation (another predicateType) is not a signature, even of this digest', () => {
    const slsa = statement({ predicateType: 'https://slsa.dev/provenance/v1' });
    expect(isCosignSignatureFor(slsa, D)).toEqual({
      ok: false,
      reason: 'NOT_A_SIGNATURE',
      detail: 'an attestation (predicateType https://slsa.dev/provenance/v1), not a cosign signature',
    });
  });

  it('a signature of another digest is DIGEST_MISMATCH, naming what it signs', () => {
    const other = `sha256:${'b'.repeat(64)}`;
    expect(isCosignSignatureFor(statement(), other)).toEqual({
      ok: false,
      reason: 'DIGEST_MISMATCH',
      detail: `signs ${D}, not ${other}`,
    });
    const two = statement({ subject: [{ digest: { sha256: HEX, sha512: 'cd' } }] });
    expect(subjectDigests(two)).toEqual([D, 'sha512:cd']);
    expect(isCosignSignatureFor(two, other)).toMatchObject({ detail: `signs ${D}, sha512:cd, not ${other}` });
    expect(isCosignSignatureFor(statement({ subject: [] }), D)).toMatchObject({
      reason: 'DIGEST_MISMATCH',
      detail: `signs no digest, not ${D}`,
    });
  });
});
