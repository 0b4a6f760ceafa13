/**
 * ecs-image-gate audit (--cluster C… | --all-clusters) [--region R…] [--policy FILE | --stack NAME]
 *                      [--json | --csv | --html FILE] [--timeout S]
 *
 * What the policy would deny today, changing nothing: every service's current images
 * and every running standalone task (audit-inventory.ts), decided under the policy.
 * Each (repository, digest) is verified once per run however many workloads share it
 * (a run-wide cache keeps every outcome, denials included). Exit 1 when anything would
 * be denied, whatever the policy's mode: the audit reports what enforce would do.
 */
import { writeFileSync } from 'node:fs';
import { ECSClient } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../core/aws.js';
import { TtlCache } from '../core/cache.js';
import { decide, type Gate, type ImageInput, type RuleOutcome } from '../gate/decide.js';
import { decisionLine, type Decision } from '../core/decision.js';
import { settingsFor, type Scope } from '../policy/overrides.js';
import {
  EnvironmentError,
  parseOptions,
  TIMEOUT_OPTION,
  timeoutSeconds,
  UsageError,
  type ExitCode,
  type Io,
} from './args.js';
import { clustersOf, inventory, type Inventory, type Workload } from './audit-inventory.js';
import { runtimeFor } from './gate.js';
import { summarize, type AuditRow, type Summary } from './audit-summary.js';
import { renderReport } from './html-report.js';
import { csvLine, table } from './output.js';
import { describeStack, stackParameter } from './stack.js';

export type { AuditRow } from './audit-summary.js';

export const CSV_COLUMNS = [
  'decision',
  'reason',
  'cluster',
  'service',
  'taskArn',
  'container',
  'image',
  'digest',
  'rule',
  'mode',
  'detail',
] as const;

export async function audit(args: string[], io: Io): Promise<ExitCode> {
  const { values } = parseOptions(args, {
    cluster: { type: 'string', multiple: true },
    'all-clusters': { type: 'boolean' },
    region: { type: 'string', multiple: true },
    policy: { type: 'string' },
    stack: { type: 'string' },
    json: { type: 'boolean' },
    csv: { type: 'boolean' },
    html: { type: 'string' },
    ...TIMEOUT_OPTION,
  });
  const clusters = values.cluster ?? [];
  if (!clusters.length === !values['all-clusters'])
    throw new UsageError('audit needs --cluster C… or --all-clusters (one of them)');
  if ([values.json, values.csv, values.html !== undefined].filter(Boolean).length > 1)
    throw new UsageError('give one of --json, --csv, --html');
  if (values.policy && values.stack) throw new UsageError('give --policy or --stack, not both');
  const deadline = Date.now() + timeoutSeconds(values.timeout, 600) * 1000;
  if (values.stack) await useStackPolicy(io, values.stack);
  const runtime = runtimeFor(io, values.policy);
  const gate = await runtime.gate();
  const progress = new Progress(io);
  const inv = await readEstate(
    values.region ?? [],
    clusters,
    Boolean(values['all-clusters']),
    progress,
    runtime.clients,
  );
  const rows = await decideAll(inv, gate, deadline, progress);
  progress.done();
  const summary = summarize(rows, inv.counts);
  if (values.json) for (const r of rows) io.out(JSON.stringify(r));
  else if (values.csv) writeCsv(rows, io);
  else {
    printSummary(summary, rows, io);
    if (values.html !== undefined) {
      writeFileSync(values.html, renderReport({ rows, summary, generatedAt: new Date(), policy: gate.policy.hash }));
      io.out(`report written to ${values.html}`);
    }
  }
  return rows.some((r) => r.decision === 'deny') ? 1 : 0;
}

/** The policy the deployed stack decides with: its SSM document, or its parameters. */
async function useStackPolicy(io: Io, name: string): Promise<void> {
  const stack = await describeStack(name);
  for (const v of [
    'POLICY',
    'POLICY_FILE',
    'POLICY_PARAMETER',
    'COSIGN_KEY_PEM',
    'COSIGN_KEY_ARN',
    'TRUSTED_SIGNING_PROFILES',
    'FAILURE_BEHAVIOR',
  ])
    delete io.env[v];
  const parameter = stackParameter(stack, 'PolicyParameterName');
  if (parameter) {
    io.env.POLICY_PARAMETER = parameter;
    return;
  }
  const set = (env: string, key: string) => {
    const value = stackParameter(stack, key);
    if (value) io.env[env] = value;
  };
  set('COSIGN_KEY_PEM', 'CosignPublicKey');
  set('COSIGN_KEY_ARN', 'CosignKmsKeyArn');
  set('TRUSTED_SIGNING_PROFILES', 'TrustedSigningProfiles');
  set('FAILURE_BEHAVIOR', 'FailureBehavior');
}

