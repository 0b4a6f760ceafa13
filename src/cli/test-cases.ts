/**
 * ecs-image-gate test POLICY CASES [--layout REGISTRY/REPOSITORY=DIR …] [--timeout S]
 *
 * Policy tests, like `kyverno test`: each case names an image and the decision (and
 * optionally the reason code) the policy must give it. Images come from their
 * registries or, with --layout, from local OCI image layouts, so CI needs no registry
 * credentials. Prints a pass/fail table and one line per mismatch; exit 1 on any.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { decide, outcomeCache, type Gate } from '../gate/decide.js';
import { REASON_CODES, type Decision } from '../core/decision.js';
import { describeIssues } from '../policy/schema.js';
import { OciLayoutRepository } from '../registry/oci-layout.js';
import { type ImageReference, ImageReferenceError, parseReference, repositoryPath } from '../core/reference.js';
import { parseOptions, TIMEOUT_OPTION, timeoutSeconds, UsageError, type ExitCode, type Io } from './args.js';
import { cliImage, runtimeFor } from './gate.js';
import { table } from './output.js';

const casesSchema = z
  .object({
    cases: z
      .array(
        z
          .object({
            name: z.string().min(1),
            image: z.string().min(1),
            expect: z.enum(['allow', 'deny']),
            reason: z.enum(REASON_CODES).optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

type Case = z.infer<typeof casesSchema>['cases'][number];

export async function testCases(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseOptions(args, { layout: { type: 'string', multiple: true }, ...TIMEOUT_OPTION });
  const [policyFile, casesFile] = positionals;
  if (!policyFile || !casesFile || positionals.length > 2) throw new UsageError('test needs POLICY and CASES files');
  const cases = readCases(casesFile);
  const layouts = (values.layout ?? []).map(parseLayout);
  const runtime = runtimeFor(io, policyFile);
  const deadline = Date.now() + timeoutSeconds(values.timeout, runtime.config.verifyTimeoutSeconds) * 1000;
  const gate = withLayouts(await runtime.gate(), layouts);
  const inputs = await Promise.all(cases.map((c) => cliImage(c.image, c.name, gate, deadline)));
  const decisions = await decide(inputs, gate, { deadline });
  const results = cases.map((c, i) => ({ case: c, decision: decisions[i]!, pass: matches(c, decisions[i]!) }));
  report(results, io);
  return results.every((r) => r.pass) ? 0 : 1;
}

function matches(c: Case, d: Decision): boolean {
  return d.decision === c.expect && (c.reason === undefined || c.reason === d.reason);
}

function report(results: { case: Case; decision: Decision; pass: boolean }[], io: Io): void {
  const expected = (c: Case) => `${c.expect}${c.reason ? ` ${c.reason}` : ''}`;
  const rows = results.map((r) => [
    r.pass ? 'PASS' : 'FAIL',
    r.case.name,
    r.case.image,
    expected(r.case),
    `${r.decision.decision} ${r.decision.reason}`,
  ]);
  for (const line of table(['RESULT', 'CASE', 'IMAGE', 'EXPECTED', 'ACTUAL'], rows)) io.out(line);
  const failed = results.filter((r) => !r.pass);
  for (const r of failed) {
    const d = r.decision;
    io.out(`FAIL ${r.case.name}: expected ${expected(r.case)}, got ${d.decision} ${d.reason}: ${d.detail}`);
  }
  io.out(`${results.length - failed.length} passed, ${failed.length} failed`);
}

function readCases(file: string): Case[] {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read the cases file ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const parsed = casesSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(`${file}: ${describeIssues(parsed.error)}`);
  const names = parsed.data.cases.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new UsageError(`${file}: two cases are named "${twice}"`);
  return parsed.data.cases;
}

interface Layout {
  registry: string;
  repository: string;
  dir: string;
}

/** "ghcr.io/acme/app=./layouts/app" → where that repository is served from. */
function parseLayout(spec: string): Layout {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--layout needs REGISTRY/REPOSITORY=DIR, not "${spec}"`);
  const name = spec.slice(0, eq);
  let ref: ImageReference;
  try {
    ref = parseReference(name);
  } catch (e) {
    if (e instanceof ImageReferenceError) throw new UsageError(`--layout ${spec}: ${e.message}`);
    throw e;
  }
  if (ref.tag || ref.digest) throw new UsageError(`--layout ${spec}: name a repository, without tag or digest`);
  return { registry: ref.registry, repository: ref.repository, dir: spec.slice(eq + 1) };
}

/** The gate, with the repositories given by --layout read from their directories. */
function withLayouts(gate: Gate, layouts: Layout[]): Gate {
  if (!layouts.length) return gate;
  const served = new Map(
    layouts.map((l) => [repositoryPath(l), new OciLayoutRepository(l.registry, l.repository, l.dir)]),
  );
  return {
    policy: gate.policy,
    registry: {
      repository: (registry, repository) =>
        served.get(repositoryPath({ registry, repository })) ?? gate.registry.repository(registry, repository),
    },
    // a cache of its own: what a layout says is never served to a later network decision
    cache: outcomeCache(60_000, 10_000),
  };
}
