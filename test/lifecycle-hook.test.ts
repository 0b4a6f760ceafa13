/**
 * The deployment gate end to end: the real handler, a real docker-registry on
 * loopback, real cosign-style signatures, and mocked AWS clients (ECS, SNS).
 */
import { readFileSync } from 'node:fs';
import {
  DescribeServiceDeploymentsCommand,
  DescribeServiceRevisionsCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
} from '@aws-sdk/client-ecs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ATTEMPT_KEY } from '../src/deployment/hook.js';
import { makeLifecycleHook } from '../src/handlers/lifecycle-hook.js';
import { logger } from '../src/core/observability.js';
import { Runtime } from '../src/gate/runtime.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

/** One Lambda container on the current environment: its own Runtime, the handlers bound to it. */
let lifecycleHook = makeLifecycleHook(new Runtime(process.env));
function startContainer(): void {
  lifecycleHook = makeLifecycleHook(new Runtime(process.env));
}

const ecs = mockClient(ECSClient);
const sns = mockClient(SNSClient);
const event = JSON.parse(readFileSync('events/hook-pre-scale-up.json', 'utf8'));
const flatEvent = JSON.parse(readFileSync('events/hook-pre-scale-up-flat.json', 'utf8'));
const rollbackEvent = JSON.parse(readFileSync('events/hook-rollback-production-traffic-shift.json', 'utf8'));
const malformedEvent = JSON.parse(readFileSync('events/hook-malformed.json', 'utf8'));
const REVISION = event.executionDetails.targetServiceRevisionArn as string;
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ecs-image-gate-alerts';
const context = { getRemainingTimeInMillis: () => 30_000 };

let reg: TestRegistry;
const key = generateKeyPair('p256');
const otherKey = generateKeyPair('p256');
const images: Record<string, { image: string; digest: string }> = {};

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry();
  for (const name of ['signed', 'unsigned', 'tampered', 'wrongkey']) {
    const d = await reg.pushImage('app/web', name);
    images[name] = { image: `${reg.host}/app/web:${name}`, digest: d.digest };
  }
  await signImage(reg, 'app/web', { digest: images.signed!.digest }, key.privateKey);
  await signImage(reg, 'app/web', { digest: images.tampered!.digest }, key.privateKey, { tamper: true });
  await signImage(reg, 'app/web', { digest: images.wrongkey!.digest }, otherKey.privateKey);
}, 30_000);

afterAll(async () => reg?.stop());

const saved = { ...process.env };
function configure(env: Record<string, string>): void {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(
    process.env,
    { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ALERT_TOPIC_ARN: TOPIC },
    env,
  );
  startContainer();
}

