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
    ).rejects.toMatchObject({ reason: 'TIMEOUT' });
  });

  it('a binary that does not exist is an INTERNAL_ERROR', async () => {
    await expect(
      createNotationCliVerifier(join(dir, 'missing')).verify(context(new MemoryRepo(), TARGET)),
    ).rejects.toMatchObject({ reason: 'INTERNAL_ERROR' });
  });
});
