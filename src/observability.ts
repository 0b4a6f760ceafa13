/**
 * Structured logs and metrics (Powertools for AWS Lambda): one JSON log line per
 * decision with a fixed set of keys, and an EMF count per reason code, so a
 * dashboard can alarm on SIGNATURE_INVALID without parsing text.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { blocks, decisionLine, type Decision } from './policy/decision.js';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ecs-image-gate' });

export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'EcsImageGate',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ecs-image-gate',
});

/** Keys every decision log line carries, whatever the entry point. */
export interface DecisionLogContext {
  source: 'deployment-gate' | 'task-watchdog' | 'cli';
  [key: string]: unknown;
}

export function logDecisions(decisions: Decision[], context: DecisionLogContext): void {
  for (const d of decisions) {
    const fields = { decision: d, ...context };
    if (d.decision === 'allow') logger.info(decisionLine(d), fields);
    else if (blocks(d)) logger.warn(decisionLine(d), fields);
    else logger.warn(decisionLine(d), { ...fields, admittedBy: 'audit mode' });
    countDecision(d);
  }
}

function countDecision(d: Decision): void {
  const single = metrics.singleMetric();
  single.addDimension('reason', d.reason);
  single.addDimension('decision', d.decision);
  single.addMetric('Decisions', MetricUnit.Count, 1);
}
