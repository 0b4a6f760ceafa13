/**
 * The images a task runs, with the digests ECS resolved, and whether it is time to
 * decide. ECS learns a digest when its agent pulls the image manifest (the agent's
 * MANIFEST_PULLED step) and reports it in the task's next state change, at PENDING or
 * later; at PROVISIONING the containers do not exist yet. So:
 *
 *   every container has a digest (or a reference pinned by digest)  → decide now
 *   some container has none, the task is not RUNNING yet            → not yet: a later
 *                                                                      event carries it
 *   some container has none at RUNNING                               → ask DescribeTasks
 *     once; what is still missing (registries outside ECR may never report a digest) is
 *     resolved by the gate from the tag, and the decision says so
 *
 * A "not yet" costs no AWS call and no registry request, so the events before the
 * digest arrives cannot add up to a storm, and none of them can deny DIGEST_MISSING.
 */
import { DescribeTasksCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { ImageInput } from '../gate/decide.js';
import { errorSentence, readDescribeTasks, type DescribedContainer } from './ecs-answers.js';
import type { TaskContainer, TaskEvent } from './task-event.js';

/** What the event alone says: decide now, wait for a later event, or complete it (RUNNING). */
export type EventImages =
  | { kind: 'ready'; images: ImageInput[] }
  | { kind: 'not-yet'; why: string }
  | { kind: 'incomplete'; images: ImageInput[] };

export type RunningImages =
  | {
      kind: 'ready';
      images: ImageInput[];
      /** containers whose digest the gate resolves from the tag, because ECS reported none by RUNNING */
      resolvedByGate: string[];
      /** set when DescribeTasks failed or answered nonsense, in one sentence */
      describeError?: string;
    }
  | { kind: 'no-containers'; describeError?: string };

const PINNED = /@sha256:[a-f0-9]{64}$/;

/** No AWS call: an event that comes before the digests costs nothing. */
export function eventImages(task: TaskEvent): EventImages {
  const images = task.containers.map(toInput);
  const missing = images.filter(lacksDigest);
  if (images.length > 0 && missing.length === 0) return { kind: 'ready', images };
  if (task.lastStatus !== 'RUNNING') return { kind: 'not-yet', why: notYet(task, missing) };
  return { kind: 'incomplete', images };
}

/**
 * A RUNNING task still missing a digest: DescribeTasks once (ECS may know more than
 * the event), then the gate resolves the tag of whatever is still missing.
 */
export async function completeAtRunning(
  task: TaskEvent,
  fromEvent: ImageInput[],
  ecs: ECSClient,
  abortSignal: AbortSignal,
): Promise<RunningImages> {
  const described = await describeContainers(task, ecs, abortSignal);
  const merged = merge(fromEvent, described.containers.map(toInput));
  const error = described.error ? { describeError: described.error } : {};
  if (merged.length === 0) return { kind: 'no-containers', ...error };
  const images = merged.map((i) => (lacksDigest(i) ? { ...i, resolveTag: true } : i));
  return {
    kind: 'ready',
    images,
    resolvedByGate: images.filter((i) => i.resolveTag).map((i) => i.container),
    ...error,
  };
}

function lacksDigest(i: ImageInput): boolean {
  return !i.digest && !PINNED.test(i.image);
}

function notYet(task: TaskEvent, missing: ImageInput[]): string {
  if (missing.length === 0)
    return `the event lists no containers at ${task.lastStatus}; waiting for a later event of the task`;
  const names = missing.map((i) => i.container);
  const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
  return (
    `container${names.length > 1 ? 's' : ''} ${shown} ha${names.length > 1 ? 've' : 's'} no digest yet at ${task.lastStatus} ` +
    '(ECS reports it once the image manifest is pulled); waiting for a later event of the task'
  );
}

async function describeContainers(
  task: TaskEvent,
  ecs: ECSClient,
  abortSignal: AbortSignal,
): Promise<{ containers: DescribedContainer[]; error?: string }> {
  let answer: unknown;
  try {
    answer = await ecs.send(new DescribeTasksCommand({ cluster: task.clusterArn, tasks: [task.taskArn] }), {
      abortSignal,
    });
  } catch (error) {
    return { containers: [], error: `ecs:DescribeTasks failed (${errorSentence(error)})` };
  }
  const read = readDescribeTasks(answer, task.taskArn);
  return read.ok ? { containers: read.value } : { containers: [], error: read.why };
}

function toInput(c: TaskContainer | DescribedContainer): ImageInput {
  // an empty image cannot be parsed: decide() answers it with a deny, as it should
  return { container: c.name, image: c.image ?? '', digest: c.imageDigest ?? null };
}

/** The event's containers first (what ECS said at the time), gaps filled from DescribeTasks. */
function merge(fromEvent: ImageInput[], described: ImageInput[]): ImageInput[] {
  const byName = new Map(described.map((d) => [d.container, d]));
  const merged = fromEvent.map((e) => {
    const d = byName.get(e.container);
    return { container: e.container, image: e.image || d?.image || '', digest: e.digest || d?.digest || null };
  });
  const known = new Set(fromEvent.map((e) => e.container));
  return [...merged, ...described.filter((d) => !known.has(d.container))];
}
