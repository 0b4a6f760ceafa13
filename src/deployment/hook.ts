/**
 * The deployment gate: one lifecycle hook call in, one hook answer out.
 *
 * Answers: SUCCEEDED when every image is admitted; FAILED when one is denied in
 * enforce mode; IN_PROGRESS (with a retry count in hookDetails) while every deny is a
 * transient error worth waiting for. Never throws: a throw makes ECS roll back with no
 * record of why, so every path ends in an answer and a log line. Audit mode answers
 * SUCCEEDED whatever happens; a rollback is never failed.
 */
import { DescribeServiceRevisionsCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { AlertContext, AlertOutcome } from '../alerts/index.js';
import { logDecisions, logger } from '../observability.js';
import { decide, type Gate, type ImageInput } from '../policy/decide.js';
import { blocks, ERROR_REASONS, type Decision } from '../policy/decision.js';
import type { Env } from '../policy/load.js';
import { HookEventError, isRollback, parseHookEvent, serviceOf, type HookEvent } from './hook-event.js';

export interface HookAnswer {
  hookStatus: 'SUCCEEDED' | 'FAILED' | 'IN_PROGRESS';
  callBackDelay?: number;
  hookDetails?: Record<string, unknown>;
}

export interface HookDeps {
  getGate: () => Promise<Gate>;
  ecs: ECSClient;
  sendAlerts: (decisions: Decision[], ctx: AlertContext, opts: { timeoutMs: number }) => Promise<AlertOutcome | void>;
  /** milliseconds left before Lambda ends the invocation */
  remainingMs: () => number;
  env: Env;
}

/** hookDetails key that carries how many times this hook already waited. */
export const ATTEMPT_KEY = 'ecsImageGateAttempt';
/** Time kept back from the Lambda deadline to log, alert and answer. */
const SAFETY_MARGIN_MS = 3_000;

export async function answerHook(raw: unknown, deps: HookDeps): Promise<HookAnswer> {
  let event: HookEvent;
  try {
    event = parseHookEvent(raw);
  } catch (e) {
    return refuseUnreadable(e, deps);
  }
  // `service` is a reserved Powertools log key (dropped with a warning): log the ECS service as ecsService.
  const { cluster, service: ecsService } = serviceOf(event.targetServiceRevisionArn);
  const where = { cluster, ecsService, stage: event.stage, executionId: event.executionId };
  if (isRollback(event)) {
    logger.info('rollback traffic shift: admitted without verification, a rollback is never failed', where);
    return { hookStatus: 'SUCCEEDED' };
  }
  let gate: Gate;
  try {
    gate = await deps.getGate();
  } catch (e) {
    return failByFailureBehavior(`policy cannot be loaded: ${(e as Error).message}`, deps, where);
  }
  try {
    return await gateRevision(event, gate, deps, where);
  } catch (e) {
    // decide() does not throw; this is the ECS call or a bug. Audit mode admits at once; in
    // enforce mode a transient error is waited out first, then onError decides.
    const { mode, onError } = gate.policy.document;
    logger.error('deployment gate error: the revision could not be read', { ...where, error: e as Error, mode, onError });
    if (mode === 'audit') return { hookStatus: 'SUCCEEDED' };
    if (isTransient(e)) {
      const answer = waitOrFail(event, deps, where, 'the ECS API is unavailable');
      if (answer.hookStatus === 'IN_PROGRESS') return answer;
    }
    return { hookStatus: onError === 'allow' ? 'SUCCEEDED' : 'FAILED' };
  }
}

async function gateRevision(event: HookEvent, gate: Gate, deps: HookDeps, where: Record<string, unknown>): Promise<HookAnswer> {
  const images = await revisionImages(event.targetServiceRevisionArn, deps.ecs);
  const deadline = Date.now() + Math.max(0, deps.remainingMs() - SAFETY_MARGIN_MS);
  const decisions = await decide(images, gate, { deadline });
  logDecisions(decisions, { source: 'deployment-gate', serviceRevisionArn: event.targetServiceRevisionArn, ...where });
  const blocking = decisions.filter(blocks);
  const mode = gate.policy.document.mode;
  // cluster and service come from the revision ARN inside the alert code
  const alertCtx = { source: 'deployment-gate' as const, mode, serviceRevisionArn: event.targetServiceRevisionArn };
  const alertOpts = { timeoutMs: Math.max(1, Math.min(5_000, deps.remainingMs() - 1_000)) };
  if (!blocking.length) {
    const admittedError = decisions.some((d) => d.decision === 'allow' && ERROR_REASONS.has(d.reason));
    const action = mode === 'audit' ? 'none (audit mode)' : admittedError ? 'none (admitted on error)' : 'none (allowed)';
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

/** ECS pulls exactly the digests the service revision recorded; those are what get verified. */
async function revisionImages(revisionArn: string, ecs: ECSClient): Promise<ImageInput[]> {
  const out = await ecs.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: [revisionArn] }));
  const revision = out.serviceRevisions?.find((r) => r.serviceRevisionArn === revisionArn) ?? out.serviceRevisions?.[0];
  if (!revision) {
    const why = out.failures?.map((f) => `${f.reason ?? 'failure'}${f.detail ? ` (${f.detail})` : ''}`).join('; ') || 'not found';
    throw new Error(`DescribeServiceRevisions ${revisionArn}: ${why}`);
  }
  const images = (revision.containerImages ?? []).map((c, i) => ({
    container: c.containerName ?? `container-${i}`,
    image: c.image ?? '',
    digest: c.imageDigest ?? null,
  }));
  if (!images.length) throw new Error(`service revision ${revisionArn} lists no container images`);
  return images;
}

