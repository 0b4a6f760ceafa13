/**
 * The ECS deployment lifecycle hook event. ECS wraps the deployment details in
 * `executionDetails`; older samples and some tools send them at the top level, so
 * both are read. Anything we cannot read is a HookEventError with a sentence.
 */
import { z } from 'zod';

export const LIFECYCLE_STAGES = [
  'RECONCILE_SERVICE',
  'PRE_SCALE_UP',
  'POST_SCALE_UP',
  'TEST_TRAFFIC_SHIFT',
  'POST_TEST_TRAFFIC_SHIFT',
  'PRE_PRODUCTION_TRAFFIC_SHIFT',
  'PRODUCTION_TRAFFIC_SHIFT',
  'POST_PRODUCTION_TRAFFIC_SHIFT',
] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

/** ECS runs the hooks of these stages again when it rolls a deployment back. */
const TRAFFIC_SHIFT_STAGES: ReadonlySet<LifecycleStage> = new Set(['TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT']);

const weights = z.record(z.number()).optional();
const details = z.object({
  serviceArn: z.string().optional(),
  targetServiceRevisionArn: z.string().regex(/^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service-revision\/[^/]+\/[^/]+\/\S+$/, 'must be a service-revision ARN'),
  testTrafficWeights: weights,
  productionTrafficWeights: weights,
});

const eventSchema = z.object({
  executionId: z.string().optional(),
  lifecycleStage: z.enum(LIFECYCLE_STAGES).optional(),
  resourceArn: z.string().optional(),
  executionDetails: z.unknown().optional(),
  hookDetails: z.record(z.unknown()).nullish(),
});

export interface HookEvent {
  executionId?: string;
  stage?: LifecycleStage;
  serviceArn?: string;
  targetServiceRevisionArn: string;
  testTrafficWeights: Record<string, number>;
  productionTrafficWeights: Record<string, number>;
  hookDetails: Record<string, unknown>;
}

export class HookEventError extends Error {}

export function parseHookEvent(raw: unknown): HookEvent {
  const outer = eventSchema.safeParse(raw);
  if (!outer.success || typeof raw !== 'object' || raw === null) {
    throw new HookEventError(`not an ECS lifecycle hook event: ${outer.success ? 'not an object' : issues(outer.error)}`);
  }
  const source = outer.data.executionDetails ?? raw; // the wrapper, or the flat form
  const inner = details.safeParse(source);
  if (!inner.success) throw new HookEventError(`lifecycle hook event without a usable target revision: ${issues(inner.error)}`);
  return {
    ...(outer.data.executionId ? { executionId: outer.data.executionId } : {}),
    ...(outer.data.lifecycleStage ? { stage: outer.data.lifecycleStage } : {}),
    ...(inner.data.serviceArn ? { serviceArn: inner.data.serviceArn } : {}),
    targetServiceRevisionArn: inner.data.targetServiceRevisionArn,
    testTrafficWeights: inner.data.testTrafficWeights ?? {},
    productionTrafficWeights: inner.data.productionTrafficWeights ?? {},
    hookDetails: outer.data.hookDetails ?? {},
  };
}

/**
 * A traffic-shift call in which the target revision is getting no traffic is ECS
 * moving traffic back to the old revision: a rollback, which must never be failed.
 */
export function isRollback(event: HookEvent): boolean {
  if (!event.stage || !TRAFFIC_SHIFT_STAGES.has(event.stage)) return false;
  const shifting = event.stage === 'TEST_TRAFFIC_SHIFT' ? event.testTrafficWeights : event.productionTrafficWeights;
  const target = shifting[event.targetServiceRevisionArn];
  return target === 0;
}

/** "cluster/service" from a service-revision ARN, for log lines and alerts. */
export function serviceOf(revisionArn: string): { cluster: string; service: string } {
  const [cluster = '', service = ''] = revisionArn.split(':service-revision/')[1]?.split('/') ?? [];
  return { cluster: cluster || '?', service: service || '?' };
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
}
