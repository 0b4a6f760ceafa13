import { describe, expect, it } from 'vitest';
import { compilePolicy, type VerifierFactories } from '../src/policy/compile.js';
import { decide, type Gate, outcomeCache } from '../src/gate/decide.js';
import { blocks, decisionLine } from '../src/core/decision.js';
import { validate } from '../src/policy/load.js';
import type { PolicyInput } from '../src/policy/schema.js';
import { RegistryError, type RepositoryClient } from '../src/core/registry.js';
import { VerifierError, type VerifierVerdict, type Verifier, type VerifyContext } from '../src/core/verifier.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

/** A verifier scripted per digest, counting its calls: decide() logic is what is under test here. */
class ScriptedVerifier implements Verifier {
  calls: string[] = [];
  constructor(
    readonly description: string,
    private readonly script: (ctx: VerifyContext) => Promise<VerifierVerdict>,
  ) {}
  verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    this.calls.push(ctx.target.digest);
    return this.script(ctx);
  }
}

const pass = (by: string) => async (): Promise<VerifierVerdict> => ({ ok: true, by });
const fail =
  (reason: Extract<VerifierVerdict, { ok: false }>['reason'], detail = 'nope') =>
  async (): Promise<VerifierVerdict> => ({ ok: false, reason, detail });

function gateWith(doc: Partial<PolicyInput>, verifiers: Verifier[], registry?: Partial<RepositoryClient>): Gate {
  const document = validate(
    {
      version: 1,
      rules: [
        {
          name: 'app',
          images: [`*.dkr.ecr.*.amazonaws.com/app/**`],
          require: 1,
          verifiers: verifiers.map(() => ({ type: 'cosign', publicKey: 'x' })),
        },
      ],
      ...doc,
    },
    'test',
  );
  let next = 0;
  const factories: VerifierFactories = {
    cosign: () => verifiers[next++]!,
    notation: () => {
      throw new Error('unused');
    },
    awsSigner: () => {
      throw new Error('unused');
    },
    notationCli: () => {
      throw new Error('unused');
    },
  };
  return {
    policy: compilePolicy({ document, origin: 'test' }, factories),
    registry: { repository: () => registry as RepositoryClient },
    cache: outcomeCache(60_000, 100),
  };
}

const soon = () => Date.now() + 5_000;