/** IN_PROGRESS while retries remain (the count travels in hookDetails); then FAILED. */
function waitOrFail(event: HookEvent, deps: HookDeps, where: Record<string, unknown>, why: string): HookAnswer {
  const attempt = Number(event.hookDetails[ATTEMPT_KEY] ?? 0) || 0;
  const maxRetries = positive(deps.env.HOOK_MAX_RETRIES, 3);
  if (attempt >= maxRetries) {
    logger.warn(`transient errors persisted through ${attempt} retries: failing the deployment`, { ...where, why });
    return { hookStatus: 'FAILED' };
  }
  const callBackDelay = positive(deps.env.HOOK_RETRY_DELAY_SECONDS, 30);
  logger.warn(`transient error, asking ECS to call again in ${callBackDelay}s (retry ${attempt + 1} of ${maxRetries})`, { ...where, why });
  return { hookStatus: 'IN_PROGRESS', callBackDelay, hookDetails: { [ATTEMPT_KEY]: attempt + 1 } };
}

/** A malformed event: FAILED in enforce mode, SUCCEEDED in log-only mode. */
async function refuseUnreadable(e: unknown, deps: HookDeps): Promise<HookAnswer> {
  const message = e instanceof HookEventError ? e.message : `unreadable event: ${(e as Error).message}`;
  const mode = await deps.getGate().then(
    (g) => g.policy.document.mode,
    () => modeFromEnv(deps.env),
  );
  logger.error(`deployment gate: ${message}`, { reason: 'POLICY_ERROR', mode });
  return { hookStatus: mode === 'audit' ? 'SUCCEEDED' : 'FAILED' };
}

/** Without a policy only FAILURE_BEHAVIOR can say which mode the user chose. */
function failByFailureBehavior(message: string, deps: HookDeps, where: Record<string, unknown>): HookAnswer {
  const mode = modeFromEnv(deps.env);
  logger.error(`deployment gate: ${message}`, { ...where, reason: 'POLICY_ERROR', mode });
  return { hookStatus: mode === 'audit' ? 'SUCCEEDED' : 'FAILED' };
}

function modeFromEnv(env: Env): 'enforce' | 'audit' {
  return env.FAILURE_BEHAVIOR?.trim() === 'LOG_ON_FAILURE' ? 'audit' : 'enforce';
}

function isTransient(e: unknown): boolean {
  const err = e as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode ?? 0;
  return Boolean(err.$retryable) || status >= 500 || status === 429 || err.name === 'ThrottlingException' || err.name === 'TimeoutError';
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= 0 ? n : fallback;
}
