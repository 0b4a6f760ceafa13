#!/usr/bin/env node
// npm run fault-table: rerun the fault matrix (test/faults-matrix.test.ts) and write the
// table it measured into README.md between the fault-table markers, then print it. The
// same test fails in `npm test` when the README's outcomes differ from a run's.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
execFileSync('npx', ['vitest', 'run', 'test/faults-matrix.test.ts'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, FAULT_TABLE_UPDATE: '1' },
});
const table = readFileSync('test/.output/fault-table.md', 'utf8');
const readme = readFileSync('README.md', 'utf8');
const markers = /(<!-- fault-table:begin -->\n)[\s\S]*?(<!-- fault-table:end -->)/;
if (!markers.test(readme)) {
  console.error('README.md has no <!-- fault-table:begin --> … <!-- fault-table:end --> block');
  process.exit(1);
}
writeFileSync(
  'README.md',
  readme.replace(markers, (_, begin, end) => `${begin}${table}${end}`),
);
process.stdout.write(table);