describe('decide()', () => {
  it('allows a verified image and names the rule and verifier', async () => {
    const gate = gateWith({}, [new ScriptedVerifier('cosign key sha256:ab12', pass('cosign key sha256:ab12'))]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1.2`, digest: D1 }], gate, {
      deadline: soon(),
    });
    expect(d).toMatchObject({
      decision: 'allow',
      reason: 'VERIFIED',
      rule: 'app',
      digest: D1,
      verifiedBy: ['cosign key sha256:ab12'],
    });
    expect(decisionLine(d!)).toContain(`web: ${ECR}/app/web:1.2@${D1} ALLOWED VERIFIED`);
  });

  it('verifies the digest ECS gave, not the tag', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    await decide([{ container: 'web', image: `${ECR}/app/web:latest`, digest: D2 }], gateWith({}, [v]), {
      deadline: soon(),
    });
    expect(v.calls).toEqual([D2]);
  });

  it('denies a reference whose pinned digest differs from what ECS reports', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web@${D1}`, digest: D2 }], gateWith({}, [v]), {
      deadline: soon(),
    });
    expect(d).toMatchObject({ decision: 'deny', reason: 'DIGEST_MISMATCH' });
    expect(v.calls).toEqual([]);
  });

  it('reports the failure a verifier gives, and blocks in enforce mode', async () => {
    const gate = gateWith({}, [new ScriptedVerifier('k', fail('SIGNATURE_MISSING', 'no cosign signature found'))]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_MISSING', mode: 'enforce' });
    expect(blocks(d!)).toBe(true);
    expect(decisionLine(d!)).toBe(
      `web: ${ECR}/app/web:1@${D1} DENIED SIGNATURE_MISSING, no cosign signature found, rule app`,
    );
  });

  it('in audit mode keeps the deny and its code but does not block', async () => {
    const gate = gateWith({ mode: 'audit' }, [new ScriptedVerifier('k', fail('SIGNATURE_INVALID'))]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_INVALID', mode: 'audit' });
    expect(blocks(d!)).toBe(false);
  });

  it('admits allow-listed images without calling a verifier', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const gate = gateWith({ allow: { prefixes: ['public.ecr.aws/aws-observability/'], digests: [D2] } }, [v]);
    const ds = await decide(
      [
        { container: 'log', image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2', digest: D1 },
        { container: 'web', image: `${ECR}/app/web:1`, digest: D2 },
      ],
      gate,
      { deadline: soon() },
    );
    expect(ds.map((d) => [d.decision, d.reason])).toEqual([
      ['allow', 'ALLOWLISTED'],
      ['allow', 'ALLOWLISTED'],
    ]);
    expect(v.calls).toEqual([]);
  });

  it('denies an image no rule matches unless unmatched is allow', async () => {
    const image = { container: 'x', image: 'docker.io/library/nginx:1', digest: D1 };
    const [denied] = await decide([image], gateWith({}, [new ScriptedVerifier('k', pass('k'))]), { deadline: soon() });
    expect(denied).toMatchObject({ decision: 'deny', reason: 'NO_MATCHING_RULE' });
    const [allowed] = await decide([image], gateWith({ unmatched: 'allow' }, [new ScriptedVerifier('k', pass('k'))]), {
      deadline: soon(),
    });
    expect(allowed).toMatchObject({ decision: 'allow', reason: 'UNMATCHED_ALLOWED' });
  });

  it('denies an image without digest as DIGEST_MISSING, unless tag resolution is on', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const image = { container: 'web', image: `${ECR}/app/web:1`, digest: null };
    const [missing] = await decide([image], gateWith({}, [v]), { deadline: soon() });
    expect(missing).toMatchObject({ decision: 'deny', reason: 'DIGEST_MISSING', rule: 'app' });
    const resolving = gateWith({ resolveTags: true }, [v], { resolveTag: async () => D2 });
    const [resolved] = await decide([image], resolving, { deadline: soon() });
    expect(resolved).toMatchObject({ decision: 'allow', reason: 'VERIFIED', digest: D2 });
  });

  it('resolves the tag when the caller asks (ECS has no digest yet) and says the gate chose the digest', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const gate = gateWith({}, [v], { resolveTag: async (tag: string) => (tag === '1' ? D2 : D1) });
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: null, resolveTag: true }], gate, {
      deadline: soon(),
    });
    expect(d).toMatchObject({ decision: 'allow', reason: 'VERIFIED', digest: D2, digestResolvedFromTag: '1' });
    expect(d!.detail).toContain('digest resolved by the gate from tag 1 at the registry, not reported by ECS');
    expect(v.calls).toEqual([D2]);
    const [withDigest] = await decide(
      [{ container: 'web', image: `${ECR}/app/web:1`, digest: D1, resolveTag: true }],
      gate,
      { deadline: soon() },
    );
    expect(withDigest!.digestResolvedFromTag).toBeUndefined();
    expect(v.calls).toEqual([D2, D1]);
  });

  it('a tag the gate resolved to an unsigned image is denied, naming the resolution', async () => {
    const gate = gateWith({}, [new ScriptedVerifier('k', fail('SIGNATURE_MISSING', 'no cosign signature found'))], {
      resolveTag: async () => D1,
    });
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, resolveTag: true }], gate, {
      deadline: soon(),
    });
    expect(d).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_MISSING', digest: D1, digestResolvedFromTag: '1' });
    expect(blocks(d!)).toBe(true);
  });

  it('overrides: the first matching scope sets mode and onError; others keep the document', async () => {
    const overrides = [
      { clusters: ['*staging*'], mode: 'audit' as const },
      { clusters: ['prod'], services: ['legacy-*'], onError: 'allow' as const },
    ];
    const image = { container: 'web', image: `${ECR}/app/web:1`, digest: D1 };
    const unsigned = () => gateWith({ overrides }, [new ScriptedVerifier('k', fail('SIGNATURE_MISSING'))]);
    const [staging] = await decide([image], unsigned(), {
      deadline: soon(),
      scope: { cluster: 'eu-staging-1', service: 'web' },
    });
    expect(staging).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_MISSING', mode: 'audit' });
    expect(blocks(staging!)).toBe(false);
    const [prod] = await decide([image], unsigned(), { deadline: soon(), scope: { cluster: 'prod', service: 'web' } });
    expect(prod).toMatchObject({ mode: 'enforce' });
    expect(blocks(prod!)).toBe(true);
    const [unknown] = await decide([image], unsigned(), { deadline: soon() });
    expect(blocks(unknown!)).toBe(true);
    const down = () =>
      gateWith({ overrides }, [
        new ScriptedVerifier('k', async () => Promise.reject(new RegistryError('UNAVAILABLE', '503', 503))),
      ]);
    const [legacy] = await decide([image], down(), {
      deadline: soon(),
      scope: { cluster: 'prod', service: 'legacy-api' },
    });
    expect(legacy).toMatchObject({ decision: 'allow', reason: 'REGISTRY_ERROR', mode: 'enforce' });
    const [other] = await decide([image], down(), { deadline: soon(), scope: { cluster: 'prod', service: 'web' } });
    expect(other).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR' });
  });

  it('refuses an override without a scope or without a setting', () => {
    expect(() => validate({ version: 1, overrides: [{ mode: 'audit' }] }, 'test')).toThrow(/at least one of clusters/);
    expect(() => validate({ version: 1, overrides: [{ clusters: ['*'] }] }, 'test')).toThrow(/mode or onError/);
  });

  it('turns registry errors into deny with the right code; onError: allow admits them in enforce mode', async () => {
    const down = () =>
      new ScriptedVerifier('k', async () =>
        Promise.reject(new RegistryError('UNAVAILABLE', 'registry answered 503', 503)),
      );
    const image = { container: 'web', image: `${ECR}/app/web:1`, digest: D1 };
    const [deny] = await decide([image], gateWith({}, [down()]), { deadline: soon() });
    expect(deny).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR', retryable: true });
    const [admitted] = await decide([image], gateWith({ onError: 'allow' }, [down()]), { deadline: soon() });
    expect(admitted).toMatchObject({ decision: 'allow', reason: 'REGISTRY_ERROR' });
    expect(admitted!.detail).toContain('onError is allow');
    const auth = new ScriptedVerifier('k', async () => Promise.reject(new RegistryError('AUTH', 'denied', 401)));
    const [authDeny] = await decide([image], gateWith({}, [auth]), { deadline: soon() });
    expect(authDeny).toMatchObject({ decision: 'deny', reason: 'REGISTRY_AUTH_FAILURE' });
    expect(authDeny!.retryable).toBeUndefined();
  });

  it('onError: allow never admits a registry answer that may be forged (wrong digest, over a cap)', async () => {
    const forged = new ScriptedVerifier('k', async () =>
      Promise.reject(new RegistryError('BAD_RESPONSE', 'blob sha256:… does not match its digest')),
    );
    const [d] = await decide(
      [{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }],
      gateWith({ onError: 'allow' }, [forged]),
      { deadline: soon() },
    );
    expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR' });
  });

  it('onError: allow never admits a bad signature', async () => {
    const gate = gateWith({ onError: 'allow' }, [new ScriptedVerifier('k', fail('SIGNATURE_INVALID'))]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_INVALID' });
  });

  it('maps a thrown programming error to INTERNAL_ERROR, a deny', async () => {
    const gate = gateWith({}, [new ScriptedVerifier('k', async () => Promise.reject(new TypeError('boom')))]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'INTERNAL_ERROR' });
  });

  it('never admits a verifier that reports INTERNAL_ERROR itself (e.g. NOTATION_PATH could not run), even with onError: allow', async () => {
    const gate = gateWith({ onError: 'allow' }, [
      new ScriptedVerifier('k', async () =>
        Promise.reject(new VerifierError('INTERNAL_ERROR', 'notation verify could not run: killed')),
      ),
    ]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'INTERNAL_ERROR' });
    expect(blocks(d!)).toBe(true);
  });

  it('never admits INTERNAL_ERROR, not even with onError: allow', async () => {
    const gate = gateWith({ onError: 'allow' }, [
      new ScriptedVerifier('k', async () => Promise.reject(new TypeError('boom'))),
    ]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'INTERNAL_ERROR' });
    expect(blocks(d!)).toBe(true);
  });

  it('answers TIMEOUT when the deadline passes, and never allows', async () => {
    const hang = new ScriptedVerifier('k', () => new Promise<VerifierVerdict>(() => {}));
    const [d] = await decide(
      [{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }],
      gateWith({ onError: 'deny' }, [hang]),
      {
        deadline: Date.now() + 50,
      },
    );
    expect(d).toMatchObject({ decision: 'deny', reason: 'TIMEOUT', retryable: true });
  });

  it('require: 2 needs two passing verifiers and says how many passed', async () => {
    const doc = {
      rules: [
        {
          name: 'app',
          images: ['**'],
          require: 2,
          verifiers: [
            { type: 'cosign' as const, publicKey: 'a' },
            { type: 'cosign' as const, publicKey: 'b' },
          ],
        },
      ],
    };
    const one = gateWith(doc, [
      new ScriptedVerifier('a', pass('a')),
      new ScriptedVerifier('b', fail('UNTRUSTED_SIGNER', 'signed by another key')),
    ]);
    const [d1] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], one, { deadline: soon() });
    expect(d1).toMatchObject({ decision: 'deny', reason: 'UNTRUSTED_SIGNER' });
    expect(d1!.detail).toContain('1 of required 2 passed');
    const both = gateWith(doc, [new ScriptedVerifier('a', pass('a')), new ScriptedVerifier('b', pass('b'))]);
    const [d2] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], both, {
      deadline: soon(),
    });
    expect(d2).toMatchObject({ decision: 'allow', verifiedBy: ['a', 'b'] });
  });

  it('prefers an error over a failure when the error could have made up the shortfall', async () => {
    const doc = {
      rules: [
        {
          name: 'app',
          images: ['**'],
          require: 1,
          verifiers: [
            { type: 'cosign' as const, publicKey: 'a' },
            { type: 'cosign' as const, publicKey: 'b' },
          ],
        },
      ],
    };
    const gate = gateWith(doc, [
      new ScriptedVerifier('a', fail('SIGNATURE_MISSING')),
      new ScriptedVerifier('b', async () => Promise.reject(new VerifierError('KEY_ERROR', 'KMS throttled', true))),
    ]);
    const [d] = await decide([{ container: 'web', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'KEY_ERROR', retryable: true });
  });

  it('verifies a digest once per decision and caches only VERIFIED across calls', async () => {
    const ok = new ScriptedVerifier('k', async () => {
      await new Promise((r) => setTimeout(r, 10));
      return { ok: true, by: 'k' };
    });
    const gate = gateWith({}, [ok]);
    const images = Array.from({ length: 10 }, (_, i) => ({
      container: `c${i}`,
      image: `${ECR}/app/web:1`,
      digest: D1,
    }));
    const first = await decide(images, gate, { deadline: soon() });
    expect(first.every((d) => d.reason === 'VERIFIED')).toBe(true);
    expect(ok.calls).toEqual([D1]);
    await decide(images.slice(0, 1), gate, { deadline: soon() });
    expect(ok.calls).toEqual([D1]);

    const missing = new ScriptedVerifier('k', fail('SIGNATURE_MISSING'));
    const g2 = gateWith({}, [missing]);
    await decide(images.slice(0, 1), g2, { deadline: soon() });
    await decide(images.slice(0, 1), g2, { deadline: soon() });
    expect(missing.calls).toEqual([D1, D1]);
  });

  it('gives a decision with a reason code for an unparseable image reference', async () => {
    const [d] = await decide(
      [{ container: 'web', image: 'NOT A REF', digest: D1 }],
      gateWith({}, [new ScriptedVerifier('k', pass('k'))]),
      {
        deadline: soon(),
      },
    );
    expect(d).toMatchObject({ decision: 'deny', reason: 'POLICY_ERROR' });
    expect(d!.detail).toContain('not an image reference');
  });

  it('refuses a digest that is not sha256:<64 hex> without asking a verifier', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const [d] = await decide(
      [{ container: 'web', image: `${ECR}/app/web:1`, digest: 'sha256:../../etc' }],
      gateWith({}, [v]),
      { deadline: soon() },
    );
    expect(d).toMatchObject({ decision: 'deny', reason: 'POLICY_ERROR' });
    expect(v.calls).toEqual([]);
  });
});

