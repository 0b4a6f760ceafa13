/**
 * HTTP for the registry client: which origin a registry lives at (HTTPS unless it is an
 * `insecure` loopback registry), one request with a deadline, manual redirects that drop
 * credentials when they leave the registry's origin, capped body reads, and the mapping
 * of every failure to a RegistryError kind.
 */
import { RegistryError } from '../core/registry.js';

export const MAX_REDIRECTS = 5;

export interface RegistrySettings {
  insecure?: boolean;
  username?: string;
  password?: string;
}

/** `host[:port]` → the origin requests go to. Throws RegistryError('INSECURE'). */
export function registryOrigin(registry: string, settings: RegistrySettings | undefined): string {
  if (settings?.insecure) {
    if (!isLoopbackHost(registry)) {
      throw new RegistryError(
        'INSECURE',
        `registry ${registry} is marked insecure, but plain HTTP is allowed only for loopback hosts (127.0.0.0/8, localhost, [::1])`,
      );
    }
    return `http://${registry}`;
  }
  // Docker Hub's API does not live at the name images use
  if (registry === 'docker.io' || registry === 'index.docker.io') return 'https://registry-1.docker.io';
  return `https://${registry}`;
}

/** `host[:port]` or a bracketed IPv6 literal: is it this machine? */
export function isLoopbackHost(hostPort: string): boolean {
  let host = hostPort.toLowerCase();
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
  else if (host.includes(':')) host = host.slice(0, host.lastIndexOf(':'));
  if (host === 'localhost' || host === '::1') return true;
  const octets = host.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

export interface SendOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** sent only while the URL's origin equals credentialsOrigin */
  authorization?: string;
  credentialsOrigin?: string;
  /** cancels the request and its body (the caller's deadline) */
  signal?: AbortSignal;
  /** may a redirect lead to plain http on a loopback host? (only for insecure registries) */
  allowLoopbackHttp: boolean;
  /** what we were doing, for error messages */
  what: string;
}

/** A response together with the signal that still governs reading its body. */
export interface Sent {
  response: Response;
  url: URL;
  signal: AbortSignal;
  timeout: AbortSignal;
  what: string;
}

export class Http {
  #count = 0;

  constructor(private readonly timeoutMs: number) {}

  get requestCount(): number {
    return this.#count;
  }

  /**
   * One logical request: follows at most MAX_REDIRECTS redirects by hand so that
   * Authorization never leaves its origin (ECR answers blobs with a redirect to S3).
   */
  async send(start: URL, opts: SendOptions): Promise<Sent> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let url = start;
    let method = opts.method ?? 'GET';
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.authorization && url.origin === opts.credentialsOrigin) headers.authorization = opts.authorization;
      this.#count++;
      let response: Response;
      try {
        response = await fetch(url, { method, headers, redirect: 'manual', signal });
      } catch (err) {
        throw toRegistryError(err, { signal, timeout, what: opts.what, timeoutMs: this.timeoutMs });
      }
      const location = response.headers.get('location');
      if (!isRedirect(response.status) || !location) return { response, url, signal, timeout, what: opts.what };
      await discard(response);
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError('BAD_RESPONSE', `${opts.what}: more than ${MAX_REDIRECTS} redirects`, response.status);
      }
      url = this.#redirectTarget(url, location, opts);
      if (response.status === 303) method = 'GET';
    }
  }

  #redirectTarget(from: URL, location: string, opts: SendOptions): URL {
    let next: URL;
    try {
      next = new URL(location, from);
    } catch {
      throw new RegistryError('BAD_RESPONSE', `${opts.what}: redirect to an invalid URL`);
    }
    const plainLoopback = next.protocol === 'http:' && opts.allowLoopbackHttp && isLoopbackHost(next.host);
    if (next.protocol !== 'https:' && !plainLoopback) {
      throw new RegistryError('INSECURE', `${opts.what}: refusing a redirect to ${next.protocol}//${next.host}`);
    }
    return next;
  }

  /** Read a body, failing as soon as it is known to exceed maxBytes. */
  async readCapped(sent: Sent, maxBytes: number): Promise<Buffer> {
    const { response, what } = sent;
    const declared = response.headers.get('content-length');
    if (declared !== null && Number(declared) > maxBytes) {
      await discard(response);
      throw new RegistryError('BAD_RESPONSE', `${what}: ${declared} bytes is over the ${maxBytes}-byte limit`);
    }
    if (!response.body) return Buffer.alloc(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new RegistryError('BAD_RESPONSE', `${what}: body is over the ${maxBytes}-byte limit`);
        }
        chunks.push(value);
      }
    } catch (err) {
      throw toRegistryError(err, { ...sent, timeoutMs: this.timeoutMs });
    }
    return Buffer.concat(chunks, total);
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** Free the connection of a response whose body we do not want. */
export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The RegistryError for a non-2xx status. */
export function statusError(status: number, what: string): RegistryError {
  if (status === 404) return new RegistryError('NOT_FOUND', `${what}: not found (HTTP 404)`, status);
  if (status === 401 || status === 403)
    return new RegistryError('AUTH', `${what}: access denied (HTTP ${status})`, status);
  if (status === 429 || status >= 500)
    return new RegistryError('UNAVAILABLE', `${what}: registry unavailable (HTTP ${status})`, status);
  return new RegistryError('BAD_RESPONSE', `${what}: unexpected HTTP ${status}`, status);
}

interface ErrorContext {
  signal: AbortSignal;
  timeout: AbortSignal;
  what: string;
  timeoutMs: number;
}

export function toRegistryError(err: unknown, ctx: ErrorContext): RegistryError {
  if (err instanceof RegistryError) return err;
  if (ctx.timeout.aborted) return new RegistryError('TIMEOUT', `${ctx.what}: no answer within ${ctx.timeoutMs} ms`);
  if (ctx.signal.aborted) return new RegistryError('TIMEOUT', `${ctx.what}: cancelled (${abortReason(ctx.signal)})`);
  return new RegistryError('UNAVAILABLE', `${ctx.what}: ${networkMessage(err)}`);
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : String(reason ?? 'aborted');
}

/** undici hides the useful part (ECONNREFUSED, ECONNRESET…) in `cause`. */
function networkMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: string }).code;
    return `${err.message} (${code ? `${code}: ` : ''}${cause.message})`;
  }
  return err.message;
}
