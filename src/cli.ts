/**
 * ecs-image-gate command line (DESIGN.md "Command line").
 *
 *   ecs-image-gate verify [--policy FILE] [--json] IMAGE…
 *   ecs-image-gate invoke hook|task EVENT.json
 *
 * verify exits 0 when every image is allowed, 1 when any is denied (audit mode
 * included: the command reports, the mode only matters to a running workload), 2 on a
 * usage or policy error. invoke runs the real Lambda handler on an event, configured
 * from the same environment variables as the Lambda, and prints its JSON answer.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { lifecycleHook } from './handlers/lifecycle-hook.js';
import { taskStateChange } from './handlers/task-state-change.js';
import { decide, type ImageInput } from './policy/decide.js';
import { decisionLine, type Decision } from './policy/decision.js';
import { PolicyError } from './policy/load.js';
import { parseReference, ReferenceError } from './registry/reference.js';
import { getGate } from './runtime.js';

const USAGE = `usage:
  ecs-image-gate verify [--policy FILE] [--json] IMAGE…   IMAGE: host/repo@sha256:… or host/repo:tag
  ecs-image-gate invoke hook|task EVENT.json              run a handler on an event, print its answer

Without --policy the configuration comes from the environment, as in the Lambda
(POLICY, POLICY_FILE, POLICY_PARAMETER, COSIGN_KEY_PEM, ...; see README).`;

export class UsageError extends Error {}

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'verify') return await verify(rest, io);
    if (command === 'invoke') return await invoke(rest, io);
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(USAGE);
      return 0;
    }
    throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  } catch (e) {
    if (e instanceof UsageError || e instanceof PolicyError || e instanceof ReferenceError) {
      io.err(`ecs-image-gate: ${e.message}`);
      if (e instanceof UsageError) io.err(USAGE);
      return 2;
    }
    throw e;
  }
}

async function verify(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseOptions(args, { policy: { type: 'string' }, json: { type: 'boolean' } });
  if (!positionals.length) throw new UsageError('verify needs at least one IMAGE');
  if (values.policy) {
    // --policy stands in for the environment's document sources
    for (const name of ['POLICY', 'POLICY_PARAMETER']) delete io.env[name];
    io.env.POLICY_FILE = String(values.policy);
  }
  const gate = await getGate({ env: io.env });
  const deadline = Date.now() + seconds(io.env.VERIFY_TIMEOUT_SECONDS, 60) * 1000;
  const images = await Promise.all(positionals.map((image, i) => cliImage(image, i, gate, deadline)));
  const decisions = await decide(images, gate, { deadline });
  if (values.json) decisions.forEach((d) => io.out(JSON.stringify(d)));
  else printTable(decisions, io);
  return decisions.some((d) => d.decision === 'deny') ? 1 : 0;
}

/**
 * On the command line a tag is resolved to the digest the registry serves now, as
 * `cosign verify` does; the handlers never do this (ECS tells them the digest).
 */
async function cliImage(image: string, index: number, gate: Awaited<ReturnType<typeof getGate>>, deadline: number): Promise<ImageInput> {
  const ref = parseReference(image);
  const container = `image-${index + 1}`;
  if (ref.digest || !ref.tag) return { container, image };
  try {
    const repo = gate.registry.repository(ref.registry, ref.repository);
    const digest = await repo.resolveTag(ref.tag, AbortSignal.timeout(Math.max(1, deadline - Date.now())));
    return { container, image, digest };
  } catch {
    // left without digest: decide() reports DIGEST_MISSING (or the allow-list admits it)
    return { container, image };
  }
}

function printTable(decisions: Decision[], io: Io): void {
  for (const d of decisions) io.out(decisionLine(d).replace(/^image-\d+: /, ''));
}

async function invoke(args: string[], io: Io): Promise<number> {
  const { positionals } = parseOptions(args, {});
  const [kind, file] = positionals;
  if ((kind !== 'hook' && kind !== 'task') || !file || positionals.length > 2) {
    throw new UsageError('invoke needs "hook" or "task" and one EVENT.json');
  }
  let event: unknown;
  try {
    event = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const budgetMs = seconds(io.env.INVOKE_TIMEOUT_SECONDS, 60) * 1000;
  const end = Date.now() + budgetMs;
  const context = { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
  try {
    const answer = kind === 'hook' ? await lifecycleHook(event, context) : await taskStateChange(event, context);
    io.out(JSON.stringify(answer));
    return 0;
  } catch (e) {
    io.err(`ecs-image-gate: the ${kind} handler threw: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;

function parseOptions(args: string[], options: OptionSpec) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function seconds(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value && Number.isFinite(n) && n > 0 ? n : fallback;
}

const invokedDirectly = process.argv[1] && /(?:^|[/\\])(?:cli\.(?:ts|js|mjs)|ecs-image-gate)$/.test(process.argv[1]);
if (invokedDirectly) {
  // stdout carries only the answer (a table, JSON lines, the handler's answer) so it can
  // be piped; the handlers' structured log lines go to stderr.
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const out = (line: string) => void stdoutWrite(`${line}\n`);
  main(process.argv.slice(2), { out, err: (l) => console.error(l), env: process.env }).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`ecs-image-gate: internal error: ${(e as Error).stack ?? String(e)}`);
      process.exit(2);
    },
  );
}
