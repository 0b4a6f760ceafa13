import { describe, expect, it } from 'vitest';
import type { Decision, ReasonCode } from '../src/core/decision.js';
import { HandledTasks } from '../src/watchdog/handled-tasks.js';
import { taskScopeFrom } from '../src/core/config.js';
import { serviceClaim } from '../src/watchdog/scope.js';
import { STOP_REASON_MAX, stopReason } from '../src/watchdog/stop-reason.js';
import { parseTaskEvent, TaskEventError, taskFamily, whyIgnored } from '../src/watchdog/task-event.js';

const HEX = 'ab12cd34ef56'.padEnd(64, '0');
const ECR = '123456789012.dkr.ecr.us-east-1.amazonaws.com';

function deny(
  container: string,
  image: string,
  reason: ReasonCode = 'SIGNATURE_MISSING',
  digest: string | null = `sha256:${HEX}`,
): Decision {
  return {
    container,
    image,
    digest,
    decision: 'deny',
    reason,
    rule: 'app',
    verifiedBy: [],
    detail: 'x',
    durationMs: 1,
    mode: 'enforce',
  };
}

describe('stopReason', () => {
  it('names container, image with digest and reason code when it fits', () => {
    expect(stopReason([deny('web', `${ECR}/app:1.2`)])).toBe(
      `ecs-image-gate: web ${ECR}/app:1.2@sha256:${HEX} SIGNATURE_MISSING`,
    );
    // an image already pinned by digest is not repeated
    expect(stopReason([deny('web', `${ECR}/app@sha256:${HEX}`)])).toBe(
      `ecs-image-gate: web ${ECR}/app@sha256:${HEX} SIGNATURE_MISSING`,
    );
    expect(stopReason([deny('web', `${ECR}/app:1.2`, 'DIGEST_MISSING', null)])).toBe(
      `ecs-image-gate: web ${ECR}/app:1.2 DIGEST_MISSING`,
    );
  });

  it('shortens digests first, keeping every reason code', () => {
    const reason = stopReason([deny('web', `${ECR}/app:1`), deny('log', `${ECR}/fluent-bit:2`, 'SIGNATURE_INVALID')]);
    expect(reason).toBe(
      `ecs-image-gate: web ${ECR}/app:1@sha256:ab12cd34ef56... SIGNATURE_MISSING; log ${ECR}/fluent-bit:2@sha256:ab12cd34ef56... SIGNATURE_INVALID`,
    );
    expect(reason.length).toBeLessThanOrEqual(STOP_REASON_MAX);
  });

  it('stays within 255 characters for ten containers with long names, and says how many it left out and their codes', () => {
    const many = Array.from({ length: 10 }, (_, i) =>
      deny(
        `container-${i}-${'n'.repeat(200)}`,
        `${ECR}/${'team/'.repeat(20)}service-${i}:release-2025-06-12`,
        i % 2 ? 'REVOKED' : 'UNTRUSTED_SIGNER',
      ),
    );
    const reason = stopReason(many);
    expect(reason.length).toBeLessThanOrEqual(STOP_REASON_MAX);
    expect(reason).toMatch(
      /^ecs-image-gate: container-0-n+\.\.\. \.\.\.\/team\/\S*:release-2025-06-12@sha256:ab12cd34ef56\.\.\. UNTRUSTED_SIGNER; \+9 more: REVOKED$/,
    );
  });

  it('keeps every reason code of 1,000 containers within 255 characters, in one linear pass', () => {
    const codes: ReasonCode[] = ['SIGNATURE_MISSING', 'UNTRUSTED_SIGNER', 'DIGEST_MISSING', 'REVOKED', 'TIMEOUT'];
    // the rarer codes come late, one of them only in the very last container
    const many = Array.from({ length: 1_000 }, (_, i) =>
      deny(`c${i}`, `${ECR}/team/service-${i}:v${i}`, i === 999 ? 'TIMEOUT' : codes[Math.floor((i / 999) * 4)]!),
    );
    const reason = stopReason(many);
    expect(reason.length).toBeLessThanOrEqual(STOP_REASON_MAX);
    for (const code of codes) expect(reason).toContain(code);
    expect(reason).toMatch(
      /^ecs-image-gate: c0 \.\.\.\/team\/service-0:v0@sha256:ab12cd34ef56\.\.\. SIGNATURE_MISSING; .*\+\d+ more: [A-Z_, ]+$/,
    );
    const shown = reason.split('; ').length - 1;
    expect(reason).toContain(`+${1_000 - shown} more`);
    // linear: the cost is one call of item formatting per container and attempt, so a
    // hundred thousand containers answer like a thousand (the old search was quadratic)
    expect(stopReason(Array.from({ length: 100_000 }, (_, i) => many[i % 1_000]!)).length).toBeLessThanOrEqual(
      STOP_REASON_MAX,
    );
  });

  it('keeps the codes of the containers it cannot show even when one tight container and those codes do not fit', () => {
    const others: ReasonCode[] = [
      'REGISTRY_AUTH_FAILURE',
      'ATTESTATION_MISSING',
      'REVOCATION_UNKNOWN',
      'ATTESTATION_FAILED',
      'SIGNATURE_INVALID',
      'UNTRUSTED_SIGNER',
      'NO_MATCHING_RULE',
    ];
    const items = [
      deny('web', `${ECR}/${'x'.repeat(600)}:tag`),
      ...others.map((code, i) => deny(`c${i}`, `${ECR}/${'y'.repeat(600)}:tag`, code)),
    ];
    const reason = stopReason(items);
    expect(reason.length).toBeLessThanOrEqual(STOP_REASON_MAX);
    expect(reason).toMatch(/^ecs-image-gate: web \S+ SIGNATURE_MISSING; \+7 more: /);
    for (const code of others) expect(reason).toContain(code);
  });

  it('drops the registry host before it drops a container', () => {
    const three = [
      deny('web', `${ECR}/app:1`),
      deny('sidecar', `${ECR}/envoy:1`),
      deny('log', `${ECR}/fluent-bit:2`, 'REVOKED'),
    ];
    expect(stopReason(three)).toBe(
      'ecs-image-gate: web .../app:1@sha256:ab12cd34ef56... SIGNATURE_MISSING; sidecar .../envoy:1@sha256:ab12cd34ef56... SIGNATURE_MISSING; log .../fluent-bit:2@sha256:ab12cd34ef56... REVOKED',
    );
  });

  it('keeps the reason code of a single absurdly long image, in printable ASCII', () => {
    const reason = stopReason([deny('wéb\n', `${ECR}/${'x'.repeat(600)}:tag`, 'DIGEST_MISMATCH')]);
    expect(reason.length).toBeLessThanOrEqual(STOP_REASON_MAX);
    expect(reason.endsWith(' DIGEST_MISMATCH')).toBe(true);
    expect(reason).toMatch(/^[\x20-\x7e]+$/);
    expect(reason.startsWith('ecs-image-gate: w?b? ')).toBe(true);
  });
});

