/**
 * How commands print rows: an aligned text table for people, CSV for spreadsheets
 * (RFC 4180 quoting), the HTML report (html-report.ts) for a security team, and the
 * evidence lines of `verify --explain`.
 */
import type { Decision } from '../core/decision.js';

/** Columns padded to their widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** One CSV record: fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvLine(fields: (string | number | null | undefined)[]): string {
  return fields
    .map((f) => {
      const s = f === null || f === undefined ? '' : String(f);
      return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    })
    .join(',');
}

/**
 * `verify --explain`: the evidence behind a decision, one piece a line. Verifiers join
 * the pieces of one verdict with " + " (what passed: the signature, then each
 * attestation with the bundle used) and the failures with "; " (each unmet
 * attestation: the bundle and the condition that failed, or why none counted).
 */
export function explainLines(d: Decision): string[] {
  const pieces =
    d.decision === 'allow' && d.verifiedBy.length ? d.verifiedBy.flatMap((v) => v.split(' + ')) : d.detail.split('; ');
  return pieces.map((p) => `  ${d.decision === 'allow' ? 'passed' : 'failed'}: ${p}`);
}
