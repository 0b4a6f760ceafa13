/**
 * Sigstore keyless per-image decision cost, through the real docker-registry, next to
 * cosign key (bench.ts):
 *
 *   - a keyless DSSE bundle stored as an OCI referrer (docker-registry 2.8 has no
 *     referrers API, so the `sha256-<hex>` tag-schema index is what is read);
 *   - a legacy keyless `.sig` (Fulcio certificate + Rekor SET annotations);
 *   - the floor for the bundle: the three requests nobody can avoid (tag-schema index,
 *     referrer manifest, bundle blob) made with bare fetch, then @sigstore/verify alone
 *     on that bundle, with its trust material and Verifier built once (the most
 *     favourable floor);
 *   - HTTP requests per uncached image, counted by the RegistryClient once the
 *     registry's referrers support is known.
 *
 * Images are signed in process with @sigstore/sign against a mock Fulcio / Rekor on
 * loopback. Ours and the floor alternate, so that machine noise lands on both alike.
 * Figures are medians; nothing here asserts a time.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, type Gate, type ImageInput, outcomeCache } from '../src/gate/decide.js';
import { validate } from '../src/policy/load.js';
import { RegistryClient } from '../src/registry/client.js';
import type { Descriptor } from '../src/core/registry.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import type { TestRegistry } from '../test/support/registry.js';
import { pushLegacyKeyless } from '../test/support/sigstore-legacy.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  startMockSigstore,
  type Claims,
} from '../test/support/sigstore-signer.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const SUBJECT = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const CLAIMS: Claims = {
  iss: ISSUER,
  sub: SUBJECT,
  repository: 'acme/app',
  ref: 'refs/heads/main',
  event_name: 'push',
  sha: 'abc123',
};
const BUNDLE_REPO = 'bench/keyless';
const LEGACY_REPO = 'bench/legacy';

export interface SigstoreFigures {
  bundleMs: number;
  legacyMs: number;
  floorMs: number;
  /** RegistryClient requests per uncached image, referrers support already known */
  bundleRequests: number;
  legacyRequests: number;
  /** the requests the floor makes per image (by construction) */
  floorRequests: number;
}

export interface SigstoreBenchOptions {
  runs: number;
  /** a pull token for `repo` on the registry ('' without token auth) */
  token: (repo: string) => Promise<string>;
  median: (xs: number[]) => number;
}

