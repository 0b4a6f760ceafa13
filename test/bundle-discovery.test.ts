/**
 * Finding an image's Sigstore bundles (src/verify/cosign/bundle-discovery.ts) in the
 * in-memory registry: which referrers are read (the registry's request log says which
 * manifests and blobs were fetched), what a malformed bundle manifest comes to (reason
 * code and detail), and how the search walks the bundles (order, first accepted, counts,
 * registry errors kept). The signature checks themselves are in bundle-verifier.test.ts
 * and the registry paths (referrers API, tag-schema index) in sigstore-registry.test.ts.
 *
 * bundle-discovery.ts is imported afresh before each test (vi.resetModules): its bundle
 * media type pattern, the type cosign writes and the referrer cap are built when the
 * module loads, so only a test that loads the module sees a wrong value in them (and a
 * mutation tool counts that test as covering them).
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MAX_MANIFEST_BYTES,
  MAX_PAYLOAD_BYTES,
  MEDIA_TYPES,
  RegistryError,
  type Descriptor,
  type RepositoryClient,
} from '../src/core/registry.js';
import type { VerifierVerdict } from '../src/core/verifier.js';
import type { Failure, FoundBundle } from '../src/verify/cosign/bundle-discovery.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';

type Discovery = typeof import('../src/verify/cosign/bundle-discovery.js');
let M: Discovery;
beforeEach(async () => {
  vi.resetModules();
  M = await import('../src/verify/cosign/bundle-discovery.js');
});

const REPO = 'team/app';
const V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const NOTATION = 'application/vnd.cncf.notary.signature';

let reg: MemoryRegistry;
let image: Descriptor;
beforeEach(async () => {
  reg = new MemoryRegistry();
  image = await reg.pushImage(REPO);
});

interface ReferrerOptions {
  /** the manifest's artifactType (absent: none) */
  artifactType?: string;
  /** the config's media type (default: the OCI empty config; null: no config) */
  configType?: string | null;
  /** the layers (default: one bundle layer holding `bundle`) */
  layers?: Descriptor[];
  /** the subject (default: the image; null: none) */
  subject?: Descriptor | null;
  /** the bundle JSON of the default layer */
  bundle?: object;
}

/** Push a referrer manifest of the image as cosign 3 lays a bundle out, with the changes asked for. */
async function pushReferrer(opts: ReferrerOptions = {}): Promise<Descriptor> {
  const bundle = opts.bundle ?? { mediaType: V03, nonce: randomBytes(8).toString('hex') };
  const layers = opts.layers ?? [
    { ...(await reg.pushBlob(REPO, Buffer.from(JSON.stringify(bundle)))), mediaType: V03 },
  ];
  const config = await reg.pushBlob(REPO, Buffer.from('{}'));
  const subject = opts.subject === undefined ? image : opts.subject;
  return reg.pushManifest(
    REPO,
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      ...(opts.artifactType !== undefined ? { artifactType: opts.artifactType } : {}),
      ...(opts.configType === null
        ? {}
        : { config: { ...config, mediaType: opts.configType ?? MEDIA_TYPES.ociEmpty } }),
      layers,
      ...(subject ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } } : {}),
      annotations: { n: randomBytes(8).toString('hex') }, // distinct digests
    },
    { mediaType: MEDIA_TYPES.ociManifest },
  );
}

/** A bundle layer descriptor for these bytes (size as given, else the true one). */
async function bundleLayer(bytes: Buffer, size = bytes.length): Promise<Descriptor> {
  return { ...(await reg.pushBlob(REPO, bytes)), mediaType: V03, size };
}

/**
 * The repository, with the referrers list replaced: as a tag-schema index lists them
 * (entries with or without artifactType, any size, any manifest the tool put there).
 */
function listing(entries: Descriptor[] | ((api: Descriptor[]) => Descriptor[])): RepositoryClient {
  const repo = reg.repository(REPO);
  return {
    registry: repo.registry,
    repository: repo.repository,
    getManifest: (r, s) => repo.getManifest(r, s),
    findManifest: (r, s) => repo.findManifest(r, s),
    getBlob: (d, m, s) => repo.getBlob(d, m, s),
    resolveTag: (t, s) => repo.resolveTag(t, s),
    listReferrers: async (d, t, s) =>
      typeof entries === 'function' ? entries(await repo.listReferrers(d, t, s)) : entries,
  };
}

