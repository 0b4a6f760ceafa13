/**
 * The Lambda bundles are split so that module init loads only what every invocation needs:
 * the verifier families, the KMS, Signer and SSM clients and the YAML parser are chunks,
 * imported when a policy or a setting first needs them (src/verify/load-factories.ts,
 * src/core/aws.ts, src/policy/load.ts, src/alerts/slack.ts). A static import of one of
 * them anywhere in a handler's graph would silently put it back into module init; this
 * catches it from esbuild's own account of what went where.
 * Whether the chunks really load from a deployed folder: test/template.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleHandler, HANDLER_ENTRIES, repoRoot } from '../scripts/bundle.mjs';

/** Code that only some policies need: none of it may be compiled or run at module init. */
const ON_DEMAND = [
  /node_modules\/(pkijs|asn1js|cbor-x|@peculiar)\//,
  /node_modules\/(@sigstore|@tufjs|tuf-js)\//,
  /node_modules\/@aws-sdk\/client-(kms|signer|ssm)\//,
  /node_modules\/yaml\//,
  /^src\/verify\/(cosign|notary)\//,
  /^src\/verify\/(cosign|notary)-family\.ts$/,
];

const out = mkdtempSync(path.join(tmpdir(), 'bundle-split-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function built(name: keyof typeof HANDLER_ENTRIES) {
  const metafileOut = path.join(out, `${name}.json`);
  const result = await bundleHandler(name, { outdir: path.join(out, name), metafileOut });
  const metafile = JSON.parse(readFileSync(metafileOut, 'utf8')) as Metafile;
  const outputOf = (file: string) =>
    Object.entries(metafile.outputs).find(([f]) => path.resolve(repoRoot, f) === file)?.[1];
  const atInit = [result.outfile, ...result.chunks.filter((c) => c.atInit).map((c) => c.file)];
  const inputsAtInit = atInit.flatMap((file) => Object.keys(outputOf(file)?.inputs ?? {}));
  return { result, inputsAtInit };
}

describe.each(Object.keys(HANDLER_ENTRIES) as (keyof typeof HANDLER_ENTRIES)[])('the %s bundle', (name) => {
  it('loads no verifier family, no KMS, Signer or SSM client and no YAML parser at module init', async () => {
    const { result, inputsAtInit } = await built(name);
    expect(inputsAtInit.length).toBeGreaterThan(50); // the accounting saw the init path at all
    expect(inputsAtInit.filter((input) => ON_DEMAND.some((re) => re.test(input)))).toEqual([]);
    // each family is a chunk of its own, named after the module the runtime imports
    const splitAt = result.chunks.map((c) => c.splitAt).filter((s) => s?.startsWith('src/'));
    expect(splitAt.sort()).toEqual([
      'src/verify/cosign-family.ts',
      'src/verify/notary-family.ts',
      'src/verify/notary/notation-cli.ts',
    ]);
    for (const family of ['cosign-family', 'notary-family', 'notation-cli']) {
      expect(result.chunks.some((c) => path.basename(c.file).startsWith(`${family}-`) && !c.atInit)).toBe(true);
    }
  }, 60_000);

  it('gives every package chunk its named exports, as Node gives a package to import()', async () => {
    // esbuild alone would give a CommonJS package's chunk a default export only (yaml, @sigstore/tuf)
    const { result } = await built(name);
    const packages = result.chunks.filter((c) => c.splitAt && !c.splitAt.startsWith('src/'));
    expect(packages.map((c) => c.splitAt).join(' ')).toMatch(/yaml/);
    const script = `for (const f of ${JSON.stringify(packages.map((c) => pathToFileURL(c.file).href))})
      console.log(Object.keys(await import(f)).filter((k) => k !== 'default' && k !== '__esModule').length);`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: out, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const counts = run.stdout.trim().split('\n').map(Number);
    expect(counts).toHaveLength(packages.length);
    expect(packages.filter((_, i) => !(counts[i]! > 0)).map((c) => c.splitAt)).toEqual([]);
  }, 60_000);
});
