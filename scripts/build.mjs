#!/usr/bin/env node
/**
 * npm run build: writes
 *   dist/cli.js                          the command line (Node 20, executable, one file)
 *   dist/handlers/NAME/NAME.mjs          each Lambda handler's entry file, bundled as `sam build` does,
 *   dist/handlers/NAME/chunks/*.mjs      and the chunks it imports when a call needs them
 *                                        (NAME: lifecycle-hook, task-state-change)
 *   dist/meta/*.json                     esbuild metafiles (inspect with esbuild's analyzer)
 * and prints each output's size with its largest inputs, and what a handler loads at init.
 *
 * `node scripts/build.mjs cli` or `... handlers` builds one part only.
 *
 * `node scripts/build.mjs handler NAME OUTDIR` bundles one Lambda handler into OUTDIR
 * (NAME.mjs and chunks/, nothing else): what the Makefile runs for `sam build`
 * (BuildMethod: makefile), with OUTDIR = $(ARTIFACTS_DIR).
 */
import { chmod, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CLI_ENTRY, HANDLER_ENTRIES, assertEntriesExist, bundleCli, bundleHandler, repoRoot } from './bundle.mjs';

const dist = path.join(repoRoot, 'dist');
const metaDir = path.join(dist, 'meta');

function selectedParts(args) {
  const parts = args.length > 0 ? args : ['cli', 'handlers'];
  const unknown = parts.filter((p) => p !== 'cli' && p !== 'handlers');
  if (unknown.length > 0)
    throw new Error(`unknown part(s) ${unknown.join(', ')}: use cli, handlers or nothing for both`);
  return new Set(parts);
}

function entriesOf(parts) {
  return [...(parts.has('cli') ? [CLI_ENTRY] : []), ...(parts.has('handlers') ? Object.values(HANDLER_ENTRIES) : [])];
}

async function buildAll(parts) {
  const outputs = [];
  if (parts.has('cli')) {
    const metafileOut = path.join(metaDir, 'cli.json');
    const { bytes, outfile } = await bundleCli({ metafileOut });
    await chmod(outfile, 0o755);
    outputs.push({ outfile, bytes, metafileOut });
  }
  if (parts.has('handlers')) {
    for (const name of Object.keys(HANDLER_ENTRIES)) {
      const metafileOut = path.join(metaDir, `${name}.json`);
      const { bytes, outfile, chunks, initBytes } = await bundleHandler(name, { metafileOut });
      outputs.push({ outfile, bytes, metafileOut, chunks, initBytes });
    }
  }
  return outputs;
}

/** The inputs that contribute most to one output, grouped by package. */
async function largestInputs(metafileOut, outfile, count = 5) {
  const metafile = JSON.parse(await readFile(metafileOut, 'utf8'));
  const output = Object.entries(metafile.outputs).find(([file]) => path.resolve(repoRoot, file) === outfile)?.[1];
  if (!output) return [];
  const byPackage = new Map();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    const key = match ? match[1] : 'src';
    byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
  }
  return [...byPackage.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

async function report(outputs) {
  for (const { outfile, bytes, metafileOut, chunks, initBytes } of outputs) {
    const top = await largestInputs(metafileOut, outfile);
    const detail = top.map(([name, size]) => `${name} ${kib(size)}`).join(', ');
    console.log(`${path.relative(repoRoot, outfile).padEnd(46)} ${kib(bytes).padStart(11)}   ${detail}`);
    if (chunks) console.log(`  ${splitSummary(chunks, initBytes)}`);
  }
}

/** "loaded at init 420.1 KiB; 30 chunks 1201.2 KiB; split at: cosign-family.ts 100.8 KiB, ..." */
function splitSummary(chunks, initBytes) {
  const total = chunks.reduce((sum, c) => sum + c.bytes, 0);
  const families = chunks
    .filter((c) => c.splitAt?.startsWith('src/'))
    .map((c) => `${path.basename(c.splitAt)} ${kib(c.bytes)}`)
    .join(', ');
  return `loaded at init ${kib(initBytes)}; ${chunks.length} chunks ${kib(total)}; src split at: ${families}`;
}

/** One handler into a directory of its own, for sam build; prints where and how big. */
async function buildOneHandler([name, outdir, ...extra]) {
  if (!name || !outdir || extra.length > 0 || !Object.hasOwn(HANDLER_ENTRIES, name)) {
    throw new Error(`usage: build.mjs handler NAME OUTDIR, NAME one of ${Object.keys(HANDLER_ENTRIES).join(', ')}`);
  }
  const { bytes, outfile, chunks, initBytes } = await bundleHandler(name, { outdir: path.resolve(outdir) });
  console.log(`${outfile} ${kib(bytes)} (${splitSummary(chunks, initBytes)})`);
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === 'handler') return buildOneHandler(args.slice(1));
  const parts = selectedParts(args);
  // Check every entry point first: one clear message, and no half-written dist/.
  assertEntriesExist(entriesOf(parts));
  await rm(metaDir, { recursive: true, force: true });
  await report(await buildAll(parts));
}

main().catch((error) => {
  console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
