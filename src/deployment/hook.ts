/**
 * The deployment gate: one lifecycle hook call in, one hook answer out.
 *
 *   read the event → rollback? (asked of ECS, at stages ECS re-runs on rollback)
 *   → the exact revision asked for → which containers lack a digest, and why
 *   → decide() with the workload's scope → answer, alert.
 *
 * Answers: SUCCEEDED when every image is admitted; FAILED when one is denied in
 * enforce mode; IN_PROGRESS (with a retry count in hookDetails) while every deny is a
 * transient error worth waiting for. Never throws: a throw makes ECS roll back with no
 * record of why, so every path ends in an answer and a log line. Audit mode answers
 * SUCCEEDED whatever happens; a confirmed rollback is never failed.
 *
 * Time: one budget, planned when the call arrives. Every ECS call and every decision
 * ends by `decideBy`; alerts by `finishBy`; the rest is kept to log and answer.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { AlertContext, AlertOutcome } from '../alerts/index.js';
import { isSdkError, isTransient } from '../core/aws-errors.js';
import { modeWithoutPolicy, type Config } from '../core/config.js';
import { planBudget, msUntil, signalUntil, type Budget } from '../gate/budget.js';
import { logDecisions, logger } from '../core/observability.js';
import { decide, type Gate, type ImageInput } from '../gate/decide.js';
import { blocks, ERROR_REASONS, type Decision } from '../core/decision.js';
import { settingsFor, type Scope } from '../policy/overrides.js';
import { EcsDeadlineError } from './ecs-call.js';
import {
  HookEventError,
  mayBeRollback,
  parseHookEvent,
  serviceOf,
  taskFamilyOf,
  type HookEvent,
} from './hook-event.js';
import { describeRevision, RevisionError, type ServiceRevision } from './revision.js';
import { checkRollback } from './rollback.js';
import { versionConsistency } from './version-consistency.js';

export interface HookAnswer {
  hookStatus: 'SUCCEEDED' | 'FAILED' | 'IN_PROGRESS';
  callBackDelay?: number;
  hookDetails?: Record<string, unknown>;
}

export interface HookDeps {
  getGate: () => Promise<Gate>;
  ecs: ECSClient;
  sendAlerts: (
    decisions: Decision[],
    ctx: AlertContext,
    opts: { timeoutMs: number },
  ) => Promise<AlertOutcome | undefined>;
  /** milliseconds left before Lambda ends the invocation */
  remainingMs: () => number;
  config: Pick<Config, 'hookMaxRetries' | 'hookRetryDelaySeconds' | 'failureBehavior'>;
}

/** hookDetails key that carries how many times this hook already waited. */
export const ATTEMPT_KEY = 'ecsImageGateAttempt';
/** Kept for the alerts after the decisions, and to log and answer. */
const RESERVE = { afterDecideMs: 5_000, answerMs: 1_000 };

/** What is known about where the call is, for log lines and the policy's overrides. */
interface Where {
  log: Record<string, unknown>;
  scope: Scope;
}

export async function answerHook(raw: unknown, deps: HookDeps): Promise<HookAnswer> {
  const budget = planBudget(deps.remainingMs(), RESERVE);
  let event: HookEvent;
  try {
    event = parseHookEvent(raw);
  } catch (e) {
    return refuseUnreadable(e, deps);
  }
  const { cluster, service } = serviceOf(event.targetServiceRevisionArn);
  // "service" is a reserved key in the log records: the ECS names get their own keys.
  const where: Where = {
    log: { ecsCluster: cluster, ecsService: service, stage: event.stage, executionId: event.executionId },
    scope: { cluster, service },
  };
  const ecsSignal = signalUntil(budget.decideBy);
  if (mayBeRollback(event)) {
    const check = await checkRollback(event, deps.ecs, ecsSignal);
    if (check.rollback) {
      logger.info(
        `rollback confirmed by ECS: admitted without verification, a rollback is never failed (${check.why})`,
        where.log,
      );
      return { hookStatus: 'SUCCEEDED' };
    }
    logger.info(`not a rollback, verifying: ${check.why}`, where.log);
  }
  // The revision is read while the gate is built: on a cold container the policy load and
  // the verifier imports would otherwise spend the ECS call's share of the budget first.
  const revision = describeRevision(event.targetServiceRevisionArn, deps.ecs, ecsSignal);
  revision.catch(() => undefined); // reported by gateRevision, or moot when the policy cannot load
  let gate: Gate;
  try {
    gate = await deps.getGate();
  } catch (e) {
    return failByFailureBehavior(`policy cannot be loaded: ${(e as Error).message}`, deps, where);
  }
  try {
    return await gateRevision(event, await revision, gate, deps, budget, ecsSignal, where);
  } catch (e) {
    return answerError(e, event, gate, deps, where);
  }
}

