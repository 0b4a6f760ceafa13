/**
 * ecs-image-gate attach|detach --cluster C --service S… [--stages …] [--dry-run]
 *                              (--stack NAME | --function-arn A --role-arn R)
 * ecs-image-gate status --cluster C (--stack NAME | --function-arn A)
 *
 * UpdateService replaces the whole deploymentConfiguration.lifecycleHooks list, so
 * attach reads the service's deploymentConfiguration and sends it back with only our
 * hook (identified by its hookTargetArn) added or replaced in place; every other hook
 * goes back whole, with its hookDetails and timeoutConfiguration, and no other field of
 * the service is sent (no forceNewDeployment, task definition or desired count). A
 * service already as wanted gets no call at all, so attach and detach are idempotent.
 */
import {
  UpdateServiceCommand,
  type DeploymentLifecycleHook,
  type DeploymentLifecycleHookStage,
  type ECSClient,
  type Service,
} from '@aws-sdk/client-ecs';
import { makeAwsClients } from '../core/aws.js';
import { LIFECYCLE_STAGES } from '../deployment/hook-event.js';
import { list, parseOptions, UsageError, type ExitCode, type Io } from './args.js';
import { describeServices, lastSegment, listServiceArns, retrying } from './ecs.js';
import { table } from './output.js';
import { hookArns } from './stack.js';

/** DESIGN "Lifecycle hook": before any task of the new revision starts, and before any traffic. */
export const DEFAULT_STAGES: DeploymentLifecycleHookStage[] = ['PRE_SCALE_UP', 'POST_SCALE_UP'];
/** Strategies of the ECS deployment controller that run lifecycle hooks. */
export const HOOK_STRATEGIES = ['BLUE_GREEN', 'LINEAR', 'CANARY'] as const;

const ARN_OPTIONS = {
  stack: { type: 'string' },
  'function-arn': { type: 'string' },
  'role-arn': { type: 'string' },
} as const;

interface Ours {
  functionArn: string;
  roleArn: string;
  stages: DeploymentLifecycleHookStage[];
}

type Plan =
  | { kind: 'update'; service: Service; hooks: DeploymentLifecycleHook[]; summary: string }
  | { kind: 'unchanged'; service: Service; summary: string }
  | { kind: 'refused'; service: Service; summary: string };

export function attach(args: string[], io: Io): Promise<ExitCode> {
  return change('attach', args, io);
}

export function detach(args: string[], io: Io): Promise<ExitCode> {
  return change('detach', args, io);
}

async function change(action: 'attach' | 'detach', args: string[], io: Io): Promise<ExitCode> {
  const { values } = parseOptions(args, {
    cluster: { type: 'string' },
    service: { type: 'string', multiple: true },
    stages: { type: 'string' },
    'dry-run': { type: 'boolean' },
    ...ARN_OPTIONS,
  });
  const cluster = values.cluster;
  const names = (values.service ?? []).flatMap((s) => list(s));
  if (!cluster || !names.length) throw new UsageError(`${action} needs --cluster C and at least one --service S`);
  if (action === 'detach' && values.stages) throw new UsageError('detach takes no --stages');
  const stages = parseStages(values.stages);
  const arns = await hookArns(values, action === 'attach');
  const ours: Ours = { functionArn: arns.functionArn, roleArn: arns.roleArn ?? '', stages };
  const ecs = makeAwsClients().ecs;
  const { services, missing } = await describeServices(ecs, cluster, names);
  // a misspelt service changes nothing anywhere: fix the command first
  if (missing.length)
    throw new UsageError(`cluster ${cluster}: no active service ${missing.map(lastSegment).join(', ')}`);
  const plans = services.map((s) => (action === 'attach' ? planAttach(s, ours) : planDetach(s, ours)));
  for (const plan of plans) {
    io.out(`${plan.service.serviceName}: ${plan.summary}`);
    if (plan.kind !== 'update') continue;
    const input = updateInput(cluster, plan.service, plan.hooks);
    if (values['dry-run']) {
      io.out(`  would send UpdateService ${JSON.stringify(input)}`);
      continue;
    }
    await retrying(() => ecs.send(new UpdateServiceCommand(input)));
    io.out('  applied');
  }
  if (values['dry-run']) io.out('dry run: nothing was sent');
  return plans.some((p) => p.kind === 'refused') ? 1 : 0;
}

function parseStages(value: string | undefined): DeploymentLifecycleHookStage[] {
  if (value === undefined) return DEFAULT_STAGES;
  const stages = list(value);
  const unknown = stages.filter((s) => !(LIFECYCLE_STAGES as readonly string[]).includes(s));
  if (!stages.length || unknown.length) {
    throw new UsageError(
      `--stages: ${unknown.length ? `unknown stage ${unknown.join(', ')}` : 'none given'}; stages are ${LIFECYCLE_STAGES.join(', ')}`,
    );
  }
  return stages as DeploymentLifecycleHookStage[];
}

/** The whole deploymentConfiguration as ECS has it, with the new list; nothing else. */
function updateInput(cluster: string, service: Service, hooks: DeploymentLifecycleHook[]) {
  return {
    cluster,
    service: service.serviceName!,
    deploymentConfiguration: { ...service.deploymentConfiguration, lifecycleHooks: hooks },
  };
}

