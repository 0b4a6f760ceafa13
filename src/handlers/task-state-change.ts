/**
 * Lambda entry point for the task watchdog (SAM: task-state-change.handler), invoked
 * by the EventBridge rule on `ECS Task State Change`. Thin: it wires the gate, the
 * ECS client and the alerts into watchTask() (src/watchdog/watch-task.ts); middy adds
 * the Lambda context to every log line and flushes EMF metrics.
 *
 * It returns a small summary ({taskArn, action, decisions, ...}); it throws only
 * when StopTask failed, so that the asynchronous invocation is retried (and the task
 * verified again) instead of being left running unnoticed.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { Context } from 'aws-lambda';
import { sendAlerts, type AlertDeps } from '../alerts/index.js';
import { logDecisions, logger, metrics } from '../core/observability.js';
import { decide, type Gate } from '../gate/decide.js';
import { Runtime } from '../gate/runtime.js';
import { HandledTasks } from '../watchdog/handled-tasks.js';
import { confirmedClaimsCache, type ConfirmedClaims } from '../watchdog/scope.js';
import { policyErrorDecisions } from '../watchdog/policy-error.js';
import {
  StopTaskFailed,
  watchTask,
  type WatchAction,
  type WatchdogDeps,
  type WatchSummary,
} from '../watchdog/watch-task.js';

/** What differs from the Runtime's own (its gate, clients, memories); tests pass some. */
export interface TaskWatchdogOptions {
  getGate?: () => Promise<Gate>;
  ecs?: ECSClient;
  /** clients for SNS, EventBridge and SSM (Slack); default: the Runtime's */
  alertDeps?: Omit<AlertDeps, 'timeoutMs' | 'channels'>;
  handled?: HandledTasks;
}

/** What the watchdog remembers in one Lambda container, beside the Runtime's gate and clients. */
interface WatchdogMemory {
  /** tasks already dealt with */
  handled: HandledTasks;
  /** service claims ecs:DescribeServices confirmed, so a scale-out costs one call */
  confirmedClaims: ConfirmedClaims;
}

/**
 * The handler's logic bound to a Runtime, with a fresh watchdog memory: made once per
 * Lambda container (below); tests and the demo bind their own.
 */
export function makeTaskStateChange(runtime: Runtime, options: TaskWatchdogOptions = {}) {
  const memory: WatchdogMemory = {
    handled: options.handled ?? new HandledTasks(),
    confirmedClaims: confirmedClaimsCache(),
  };
  return async function taskStateChange(
    event: unknown,
    context: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<WatchSummary> {
    try {
      const summary = await watchTask(event, watchdogDeps(context, runtime, memory, options));
      countAction(summary.action);
      return summary;
    } catch (error) {
      if (error instanceof StopTaskFailed) countAction('stop-failed');
      throw error;
    }
  };
}

/** One count per task event by what was done, so an alarm can watch stop-failed and stopped. */
function countAction(action: WatchAction): void {
  const single = metrics.singleMetric();
  single.addDimension('action', action);
  single.addMetric('WatchdogTasks', MetricUnit.Count, 1);
}

function watchdogDeps(
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  runtime: Runtime,
  memory: WatchdogMemory,
  options: TaskWatchdogOptions,
): WatchdogDeps {
  const { config } = runtime;
  if (config.taskScopeWarning) logger.error(config.taskScopeWarning);
  const loadGate = options.getGate ?? (() => runtime.gate());
  return {
    ecs: options.ecs ?? runtime.clients.ecs,
    decide: async (images, deadline, scope) => {
      let gate: Gate;
      try {
        gate = await loadGate();
      } catch (error) {
        logger.error('task watchdog: the policy cannot be loaded', { error: error as Error, reason: 'POLICY_ERROR' });
        return policyErrorDecisions(images, error, config.failureBehavior);
      }
      // scope picks the policy's overrides (mode, onError) for this cluster, service and task family
      return decide(images, gate, { deadline, scope });
    },
    alert: async (decisions, ctx, timeoutMs) => {
      const sent = await sendAlerts(decisions, ctx, { ...runtime.alertDeps(), ...options.alertDeps, timeoutMs });
      // the summary stays small: what went where, and the subject to recognise it by
      return {
        sns: sent.sns,
        eventBridge: sent.eventBridge,
        slack: sent.slack,
        events: sent.events,
        subject: sent.message?.subject ?? null,
      };
    },
    handled: memory.handled,
    confirmedClaims: memory.confirmedClaims,
    scope: config.taskScope,
    remainingMs: () => context.getRemainingTimeInMillis(),
    logDecisions: (decisions, where) => logDecisions(decisions, { ...where, source: 'task-watchdog' }),
  };
}

/** The Lambda handler on a Runtime: middy adds the Lambda context to log lines and flushes metrics. */
export function lambdaHandler(runtime: Runtime) {
  return middy(makeTaskStateChange(runtime)).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

/** Per Lambda container: config, clients, gate; and, in the handler, the tasks already dealt with. */
const runtime = new Runtime(process.env);

export const handler = lambdaHandler(runtime);
