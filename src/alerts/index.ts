/**
 * Alerts, shared by the deployment gate and the task watchdog.
 *
 * Contract of `sendAlerts(decisions, ctx, deps?)`:
 *  - Call it once per event (one task, one service revision) with ALL decisions of
 *    that event and an AlertContext saying what was done (`action`). Call it after
 *    acting (StopTask, hookStatus chosen): alerts report, they never decide.
 *  - It never throws and never changes a decision. A channel that fails or runs out
 *    of time is logged with logger.error, including the full content that was not
 *    delivered (subject and body, event entries, Slack text; never the webhook URL),
 *    and counted in the EMF metric AlertDeliveryFailures (dimension `channel`).
 *  - Channels, all optional, configured by environment (read by readConfig into deps.channels):
 *      ALERT_TOPIC_ARN          one SNS message listing every alertable container
 *      DECISION_EVENT_BUS       one EventBridge event per alertable decision
 *                               (DECISION_EVENTS=all: per decision, allows included)
 *      SLACK_WEBHOOK_PARAMETER  one Slack message (webhook URL in an SSM SecureString)
 *  - "Alertable" = every deny (enforce or audit) and every error admitted by
 *    onError: allow. All-allowed events send nothing, except DECISION_EVENTS=all.
 *  - Channels run in parallel and the whole call is bounded by deps.timeoutMs
 *    (default 5 s); pass less when the Lambda has less time left.
 *  - Resolves to an AlertOutcome: per channel 'sent' | 'skipped' | 'failed', and the
 *    message itself (the demo prints it).
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { raceSignal } from '../core/abort.js';
import type { TtlCache } from '../core/cache.js';
import type { AlertChannels } from '../core/config.js';
import { countAlertDeliveryFailure, logger } from '../core/observability.js';
import type { Decision } from '../core/decision.js';
import type { AlertContext } from './context.js';
import { decisionEventEntries, putDecisionEvents } from './decision-event.js';
import { buildAlert, type AlertMessage } from './message.js';
import { publishAlert } from './sns.js';
import { postSlack, slackUrlCache } from './slack.js';

export type { AlertAction, AlertContext, AlertSource } from './context.js';
export { consoleUrl, isAlertable } from './context.js';
export { buildAlert, parseAlertBody, type AlertMessage, type AlertRecord } from './message.js';
export { severityOf, type Severity } from './severity.js';
export { EVENT_DETAIL_TYPE, EVENT_SOURCE, type DecisionEventDetail } from './decision-event.js';
export { slackUrlCache } from './slack.js';

export const DEFAULT_ALERT_TIMEOUT_MS = 5_000;

/** Runtime.alertDeps() gives all of these; a configured channel without its client fails. */
export interface AlertDeps {
  sns?: SNSClient;
  eventBridge?: EventBridgeClient;
  /** for the Slack webhook URL: a client, or how to get one (the Runtime imports the SDK on demand) */
  ssm?: SSMClient | (() => Promise<SSMClient>);
  /** Config.alerts: which channels are on (none when absent) */
  channels?: AlertChannels;
  /** the Runtime's Slack webhook URL cache (default: none kept between calls) */
  slackUrls?: TtlCache<URL>;
  /** Config.region: the console link's region when no ARN names one */
  region?: string;
  /** upper bound for the whole call; every channel is aborted when it passes */
  timeoutMs?: number;
}

const NO_CHANNELS: AlertChannels = { decisionEvents: 'alerts' };

export type ChannelResult = 'sent' | 'skipped' | 'failed';

export interface AlertOutcome {
  sns: ChannelResult;
  eventBridge: ChannelResult;
  slack: ChannelResult;
  /** undefined when no decision needed an alert */
  message?: AlertMessage;
  /** decision events sent (or attempted) */
  events: number;
}

export async function sendAlerts(
  decisions: Decision[],
  ctx: AlertContext,
  deps: AlertDeps = {},
): Promise<AlertOutcome> {
  try {
    return await sendBounded(decisions, ctx, deps);
  } catch (error) {
    // building the message itself failed: still leave a record of what should have gone out
    logger.error('alert: could not be prepared', { error, alertContext: ctx, decisions });
    for (const name of configuredChannels(deps.channels ?? NO_CHANNELS)) countAlertDeliveryFailure(name);
    return { sns: 'failed', eventBridge: 'failed', slack: 'failed', events: 0 };
  }
}

