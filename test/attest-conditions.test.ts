/**
 * The attestation path language and operators (conditions.ts), the predicate-type short
 * names, and property tests: no input makes evaluation throw, and garbage never passes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Condition, conditionProblem, lookup, parsePath, type ConditionSpec } from '../src/policy/conditions.js';
import { PREDICATE_SHORT_NAMES, resolvePredicateType } from '../src/policy/predicate-types.js';

const statement = {
  _type: 'https://in-toto.io/Statement/v1',
  predicateType: 'https://slsa.dev/provenance/v0.2',
  subject: [{ name: 'app', digest: { sha256: 'ab' } }],
  predicate: {
    invocation: { 'builder.id': 'https://github.com/actions/runner', parameters: {} },
    materials: [{ uri: 'git+https://github.com/acme/app', digest: { sha1: 'deadbeef' } }],
    count: 3,
    text: '3',
    flag: true,
    nothing: null,
    'a]b': 'bracket',
  },
};

const evaluate = (spec: ConditionSpec) => new Condition(spec).evaluate(statement);

describe('path language', () => {
  it('dots, [N] and ["a.b"]', () => {
    expect(parsePath('predicate.materials[0].digest.sha1')).toEqual([
      { key: 'predicate' },
      { key: 'materials' },
      { index: 0 },
      { key: 'digest' },
      { key: 'sha1' },
    ]);
    expect(parsePath('predicate.invocation["builder.id"]')).toEqual([
      { key: 'predicate' },
      { key: 'invocation' },
      { key: 'builder.id' },
    ]);
    expect(parsePath('["a.b"][12]')).toEqual([{ key: 'a.b' }, { index: 12 }]);
    expect(parsePath('predicate["a]b"]')).toEqual([{ key: 'predicate' }, { key: 'a]b' }]);
    expect(parsePath('x["q\\"uote"]')).toEqual([{ key: 'x' }, { key: 'q"uote' }]);
  });

  it('follows them through a statement', () => {
    expect(evaluate({ path: 'predicate.materials[0].digest.sha1', equals: 'deadbeef' })).toEqual({ ok: true });
    expect(
      evaluate({ path: 'predicate.invocation["builder.id"]', equals: 'https://github.com/actions/runner' }),
    ).toEqual({ ok: true });
    expect(evaluate({ path: 'predicate["a]b"]', equals: 'bracket' })).toEqual({ ok: true });
    expect(evaluate({ path: 'subject[0].digest.sha256', equals: 'ab' })).toEqual({ ok: true });
  });

  it('refuses malformed paths with a reason', () => {
    for (const bad of [
      '',
      '.a',
      'a.',
      'a..b',
      'a[',
      'a[]',
      'a[-1]',
      'a[01]',
      'a[1',
      'a["x"',
      'a["x]',
      'a.[0]',
      'a]b',
      'a"b',
      'a["\\x"]',
      'a[0]b',
    ]) {
      expect(typeof parsePath(bad), bad).toBe('string');
    }
  });

  it('reaches only own members and array indexes: never prototypes or lengths', () => {
    const segs = (p: string) => parsePath(p) as Exclude<ReturnType<typeof parsePath>, string>;
    expect(lookup({}, segs('constructor'))).toEqual({ found: false });
    expect(lookup({}, segs('__proto__'))).toEqual({ found: false });
    expect(lookup({ a: [1, 2] }, segs('a.length'))).toEqual({ found: false });
    expect(lookup({ a: 'xyz' }, segs('a[0]'))).toEqual({ found: false });
    expect(lookup({ a: { 0: 'x' } }, segs('a[0]'))).toEqual({ found: false });
    expect(lookup({ a: [1, 2] }, segs('a[2]'))).toEqual({ found: false });
  });
});

describe('operators', () => {
  it('equals is type-strict', () => {
    expect(evaluate({ path: 'predicate.count', equals: 3 }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.count', equals: '3' })).toEqual({
      ok: false,
      path: 'predicate.count',
      expected: 'equals "3"',
      found: '3',
    });
    expect(evaluate({ path: 'predicate.text', equals: 3 }).ok).toBe(false);
    expect(evaluate({ path: 'predicate.flag', equals: true }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.flag', equals: 'true' }).ok).toBe(false);
    expect(evaluate({ path: 'predicate.missing', equals: 'x' })).toMatchObject({
      ok: false,
      found: 'nothing (absent)',
    });
  });

  it('regExp matches the whole string, and only strings', () => {
    expect(evaluate({ path: 'predicate.materials[0].uri', regExp: 'git\\+https://github\\.com/acme/.*' }).ok).toBe(
      true,
    );
    expect(evaluate({ path: 'predicate.materials[0].uri', regExp: 'github\\.com/acme' }).ok).toBe(false);
    expect(evaluate({ path: 'predicate.materials[0].uri', regExp: 'x|git.*' }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.materials[0].uri', regExp: 'git.*|x' }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.count', regExp: '3' }).ok).toBe(false);
  });

  it('oneOf is type-strict too', () => {
    expect(evaluate({ path: 'predicate.text', oneOf: ['1', '2', '3'] }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.count', oneOf: ['3'] })).toMatchObject({ ok: false, expected: 'one of ["3"]' });
  });

  it('exists true and false (null exists)', () => {
    expect(evaluate({ path: 'predicate.count', exists: true }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.nothing', exists: true }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.missing', exists: true })).toMatchObject({ ok: false, expected: 'exists' });
    expect(evaluate({ path: 'predicate.missing', exists: false }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.count', exists: false })).toMatchObject({
      ok: false,
      expected: 'absent',
      found: '3',
    });
  });

  it('min and max on numbers, combined; on a non-number the condition fails', () => {
    expect(evaluate({ path: 'predicate.count', min: 3, max: 3 }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.count', min: 4 })).toMatchObject({ ok: false, expected: 'a number ≥ 4' });
    expect(evaluate({ path: 'predicate.count', max: 2 })).toMatchObject({
      ok: false,
      expected: 'a number ≤ 2',
      found: '3',
    });
    expect(evaluate({ path: 'predicate.text', max: 10 })).toMatchObject({ ok: false, found: '"3"' });
    expect(evaluate({ path: 'predicate.flag', min: 0 }).ok).toBe(false);
    expect(evaluate({ path: 'predicate.nothing', max: 0 }).ok).toBe(false);
    expect(evaluate({ path: 'predicate.missing', max: 0 }).ok).toBe(false);
  });

  it('all operators of a condition must hold', () => {
    expect(evaluate({ path: 'predicate.text', equals: '3', regExp: '[0-9]' }).ok).toBe(true);
    expect(evaluate({ path: 'predicate.text', equals: '3', regExp: '[a-z]' }).ok).toBe(false);
  });

  it('a spec without operator, with an invalid regex, or min above max is a problem', () => {
    expect(conditionProblem({ path: 'a' })).toMatch(/needs at least one of equals, regExp, oneOf, exists, min, max/);
    expect(conditionProblem({ path: 'a', regExp: '(' })).toMatch(/not a valid regular expression/);
    expect(conditionProblem({ path: 'a', min: 2, max: 1 })).toMatch(/min 2 is above max 1/);
    expect(conditionProblem({ path: 'a..b', exists: true })).toMatch(/invalid path/);
    expect(conditionProblem({ path: 'a', exists: false, equals: 1 })).toMatch(/exists: false cannot be combined/);
    expect(() => new Condition({ path: 'a' })).toThrow();
  });
});

describe('predicate types', () => {
  it("maps cosign's short names exactly, passes URIs, refuses other short names", () => {
    expect(PREDICATE_SHORT_NAMES).toEqual({
      slsaprovenance: 'https://slsa.dev/provenance/v0.2',
      slsaprovenance1: 'https://slsa.dev/provenance/v1',
      spdx: 'https://spdx.dev/Document',
      spdxjson: 'https://spdx.dev/Document',
      cyclonedx: 'https://cyclonedx.org/bom',
      vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
      openvex: 'https://openvex.dev/ns',
      custom: 'https://cosign.sigstore.dev/attestation/v1',
    });
    expect(resolvePredicateType('https://example.com/p/v1')).toEqual({ uri: 'https://example.com/p/v1' });
    expect(resolvePredicateType('slsa')).toHaveProperty('problem');
    expect(resolvePredicateType('link')).toHaveProperty('problem');
    expect(resolvePredicateType('toString')).toHaveProperty('problem');
  });
});

describe('properties', () => {
  const json = fc.jsonValue({ maxDepth: 4 });

  it('the path parser never throws and what it accepts round-trips through lookup without throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.string({ unit: fc.constantFrom('a', 'b', '.', '[', ']', '"', '0', '1', '\\'), maxLength: 30 }),
        ),
        json,
        (path, doc) => {
          const parsed = parsePath(path);
          if (typeof parsed !== 'string') expect(() => lookup(doc, parsed)).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keys written as ["…"] always parse back to the same key', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 10 }), fc.nat({ max: 1000 })), { minLength: 1, maxLength: 6 }),
        (parts) => {
          const path = parts.map((p) => (typeof p === 'number' ? `[${p}]` : `[${JSON.stringify(p)}]`)).join('');
          expect(parsePath(path)).toEqual(parts.map((p) => (typeof p === 'number' ? { index: p } : { key: p })));
        },
      ),
    );
  });

  const scalar = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean());
  const spec = fc.record(
    {
      path: fc.constantFrom(
        'predicate.a',
        'predicate.a.b',
        'predicate.list[0]',
        'predicate["x.y"]',
        'subject[0].digest.sha256',
      ),
      equals: scalar,
      regExp: fc.constantFrom('.*', 'a+', '[0-9]+'),
      oneOf: fc.array(scalar, { minLength: 1, maxLength: 3 }),
      exists: fc.constant(true),
      min: fc.integer({ min: -5, max: 5 }),
      max: fc.integer({ min: 5, max: 10 }),
    },
    { requiredKeys: ['path'] },
  );

  it('evaluation never throws, whatever the statement', () => {
    fc.assert(
      fc.property(spec, fc.anything(), (s, doc) => {
        if (conditionProblem(s)) return;
        expect(() => new Condition(s).evaluate(doc)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });

  it('garbage never passes: a statement without the path fails every condition that asks for a value', () => {
    fc.assert(
      fc.property(
        spec,
        fc.oneof(
          fc.constant(null),
          fc.string(),
          fc.integer(),
          fc.array(json, { maxLength: 3 }),
          fc.dictionary(fc.constantFrom('b', 'c', 'predicates'), json),
        ),
        (s, garbage) => {
          if (conditionProblem(s)) return;
          // `predicate` is garbage: nothing under it can be found
          expect(new Condition(s).evaluate({ predicate: garbage }).ok).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
