/**
 * "Do each thing once" within one RegistryClient: identical concurrent fetches share one
 * request.
 */
import { TtlCache } from '../core/cache.js';
import { cancelled } from '../core/registry.js';

/**
 * Identical concurrent requests share one fetch. Each caller may give up on its own
 * signal; the shared fetch is cancelled only when every caller has given up. Results are
 * not kept after the fetch settles (decide() owns caching): the cache keeps nothing.
 */
export class InFlight {
  #shared = new TtlCache<unknown>({ ttlMs: 0, maxEntries: 0, keep: () => false });

  run<T>(key: string, signal: AbortSignal | undefined, fetch: (shared: AbortSignal) => Promise<T>): Promise<T> {
    return this.#shared.getOrCompute(key, fetch, signal, cancelled(key)) as Promise<T>;
  }
}