/** Entries without artifactType, as some tools write the tag-schema index. */
const untyped = (api: Descriptor[]) => api.map(({ artifactType: _, ...d }) => d);

/** Every bundle (or failure) eachBundle visits, none accepted. */
async function visitAll(repo: RepositoryClient = reg.repository(REPO)) {
  const seen: Array<FoundBundle | Failure> = [];
  const read = await M.eachBundle(verifyContext(repo, image.digest), (found) => {
    seen.push(found);
    return false;
  });
  return { seen, ...read };
}

const manifestRead = (d: Descriptor) => reg.requests.includes(`manifest ${REPO} ${d.digest}`);
const blobReads = () => reg.requests.filter((r) => r.startsWith('blob '));

describe('which referrers are bundles', () => {
  it('a referrer of the type cosign writes (BUNDLE_ARTIFACT_TYPE) is read: its manifest digest and bundle JSON', async () => {
    const bundle = { mediaType: V03, content: 'the bundle' };
    const desc = await pushReferrer({ artifactType: M.BUNDLE_ARTIFACT_TYPE, bundle });
    const { seen, bundles, fetchError } = await visitAll();
    expect(seen).toEqual([{ manifest: desc.digest, json: bundle }]);
    expect(bundles).toBe(1);
    expect(fetchError).toBeUndefined();
  });

  const ACCEPTED = [
    'application/vnd.dev.sigstore.bundle.v0.1+json',
    'application/vnd.dev.sigstore.bundle.v0.2+json',
    'application/vnd.dev.sigstore.bundle.v0.3+json',
    'application/vnd.dev.sigstore.bundle+json;version=0.1',
    'application/vnd.dev.sigstore.bundle+json;version=0.2',
    'application/vnd.dev.sigstore.bundle+json;version=0.3',
    'application/vnd.dev.sigstore.bundle+json; version=0.3',
    'application/vnd.dev.sigstore.bundle+json;  version=0.2',
  ];
  it.each(ACCEPTED)('%s is a bundle type: listed, manifest and layer of that type are read', async (type) => {
    expect(M.isBundleType(type)).toBe(true);
    const layer = await bundleLayer(Buffer.from('{"a":1}'));
    const desc = await pushReferrer({ artifactType: type, layers: [{ ...layer, mediaType: type }] });
    const { seen, bundles } = await visitAll();
    expect(seen).toEqual([{ manifest: desc.digest, json: { a: 1 } }]);
    expect(bundles).toBe(1);
  });

  const NEAR_MISSES = [
    'application/vnd.dev.sigstore.bundle.v0.4+json',
    'application/vnd.dev.sigstore.bundle.v0.0+json',
    'application/vnd.dev.sigstore.bundle.v1.0+json',
    'application/vnd.dev.sigstore.bundle+json;version=0.4',
    'application/vnd.dev.sigstore.bundle+json;version=0.0',
    'application/vnd.dev.sigstore.bundle+json',
    'application/vnd.dev.sigstore.bundle+json;xversion=0.3',
    'xapplication/vnd.dev.sigstore.bundle.v0.3+json',
    'application/vnd.dev.sigstore.bundle.v0.3+jsonx',
    'application/vnd.dev.sigstore.bundle.v0.3+json ',
    'application/vnd.dev.sigstore.bundle+json;version=0.3;x',
    MEDIA_TYPES.ociEmpty,
    '',
  ];
  it.each(NEAR_MISSES)(
    '"%s" is not a bundle type: its manifest is read, nothing else, and no failure',
    async (type) => {
      expect(M.isBundleType(type)).toBe(false);
      // listed untyped, so the manifest is read; its own type decides
      const desc = await pushReferrer({ artifactType: type });
      const { seen, bundles, fetchError } = await visitAll(listing(untyped));
      expect(manifestRead(desc)).toBe(true);
      expect(seen).toEqual([]);
      expect(bundles).toBe(0);
      expect(fetchError).toBeUndefined();
      expect(blobReads()).toEqual([]);
    },
  );

  it('no type at all is not a bundle type', () => {
    expect(M.isBundleType(undefined)).toBe(false);
  });

  it('a manifest without artifactType is typed by its config media type', async () => {
    const desc = await pushReferrer({ configType: V03, bundle: { k: 'config-typed' } });
    const { seen } = await visitAll();
    expect(seen).toEqual([{ manifest: desc.digest, json: { k: 'config-typed' } }]);
  });

  it('a manifest with neither artifactType nor config is not a bundle, even with a bundle layer', async () => {
    const desc = await pushReferrer({ configType: null });
    const { seen, bundles, fetchError } = await visitAll();
    expect(manifestRead(desc)).toBe(true);
    expect(seen).toEqual([]);
    expect(bundles).toBe(0);
    expect(fetchError).toBeUndefined();
    expect(blobReads()).toEqual([]);
  });

  it('an untyped referrer that is something else (an SBOM) is passed over without a failure', async () => {
    const sbom = await reg.pushBlob(REPO, Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
    await pushReferrer({
      artifactType: 'application/spdx+json',
      layers: [{ ...sbom, mediaType: 'application/spdx+json' }],
    });
    const { seen, bundles } = await visitAll(listing(untyped));
    expect(seen).toEqual([]);
    expect(bundles).toBe(0);
  });
});

describe('which listed referrers are fetched', () => {
  it('untyped, bundle-typed and empty-config-typed (GHCR) entries are read; entries of another type are not fetched', async () => {
    const signature = await pushReferrer({ artifactType: NOTATION });
    const ghcr = await pushReferrer({ artifactType: V03, bundle: { k: 'ghcr' } });
    const bare = await pushReferrer({ artifactType: V03, bundle: { k: 'untyped' } });
    const typed = await pushReferrer({ artifactType: V03, bundle: { k: 'typed' } });
    const repo = listing([
      { ...signature, artifactType: NOTATION },
      { ...ghcr, artifactType: MEDIA_TYPES.ociEmpty },
      bare,
      { ...typed, artifactType: V03 },
    ]);
    const { seen, bundles } = await visitAll(repo);
    expect(manifestRead(signature)).toBe(false);
    expect(seen.map((f) => ('json' in f ? f.json : f))).toEqual([{ k: 'ghcr' }, { k: 'untyped' }, { k: 'typed' }]);
    expect(bundles).toBe(3);
  });

  it('a referrer of another type that the referrers API lists is not fetched', async () => {
    const signature = await pushReferrer({ artifactType: NOTATION });
    const { bundles } = await visitAll();
    expect(manifestRead(signature)).toBe(false);
    expect(bundles).toBe(0);
  });

  it('an entry listed larger than 4 MiB is not fetched; one of exactly 4 MiB is', async () => {
    const desc = await pushReferrer({ artifactType: V03, bundle: { k: 'b' } });
    const over = await visitAll(listing([{ ...desc, size: MAX_MANIFEST_BYTES + 1 }]));
    expect(manifestRead(desc)).toBe(false);
    expect(over.bundles).toBe(0);
    const at = await visitAll(listing([{ ...desc, size: MAX_MANIFEST_BYTES }]));
    expect(at.seen).toEqual([{ manifest: desc.digest, json: { k: 'b' } }]);
  });

  it('at most 50 referrers are read: with 50, the 50th bundle is found; with 51, the 51st is never fetched', async () => {
    const descs: Descriptor[] = [];
    for (let i = 0; i < 51; i++) descs.push(await pushReferrer({ artifactType: V03, bundle: { i } }));
    const judge = (found: FoundBundle): VerifierVerdict =>
      (found.json as { i: number }).i >= 49
        ? { ok: true, by: `bundle ${(found.json as { i: number }).i}` }
        : { ok: false, reason: 'UNTRUSTED_SIGNER', detail: 'not this one' };
    const fifty = await M.searchBundles(verifyContext(listing(descs.slice(0, 50)), image.digest), judge);
    expect(fifty.passed).toEqual({ ok: true, by: 'bundle 49' });
    expect(fifty.bundles).toBe(50);

    reg.requests.length = 0;
    const refuseAll = (): VerifierVerdict => ({ ok: false, reason: 'UNTRUSTED_SIGNER', detail: 'no' });
    const all = await M.searchBundles(verifyContext(reg.repository(REPO), image.digest), refuseAll);
    expect(all.bundles).toBe(50);
    expect(all.failures).toHaveLength(50);
    expect(manifestRead(descs[49]!)).toBe(true);
    expect(manifestRead(descs[50]!)).toBe(false);
  });
});

describe('a malformed bundle manifest', () => {
  it('whose subject is another image is DIGEST_MISMATCH naming both digests, and its bundle is not fetched', async () => {
    const other = await reg.pushImage(REPO);
    const desc = await pushReferrer({ artifactType: V03, subject: other });
    const { seen, bundles } = await visitAll(listing([desc]));
    expect(seen).toEqual([
      {
        ok: false,
        reason: 'DIGEST_MISMATCH',
        detail: `bundle manifest ${desc.digest} refers to ${other.digest}, not ${image.digest}`,
      },
    ]);
    expect(bundles).toBe(1);
    expect(blobReads()).toEqual([]);
  });

  it('without a subject is DIGEST_MISMATCH: "refers to no subject"', async () => {
    const desc = await pushReferrer({ artifactType: V03, subject: null });
    const { seen, fetchError } = await visitAll(listing([desc]));
    expect(fetchError).toBeUndefined();
    expect(seen).toEqual([
      {
        ok: false,
        reason: 'DIGEST_MISMATCH',
        detail: `bundle manifest ${desc.digest} refers to no subject, not ${image.digest}`,
      },
    ]);
  });

  it('must hold exactly one bundle layer: none and two are SIGNATURE_INVALID with the count', async () => {
    const none = await pushReferrer({ artifactType: V03, layers: [] });
    const a = await bundleLayer(Buffer.from('{"a":1}'));
    const b = await bundleLayer(Buffer.from('{"b":2}'));
    const two = await pushReferrer({ artifactType: V03, layers: [a, b] });
    const { seen, fetchError } = await visitAll();
    expect(fetchError).toBeUndefined();
    expect(seen).toEqual([
      {
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `bundle manifest ${none.digest} must hold exactly one bundle layer, holds 0`,
      },
      {
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `bundle manifest ${two.digest} must hold exactly one bundle layer, holds 2`,
      },
    ]);
    expect(blobReads()).toEqual([]);
  });

  it('without a layers list holds no bundle layer', async () => {
    const config = await reg.pushBlob(REPO, Buffer.from('{}'));
    const desc = await reg.pushManifest(
      REPO,
      {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        artifactType: V03,
        config: { ...config, mediaType: MEDIA_TYPES.ociEmpty },
        subject: image,
      },
      { mediaType: MEDIA_TYPES.ociManifest },
    );
    const { seen } = await visitAll();
    expect(seen).toEqual([
      {
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `bundle manifest ${desc.digest} must hold exactly one bundle layer, holds 0`,
      },
    ]);
  });

  it('layers of other types beside the one bundle layer are passed over', async () => {
    const extra = { ...(await reg.pushBlob(REPO, Buffer.from('note'))), mediaType: 'text/plain' };
    const layer = await bundleLayer(Buffer.from('{"k":"one"}'));
    const desc = await pushReferrer({ artifactType: V03, layers: [extra, layer] });
    const { seen } = await visitAll();
    expect(seen).toEqual([{ manifest: desc.digest, json: { k: 'one' } }]);
    expect(blobReads()).toEqual([`blob ${REPO} ${layer.digest}`]);
  });

  it.each([
    ['negative', -1],
    ['not an integer', 1.5],
    ['not a safe integer', 2 ** 53],
    ['one byte over 32 MiB', MAX_PAYLOAD_BYTES + 1],
  ])('whose bundle layer size is %s is SIGNATURE_INVALID, and the blob is not fetched', async (_, size) => {
    const layer = await bundleLayer(Buffer.from('{"a":1}'), size);
    const desc = await pushReferrer({ artifactType: V03, layers: [layer] });
    const { seen } = await visitAll();
    expect(seen).toEqual([
      {
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `bundle manifest ${desc.digest}: bundle layer has a malformed size or is larger than 32 MiB`,
      },
    ]);
    expect(blobReads()).toEqual([]);
  });

  it('a bundle layer of exactly 32 MiB is read', async () => {
    const filler = MAX_PAYLOAD_BYTES - '{"f":""}'.length;
    const bytes = Buffer.from(`{"f":"${'x'.repeat(filler)}"}`);
    expect(bytes.length).toBe(MAX_PAYLOAD_BYTES);
    const desc = await pushReferrer({ artifactType: V03, layers: [await bundleLayer(bytes)] });
    const { seen } = await visitAll();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ manifest: desc.digest });
    expect(((seen[0] as FoundBundle).json as { f: string }).f).toHaveLength(filler);
  });

  it('an empty bundle layer (size 0) is read, and is not JSON', async () => {
    const layer = await bundleLayer(Buffer.alloc(0));
    const desc = await pushReferrer({ artifactType: V03, layers: [layer] });
    const { seen } = await visitAll();
    expect(blobReads()).toEqual([`blob ${REPO} ${layer.digest}`]);
    expect(seen).toEqual([
      { ok: false, reason: 'SIGNATURE_INVALID', detail: `bundle manifest ${desc.digest}: the bundle is not JSON` },
    ]);
  });
});

