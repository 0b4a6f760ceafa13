/**
 * The ECS deployment lifecycle hook event. ECS wraps the deployment details in
 * `executionDetails`; older samples and some tools send them at the top level, so
 * both are read. Anything we cannot read is a HookEventError with a sentence.
 */
import { z } from 'zod';

/**
 * The stages ECS documents today. The event may name any other: ECS adds stages, and
 * verifying does not depend on the stage, so an unknown stage is read and verified
 * like any other, never refused.
 */
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
export type KnownLifecycleStage = (typeof LIFECYCLE_STAGES)[number];

/**
 * Stages ECS runs once, before any traffic moves; it documents re-running only the
 * traffic-shift stages on rollback. At these a rollback is not asked about (one ECS call
 * saved on the stages the gate is attached to by default); at every other stage,
 * unknown ones included, it is.
 */
const BEFORE_TRAFFIC_STAGES: ReadonlySet<string> = new Set<KnownLifecycleStage>([
  'RECONCILE_SERVICE',
  'PRE_SCALE_UP',
  'POST_SCALE_UP',
]);

const weights = z.record(z.number()).optional();
const details = z.object({
  serviceArn: z.string().optional(),
  targetServiceRevisionArn: z
    .string()
    .regex(
      /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service-revision\/[^/]+\/[^/]+\/\S+$/,
      'must be a service-revision ARN',
    ),
  testTrafficWeights: weights,
  productionTrafficWeights: weights,
});

const eventSchema = z.object({
  executionId: z.string().optional(),
  lifecycleStage: z.string().min(1).optional(),
  resourceArn: z.string().optional(),
  executionDetails: z.unknown().optional(),
  hookDetails: z.record(z.unknown()).nullish(),
});

export interface HookEvent {
  executionId?: string;
  /** any string: see LIFECYCLE_STAGES */
  stage?: string;
  /** the service-deployment ARN: what DescribeServiceDeployments is asked about */
  resourceArn?: string;
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
    throw new HookEventError(
      `not an ECS lifecycle hook event: ${outer.success ? 'not an object' : issues(outer.error)}`,
    );
  }
  const source = outer.data.executionDetails ?? raw; // the wrapper, or the flat form
  const inner = details.safeParse(source);
  if (!inner.success)
    throw new HookEventError(`lifecycle hook event without a usable target revision: ${issues(inner.error)}`);
  return {
    ...(outer.data.executionId ? { executionId: outer.data.executionId } : {}),
    ...(outer.data.lifecycleStage ? { stage: outer.data.lifecycleStage } : {}),
    ...(outer.data.resourceArn ? { resourceArn: outer.data.resourceArn } : {}),
    ...(inner.data.serviceArn ? { serviceArn: inner.data.serviceArn } : {}),
    targetServiceRevisionArn: inner.data.targetServiceRevisionArn,
    testTrafficWeights: inner.data.testTrafficWeights ?? {},
    productionTrafficWeights: inner.data.productionTrafficWeights ?? {},
    hookDetails: outer.data.hookDetails ?? {},
  };
}

/** True when ECS may be calling this stage as part of a rollback (see BEFORE_TRAFFIC_STAGES). */
export function mayBeRollback(event: HookEvent): boolean {
  return !event.stage || !BEFORE_TRAFFIC_STAGES.has(event.stage);
}

/** Cluster and service from a service-revision ARN, for log lines, alerts and policy overrides. */
export function serviceOf(revisionArn: string): { cluster: string; service: string } {
  const [cluster = '', service = ''] = revisionArn.split(':service-revision/')[1]?.split('/') ?? [];
  return { cluster: cluster || '?', service: service || '?' };
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
}

/** "arn:aws:ecs:r:a:task-definition/web:12" (or "web:12") → "web"; undefined when it is neither. */
export function taskFamilyOf(taskDefinition: string | undefined): string | undefined {
  if (!taskDefinition) return undefined;
  const familyAndRevision = taskDefinition.includes(':task-definition/')
    ? taskDefinition.split(':task-definition/')[1]
    : taskDefinition;
  const family = familyAndRevision?.split(':')[0];
  return family && /^[A-Za-z0-9_-]+$/.test(family) ? family : undefined;
}
