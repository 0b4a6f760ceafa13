#!/usr/bin/env node
// Mutation scores per file and per folder, from one or more Stryker JSON reports
// (scripts/mutate.sh keeps one per group in reports/mutation/groups/).
//
//   node scripts/mutation-summary.mjs reports/mutation/groups/*.json [--survivors]
//
// The score is Stryker's: (killed + timed out) / (killed + timed out + survived + no
// coverage). Mutants that do not compile or were ignored do not count. Where a file is in
// several reports, the newest report wins.
import { readFileSync, statSync } from 'node:fs';

const args = process.argv.slice(2);
const listSurvivors = args.includes('--survivors');
const reports = args
  .filter((a) => !a.startsWith('--'))
  .map((path) => ({ path, mtime: statSync(path).mtimeMs }))
  .sort((a, b) => a.mtime - b.mtime);
if (reports.length === 0) {
  console.error('usage: mutation-summary.mjs REPORT.json... [--survivors]');
  process.exit(2);
}

const files = new Map();
for (const { path } of reports) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  for (const [file, { mutants }] of Object.entries(report.files)) files.set(file, mutants);
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const count = (mutants) => {
  const detected = mutants.filter((m) => DETECTED.has(m.status)).length;
  const valid = detected + mutants.filter((m) => UNDETECTED.has(m.status)).length;
  return { detected, valid };
};
const score = ({ detected, valid }) => (valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(2)} %`);
const row = (name, c) => console.log(`| \`${name}\` | ${score(c)} | ${c.detected} / ${c.valid} |`);

console.log('| file | score | detected / valid mutants |');
console.log('|---|---|---|');
const folders = new Map();
for (const [file, mutants] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
  const c = count(mutants);
  row(file, c);
  const folder = file.split('/').slice(0, 2).join('/');
  const sum = folders.get(folder) ?? { detected: 0, valid: 0 };
  folders.set(folder, { detected: sum.detected + c.detected, valid: sum.valid + c.valid });
}
console.log('\n| folder | score | detected / valid mutants |');
console.log('|---|---|---|');
for (const [folder, c] of folders) row(`${folder}/`, c);

if (listSurvivors) {
  console.log('\nSurvivors:');
  for (const [file, mutants] of files) {
    for (const m of mutants.filter((x) => UNDETECTED.has(x.status))) {
      const at = `${file}:${m.location.start.line}:${m.location.start.column}`;
      console.log(`${at} ${m.status} ${m.mutatorName} -> ${JSON.stringify(m.replacement ?? '').slice(0, 100)}`);
    }
  }
}
