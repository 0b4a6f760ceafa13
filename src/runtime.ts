/**
 * The gate a Lambda container (or a CLI run) works with: the compiled policy, the
 * registry client and the decision cache. Built once from the environment and kept
 * across warm invocations, so ECR tokens, KMS keys and verified results are reused.
 * A policy kept in SSM is read again after POLICY_REFRESH_SECONDS, so an edit takes
 * effect without a redeploy; the cache key carries the policy hash, so no answer made
 * under the old policy is served under the new one.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { awsClients, type AwsClients } from './aws.js';
import { logger } from './observability.js';
import { CoalescingCache } from './policy/cache.js';
import { compilePolicy, type VerifierFactories } from './policy/compile.js';
import type { Gate, Outcome } from './policy/decide.js';
import { loadPolicy, PolicyError, type Env } from './policy/load.js';
import { RegistryClient } from './registry/client.js';
import { baseDirFor, makeKmsKeyStore, realVerifierFactories } from './verify/factories.js';
import type { KmsKeyStore } from './verify/keys.js';
import { VerifierError } from './verify/types.js';

export interface RuntimeOptions {
  env?: Env;
  clients?: AwsClients;
  factories?: VerifierFactories;
  /** TEST ONLY: passed to the registry client (e.g. send an ECR host name to loopback) */
  resolveHost?: (registry: string) => { origin: string } | undefined;
}

interface Built {
  gate: Gate;
  builtAt: number;
  refreshMs: number;
}

const outcomes = new CoalescingCache<Outcome>({
  ttlMs: seconds(process.env.CACHE_TTL_SECONDS, 300) * 1000,
  maxEntries: 5_000,
  keep: (o) => o.kind === 'verified',
});

let built: Promise<Built> | undefined;
let kmsKeys: KmsKeyStore | undefined;

export async function getGate(options: RuntimeOptions = {}): Promise<Gate> {
  const current = built ? await built.catch(() => undefined) : undefined;
  if (current && Date.now() - current.builtAt < current.refreshMs) return current.gate;
  const next = buildGate(options, current?.gate);
  built = next;
  try {
    return (await next).gate;
  } catch (e) {
    if (current) return keepPrevious(current, e);
    built = undefined; // a bad policy is reported now and read again next time
    throw e;
  }
}

/**
 * A policy that was good a minute ago stays in force when re-reading it fails (SSM
 * throttled, or an edit that does not validate): failing every deployment for that is
 * worse than deciding one more minute under the previous, valid policy. Logged loudly.
 */
function keepPrevious(current: Built, error: unknown): Gate {
  logger.error('policy refresh failed: keeping the previous policy in force', { error: error as Error, policyHash: current.gate.policy.hash });
  built = Promise.resolve({ ...current, builtAt: Date.now() });
  return current.gate;
}

/** Tests and the CLI start from a clean slate. */
export function resetGate(): void {
  built = undefined;
  kmsKeys = undefined;
  outcomes.clear();
}

async function buildGate(options: RuntimeOptions, previous: Gate | undefined): Promise<Built> {
  const env = options.env ?? process.env;
  const clients = options.clients ?? awsClients();
  const loaded = await loadPolicy(env, () => clients.ssm);
  const refreshMs = loaded.origin === 'POLICY_PARAMETER' ? seconds(env.POLICY_REFRESH_SECONDS, 60) * 1000 : Infinity;
  kmsKeys ??= makeKmsKeyStore(clients);
  const factories =
    options.factories ??
    realVerifierFactories({ clients, kmsKeys, baseDir: baseDirFor(loaded.origin, env), trustDir: env.TRUST_DIR || defaultTrustDir() });
  let policy;
  try {
    policy = compilePolicy(loaded, factories);
  } catch (e) {
    if (e instanceof VerifierError) throw new PolicyError(`${loaded.origin}: ${e.message}`);
    throw e;
  }
  if (previous && previous.policy.hash === policy.hash) return { gate: previous, builtAt: Date.now(), refreshMs };
  const registry = new RegistryClient({
    registries: policy.document.registries,
    ecrClientFor: (region) => clients.ecrFor(region),
    requestTimeoutMs: seconds(env.REGISTRY_TIMEOUT_SECONDS, 10) * 1000,
    ...(options.resolveHost ? { resolveHost: options.resolveHost } : {}),
  });
  return { gate: { policy, registry, cache: outcomes }, builtAt: Date.now(), refreshMs };
}

/**
 * The Lambda layer mounts the trust material at /opt/trust (TRUST_DIR in the template);
 * the CLI and the demo, run from a checkout or its dist/, use the repository's copy.
 */
function defaultTrustDir(): string {
  if (existsSync('/opt/trust')) return '/opt/trust';
  return fileURLToPath(new URL('../layers/trust', import.meta.url));
}

function seconds(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value && Number.isFinite(n) && n > 0 ? n : fallback;
}
