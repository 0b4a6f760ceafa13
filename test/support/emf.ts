/**
 * The EMF records Powertools Metrics writes to stdout, captured while a test runs:
 * what CloudWatch would turn into metrics, read back as {name, unit, value, dimensions}.
 */
import { vi } from 'vitest';

export interface EmittedMetric {
  namespace: string;
  name: string;
  unit: string;
  value: number;
  /** every dimension set of the record, each as {key: value} */
  dimensionSets: Record<string, string>[];
}

/**
 * Starts capturing; the returned function stops and gives what was emitted since.
 * vitest.config.ts disables metrics (POWERTOOLS_METRICS_DISABLED) to keep the output
 * readable; every single metric is a new Metrics instance that reads the variable
 * when it is made, so they are on while capturing.
 */
export function captureEmf(): () => EmittedMetric[] {
  const lines: string[] = [];
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as never);
  return () => {
    spy.mockRestore();
    if (disabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    return lines.join('').split('\n').flatMap(parseRecord);
  };
}

function parseRecord(line: string): EmittedMetric[] {
  if (!line.includes('"_aws"')) return [];
  const record = JSON.parse(line) as Record<string, unknown> & {
    _aws: {
      CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
    };
  };
  return record._aws.CloudWatchMetrics.flatMap((directive) =>
    directive.Metrics.map((m) => ({
      namespace: directive.Namespace,
      name: m.Name,
      unit: m.Unit,
      value: Number(record[m.Name]),
      dimensionSets: directive.Dimensions.map((keys) => Object.fromEntries(keys.map((k) => [k, String(record[k])]))),
    })),
  );
}
