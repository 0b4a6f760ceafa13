/**
 * Notation and AWS Signer verifiers wired into the deployment gate: the real hook
 * handler, the policy compiled from the environment, a real docker-registry, and
 * mocked ECS and Signer clients.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeServiceRevisionsCommand, ECSClient } from '@aws-sdk/client-ecs';
import { GetRevocationStatusCommand, SignerClient } from '@aws-sdk/client-signer';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeLifecycleHook } from '../src/handlers/lifecycle-hook.js';
import { logger } from '../src/core/observability.js';
import type { Descriptor } from '../src/core/registry.js';
import { Runtime } from '../src/gate/runtime.js';
import { loadSignerRoots } from '../src/verify/notary/aws-signer.js';
import { makeTrustStore, policy as trustPolicy } from './support/notation-context.js';
import { key, makeChain, pem, signJws } from './support/notation-signer.js';
import { attachNotationSignature } from './support/notation-registry.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

/** One Lambda container on the current environment: its own Runtime, the handlers bound to it. */
let lifecycleHook = makeLifecycleHook(new Runtime(process.env));
function startContainer(): void {
  lifecycleHook = makeLifecycleHook(new Runtime(process.env));
}

const ecs = mockClient(ECSClient);
const signer = mockClient(SignerClient);
const REVISION = 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo-cluster/web/4093216470117498571';
const event = {
  executionId: 'e',
  lifecycleStage: 'PRE_SCALE_UP',
  executionDetails: { targetServiceRevisionArn: REVISION },
};
const context = { getRemainingTimeInMillis: () => 30_000 };
const _OCI = 'application/vnd.oci.image.manifest.v1+json';
const PROFILE = 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod';
const JOB = 'arn:aws:signer:us-east-1:123456789012:/signing-jobs/1b2c3d4e-0000-1111-2222-333344445555';

let reg: TestRegistry;
const images: Record<string, Descriptor> = {};
const notationChain = makeChain(key('p256', 'gate-leaf'), { label: 'gate' });
const signerChain = makeChain(key('p384', 'gate-signer-leaf'), {
  rootKey: key('p384', 'gate-signer-root'),
  label: 'gate-signer',
});
const signerRoots = mkdtempSync(join(tmpdir(), 'gate-signer-roots-'));
writeFileSync(join(signerRoots, 'root.pem'), pem(signerChain.root.der));

const attach = (repo: string, subject: Descriptor, envelope: Buffer) =>
  attachNotationSignature(reg, repo, subject, envelope);

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry();
  for (const name of ['notation', 'signer', 'unsigned']) images[name] = await reg.pushImage('app/web', name);
  await attach(
    'app/web',
    images.notation!,
    signJws({
      target: images.notation!,
      alg: 'ES256',
      key: notationChain.leaf.key.privateKey,
      chain: notationChain.chain,
    }),
  );
  await attach(
    'app/web',
    images.signer!,
    signJws({
      target: images.signer!,
      alg: 'ES384',
      key: signerChain.leaf.key.privateKey,
      chain: signerChain.chain,
      scheme: 'notary.x509.signingAuthority',
      extra: { 'com.amazonaws.signer.signingProfileVersion': `${PROFILE}/V1`, 'com.amazonaws.signer.signingJob': JOB },
      crit: ['com.amazonaws.signer.signingProfileVersion', 'com.amazonaws.signer.signingJob'],
    }),
  );
}, 30_000);
afterAll(async () => reg?.stop());

let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  ecs.reset();
  signer.reset();
  warn = vi.spyOn(logger, 'warn');
  const store = makeTrustStore({ ca: { gate: [pem(notationChain.root.der)] } });
  process.env.POLICY = JSON.stringify({
    version: 1,
    registries: { [reg.host]: { insecure: true } },
    rules: [
      {
        name: 'app',
        images: [`${reg.host}/app/**`],
        verifiers: [
          { type: 'notation', trustPolicy: trustPolicy({ trustStores: ['ca:gate'] }), trustStore: store },
          { type: 'aws-signer', signingProfiles: [PROFILE], trustStore: signerRoots },
        ],
      },
    ],
  });
  startContainer();
});
afterEach(() => {
  warn.mockRestore();
  delete process.env.POLICY;
});

function revision(which: string): void {
  ecs.on(DescribeServiceRevisionsCommand).resolves({
    serviceRevisions: [
      {
        serviceRevisionArn: REVISION,
        containerImages: [
          { containerName: 'web', image: `${reg.host}/app/web:${which}`, imageDigest: images[which]!.digest },
        ],
      },
    ],
  });
}

describe('Notation and AWS Signer in the deployment gate', () => {
  it('admits a Notation-signed image', async () => {
    revision('notation');
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
  });

  it('admits an AWS Signer-signed image of a trusted profile after asking Signer about revocation', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    revision('signer');
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'SUCCEEDED' });
    expect(signer.commandCalls(GetRevocationStatusCommand)).toHaveLength(1);
    expect(signer.commandCalls(GetRevocationStatusCommand)[0]!.args[0].input).toMatchObject({
      platformId: 'Notation-OCI-SHA384-ECDSA',
      profileVersionArn: `${PROFILE}/V1`,
      jobArn: JOB,
    });
  });

  it('fails a revoked AWS Signer signature with REVOKED', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [JOB] });
    revision('signer');
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
    expect(warn.mock.calls.some((c: unknown[]) => String(c[0]).includes('DENIED REVOKED'))).toBe(true);
  });

  it('fails an unsigned image with SIGNATURE_MISSING', async () => {
    revision('unsigned');
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
    expect(warn.mock.calls.some((c: unknown[]) => String(c[0]).includes('DENIED SIGNATURE_MISSING'))).toBe(true);
  });
});

describe('the trust layer', () => {
  it('ships the AWS Signer commercial root, by its published fingerprint', () => {
    const roots = loadSignerRoots(
      { type: 'aws-signer', signingProfiles: [PROFILE], revocation: 'enforce' },
      'layers/trust',
    );
    expect(roots.map((r) => r.sha256)).toContain('90a87d0543c3f094dbff9589b6649affe2f3d6e0f308799be2258461c686473f');
  });
});
