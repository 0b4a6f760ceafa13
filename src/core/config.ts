/**
 * The one place the environment is read. A Runtime (one per Lambda container, one per
 * CLI run) calls readConfig(env) once; everything else gets the typed values from it.
 *
 * Invalid values never stop the gate and never loosen it; each falls back as noted:
 *
 *   CACHE_TTL_SECONDS          verified results kept this long (default 300; not a positive number: default)
 *   POLICY_REFRESH_SECONDS     a policy in SSM is read again after this (default 60; same fallback)
 *   REGISTRY_TIMEOUT_SECONDS   one registry request (default 10; same fallback)
 *   HOOK_MAX_RETRIES           IN_PROGRESS answers for transient errors (default 3; not an integer >= 0: default)
 *   HOOK_RETRY_DELAY_SECONDS   callBackDelay of those answers (default 30; same fallback)
 *   TASK_SCOPE                 standalone (default) | all; anything else: all, with a warning
 *                              (a typo widens what is checked, never narrows it)
 *   FAILURE_BEHAVIOR           BLOCK_ON_FAILURE | LOG_ON_FAILURE (see parseFailureBehavior)
 *   ALERT_TOPIC_ARN, DECISION_EVENT_BUS, SLACK_WEBHOOK_PARAMETER
 *                              alert channels; blank: the channel is off
 *   DECISION_EVENTS            all: a decision event for every decision; anything else: only alertable ones
 *   TRUST_DIR                  the trust layer (blank: /opt/trust when present, else the repository's layers/trust)
 *   AWS_REGION, AWS_DEFAULT_REGION   region for ARN-less KMS keys, Signer calls and console links
 *   SIGSTORE_TRUST_REFRESH     tuf: the public-good Sigstore root is fetched from Sigstore's TUF repository once
 *                              per container (falling back to the shipped root); anything else: the shipped root only
 *   SIGSTORE_TRUST_REFRESH_TIMEOUT_MS   how long that fetch may take (default 3000; not a positive number: default)
 *   VERIFY_TIMEOUT_SECONDS, INVOKE_TIMEOUT_SECONDS   CLI defaults for --timeout (default 60; not a positive number: default)
 *   POLICY, POLICY_FILE, POLICY_PARAMETER and the policy shortcuts: kept as given in
 *                              `policyVariables` for loadPolicy (it reports their errors)
 *
 * The AWS SDK reads its own settings (AWS_ENDPOINT_URL, credentials) and Powertools its
 * own (POWERTOOLS_*); those are not repeated here.
 */

export type Env = Record<string, string | undefined>;

export type Mode = 'enforce' | 'audit';
export type TaskScope = 'standalone' | 'all';

/** Where a policy document may come from; loadPolicy refuses two at once. */
export const POLICY_DOCUMENT_SOURCES = ['POLICY', 'POLICY_FILE', 'POLICY_PARAMETER'] as const;
/** The shortcuts that build a policy from the environment (they conflict with a document). */
export const POLICY_SHORTCUTS = [
  'COSIGN_KEY_PEM',
  'COSIGN_KEY_ARN',
  'TRUSTED_SIGNING_PROFILES',
  'NOTATION_PATH',
  'ALLOWLIST_IMAGES',
  'ALLOWLIST_DIGESTS',
  'ALLOWLIST_PREFIXES',
  'REPO_ALLOWLIST',
] as const;
/** The variables loadPolicy reads: the document sources, the shortcuts and FAILURE_BEHAVIOR. */
export const POLICY_VARIABLES = [...POLICY_DOCUMENT_SOURCES, ...POLICY_SHORTCUTS, 'FAILURE_BEHAVIOR'] as const;
export type PolicyVariables = Partial<Record<(typeof POLICY_VARIABLES)[number], string>>;

/** SIGSTORE_TRUST_REFRESH*, read: the shipped Sigstore root only, or a TUF refresh with its time budget. */
export type SigstoreRefresh = { kind: 'off' } | { kind: 'tuf'; timeoutMs: number };

/** FAILURE_BEHAVIOR, read: unset, one of the two modes, or a value that is neither. */
export type FailureBehavior = { kind: 'unset' } | { kind: 'mode'; mode: Mode } | { kind: 'invalid'; value: string };

export interface AlertChannels {
  topicArn?: string;
  eventBus?: string;
  decisionEvents: 'alerts' | 'all';
  slackWebhookParameter?: string;
}

export interface Config {
  cacheTtlMs: number;
  policyRefreshMs: number;
  registryTimeoutMs: number;
  hookMaxRetries: number;
  hookRetryDelaySeconds: number;
  taskScope: TaskScope;
  /** set when TASK_SCOPE was not understood; the watchdog logs it */
  taskScopeWarning?: string;
  failureBehavior: FailureBehavior;
  alerts: AlertChannels;
  trustDir?: string;
  region?: string;
  sigstoreRefresh: SigstoreRefresh;
  verifyTimeoutSeconds: number;
  invokeTimeoutSeconds: number;
  policyVariables: PolicyVariables;
}

