/**
 * ECS answers the SDK types promise but nothing checks: each wrong shape becomes one
 * sentence in the log and a decision with a reason code, never a TypeError stack and
 * never an allow it would not otherwise be.
 */
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, StopTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../src/core/observability.js';
import type { ImageInput } from '../src/gate/decide.js';
import type { Decision } from '../src/core/decision.js';
import { errorSentence, readDescribeServices, readDescribeTasks } from '../src/watchdog/ecs-answers.js';
import { HandledTasks } from '../src/watchdog/handled-tasks.js';
import { confirmedClaimsCache } from '../src/watchdog/scope.js';
import { watchTask, type WatchdogDeps } from '../src/watchdog/watch-task.js';

const TASK_ARN = 'arn:aws:ecs:us-east-1:123456789012:task/c1/0123456789abcdef0123456789abcdef';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

function event(lastStatus: string, extra: Record<string, unknown> = {}) {
  return {
    'detail-type': 'ECS Task State Change',
    region: 'us-east-1',
    detail: {
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/c1',
      taskArn: TASK_ARN,
      taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/app:1',
      lastStatus,
      desiredStatus: 'RUNNING',
      containers: [{ name: 'app', image: 'registry.example/app:1' }],
      ...extra,
    },
  };
}

const ecs = new ECSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
const ecsMock = mockClient(ecs);
let decided: ImageInput[][];
let logged: string[];

/** decide() stand-in: the gate resolves a tag to an unsigned digest. */
function deps(over: Partial<WatchdogDeps> = {}): WatchdogDeps {
  return {
    ecs,
    decide: async (images) => {
      decided.push(images);
      return images.map(
        (i): Decision => ({
          container: i.container,
          image: i.image,
          digest: i.digest ?? DIGEST,
          decision: 'deny',
          reason: 'SIGNATURE_MISSING',
          rule: 'app',
          verifiedBy: [],
          detail: 'no signature',
          durationMs: 1,
          mode: 'enforce',
          ...(i.resolveTag ? { digestResolvedFromTag: '1' } : {}),
        }),
      );
    },
    alert: async () => ({}),
    handled: new HandledTasks(),
    confirmedClaims: confirmedClaimsCache(),
    scope: 'standalone',
    remainingMs: () => 30_000,
    logDecisions: () => undefined,
    ...over,
  };
}

beforeEach(() => {
  ecsMock.reset();
  ecsMock.on(StopTaskCommand).resolves({});
  decided = [];
  logged = [];
  for (const level of ['info', 'warn', 'error'] as const) {
    vi.spyOn(logger, level).mockImplementation(((m: unknown) => void logged.push(String(m))) as never);
  }
});
afterEach(() => vi.restoreAllMocks());

