#!/usr/bin/env node
// Merge Stryker reports (mutation-testing-report-schema) into one, so that a run over all
// groups can start from the groups' incremental files instead of testing every mutant again.
//
//   node scripts/mutation-merge.mjs OUT.json IN.json...
//
// Test ids are local to a report (mutants name them in coveredBy / killedBy), so tests are
// matched across reports by file and name and given new ids. Where a source file is in
// several reports, the newest report's mutants win.
import { readFileSync, statSync, writeFileSync } from 'node:fs';

const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) {
  console.error('usage: mutation-merge.mjs OUT.json IN.json...');
  process.exit(2);
}
const reports = inputs
  .map((path) => ({ path, mtime: statSync(path).mtimeMs }))
  .sort((a, b) => a.mtime - b.mtime)
  .map(({ path }) => JSON.parse(readFileSync(path, 'utf8')));

const testIds = new Map(); // `${file}\0${name}` → new id
const testFiles = {};
const idFor = (file, test) => {
  const key = `${file}\0${test.name}`;
  if (!testIds.has(key)) {
    testIds.set(key, String(testIds.size));
    testFiles[file] ??= { source: undefined, tests: [] };
    testFiles[file].tests.push({ ...test, id: testIds.get(key) });
  }
  return testIds.get(key);
};

const files = {};
for (const report of reports) {
  const renumber = new Map();
  for (const [file, { tests, source }] of Object.entries(report.testFiles ?? {})) {
    for (const test of tests) renumber.set(test.id, idFor(file, test));
    if (source !== undefined) testFiles[file].source = source;
  }
  const mapIds = (ids) => ids?.map((id) => renumber.get(id)).filter((id) => id !== undefined);
  for (const [file, entry] of Object.entries(report.files)) {
    files[file] = {
      ...entry,
      mutants: entry.mutants.map((m) => ({ ...m, coveredBy: mapIds(m.coveredBy), killedBy: mapIds(m.killedBy) })),
    };
  }
}

const newest = reports.at(-1);
writeFileSync(out, JSON.stringify({ ...newest, files, testFiles }));
console.log(`${out}: ${Object.keys(files).length} files, ${testIds.size} tests from ${reports.length} reports`);
