/**
 * What a Lambda container (or a CLI run) keeps across invocations, in one object made
 * once at handler module scope (`const runtime = new Runtime(process.env)`): the config
 * read from the environment, the AWS clients, the gate (compiled policy, registry
 * client, decision cache), the KMS key store and the Slack webhook URL. The watchdog's
 * own memory (handled tasks, confirmed service claims) lives in its handler, made once
 * beside the Runtime. Tests make their own Runtime instead of resetting module state.
 *
 * A policy kept in SSM is read again after POLICY_REFRESH_SECONDS, so an edit takes
 * effect without a redeploy; the cache key carries the policy hash, so no answer made
 * under the old policy is served under the new one.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AlertDeps } from '../alerts/index.js';
import { slackUrlCache } from '../alerts/slack.js';
import { makeAwsClients, type AwsClients } from '../core/aws.js';
import type { TtlCache } from '../core/cache.js';
import { readConfig, type Config, type Env } from '../core/config.js';
import { logger } from '../core/observability.js';
import { type CompiledPolicy, compilePolicy, type VerifierFactories } from '../policy/compile.js';
import { outcomeCache, type Gate, type RuleOutcome } from './decide.js';
import { loadPolicy, PolicyError } from '../policy/load.js';
import { RegistryClient } from '../registry/client.js';
import { baseDirFor, type FamilyState, loadVerifierFactories } from '../verify/load-factories.js';
import { VerifierError } from '../core/verifier.js';

export interface RuntimeOptions {
  /** default: real clients made from the SDK's own settings */
  clients?: AwsClients;
  factories?: VerifierFactories;
}

interface Built {
  gate: Gate;
  builtAt: number;
  refreshMs: number;
}

export class Runtime {
  readonly config: Config;
  readonly clients: AwsClients;
  /** verified outcomes, kept across policy refreshes (the key carries the policy hash) */
  readonly outcomes: TtlCache<RuleOutcome>;
  /** what the verifier families keep across policy refreshes (the KMS key store) */
  readonly #families: FamilyState = {};
  /** the Slack webhook URL read from SSM, for a few minutes */
  readonly slackUrls: TtlCache<URL> = slackUrlCache();
  #built: Promise<Built> | undefined;

  constructor(
    env: Env,
    private readonly options: RuntimeOptions = {},
  ) {
    this.config = readConfig(env);
    this.clients = options.clients ?? makeAwsClients();
    this.outcomes = outcomeCache(this.config.cacheTtlMs);
  }

  /** The gate for this invocation: built on first use, rebuilt when the policy is due a refresh. */
  async gate(): Promise<Gate> {
    const current = this.#built ? await this.#built.catch(() => undefined) : undefined;
    if (current && Date.now() - current.builtAt < current.refreshMs) return current.gate;
    const next = this.#build(current?.gate);
    this.#built = next;
    try {
      return (await next).gate;
    } catch (e) {
      if (current) return this.#keepPrevious(current, e);
      this.#built = undefined; // a bad policy is reported now and read again next time
      throw e;
    }
  }

  /** What sendAlerts needs: the clients, the channels from the config, the Slack URL cache. */
  alertDeps(): Omit<AlertDeps, 'timeoutMs'> {
    const { sns, eventBridge } = this.clients;
    return {
      sns,
      eventBridge,
      ssm: () => this.clients.ssm(),
      channels: this.config.alerts,
      slackUrls: this.slackUrls,
      region: this.config.region,
    };
  }

  /**
   * A policy that was good a minute ago stays in force when re-reading it fails (SSM
   * throttled, or an edit that does not validate): failing every deployment for that is
   * worse than deciding one more minute under the previous, valid policy. Logged loudly.
   */
  #keepPrevious(current: Built, error: unknown): Gate {
    logger.error('policy refresh failed: keeping the previous policy in force', {
      error: error as Error,
      policyHash: current.gate.policy.hash,
    });
    this.#built = Promise.resolve({ ...current, builtAt: Date.now() });
    return current.gate;
  }

  async #build(previous: Gate | undefined): Promise<Built> {
    const { config, clients } = this;
    const loaded = await loadPolicy(config.policyVariables, () => clients.ssm());
    const refreshMs = loaded.origin === 'POLICY_PARAMETER' ? config.policyRefreshMs : Infinity;
    // only the families this policy uses are imported (each its own chunk in the Lambda bundles)
    const factories =
      this.options.factories ??
      (await loadVerifierFactories(loaded, {
        clients,
        state: this.#families,
        baseDir: baseDirFor(loaded.origin, config.policyVariables),
        trustDir: config.trustDir ?? defaultTrustDir(),
        sigstoreRefresh: config.sigstoreRefresh,
        ...(config.region ? { region: config.region } : {}),
      }));
    let policy: CompiledPolicy;
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
      requestTimeoutMs: config.registryTimeoutMs,
    });
    return { gate: { policy, registry, cache: this.outcomes }, builtAt: Date.now(), refreshMs };
  }
}

/**
 * The Lambda layer mounts the trust material at /opt/trust (TRUST_DIR in the template);
 * the CLI and the demo, run from a checkout (src/gate/) or its bundle (dist/), use the
 * repository's copy: the nearest layers/trust above this module. `exists` is for the tests.
 */
export function defaultTrustDir(exists: (path: string) => boolean = existsSync): string {
  if (exists('/opt/trust')) return '/opt/trust';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'layers', 'trust');
    if (exists(candidate) || dirname(dir) === dir) return candidate;
    dir = dirname(dir);
  }
}
