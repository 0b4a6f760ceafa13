/**
 * NOTATION_PATH: delegate Notation verification to an installed notation binary (for
 * example from a user's Lambda layer, with its own trust policy, trust store and
 * plugins), as the AWS Signer admission controller does. Exit code 0 is a pass; any
 * other exit, a timeout or a spawn failure is never an allow.
 */
import { execFile } from 'node:child_process';
import type { VerifierVerdict, Verifier, VerifyContext } from '../../core/verifier.js';
import { VerifierError } from '../../core/verifier.js';

export interface NotationCliOptions {
  /** kill the process after this long (default 20 s) */
  timeoutMs?: number;
  /** extra environment (e.g. NOTATION_CONFIG, XDG_CONFIG_HOME for the trust policy) */
  env?: NodeJS.ProcessEnv;
  /** stdout/stderr kept for the detail, at most */
  maxOutputBytes?: number;
}

export class NotationCliVerifier implements Verifier {
  readonly description: string;

  constructor(
    private readonly notationPath: string,
    private readonly opts: NotationCliOptions = {},
  ) {
    this.description = `notation binary ${notationPath}`;
  }

  async verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    const reference = `${ctx.target.ref.registry}/${ctx.target.ref.repository}@${ctx.target.digest}`;
    const result = await this.run(['verify', reference], ctx.signal);
    const output = lastLine(result.stderr) || lastLine(result.stdout);
    if (result.code === 0)
      return { ok: true, by: `notation binary (${this.notationPath})`, ...(output ? { detail: output } : {}) };
    if (result.timedOut)
      throw new VerifierError(
        'TIMEOUT',
        `notation verify ${reference} did not finish within ${this.timeoutMs} ms`,
        true,
      );
    if (result.code === null)
      throw new VerifierError('INTERNAL_ERROR', `notation verify ${reference} could not run: ${output || 'killed'}`);
    // notation exits 1 for every failure; its message says which. A missing signature
    // is told apart so the decision reads right; everything else is an invalid or untrusted signature.
    const missing = /no signature is associated|signature.*not found|no signatures/i.test(output);
    return {
      ok: false,
      reason: missing ? 'SIGNATURE_MISSING' : 'SIGNATURE_INVALID',
      detail: `notation verify exited ${result.code}: ${output || '(no output)'}`,
    };
  }

  private get timeoutMs(): number {
    return this.opts.timeoutMs ?? 20_000;
  }

  private run(
    args: string[],
    signal: AbortSignal,
  ): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      execFile(
        this.notationPath,
        args,
        {
          timeout: this.timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: this.opts.maxOutputBytes ?? 1024 * 1024,
          signal,
          env: { ...process.env, ...this.opts.env },
        },
        (error, stdout, stderr) => {
          if (!error) {
            // Stryker disable next-line BooleanLiteral: exit code 0 is an allow before timedOut is read
            return resolve({ code: 0, stdout, stderr, timedOut: false });
          }
          const e = error as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
          // node kills the process on the timeout, an abort or output past maxBuffer, but only
          // the timeout's error says killed (the others are an AbortError and a RangeError)
          const timedOut = e.killed === true;
          const code = typeof e.code === 'number' ? e.code : null;
          resolve({ code, stdout, stderr: stderr || (code === null ? e.message : ''), timedOut });
        },
      );
    });
  }
}

function lastLine(s: string): string {
  // split gives at least one element
  return s.trim().split('\n').pop()!.trim();
}

export function createNotationCliVerifier(notationPath: string, opts: NotationCliOptions = {}): Verifier {
  return new NotationCliVerifier(notationPath, opts);
}
