/**
 * Challenge parsing, loopback and origin rules, and the token flow against a scripted
 * registry (a standalone fault proxy) — where the credentials and tokens go.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseChallenge } from '../src/registry/auth.js';
import { RegistryClient } from '../src/registry/client.js';
import { isLoopbackHost, registryOrigin } from '../src/registry/http.js';
import { MEDIA_TYPES } from '../src/core/registry.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { sha256 } from './support/registry.js';
import { rejection } from './support/rejection.js';

describe('parseChallenge', () => {
  it('reads a Docker Hub bearer challenge', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/nginx:pull',
    });
  });

  it('reads unquoted values, odd spacing, escapes and case', () => {
    expect(parseChallenge('bearer  Realm = https://r.example/t , service="a \\"b\\""')).toEqual({
      scheme: 'bearer',
      realm: 'https://r.example/t',
      service: 'a "b"',
    });
  });

  it('reads Basic', () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', realm: 'Registry Realm' });
  });

  it('picks a usable challenge out of several', () => {
    expect(parseChallenge('Negotiate, Bearer realm="https://r.example/t"')).toEqual({
      scheme: 'bearer',
      realm: 'https://r.example/t',
    });
  });

  it.each([null, '', 'Bearer', 'Bearer service="x"', 'Negotiate abc', '==='])(
    'finds nothing usable in %j',
    (header) => {
      expect(parseChallenge(header)).toBeNull();
    },
  );
});

describe('isLoopbackHost and registryOrigin', () => {
  it.each(['127.0.0.1:5000', '127.1.2.3', 'localhost:5000', 'localhost', '[::1]:5000', '[::1]'])(
    '%s is loopback',
    (h) => {
      expect(isLoopbackHost(h)).toBe(true);
    },
  );

  it.each([
    '10.0.0.1:5000',
    '127.0.0.1.nip.io',
    'localhost.example.com',
    '128.0.0.1',
    '127.0.0.256',
    '[::2]:5000',
    'registry.example.com',
  ])('%s is not loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });

  it('uses HTTPS unless an insecure loopback registry', () => {
    expect(registryOrigin('registry.example.com', undefined)).toBe('https://registry.example.com');
    expect(registryOrigin('127.0.0.1:5000', undefined)).toBe('https://127.0.0.1:5000');
    expect(registryOrigin('127.0.0.1:5000', { insecure: true })).toBe('http://127.0.0.1:5000');
    expect(registryOrigin('docker.io', undefined)).toBe('https://registry-1.docker.io');
    expect(() => registryOrigin('10.1.2.3:5000', { insecure: true })).toThrow(/loopback/);
  });
});

describe('token flow against a scripted registry', () => {
  let registry: FaultProxy;
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, layers: [] });
  const digest = sha256(manifest);

  beforeAll(async () => {
    registry = await startFaultProxy(); // standalone: nothing behind it
  });
  afterAll(async () => registry?.stop());
  beforeEach(() => registry.reset());

  const challengeThenServe = (realm: string) =>
    registry.setRules([
      {
        path: /\/manifests\//,
        times: 1,
        action: {
          type: 'status',
          status: 401,
          headers: { 'www-authenticate': `Bearer realm="${realm}",service="svc"` },
        },
      },
      {
        path: /\/manifests\//,
        action: { type: 'respond', body: manifest, headers: { 'content-type': MEDIA_TYPES.ociManifest } },
      },
    ]);

  it('gets an anonymous token without sending any credentials to the realm', async () => {
    challengeThenServe(`${registry.otherOrigin}/token`);
    registry.setOtherRules([
      { path: /^\/token/, action: { type: 'respond', body: JSON.stringify({ access_token: 'anon-token' }) } },
    ]);
    const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
    expect((await client.repository(registry.host, 'lib/app').getManifest(digest)).descriptor.digest).toBe(digest);
    const token = registry.requests.find((q) => q.server === 'other')!;
    expect(token.authorization).toBeUndefined();
    expect(new URL(token.path, 'http://x').searchParams.get('scope')).toBe('repository:lib/app:pull');
    expect(new URL(token.path, 'http://x').searchParams.get('service')).toBe('svc');
    expect(registry.requests.filter((q) => q.server === 'proxy').map((q) => q.authorization)).toEqual([
      undefined,
      'Bearer anon-token',
    ]);
    expect(client.requestCount).toBe(3);
  });

  it('sends configured credentials to the realm, and only there and to the registry', async () => {
    challengeThenServe(`${registry.otherOrigin}/token`);
    registry.setOtherRules([
      { path: /^\/token/, action: { type: 'respond', body: JSON.stringify({ token: 't1', expires_in: 300 }) } },
    ]);
    const client = new RegistryClient({
      registries: { [registry.host]: { insecure: true, username: 'u', password: 'p' } },
    });
    await client.repository(registry.host, 'lib/app').getManifest(digest);
    const token = registry.requests.find((q) => q.server === 'other')!;
    expect(token.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('sends the registry credentials to the realm the registry names, the token to the registry, nothing across a redirect', async () => {
    const blob = Buffer.from('payload');
    registry.setRules([
      {
        path: /\/manifests\//,
        times: 1,
        action: {
          type: 'status',
          status: 401,
          headers: { 'www-authenticate': `Bearer realm="${registry.otherOrigin}/token",service="svc"` },
        },
      },
      {
        path: /\/manifests\//,
        action: { type: 'respond', body: manifest, headers: { 'content-type': MEDIA_TYPES.ociManifest } },
      },
      {
        path: /\/blobs\//,
        action: { type: 'status', status: 307, headers: { location: `${registry.otherOrigin}/s3/blob` } },
      },
    ]);
    registry.setOtherRules([
      { path: /^\/token/, action: { type: 'respond', body: JSON.stringify({ token: 't1', expires_in: 300 }) } },
      { path: /^\/s3\/blob/, action: { type: 'respond', body: blob } },
    ]);
    const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const repo = new RegistryClient({
      registries: { [registry.host]: { insecure: true, username: 'u', password: 'p' } },
    }).repository(registry.host, 'lib/app');
    await repo.getManifest(digest);
    expect((await repo.getBlob(sha256(blob), 1024)).equals(blob)).toBe(true);
    const sent = registry.requests.map((q) => `${q.server} ${q.path.split('?')[0]} ${q.authorization ?? '-'}`);
    expect(sent).toEqual([
      `proxy /v2/lib/app/manifests/${digest} -`,
      `other /token ${basic}`, // the realm named by the registry's challenge: the token protocol needs the credentials there
      `proxy /v2/lib/app/manifests/${digest} Bearer t1`,
      `proxy /v2/lib/app/blobs/${sha256(blob)} Bearer t1`,
      'other /s3/blob -', // a redirect to another origin: neither credentials nor token
    ]);
  });

  it('does not send the credentials on when the realm redirects to another origin', async () => {
    challengeThenServe(`${registry.otherOrigin}/token`);
    registry.setOtherRules([
      {
        path: /^\/token/,
        action: { type: 'status', status: 307, headers: { location: `${registry.origin}/elsewhere/token` } },
      },
    ]);
    registry.setRules([
      {
        path: /\/manifests\//,
        times: 1,
        action: {
          type: 'status',
          status: 401,
          headers: { 'www-authenticate': `Bearer realm="${registry.otherOrigin}/token",service="svc"` },
        },
      },
      { path: /^\/elsewhere\/token/, action: { type: 'respond', body: JSON.stringify({ token: 't2' }) } },
      {
        path: /\/manifests\//,
        action: { type: 'respond', body: manifest, headers: { 'content-type': MEDIA_TYPES.ociManifest } },
      },
    ]);
    const client = new RegistryClient({
      registries: { [registry.host]: { insecure: true, username: 'u', password: 'p' } },
    });
    await client.repository(registry.host, 'lib/app').getManifest(digest);
    const redirected = registry.requests.find((q) => q.path.startsWith('/elsewhere/token'))!;
    expect(redirected.authorization).toBeUndefined();
    expect(registry.requests.find((q) => q.server === 'other')!.authorization).toMatch(/^Basic /);
  });

  it('answers AUTH when the realm refuses the credentials', async () => {
    challengeThenServe(`${registry.otherOrigin}/token`);
    registry.setOtherRules([{ path: /^\/token/, action: { type: 'status', status: 401 } }]);
    const client = new RegistryClient({
      registries: { [registry.host]: { insecure: true, username: 'u', password: 'bad' } },
    });
    expect((await rejection(client.repository(registry.host, 'lib/app').getManifest(digest))).kind).toBe('AUTH');
  });

  it('answers UNAVAILABLE when the realm fails', async () => {
    challengeThenServe(`${registry.otherOrigin}/token`);
    registry.setOtherRules([{ path: /^\/token/, action: { type: 'status', status: 503 } }]);
    const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
    expect((await rejection(client.repository(registry.host, 'lib/app').getManifest(digest))).kind).toBe('UNAVAILABLE');
  });

  it('answers BAD_RESPONSE when the realm answers without a token', async () => {
    challengeThenServe(`${registry.otherOrigin}/token`);
    registry.setOtherRules([
      { path: /^\/token/, action: { type: 'respond', body: JSON.stringify({ nothing: true }) } },
    ]);
    const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
    expect((await rejection(client.repository(registry.host, 'lib/app').getManifest(digest))).kind).toBe(
      'BAD_RESPONSE',
    );
  });

  it('follows a loopback realm for a registry mapped by resolveHost (test hook)', async () => {
    challengeThenServe(`${registry.otherOrigin}/token`);
    registry.setOtherRules([
      { path: /^\/token/, action: { type: 'respond', body: JSON.stringify({ token: 'mapped' }) } },
    ]);
    const client = new RegistryClient({
      resolveHost: (h) => (h === 'registry.example.test' ? { origin: registry.origin } : undefined),
    });
    expect((await client.repository('registry.example.test', 'lib/app').getManifest(digest)).descriptor.digest).toBe(
      digest,
    );
    expect(registry.requests.at(-1)!.authorization).toBe('Bearer mapped');
  });

  it('refuses a plain-HTTP realm that is not on loopback', async () => {
    challengeThenServe('http://auth.example.com/token');
    const client = new RegistryClient({
      registries: { [registry.host]: { insecure: true, username: 'u', password: 'p' } },
    });
    expect((await rejection(client.repository(registry.host, 'lib/app').getManifest(digest))).kind).toBe('INSECURE');
    expect(client.requestCount).toBe(1); // the credentials never left
  });

  it('answers AUTH for a 401 without a challenge', async () => {
    registry.setRules([{ path: /\/manifests\//, action: { type: 'status', status: 401 } }]);
    const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
    expect((await rejection(client.repository(registry.host, 'lib/app').getManifest(digest))).kind).toBe('AUTH');
  });

  it('answers AUTH for a Basic challenge when no credentials are configured', async () => {
    registry.setRules([
      {
        path: /\/manifests\//,
        action: { type: 'status', status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } },
      },
    ]);
    const client = new RegistryClient({ registries: { [registry.host]: { insecure: true } } });
    const err = await rejection(client.repository(registry.host, 'lib/app').getManifest(digest));
    expect(err.kind).toBe('AUTH');
    expect(err.message).toMatch(/credentials/);
  });
});
