/**
 * Is ECS rolling this deployment back? ECS re-runs the traffic-shift hooks when it
 * rolls back, and failing a rollback can only leave the service worse off, so a
 * confirmed rollback is answered SUCCEEDED without verifying. "Confirmed" means ECS
 * says so about this very deployment (the event's resourceArn) through
 * DescribeServiceDeployments:
 *
 *   - its status is ROLLBACK_REQUESTED or ROLLBACK_IN_PROGRESS, or
 *   - its `rollback` names the event's target revision as the one the rollback deploys.
 *
 * Anything else (another status, another deployment in the answer, an odd shape, the
 * call failing or running out of time) is "not confirmed", and the call is verified
 * like any other: a false "rollback" would skip verification, a missed one only
 * verifies a revision that was admitted before.
 */
import {
  DescribeServiceDeploymentsCommand,
  type DescribeServiceDeploymentsCommandOutput,
  type ECSClient,
} from '@aws-sdk/client-ecs';
import { z } from 'zod';
import { sendBounded } from './ecs-call.js';
import type { HookEvent } from './hook-event.js';

export interface RollbackCheck {
  rollback: boolean;
  /** one sentence for the log line */
  why: string;
}

const ROLLING_BACK: ReadonlySet<string> = new Set(['ROLLBACK_REQUESTED', 'ROLLBACK_IN_PROGRESS']);
const SERVICE_DEPLOYMENT_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service-deployment\/[^/]+\/[^/]+\/\S+$/;

const deploymentSchema = z.object({
  serviceDeploymentArn: z.string(),
  status: z.string().nullish(),
  rollback: z.object({ reason: z.string().nullish(), serviceRevisionArn: z.string().nullish() }).nullish(),
});

export async function checkRollback(
  event: HookEvent,
  ecs: ECSClient,
  abortSignal: AbortSignal,
): Promise<RollbackCheck> {
  const arn = event.resourceArn;
  if (!arn || !SERVICE_DEPLOYMENT_ARN.test(arn))
    return { rollback: false, why: 'the event names no service deployment (resourceArn) to ask about' };
  let out: DescribeServiceDeploymentsCommandOutput;
  try {
    const command = new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] });
    out = await sendBounded('DescribeServiceDeployments', abortSignal, (signal) =>
      ecs.send(command, { abortSignal: signal }),
    );
  } catch (e) {
    return { rollback: false, why: `ecs:DescribeServiceDeployments failed: ${(e as Error).message}` };
  }
  const listed: unknown[] = Array.isArray(out?.serviceDeployments) ? out.serviceDeployments : [];
  const found = listed
    .map((d) => deploymentSchema.safeParse(d))
    .find((d) => d.success && d.data.serviceDeploymentArn === arn);
  if (!found?.success) return { rollback: false, why: `ECS did not describe service deployment ${arn}` };
  const { status, rollback } = found.data;
  const reason = rollback?.reason ? ` (${rollback.reason})` : '';
  if (status && ROLLING_BACK.has(status))
    return { rollback: true, why: `service deployment ${arn} is ${status}${reason}` };
  if (rollback?.serviceRevisionArn && rollback.serviceRevisionArn === event.targetServiceRevisionArn) {
    return {
      rollback: true,
      why: `service deployment ${arn} is rolling back to ${rollback.serviceRevisionArn}${reason}`,
    };
  }
  return { rollback: false, why: `service deployment ${arn} is ${status ?? 'of unknown status'}, not rolling back` };
}
