/**
 * Registry faults as the user meets them: through decide() with the real registry
 * client and cosign verifier, a real docker-registry behind a misbehaving loopback
 * proxy. Enforce mode denies with REGISTRY_ERROR or TIMEOUT; audit mode admits and
 * keeps the code; onError: allow admits outages but never forged answers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, type Gate, outcomeCache } from '../src/gate/decide.js';
import { blocks } from '../src/core/decision.js';
import { validate } from '../src/policy/load.js';
import type { PolicyInput } from '../src/policy/schema.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from './support/fault-proxy.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

let reg: TestRegistry;
let proxy: FaultProxy;
let digest: string;
const key = generateKeyPair('p256');

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry();
  digest = (await reg.pushImage('app/web', '1')).digest;
  await signImage(reg, 'app/web', { digest }, key.privateKey);
  proxy = await startFaultProxy(reg.host);
}, 30_000);
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});
beforeEach(() => proxy.reset());

function gate(extra: Partial<PolicyInput> = {}, timeoutMs = 2_000): Gate {
  const document = validate(
    {
      version: 1,
      registries: { [proxy.host]: { insecure: true } },
      rules: [
        { name: 'app', images: [`${proxy.host}/app/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
      ],
      ...extra,
    },
    'test',
  );
  const clients = makeAwsClients();
  return {
    policy: compilePolicy(
      { document, origin: 'test' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: '.' }),
    ),
    registry: new RegistryClient({ registries: document.registries, requestTimeoutMs: timeoutMs }),
    cache: outcomeCache(60_000, 10),
  };
}

async function decideWith(rules: FaultRule[], extra: Partial<PolicyInput> = {}, deadlineMs = 5_000) {
  proxy.setRules(rules);
  const [d] = await decide([{ container: 'web', image: `${proxy.host}/app/web:1`, digest }], gate(extra, 1_000), {
    deadline: Date.now() + deadlineMs,
  });
  return d!;
}

const sig = /\/manifests\/sha256-.*\.sig$/;
const blob = /\/blobs\//;

describe('registry faults through decide()', () => {
  it('verifies through the proxy when nothing misbehaves', async () => {
    expect(await decideWith([])).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
  });

  it.each([
    ['5xx on the signature manifest', [{ path: sig, action: { type: 'status', status: 503 } }], 'REGISTRY_ERROR'],
    ['429 on the payload blob', [{ path: blob, action: { type: 'status', status: 429 } }], 'REGISTRY_ERROR'],
    ['a stalled answer', [{ path: sig, action: { type: 'delay', ms: 3_000 } }], 'TIMEOUT'],
    [
      'an oversized signature manifest',
      [{ path: sig, action: { type: 'oversize', bytes: 5 * 1024 * 1024 } }],
      'REGISTRY_ERROR',
    ],
    ['a payload that does not match its digest', [{ path: blob, action: { type: 'alter' } }], 'REGISTRY_ERROR'],
    ['a 401 after auth', [{ path: sig, action: { type: 'status', status: 403 } }], 'REGISTRY_AUTH_FAILURE'],
  ] as [string, FaultRule[], string][])(
    '%s: enforce denies with the code, audit admits and keeps it',
    async (_, rules, reason) => {
      const enforced = await decideWith(rules);
      expect(enforced).toMatchObject({ decision: 'deny', reason, mode: 'enforce' });
      expect(blocks(enforced)).toBe(true);
      const audited = await decideWith(rules, { mode: 'audit' });
      expect(audited).toMatchObject({ decision: 'deny', reason, mode: 'audit' });
      expect(blocks(audited)).toBe(false);
    },
  );

  it('a registry that is down is REGISTRY_ERROR, retryable', async () => {
    const doc = {
      registries: { '127.0.0.1:9': { insecure: true } },
      rules: [
        {
          name: 'app',
          images: ['127.0.0.1:9/**'],
          verifiers: [{ type: 'cosign' as const, publicKey: key.publicKeyPem }],
        },
      ],
    };
    const [d] = await decide([{ container: 'web', image: '127.0.0.1:9/app/web:1', digest }], gate(doc), {
      deadline: Date.now() + 5_000,
    });
    expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR', retryable: true });
  });

  it('onError: allow admits an outage but not a forged answer', async () => {
    expect(
      await decideWith([{ path: sig, action: { type: 'status', status: 503 } }], { onError: 'allow' }),
    ).toMatchObject({ decision: 'allow', reason: 'REGISTRY_ERROR' });
    expect(await decideWith([{ path: blob, action: { type: 'alter' } }], { onError: 'allow' })).toMatchObject({
      decision: 'deny',
      reason: 'REGISTRY_ERROR',
    });
    expect(
      await decideWith([{ path: sig, action: { type: 'oversize', bytes: 5 * 1024 * 1024 } }], { onError: 'allow' }),
    ).toMatchObject({ decision: 'deny' });
  });

  it('the decision deadline answers TIMEOUT even when requests would wait longer', async () => {
    const d = await decideWith([{ path: sig, action: { type: 'delay', ms: 3_000 } }], {}, 200);
    expect(d).toMatchObject({ decision: 'deny', reason: 'TIMEOUT' });
  });
});
