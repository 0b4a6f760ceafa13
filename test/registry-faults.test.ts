/**
 * RegistryClient when the registry misbehaves: a fault proxy in front of a real
 * docker-registry (basic auth, so credentials are in play) injects errors, stalls,
 * oversized and altered bodies, redirects and a referrers API.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import { MAX_MANIFEST_BYTES, MEDIA_TYPES, type Descriptor } from '../src/core/registry.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';
import { rejection } from './support/rejection.js';

describe('registry faults', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let image: Descriptor;
  let layer: Descriptor;
  const repo = 'faults/app';

  const client = (timeoutMs = 10_000) =>
    new RegistryClient({
      registries: { [proxy.host]: { insecure: true, username: reg.username!, password: reg.password! } },
      requestTimeoutMs: timeoutMs,
    });
  const repository = (timeoutMs?: number) => client(timeoutMs).repository(proxy.host, repo);
  /** a client that already knows the registry wants Basic, so it sends credentials up front */
  const warmRepository = async () => {
    const r = repository();
    await r.getManifest(image.digest);
    proxy.requests.length = 0;
    return r;
  };

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry({ auth: 'basic' });
    proxy = await startFaultProxy(reg.host);
    image = await reg.pushImage(repo, 'v1');
    const manifest = (await client().repository(proxy.host, repo).getManifest(image.digest)).json;
    layer = manifest.layers![0]!;
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });
  beforeEach(() => proxy.reset());

  it('passes through a healthy registry', async () => {
    expect((await repository().getManifest(image.digest)).descriptor.digest).toBe(image.digest);
  });

  it.each([500, 502, 503, 429])('answers UNAVAILABLE with the status for HTTP %i', async (status) => {
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'status', status } }]);
    const err = await rejection(repository().getManifest(image.digest));
    expect(err.kind).toBe('UNAVAILABLE');
    expect(err.status).toBe(status);
    expect(err.transient).toBe(true);
  });

  it('answers UNAVAILABLE when nothing listens', async () => {
    const stopped = await startFaultProxy();
    const host = stopped.host;
    await stopped.stop();
    const c = new RegistryClient({ registries: { [host]: { insecure: true } } });
    const err = await rejection(c.repository(host, repo).getManifest(image.digest));
    expect(err.kind).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('answers BAD_RESPONSE for other 4xx', async () => {
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'status', status: 400 } }]);
    expect((await rejection(repository().getManifest(image.digest))).kind).toBe('BAD_RESPONSE');
  });

  it('answers AUTH when the registry keeps saying 401 after credentials', async () => {
    proxy.setRules([
      {
        path: /\/manifests\//,
        action: { type: 'status', status: 401, headers: { 'www-authenticate': 'Basic realm="x"' } },
      },
    ]);
    const err = await rejection(repository().getManifest(image.digest));
    expect(err.kind).toBe('AUTH');
    expect(proxy.count(/\/manifests\//)).toBe(2); // one try, one retry with credentials, no more
  });

  it('answers AUTH for 403', async () => {
    proxy.setRules([{ path: /\/blobs\//, action: { type: 'status', status: 403 } }]);
    expect((await rejection(repository().getBlob(layer.digest, 1 << 20))).kind).toBe('AUTH');
  });

  it('answers TIMEOUT when the registry stalls past the request timeout', async () => {
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'delay', ms: 5_000 } }]);
    const err = await rejection(repository(200).getManifest(image.digest));
    expect(err.kind).toBe('TIMEOUT');
    expect(err.transient).toBe(true);
  });

  it('answers TIMEOUT when the body stops halfway', async () => {
    proxy.setRules([{ path: /\/blobs\//, action: { type: 'stall-body', afterBytes: 10 } }]);
    const r = repository(300);
    const err = await rejection(r.getBlob(layer.digest, 1 << 20));
    expect(err.kind).toBe('TIMEOUT');
  });

  it('keeps a shared fetch going for the callers that still wait', async () => {
    const r = await warmRepository();
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'delay', ms: 100 } }]);
    const impatient = new AbortController();
    const first = r.getManifest(image.digest, impatient.signal);
    const second = r.getManifest(image.digest);
    impatient.abort(new Error('gave up'));
    expect((await rejection(first)).kind).toBe('TIMEOUT');
    expect((await second).descriptor.digest).toBe(image.digest);
    expect(proxy.count(/\/manifests\//)).toBe(1);
  });

  it("answers TIMEOUT when the caller's signal aborts", async () => {
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'delay', ms: 5_000 } }]);
    const controller = new AbortController();
    const pending = repository().getManifest(image.digest, controller.signal);
    controller.abort(new Error('deadline'));
    const err = await rejection(pending);
    expect(err.kind).toBe('TIMEOUT');
    expect(err.message).toMatch(/deadline/);
  });

  it('refuses an oversized manifest by Content-Length', async () => {
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'oversize', bytes: MAX_MANIFEST_BYTES + 1 } }]);
    const err = await rejection(repository().getManifest('v1'));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/limit/);
  });

  it('refuses an oversized manifest streamed without Content-Length', async () => {
    proxy.setRules([
      { path: /\/manifests\//, action: { type: 'oversize', bytes: 2 * MAX_MANIFEST_BYTES, declareLength: false } },
    ]);
    const err = await rejection(repository().getManifest('v1'));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/limit/);
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'alter' } }]);
    const err = await rejection(repository().getManifest(image.digest));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/digest mismatch/);
  });

  it('refuses a tagged manifest whose bytes do not match Docker-Content-Digest', async () => {
    proxy.setRules([{ path: /\/manifests\//, action: { type: 'alter' } }]);
    const err = await rejection(repository().getManifest('v1'));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/digest mismatch/);
  });

  it('refuses a blob whose bytes do not match its digest', async () => {
    proxy.setRules([{ path: /\/blobs\//, action: { type: 'alter' } }]);
    const err = await rejection(repository().getBlob(layer.digest, 1 << 20));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/digest mismatch/);
  });

  it('refuses a manifest that is not JSON', async () => {
    proxy.setRules([
      {
        path: /\/manifests\/v1$/,
        action: { type: 'respond', body: 'not json', headers: { 'content-type': MEDIA_TYPES.ociManifest } },
      },
    ]);
    const err = await rejection(repository().getManifest('v1'));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/JSON/);
  });

  it('refuses a manifest whose layers are not descriptors', async () => {
    const body = JSON.stringify({ schemaVersion: 2, layers: [{ digest: 42 }] });
    proxy.setRules([{ path: /\/manifests\/v1$/, action: { type: 'respond', body } }]);
    const err = await rejection(repository().getManifest('v1'));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/descriptor/);
  });

  it('drops Authorization on a cross-origin redirect and still gets the blob', async () => {
    const r = await warmRepository();
    proxy.setRules([{ path: /\/blobs\//, action: { type: 'redirect', to: 'cross-origin' } }]);
    const bytes = await r.getBlob(layer.digest, 1 << 20);
    expect(bytes.length).toBe(layer.size);
    const atOther = proxy.requests.filter((r) => r.server === 'other');
    expect(atOther).toHaveLength(1);
    expect(atOther[0]!.authorization).toBeUndefined();
    // the registry itself did get the credentials
    const atRegistry = proxy.requests.filter((r) => r.server === 'proxy' && r.path.includes('/blobs/'));
    expect(atRegistry.at(-1)!.authorization).toMatch(/^Basic /);
  });

  it('keeps Authorization on a same-origin redirect', async () => {
    const r = await warmRepository();
    proxy.setRules([{ path: /\/blobs\/sha256/, action: { type: 'redirect', to: 'same-origin' } }]);
    await r.getBlob(layer.digest, 1 << 20);
    const redirected = proxy.requests.filter((r) => r.path.startsWith('/__redirected/'));
    expect(redirected).toHaveLength(1);
    expect(redirected[0]!.server).toBe('proxy');
    expect(redirected[0]!.authorization).toMatch(/^Basic /);
  });

  it('gives up after five redirects', async () => {
    proxy.setRules([
      { path: /.*/, action: { type: 'status', status: 307, headers: { location: '/v2/faults/app/blobs/loop' } } },
    ]);
    const err = await rejection(repository().getBlob(layer.digest, 1 << 20));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/redirects/);
  });

  it('does not answer a challenge from a redirect target with credentials', async () => {
    proxy.setRules([
      {
        path: /\/blobs\//,
        action: { type: 'status', status: 307, headers: { location: `${proxy.otherOrigin}/challenge` } },
      },
    ]);
    proxy.setOtherRules([
      {
        path: /^\/challenge/,
        action: {
          type: 'status',
          status: 401,
          headers: { 'www-authenticate': `Bearer realm="${proxy.otherOrigin}/token",service="x"` },
        },
      },
      { path: /^\/token/, action: { type: 'respond', body: JSON.stringify({ token: 'stolen' }) } },
    ]);
    const err = await rejection((await warmRepository()).getBlob(layer.digest, 1 << 20));
    expect(err.kind).toBe('AUTH');
    const atOther = proxy.requests.filter((q) => q.server === 'other');
    expect(atOther.map((q) => q.path)).toEqual(['/challenge']);
    expect(atOther[0]!.authorization).toBeUndefined();
  });

  it('refuses a redirect from the registry to plain HTTP elsewhere', async () => {
    proxy.setRules([
      { path: /\/blobs\//, action: { type: 'status', status: 302, headers: { location: 'http://example.com/blob' } } },
    ]);
    expect((await rejection(repository().getBlob(layer.digest, 1 << 20))).kind).toBe('INSECURE');
  });

  it('checks the digest of redirected blobs too', async () => {
    const r = await warmRepository();
    proxy.setRules([{ path: /\/blobs\//, action: { type: 'redirect', to: 'cross-origin', alter: true } }]);
    const err = await rejection(r.getBlob(layer.digest, 1 << 20));
    expect(err.kind).toBe('BAD_RESPONSE');
    expect(err.message).toMatch(/digest mismatch/);
  });

  describe('referrers API', () => {
    const SIG = 'application/vnd.cncf.notary.signature';
    const fake = (digest: string, artifactType?: string): Descriptor => ({
      mediaType: MEDIA_TYPES.ociManifest,
      digest,
      size: 10,
      ...(artifactType ? { artifactType } : {}),
    });
    const index = (manifests: Descriptor[]) =>
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests });

    it('uses the referrers API when the registry has it, and filters by artifactType', async () => {
      const a = fake(`sha256:${'a'.repeat(64)}`, SIG);
      const b = fake(`sha256:${'b'.repeat(64)}`, 'application/vnd.other');
      const r = await warmRepository();
      proxy.setRules([
        {
          path: new RegExp(`/v2/${repo}/referrers/${image.digest}`),
          action: { type: 'respond', body: index([a, b]), headers: { 'content-type': MEDIA_TYPES.ociIndex } },
        },
      ]);
      expect(await r.listReferrers(image.digest, SIG)).toEqual([a]);
      expect(await r.listReferrers(image.digest)).toEqual([a, b]);
      const asked = proxy.requests.find((q) => q.path.includes('/referrers/'))!;
      expect(asked.path).toContain(`artifactType=${encodeURIComponent(SIG)}`);
      expect(asked.authorization).toMatch(/^Basic /);
      // the API answered: the tag schema was not consulted
      expect(proxy.count(/sha256-/)).toBe(0);
    });

    it('follows Link pages of the referrers API', async () => {
      const a = fake(`sha256:${'a'.repeat(64)}`, SIG);
      const c = fake(`sha256:${'c'.repeat(64)}`, SIG);
      const path = `/v2/${repo}/referrers/${image.digest}`;
      proxy.setRules([
        {
          path: /[?&]page=2/,
          action: { type: 'respond', body: index([c]), headers: { 'content-type': MEDIA_TYPES.ociIndex } },
        },
        {
          path: new RegExp(path),
          action: {
            type: 'respond',
            body: index([a]),
            headers: { 'content-type': MEDIA_TYPES.ociIndex, link: `<${path}?page=2>; rel="next"` },
          },
        },
      ]);
      expect(await repository().listReferrers(image.digest, SIG)).toEqual([a, c]);
    });

    it('refuses a Link page that leaves the registry', async () => {
      const path = `/v2/${repo}/referrers/${image.digest}`;
      proxy.setRules([
        {
          path: new RegExp(path),
          action: {
            type: 'respond',
            body: index([]),
            headers: { 'content-type': MEDIA_TYPES.ociIndex, link: `<http://127.0.0.2:1${path}?page=2>; rel="next"` },
          },
        },
      ]);
      expect((await rejection(repository().listReferrers(image.digest))).kind).toBe('BAD_RESPONSE');
    });

    it('falls back to the tag schema when the API answers something that is not an index', async () => {
      const r = await warmRepository();
      proxy.setRules([
        {
          path: /\/referrers\//,
          action: { type: 'respond', body: '<html>hello</html>', headers: { 'content-type': 'text/html' } },
        },
      ]);
      expect(await r.listReferrers(image.digest)).toEqual([]);
      expect(proxy.count(new RegExp(`/manifests/${image.digest.replace(':', '-')}`))).toBe(1);
    });

    it('reports a failing referrers API instead of falling back', async () => {
      proxy.setRules([{ path: /\/referrers\//, action: { type: 'status', status: 503 } }]);
      expect((await rejection(repository().listReferrers(image.digest))).kind).toBe('UNAVAILABLE');
    });
  });
});

describe('insecure settings', () => {
  it('refuses plain HTTP to a registry that is not on loopback', async () => {
    const c = new RegistryClient({ registries: { 'registry.example.com': { insecure: true } } });
    const err = await rejection(c.repository('registry.example.com', 'app').getManifest('v1'));
    expect(err.kind).toBe('INSECURE');
    expect(c.requestCount).toBe(0);
  });

  it.each(['evil.example@127.0.0.1:5000', 'registry.example.com/path', 'user:pw@host', 'host:port', ''])(
    'refuses %j as a registry host before any request',
    async (host) => {
      const c = new RegistryClient();
      const err = await rejection(c.repository(host, 'app').getManifest('v1'));
      expect(err.kind).toBe('BAD_RESPONSE');
      expect(c.requestCount).toBe(0);
    },
  );

  it('refuses plain HTTP to a name that only starts like loopback', async () => {
    const c = new RegistryClient({ registries: { '127.0.0.1.example.com:5000': { insecure: true } } });
    const err = await rejection(c.repository('127.0.0.1.example.com:5000', 'app').getManifest('v1'));
    expect(err.kind).toBe('INSECURE');
  });
});