describe('DescribeTasks in a wrong shape', () => {
  it.each([
    ['tasks is a string', { tasks: 'x' }, 'tasks: Expected array, received string'],
    [
      'a container has no name',
      { tasks: [{ taskArn: TASK_ARN, containers: [{ image: 'registry.example/app:1', imageDigest: DIGEST }] }] },
      'tasks.0.containers.0.name: Required',
    ],
    [
      'containers is a number',
      { tasks: [{ taskArn: TASK_ARN, containers: 7 }] },
      'tasks.0.containers: Expected array, received number',
    ],
  ])(
    '%s: one sentence logged, the task still decided (the gate resolves the tag) and stopped',
    async (_, answer, issue) => {
      ecsMock.on(DescribeTasksCommand).resolves(answer as never);
      const out = await watchTask(event('RUNNING'), deps());
      expect(out.action).toBe('stopped');
      expect(decided).toEqual([
        [{ container: 'app', image: 'registry.example/app:1', digest: null, resolveTag: true }],
      ]);
      const line = logged.find((m) => m.startsWith('ecs:DescribeTasks answered in a shape it does not have'));
      expect(line).toBe(
        `ecs:DescribeTasks answered in a shape it does not have (${issue}); verifying with what the event says`,
      );
      expect(logged.join('\n')).not.toMatch(/TypeError|\n\s+at /);
    },
  );

  it('reads the containers of the task it asked about, and refuses an answer that is not an object', () => {
    const read = readDescribeTasks(
      { tasks: [{ taskArn: 'other' }, { taskArn: TASK_ARN, containers: [{ name: 'app', imageDigest: DIGEST }] }] },
      TASK_ARN,
    );
    expect(read).toEqual({ ok: true, value: [{ name: 'app', imageDigest: DIGEST }] });
    expect(readDescribeTasks({ tasks: [] }, TASK_ARN)).toEqual({ ok: true, value: [] });
    expect(readDescribeTasks(null, TASK_ARN)).toMatchObject({
      ok: false,
      why: expect.stringMatching(/^ecs:DescribeTasks answered in a shape it does not have \(\(answer\): /),
    });
  });
});

describe('DescribeServices in a wrong shape', () => {
  it.each([
    ['services is a number', { services: 5 }, 'services: Expected array, received number'],
    [
      'deployments is a string',
      { services: [{ serviceName: 'web', status: 'ACTIVE', deployments: 'x' }] },
      'services.0.deployments: Expected array, received string',
    ],
    [
      'taskSets is an object',
      { services: [{ serviceName: 'web', status: 'ACTIVE', taskSets: { id: 1 } }] },
      'services.0.taskSets: Expected array, received object',
    ],
  ])(
    '%s: the claim does not check out, the task is verified and the note says why in one sentence',
    async (_, answer, issue) => {
      ecsMock.on(DescribeServicesCommand).resolves(answer as never);
      let note: string | undefined;
      const out = await watchTask(
        event('PENDING', {
          group: 'service:web',
          startedBy: 'ecs-svc/1',
          containers: [{ name: 'app', image: 'registry.example/app:1', imageDigest: DIGEST }],
        }),
        deps({ alert: async (_d, ctx) => ((note = ctx.note), {}) }),
      );
      expect(out.action).toBe('stopped');
      expect(note).toBe(
        `the task claims to be a service task (group service:web, startedBy ecs-svc/1), but ecs:DescribeServices answered in a shape it does not have (${issue}): ` +
          "verified as a standalone task (the policy's overrides for service web do not apply).",
      );
      expect(logged.join('\n')).not.toMatch(/TypeError|\n\s+at /);
    },
  );

  it('reads a well-shaped answer', () => {
    expect(
      readDescribeServices({ services: [{ serviceName: 'web', deployments: [{ id: 'ecs-svc/1' }] }] }, 'web'),
    ).toEqual({
      ok: true,
      value: { serviceName: 'web', deployments: [{ id: 'ecs-svc/1' }] },
    });
  });
});

describe('failures in one line', () => {
  it('StopTask rejecting with a non-Error or a multi-line message is one printable line', async () => {
    ecsMock.on(StopTaskCommand).rejects('plain string' as never);
    const thrown = await watchTask(
      event('PENDING', { containers: [{ name: 'app', image: 'registry.example/app:1', imageDigest: DIGEST }] }),
      deps(),
    ).catch((e: unknown) => e);
    expect((thrown as { summary: { why: string } }).summary.why).toMatch(/^[\x20-\x7e]+$/);
    expect(errorSentence(new Error('first line\n    at frame (file.js:1:1)'))).toBe('Error: first line');
    expect(errorSentence('x'.repeat(1_000))).toHaveLength(300);
    expect(errorSentence(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))).toBe(
      'ThrottlingException: Rate exceeded',
    );
  });
});

describe('a crash is never a verdict', () => {
  it('a decide() that throws (a bug) is thrown on, so Lambda retries: the task is not allowed, not remembered', async () => {
    const handled = new HandledTasks();
    const withDigest = event('PENDING', {
      containers: [{ name: 'app', image: 'registry.example/app:1', imageDigest: DIGEST }],
    });
    const run = () =>
      watchTask(
        withDigest,
        deps({
          handled,
          decide: async () => {
            throw new TypeError("Cannot read properties of undefined (reading 'digest')");
          },
        }),
      );
    await expect(run()).rejects.toThrow(TypeError);
    expect(handled.get(TASK_ARN)).toBeUndefined();
    // the retry decides anew (here the same bug again), never a remembered "allowed"
    await expect(run()).rejects.toThrow(TypeError);
  });
});
