/**
 * Attestation conditions: a path into the signed in-toto statement and the operators
 * its value must satisfy.
 *
 * Path language: dot-separated keys, `[N]` for an array index, `["a.b"]` (a JSON
 * string) for a key that contains dots or brackets, e.g.
 * `predicate.materials[0].digest.sha1`, `predicate.invocation["builder.id"]`. A key
 * is looked up only as an object's own member and an index only in an array, so a
 * path can never reach `__proto__` or `length`.
 *
 * Operators, all of which must hold: `equals` (type-strict: "1" is not 1), `regExp`
 * (matches the whole string), `oneOf`, `exists` (true or false), `min` / `max`
 * (numbers only: on anything else the condition fails). Evaluation never throws: a
 * statement is attacker-supplied data, and a failure must read as a sentence.
 */
import { anchored } from './regex.js';

export type PathSegment = { key: string } | { index: number };
export type Scalar = string | number | boolean;

export interface ConditionSpec {
  path: string;
  equals?: Scalar | undefined;
  regExp?: string | undefined;
  oneOf?: Scalar[] | undefined;
  exists?: boolean | undefined;
  min?: number | undefined;
  max?: number | undefined;
}

export const OPERATORS = ['equals', 'regExp', 'oneOf', 'exists', 'min', 'max'] as const;

export type ConditionResult = { ok: true } | { ok: false; path: string; expected: string; found: string };

const MAX_PATH_LENGTH = 1000;
const MAX_SEGMENTS = 64;
const INDEX = /^(?:0|[1-9][0-9]{0,8})$/;

/** Parse a path; a string says what is wrong with it. */
export function parsePath(path: string): PathSegment[] | string {
  if (typeof path !== 'string' || !path) return 'the path is empty';
  if (path.length > MAX_PATH_LENGTH) return `the path is longer than ${MAX_PATH_LENGTH} characters`;
  const segments: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    if (segments.length >= MAX_SEGMENTS) return `the path has more than ${MAX_SEGMENTS} segments`;
    const ch = path[i];
    if (ch === '[') {
      const bracket = readBracket(path, i);
      if (typeof bracket === 'string') return bracket;
      segments.push(bracket.segment);
      i = bracket.next;
      continue;
    }
    if (segments.length > 0) {
      if (ch !== '.') return `expected "." or "[" at position ${i}`;
      i++;
    }
    const key = readKey(path, i);
    if (typeof key === 'string') return key;
    segments.push({ key: key.key });
    i = key.next;
  }
  return segments;
}

