/**
 * The gate a Lambda container keeps: built once, a policy in SSM read again after
 * POLICY_REFRESH_SECONDS, a changed policy never served a result cached under the old one,
 * and a failed refresh keeping the previous valid policy.
 */
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { logger } from '../src/core/observability.js';
import { VerifierError } from '../src/core/verifier.js';
import type { VerifierFactories } from '../src/policy/compile.js';
import { PolicyError } from '../src/policy/load.js';
import { type AwsClients, makeAwsClients } from '../src/core/aws.js';
import { decide } from '../src/gate/decide.js';
import { defaultTrustDir, Runtime } from '../src/gate/runtime.js';

const ssm = mockClient(SSMClient);
const kms = mockClient(KMSClient);
const ecr = mockClient(ECRClient);
const doc = (mode: string) =>
  JSON.stringify({ version: 1, mode, allow: { repositories: ['docker.io/library/busybox'] } });

beforeEach(() => {
  ssm.reset();
  kms.reset();
  ecr.reset();
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => vi.useRealTimers());

describe('runtime gate', () => {
  it('builds once and reuses the gate while the policy is fresh', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: doc('enforce') } });
    const env = { POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' };
    const runtime = new Runtime(env);
    const a = await runtime.gate();
    const b = await runtime.gate();
    expect(a).toBe(b);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
  });

  it('reads SSM again after the refresh interval and switches to an edited policy with a new hash', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .resolves({ Parameter: { Value: doc('audit') } });
    const env = { POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' };
    const runtime = new Runtime(env);
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    const after = await runtime.gate();
    expect(after.policy.document.mode).toBe('audit');
    expect(after.policy.hash).not.toBe(before.policy.hash);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('keeps the previous policy when a refresh fails, and reports a first failure', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .rejects(new Error('ThrottlingException'));
    const env = { POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' };
    const runtime = new Runtime(env);
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    expect(await runtime.gate()).toBe(before);

    // a new container (a cold start) has no previous policy to keep
    await expect(new Runtime(env).gate()).rejects.toBeInstanceOf(PolicyError);
  });

  it('never re-reads a policy given inline or as a file', async () => {
    const env = { POLICY: doc('enforce'), POLICY_REFRESH_SECONDS: '1' };
    const runtime = new Runtime(env);
    const a = await runtime.gate();
    vi.setSystemTime(Date.now() + 3_600_000);
    expect(await runtime.gate()).toBe(a);
  });

  it('reads the environment once, when the container starts: a later change is not seen', async () => {
    const env: Record<string, string | undefined> = {
      POLICY: doc('enforce'),
      ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:a',
    };
    const runtime = new Runtime(env);
    env.POLICY = doc('audit');
    env.ALERT_TOPIC_ARN = undefined;
    expect((await runtime.gate()).policy.document.mode).toBe('enforce');
    expect(runtime.alertDeps().channels?.topicArn).toBe('arn:aws:sns:us-east-1:1:a');
    // a new container reads the environment as it is now
    expect((await new Runtime(env).gate()).policy.document.mode).toBe('audit');
  });

  it('keeps one decision cache across policy refreshes (its key carries the policy hash)', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .resolves({ Parameter: { Value: doc('audit') } });
    const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    const after = await runtime.gate();
    expect(after).not.toBe(before);
    expect(after.cache).toBe(before.cache);
    expect(after.cache).toBe(runtime.outcomes);
  });

  it('reads SSM again exactly when the refresh interval has passed, not a millisecond later', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: doc('enforce') } });
    const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
    await runtime.gate();
    vi.setSystemTime(Date.now() + 59_999);
    await runtime.gate();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    vi.setSystemTime(Date.now() + 1);
    await runtime.gate();
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('a refresh that reads the same policy keeps the same gate (and its registry client with its tokens)', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: doc('enforce') } });
    const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
    const before = await runtime.gate();
    vi.setSystemTime(Date.now() + 61_000);
    expect(await runtime.gate()).toBe(before);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it('after a failed refresh, the kept policy counts as fresh: SSM is not asked again at once, and it is logged', async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: doc('enforce') } })
      .rejects(new Error('ThrottlingException'));
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    try {
      const runtime = new Runtime({ POLICY_PARAMETER: '/gate/policy', POLICY_REFRESH_SECONDS: '60' });
      const before = await runtime.gate();
      vi.setSystemTime(Date.now() + 61_000);
      expect(await runtime.gate()).toBe(before);
      expect(await runtime.gate()).toBe(before);
      expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
      expect(error).toHaveBeenCalledWith(
        'policy refresh failed: keeping the previous policy in force',
        expect.objectContaining({ policyHash: before.policy.hash }),
      );
    } finally {
      error.mockRestore();
    }
  });

  it('a policy file edited after the start is not read again (only a policy in SSM is refreshed)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'runtime-')), 'policy.json');
    writeFileSync(file, doc('enforce'));
    const runtime = new Runtime({ POLICY_FILE: file, POLICY_REFRESH_SECONDS: '1' });
    expect((await runtime.gate()).policy.document.mode).toBe('enforce');
    writeFileSync(file, doc('audit'));
    vi.setSystemTime(Date.now() + 3_600_000);
    expect((await runtime.gate()).policy.document.mode).toBe('enforce');
  });

  it('a verifier that cannot be built from the policy is a PolicyError naming where the policy came from', async () => {
    const refuse = () => {
      throw new VerifierError('POLICY_ERROR', 'publicKey is not a PEM key');
    };
    const factories = { cosign: refuse, notation: refuse, awsSigner: refuse, notationCli: refuse } as VerifierFactories;
    const policy = JSON.stringify({
      version: 1,
      rules: [{ name: 'app', images: ['registry.example.com/**'], verifiers: [{ type: 'cosign', publicKey: 'x' }] }],
    });
    const failure = new Runtime({ POLICY: policy }, { factories }).gate();
    await expect(failure).rejects.toBeInstanceOf(PolicyError);
    await expect(failure).rejects.toThrow(/^POLICY: publicKey is not a PEM key$/);
  });

  it('a factory that fails with anything but a VerifierError is a bug, passed on as it is (not a PolicyError)', async () => {
    const bug = () => {
      throw new TypeError('cannot read properties of undefined');
    };
    const factories = { cosign: bug, notation: bug, awsSigner: bug, notationCli: bug } as VerifierFactories;
    const policy = JSON.stringify({
      version: 1,
      rules: [{ name: 'app', images: ['registry.example.com/**'], verifiers: [{ type: 'cosign', publicKey: 'x' }] }],
    });
    const failure = new Runtime({ POLICY: policy }, { factories }).gate();
    await expect(failure).rejects.toBeInstanceOf(TypeError);
    await expect(failure).rejects.not.toBeInstanceOf(PolicyError);
  });

  it('TRUST_DIR, when set, is where the AWS Signer roots are read: not the trust layer shipped with the code', async () => {
    const policy = JSON.stringify({
      version: 1,
      rules: [
        {
          name: 'app',
          images: ['registry.example.com/**'],
          verifiers: [
            { type: 'aws-signer', signingProfiles: ['arn:aws:signer:us-east-1:123456789012:/signing-profiles/P'] },
          ],
        },
      ],
    });
    // the repository's layers/trust holds the AWS Signer root: the gate builds
    await expect(new Runtime({ POLICY: policy }).gate()).resolves.toBeDefined();
    const empty = mkdtempSync(join(tmpdir(), 'runtime-trust-'));
    const failure = new Runtime({ POLICY: policy, TRUST_DIR: empty }).gate();
    await expect(failure).rejects.toBeInstanceOf(PolicyError);
    await expect(failure).rejects.toThrow(`put the AWS Signer Notation roots in ${join(empty, 'signer-roots')}`);
  });
});

