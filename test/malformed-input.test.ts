/**
 * Malformed input through the real Lambda entry points (lifecycleHook, taskStateChange)
 * configured from the environment as in Lambda: truncated JSON, wrong types, 10,000
 * containers, a 10 MB policy, rule globs that can never match. Each must give a clear
 * log line a person can act on (not a stack trace as the only record, not megabytes of
 * the input), and never an allow: no SUCCEEDED, no running task, in enforce mode.
 *
 * No registry is needed: every image here is decided before a registry call (no rule
 * matches, or the policy cannot be used).
 */
import { readFileSync } from 'node:fs';
import { DescribeServiceRevisionsCommand, DescribeTasksCommand, ECSClient, StopTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeLifecycleHook } from '../src/handlers/lifecycle-hook.js';
import { makeTaskStateChange } from '../src/handlers/task-state-change.js';
import { logger } from '../src/core/observability.js';
import { Runtime } from '../src/gate/runtime.js';
import { generateKeyPair } from './support/cosign-signer.js';

/** One Lambda container on the current environment: its own Runtime, the handlers bound to it. */
let runtime = new Runtime(process.env);
let lifecycleHook = makeLifecycleHook(runtime);
let taskStateChange = makeTaskStateChange(runtime);
function startContainer(): void {
  runtime = new Runtime(process.env);
  lifecycleHook = makeLifecycleHook(runtime);
  taskStateChange = makeTaskStateChange(runtime);
}

const ecs = mockClient(ECSClient);
const context = { getRemainingTimeInMillis: () => 30_000 };
const hookEvent = JSON.parse(readFileSync('events/hook-pre-scale-up.json', 'utf8')) as Record<string, unknown>;
const taskEvent = JSON.parse(readFileSync('events/task-standalone-unsigned.json', 'utf8')) as {
  detail: Record<string, unknown>;
};
const REVISION = (hookEvent.executionDetails as { targetServiceRevisionArn: string }).targetServiceRevisionArn;
const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/app';
const DIGEST = `sha256:${'ab'.repeat(32)}`;
/** a log line someone reads: one sentence, not the input echoed */
const MAX_LINE = 2_000;
const MAX_RECORD = 16 * 1024;

const POLICY = {
  version: 1,
  mode: 'enforce',
  rules: [
    {
      name: 'app',
      images: ['registry.example.com/app/**'],
      verifiers: [{ type: 'cosign', publicKey: generateKeyPair('p256').publicKeyPem }],
    },
  ],
};

const saved = { ...process.env };
function configure(policy: string): void {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POLICY: policy,
  });
  startContainer();
}

let logged: Record<'error' | 'warn' | 'info', unknown[][]>;
beforeEach(() => {
  ecs.reset();
  ecs.on(StopTaskCommand).resolves({});
  ecs.on(DescribeTasksCommand).rejects(new Error('not in this test'));
  logged = { error: [], warn: [], info: [] };
  for (const level of ['error', 'warn', 'info'] as const) {
    vi.spyOn(logger, level).mockImplementation(((...args: unknown[]) => void logged[level].push(args)) as never);
  }
  configure(JSON.stringify(POLICY));
});
afterEach(() => {
  vi.restoreAllMocks();
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  startContainer();
});

/** exactly one error line, readable: short, one line, no stack frames */
function expectOneClearErrorLine(about: RegExp): string {
  expect(logged.error, `error lines: ${logged.error.map((c) => String(c[0]).slice(0, 200)).join(' | ')}`).toHaveLength(
    1,
  );
  const line = String(logged.error[0]![0]);
  expect(line).toMatch(about);
  expect(line.length).toBeLessThanOrEqual(MAX_LINE);
  expect(line).not.toMatch(/\n\s+at /);
  expect(line).not.toMatch(/^(TypeError|Error|SyntaxError)\b/);
  // the whole record too (fields, the error's message and stack): CloudWatch cuts events at 256 KB
  const record = JSON.stringify(logged.error[0], (_, v: unknown) =>
    v instanceof Error ? { message: v.message, stack: v.stack } : v,
  );
  expect(record.length).toBeLessThanOrEqual(MAX_RECORD);
  return line;
}

let taskCounter = 0;
/** a standalone task event (unique task ARN: the watchdog remembers tasks per container) */
function task(containers: unknown, extra: Record<string, unknown> = {}): unknown {
  const id = `${(++taskCounter).toString(16).padStart(8, '0')}${'0'.repeat(24)}`;
  const taskArn = `arn:aws:ecs:us-east-1:123456789012:task/demo-cluster/${id}`;
  return { ...taskEvent, resources: [taskArn], detail: { ...taskEvent.detail, taskArn, containers, ...extra } };
}

function revision(containerImages: unknown[]): void {
  ecs
    .on(DescribeServiceRevisionsCommand)
    .resolves({ serviceRevisions: [{ serviceRevisionArn: REVISION, containerImages }], failures: [] } as never);
}

const container = (i: number) => ({ name: `c${i}`, image: `${IMAGE}:${i}`, imageDigest: DIGEST });
const revisionContainer = (i: number) => ({ containerName: `c${i}`, image: `${IMAGE}:${i}`, imageDigest: DIGEST });

