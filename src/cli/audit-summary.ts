/** The audit's rows and the numbers a reader looks at first. */
import type { Decision, ReasonCode } from '../core/decision.js';
import { parseReference, repositoryPath } from '../core/reference.js';

/** One (service or standalone task, container): the Decision plus where it runs. */
export type AuditRow = Decision & { cluster: string } & (
    | { service: string; taskArn?: never }
    | { taskArn: string; service?: never }
  );

export interface Counts {
  services: number;
  tasks: number;
  containers: number;
  /** distinct (repository, digest) */
  images: number;
  denied: number;
}

export interface Summary {
  clusters: Map<string, Counts>;
  total: Counts;
  byReason: Map<ReasonCode, number>;
}

export function summarize(rows: AuditRow[], workloads: Map<string, { services: number; tasks: number }>): Summary {
  const count = (subset: AuditRow[], w: { services: number; tasks: number }): Counts => ({
    ...w,
    containers: subset.length,
    images: new Set(subset.map(imageKey)).size,
    denied: subset.filter((r) => r.decision === 'deny').length,
  });
  const clusters = new Map<string, Counts>();
  for (const [name, w] of workloads)
    clusters.set(
      name,
      count(
        rows.filter((r) => r.cluster === name),
        w,
      ),
    );
  const sum = (k: 'services' | 'tasks') => [...workloads.values()].reduce((n, w) => n + w[k], 0);
  const byReason = new Map<ReasonCode, number>();
  for (const r of rows) if (r.decision === 'deny') byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
  return {
    clusters,
    total: count(rows, { services: sum('services'), tasks: sum('tasks') }),
    byReason: new Map([...byReason].sort((a, b) => b[1] - a[1])),
  };
}

/** `registry/repository@digest`, or the image when no digest is known. */
export function imageKey(r: Pick<Decision, 'image' | 'digest'>): string {
  try {
    return r.digest ? `${repositoryPath(parseReference(r.image))}@${r.digest}` : r.image;
  } catch {
    return r.image;
  }
}