describe('HandledTasks', () => {
  it('remembers outcomes and forgets the least recently used beyond its capacity', () => {
    const h = new HandledTasks(2);
    h.add('a', 'stopped');
    h.add('b', 'allowed');
    expect(h.get('a')).toBe('stopped'); // a is now the most recent
    h.add('c', 'skipped');
    expect(h.size).toBe(2);
    expect(h.get('b')).toBeUndefined();
    expect(h.get('a')).toBe('stopped');
    expect(h.get('c')).toBe('skipped');
  });
});

describe('TASK_SCOPE', () => {
  it('defaults to standalone and widens to all on a value it does not know', () => {
    expect(taskScopeFrom(undefined)).toEqual({ scope: 'standalone' });
    expect(taskScopeFrom(' Standalone ')).toEqual({ scope: 'standalone' });
    expect(taskScopeFrom('ALL')).toEqual({ scope: 'all' });
    const typo = taskScopeFrom('standalon');
    expect(typo.scope).toBe('all');
    expect(typo.warning).toContain('"standalon"');
  });
});

const base = {
  'detail-type': 'ECS Task State Change',
  source: 'aws.ecs',
  region: 'us-east-1',
  detail: {
    clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/c1',
    taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/c1/0123456789abcdef0123456789abcdef',
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/app:1',
    lastStatus: 'PENDING',
    desiredStatus: 'RUNNING',
    containers: [{ name: 'app', image: `${ECR}/app:1`, imageDigest: `sha256:${HEX}`, unknownField: 1 }],
    someNewField: { ok: true },
  },
};

