/**
 * A TTL cache whose concurrent misses for one key share a single computation.
 * decide() keeps verified results here across warm invocations; a result that is
 * not worth keeping (a deny, an error) is handed back but not stored.
 */

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class CoalescingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inFlight = new Map<string, Promise<V>>();

  constructor(
    private readonly options: {
      ttlMs: number;
      maxEntries: number;
      /** only values this accepts are kept after the computation */
      keep: (value: V) => boolean;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** The cached value, the computation already under way, or a new one. */
  getOrCompute(key: string, compute: () => Promise<V>): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = compute()
      .then((value) => {
        if (this.options.keep(value)) this.store(key, value);
        return value;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  private store(key: string, value: V): void {
    // Map keeps insertion order: the first key is the oldest, evicted when full.
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expiresAt: this.now() + this.options.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
