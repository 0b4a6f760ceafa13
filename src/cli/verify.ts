/**
 * ecs-image-gate verify [--policy FILE] [--json | --explain] [--timeout S] IMAGE…
 * Exit 0 when every image is allowed, 1 when any is denied (audit mode included: the
 * command reports, the mode only matters to a running workload), 2 on a usage or
 * policy error. --explain prints, under each decision, one line per piece of evidence:
 * what verified it (a signature, each attestation and the bundle it came from), or why
 * not (each unmet attestation, the bundle and the condition that failed).
 */
import { decisionLine } from '../core/decision.js';
import { parseOptions, TIMEOUT_OPTION, timeoutSeconds, UsageError, type ExitCode, type Io } from './args.js';
import { decideImages, runtimeFor } from './gate.js';
import { explainLines } from './output.js';

export async function verify(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseOptions(args, {
    policy: { type: 'string' },
    json: { type: 'boolean' },
    explain: { type: 'boolean' },
    ...TIMEOUT_OPTION,
  });
  if (!positionals.length) throw new UsageError('verify needs at least one IMAGE');
  const runtime = runtimeFor(io, values.policy);
  const deadline = Date.now() + timeoutSeconds(values.timeout, runtime.config.verifyTimeoutSeconds) * 1000;
  const gate = await runtime.gate();
  const decisions = await decideImages(positionals, gate, deadline);
  if (values.json && values.explain)
    throw new UsageError('--json already carries the evidence (verifiedBy, detail): use --json or --explain');
  for (const d of decisions) {
    io.out(values.json ? JSON.stringify(d) : decisionLine(d).replace(/^image-\d+: /, ''));
    if (values.explain) for (const line of explainLines(d)) io.out(line);
  }
  return decisions.some((d) => d.decision === 'deny') ? 1 : 0;
}
