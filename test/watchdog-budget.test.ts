/**
 * The watchdog's time: one split of the invocation's remaining time, made at the start,
 * so that a slow decision cannot eat the time of the StopTask and the alerts after it,
 * and every ECS call ends inside that split.
 *
 * Lambda's remaining time is faked (a small budget, counted down by the real clock, or
 * the clock itself faked) so nothing here waits for a minute; the stalled registry and
 * the stalled ECS endpoint are real loopback sockets that accept and never answer.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, StopTaskCommand } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeAwsClients } from '../src/core/aws.js';
import { makeTaskStateChange } from '../src/handlers/task-state-change.js';
import { Runtime } from '../src/gate/runtime.js';
import { confirmedClaimsCache } from '../src/watchdog/scope.js';
import { logger } from '../src/core/observability.js';
import { compilePolicy } from '../src/policy/compile.js';
import { outcomeCache, type Gate } from '../src/gate/decide.js';
import type { Decision } from '../src/core/decision.js';
import { policySchema } from '../src/policy/schema.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { HandledTasks } from '../src/watchdog/handled-tasks.js';
import { AFTER_DECIDE_MS, StopTaskFailed, watchTask, type WatchdogDeps } from '../src/watchdog/watch-task.js';
import { generateKeyPair } from './support/cosign-signer.js';

const HEX = (i: number) => `sha256:${String(i).padStart(2, '0').repeat(32)}`;
const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster';
const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/demo-cluster/0123456789abcdef0123456789abcdef';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ecs-image-gate-alerts';
const key = generateKeyPair('p256');

/** A loopback server that accepts connections and never says a word. */
async function silentServer(): Promise<{ host: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function taskEvent(containers: { name: string; image: string; imageDigest?: string }[], lastStatus = 'PENDING') {
  return {
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    region: 'us-east-1',
    detail: {
      clusterArn: CLUSTER_ARN,
      taskArn: TASK_ARN,
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/batch:1',
      group: 'family:batch',
      lastStatus,
      desiredStatus: 'RUNNING',
      containers,
    },
  };
}

/** Lambda's clock: `ms` from now, counted down by the real clock, as Lambda does. */
function lambdaContext(ms: number) {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
}

const creds = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
const sns = new SNSClient(creds);
const eventBridge = new EventBridgeClient(creds);
const ssm = new SSMClient(creds);
const snsMock = mockClient(sns);
const ebMock = mockClient(eventBridge);

let silent: Awaited<ReturnType<typeof silentServer>>;
beforeAll(async () => {
  silent = await silentServer();
});
afterAll(async () => silent?.stop());

beforeEach(() => {
  snsMock.reset();
  ebMock.reset();
  snsMock.on(PublishCommand).resolves({ MessageId: 'm' });
  ebMock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map(() => ({ EventId: 'e' })),
  }));
  for (const level of ['info', 'warn', 'error'] as const)
    vi.spyOn(logger, level).mockImplementation((() => undefined) as never);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A gate whose every image lives in the silent registry. */
const clients = makeAwsClients();

