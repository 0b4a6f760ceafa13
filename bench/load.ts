/**
 * npm run bench (second part): one decide() call with 500 references to 100 distinct
 * images, as a large audit or a task with many sidecars across services would send.
 *
 *   - registry requests per distinct image (goal ≤ 2 for cosign keys: the `.sig`
 *     manifest and its payload; the token is fetched once);
 *   - peak memory (max RSS of this process, which runs nothing else);
 *   - time per distinct image, against the floor: the same requests made with bare
 *     fetch and one crypto.verify each, eight at a time like decide().
 *
 * Runs in its own process so that max RSS measures this call only. Nothing asserts a time.
 */
import { bareVerify, bearerToken } from './floor.js';
import { createPublicKey } from 'node:crypto';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, DEFAULT_CONCURRENCY, type ImageInput, outcomeCache } from '../src/gate/decide.js';
import { validate } from '../src/policy/load.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { generateKeyPair, signImage } from '../test/support/cosign-signer.js';
import { registryAvailable, REGISTRY_MISSING, startRegistry } from '../test/support/registry.js';

const DISTINCT = 100;
const REFERENCES = 500;

if (!registryAvailable()) {
  console.error(`bench: ${REGISTRY_MISSING}`);
  process.exit(1);
}

const reg = await startRegistry({ auth: 'token' });
try {
  const key = generateKeyPair('p256');
  const digests: string[] = [];
  for (let i = 0; i < DISTINCT; i++) {
    const d = await reg.pushImage(`load/app${i % 10}`, `v${i}`);
    await signImage(reg, `load/app${i % 10}`, d, key.privateKey);
    digests.push(d.digest);
  }
  const document = validate(
    {
      version: 1,
      registries: reg.settings,
      rules: [
        { name: 'load', images: [`${reg.host}/load/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
      ],
    },
    'bench',
  );
  const clients = makeAwsClients();
  const factories = realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: process.cwd() });
  const policy = compilePolicy({ document, origin: 'bench' }, factories);
  const registry = new RegistryClient({ registries: document.registries });
  const gate = {
    policy,
    registry,
    cache: outcomeCache(600_000, 10_000),
  };
  // Each distinct image is referenced five times, by tag and digest, spread over the call.
  const inputs: ImageInput[] = Array.from({ length: REFERENCES }, (_, n) => {
    const i = n % DISTINCT;
    return { container: `c${n}`, image: `${reg.host}/load/app${i % 10}:v${i}`, digest: digests[i]! };
  });
  // Warm the token and connections on an image outside the measured set.
  const warm = await reg.pushImage('load/warm', 'w');
  await decide([{ container: 'w', image: `${reg.host}/load/warm:w`, digest: warm.digest }], gate, {
    deadline: Date.now() + 30_000,
  });

  const before = registry.requestCount;
  const t0 = performance.now();
  const decisions = await decide(inputs, gate, { deadline: Date.now() + 120_000 });
  const ours = performance.now() - t0;
  const requests = registry.requestCount - before;
  const verified = decisions.filter((d) => d.reason === 'VERIFIED').length;
  if (verified !== REFERENCES) throw new Error(`load bench: only ${verified} of ${REFERENCES} verified`);

  const token = await bearerToken(
    reg,
    Array.from({ length: 10 }, (_, i) => `load/app${i}`),
  );
  const publicKey = createPublicKey(key.publicKeyPem);
  const f0 = performance.now();
  await eightAtATime(digests.map((d, i) => () => bareVerify(reg.host, `load/app${i % 10}`, d, token, publicKey)));
  const floor = performance.now() - f0;

  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    `ecs-image-gate load bench: ${REFERENCES} references to ${DISTINCT} distinct images in one decide() call`,
  );
  console.log(
    `  registry requests per distinct image   ${(requests / DISTINCT).toFixed(2)} (${requests} in all: a bearer token per repository, 10 repositories)`,
  );
  console.log(
    `  time per distinct image                ${(ours / DISTINCT).toFixed(2)} ms (whole call ${ours.toFixed(0)} ms)`,
  );
  console.log(
    `  floor per distinct image               ${(floor / DISTINCT).toFixed(2)} ms (bare fetch x2 + verify, ${DEFAULT_CONCURRENCY} at a time)`,
  );
  console.log(`  ratio to floor                         ${(ours / floor).toFixed(2)}x`);
  console.log(`  peak memory (max RSS of the process)   ${maxRssMiB.toFixed(0)} MiB`);
} finally {
  await reg.stop();
}

async function eightAtATime(tasks: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: DEFAULT_CONCURRENCY }, worker));
}
