/**
 * Structured logs and metrics (Powertools for AWS Lambda): one JSON log line per
 * decision with a fixed set of keys, and EMF metrics, so a dashboard can alarm on
 * SIGNATURE_INVALID without parsing text.
 *
 * Metrics (namespace POWERTOOLS_METRICS_NAMESPACE; every one also carries Powertools'
 * `service` dimension). template.yaml's dashboard and alarms name exactly these, and
 * test/template.test.ts fails when one of them is no longer emitted:
 *   Decisions              Count  {reason, decision} and, again, {source, decision}
 *   DecisionLatency        ms     {source}, one sample per decision (p50/p99 on the dashboard)
 *   AlertDeliveryFailures  Count  {channel}: sns | eventbridge | slack (src/alerts)
 *   WatchdogTasks          Count  {action} (src/handlers/task-state-change.ts)
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { blocks, decisionLine, type Decision } from './decision.js';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ecs-image-gate' });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'EcsImageGate',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ecs-image-gate',
});

export type DecisionSource = 'deployment-gate' | 'task-watchdog' | 'cli';

/**
 * Keys every decision log line carries, whatever the entry point. `service` is
 * Powertools' own key (the function's name, ecs-image-gate): a log call that passes
 * it is dropped with a warning, so the ECS service goes under `ecsService`.
 */
export interface DecisionLogContext {
  source: DecisionSource;
  ecsService?: string;
  service?: never;
  [key: string]: unknown;
}

export function logDecisions(decisions: Decision[], context: DecisionLogContext): void {
  for (const d of decisions) {
    const fields = { decision: d, ...context };
    if (d.decision === 'allow') logger.info(decisionLine(d), fields);
    else if (blocks(d)) logger.warn(decisionLine(d), fields);
    else logger.warn(decisionLine(d), { ...fields, admittedBy: 'audit mode' });
    countDecision(d, context.source);
  }
}

/**
 * Each metric record is its own single metric: EMF dimension sets that share a key
 * would make Powertools warn on every decision.
 */
function countDecision(d: Decision, source: DecisionSource): void {
  const byReason = metrics.singleMetric();
  byReason.addDimension('reason', d.reason);
  byReason.addDimension('decision', d.decision);
  byReason.addMetric('Decisions', MetricUnit.Count, 1);

  const bySource = metrics.singleMetric();
  bySource.addDimension('source', source);
  bySource.addDimension('decision', d.decision);
  bySource.addMetric('Decisions', MetricUnit.Count, 1);

  const latency = metrics.singleMetric();
  latency.addDimension('source', source);
  latency.addMetric('DecisionLatency', MetricUnit.Milliseconds, d.durationMs);
}

/** An alert channel that failed or ran out of time: the alert is only in the log now. */
export function countAlertDeliveryFailure(channel: 'sns' | 'eventbridge' | 'slack'): void {
  const single = metrics.singleMetric();
  single.addDimension('channel', channel);
  single.addMetric('AlertDeliveryFailures', MetricUnit.Count, 1);
}
