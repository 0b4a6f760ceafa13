/**
 * Where an alert comes from and what was done about it. Both entry points (the
 * deployment gate and the task watchdog) describe their event with this, so an
 * operator reads the same message whichever path caught the image.
 */
import { ERROR_REASONS, type Decision } from '../core/decision.js';

export type AlertSource = 'deployment-gate' | 'task-watchdog';

/** What the caller did with the workload; the message says it in words. */
export type AlertAction =
  | 'deployment-failed' //  hook answered FAILED: the revision never takes traffic
  | 'task-stopped' //       watchdog called ecs:StopTask
  | 'stop-failed' //        watchdog tried to stop and ECS refused or failed: the task may still run
  | 'none (audit mode)' //  denied, but audit mode admits
  | 'none (admitted on error)' // an error that onError: allow admitted
  | 'none (allowed)'; //    every image allowed (only decision events, when DECISION_EVENTS=all)

export interface AlertContext {
  source: AlertSource;
  mode: 'enforce' | 'audit';
  action: AlertAction;
  /** cluster name or ARN */
  cluster?: string;
  /** service name or ARN */
  service?: string;
  taskArn?: string;
  serviceRevisionArn?: string;
  /** defaults to the region in the first ARN given, then homeRegion */
  region?: string;
  /** the gate's own region (Config.region; sendAlerts fills it in): the last resort */
  homeRegion?: string;
  /** one extra sentence for the reader, e.g. "the task claimed service web, but ..." */
  note?: string;
}

/** Decisions an operator must hear about: every deny, and every error that was admitted anyway. */
export function isAlertable(d: Decision): boolean {
  return d.decision === 'deny' || ERROR_REASONS.has(d.reason);
}

interface ArnParts {
  partition: string;
  region: string;
  account: string;
  resource: string;
}

export function parseArn(arn: string | undefined): ArnParts | undefined {
  const m = arn ? /^arn:([\w-]+):[\w-]+:([\w-]*):(\d*):(.+)$/.exec(arn) : null;
  if (!m) return undefined;
  return { partition: m[1]!, region: m[2]!, account: m[3]!, resource: m[4]! };
}

/** "arn:aws:ecs:us-east-1:1:cluster/demo" and "demo" both give "demo". */
export function shortName(nameOrArn: string | undefined): string | undefined {
  if (!nameOrArn) return undefined;
  const parts = parseArn(nameOrArn);
  return parts ? parts.resource.split('/').pop() : nameOrArn;
}

export function regionOf(ctx: AlertContext): string | undefined {
  return (
    ctx.region ??
    [ctx.taskArn, ctx.serviceRevisionArn, ctx.service, ctx.cluster].map((a) => parseArn(a)?.region).find(Boolean) ??
    ctx.homeRegion
  );
}

function partitionOf(ctx: AlertContext): string {
  return (
    [ctx.taskArn, ctx.serviceRevisionArn, ctx.service, ctx.cluster].map((a) => parseArn(a)?.partition).find(Boolean) ??
    'aws'
  );
}

/** The console origin differs per partition; the commercial one is per region. */
function consoleOrigin(partition: string, region: string): string {
  if (partition === 'aws-cn') return 'https://console.amazonaws.cn';
  if (partition === 'aws-us-gov') return 'https://console.amazonaws-us-gov.com';
  return `https://${region}.console.aws.amazon.com`;
}

/**
 * A link to the task (watchdog) or the service's deployments (gate) in the ECS
 * console, or undefined when the context lacks the cluster or region to build one.
 */
export function consoleUrl(ctx: AlertContext): string | undefined {
  const region = regionOf(ctx);
  const cluster = clusterName(ctx);
  if (!region || !cluster) return undefined;
  const base = `${consoleOrigin(partitionOf(ctx), region)}/ecs/v2/clusters/${encodeURIComponent(cluster)}`;
  const taskId = shortName(ctx.taskArn);
  if (taskId) return `${base}/tasks/${encodeURIComponent(taskId)}/configuration?region=${region}`;
  const service = serviceName(ctx);
  if (service) return `${base}/services/${encodeURIComponent(service)}/deployments?region=${region}`;
  return `${base}?region=${region}`;
}

/** task/<cluster>/<id> and service-revision/<cluster>/<service>/<id> name their cluster. */
function clusterFromResource(arn: string | undefined): string | undefined {
  const segments = parseArn(arn)?.resource.split('/') ?? [];
  return segments.length >= 3 ? segments[1] : undefined;
}

function serviceFromRevision(arn: string | undefined): string | undefined {
  const segments = parseArn(arn)?.resource.split('/') ?? [];
  return segments[0] === 'service-revision' && segments.length >= 4 ? segments[2] : undefined;
}

/** The cluster's short name, wherever the context carries it. */
export function clusterName(ctx: AlertContext): string | undefined {
  return shortName(ctx.cluster) ?? clusterFromResource(ctx.taskArn ?? ctx.serviceRevisionArn);
}

export function serviceName(ctx: AlertContext): string | undefined {
  return shortName(ctx.service) ?? serviceFromRevision(ctx.serviceRevisionArn);
}

/** Where an alert is about, as both the SNS record and the decision event carry it. */
export interface AlertWhere {
  source: AlertContext['source'];
  mode: AlertContext['mode'];
  action: AlertContext['action'];
  region: string | null;
  cluster: string | null;
  service: string | null;
  taskArn: string | null;
  serviceRevisionArn: string | null;
  consoleUrl: string | null;
}

export function alertWhere(ctx: AlertContext): AlertWhere {
  return {
    source: ctx.source,
    mode: ctx.mode,
    action: ctx.action,
    region: regionOf(ctx) ?? null,
    cluster: clusterName(ctx) ?? null,
    service: serviceName(ctx) ?? null,
    taskArn: ctx.taskArn ?? null,
    serviceRevisionArn: ctx.serviceRevisionArn ?? null,
    consoleUrl: consoleUrl(ctx) ?? null,
  };
}
