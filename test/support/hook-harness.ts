/**
 * Shared setup for the deployment-gate tests (test/hook-*.test.ts): the real handler,
 * a real docker-registry on loopback with images signed by a test key, mocked ECS and
 * SNS clients, and builders for hook events and ECS answers.
 */
import { DescribeServiceRevisionsCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { makeLifecycleHook } from '../../src/handlers/lifecycle-hook.js';
import { logger } from '../../src/core/observability.js';
import { Runtime } from '../../src/gate/runtime.js';
import { generateKeyPair, signImage, type TestKeyPair } from './cosign-signer.js';
import { requireRegistry, startRegistry, type TestRegistry } from './registry.js';

export const ACCOUNT_PREFIX = 'arn:aws:ecs:us-east-1:123456789012';
export const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ecs-image-gate-alerts';
export const REPO = 'app/web';

export const revisionArn = (cluster = 'demo-cluster', service = 'web', id = '4093216470117498571') =>
  `${ACCOUNT_PREFIX}:service-revision/${cluster}/${service}/${id}`;
export const deploymentArn = (cluster = 'demo-cluster', service = 'web') =>
  `${ACCOUNT_PREFIX}:service-deployment/${cluster}/${service}/Qm9qPvXrT4kC2hN8zLw1s`;
export const taskDefinitionArn = (family = 'web', revision = 12) =>
  `${ACCOUNT_PREFIX}:task-definition/${family}:${revision}`;

export interface EventOptions {
  stage?: string;
  cluster?: string;
  service?: string;
  hookDetails?: Record<string, unknown>;
  productionTrafficWeights?: Record<string, number>;
}

/** A lifecycle hook event as ECS sends it (executionDetails wrapper). */
export function hookEvent(opts: EventOptions = {}): Record<string, unknown> {
  const { cluster = 'demo-cluster', service = 'web' } = opts;
  return {
    executionId: 'd2b8f6a3-7e41-4c09-8a5d-1f3e6c9b2a70',
    lifecycleStage: opts.stage ?? 'PRE_SCALE_UP',
    resourceArn: deploymentArn(cluster, service),
    executionDetails: {
      serviceArn: `${ACCOUNT_PREFIX}:service/${cluster}/${service}`,
      targetServiceRevisionArn: revisionArn(cluster, service),
      testTrafficWeights: {},
      productionTrafficWeights: opts.productionTrafficWeights ?? {},
    },
    ...(opts.hookDetails ? { hookDetails: opts.hookDetails } : {}),
  };
}

export interface ContainerImage {
  containerName: string;
  image: string;
  imageDigest?: string;
}

export interface Harness {
  readonly reg: TestRegistry;
  readonly key: TestKeyPair;
  readonly ecs: AwsClientStub<ECSClient>;
  readonly sns: AwsClientStub<SNSClient>;
  /** image reference by tag in the test repository */
  ref(tag: string): string;
  /** push a fresh image at `tag` (moving the tag if it existed); signed with `key` when asked */
  push(tag: string, signed: boolean): Promise<string>;
  policy(extra?: Record<string, unknown>): string;
  /** sets the environment and starts a fresh Lambda container (a new Runtime) on it */
  configure(env: Record<string, string>): void;
  /** the lifecycle hook handler of the container configure() started */
  hook: ReturnType<typeof makeLifecycleHook>;
  /** DescribeServiceRevisions answers with this revision (the one asked for) */
  revision(containers: ContainerImage[], opts?: { arn?: string; taskDefinition?: string }): void;
  /** DescribeTaskDefinition answers with these container definitions */
  taskDefinition(containers: { name: string; versionConsistency?: 'enabled' | 'disabled' }[]): void;
  /** every message logged at any level, in order */
  logged(): string[];
  context(remainingMs?: number): { getRemainingTimeInMillis: () => number };
}

export function setupHookHarness(): Harness {
  const ecs = mockClient(ECSClient);
  const sns = mockClient(SNSClient);
  const key = generateKeyPair('p256');
  let reg: TestRegistry | undefined;
  const saved = { ...process.env };
  const spies: ReturnType<typeof vi.spyOn>[] = [];
  let hook: ReturnType<typeof makeLifecycleHook> | undefined;

  const harness: Harness = {
    get reg() {
      if (!reg) throw new Error('registry not started');
      return reg;
    },
    key,
    ecs,
    sns,
    ref: (tag) => `${harness.reg.host}/${REPO}:${tag}`,
    async push(tag, signed) {
      const d = await harness.reg.pushImage(REPO, tag);
      if (signed) await signImage(harness.reg, REPO, { digest: d.digest }, key.privateKey);
      return d.digest;
    },
    policy: (extra = {}) =>
      JSON.stringify({
        version: 1,
        registries: { [harness.reg.host]: { insecure: true } },
        rules: [
          {
            name: 'app',
            images: [`${harness.reg.host}/app/**`],
            verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }],
          },
        ],
        ...extra,
      }),
    configure(env) {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(
        process.env,
        { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ALERT_TOPIC_ARN: TOPIC },
        env,
      );
      hook = makeLifecycleHook(new Runtime(process.env));
    },
    hook: (event, context) => {
      if (!hook) throw new Error('configure() first');
      return hook(event, context);
    },
    revision(containers, opts = {}) {
      const arn = opts.arn ?? revisionArn();
      ecs.on(DescribeServiceRevisionsCommand, { serviceRevisionArns: [arn] }).resolves({
        serviceRevisions: [
          {
            serviceRevisionArn: arn,
            taskDefinition: opts.taskDefinition ?? taskDefinitionArn(),
            containerImages: containers,
          },
        ],
        failures: [],
      });
    },
    taskDefinition(containers) {
      ecs.on(DescribeTaskDefinitionCommand).resolves({
        taskDefinition: {
          taskDefinitionArn: taskDefinitionArn(),
          containerDefinitions: containers.map((c) => ({ ...c, image: 'x' })),
        },
      });
    },
    logged: () => spies.flatMap((s) => s.mock.calls.map((c: unknown[]) => String(c[0]))),
    context: (remainingMs = 30_000) => ({ getRemainingTimeInMillis: () => remainingMs }),
  };

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry();
  }, 30_000);
  afterAll(async () => reg?.stop());
  beforeEach(() => {
    ecs.reset();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    spies.push(vi.spyOn(logger, 'info'), vi.spyOn(logger, 'warn'), vi.spyOn(logger, 'error'));
    harness.configure({ POLICY: harness.policy() });
  });
  afterEach(() => {
    for (const s of spies.splice(0)) s.mockRestore();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  return harness;
}
