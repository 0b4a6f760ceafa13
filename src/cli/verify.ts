/**
 * ecs-image-gate verify [--policy FILE] [--json] [--timeout S] IMAGE…
 * Exit 0 when every image is allowed, 1 when any is denied (audit mode included: the
 * command reports, the mode only matters to a running workload), 2 on a usage or
 * policy error.
 */
import { decisionLine } from '../policy/decision.js';
import { parseOptions, TIMEOUT_OPTION, timeoutSeconds, UsageError, type ExitCode, type Io } from './args.js';
import { decideImages, runtimeFor } from './gate.js';

export async function verify(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseOptions(args, { policy: { type: 'string' }, json: { type: 'boolean' }, ...TIMEOUT_OPTION });
  if (!positionals.length) throw new UsageError('verify needs at least one IMAGE');
  const runtime = runtimeFor(io, values.policy);
  const deadline = Date.now() + timeoutSeconds(values.timeout, runtime.config.verifyTimeoutSeconds) * 1000;
  const gate = await runtime.gate();
  const decisions = await decideImages(positionals, gate, deadline);
  for (const d of decisions) io.out(values.json ? JSON.stringify(d) : decisionLine(d).replace(/^image-\d+: /, ''));
  return decisions.some((d) => d.decision === 'deny') ? 1 : 0;
}
