/**
 * The alert a person reads (email through SNS, Slack) and the record a program
 * parses, built once from the decisions of one event (a task or a deployment).
 * Pure: no I/O, so the same text is what gets logged when a channel fails.
 */
import { decisionLine, type Decision, type ReasonCode } from '../core/decision.js';
import { alertWhere, clusterName, isAlertable, type AlertContext, type AlertWhere } from './context.js';
import { severityOf, type Severity } from './severity.js';

/** SNS refuses a subject longer than 100 characters. */
export const SUBJECT_MAX = 100;

/**
 * SNS refuses a message over 256 KiB (body, subject and attributes together). The
 * body stays well below: past this many bytes the lists are cut, with a line that
 * says how many decisions are left out and where to read them.
 */
export const BODY_MAX_BYTES = 200 * 1024;

export const JSON_BEGIN = '-----BEGIN ECS-IMAGE-GATE ALERT-----';
export const JSON_END = '-----END ECS-IMAGE-GATE ALERT-----';

/** The machine-readable half of an alert; stable keys, version 1. */
export interface AlertRecord extends AlertWhere {
  version: 1;
  severity: Severity;
  note: string | null;
  denied: AlertedImage[];
  /** alertable decisions left out of `denied` to keep the message under BODY_MAX_BYTES */
  omitted: number;
}

export interface AlertedImage {
  container: string;
  image: string;
  digest: string | null;
  decision: Decision['decision'];
  reason: ReasonCode;
  severity: Severity;
  rule: string | null;
  detail: string;
}

export interface AlertMessage {
  subject: string;
  /** email body: readable text, then the record between JSON_BEGIN and JSON_END */
  body: string;
  /** the readable text alone (Slack) */
  text: string;
  record: AlertRecord;
}

const ACTION_WORDS: Record<AlertContext['action'], string> = {
  'deployment-failed': 'the deployment was failed before any traffic shifted (hook answered FAILED)',
  'task-stopped': 'the task was stopped (ecs:StopTask)',
  'stop-failed': 'STOPPING THE TASK FAILED: it may still be running; the watchdog will retry',
  'none (audit mode)': 'nothing: audit mode logs and alerts but admits',
  'none (admitted on error)': 'nothing: the policy admits on error (onError: allow)',
  'none (allowed)': 'nothing: every image was allowed',
};

/** Undefined when no decision needs an alert. */
export function buildAlert(decisions: Decision[], ctx: AlertContext): AlertMessage | undefined {
  const alerted = decisions.filter(isAlertable);
  if (alerted.length === 0) return undefined;
  const allowed = decisions.filter((d) => !isAlertable(d));
  const subject = buildSubject(alerted, ctx);
  const whole = compose(decisions.length, alerted, allowed, ctx, alerted.length, allowed.length);
  if (fits(whole)) return { subject, ...whole };
  // Too big for SNS: the allowed list goes first, then as many denied as fit (binary search).
  const noAllowed = compose(decisions.length, alerted, allowed, ctx, alerted.length, 0);
  if (fits(noAllowed)) return { subject, ...noAllowed };
  let low = 0;
  let high = alerted.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(compose(decisions.length, alerted, allowed, ctx, mid, 0))) low = mid;
    else high = mid - 1;
  }
  return { subject, ...compose(decisions.length, alerted, allowed, ctx, low, 0) };
}

type Composed = Pick<AlertMessage, 'body' | 'text' | 'record'>;

function fits(message: Composed): boolean {
  return Buffer.byteLength(message.body, 'utf8') <= BODY_MAX_BYTES;
}

/** The message listing the first `deniedShown` alertable and `allowedShown` allowed decisions. */
function compose(
  total: number,
  alerted: Decision[],
  allowed: Decision[],
  ctx: AlertContext,
  deniedShown: number,
  allowedShown: number,
): Composed {
  const record = buildRecord(alerted, deniedShown, ctx);
  const text = buildText(total, alerted, allowed, ctx, record, deniedShown, allowedShown);
  const body = `${text}\n\n${JSON_BEGIN}\n${JSON.stringify(record, null, 2)}\n${JSON_END}\n`;
  return { body, text, record };
}

/** Reads back the record of an alert body (for subscribers written in TypeScript, and tests). */
export function parseAlertBody(body: string): AlertRecord | undefined {
  const start = body.indexOf(JSON_BEGIN);
  const end = body.indexOf(JSON_END, start);
  if (start < 0 || end < 0) return undefined;
  return JSON.parse(body.slice(start + JSON_BEGIN.length, end)) as AlertRecord;
}

