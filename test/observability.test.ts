/**
 * What the gate tells CloudWatch: the decision log line (through the real hook
 * handler and Powertools' own JSON output) and the EMF metrics the dashboard and
 * alarms in template.yaml are built on.
 */
import { readFileSync } from 'node:fs';
import { DescribeServiceRevisionsCommand, ECSClient } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeLifecycleHook } from '../src/handlers/lifecycle-hook.js';
import { logDecisions, logger } from '../src/core/observability.js';
import type { Decision } from '../src/core/decision.js';
import { Runtime } from '../src/gate/runtime.js';
import { captureEmf } from './support/emf.js';

/** One Lambda container on the current environment: its own Runtime, the handlers bound to it. */
let lifecycleHook = makeLifecycleHook(new Runtime(process.env));
function startContainer(): void {
  lifecycleHook = makeLifecycleHook(new Runtime(process.env));
}

const DIGEST = `sha256:${'cd34'.repeat(16)}`;
const IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0';
const event = JSON.parse(readFileSync('events/hook-pre-scale-up.json', 'utf8'));
const REVISION = event.executionDetails.targetServiceRevisionArn as string;

function decision(over: Partial<Decision> = {}): Decision {
  return {
    container: 'web',
    image: `${IMAGE}@${DIGEST}`,
    digest: DIGEST,
    decision: 'allow',
    reason: 'ALLOWLISTED',
    rule: null,
    verifiedBy: [],
    detail: 'allowed by prefix',
    durationMs: 12,
    mode: 'enforce',
    ...over,
  };
}

describe("decision log lines: the ECS service is ecsService, never Powertools' reserved `service`", () => {
  const ecs = mockClient(ECSClient);
  const saved = { ...process.env };
  beforeEach(() => {
    ecs.reset();
    ecs.on(DescribeServiceRevisionsCommand).resolves({
      serviceRevisions: [
        {
          serviceRevisionArn: REVISION,
          containerImages: [{ containerName: 'web', image: IMAGE, imageDigest: DIGEST }],
        },
      ],
      failures: [],
    });
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      POLICY: JSON.stringify({ version: 1, allow: { prefixes: ['public.ecr.aws/aws-observability/'] } }),
    });
    startContainer();
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    vi.restoreAllMocks();
    logger.setLogLevel('SILENT');
  });

  it('passes ecsService (and no service key) to the logger', async () => {
    const info = vi.spyOn(logger, 'info');
    expect(await lifecycleHook(event, { getRemainingTimeInMillis: () => 30_000 })).toEqual({ hookStatus: 'SUCCEEDED' });
    const line = info.mock.calls.find(([message]) => String(message).includes('ALLOWLISTED'));
    expect(line?.[1]).toMatchObject({
      ecsService: 'web',
      ecsCluster: 'demo-cluster',
      source: 'deployment-gate',
      stage: 'PRE_SCALE_UP',
    });
    expect(line?.[1]).not.toHaveProperty('service');
  });

  it('writes the ECS service into the JSON line Powertools prints, without a reserved-key warning', async () => {
    logger.setLogLevel('INFO');
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string) => written.push(String(chunk))) as never);
    await lifecycleHook(event, { getRemainingTimeInMillis: () => 30_000 });
    vi.mocked(process.stdout.write).mockRestore();
    const lines = written
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const decisionLine = lines.find((l) => String(l.message).includes('ALLOWLISTED'));
    expect(decisionLine).toMatchObject({ service: 'ecs-image-gate', ecsService: 'web', ecsCluster: 'demo-cluster' });
    expect(lines.filter((l) => String(l.message).includes('reserved key'))).toEqual([]);
  });
});

describe('decision metrics', () => {
  afterEach(() => vi.restoreAllMocks());

  it('counts each decision by reason and by source, and records its latency by source', () => {
    const stop = captureEmf();
    logDecisions([decision(), decision({ decision: 'deny', reason: 'INTERNAL_ERROR', durationMs: 40 })], {
      source: 'task-watchdog',
    });
    const emitted = stop().map(({ name, unit, value, dimensionSets, namespace }) => ({
      namespace,
      name,
      unit,
      value,
      dimensionSets,
    }));
    const service = 'ecs-image-gate';
    const namespace = 'EcsImageGate';
    expect(emitted).toEqual([
      {
        namespace,
        name: 'Decisions',
        unit: 'Count',
        value: 1,
        dimensionSets: [{ service, reason: 'ALLOWLISTED', decision: 'allow' }],
      },
      {
        namespace,
        name: 'Decisions',
        unit: 'Count',
        value: 1,
        dimensionSets: [{ service, source: 'task-watchdog', decision: 'allow' }],
      },
      {
        namespace,
        name: 'DecisionLatency',
        unit: 'Milliseconds',
        value: 12,
        dimensionSets: [{ service, source: 'task-watchdog' }],
      },
      {
        namespace,
        name: 'Decisions',
        unit: 'Count',
        value: 1,
        dimensionSets: [{ service, reason: 'INTERNAL_ERROR', decision: 'deny' }],
      },
      {
        namespace,
        name: 'Decisions',
        unit: 'Count',
        value: 1,
        dimensionSets: [{ service, source: 'task-watchdog', decision: 'deny' }],
      },
      {
        namespace,
        name: 'DecisionLatency',
        unit: 'Milliseconds',
        value: 40,
        dimensionSets: [{ service, source: 'task-watchdog' }],
      },
    ]);
  });
});
