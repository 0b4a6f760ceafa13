/**
 * esbuild settings for the two shapes this project ships, in one place:
 *
 * - the Lambda handlers: `sam build` runs the Makefile's build-<LogicalId> targets
 *   (template.yaml, BuildMethod: makefile), which call `build.mjs handler`, so the
 *   size and init time the bench measures are those of the deployed code. Each handler
 *   is an entry file NAME.mjs plus chunks/*.mjs, split at every dynamic import(): the
 *   verifier families (src/verify/load-factories.ts), the rarely used AWS SDK clients
 *   and the SDK's own credential providers are chunks that Node loads only when a call
 *   needs them, so module init neither compiles nor runs them;
 * - the command line, one executable ES module for Node 20.
 *
 * build.mjs uses these to write dist/; the bench imports bundleHandler() and
 * measureModuleInitMs().
 */
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Lambda entry points, by the name of the file they become (handler `NAME.handler`). */
export const HANDLER_ENTRIES = Object.freeze({
  'lifecycle-hook': 'src/handlers/lifecycle-hook.ts',
  'task-state-change': 'src/handlers/task-state-change.ts',
});

export const CLI_ENTRY = 'src/cli.ts';

/**
 * Bundled CommonJS dependencies still call require() for Node built-ins; an ES
 * module has no require, so the banner makes one. The alias avoids a clash with
 * any createRequire import esbuild itself emits.
 */
export const REQUIRE_SHIM =
  "import{createRequire as __imageGateRequire}from'node:module';const require=__imageGateRequire(import.meta.url);";

/**
 * Optional native add-ons, loaded by their packages inside try/catch with a pure
 * JavaScript fallback. Bundling them would break (they load .node files by path),
 * and Lambda's arm64 would not match the build machine's binary anyway.
 */
export const OPTIONAL_NATIVE = Object.freeze(['cbor-extract']);

/** Throws one error that names every missing entry point, relative to the repository. */
export function assertEntriesExist(entries) {
  const missing = entries.filter((entry) => !existsSync(path.resolve(repoRoot, entry)));
  if (missing.length > 0) {
    throw new Error(
      `cannot build: missing source file(s) ${missing.join(', ')} (relative to ${repoRoot}). ` +
        'Each Lambda handler and the CLI need their entry point before they can be bundled.',
    );
  }
}

/**
 * esbuild splits a dynamic import() of a CommonJS module into a chunk that exports only
 * `default` (evanw/esbuild#3245), where Node, and esbuild without splitting, give the
 * module's named exports too: `const { parse } = await import('yaml')` would find
 * undefined in the Lambda and nowhere else. So each such import goes through a small ES
 * module that re-exports, by name, exactly what Node itself sees in the CommonJS module.
 */
export const cjsDynamicImports = {
  name: 'cjs-dynamic-imports',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const {
        path: file,
        errors,
        external,
      } = await build.resolve(args.path, {
        kind: 'import-statement',
        resolveDir: args.resolveDir,
        importer: args.importer,
      });
      if (errors.length > 0 || external || !(await isCommonJs(file))) return undefined;
      return { path: file, namespace: 'cjs-dynamic-import' };
    });
    build.onLoad({ filter: /.*/, namespace: 'cjs-dynamic-import' }, async (args) => {
      const namespace = await import(pathToFileURL(args.path).href);
      const names = Object.keys(namespace).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const from = JSON.stringify(args.path);
      return {
        contents: `export { ${names.join(', ')} } from ${from};\nexport { default } from ${from};\n`,
        loader: 'js',
        resolveDir: path.dirname(args.path),
      };
    });
  },
};

/** As esbuild and Node tell them apart: .cjs, or a .js file of no `type: module` package without import/export. */
async function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  if (nearestPackageType(path.dirname(file)) === 'module') return false;
  return !/^\s*(import|export)[\s{*]/m.test(await readFile(file, 'utf8'));
}

function nearestPackageType(dir) {
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')).type;
    if (path.dirname(dir) === dir) return undefined;
    dir = path.dirname(dir);
  }
}

/** Where a handler's chunks go, inside its output folder; content-hashed names, so a rebuild of the same code is byte-identical. */
export const CHUNK_DIR = 'chunks';

/** The deployed handlers' esbuild options (sam build reaches them through the Makefile): outdir/NAME.mjs and outdir/chunks/. */
export function lambdaBuildOptions(entry, outdir, name = path.basename(entry).replace(/\.[cm]?[jt]s$/, '')) {
  return {
    entryPoints: { [name]: path.resolve(repoRoot, entry) },
    outdir,
    bundle: true,
    // dynamic import() becomes a chunk loaded on first use, not code compiled at module init
    splitting: true,
    entryNames: '[name]',
    chunkNames: `${CHUNK_DIR}/[name]-[hash]`,
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node22',
    // ES module builds of dependencies first: smaller bundles (AWS SDK v3 tree-shakes).
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: false,
    // every chunk gets the shim: a chunk may hold a CommonJS dependency of its own
    banner: { js: REQUIRE_SHIM },
    external: [...OPTIONAL_NATIVE],
    plugins: [cjsDynamicImports],
    metafile: true,
    logLevel: 'warning',
  };
}

