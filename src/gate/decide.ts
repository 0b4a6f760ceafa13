/**
 * The result of one image, by stage, one name each:
 *   VerifierVerdict  what one verifier says about the evidence (passed / failed with a reason)
 *   VerifierRun      that verdict, or the error its verifier threw, with the verifier
 *   RuleOutcome      what the rule's verifiers came to together: verified, failed or error
 *                    (cached per policy, rule, repository and digest when verified)
 *   Ruling           allow or deny with a reason code, after mode and onError
 *   Decision         the contract per container (src/policy/decision.ts)
 *
 * decide(): the one core every entry point shares. Images in, one Decision per
 * container out, each with a reason code. Handlers only translate their input into
 * images and the decisions into their answer.
 *
 * Order of checks for one image: reference → digest → allow-list → rule → signatures.
 * Signature results are cached per (policy, repository, digest, rule) and shared by
 * concurrent lookups; only VERIFIED is kept, so a newly signed image is never held
 * back by an old deny.
 */
import { RegistryError, type RepositoryClient } from '../core/registry.js';
import {
  isDigest,
  parseReference,
  ImageReferenceError,
  repositoryPath,
  type ImageReference,
} from '../core/reference.js';
import { withinDeadline } from '../core/abort.js';
import { TtlCache, once } from '../core/cache.js';
import {
  VerifierError,
  worstFailure,
  type FailureReason,
  type Verifier,
  type VerifyContext,
} from '../core/verifier.js';
import { ruleFor, type CompiledPolicy, type CompiledRule } from '../policy/compile.js';
import type { Decision, ReasonCode } from '../core/decision.js';
import { matchAllowList } from '../policy/match.js';
import { settingsFor, type Scope, type Settings } from '../policy/overrides.js';

export interface ImageInput {
  container: string;
  image: string;
  /** the digest ECS resolved (imageDigest); absent with versionConsistency: disabled */
  digest?: string | null;
  /**
   * Without a digest, resolve the tag at the registry now and verify that digest. For
   * callers that know ECS has not established the digest yet but will pull what the tag
   * names about now (a service revision at PRE_SCALE_UP, a RUNNING task whose registry
   * reports no digest). The decision then says the gate, not ECS, chose the digest.
   */
  resolveTag?: boolean;
}

export interface RegistryAccess {
  repository(registry: string, repository: string): RepositoryClient;
}

export interface Gate {
  policy: CompiledPolicy;
  registry: RegistryAccess;
  cache: TtlCache<RuleOutcome>;
}

export interface DecideOptions {
  /** epoch ms by which every decision must be final (Lambda remaining time minus a margin) */
  deadline: number;
  /** how many images are verified at once */
  concurrency?: number;
  now?: () => Date;
  /** cluster, service and task family of the workload: picks the policy's overrides */
  scope?: Scope;
}

type ErrorReason = Extract<
  ReasonCode,
  | 'REGISTRY_AUTH_FAILURE'
  | 'REGISTRY_ERROR'
  | 'KEY_ERROR'
  | 'REVOCATION_UNKNOWN'
  | 'TIMEOUT'
  | 'INTERNAL_ERROR'
  | 'POLICY_ERROR'
>;

/** What the signature check of one image came to; cached when verified. */
export type RuleOutcome =
  | { kind: 'verified'; verifiedBy: string[]; detail: string }
  | { kind: 'failed'; reason: FailureReason; detail: string }
  | {
      kind: 'error';
      reason: ErrorReason;
      detail: string;
      retryable: boolean;
      /**
       * false when the "error" may be an attack: evidence the registry cannot produce (a
       * blob or manifest a signature names answers 404), or an answer that does not match
       * its digest, is over a size cap or is malformed. Anyone who can push to a repository
       * can provoke one, so onError: allow must not admit it.
       */
      admissible: boolean;
    };

export const DEFAULT_CONCURRENCY = 8;

/** The cache decide() keeps results in: only VERIFIED is kept (see the top of this file). */
export function outcomeCache(ttlMs: number, maxEntries = 5_000): TtlCache<RuleOutcome> {
  return new TtlCache<RuleOutcome>({ ttlMs, maxEntries, keep: (o) => o.kind === 'verified' });
}

