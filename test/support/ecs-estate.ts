/**
 * A stand-in ECS account for the rollout commands (audit, attach, detach, status):
 * 3 clusters, 40 services on the ECS controller (ROLLING, BLUE_GREEN) and the
 * CODE_DEPLOY controller, 200 running tasks, some of them standalone. Served through
 * aws-sdk-client-mock with the paging and limits of the real API (ListServices 10 a
 * page, ListTasks 100, DescribeServices 10 names, DescribeTasks 100, DescribeService-
 * Revisions 20) and throttling on request. UpdateService changes the estate, so a
 * second attach sees the first one's result. No test framework imports here.
 */
import {
  DescribeServiceRevisionsCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListClustersCommand,
  ListServicesCommand,
  ListTasksCommand,
  UpdateServiceCommand,
  type ECSClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  type Service,
  type ServiceRevision,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { AwsStub } from 'aws-sdk-client-mock';

const ACCOUNT = 'arn:aws:ecs:us-east-1:123456789012';
export const CLUSTERS = ['prod', 'staging', 'batch'] as const;
export const SIDECAR = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0';
export const OTHER_HOOK = {
  hookTargetArn: 'arn:aws:lambda:us-east-1:123456789012:function:smoke-tests',
  roleArn: 'arn:aws:iam::123456789012:role/smoke-tests-invoke',
  lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT' as const],
  hookDetails: { suite: 'checkout' },
  timeoutConfiguration: { timeoutInMinutes: 30, timeoutAction: 'ROLLBACK' },
};

/** An image in the test registry: `repo:tag` names `digest`. */
export interface EstateImage {
  repo: string;
  tag: string;
  digest: string;
}

export interface EstateRow {
  cluster: string;
  service?: string;
  taskArn?: string;
  container: string;
  image: string;
  unsigned: boolean;
}

export interface Estate {
  services: Map<string, Service[]>;
  revisions: Map<string, ServiceRevision>;
  taskDefinitions: Map<string, TaskDefinition>;
  tasks: Map<string, Task[]>;
  /** what audit must report: one row per (service or standalone task, container) */
  expected: EstateRow[];
}

type Kind = 'ROLLING' | 'BLUE_GREEN' | 'CODE_DEPLOY';

/**
 * Service i: cluster by i (15, 15, 10), kind by i % 3, one `app` container whose image
 * is unsigned when i % 7 === 3 (else signed), plus the allow-listed sidecar on BLUE_GREEN
 * services. 4 tasks per service, and 40 standalone tasks (every 8th unsigned).
 */
export function buildEstate(host: string, signed: EstateImage[], unsigned: EstateImage[]): Estate {
  const estate: Estate = {
    services: new Map(),
    revisions: new Map(),
    taskDefinitions: new Map(),
    tasks: new Map(),
    expected: [],
  };
  for (const c of CLUSTERS) {
    estate.services.set(c, []);
    estate.tasks.set(c, []);
  }
  for (let i = 0; i < 40; i++) {
    const cluster = i < 15 ? 'prod' : i < 30 ? 'staging' : 'batch';
    const kind: Kind = (['ROLLING', 'BLUE_GREEN', 'CODE_DEPLOY'] as const)[i % 3]!;
    const bad = i % 7 === 3;
    const img = bad ? unsigned[i % unsigned.length]! : signed[i % signed.length]!;
    const name = `svc-${i}`;
    const containers = [{ name: 'app', image: `${host}/${img.repo}:${img.tag}`, digest: img.digest }];
    if (kind === 'BLUE_GREEN') containers.push({ name: 'otel', image: SIDECAR, digest: `sha256:${'e'.repeat(64)}` });
    const taskDef = `${ACCOUNT}:task-definition/${name}:${i + 1}`;
    estate.taskDefinitions.set(taskDef, {
      taskDefinitionArn: taskDef,
      family: name,
      containerDefinitions: containers.map((c) => ({ name: c.name, image: c.image })),
    });
    const service = makeService(cluster, name, kind, taskDef, i);
    if (kind !== 'CODE_DEPLOY') {
      const revision = `${ACCOUNT}:service-revision/${cluster}/${name}/${1000 + i}`;
      service.currentServiceRevisions = [
        { arn: revision, requestedTaskCount: 4, runningTaskCount: 4, pendingTaskCount: 0 },
      ];
      estate.revisions.set(revision, {
        serviceRevisionArn: revision,
        taskDefinition: taskDef,
        containerImages: containers.map((c) => ({ containerName: c.name, image: c.image, imageDigest: c.digest })),
      });
    }
    estate.services.get(cluster)!.push(service);
    for (const c of containers)
      estate.expected.push({
        cluster,
        service: name,
        container: c.name,
        image: c.image,
        unsigned: bad && c.name === 'app',
      });
    for (let t = 0; t < 4; t++) {
      estate.tasks
        .get(cluster)!
        .push(makeTask(cluster, `${name}-${t}`, taskDef, `service:${name}`, 'ecs-svc/123', containers));
    }
  }
  for (let j = 0; j < 40; j++) {
    const cluster = CLUSTERS[j % 3]!;
    const bad = j % 8 === 5;
    const img = bad ? unsigned[j % unsigned.length]! : signed[j % signed.length]!;
    const taskDef = `${ACCOUNT}:task-definition/job-${j % 4}:1`;
    const containers = [{ name: 'job', image: `${host}/${img.repo}:${img.tag}`, digest: img.digest }];
    const task = makeTask(cluster, `job-${j}`, taskDef, `family:job-${j % 4}`, 'events-rule/nightly', containers);
    estate.tasks.get(cluster)!.push(task);
    estate.expected.push({
      cluster,
      taskArn: task.taskArn!,
      container: 'job',
      image: containers[0]!.image,
      unsigned: bad,
    });
  }
  return estate;
}

function makeService(cluster: string, name: string, kind: Kind, taskDefinition: string, i: number): Service {
  const service: Service = {
    serviceArn: `${ACCOUNT}:service/${cluster}/${name}`,
    serviceName: name,
    clusterArn: `${ACCOUNT}:cluster/${cluster}`,
    status: 'ACTIVE',
    desiredCount: 4,
    taskDefinition,
    deploymentController: { type: kind === 'CODE_DEPLOY' ? 'CODE_DEPLOY' : 'ECS' },
    deploymentConfiguration: {
      maximumPercent: 200,
      minimumHealthyPercent: 100,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      alarms: { alarmNames: [`${name}-5xx`], enable: true, rollback: true },
      ...(kind === 'CODE_DEPLOY' ? {} : { strategy: kind }),
      ...(kind === 'BLUE_GREEN'
        ? { bakeTimeInMinutes: 10, lifecycleHooks: i % 2 ? [structuredClone(OTHER_HOOK)] : [] }
        : {}),
    },
  };
  if (kind === 'CODE_DEPLOY') {
    service.taskSets = [
      {
        id: `ecs-svc/${i}`,
        taskSetArn: `${ACCOUNT}:task-set/${cluster}/${name}/ecs-svc/${i}`,
        status: 'PRIMARY',
        taskDefinition,
      },
    ];
  }
  return service;
}

function makeTask(
  cluster: string,
  id: string,
  taskDefinitionArn: string,
  group: string,
  startedBy: string,
  containers: { name: string; image: string; digest: string }[],
): Task {
  return {
    taskArn: `${ACCOUNT}:task/${cluster}/${id}`,
    clusterArn: `${ACCOUNT}:cluster/${cluster}`,
    taskDefinitionArn,
    group,
    startedBy,
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    containers: containers.map((c) => ({ name: c.name, image: c.image, imageDigest: c.digest })),
  };
}

export interface ServeOptions {
  /** each listed command throws ThrottlingException on its first n calls */
  throttle?: Partial<
    Record<
      'ListServices' | 'DescribeServices' | 'ListTasks' | 'DescribeTasks' | 'DescribeServiceRevisions' | 'ListClusters',
      number
    >
  >;
}

export function throttlingError(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
}

const clusterOf = (c: string | undefined) => (c ?? 'default').replace(/^.*:cluster\//, '');

/** Answers the stand-in ECS calls from the estate. */
export function serveEstate(
  ecs: AwsStub<ServiceInputTypes, ServiceOutputTypes, ECSClientResolvedConfig>,
  estate: Estate,
  options: ServeOptions = {},
): void {
  const calls = new Map<string, number>();
  const throttled = (name: keyof NonNullable<ServeOptions['throttle']>) => {
    const n = (calls.get(name) ?? 0) + 1;
    calls.set(name, n);
    if (n <= (options.throttle?.[name] ?? 0)) throw throttlingError();
  };
  const page = <T>(items: T[], token: string | undefined, size: number) => {
    const start = Number(token ?? 0);
    const next = start + size < items.length ? String(start + size) : undefined;
    return { items: items.slice(start, start + size), ...(next ? { nextToken: next } : {}) };
  };
  ecs.on(ListClustersCommand).callsFake((input) => {
    throttled('ListClusters');
    const p = page(
      [...estate.services.keys()].map((c) => `${ACCOUNT}:cluster/${c}`),
      input.nextToken,
      2,
    );
    return { clusterArns: p.items, nextToken: p.nextToken };
  });
  ecs.on(ListServicesCommand).callsFake((input) => {
    throttled('ListServices');
    const p = page(
      (estate.services.get(clusterOf(input.cluster)) ?? []).map((s) => s.serviceArn!),
      input.nextToken,
      Math.min(input.maxResults ?? 10, 10),
    );
    return { serviceArns: p.items, nextToken: p.nextToken };
  });
  ecs.on(DescribeServicesCommand).callsFake((input) => {
    throttled('DescribeServices');
    if ((input.services ?? []).length > 10)
      throw Object.assign(new Error('services can have at most 10 items'), { name: 'InvalidParameterException' });
    const all = estate.services.get(clusterOf(input.cluster)) ?? [];
    const services: Service[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const name of input.services ?? []) {
      const s = all.find((x) => x.serviceName === name || x.serviceArn === name);
      if (s) services.push(structuredClone(s));
      else failures.push({ arn: `${ACCOUNT}:service/${clusterOf(input.cluster)}/${name}`, reason: 'MISSING' });
    }
    return { services, failures };
  });
  ecs.on(UpdateServiceCommand).callsFake((input) => {
    const s = (estate.services.get(clusterOf(input.cluster)) ?? []).find((x) => x.serviceName === input.service);
    if (!s) throw Object.assign(new Error('Service not found.'), { name: 'ServiceNotFoundException' });
    if (input.deploymentConfiguration) s.deploymentConfiguration = structuredClone(input.deploymentConfiguration);
    return { service: structuredClone(s) };
  });
  ecs.on(DescribeServiceRevisionsCommand).callsFake((input) => {
    throttled('DescribeServiceRevisions');
    if ((input.serviceRevisionArns ?? []).length > 20)
      throw Object.assign(new Error('at most 20 revisions'), { name: 'InvalidParameterException' });
    return {
      serviceRevisions: (input.serviceRevisionArns ?? []).flatMap((a: string) =>
        estate.revisions.has(a) ? [structuredClone(estate.revisions.get(a)!)] : [],
      ),
    };
  });
  ecs.on(DescribeTaskDefinitionCommand).callsFake((input) => {
    const td = estate.taskDefinitions.get(input.taskDefinition ?? '');
    if (!td) throw Object.assign(new Error('Unable to describe task definition.'), { name: 'ClientException' });
    return { taskDefinition: structuredClone(td) };
  });
  ecs.on(ListTasksCommand).callsFake((input) => {
    throttled('ListTasks');
    const p = page(
      (estate.tasks.get(clusterOf(input.cluster)) ?? []).map((t) => t.taskArn!),
      input.nextToken,
      Math.min(input.maxResults ?? 100, 100),
    );
    return { taskArns: p.items, nextToken: p.nextToken };
  });
  ecs.on(DescribeTasksCommand).callsFake((input) => {
    throttled('DescribeTasks');
    if ((input.tasks ?? []).length > 100)
      throw Object.assign(new Error('tasks can have at most 100 items'), { name: 'InvalidParameterException' });
    const all = estate.tasks.get(clusterOf(input.cluster)) ?? [];
    return {
      tasks: (input.tasks ?? []).flatMap((arn: string) =>
        all.filter((t) => t.taskArn === arn).map((t) => structuredClone(t)),
      ),
      failures: [],
    };
  });
}
