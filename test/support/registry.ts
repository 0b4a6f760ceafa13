/**
 * A real Distribution 2.8 registry (Debian's `docker-registry`) for tests: a free loopback
 * port, a temporary config and storage folder, and no auth, htpasswd basic auth, or token
 * auth through a local token server. The harness pushes with its own small HTTP code so
 * tests of the client do not depend on the client they test.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import type { Descriptor } from '../../src/core/registry.js';
import { MEDIA_TYPES } from '../../src/core/registry.js';
import { startTokenServer, type TokenServer } from './token-server.js';

export type RegistryAuth = 'none' | 'basic' | 'token';

export interface TestRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  auth: RegistryAuth;
  /** for basic and token */
  username?: string;
  password?: string;
  storageDir: string;
  /** ready for RegistryClientOptions.registries and the policy's `registries` */
  settings: Record<string, { insecure: true; username?: string; password?: string }>;
  pushBlob(repo: string, bytes: Buffer | string): Promise<Descriptor>;
  /** PUT by tag when given, else by digest */
  pushManifest(repo: string, manifest: object | Buffer, opts: { mediaType: string; tag?: string }): Promise<Descriptor>;
  /** a random small OCI image (config + one layer) → its manifest descriptor */
  pushImage(repo: string, tag?: string): Promise<Descriptor>;
  /** the token server when auth is 'token' (tests may count issued tokens) */
  tokenServer?: TokenServer;
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  auth?: RegistryAuth;
  /** credentials for basic/token (default: a random user and password) */
  username?: string;
  password?: string;
  /** write into storage before the registry starts (see writeManifestToStorage) */
  preload?: (storageDir: string) => Promise<void>;
}

const BINARIES = ['/usr/bin/docker-registry', 'docker-registry', 'registry'];
export const REGISTRY_MISSING = 'docker-registry is not installed: apt-get install -y docker-registry';

function registryBinary(): string | null {
  for (const bin of BINARIES) {
    if (bin.startsWith('/')) {
      if (existsSync(bin)) return bin;
      continue;
    }
    try {
      return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim() || null;
    } catch {
      // not on PATH
    }
  }
  return null;
}

export function registryAvailable(): boolean {
  return registryBinary() !== null;
}

