/**
 * Every ECS call the hook makes is bounded by the decision deadline. The signal goes
 * to the SDK (which aborts the HTTP request), and the call is also raced against it:
 * an answer that arrives after the deadline is no use, whatever the transport does
 * with the signal. Lambda ends the invocation at its deadline, and no answer makes ECS
 * roll back, even in log-only mode.
 */
import { raceSignal } from '../core/abort.js';

/** The deadline passed before ECS answered; transient (the next call may be faster). */
export class EcsDeadlineError extends Error {
  override readonly name = 'TimeoutError';
  constructor(readonly operation: string) {
    super(`ecs:${operation} did not answer before the decision deadline`);
  }
}

/** `call` gets the signal to hand to the SDK: `(abortSignal) => ecs.send(command, { abortSignal })`. */
export async function sendBounded<T>(
  operation: string,
  abortSignal: AbortSignal,
  call: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (abortSignal.aborted) throw new EcsDeadlineError(operation);
  try {
    return await raceSignal(call(abortSignal), abortSignal, () => new EcsDeadlineError(operation));
  } catch (e) {
    // The SDK's own abort error says less than ours; keep one kind of error for "too late".
    if (abortSignal.aborted) throw new EcsDeadlineError(operation);
    throw e;
  }
}