export function readConfig(env: Env): Config {
  const { scope, warning } = taskScopeFrom(env.TASK_SCOPE);
  const trustDir = nonBlank(env.TRUST_DIR);
  const region = nonBlank(env.AWS_REGION) ?? nonBlank(env.AWS_DEFAULT_REGION);
  return {
    cacheTtlMs: positiveNumber(env.CACHE_TTL_SECONDS, 300) * 1000,
    policyRefreshMs: positiveNumber(env.POLICY_REFRESH_SECONDS, 60) * 1000,
    registryTimeoutMs: positiveNumber(env.REGISTRY_TIMEOUT_SECONDS, 10) * 1000,
    hookMaxRetries: countOf(env.HOOK_MAX_RETRIES, 3),
    hookRetryDelaySeconds: countOf(env.HOOK_RETRY_DELAY_SECONDS, 30),
    taskScope: scope,
    ...(warning ? { taskScopeWarning: warning } : {}),
    failureBehavior: parseFailureBehavior(env.FAILURE_BEHAVIOR),
    alerts: alertChannels(env),
    ...(trustDir ? { trustDir } : {}),
    ...(region ? { region } : {}),
    sigstoreRefresh: sigstoreRefreshFrom(env),
    verifyTimeoutSeconds: positiveNumber(env.VERIFY_TIMEOUT_SECONDS, 60),
    invokeTimeoutSeconds: positiveNumber(env.INVOKE_TIMEOUT_SECONDS, 60),
    policyVariables: pick(env, POLICY_VARIABLES),
  };
}

/** The one reader of FAILURE_BEHAVIOR (surrounding blanks ignored). */
export function parseFailureBehavior(value: string | undefined): FailureBehavior {
  const v = value?.trim();
  if (!v) return { kind: 'unset' };
  if (v === 'BLOCK_ON_FAILURE') return { kind: 'mode', mode: 'enforce' };
  if (v === 'LOG_ON_FAILURE') return { kind: 'mode', mode: 'audit' };
  return { kind: 'invalid', value: v };
}

/**
 * The mode when there is no policy to ask (it cannot be loaded, the event is unreadable):
 * only LOG_ON_FAILURE is audit; unset or invalid is enforce, so a typo never admits.
 */
export function modeWithoutPolicy(behavior: FailureBehavior): Mode {
  return behavior.kind === 'mode' ? behavior.mode : 'enforce';
}

/** Exactly `tuf` opts in (the refresh waits on the network); any other value keeps the shipped root. */
function sigstoreRefreshFrom(env: Env): SigstoreRefresh {
  if (env.SIGSTORE_TRUST_REFRESH !== 'tuf') return { kind: 'off' };
  return { kind: 'tuf', timeoutMs: positiveNumber(env.SIGSTORE_TRUST_REFRESH_TIMEOUT_MS, 3000) };
}

export function taskScopeFrom(value: string | undefined): { scope: TaskScope; warning?: string } {
  const v = value?.trim().toLowerCase();
  if (!v || v === 'standalone') return { scope: 'standalone' };
  if (v === 'all') return { scope: 'all' };
  // a typo must widen what is checked, never narrow it
  return { scope: 'all', warning: `TASK_SCOPE "${value}" is not standalone or all; verifying all tasks` };
}

export function alertChannels(env: Env): AlertChannels {
  const topicArn = nonBlank(env.ALERT_TOPIC_ARN);
  const eventBus = nonBlank(env.DECISION_EVENT_BUS);
  const slackWebhookParameter = nonBlank(env.SLACK_WEBHOOK_PARAMETER);
  return {
    ...(topicArn ? { topicArn } : {}),
    ...(eventBus ? { eventBus } : {}),
    decisionEvents: env.DECISION_EVENTS?.trim().toLowerCase() === 'all' ? 'all' : 'alerts',
    ...(slackWebhookParameter ? { slackWebhookParameter } : {}),
  };
}

/** A number above 0 (fractions allowed), else the fallback. */
function positiveNumber(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value && Number.isFinite(n) && n > 0 ? n : fallback;
}

/** An integer >= 0, else the fallback. */
function countOf(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value && Number.isInteger(n) && n >= 0 ? n : fallback;
}

function nonBlank(value: string | undefined): string | undefined {
  return value?.trim() || undefined;
}

function pick<K extends string>(env: Env, names: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const name of names) if (env[name] !== undefined) out[name] = env[name];
  return out;
}
