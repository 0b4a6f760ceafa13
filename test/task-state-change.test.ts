/**
 * The task watchdog end to end, with the real decide() and the real cosign verifier
 * against an in-memory registry that holds one signed and one unsigned image; ECS,
 * SNS and EventBridge are mocked at the SDK. The events are events/task-*.json with
 * their placeholder digests replaced by the memory registry's real ones.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  StopTaskCommand,
  type DescribeServicesCommandOutput,
} from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAlertBody, type DecisionEventDetail } from '../src/alerts/index.js';
import { makeAwsClients } from '../src/core/aws.js';
import { lambdaHandler, makeTaskStateChange } from '../src/handlers/task-state-change.js';
import { logger } from '../src/core/observability.js';
import { compilePolicy } from '../src/policy/compile.js';
import { outcomeCache, type Gate } from '../src/gate/decide.js';
import { PolicyError } from '../src/policy/load.js';
import { policySchema, type PolicyInput } from '../src/policy/schema.js';
import { Runtime } from '../src/gate/runtime.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { HandledTasks } from '../src/watchdog/handled-tasks.js';
import { StopTaskFailed, type WatchSummary } from '../src/watchdog/watch-task.js';
import { generateKeyPair, signImage, type TestKeyPair } from './support/cosign-signer.js';
import { MemoryRegistry } from './support/memory-repo.js';

const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const REPO = 'demo/app';
const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ecs-image-gate-alerts';
// the placeholders written in events/task-*.json
const PLACEHOLDER_SIGNED = 'sha256:60eb1fe0f15b5d4810d70c0ac48f3f879d41581cfeb490bb74a981a37ea2c31c';
const PLACEHOLDER_UNSIGNED = 'sha256:6cc481b3f2e2335b347bb875f70209c1bfe0c1925a5414003e169e8626ea611e';

let reg: MemoryRegistry;
let key: TestKeyPair;
let signed: string;
let unsigned: string;

beforeAll(async () => {
  reg = new MemoryRegistry();
  key = generateKeyPair('p256');
  signed = (await reg.pushImage(REPO, 'signed')).digest;
  unsigned = (await reg.pushImage(REPO, 'unsigned')).digest;
  await signImage(reg, REPO, { digest: signed }, key.privateKey, { dockerReference: `${ECR}/${REPO}` });
});

/** An event from events/, with the registry's real digests in place of the placeholders. */
function loadEvent(name: string): Record<string, any> {
  const text = readFileSync(resolve(import.meta.dirname, '../events', `${name}.json`), 'utf8');
  return JSON.parse(text.replaceAll(PLACEHOLDER_SIGNED, signed).replaceAll(PLACEHOLDER_UNSIGNED, unsigned));
}

function policy(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    version: 1,
    mode: 'enforce',
    rules: [
      {
        name: 'app',
        images: ['*.dkr.ecr.*.amazonaws.com/demo/**'],
        verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }],
      },
    ],
    ...over,
  };
}

const clients = makeAwsClients();

function gateFor(input: PolicyInput): Gate {
  const document = policySchema.parse(input);
  const compiled = compilePolicy(
    { document, origin: 'test' },
    realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: process.cwd() }),
  );
  return {
    policy: compiled,
    registry: {
      repository(registry, repository) {
        // the watchdog must only ever ask for the registry the image names
        expect(registry).toBe(ECR);
        return reg.repository(repository);
      },
    },
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
const env = { ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default' };

function watchdog(
  opts: {
    policy?: PolicyInput;
    env?: Record<string, string>;
    handled?: HandledTasks;
    getGate?: () => Promise<Gate>;
  } = {},
) {
  const gate = gateFor(opts.policy ?? policy());
  return makeTaskStateChange(new Runtime({ ...env, ...opts.env }), {
    getGate: opts.getGate ?? (async () => gate),
    ecs,
    alertDeps: { sns, eventBridge, ssm },
    handled: opts.handled ?? new HandledTasks(),
  });
}

let logged: { error: unknown[][]; warn: unknown[][] };
beforeEach(() => {
  ecsMock.reset();
  snsMock.reset();
  ebMock.reset();
  ecsMock.on(StopTaskCommand).resolves({ task: { lastStatus: 'PENDING', desiredStatus: 'STOPPED' } });
  snsMock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
  ebMock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map((_, i) => ({ EventId: `ev-${i}` })),
  }));
  logged = { error: [], warn: [] };
  vi.spyOn(logger, 'error').mockImplementation(((...args: unknown[]) => void logged.error.push(args)) as never);
  vi.spyOn(logger, 'warn').mockImplementation(((...args: unknown[]) => void logged.warn.push(args)) as never);
  vi.spyOn(logger, 'info').mockImplementation((() => undefined) as never);
});
afterEach(() => vi.restoreAllMocks());