function policy(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: 1,
    registries: { [reg.host]: { insecure: true } },
    rules: [
      { name: 'app', images: [`${reg.host}/app/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
    ],
    ...extra,
  });
}

function revision(containers: { containerName: string; image: string; imageDigest?: string }[]): void {
  ecs.on(DescribeServiceRevisionsCommand, { serviceRevisionArns: [REVISION] }).resolves({
    serviceRevisions: [
      {
        serviceRevisionArn: REVISION,
        taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:12',
        containerImages: containers,
      },
    ],
    failures: [],
  });
}

const container = (name: string, which: string) => ({
  containerName: name,
  image: images[which]!.image,
  imageDigest: images[which]!.digest,
});

let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  ecs.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  warn = vi.spyOn(logger, 'warn');
  configure({ POLICY: policy() });
});
afterEach(() => {
  warn.mockRestore();
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

const loggedReasons = () => warn.mock.calls.map((c: unknown[]) => String(c[0]));

describe('lifecycle hook, enforce mode', () => {
  it('answers SUCCEEDED for a signed revision, verifying the digest ECS recorded', async () => {
    revision([container('web', 'signed')]);
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(ecs.commandCalls(DescribeServiceRevisionsCommand)).toHaveLength(1);
    expect(ecs.commandCalls(DescribeServiceRevisionsCommand)[0]!.args[0].input).toEqual({
      serviceRevisionArns: [REVISION],
    });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('reads the flat event form too', async () => {
    revision([container('web', 'signed')]);
    expect(await lifecycleHook(flatEvent, context)).toEqual({ hookStatus: 'SUCCEEDED' });
  });

  it.each([
    ['unsigned', 'SIGNATURE_MISSING'],
    ['tampered', 'SIGNATURE_INVALID'],
    ['wrongkey', 'UNTRUSTED_SIGNER'],
  ])('answers FAILED for a %s image, logs %s and alerts', async (which, reason) => {
    revision([container('web', 'signed'), container('sidecar', which)]);
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
    expect(loggedReasons().some((l) => l.startsWith('sidecar: ') && l.includes(`DENIED ${reason}`))).toBe(true);
    const published = sns.commandCalls(PublishCommand);
    expect(published).toHaveLength(1);
    expect(published[0]!.args[0].input.TopicArn).toBe(TOPIC);
    expect(published[0]!.args[0].input.Message).toContain(reason);
  });

  it('verifies the digest ECS recorded, not what the tag points at now', async () => {
    // The tag "unsigned" names an unsigned image, but ECS recorded the signed digest: that digest is what runs.
    revision([{ containerName: 'web', image: images.unsigned!.image, imageDigest: images.signed!.digest }]);
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
  });

  it('answers FAILED with DIGEST_MISSING for a container without digest whose versionConsistency is disabled', async () => {
    revision([{ containerName: 'web', image: images.signed!.image }]);
    ecs
      .on(DescribeTaskDefinitionCommand)
      .resolves({ taskDefinition: { containerDefinitions: [{ name: 'web', versionConsistency: 'disabled' }] } });
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
    expect(loggedReasons().some((l) => l.includes('DIGEST_MISSING'))).toBe(true);
  });

  it('verifies a 10-container revision', async () => {
    revision(Array.from({ length: 10 }, (_, i) => container(`c${i}`, 'signed')));
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
    revision([...Array.from({ length: 9 }, (_, i) => container(`c${i}`, 'signed')), container('c9', 'unsigned')]);
    configure({ POLICY: policy() });
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
  });

  it('never fails a rollback that ECS confirms, and does not even read the revision', async () => {
    revision([container('web', 'unsigned')]);
    ecs.on(DescribeServiceDeploymentsCommand).resolves({
      serviceDeployments: [
        {
          serviceDeploymentArn: rollbackEvent.resourceArn,
          status: 'ROLLBACK_IN_PROGRESS',
          rollback: { reason: 'circuit breaker' },
        },
      ],
    });
    expect(await lifecycleHook(rollbackEvent, context)).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(ecs.commandCalls(DescribeServiceRevisionsCommand)).toHaveLength(0);
  });

  it('verifies a traffic-shift call that ECS does not confirm as a rollback', async () => {
    revision([container('web', 'unsigned')]);
    ecs
      .on(DescribeServiceDeploymentsCommand)
      .resolves({ serviceDeployments: [{ serviceDeploymentArn: rollbackEvent.resourceArn, status: 'IN_PROGRESS' }] });
    expect(await lifecycleHook(rollbackEvent, context)).toEqual({ hookStatus: 'FAILED' });
  });

  it('answers FAILED for a malformed event', async () => {
    expect(await lifecycleHook(malformedEvent, context)).toEqual({ hookStatus: 'FAILED' });
    expect(await lifecycleHook('not even an object', context)).toEqual({ hookStatus: 'FAILED' });
  });

  it('answers FAILED when the policy cannot be loaded (and names why in the log)', async () => {
    configure({ POLICY: 'version: 1\nmode: sometimes' });
    const error = vi.spyOn(logger, 'error');
    revision([container('web', 'signed')]);
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
    expect(String(error.mock.calls[0]![0])).toContain('mode');
    error.mockRestore();
  });

  it('waits with IN_PROGRESS while the registry is down, then fails by onError', async () => {
    configure({ POLICY: policy(), HOOK_MAX_RETRIES: '2', HOOK_RETRY_DELAY_SECONDS: '15' });
    revision([{ containerName: 'web', image: '127.0.0.1:9/app/web:1', imageDigest: images.signed!.digest }]);
    configure({
      HOOK_MAX_RETRIES: '2',
      HOOK_RETRY_DELAY_SECONDS: '15',
      POLICY: JSON.stringify({
        version: 1,
        registries: { '127.0.0.1:9': { insecure: true } },
        rules: [
          { name: 'app', images: ['127.0.0.1:9/app/**'], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
        ],
      }),
    });
    const first = await lifecycleHook(event, context);
    expect(first).toEqual({ hookStatus: 'IN_PROGRESS', callBackDelay: 15, hookDetails: { [ATTEMPT_KEY]: 1 } });
    const second = await lifecycleHook({ ...event, hookDetails: first.hookDetails }, context);
    expect(second).toMatchObject({ hookStatus: 'IN_PROGRESS', hookDetails: { [ATTEMPT_KEY]: 2 } });
    const last = await lifecycleHook({ ...event, hookDetails: second.hookDetails }, context);
    expect(last).toEqual({ hookStatus: 'FAILED' });
    expect(loggedReasons().some((l) => l.includes('REGISTRY_ERROR'))).toBe(true);
  });

  it('admits on a registry error when onError is allow, and alerts that it did', async () => {
    revision([{ containerName: 'web', image: '127.0.0.1:9/app/web:1', imageDigest: images.signed!.digest }]);
    configure({
      POLICY: JSON.stringify({
        version: 1,
        onError: 'allow',
        registries: { '127.0.0.1:9': { insecure: true } },
        rules: [
          { name: 'app', images: ['127.0.0.1:9/app/**'], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
        ],
      }),
    });
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('waits when DescribeServiceRevisions is throttled, even with onError: allow, then lets onError decide', async () => {
    ecs
      .on(DescribeServiceRevisionsCommand)
      .rejects(
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }),
      );
    expect(await lifecycleHook(event, context)).toMatchObject({ hookStatus: 'IN_PROGRESS' });
    configure({ POLICY: policy({ onError: 'allow' }), HOOK_MAX_RETRIES: '1' });
    expect(await lifecycleHook(event, context)).toMatchObject({ hookStatus: 'IN_PROGRESS' });
    expect(await lifecycleHook({ ...event, hookDetails: { [ATTEMPT_KEY]: 1 } }, context)).toEqual({
      hookStatus: 'SUCCEEDED',
    });
    configure({ POLICY: policy(), HOOK_MAX_RETRIES: '1' });
    expect(await lifecycleHook({ ...event, hookDetails: { [ATTEMPT_KEY]: 1 } }, context)).toEqual({
      hookStatus: 'FAILED',
    });
  });

  it('waits for a revision ECS reports MISSING, then fails', async () => {
    ecs
      .on(DescribeServiceRevisionsCommand)
      .resolves({ serviceRevisions: [], failures: [{ arn: REVISION, reason: 'MISSING' }] });
    expect(await lifecycleHook(event, context)).toMatchObject({ hookStatus: 'IN_PROGRESS' });
    expect(await lifecycleHook({ ...event, hookDetails: { [ATTEMPT_KEY]: 3 } }, context)).toEqual({
      hookStatus: 'FAILED',
    });
  });
});

describe('lifecycle hook, log-only mode', () => {
  it.each([
    ['mode: audit', (): Record<string, string> => ({ POLICY: policy({ mode: 'audit' }) })],
    [
      'FAILURE_BEHAVIOR=LOG_ON_FAILURE',
      (): Record<string, string> => ({ POLICY: policy(), FAILURE_BEHAVIOR: 'LOG_ON_FAILURE' }),
    ],
  ])('answers SUCCEEDED for an unsigned image and still logs the deny (%s)', async (_, env) => {
    configure(env());
    revision([container('web', 'unsigned')]);
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(loggedReasons().some((l) => l.includes('SIGNATURE_MISSING') && l.includes('audit'))).toBe(true);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('answers SUCCEEDED for a malformed event and for a broken policy', async () => {
    configure({ POLICY: policy({ mode: 'audit' }) });
    expect(await lifecycleHook(malformedEvent, context)).toEqual({ hookStatus: 'SUCCEEDED' });
    configure({ POLICY: 'version: 1\nmode: sometimes', FAILURE_BEHAVIOR: 'LOG_ON_FAILURE' });
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
  });

  it('answers SUCCEEDED when the registry is down, without waiting', async () => {
    revision([{ containerName: 'web', image: '127.0.0.1:9/app/web:1', imageDigest: images.signed!.digest }]);
    configure({
      POLICY: JSON.stringify({
        version: 1,
        mode: 'audit',
        registries: { '127.0.0.1:9': { insecure: true } },
        rules: [
          { name: 'app', images: ['127.0.0.1:9/app/**'], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
        ],
      }),
    });
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
  });
});
