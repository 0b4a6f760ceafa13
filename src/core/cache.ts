/**
 * The one cache of the project: entries kept for a TTL, at most `maxEntries` of them
 * (the oldest, or with `lru` the least recently read, goes first), and concurrent misses
 * for one key sharing a single computation. Every cache (verification outcomes, KMS
 * keys, registry and ECR tokens, in-flight registry requests, confirmed service claims,
 * handled tasks, the Slack webhook URL, OCSP/CRL answers, parsed certificates) is one
 * of these with its own options.
 */
import { raceSignal } from './abort.js';

export interface CacheOptions<V> {
  /** how long a value is kept; a function reads it from the value (a token's own expiry) */
  ttlMs: number | ((value: V) => number);
  maxEntries: number;
  /** only computed values this accepts are stored (e.g. a verified outcome, not a deny) */
  keep?: (value: V) => boolean;
  /** reading an entry makes it the most recent: least recently used goes first when full */
  lru?: boolean;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** A computation shared by every caller that missed while it ran. */
interface Pending<V> {
  promise: Promise<V>;
  controller: AbortController;
  /** callers with a signal still waiting; the shared signal aborts when they all gave up */
  waiters: number;
  /** a caller without a signal waits to the end: the shared work is never abandoned */
  pinned: boolean;
}

export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #pending = new Map<string, Pending<V>>();

  constructor(private readonly options: CacheOptions<V>) {}

  #now(): number {
    return (this.options.now ?? Date.now)();
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    if (this.options.lru) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    const ttl = typeof this.options.ttlMs === 'function' ? this.options.ttlMs(value) : this.options.ttlMs;
    this.#entries.delete(key); // a rewritten key becomes the newest
    this.#entries.set(key, { value, expiresAt: this.#now() + ttl });
    // Map keeps insertion order: the first key is the oldest (or least recently read).
    while (this.#entries.size > this.options.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /**
   * The cached value, the computation already under way, or a new one. `compute` gets a
   * signal shared by all waiters; it aborts only when every caller that passed a `signal`
   * gave up (and none came without one). A caller whose own signal aborts is rejected with
   * `onAbort(reason)` at once; the others keep waiting. Failures are never stored.
   */
  getOrCompute(
    key: string,
    compute: (shared: AbortSignal) => Promise<V>,
    signal?: AbortSignal,
    onAbort?: (reason: unknown) => unknown,
  ): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    const pending = this.#pending.get(key) ?? this.#start(key, compute);
    if (!signal) {
      pending.pinned = true;
      return pending.promise;
    }
    pending.waiters++;
    const giveUp = () => {
      if (--pending.waiters > 0 || pending.pinned) return;
      if (this.#pending.get(key) === pending) this.#pending.delete(key);
      pending.controller.abort(signal.reason);
    };
    signal.addEventListener('abort', giveUp, { once: true });
    if (signal.aborted) giveUp();
    const done = () => signal.removeEventListener('abort', giveUp);
    pending.promise.then(done, done);
    return raceSignal(pending.promise, signal, onAbort);
  }

  #start(key: string, compute: (shared: AbortSignal) => Promise<V>): Pending<V> {
    const controller = new AbortController();
    const pending: Pending<V> = { promise: Promise.resolve() as Promise<V>, controller, waiters: 0, pinned: false };
    let computed: Promise<V>;
    try {
      computed = compute(controller.signal);
    } catch (e) {
      computed = Promise.reject(e);
    }
    pending.promise = computed
      .then((value) => {
        if (!this.options.keep || this.options.keep(value)) this.set(key, value);
        return value;
      })
      .finally(() => {
        if (this.#pending.get(key) === pending) this.#pending.delete(key);
      });
    pending.promise.catch(() => undefined); // errors reach the callers, not the process
    this.#pending.set(key, pending);
    return pending;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** `make`'s value, made on first use and kept (a promise is kept as the promise: one computation). */
export function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