/** The command line: one ES module, readable (not minified), executable. */
export function cliBuildOptions(outfile) {
  const entry = path.resolve(repoRoot, CLI_ENTRY);
  // esbuild keeps an entry point's own #! line; a second one would be a syntax error.
  const hasShebang = existsSync(entry) && readFileSync(entry, 'utf8').startsWith('#!');
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: false,
    sourcemap: false,
    banner: { js: (hasShebang ? '' : '#!/usr/bin/env node\n') + REQUIRE_SHIM },
    external: [...OPTIONAL_NATIVE],
    metafile: true,
    logLevel: 'warning',
  };
}

/** "lifecycle-hook" or "src/handlers/lifecycle-hook.ts" → its entry point and name. */
function resolveHandler(entry) {
  const byName = HANDLER_ENTRIES[entry];
  const file = byName ?? entry;
  const name = byName ? entry : path.basename(file).replace(/\.[cm]?[jt]s$/, '');
  return { file, name };
}

/**
 * Bundles one Lambda handler as the deployed function runs it.
 * entry: a handler name (`lifecycle-hook`) or a path to its source file.
 * options.outdir: where to write NAME.mjs and chunks/ (default dist/handlers/NAME; relative
 * to the repository). A previous build's NAME.mjs and chunks/ there are removed first, so
 * the folder holds exactly what this build needs.
 * Returns the entry file, its size, every chunk, and the bytes Node reads at module init
 * (the entry and the chunks it imports statically).
 */
export async function bundleHandler(entry, options = {}) {
  const { file, name } = resolveHandler(entry);
  assertEntriesExist([file]);
  const outdir = path.resolve(repoRoot, options.outdir ?? path.join('dist', 'handlers', name));
  const outfile = path.join(outdir, `${name}.mjs`);
  await rm(path.join(outdir, CHUNK_DIR), { recursive: true, force: true });
  await rm(outfile, { force: true });
  const result = await build(lambdaBuildOptions(file, outdir, name));
  if (options.metafileOut) await writeMetafile(options.metafileOut, result.metafile);
  return { bytes: statSync(outfile).size, outfile, ...splitSizes(result.metafile, outfile) };
}

/**
 * From a split build's metafile: every chunk (absolute path, bytes, and the source file
 * it was split at, if it is a dynamic import's target), and the bytes loaded at module init.
 */
export function splitSizes(metafile, outfile) {
  const outputs = new Map(
    Object.entries(metafile.outputs).map(([file, output]) => [path.resolve(repoRoot, file), output]),
  );
  const atInit = new Set();
  const visit = (file) => {
    if (atInit.has(file)) return;
    atInit.add(file);
    for (const { path: imported, kind, external } of outputs.get(file)?.imports ?? []) {
      if (kind === 'import-statement' && !external) visit(path.resolve(repoRoot, imported));
    }
  };
  visit(outfile);
  const chunks = [...outputs]
    .filter(([file]) => file !== outfile && file.endsWith('.mjs'))
    .map(([file, output]) => ({
      file,
      bytes: output.bytes,
      atInit: atInit.has(file),
      ...(output.entryPoint ? { splitAt: output.entryPoint } : {}),
    }));
  const initBytes = [...atInit].reduce((sum, file) => sum + (outputs.get(file)?.bytes ?? 0), 0);
  return { chunks, initBytes };
}

/** Bundles the command line to options.outfile (default dist/cli.js). */
export async function bundleCli(options = {}) {
  assertEntriesExist([CLI_ENTRY]);
  const outfile = path.resolve(repoRoot, options.outfile ?? path.join('dist', 'cli.js'));
  const result = await build(cliBuildOptions(outfile));
  if (options.metafileOut) await writeMetafile(options.metafileOut, result.metafile);
  return { bytes: statSync(outfile).size, outfile };
}

async function writeMetafile(file, metafile) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(metafile));
}

/**
 * Time to import a bundled module in a fresh Node process (what a Lambda cold
 * start pays for our code), median of `runs`. Each run is its own process, so no
 * module cache is shared. options.env is added to the child's environment:
 * a handler that reads its configuration at import needs it. options.preload: modules
 * imported before the clock starts, e.g. a handler's entry file when timing one of its
 * chunks (what the first invocation that needs the chunk pays).
 */
export async function measureModuleInitMs(outfile, options = {}) {
  const runs = options.runs ?? 5;
  const samples = [];
  for (let i = 0; i < runs; i += 1) samples.push(await importOnce(outfile, options.env ?? {}, options.preload ?? []));
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

function importOnce(outfile, env, preload) {
  const url = pathToFileURL(path.resolve(outfile)).href;
  const script =
    preload.map((file) => `await import(${JSON.stringify(pathToFileURL(path.resolve(file)).href)});`).join('') +
    'const t0 = performance.now();' +
    `await import(${JSON.stringify(url)});` +
    'process.stdout.write(String(performance.now() - t0));';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(out);
      if (code === 0 && Number.isFinite(ms)) resolve(ms);
      else reject(new Error(`importing ${outfile} failed (exit ${code}): ${err.trim() || out.trim()}`));
    });
  });
}
