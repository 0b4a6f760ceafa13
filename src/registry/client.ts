/**
 * OCI Distribution client: manifests, blobs, referrers and tags of one repository, with
 * every manifest and blob checked against its digest and capped in size, credentials
 * only for the registry's own origin, and identical concurrent fetches shared.
 */
import { createHash } from 'node:crypto';
import type { ECRClient } from '@aws-sdk/client-ecr';
import { raceSignal } from '../core/abort.js';
import { RegistryAuth } from './auth.js';
import { InFlight } from './in-flight.js';
import { descriptorList, parseManifestJson, tryParseIndex } from './manifest-json.js';
import { EcrAuth, parseEcrHost, type EcrHost } from './ecr.js';
import {
  discard,
  Http,
  isLoopbackHost,
  registryOrigin,
  type RegistrySettings,
  type Sent,
  statusError,
} from './http.js';
import {
  cancelled,
  type Descriptor,
  MANIFEST_ACCEPT,
  type Manifest,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPES,
  RegistryError,
  type RepositoryClient,
} from '../core/registry.js';

export interface RegistryClientOptions {
  /** per registry host[:port]: { insecure?: boolean; username?: string; password?: string } (RegistrySettings from src/policy/schema.ts) */
  registries?: Record<string, RegistrySettings>;
  /** makes an ECR client for a region; default: new ECRClient({ region }) */
  ecrClientFor?: (region: string) => ECRClient;
  /** per-request timeout, default 10_000 ms */
  requestTimeoutMs?: number;
  /**
   * TEST ONLY: send requests for a registry name to another origin (e.g. an ECR host name
   * to a loopback server). The origin is used as given, plain HTTP included, so never
   * set this from configuration.
   */
  resolveHost?: (registry: string) => { origin: string } | undefined;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const REGISTRY_HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;
const MAX_REFERRER_PAGES = 20;

export class RegistryClient {
  readonly #http: Http;
  readonly #ecr: EcrAuth;
  readonly #auth = new Map<string, RegistryAuth>();
  readonly #inFlight = new InFlight();
  /** per registry: does it serve the OCI referrers API? Learnt on first use, so the probe is paid once. */
  readonly #referrersApi = new Map<string, boolean>();

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.#http = new Http(options.requestTimeoutMs ?? 10_000);
    this.#ecr = new EcrAuth(options.ecrClientFor, options.requestTimeoutMs ?? 10_000);
  }

  repository(registry: string, repository: string): RepositoryClient {
    return new OciRepository(registry, repository, {
      http: this.#http,
      ecr: this.#ecr,
      inFlight: this.#inFlight,
      settings: this.options.registries?.[registry],
      auth: this.#authFor(registry),
      resolveHost: this.options.resolveHost,
      referrersApi: this.#referrersApi,
    });
  }

  /** number of HTTP requests sent so far (bench counts requests per image) */
  get requestCount(): number {
    return this.#http.requestCount;
  }

  #authFor(registry: string): RegistryAuth {
    let auth = this.#auth.get(registry);
    if (!auth) {
      const settings = this.options.registries?.[registry];
      const mapped = Boolean(this.options.resolveHost?.(registry));
      const loopbackHttp = mapped || (Boolean(settings?.insecure) && isLoopbackHost(registry));
      auth = new RegistryAuth(registry, settings, this.#http, loopbackHttp);
      this.#auth.set(registry, auth);
    }
    return auth;
  }
}

interface RepositoryDeps {
  http: Http;
  ecr: EcrAuth;
  inFlight: InFlight;
  settings: RegistrySettings | undefined;
  auth: RegistryAuth;
  resolveHost: RegistryClientOptions['resolveHost'];
  referrersApi: Map<string, boolean>;
}

class OciRepository implements RepositoryClient {
  readonly #ecrHost: EcrHost | null;
  readonly #scope: string;

  constructor(
    readonly registry: string,
    readonly repository: string,
    private readonly deps: RepositoryDeps,
  ) {
    this.#ecrHost = parseEcrHost(registry);
    this.#scope = `repository:${repository}:pull`;
  }

