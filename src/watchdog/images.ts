/**
 * The images a task runs, with the digests ECS resolved. The event usually carries
 * `imageDigest`; early events (PROVISIONING) may not, so ecs:DescribeTasks fills the
 * gaps. A digest still missing goes to decide() as null: DIGEST_MISSING, never a
 * tag's current target.
 */
import { DescribeTasksCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { ImageInput } from '../policy/decide.js';
import type { TaskEvent } from './task-event.js';

export interface TaskImages {
  images: ImageInput[];
  /** set when DescribeTasks was asked and failed: the images are the event's */
  describeError?: string;
}

export async function taskImages(task: TaskEvent, ecs: ECSClient, abortSignal: AbortSignal): Promise<TaskImages> {
  const fromEvent = task.containers.map(toInput);
  const complete = fromEvent.length > 0 && fromEvent.every((i) => i.digest && i.image);
  if (complete) return { images: fromEvent };
  try {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: task.clusterArn, tasks: [task.taskArn] }), { abortSignal });
    const described = out.tasks?.find((t) => t.taskArn === task.taskArn)?.containers ?? [];
    return { images: merge(fromEvent, described.map((c) => toInput({ name: c.name ?? '', image: c.image, imageDigest: c.imageDigest }))) };
  } catch (error) {
    return { images: fromEvent, describeError: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

function toInput(c: { name: string; image?: string | undefined; imageDigest?: string | undefined }): ImageInput {
  // an empty image cannot be parsed: decide() answers it with a deny, as it should
  return { container: c.name, image: c.image ?? '', digest: c.imageDigest ?? null };
}

/** The event's containers first (what ECS said at the time), gaps filled from DescribeTasks. */
function merge(fromEvent: ImageInput[], described: ImageInput[]): ImageInput[] {
  const byName = new Map(described.filter((d) => d.container).map((d) => [d.container, d]));
  const merged = fromEvent.map((e) => {
    const d = byName.get(e.container);
    return { container: e.container, image: e.image || d?.image || '', digest: e.digest || d?.digest || null };
  });
  const known = new Set(fromEvent.map((e) => e.container));
  return [...merged, ...described.filter((d) => d.container && !known.has(d.container))];
}
