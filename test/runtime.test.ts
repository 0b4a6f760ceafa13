/**
 * The gate a Lambda container keeps: built once, a policy in SSM read again after
 * POLICY_REFRESH_SECONDS, a changed policy never served a result cached under the old one,
 * and a failed refresh keeping the previous valid policy.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { logger } from '../src/core/observability.js';
import { VerifierError } from '../src/core/verifier.js';
import type { VerifierFactories } from '../src/policy/compile.js';
import { PolicyError } from '../src/policy/load.js';
import { defaultTrustDir, Runtime } from '../src/gate/runtime.js';

const ssm = mockClient(SSMClient);
const doc = (mode: string) =>
  JSON.stringify({ version: 1, mode, allow: { repositories: ['docker.io/library/busybox'] } });

beforeEach(() => {
  ssm.reset();
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => vi.useRealTimers());

describe('runtime gate', () => {
  it('builds once and reuses the gate while the policy is fresh', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: doc('enforce') } });
    const env = { POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' };
    const runtime = new Runtime(env);
    const a = await runtime.gate();
    const b = await runtime.gate();
    expect(a).toBe(b);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
  });

  it('reads SSM again after the refresh interval and switches to an edited policy with a new hash', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .resolves({ Parameter: { Value: doc('audit') } });
    const env = { POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' };
    const runtime = new Runtime(env);
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    const after = await runtime.gate();
    expect(after.policy.document.mode).toBe('audit');
    expect(after.policy.hash).not.toBe(before.policy.hash);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('keeps the previous policy when a refresh fails, and reports a first failure', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .rejects(new Error('ThrottlingException'));
    const env = { POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' };
    const runtime = new Runtime(env);
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    expect(await runtime.gate()).toBe(before);

    // a new container (a cold start) has no previous policy to keep
    await expect(new Runtime(env).gate()).rejects.toBeInstanceOf(PolicyError);
  });

  it('never re-reads a policy given inline or as a file', async () => {
    const env = { POLICY: doc('enforce'), POLICY_REFRESH_SECONDS: '1' };
    const runtime = new Runtime(env);
    const a = await runtime.gate();
    vi.setSystemTime(Date.now() + 3_600_000);
    expect(await runtime.gate()).toBe(a);
  });

  it('reads the environment once, when the container starts: a later change is not seen', async () => {
    const env: Record<string, string | undefined> = {
      POLICY: doc('enforce'),
      ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:a',
    };
    const runtime = new Runtime(env);
    env.POLICY = doc('audit');
    env.ALERT_TOPIC_ARN = undefined;
    expect((await runtime.gate()).policy.document.mode).toBe('enforce');
    expect(runtime.alertDeps().channels?.topicArn).toBe('arn:aws:sns:us-east-1:1:a');
    // a new container reads the environment as it is now
    expect((await new Runtime(env).gate()).policy.document.mode).toBe('audit');
  });

  it('keeps one decision cache across policy refreshes (its key carries the policy hash)', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .resolves({ Parameter: { Value: doc('audit') } });
    const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    const after = await runtime.gate();
    expect(after).not.toBe(before);
    expect(after.cache).toBe(before.cache);
    expect(after.cache).toBe(runtime.outcomes);
  });

  it('reads SSM again exactly when the refresh interval has passed, not a millisecond later', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: doc('enforce') } });
    const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
    await runtime.gate();
    vi.setSystemTime(Date.now() + 59_999);
    await runtime.gate();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    vi.setSystemTime(Date.now() + 1);
    await runtime.gate();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('a refresh that reads the same policy keeps the same gate (and its registry client with its tokens)', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: doc('enforce') } });
    const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    expect(await runtime.gate()).toBe(before);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('after a failed refresh, the kept policy counts as fresh: SSM is not asked again at once, and it is logged', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .rejects(new Error('ThrottlingException'));
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    try {
      const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
      const before = await runtime.gate();
      vi.setSystemTime(Date.now() + 61_000);
      expect(await runtime.gate()).toBe(before);
      expect(await runtime.gate()).toBe(before);
      expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
      expect(error).toHaveBeenCalledWith(
        'policy refresh failed: keeping the previous policy in force',
        expect.objectContaining({ policyHash: before.policy.hash }),
      );
    } finally {
      error.mockRestore();
    }
  });

  it('a policy file edited after the start is not read again (only a policy in SSM is refreshed)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runtime-')), 'policy.json');
    writeFileSync(file, doc('enforce'));
    const runtime = new Runtime({ POLICY_FILE: file, POLICY_REFRESH_SECONDS: '1' });
    expect((await runtime.gate()).policy.document.mode).toBe('enforce');
    writeFileSync(file, doc('audit'));
    vi.setSystemTime(Date.now() + 3_600_000);
    expect((await runtime.gate()).policy.document.mode).toBe('enforce');
  });

  it('a verifier that cannot be built from the policy is a PolicyError naming where the policy came from', async () => {
    const refuse = () => {
      throw new VerifierError('POLICY_ERROR', 'publicKey is not a PEM key');
    };
    const factories = { cosign: refuse, notation: refuse, awsSigner: refuse, notationCli: refuse } as VerifierFactories;
    const policy = JSON.stringify({
      version: 1,
      rules: [{ name: 'app', images: ['registry.example.com/**'], verifiers: [{ type: 'cosign', publicKey: 'x' }] }],
    });
    const failure = new Runtime({ POLICY: policy }, { factories }).gate();
    await expect(failure).rejects.toBeInstanceOf(PolicyError);
    await expect(failure).rejects.toThrow(/^POLICY: publicKey is not a PEM key$/);
  });
});

describe('defaultTrustDir', () => {
  it('from a checkout (no /opt/trust layer), the nearest layers/trust above the module: the repository copy', () => {
    expect(defaultTrustDir()).toBe(resolve(import.meta.dirname, '..', 'layers', 'trust'));
  });
});
