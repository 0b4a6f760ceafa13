/**
 * "Do each thing once" within one RegistryClient: identical concurrent fetches share one
 * request.
 */
import { raceSignal } from './auth.js';

/**
 * Identical concurrent requests share one fetch. Each caller may give up on its own
 * signal; the shared fetch is cancelled only when every caller has given up. Results are
 * not kept after the fetch settles (decide() owns caching).
 */
export class InFlight {
  #entries = new Map<string, { promise: Promise<unknown>; controller: AbortController; waiters: number }>();

  run<T>(key: string, signal: AbortSignal | undefined, fetch: (shared: AbortSignal) => Promise<T>): Promise<T> {
    let entry = this.#entries.get(key);
    if (!entry) {
      const controller = new AbortController();
      const created = { promise: Promise.resolve() as Promise<unknown>, controller, waiters: 0 };
      created.promise = fetch(controller.signal).finally(() => {
        if (this.#entries.get(key) === created) this.#entries.delete(key);
      });
      created.promise.catch(() => undefined); // errors reach the callers, not the process
      this.#entries.set(key, created);
      entry = created;
    }
    const current = entry;
    current.waiters++;
    const promise = current.promise as Promise<T>;
    if (!signal) return promise;
    const onGiveUp = () => {
      if (--current.waiters === 0) {
        if (this.#entries.get(key) === current) this.#entries.delete(key);
        current.controller.abort(signal.reason);
      }
    };
    signal.addEventListener('abort', onGiveUp, { once: true });
    if (signal.aborted) onGiveUp();
    const raced = raceSignal(promise, signal, key);
    void promise.then(
      () => signal.removeEventListener('abort', onGiveUp),
      () => signal.removeEventListener('abort', onGiveUp),
    );
    return raced;
  }
}