/** Tests call this in beforeAll: a missing registry is a failure with a fix, never a silent skip. */
export function requireRegistry(): void {
  if (!registryAvailable()) throw new Error(REGISTRY_MISSING);
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const bin = registryBinary();
  if (!bin) throw new Error(REGISTRY_MISSING);
  const auth = opts.auth ?? 'none';
  const username = auth === 'none' ? undefined : (opts.username ?? `user-${randomBytes(3).toString('hex')}`);
  const password = auth === 'none' ? undefined : (opts.password ?? randomBytes(12).toString('base64url'));
  const root = await mkdtemp(path.join(tmpdir(), 'ecs-image-gate-registry-'));
  const storageDir = path.join(root, 'storage');
  await mkdir(storageDir, { recursive: true });
  if (opts.preload) await opts.preload(storageDir);

  let tokenServer: TokenServer | undefined;
  let authYaml = '';
  if (auth === 'basic') {
    const htpasswd = path.join(root, 'htpasswd');
    // Distribution accepts bcrypt only; bcryptjs writes $2b$, which Go's bcrypt reads
    await writeFile(htpasswd, `${username}:${bcrypt.hashSync(password!, 5)}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: ecs-image-gate-test\n    path: ${htpasswd}\n`;
  } else if (auth === 'token') {
    tokenServer = await startTokenServer({ username: username!, password: password! });
    const bundle = path.join(root, 'token-root.pem');
    await writeFile(bundle, tokenServer.certificatePem);
    authYaml =
      `auth:\n  token:\n    realm: ${tokenServer.realm}\n    service: ${tokenServer.service}\n` +
      `    issuer: ${tokenServer.issuer}\n    rootcertbundle: ${bundle}\n`;
  }

  let child: ChildProcess | undefined;
  let host = '';
  let lastLog = '';
  // a free port can be taken between probing and binding: try a few times
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    const config = path.join(root, 'config.yml');
    await writeFile(
      config,
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storageDir}\n` +
        `  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n` +
        `http:\n  addr: ${host}\n  secret: ${randomBytes(16).toString('hex')}\n${authYaml}`,
    );
    const proc = spawn(bin, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      lastLog = (lastLog + d.toString()).slice(-2000);
    });
    if (await waitUntilUp(host, proc)) child = proc;
    else proc.kill('SIGKILL');
  }
  if (!child) {
    await tokenServer?.stop();
    await rm(root, { recursive: true, force: true });
    throw new Error(`docker-registry did not start: ${lastLog}`);
  }
  const proc = child;

  const authHeader = (repo: string): Record<string, string> => {
    if (auth === 'basic')
      return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
    if (auth === 'token')
      return { authorization: `Bearer ${tokenServer!.issue(username!, [`repository:${repo}:pull,push`])}` };
    return {};
  };
  const base = `http://${host}`;

  const pushBlob = async (repo: string, content: Buffer | string): Promise<Descriptor> => {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    const digest = sha256(bytes);
    const headers = authHeader(repo);
    const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
    await expectStatus(start, 202, `start upload to ${repo}`);
    const location = new URL(start.headers.get('location')!, base);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: new Uint8Array(bytes),
    });
    await expectStatus(put, 201, `upload blob ${digest} to ${repo}`);
    return { mediaType: 'application/octet-stream', digest, size: bytes.length };
  };

  const pushManifest = async (
    repo: string,
    manifest: object | Buffer,
    opts2: { mediaType: string; tag?: string },
  ): Promise<Descriptor> => {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
    const digest = sha256(bytes);
    const res = await fetch(`${base}/v2/${repo}/manifests/${opts2.tag ?? digest}`, {
      method: 'PUT',
      headers: { ...authHeader(repo), 'content-type': opts2.mediaType },
      body: new Uint8Array(bytes),
    });
    await expectStatus(res, 201, `push manifest to ${repo}:${opts2.tag ?? digest}`);
    return { mediaType: opts2.mediaType, digest, size: bytes.length };
  };

  const pushImage = async (repo: string, tag?: string): Promise<Descriptor> => {
    const config = {
      architecture: 'amd64',
      os: 'linux',
      created: new Date().toISOString(),
      rootfs: { type: 'layers', diff_ids: [`sha256:${randomBytes(32).toString('hex')}`] },
      config: { Env: [`NONCE=${randomBytes(8).toString('hex')}`] },
    };
    const configDesc = await pushBlob(repo, JSON.stringify(config));
    const layerDesc = await pushBlob(repo, randomBytes(256));
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { ...configDesc, mediaType: 'application/vnd.oci.image.config.v1+json' },
      layers: [{ ...layerDesc, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
    };
    return pushManifest(repo, manifest, { mediaType: MEDIA_TYPES.ociManifest, ...(tag ? { tag } : {}) });
  };

  const settings: TestRegistry['settings'] = {
    [host]: { insecure: true, ...(username ? { username, password: password! } : {}) },
  };

  return {
    host,
    auth,
    ...(username ? { username, password: password! } : {}),
    storageDir,
    settings,
    pushBlob,
    pushManifest,
    pushImage,
    ...(tokenServer ? { tokenServer } : {}),
    async stop() {
      await stopProcess(proc);
      await tokenServer?.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * Write a manifest straight into Distribution's filesystem layout (before start), for
 * manifests whose blobs the registry lacks and would refuse on push.
 */
export async function writeManifestToStorage(
  storageDir: string,
  repo: string,
  bytes: Buffer,
  tag?: string,
): Promise<string> {
  const digest = sha256(bytes);
  const hex = digest.slice('sha256:'.length);
  const v2 = path.join(storageDir, 'docker/registry/v2');
  const blobDir = path.join(v2, 'blobs/sha256', hex.slice(0, 2), hex);
  await mkdir(blobDir, { recursive: true });
  await writeFile(path.join(blobDir, 'data'), bytes);
  const manifests = path.join(v2, 'repositories', repo, '_manifests');
  const link = async (dir: string) => {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'link'), digest);
  };
  await link(path.join(manifests, 'revisions/sha256', hex));
  if (tag) {
    await link(path.join(manifests, 'tags', tag, 'current'));
    await link(path.join(manifests, 'tags', tag, 'index/sha256', hex));
  }
  return digest;
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status === status) {
    await res.arrayBuffer();
    return;
  }
  throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(host: string, proc: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    try {
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
