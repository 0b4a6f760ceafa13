/**
 * Policy overrides through the real hook: the scope is the revision's cluster and
 * service (from its ARN) and task family (from its task definition), and it applies to
 * every answer, error paths included.
 */
import { DescribeServiceRevisionsCommand } from '@aws-sdk/client-ecs';
import { PublishCommand } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { hookEvent, revisionArn, setupHookHarness, taskDefinitionArn } from './support/hook-harness.js';

const h = setupHookHarness();

const stagingAudits = () => h.policy({ overrides: [{ clusters: ['staging'], mode: 'audit' }] });

async function unsignedIn(cluster: string, opts: { taskDefinition?: string } = {}): Promise<void> {
  const digest = await h.push(`ov-${cluster}-${Math.random().toString(36).slice(2, 7)}`, false);
  h.revision([{ containerName: 'web', image: h.ref('x'), imageDigest: digest }], {
    arn: revisionArn(cluster, 'web'),
    ...opts,
  });
}

describe('overrides by cluster', () => {
  it('staging is audit-only: an unsigned image is SUCCEEDED, logged as an admitted deny and alerted', async () => {
    h.configure({ POLICY: stagingAudits() });
    await unsignedIn('staging');
    expect(await h.hook(hookEvent({ cluster: 'staging' }), h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(h.logged().some((l) => l.includes('DENIED (audit: admitted) SIGNATURE_MISSING'))).toBe(true);
    const published = h.sns.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(published[0]!.args[0].input.MessageAttributes?.mode?.StringValue).toBe('audit');
  });

  it('prod blocks the same image: FAILED', async () => {
    h.configure({ POLICY: stagingAudits() });
    await unsignedIn('prod');
    expect(await h.hook(hookEvent({ cluster: 'prod' }), h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.includes('DENIED SIGNATURE_MISSING'))).toBe(true);
  });

  it('applies to error paths: an unusable ECS answer is SUCCEEDED on staging, FAILED on prod', async () => {
    h.configure({ POLICY: stagingAudits() });
    h.ecs.on(DescribeServiceRevisionsCommand).resolves({
      serviceRevisions: [{ serviceRevisionArn: revisionArn('staging', 'web'), containerImages: 'x' }],
    } as never);
    expect(await h.hook(hookEvent({ cluster: 'staging' }), h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    h.ecs.reset();
    h.ecs.on(DescribeServiceRevisionsCommand).resolves({
      serviceRevisions: [{ serviceRevisionArn: revisionArn('prod', 'web'), containerImages: 'x' }],
    } as never);
    expect(await h.hook(hookEvent({ cluster: 'prod' }), h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('applies to ECS errors: onError allow on staging only', async () => {
    h.configure({
      POLICY: h.policy({ overrides: [{ clusters: ['staging'], onError: 'allow' }] }),
      HOOK_MAX_RETRIES: '0',
    });
    h.ecs.on(DescribeServiceRevisionsCommand).rejects(
      Object.assign(new Error('Service unavailable'), {
        name: 'ServerException',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    expect(await h.hook(hookEvent({ cluster: 'staging' }), h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(await h.hook(hookEvent({ cluster: 'prod' }), h.context())).toEqual({ hookStatus: 'FAILED' });
  });
});

describe('overrides by service and task family', () => {
  it('a task family taken from the revision task definition', async () => {
    h.configure({ POLICY: h.policy({ overrides: [{ taskFamilies: ['batch-*'], mode: 'audit' }] }) });
    await unsignedIn('prod', { taskDefinition: taskDefinitionArn('batch-nightly', 3) });
    expect(await h.hook(hookEvent({ cluster: 'prod' }), h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    h.ecs.reset();
    await unsignedIn('prod', { taskDefinition: taskDefinitionArn('web', 3) });
    expect(await h.hook(hookEvent({ cluster: 'prod' }), h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('a service taken from the revision ARN', async () => {
    h.configure({ POLICY: h.policy({ mode: 'audit', overrides: [{ services: ['web'], mode: 'enforce' }] }) });
    await unsignedIn('prod');
    expect(await h.hook(hookEvent({ cluster: 'prod' }), h.context())).toEqual({ hookStatus: 'FAILED' });
  });
});