describe('lifecycle hook, enforce mode', () => {
  it.each([
    ['truncated JSON', JSON.stringify(hookEvent).slice(0, 80)],
    ['null', null],
    ['an array', [hookEvent]],
    [
      'a number for the revision ARN',
      { ...hookEvent, executionDetails: { ...(hookEvent.executionDetails as object), targetServiceRevisionArn: 42 } },
    ],
    ['an object for the stage', { ...hookEvent, lifecycleStage: { name: 'PRE_SCALE_UP' } }],
    ['a string for executionDetails', { ...hookEvent, executionDetails: 'arn:aws:ecs:…' }],
  ])('%s: FAILED, one clear line', async (_, event) => {
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
    expectOneClearErrorLine(/event|revision|stage|executionDetails/i);
    expect(ecs.commandCalls(DescribeServiceRevisionsCommand)).toHaveLength(0);
  });

  // An ECS answer with wrong types is read by a schema (src/deployment/revision.ts): the
  // log says which field, never a TypeError.
  it('an ECS answer with wrong types: FAILED, one clear line', async () => {
    revision([{ containerName: 7, image: { uri: IMAGE }, imageDigest: ['sha256:x'] }]);
    expect(await lifecycleHook(hookEvent, context)).toEqual({ hookStatus: 'FAILED' });
    const line = [...logged.error, ...logged.warn].map((c) => String(c[0])).join('\n');
    expect(line).not.toMatch(/TypeError|Cannot read properties/);
  });

  it('10,000 containers: FAILED, every one decided', async () => {
    revision(Array.from({ length: 10_000 }, (_, i) => revisionContainer(i)));
    expect(await lifecycleHook(hookEvent, context)).toEqual({ hookStatus: 'FAILED' });
    expect(logged.warn.filter((c) => String(c[0]).includes('NO_MATCHING_RULE'))).toHaveLength(10_000);
    for (const [message] of logged.warn) expect(String(message).length).toBeLessThanOrEqual(MAX_LINE);
  });

  // A document over MAX_POLICY_BYTES is refused before the YAML parser sees it (which
  // would be busy for ~45 s, synchronously, on 10 MB).
  it('a 10 MB policy that does not parse: FAILED, one short line', async () => {
    configure(`{"version": 1, "rules": [${'{"name": "x", '.repeat(750_000)}`);
    revision([revisionContainer(1)]);
    expect(await lifecycleHook(hookEvent, context)).toEqual({ hookStatus: 'FAILED' });
    expectOneClearErrorLine(/POLICY/);
  });

  // Policy errors echo at most a bounded excerpt of the document (boundedMessage).
  it('a 10 MB policy with a 10 MB wrong value: FAILED, one short line', async () => {
    configure(JSON.stringify({ ...POLICY, mode: 'x'.repeat(10 * 1024 * 1024) }));
    revision([revisionContainer(1)]);
    expect(await lifecycleHook(hookEvent, context)).toEqual({ hookStatus: 'FAILED' });
    expectOneClearErrorLine(/POLICY/);
  });

  // A rule glob that can never match registry/repository (scheme, tag, digest, blanks) is a
  // policy error: with unmatched: allow it would admit the images it was meant to cover.
  it.each([
    ['a scheme', 'https://registry.example.com/app/**'],
    ['a tag', 'registry.example.com/app:1.0'],
    ['a digest', `registry.example.com/app@${DIGEST}`],
    ['spaces', ' registry.example.com/app/** '],
  ])('a rule glob with %s, unmatched: allow: never SUCCEEDED', async (_, glob) => {
    configure(JSON.stringify({ ...POLICY, unmatched: 'allow', rules: [{ ...POLICY.rules[0], images: [glob] }] }));
    revision([{ containerName: 'web', image: 'registry.example.com/app:1.0', imageDigest: DIGEST }]);
    expect(await lifecycleHook(hookEvent, context)).toEqual({ hookStatus: 'FAILED' });
    expectOneClearErrorLine(/POLICY/);
  });
});

describe('task watchdog, enforce mode', () => {
  it.each([
    ['truncated JSON', () => JSON.stringify(task([container(1)])).slice(0, 120)],
    ['null', () => null],
    ['a string for containers', () => task('app')],
    ['a number for the digest', () => task([{ ...container(1), imageDigest: 5 }])],
    ['a number for lastStatus', () => task([container(1)], { lastStatus: 7 })],
  ])('%s: rejected, one clear line, nothing run', async (_, event) => {
    const out = await taskStateChange(event(), context);
    expect(out.action).toBe('rejected');
    expectOneClearErrorLine(/not an ECS Task State Change event/);
    expect(ecs.commandCalls(StopTaskCommand)).toHaveLength(0);
  });

  // The stop reason is built in time linear in the containers.
  it('10,000 containers: stopped once, with a reason ECS accepts', async () => {
    const out = await taskStateChange(task(Array.from({ length: 10_000 }, (_, i) => container(i))), context);
    expect(out.action).toBe('stopped');
    const stops = ecs.commandCalls(StopTaskCommand);
    expect(stops).toHaveLength(1);
    expect(stops[0]!.args[0].input.reason!.length).toBeLessThanOrEqual(255);
    expect(stops[0]!.args[0].input.reason).toMatch(/NO_MATCHING_RULE; \+\d+ more$/);
  });

  it('a 10 MB policy with a 10 MB wrong value: stopped as POLICY_ERROR, one short line', async () => {
    configure(JSON.stringify({ ...POLICY, mode: 'x'.repeat(10 * 1024 * 1024) }));
    const out = await taskStateChange(task([container(1)]), context);
    expect(out.action).toBe('stopped');
    expect(out.decisions.map((d) => d.reason)).toEqual(['POLICY_ERROR']);
    expectOneClearErrorLine(/policy/i);
  });

  // The same bad glob on the task path: a policy error, the task is stopped.
  it('a rule glob with a scheme, unmatched: allow: the task is not left running', async () => {
    configure(
      JSON.stringify({
        ...POLICY,
        unmatched: 'allow',
        rules: [{ ...POLICY.rules[0], images: ['https://123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/**'] }],
      }),
    );
    const out = await taskStateChange(task([container(1)]), context);
    expect(out.action).toBe('stopped');
    expectOneClearErrorLine(/policy/i);
  });
});
