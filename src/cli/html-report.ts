/**
 * The audit as one self-contained HTML page a security team can open: the summary,
 * a table per cluster, and the details of every denial. No script, no external asset
 * (styles inline), and every value from ECS, a registry or the policy escaped: an
 * image name or a detail sentence is data, never markup.
 */
import type { AuditRow, Counts, Summary } from './audit-summary.js';

export interface ReportInput {
  rows: AuditRow[];
  summary: Summary;
  generatedAt: Date;
  /** the policy's hash, so two reports can be told apart */
  policy: string;
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1f23;background:#fff}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.meta{color:#57606a;margin:0 0 1.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.deny{color:#cf222e;font-weight:600}.allow{color:#1a7f37}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}.card.bad b{color:#cf222e}
`;

export function renderReport(input: ReportInput): string {
  const { summary, rows } = input;
  const denied = rows.filter((r) => r.decision === 'deny');
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>ecs-image-gate audit ${escapeHtml(input.generatedAt.toISOString())}</title>`,
    `<style>${STYLE}</style></head><body>`,
    '<h1>ecs-image-gate audit</h1>',
    `<p class="meta">Generated ${escapeHtml(input.generatedAt.toISOString())} · policy ${escapeHtml(input.policy.slice(0, 12))} · nothing was changed</p>`,
    cards(summary.total),
    '<h2 id="summary">Summary</h2>',
    summaryTable(summary),
    byReason(summary),
    ...[...summary.clusters.keys()].map((c) =>
      clusterSection(
        c,
        rows.filter((r) => r.cluster === c),
      ),
    ),
    '<h2 id="denials">Denial details</h2>',
    denied.length ? denials(denied) : '<p>Nothing would be denied.</p>',
    '</body></html>',
    '',
  ].join('\n');
}

function cards(total: Counts): string {
  const card = (label: string, n: number, bad = false) =>
    `<div class="card${bad && n ? ' bad' : ''}"><b>${n}</b>${escapeHtml(label)}</div>`;
  return `<div class="cards">${card('services', total.services)}${card('standalone tasks', total.tasks)}${card('images', total.images)}${card('would be denied', total.denied, true)}</div>`;
}

function summaryTable(s: Summary): string {
  const row = (name: string, c: Counts, tag = 'td') =>
    `<tr><${tag}>${escapeHtml(name)}</${tag}>${[c.services, c.tasks, c.containers, c.images, c.denied].map((n) => `<td class="num">${n}</td>`).join('')}</tr>`;
  return [
    '<table><thead><tr><th>Cluster</th><th>Services</th><th>Standalone tasks</th><th>Containers</th><th>Images</th><th>Would be denied</th></tr></thead><tbody>',
    ...[...s.clusters.entries()].map(([name, c]) => row(name, c)),
    row('Total', s.total, 'th'),
    '</tbody></table>',
  ].join('\n');
}

function byReason(s: Summary): string {
  if (!s.byReason.size) return '<p>Nothing would be denied.</p>';
  const rows = [...s.byReason.entries()].map(
    ([reason, n]) => `<tr><td><code>${escapeHtml(reason)}</code></td><td class="num">${n}</td></tr>`,
  );
  return [
    '<table><thead><tr><th>Reason</th><th>Would be denied</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table>',
  ].join('\n');
}

function clusterSection(cluster: string, rows: AuditRow[]): string {
  const body = rows.map(
    (r) =>
      `<tr><td>${escapeHtml(r.service ?? '')}${r.taskArn ? `<code>${escapeHtml(r.taskArn)}</code>` : ''}</td><td>${escapeHtml(r.container)}</td>` +
      `<td><code>${escapeHtml(r.image)}</code></td><td><code>${escapeHtml(r.digest ?? '')}</code></td>` +
      `<td class="${r.decision}">${r.decision === 'deny' ? 'would be denied' : 'allowed'}</td><td><code>${escapeHtml(r.reason)}</code></td></tr>`,
  );
  return [
    `<h2>Cluster ${escapeHtml(cluster)}</h2>`,
    '<table><thead><tr><th>Service or task</th><th>Container</th><th>Image</th><th>Digest</th><th>Decision</th><th>Reason</th></tr></thead><tbody>',
    ...body,
    '</tbody></table>',
  ].join('\n');
}

/** One entry per denied image and reason, with every place it runs. */
function denials(rows: AuditRow[]): string {
  const groups = new Map<string, AuditRow[]>();
  for (const r of rows) {
    const key = `${r.image}|${r.digest ?? ''}|${r.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const body = [...groups.values()].map((g) => {
    const r = g[0]!;
    const where = g.map((x) => `${x.cluster}/${x.service ?? x.taskArn}:${x.container}`);
    return (
      `<tr><td><code>${escapeHtml(r.image)}</code><br><code>${escapeHtml(r.digest ?? 'no digest')}</code></td>` +
      `<td class="deny"><code>${escapeHtml(r.reason)}</code></td><td>${escapeHtml(r.detail)}${r.rule ? ` (rule ${escapeHtml(r.rule)})` : ''}</td>` +
      `<td>${where.map(escapeHtml).join('<br>')}</td></tr>`
    );
  });
  return [
    '<table><thead><tr><th>Image</th><th>Reason</th><th>Detail</th><th>Where it runs</th></tr></thead><tbody>',
    ...body,
    '</tbody></table>',
  ].join('\n');
}
