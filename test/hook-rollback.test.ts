/**
 * Rollbacks (issue 11, "Rollback"): ECS re-runs the traffic-shift hooks when it rolls a
 * deployment back, and a rollback is never failed. Whether it is one is asked of ECS
 * (DescribeServiceDeployments on the event's resourceArn), not guessed from weights:
 * LINEAR and CANARY call PRODUCTION_TRAFFIC_SHIFT at every step, some with the new
 * revision at weight 0.
 */
import { readFileSync } from 'node:fs';
import { DescribeServiceDeploymentsCommand, DescribeServiceRevisionsCommand } from '@aws-sdk/client-ecs';
import { PublishCommand } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { deploymentArn, hookEvent, revisionArn, setupHookHarness } from './support/hook-harness.js';

const h = setupHookHarness();
const rollbackEvent = JSON.parse(readFileSync('events/hook-rollback-production-traffic-shift.json', 'utf8'));
const OLD_REVISION = revisionArn('demo-cluster', 'web', '8815502764390182640');
const weightZero = hookEvent({
  stage: 'PRODUCTION_TRAFFIC_SHIFT',
  productionTrafficWeights: { [revisionArn()]: 0, [OLD_REVISION]: 100 },
});

function deployment(fields: Record<string, unknown>, arn = deploymentArn()): void {
  h.ecs.on(DescribeServiceDeploymentsCommand, { serviceDeploymentArns: [deploymentArn()] }).resolves({
    serviceDeployments: [
      {
        serviceDeploymentArn: arn,
        targetServiceRevision: { arn: revisionArn() },
        sourceServiceRevisions: [{ arn: OLD_REVISION }],
        ...fields,
      },
    ],
    failures: [],
  } as never);
}

async function unsignedRevision(): Promise<void> {
  const digest = await h.push(`rb-${Math.random().toString(36).slice(2, 8)}`, false);
  h.revision([{ containerName: 'web', image: h.ref('x'), imageDigest: digest }]);
}

describe('a rollback confirmed by ECS', () => {
  it.each([
    [
      'status ROLLBACK_IN_PROGRESS',
      { status: 'ROLLBACK_IN_PROGRESS', rollback: { reason: 'Circuit breaker', startedAt: new Date() } },
    ],
    ['status ROLLBACK_REQUESTED', { status: 'ROLLBACK_REQUESTED' }],
    [
      'a rollback that deploys the target revision',
      { status: 'IN_PROGRESS', rollback: { reason: 'alarm', serviceRevisionArn: revisionArn() } },
    ],
  ])('is answered SUCCEEDED without asking for the revision or the registry (%s)', async (_, fields) => {
    deployment(fields);
    await unsignedRevision();
    expect(await h.hook(rollbackEvent, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(h.ecs.commandCalls(DescribeServiceDeploymentsCommand).map((c) => c.args[0].input)).toEqual([
      { serviceDeploymentArns: [deploymentArn()] },
    ]);
    expect(h.ecs.commandCalls(DescribeServiceRevisionsCommand)).toHaveLength(0);
    expect(h.sns.commandCalls(PublishCommand)).toHaveLength(0);
    expect(h.logged().some((l) => l.startsWith('rollback confirmed by ECS'))).toBe(true);
  });
});

describe('not a rollback: verified like any stage', () => {
  it('target at weight 0 in a deployment that is IN_PROGRESS (a LINEAR/CANARY step): unsigned → FAILED', async () => {
    deployment({ status: 'IN_PROGRESS' });
    await unsignedRevision();
    expect(await h.hook(weightZero, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.includes('DENIED SIGNATURE_MISSING'))).toBe(true);
  });

  it('the sample rollback event when ECS says the deployment is not rolling back: unsigned → FAILED', async () => {
    deployment({ status: 'IN_PROGRESS' });
    await unsignedRevision();
    expect(await h.hook(rollbackEvent, h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('a rollback object for another revision is not a confirmation', async () => {
    deployment({ status: 'IN_PROGRESS', rollback: { serviceRevisionArn: OLD_REVISION } });
    await unsignedRevision();
    expect(await h.hook(weightZero, h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('an answer about another deployment is not a confirmation', async () => {
    deployment({ status: 'ROLLBACK_IN_PROGRESS' }, deploymentArn('demo-cluster', 'other'));
    await unsignedRevision();
    expect(await h.hook(weightZero, h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('DescribeServiceDeployments failing (e.g. no permission) verifies: the safe default', async () => {
    h.ecs.on(DescribeServiceDeploymentsCommand).rejects(
      Object.assign(new Error('not authorized to perform ecs:DescribeServiceDeployments'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await unsignedRevision();
    expect(await h.hook(weightZero, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.includes('not a rollback, verifying') && l.includes('not authorized'))).toBe(true);
  });

  it('a wrongly shaped answer verifies', async () => {
    h.ecs.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: 'x' } as never);
    await unsignedRevision();
    expect(await h.hook(weightZero, h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('a signed revision at a traffic-shift step is SUCCEEDED after verification', async () => {
    deployment({ status: 'IN_PROGRESS' });
    const digest = await h.push('rb-signed', true);
    h.revision([{ containerName: 'web', image: h.ref('rb-signed'), imageDigest: digest }]);
    expect(await h.hook(weightZero, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(h.ecs.commandCalls(DescribeServiceRevisionsCommand)).toHaveLength(1);
  });

  it('an event without a service-deployment resourceArn cannot be a confirmed rollback', async () => {
    await unsignedRevision();
    const { resourceArn: _, ...withoutArn } = rollbackEvent;
    expect(await h.hook(withoutArn, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.ecs.commandCalls(DescribeServiceDeploymentsCommand)).toHaveLength(0);
  });
});