function stalledGate(): Gate {
  const document = policySchema.parse({
    version: 1,
    mode: 'enforce',
    rules: [
      { name: 'batch', images: [`${silent.host}/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
    ],
  });
  return {
    policy: compilePolicy(
      { document, origin: 'test' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: process.cwd() }),
    ),
    registry: new RegistryClient({ registries: { [silent.host]: { insecure: true } } }),
    cache: outcomeCache(60_000, 100),
  };
}

describe('a decision that takes all its time', () => {
  it('ten containers on a registry that never answers: the task is stopped AND the alert is sent', async () => {
    const ecs = new ECSClient(creds);
    const ecsMock = mockClient(ecs);
    ecsMock.on(StopTaskCommand).resolves({});
    const gate = stalledGate();
    const handle = makeTaskStateChange(new Runtime({ ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default' }), {
      getGate: async () => gate,
      ecs,
      alertDeps: { sns, eventBridge, ssm },
      handled: new HandledTasks(),
    });
    const containers = Array.from({ length: 10 }, (_, i) => ({
      name: `job-${i}`,
      image: `${silent.host}/batch/job-${i}:v1`,
      imageDigest: HEX(i),
    }));

    const out = await handle(taskEvent(containers), lambdaContext(3_000));

    expect(out.decisions).toHaveLength(10);
    for (const d of out.decisions) expect(d).toMatchObject({ decision: 'deny', reason: 'TIMEOUT', mode: 'enforce' });
    expect(out.action).toBe('stopped');
    expect(ecsMock.commandCalls(StopTaskCommand)).toHaveLength(1);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    expect(out.alerts).toMatchObject({ sns: 'sent', eventBridge: 'sent' });
    ecsMock.restore();
  });

  it('leaves StopTask and the alerts the time reserved for them, however long the decision took (60 s invocation)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    const lambdaEnd = start + 60_000;
    const ecs = new ECSClient(creds);
    const ecsMock = mockClient(ecs);
    ecsMock.on(StopTaskCommand).resolves({});
    const alertBudgets: number[] = [];
    let decideDeadline = 0;
    const deps: WatchdogDeps = {
      ecs,
      // the decision uses every millisecond it was given
      decide: async (images, deadline) => {
        decideDeadline = deadline;
        vi.setSystemTime(deadline);
        return images.map(
          (i): Decision => ({
            container: i.container,
            image: i.image,
            digest: i.digest ?? null,
            decision: 'deny',
            reason: 'TIMEOUT',
            rule: 'batch',
            verifiedBy: [],
            detail: 'stalled',
            durationMs: deadline - start,
            mode: 'enforce',
            retryable: true,
          }),
        );
      },
      alert: async (_decisions, _ctx, timeoutMs) => {
        alertBudgets.push(timeoutMs);
        return {};
      },
      handled: new HandledTasks(),
      confirmedClaims: confirmedClaimsCache(),
      scope: 'standalone',
      remainingMs: () => lambdaEnd - Date.now(),
      logDecisions: () => undefined,
    };
    const containers = Array.from({ length: 10 }, (_, i) => ({
      name: `job-${i}`,
      image: `registry.example/batch/job-${i}:v1`,
      imageDigest: HEX(i),
    }));

    const out = await watchTask(taskEvent(containers), deps);

    expect(out.action).toBe('stopped');
    expect(decideDeadline).toBeLessThanOrEqual(lambdaEnd - AFTER_DECIDE_MS);
    expect(alertBudgets).toHaveLength(1);
    // the alerts keep seconds, not the 1 ms that computing "what is left" twice gave them
    expect(alertBudgets[0]).toBeGreaterThanOrEqual(AFTER_DECIDE_MS / 2);
    ecsMock.restore();
  });
});

describe('every ECS call carries an abort signal inside the budget', () => {
  it('passes an AbortSignal to DescribeServices, DescribeTasks and StopTask', async () => {
    const ecs = new ECSClient(creds);
    const ecsMock = mockClient(ecs);
    ecsMock.on(DescribeServicesCommand).resolves({ services: [] });
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [] });
    ecsMock.on(StopTaskCommand).resolves({});
    const deps: WatchdogDeps = {
      ecs,
      decide: async (images) =>
        images.map(
          (i): Decision => ({
            container: i.container,
            image: i.image,
            digest: null,
            decision: 'deny',
            reason: 'DIGEST_MISSING',
            rule: null,
            verifiedBy: [],
            detail: 'x',
            durationMs: 0,
            mode: 'enforce',
          }),
        ),
      alert: async () => ({}),
      handled: new HandledTasks(),
      confirmedClaims: confirmedClaimsCache(),
      scope: 'standalone',
      remainingMs: () => 30_000,
      logDecisions: () => undefined,
    };
    const event = taskEvent([{ name: 'app', image: 'registry.example/app:1' }], 'RUNNING');
    Object.assign(event.detail, { group: 'service:web', startedBy: 'ecs-svc/1' });
    expect((await watchTask(event, deps)).action).toBe('stopped');
    for (const command of [DescribeServicesCommand, DescribeTasksCommand, StopTaskCommand]) {
      const calls = ecsMock.commandCalls(command as never);
      expect(calls, command.name).toHaveLength(1);
      expect((calls[0]!.args as unknown[])[1], command.name).toMatchObject({ abortSignal: expect.any(AbortSignal) });
    }
    ecsMock.restore();
  });

  it('an ECS endpoint that never answers: DescribeTasks and StopTask are abandoned in time, the failed stop is alerted and thrown', async () => {
    // the real SDK client against a stand-in endpoint: only the abort signal can end these calls
    const ecs = new ECSClient({ ...creds, endpoint: `http://${silent.host}`, maxAttempts: 1 });
    const gate = stalledGate();
    const handle = makeTaskStateChange(new Runtime({ ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default' }), {
      getGate: async () => gate,
      ecs,
      alertDeps: { sns, eventBridge, ssm },
      handled: new HandledTasks(),
    });
    const event = taskEvent([{ name: 'app', image: `${silent.host}/batch/app:v1` }], 'RUNNING');

    const error = await handle(event, lambdaContext(3_000)).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(StopTaskFailed);
    const summary = (error as StopTaskFailed).summary;
    expect(summary.action).toBe('stop-failed');
    expect(summary.why).not.toContain('\n');
    expect(summary.decisions[0]).toMatchObject({ decision: 'deny', reason: 'TIMEOUT' });
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
    expect(vi.mocked(logger.warn).mock.calls.some(([m]) => String(m).startsWith('ecs:DescribeTasks failed ('))).toBe(
      true,
    );
  });
});