export async function decide(images: ImageInput[], gate: Gate, options: DecideOptions): Promise<Decision[]> {
  const limit = limiter(options.concurrency ?? DEFAULT_CONCURRENCY);
  return Promise.all(images.map((image) => limit(() => decideOne(image, gate, options))));
}

async function decideOne(input: ImageInput, gate: Gate, options: DecideOptions): Promise<Decision> {
  const started = performance.now();
  const settings = settingsFor(gate.policy.document, options.scope);
  const finish = (ruling: Ruling): Decision => ({
    container: input.container,
    image: input.image,
    digest: ruling.digest ?? null,
    decision: ruling.allow ? 'allow' : 'deny',
    reason: ruling.reason,
    rule: ruling.rule ?? null,
    verifiedBy: ruling.verifiedBy ?? [],
    detail: ruling.detail,
    // Stryker disable next-line ArithmeticOperator: a measurement: no test asserts timings (speed is for the benches)
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    mode: settings.mode,
    ...(ruling.retryable ? { retryable: true as const } : {}),
    ...(ruling.resolvedTag ? { digestResolvedFromTag: ruling.resolvedTag } : {}),
  });
  try {
    return finish(await judge(input, gate, settings, options));
  } catch (e) {
    // Nothing below should throw; if it does, the error is a deny like any other.
    return finish(fromOutcome(errorOutcome(e), settings, {}));
  }
}

/** allow or deny, with the reason: a RuleOutcome (or an earlier check) after mode and onError */
interface Ruling {
  allow: boolean;
  reason: ReasonCode;
  detail: string;
  digest?: string;
  rule?: string;
  verifiedBy?: string[];
  retryable?: boolean;
  /** the tag the gate resolved to `digest` itself, when ECS gave none */
  resolvedTag?: string;
}

async function judge(input: ImageInput, gate: Gate, settings: Settings, options: DecideOptions): Promise<Ruling> {
  const policy = gate.policy.document;
  let ref: ImageReference;
  try {
    ref = parseReference(input.image);
  } catch (e) {
    // Stryker disable next-line ConditionalExpression: parseReference throws only ImageReferenceError; any other error is a deny all the same
    if (!(e instanceof ImageReferenceError)) throw e;
    return { allow: false, reason: 'POLICY_ERROR', detail: e.message };
  }
  if (input.digest && !isDigest(input.digest)) {
    return {
      allow: false,
      reason: 'POLICY_ERROR',
      detail: `the digest given for the image, "${input.digest}", is not sha256:<64 hex>`,
    };
  }
  const digest = input.digest || ref.digest;
  if (input.digest && ref.digest && input.digest !== ref.digest) {
    return {
      allow: false,
      reason: 'DIGEST_MISMATCH',
      digest: input.digest,
      detail: `ECS reports ${input.digest} but the reference pins ${ref.digest}`,
    };
  }
  const allowed = matchAllowList(policy.allow, ref, digest);
  if (allowed)
    return { allow: true, reason: 'ALLOWLISTED', digest, detail: `allow.${allowed.by} entry ${allowed.entry}` };
  const path = repositoryPath(ref);
  const rule = ruleFor(gate.policy, path);
  if (!rule) {
    return policy.unmatched === 'allow'
      ? { allow: true, reason: 'UNMATCHED_ALLOWED', digest, detail: `no rule matches ${path}; unmatched is allow` }
      : { allow: false, reason: 'NO_MATCHING_RULE', digest, detail: `no rule matches ${path} and unmatched is deny` };
  }
  const resolved = digest ? { digest } : await resolveDigest(input, ref, rule, gate, settings, options);
  if ('ruling' in resolved) return resolved.ruling;
  const outcome = await withinDeadline(
    gate.cache.getOrCompute(cacheKey(gate, path, resolved.digest, rule), () =>
      verifyWithRule(rule, ref, resolved.digest, gate, options),
    ),
    options.deadline,
    (): RuleOutcome => ({
      kind: 'error',
      reason: 'TIMEOUT',
      detail: 'the decision did not finish before the deadline',
      retryable: true,
      admissible: true,
    }),
  );
  const ruling = fromOutcome(outcome, settings, { rule: rule.name, digest: resolved.digest });
  if (!('tag' in resolved)) return ruling;
  const note = `digest resolved by the gate from tag ${resolved.tag} at the registry, not reported by ECS`;
  return { ...ruling, resolvedTag: resolved.tag, detail: `${ruling.detail} (${note})` };
}

