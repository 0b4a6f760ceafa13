import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  buildAlert,
  consoleUrl,
  EVENT_DETAIL_TYPE,
  EVENT_SOURCE,
  parseAlertBody,
  sendAlerts,
  slackUrlCache,
  severityOf,
  type AlertContext,
  type DecisionEventDetail,
} from '../src/alerts/index.js';
import { BODY_MAX_BYTES, clampSubject } from '../src/alerts/message.js';
import { alertChannels } from '../src/core/config.js';
import { publishInput } from '../src/alerts/sns.js';
import { logger } from '../src/core/observability.js';
import { REASON_CODES, type Decision, type ReasonCode } from '../src/core/decision.js';
import { captureEmf, type EmittedMetric } from './support/emf.js';

const DIGEST = `sha256:${'ab12'.repeat(16)}`;
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app';
const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/demo-cluster/0f4e5d6c7b8a49e1a2b3c4d5e6f70812';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ecs-image-gate-alerts';

function decision(over: Partial<Decision> = {}): Decision {
  return {
    container: 'web',
    image: `${IMAGE}@${DIGEST}`,
    digest: DIGEST,
    decision: 'deny',
    reason: 'SIGNATURE_MISSING',
    rule: 'app',
    verifiedBy: [],
    detail: 'no cosign signature found',
    durationMs: 7,
    mode: 'enforce',
    ...over,
  };
}

const taskCtx: AlertContext = {
  source: 'task-watchdog',
  mode: 'enforce',
  action: 'task-stopped',
  cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/demo-cluster',
  taskArn: TASK_ARN,
};

let errors: Array<[string, Record<string, unknown>]>;
beforeEach(() => {
  errors = [];
  vi.spyOn(logger, 'error').mockImplementation(((msg: string, extra: Record<string, unknown>) => {
    errors.push([msg, extra]);
  }) as never);
});
afterEach(() => vi.restoreAllMocks());

describe('severity', () => {
  it('is HIGH for tampering in any mode, MEDIUM for unsigned, LOW for admitted errors', () => {
    for (const mode of ['enforce', 'audit'] as const) {
      for (const reason of ['SIGNATURE_INVALID', 'DIGEST_MISMATCH', 'REVOKED'] as const) {
        expect(severityOf({ decision: 'deny', reason, mode })).toBe('HIGH');
      }
      for (const reason of [
        'SIGNATURE_MISSING',
        'UNTRUSTED_SIGNER',
        'EXPIRED',
        'NO_MATCHING_RULE',
        'DIGEST_MISSING',
      ] as const) {
        expect(severityOf({ decision: 'deny', reason, mode })).toBe('MEDIUM');
      }
    }
    for (const reason of [
      'REGISTRY_ERROR',
      'REGISTRY_AUTH_FAILURE',
      'KEY_ERROR',
      'TIMEOUT',
      'INTERNAL_ERROR',
      'POLICY_ERROR',
    ] as const) {
      expect(severityOf({ decision: 'deny', reason, mode: 'enforce' })).toBe('MEDIUM');
      expect(severityOf({ decision: 'deny', reason, mode: 'audit' })).toBe('LOW');
      expect(severityOf({ decision: 'allow', reason, mode: 'enforce' })).toBe('LOW');
    }
    expect(severityOf({ decision: 'allow', reason: 'VERIFIED', mode: 'enforce' })).toBe('INFO');
  });

  it('has an answer for every reason code', () => {
    for (const reason of REASON_CODES)
      expect(['HIGH', 'MEDIUM', 'LOW', 'INFO']).toContain(severityOf(decision({ reason })));
  });
});

