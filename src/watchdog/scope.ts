/**
 * Which tasks the watchdog verifies (TASK_SCOPE, read by readConfig).
 *
 *   standalone (default)  tasks no service deployment started: RunTask, StartTask,
 *                         scheduled tasks. Service tasks are the deployment gate's.
 *   all                   every task.
 *
 * A service task carries `group: service:<name>` and `startedBy: <deployment id>`,
 * but whoever calls RunTask may set both. So a claim is only believed when
 * ecs:DescribeServices shows that service, with a deployment (or task set) of that
 * id running exactly this task definition. Anything less, including a failed
 * DescribeServices call, means the task is verified: doubt never skips a check.
 */
import { DescribeServicesCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { TtlCache } from '../core/cache.js';
import { errorSentence, readDescribeServices, type DescribedService } from './ecs-answers.js';
import type { TaskEvent } from './task-event.js';

export interface ServiceClaim {
  service?: string;
  startedBy?: string;
}

/** The task's hints that it belongs to a service, or undefined when it makes none. */
export function serviceClaim(task: TaskEvent): ServiceClaim | undefined {
  const service = task.group?.startsWith('service:') ? task.group.slice('service:'.length) : undefined;
  const startedBy = task.startedBy?.startsWith('ecs-svc/') ? task.startedBy : undefined;
  if (!service && !startedBy) return undefined;
  return { ...(service ? { service } : {}), ...(startedBy ? { startedBy } : {}) };
}

export type ClaimCheck = { genuine: true; service: string; deploymentId: string } | { genuine: false; why: string };

/**
 * Confirmed (cluster, service, deployment, task definition) claims, so that a service
 * scaling out to a hundred tasks costs one DescribeServices call, not a hundred
 * (the ECS API throttles). Only confirmations are kept: a claim that once checked out
 * stays true for its deployment, and a forger presenting the same four values passes
 * the live check just the same. Doubts are always asked again.
 */
const CONFIRMED_TTL_MS = 10 * 60_000;
const CONFIRMED_MAX = 1_000;

/** The claims confirmed so far, kept by the Runtime (one per container). */
export type ConfirmedClaims = TtlCache<true>;

export function confirmedClaimsCache(): ConfirmedClaims {
  return new TtlCache<true>({ ttlMs: CONFIRMED_TTL_MS, maxEntries: CONFIRMED_MAX });
}

export async function checkServiceClaim(
  ecs: ECSClient,
  task: TaskEvent,
  claim: ServiceClaim,
  abortSignal: AbortSignal,
  confirmed: ConfirmedClaims,
): Promise<ClaimCheck> {
  const { service, startedBy } = claim;
  if (!service) return { genuine: false, why: `startedBy ${startedBy} without group service:<name>` };
  if (!startedBy)
    return {
      genuine: false,
      why: `group service:${service} but startedBy is ${task.startedBy ?? 'absent'}, not a deployment id`,
    };
  if (!task.taskDefinitionArn) return { genuine: false, why: 'the event has no taskDefinitionArn to compare' };
  const key = [task.clusterArn, service, startedBy, task.taskDefinitionArn].join(' ');
  if (confirmed.get(key)) return { genuine: true, service, deploymentId: startedBy };
  const check = await describeAndMatch(ecs, task.clusterArn, service, startedBy, task.taskDefinitionArn, abortSignal);
  if (check.genuine) confirmed.set(key, true);
  return check;
}

async function describeAndMatch(
  ecs: ECSClient,
  cluster: string,
  service: string,
  startedBy: string,
  taskDefinitionArn: string,
  abortSignal: AbortSignal,
): Promise<ClaimCheck> {
  let answer: unknown;
  try {
    answer = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }), { abortSignal });
  } catch (error) {
    return { genuine: false, why: `ecs:DescribeServices failed (${errorSentence(error)})` };
  }
  const read = readDescribeServices(answer, service);
  if (!read.ok) return { genuine: false, why: read.why };
  const found = read.value;
  if (!found || (found.status !== 'ACTIVE' && found.status !== 'DRAINING')) {
    return { genuine: false, why: `there is no active service ${service} in the cluster` };
  }
  return matchDeployment(found, service, startedBy, taskDefinitionArn);
}

/**
 * ECS-controlled services list `deployments`; CODE_DEPLOY and EXTERNAL ones list
 * `taskSets`. Both carry the id that ECS writes into startedBy, and the task
 * definition they run.
 */
function matchDeployment(
  service: DescribedService,
  name: string,
  startedBy: string,
  taskDefinitionArn: string,
): ClaimCheck {
  const candidates = [...(service.deployments ?? []), ...(service.taskSets ?? [])];
  const deployment = candidates.find((d) => d.id === startedBy);
  if (!deployment) return { genuine: false, why: `service ${name} has no deployment ${startedBy}` };
  if (deployment.taskDefinition !== taskDefinitionArn) {
    return {
      genuine: false,
      why: `deployment ${startedBy} of service ${name} runs ${deployment.taskDefinition ?? 'no task definition'}, not ${taskDefinitionArn}`,
    };
  }
  return { genuine: true, service: name, deploymentId: startedBy };
}