async function gateRevision(
  event: HookEvent,
  revision: ServiceRevision,
  gate: Gate,
  deps: HookDeps,
  budget: Budget,
  ecsSignal: AbortSignal,
  where: Where,
): Promise<HookAnswer> {
  const taskFamily = taskFamilyOf(revision.taskDefinition);
  if (taskFamily) where.scope.taskFamily = taskFamily;
  const { images, notes } = await imagesToVerify(revision, gate, deps.ecs, ecsSignal, where);
  const decided = await decide(images, gate, { deadline: budget.decideBy, scope: where.scope });
  const decisions = decided.map((d) =>
    notes.has(d.container) ? { ...d, detail: `${d.detail} (${notes.get(d.container)})` } : d,
  );
  logDecisions(decisions, {
    source: 'deployment-gate',
    serviceRevisionArn: event.targetServiceRevisionArn,
    ...where.log,
  });
  const blocking = decisions.filter(blocks);
  const { mode } = settingsFor(gate.policy.document, where.scope);
  // cluster and service come from the revision ARN inside the alert code
  const alertCtx = { source: 'deployment-gate' as const, mode, serviceRevisionArn: event.targetServiceRevisionArn };
  const alertOpts = { timeoutMs: msUntil(budget.finishBy) };
  if (!blocking.length) {
    const admittedError = decisions.some((d) => d.decision === 'allow' && ERROR_REASONS.has(d.reason));
    const action =
      mode === 'audit' ? 'none (audit mode)' : admittedError ? 'none (admitted on error)' : 'none (allowed)';
    await deps.sendAlerts(decisions, { ...alertCtx, action }, alertOpts);
    return { hookStatus: 'SUCCEEDED' };
  }
  if (blocking.every((d) => d.retryable)) {
    const answer = waitOrFail(event, deps, where, blocking.map((d) => `${d.container} ${d.reason}`).join(', '));
    if (answer.hookStatus === 'IN_PROGRESS') return answer;
  }
  await deps.sendAlerts(decisions, { ...alertCtx, action: 'deployment-failed' }, alertOpts);
  return { hookStatus: 'FAILED' };
}

/**
 * The digest ECS established is what gets verified. A container without one is either
 * waiting for ECS to establish it (ECS resolves tags around the first task start, so at
 * PRE_SCALE_UP the digest may be absent): the gate resolves the tag now and says so; or
 * set to versionConsistency: disabled, which ECS never pins: DIGEST_MISSING unless the
 * policy's resolveTags. At POST_SCALE_UP and later the digest ECS established is
 * verified, a cache hit when it is the one the tag named before.
 */
async function imagesToVerify(
  revision: ServiceRevision,
  gate: Gate,
  ecs: ECSClient,
  signal: AbortSignal,
  where: Where,
): Promise<{ images: ImageInput[]; notes: Map<string, string> }> {
  const notes = new Map<string, string>();
  const withDigest = (c: ServiceRevision['containers'][number], resolveTag: boolean): ImageInput => ({
    container: c.container,
    image: c.image,
    digest: c.digest,
    ...(resolveTag ? { resolveTag: true } : {}),
  });
  const missing = revision.containers.filter((c) => !c.digest);
  // resolveTags in the policy already resolves every missing digest: no need to ask ECS why it is missing.
  if (!missing.length || gate.policy.document.resolveTags)
    return { images: revision.containers.map((c) => withDigest(c, false)), notes };
  const consistency = await versionConsistency(revision.taskDefinition, ecs, signal);
  if (!consistency.known) {
    logger.warn(`versionConsistency unknown, resolving tags as if enabled: ${consistency.why}`, where.log);
    for (const c of missing) notes.set(c.container, `versionConsistency unknown: ${consistency.why}`);
    return { images: revision.containers.map((c) => withDigest(c, !c.digest)), notes };
  }
  for (const c of missing) {
    if (consistency.disabled.has(c.container))
      notes.set(
        c.container,
        `versionConsistency is disabled for this container in ${revision.taskDefinition}: ECS pulls the tag at every task start`,
      );
  }
  return {
    images: revision.containers.map((c) => withDigest(c, !c.digest && !consistency.disabled.has(c.container))),
    notes,
  };
}

