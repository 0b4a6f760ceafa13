/**
 * RegistryClient against a real Distribution 2.8 registry, without auth, with htpasswd
 * basic auth and with token auth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import { MAX_PAYLOAD_BYTES, MEDIA_TYPES, type Descriptor } from '../src/core/registry.js';
import {
  requireRegistry,
  sha256,
  startRegistry,
  writeManifestToStorage,
  type TestRegistry,
} from './support/registry.js';
import { rejection } from './support/rejection.js';

const NOTATION_SIGNATURE = 'application/vnd.cncf.notary.signature';
const COSIGN_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** a referrer manifest: artifactType set, or only the config media type (older Notation) */
async function pushReferrer(
  reg: TestRegistry,
  repo: string,
  subject: Descriptor,
  type: string,
  form: 'artifactType' | 'config',
) {
  const payload = await reg.pushBlob(repo, `signature ${Math.random()}`);
  const config = await reg.pushBlob(repo, '{}');
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    ...(form === 'artifactType' ? { artifactType: type } : {}),
    config: { ...config, mediaType: form === 'config' ? type : MEDIA_TYPES.ociEmpty },
    layers: [{ ...payload, mediaType: 'application/octet-stream' }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  return reg.pushManifest(repo, manifest, { mediaType: MEDIA_TYPES.ociManifest });
}

describe.each(['none', 'basic', 'token'] as const)('registry with auth %s', (auth) => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let image: Descriptor;
  const repo = 'app/web';

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry({ auth });
    client = new RegistryClient({ registries: reg.settings });
    image = await reg.pushImage(repo, 'v1');
  });
  afterAll(async () => reg?.stop());

  it('fetches a manifest by tag and by digest, digest computed from the bytes', async () => {
    const r = client.repository(reg.host, repo);
    const byTag = await r.getManifest('v1');
    const byDigest = await r.getManifest(image.digest);
    expect(byTag.descriptor).toEqual({ mediaType: MEDIA_TYPES.ociManifest, digest: image.digest, size: image.size });
    expect(byDigest.bytes.equals(byTag.bytes)).toBe(true);
    expect(sha256(byDigest.bytes)).toBe(image.digest);
    expect(byDigest.json.layers).toHaveLength(1);
  });

  it('fetches blobs, checked against their digest', async () => {
    const r = client.repository(reg.host, repo);
    const manifest = await r.getManifest(image.digest);
    const config = await r.getBlob(manifest.json.config!.digest, MAX_PAYLOAD_BYTES);
    expect(JSON.parse(config.toString()).os).toBe('linux');
    const layer = await r.getBlob(manifest.json.layers![0]!.digest, MAX_PAYLOAD_BYTES);
    expect(layer.length).toBe(256);
  });

  it('refuses a blob larger than the caller allows', async () => {
    const r = client.repository(reg.host, repo);
    const manifest = await r.getManifest(image.digest);
    const err = await rejection(r.getBlob(manifest.json.layers![0]!.digest, 100));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/limit/);
  });

  it('resolves a tag to the digest it points at', async () => {
    expect(await client.repository(reg.host, repo).resolveTag('v1')).toBe(image.digest);
  });

  it('answers NOT_FOUND for absent manifests, tags and blobs, and null from findManifest', async () => {
    const r = client.repository(reg.host, repo);
    const absent = sha256('nothing here');
    expect((await rejection(r.getManifest(absent))).kind).toBe('NOT_FOUND');
    expect((await rejection(r.getManifest('no-such-tag'))).kind).toBe('NOT_FOUND');
    expect((await rejection(r.resolveTag('no-such-tag'))).kind).toBe('NOT_FOUND');
    expect((await rejection(r.getBlob(absent, 1000))).kind).toBe('NOT_FOUND');
    expect(await r.findManifest(absent)).toBeNull();
  });

  it('lists referrers through the sha256-<hex> tag schema, filtered by artifactType', async () => {
    const subject = await reg.pushImage(repo);
    const withType = await pushReferrer(reg, repo, subject, NOTATION_SIGNATURE, 'artifactType');
    const configOnly = await pushReferrer(reg, repo, subject, NOTATION_SIGNATURE, 'config');
    const bundle = await pushReferrer(reg, repo, subject, COSIGN_BUNDLE, 'artifactType');
    // the index as a registry without the referrers API keeps it: configOnly's entry has no artifactType
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        { ...withType, artifactType: NOTATION_SIGNATURE },
        { mediaType: configOnly.mediaType, digest: configOnly.digest, size: configOnly.size },
        { ...bundle, artifactType: COSIGN_BUNDLE },
      ],
    };
    await reg.pushManifest(repo, index, { mediaType: MEDIA_TYPES.ociIndex, tag: subject.digest.replace(':', '-') });

    const r = client.repository(reg.host, repo);
    const all = await r.listReferrers(subject.digest);
    expect(all.map((d) => d.digest)).toEqual([withType.digest, configOnly.digest, bundle.digest]);
    const notation = await r.listReferrers(subject.digest, NOTATION_SIGNATURE);
    expect(notation.map((d) => d.digest)).toEqual([withType.digest, configOnly.digest]);
    expect(notation.every((d) => d.artifactType === NOTATION_SIGNATURE)).toBe(true);
    expect((await r.listReferrers(subject.digest, COSIGN_BUNDLE)).map((d) => d.digest)).toEqual([bundle.digest]);
    expect(await r.listReferrers(image.digest)).toEqual([]);
    expect(await r.listReferrers(subject.digest, 'application/x-nothing')).toEqual([]);
  });

  it('refuses references that are neither a tag nor a sha256 digest', async () => {
    const r = client.repository(reg.host, repo);
    expect((await rejection(r.getManifest('../../v2/_catalog'))).kind).toBe('BAD_RESPONSE');
    expect((await rejection(r.getBlob('sha512:abc', 10))).kind).toBe('BAD_RESPONSE');
  });

  it('counts every HTTP request', async () => {
    const fresh = new RegistryClient({ registries: reg.settings });
    await fresh.repository(reg.host, repo).getManifest(image.digest);
    // none: 1; basic and token: 401 first, then the retry (token: plus the token request)
    expect(fresh.requestCount).toBe({ none: 1, basic: 2, token: 3 }[auth]);
    await fresh.repository(reg.host, repo).getManifest(image.digest);
    // the scheme is known now: credentials go up front, a cached token is reused
    expect(fresh.requestCount).toBe({ none: 2, basic: 3, token: 4 }[auth]);
  });

  it('shares one request among identical concurrent fetches', async () => {
    const fresh = new RegistryClient({ registries: reg.settings });
    const r = fresh.repository(reg.host, repo);
    await r.getManifest(image.digest); // learn the auth scheme first
    const before = fresh.requestCount;
    const results = await Promise.all([
      r.getManifest(image.digest),
      r.getManifest(image.digest),
      r.getManifest(image.digest),
    ]);
    expect(fresh.requestCount - before).toBe(1);
    expect(new Set(results.map((m) => m.descriptor.digest))).toEqual(new Set([image.digest]));
  });

  if (auth !== 'none') {
    it('answers AUTH for wrong credentials', async () => {
      const wrong = new RegistryClient({
        registries: { [reg.host]: { insecure: true, username: reg.username!, password: 'wrong' } },
      });
      const err = await rejection(wrong.repository(reg.host, repo).getManifest(image.digest));
      expect(err.kind).toBe('AUTH');
    });

    it('answers AUTH without credentials', async () => {
      const anonymous = new RegistryClient({ registries: { [reg.host]: { insecure: true } } });
      const err = await rejection(anonymous.repository(reg.host, repo).getManifest(image.digest));
      expect(err.kind).toBe('AUTH');
    });
  }

  if (auth === 'token') {
    it('caches a token per scope: a second repository needs a second token', async () => {
      await reg.pushImage('app/other', 'v1');
      const fresh = new RegistryClient({ registries: reg.settings });
      const issued = reg.tokenServer!.issued;
      await fresh.repository(reg.host, repo).getManifest('v1');
      await fresh.repository(reg.host, repo).getManifest('v1');
      await fresh.repository(reg.host, 'app/other').getManifest('v1');
      expect(reg.tokenServer!.issued - issued).toBe(2);
    });
  }
});

describe('manifests written straight into storage', () => {
  let reg: TestRegistry;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('absent config'), size: 13 },
      layers: [],
    }),
  );
  let digest = '';

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry({
      preload: async (dir) => {
        digest = await writeManifestToStorage(dir, 'preloaded/app', manifest, 'v1');
      },
    });
  });
  afterAll(async () => reg?.stop());

  it('serves a manifest whose blobs are absent', async () => {
    const r = new RegistryClient({ registries: reg.settings }).repository(reg.host, 'preloaded/app');
    expect((await r.getManifest(digest)).bytes.equals(manifest)).toBe(true);
    expect(await r.resolveTag('v1')).toBe(digest);
  });
});
