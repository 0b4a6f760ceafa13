/** NOTATION_PATH delegate: a fake notation executable checks the argument vector and exit-code mapping. */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNotationCliVerifier } from '../src/verify/notary/notation-cli.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { context } from './support/notation-context.js';

const dir = mkdtempSync(join(tmpdir(), 'fake-notation-'));
const TARGET = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'ab'.repeat(32)}`,
  size: 10,
};

function fake(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$@" > "${path}.args"\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('NOTATION_PATH delegate', () => {
  it('runs `notation verify <registry>/<repository>@<digest>` and maps exit 0 to ok', async () => {
    const bin = fake('ok', `echo "Successfully verified signature for $2"; exit 0`);
    const v = await createNotationCliVerifier(bin).verify(context(new MemoryRepo(), TARGET));
    expect(v).toMatchObject({
      ok: true,
      by: `notation binary (${bin})`,
      detail: expect.stringContaining('Successfully verified'),
    });
    expect(readFileSync(`${bin}.args`, 'utf8').trim().split('\n')).toEqual([
      'verify',
      `registry.example.com/team/app@${TARGET.digest}`,
    ]);
  });

  it('maps exit 1 to SIGNATURE_INVALID with notation’s message, and a missing signature to SIGNATURE_MISSING', async () => {
    const bad = fake(
      'bad',
      `echo "Error: signature verification failed: certificate chain is not trusted" >&2; exit 1`,
    );
    expect(await createNotationCliVerifier(bad).verify(context(new MemoryRepo(), TARGET))).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.stringContaining('not trusted'),
    });
    const none = fake(
      'none',
      `echo "Error: signature verification failed: no signature is associated with \\"x\\"" >&2; exit 1`,
    );
    expect(await createNotationCliVerifier(none).verify(context(new MemoryRepo(), TARGET))).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_MISSING',
    });
  });

  it('a process that runs past the timeout is killed and thrown as TIMEOUT, never an allow', async () => {
    const slow = fake('slow', 'sleep 5; exit 0');
    await expect(
      createNotationCliVerifier(slow, { timeoutMs: 200 }).verify(context(new MemoryRepo(), TARGET)),
    ).rejects.toMatchObject({
      reason: 'TIMEOUT',
      transient: true,
      message: `notation verify registry.example.com/team/app@${TARGET.digest} did not finish within 200 ms`,
    });
  });

  it('a binary that does not exist is an INTERNAL_ERROR', async () => {
    await expect(
      createNotationCliVerifier(join(dir, 'missing')).verify(context(new MemoryRepo(), TARGET)),
    ).rejects.toMatchObject({
      reason: 'INTERNAL_ERROR',
      message: `notation verify registry.example.com/team/app@${TARGET.digest} could not run: spawn ${join(dir, 'missing')} ENOENT`,
    });
  });

  it('an aborted verification stops the process and is never an allow (nor a TIMEOUT of its own)', async () => {
    const slow = fake('slow-abort', 'sleep 5; exit 0');
    const abort = new AbortController();
    const ctx = { ...context(new MemoryRepo(), TARGET), signal: abort.signal };
    const verdict = createNotationCliVerifier(slow).verify(ctx);
    abort.abort();
    await expect(verdict).rejects.toMatchObject({
      reason: 'INTERNAL_ERROR',
      message: expect.stringContaining('could not run: The operation was aborted'),
    });
  });

  it('a process killed by a signal (not by us) is an INTERNAL_ERROR, not a TIMEOUT', async () => {
    const killed = fake('killed', `echo " " >&2; kill -9 $$`);
    await expect(createNotationCliVerifier(killed).verify(context(new MemoryRepo(), TARGET))).rejects.toMatchObject({
      reason: 'INTERNAL_ERROR',
      message: `notation verify registry.example.com/team/app@${TARGET.digest} could not run: killed`,
    });
  });

  it('the detail is the last line of stderr, else of stdout, trimmed; no output says so', async () => {
    const verdict = async (body: string) =>
      createNotationCliVerifier(fake('out', body)).verify(context(new MemoryRepo(), TARGET));
    expect(await verdict(`printf 'Warning: x\n   Error: it failed   \n' >&2; echo ignored; exit 1`)).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: 'notation verify exited 1: Error: it failed',
    });
    expect(await verdict(`echo "Error: from stdout"; exit 1`)).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: 'notation verify exited 1: Error: from stdout',
    });
    expect(await verdict('exit 1')).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: 'notation verify exited 1: (no output)',
    });
    expect(await verdict('exit 3')).toMatchObject({ ok: false, detail: 'notation verify exited 3: (no output)' });
  });

  it('notation’s ways of saying there is no signature are SIGNATURE_MISSING', async () => {
    for (const [i, message] of [
      'Error: signature verification failed: no signature is associated with "x"',
      'Error: the signature of registry.example.com/team/app was not found',
      'Error: found no signatures for the artifact',
    ].entries()) {
      const bin = fake(`missing${i}`, `echo '${message}' >&2; exit 1`);
      expect(await createNotationCliVerifier(bin).verify(context(new MemoryRepo(), TARGET))).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_MISSING',
      });
    }
  });

  it('runs with this process’s environment plus the configured one', async () => {
    const bin = fake('env', 'echo "$NOTATION_TEST_VALUE $AWS_REGION"; exit 0');
    const v = await createNotationCliVerifier(bin, { env: { NOTATION_TEST_VALUE: 'configured' } }).verify(
      context(new MemoryRepo(), TARGET),
    );
    expect(v).toMatchObject({ ok: true, detail: `configured ${process.env.AWS_REGION}` });
  });

  it('output past the cap (default 1 MiB) stops the process: never an allow', async () => {
    const flood = fake('flood', `head -c 1100000 /dev/zero | tr '\\0' a; exit 0`);
    const failed = { reason: 'INTERNAL_ERROR', message: expect.stringContaining('maxBuffer length exceeded') };
    await expect(createNotationCliVerifier(flood).verify(context(new MemoryRepo(), TARGET))).rejects.toMatchObject(
      failed,
    );
    expect(
      await createNotationCliVerifier(flood, { maxOutputBytes: 2_000_000 }).verify(context(new MemoryRepo(), TARGET)),
    ).toMatchObject({ ok: true });
  });
});