async function readEstate(
  regions: string[],
  clusters: string[],
  all: boolean,
  progress: Progress,
  aws: AwsClients,
): Promise<Inventory> {
  const clients = regions.length ? regions.map((region) => new ECSClient({ region })) : [aws.ecs];
  const merged: Inventory = { workloads: [], counts: new Map() };
  for (const ecs of clients) {
    const names = all
      ? await clustersOf(ecs).catch((e: Error) => {
          throw new EnvironmentError(`listing ECS clusters failed (after retries): ${e.name}: ${e.message}`);
        })
      : clusters;
    progress.note(`reading ${names.length} cluster(s)`);
    const inv = await inventory(ecs, names).catch((e: Error) => {
      throw new EnvironmentError(`reading ECS failed (after retries): ${e.name}: ${e.message}`);
    });
    merged.workloads.push(...inv.workloads);
    for (const [c, n] of inv.counts) merged.counts.set(c, n);
  }
  return merged;
}

/**
 * One decide() per distinct (image, digest, settings) and a run-wide cache that keeps
 * every outcome: each (repository, digest) is verified once, however many services and
 * tasks run it. The mode shown per row is that of the row's own scope (overrides).
 */
async function decideAll(inv: Inventory, base: Gate, deadline: number, progress: Progress): Promise<AuditRow[]> {
  const gate: Gate = { ...base, cache: new TtlCache<RuleOutcome>({ ttlMs: 24 * 3600_000, maxEntries: 1_000_000 }) };
  const policy = gate.policy.document;
  const distinct = new Map<string, { input: ImageInput; scope: Scope }>();
  const keyed = inv.workloads.flatMap((w) =>
    w.containers.map((c) => {
      const scope = scopeOf(w);
      const key = `${c.image}|${c.digest ?? ''}|${settingsFor(policy, scope).override ?? -1}`;
      if (!distinct.has(key))
        distinct.set(key, {
          input: { container: key, image: c.image, digest: c.digest ?? null, resolveTag: !c.digest },
          scope,
        });
      return { w, c, key, scope };
    }),
  );
  const decided = new Map<string, Decision>();
  const todo = [...distinct.values()];
  progress.start(todo.length);
  for (let i = 0; i < todo.length; i += 32) {
    const batch = todo.slice(i, i + 32);
    const out = await Promise.all(
      batch.map(({ input, scope }) => decide([input], gate, { deadline, scope }).then((d) => d[0]!)),
    );
    for (const d of out) decided.set(d.container, d);
    progress.advance(batch.length);
  }
  return keyed.map(({ w, c, key, scope }) => {
    const d = decided.get(key)!;
    const where = w.service !== undefined ? { service: w.service } : { taskArn: w.taskArn! };
    return {
      ...d,
      container: c.name,
      image: c.image,
      mode: settingsFor(policy, scope).mode,
      cluster: w.cluster,
      ...where,
    };
  });
}

function scopeOf(w: Workload): Scope {
  return {
    cluster: w.cluster,
    ...(w.service ? { service: w.service } : {}),
    ...(w.taskFamily ? { taskFamily: w.taskFamily } : {}),
  };
}

function writeCsv(rows: AuditRow[], io: Io): void {
  io.out(CSV_COLUMNS.join(','));
  for (const r of rows) {
    io.out(
      csvLine([
        r.decision,
        r.reason,
        r.cluster,
        r.service,
        r.taskArn,
        r.container,
        r.image,
        r.digest,
        r.rule,
        r.mode,
        r.detail,
      ]),
    );
  }
}

function printSummary(s: Summary, rows: AuditRow[], io: Io): void {
  const line = (name: string, c: Summary['total']) => [
    name,
    String(c.services),
    String(c.tasks),
    String(c.containers),
    String(c.images),
    String(c.denied),
  ];
  const clusterRows = [...s.clusters.entries()].map(([name, c]) => line(name, c));
  for (const l of table(
    ['CLUSTER', 'SERVICES', 'TASKS', 'CONTAINERS', 'IMAGES', 'WOULD BE DENIED'],
    [...clusterRows, line('total', s.total)],
  ))
    io.out(l);
  if (!s.byReason.size) {
    io.out('nothing would be denied');
    return;
  }
  io.out('');
  for (const l of table(
    ['REASON', 'WOULD BE DENIED'],
    [...s.byReason.entries()].map(([r, n]) => [r, String(n)]),
  ))
    io.out(l);
  io.out('');
  for (const r of rows.filter((x) => x.decision === 'deny'))
    io.out(`${r.cluster} ${r.service ?? r.taskArn}: ${decisionLine(r)}`);
}

/** A progress bar on stderr, only when stderr is a terminal (never in a pipe or a log). */
class Progress {
  #total = 0;
  #done = 0;
  constructor(private readonly io: Io) {}

  note(text: string): void {
    if (this.io.tty) process.stderr.write(`\r\x1b[K${text}…`);
  }

  start(total: number): void {
    this.#total = total;
    this.#draw();
  }

  advance(n: number): void {
    this.#done += n;
    this.#draw();
  }

  done(): void {
    if (this.io.tty) process.stderr.write('\r\x1b[K');
  }

  #draw(): void {
    if (!this.io.tty || !this.#total) return;
    const width = 30;
    const filled = Math.round((this.#done / this.#total) * width);
    process.stderr.write(
      `\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.#total} images`,
    );
  }
}
