/**
 * The executable itself, as scripts use it: every line reaches a pipe whose reader is
 * slow, and the exit code is the contract's. Runs src/cli.ts in a child process (tsx).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'cli-exit-'));
const digest = (i: number) => `sha256:${createHash('sha256').update(String(i)).digest('hex')}`;
const images = Array.from({ length: 1000 }, (_, i) => `registry.example.com/app/svc-${i % 10}@${digest(i)}`);

/** Runs the CLI with stdout read in small bites with pauses between them. */
function runSlowReader(args: string[]): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join('node_modules', '.bin', 'tsx'), ['src/cli.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_REGION: 'us-east-1' },
    });
    let out = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 3);
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines: out.split('\n').filter(Boolean), stderr }));
  });
}

describe('the ecs-image-gate executable', () => {
  it('verify --json writes all 1,000 decisions to a slow pipe, then exits 0', async () => {
    const policy = join(dir, 'allow.yaml');
    writeFileSync(policy, 'version: 1\nunmatched: allow\n');
    const r = await runSlowReader(['verify', '--json', '--policy', policy, ...images]);
    expect(r.stderr).toBe('');
    expect(r.lines).toHaveLength(1000);
    expect(r.lines.map((l) => JSON.parse(l).digest)).toEqual(images.map((i) => i.split('@')[1]));
    expect(r.code).toBe(0);
  }, 60_000);

  it('exits 1 when something is denied and 2 on a usage error, after writing everything', async () => {
    const policy = join(dir, 'deny.yaml');
    writeFileSync(policy, 'version: 1\nunmatched: deny\n');
    const denied = await runSlowReader(['verify', '--json', '--policy', policy, ...images]);
    expect(denied.lines).toHaveLength(1000);
    expect(denied.lines.every((l) => JSON.parse(l).reason === 'NO_MATCHING_RULE')).toBe(true);
    expect(denied.code).toBe(1);
    const usage = await runSlowReader(['verify', '--timeout', 'soon', images[0]!]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--timeout needs a number of seconds');
  }, 60_000);

  it('--help documents --timeout and the deadline variables', async () => {
    const r = await runSlowReader(['--help']);
    expect(r.code).toBe(0);
    const help = r.lines.join('\n');
    for (const text of [
      '--timeout S',
      'VERIFY_TIMEOUT_SECONDS',
      'INVOKE_TIMEOUT_SECONDS',
      'audit',
      'attach|detach',
      'status',
      'mode enforce|audit',
      'test POLICY CASES',
    ]) {
      expect(help).toContain(text);
    }
  }, 30_000);
});
