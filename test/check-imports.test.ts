/**
 * scripts/check-imports.mjs, which npm test runs: src/ has no import cycle between files
 * or folders. Checked on small trees made here, so a checker that stopped seeing cycles
 * would fail this test rather than pass every tree.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(process.cwd(), 'scripts/check-imports.mjs');

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'imports-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, 'src', path)), { recursive: true });
    writeFileSync(join(root, 'src', path), text);
  }
  return root;
}

const run = (root: string) => spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });

describe('check-imports', () => {
  it('passes this repository', () => {
    expect(execFileSync(process.execPath, [SCRIPT], { encoding: 'utf8' })).toMatch(/no import cycle/);
  });

  it('passes imports that point one way', () => {
    const root = tree({
      'gate/decide.ts': "import { x } from '../core/a.js';\n",
      'core/a.ts': 'export const x = 1;\n',
    });
    expect(run(root).status).toBe(0);
  });

  it('finds a cycle between two files, type-only imports included', () => {
    const root = tree({
      'core/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'core/b.ts': "import { a } from './a.js';\nexport type B = 1;\n",
    });
    const result = run(root);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/file cycle: src\/core\/(a|b)\.ts <-> src\/core\/(a|b)\.ts/);
  });

  it('finds a cycle between folders even when no file cycle exists', () => {
    const root = tree({
      'policy/schema.ts': "export { check } from '../verify/check.js';\n",
      'verify/check.ts': 'export const check = 1;\n',
      'verify/factory.ts': "import type { X } from '../policy/types.js';\nexport type F = X;\n",
      'policy/types.ts': 'export type X = 1;\n',
    });
    const result = run(root);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/folder cycle: src\/(policy|verify) <-> src\/(policy|verify)/);
  });
});
