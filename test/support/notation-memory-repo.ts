/** An in-memory RepositoryClient: manifests, blobs and referrers, digests checked like a registry. */
import { RegistryError, type Descriptor, type Manifest, type RepositoryClient } from '../../src/core/registry.js';
import { digestOf } from './notation-signer.js';

export class MemoryRepo implements RepositoryClient {
  readonly manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  readonly blobs = new Map<string, Buffer>();
  readonly referrers = new Map<string, Descriptor[]>();
  requests = 0;

  constructor(
    readonly registry = 'registry.example.com',
    readonly repository = 'team/app',
  ) {}

  putManifest(bytes: Buffer, mediaType = 'application/vnd.oci.image.manifest.v1+json'): Descriptor {
    const digest = digestOf(bytes);
    this.manifests.set(digest, { bytes, mediaType });
    const json = JSON.parse(bytes.toString()) as { subject?: Descriptor; artifactType?: string };
    if (json.subject) {
      const list = this.referrers.get(json.subject.digest) ?? [];
      list.push({
        mediaType,
        digest,
        size: bytes.length,
        ...(json.artifactType ? { artifactType: json.artifactType } : {}),
      });
      this.referrers.set(json.subject.digest, list);
    }
    return { mediaType, digest, size: bytes.length };
  }

  putBlob(bytes: Buffer): Descriptor {
    const digest = digestOf(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType: 'application/octet-stream', digest, size: bytes.length };
  }

  async getManifest(reference: string): Promise<Manifest> {
    const m = await this.findManifest(reference);
    if (!m) throw new RegistryError('NOT_FOUND', `manifest ${reference} not found`, 404);
    return m;
  }

  async findManifest(reference: string): Promise<Manifest | null> {
    this.requests++;
    const m = this.manifests.get(reference);
    if (!m) return null;
    return {
      descriptor: { mediaType: m.mediaType, digest: reference, size: m.bytes.length },
      bytes: m.bytes,
      json: JSON.parse(m.bytes.toString()),
    };
  }

  async getBlob(digest: string, maxBytes: number): Promise<Buffer> {
    this.requests++;
    const b = this.blobs.get(digest);
    if (!b) throw new RegistryError('NOT_FOUND', `blob ${digest} not found`, 404);
    if (b.length > maxBytes) throw new RegistryError('BAD_RESPONSE', `blob ${digest} is larger than ${maxBytes} bytes`);
    return b;
  }

  async listReferrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    this.requests++;
    return (this.referrers.get(digest) ?? []).filter((d) => !artifactType || d.artifactType === artifactType);
  }

  async resolveTag(tag: string): Promise<string> {
    throw new RegistryError('NOT_FOUND', `tag ${tag} not found`, 404);
  }
}
