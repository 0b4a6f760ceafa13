export { HandledTasks, DEFAULT_HANDLED_CAPACITY } from './handled-tasks.js';
export { policyErrorDecisions } from './policy-error.js';
export { checkServiceClaim, confirmedClaimsCache, serviceClaim, type ConfirmedClaims } from './scope.js';
export { stopReason, STOP_REASON_MAX, STOP_REASON_PREFIX } from './stop-reason.js';
export { parseTaskEvent, TaskEventError, whyIgnored, type TaskEvent } from './task-event.js';
export { StopTaskFailed, watchTask, type WatchAction, type WatchdogDeps, type WatchSummary } from './watch-task.js';
