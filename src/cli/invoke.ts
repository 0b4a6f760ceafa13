/**
 * ecs-image-gate invoke hook|task EVENT.json [--timeout S]: `sam local invoke` without
 * Docker. The real handler, configured from the same environment variables as the
 * Lambda, with a Lambda-like context whose remaining time is the timeout; prints the
 * handler's JSON answer. Exit 0 when the handler returned, 1 when it threw.
 */
import { readFileSync } from 'node:fs';
import { makeLifecycleHook } from '../handlers/lifecycle-hook.js';
import { makeTaskStateChange } from '../handlers/task-state-change.js';
import { Runtime } from '../gate/runtime.js';
import { parseOptions, TIMEOUT_OPTION, timeoutSeconds, UsageError, type ExitCode, type Io } from './args.js';

export async function invoke(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseOptions(args, { ...TIMEOUT_OPTION });
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
  // configured from the process environment, exactly as the Lambda is (its container's Runtime)
  const runtime = new Runtime(process.env);
  const end = Date.now() + timeoutSeconds(values.timeout, runtime.config.invokeTimeoutSeconds) * 1000;
  const context = { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()) };
  try {
    const answer =
      kind === 'hook'
        ? await makeLifecycleHook(runtime)(event, context)
        : await makeTaskStateChange(runtime)(event, context);
    io.out(JSON.stringify(answer));
    return 0;
  } catch (e) {
    io.err(`ecs-image-gate: the ${kind} handler threw: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}