const stops = () => ecsMock.commandCalls(StopTaskCommand);
const publishes = () => snsMock.commandCalls(PublishCommand);
const eventEntries = () => ebMock.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries ?? []);

/** DescribeServices as ECS answers it for service web, deployment ecs-svc/4720190362543219713 running web:7. */
function describeWebService(): DescribeServicesCommandOutput {
  return {
    $metadata: {},
    failures: [],
    services: [
      {
        serviceName: 'web',
        serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/demo-cluster/web',
        clusterArn: CLUSTER_ARN,
        status: 'ACTIVE',
        deployments: [
          {
            id: 'ecs-svc/4720190362543219713',
            status: 'PRIMARY',
            taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:7',
            desiredCount: 2,
            runningCount: 1,
          },
        ],
      },
    ],
  };
}

describe('an unsigned standalone task', () => {
  it('is stopped exactly once, with a reason naming container, image and reason code', async () => {
    const event = loadEvent('task-standalone-unsigned');
    const out = await watchdog()(event, context);

    expect(out.action).toBe('stopped');
    expect(out.taskArn).toBe(event.detail.taskArn);
    expect(out.decisions.map((d) => [d.container, d.decision, d.reason])).toEqual([
      ['app', 'deny', 'SIGNATURE_MISSING'],
    ]);
    expect(stops()).toHaveLength(1);
    const stop = stops()[0]!.args[0].input;
    expect(stop.cluster).toBe(CLUSTER_ARN);
    expect(stop.task).toBe(event.detail.taskArn);
    expect(stop.reason).toBe(`ecs-image-gate: app ${ECR}/${REPO}:unsigned@${unsigned} SIGNATURE_MISSING`);
    expect(stop.reason!.length).toBeLessThanOrEqual(255);
    expect(out.stopReason).toBe(stop.reason);
  });

  it('is alerted once on SNS and once per deny on EventBridge, field by field', async () => {
    const event = loadEvent('task-standalone-unsigned');
    const taskArn: string = event.detail.taskArn;
    const taskId = taskArn.split('/').pop();
    await watchdog()(event, context);

    expect(publishes()).toHaveLength(1);
    const msg = publishes()[0]!.args[0].input;
    expect(msg.TopicArn).toBe(TOPIC);
    expect(msg.Subject).toBe('ecs-image-gate: DENIED SIGNATURE_MISSING app in demo-cluster');
    expect(msg.Subject!.length).toBeLessThanOrEqual(100);
    expect(msg.Message).toContain(`app: ${ECR}/${REPO}:unsigned@${unsigned} DENIED SIGNATURE_MISSING`);
    expect(msg.Message).toContain('Action taken: the task was stopped (ecs:StopTask).');
    const consoleUrl = `https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/demo-cluster/tasks/${taskId}/configuration?region=us-east-1`;
    const record = parseAlertBody(msg.Message!)!;
    expect(record).toMatchObject({
      source: 'task-watchdog',
      mode: 'enforce',
      action: 'task-stopped',
      severity: 'MEDIUM',
      region: 'us-east-1',
      cluster: 'demo-cluster',
      service: null,
      taskArn,
      consoleUrl,
      note: null,
    });
    expect(record.denied).toHaveLength(1);
    expect(record.denied[0]).toMatchObject({
      container: 'app',
      image: `${ECR}/${REPO}:unsigned`,
      digest: unsigned,
      decision: 'deny',
      reason: 'SIGNATURE_MISSING',
      severity: 'MEDIUM',
      rule: 'app',
    });
    expect(record.denied[0]!.detail).toMatch(/signature/i);

    const entries = eventEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      Source: 'ecs-image-gate',
      DetailType: 'Image Admission Decision',
      EventBusName: 'default',
      Resources: [taskArn],
    });
    const detail = JSON.parse(entries[0]!.Detail!) as DecisionEventDetail;
    expect(detail).toMatchObject({
      severity: 'MEDIUM',
      source: 'task-watchdog',
      mode: 'enforce',
      action: 'task-stopped',
      cluster: 'demo-cluster',
      taskArn,
      consoleUrl,
      container: 'app',
      image: `${ECR}/${REPO}:unsigned`,
      digest: unsigned,
      decision: 'deny',
      reason: 'SIGNATURE_MISSING',
      rule: 'app',
    });
  });

  it('is stopped before the alert is sent', async () => {
    const order: string[] = [];
    ecsMock.on(StopTaskCommand).callsFake(() => {
      order.push('stop');
      return {};
    });
    snsMock.on(PublishCommand).callsFake(() => {
      order.push('sns');
      return { MessageId: 'm' };
    });
    await watchdog()(loadEvent('task-standalone-unsigned'), context);
    expect(order).toEqual(['stop', 'sns']);
  });

  it('is never stopped in audit mode, but still alerted', async () => {
    const out = await watchdog({ policy: policy({ mode: 'audit' }) })(loadEvent('task-standalone-unsigned'), context);
    expect(out.action).toBe('audit-denied');
    expect(stops()).toHaveLength(0);
    expect(publishes()).toHaveLength(1);
    const msg = publishes()[0]!.args[0].input;
    expect(msg.Subject).toBe('ecs-image-gate: AUDIT DENIED SIGNATURE_MISSING app in demo-cluster');
    expect(parseAlertBody(msg.Message!)).toMatchObject({ mode: 'audit', action: 'none (audit mode)' });
    expect(JSON.parse(eventEntries()[0]!.Detail!)).toMatchObject({
      mode: 'audit',
      action: 'none (audit mode)',
      severity: 'MEDIUM',
    });
  });
});