/** Real clients (mocked by aws-sdk-client-mock), with the regions they were asked for. */
function recordingClients(): { clients: AwsClients; kmsRegions: Array<string | undefined>; ecrRegions: string[] } {
  const real = makeAwsClients();
  const kmsRegions: Array<string | undefined> = [];
  const ecrRegions: string[] = [];
  const clients: AwsClients = Object.create(real, {
    kmsFor: { value: (region?: string) => (kmsRegions.push(region), real.kmsFor(region)) },
    ecrFor: { value: (region: string) => (ecrRegions.push(region), real.ecrFor(region)) },
  });
  return { clients, kmsRegions, ecrRegions };
}

describe('runtime wiring of AWS clients', () => {
  const DIGEST = `sha256:${'ab'.repeat(32)}`;
  const rule = (images: string, verifier: object) =>
    JSON.stringify({ version: 1, rules: [{ name: 'app', images: [images], verifiers: [verifier] }] });

  it('AWS_REGION is the region of a KMS key named without an ARN', async () => {
    kms.on(GetPublicKeyCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const { clients, kmsRegions } = recordingClients();
    const policy = rule('registry.example.com/**', { type: 'cosign', kmsKey: 'alias/cosign' });
    const runtime = new Runtime({ POLICY: policy, AWS_REGION: 'eu-west-3' }, { clients });
    const image = { container: 'web', image: `registry.example.com/app@${DIGEST}`, digest: DIGEST };
    const [decision] = await decide([image], await runtime.gate(), { deadline: Date.now() + 10_000 });
    expect(decision).toMatchObject({ decision: 'deny', reason: 'KEY_ERROR' });
    expect(decision!.detail).not.toMatch(/no AWS region/);
    expect(kmsRegions).toEqual(['eu-west-3']);
  });

  it("an ECR image's registry token is asked of an ECR client in the registry's own region", async () => {
    ecr.on(GetAuthorizationTokenCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const { clients, ecrRegions } = recordingClients();
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const ecrRepo = '123456789012.dkr.ecr.ap-south-1.amazonaws.com/app';
    const runtime = new Runtime(
      { POLICY: rule(`${ecrRepo}`, { type: 'cosign', publicKey }), AWS_REGION: 'eu-west-3' },
      { clients },
    );
    const image = { container: 'web', image: `${ecrRepo}@${DIGEST}`, digest: DIGEST };
    const [decision] = await decide([image], await runtime.gate(), { deadline: Date.now() + 10_000 });
    expect(decision).toMatchObject({ decision: 'deny', reason: 'REGISTRY_AUTH_FAILURE' });
    expect(ecrRegions).toContain('ap-south-1');
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).not.toHaveLength(0);
  });
});

describe('defaultTrustDir', () => {
  it('in Lambda, the layer mounted at /opt/trust comes first', () => {
    expect(defaultTrustDir((p) => p === '/opt/trust' || p.endsWith('layers/trust'))).toBe('/opt/trust');
  });

  it('with no layers/trust anywhere above the module, the search stops at the file system root', () => {
    const asked: string[] = [];
    const found = defaultTrustDir((p) => (asked.push(p), false));
    expect(found).toBe(join('/', 'layers', 'trust'));
    expect(asked[0]).toBe('/opt/trust');
    expect(asked.at(-1)).toBe(found);
  });

  it('from a checkout (no /opt/trust layer), the nearest layers/trust above the module: the repository copy', () => {
    expect(defaultTrustDir()).toBe(resolve(import.meta.dirname, '..', 'layers', 'trust'));
  });
});