function configuredChannels(channels: AlertChannels): ChannelName[] {
  return [
    ...(channels.topicArn ? (['sns'] as const) : []),
    ...(channels.eventBus ? (['eventbridge'] as const) : []),
    ...(channels.slackWebhookParameter ? (['slack'] as const) : []),
  ];
}

async function sendBounded(decisions: Decision[], given: AlertContext, deps: AlertDeps): Promise<AlertOutcome> {
  const channels = deps.channels ?? NO_CHANNELS;
  const ctx = deps.region && !given.homeRegion ? { ...given, homeRegion: deps.region } : given;
  const message = buildAlert(decisions, ctx);
  const busName = channels.eventBus;
  const entries = busName ? decisionEventEntries(decisions, ctx, busName, channels.decisionEvents) : [];
  const timeoutMs = Math.max(1, deps.timeoutMs ?? DEFAULT_ALERT_TIMEOUT_MS);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`alerts took longer than ${timeoutMs} ms`)), timeoutMs);
  try {
    const [sns, eventBridge, slack] = await Promise.all([
      sendSns(message, given, channels, deps, abort.signal),
      sendEvents(entries, deps, abort.signal),
      sendSlack(message, channels, deps, abort.signal),
    ]);
    return { sns, eventBridge, slack, events: entries.length, ...(message ? { message } : {}) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs one channel; its failure is logged with `content` and reported as 'failed'.
 * Racing against the abort signal bounds the time even if a client ignores it.
 */
async function channel(
  name: ChannelName,
  content: object,
  signal: AbortSignal,
  send: () => Promise<void>,
): Promise<ChannelResult> {
  try {
    await raceSignal(send(), signal, (reason) => (reason instanceof Error ? reason : new Error('aborted')));
    return 'sent';
  } catch (error) {
    logger.error(`alert: ${name} not delivered`, { channel: name, error: describe(error), undelivered: content });
    // counted too, so that a dashboard and an alarm see what only a log line would say
    countAlertDeliveryFailure(name);
    return 'failed';
  }
}

type ChannelName = Parameters<typeof countAlertDeliveryFailure>[0];

/** A configured channel whose client was not given: a wiring bug, reported as that channel's failure. */
function clientOf<C>(client: C | undefined, name: string): C {
  if (!client) throw new Error(`no ${name} client given to sendAlerts`);
  return client;
}

/** Name and message only: SDK errors carry request metadata we do not need in the log. */
function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}

function sendSns(
  message: AlertMessage | undefined,
  ctx: AlertContext,
  channels: AlertChannels,
  deps: AlertDeps,
  signal: AbortSignal,
): Promise<ChannelResult> {
  const topicArn = channels.topicArn;
  if (!message || !topicArn) return Promise.resolve('skipped');
  const content = { topicArn, subject: message.subject, body: message.body, alertContext: ctx };
  return channel('sns', content, signal, async () => {
    await publishAlert(clientOf(deps.sns, 'SNS'), topicArn, message, signal);
  });
}

function sendEvents(
  entries: ReturnType<typeof decisionEventEntries>,
  deps: AlertDeps,
  signal: AbortSignal,
): Promise<ChannelResult> {
  if (entries.length === 0) return Promise.resolve('skipped');
  return channel('eventbridge', { entries }, signal, async () => {
    const failed = await putDecisionEvents(clientOf(deps.eventBridge, 'EventBridge'), entries, signal);
    if (failed.length === 0) return;
    // log exactly the entries that did not make it, then report the channel failed
    logger.error('alert: some decision events not delivered', { channel: 'eventbridge', failed });
    throw new Error(`${failed.length} of ${entries.length} decision events failed (${failed[0]?.errorCode})`);
  });
}

function sendSlack(
  message: AlertMessage | undefined,
  channels: AlertChannels,
  deps: AlertDeps,
  signal: AbortSignal,
): Promise<ChannelResult> {
  const parameter = channels.slackWebhookParameter;
  if (!message || !parameter) return Promise.resolve('skipped');
  return channel('slack', { parameter, subject: message.subject, text: message.text }, signal, async () => {
    const ssm = clientOf(deps.ssm, 'SSM');
    await postSlack(
      typeof ssm === 'function' ? await ssm() : ssm,
      parameter,
      message,
      signal,
      deps.slackUrls ?? slackUrlCache(),
    );
  });
}
