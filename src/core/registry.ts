/**
 * What verifiers and decide() need from a registry. The implementation lives in
 * client.ts; verifiers depend only on this interface, so they can be tested against
 * a real registry or an in-memory one alike.
 */

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface Manifest {
  /** the descriptor of the bytes actually received (digest checked) */
  descriptor: Descriptor;
  bytes: Buffer;
  /** parsed JSON of `bytes` */
  json: ManifestJson;
}

export interface ManifestJson {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A registry seen through one repository: everything a verifier may fetch. */
export interface RepositoryClient {
  readonly registry: string;
  readonly repository: string;
  /** Manifest by digest (checked) or tag. Throws RegistryError(NOT_FOUND) when absent. */
  getManifest(reference: string, signal?: AbortSignal): Promise<Manifest>;
  /** Like getManifest, but answers null on 404. */
  findManifest(reference: string, signal?: AbortSignal): Promise<Manifest | null>;
  /** Blob by digest, checked against the digest, at most maxBytes. */
  getBlob(digest: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer>;
  /**
   * Referrers of `digest` (OCI 1.1 referrers API, falling back to the tag schema
   * `sha256-<hex>`), filtered by artifactType when given. The fallback also matches
   * manifests that carry the type only as their config media type.
   */
  listReferrers(digest: string, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[]>;
  /** Resolve a tag to the digest the registry serves now. */
  resolveTag(tag: string, signal?: AbortSignal): Promise<string>;
}

export type RegistryErrorKind =
  | 'NOT_FOUND' // 404: a registry that answers; for named evidence, never admissible
  | 'AUTH'
  | 'TIMEOUT'
  | 'UNAVAILABLE' // network error, 5xx, 429: worth a retry
  | 'BAD_RESPONSE' // malformed, wrong digest, over a size cap
  | 'INSECURE'; // plain HTTP to a registry not marked insecure

export class RegistryError extends Error {
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }

  get transient(): boolean {
    return this.kind === 'UNAVAILABLE' || this.kind === 'TIMEOUT';
  }
}

/** For raceSignal: a caller that gave up waiting (its signal aborted) gets a TIMEOUT. */
export function cancelled(what: string): (reason: unknown) => RegistryError {
  return (reason) =>
    new RegistryError('TIMEOUT', `${what}: cancelled (${reason instanceof Error ? reason.message : String(reason)})`);
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Accept header for manifests: every image and index type we understand. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerList,
].join(', ');