  getManifest(reference: string, signal?: AbortSignal): Promise<Manifest> {
    return this.#manifest(reference, signal).then((m) => m ?? Promise.reject(this.#notFound(reference)));
  }

  findManifest(reference: string, signal?: AbortSignal): Promise<Manifest | null> {
    return this.#manifest(reference, signal);
  }

  getBlob(digest: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    const key = `${this.registry}/${this.repository}@blob:${digest}:${maxBytes}`;
    return this.deps.inFlight.run(key, signal, (shared) => this.#fetchBlob(digest, maxBytes, shared));
  }

  async listReferrers(digest: string, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[]> {
    this.#checkDigest(digest);
    const all =
      (await this.#referrersApi(digest, artifactType, signal)) ?? (await this.#referrersTagSchema(digest, signal));
    if (artifactType === undefined) return all;
    const matched = await Promise.all(all.map((d) => this.#withArtifactType(d, signal)));
    return matched.filter((d): d is Descriptor => d !== null && d.artifactType === artifactType);
  }

  async resolveTag(tag: string, signal?: AbortSignal): Promise<string> {
    this.#checkReference(tag);
    const sent = await this.#request(`manifests/${tag}`, { method: 'HEAD', accept: MANIFEST_ACCEPT, signal });
    await discard(sent.response);
    const header = sent.response.headers.get('docker-content-digest');
    if (sent.response.ok && header && DIGEST.test(header)) return header;
    if (sent.response.status === 404) throw this.#notFound(tag);
    if (!sent.response.ok && sent.response.status !== 405)
      throw statusError(sent.response.status, `HEAD ${this.#name(tag)}`);
    // no digest header (or no HEAD): fetch the bytes and hash them ourselves
    return (await this.getManifest(tag, signal)).descriptor.digest;
  }

  // --- manifests ---

  #manifest(reference: string, signal?: AbortSignal): Promise<Manifest | null> {
    try {
      this.#checkReference(reference);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = `${this.registry}/${this.repository}@manifest:${reference}`;
    return this.deps.inFlight.run(key, signal, (shared) => this.#fetchManifest(reference, shared));
  }

  async #fetchManifest(reference: string, signal: AbortSignal): Promise<Manifest | null> {
    const what = `manifest ${this.#name(reference)}`;
    const sent = await this.#request(`manifests/${reference}`, { accept: MANIFEST_ACCEPT, signal });
    if (sent.response.status === 404) {
      await discard(sent.response);
      return null;
    }
    const bytes = await this.#okBody(sent, MAX_MANIFEST_BYTES);
    const digest = sha256(bytes);
    if (DIGEST.test(reference) && digest !== reference) {
      throw new RegistryError(
        'BAD_RESPONSE',
        `${what}: digest mismatch, the registry sent bytes with digest ${digest}`,
      );
    }
    const claimed = sent.response.headers.get('docker-content-digest');
    if (claimed?.startsWith('sha256:') && claimed !== digest) {
      throw new RegistryError(
        'BAD_RESPONSE',
        `${what}: digest mismatch, Docker-Content-Digest says ${claimed} but the bytes are ${digest}`,
      );
    }
    const json = parseManifestJson(bytes, what);
    const mediaType = json.mediaType ?? contentType(sent.response) ?? MEDIA_TYPES.ociManifest;
    const descriptor: Descriptor = {
      mediaType,
      digest,
      size: bytes.length,
      ...(json.artifactType ? { artifactType: json.artifactType } : {}),
    };
    return { descriptor, bytes, json };
  }

  // --- blobs ---

  async #fetchBlob(digest: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
    this.#checkDigest(digest);
    const sent = await this.#request(`blobs/${digest}`, { signal });
    const bytes = await this.#okBody(sent, maxBytes);
    const actual = sha256(bytes);
    if (actual !== digest) {
      throw new RegistryError(
        'BAD_RESPONSE',
        `blob ${this.#name(digest)}: digest mismatch, the registry sent bytes with digest ${actual}`,
      );
    }
    return bytes;
  }

  // --- referrers ---

  /** OCI 1.1 referrers API; null when the registry does not have it. */
  async #referrersApi(
    digest: string,
    artifactType: string | undefined,
    signal?: AbortSignal,
  ): Promise<Descriptor[] | null> {
    if (this.deps.referrersApi.get(this.registry) === false) return null;
    const found = await this.#referrersApiPages(digest, artifactType, signal);
    this.deps.referrersApi.set(this.registry, found !== null);
    return found;
  }

  async #referrersApiPages(
    digest: string,
    artifactType: string | undefined,
    signal?: AbortSignal,
  ): Promise<Descriptor[] | null> {
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    let path: string | null = `referrers/${digest}${query}`;
    const found: Descriptor[] = [];
    for (let page = 0; path; page++) {
      if (page >= MAX_REFERRER_PAGES) {
        throw new RegistryError(
          'BAD_RESPONSE',
          `referrers of ${this.#name(digest)}: more than ${MAX_REFERRER_PAGES} pages`,
        );
      }
      const sent: Sent = await this.#request(path, { accept: MEDIA_TYPES.ociIndex, signal });
      const { status } = sent.response;
      if (page === 0 && (status === 404 || status === 405)) {
        await discard(sent.response);
        return null;
      }
      const bytes = await this.#okBody(sent, MAX_MANIFEST_BYTES);
      const index = tryParseIndex(bytes);
      if (!index) {
        if (page === 0) return null; // not an OCI index: a registry without the API answering something else
        throw new RegistryError(
          'BAD_RESPONSE',
          `referrers of ${this.#name(digest)}: page ${page + 1} is not an OCI index`,
        );
      }
      found.push(...descriptorList(index.manifests, `referrers of ${this.#name(digest)}`));
      path = this.#nextPage(sent);
    }
    return found;
  }

  /** `Link: </v2/repo/referrers/sha256:…?n=…>; rel="next"` → the next path under /v2/<repo>/ */
  #nextPage(sent: Sent): string | null {
    const link = sent.response.headers.get('link');
    const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
    if (!m) return null;
    const next = new URL(m[1]!, sent.url);
    const prefix = `/v2/${this.repository}/`;
    if (next.origin !== sent.url.origin || !next.pathname.startsWith(prefix)) {
      throw new RegistryError('BAD_RESPONSE', `referrers: next page link leaves the repository: ${m[1]}`);
    }
    return next.pathname.slice(prefix.length) + next.search;
  }

  /** The fallback: an index tagged `sha256-<hex>` whose manifests are the referrers. */
  async #referrersTagSchema(digest: string, signal?: AbortSignal): Promise<Descriptor[]> {
    const tag = digest.replace(':', '-');
    const index = await this.findManifest(tag, signal);
    if (!index) return [];
    if (!Array.isArray(index.json.manifests)) {
      throw new RegistryError('BAD_RESPONSE', `referrers tag ${this.#name(tag)} is not an index`);
    }
    return index.json.manifests;
  }