/**
 * Pins found by mutation testing (npm run mutate on src/gate/decide.ts): each test
 * fails for a mutant that survived the suite above. See README "Mutation testing".
 */
describe('decide(): what a user reads in the decision', () => {
  const image = (over: Partial<{ image: string; digest: string | null }> = {}) => ({
    container: 'web',
    image: `${ECR}/app/web:1`,
    digest: D1 as string | null,
    ...over,
  });

  it('says why: allow-list entry, unmatched path, pinned and reported digests, malformed digest', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const [listed] = await decide([image()], gateWith({ allow: { digests: [D1] } }, [v]), { deadline: soon() });
    expect(listed!.detail).toBe(`allow.digests entry ${D1}`);
    const nginx = image({ image: 'docker.io/library/nginx:1' });
    const [unmatched] = await decide([nginx], gateWith({}, [v]), { deadline: soon() });
    expect(unmatched!.detail).toBe('no rule matches docker.io/library/nginx and unmatched is deny');
    const [admitted] = await decide([nginx], gateWith({ unmatched: 'allow' }, [v]), { deadline: soon() });
    expect(admitted!.detail).toBe('no rule matches docker.io/library/nginx; unmatched is allow');
    const [mismatch] = await decide([image({ image: `${ECR}/app/web@${D1}`, digest: D2 })], gateWith({}, [v]), {
      deadline: soon(),
    });
    expect(mismatch!.detail).toBe(`ECS reports ${D2} but the reference pins ${D1}`);
    const [bad] = await decide([image({ digest: 'sha256:xyz' })], gateWith({}, [v]), { deadline: soon() });
    expect(bad!.detail).toContain('"sha256:xyz"');
    expect(v.calls).toEqual([]);
  });

  it('DIGEST_MISSING says whether a tag was there to resolve', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const [tagged] = await decide([image({ digest: null })], gateWith({}, [v]), { deadline: soon() });
    expect(tagged).toMatchObject({ decision: 'deny', reason: 'DIGEST_MISSING' });
    expect(tagged!.detail).toContain('no digest for tag 1');
    const bare = image({ image: `${ECR}/app/web`, digest: null });
    const [untagged] = await decide([bare], gateWith({ resolveTags: true }, [v]), { deadline: soon() });
    expect(untagged).toMatchObject({ decision: 'deny', reason: 'DIGEST_MISSING', rule: 'app' });
    expect(untagged!.detail).toBe('no digest and no tag in the image reference');
    expect(v.calls).toEqual([]);
  });

  it('a verified decision says how many verifiers passed; a deny lists no verifier', async () => {
    const [ok] = await decide([image()], gateWith({}, [new ScriptedVerifier('k', pass('k'))]), { deadline: soon() });
    expect(ok!.detail).toBe('1 of 1 verifiers passed (require 1)');
    const [no] = await decide([image()], gateWith({}, [new ScriptedVerifier('k', fail('SIGNATURE_MISSING'))]), {
      deadline: soon(),
    });
    expect(no!.verifiedBy).toEqual([]);
  });

  it('verifiers judge validity at the present time when the caller gives no clock', async () => {
    let seen: unknown;
    const v = new ScriptedVerifier('k', async (ctx) => {
      seen = ctx.now;
      return { ok: true, by: 'k' };
    });
    const before = Date.now();
    await decide([image()], gateWith({}, [v]), { deadline: soon() });
    expect(seen).toBeInstanceOf(Date);
    expect((seen as Date).getTime()).toBeGreaterThanOrEqual(before);
  });
});