describe('a signed standalone task', () => {
  it('runs: no StopTask, no alert', async () => {
    const out = await watchdog()(loadEvent('task-standalone-signed'), context);
    expect(out.action).toBe('allowed');
    expect(out.decisions.map((d) => [d.container, d.decision, d.reason])).toEqual([['app', 'allow', 'VERIFIED']]);
    expect(stops()).toHaveLength(0);
    expect(publishes()).toHaveLength(0);
    expect(eventEntries()).toHaveLength(0);
  });

  it('is reported as a decision event when DECISION_EVENTS=all', async () => {
    await watchdog({ env: { DECISION_EVENTS: 'all' } })(loadEvent('task-standalone-signed'), context);
    expect(publishes()).toHaveLength(0);
    expect(JSON.parse(eventEntries()[0]!.Detail!)).toMatchObject({
      decision: 'allow',
      reason: 'VERIFIED',
      severity: 'INFO',
      action: 'none (allowed)',
    });
  });
});

describe('service tasks and TASK_SCOPE', () => {
  it('skips a genuine service task under standalone scope, after DescribeServices confirms it', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(describeWebService());
    const out = await watchdog()(loadEvent('task-service'), context);
    expect(out.action).toBe('skipped');
    expect(out.why).toContain('service web (deployment ecs-svc/4720190362543219713)');
    const asked = ecsMock.commandCalls(DescribeServicesCommand)[0]!.args[0].input;
    expect(asked).toEqual({ cluster: CLUSTER_ARN, services: ['web'] });
    expect(out.decisions).toEqual([]);
    expect(stops()).toHaveLength(0);
  });

  it('asks DescribeServices once for many tasks of one deployment, but again for every doubtful claim', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(describeWebService());
    const run = watchdog();
    for (const id of ['11111111111111111111111111111111', '22222222222222222222222222222222']) {
      const event = loadEvent('task-service');
      event.detail.taskArn = `arn:aws:ecs:us-east-1:123456789012:task/demo-cluster/${id}`;
      expect((await run(event, context)).action).toBe('skipped');
    }
    expect(ecsMock.commandCalls(DescribeServicesCommand)).toHaveLength(1);
    const forged = loadEvent('task-forged-service');
    expect((await run(forged, context)).action).toBe('stopped');
    forged.detail.taskArn = 'arn:aws:ecs:us-east-1:123456789012:task/demo-cluster/33333333333333333333333333333333';
    expect((await run(forged, context)).action).toBe('stopped');
    expect(ecsMock.commandCalls(DescribeServicesCommand)).toHaveLength(3);
  });

  it('verifies a genuine service task under TASK_SCOPE=all, with its service confirmed by DescribeServices', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(describeWebService());
    const event = loadEvent('task-service');
    event.detail.containers[0].imageDigest = unsigned;
    const out = await watchdog({ env: { TASK_SCOPE: 'all' } })(event, context);
    expect(out.action).toBe('stopped');
    expect(ecsMock.commandCalls(DescribeServicesCommand)).toHaveLength(1);
    expect(out.decisions[0]).toMatchObject({ container: 'web', reason: 'SIGNATURE_MISSING' });
    expect(parseAlertBody(publishes()[0]!.args[0].input.Message!)).toMatchObject({ service: 'web', note: null });
  });

  it('verifies and stops a RunTask that forges group service:web and startedBy a real deployment id', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(describeWebService());
    const event = loadEvent('task-forged-service');
    expect(event.detail.group).toBe('service:web');
    expect(event.detail.startedBy).toBe('ecs-svc/4720190362543219713');
    const out = await watchdog()(event, context);
    expect(out.action).toBe('stopped');
    expect(stops()).toHaveLength(1);
    expect(stops()[0]!.args[0].input.reason).toContain('shell ');
    const record = parseAlertBody(publishes()[0]!.args[0].input.Message!)!;
    expect(record.note).toContain('claims to be a service task');
    expect(record.note).toContain(
      'runs arn:aws:ecs:us-east-1:123456789012:task-definition/web:7, not arn:aws:ecs:us-east-1:123456789012:task-definition/debug-shell:1',
    );
    expect(logged.warn.some(([m]) => String(m).includes('claims to be a service task'))).toBe(true);
  });

  it.each([
    [
      'the service does not exist',
      { $metadata: {}, services: [], failures: [{ arn: 'web', reason: 'MISSING' }] },
      'no active service web',
    ],
    [
      'the deployment id is unknown',
      (() => {
        const d = describeWebService();
        d.services![0]!.deployments![0]!.id = 'ecs-svc/1';
        return d;
      })(),
      'has no deployment ecs-svc/4720190362543219713',
    ],
  ])('verifies a claimed service task when %s', async (_, answer, why) => {
    ecsMock.on(DescribeServicesCommand).resolves(answer as DescribeServicesCommandOutput);
    const event = loadEvent('task-service');
    event.detail.containers[0].imageDigest = unsigned;
    const out = await watchdog()(event, context);
    expect(out.action).toBe('stopped');
    expect(parseAlertBody(publishes()[0]!.args[0].input.Message!)!.note).toContain(why);
  });

  it('verifies a claimed service task when DescribeServices fails (doubt never skips a check)', async () => {
    ecsMock
      .on(DescribeServicesCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const event = loadEvent('task-service');
    const out = await watchdog()(event, context);
    expect(out.action).toBe('allowed');
    expect(out.decisions[0]).toMatchObject({ reason: 'VERIFIED' });
  });

  it('accepts a task set (CODE_DEPLOY / EXTERNAL controller) as the deployment', async () => {
    const answer = describeWebService();
    const svc = answer.services![0]!;
    svc.taskSets = [
      { id: svc.deployments![0]!.id, taskDefinition: svc.deployments![0]!.taskDefinition, status: 'PRIMARY' },
    ];
    svc.deployments = [];
    ecsMock.on(DescribeServicesCommand).resolves(answer);
    expect((await watchdog()(loadEvent('task-service'), context)).action).toBe('skipped');
  });
});

