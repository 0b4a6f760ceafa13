/**
 * The README's "Under faults" table, rendered from what test/faults-matrix.test.ts
 * measured, and compared with the README's copy (every column but the time, which
 * varies from run to run) so the README cannot drift from the tests.
 */
import { blocks, type Decision } from '../../src/core/decision.js';

export interface FaultRow {
  fault: string;
  results: Record<'enforce' | 'onErrorAllow' | 'audit', Record<'signed' | 'unsigned' | 'tampered', Decision>>;
  medianMs: number;
}

/** The table sits between these markers in README.md. */
export const README_TABLE = /<!-- fault-table:begin -->\n([\s\S]*?)<!-- fault-table:end -->/;

const HEADER = [
  '| fault | signed, enforce | unsigned, enforce | tampered, enforce | unsigned, enforce + `onError: allow` | audit mode | median ms |',
  '|---|---|---|---|---|---|---|',
];

export function renderFaultTable(rows: FaultRow[], deadlineMs: number): string {
  const lines = rows.map((row) => {
    const { enforce, onErrorAllow, audit } = row.results;
    const auditAdmits = Object.values(audit).every((d) => !blocks(d) && d.reason === enforce[imageOf(d)].reason);
    return `| ${[
      row.fault,
      cell(enforce.signed),
      cell(enforce.unsigned),
      cell(enforce.tampered),
      cell(onErrorAllow.unsigned),
      auditAdmits ? 'admits, code kept' : '**blocks**',
      String(Math.round(row.medianMs)),
    ].join(' | ')} |`;
  });
  return [
    ...HEADER,
    ...lines,
    '',
    `Deadline ${deadlineMs} ms per decision; time is the median \`durationMs\` of the row's nine decisions.`,
    '',
  ].join('\n');
}

/** Rows (without the time column) that differ between two renderings; [] when they agree. */
export function compareTables(documented: string, measured: string): string[] {
  const outcomes = (table: string) =>
    table
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| fault'))
      .map((l) => l.split(' | ').slice(0, -1).join(' | '));
  const a = outcomes(documented);
  const b = outcomes(measured);
  const differing = b.filter((row) => !a.includes(row)).map((row) => `measured: ${row}`);
  return [...differing, ...a.filter((row) => !b.includes(row)).map((row) => `README:   ${row}`)];
}

function cell(d: Decision): string {
  return `${d.decision} \`${d.reason}\``;
}

function imageOf(d: Decision): 'signed' | 'unsigned' | 'tampered' {
  return d.image.slice(d.image.lastIndexOf(':') + 1) as 'signed' | 'unsigned' | 'tampered';
}