describe('decide(): errors, onError and mode', () => {
  const image = { container: 'web', image: `${ECR}/app/web:1`, digest: D1 };
  const throwing = (e: unknown) => new ScriptedVerifier('k', async () => Promise.reject(e));

  it('a tag that cannot be resolved is a registry error on the rule, and no verifier runs', async () => {
    const v = new ScriptedVerifier('k', pass('k'));
    const gate = gateWith({}, [v], {
      resolveTag: async () => Promise.reject(new RegistryError('UNAVAILABLE', 'registry answered 503', 503)),
    });
    const [d] = await decide([{ ...image, digest: null, resolveTag: true }], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR', rule: 'app', retryable: true });
    expect(v.calls).toEqual([]);
  });

  it('a deadline TIMEOUT says so, and is admitted only under onError: allow (an outage)', async () => {
    const hang = () => new ScriptedVerifier('k', () => new Promise<VerifierVerdict>(() => {}));
    const [denied] = await decide([image], gateWith({}, [hang()]), { deadline: Date.now() + 50 });
    expect(denied).toMatchObject({ decision: 'deny', reason: 'TIMEOUT' });
    expect(denied!.detail).toBe('the decision did not finish before the deadline');
    const [admitted] = await decide([image], gateWith({ onError: 'allow' }, [hang()]), { deadline: Date.now() + 50 });
    expect(admitted).toMatchObject({ decision: 'allow', reason: 'TIMEOUT', retryable: true });
  });

  it('a verifier aborted by its signal (TimeoutError, AbortError) is TIMEOUT, retryable, admissible', async () => {
    for (const e of [
      new DOMException('signal timed out', 'TimeoutError'),
      Object.assign(new Error('aborted'), { name: 'AbortError' }),
    ]) {
      const [d] = await decide([image], gateWith({}, [throwing(e)]), { deadline: soon() });
      expect(d).toMatchObject({ decision: 'deny', reason: 'TIMEOUT', retryable: true });
      expect(d!.detail).toBe('the decision ran out of time');
      const [a] = await decide([image], gateWith({ onError: 'allow' }, [throwing(e)]), { deadline: soon() });
      expect(a).toMatchObject({ decision: 'allow', reason: 'TIMEOUT' });
    }
  });

  it('onError: allow admits a verifier KEY_ERROR but never a verifier POLICY_ERROR', async () => {
    const allow = { onError: 'allow' as const };
    const [key] = await decide([image], gateWith(allow, [throwing(new VerifierError('KEY_ERROR', 'KMS down'))]), {
      deadline: soon(),
    });
    expect(key).toMatchObject({ decision: 'allow', reason: 'KEY_ERROR' });
    const policyError = new VerifierError('POLICY_ERROR', 'trust policy names no trust store');
    const [policy] = await decide([image], gateWith(allow, [throwing(policyError)]), { deadline: soon() });
    expect(policy).toMatchObject({ decision: 'deny', reason: 'POLICY_ERROR' });
    expect(blocks(policy!)).toBe(true);
  });

  it('audit mode reports an admissible error as a deny even under onError: allow', async () => {
    const down = throwing(new RegistryError('UNAVAILABLE', 'registry answered 503', 503));
    const [d] = await decide([image], gateWith({ mode: 'audit', onError: 'allow' }, [down]), { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR', mode: 'audit' });
    expect(d!.detail).not.toContain('admitted');
  });

  it('INTERNAL_ERROR names what was thrown and is not retryable', async () => {
    const [d] = await decide([image], gateWith({}, [throwing(new TypeError('boom'))]), { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'INTERNAL_ERROR', detail: 'unexpected error: boom' });
    expect(d!.retryable).toBeUndefined();
    const [u] = await decide([image], gateWith({}, [throwing(undefined)]), { deadline: soon() });
    expect(u).toMatchObject({ decision: 'deny', reason: 'INTERNAL_ERROR', detail: 'unexpected error: undefined' });
  });

  it('a throw outside the verifiers (a broken registry access) is an INTERNAL_ERROR deny, even under onError: allow', async () => {
    const gate = gateWith({ onError: 'allow' }, [new ScriptedVerifier('k', pass('k'))]);
    gate.registry = {
      repository: () => {
        throw new TypeError('no client');
      },
    };
    const [d] = await decide([image], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'INTERNAL_ERROR', container: 'web', digest: null });
    expect(blocks(d!)).toBe(true);
  });

  it('when even the erroring verifiers could not make up the shortfall, the failure is reported', async () => {
    const doc = {
      rules: [
        {
          name: 'app',
          images: ['**'],
          require: 2,
          verifiers: [
            { type: 'cosign' as const, publicKey: 'a' },
            { type: 'cosign' as const, publicKey: 'b' },
            { type: 'cosign' as const, publicKey: 'c' },
          ],
        },
      ],
    };
    const gate = gateWith({ ...doc, onError: 'allow' }, [
      throwing(new RegistryError('UNAVAILABLE', 'registry answered 503', 503)),
      new ScriptedVerifier('b', fail('SIGNATURE_INVALID', 'bad signature')),
      new ScriptedVerifier('c', fail('SIGNATURE_MISSING')),
    ]);
    const [d] = await decide([image], gate, { deadline: soon() });
    expect(d).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_INVALID' });
    expect(d!.detail).toBe('bad signature (0 of required 2 passed)');
  });
});

describe('decide(): concurrency', () => {
  /** ten images with distinct digests, each verification held open for a few turns of the event loop */
  async function peak(concurrency: number | undefined): Promise<number> {
    let active = 0;
    let max = 0;
    const v = new ScriptedVerifier('k', async () => {
      max = Math.max(max, ++active);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      active--;
      return { ok: true, by: 'k' };
    });
    const images = Array.from({ length: 10 }, (_, i) => ({
      container: `c${i}`,
      image: `${ECR}/app/web:1`,
      digest: `sha256:${String(i).repeat(64)}`,
    }));
    const ds = await decide(images, gateWith({}, [v]), { deadline: soon(), concurrency });
    expect(ds.map((d) => d.reason)).toEqual(Array(10).fill('VERIFIED'));
    expect(v.calls).toHaveLength(10);
    return max;
  }

  it('verifies at most `concurrency` images at once, 8 by default', async () => {
    expect(await peak(2)).toBe(2);
    expect(await peak(1)).toBe(1);
    expect(await peak(undefined)).toBe(8);
  });
});