describe('buildAlert', () => {
  it('sends nothing when every image is allowed', () => {
    expect(buildAlert([decision({ decision: 'allow', reason: 'VERIFIED' })], taskCtx)).toBeUndefined();
  });

  it('makes a short subject, a readable body and a parseable record', () => {
    const allowed = decision({
      container: 'sidecar',
      decision: 'allow',
      reason: 'VERIFIED',
      verifiedBy: ['cosign key sha256:ab12'],
    });
    const alert = buildAlert([decision(), allowed], taskCtx)!;
    expect(alert.subject).toBe('ecs-image-gate: DENIED SIGNATURE_MISSING web in demo-cluster');
    expect(alert.body).toContain(
      `web: ${IMAGE}@${DIGEST} DENIED SIGNATURE_MISSING, no cosign signature found, rule app`,
    );
    expect(alert.body).toContain('Action taken: the task was stopped (ecs:StopTask).');
    expect(alert.body).toContain('Allowed:\n  - sidecar:');
    const url =
      'https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/demo-cluster/tasks/0f4e5d6c7b8a49e1a2b3c4d5e6f70812/configuration?region=us-east-1';
    expect(alert.body).toContain(`Open in the ECS console: ${url}`);
    const record = parseAlertBody(alert.body)!;
    expect(record).toEqual({
      version: 1,
      source: 'task-watchdog',
      mode: 'enforce',
      action: 'task-stopped',
      severity: 'MEDIUM',
      region: 'us-east-1',
      cluster: 'demo-cluster',
      service: null,
      taskArn: TASK_ARN,
      serviceRevisionArn: null,
      consoleUrl: url,
      note: null,
      omitted: 0,
      denied: [
        {
          container: 'web',
          image: `${IMAGE}@${DIGEST}`,
          digest: DIGEST,
          decision: 'deny',
          reason: 'SIGNATURE_MISSING',
          severity: 'MEDIUM',
          rule: 'app',
          detail: 'no cosign signature found',
        },
      ],
    });
  });

  it('lists every denied container, takes the highest severity, and keeps the subject within 100 ASCII characters', () => {
    const many = [
      decision({
        container: 'a-very-long-container-name-that-goes-on-and-on-and-on-and-on',
        reason: 'SIGNATURE_MISSING',
      }),
      decision({ container: 'b', reason: 'DIGEST_MISMATCH' }),
      decision({ container: 'c', reason: 'UNTRUSTED_SIGNER' }),
    ];
    const ctx = {
      ...taskCtx,
      cluster: 'a-cluster-with-a-name-as-long-as-ecs-allows-which-is-two-hundred-and-fifty-five-chars-é',
    };
    const alert = buildAlert(many, ctx)!;
    expect(alert.subject.length).toBeLessThanOrEqual(100);
    expect(alert.subject).toMatch(/^[\x20-\x7e]+$/);
    expect(alert.subject).toMatch(
      /^ecs-image-gate: DENIED SIGNATURE_MISSING a-very-long-container\S*\.\.\. \(\+2\) in a-cluster-\S*\.\.\.$/,
    );
    expect(buildAlert(many.slice(0, 2), { ...taskCtx, cluster: 'prod' })!.subject).toMatch(/\.\.\. \(\+1\) in prod$/);
    expect(alert.record.denied.map((d) => d.container)).toEqual([many[0]!.container, 'b', 'c']);
    expect(alert.record.severity).toBe('HIGH');
    expect(clampSubject('x\ny')).toBe('x?y');
  });

  it('says what happened in audit mode, on a failed stop and for the deployment gate', () => {
    const audit = buildAlert([decision({ mode: 'audit' })], {
      ...taskCtx,
      mode: 'audit',
      action: 'none (audit mode)',
    })!;
    expect(audit.subject).toBe('ecs-image-gate: AUDIT DENIED SIGNATURE_MISSING web in demo-cluster');
    expect(audit.body).toContain('Action taken: nothing: audit mode logs and alerts but admits.');
    expect(audit.body).toContain('DENIED (audit: admitted) SIGNATURE_MISSING');

    const failed = buildAlert([decision()], { ...taskCtx, action: 'stop-failed' })!;
    expect(failed.subject).toBe('ecs-image-gate: STOP FAILED SIGNATURE_MISSING web in demo-cluster');

    const revision = 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo-cluster/web/7392948302345678901';
    const gate: AlertContext = {
      source: 'deployment-gate',
      mode: 'enforce',
      action: 'deployment-failed',
      serviceRevisionArn: revision,
    };
    const hook = buildAlert([decision({ reason: 'SIGNATURE_INVALID' })], gate)!;
    expect(hook.record.cluster).toBe('demo-cluster');
    expect(hook.record.service).toBe('web');
    expect(hook.record.consoleUrl).toBe(
      'https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/demo-cluster/services/web/deployments?region=us-east-1',
    );
    expect(hook.body).toContain('the deployment was failed before any traffic shifted');
  });

  it('links to the right console in other partitions, and to nothing without a region', () => {
    const cn = 'arn:aws-cn:ecs:cn-north-1:123456789012:task/c1/abc';
    expect(consoleUrl({ ...taskCtx, cluster: undefined, taskArn: cn })).toBe(
      'https://console.amazonaws.cn/ecs/v2/clusters/c1/tasks/abc/configuration?region=cn-north-1',
    );
    // no ARN names a region and no homeRegion (Config.region) was given
    expect(
      consoleUrl({ source: 'task-watchdog', mode: 'enforce', action: 'task-stopped', cluster: 'c1' }),
    ).toBeUndefined();
    expect(
      consoleUrl({
        source: 'task-watchdog',
        mode: 'enforce',
        action: 'task-stopped',
        cluster: 'c1',
        homeRegion: 'eu-west-1',
      }),
    ).toContain('region=eu-west-1');
  });
});