describe('events that are not acted on', () => {
  it('ignores a STOPPED task without any AWS call', async () => {
    const out = await watchdog()(loadEvent('task-stopped'), context);
    expect(out).toMatchObject({ action: 'ignored', decisions: [] });
    expect(out.why).toContain('desiredStatus is STOPPED');
    expect(ecsMock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('rejects a malformed event with a clear logged error, and does not throw', async () => {
    const out = await watchdog()(loadEvent('task-malformed'), context);
    expect(out.action).toBe('rejected');
    expect(out.taskArn).toBeNull();
    expect(out.why).toContain('detail.clusterArn: must be an ECS cluster ARN');
    expect(out.why).toContain('detail.taskArn');
    expect(logged.error).toHaveLength(1);
    expect(String(logged.error[0]![0])).toMatch(/^not an ECS Task State Change event/);
    expect(ecsMock.calls()).toHaveLength(0);
    for (const bad of [null, 'text', 42, {}, { 'detail-type': 'ECS Task State Change', detail: 'x' }]) {
      expect((await watchdog()(bad, context)).action).toBe('rejected');
    }
  });
});

describe('once per task', () => {
  it('neither stops nor alerts twice for repeated events of one task', async () => {
    const handled = new HandledTasks();
    const run = watchdog({ handled });
    const provisioning = loadEvent('task-standalone-unsigned');
    provisioning.detail.lastStatus = 'PROVISIONING';
    const pending = loadEvent('task-standalone-unsigned');
    const first = await run(provisioning, context);
    const second = await run(pending, context);
    const third = await run(pending, context); // EventBridge may deliver the same event twice
    expect([first.action, second.action, third.action]).toEqual(['stopped', 'duplicate', 'duplicate']);
    expect(stops()).toHaveLength(1);
    expect(publishes()).toHaveLength(1);
    expect(eventEntries()).toHaveLength(1);
  });

  it('does not re-verify a signed task on its next event', async () => {
    const handled = new HandledTasks();
    const decideCalls: number[] = [];
    const gate = gateFor(policy());
    const run = watchdog({ handled, getGate: async () => (decideCalls.push(1), gate) });
    await run(loadEvent('task-standalone-signed'), context);
    const again = await run(loadEvent('task-standalone-signed'), context);
    expect(again.action).toBe('duplicate');
    expect(decideCalls).toHaveLength(1);
  });
});

describe('when sending or stopping fails', () => {
  it('an SNS failure still stops the task, and the alert is logged with its content', async () => {
    snsMock.on(PublishCommand).rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));
    const out = await watchdog()(loadEvent('task-standalone-unsigned'), context);
    expect(out.action).toBe('stopped');
    expect(stops()).toHaveLength(1);
    const failure = logged.error.find(([m]) => m === 'alert: sns not delivered');
    expect(failure).toBeDefined();
    const extra = failure![1] as { undelivered: { subject: string; body: string } };
    expect(extra.undelivered.subject).toBe('ecs-image-gate: DENIED SIGNATURE_MISSING app in demo-cluster');
    expect(extra.undelivered.body).toContain(`${ECR}/${REPO}:unsigned@${unsigned} DENIED SIGNATURE_MISSING`);
    expect(out.alerts).toMatchObject({ sns: 'failed', eventBridge: 'sent' });
  });

  it('a StopTask failure is alerted as stop-failed and thrown, and the retry stops the task', async () => {
    const handled = new HandledTasks();
    const run = watchdog({ handled });
    const event = loadEvent('task-standalone-unsigned');
    ecsMock.on(StopTaskCommand).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    const error = await run(event, context).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StopTaskFailed);
    const summary = (error as StopTaskFailed).summary;
    expect(summary.action).toBe('stop-failed');
    expect(summary.why).toContain('ThrottlingException');
    expect(publishes()[0]!.args[0].input.Subject).toBe(
      'ecs-image-gate: STOP FAILED SIGNATURE_MISSING app in demo-cluster',
    );
    expect(parseAlertBody(publishes()[0]!.args[0].input.Message!)!.action).toBe('stop-failed');
    expect(handled.get(event.detail.taskArn)).toBeUndefined();

    // EventBridge retries the invocation: verified again, stopped this time
    ecsMock.on(StopTaskCommand).resolves({});
    const retried = await run(event, context);
    expect(retried.action).toBe('stopped');
    expect(stops()).toHaveLength(2);
    expect(publishes()).toHaveLength(2);
    expect(handled.get(event.detail.taskArn)).toBe('stopped');
  });

  it('a policy that cannot be loaded denies with POLICY_ERROR: stopped in enforce, admitted with LOG_ON_FAILURE', async () => {
    const broken = async (): Promise<Gate> => {
      throw new PolicyError(
        'POLICY: rules.0.verifiers.0: a cosign verifier needs exactly one of publicKey, publicKeyFile, kmsKey',
      );
    };
    const enforce = await watchdog({ getGate: broken })(loadEvent('task-standalone-signed'), context);
    expect(enforce.action).toBe('stopped');
    expect(enforce.decisions[0]).toMatchObject({ reason: 'POLICY_ERROR', mode: 'enforce' });
    const audit = await watchdog({ getGate: broken, env: { FAILURE_BEHAVIOR: 'LOG_ON_FAILURE' } })(
      loadEvent('task-standalone-signed'),
      context,
    );
    expect(audit.action).toBe('audit-denied');
    expect(stops()).toHaveLength(1);
    expect(JSON.parse(eventEntries().at(-1)!.Detail!)).toMatchObject({
      reason: 'POLICY_ERROR',
      severity: 'LOW',
      mode: 'audit',
    });
  });
});

