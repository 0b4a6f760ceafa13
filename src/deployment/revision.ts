/**
 * The service revision the hook was asked about, read from ECS: exactly that ARN, and
 * only an answer of the documented shape. Whatever else ECS (or something standing in
 * for it) sends is a RevisionError with a sentence, never a guess: verifying another
 * revision than the one being deployed would admit what it did not check.
 */
import {
  DescribeServiceRevisionsCommand,
  type DescribeServiceRevisionsCommandOutput,
  type ECSClient,
} from '@aws-sdk/client-ecs';
import { z } from 'zod';
import { sendBounded } from './ecs-call.js';

export interface RevisionContainer {
  container: string;
  image: string;
  /** the digest ECS established; null before ECS has one (or never, with versionConsistency disabled) */
  digest: string | null;
}

export interface ServiceRevision {
  arn: string;
  /** the task definition ARN the revision runs (its containers' versionConsistency lives there) */
  taskDefinition?: string;
  containers: RevisionContainer[];
}

/**
 * The revision cannot be used. `transient` when the answer looks like ECS has not caught
 * up with itself yet (the revision it just named is reported MISSING, or nothing at all
 * comes back): worth asking again later. Anything else will not mend by waiting.
 */
export class RevisionError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'RevisionError';
  }
}

const answerSchema = z.object({
  serviceRevisions: z.array(z.unknown()).nullish(),
  failures: z
    .array(z.object({ arn: z.string().nullish(), reason: z.string().nullish(), detail: z.string().nullish() }))
    .nullish(),
});

const revisionSchema = z.object({
  serviceRevisionArn: z.string(),
  taskDefinition: z.string().nullish(),
  containerImages: z
    .array(
      z.object({
        containerName: z.string().nullish(),
        image: z.string({ required_error: 'missing: a container without an image' }).min(1, 'empty'),
        imageDigest: z.string().nullish(),
      }),
    )
    .min(1, 'empty: the revision lists no container images'),
});

export async function describeRevision(
  revisionArn: string,
  ecs: ECSClient,
  abortSignal: AbortSignal,
): Promise<ServiceRevision> {
  const command = new DescribeServiceRevisionsCommand({ serviceRevisionArns: [revisionArn] });
  const out: DescribeServiceRevisionsCommandOutput = await sendBounded(
    'DescribeServiceRevisions',
    abortSignal,
    (signal) => ecs.send(command, { abortSignal: signal }),
  );
  const answer = answerSchema.safeParse(out ?? {});
  if (!answer.success)
    throw new RevisionError(
      `ecs:DescribeServiceRevisions answered in an unexpected shape: ${issues(answer.error)}`,
      false,
    );
  const revisions = answer.data.serviceRevisions ?? [];
  const index = revisions.findIndex((r) => isRecord(r) && r.serviceRevisionArn === revisionArn);
  if (index < 0) throw notFound(revisionArn, revisions, answer.data.failures ?? []);
  const revision = revisionSchema.safeParse(revisions[index]);
  if (!revision.success) {
    throw new RevisionError(
      `service revision ${revisionArn} cannot be read: ${issues(revision.error, `serviceRevisions[${index}]`)}`,
      false,
    );
  }
  return {
    arn: revisionArn,
    ...(revision.data.taskDefinition ? { taskDefinition: revision.data.taskDefinition } : {}),
    containers: revision.data.containerImages.map((c, i) => ({
      container: c.containerName || `container-${i}`,
      image: c.image,
      digest: c.imageDigest || null,
    })),
  };
}

type Failure = { arn?: string | null; reason?: string | null; detail?: string | null };

function notFound(revisionArn: string, revisions: unknown[], failures: Failure[]): RevisionError {
  const ours = failures.filter((f) => f.arn === revisionArn);
  const said = ours.map((f) => `${f.reason ?? 'failure'}${f.detail ? ` (${f.detail})` : ''}`).join('; ');
  if (ours.some((f) => f.reason === 'MISSING') || (!revisions.length && !failures.length)) {
    return new RevisionError(
      `ECS does not find service revision ${revisionArn} yet (${said || 'an empty answer'})`,
      true,
    );
  }
  if (ours.length) return new RevisionError(`ECS cannot describe service revision ${revisionArn}: ${said}`, false);
  const others = revisions.map((r) =>
    isRecord(r) && typeof r.serviceRevisionArn === 'string' ? r.serviceRevisionArn : '(unnamed)',
  );
  const otherFailures = failures.map((f) => f.arn ?? '(unnamed)');
  const got = [...others, ...otherFailures].slice(0, 3).join(', ');
  return new RevisionError(
    `ecs:DescribeServiceRevisions was asked for ${revisionArn} and answered about another (${got}); nothing else is verified in its place`,
    false,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** "serviceRevisions[0].containerImages: expected array, received string" */
function issues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 3)
    .map((i) => {
      const where =
        [prefix, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))].join('').replace(/^\./, '') ||
        'the answer';
      return `${where}: ${i.message.charAt(0).toLowerCase()}${i.message.slice(1)}`;
    })
    .join('; ');
}
