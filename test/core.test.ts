/**
 * The shared pieces every cache, wait and configuration goes through: src/core/cache.ts,
 * src/core/abort.ts, src/core/aws-errors.ts and src/core/config.ts.
 */
import { describe, expect, it } from 'vitest';
import { raceSignal, withinDeadline } from '../src/core/abort.js';
import { classifyAwsError, isSdkError, isThrottling, isTransient } from '../src/core/aws-errors.js';
import { TtlCache } from '../src/core/cache.js';
import { modeWithoutPolicy, parseFailureBehavior, readConfig } from '../src/core/config.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A cache that keeps nothing, and a computation that runs until the test settles it. */
function sharedWork() {
  const cache = new TtlCache<string>({ ttlMs: 0, maxEntries: 0 });
  const work = deferred<string>();
  let signal: AbortSignal | undefined;
  const compute = (given: AbortSignal) => ((signal = given), work.promise);
  return { cache, work, compute, shared: () => signal! };
}

describe('TtlCache', () => {
  it('keeps a value for its TTL, then forgets it', () => {
    let now = 0;
    const cache = new TtlCache<string>({ ttlMs: 1_000, maxEntries: 10, now: () => now });
    cache.set('a', 'x');
    now = 999;
    expect(cache.get('a')).toBe('x');
    now = 1_000;
    expect(cache.get('a')).toBeUndefined();
  });

  it('reads the TTL from the value when given a function (a token with its own expiry)', () => {
    let now = 0;
    const cache = new TtlCache<{ until: number }>({ ttlMs: (v) => v.until - now, maxEntries: 10, now: () => now });
    cache.set('a', { until: 50 });
    now = 49;
    expect(cache.get('a')).toEqual({ until: 50 });
    now = 50;
    expect(cache.get('a')).toBeUndefined();
  });

  it('holds at most maxEntries: the oldest goes first, or the least recently read with lru', () => {
    const fifo = new TtlCache<number>({ ttlMs: Infinity, maxEntries: 2 });
    const lru = new TtlCache<number>({ ttlMs: Infinity, maxEntries: 2, lru: true });
    for (const cache of [fifo, lru]) {
      cache.set('a', 1);
      cache.set('b', 2);
      cache.get('a');
      cache.set('c', 3);
      expect(cache.size).toBe(2);
    }
    expect([fifo.get('a'), fifo.get('b')]).toEqual([undefined, 2]);
    expect([lru.get('a'), lru.get('b')]).toEqual([1, undefined]);
  });

  it('shares one computation between concurrent misses, and stores only what keep accepts', async () => {
    const cache = new TtlCache<string>({ ttlMs: 60_000, maxEntries: 10, keep: (v) => v === 'good' });
    let calls = 0;
    const work = deferred<string>();
    const compute = () => (calls++, work.promise);
    const both = Promise.all([cache.getOrCompute('k', compute), cache.getOrCompute('k', compute)]);
    work.resolve('bad');
    expect(await both).toEqual(['bad', 'bad']);
    expect(calls).toBe(1);
    expect(cache.get('k')).toBeUndefined(); // not kept: the next caller computes again
    expect(await cache.getOrCompute('k', async () => 'good')).toBe('good');
    expect(cache.get('k')).toBe('good');
  });

  it('never stores a failure, and a compute that throws at once is a rejection', async () => {
    const cache = new TtlCache<string>({ ttlMs: 60_000, maxEntries: 10 });
    await expect(cache.getOrCompute('k', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(
      cache.getOrCompute('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(await cache.getOrCompute('k', async () => 'up')).toBe('up');
  });

  it('lets one waiter give up while the others keep the shared work, which aborts only when all gave up', async () => {
    const { cache, work, compute, shared } = sharedWork();
    const a = new AbortController();
    const b = new AbortController();
    const first = cache.getOrCompute('k', compute, a.signal, () => new Error('a gave up'));
    const second = cache.getOrCompute('k', compute, b.signal, () => new Error('b gave up'));
    a.abort();
    await expect(first).rejects.toThrow('a gave up');
    expect(shared().aborted).toBe(false);
    b.abort();
    await expect(second).rejects.toThrow('b gave up');
    expect(shared().aborted).toBe(true);
    work.resolve('late');
  });

  it('never abandons the shared work while a caller without a signal waits', async () => {
    const { cache, work, compute, shared } = sharedWork();
    const impatient = new AbortController();
    const gaveUp = cache.getOrCompute('k', compute, impatient.signal);
    const patient = cache.getOrCompute('k', compute);
    impatient.abort(new Error('deadline'));
    await expect(gaveUp).rejects.toThrow('deadline');
    expect(shared().aborted).toBe(false);
    work.resolve('done');
    expect(await patient).toBe('done');
  });
});

describe('raceSignal and withinDeadline', () => {
  it('rejects with onAbort(reason) when the signal fires first, at once when it already has', async () => {
    const never = new Promise<string>(() => undefined);
    const controller = new AbortController();
    const raced = raceSignal(never, controller.signal, (reason) => new Error(`gave up: ${String(reason)}`));
    controller.abort('late');
    await expect(raced).rejects.toThrow('gave up: late');
    await expect(raceSignal(never, AbortSignal.abort('gone'), (r) => r)).rejects.toBe('gone');
  });

  it('passes the promise through when it settles first, or when there is no signal', async () => {
    const controller = new AbortController();
    expect(await raceSignal(Promise.resolve(1), controller.signal)).toBe(1);
    await expect(raceSignal(Promise.reject(new Error('own')), controller.signal)).rejects.toThrow('own');
    expect(await raceSignal(Promise.resolve(2), undefined)).toBe(2);
  });

  it('answers late() when the deadline passes first, or has passed', async () => {
    const never = new Promise<string>(() => undefined);
    expect(await withinDeadline(never, Date.now() + 5, () => 'late')).toBe('late');
    expect(await withinDeadline(never, Date.now() - 1, () => 'late')).toBe('late');
    expect(await withinDeadline(Promise.resolve('on time'), Date.now() + 60_000, () => 'late')).toBe('on time');
  });
});

describe('classifyAwsError', () => {
  const sdk = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(name), {
      name,
      ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}),
      ...extra,
    });

  it.each([
    [sdk('ThrottlingException', 400, { $fault: 'client' }), 'throttled'],
    [sdk('Whatever', 429, { $fault: 'client' }), 'throttled'],
    [sdk('TimeoutError'), 'timeout'],
    [sdk('AbortError'), 'timeout'],
    [sdk('AccessDeniedException', 400, { $fault: 'client' }), 'auth'],
    [sdk('Whatever', 403, { $fault: 'client' }), 'auth'],
    [sdk('InternalServerException', 500, { $fault: 'server' }), 'server'],
    [sdk('KMSInternalException', 400, { $fault: 'client' }), 'server'],
    [sdk('Whatever', 400, { $fault: 'client', $retryable: {} }), 'server'],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'no-answer'],
    [sdk('NotFoundException', 400, { $fault: 'client' }), 'client'],
  ] as const)('%s is %s', (error, kind) => {
    expect(classifyAwsError(error)).toBe(kind);
    expect(isTransient(error)).toBe(kind !== 'auth' && kind !== 'client');
    expect(isThrottling(error)).toBe(kind === 'throttled');
  });

  it('tells an SDK error from one of our own', () => {
    expect(isSdkError(sdk('Whatever', 400, { $fault: 'client' }))).toBe(true);
    expect(isSdkError(sdk('TimeoutError'))).toBe(true);
    expect(isSdkError(new TypeError('x is undefined'))).toBe(false);
  });
});