describe('digests', () => {
  it('does not decide, ask AWS or remember a task whose event has no imageDigest before RUNNING', async () => {
    const handled = new HandledTasks();
    for (const lastStatus of ['PROVISIONING', 'PENDING', 'ACTIVATING']) {
      const event = loadEvent('task-standalone-signed');
      event.detail.lastStatus = lastStatus;
      delete event.detail.containers[0].imageDigest;
      const out = await watchdog({ handled })(event, context);
      expect(out).toMatchObject({ action: 'not-yet', decisions: [] });
      expect(out.why).toContain(`container app has no digest yet at ${lastStatus}`);
    }
    expect(handled.size).toBe(0);
    expect(ecsMock.calls()).toHaveLength(0);
    expect(snsMock.calls()).toHaveLength(0);
  });

  it('at RUNNING without imageDigest asks DescribeTasks once, and verifies the digest ECS reports', async () => {
    const event = loadEvent('task-standalone-signed');
    event.detail.lastStatus = 'RUNNING';
    delete event.detail.containers[0].imageDigest;
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: [
        {
          taskArn: event.detail.taskArn,
          containers: [{ name: 'app', image: `${ECR}/${REPO}:signed`, imageDigest: signed }],
        },
      ],
    });
    const out = await watchdog()(event, context);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(1);
    expect(ecsMock.commandCalls(DescribeTasksCommand)[0]!.args[0].input).toEqual({
      cluster: CLUSTER_ARN,
      tasks: [event.detail.taskArn],
    });
    expect(out.action).toBe('allowed');
    expect(out.decisions[0]).toMatchObject({ digest: signed, reason: 'VERIFIED' });
    expect(out.decisions[0]!.digestResolvedFromTag).toBeUndefined();
  });

  it('at RUNNING with no digest anywhere, the gate resolves the tag, verifies that digest and says so (never the tag unverified)', async () => {
    const event = loadEvent('task-standalone-unsigned');
    event.detail.lastStatus = 'RUNNING';
    delete event.detail.containers[0].imageDigest;
    ecsMock.on(DescribeTasksCommand).rejects(new Error('boom'));
    const out = await watchdog()(event, context);
    expect(out.action).toBe('stopped');
    expect(out.decisions[0]).toMatchObject({
      reason: 'SIGNATURE_MISSING',
      digest: unsigned,
      digestResolvedFromTag: 'unsigned',
    });
    expect(out.decisions[0]!.detail).toContain(
      'digest resolved by the gate from tag unsigned at the registry, not reported by ECS',
    );
    expect(stops()[0]!.args[0].input.reason).toBe(
      `ecs-image-gate: app ${ECR}/${REPO}:unsigned@${unsigned} SIGNATURE_MISSING`,
    );
    expect(
      logged.warn.some(
        ([m]) => String(m) === 'ecs:DescribeTasks failed (Error: boom); verifying with what the event says',
      ),
    ).toBe(true);
    const record = parseAlertBody(publishes()[0]!.args[0].input.Message!)!;
    expect(record.note).toContain('the gate resolved the tag at the registry itself');
    expect(record.denied[0]!.detail).toContain('not reported by ECS');
  });

  it('takes a reference pinned by digest as a digest, even at PROVISIONING', async () => {
    const event = loadEvent('task-standalone-signed');
    event.detail.lastStatus = 'PROVISIONING';
    delete event.detail.containers[0].imageDigest;
    event.detail.containers[0].image = `${ECR}/${REPO}@${signed}`;
    const out = await watchdog()(event, context);
    expect(out.action).toBe('allowed');
    expect(out.decisions[0]).toMatchObject({ reason: 'VERIFIED', digest: signed });
    expect(ecsMock.calls()).toHaveLength(0);
  });
});