/** The record lists the first `shown` alertable decisions; its severity is that of all of them. */
function buildRecord(alerted: Decision[], shown: number, ctx: AlertContext): AlertRecord {
  const denied = alerted.slice(0, shown).map(
    (d): AlertedImage => ({
      container: d.container,
      image: d.image,
      digest: d.digest,
      decision: d.decision,
      reason: d.reason,
      severity: severityOf(d),
      rule: d.rule,
      detail: d.detail,
    }),
  );
  return {
    version: 1,
    ...alertWhere(ctx),
    severity: highest(alerted.map(severityOf)),
    note: ctx.note ?? null,
    denied,
    omitted: alerted.length - shown,
  };
}

/** "ecs-image-gate: DENIED SIGNATURE_MISSING web (+1) in demo-cluster" */
export function buildSubject(alerted: Decision[], ctx: AlertContext): string {
  const first = alerted[0];
  const head = `ecs-image-gate: ${verdictWord(first, ctx)}${first ? ` ${first.reason}` : ''}`;
  const more = alerted.length > 1 ? ` (+${alerted.length - 1})` : '';
  // verdict, code and count always fit; container and cluster share what is left
  const room = SUBJECT_MAX - head.length - more.length - (first ? 1 : 0) - 4;
  const [container, cluster] = share(room, first?.container ?? '', clusterName(ctx) ?? '');
  const where = cluster ? ` in ${cluster}` : '';
  return clampSubject(`${head}${container ? ` ${container}` : ''}${more}${where}`);
}

/** Cuts two names to fit `room` characters together, the shorter one kept whole when it can be. */
function share(room: number, a: string, b: string): [string, string] {
  if (a.length + b.length <= room) return [a, b];
  const half = Math.floor(room / 2);
  const aRoom = b.length < half ? room - b.length : Math.max(half, room - b.length);
  return [cut(a, aRoom), cut(b, room - Math.min(a.length, aRoom))];
}

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  return max <= 3 ? s.slice(0, Math.max(0, max)) : `${s.slice(0, max - 3)}...`;
}

function verdictWord(first: Decision | undefined, ctx: AlertContext): string {
  if (ctx.action === 'stop-failed') return 'STOP FAILED';
  if (first?.decision === 'allow') return 'ADMITTED ON ERROR';
  return ctx.mode === 'audit' ? 'AUDIT DENIED' : 'DENIED';
}

/**
 * SNS subjects are ASCII without control characters, at most 100 long: replace
 * anything else and cut with "..." so the message is never refused for its subject.
 */
export function clampSubject(s: string): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= SUBJECT_MAX ? ascii : `${ascii.slice(0, SUBJECT_MAX - 3)}...`;
}

function buildText(
  total: number,
  alerted: Decision[],
  allowed: Decision[],
  ctx: AlertContext,
  record: AlertRecord,
  deniedShown: number,
  allowedShown: number,
): string {
  const subjectLine = ctx.taskArn
    ? `task ${record.taskArn}`
    : record.service
      ? `service ${record.service}${ctx.serviceRevisionArn ? ` (revision ${ctx.serviceRevisionArn})` : ''}`
      : 'a workload';
  const lines = [
    `ecs-image-gate (${ctx.source}, ${ctx.mode} mode) found ${alerted.length} of ${total} container image(s) not admissible in ${subjectLine}${record.cluster ? ` on cluster ${record.cluster}` : ''}${record.region ? ` (${record.region})` : ''}.`,
    '',
    `Action taken: ${ACTION_WORDS[ctx.action]}.`,
  ];
  if (ctx.note) lines.push(`Note: ${ctx.note}`);
  lines.push('', 'Denied:', ...alerted.slice(0, deniedShown).map((d) => `  - [${severityOf(d)}] ${decisionLine(d)}`));
  const omitted = alerted.length - deniedShown + allowed.length - allowedShown;
  if (allowedShown > 0)
    lines.push('', 'Allowed:', ...allowed.slice(0, allowedShown).map((d) => `  - ${decisionLine(d)}`));
  if (omitted > 0) lines.push('', omittedLine(omitted, alerted.length - deniedShown, ctx));
  if (record.consoleUrl) lines.push('', `Open in the ECS console: ${record.consoleUrl}`);
  return lines.join('\n');
}

/** Where the decisions that did not fit into the message can be read in full. */
function omittedLine(omitted: number, omittedDenied: number, ctx: AlertContext): string {
  const key = ctx.taskArn
    ? `taskArn ${ctx.taskArn}`
    : ctx.serviceRevisionArn
      ? `serviceRevisionArn ${ctx.serviceRevisionArn}`
      : 'the time of this alert';
  return (
    `… ${omitted} more decisions (${omittedDenied} of them not admissible) left out to keep this message under SNS's size limit: ` +
    `see the decision events (DECISION_EVENT_BUS) or the ${ctx.source} function's CloudWatch logs (search for ${key}).`
  );
}

const ORDER: Severity[] = ['INFO', 'LOW', 'MEDIUM', 'HIGH'];

export function highest(severities: Severity[]): Severity {
  return severities.reduce<Severity>((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a), 'INFO');
}
