/**
 * What every command shares: the I/O it writes to, the exit codes of the contract,
 * option parsing that turns a typo into a usage error, and the deadline option.
 */
import { parseArgs } from 'node:util';

/** 0 success, 1 a finding (a deny, a mismatch, a refusal), 2 usage or configuration error. */
export type ExitCode = 0 | 1 | 2;

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** true when stderr is a terminal: progress bars go there, never into a pipe */
  tty?: boolean;
}

/** A mistake on the command line or in the configuration: exit 2 with what to fix. */
export class UsageError extends Error {}

/** The environment refused (AWS denied or kept throttling a call): exit 2, without the usage text. */
export class EnvironmentError extends Error {}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

export function parseOptions<T extends OptionSpec>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export const TIMEOUT_OPTION = { timeout: { type: 'string' } } as const;

/**
 * The deadline of a command, in seconds: --timeout, else the environment variable
 * (VERIFY_TIMEOUT_SECONDS, INVOKE_TIMEOUT_SECONDS), else `fallback`.
 */
/** --timeout, else `fallback` (the command's default, e.g. Config.verifyTimeoutSeconds). */
export function timeoutSeconds(option: unknown, fallback: number): number {
  if (option === undefined) return fallback;
  const n = Number(option);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--timeout needs a number of seconds above 0, not "${String(option)}"`);
  return n;
}

/** "a,b , c" → ["a","b","c"] */
export function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