/**
 * decide() does not throw; this is the ECS call, an unusable answer or a bug. Audit mode
 * admits at once. In enforce mode a transient error is waited out first; then an ECS
 * API error goes by onError, while an unusable answer (wrong revision, wrong shape) or a
 * bug is FAILED whatever onError says: nobody could tell what would run.
 */
function answerError(e: unknown, event: HookEvent, gate: Gate, deps: HookDeps, where: Where): HookAnswer {
  const { mode, onError } = settingsFor(gate.policy.document, where.scope);
  const kind =
    e instanceof RevisionError ? 'unusable' : e instanceof EcsDeadlineError ? 'timeout' : isSdkError(e) ? 'ecs' : 'bug';
  const reason = { unusable: 'POLICY_ERROR', timeout: 'TIMEOUT', ecs: undefined, bug: 'INTERNAL_ERROR' }[kind];
  const fields = { ...where.log, mode, onError, ...(reason ? { reason } : {}) };
  if (kind === 'bug')
    logger.error('deployment gate: unexpected error while reading the revision', { ...fields, error: e as Error });
  else logger.error(`deployment gate: ${(e as Error).message}`, fields);
  if (mode === 'audit') return { hookStatus: 'SUCCEEDED' };
  const transient = e instanceof RevisionError ? e.transient : kind !== 'bug' && isTransient(e);
  if (transient) {
    const answer = waitOrFail(
      event,
      deps,
      where,
      kind === 'unusable' ? 'the service revision is not visible yet' : 'the ECS API is unavailable',
    );
    if (answer.hookStatus === 'IN_PROGRESS') return answer;
  }
  const admissible = kind === 'ecs' || kind === 'timeout';
  return { hookStatus: admissible && onError === 'allow' ? 'SUCCEEDED' : 'FAILED' };
}

/** IN_PROGRESS while retries remain (the count travels in hookDetails); then FAILED. */
function waitOrFail(event: HookEvent, deps: HookDeps, where: Where, why: string): HookAnswer {
  const attempt = Number(event.hookDetails[ATTEMPT_KEY] ?? 0) || 0;
  const maxRetries = deps.config.hookMaxRetries;
  if (attempt >= maxRetries) {
    logger.warn(`transient errors persisted through ${attempt} retries: failing the deployment`, { ...where.log, why });
    return { hookStatus: 'FAILED' };
  }
  const callBackDelay = deps.config.hookRetryDelaySeconds;
  logger.warn(
    `transient error, asking ECS to call again in ${callBackDelay}s (retry ${attempt + 1} of ${maxRetries})`,
    { ...where.log, why },
  );
  return { hookStatus: 'IN_PROGRESS', callBackDelay, hookDetails: { [ATTEMPT_KEY]: attempt + 1 } };
}

/** A malformed event: FAILED in enforce mode, SUCCEEDED in log-only mode. */
async function refuseUnreadable(e: unknown, deps: HookDeps): Promise<HookAnswer> {
  const message = e instanceof HookEventError ? e.message : `unreadable event: ${(e as Error).message}`;
  const mode = await deps.getGate().then(
    (g) => g.policy.document.mode,
    () => modeWithoutPolicy(deps.config.failureBehavior),
  );
  logger.error(`deployment gate: ${message}`, { reason: 'POLICY_ERROR', mode });
  return { hookStatus: mode === 'audit' ? 'SUCCEEDED' : 'FAILED' };
}

/** Without a policy only FAILURE_BEHAVIOR can say which mode the user chose. */
function failByFailureBehavior(message: string, deps: HookDeps, where: Where): HookAnswer {
  const mode = modeWithoutPolicy(deps.config.failureBehavior);
  logger.error(`deployment gate: ${message}`, { ...where.log, reason: 'POLICY_ERROR', mode });
  return { hookStatus: mode === 'audit' ? 'SUCCEEDED' : 'FAILED' };
}
