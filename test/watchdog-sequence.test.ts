/**
 * The events ECS sends for one RunTask that names its image by tag, through the real
 * handler logic, the real decide() and cosign verifier, and a real registry (Debian's
 * docker-registry on loopback); ECS, SNS and EventBridge are mocked at the SDK.
 *
 * events/task-standalone-{provisioning,pending,running}.json are that sequence: no
 * digest at PROVISIONING (the containers do not exist yet), the digest from PENDING on
 * (the ECS agent reports it after pulling the manifest). Whatever the order and however
 * often EventBridge delivers them, a signed image is never stopped and an unsigned one
 * is stopped exactly once, from the first event that carries its digest.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, StopTaskCommand } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAlertBody } from '../src/alerts/index.js';
import { makeAwsClients } from '../src/core/aws.js';
import { makeTaskStateChange } from '../src/handlers/task-state-change.js';
import { Runtime } from '../src/gate/runtime.js';
import { logger } from '../src/core/observability.js';
import { compilePolicy } from '../src/policy/compile.js';
import { outcomeCache, type Gate } from '../src/gate/decide.js';
import { policySchema, type PolicyInput } from '../src/policy/schema.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { HandledTasks } from '../src/watchdog/handled-tasks.js';
import type { WatchAction, WatchSummary } from '../src/watchdog/watch-task.js';
import { generateKeyPair, signImage, type TestKeyPair } from './support/cosign-signer.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

const REPO = 'demo/app';
const ECR_IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/${REPO}`;
const PLACEHOLDER_UNSIGNED = 'sha256:6cc481b3f2e2335b347bb875f70209c1bfe0c1925a5414003e169e8626ea611e';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ecs-image-gate-alerts';

const STAGES = ['provisioning', 'pending', 'running'] as const;
type Stage = (typeof STAGES)[number];

let reg: TestRegistry;
let key: TestKeyPair;
const digests: Record<'signed' | 'unsigned', string> = { signed: '', unsigned: '' };

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry();
  key = generateKeyPair('p256');
  for (const tag of ['signed', 'unsigned'] as const) digests[tag] = (await reg.pushImage(REPO, tag)).digest;
  await signImage(reg, REPO, { digest: digests.signed }, key.privateKey);
});
afterAll(async () => reg?.stop());

/**
 * One of the sample events, for a RunTask of `${registry}/demo/app:${tag}`: the image is
 * moved to the test registry, and the digest (where ECS sends one) is that tag's.
 */
function stageEvent(stage: Stage, tag: 'signed' | 'unsigned'): Record<string, any> {
  const text = readFileSync(resolve(import.meta.dirname, '../events', `task-standalone-${stage}.json`), 'utf8');
  const event = JSON.parse(
    text
      .replaceAll(PLACEHOLDER_UNSIGNED, digests[tag])
      .replaceAll(`${ECR_IMAGE}:unsigned`, `${reg.host}/${REPO}:${tag}`),
  );
  return event;
}

