/**
 * When ECS establishes the digest (issue 11, "Hook timing"): ECS resolves a tag around
 * the revision's first task start, so at PRE_SCALE_UP a container may have no digest.
 * The gate then resolves the tag at the registry itself and verifies that digest; at
 * POST_SCALE_UP it verifies the digest ECS established. Real handler, real registry,
 * real signatures; ECS mocked.
 */
import {
  DescribeServiceDeploymentsCommand,
  DescribeServiceRevisionsCommand,
  DescribeTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { PublishCommand } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { hookEvent, setupHookHarness, taskDefinitionArn } from './support/hook-harness.js';

const h = setupHookHarness();
const pre = hookEvent({ stage: 'PRE_SCALE_UP' });
const post = hookEvent({ stage: 'POST_SCALE_UP' });

describe('a revision without digests at PRE_SCALE_UP', () => {
  it('resolves a signed tag at the registry, verifies that digest and says so: SUCCEEDED', async () => {
    const digest = await h.push('pre-signed', true);
    h.revision([{ containerName: 'web', image: h.ref('pre-signed') }]);
    h.taskDefinition([{ name: 'web' }]);
    expect(await h.hook(pre, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    const line = h.logged().find((l) => l.startsWith('web: '));
    expect(line).toContain(`@${digest} ALLOWED VERIFIED`);
    expect(line).toContain('digest resolved by the gate from tag pre-signed at the registry, not reported by ECS');
    // one DescribeTaskDefinition, on the revision's own task definition, to rule out versionConsistency: disabled
    expect(h.ecs.commandCalls(DescribeTaskDefinitionCommand).map((c) => c.args[0].input)).toEqual([
      { taskDefinition: taskDefinitionArn() },
    ]);
    // PRE_SCALE_UP comes before any traffic: no rollback question
    expect(h.ecs.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(0);
  });

  it('resolves an unsigned tag and denies it: FAILED, with an alert', async () => {
    const digest = await h.push('pre-unsigned', false);
    h.revision([{ containerName: 'web', image: h.ref('pre-unsigned') }]);
    h.taskDefinition([{ name: 'web', versionConsistency: 'enabled' }]);
    expect(await h.hook(pre, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(
      h.logged().some((l) => l.includes(`@${digest} DENIED SIGNATURE_MISSING`) && l.includes('resolved by the gate')),
    ).toBe(true);
    expect(h.sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('then verifies at POST_SCALE_UP the digest ECS established: SUCCEEDED, no task definition call', async () => {
    const digest = await h.push('established', true);
    h.revision([{ containerName: 'web', image: h.ref('established') }]);
    h.taskDefinition([{ name: 'web' }]);
    expect(await h.hook(pre, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    h.ecs.reset();
    h.revision([{ containerName: 'web', image: h.ref('established'), imageDigest: digest }]);
    expect(await h.hook(post, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(h.ecs.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(0);
    const line = h
      .logged()
      .filter((l) => l.startsWith('web: '))
      .at(-1);
    expect(line).toContain(`@${digest} ALLOWED VERIFIED`);
    expect(line).not.toContain('resolved by the gate');
  });

  it('fails at POST_SCALE_UP when the tag moved to an unsigned image between the stages', async () => {
    const signed = await h.push('moving', true);
    h.revision([{ containerName: 'web', image: h.ref('moving') }]);
    h.taskDefinition([{ name: 'web' }]);
    expect(await h.hook(pre, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    const moved = await h.push('moving', false);
    expect(moved).not.toBe(signed);
    h.ecs.reset();
    h.revision([{ containerName: 'web', image: h.ref('moving'), imageDigest: moved }]); // what ECS pulled
    expect(await h.hook(post, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.includes(`@${moved} DENIED SIGNATURE_MISSING`))).toBe(true);
  });

  it('verifies the digest ECS reports even when the tag now names another image', async () => {
    const signed = await h.push('ecs-pinned', true);
    await h.push('ecs-pinned', false); // the tag moved; ECS pinned the signed digest before
    h.revision([{ containerName: 'web', image: h.ref('ecs-pinned'), imageDigest: signed }]);
    expect(await h.hook(post, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
  });
});

describe('versionConsistency: disabled', () => {
  it('is DIGEST_MISSING (ECS pulls the tag at every start), and the decision says why', async () => {
    await h.push('floating', true);
    h.revision([{ containerName: 'web', image: h.ref('floating') }]);
    h.taskDefinition([{ name: 'web', versionConsistency: 'disabled' }]);
    expect(await h.hook(post, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(
      h
        .logged()
        .some(
          (l) => l.includes('DENIED DIGEST_MISSING') && l.includes('versionConsistency is disabled for this container'),
        ),
    ).toBe(true);
  });

  it('is resolved and verified when the policy sets resolveTags, without asking for the task definition', async () => {
    await h.push('floating-ok', true);
    h.configure({ POLICY: h.policy({ resolveTags: true }) });
    h.revision([{ containerName: 'web', image: h.ref('floating-ok') }]);
    h.taskDefinition([{ name: 'web', versionConsistency: 'disabled' }]);
    expect(await h.hook(post, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(h.ecs.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(0);
  });

  it('applies per container: the disabled one is denied, its sibling resolved', async () => {
    await h.push('sib-a', true);
    await h.push('sib-b', true);
    h.revision([
      { containerName: 'web', image: h.ref('sib-a') },
      { containerName: 'sidecar', image: h.ref('sib-b') },
    ]);
    h.taskDefinition([{ name: 'web' }, { name: 'sidecar', versionConsistency: 'disabled' }]);
    expect(await h.hook(pre, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.startsWith('web: ') && l.includes('ALLOWED VERIFIED'))).toBe(true);
    expect(h.logged().some((l) => l.startsWith('sidecar: ') && l.includes('DENIED DIGEST_MISSING'))).toBe(true);
  });

  it('when the task definition cannot be read, resolves the tag anyway and says so', async () => {
    await h.push('td-unknown', true);
    h.revision([{ containerName: 'web', image: h.ref('td-unknown') }]);
    h.ecs.on(DescribeTaskDefinitionCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: ecs:DescribeTaskDefinition'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    expect(await h.hook(pre, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    const line = h.logged().find((l) => l.startsWith('web: '));
    expect(line).toContain('ALLOWED VERIFIED');
    expect(line).toContain('versionConsistency unknown: ecs:DescribeTaskDefinition');
    expect(line).toContain('not authorized');
  });

  it('an unsigned image is still denied when the task definition cannot be read', async () => {
    await h.push('td-unknown-unsigned', false);
    h.revision([{ containerName: 'web', image: h.ref('td-unknown-unsigned') }]);
    h.ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { containerDefinitions: 'x' } } as never);
    expect(await h.hook(pre, h.context())).toEqual({ hookStatus: 'FAILED' });
  });
});

describe('stages', () => {
  it.each([
    'PRE_SCALE_UP',
    'POST_SCALE_UP',
    'RECONCILE_SERVICE',
    'POST_PRODUCTION_TRAFFIC_SHIFT',
    'PRE_FUTURE_STAGE_2031',
  ])('verifies at %s (an unknown stage is read, not refused)', async (stage) => {
    const digest = await h.push(`stage-${stage.toLowerCase()}`, false);
    h.revision([{ containerName: 'web', image: h.ref(`stage-${stage.toLowerCase()}`), imageDigest: digest }]);
    expect(await h.hook(hookEvent({ stage }), h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.ecs.commandCalls(DescribeServiceRevisionsCommand)).toHaveLength(1);
    expect(h.logged().some((l) => l.includes('DENIED SIGNATURE_MISSING'))).toBe(true);
  });

  it('admits a signed revision at an unknown stage', async () => {
    const digest = await h.push('stage-future-signed', true);
    h.revision([{ containerName: 'web', image: h.ref('stage-future-signed'), imageDigest: digest }]);
    expect(await h.hook(hookEvent({ stage: 'SOME_NEW_STAGE' }), h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
  });
});
