/**
 * A repository served from an OCI image layout directory (`oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`) instead of the network, so a policy can be tested in CI
 * without registry credentials (`ecs-image-gate test --layout host/repo=DIR`).
 *
 * Two ways tools name what is in a layout, both understood:
 *   - `cosign save --dir`: index entries marked with the annotation `kind`:
 *     `dev.cosignproject.cosign/image` (or `/imageIndex`) for the image, `/sigs` for its
 *     signature manifest and `/atts` for its attestations; no tags. The `.sig` and `.att`
 *     tags cosign looks up are answered from those entries, and since the layout holds
 *     one image, a tag names that image.
 *   - `oras copy --to-oci-layout` (and most other tools): entries carry the tag in
 *     `org.opencontainers.image.ref.name` (`1.2`, `sha256-<hex>.sig`, …); OCI 1.1
 *     referrers are manifests whose `subject` names the image.
 *
 * The same promises as the network client: every manifest and blob is checked against
 * its digest and capped in size, and a missing manifest is null / NOT_FOUND.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { descriptorList, parseManifestJson } from './manifest-json.js';
import {
  type Descriptor,
  type Manifest,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPES,
  RegistryError,
  type RepositoryClient,
} from '../core/registry.js';

export const KIND_ANNOTATION = 'kind';
export const COSIGN_KINDS = {
  image: 'dev.cosignproject.cosign/image',
  imageIndex: 'dev.cosignproject.cosign/imageIndex',
  sigs: 'dev.cosignproject.cosign/sigs',
  atts: 'dev.cosignproject.cosign/atts',
} as const;
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const COSIGN_TAG = /^(sha256-[a-f0-9]{64})\.(sig|att)$/;

export class OciLayoutRepository implements RepositoryClient {
  #index: Promise<Descriptor[]> | undefined;

  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly dir: string,
  ) {}

  async getManifest(reference: string, signal?: AbortSignal): Promise<Manifest> {
    const found = await this.findManifest(reference, signal);
    if (!found)
      throw new RegistryError(
        'NOT_FOUND',
        `manifest ${this.#name(reference)} not found in the layout ${this.dir}`,
        404,
      );
    return found;
  }

  async findManifest(reference: string, signal?: AbortSignal): Promise<Manifest | null> {
    signal?.throwIfAborted();
    const digest = DIGEST.test(reference) ? reference : await this.#tagged(reference);
    if (!digest) return null;
    const bytes = await this.#readBlob(digest, MAX_MANIFEST_BYTES, `manifest ${this.#name(reference)}`);
    if (!bytes) return null;
    const json = parseManifestJson(bytes, `manifest ${this.#name(reference)}`);
    const entry = (await this.#entries()).find((d) => d.digest === digest);
    const mediaType = json.mediaType ?? entry?.mediaType ?? MEDIA_TYPES.ociManifest;
    const descriptor: Descriptor = {
      mediaType,
      digest,
      size: bytes.length,
      ...(json.artifactType ? { artifactType: json.artifactType } : {}),
    };
    return { descriptor, bytes, json };
  }

  async getBlob(digest: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    if (!DIGEST.test(digest)) throw new RegistryError('BAD_RESPONSE', `"${digest}" is not a sha256 digest`);
    const bytes = await this.#readBlob(digest, maxBytes, `blob ${this.#name(digest)}`);
    if (!bytes)
      throw new RegistryError('NOT_FOUND', `blob ${this.#name(digest)} not found in the layout ${this.dir}`, 404);
    return bytes;
  }

  /** Manifests of the layout whose `subject` is `digest`, and the `sha256-<hex>` tag-schema index. */
  async listReferrers(digest: string, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[]> {
    if (!DIGEST.test(digest)) throw new RegistryError('BAD_RESPONSE', `"${digest}" is not a sha256 digest`);
    const found = new Map<string, Descriptor>();
    for (const entry of await this.#entries()) {
      const manifest = await this.findManifest(entry.digest, signal);
      if (manifest?.json.subject?.digest !== digest) continue;
      const type = manifest.json.artifactType ?? manifest.json.config?.mediaType;
      found.set(entry.digest, {
        mediaType: manifest.descriptor.mediaType,
        digest: entry.digest,
        size: manifest.descriptor.size,
        ...(type ? { artifactType: type } : {}),
        ...(manifest.json.annotations ? { annotations: manifest.json.annotations } : {}),
      });
    }
    const schemaIndex = await this.findManifest(digest.replace(':', '-'), signal);
    for (const d of schemaIndex?.json.manifests ?? []) if (!found.has(d.digest)) found.set(d.digest, d);
    const all = [...found.values()];
    return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
  }

  async resolveTag(tag: string, signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    const digest = await this.#tagged(tag);
    if (!digest)
      throw new RegistryError('NOT_FOUND', `tag ${this.#name(tag)} not found in the layout ${this.dir}`, 404);
    return digest;
  }

  /** The digest a tag names in this layout, or null. */
  async #tagged(tag: string): Promise<string | null> {
    const entries = await this.#entries();
    const named = entries.find((d) => refNameTag(d.annotations?.[REF_NAME_ANNOTATION]) === tag);
    if (named) return named.digest;
    const images = entries.filter((d) => isCosignImage(d.annotations?.[KIND_ANNOTATION]));
    const cosign = COSIGN_TAG.exec(tag);
    if (cosign) {
      // `.sig`/`.att` of the layout's image: the sigs/atts entry cosign save wrote beside it
      const subject = cosign[1]!.replace('-', ':');
      if (!images.some((d) => d.digest === subject)) return null;
      const kind = cosign[2] === 'sig' ? COSIGN_KINDS.sigs : COSIGN_KINDS.atts;
      return entries.find((d) => d.annotations?.[KIND_ANNOTATION] === kind)?.digest ?? null;
    }
    // cosign save records no tag: the one image it saved is what the tag named
    return images.length === 1 ? images[0]!.digest : null;
  }

  #entries(): Promise<Descriptor[]> {
    this.#index ??= this.#readIndex();
    return this.#index;
  }

  async #readIndex(): Promise<Descriptor[]> {
    const file = path.join(this.dir, 'index.json');
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw new RegistryError(
        'NOT_FOUND',
        `${this.dir} is not an OCI image layout: cannot read index.json (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    const json = parseManifestJson(bytes, file);
    return descriptorList(json.manifests ?? [], `${file}: manifests`);
  }

  /** blobs/sha256/<hex>, checked against its digest and capped; null when absent. */
  async #readBlob(digest: string, maxBytes: number, what: string): Promise<Buffer | null> {
    const file = path.join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch {
      return null;
    }
    if (size > maxBytes) throw new RegistryError('BAD_RESPONSE', `${what}: ${size} bytes, over the cap of ${maxBytes}`);
    const bytes = await readFile(file);
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== digest)
      throw new RegistryError('BAD_RESPONSE', `${what}: digest mismatch, the layout holds bytes with digest ${actual}`);
    return bytes;
  }

  #name(reference: string): string {
    return `${this.registry}/${this.repository}${DIGEST.test(reference) ? '@' : ':'}${reference}`;
  }
}

function isCosignImage(kind: string | undefined): boolean {
  return kind === COSIGN_KINDS.image || kind === COSIGN_KINDS.imageIndex;
}

/** ref.name is a bare tag (`1.2`) or, from some tools, a full reference (`host/repo:1.2`). */
function refNameTag(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return slash >= 0 && colon > slash ? name.slice(colon + 1) : name;
}