describe('buildAlert: size', () => {
  const SNS_LIMIT = 256 * 1024;
  const many = (n: number, over: Partial<Decision> = {}) =>
    Array.from({ length: n }, (_, i) =>
      decision({
        container: `c${i}`,
        detail: `no cosign signature found for container number ${i} of the task`,
        ...over,
      }),
    );

  it('keeps an event with 5,000 denied decisions under the SNS limit, and says what it left out and where to read it', () => {
    // the one HIGH is last: it is cut from the list, but the severity still counts it
    const decisions = [...many(4_999), decision({ container: 'last', reason: 'SIGNATURE_INVALID' })];
    const alert = buildAlert(decisions, taskCtx)!;
    const bytes = Buffer.byteLength(alert.body, 'utf8');
    expect(bytes).toBeLessThanOrEqual(BODY_MAX_BYTES);
    expect(bytes).toBeGreaterThan(BODY_MAX_BYTES * 0.9); // as many as fit, not a handful
    const published = JSON.stringify(publishInput(TOPIC, alert));
    expect(Buffer.byteLength(published, 'utf8')).toBeLessThan(SNS_LIMIT);

    const record = parseAlertBody(alert.body)!;
    expect(record.denied.length).toBeGreaterThan(100);
    expect(record.denied.length + record.omitted).toBe(5_000);
    expect(record.denied.map((d) => d.container)).toEqual(
      decisions.slice(0, record.denied.length).map((d) => d.container),
    );
    expect(record.severity).toBe('HIGH');
    expect(alert.text).toContain(`found 5000 of 5000 container image(s) not admissible`);
    expect(alert.text).toContain(
      `… ${record.omitted} more decisions (${record.omitted} of them not admissible) left out to keep this message under SNS's size limit: ` +
        `see the decision events (DECISION_EVENT_BUS) or the task-watchdog function's CloudWatch logs (search for taskArn ${TASK_ARN}).`,
    );
    expect(alert.text.match(/^ {2}- \[/gm)).toHaveLength(record.denied.length);
  });

  it('drops the allowed list before any denied decision', () => {
    const allowed = many(5_000, { decision: 'allow', reason: 'VERIFIED' });
    const alert = buildAlert([decision({ container: 'bad' }), ...allowed], taskCtx)!;
    expect(Buffer.byteLength(alert.body, 'utf8')).toBeLessThanOrEqual(BODY_MAX_BYTES);
    expect(parseAlertBody(alert.body)!).toMatchObject({ omitted: 0, denied: [{ container: 'bad' }] });
    expect(alert.text).not.toContain('Allowed:');
    expect(alert.text).toContain('… 5000 more decisions (0 of them not admissible)');
  });

  it('leaves a message that fits untouched', () => {
    const alert = buildAlert(many(3), taskCtx)!;
    expect(parseAlertBody(alert.body)!.omitted).toBe(0);
    expect(alert.text).not.toContain('more decisions');
  });
});

describe('sendAlerts', () => {
  const sns = new SNSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const eventBridge = new EventBridgeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const ssm = new SSMClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const snsMock = mockClient(sns);
  const ebMock = mockClient(eventBridge);
  const ssmMock = mockClient(ssm);
  beforeEach(() => {
    snsMock.reset();
    ebMock.reset();
    ssmMock.reset();
  });
  const deps = (env: Record<string, string>) => ({ sns, eventBridge, ssm, channels: alertChannels(env) });

  it("links the console in the gate's own region (Config.region) when no ARN names one, and never overrides an ARN's", async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const bare: AlertContext = { source: 'task-watchdog', mode: 'enforce', action: 'task-stopped', cluster: 'c1' };
    const out = await sendAlerts([decision()], bare, { ...deps({ ALERT_TOPIC_ARN: TOPIC }), region: 'eu-west-1' });
    expect(parseAlertBody(out.message!.body)!.consoleUrl).toContain('region=eu-west-1');
    const fromArn = await sendAlerts([decision()], taskCtx, {
      ...deps({ ALERT_TOPIC_ARN: TOPIC }),
      region: 'eu-west-1',
    });
    expect(parseAlertBody(fromArn.message!.body)!.consoleUrl).toContain('region=us-east-1');
  });

  it('publishes one SNS message per event with subject, body and filterable attributes', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const out = await sendAlerts(
      [decision(), decision({ container: 'log', reason: 'SIGNATURE_INVALID' })],
      taskCtx,
      deps({ ALERT_TOPIC_ARN: TOPIC }),
    );
    expect(out).toMatchObject({ sns: 'sent', eventBridge: 'skipped', slack: 'skipped' });
    const calls = snsMock.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.TopicArn).toBe(TOPIC);
    expect(input.Subject).toBe('ecs-image-gate: DENIED SIGNATURE_MISSING web (+1) in demo-cluster');
    expect(input.Subject!.length).toBeLessThanOrEqual(100);
    expect(input.Message).toBe(out.message!.body);
    expect(input.MessageAttributes).toEqual({
      severity: { DataType: 'String', StringValue: 'HIGH' },
      action: { DataType: 'String', StringValue: 'task-stopped' },
      mode: { DataType: 'String', StringValue: 'enforce' },
      source: { DataType: 'String', StringValue: 'task-watchdog' },
      cluster: { DataType: 'String', StringValue: 'demo-cluster' },
    });
    const record = parseAlertBody(input.Message!)!;
    expect(record.denied.map((d) => [d.container, d.reason, d.severity])).toEqual([
      ['web', 'SIGNATURE_MISSING', 'MEDIUM'],
      ['log', 'SIGNATURE_INVALID', 'HIGH'],
    ]);
    expect(errors).toEqual([]);
  });

  it('sends nothing at all for an all-allowed event unless DECISION_EVENTS=all', async () => {
    const allow = decision({ decision: 'allow', reason: 'VERIFIED' });
    const env = { ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default', SLACK_WEBHOOK_PARAMETER: '/gate/slack' };
    const out = await sendAlerts([allow], { ...taskCtx, action: 'none (allowed)' }, deps(env));
    expect(out).toEqual({ sns: 'skipped', eventBridge: 'skipped', slack: 'skipped', events: 0 });
    expect(snsMock.calls()).toHaveLength(0);
    expect(ebMock.calls()).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);

    ebMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    const all = await sendAlerts(
      [allow],
      { ...taskCtx, action: 'none (allowed)' },
      deps({ ...env, DECISION_EVENTS: 'all' }),
    );
    expect(all).toMatchObject({ sns: 'skipped', eventBridge: 'sent', slack: 'skipped', events: 1 });
    const detail = JSON.parse(
      ebMock.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.Detail!,
    ) as DecisionEventDetail;
    expect(detail.severity).toBe('INFO');
    expect(detail.reason).toBe('VERIFIED');
  });

  it('puts one decision event per deny, field by field', async () => {
    ebMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }, { EventId: 'e2' }] });
    const ds = [
      decision(),
      decision({ container: 'side', decision: 'allow', reason: 'VERIFIED' }),
      decision({ container: 'log', reason: 'REVOKED', detail: 'signing profile revoked' }),
    ];
    const out = await sendAlerts(ds, taskCtx, deps({ DECISION_EVENT_BUS: 'gate-bus' }));
    expect(out.eventBridge).toBe('sent');
    expect(out.events).toBe(2);
    const entries = ebMock.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries!;
    expect(entries).toHaveLength(2);
    for (const e of entries) {
      expect(e.Source).toBe(EVENT_SOURCE);
      expect(e.Source).toBe('ecs-image-gate');
      expect(e.DetailType).toBe(EVENT_DETAIL_TYPE);
      expect(e.DetailType).toBe('Image Admission Decision');
      expect(e.EventBusName).toBe('gate-bus');
      expect(e.Resources).toEqual([TASK_ARN]);
    }
    const detail = JSON.parse(entries[1]!.Detail!) as DecisionEventDetail;
    expect(detail).toEqual({
      version: 1,
      severity: 'HIGH',
      source: 'task-watchdog',
      mode: 'enforce',
      action: 'task-stopped',
      region: 'us-east-1',
      cluster: 'demo-cluster',
      service: null,
      taskArn: TASK_ARN,
      serviceRevisionArn: null,
      consoleUrl: consoleUrl(taskCtx),
      container: 'log',
      image: `${IMAGE}@${DIGEST}`,
      digest: DIGEST,
      decision: 'deny',
      reason: 'REVOKED',
      rule: 'app',
      verifiedBy: [],
      detail: 'signing profile revoked',
      durationMs: 7,
      line: `log: ${IMAGE}@${DIGEST} DENIED REVOKED, signing profile revoked, rule app`,
    });
  });

  it('batches decision events by 10 and retries only the entries that failed', async () => {
    const ds = Array.from({ length: 13 }, (_, i) => decision({ container: `c${i}` }));
    let call = 0;
    ebMock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => {
      call += 1;
      // first batch of 10: the third entry is throttled once
      if (call === 1 && input.Entries.length === 10) {
        return {
          FailedEntryCount: 1,
          Entries: input.Entries.map((_, i) =>
            i === 2 ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' } : { EventId: `e${i}` },
          ),
        };
      }
      return { FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `r${call}-${i}` })) };
    });
    const out = await sendAlerts(ds, taskCtx, deps({ DECISION_EVENT_BUS: 'default' }));
    expect(out.eventBridge).toBe('sent');
    const sizes = ebMock.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!.length);
    expect(sizes.sort((a, b) => a - b)).toEqual([1, 3, 10]);
    const retried = ebMock.commandCalls(PutEventsCommand).find((c) => c.args[0].input.Entries!.length === 1)!;
    expect(JSON.parse(retried.args[0].input.Entries![0]!.Detail!).container).toBe('c2');
    expect(errors).toEqual([]);
  });

  it('logs decision events that still fail, with their content, and does not throw', async () => {
    ebMock
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] });
    const out = await sendAlerts([decision()], taskCtx, deps({ DECISION_EVENT_BUS: 'default' }));
    expect(out.eventBridge).toBe('failed');
    expect(ebMock.commandCalls(PutEventsCommand)).toHaveLength(2);
    const logged = errors.find(([m]) => m === 'alert: eventbridge not delivered')!;
    expect(JSON.stringify(logged[1])).toContain('SIGNATURE_MISSING');
  });

  it('logs an SNS failure with the whole message and goes on with the other channels', async () => {
    snsMock.on(PublishCommand).rejects(Object.assign(new Error('KMS key disabled'), { name: 'KMSDisabledException' }));
    ebMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    const out = await sendAlerts(
      [decision()],
      taskCtx,
      deps({ ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default' }),
    );
    expect(out).toMatchObject({ sns: 'failed', eventBridge: 'sent' });
    expect(errors).toHaveLength(1);
    const [msg, extra] = errors[0]!;
    expect(msg).toBe('alert: sns not delivered');
    expect(extra.error).toEqual({ name: 'KMSDisabledException', message: 'KMS key disabled' });
    expect(extra.undelivered).toMatchObject({
      topicArn: TOPIC,
      subject: out.message!.subject,
      body: out.message!.body,
    });
  });

  it('gives up on a channel that hangs once the time bound passes', async () => {
    snsMock.on(PublishCommand).callsFake(() => new Promise(() => undefined));
    const out = await sendAlerts([decision()], taskCtx, { ...deps({ ALERT_TOPIC_ARN: TOPIC }), timeoutMs: 20 });
    expect(out.sns).toBe('failed');
    expect(errors[0]![1].error).toMatchObject({ message: 'alerts took longer than 20 ms' });
  });

  it('alerts on a reason code this build does not know, at MEDIUM', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const out = await sendAlerts(
      [decision({ reason: 'NEW_CODE' as ReasonCode })],
      taskCtx,
      deps({ ALERT_TOPIC_ARN: TOPIC }),
    );
    expect(out.sns).toBe('sent');
    expect(out.message!.record.severity).toBe('MEDIUM');
  });

  it('never throws, even when a decision cannot be read', async () => {
    const broken = decision();
    Object.defineProperty(broken, 'container', {
      get: () => {
        throw new Error('boom');
      },
    });
    const out = await sendAlerts([broken], taskCtx, deps({ ALERT_TOPIC_ARN: TOPIC }));
    expect(out).toEqual({ sns: 'failed', eventBridge: 'failed', slack: 'failed', events: 0 });
    expect(errors[0]![0]).toBe('alert: could not be prepared');
    expect(snsMock.calls()).toHaveLength(0);
  });
});

