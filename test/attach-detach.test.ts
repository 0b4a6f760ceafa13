/**
 * attach / detach / status against the stand-in ECS: only our hook changes, every
 * other hook and setting goes back as it was, nothing else is sent, a second run sends
 * nothing, and services that cannot run hooks are refused with the change to make.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ECSClient, UpdateServiceCommand, type Service } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { buildEstate, OTHER_HOOK, serveEstate, type Estate } from './support/ecs-estate.js';

const ecs = mockClient(ECSClient);
const cfn = mockClient(CloudFormationClient);
const FN = 'arn:aws:lambda:us-east-1:123456789012:function:ecs-image-gate-hook';
const ROLE = 'arn:aws:iam::123456789012:role/ecs-image-gate-HookInvokeRole';
const img = (n: number) => ({ repo: `app/img${n}`, tag: 'v1', digest: `sha256:${String(n).repeat(64).slice(0, 64)}` });
let estate: Estate;

beforeEach(() => {
  ecs.reset();
  cfn.reset();
  estate = buildEstate('registry.example.com', [img(1), img(2)], [img(3)]);
  serveEstate(ecs, estate, { throttle: { DescribeServices: 2 } });
  cfn.on(DescribeStacksCommand, { StackName: 'ecs-image-gate' }).resolves({
    Stacks: [
      {
        StackName: 'ecs-image-gate',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: 'HookFunctionArn', OutputValue: FN },
          { OutputKey: 'HookInvokeRoleArn', OutputValue: ROLE },
        ],
      },
    ],
  });
});

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: { AWS_REGION: 'us-east-1' } });
  return { code, out, err };
}

const service = (cluster: string, name: string): Service =>
  estate.services.get(cluster)!.find((s) => s.serviceName === name)!;
const updates = () => ecs.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input);
// svc-1 (BLUE_GREEN, with another team's hook), svc-4 (BLUE_GREEN, no hooks), svc-0 (ROLLING), svc-2 (CODE_DEPLOY): all in prod

describe('ecs-image-gate attach', () => {
  it('adds our hook after the existing one, keeps every other setting, and sends nothing else (ARNs from --stack)', async () => {
    const before = structuredClone(service('prod', 'svc-1').deploymentConfiguration!);
    const r = await run(['attach', '--cluster', 'prod', '--service', 'svc-1', '--stack', 'ecs-image-gate']);
    expect(r.code).toBe(0);
    expect(updates()).toHaveLength(1);
    const input = updates()[0]!;
    expect(Object.keys(input).sort()).toEqual(['cluster', 'deploymentConfiguration', 'service']);
    expect(input).not.toHaveProperty('forceNewDeployment');
    expect(input).not.toHaveProperty('taskDefinition');
    expect(input).not.toHaveProperty('desiredCount');
    const { lifecycleHooks, ...rest } = input.deploymentConfiguration!;
    const { lifecycleHooks: _old, ...restBefore } = before;
    expect(rest).toEqual(restBefore); // strategy, bake time, alarms, circuit breaker, percentages
    expect(lifecycleHooks).toEqual([
      OTHER_HOOK,
      { hookTargetArn: FN, roleArn: ROLE, lifecycleStages: ['PRE_SCALE_UP', 'POST_SCALE_UP'] },
    ]);
    expect(r.out[0]).toContain(
      `svc-1: attach ${FN} at PRE_SCALE_UP,POST_SCALE_UP (lifecycleHooks: 1 → 2, the others kept)`,
    );
  });

  it('is idempotent: a second attach sends nothing; new stages replace ours in place, never duplicate it', async () => {
    const args = ['attach', '--cluster', 'prod', '--service', 'svc-1,svc-4', '--function-arn', FN, '--role-arn', ROLE];
    expect((await run(args)).code).toBe(0);
    expect(updates()).toHaveLength(2);
    const again = await run(args);
    expect(again.code).toBe(0);
    expect(updates()).toHaveLength(2);
    expect(again.out).toEqual([
      'svc-1: already attached at PRE_SCALE_UP,POST_SCALE_UP: nothing to change',
      'svc-4: already attached at PRE_SCALE_UP,POST_SCALE_UP: nothing to change',
    ]);
    expect(
      (
        await run([
          ...args.slice(0, 5).concat(['svc-1']),
          '--function-arn',
          FN,
          '--role-arn',
          ROLE,
          '--stages',
          'PRE_SCALE_UP',
        ])
      ).code,
    ).toBe(0);
    expect(service('prod', 'svc-1').deploymentConfiguration!.lifecycleHooks).toEqual([
      OTHER_HOOK,
      { hookTargetArn: FN, roleArn: ROLE, lifecycleStages: ['PRE_SCALE_UP'] },
    ]);
  });

  it('refuses the CODE_DEPLOY and ROLLING services with the change to make, sends nothing for them, exit 1', async () => {
    const r = await run([
      'attach',
      '--cluster',
      'prod',
      '--service',
      'svc-2',
      '--service',
      'svc-0',
      '--service',
      'svc-4',
      '--function-arn',
      FN,
      '--role-arn',
      ROLE,
    ]);
    expect(r.code).toBe(1);
    expect(updates().map((u) => u.service)).toEqual(['svc-4']);
    const codeDeploy = r.out.find((l) => l.startsWith('svc-2:'))!;
    expect(codeDeploy).toContain('refused: the CODE_DEPLOY deployment controller does not run ECS lifecycle hooks');
    expect(codeDeploy).toContain(
      `aws ecs update-service --cluster prod --service svc-2 --deployment-controller type=ECS --deployment-configuration '{"strategy":"BLUE_GREEN","bakeTimeInMinutes":5}'`,
    );
    const rolling = r.out.find((l) => l.startsWith('svc-0:'))!;
    expect(rolling).toContain(
      'refused: the ROLLING strategy does not run lifecycle hooks (only BLUE_GREEN, LINEAR, CANARY do)',
    );
    expect(rolling).toContain(
      `aws ecs update-service --cluster prod --service svc-0 --deployment-configuration '{"strategy":"BLUE_GREEN"`,
    );
  });

  it('--dry-run prints the UpdateService it would send and sends nothing', async () => {
    const r = await run([
      'attach',
      '--dry-run',
      '--cluster',
      'prod',
      '--service',
      'svc-1',
      '--stack',
      'ecs-image-gate',
    ]);
    expect(r.code).toBe(0);
    expect(updates()).toHaveLength(0);
    const sent = JSON.parse(r.out[1]!.replace(/^ {2}would send UpdateService /, ''));
    expect(sent.deploymentConfiguration.lifecycleHooks).toHaveLength(2);
    expect(r.out.at(-1)).toBe('dry run: nothing was sent');
  });

  it('exits 2 on a usage or configuration error, before any change', async () => {
    expect((await run(['attach', '--cluster', 'prod', '--service', 'svc-1'])).code).toBe(2); // no ARNs
    expect((await run(['attach', '--cluster', 'prod', '--service', 'svc-1', '--function-arn', FN])).code).toBe(2); // no role
    expect(
      (
        await run([
          'attach',
          '--cluster',
          'prod',
          '--service',
          'svc-1',
          '--stack',
          'ecs-image-gate',
          '--stages',
          'PRE_SCALE_UP,SOMETIME',
        ])
      ).code,
    ).toBe(2);
    const missing = await run(['attach', '--cluster', 'prod', '--service', 'svc-1,nope', '--stack', 'ecs-image-gate']);
    expect(missing.code).toBe(2);
    expect(missing.err[0]).toContain('cluster prod: no active service nope');
    cfn
      .on(DescribeStacksCommand, { StackName: 'other' })
      .rejects(Object.assign(new Error('Stack with id other does not exist'), { name: 'ValidationError' }));
    expect((await run(['attach', '--cluster', 'prod', '--service', 'svc-1', '--stack', 'other'])).code).toBe(2);
    expect(updates()).toHaveLength(0);
  });
});

describe('ecs-image-gate detach', () => {
  it('removes only ours, keeps the other hook whole, and is idempotent', async () => {
    await run(['attach', '--cluster', 'prod', '--service', 'svc-1', '--stack', 'ecs-image-gate']);
    ecs.resetHistory();
    const r = await run(['detach', '--cluster', 'prod', '--service', 'svc-1', '--stack', 'ecs-image-gate']);
    expect(r.code).toBe(0);
    expect(updates()).toHaveLength(1);
    expect(updates()[0]!.deploymentConfiguration!.lifecycleHooks).toEqual([OTHER_HOOK]);
    expect(updates()[0]!.deploymentConfiguration!.bakeTimeInMinutes).toBe(10);
    const again = await run(['detach', '--cluster', 'prod', '--service', 'svc-1', '--stack', 'ecs-image-gate']);
    expect(again.out).toEqual(['svc-1: not attached: nothing to change']);
    expect(updates()).toHaveLength(1);
  });
});

describe('ecs-image-gate status', () => {
  it('lists every service (all pages) with hook attached or not, strategy and stages', async () => {
    await run([
      'attach',
      '--cluster',
      'prod',
      '--service',
      'svc-4',
      '--stack',
      'ecs-image-gate',
      '--stages',
      'PRE_SCALE_UP',
    ]);
    const r = await run(['status', '--cluster', 'prod', '--stack', 'ecs-image-gate']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^SERVICE\s+CONTROLLER\s+STRATEGY\s+HOOK\s+STAGES$/);
    expect(r.out).toHaveLength(1 + 15 + 1);
    expect(r.out.find((l) => l.startsWith('svc-4 '))).toMatch(/^svc-4\s+ECS\s+BLUE_GREEN\s+attached\s+PRE_SCALE_UP$/);
    expect(r.out.find((l) => l.startsWith('svc-1 '))).toMatch(/^svc-1\s+ECS\s+BLUE_GREEN\s+not attached\s+-$/);
    expect(r.out.find((l) => l.startsWith('svc-2 '))).toMatch(/^svc-2\s+CODE_DEPLOY\s+ROLLING\s+cannot run hooks\s+-$/);
    expect(r.out.at(-1)).toBe(`1 of 15 services in prod have the hook ${FN}`);
  });
});