function planAttach(service: Service, ours: Ours): Plan {
  const refusal = cannotRunHooks(service);
  if (refusal) return { kind: 'refused', service, summary: refusal };
  const hooks = service.deploymentConfiguration?.lifecycleHooks ?? [];
  const wanted: DeploymentLifecycleHook = {
    hookTargetArn: ours.functionArn,
    roleArn: ours.roleArn,
    lifecycleStages: ours.stages,
  };
  const at = hooks.findIndex((h) => h.hookTargetArn === ours.functionArn);
  const where = `at ${ours.stages.join(',')}`;
  if (at < 0) {
    return {
      kind: 'update',
      service,
      hooks: [...hooks, wanted],
      summary: `attach ${ours.functionArn} ${where} (lifecycleHooks: ${hooks.length} → ${hooks.length + 1}, the others kept)`,
    };
  }
  const current = hooks[at]!;
  if (current.roleArn === ours.roleArn && sameStages(current.lifecycleStages, ours.stages)) {
    return { kind: 'unchanged', service, summary: `already attached ${where}: nothing to change` };
  }
  const replaced = hooks.map((h, i) => (i === at ? wanted : h));
  const before = `${current.lifecycleStages?.join(',') ?? ''} role ${current.roleArn ?? '-'}`;
  return {
    kind: 'update',
    service,
    hooks: replaced,
    summary: `update ${ours.functionArn}: ${before} → ${ours.stages.join(',')} role ${ours.roleArn} (in place, the others kept)`,
  };
}

function planDetach(service: Service, ours: Ours): Plan {
  const hooks = service.deploymentConfiguration?.lifecycleHooks ?? [];
  const kept = hooks.filter((h) => h.hookTargetArn !== ours.functionArn);
  if (kept.length === hooks.length) return { kind: 'unchanged', service, summary: 'not attached: nothing to change' };
  return {
    kind: 'update',
    service,
    hooks: kept,
    summary: `detach ${ours.functionArn} (lifecycleHooks: ${hooks.length} → ${kept.length}, the others kept)`,
  };
}

function sameStages(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return (a ?? []).length === b.length && b.every((s) => a!.includes(s));
}

/** Why ECS would never call a hook on this service, with the change that fixes it; null when it would. */
export function cannotRunHooks(service: Service): string | null {
  const name = service.serviceName ?? '?';
  const cluster = lastSegment(service.clusterArn ?? '?');
  const controller = service.deploymentController?.type ?? 'ECS';
  const strategy = service.deploymentConfiguration?.strategy ?? 'ROLLING';
  const change = `aws ecs update-service --cluster ${cluster} --service ${name}`;
  if (controller !== 'ECS') {
    return (
      `refused: the ${controller} deployment controller does not run ECS lifecycle hooks. ` +
      `Change: move the service to the ECS controller with a strategy that runs hooks, e.g. ` +
      `${change} --deployment-controller type=ECS --deployment-configuration '{"strategy":"BLUE_GREEN","bakeTimeInMinutes":5}' ` +
      `(BLUE_GREEN also needs the load balancer's advancedConfiguration); until then the task watchdog (TaskScope=all) covers its tasks`
    );
  }
  if (!(HOOK_STRATEGIES as readonly string[]).includes(strategy)) {
    return (
      `refused: the ${strategy} strategy does not run lifecycle hooks (only ${HOOK_STRATEGIES.join(', ')} do). ` +
      `Change: ${change} --deployment-configuration '{"strategy":"BLUE_GREEN","bakeTimeInMinutes":5}' ` +
      `(BLUE_GREEN also needs the load balancer's advancedConfiguration; LINEAR and CANARY likewise), ` +
      `or keep ${strategy} and let the task watchdog (TaskScope=all) cover its tasks`
    );
  }
  return null;
}

export async function status(args: string[], io: Io): Promise<ExitCode> {
  const { values } = parseOptions(args, { cluster: { type: 'string' }, ...ARN_OPTIONS });
  if (!values.cluster) throw new UsageError('status needs --cluster C');
  const { functionArn } = await hookArns(values, false);
  const ecs: ECSClient = makeAwsClients().ecs;
  const { services } = await describeServices(ecs, values.cluster, await listServiceArns(ecs, values.cluster));
  const rows = services
    .sort((a, b) => (a.serviceName ?? '').localeCompare(b.serviceName ?? ''))
    .map((s) => {
      const ours = s.deploymentConfiguration?.lifecycleHooks?.find((h) => h.hookTargetArn === functionArn);
      const hook = ours ? 'attached' : cannotRunHooks(s) ? 'cannot run hooks' : 'not attached';
      return [
        s.serviceName ?? '?',
        s.deploymentController?.type ?? 'ECS',
        s.deploymentConfiguration?.strategy ?? 'ROLLING',
        hook,
        ours?.lifecycleStages?.join(',') ?? '-',
      ];
    });
  for (const line of table(['SERVICE', 'CONTROLLER', 'STRATEGY', 'HOOK', 'STAGES'], rows)) io.out(line);
  const attached = rows.filter((r) => r[3] === 'attached').length;
  io.out(`${attached} of ${rows.length} services in ${values.cluster} have the hook ${functionArn}`);
  return 0;
}
