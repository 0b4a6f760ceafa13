/**
 * npm run bench: what a decision costs, against Debian's docker-registry on loopback.
 *
 *   - median decision time for one image, uncached and cached, and for a 10-container
 *     revision (uncached);
 *   - HTTP requests per uncached image (token auth, token already cached);
 *   - the floor: the same registry requests made with bare fetch plus one crypto.verify,
 *     and our ratio to it;
 *   - the bundled hook handler: size and module init time;
 *   - Notation and AWS Signer verification per image, next to cosign's (when built);
 *   - Sigstore keyless (bundle referrer, legacy `.sig`) per image next to cosign key, the
 *     bundle against its floor, and requests per bundle-signed image (bench/sigstore.ts).
 *
 * Figures are medians of repeated runs; nothing here asserts a time.
 */
import { bareVerify, bearerToken } from './floor.js';
import { createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, type Gate, type ImageInput, outcomeCache } from '../src/gate/decide.js';
import { validate } from '../src/policy/load.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeAwsClients } from '../src/core/aws.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { generateKeyPair, signImage } from '../test/support/cosign-signer.js';
import { registryAvailable, REGISTRY_MISSING, startRegistry, type TestRegistry } from '../test/support/registry.js';
import { bundleHandler, measureModuleInitMs } from '../scripts/bundle.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 60);

