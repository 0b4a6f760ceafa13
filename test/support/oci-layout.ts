/**
 * Writes OCI image layouts for tests, in the two styles tools write them:
 *   - 'cosign': as `cosign save --dir` does: index entries marked with the annotation
 *     `kind` (dev.cosignproject.cosign/image, /sigs, /atts), no tags;
 *   - 'oras': as `oras copy --to-oci-layout` does: every tagged manifest an index entry
 *     with `org.opencontainers.image.ref.name` (the image's tag, `sha256-<hex>.sig`, …).
 * It has the registry harness's push shape, so the cosign test signer writes into it.
 * No test framework imports here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { COSIGN_KINDS, KIND_ANNOTATION, REF_NAME_ANNOTATION } from '../../src/registry/oci-layout.js';
import { MEDIA_TYPES, type Descriptor } from '../../src/core/registry.js';
import type { RepoPusher } from './cosign-signer.js';

export type LayoutStyle = 'cosign' | 'oras';

export class LayoutWriter implements RepoPusher {
  private readonly tagged: { tag: string; descriptor: Descriptor }[] = [];
  private readonly untagged: Descriptor[] = [];

  /** host: the registry the layout stands in for (payloads name host/repo) */
  constructor(
    readonly dir: string,
    readonly host: string,
    readonly style: LayoutStyle,
  ) {
    mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  async pushBlob(_repo: string, bytes: Buffer | string): Promise<Descriptor> {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
    writeFileSync(this.blobPath(digest), buf);
    return { mediaType: 'application/octet-stream', digest, size: buf.length };
  }

  async pushManifest(
    repo: string,
    manifest: object | Buffer,
    opts: { mediaType: string; tag?: string },
  ): Promise<Descriptor> {
    const blob = await this.pushBlob(
      repo,
      Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest)),
    );
    const descriptor = { ...blob, mediaType: opts.mediaType };
    if (opts.tag) this.tagged.push({ tag: opts.tag, descriptor });
    else this.untagged.push(descriptor);
    this.writeIndex();
    return descriptor;
  }

  /** A small random single-layer OCI image. */
  async pushImage(repo: string, tag?: string): Promise<Descriptor> {
    const layer = await this.pushBlob(repo, randomBytes(128));
    const config = await this.pushBlob(
      repo,
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }),
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

  blobPath(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  private writeIndex(): void {
    const manifests = [
      ...this.tagged.map(({ tag, descriptor }) => ({ ...descriptor, annotations: this.annotationsFor(tag) })),
      ...this.untagged,
    ];
    writeFileSync(
      path.join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }),
    );
  }

  private annotationsFor(tag: string): Record<string, string> {
    if (this.style === 'oras') return { [REF_NAME_ANNOTATION]: tag };
    const kind = tag.endsWith('.sig')
      ? COSIGN_KINDS.sigs
      : tag.endsWith('.att')
        ? COSIGN_KINDS.atts
        : COSIGN_KINDS.image;
    return { [KIND_ANNOTATION]: kind };
  }
}