describe('sendAlerts: undelivered alerts are counted', () => {
  const sns = new SNSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const eventBridge = new EventBridgeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const ssm = new SSMClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const snsMock = mockClient(sns);
  const ebMock = mockClient(eventBridge);
  const ssmMock = mockClient(ssm);
  const env = { ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default', SLACK_WEBHOOK_PARAMETER: '/gate/slack' };
  beforeEach(() => {
    snsMock.reset();
    ebMock.reset();
    ssmMock.reset();
  });
  const failures = (emitted: EmittedMetric[]) =>
    emitted
      .filter((m) => m.name === 'AlertDeliveryFailures')
      .map((m) => ({ namespace: m.namespace, unit: m.unit, value: m.value, dimensions: m.dimensionSets }));
  const counted = (channel: string) => ({
    namespace: 'EcsImageGate',
    unit: 'Count',
    value: 1,
    dimensions: [{ service: 'ecs-image-gate', channel }],
  });

  it('emits AlertDeliveryFailures per failed channel (EMF, dimension channel), and nothing when all are delivered', async () => {
    snsMock.on(PublishCommand).rejects(Object.assign(new Error('throttled'), { name: 'Throttling' }));
    ebMock
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'x' }] });
    ssmMock.on(GetParameterCommand).rejects(new Error('AccessDenied'));
    let stop = captureEmf();
    const out = await sendAlerts([decision()], taskCtx, { sns, eventBridge, ssm, channels: alertChannels(env) });
    let emitted = stop();
    expect(out).toMatchObject({ sns: 'failed', eventBridge: 'failed', slack: 'failed' });
    expect(
      failures(emitted).sort((a, b) => a.dimensions[0]!.channel!.localeCompare(b.dimensions[0]!.channel!)),
    ).toEqual([counted('eventbridge'), counted('slack'), counted('sns')]);

    snsMock.reset();
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    stop = captureEmf();
    const ok = await sendAlerts([decision()], taskCtx, {
      sns,
      eventBridge,
      ssm,
      channels: alertChannels({ ALERT_TOPIC_ARN: TOPIC }),
    });
    emitted = stop();
    expect(ok.sns).toBe('sent');
    expect(failures(emitted)).toEqual([]);
  });

  it('counts a channel that ran out of time', async () => {
    snsMock.on(PublishCommand).callsFake(() => new Promise(() => undefined));
    const stop = captureEmf();
    const out = await sendAlerts([decision()], taskCtx, {
      sns,
      channels: alertChannels({ ALERT_TOPIC_ARN: TOPIC }),
      timeoutMs: 20,
    });
    expect(out.sns).toBe('failed');
    expect(failures(stop())).toEqual([counted('sns')]);
  });

  it('counts every configured channel when the alert could not even be built', async () => {
    const broken = decision();
    Object.defineProperty(broken, 'container', {
      get: () => {
        throw new Error('boom');
      },
    });
    const stop = captureEmf();
    await sendAlerts([broken], taskCtx, {
      sns,
      channels: alertChannels({ ALERT_TOPIC_ARN: TOPIC, DECISION_EVENT_BUS: 'default' }),
    });
    expect(failures(stop()).map((f) => f.dimensions[0]!.channel)).toEqual(['sns', 'eventbridge']);
  });
});

