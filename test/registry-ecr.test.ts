/**
 * ECR: credentials from ecr:GetAuthorizationToken (a mocked ECRClient), sent as Basic to
 * a real docker-registry whose htpasswd user is AWS, reached through a fault proxy under
 * an ECR host name (the client's test-only resolveHost hook).
 */
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import { parseEcrHost } from '../src/registry/ecr.js';
import type { Descriptor } from '../src/core/registry.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';
import { rejection } from './support/rejection.js';

const ECR_HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const PASSWORD = 'ecr-password-1';
const HOUR = 3600_000;

const ecrMock = mockClient(ECRClient);

function tokenAnswer(password: string, expiresInMs = 12 * HOUR) {
  return {
    authorizationData: [
      {
        authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
        expiresAt: new Date(Date.now() + expiresInMs),
        proxyEndpoint: `https://${ECR_HOST}`,
      },
    ],
  };
}

describe('ECR registries', () => {
  let reg: TestRegistry;
  let proxy: FaultProxy;
  let image: Descriptor;
  let regions: string[];
  const repo = 'team/app';

  const newClient = () =>
    new RegistryClient({
      ecrClientFor: (region) => {
        regions.push(region);
        return new ECRClient({ region, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' } });
      },
      resolveHost: (host) => (host === ECR_HOST ? { origin: proxy.origin } : undefined),
    });

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry({ auth: 'basic', username: 'AWS', password: PASSWORD });
    proxy = await startFaultProxy(reg.host);
    image = await reg.pushImage(repo, 'v1');
  });
  afterAll(async () => {
    ecrMock.restore();
    await proxy?.stop();
    await reg?.stop();
  });
  beforeEach(() => {
    ecrMock.reset();
    proxy.reset();
    regions = [];
  });

  it('fetches the token once for two requests and sends it up front', async () => {
    ecrMock.on(GetAuthorizationTokenCommand).resolves(tokenAnswer(PASSWORD));
    const client = newClient();
    const r = client.repository(ECR_HOST, repo);
    expect((await r.getManifest('v1')).descriptor.digest).toBe(image.digest);
    expect(await r.resolveTag('v1')).toBe(image.digest);
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
    expect(regions).toEqual(['us-east-1']);
    // no 401 round trip: both requests carried the ECR credentials
    expect(proxy.requests.map((q) => q.authorization)).toEqual([
      `Basic ${Buffer.from(`AWS:${PASSWORD}`).toString('base64')}`,
      `Basic ${Buffer.from(`AWS:${PASSWORD}`).toString('base64')}`,
    ]);
    expect(client.requestCount).toBe(2);
  });

  it('shares one GetAuthorizationToken call among concurrent misses', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    ecrMock.on(GetAuthorizationTokenCommand).callsFake(async () => {
      await gate;
      return tokenAnswer(PASSWORD);
    });
    const client = newClient();
    const pending = Promise.all([
      client.repository(ECR_HOST, repo).getManifest('v1'),
      client.repository(ECR_HOST, repo).resolveTag('v1'),
      client.repository(ECR_HOST, 'team/other').findManifest('v1'),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const [manifest, digest, absent] = await pending;
    expect(manifest.descriptor.digest).toBe(image.digest);
    expect(digest).toBe(image.digest);
    expect(absent).toBeNull();
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
  });

  it('fetches a new token when the cached one is within the expiry margin', async () => {
    ecrMock.on(GetAuthorizationTokenCommand).resolves(tokenAnswer(PASSWORD, 60_000));
    const r = newClient().repository(ECR_HOST, repo);
    await r.getManifest('v1');
    await r.getManifest('v1');
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
  });

  it('replaces a token the registry refuses, once', async () => {
    ecrMock.on(GetAuthorizationTokenCommand).resolvesOnce(tokenAnswer('revoked')).resolves(tokenAnswer(PASSWORD));
    const r = newClient().repository(ECR_HOST, repo);
    expect((await r.getManifest('v1')).descriptor.digest).toBe(image.digest);
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
  });

  it('answers AUTH when ECR keeps handing out a token the registry refuses', async () => {
    ecrMock.on(GetAuthorizationTokenCommand).resolves(tokenAnswer('wrong'));
    const err = await rejection(newClient().repository(ECR_HOST, repo).getManifest('v1'));
    expect(err.kind).toBe('AUTH');
    // a second GetAuthorizationToken gave the same token: retrying it would be pointless
    expect(ecrMock.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
    expect(proxy.count()).toBe(1);
  });

  it('answers AUTH when GetAuthorizationToken is denied', async () => {
    ecrMock.on(GetAuthorizationTokenCommand).rejects(
      Object.assign(new Error('not authorized to perform ecr:GetAuthorizationToken'), {
        name: 'AccessDeniedException',
      }),
    );
    const err = await rejection(newClient().repository(ECR_HOST, repo).getManifest('v1'));
    expect(err.kind).toBe('AUTH');
    expect(err.message).toMatch(/AccessDeniedException/);
    expect(proxy.count()).toBe(0); // nothing went to the registry without credentials
  });

  it('answers UNAVAILABLE when ECR throttles', async () => {
    ecrMock
      .on(GetAuthorizationTokenCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const err = await rejection(newClient().repository(ECR_HOST, repo).getManifest('v1'));
    expect(err.kind).toBe('UNAVAILABLE');
    expect(err.transient).toBe(true);
  });

  it("answers TIMEOUT when the caller's deadline passes during GetAuthorizationToken", async () => {
    let calls = 0;
    ecrMock.on(GetAuthorizationTokenCommand).callsFake(() => {
      calls++;
      return new Promise(() => undefined); // never answers (the mock does not see the SDK's abortSignal)
    });
    const controller = new AbortController();
    const pending = newClient().repository(ECR_HOST, repo).getManifest('v1', controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error('deadline'));
    const err = await rejection(pending);
    expect(err.kind).toBe('TIMEOUT');
    expect(err.message).toMatch(/deadline/);
    expect(calls).toBe(1);
    expect(proxy.count()).toBe(0);
  });

  it('does not cache a failed token call', async () => {
    ecrMock
      .on(GetAuthorizationTokenCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves(tokenAnswer(PASSWORD));
    const r = newClient().repository(ECR_HOST, repo);
    await rejection(r.getManifest('v1'));
    expect((await r.getManifest('v1')).descriptor.digest).toBe(image.digest);
  });

  it('drops the ECR credentials when a blob redirects to another origin (S3)', async () => {
    ecrMock.on(GetAuthorizationTokenCommand).resolves(tokenAnswer(PASSWORD));
    const r = newClient().repository(ECR_HOST, repo);
    const layer = (await r.getManifest(image.digest)).json.layers![0]!;
    proxy.setRules([{ path: /\/blobs\//, action: { type: 'redirect', to: 'cross-origin' } }]);
    expect((await r.getBlob(layer.digest, 1 << 20)).length).toBe(layer.size);
    const s3 = proxy.requests.filter((q) => q.server === 'other');
    expect(s3).toHaveLength(1);
    expect(s3[0]!.authorization).toBeUndefined();
  });
});

describe('parseEcrHost', () => {
  it.each([
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com', { accountId: '123456789012', region: 'us-east-1', fips: false }],
    [
      '123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com',
      { accountId: '123456789012', region: 'us-gov-west-1', fips: true },
    ],
    [
      '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
      { accountId: '123456789012', region: 'cn-north-1', fips: false },
    ],
    ['123456789012.dkr-ecr.eu-west-1.on.aws', { accountId: '123456789012', region: 'eu-west-1', fips: false }],
  ])('recognises %s', (host, expected) => {
    expect(parseEcrHost(host)).toEqual(expected);
  });

  it.each([
    'public.ecr.aws',
    '12345678901.dkr.ecr.us-east-1.amazonaws.com',
    '123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example',
    '123456789012.dkr.ecr.us-east-1.amazonaws.com:443',
    'evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com',
  ])('does not take %s for ECR', (host) => {
    expect(parseEcrHost(host)).toBeNull();
  });
});
