/**
 * Amazon ECR private registries: recognise their host names and get registry credentials
 * with `ecr:GetAuthorizationToken`, cached per registry until shortly before they expire
 * (tokens last 12 hours), with concurrent misses sharing one API call.
 */
import { type AuthorizationData, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { classifyAwsError } from '../core/aws-errors.js';
import { TtlCache } from '../core/cache.js';
import { RegistryError } from '../core/registry.js';

export interface EcrHost {
  accountId: string;
  region: string;
  fips: boolean;
}

// <acct>.dkr.ecr[-fips].<region>.amazonaws.com[.cn] and the dual-stack <acct>.dkr-ecr[-fips].<region>.on.aws
const ECR_HOST = /^(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;
const ECR_DUALSTACK_HOST = /^(\d{12})\.dkr-ecr(-fips)?\.([a-z0-9-]+)\.on\.aws$/;

export function parseEcrHost(registry: string): EcrHost | null {
  const m = ECR_HOST.exec(registry) ?? ECR_DUALSTACK_HOST.exec(registry);
  if (!m) return null;
  return { accountId: m[1]!, region: m[3]!, fips: Boolean(m[2]) };
}

/** renew this long before ECR's expiresAt, so a token never expires in flight */
const EXPIRY_MARGIN_MS = 5 * 60_000;
/** when ECR gives no expiresAt (it always does), assume the documented 12 hours */
const DEFAULT_LIFETIME_MS = 12 * 3600_000;
/** registries (account and region) one container keeps a token for */
const MAX_REGISTRIES = 100;

interface CachedAuthorization {
  header: string;
  expiresAt: number;
}

export class EcrAuth {
  #cache = new TtlCache<CachedAuthorization>({ ttlMs: (a) => a.expiresAt - Date.now(), maxEntries: MAX_REGISTRIES });
  #clients = new Map<string, ECRClient>();

  constructor(
    private readonly clientFor: (region: string) => ECRClient = (region) => new ECRClient({ region }),
    /** the SDK waits forever by default; a token call gets the same bound as a registry request */
    private readonly timeoutMs = 10_000,
  ) {}

  /** `Basic <token>` for the registry, from cache or one shared GetAuthorizationToken call. */
  async authorization(registry: string, host: EcrHost): Promise<string> {
    return (await this.#cache.getOrCompute(registry, () => this.#fetch(registry, host))).header;
  }

  /** The registry refused a cached token (revoked, clock skew): forget it. */
  invalidate(registry: string): void {
    this.#cache.delete(registry);
  }

  async #fetch(registry: string, host: EcrHost): Promise<CachedAuthorization> {
    const client = this.#client(host.region);
    let data: AuthorizationData | undefined;
    try {
      const out = await client.send(new GetAuthorizationTokenCommand({}), {
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      });
      data = out.authorizationData?.[0];
    } catch (err) {
      throw ecrError(err, registry);
    }
    if (!data?.authorizationToken) {
      throw new RegistryError('AUTH', `ecr:GetAuthorizationToken for ${registry} returned no token`);
    }
    const header = `Basic ${data.authorizationToken}`;
    const expiresAt = (data.expiresAt?.getTime() ?? Date.now() + DEFAULT_LIFETIME_MS) - EXPIRY_MARGIN_MS;
    return { header, expiresAt };
  }

  #client(region: string): ECRClient {
    let client = this.#clients.get(region);
    if (!client) {
      client = this.clientFor(region);
      this.#clients.set(region, client);
    }
    return client;
  }
}

/** Denied or unknown credentials are AUTH; throttling, 5xx and the network are UNAVAILABLE. */
function ecrError(err: unknown, registry: string): RegistryError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const message = `ecr:GetAuthorizationToken for ${registry} failed: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
  const kind = classifyAwsError(err);
  if (kind === 'auth') return new RegistryError('AUTH', message, status);
  if (kind === 'timeout') return new RegistryError('TIMEOUT', message);
  return new RegistryError('UNAVAILABLE', message, status);
}