export async function benchSigstore(reg: TestRegistry, opts: SigstoreBenchOptions): Promise<SigstoreFigures> {
  const mock = await startMockSigstore();
  try {
    const rootFile = join(mkdtempSync(join(tmpdir(), 'bench-sigstore-')), 'trusted_root.json');
    writeFileSync(rootFile, mock.trustedRoot);

    const count = opts.runs + 1;
    const bundled: Descriptor[] = [];
    const legacy: Descriptor[] = [];
    for (let i = 0; i < count; i++) {
      const image = await reg.pushImage(BUNDLE_REPO, `v${i}`);
      await pushBundle(
        reg,
        BUNDLE_REPO,
        image,
        await signKeyless(mock, cosignStatement(image.digest, `${reg.host}/${BUNDLE_REPO}`), { claims: CLAIMS }),
      );
      bundled.push(image);
      const old = await reg.pushImage(LEGACY_REPO, `v${i}`);
      await pushLegacyKeyless(reg, LEGACY_REPO, old, mock, CLAIMS);
      legacy.push(old);
    }

    const document = validate(
      {
        version: 1,
        registries: reg.settings,
        rules: [
          {
            name: 'keyless',
            images: [`${reg.host}/bench/**`],
            verifiers: [
              {
                type: 'cosign',
                keyless: { identities: [{ issuer: ISSUER, subject: SUBJECT }] },
                trustedRoot: rootFile,
              },
            ],
          },
        ],
      },
      'bench-sigstore',
    );
    const clients = makeAwsClients();
    const policy = compilePolicy(
      { document, origin: 'bench-sigstore' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: process.cwd() }),
    );
    const registry = new RegistryClient({ registries: document.registries });
    const freshGate = (): Gate => ({
      policy,
      registry,
      cache: outcomeCache(600_000, 10_000),
    });
    const input = (repo: string, image: Descriptor, i: number): ImageInput => ({
      container: `c${i}`,
      image: `${reg.host}/${repo}:v${i}`,
      digest: image.digest,
    });
    const decideOne = async (repo: string, image: Descriptor, i: number) => {
      const [d] = await decide([input(repo, image, i)], freshGate(), { deadline: Date.now() + 30_000 });
      if (d!.reason !== 'VERIFIED')
        throw new Error(`bench image ${repo}:v${i} not verified: ${d!.reason} ${d!.detail}`);
    };

    // Warm up: JIT, tokens, keep-alive, the trusted root, and the registry's referrers support (probed once).
    await decideOne(BUNDLE_REPO, bundled[count - 1]!, count - 1);
    await decideOne(LEGACY_REPO, legacy[count - 1]!, count - 1);
    const floor = await bareFloor(reg.host, mock.trustedRoot, await opts.token(BUNDLE_REPO));
    await floor(bundled[count - 1]!.digest);

    const bundleTimes: number[] = [];
    const legacyTimes: number[] = [];
    const floorTimes: number[] = [];
    let bundleRequests = 0;
    let legacyRequests = 0;
    for (let i = 0; i < opts.runs; i++) {
      let before = registry.requestCount;
      bundleTimes.push(await time(() => decideOne(BUNDLE_REPO, bundled[i]!, i)));
      bundleRequests += registry.requestCount - before;
      floorTimes.push(await time(() => floor(bundled[i]!.digest)));
      before = registry.requestCount;
      legacyTimes.push(await time(() => decideOne(LEGACY_REPO, legacy[i]!, i)));
      legacyRequests += registry.requestCount - before;
    }
    return {
      bundleMs: opts.median(bundleTimes),
      legacyMs: opts.median(legacyTimes),
      floorMs: opts.median(floorTimes),
      bundleRequests: bundleRequests / opts.runs,
      legacyRequests: legacyRequests / opts.runs,
      floorRequests: 3,
    };
  } finally {
    await mock.stop();
  }
}

/**
 * The floor: tag-schema index, referrer manifest, bundle blob with bare fetch, then
 * @sigstore/verify alone (identity policy included: the library's own SAN and issuer
 * check) with cosign's keyless thresholds. Trust material and Verifier are built once.
 */
async function bareFloor(
  host: string,
  trustedRootJson: string,
  token: string,
): Promise<(digest: string) => Promise<void>> {
  const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(trustedRootJson))), {
    ctlogThreshold: 1,
    tlogThreshold: 1,
    timestampThreshold: 1,
  });
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const base = `http://${host}/v2/${BUNDLE_REPO}`;
  const policy = { subjectAlternativeName: SUBJECT, extensions: { issuer: ISSUER } };
  return async (digest) => {
    const index = (await (
      await fetch(`${base}/manifests/${digest.replace(':', '-')}`, {
        headers: { ...auth, accept: 'application/vnd.oci.image.index.v1+json' },
      })
    ).json()) as {
      manifests: { digest: string }[];
    };
    const manifest = (await (
      await fetch(`${base}/manifests/${index.manifests[0]!.digest}`, {
        headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as {
      layers: { digest: string }[];
    };
    const json = await (await fetch(`${base}/blobs/${manifest.layers[0]!.digest}`, { headers: auth })).json();
    verifier.verify(toSignedEntity(bundleFromJSON(json)), policy);
  };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// Alone (for profiling: node --cpu-prof --import tsx bench/sigstore.ts): a registry without auth.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { startRegistry } = await import('../test/support/registry.js');
  const reg = await startRegistry();
  try {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const f = await benchSigstore(reg, { runs: Number(process.env.BENCH_RUNS ?? 60), token: async () => '', median });
    console.log({ ...f, ratio: f.bundleMs / f.floorMs });
  } finally {
    await reg.stop();
  }
}
