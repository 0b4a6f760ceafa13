/**
 * Lambda entry point for the ECS deployment lifecycle hook (SAM: lifecycle-hook.handler).
 * Thin: middy adds the Lambda context to every log line and flushes EMF metrics; the
 * gate itself is src/deployment/hook.ts.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { sendAlerts } from '../alerts/index.js';
import { awsClients } from '../aws.js';
import { answerHook, type HookAnswer } from '../deployment/hook.js';
import { logger, metrics } from '../observability.js';
import { getGate } from '../runtime.js';

export async function lifecycleHook(event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<HookAnswer> {
  return answerHook(event, {
    getGate: () => getGate(),
    ecs: awsClients().ecs,
    sendAlerts: (decisions, ctx, opts) => sendAlerts(decisions, ctx, opts),
    remainingMs: () => context.getRemainingTimeInMillis(),
    env: process.env,
  });
}

export const handler = middy(lifecycleHook)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
