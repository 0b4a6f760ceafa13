/**
 * A policy that cannot be used is refused with one readable line: what is wrong and
 * where, quoting at most ECHO_MAX characters of the input, with non-printable
 * characters escaped, however large or hostile the document is.
 */
import { describe, expect, it } from 'vitest';
import { ECHO_MAX, loadPolicy, MESSAGE_MAX, PolicyError } from '../src/policy/load.js';

const noSsm = () => {
  throw new Error('no SSM in this test');
};

async function refusal(policy: string, env: Record<string, string> = {}): Promise<string> {
  const error = await loadPolicy({ POLICY: policy, ...env }, noSsm).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PolicyError);
  return (error as PolicyError).message;
}

/** The longest run of one character in a message: how much of a repeated input it echoes. */
const longestRun = (message: string, c: string) =>
  Math.max(0, ...(message.match(new RegExp(`${c}+`, 'g')) ?? []).map((r) => r.length));

describe('policy errors stay short and printable', () => {
  it('quotes at most 200 characters of a 9,000-character value, and still says what is wrong', async () => {
    const message = await refusal(`version: 1\nmode: ${'q'.repeat(9_000)}`);
    expect(message).toMatch(
      /^POLICY: mode: Invalid enum value\. Expected 'enforce' \| 'audit', received 'q{200}… \(8800 more characters\)'$/,
    );
    expect(longestRun(message, 'q')).toBe(ECHO_MAX);
  });

  it('cuts a long key in the path as well', async () => {
    const key = 'k'.repeat(1_000); // YAML allows implicit keys up to 1024 characters
    const message = await refusal(
      `version: 1\nrules:\n  - name: a\n    images: ["**"]\n    verifiers: [{type: cosign, ${key}: 1}]`,
    );
    expect(longestRun(message, 'k')).toBeLessThanOrEqual(ECHO_MAX);
    expect(message.length).toBeLessThan(1_000);
    expect(message).toMatch(/^POLICY: rules\.0\.verifiers\.0/);
  });

  it('escapes control characters instead of writing them into the log', async () => {
    const message = await refusal(`version: 1\nmode: "\\e[31mred\\u0000\\u2028x"`);
    expect(message).toContain("received '\\u001b[31mred\\u0000\\u2028x'");
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  });

  it('caps the whole message when there are many problems', async () => {
    const rules = Array.from(
      { length: 500 },
      (_, i) => `  - {name: r${i}, images: [], verifiers: [], bogus${i}: ${'z'.repeat(150)}}`,
    ).join('\n');
    const message = await refusal(`version: 1\nrules:\n${rules}`);
    expect(message.length).toBeLessThanOrEqual(MESSAGE_MAX + 60);
    expect(message).toMatch(/… \(message cut at 2000 characters\)$/);
  });

  it('leaves an ordinary message as it was', async () => {
    expect(await refusal('version: 1', { FAILURE_BEHAVIOR: 'BLOCK' })).toBe(
      'FAILURE_BEHAVIOR: "BLOCK" is not one of BLOCK_ON_FAILURE, LOG_ON_FAILURE',
    );
    expect(await refusal('version: 2')).toBe('POLICY: version: Invalid literal value, expected 1');
  });
});