if (!registryAvailable()) {
  console.error(`bench: ${REGISTRY_MISSING}`);
  process.exit(1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const reg: TestRegistry = await startRegistry({ auth: 'token' });
try {
  const key = generateKeyPair('p256');
  const images: { digest: string }[] = [];
  for (let i = 0; i < RUNS + 10; i++) {
    const d = await reg.pushImage('bench/app', `v${i}`);
    await signImage(reg, 'bench/app', d, key.privateKey);
    images.push(d);
  }
  const document = validate(
    {
      version: 1,
      registries: reg.settings,
      rules: [
        {
          name: 'bench',
          images: [`${reg.host}/bench/**`],
          verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }],
        },
      ],
    },
    'bench',
  );
  const clients = makeAwsClients();
  const policy = compilePolicy(
    { document, origin: 'bench' },
    realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: process.cwd() }),
  );
  const registry = new RegistryClient({ registries: document.registries });
  const freshGate = (): Gate => ({
    policy,
    registry,
    cache: outcomeCache(600_000, 10_000),
  });
  const input = (i: number): ImageInput => ({
    container: `c${i}`,
    image: `${reg.host}/bench/app:v${i}`,
    digest: images[i]!.digest,
  });
  const deadline = () => Date.now() + 30_000;

  // Warm up: JIT, the bearer token, keep-alive connections.
  await decide([input(0)], freshGate(), { deadline: deadline() });

  // Ours and the floor alternate, so that machine noise lands on both alike.
  const token = await bearerToken(reg, ['bench/app']);
  const publicKey = createPublicKey(key.publicKeyPem);
  const uncached: number[] = [];
  const floor: number[] = [];
  let ourRequests = 0;
  for (let i = 0; i < RUNS; i++) {
    const gate = freshGate();
    const before = registry.requestCount;
    uncached.push(
      await time(async () => {
        const [d] = await decide([input(i)], gate, { deadline: deadline() });
        if (d!.reason !== 'VERIFIED') throw new Error(`bench image not verified: ${d!.reason} ${d!.detail}`);
      }),
    );
    ourRequests += registry.requestCount - before;
    floor.push(await time(() => bareVerify(reg.host, 'bench/app', images[i]!.digest, token, publicKey)));
  }
  const requestsPerImage = ourRequests / RUNS;

  const cachedGate = freshGate();
  await decide([input(0)], cachedGate, { deadline: deadline() });
  const cached: number[] = [];
  for (let i = 0; i < 1000; i++)
    cached.push(await time(() => decide([input(0)], cachedGate, { deadline: deadline() })));

  const revision: number[] = [];
  const floorTen: number[] = [];
  for (let r = 0; r < Math.max(5, Math.floor(RUNS / 3)); r++) {
    const gate = freshGate();
    const picks = Array.from({ length: 10 }, (_, i) => (r * 10 + i) % images.length);
    revision.push(await time(() => decide(picks.map(input), gate, { deadline: deadline() })));
    floorTen.push(
      await time(() =>
        Promise.all(picks.map((i) => bareVerify(reg.host, 'bench/app', images[i]!.digest, token, publicKey))),
      ),
    );
  }

  console.log('ecs-image-gate bench (docker-registry on loopback, token auth, cosign P-256)');
  console.log(`  runs per figure                       ${RUNS} (cached: 1000)`);
  console.log(`  one image, uncached (median)          ${fmt(median(uncached))}`);
  console.log(`  one image, cached (median)            ${fmt(median(cached))}`);
  console.log(`  10-container revision, uncached       ${fmt(median(revision))}`);
  console.log(
    `  10-container floor (bare, concurrent) ${fmt(median(floorTen))}  ratio ${(median(revision) / median(floorTen)).toFixed(2)}x`,
  );
  console.log(`  HTTP requests per uncached image      ${requestsPerImage.toFixed(2)} (token cached)`);
  console.log(`  floor: bare fetch x2 + crypto.verify  ${fmt(median(floor))}`);
  console.log(`  ratio uncached / floor                ${(median(uncached) / median(floor)).toFixed(2)}x`);

  const hook = await bundleHandler('lifecycle-hook', { outdir: 'dist/bench' });
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  const chunkBytes = hook.chunks.reduce((sum, c) => sum + c.bytes, 0);
  console.log(
    `  hook bundle: entry file               ${kib(hook.bytes)} (${kib(hook.initBytes)} loaded at init; ${hook.chunks.length} chunks, ${kib(chunkBytes)})`,
  );
  console.log(`  hook bundle module init (median of 9) ${fmt(await measureModuleInitMs(hook.outfile, { runs: 9 }))}`);
  // what the first invocation of a policy pays to load its verifier family (then cached by Node)
  for (const family of ['cosign-family', 'notary-family']) {
    const chunk = hook.chunks.find((c) => c.splitAt?.endsWith(`${family}.ts`));
    if (!chunk) throw new Error(`bench: no ${family} chunk in the hook bundle`);
    const ms = await measureModuleInitMs(chunk.file, { runs: 9, preload: [hook.outfile] });
    console.log(`  first load of ${`${family} chunk`.padEnd(24)}${fmt(ms)} (${kib(chunk.bytes)}, median of 9)`);
  }

  if (existsSync(new URL('./notation.ts', import.meta.url))) {
    const { benchNotation } = await import('./notation.js');
    const n = await benchNotation();
    const cosignVerifyOnly = median(uncached);
    console.log(`  Notation JWS verify per image         ${fmt(n.jwsMs)} (in-memory repo)`);
    console.log(`  Notation COSE verify per image        ${fmt(n.coseMs)} (in-memory repo)`);
    console.log(`  AWS Signer verify per image           ${fmt(n.signerMs)} (in-memory repo, revocation mocked)`);
    console.log(`  cosign decision per image (above)     ${fmt(cosignVerifyOnly)} (through the registry)`);
  }

  const { benchSigstore } = await import('./sigstore.js');
  const s = await benchSigstore(reg, { runs: RUNS, token: (repo) => bearerToken(reg, [repo]), median });
  console.log('Sigstore keyless (mock Fulcio/Rekor; docker-registry: tag-schema referrers), per image, uncached');
  console.log(
    `  cosign key .sig (above)               ${fmt(median(uncached))}  ${requestsPerImage.toFixed(2)} requests`,
  );
  console.log(
    `  keyless bundle (referrer)             ${fmt(s.bundleMs)}  ${s.bundleRequests.toFixed(2)} requests (goal: 3)`,
  );
  console.log(`  legacy keyless .sig (cert + SET)      ${fmt(s.legacyMs)}  ${s.legacyRequests.toFixed(2)} requests`);
  console.log(`  floor: fetch x3 + @sigstore/verify    ${fmt(s.floorMs)}  ${s.floorRequests} requests`);
  console.log(`  ratio keyless bundle / floor          ${(s.bundleMs / s.floorMs).toFixed(2)}x (goal: <= 1.5x)`);
} finally {
  await reg.stop();
}
