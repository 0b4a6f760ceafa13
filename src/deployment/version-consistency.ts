/**
 * Which containers of a revision ECS will never pin to a digest: those whose container
 * definition sets `versionConsistency: disabled`. ECS then pulls the tag at every task
 * start, so no digest checked now binds what runs later; those containers stay
 * DIGEST_MISSING unless the policy opts into `resolveTags`. Every other container
 * without a digest is waiting for ECS to establish one, and the gate resolves its tag.
 *
 * One DescribeTaskDefinition per invocation, bounded by the decision deadline. When it
 * fails, the answer is "unknown" with the reason: the caller resolves the tags as if
 * consistency were enabled and says so in the decision, rather than fail every
 * tag-based deployment on an ECS hiccup or a missing permission.
 */
import {
  DescribeTaskDefinitionCommand,
  type DescribeTaskDefinitionCommandOutput,
  type ECSClient,
} from '@aws-sdk/client-ecs';
import { z } from 'zod';
import { sendBounded } from './ecs-call.js';

export type Consistency = { known: true; disabled: ReadonlySet<string> } | { known: false; why: string };

const answerSchema = z.object({
  taskDefinition: z.object({
    containerDefinitions: z.array(z.object({ name: z.string(), versionConsistency: z.string().nullish() })),
  }),
});

export async function versionConsistency(
  taskDefinition: string | undefined,
  ecs: ECSClient,
  abortSignal: AbortSignal,
): Promise<Consistency> {
  if (!taskDefinition) return { known: false, why: 'the service revision names no task definition' };
  let out: DescribeTaskDefinitionCommandOutput;
  try {
    const command = new DescribeTaskDefinitionCommand({ taskDefinition });
    out = await sendBounded('DescribeTaskDefinition', abortSignal, (signal) =>
      ecs.send(command, { abortSignal: signal }),
    );
  } catch (e) {
    return { known: false, why: `ecs:DescribeTaskDefinition ${taskDefinition} failed: ${(e as Error).message}` };
  }
  const answer = answerSchema.safeParse(out);
  if (!answer.success)
    return {
      known: false,
      why: `ecs:DescribeTaskDefinition ${taskDefinition} answered without readable container definitions`,
    };
  const disabled = answer.data.taskDefinition.containerDefinitions
    .filter((c) => c.versionConsistency === 'disabled')
    .map((c) => c.name);
  return { known: true, disabled: new Set(disabled) };
}
