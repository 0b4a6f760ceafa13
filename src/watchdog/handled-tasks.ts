/**
 * Tasks this Lambda container has already dealt with. One task emits several
 * events that pass the rule (PROVISIONING, PENDING, ACTIVATING, RUNNING; EventBridge
 * may also deliver one twice), and once one of them was decided the others must not
 * stop and alert again. Events that came before the digests ("not yet") are not
 * remembered: they decided nothing.
 *
 * In memory and bounded (least recently used goes first): no table to deploy, no
 * extra latency. It does not span containers: two events of one task handled in
 * parallel by two containers are both verified. The damage is bounded: StopTask
 * is idempotent, and once a task is stopped its later events carry desiredStatus
 * STOPPED and are ignored; what can repeat is one alert. A DynamoDB conditional
 * put (attribute_not_exists(taskArn), with a TTL) would make it exact.
 */
import { TtlCache } from '../core/cache.js';

export const DEFAULT_HANDLED_CAPACITY = 5_000;

export class HandledTasks {
  private readonly seen: TtlCache<string>;

  constructor(capacity = DEFAULT_HANDLED_CAPACITY) {
    // no expiry: a task is forgotten only when it is the least recently seen of a full memory
    this.seen = new TtlCache<string>({ ttlMs: Infinity, maxEntries: capacity, lru: true });
  }

  /** What was done with the task, if it was handled here. */
  get(taskArn: string): string | undefined {
    return this.seen.get(taskArn);
  }

  /** Only for a finished outcome: a stop that failed must stay open for the retry. */
  add(taskArn: string, outcome: string): void {
    this.seen.set(taskArn, outcome);
  }

  get size(): number {
    return this.seen.size;
  }

  clear(): void {
    this.seen.clear();
  }
}
