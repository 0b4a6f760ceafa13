/**
 * The EventBridge `ECS Task State Change` event, read into what the watchdog needs.
 * ECS adds fields over time, so unknown keys are ignored; the keys we act on are
 * checked, and anything unreadable is a TaskEventError with a sentence.
 */
import { z } from 'zod';

const arn = (kind: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\\d{12}:${kind}/\\S+$`), `must be an ECS ${kind} ARN`);

const container = z.object({
  name: z.string().min(1),
  image: z.string().optional(),
  imageDigest: z.string().optional(),
});

const detail = z.object({
  clusterArn: arn('cluster'),
  taskArn: arn('task'),
  taskDefinitionArn: z.string().optional(),
  group: z.string().optional(),
  startedBy: z.string().optional(),
  lastStatus: z.string().min(1),
  desiredStatus: z.string().min(1),
  containers: z.array(container).default([]),
  version: z.number().optional(),
});

const envelope = z.object({
  'detail-type': z.literal('ECS Task State Change', {
    errorMap: () => ({ message: 'must be "ECS Task State Change"' }),
  }),
  source: z.string().optional(),
  id: z.string().optional(),
  account: z.string().optional(),
  region: z.string().optional(),
  detail,
});

export interface TaskContainer {
  name: string;
  image?: string;
  imageDigest?: string;
}

export interface TaskEvent {
  eventId?: string;
  region: string;
  clusterArn: string;
  taskArn: string;
  taskId: string;
  taskDefinitionArn?: string;
  group?: string;
  startedBy?: string;
  lastStatus: string;
  desiredStatus: string;
  containers: TaskContainer[];
}

export class TaskEventError extends Error {
  override name = 'TaskEventError';
}

export function parseTaskEvent(event: unknown): TaskEvent {
  const parsed = envelope.safeParse(event);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
    throw new TaskEventError(`not an ECS Task State Change event: ${issues}`);
  }
  const { detail: d, id, region } = parsed.data;
  const arnRegion = d.taskArn.split(':')[3]!;
  return {
    ...(id ? { eventId: id } : {}),
    region: region ?? arnRegion,
    clusterArn: d.clusterArn,
    taskArn: d.taskArn,
    taskId: d.taskArn.split('/').pop()!,
    ...(d.taskDefinitionArn ? { taskDefinitionArn: d.taskDefinitionArn } : {}),
    ...(d.group ? { group: d.group } : {}),
    ...(d.startedBy ? { startedBy: d.startedBy } : {}),
    lastStatus: d.lastStatus,
    desiredStatus: d.desiredStatus,
    containers: d.containers.map((c) => ({
      name: c.name,
      ...(c.image ? { image: c.image } : {}),
      ...(c.imageDigest ? { imageDigest: c.imageDigest } : {}),
    })),
  };
}

/**
 * The statuses of a task that should run, in the order ECS reports them. The digest of
 * an image named by tag arrives in one of the later ones (see images.ts), so the
 * watchdog listens to all four and decides on the first that carries every digest.
 */
export const WATCHED_STATUSES = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING'] as const;
const WATCHED: ReadonlySet<string> = new Set(WATCHED_STATUSES);

/** Undefined when the watchdog should look at this event, else why not. */
export function whyIgnored(task: TaskEvent): string | undefined {
  if (task.desiredStatus !== 'RUNNING') return `desiredStatus is ${task.desiredStatus}, not RUNNING`;
  if (!WATCHED.has(task.lastStatus))
    return `lastStatus is ${task.lastStatus}: the watchdog acts on ${WATCHED_STATUSES.join(', ')}`;
  return undefined;
}

/** "arn:aws:ecs:r:a:task-definition/web:7" → "web"; undefined when it is not such an ARN. */
export function taskFamily(taskDefinitionArn: string | undefined): string | undefined {
  const m = taskDefinitionArn ? /:task-definition\/([^:/]+):\d+$/.exec(taskDefinitionArn) : null;
  return m?.[1];
}
