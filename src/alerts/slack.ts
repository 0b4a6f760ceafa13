/**
 * Slack through an incoming webhook. The webhook URL is a secret (anyone holding
 * it can post to the channel), so it lives in an SSM SecureString named by
 * SLACK_WEBHOOK_PARAMETER, is cached per container for a few minutes (rotation is
 * picked up) and never appears in a log line or an error message.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { TtlCache } from '../core/cache.js';
import type { AlertMessage } from './message.js';

const URL_TTL_MS = 5 * 60_000;
const SLACK_TEXT_MAX = 3500; // Slack truncates long messages; keep ours whole and readable

/** Webhook URLs by parameter name; the Runtime keeps one per container. */
export function slackUrlCache(): TtlCache<URL> {
  return new TtlCache<URL>({ ttlMs: URL_TTL_MS, maxEntries: 10 });
}

/** An error that is safe to log: it never carries the webhook URL. */
export class SlackError extends Error {
  override name = 'SlackError';
}

export async function webhookUrl(
  ssm: SSMClient,
  parameterName: string,
  abortSignal: AbortSignal,
  urls: TtlCache<URL>,
): Promise<URL> {
  const hit = urls.get(parameterName);
  if (hit) return hit;
  const { GetParameterCommand } = await import('@aws-sdk/client-ssm'); // only a Slack channel needs it
  const out = await ssm.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }), { abortSignal });
  const url = checkedUrl(out.Parameter?.Value);
  urls.set(parameterName, url);
  return url;
}

/** HTTPS only, except plain HTTP to a loopback address (local tests and demos). */
function checkedUrl(value: string | undefined): URL {
  let url: URL;
  try {
    url = new URL(value ?? '');
  } catch {
    throw new SlackError('the Slack webhook parameter does not hold a URL');
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return url;
  throw new SlackError(`the Slack webhook URL must use https (got ${url.protocol})`);
}

/** Slack mrkdwn treats &, < and > as markup: escape them in our text. */
export function slackText(alert: AlertMessage): string {
  const escaped = alert.text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const text = `*${escapeMrkdwn(alert.subject)}*\n${escaped}`;
  return text.length <= SLACK_TEXT_MAX ? text : `${text.slice(0, SLACK_TEXT_MAX - 20)}\n… (truncated)`;
}

function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export async function postSlack(
  ssm: SSMClient,
  parameterName: string,
  alert: AlertMessage,
  abortSignal: AbortSignal,
  urls: TtlCache<URL>,
): Promise<void> {
  const url = await webhookUrl(ssm, parameterName, abortSignal, urls);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: slackText(alert) }),
      signal: abortSignal,
      redirect: 'error', // a webhook never redirects; following one would send the alert elsewhere
    });
  } catch (error) {
    // fetch errors may quote the URL: keep only the kind of failure
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new SlackError(`posting to the Slack webhook failed: ${(error as Error).name}${cause ? ` (${cause})` : ''}`);
  }
  await response.body?.cancel().catch(() => undefined);
  if (!response.ok) throw new SlackError(`the Slack webhook answered HTTP ${response.status}`);
}
