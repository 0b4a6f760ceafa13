/**
 * What ECS answers, read before it is used. The SDK types promise a shape, but nothing
 * checks it at run time: a proxy, a stand-in endpoint or a future API change can hand
 * back `tasks: "x"` or containers without names, and code that trusts the type fails
 * with a TypeError stack. Here an answer either has the shape we use or becomes one
 * sentence that a log line and a decision can carry.
 */
import { z } from 'zod';

const MAX_SENTENCE = 300;

const container = z.object({
  name: z.string().min(1),
  image: z.string().optional(),
  imageDigest: z.string().optional(),
});

const describeTasks = z.object({
  tasks: z.array(z.object({ taskArn: z.string().optional(), containers: z.array(container).optional() })).optional(),
});

const deployment = z.object({ id: z.string().optional(), taskDefinition: z.string().optional() });

const describeServices = z.object({
  services: z
    .array(
      z.object({
        serviceName: z.string().optional(),
        status: z.string().optional(),
        deployments: z.array(deployment).optional(),
        taskSets: z.array(deployment).optional(),
      }),
    )
    .optional(),
});

export type DescribedContainer = z.infer<typeof container>;
export type DescribedService = NonNullable<z.infer<typeof describeServices>['services']>[number];

export type Read<T> = { ok: true; value: T } | { ok: false; why: string };

/** The containers DescribeTasks reports for one task (none when it does not list the task). */
export function readDescribeTasks(answer: unknown, taskArn: string): Read<DescribedContainer[]> {
  const parsed = describeTasks.safeParse(answer);
  if (!parsed.success) return { ok: false, why: shapeSentence('ecs:DescribeTasks', parsed.error) };
  const task = parsed.data.tasks?.find((t) => t.taskArn === taskArn);
  return { ok: true, value: task?.containers ?? [] };
}

/** The named service as DescribeServices reports it, or undefined when it is not listed. */
export function readDescribeServices(answer: unknown, serviceName: string): Read<DescribedService | undefined> {
  const parsed = describeServices.safeParse(answer);
  if (!parsed.success) return { ok: false, why: shapeSentence('ecs:DescribeServices', parsed.error) };
  return { ok: true, value: parsed.data.services?.find((s) => s.serviceName === serviceName) };
}

/** "ecs:DescribeTasks answered in a shape it does not have (tasks: expected array, received string)" */
function shapeSentence(call: string, error: z.ZodError): string {
  const issues = error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`);
  const more = error.issues.length > 3 ? `; +${error.issues.length - 3} more` : '';
  return printable(`${call} answered in a shape it does not have (${issues.join('; ')}${more})`);
}

/** Any thrown value in one printable line: "ThrottlingException: Rate exceeded". */
export function errorSentence(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : `non-error thrown: ${String(error)}`;
  return printable(text.split('\n')[0]!);
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > MAX_SENTENCE ? `${clean.slice(0, MAX_SENTENCE - 3)}...` : clean;
}
