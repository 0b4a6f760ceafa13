/**
 * The task watchdog, as the list of what it does with one task event:
 *
 *   read the event → a task that should run → once per task → every digest known?
 *   (else "not yet") → in scope? → decide() → stop if any image blocks → alert → remember.
 *
 * Everything it talks to comes in as WatchdogDeps, so the handler wires the real
 * gate and clients and the tests wire mocks. A stop that fails is alerted and then
 * thrown, so that the asynchronous invocation's retry (which verifies again) gets
 * another go; the task is not remembered as handled until a stop has succeeded, and
 * an event that comes before the digests is not remembered at all.
 *
 * Time: the invocation's remaining time is split once, at the start (planBudget):
 * the ECS calls before the decision and the decision itself end by `decideBy`;
 * StopTask and the alerts have the time between `decideBy` and `finishBy` however
 * long the decision took. Every ECS call carries an abort signal inside that budget.
 */
import { StopTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { AlertContext } from '../alerts/context.js';
import type { TaskScope } from '../core/config.js';
import { msUntil, planBudget, signalUntil, type Budget } from '../gate/budget.js';
import { logger } from '../core/observability.js';
import type { ImageInput } from '../gate/decide.js';
import { blocks, ERROR_REASONS, type Decision } from '../core/decision.js';
import { clusterName, type Scope } from '../policy/overrides.js';
import { errorSentence } from './ecs-answers.js';
import type { HandledTasks } from './handled-tasks.js';
import { completeAtRunning, eventImages } from './images.js';
import { checkServiceClaim, serviceClaim, type ConfirmedClaims } from './scope.js';
import { stopReason } from './stop-reason.js';
import { parseTaskEvent, TaskEventError, taskFamily, whyIgnored, type TaskEvent } from './task-event.js';

/**
 * Reserved up front for what follows the decisions: StopTask (at most half of it)
 * and the alerts (the rest). planBudget halves it when the invocation is short.
 */
export const AFTER_DECIDE_MS = 7_000;
/** Kept back from Lambda's deadline to log and return the summary. */
const ANSWER_MS = 250;
/** Each ECS call (DescribeServices, DescribeTasks, StopTask) is also bounded on its own. */
const ECS_CALL_TIMEOUT_MS = 2_000;
const ALERT_TIMEOUT_MS = 5_000;
/** Below this, a second try of a transient error is not worth starting. */
const RETRY_MIN_MS = 3_000;

export interface WatchdogDeps {
  ecs: ECSClient;
  /**
   * decide() bound to the current gate; must answer every image, by `deadline` (epoch ms),
   * under the settings (mode, onError) the policy's overrides give `scope`
   */
  decide(images: ImageInput[], deadline: number, scope: Scope): Promise<Decision[]>;
  /** sendAlerts() bound to its clients; never throws */
  alert(decisions: Decision[], ctx: AlertContext, timeoutMs: number): Promise<unknown>;
  handled: HandledTasks;
  /** service claims already confirmed in this container */
  confirmedClaims: ConfirmedClaims;
  scope: TaskScope;
  /** milliseconds left in this invocation (Lambda context.getRemainingTimeInMillis) */
  remainingMs(): number;
  logDecisions(decisions: Decision[], context: Record<string, unknown>): void;
}

export type WatchAction =
  | 'rejected' //      not a task state change event we can read
  | 'ignored' //       not a task that should run
  | 'not-yet' //       ECS has not reported every digest yet: a later event will
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
  const budget = planBudget(deps.remainingMs(), { afterDecideMs: AFTER_DECIDE_MS, answerMs: ANSWER_MS });
  const beforeDecision = () => signalUntil(Math.min(Date.now() + ECS_CALL_TIMEOUT_MS, budget.decideBy));

  let task: TaskEvent;
  try {
    task = parseTaskEvent(event);
  } catch (error) {
    if (!(error instanceof TaskEventError)) throw error;
    logger.error(error.message, { event: excerpt(event) });
    return { taskArn: taskArnOf(event), action: 'rejected', why: error.message, decisions: [] };
  }
  const where = {
    taskArn: task.taskArn,
    cluster: task.clusterArn,
    lastStatus: task.lastStatus,
    source: 'task-watchdog' as const,
  };

  const ignored = whyIgnored(task);
  if (ignored) return { taskArn: task.taskArn, action: 'ignored', why: ignored, decisions: [] };

  const previous = deps.handled.get(task.taskArn);
  if (previous)
    return {
      taskArn: task.taskArn,
      action: 'duplicate',
      why: `this container already handled the task (${previous})`,
      decisions: [],
    };

  // before the scope check: an event without digests costs no AWS call at all
  const fromEvent = eventImages(task);
  if (fromEvent.kind === 'not-yet') {
    logger.info(`task not decided yet: ${fromEvent.why}`, where);
    return { taskArn: task.taskArn, action: 'not-yet', why: fromEvent.why, decisions: [] };
  }

  const scoped = await inScope(task, deps, beforeDecision());
  if (scoped.skip) {
    logger.info(`task skipped: ${scoped.skip}`, where);
    deps.handled.add(task.taskArn, 'skipped');
    return { taskArn: task.taskArn, action: 'skipped', why: scoped.skip, decisions: [] };
  }
  if (scoped.note) logger.warn(scoped.note, where);

  let images = fromEvent.images;
  let resolvedByGate: string[] = [];
  if (fromEvent.kind === 'incomplete') {
    const running = await completeAtRunning(task, fromEvent.images, deps.ecs, beforeDecision());
    if (running.describeError) logger.warn(`${running.describeError}; verifying with what the event says`, where);
    if (running.kind === 'no-containers') {
      logger.error('the task has no containers in the event or in DescribeTasks', where);
      return { taskArn: task.taskArn, action: 'rejected', why: 'no containers to verify', decisions: [] };
    }
    ({ images, resolvedByGate } = running);
  }
  const resolvedNote = gateResolvedNote(resolvedByGate);
  if (resolvedNote) logger.warn(resolvedNote, where);

  const workload: Scope = {
    ...(clusterName(task.clusterArn) ? { cluster: clusterName(task.clusterArn)! } : {}),
    ...(scoped.service ? { service: scoped.service } : {}),
    ...(taskFamily(task.taskDefinitionArn) ? { taskFamily: taskFamily(task.taskDefinitionArn)! } : {}),
  };
  const decisions = await decideWithOneRetry(images, deps, budget.decideBy, workload);
  deps.logDecisions(decisions, where);
  const note = [scoped.note, resolvedNote].filter(Boolean).join(' ');
  const ctx = (action: AlertContext['action'], mode: AlertContext['mode']): AlertContext => ({
    source: 'task-watchdog',
    mode,
    action,
    cluster: task.clusterArn,
    ...(scoped.service ? { service: scoped.service } : {}),
    taskArn: task.taskArn,
    region: task.region,
    ...(note ? { note } : {}),
  });
  const alertBudget = () => Math.min(ALERT_TIMEOUT_MS, msUntil(budget.finishBy));

  const blocking = decisions.filter(blocks);
  if (blocking.length === 0) {
    const denied = decisions.some((d) => d.decision === 'deny');
    const action: WatchAction = denied ? 'audit-denied' : 'allowed';
    const alerts = await deps.alert(
      decisions,
      ctx(denied ? 'none (audit mode)' : admittedAction(decisions), modeOf(decisions)),
      alertBudget(),
    );
    deps.handled.add(task.taskArn, action);
    return { taskArn: task.taskArn, action, decisions, alerts };
  }

  const reason = stopReason(blocking);
  const stopError = await stopTask(deps.ecs, task, reason, stopSignal(budget));
  if (stopError) {
    logger.error(`ecs:StopTask failed; the task may still be running: ${stopError}`, { ...where, stopReason: reason });
    const alerts = await deps.alert(decisions, ctx('stop-failed', 'enforce'), alertBudget());
    const summary: WatchSummary = {
      taskArn: task.taskArn,
      action: 'stop-failed',
      why: stopError,
      decisions,
      stopReason: reason,
      alerts,
    };
    throw new StopTaskFailed(`could not stop task ${task.taskArn}: ${stopError}`, summary);
  }
  logger.warn(`task stopped: ${reason}`, where);
  const alerts = await deps.alert(decisions, ctx('task-stopped', 'enforce'), alertBudget());
  deps.handled.add(task.taskArn, 'stopped');
  return { taskArn: task.taskArn, action: 'stopped', decisions, stopReason: reason, alerts };
}

