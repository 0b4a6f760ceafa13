/**
 * What the decision cache and the concurrency limiter promise, each pinned by a test
 * that fails when the promise is broken: a verified answer is reused only for the same
 * policy, rule, repository and digest; and no more than `concurrency` images are
 * verified at once.
 */
import { describe, expect, it } from 'vitest';
import type { VerifierVerdict, Verifier, VerifyContext } from '../src/core/verifier.js';
import { decide, type Gate, outcomeCache } from '../src/gate/decide.js';
import { compilePolicy, type VerifierFactories } from '../src/policy/compile.js';
import { validate } from '../src/policy/load.js';
import type { PolicyInput } from '../src/policy/schema.js';

const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const D1 = `sha256:${'1'.repeat(64)}`;
const soon = () => Date.now() + 5_000;

/** Counts calls and what it was asked about; passes, or fails for the digests in `bad`. */
class CountingVerifier implements Verifier {
  readonly seen: string[] = [];
  active = 0;
  peak = 0;
  constructor(
    readonly description: string,
    private readonly delayMs = 0,
  ) {}
  async verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    this.seen.push(`${ctx.target.ref.repository}@${ctx.target.digest}`);
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      return { ok: true, by: this.description };
    } finally {
      this.active--;
    }
  }
}

function compile(doc: Partial<PolicyInput>, verifier: Verifier) {
  const document = validate({ version: 1, ...doc }, 'test');
  const factories: VerifierFactories = {
    cosign: () => verifier,
    notation: () => verifier,
    awsSigner: () => verifier,
    notationCli: () => verifier,
  };
  return compilePolicy({ document, origin: 'test' }, factories);
}

const rule = (name: string, images: string[], key = 'k1') => ({
  name,
  images,
  verifiers: [{ type: 'cosign' as const, publicKey: key }],
});

describe('the decision cache key', () => {
  it('serves a verified answer again for the same policy, rule, repository and digest', async () => {
    const v = new CountingVerifier('v');
    const cache = outcomeCache(60_000, 100);
    const gate: Gate = { policy: compile({ rules: [rule('app', [`${ECR}/app/**`])] }, v), registry: noRegistry, cache };
    const image = { container: 'c', image: `${ECR}/app/web:1`, digest: D1 };
    await decide([image], gate, { deadline: soon() });
    await decide([image], gate, { deadline: soon() });
    expect(v.seen).toHaveLength(1);
  });

  it('never serves an answer made under another policy (a key rotated in the document)', async () => {
    const v = new CountingVerifier('v');
    const cache = outcomeCache(60_000, 100);
    const image = { container: 'c', image: `${ECR}/app/web:1`, digest: D1 };
    const before: Gate = {
      policy: compile({ rules: [rule('app', [`${ECR}/app/**`], 'old')] }, v),
      registry: noRegistry,
      cache,
    };
    const after: Gate = {
      policy: compile({ rules: [rule('app', [`${ECR}/app/**`], 'new')] }, v),
      registry: noRegistry,
      cache,
    };
    expect(before.policy.hash).not.toBe(after.policy.hash);
    await decide([image], before, { deadline: soon() });
    await decide([image], after, { deadline: soon() });
    expect(v.seen).toHaveLength(2);
  });

  it('never serves an answer from another repository with the same digest', async () => {
    const v = new CountingVerifier('v');
    const gate: Gate = {
      policy: compile({ rules: [rule('app', [`${ECR}/**`])] }, v),
      registry: noRegistry,
      cache: outcomeCache(60_000, 100),
    };
    await decide([{ container: 'a', image: `${ECR}/app/web:1`, digest: D1 }], gate, { deadline: soon() });
    await decide([{ container: 'b', image: `${ECR}/other/web:1`, digest: D1 }], gate, { deadline: soon() });
    expect(v.seen).toEqual([`app/web@${D1}`, `other/web@${D1}`]);
  });

  it('never serves an answer made under another rule of the same policy', async () => {
    const v = new CountingVerifier('v');
    const policy = compile({ rules: [rule('strict', [`${ECR}/app/prod/**`]), rule('loose', [`${ECR}/app/**`])] }, v);
    const gate: Gate = { policy, registry: noRegistry, cache: outcomeCache(60_000, 100) };
    const [strict] = await decide([{ container: 'a', image: `${ECR}/app/prod/web:1`, digest: D1 }], gate, {
      deadline: soon(),
    });
    const [loose] = await decide([{ container: 'b', image: `${ECR}/app/web:1`, digest: D1 }], gate, {
      deadline: soon(),
    });
    expect([strict!.rule, loose!.rule]).toEqual(['strict', 'loose']);
    expect(v.seen).toHaveLength(2);
  });
});

describe('the concurrency limiter', () => {
  it('verifies at most `concurrency` images at once, and every image is decided', async () => {
    const v = new CountingVerifier('v', 20);
    const gate: Gate = {
      policy: compile({ rules: [rule('app', [`${ECR}/**`])] }, v),
      registry: noRegistry,
      cache: outcomeCache(60_000, 100),
    };
    const images = Array.from({ length: 12 }, (_, i) => ({
      container: `c${i}`,
      image: `${ECR}/app/web${i}:1`,
      digest: `sha256:${i.toString(16).padStart(64, '0')}`,
    }));
    const decisions = await decide(images, gate, { deadline: soon(), concurrency: 3 });
    expect(decisions.map((d) => d.reason)).toEqual(images.map(() => 'VERIFIED'));
    expect(v.peak).toBe(3);
    expect(v.seen).toHaveLength(12);
  });
});

/** The verifiers here fetch nothing; a repository that is asked anything fails the test. */
const noRegistry: Gate['registry'] = {
  repository: () =>
    new Proxy({} as ReturnType<Gate['registry']['repository']>, {
      get: (_, name) => {
        throw new Error(`no registry call expected (${String(name)})`);
      },
    }),
};
