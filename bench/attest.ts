/**
 * npm run bench (attestations): what one attestation rule costs per image, next to a
 * signature-only rule, against Debian's docker-registry on loopback (tag-schema
 * referrers) with bundles signed keyless against the mock Fulcio / Rekor.
 *
 * Every image carries a cosign signature bundle and a SLSA v1 provenance bundle. Rules:
 *   signature only        keyless identity, signature: true
 *   signature + 1 rule    the same, plus provenance with 3 conditions
 *   1 rule, no signature  signature: false
 * Figures: median uncached decision time and HTTP requests per image. Nothing asserts a time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, outcomeCache, type Gate } from '../src/gate/decide.js';
import { validate } from '../src/policy/load.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { githubClaims, githubProvenance, GH_ISSUER, RELEASE_WORKFLOW } from '../test/support/attest-signer.js';
import { registryAvailable, REGISTRY_MISSING, startRegistry } from '../test/support/registry.js';
import { cosignStatement, pushBundle, signKeyless, startMockSigstore } from '../test/support/sigstore-signer.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 60);

if (!registryAvailable()) {
  console.error(`bench: ${REGISTRY_MISSING}`);
  process.exit(1);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

const [reg, mock] = await Promise.all([startRegistry(), startMockSigstore()]);
try {
  const rootFile = join(mkdtempSync(join(tmpdir(), 'bench-attest-')), 'trusted_root.json');
  writeFileSync(rootFile, mock.trustedRoot);
  const digests: string[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const desc = await reg.pushImage('bench/attest', `v${i}`);
    const name = `${reg.host}/bench/attest`;
    await pushBundle(
      reg,
      'bench/attest',
      desc,
      await signKeyless(mock, cosignStatement(desc.digest, name), { claims: githubClaims }),
    );
    await pushBundle(
      reg,
      'bench/attest',
      desc,
      await signKeyless(mock, githubProvenance(desc.digest, name), { claims: githubClaims }),
    );
    digests.push(desc.digest);
  }
  const keyless = {
    type: 'cosign',
    keyless: { identities: [{ issuer: GH_ISSUER, subject: RELEASE_WORKFLOW }] },
    trustedRoot: rootFile,
  };
  const provenance = {
    predicateType: 'slsaprovenance1',
    conditions: [
      {
        path: 'predicate.buildDefinition.externalParameters.workflow.repository',
        equals: 'https://github.com/acme/app',
      },
      { path: 'predicate.buildDefinition.externalParameters.workflow.path', equals: '.github/workflows/release.yml' },
      { path: 'predicate.buildDefinition.externalParameters.workflow.ref', regExp: 'refs/heads/main|refs/tags/v.*' },
    ],
  };
  const rules: Array<[string, Record<string, unknown>]> = [
    ['signature only', keyless],
    ['signature + 1 attestation rule', { ...keyless, attestations: [provenance] }],
    ['1 attestation rule, signature: false', { ...keyless, attestations: [provenance], signature: false }],
  ];
  const clients = makeAwsClients();
  const results: Array<{ label: string; ms: number; requests: number }> = [];
  const gates = rules.map(([label, verifier]) => {
    const document = validate(
      {
        version: 1,
        registries: reg.settings,
        rules: [{ name: 'bench', images: [`${reg.host}/bench/**`], verifiers: [verifier] }],
      },
      'bench',
    );
    const policy = compilePolicy(
      { document, origin: 'bench' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: process.cwd() }),
    );
    return {
      label,
      policy,
      registry: new RegistryClient({ registries: document.registries }),
      times: [] as number[],
      requests: 0,
    };
  });
  const fresh = (g: (typeof gates)[number]): Gate => ({
    policy: g.policy,
    registry: g.registry,
    cache: outcomeCache(600_000, 10_000),
  });
  const one = async (g: (typeof gates)[number], i: number) => {
    const [d] = await decide(
      [{ container: 'app', image: `${reg.host}/bench/attest:v${i}`, digest: digests[i]! }],
      fresh(g),
      { deadline: Date.now() + 30_000 },
    );
    if (d!.reason !== 'VERIFIED')
      throw new Error(`bench image not verified under "${g.label}": ${d!.reason} ${d!.detail}`);
  };
  for (const g of gates) await one(g, RUNS); // warm up: JIT, trust material, keep-alive connections
  // the rules alternate per image, so that machine noise lands on all alike
  for (let i = 0; i < RUNS; i++) {
    for (const g of gates) {
      const before = g.registry.requestCount;
      const t0 = performance.now();
      await one(g, i);
      g.times.push(performance.now() - t0);
      g.requests += g.registry.requestCount - before;
    }
  }
  for (const g of gates) results.push({ label: g.label, ms: median(g.times), requests: g.requests / RUNS });
  const base = results[0]!.ms;
  console.log(
    'ecs-image-gate bench: attestations (docker-registry on loopback, tag-schema referrers, keyless bundles, mock Fulcio/Rekor)',
  );
  console.log(
    `  runs per figure                         ${RUNS}; every image has a signature bundle and a provenance bundle`,
  );
  for (const r of results) {
    console.log(
      `  ${r.label.padEnd(38)}  ${fmt(r.ms).padStart(9)} per image (${(r.ms / base).toFixed(2)}x)  ${r.requests.toFixed(2)} HTTP requests`,
    );
  }
} finally {
  await Promise.all([reg.stop(), mock.stop()]);
}
