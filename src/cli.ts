/**
 * ecs-image-gate command line: the executable entry (dist/cli.js). The commands live
 * in src/cli/; this file only wires the process to them.
 *
 * Exit: the code goes to process.exitCode, and the process ends only once everything
 * written to stdout has been handed to the operating system. Calling process.exit()
 * right after the last write loses lines when stdout is a pipe with a slow reader
 * (`verify --json … | wc -l`).
 */
import { main } from './cli/main.js';

export { main, UsageError, USAGE } from './cli/main.js';

const invokedDirectly = process.argv[1] && /(?:^|[/\\])(?:cli\.(?:ts|js|mjs)|ecs-image-gate)$/.test(process.argv[1]);
if (invokedDirectly) {
  // stdout carries only the answer (a table, JSON lines, the handler's answer) so it can
  // be piped; the handlers' structured log lines go to stderr.
  const stdout = process.stdout;
  const stdoutWrite = stdout.write.bind(stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const out = (line: string) => void stdoutWrite(`${line}\n`);
  const finish = (code: number) => {
    process.exitCode = code;
    // The callback of this last (empty) write runs after every earlier write was flushed;
    // only then may lingering handles (keep-alive sockets) be cut short.
    stdoutWrite('', () => process.exit());
  };
  main(process.argv.slice(2), {
    out,
    err: (l) => console.error(l),
    env: process.env,
    tty: Boolean(process.stderr.isTTY),
  }).then(finish, (e) => {
    console.error(`ecs-image-gate: internal error: ${(e as Error).stack ?? String(e)}`);
    finish(2);
  });
}
