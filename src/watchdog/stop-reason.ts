/**
 * The `reason` given to ecs:StopTask. ECS shows it as the task's stoppedReason (console,
 * DescribeTasks, the STOPPED event), so it is where whoever ran the task learns why
 * it died. ECS caps it at 255 characters; we shorten in steps so the reason code of
 * every listed container survives: full digests, then short digests, then shortened
 * names, then names without the registry host, then "+N more".
 */
import type { Decision } from '../policy/decision.js';

export const STOP_REASON_MAX = 255;
export const STOP_REASON_PREFIX = 'ecs-image-gate: ';

type Style = 'full' | 'short' | 'compact' | 'tight';

/** "ecs-image-gate: web 1234.dkr.ecr.us-east-1.amazonaws.com/app@sha256:ab12cd34ef56... SIGNATURE_MISSING" */
export function stopReason(blocking: Decision[]): string {
  const items = blocking.length ? blocking : [];
  for (const style of ['full', 'short', 'compact', 'tight'] as const) {
    const text = STOP_REASON_PREFIX + items.map((d) => item(d, style)).join('; ');
    if (text.length <= STOP_REASON_MAX) return text;
  }
  for (let shown = items.length - 1; shown >= 1; shown--) {
    const text = `${STOP_REASON_PREFIX}${items.slice(0, shown).map((d) => item(d, 'tight')).join('; ')}; +${items.length - shown} more`;
    if (text.length <= STOP_REASON_MAX) return text;
  }
  return lastResort(items[0], items.length - 1);
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

/** One container, everything cut to fit, reason code kept whole. */
function lastResort(d: Decision | undefined, more: number): string {
  if (!d) return `${STOP_REASON_PREFIX}denied`;
  const tail = ` ${d.reason}${more ? `; +${more} more` : ''}`;
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
