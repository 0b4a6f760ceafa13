/**
 * The `reason` given to ecs:StopTask. ECS shows it as the task's stoppedReason (console,
 * DescribeTasks, the STOPPED event), so it is where whoever ran the task learns why
 * it died. ECS caps it at 255 characters; we shorten in steps so that every reason code
 * survives: full digests, then short digests, then shortened names, then names without
 * the registry host, then the first containers and "+N more" with the codes of the
 * containers left out.
 *
 * Linear in the number of containers: each attempt stops building as soon as it is
 * over the cap, and the "+N more" form is chosen in one pass over the tight items.
 */
import type { Decision, ReasonCode } from '../core/decision.js';

export const STOP_REASON_MAX = 255;
export const STOP_REASON_PREFIX = 'ecs-image-gate: ';

type Style = 'full' | 'short' | 'compact' | 'tight';
const SEPARATOR = '; ';

/** "ecs-image-gate: web 1234.dkr.ecr.us-east-1.amazonaws.com/app@sha256:ab12cd34ef56... SIGNATURE_MISSING" */
export function stopReason(blocking: Decision[]): string {
  if (blocking.length === 0) return `${STOP_REASON_PREFIX}denied`;
  for (const style of ['full', 'short', 'compact', 'tight'] as const) {
    const text = joinWithin(blocking, style);
    if (text !== undefined) return text;
  }
  return (blocking.length > 1 && firstFewAndMore(blocking)) || lastResort(blocking);
}

/** All items in one style, or undefined as soon as they pass the cap. */
function joinWithin(items: Decision[], style: Style): string | undefined {
  const parts: string[] = [];
  let length = STOP_REASON_PREFIX.length - SEPARATOR.length;
  for (const d of items) {
    const part = item(d, style);
    length += SEPARATOR.length + part.length;
    if (length > STOP_REASON_MAX) return undefined;
    parts.push(part);
  }
  return STOP_REASON_PREFIX + parts.join(SEPARATOR);
}

/**
 * "a ...; b ...; +N more: REVOKED": the most tight items that fit with a tail naming
 * every code not already shown. A code is hidden by showing k items exactly when it
 * first appears at index k or later, so each k's tail comes from the first indexes.
 */
function firstFewAndMore(items: Decision[]): string | undefined {
  const firstAt = firstIndexes(items);
  let best: string | undefined;
  let listed = '';
  for (let shown = 1; shown < items.length; shown++) {
    listed += (shown > 1 ? SEPARATOR : '') + item(items[shown - 1]!, 'tight');
    if (STOP_REASON_PREFIX.length + listed.length > STOP_REASON_MAX) break;
    const text = `${STOP_REASON_PREFIX}${listed}${SEPARATOR}${moreTail(items.length - shown, firstAt, shown)}`;
    if (text.length <= STOP_REASON_MAX) best = text;
  }
  return best;
}

/** Each reason code with the index of its first container, in order of appearance. */
function firstIndexes(items: Decision[]): [ReasonCode, number][] {
  const first = new Map<ReasonCode, number>();
  items.forEach((d, i) => {
    if (!first.has(d.reason)) first.set(d.reason, i);
  });
  return [...first];
}

/** "+N more" and, after a colon, the codes that appear only among the N. */
function moreTail(more: number, firstAt: [ReasonCode, number][], shown: number): string {
  const hidden = firstAt.filter(([, i]) => i >= shown).map(([code]) => code);
  return `+${more} more${hidden.length ? `: ${hidden.join(', ')}` : ''}`;
}

function item(d: Decision, style: Style): string {
  const container = style === 'compact' || style === 'tight' ? cutEnd(ascii(d.container), 32) : ascii(d.container);
  return `${container} ${imageOf(d, style)} ${d.reason}`;
}

function imageOf(d: Decision, style: Style): string {
  const at = d.image.indexOf('@');
  const name = ascii(at >= 0 ? d.image.slice(0, at) : d.image);
  const digest = d.digest ?? (at >= 0 ? d.image.slice(at + 1) : undefined);
  const shownDigest = digest ? `@${style === 'full' ? digest : shortDigest(digest)}` : '';
  return `${shorten(name, style)}${shownDigest}`;
}

/** compact: long names lose their middle; tight: the registry host goes too (the repository tells most). */
function shorten(name: string, style: Style): string {
  if (style === 'compact') return cutMiddle(name, 72);
  if (style !== 'tight') return name;
  const slash = name.indexOf('/');
  return cutMiddle(slash > 0 ? `.../${name.slice(slash + 1)}` : name, 48);
}

/** "sha256:ab12cd34ef56..." — 12 hex characters identify an image to a person. */
function shortDigest(digest: string): string {
  const [alg, hex = ''] = digest.split(':');
  return hex.length > 12 ? `${alg}:${hex.slice(0, 12)}...` : digest;
}

/**
 * The first container, everything cut to fit, its reason code whole and the codes of
 * the others after it. Only when even those codes pass the cap (more than a dozen
 * different ones) is the end cut off.
 */
function lastResort(items: Decision[]): string {
  const d = items[0]!;
  const more = items.length - 1;
  const tail = ` ${d.reason}${more ? `${SEPARATOR}${moreTail(more, firstIndexes(items), 1)}` : ''}`;
  const container = cutEnd(ascii(d.container), 32);
  const room = STOP_REASON_MAX - STOP_REASON_PREFIX.length - container.length - 1 - tail.length;
  const image = cutMiddle(imageOf(d, 'short'), Math.max(0, room));
  return `${STOP_REASON_PREFIX}${container} ${image}${tail}`.slice(0, STOP_REASON_MAX);
}

/** Keep both ends of a name: the registry host and the repository's last segment tell most. */
function cutMiddle(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 3) return s.slice(0, max);
  const keepEnd = Math.ceil((max - 3) / 2);
  const keepStart = max - 3 - keepEnd;
  return `${s.slice(0, keepStart)}...${s.slice(s.length - keepEnd)}`;
}

function cutEnd(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 3)}...`;
}

/** The reason travels through APIs and consoles: printable ASCII only. */
function ascii(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}