describe('searching the bundles of an image', () => {
  const refuse = (detail: string): VerifierVerdict => ({ ok: false, reason: 'UNTRUSTED_SIGNER', detail });

  it('judges bundles in registry order and stops at the first accepted: later bundles are not fetched', async () => {
    const first = await pushReferrer({ artifactType: V03, bundle: { k: 'first' } });
    await pushReferrer({ artifactType: V03, bundle: { k: 'second' } });
    const third = await pushReferrer({ artifactType: V03, bundle: { k: 'third' } });
    const judged: string[] = [];
    const search = await M.searchBundles(verifyContext(reg.repository(REPO), image.digest), (found) => {
      const { k } = found.json as { k: string };
      judged.push(k);
      return k === 'second' ? { ok: true, by: 'the second' } : refuse(`${k} refused`);
    });
    expect(judged).toEqual(['first', 'second']);
    expect(search).toEqual({
      bundles: 2,
      passed: { ok: true, by: 'the second' },
      failures: [{ ok: false, reason: 'UNTRUSTED_SIGNER', detail: 'first refused' }],
    });
    expect(manifestRead(first)).toBe(true);
    expect(manifestRead(third)).toBe(false);
  });

  it('a malformed bundle manifest is a failure not given to the judge; the search goes on', async () => {
    const stray = await pushReferrer({ artifactType: V03, subject: null });
    const good = await pushReferrer({ artifactType: V03, bundle: { k: 'good' } });
    const judged: unknown[] = [];
    const search = await M.searchBundles(verifyContext(listing([stray, good]), image.digest), (found) => {
      judged.push(found.json);
      return refuse('refused');
    });
    expect(judged).toEqual([{ k: 'good' }]);
    expect(search.bundles).toBe(2);
    expect(search.passed).toBeUndefined();
    expect(search.failures.map((f) => f.reason)).toEqual(['DIGEST_MISMATCH', 'UNTRUSTED_SIGNER']);
  });

  it('counts only bundles read: referrers that are not bundles and registry errors are not counted', async () => {
    const gone = { mediaType: MEDIA_TYPES.ociManifest, digest: `sha256:${'0'.repeat(64)}`, size: 100 };
    const sbom = await pushReferrer({ artifactType: 'application/spdx+json' });
    const good = await pushReferrer({ artifactType: V03, bundle: { k: 'good' } });
    const search = await M.searchBundles(verifyContext(listing([gone, sbom, good]), image.digest), () => refuse('no'));
    expect(search.bundles).toBe(1);
    expect(search.failures).toHaveLength(1);
    expect(search.fetchError).toBeInstanceOf(RegistryError);
  });

  it('keeps the first registry error and still reads the other bundles, one of which may pass', async () => {
    const missing = (n: string) => ({
      mediaType: MEDIA_TYPES.ociManifest,
      digest: `sha256:${n.repeat(64)}`,
      size: 100,
    });
    const good = await pushReferrer({ artifactType: V03, bundle: { k: 'good' } });
    const search = await M.searchBundles(
      verifyContext(listing([missing('1'), missing('2'), good]), image.digest),
      () => ({ ok: true, by: 'good' }),
    );
    expect(search.passed).toEqual({ ok: true, by: 'good' });
    expect(search.bundles).toBe(1);
    expect((search.fetchError as RegistryError).message).toContain(`sha256:${'1'.repeat(64)}`);
  });

  it('an image without referrers has no bundles', async () => {
    expect(await M.searchBundles(verifyContext(reg.repository(REPO), image.digest), () => refuse('x'))).toEqual({
      bundles: 0,
      failures: [],
    });
  });

  it('an aborted search stops before the next referrer is read', async () => {
    await pushReferrer({ artifactType: V03 });
    const ac = new AbortController();
    ac.abort(new Error('deadline'));
    await expect(
      M.eachBundle(verifyContext(reg.repository(REPO), image.digest, ac.signal), () => false),
    ).rejects.toThrow('deadline');
  });
});