describe('the Lambda handler (middy), configured from the environment', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('runs an event with a fake Lambda context, as `invoke task` and the demo do', async () => {
    const classEcs = mockClient(ECSClient);
    const classSns = mockClient(SNSClient);
    classEcs.on(StopTaskCommand).resolves({});
    classSns.on(PublishCommand).resolves({ MessageId: 'm' });
    process.env = {
      ...saved,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      ALERT_TOPIC_ARN: TOPIC,
      // no registry needed: the signed digest is allow-listed, anything else matches no rule
      POLICY: JSON.stringify({ version: 1, mode: 'enforce', unmatched: 'deny', allow: { digests: [signed] } }),
    };
    const lambdaContext = {
      functionName: 'ecs-image-gate-TaskWatchdog',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ecs-image-gate-TaskWatchdog',
      memoryLimitInMB: '512',
      awsRequestId: 'c0ffee00-0000-4000-8000-000000000001',
      logGroupName: '/aws/lambda/ecs-image-gate-TaskWatchdog',
      logStreamName: '2025/06/12/[$LATEST]abc',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 30_000,
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    // a fresh container on this environment, as Lambda starts one: the module's own handler read it at import
    const handler = lambdaHandler(new Runtime(process.env));
    try {
      const allowed = (await handler(loadEvent('task-standalone-signed'), lambdaContext)) as WatchSummary;
      expect(allowed.action).toBe('allowed');
      expect(allowed.decisions[0]).toMatchObject({ reason: 'ALLOWLISTED' });
      const stopped = (await handler(loadEvent('task-standalone-unsigned'), lambdaContext)) as WatchSummary;
      expect(stopped.action).toBe('stopped');
      expect(stopped.decisions[0]).toMatchObject({ reason: 'NO_MATCHING_RULE' });
      expect(classEcs.commandCalls(StopTaskCommand)).toHaveLength(1);
      expect(classSns.commandCalls(PublishCommand)).toHaveLength(1);
      // the summary is what `ecs-image-gate invoke task` prints: plain JSON
      expect(JSON.parse(JSON.stringify(stopped))).toMatchObject({
        taskArn: loadEvent('task-standalone-unsigned').detail.taskArn,
        action: 'stopped',
      });
    } finally {
      classEcs.restore();
      classSns.restore();
    }
  });
});
