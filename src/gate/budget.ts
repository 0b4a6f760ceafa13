/**
 * One invocation's time, divided once, up front. Lambda ends an invocation at its
 * deadline whatever is running, so the time after the decisions (StopTask, alerts, the
 * answer) is reserved before any decision starts; computing each share later from
 * "what is left" is how a slow decision used to leave the alerts 1 ms.
 */
export interface Budget {
  /** epoch ms by which decisions are final (they answer TIMEOUT after it) */
  decideBy: number;
  /** epoch ms by which everything after the decisions (StopTask, alerts) has finished */
  finishBy: number;
}

export interface Reserve {
  /** kept for the work after the decisions; halved at most when time is short */
  afterDecideMs: number;
  /** kept back from Lambda's deadline to log and return the answer */
  answerMs: number;
}

/** Split `remainingMs` (Lambda's getRemainingTimeInMillis) as of `now`. */
export function planBudget(remainingMs: number, reserve: Reserve, now = Date.now()): Budget {
  const usable = Math.max(0, remainingMs - reserve.answerMs);
  const afterDecide = Math.min(reserve.afterDecideMs, Math.floor(usable / 2));
  return { decideBy: now + usable - afterDecide, finishBy: now + usable };
}

/** Milliseconds from now until `epochMs`, at least 1 (a zero timeout means "none" to some APIs). */
export function msUntil(epochMs: number, now = Date.now()): number {
  return Math.max(1, epochMs - now);
}

/** An AbortSignal that fires at `epochMs`: give one to every call made for a decision. */
export function signalUntil(epochMs: number): AbortSignal {
  return AbortSignal.timeout(msUntil(epochMs));
}