/**
 * ECS gave no digest: DIGEST_MISSING, unless the caller or the policy (resolveTags)
 * asked for the tag to be resolved now.
 */
async function resolveDigest(
  input: ImageInput,
  ref: ImageReference,
  rule: CompiledRule,
  gate: Gate,
  settings: Settings,
  options: DecideOptions,
): Promise<{ digest: string; tag: string } | { ruling: Ruling }> {
  if (!(input.resolveTag || gate.policy.document.resolveTags) || !ref.tag) {
    const detail = ref.tag
      ? `ECS gave no digest for tag ${ref.tag} (versionConsistency disabled?), and a tag can move after it is checked`
      : 'no digest and no tag in the image reference';
    return { ruling: { allow: false, reason: 'DIGEST_MISSING', rule: rule.name, detail } };
  }
  const signal = AbortSignal.timeout(Math.max(1, options.deadline - Date.now()));
  try {
    return {
      digest: await gate.registry.repository(ref.registry, ref.repository).resolveTag(ref.tag, signal),
      tag: ref.tag,
    };
  } catch (e) {
    return { ruling: fromOutcome(errorOutcome(e), settings, { rule: rule.name }) };
  }
}

async function verifyWithRule(
  rule: CompiledRule,
  ref: ImageReference,
  digest: string,
  gate: Gate,
  options: DecideOptions,
): Promise<RuleOutcome> {
  const repo = gate.registry.repository(ref.registry, ref.repository);
  const signal = AbortSignal.timeout(Math.max(1, options.deadline - Date.now()));
  const ctx: VerifyContext = {
    target: { ref, digest, descriptor: once(async () => (await repo.getManifest(digest, signal)).descriptor) },
    repo,
    signal,
    now: (options.now ?? (() => new Date()))(),
  };
  const results = await Promise.all(rule.verifiers.map((v) => runVerifier(v, ctx)));
  return combine(results, rule);
}

/** One verifier's verdict, or the error it threw, with the verifier. */
type VerifierRun = { verifier: Verifier } & (
  | { ok: true; by: string }
  | { ok: false; reason: FailureReason; detail: string }
  | { ok: 'error'; outcome: Extract<RuleOutcome, { kind: 'error' }> }
);

async function runVerifier(verifier: Verifier, ctx: VerifyContext): Promise<VerifierRun> {
  try {
    const verdict = await verifier.verify(ctx);
    return verdict.ok ? { verifier, ok: true, by: verdict.by } : { verifier, ...verdict };
  } catch (e) {
    return { verifier, ok: 'error', outcome: errorOutcome(e) };
  }
}

/**
 * `require` of the rule's verifiers must pass. When too few pass, an error that could
 * still have made up the difference wins over a failure (a retry may pass); otherwise
 * the most telling failure is reported.
 */
function combine(results: VerifierRun[], rule: CompiledRule): RuleOutcome {
  const passed = results.flatMap((r) => (r.ok === true ? [r.by] : []));
  if (passed.length >= rule.require) {
    return {
      kind: 'verified',
      verifiedBy: passed,
      detail: `${passed.length} of ${rule.verifiers.length} verifiers passed (require ${rule.require})`,
    };
  }
  const errors = results.flatMap((r) => (r.ok === 'error' ? [r.outcome] : []));
  if (errors.length && passed.length + errors.length >= rule.require) return errors[0]!;
  const failures = results.flatMap((r) => (r.ok === false ? [r] : []));
  const worst = worstFailure(failures);
  // Unreachable while the schema keeps 1 <= require <= verifiers: a rule with no failing verifier has passed or
  // returned an error above. Forced, the mutants throw, and decide() still denies with INTERNAL_ERROR.
  // Stryker disable ConditionalExpression,LogicalOperator,ObjectLiteral,StringLiteral,BooleanLiteral: unreachable, as said above
  if (!worst)
    return (
      errors[0] ?? {
        kind: 'error',
        reason: 'INTERNAL_ERROR',
        detail: 'no verifier gave a verdict',
        retryable: false,
        admissible: false,
      }
    );
  // Stryker restore ConditionalExpression,LogicalOperator,ObjectLiteral,StringLiteral,BooleanLiteral
  const shortfall = rule.require > 1 ? ` (${passed.length} of required ${rule.require} passed)` : '';
  return { kind: 'failed', reason: worst.reason, detail: `${worst.detail}${shortfall}` };
}

