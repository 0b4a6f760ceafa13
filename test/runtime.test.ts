/**
 * The gate a Lambda container keeps: built once, a policy in SSM read again after
 * POLICY_REFRESH_SECONDS, a changed policy never served a result cached under the old one,
 * and a failed refresh keeping the previous valid policy.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PolicyError } from '../src/policy/load.js';
import { Runtime } from '../src/gate/runtime.js';

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
});
