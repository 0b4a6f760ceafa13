/**
 * The referrers API path (ECR, Distribution 3, …): docker-registry 2.8 has no API, so a
 * small stand-in registry serves manifests, blobs and `GET /v2/<repo>/referrers/<digest>`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import type { Descriptor } from '../src/core/registry.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import { verifyContext } from './support/memory-repo.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  startMockSigstore,
  type MockSigstore,
} from './support/sigstore-signer.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const GH = 'https://token.actions.githubusercontent.com';
const SUB = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';

/** Just enough OCI Distribution: PUT/GET manifests and blobs, and the referrers API. */
class StandIn {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  readonly requests: string[] = [];
  server!: Server;
  host = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.requests.push(`${req.method} ${url.pathname}`);
      const m = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(url.pathname);
      if (!m) return void res.writeHead(url.pathname === '/v2/' ? 200 : 404).end();
      const [, , kind, ref] = m;
      if (kind === 'referrers') {
        const manifests = [...this.manifests.entries()]
          .map(([digest, { bytes }]) => ({ digest, json: JSON.parse(bytes.toString()), size: bytes.length }))
          .filter((e) => e.json.subject?.digest === ref)
          .map((e) => ({
            mediaType: OCI_MANIFEST,
            digest: e.digest,
            size: e.size,
            artifactType: e.json.artifactType ?? e.json.config?.mediaType,
          }));
        return void res
          .writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' })
          .end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
      }
      const found = kind === 'blobs' ? this.blobs.get(ref!) : this.manifests.get(ref!)?.bytes;
      if (!found) return void res.writeHead(404).end();
      res
        .writeHead(200, {
          'content-type': kind === 'blobs' ? 'application/octet-stream' : this.manifests.get(ref!)!.mediaType,
          'docker-content-digest': ref!,
        })
        .end(found);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  // RepoPusher
  async pushBlob(_repo: string, bytes: Buffer): Promise<Descriptor> {
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType: 'application/octet-stream', digest, size: bytes.length };
  }
  async pushManifest(
    _repo: string,
    manifest: object | Buffer,
    opts: { mediaType: string; tag?: string },
  ): Promise<Descriptor> {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
    const digest = sha256(bytes);
    this.manifests.set(digest, { bytes, mediaType: opts.mediaType });
    if (opts.tag) this.manifests.set(opts.tag, { bytes, mediaType: opts.mediaType });
    return { mediaType: opts.mediaType, digest, size: bytes.length };
  }
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

describe('Sigstore bundles through the OCI referrers API', () => {
  const reg = new StandIn();
  let mock: MockSigstore;
  let rootFile: string;

  beforeAll(async () => {
    [mock] = await Promise.all([startMockSigstore(), reg.start()]);
    rootFile = join(mkdtempSync(join(tmpdir(), 'sigstore-root-')), 'root.json');
    writeFileSync(rootFile, mock.trustedRoot);
  });
  afterAll(async () => {
    await mock?.stop();
    await new Promise((r) => reg.server.close(r));
  });

  async function signedImage(name: string): Promise<Descriptor> {
    const config = await reg.pushBlob('app', Buffer.from(`{"n":"${name}"}`));
    const image = await reg.pushManifest(
      'app',
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' },
        layers: [],
      },
      { mediaType: OCI_MANIFEST },
    );
    const bundle = await signKeyless(mock, cosignStatement(image.digest, `${reg.host}/app`), {
      claims: { iss: GH, sub: SUB },
    });
    await pushBundle(reg, 'app', image, bundle, { tagSchema: false });
    return image;
  }

  it('admits a keyless bundle found through the API: three requests per image, no tag-schema or .sig lookups', async () => {
    const a = await signedImage('a');
    const b = await signedImage('b');
    const client = new RegistryClient({ registries: { [reg.host]: { insecure: true } } });
    const verifier = createCosignVerifier(
      { type: 'cosign', keyless: { identities: [{ issuer: GH, subject: SUB }] }, trustedRoot: rootFile },
      { path: (p) => p, keySource: () => pemKeySource('unused') },
    );
    reg.requests.length = 0;
    expect(await verifier.verify(verifyContext(client.repository(reg.host, 'app'), a.digest))).toMatchObject({
      ok: true,
    });
    expect(await verifier.verify(verifyContext(client.repository(reg.host, 'app'), b.digest))).toMatchObject({
      ok: true,
    });
    const forB = reg.requests.slice(reg.requests.length - 3);
    expect(forB).toEqual([
      `GET /v2/app/referrers/${b.digest}`,
      expect.stringMatching(/^GET \/v2\/app\/manifests\/sha256:/),
      expect.stringMatching(/^GET \/v2\/app\/blobs\/sha256:/),
    ]);
    expect(reg.requests).toHaveLength(6);
    expect(reg.requests.some((r) => r.includes('sha256-'))).toBe(false);
  });
});