/** StopTask gets at most half of what is left, so the alerts always keep the other half. */
function stopSignal(budget: Budget): AbortSignal {
  const now = Date.now();
  return signalUntil(Math.min(now + ECS_CALL_TIMEOUT_MS, now + Math.floor((budget.finishBy - now) / 2)));
}

/** What the decision detail says per image, said once for the alert's reader. */
function gateResolvedNote(containers: string[]): string | undefined {
  if (containers.length === 0) return undefined;
  const which =
    containers.length > 5
      ? `${containers.slice(0, 5).join(', ')} and ${containers.length - 5} more`
      : containers.join(', ');
  return (
    `ECS reported no digest for ${which} by RUNNING (it reports them for ECR images; other registries may never): ` +
    'the gate resolved the tag at the registry itself, so the digest verified is the one the tag named then, not one reported by ECS.'
  );
}

interface InScope {
  skip?: string;
  note?: string;
  /** the service, only once ecs:DescribeServices confirmed the task's claim to it */
  service?: string;
}

/**
 * TASK_SCOPE=standalone skips genuine service tasks only; a claim that does not check
 * out is noted. The service name selects the policy's overrides, so it is believed only
 * when confirmed: a RunTask caller can write any `group`, and must not pick the
 * overrides (say, audit mode) of a service it is not.
 */
