/**
 * Registry authentication outside ECR: the `WWW-Authenticate` challenge, Docker token
 * auth (Bearer, anonymous or with basic credentials) and Basic. One RegistryAuth per
 * registry remembers which scheme the registry asked for, so later requests authenticate
 * up front instead of paying a 401 each time; bearer tokens are cached per scope until
 * they expire and concurrent misses share one token request.
 */
import { TtlCache } from '../core/cache.js';
import { discard, type Http, isLoopbackHost, type RegistrySettings, statusError } from './http.js';
import { cancelled, RegistryError } from '../core/registry.js';

export type Challenge =
  | { scheme: 'bearer'; realm: string; service?: string; scope?: string }
  | { scheme: 'basic'; realm?: string };

const DEFAULT_TOKEN_SECONDS = 60;
/** scopes (repository:pull) whose tokens one registry keeps */
const MAX_TOKENS = 1_000;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/** Parse the first Bearer or Basic challenge of a WWW-Authenticate header (RFC 7235). */
export function parseChallenge(header: string | null): Challenge | null {
  if (!header) return null;
  for (const c of parseChallenges(header)) {
    if (c.scheme === 'bearer' && c.params.realm) {
      const { realm, service, scope } = c.params;
      return { scheme: 'bearer', realm, ...(service ? { service } : {}), ...(scope ? { scope } : {}) };
    }
    if (c.scheme === 'basic') return { scheme: 'basic', ...(c.params.realm ? { realm: c.params.realm } : {}) };
  }
  return null;
}

const TOKEN = /^[\w!#$%&'*+.^`|~-]+/;

/** `Scheme k=v, k="quoted", Other k=v` → challenges with lower-cased scheme and keys. */
function parseChallenges(h: string): { scheme: string; params: Record<string, string> }[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let current: (typeof out)[number] | undefined;
  let i = 0;
  const skip = (chars: string) => {
    while (i < h.length && chars.includes(h[i]!)) i++;
  };
  while (i < h.length) {
    skip(' \t,');
    const token = TOKEN.exec(h.slice(i))?.[0];
    if (!token) {
      i++;
      continue;
    }
    i += token.length;
    skip(' \t');
    if (h[i] !== '=') {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
      continue;
    }
    i++;
    skip(' \t');
    let value = '';
    if (h[i] === '"') {
      for (i++; i < h.length && h[i] !== '"'; i++) value += h[i] === '\\' ? (h[++i] ?? '') : h[i];
      i++;
    } else {
      while (i < h.length && h[i] !== ',' && h[i] !== ' ') value += h[i++];
    }
    if (current) current.params[token.toLowerCase()] = value;
  }
  return out;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class RegistryAuth {
  #learned: Challenge | null = null;
  /** bearer tokens per scope, each until shortly before it expires; concurrent misses share one request */
  #tokens = new TtlCache<CachedToken>({ ttlMs: (t) => t.expiresAt - Date.now(), maxEntries: MAX_TOKENS });

  constructor(
    private readonly registry: string,
    private readonly settings: RegistrySettings | undefined,
    private readonly http: Http,
    /** may the token realm be plain HTTP on loopback? (insecure loopback registries, test mappings) */
    private readonly loopbackHttp: boolean = Boolean(settings?.insecure) && isLoopbackHost(registry),
  ) {}

  /** Authorization to send before any challenge: known scheme and a usable credential. */
  async current(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const learned = this.#learned;
    if (!learned) return undefined;
    if (learned.scheme === 'basic') return this.#basic();
    const cached = this.#tokens.get(scope);
    if (cached) return `Bearer ${cached.token}`;
    return `Bearer ${await this.#token(learned, scope, signal)}`;
  }

  /**
   * The registry answered 401: learn its challenge and return fresh credentials for one
   * retry. Throws RegistryError('AUTH') when there is nothing new to offer.
   */
  async challenged(header: string | null, scope: string, signal?: AbortSignal): Promise<string> {
    const challenge = parseChallenge(header);
    if (!challenge) {
      throw new RegistryError(
        'AUTH',
        `registry ${this.registry} answered 401 without a usable WWW-Authenticate challenge`,
        401,
      );
    }
    this.#learned = challenge;
    if (challenge.scheme === 'basic') {
      const basic = this.#basic();
      if (!basic)
        throw new RegistryError('AUTH', `registry ${this.registry} requires credentials and none are configured`, 401);
      return basic;
    }
    this.#tokens.delete(scope); // a cached token that earned a 401 is no good
    return `Bearer ${await this.#token(challenge, scope, signal)}`;
  }

  #basic(): string | undefined {
    const { username, password } = this.settings ?? {};
    if (username === undefined || password === undefined) return undefined;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /** One token request per scope at a time; waiters share it. */
  async #token(
    challenge: Extract<Challenge, { scheme: 'bearer' }>,
    scope: string,
    signal?: AbortSignal,
  ): Promise<string> {
    // the shared request is not tied to one caller's signal; the request timeout bounds it
    const fetched = this.#tokens.getOrCompute(
      scope,
      () => this.#fetchToken(challenge, scope),
      signal,
      cancelled(`token for ${this.registry}`),
    );
    return (await fetched).token;
  }

  async #fetchToken(challenge: Extract<Challenge, { scheme: 'bearer' }>, scope: string): Promise<CachedToken> {
    const realm = this.#realmUrl(challenge.realm);
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    realm.searchParams.set('scope', scope);
    const basic = this.#basic(); // Docker token auth sends the user's credentials to the realm
    const what = `token request to ${realm.origin} for ${this.registry}`;
    const sent = await this.http.send(realm, {
      headers: { accept: 'application/json' },
      ...(basic ? { authorization: basic, credentialsOrigin: realm.origin } : {}),
      allowLoopbackHttp: this.loopbackHttp,
      what,
    });
    if (!sent.response.ok) {
      await discard(sent.response);
      throw statusError(sent.response.status, what);
    }
    const body = await this.http.readCapped(sent, MAX_TOKEN_RESPONSE_BYTES);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new RegistryError('BAD_RESPONSE', `${what}: answer is not JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || !token) throw new RegistryError('BAD_RESPONSE', `${what}: answer has no token`);
    const seconds =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    // renew a little early so a token does not expire between check and use
    const margin = Math.min(10, seconds / 4);
    return { token, expiresAt: Date.now() + (seconds - margin) * 1000 };
  }

  /** The realm must be HTTPS, except for an insecure loopback registry's loopback realm. */
  #realmUrl(realm: string): URL {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('BAD_RESPONSE', `registry ${this.registry} named an invalid token realm`);
    }
    const loopbackHttp = url.protocol === 'http:' && this.loopbackHttp && isLoopbackHost(url.host);
    if (url.protocol !== 'https:' && !loopbackHttp) {
      throw new RegistryError(
        'INSECURE',
        `registry ${this.registry} named a token realm that is not HTTPS: ${url.origin}`,
      );
    }
    return url;
  }
}