function readKey(path: string, start: number): { key: string; next: number } | string {
  let end = start;
  while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
  const key = path.slice(start, end);
  if (!key) return `empty key at position ${start} (write ["…"] for a key with dots)`;
  if (/[\]"]/.test(key)) return `key "${key.slice(0, 50)}" contains ] or " (write ["…"] for such a key)`;
  return { key, next: end };
}

/** `[N]` or `["key"]` starting at `start` (the "["). */
function readBracket(path: string, start: number): { segment: PathSegment; next: number } | string {
  if (path[start + 1] === '"') {
    let j = start + 2;
    while (j < path.length && path[j] !== '"') j += path[j] === '\\' ? 2 : 1;
    if (j >= path.length || path[j + 1] !== ']') return `unterminated ["…"] at position ${start}`;
    let key: unknown;
    try {
      key = JSON.parse(path.slice(start + 1, j + 1));
    } catch {
      return `["…"] at position ${start} is not a valid JSON string`;
    }
    return { segment: { key: key as string }, next: j + 2 };
  }
  const close = path.indexOf(']', start);
  const digits = close < 0 ? '' : path.slice(start + 1, close);
  if (!INDEX.test(digits)) return `expected [N] (an index) or ["key"] at position ${start}`;
  return { segment: { index: Number(digits) }, next: close + 1 };
}

type Lookup = { found: true; value: unknown } | { found: false };

/** Follow a parsed path through JSON data: own members of objects, indexes of arrays. */
export function lookup(root: unknown, segments: PathSegment[]): Lookup {
  let current: unknown = root;
  for (const segment of segments) {
    if ('index' in segment) {
      if (!Array.isArray(current) || segment.index >= current.length) return { found: false };
      current = current[segment.index];
    } else {
      if (
        typeof current !== 'object' ||
        current === null ||
        Array.isArray(current) ||
        !Object.hasOwn(current, segment.key)
      )
        return { found: false };
      current = (current as Record<string, unknown>)[segment.key];
    }
  }
  return current === undefined ? { found: false } : { found: true, value: current };
}

type Check = { expected: string; holds: (found: Lookup) => boolean };

/** A condition ready to evaluate; built only from a valid spec (the policy schema checks it). */
export class Condition {
  private readonly segments: PathSegment[];
  private readonly checks: Check[];

  constructor(readonly spec: ConditionSpec) {
    const problem = conditionProblem(spec);
    if (problem) throw new Error(`invalid condition on ${spec.path}: ${problem}`);
    this.segments = parsePath(spec.path) as PathSegment[];
    this.checks = compileChecks(spec);
  }

  /** Evaluate on a statement; never throws. */
  evaluate(root: unknown): ConditionResult {
    let found: Lookup;
    try {
      found = lookup(root, this.segments);
    } catch {
      found = { found: false };
    }
    for (const check of this.checks) {
      let holds = false;
      try {
        holds = check.holds(found);
      } catch {
        holds = false;
      }
      if (!holds) return { ok: false, path: this.spec.path, expected: check.expected, found: describeFound(found) };
    }
    return { ok: true };
  }
}

/** Why a condition spec cannot be evaluated (a policy error), or undefined. */
export function conditionProblem(spec: ConditionSpec): string | undefined {
  const path = parsePath(spec.path);
  if (typeof path === 'string') return `invalid path "${String(spec.path).slice(0, 100)}": ${path}`;
  const used = OPERATORS.filter((op) => spec[op] !== undefined);
  if (!used.length) return `a condition needs at least one of ${OPERATORS.join(', ')}`;
  if (spec.exists === false && used.length > 1) return 'exists: false cannot be combined with another operator';
  if (spec.regExp !== undefined) {
    try {
      anchored(spec.regExp);
    } catch {
      return `regExp ${JSON.stringify(spec.regExp)} is not a valid regular expression`;
    }
  }
  if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max)
    return `min ${spec.min} is above max ${spec.max}`;
  return undefined;
}

function compileChecks(spec: ConditionSpec): Check[] {
  const checks: Check[] = [];
  const present = (f: Lookup): f is { found: true; value: unknown } => f.found;
  if (spec.exists !== undefined) {
    const want = spec.exists;
    checks.push({ expected: want ? 'exists' : 'absent', holds: (f) => f.found === want });
  }
  if (spec.equals !== undefined) {
    const want = spec.equals;
    checks.push({ expected: `equals ${show(want)}`, holds: (f) => present(f) && f.value === want });
  }
  if (spec.regExp !== undefined) {
    const re = anchored(spec.regExp);
    checks.push({
      expected: `matches /${spec.regExp}/`,
      holds: (f) => present(f) && typeof f.value === 'string' && re.test(f.value),
    });
  }
  if (spec.oneOf !== undefined) {
    const options = spec.oneOf;
    checks.push({
      expected: `one of ${show(options)}`,
      holds: (f) => present(f) && options.some((o) => o === f.value),
    });
  }
  if (spec.min !== undefined) {
    const min = spec.min;
    checks.push({ expected: `a number ≥ ${min}`, holds: (f) => present(f) && isNumber(f.value) && f.value >= min });
  }
  if (spec.max !== undefined) {
    const max = spec.max;
    checks.push({ expected: `a number ≤ ${max}`, holds: (f) => present(f) && isNumber(f.value) && f.value <= max });
  }
  return checks;
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function describeFound(found: Lookup): string {
  return found.found ? show(found.value) : 'nothing (absent)';
}

/** A value as JSON, cut short: details are read in logs. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
