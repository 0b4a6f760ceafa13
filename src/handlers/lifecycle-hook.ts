/**
 * Lambda entry point for the ECS deployment lifecycle hook (SAM: lifecycle-hook.handler).
 * Thin: middy adds the Lambda context to every log line and flushes EMF metrics; the
 * gate itself is src/deployment/hook.ts. The Runtime is made once per container, here.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { sendAlerts } from '../alerts/index.js';
import { answerHook, type HookAnswer } from '../deployment/hook.js';
import { logger, metrics } from '../core/observability.js';
import { Runtime } from '../gate/runtime.js';

/** The handler's logic bound to a Runtime; tests, the CLI's `invoke` and the demo bind their own. */
export function makeLifecycleHook(runtime: Runtime) {
  return async function lifecycleHook(
    event: unknown,
    context: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<HookAnswer> {
    return answerHook(event, {
      getGate: () => runtime.gate(),
      ecs: runtime.clients.ecs,
      sendAlerts: (decisions, ctx, opts) => sendAlerts(decisions, ctx, { ...runtime.alertDeps(), ...opts }),
      remainingMs: () => context.getRemainingTimeInMillis(),
      config: runtime.config,
    });
  };
}

/** The Lambda handler on a Runtime: middy adds the Lambda context to log lines and flushes metrics. */
export function lambdaHandler(runtime: Runtime) {
  return middy(makeLifecycleHook(runtime)).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

/** Per Lambda container: config, clients, the gate and its caches, made once. */
const runtime = new Runtime(process.env);

export const handler = lambdaHandler(runtime);
