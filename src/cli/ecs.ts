/**
 * ECS calls as the CLI makes them: paginated to the end, throttling retried with
 * backoff (6 attempts, exponential with full jitter), DescribeServices in the chunks of
 * 10 the API accepts. The SDK has its own retries, but they give up after 3 attempts;
 * an audit of a large account must not stop at the first burst of throttling.
 */
import { DescribeServicesCommand, ListServicesCommand, type ECSClient, type Service } from '@aws-sdk/client-ecs';
import { isThrottling } from '../core/aws-errors.js';

export const MAX_ATTEMPTS = 6;
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

/** Runs `call` until it succeeds, is not throttled, or MAX_ATTEMPTS were made. */
export async function retrying<T>(call: () => Promise<T>, sleep: (ms: number) => Promise<void> = delay): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!isThrottling(e) || attempt >= MAX_ATTEMPTS) throw e;
      await sleep(Math.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every page of a nextToken-paginated call. */
export async function allPages<P extends { nextToken?: string | undefined }>(
  page: (nextToken: string | undefined) => Promise<P>,
): Promise<P[]> {
  const pages: P[] = [];
  let token: string | undefined;
  do {
    const p = await retrying(() => page(token));
    pages.push(p);
    token = p.nextToken;
  } while (token);
  return pages;
}

export async function listServiceArns(ecs: ECSClient, cluster: string): Promise<string[]> {
  const pages = await allPages((nextToken) =>
    ecs.send(new ListServicesCommand({ cluster, ...(nextToken ? { nextToken } : {}) })),
  );
  return pages.flatMap((p) => p.serviceArns ?? []);
}

export interface DescribedServices {
  services: Service[];
  /** names or ARNs ECS did not find (reason MISSING), or found inactive */
  missing: string[];
}

export async function describeServices(ecs: ECSClient, cluster: string, names: string[]): Promise<DescribedServices> {
  const services: Service[] = [];
  const missing: string[] = [];
  for (let i = 0; i < names.length; i += 10) {
    const chunk = names.slice(i, i + 10);
    const out = await retrying(() => ecs.send(new DescribeServicesCommand({ cluster, services: chunk })));
    for (const s of out.services ?? [])
      s.status === 'INACTIVE' ? missing.push(s.serviceName ?? s.serviceArn ?? '?') : services.push(s);
    missing.push(...(out.failures ?? []).map((f) => f.arn ?? '?'));
  }
  return { services, missing };
}

/** "arn:aws:ecs:r:a:service/cluster/web" or "web" → "web" */
export function lastSegment(arnOrName: string): string {
  return arnOrName.slice(arnOrName.lastIndexOf('/') + 1);
}