  /**
   * A referrer's artifactType; when the index entry lacks it, read the manifest: its
   * artifactType, or (the older Notation and cosign form) its config media type.
   * null when the referrer manifest is gone.
   */
  async #withArtifactType(d: Descriptor, signal?: AbortSignal): Promise<Descriptor | null> {
    if (d.artifactType) return d;
    const manifest = await this.findManifest(d.digest, signal);
    if (!manifest) return null;
    const artifactType = manifest.json.artifactType ?? manifest.json.config?.mediaType;
    return artifactType ? { ...d, artifactType } : d;
  }

  // --- one authenticated request ---

  async #request(path: string, req: { method?: 'GET' | 'HEAD'; accept?: string; signal?: AbortSignal }): Promise<Sent> {
    if (!REPOSITORY.test(this.repository)) {
      throw new RegistryError('BAD_RESPONSE', `invalid repository name "${this.repository}"`);
    }
    const { origin, loopbackHttp } = this.#origin();
    const url = new URL(`/v2/${this.repository}/${path}`, origin);
    const send = (authorization: string | undefined) =>
      this.deps.http.send(url, {
        method: req.method ?? 'GET',
        headers: req.accept ? { accept: req.accept } : {},
        ...(authorization ? { authorization, credentialsOrigin: origin } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
        allowLoopbackHttp: loopbackHttp,
        what: `${req.method ?? 'GET'} ${this.registry}/${this.repository}/${path}`,
      });

    const first = await this.#currentAuthorization(req.signal);
    let sent = await send(first);
    // a challenge counts only from the registry itself: a redirect target (S3) that answers
    // 401 must not get to name a realm that our credentials would then be sent to
    if (sent.response.status === 401 && sent.url.origin === origin) {
      await discard(sent.response);
      const retry = await this.#challengedAuthorization(sent.response, first, req.signal);
      sent = await send(retry);
    }
    const { status } = sent.response;
    if (status === 401 || status === 403) {
      await discard(sent.response);
      throw new RegistryError(
        'AUTH',
        `${this.registry}/${this.repository}: access denied (HTTP ${status}) for ${path}`,
        status,
      );
    }
    return sent;
  }

  #origin(): { origin: string; loopbackHttp: boolean } {
    // the name becomes a URL authority: nothing but host[:port] may pass
    if (!REGISTRY_HOST.test(this.registry)) {
      throw new RegistryError('BAD_RESPONSE', `"${this.registry}" is not a registry host[:port]`);
    }
    const mapped = this.deps.resolveHost?.(this.registry);
    if (mapped) return { origin: new URL(mapped.origin).origin, loopbackHttp: true };
    const origin = registryOrigin(this.registry, this.deps.settings);
    return { origin, loopbackHttp: origin.startsWith('http:') && isLoopbackHost(this.registry) };
  }

  #currentAuthorization(signal?: AbortSignal): Promise<string | undefined> {
    if (this.#ecrHost)
      return withOptionalSignal(this.deps.ecr.authorization(this.registry, this.#ecrHost), signal, 'ECR token');
    return this.deps.auth.current(this.#scope, signal);
  }

  async #challengedAuthorization(
    response: Response,
    sentAuth: string | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    if (this.#ecrHost) {
      // the cached ECR token was refused: fetch a new one, once
      this.deps.ecr.invalidate(this.registry);
      const fresh = await withOptionalSignal(
        this.deps.ecr.authorization(this.registry, this.#ecrHost),
        signal,
        'ECR token',
      );
      if (fresh === sentAuth)
        throw new RegistryError('AUTH', `${this.registry}: ECR refused its own authorization token`, 401);
      return fresh;
    }
    return this.deps.auth.challenged(response.headers.get('www-authenticate'), this.#scope, signal);
  }

  async #okBody(sent: Sent, maxBytes: number): Promise<Buffer> {
    if (!sent.response.ok) {
      await discard(sent.response);
      throw statusError(sent.response.status, sent.what);
    }
    return this.deps.http.readCapped(sent, maxBytes);
  }

  // --- input checks: a reference goes into a URL path, so it must be exactly a tag or digest ---

  #checkReference(reference: string): void {
    if (!DIGEST.test(reference) && !TAG.test(reference)) {
      throw new RegistryError('BAD_RESPONSE', `"${reference}" is neither a tag nor a sha256 digest`);
    }
  }

  #checkDigest(digest: string): void {
    if (!DIGEST.test(digest)) throw new RegistryError('BAD_RESPONSE', `"${digest}" is not a sha256 digest`);
  }

  #name(reference: string): string {
    const sep = DIGEST.test(reference) ? '@' : ':';
    return `${this.registry}/${this.repository}${sep}${reference}`;
  }

  #notFound(reference: string): RegistryError {
    return new RegistryError('NOT_FOUND', `manifest ${this.#name(reference)} not found`, 404);
  }
}

function withOptionalSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  return raceSignal(promise, signal, cancelled(what));
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function contentType(response: Response): string | undefined {
  const value = response.headers.get('content-type')?.split(';')[0]?.trim();
  return value || undefined;
}
