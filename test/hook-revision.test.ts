/**
 * The revision verified is exactly the one asked for, and ECS answers of the wrong
 * shape are sentences, never TypeError stacks (issue 11, item 6). Real handler and
 * registry; DescribeServiceRevisions answers mocked.
 */
import { DescribeServiceRevisionsCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it, vi } from 'vitest';
import { ATTEMPT_KEY } from '../src/deployment/hook.js';
import { logger } from '../src/core/observability.js';
import { hookEvent, revisionArn, setupHookHarness } from './support/hook-harness.js';

const h = setupHookHarness();
const event = hookEvent();
const OTHER = revisionArn('demo-cluster', 'web', '8815502764390182640');

function answer(body: Record<string, unknown>): void {
  h.ecs.on(DescribeServiceRevisionsCommand).resolves(body as never);
}

describe('exactly the revision asked for', () => {
  it('an answer carrying only another, signed revision does not admit the one asked for: FAILED, no registry call', async () => {
    const signed = await h.push('exact-signed', true);
    answer({
      serviceRevisions: [
        {
          serviceRevisionArn: OTHER,
          containerImages: [{ containerName: 'web', image: h.ref('exact-signed'), imageDigest: signed }],
        },
      ],
      failures: [],
    });
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.includes(`answered about another (${OTHER})`))).toBe(true);
    expect(h.logged().some((l) => l.includes('ALLOWED'))).toBe(false);
  });

  it('the same answer with onError: allow is still FAILED (nobody verified what will run)', async () => {
    h.configure({ POLICY: h.policy({ onError: 'allow' }) });
    answer({
      serviceRevisions: [
        {
          serviceRevisionArn: OTHER,
          containerImages: [{ containerName: 'web', image: h.ref('a'), imageDigest: `sha256:${'a'.repeat(64)}` }],
        },
      ],
    });
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('in audit mode it is SUCCEEDED, and logged as a POLICY_ERROR', async () => {
    h.configure({ POLICY: h.policy({ mode: 'audit' }) });
    const error = vi.spyOn(logger, 'error');
    answer({ serviceRevisions: [{ serviceRevisionArn: OTHER, containerImages: [] }] });
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(error.mock.calls.some((c) => (c[1] as { reason?: string })?.reason === 'POLICY_ERROR')).toBe(true);
  });

  it('picks the revision asked for from an answer that carries several', async () => {
    const signed = await h.push('several-signed', true);
    const unsigned = await h.push('several-unsigned', false);
    answer({
      serviceRevisions: [
        {
          serviceRevisionArn: OTHER,
          containerImages: [{ containerName: 'web', image: h.ref('several-signed'), imageDigest: signed }],
        },
        {
          serviceRevisionArn: revisionArn(),
          containerImages: [{ containerName: 'web', image: h.ref('several-unsigned'), imageDigest: unsigned }],
        },
      ],
    });
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.includes(`@${unsigned} DENIED SIGNATURE_MISSING`))).toBe(true);
  });

  it('a revision ECS reports MISSING (not visible yet) is waited for, then FAILED', async () => {
    h.configure({ POLICY: h.policy(), HOOK_MAX_RETRIES: '1', HOOK_RETRY_DELAY_SECONDS: '10' });
    answer({ serviceRevisions: [], failures: [{ arn: revisionArn(), reason: 'MISSING' }] });
    const first = await h.hook(event, h.context());
    expect(first).toEqual({ hookStatus: 'IN_PROGRESS', callBackDelay: 10, hookDetails: { [ATTEMPT_KEY]: 1 } });
    expect(await h.hook(hookEvent({ hookDetails: first.hookDetails! }), h.context())).toEqual({ hookStatus: 'FAILED' });
  });

  it('another failure reason for it is FAILED at once', async () => {
    answer({ serviceRevisions: [], failures: [{ arn: revisionArn(), reason: 'INVALID', detail: 'bad ARN' }] });
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(h.logged().some((l) => l.includes('INVALID (bad ARN)'))).toBe(true);
  });
});

describe('wrongly shaped answers are sentences, and FAILED in enforce mode', () => {
  it.each([
    [
      'containerImages is a string',
      { containerImages: 'x' },
      'serviceRevisions[0].containerImages: expected array, received string',
    ],
    [
      'a container without an image',
      { containerImages: [{ containerName: 'web', imageDigest: `sha256:${'b'.repeat(64)}` }] },
      'serviceRevisions[0].containerImages[0].image: missing',
    ],
    [
      'an image that is a number',
      { containerImages: [{ containerName: 'web', image: 42 }] },
      'containerImages[0].image: expected string, received number',
    ],
    ['no container images at all', { containerImages: [] }, 'the revision lists no container images'],
    ['containerImages absent', {}, 'serviceRevisions[0].containerImages: '],
  ])('%s', async (_, fields, sentence) => {
    const error = vi.spyOn(logger, 'error');
    answer({ serviceRevisions: [{ serviceRevisionArn: revisionArn(), ...fields }] });
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'FAILED' });
    const logged = error.mock.calls.map((c) => ({ message: String(c[0]), fields: c[1] as Record<string, unknown> }));
    const line = logged.find((l) => l.message.includes(sentence));
    expect(line, JSON.stringify(logged.map((l) => l.message))).toBeDefined();
    expect(line!.fields.reason).toBe('POLICY_ERROR');
    expect(line!.fields.error).toBeUndefined(); // a sentence, no stack
    expect(logged.some((l) => /TypeError/.test(l.message))).toBe(false);
  });

  it.each([
    ['serviceRevisions is a string', { serviceRevisions: 'x' }],
    ['the answer is empty', {}],
    ['a revision that is null', { serviceRevisions: [null] }],
  ])('%s', async (_, body) => {
    const error = vi.spyOn(logger, 'error');
    answer(body);
    const got = await h.hook(event, h.context());
    expect(['FAILED', 'IN_PROGRESS']).toContain(got.hookStatus);
    expect(error.mock.calls.every((c) => !(c[1] as { error?: unknown })?.error)).toBe(true);
  });

  it('an unexpected exception (a bug, not an ECS error) is FAILED even with onError: allow', async () => {
    h.configure({ POLICY: h.policy({ onError: 'allow' }), HOOK_MAX_RETRIES: '0' });
    h.ecs
      .on(DescribeServiceRevisionsCommand)
      .rejects(new TypeError("Cannot read properties of undefined (reading 'map')"));
    const error = vi.spyOn(logger, 'error');
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'FAILED' });
    expect(error.mock.calls.some((c) => (c[1] as { reason?: string })?.reason === 'INTERNAL_ERROR')).toBe(true);
  });

  it('audit mode answers SUCCEEDED for a wrongly shaped answer', async () => {
    h.configure({ POLICY: h.policy({ mode: 'audit' }) });
    answer({ serviceRevisions: [{ serviceRevisionArn: revisionArn(), containerImages: 'x' }] });
    expect(await h.hook(event, h.context())).toEqual({ hookStatus: 'SUCCEEDED' });
  });
});