describe('parseTaskEvent', () => {
  it('reads the keys it acts on and ignores the rest', () => {
    const t = parseTaskEvent(base);
    expect(t).toEqual({
      region: 'us-east-1',
      clusterArn: base.detail.clusterArn,
      taskArn: base.detail.taskArn,
      taskId: '0123456789abcdef0123456789abcdef',
      taskDefinitionArn: base.detail.taskDefinitionArn,
      lastStatus: 'PENDING',
      desiredStatus: 'RUNNING',
      containers: [{ name: 'app', image: `${ECR}/app:1`, imageDigest: `sha256:${HEX}` }],
    });
  });

  it('accepts old-format task ARNs and takes the region from the ARN when the envelope lacks it', () => {
    const { region: _, ...noRegion } = base;
    const t = parseTaskEvent({
      ...noRegion,
      detail: { ...base.detail, taskArn: 'arn:aws-cn:ecs:cn-north-1:123456789012:task/0123abcd' },
    });
    expect(t.region).toBe('cn-north-1');
    expect(t.taskId).toBe('0123abcd');
  });

  it.each([
    ['another detail-type', { ...base, 'detail-type': 'ECS Container Instance State Change' }, 'detail-type'],
    [
      'a task ARN that is not one',
      { ...base, detail: { ...base.detail, taskArn: 'task/1' } },
      'detail.taskArn: must be an ECS task ARN',
    ],
    [
      'a container without a name',
      { ...base, detail: { ...base.detail, containers: [{ image: 'x' }] } },
      'detail.containers.0.name',
    ],
    ['no detail', { ...base, detail: undefined }, 'detail'],
  ])('refuses %s with a sentence naming the field', (_, event, field) => {
    expect(() => parseTaskEvent(event)).toThrow(TaskEventError);
    expect(() => parseTaskEvent(event)).toThrow(field);
  });
});

describe('whyIgnored and serviceClaim', () => {
  it('looks at every status of a task that should run up to RUNNING, where digests may arrive', () => {
    const t = parseTaskEvent(base);
    for (const lastStatus of ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING'])
      expect(whyIgnored({ ...t, lastStatus })).toBeUndefined();
    expect(whyIgnored({ ...t, lastStatus: 'DEACTIVATING' })).toContain('lastStatus is DEACTIVATING');
    expect(whyIgnored({ ...t, lastStatus: 'STOPPED' })).toContain('lastStatus is STOPPED');
    expect(whyIgnored({ ...t, desiredStatus: 'STOPPED' })).toContain('desiredStatus is STOPPED');
  });

  it('reads the task family from the task definition ARN', () => {
    expect(taskFamily('arn:aws:ecs:us-east-1:123456789012:task-definition/demo-app:3')).toBe('demo-app');
    expect(taskFamily(undefined)).toBeUndefined();
    expect(taskFamily('demo-app')).toBeUndefined();
  });

  it('reads the service hints, which are only hints', () => {
    const t = parseTaskEvent(base);
    expect(serviceClaim(t)).toBeUndefined();
    expect(serviceClaim({ ...t, group: 'family:app', startedBy: 'events-rule/nightly' })).toBeUndefined();
    expect(serviceClaim({ ...t, group: 'service:web', startedBy: 'ecs-svc/1' })).toEqual({
      service: 'web',
      startedBy: 'ecs-svc/1',
    });
    expect(serviceClaim({ ...t, startedBy: 'ecs-svc/1' })).toEqual({ startedBy: 'ecs-svc/1' });
  });
});