/** Applies mode and onError: the only place an outcome becomes allow or deny. */
function fromOutcome(outcome: RuleOutcome, policy: Settings, where: { rule?: string; digest?: string }): Ruling {
  const base = { ...(where.rule ? { rule: where.rule } : {}), ...(where.digest ? { digest: where.digest } : {}) };
  switch (outcome.kind) {
    case 'verified':
      return { ...base, allow: true, reason: 'VERIFIED', verifiedBy: outcome.verifiedBy, detail: outcome.detail };
    // Stryker disable next-line ConditionalExpression: falling through to 'error' gives the same deny (a failure has no admissible flag)
    case 'failed':
      return { ...base, allow: false, reason: outcome.reason, detail: outcome.detail };
    case 'error': {
      const admitted = policy.mode === 'enforce' && policy.onError === 'allow' && outcome.admissible;
      return {
        ...base,
        allow: admitted,
        reason: outcome.reason,
        detail: admitted ? `${outcome.detail} (admitted: onError is allow)` : outcome.detail,
        ...(outcome.retryable ? { retryable: true } : {}),
      };
    }
  }
}

/**
 * onError: allow is for a registry we cannot reach or that refuses us: an outage. A
 * registry that answers, but cannot produce the evidence (404 for a blob or manifest a
 * signature manifest names, or for a tag we were asked to resolve) or produces evidence
 * that fails its digest, size cap or parse (BAD_RESPONSE), is not an outage, and anyone
 * who can push can provoke it. Listed by what may pass, so a new kind is not admitted.
 */
const ADMISSIBLE_REGISTRY_ERRORS: ReadonlySet<RegistryError['kind']> = new Set([
  'UNAVAILABLE',
  'TIMEOUT',
  'AUTH',
] as const);

export function errorOutcome(e: unknown): Extract<RuleOutcome, { kind: 'error' }> {
  if (e instanceof RegistryError) {
    const reason = e.kind === 'AUTH' ? 'REGISTRY_AUTH_FAILURE' : e.kind === 'TIMEOUT' ? 'TIMEOUT' : 'REGISTRY_ERROR';
    return {
      kind: 'error',
      reason,
      detail: e.message,
      retryable: e.transient,
      admissible: ADMISSIBLE_REGISTRY_ERRORS.has(e.kind),
    };
  }
  if (e instanceof VerifierError) {
    return {
      kind: 'error',
      reason: e.reason,
      detail: e.message,
      retryable: e.transient,
      // a verifier that reports a bug (or a delegate that could not run) is as unknown as a throw
      admissible: e.reason !== 'POLICY_ERROR' && e.reason !== 'INTERNAL_ERROR',
    };
  }
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return {
      kind: 'error',
      reason: 'TIMEOUT',
      detail: 'the decision ran out of time',
      retryable: true,
      admissible: true,
    };
  }
  // A bug or an exception nobody planned for: we cannot tell what the evidence says, so
  // no setting (not even onError: allow) admits it.
  const detail = `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  return { kind: 'error', reason: 'INTERNAL_ERROR', detail, retryable: false, admissible: false };
}

function cacheKey(gate: Gate, path: string, digest: string, rule: CompiledRule): string {
  return `${gate.policy.hash}|${rule.name}|${path}|${digest}`;
}

/** At most `n` tasks at once, in order of arrival. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      // Stryker disable next-line UpdateOperator: decide() queues every image before the first ends, and each end wakes one waiter, so active is not read again
      active--;
      waiting.shift()?.();
    }
  };
}
