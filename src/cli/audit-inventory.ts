/**
 * What runs today, read from ECS without changing anything: every service's current
 * revision images and every running standalone task's images, cluster by cluster.
 *
 *   - services on the ECS controller: their current service revisions
 *     (DescribeServiceRevisions gives each container's image and the digest ECS pulled);
 *     a service without revisions in the answer falls back to its task definition;
 *   - services on the CODE_DEPLOY or EXTERNAL controller have no service revisions:
 *     their task sets' task definitions name the images (by tag; the audit resolves it);
 *   - standalone tasks: running tasks not started by a service (group not `service:…`),
 *     with the digests the agent reported.
 */
import {
  DescribeServiceRevisionsCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListClustersCommand,
  ListTasksCommand,
  type ECSClient,
  type Service,
} from '@aws-sdk/client-ecs';
import { allPages, describeServices, lastSegment, listServiceArns, retrying } from './ecs.js';
import { TtlCache } from '../core/cache.js';

export interface WorkloadContainer {
  name: string;
  image: string;
  /** the digest ECS reported; absent when only a task definition names the image */
  digest?: string;
}

export interface Workload {
  /** cluster name (not ARN) */
  cluster: string;
  service?: string;
  taskArn?: string;
  taskFamily?: string;
  containers: WorkloadContainer[];
}

export interface Inventory {
  workloads: Workload[];
  /** per cluster name: how many services and standalone tasks were read */
  counts: Map<string, { services: number; tasks: number }>;
}

export async function clustersOf(ecs: ECSClient): Promise<string[]> {
  const pages = await allPages((nextToken) => ecs.send(new ListClustersCommand(nextToken ? { nextToken } : {})));
  return pages.flatMap((p) => p.clusterArns ?? []);
}

export async function inventory(ecs: ECSClient, clusters: string[]): Promise<Inventory> {
  const result: Inventory = { workloads: [], counts: new Map() };
  for (const cluster of clusters) {
    const name = lastSegment(cluster);
    const services = await serviceWorkloads(ecs, cluster, name);
    const tasks = await standaloneTasks(ecs, cluster, name);
    result.workloads.push(...services, ...tasks);
    result.counts.set(name, { services: services.length, tasks: tasks.length });
  }
  return result;
}

async function serviceWorkloads(ecs: ECSClient, cluster: string, name: string): Promise<Workload[]> {
  const { services } = await describeServices(ecs, cluster, await listServiceArns(ecs, cluster));
  const revisions = await describeRevisions(
    ecs,
    services.flatMap((s) => (s.currentServiceRevisions ?? []).flatMap((r) => (r.arn ? [r.arn] : []))),
  );
  const taskDefs = new TaskDefinitions(ecs);
  const workloads: Workload[] = [];
  for (const s of services) {
    const containers: WorkloadContainer[] = [];
    let family: string | undefined;
    const controller = s.deploymentController?.type ?? 'ECS';
    const revs =
      controller === 'ECS'
        ? (s.currentServiceRevisions ?? []).flatMap((r) =>
            r.arn && revisions.has(r.arn) ? [revisions.get(r.arn)!] : [],
          )
        : [];
    for (const rev of revs) {
      family ??= familyOf(rev.taskDefinition);
      for (const c of rev.containerImages ?? [])
        containers.push({
          name: c.containerName ?? '?',
          image: c.image ?? '',
          ...(c.imageDigest ? { digest: c.imageDigest } : {}),
        });
    }
    if (!revs.length) {
      for (const arn of taskDefinitionsOf(s)) {
        family ??= familyOf(arn);
        for (const c of await taskDefs.containers(arn)) containers.push(c);
      }
    }
    workloads.push({
      cluster: name,
      service: s.serviceName ?? lastSegment(s.serviceArn ?? '?'),
      ...(family ? { taskFamily: family } : {}),
      containers: unique(containers),
    });
  }
  return workloads;
}

/** Task sets (CODE_DEPLOY, EXTERNAL) or, failing revisions, the service's own task definition. */
function taskDefinitionsOf(s: Service): string[] {
  const fromSets = (s.taskSets ?? [])
    .filter((t) => t.status !== 'DRAINING')
    .flatMap((t) => (t.taskDefinition ? [t.taskDefinition] : []));
  if (fromSets.length) return [...new Set(fromSets)];
  return s.taskDefinition ? [s.taskDefinition] : [];
}

async function describeRevisions(ecs: ECSClient, arns: string[]) {
  const found = new Map<
    string,
    { taskDefinition?: string; containerImages?: { containerName?: string; image?: string; imageDigest?: string }[] }
  >();
  for (let i = 0; i < arns.length; i += 20) {
    const chunk = arns.slice(i, i + 20);
    const out = await retrying(() => ecs.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: chunk })));
    for (const r of out.serviceRevisions ?? []) if (r.serviceRevisionArn) found.set(r.serviceRevisionArn, r);
  }
  return found;
}

/** Each task definition is described once per audit, however many tasks run it. */
class TaskDefinitions {
  readonly #seen = new TtlCache<WorkloadContainer[]>({ ttlMs: Infinity, maxEntries: 100_000 });
  constructor(private readonly ecs: ECSClient) {}

  containers(arn: string): Promise<WorkloadContainer[]> {
    return this.#seen.getOrCompute(arn, () =>
      retrying(() => this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }))).then((out) =>
        (out.taskDefinition?.containerDefinitions ?? []).map((c) => ({ name: c.name ?? '?', image: c.image ?? '' })),
      ),
    );
  }
}

async function standaloneTasks(ecs: ECSClient, cluster: string, name: string): Promise<Workload[]> {
  const pages = await allPages((nextToken) =>
    ecs.send(new ListTasksCommand({ cluster, desiredStatus: 'RUNNING', ...(nextToken ? { nextToken } : {}) })),
  );
  const arns = pages.flatMap((p) => p.taskArns ?? []);
  const workloads: Workload[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const chunk = arns.slice(i, i + 100);
    const out = await retrying(() => ecs.send(new DescribeTasksCommand({ cluster, tasks: chunk })));
    for (const t of out.tasks ?? []) {
      if (t.group?.startsWith('service:')) continue; // a service's task: audited with its service
      const family = familyOf(t.taskDefinitionArn);
      workloads.push({
        cluster: name,
        taskArn: t.taskArn ?? '?',
        ...(family ? { taskFamily: family } : {}),
        containers: (t.containers ?? []).map((c) => ({
          name: c.name ?? '?',
          image: c.image ?? '',
          ...(c.imageDigest ? { digest: c.imageDigest } : {}),
        })),
      });
    }
  }
  return workloads;
}

/** "arn:…:task-definition/web:12" → "web" */
function familyOf(taskDefinitionArn: string | undefined): string | undefined {
  if (!taskDefinitionArn) return undefined;
  return lastSegment(taskDefinitionArn).split(':')[0] || undefined;
}

function unique(containers: WorkloadContainer[]): WorkloadContainer[] {
  const seen = new Set<string>();
  return containers.filter((c) => {
    const key = `${c.name}|${c.image}|${c.digest ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
