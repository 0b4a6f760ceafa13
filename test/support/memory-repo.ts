/**
 * An in-memory registry for verifier unit tests. It keeps the same promises as the real
 * client (digest-checked manifests and blobs, size caps, NOT_FOUND vs null) and pushes
 * with the same shape as the docker-registry harness (`pushBlob`, `pushManifest`,
 * `pushImage`), so a test helper such as the cosign signer works against either.
 * Faults can be injected to check that registry errors propagate.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseReference } from '../../src/core/reference.js';
import type { VerifyContext } from '../../src/core/verifier.js';
import {
  MEDIA_TYPES,
  RegistryError,
  type Descriptor,
  type Manifest,
  type ManifestJson,
  type RepositoryClient,
} from '../../src/core/registry.js';

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

export class MemoryRegistry {
  readonly host = 'registry.memory.test';
  private readonly blobs = new Map<string, Buffer>(); // key: repo@digest
  private readonly manifests = new Map<string, StoredManifest>(); // key: repo@digest
  private readonly tags = new Map<string, string>(); // key: repo:tag → digest
  /** every read, as "manifest repo ref" / "blob repo digest", for tests that count fetches */
  readonly requests: string[] = [];
  /** when set, the next reads of this kind throw it (the real client would) */
  fault: { blob?: RegistryError; manifest?: RegistryError } = {};

  async pushBlob(repo: string, bytes: Buffer): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    this.blobs.set(`${repo}@${digest}`, Buffer.from(bytes));
    return { mediaType: 'application/octet-stream', digest, size: bytes.length };
  }

  async pushManifest(
    repo: string,
    manifest: object | Buffer,
    opts: { mediaType: string; tag?: string },
  ): Promise<Descriptor> {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
    const digest = sha256Digest(bytes);
    this.manifests.set(`${repo}@${digest}`, { bytes, mediaType: opts.mediaType });
    if (opts.tag) this.tags.set(`${repo}:${opts.tag}`, digest);
    return { mediaType: opts.mediaType, digest, size: bytes.length };
  }

  /** A small random single-layer image, as the registry harness pushes one. */
  async pushImage(repo: string, tag?: string): Promise<Descriptor> {
    const layer = await this.pushBlob(repo, randomBytes(64));
    const config = await this.pushBlob(
      repo,
      Buffer.from(
        JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }),
      ),
    );
    return this.pushManifest(
      repo,
      {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' },
        layers: [{ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
      },
      { mediaType: MEDIA_TYPES.ociManifest, ...(tag ? { tag } : {}) },
    );
  }

  /** Replace the stored bytes of a blob without changing its digest: a corrupt or lying registry. */
  corruptBlob(repo: string, digest: string, bytes: Buffer): void {
    this.blobs.set(`${repo}@${digest}`, bytes);
  }

  repository(repo: string): RepositoryClient {
    return new MemoryRepository(this, repo);
  }

  /** @internal reads for MemoryRepository */
  readManifest(repo: string, reference: string): StoredManifest | undefined {
    this.requests.push(`manifest ${repo} ${reference}`);
    if (this.fault.manifest) throw this.fault.manifest;
    const digest = reference.startsWith('sha256:') ? reference : this.tags.get(`${repo}:${reference}`);
    return digest ? this.manifests.get(`${repo}@${digest}`) : undefined;
  }

  /** @internal */
  readBlob(repo: string, digest: string): Buffer | undefined {
    this.requests.push(`blob ${repo} ${digest}`);
    if (this.fault.blob) throw this.fault.blob;
    return this.blobs.get(`${repo}@${digest}`);
  }

  /** @internal */
  referrersOf(repo: string, digest: string): Descriptor[] {
    const found: Descriptor[] = [];
    for (const [key, stored] of this.manifests) {
      if (!key.startsWith(`${repo}@`)) continue;
      const json = JSON.parse(stored.bytes.toString('utf8')) as ManifestJson;
      if (json.subject?.digest !== digest) continue;
      const artifactType = json.artifactType ?? json.config?.mediaType;
      found.push({
        mediaType: stored.mediaType,
        digest: sha256Digest(stored.bytes),
        size: stored.bytes.length,
        ...(artifactType ? { artifactType } : {}),
        ...(json.annotations ? { annotations: json.annotations } : {}),
      });
    }
    return found;
  }
}

class MemoryRepository implements RepositoryClient {
  readonly registry: string;

  constructor(
    private readonly store: MemoryRegistry,
    readonly repository: string,
  ) {
    this.registry = store.host;
  }

  async getManifest(reference: string, signal?: AbortSignal): Promise<Manifest> {
    const found = await this.findManifest(reference, signal);
    if (!found) throw new RegistryError('NOT_FOUND', `manifest ${this.repository}:${reference} not found`, 404);
    return found;
  }

  async findManifest(reference: string, signal?: AbortSignal): Promise<Manifest | null> {
    signal?.throwIfAborted();
    const stored = this.store.readManifest(this.repository, reference);
    if (!stored) return null;
    const digest = sha256Digest(stored.bytes);
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError('BAD_RESPONSE', `manifest ${reference} has digest ${digest}`);
    }
    return {
      descriptor: { mediaType: stored.mediaType, digest, size: stored.bytes.length },
      bytes: stored.bytes,
      json: JSON.parse(stored.bytes.toString('utf8')) as ManifestJson,
    };
  }

  async getBlob(digest: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    const bytes = this.store.readBlob(this.repository, digest);
    if (!bytes) throw new RegistryError('NOT_FOUND', `blob ${digest} not found in ${this.repository}`, 404);
    if (bytes.length > maxBytes)
      throw new RegistryError('BAD_RESPONSE', `blob ${digest} is larger than ${maxBytes} bytes`);
    if (sha256Digest(bytes) !== digest)
      throw new RegistryError('BAD_RESPONSE', `blob ${digest} does not match its digest`);
    return bytes;
  }

  async listReferrers(digest: string, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[]> {
    signal?.throwIfAborted();
    return this.store
      .referrersOf(this.repository, digest)
      .filter((d) => !artifactType || d.artifactType === artifactType);
  }

  async resolveTag(tag: string, signal?: AbortSignal): Promise<string> {
    return (await this.getManifest(tag, signal)).descriptor.digest;
  }
}

/** A VerifyContext for verifier tests: the image `digest` in `repo` (any RepositoryClient). */
export function verifyContext(
  repo: RepositoryClient,
  digest: string,
  signal = new AbortController().signal,
): VerifyContext {
  return {
    target: {
      ref: parseReference(`${repo.registry}/${repo.repository}@${digest}`),
      digest,
      descriptor: async () => (await repo.getManifest(digest, signal)).descriptor,
    },
    repo,
    signal,
    now: new Date(),
  };
}
