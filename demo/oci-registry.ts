/**
 * A small OCI Distribution registry for the demo, in memory on 127.0.0.1: enough of
 * the read API (manifests by tag or digest, blobs) for the real RegistryClient to talk
 * to it over HTTP, with pushes done in process. It has no referrers API (404), like
 * Distribution 2.8, so the tag-schema fallback is what runs: the `sha256-<hex>` index
 * that lists a keyless image's bundle referrers is an ordinary tag. The tests use Debian's
 * docker-registry instead; the demo must work on a machine without it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Descriptor } from '../src/core/registry.js';

interface Stored {
  bytes: Buffer;
  mediaType: string;
}

export interface DemoRegistry {
  host: string;
  pushBlob(repo: string, bytes: Buffer | string): Promise<Descriptor>;
  pushManifest(repo: string, manifest: object | Buffer, opts: { mediaType: string; tag?: string }): Promise<Descriptor>;
  pushImage(repo: string, tag: string): Promise<Descriptor>;
  stop(): Promise<void>;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function startDemoRegistry(): Promise<DemoRegistry> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, Stored>(); // by digest
  const tags = new Map<string, string>(); // "repo:tag" -> digest

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (url.pathname === '/v2/' || url.pathname === '/v2') return void res.writeHead(200).end('{}');
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) return void res.writeHead(404).end();
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    const digest = kind === 'manifests' ? (ref.startsWith('sha256:') ? ref : tags.get(`${repo}:${ref}`)) : ref;
    const found =
      digest &&
      (kind === 'manifests'
        ? manifests.get(digest)
        : blobs.has(digest)
          ? { bytes: blobs.get(digest)!, mediaType: 'application/octet-stream' }
          : undefined);
    if (!found || !digest)
      return void res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    res.writeHead(200, {
      'content-type': found.mediaType,
      'content-length': found.bytes.length,
      'docker-content-digest': digest,
    });
    res.end(req.method === 'HEAD' ? undefined : found.bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const pushBlob = async (_repo: string, data: Buffer | string): Promise<Descriptor> => {
    const bytes = Buffer.from(data);
    const digest = sha256(bytes);
    blobs.set(digest, bytes);
    return { mediaType: 'application/octet-stream', digest, size: bytes.length };
  };
  const pushManifest = async (
    repo: string,
    manifest: object | Buffer,
    opts: { mediaType: string; tag?: string },
  ): Promise<Descriptor> => {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
    const digest = sha256(bytes);
    manifests.set(digest, { bytes, mediaType: opts.mediaType });
    if (opts.tag) tags.set(`${repo}:${opts.tag}`, digest);
    return { mediaType: opts.mediaType, digest, size: bytes.length };
  };
  const pushImage = async (repo: string, tag: string): Promise<Descriptor> => {
    const config = await pushBlob(
      repo,
      JSON.stringify({
        architecture: 'arm64',
        os: 'linux',
        config: { Env: [`DEMO=${randomBytes(4).toString('hex')}`] },
      }),
    );
    const layer = await pushBlob(repo, randomBytes(512));
    return pushManifest(
      repo,
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
      },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', tag },
    );
  };
  return {
    host,
    pushBlob,
    pushManifest,
    pushImage,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
