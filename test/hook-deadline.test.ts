/**
 * Every ECS call the hook makes carries an abort signal from the one budget planned
 * when the call arrives, and the hook answers before Lambda's deadline even when ECS
 * does not (issue 11: with DescribeServiceRevisions answering after 10 s and a 6 s
 * budget the hook used to answer at 10.4 s: no answer at all, so ECS rolled back, even
 * in log-only mode). No timed assertion: each test asserts the hook answered before the
 * stalled call did (an ordering), whatever the machine's speed.
 */
import {
  DescribeServiceDeploymentsCommand,
  DescribeServiceRevisionsCommand,
  DescribeTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ATTEMPT_KEY } from '../src/deployment/hook.js';
import { hookEvent, setupHookHarness } from './support/hook-harness.js';

const h = setupHookHarness();
const timers: NodeJS.Timeout[] = [];
afterEach(() => timers.splice(0).forEach(clearTimeout));

let ecsAnswered: Promise<'ECS answered first'>;
let markAnswered: () => void;
beforeEach(() => {
  ecsAnswered = new Promise((resolve) => (markAnswered = () => resolve('ECS answered first')));
});

/** An answer that comes after 10 s, as a stalled ECS endpoint would give it. */
function slow<T>(value: T): () => Promise<T> {
  return () =>
    new Promise((resolve) =>
      timers.push(
        setTimeout(() => {
          markAnswered();
          resolve(value);
        }, 10_000),
      ),
    );
}

/** The hook's answer, provided it came before any stalled ECS call answered. */
async function answerFirst(event: Record<string, unknown>, context: ReturnType<typeof h.context>) {
  const first = await Promise.race([h.hook(event, context), ecsAnswered]);
  if (first === 'ECS answered first') throw new Error('the hook waited for the stalled ECS call');
  return first;
}

// 1.5 s left: 1 s kept to answer, the rest split between ECS + decisions and alerts.
const SHORT = h.context(1_500);
const signalOf = (call: { args: unknown[] }) =>
  (call.args[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal;

describe('a DescribeServiceRevisions that answers after the budget', () => {
  it('enforce mode: answers IN_PROGRESS (transient) before the budget ends, and aborted the call', async () => {
    h.ecs.on(DescribeServiceRevisionsCommand).callsFake(slow({ serviceRevisions: [] }));
    const answer = await answerFirst(hookEvent(), SHORT);
    expect(answer).toEqual({ hookStatus: 'IN_PROGRESS', callBackDelay: 30, hookDetails: { [ATTEMPT_KEY]: 1 } });
    const call = h.ecs.commandCalls(DescribeServiceRevisionsCommand)[0]!;
    expect(signalOf(call)).toBeInstanceOf(AbortSignal);
    expect(signalOf(call)!.aborted).toBe(true);
    expect(
      h.logged().some((l) => l.includes('ecs:DescribeServiceRevisions did not answer before the decision deadline')),
    ).toBe(true);
  });

  it('enforce mode, retries used up: FAILED', async () => {
    h.configure({ POLICY: h.policy(), HOOK_MAX_RETRIES: '0' });
    h.ecs.on(DescribeServiceRevisionsCommand).callsFake(slow({ serviceRevisions: [] }));
    expect(await answerFirst(hookEvent(), SHORT)).toEqual({ hookStatus: 'FAILED' });
  });

  it('log-only mode: answers SUCCEEDED', async () => {
    h.configure({ POLICY: h.policy({ mode: 'audit' }) });
    h.ecs.on(DescribeServiceRevisionsCommand).callsFake(slow({ serviceRevisions: [] }));
    expect(await answerFirst(hookEvent(), SHORT)).toEqual({ hookStatus: 'SUCCEEDED' });
  });

  it('FAILURE_BEHAVIOR=LOG_ON_FAILURE: answers SUCCEEDED', async () => {
    h.configure({ POLICY: h.policy(), FAILURE_BEHAVIOR: 'LOG_ON_FAILURE' });
    h.ecs.on(DescribeServiceRevisionsCommand).callsFake(slow({ serviceRevisions: [] }));
    expect(await answerFirst(hookEvent(), SHORT)).toEqual({ hookStatus: 'SUCCEEDED' });
  });
});

describe('the other ECS calls', () => {
  it('a slow DescribeServiceDeployments is not a rollback: the hook goes on and is bounded too', async () => {
    h.ecs
      .on(DescribeServiceDeploymentsCommand)
      .callsFake(slow({ serviceDeployments: [{ status: 'ROLLBACK_IN_PROGRESS' }] }));
    h.ecs.on(DescribeServiceRevisionsCommand).callsFake(slow({ serviceRevisions: [] }));
    const answer = await answerFirst(hookEvent({ stage: 'PRODUCTION_TRAFFIC_SHIFT' }), SHORT);
    expect(answer.hookStatus).toBe('IN_PROGRESS');
    expect(signalOf(h.ecs.commandCalls(DescribeServiceDeploymentsCommand)[0]!)!.aborted).toBe(true);
  });

  it('a slow DescribeTaskDefinition: versionConsistency unknown, and the decision still ends by the deadline', async () => {
    await h.push('slow-td', true);
    h.revision([{ containerName: 'web', image: h.ref('slow-td') }]);
    h.ecs.on(DescribeTaskDefinitionCommand).callsFake(slow({ taskDefinition: { containerDefinitions: [] } }));
    const answer = await answerFirst(hookEvent(), SHORT);
    // the budget went to the wait: the tag resolution that follows answers TIMEOUT, a transient deny
    expect(answer.hookStatus).toBe('IN_PROGRESS');
    expect(signalOf(h.ecs.commandCalls(DescribeTaskDefinitionCommand)[0]!)!.aborted).toBe(true);
    expect(
      h
        .logged()
        .some(
          (l) => l.includes('versionConsistency unknown') && l.includes('did not answer before the decision deadline'),
        ),
    ).toBe(true);
  });

  it('with time to spare, every call carries a signal that has not fired', async () => {
    await h.push('in-time', true);
    h.revision([{ containerName: 'web', image: h.ref('in-time') }]);
    h.taskDefinition([{ name: 'web' }]);
    h.ecs.on(DescribeServiceDeploymentsCommand).resolves({ serviceDeployments: [] });
    expect(await h.hook(hookEvent({ stage: 'PRODUCTION_TRAFFIC_SHIFT' }), h.context())).toEqual({
      hookStatus: 'SUCCEEDED',
    });
    const calls = h.ecs.calls();
    expect(calls).toHaveLength(3);
    for (const call of calls) {
      expect(signalOf(call)).toBeInstanceOf(AbortSignal);
      expect(signalOf(call)!.aborted).toBe(false);
    }
  });
});