describe('readConfig', () => {
  it('reads the documented defaults from an empty environment', () => {
    expect(readConfig({})).toEqual({
      cacheTtlMs: 300_000,
      policyRefreshMs: 60_000,
      registryTimeoutMs: 10_000,
      hookMaxRetries: 3,
      hookRetryDelaySeconds: 30,
      taskScope: 'standalone',
      failureBehavior: { kind: 'unset' },
      alerts: { decisionEvents: 'alerts' },
      sigstoreRefresh: { kind: 'off' },
      verifyTimeoutSeconds: 60,
      invokeTimeoutSeconds: 60,
      policyVariables: {},
    });
  });

  it('falls back, never fails, on values it cannot use; a TASK_SCOPE typo widens to all', () => {
    const config = readConfig({
      CACHE_TTL_SECONDS: '-5',
      POLICY_REFRESH_SECONDS: 'soon',
      REGISTRY_TIMEOUT_SECONDS: '2.5',
      HOOK_MAX_RETRIES: '1.5',
      HOOK_RETRY_DELAY_SECONDS: '0',
      TASK_SCOPE: 'standalon',
    });
    expect(config).toMatchObject({
      cacheTtlMs: 300_000,
      policyRefreshMs: 60_000,
      registryTimeoutMs: 2_500,
      hookMaxRetries: 3,
      hookRetryDelaySeconds: 0,
    });
    expect(config.taskScope).toBe('all');
    expect(config.taskScopeWarning).toMatch(/standalon/);
  });

  it('keeps only the policy variables for loadPolicy, and the alert channels trimmed', () => {
    const config = readConfig({
      POLICY: 'version: 1',
      AWS_SECRET_ACCESS_KEY: 'x',
      ALERT_TOPIC_ARN: ' arn:t ',
      DECISION_EVENT_BUS: ' ',
      DECISION_EVENTS: 'ALL',
    });
    expect(config.policyVariables).toEqual({ POLICY: 'version: 1' });
    expect(config.alerts).toEqual({ topicArn: 'arn:t', decisionEvents: 'all' });
  });

  it('reads the Sigstore root refresh: only "tuf" opts in, with a timeout that falls back to 3000 ms', () => {
    const refresh = (env: Record<string, string>) => readConfig(env).sigstoreRefresh;
    expect(refresh({ SIGSTORE_TRUST_REFRESH: 'tuf' })).toEqual({ kind: 'tuf', timeoutMs: 3000 });
    expect(refresh({ SIGSTORE_TRUST_REFRESH: 'tuf', SIGSTORE_TRUST_REFRESH_TIMEOUT_MS: '500' })).toEqual({
      kind: 'tuf',
      timeoutMs: 500,
    });
    expect(refresh({ SIGSTORE_TRUST_REFRESH: 'tuf', SIGSTORE_TRUST_REFRESH_TIMEOUT_MS: 'soon' })).toEqual({
      kind: 'tuf',
      timeoutMs: 3000,
    });
    expect(refresh({ SIGSTORE_TRUST_REFRESH: 'TUF', SIGSTORE_TRUST_REFRESH_TIMEOUT_MS: '500' })).toEqual({
      kind: 'off',
    });
  });

  it('reads FAILURE_BEHAVIOR one way: only LOG_ON_FAILURE is audit without a policy', () => {
    expect(parseFailureBehavior(' LOG_ON_FAILURE ')).toEqual({ kind: 'mode', mode: 'audit' });
    expect(parseFailureBehavior('BLOCK_ON_FAILURE')).toEqual({ kind: 'mode', mode: 'enforce' });
    expect(parseFailureBehavior('log_on_failure')).toEqual({ kind: 'invalid', value: 'log_on_failure' });
    expect(parseFailureBehavior('')).toEqual({ kind: 'unset' });
    expect(modeWithoutPolicy(parseFailureBehavior('LOG_ON_FAILURE'))).toBe('audit');
    expect(modeWithoutPolicy(parseFailureBehavior('log_on_failure'))).toBe('enforce');
    expect(modeWithoutPolicy(parseFailureBehavior(undefined))).toBe('enforce');
  });
});
