/**
 * Property tests (fast-check) for the parsers that take what users and ECS write: image
 * references, rule globs and the policy document. Whatever the input, each either gives
 * its result or its own error with a sentence: no other exception escapes, and garbage is
 * never read as something that would admit an image.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageReferenceError, parseReference, repositoryPath } from '../src/core/reference.js';
import { loadPolicy, MESSAGE_MAX, PolicyError } from '../src/policy/load.js';
import { compileGlob } from '../src/policy/match.js';

const noSsm = () => {
  throw new Error('no SSM expected');
};

const segment = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/);
const host = fc.oneof(
  fc.constant('123456789012.dkr.ecr.us-east-1.amazonaws.com'),
  fc.constant('ghcr.io'),
  fc.constant('127.0.0.1:5000'),
  fc.constant('localhost'),
);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
const digest = fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`);

describe('parseReference', () => {
  it('any string: a reference or an ImageReferenceError, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          const ref = parseReference(text);
          expect(ref.registry.length).toBeGreaterThan(0);
          expect(ref.repository.length).toBeGreaterThan(0);
        } catch (e) {
          expect(e).toBeInstanceOf(ImageReferenceError);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('a well-formed reference keeps its registry, repository, tag and digest', () => {
    fc.assert(
      fc.property(
        host,
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.option(tag),
        fc.option(digest),
        (h, path, t, d) => {
          const text = `${h}/${path.join('/')}${t ? `:${t}` : ''}${d ? `@${d}` : ''}`;
          const ref = parseReference(text);
          expect(ref.registry).toBe(h);
          expect(ref.repository).toBe(path.join('/'));
          expect(ref.tag).toBe(t ?? undefined);
          expect(ref.digest).toBe(d ?? undefined);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('a digest that is not sha256:<64 lowercase hex> is refused, never truncated or ignored', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }).filter((s) => !/^sha256:[a-f0-9]{64}$/.test(s)),
        (bad) => {
          expect(() => parseReference(`ghcr.io/acme/app@${bad}`)).toThrow(ImageReferenceError);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('rule globs', () => {
  it('any pattern compiles to a matcher that answers true or false for any path', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (pattern, path) => {
        expect(typeof compileGlob(pattern)(path)).toBe('boolean');
      }),
      { numRuns: 2_000 },
    );
  });

  it('a pattern without wildcards matches exactly itself', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((s) => !/[*?]/.test(s)),
        fc.string({ maxLength: 40 }),
        (p, other) => {
          const m = compileGlob(p);
          expect(m(p)).toBe(true);
          if (other !== p) expect(m(other)).toBe(false);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('* stays inside one path segment; ** crosses segments', () => {
    fc.assert(
      fc.property(host, fc.array(segment, { minLength: 2, maxLength: 4 }), (h, path) => {
        const full = `${h}/${path.join('/')}`;
        expect(compileGlob(`${h}/*`)(full)).toBe(false);
        expect(compileGlob(`${h}/**`)(full)).toBe(true);
        expect(compileGlob(`${h}/${path[0]}/**`)(full)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('a parsed reference matches the glob of its own registry/repository', () => {
    fc.assert(
      fc.property(host, fc.array(segment, { minLength: 1, maxLength: 3 }), (h, path) => {
        const ref = parseReference(`${h}/${path.join('/')}:1`);
        expect(compileGlob(repositoryPath(ref))(repositoryPath(ref))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

/** Keys the policy document does not have (a known key with a valid value would be a valid policy). */
const KNOWN = new Set([
  'version',
  'mode',
  'onError',
  'unmatched',
  'resolveTags',
  'registries',
  'allow',
  'rules',
  'overrides',
]);
const unknownKey = fc.string({ maxLength: 12 }).filter((k) => !KNOWN.has(k));

describe('policy loading', () => {
  it('any text as POLICY: a policy or a PolicyError with a bounded message, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 3 })), async (text) => {
        try {
          const loaded = await loadPolicy({ POLICY: text }, noSsm);
          expect(loaded.document.version).toBe(1);
        } catch (e) {
          expect(e).toBeInstanceOf(PolicyError);
          expect((e as Error).message.length).toBeLessThanOrEqual(MESSAGE_MAX + 100);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a document that parses but is not a valid policy is never loaded as one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .record({ version: fc.oneof(fc.constant(1), fc.integer(), fc.string()) }, { requiredKeys: [] })
          .chain((base) =>
            fc.dictionary(unknownKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((extra) => ({
              ...extra,
              ...base,
            })),
          ),
        async (doc) => {
          const valid = doc.version === 1 && Object.keys(doc).every((k) => k === 'version');
          try {
            await loadPolicy({ POLICY: JSON.stringify(doc) }, noSsm);
            // only {version: 1} (everything else default) may load; any unknown key is refused
            expect(valid).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(PolicyError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
