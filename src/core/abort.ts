/**
 * Racing work against time. Two shapes, one mechanism:
 *  - raceSignal: wait for a promise, but give up when this caller's AbortSignal fires
 *    (a shared fetch, a token, an SDK call that may ignore its signal). The promise
 *    itself is not cancelled: others may still be waiting for it.
 *  - withinDeadline: the same against an epoch-ms deadline, answering a stand-in value
 *    (e.g. a TIMEOUT outcome) instead of rejecting.
 */

/**
 * `promise`, or a rejection with `onAbort(signal.reason)` as soon as `signal` aborts
 * (at once when it already has). Without a signal, `promise` as it is.
 */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: (reason: unknown) => unknown = (reason) => reason,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(onAbort(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(onAbort(signal.reason));
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

const LATE = Symbol('late');

/**
 * `work`, or `late()` when `deadline` (epoch ms) passes first; the work is left to
 * finish or abort on its own. A deadline already past answers `late()` at once.
 */
export async function withinDeadline<T>(work: Promise<T>, deadline: number, late: () => T): Promise<T> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return late();
  const expiry = new AbortController();
  const timer = setTimeout(() => expiry.abort(), remaining);
  try {
    return await raceSignal(work, expiry.signal, () => LATE);
  } catch (e) {
    if (e === LATE) return late();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** "the signal's reason" as a one-line text, for error messages. */
export function reasonText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