async function inScope(task: TaskEvent, deps: WatchdogDeps, abortSignal: AbortSignal): Promise<InScope> {
  const claim = serviceClaim(task);
  if (!claim) return {};
  const check = await checkServiceClaim(deps.ecs, task, claim, abortSignal, deps.confirmedClaims);
  if (check.genuine) {
    if (deps.scope === 'all') return { service: check.service };
    return { skip: `task of service ${check.service} (deployment ${check.deploymentId}); TASK_SCOPE is standalone` };
  }
  const claimed = [
    claim.service ? `group service:${claim.service}` : '',
    claim.startedBy ? `startedBy ${claim.startedBy}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const overrides = claim.service ? ` (the policy's overrides for service ${claim.service} do not apply)` : '';
  return {
    note: `the task claims to be a service task (${claimed}), but ${check.why}: verified as a standalone task${overrides}.`,
  };
}

/**
 * A registry hiccup should not stop a task if a second look, a moment later,
 * verifies it: blocking decisions marked retryable get one more decide() when
 * there is time. Whatever the second answer is, it stands.
 */
async function decideWithOneRetry(
  images: ImageInput[],
  deps: WatchdogDeps,
  decideBy: number,
  scope: Scope,
): Promise<Decision[]> {
  const first = await deps.decide(images, decideBy, scope);
  const retry = first.flatMap((d, i) => (blocks(d) && d.retryable ? [i] : []));
  if (retry.length === 0 || decideBy - Date.now() < RETRY_MIN_MS) return first;
  const second = await deps.decide(
    retry.map((i) => images[i]!),
    decideBy,
    scope,
  );
  const merged = [...first];
  retry.forEach((i, k) => {
    if (second[k]) merged[i] = second[k];
  });
  return merged;
}

/** Resolves to undefined when stopped, else the error in one line. */
async function stopTask(
  ecs: ECSClient,
  task: TaskEvent,
  reason: string,
  abortSignal: AbortSignal,
): Promise<string | undefined> {
  try {
    await ecs.send(new StopTaskCommand({ cluster: task.clusterArn, task: task.taskArn, reason }), { abortSignal });
    return undefined;
  } catch (error) {
    return errorSentence(error);
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