function policy(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    version: 1,
    mode: 'enforce',
    rules: [
      { name: 'app', images: [`${reg.host}/demo/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
    ],
    registries: reg.settings,
    ...over,
  };
}

const clients = makeAwsClients();

function gateFor(input: PolicyInput): Gate {
  const document = policySchema.parse(input);
  return {
    policy: compilePolicy(
      { document, origin: 'test' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: process.cwd() }),
    ),
    registry: new RegistryClient({ registries: reg.settings }),
    cache: outcomeCache(60_000, 100),
  };
}

const creds = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
const ecs = new ECSClient(creds);
const sns = new SNSClient(creds);
const eventBridge = new EventBridgeClient(creds);
const ssm = new SSMClient(creds);
const ecsMock = mockClient(ecs);
const snsMock = mockClient(sns);
const ebMock = mockClient(eventBridge);
const context = { getRemainingTimeInMillis: () => 30_000 };

/** One Lambda container: one gate and one memory of handled tasks across the events. */
function watchdog(opts: { policy?: PolicyInput; env?: Record<string, string> } = {}) {
  const gate = gateFor(opts.policy ?? policy());
  return makeTaskStateChange(new Runtime({ ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default', ...opts.env }), {
    getGate: async () => gate,
    ecs,
    alertDeps: { sns, eventBridge, ssm },
    handled: new HandledTasks(),
  });
}

/** Runs the events in order through one watchdog; the action each one led to. */
async function run(events: Record<string, any>[], opts: Parameters<typeof watchdog>[0] = {}): Promise<WatchAction[]> {
  const handle = watchdog(opts);
  const actions: WatchAction[] = [];
  for (const event of events) actions.push((await handle(event, context)).action);
  return actions;
}

beforeEach(() => {
  ecsMock.reset();
  snsMock.reset();
  ebMock.reset();
  ecsMock.on(StopTaskCommand).resolves({});
  snsMock.on(PublishCommand).resolves({ MessageId: 'm' });
  ebMock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map(() => ({ EventId: 'e' })),
  }));
  for (const level of ['info', 'warn', 'error'] as const)
    vi.spyOn(logger, level).mockImplementation((() => undefined) as never);
});
afterEach(() => vi.restoreAllMocks());

const stops = () => ecsMock.commandCalls(StopTaskCommand).map((c) => c.args[0].input);
const publishes = () => snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);

/** Every order of the three events, each also with every event delivered twice. */
function orders(): { name: string; stages: Stage[] }[] {
  const permutations = (xs: Stage[]): Stage[][] =>
    xs.length <= 1
      ? [xs]
      : xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  return permutations([...STAGES]).flatMap((p) => [
    { name: p.join(' → '), stages: p },
    { name: `${p.join(' → ')}, each twice`, stages: p.flatMap((s) => [s, s]) },
  ]);
}

/** The action the first event with a digest must lead to; every other event is not-yet or duplicate. */
function expectedActions(stages: Stage[], decided: WatchAction): WatchAction[] {
  const first = stages.findIndex((s) => s !== 'provisioning');
  return stages.map((_s, i) => (i < first ? 'not-yet' : i === first ? decided : 'duplicate'));
}

describe('a RunTask of a signed image named by tag', () => {
  it.each(orders())('is never stopped: $name', async ({ stages }) => {
    const actions = await run(stages.map((s) => stageEvent(s, 'signed')));
    expect(actions).toEqual(expectedActions(stages, 'allowed'));
    expect(stops()).toHaveLength(0);
    expect(publishes()).toHaveLength(0);
    // the events carry the digest: no DescribeTasks, no DescribeServices (no service claim)
    expect(ecsMock.calls()).toHaveLength(0);
  });
});

describe('a RunTask of an unsigned image named by tag', () => {
  it('PROVISIONING without digest, then PENDING with it: not yet, then one StopTask from the PENDING event', async () => {
    const handle = watchdog();
    const provisioning = await handle(stageEvent('provisioning', 'unsigned'), context);
    expect(provisioning).toMatchObject({ action: 'not-yet', decisions: [] });
    expect(provisioning.why).toContain('container app has no digest yet at PROVISIONING');
    expect(stops()).toHaveLength(0);

    const pending = await handle(stageEvent('pending', 'unsigned'), context);
    expect(pending.action).toBe('stopped');
    expect(pending.decisions.map((d) => [d.container, d.digest, d.reason])).toEqual([
      ['app', digests.unsigned, 'SIGNATURE_MISSING'],
    ]);
    expect(pending.decisions[0]!.digestResolvedFromTag).toBeUndefined();
    expect(stops()).toEqual([
      {
        cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster',
        task: stageEvent('pending', 'unsigned').detail.taskArn,
        reason: `ecs-image-gate: app ${reg.host}/${REPO}:unsigned@${digests.unsigned} SIGNATURE_MISSING`,
      },
    ]);
    expect(publishes()).toHaveLength(1);

    expect((await handle(stageEvent('running', 'unsigned'), context)).action).toBe('duplicate');
    expect(stops()).toHaveLength(1);
  });

  it.each(orders())(
    'is stopped exactly once, from the first event that carries its digest: $name',
    async ({ stages }) => {
      const actions = await run(stages.map((s) => stageEvent(s, 'unsigned')));
      expect(actions).toEqual(expectedActions(stages, 'stopped'));
      expect(stops()).toHaveLength(1);
      expect(stops()[0]!.reason).toContain(`@${digests.unsigned} SIGNATURE_MISSING`);
      expect(publishes()).toHaveLength(1);
    },
  );

  it('is never stopped in audit mode, in any order, and alerted once', async () => {
    for (const { stages } of orders()) {
      snsMock.resetHistory();
      const actions = await run(
        stages.map((s) => stageEvent(s, 'unsigned')),
        { policy: policy({ mode: 'audit' }) },
      );
      expect(actions).toEqual(expectedActions(stages, 'audit-denied'));
      expect(publishes()).toHaveLength(1);
      expect(parseAlertBody(publishes()[0]!.Message!)).toMatchObject({ mode: 'audit', action: 'none (audit mode)' });
    }
    expect(stops()).toHaveLength(0);
  });

  it('is never stopped where an override of the policy sets audit for its cluster and task family', async () => {
    const overrides = [{ clusters: ['demo-*'], taskFamilies: ['demo-app'], mode: 'audit' as const }];
    const actions = await run(
      STAGES.map((s) => stageEvent(s, 'unsigned')),
      { policy: policy({ overrides }) },
    );
    expect(actions).toEqual(['not-yet', 'audit-denied', 'duplicate']);
    expect(stops()).toHaveLength(0);
    // the same override for another task family does not apply
    const other = [{ taskFamilies: ['nightly-*'], mode: 'audit' as const }];
    expect(
      await run(
        STAGES.map((s) => stageEvent(s, 'unsigned')),
        { policy: policy({ overrides: other }) },
      ),
    ).toEqual(['not-yet', 'stopped', 'duplicate']);
  });

  it('cannot choose the overrides of a service by claiming it in group (RunTask sets group freely)', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [], failures: [{ arn: 'web', reason: 'MISSING' }] });
    const overrides = [{ services: ['web'], mode: 'audit' as const }];
    for (const TASK_SCOPE of ['standalone', 'all']) {
      const events = STAGES.map((s) => {
        const e = stageEvent(s, 'unsigned');
        e.detail.group = 'service:web';
        e.detail.startedBy = 'ecs-svc/4720190362543219713';
        e.detail.taskArn = e.detail.taskArn.replace(/[0-9a-f]{4}$/, TASK_SCOPE === 'all' ? 'aaaa' : 'bbbb');
        return e;
      });
      expect(await run(events, { policy: policy({ overrides }), env: { TASK_SCOPE } })).toEqual([
        'not-yet',
        'stopped',
        'duplicate',
      ]);
    }
    expect(stops()).toHaveLength(2);
    expect(parseAlertBody(publishes()[0]!.Message!)!.note).toContain(
      "the policy's overrides for service web do not apply",
    );
  });
});

describe('a registry that never reports a digest (outside ECR)', () => {
  /** The sequence with no imageDigest in any event, and DescribeTasks knowing none either. */
  function withoutDigests(tag: 'signed' | 'unsigned'): Record<string, any>[] {
    const events = STAGES.map((s) => stageEvent(s, tag));
    for (const e of events) delete e.detail.containers[0].imageDigest;
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: [
        { taskArn: events[0]!.detail.taskArn, containers: [{ name: 'app', image: `${reg.host}/${REPO}:${tag}` }] },
      ],
    });
    return events;
  }

  it('waits until RUNNING, then the gate resolves the tag and verifies it: unsigned is stopped once, and the detail says who resolved it', async () => {
    const handle = watchdog();
    const summaries = [];
    for (const event of withoutDigests('unsigned')) summaries.push(await handle(event, context));
    expect(summaries.map((s) => s.action)).toEqual(['not-yet', 'not-yet', 'stopped']);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(1);
    const decision = summaries[2]!.decisions[0]!;
    expect(decision).toMatchObject({
      reason: 'SIGNATURE_MISSING',
      digest: digests.unsigned,
      digestResolvedFromTag: 'unsigned',
    });
    expect(decision.detail).toContain(
      'digest resolved by the gate from tag unsigned at the registry, not reported by ECS',
    );
    expect(stops()).toHaveLength(1);
    expect(stops()[0]!.reason).toBe(
      `ecs-image-gate: app ${reg.host}/${REPO}:unsigned@${digests.unsigned} SIGNATURE_MISSING`,
    );
    const alert = parseAlertBody(publishes()[0]!.Message!)!;
    expect(alert.note).toContain('ECS reported no digest for app by RUNNING');
    expect(alert.note).toContain('not one reported by ECS');
    expect(alert.denied[0]!.detail).toContain('not reported by ECS');
  });

  it('admits a signed image whose tag the gate resolved, and records that the gate resolved it', async () => {
    const handle = watchdog({ env: { DECISION_EVENTS: 'all' } });
    const actions: string[] = [];
    let last: WatchSummary | undefined;
    for (const event of withoutDigests('signed')) actions.push((last = await handle(event, context)).action);
    expect(actions).toEqual(['not-yet', 'not-yet', 'allowed']);
    expect(last!.decisions[0]).toMatchObject({
      reason: 'VERIFIED',
      digest: digests.signed,
      digestResolvedFromTag: 'signed',
    });
    expect(last!.decisions[0]!.detail).toContain('not reported by ECS');
    expect(stops()).toHaveLength(0);
    const detail = JSON.parse(ebMock.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.Detail!);
    expect(detail).toMatchObject({ decision: 'allow', reason: 'VERIFIED', digest: digests.signed });
    expect(detail.detail).toContain('not reported by ECS');
  });
});
