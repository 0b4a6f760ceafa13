/**
 * The task watchdog, as the list of what it does with one task event:
 *
 *   read the event → act only on a starting task → once per task → in scope?
 *   → images with digests → decide() → stop if any image blocks → alert → remember.
 *
 * Everything it talks to comes in as WatchdogDeps, so the handler wires the real
 * gate and clients and the tests wire mocks. A stop that fails is alerted and then
 * thrown, so that EventBridge's retry (which verifies again) gets another go; the
 * task is not remembered as handled until a stop has succeeded.
 */
import { StopTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { AlertContext } from '../alerts/context.js';
import { logger } from '../observability.js';
import type { ImageInput } from '../policy/decide.js';
import { blocks, ERROR_REASONS, type Decision } from '../policy/decision.js';
import type { HandledTasks } from './handled-tasks.js';
import { taskImages } from './images.js';
import { checkServiceClaim, serviceClaim, type TaskScope } from './scope.js';
import { stopReason } from './stop-reason.js';
import { parseTaskEvent, TaskEventError, whyIgnored, type TaskEvent } from './task-event.js';

/** Time kept back from decide() for StopTask and the alerts. */
export const DECIDE_MARGIN_MS = 5_000;
/** Each ECS call (DescribeServices, DescribeTasks, StopTask) is bounded on its own. */
const ECS_CALL_TIMEOUT_MS = 2_000;
const ALERT_TIMEOUT_MS = 5_000;
/** Below this, a second try of a transient error is not worth starting. */
const RETRY_MIN_MS = 3_000;

export interface WatchdogDeps {
  ecs: ECSClient;
  /** decide() bound to the current gate; must answer every image, by `deadline` (epoch ms) */
  decide(images: ImageInput[], deadline: number): Promise<Decision[]>;
  /** sendAlerts() bound to its clients; never throws */
  alert(decisions: Decision[], ctx: AlertContext, timeoutMs: number): Promise<unknown>;
  handled: HandledTasks;
  scope: TaskScope;
  /** milliseconds left in this invocation (Lambda context.getRemainingTimeInMillis) */
  remainingMs(): number;
  logDecisions(decisions: Decision[], context: Record<string, unknown>): void;
}

export type WatchAction =
  | 'rejected' //      not a task state change event we can read
  | 'ignored' //       not a starting task
  | 'duplicate' //     this container has handled the task already
  | 'skipped' //       a genuine service task under TASK_SCOPE=standalone
  | 'allowed' //       every image admitted
  | 'stopped' //       an image blocked; StopTask succeeded
  | 'audit-denied' //  an image was denied, audit mode admitted it
  | 'stop-failed'; //  an image blocked; StopTask failed (thrown as StopTaskFailed)

export interface WatchSummary {
  taskArn: string | null;
  action: WatchAction;
  why?: string;
  decisions: Decision[];
  stopReason?: string;
  alerts?: unknown;
}

export class StopTaskFailed extends Error {
  override name = 'StopTaskFailed';
  constructor(
    message: string,
    readonly summary: WatchSummary,
  ) {
    super(message);
  }
}

export async function watchTask(event: unknown, deps: WatchdogDeps): Promise<WatchSummary> {
  const started = Date.now();
  const deadlineFor = (margin: number) => started + deps.remainingMs() - margin;

  let task: TaskEvent;
  try {
    task = parseTaskEvent(event);
  } catch (error) {
    if (!(error instanceof TaskEventError)) throw error;
    logger.error(error.message, { event: excerpt(event) });
    return { taskArn: taskArnOf(event), action: 'rejected', why: error.message, decisions: [] };
  }
  const where = { taskArn: task.taskArn, cluster: task.clusterArn, lastStatus: task.lastStatus, source: 'task-watchdog' as const };

  const ignored = whyIgnored(task);
  if (ignored) return { taskArn: task.taskArn, action: 'ignored', why: ignored, decisions: [] };

  const previous = deps.handled.get(task.taskArn);
  if (previous) return { taskArn: task.taskArn, action: 'duplicate', why: `this container already handled the task (${previous})`, decisions: [] };

  const scoped = await inScope(task, deps);
  if (scoped.skip) {
    logger.info(`task skipped: ${scoped.skip}`, where);
    deps.handled.add(task.taskArn, 'skipped');
    return { taskArn: task.taskArn, action: 'skipped', why: scoped.skip, decisions: [] };
  }
  if (scoped.note) logger.warn(scoped.note, where);

  const { images, describeError } = await taskImages(task, deps.ecs, AbortSignal.timeout(ECS_CALL_TIMEOUT_MS));
  if (describeError) logger.warn(`ecs:DescribeTasks failed; verifying with the event's digests: ${describeError}`, where);
  if (images.length === 0) {
    logger.error('the task has no containers in the event or in DescribeTasks', where);
    return { taskArn: task.taskArn, action: 'rejected', why: 'no containers to verify', decisions: [] };
  }

  const decisions = await decideWithOneRetry(images, deps, deadlineFor);
  deps.logDecisions(decisions, where);
  const ctx = (action: AlertContext['action'], mode: AlertContext['mode']): AlertContext => ({
    source: 'task-watchdog',
    mode,
    action,
    cluster: task.clusterArn,
    taskArn: task.taskArn,
    region: task.region,
    ...(scoped.note ? { note: scoped.note } : {}),
  });
  const alertBudget = () => Math.max(1, Math.min(ALERT_TIMEOUT_MS, deadlineFor(250) - Date.now()));

  const blocking = decisions.filter(blocks);
  if (blocking.length === 0) {
    const denied = decisions.some((d) => d.decision === 'deny');
    const action: WatchAction = denied ? 'audit-denied' : 'allowed';
    const alerts = await deps.alert(decisions, ctx(denied ? 'none (audit mode)' : admittedAction(decisions), modeOf(decisions)), alertBudget());
    deps.handled.add(task.taskArn, action);
    return { taskArn: task.taskArn, action, decisions, alerts };
  }

  const reason = stopReason(blocking);
  const stopError = await stopTask(deps.ecs, task, reason);
  if (stopError) {
    logger.error(`ecs:StopTask failed; the task may still be running: ${stopError}`, { ...where, stopReason: reason });
    const alerts = await deps.alert(decisions, ctx('stop-failed', 'enforce'), alertBudget());
    const summary: WatchSummary = { taskArn: task.taskArn, action: 'stop-failed', why: stopError, decisions, stopReason: reason, alerts };
    throw new StopTaskFailed(`could not stop task ${task.taskArn}: ${stopError}`, summary);
  }
  logger.warn(`task stopped: ${reason}`, where);
  const alerts = await deps.alert(decisions, ctx('task-stopped', 'enforce'), alertBudget());
  deps.handled.add(task.taskArn, 'stopped');
  return { taskArn: task.taskArn, action: 'stopped', decisions, stopReason: reason, alerts };
}

/** TASK_SCOPE=standalone skips genuine service tasks only; a claim that does not check out is noted. */
async function inScope(task: TaskEvent, deps: WatchdogDeps): Promise<{ skip?: string; note?: string }> {
  const claim = serviceClaim(task);
  if (!claim) return {};
  if (deps.scope === 'all') return {};
  const check = await checkServiceClaim(deps.ecs, task, claim, AbortSignal.timeout(ECS_CALL_TIMEOUT_MS));
  if (check.genuine) return { skip: `task of service ${check.service} (deployment ${check.deploymentId}); TASK_SCOPE is standalone` };
  const claimed = [claim.service ? `group service:${claim.service}` : '', claim.startedBy ? `startedBy ${claim.startedBy}` : ''].filter(Boolean).join(', ');
  return { note: `the task claims to be a service task (${claimed}), but ${check.why}: verified as a standalone task` };
}

/**
 * A registry hiccup should not stop a task if a second look, a moment later,
 * verifies it: blocking decisions marked retryable get one more decide() when
 * there is time. Whatever the second answer is, it stands.
 */
async function decideWithOneRetry(images: ImageInput[], deps: WatchdogDeps, deadlineFor: (margin: number) => number): Promise<Decision[]> {
  const first = await deps.decide(images, deadlineFor(DECIDE_MARGIN_MS));
  const retry = first.flatMap((d, i) => (blocks(d) && d.retryable ? [i] : []));
  if (retry.length === 0 || deadlineFor(DECIDE_MARGIN_MS) - Date.now() < RETRY_MIN_MS) return first;
  const second = await deps.decide(
    retry.map((i) => images[i]!),
    deadlineFor(DECIDE_MARGIN_MS),
  );
  const merged = [...first];
  retry.forEach((i, k) => {
    if (second[k]) merged[i] = second[k];
  });
  return merged;
}

/** Resolves to undefined when stopped, else the error in one line. */
async function stopTask(ecs: ECSClient, task: TaskEvent, reason: string): Promise<string | undefined> {
  try {
    await ecs.send(new StopTaskCommand({ cluster: task.clusterArn, task: task.taskArn, reason }), {
      abortSignal: AbortSignal.timeout(ECS_CALL_TIMEOUT_MS),
    });
    return undefined;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
}

function modeOf(decisions: Decision[]): AlertContext['mode'] {
  return decisions.some((d) => d.mode === 'audit') ? 'audit' : 'enforce';
}

/** All admitted: either plainly allowed, or some error was let through by onError: allow. */
function admittedAction(decisions: Decision[]): AlertContext['action'] {
  return decisions.some((d) => d.decision === 'allow' && ERROR_REASONS.has(d.reason))
    ? 'none (admitted on error)'
    : 'none (allowed)';
}

function taskArnOf(event: unknown): string | null {
  const arn = (event as { detail?: { taskArn?: unknown } } | null)?.detail?.taskArn;
  return typeof arn === 'string' ? arn.slice(0, 200) : null;
}

/** Enough of a bad event to recognise it in the log, not a megabyte of it. */
function excerpt(event: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(event) ?? String(event);
  } catch {
    text = String(event);
  }
  return text.length > 2_000 ? `${text.slice(0, 2_000)}...` : text;
}