describe('Slack', () => {
  const ssm = new SSMClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const ssmMock = mockClient(ssm);
  let server: Server;
  let base: string;
  const received: Array<{ path: string; body: string; type: string | undefined }> = [];
  let status = 200;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          path: req.url ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
          type: req.headers['content-type'],
        });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'invalid_token');
      });
    });
    server.requestTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received.length = 0;
    status = 200;
    ssmMock.reset();
  });

  const secretPath = '/services/T000/B000/XXXXsecretXXXX';

  it('posts {text} to the webhook URL read (decrypted) from SSM, once per event, and caches the URL', async () => {
    ssmMock
      .on(GetParameterCommand, { Name: '/gate/slack', WithDecryption: true })
      .resolves({ Parameter: { Value: `${base}${secretPath}` } });
    const channels = alertChannels({ SLACK_WEBHOOK_PARAMETER: '/gate/slack' });
    const slackUrls = slackUrlCache(); // the container's cache, kept by the Runtime
    const first = await sendAlerts([decision({ image: 'x/<script>&' })], taskCtx, { ssm, channels, slackUrls });
    const second = await sendAlerts([decision({ container: 'db' })], taskCtx, { ssm, channels, slackUrls });
    expect([first.slack, second.slack]).toEqual(['sent', 'sent']);
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(received).toHaveLength(2);
    expect(received[0]!.path).toBe(secretPath);
    expect(received[0]!.type).toBe('application/json');
    const body = JSON.parse(received[0]!.body) as { text: string };
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toContain('*ecs-image-gate: DENIED SIGNATURE_MISSING web in demo-cluster*');
    expect(body.text).toContain('x/&lt;script&gt;&amp;');
    expect(body.text).toContain(consoleUrl(taskCtx)!);
    expect(errors).toEqual([]);
  });

  it('logs a refused post without the webhook URL', async () => {
    status = 403;
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: `${base}${secretPath}` } });
    const out = await sendAlerts([decision()], taskCtx, {
      ssm,
      channels: alertChannels({ SLACK_WEBHOOK_PARAMETER: '/gate/slack' }),
    });
    expect(out.slack).toBe('failed');
    expect(received).toHaveLength(1);
    const logged = JSON.stringify(errors);
    expect(logged).toContain('the Slack webhook answered HTTP 403');
    expect(logged).toContain('SIGNATURE_MISSING'); // the undelivered text is in the log
    expect(logged).not.toContain('secret');
    expect(logged).not.toContain(base);
  });

  it('refuses a webhook that is not https (except loopback) and never posts it', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'http://hooks.example.com/services/secret' } });
    const out = await sendAlerts([decision()], taskCtx, {
      ssm,
      channels: alertChannels({ SLACK_WEBHOOK_PARAMETER: '/gate/slack' }),
    });
    expect(out.slack).toBe('failed');
    expect(received).toHaveLength(0);
    expect(JSON.stringify(errors)).toContain('must use https');
    expect(JSON.stringify(errors)).not.toContain('secret');
  });

  it('logs a connection failure without the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: `http://127.0.0.1:${port}${secretPath}` } });
    const out = await sendAlerts([decision()], taskCtx, {
      ssm,
      channels: alertChannels({ SLACK_WEBHOOK_PARAMETER: '/gate/slack' }),
    });
    expect(out.slack).toBe('failed');
    expect(JSON.stringify(errors)).toContain('ECONNREFUSED');
    expect(JSON.stringify(errors)).not.toContain('secret');
  });
});
