/**
 * Decision events on EventBridge (DECISION_EVENT_BUS): one entry per alertable
 * decision, and per allow when DECISION_EVENTS=all, so rules can route on
 * `detail.severity`, `detail.reason` or `detail.cluster` without parsing text.
 */
import {
  PutEventsCommand,
  type EventBridgeClient,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { decisionLine, type Decision } from '../core/decision.js';
import { alertWhere, isAlertable, type AlertContext, type AlertWhere } from './context.js';
import { severityOf, type Severity } from './severity.js';

export const EVENT_SOURCE = 'ecs-image-gate';
export const EVENT_DETAIL_TYPE = 'Image Admission Decision';
/** PutEvents takes at most 10 entries per call. */
export const PUT_EVENTS_BATCH = 10;

export interface DecisionEventDetail extends AlertWhere {
  version: 1;
  severity: Severity;
  container: string;
  image: string;
  digest: string | null;
  decision: Decision['decision'];
  reason: Decision['reason'];
  rule: string | null;
  verifiedBy: string[];
  detail: string;
  durationMs: number;
  /** the one-line form every log line carries */
  line: string;
}

export type DecisionEventScope = 'alerts' | 'all';

export function decisionEventEntries(
  decisions: Decision[],
  ctx: AlertContext,
  busName: string,
  scope: DecisionEventScope,
): PutEventsRequestEntry[] {
  const chosen = scope === 'all' ? decisions : decisions.filter(isAlertable);
  const resources = [ctx.taskArn, ctx.serviceRevisionArn].filter((a): a is string => Boolean(a?.startsWith('arn:')));
  const where = alertWhere(ctx);
  return chosen.map((d) => ({
    Source: EVENT_SOURCE,
    DetailType: EVENT_DETAIL_TYPE,
    EventBusName: busName,
    Resources: resources,
    Detail: JSON.stringify(detailOf(d, where)),
  }));
}

function detailOf(d: Decision, where: AlertWhere): DecisionEventDetail {
  return {
    version: 1,
    severity: severityOf(d),
    ...where,
    container: d.container,
    image: d.image,
    digest: d.digest,
    decision: d.decision,
    reason: d.reason,
    rule: d.rule,
    verifiedBy: d.verifiedBy,
    detail: d.detail,
    durationMs: d.durationMs,
    line: decisionLine(d),
  };
}

export interface FailedEntry {
  entry: PutEventsRequestEntry;
  errorCode: string;
  errorMessage: string;
}

/**
 * Sends in batches of 10, all batches at once. PutEvents answers 200 even when
 * some entries fail (FailedEntryCount), so each result entry is checked; failed
 * entries are retried once (throttling is the usual cause), then returned.
 * A batch whose call fails outright counts all its entries as failed.
 */
export async function putDecisionEvents(
  eventBridge: EventBridgeClient,
  entries: PutEventsRequestEntry[],
  abortSignal: AbortSignal,
): Promise<FailedEntry[]> {
  const first = await putAll(eventBridge, entries, abortSignal);
  if (first.length === 0 || abortSignal.aborted) return first;
  return putAll(
    eventBridge,
    first.map((f) => f.entry),
    abortSignal,
  );
}

async function putAll(
  eventBridge: EventBridgeClient,
  entries: PutEventsRequestEntry[],
  abortSignal: AbortSignal,
): Promise<FailedEntry[]> {
  const batches: PutEventsRequestEntry[][] = [];
  for (let i = 0; i < entries.length; i += PUT_EVENTS_BATCH) batches.push(entries.slice(i, i + PUT_EVENTS_BATCH));
  const results = await Promise.all(batches.map((batch) => putBatch(eventBridge, batch, abortSignal)));
  return results.flat();
}

async function putBatch(
  eventBridge: EventBridgeClient,
  batch: PutEventsRequestEntry[],
  abortSignal: AbortSignal,
): Promise<FailedEntry[]> {
  try {
    const out = await eventBridge.send(new PutEventsCommand({ Entries: batch }), { abortSignal });
    if (!out.FailedEntryCount) return [];
    return failedOf(batch, out.Entries ?? []);
  } catch (error) {
    const errorCode = error instanceof Error ? error.name : 'Error';
    const errorMessage = error instanceof Error ? error.message : String(error);
    return batch.map((entry) => ({ entry, errorCode, errorMessage }));
  }
}

/** Result entries are in request order; one with an ErrorCode (or missing) failed. */
function failedOf(batch: PutEventsRequestEntry[], results: PutEventsResultEntry[]): FailedEntry[] {
  return batch.flatMap((entry, i) => {
    const r = results[i];
    if (r?.EventId && !r.ErrorCode) return [];
    return [{ entry, errorCode: r?.ErrorCode ?? 'NoResult', errorMessage: r?.ErrorMessage ?? 'no result entry' }];
  });
}
