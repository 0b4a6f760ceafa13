/**
 * Revocation status unknown, as the deployment gate answers it: the real hook handler,
 * a real docker-registry, a Notation chain whose OCSP responder and CRL are down (a
 * loopback server answering 500), and a Signer client that refuses. REVOCATION_UNKNOWN
 * is an error code: a transient one is waited out (IN_PROGRESS), a lasting one fails the
 * deployment under onError: deny.
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
import { Certificate } from '../src/verify/notary/x509.js';
import { makeTrustStore, policy as trustPolicy } from './support/notation-context.js';
import { key, makeChain, pem, signJws } from './support/notation-signer.js';
import { startRevocationServer, type RevocationServer } from './support/pki-revocation.js';
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
let ocsp: RevocationServer;
let notationChain: ReturnType<typeof makeChain>;
const images: Record<string, Descriptor> = {};
const signerChain = makeChain(key('p384', 'gate-rv-signer-leaf'), {
  rootKey: key('p384', 'gate-rv-signer-root'),
  label: 'gate-rv-signer',
});
const signerRoots = mkdtempSync(join(tmpdir(), 'gate-rv-signer-roots-'));
writeFileSync(join(signerRoots, 'root.pem'), pem(signerChain.root.der));

const attach = (repo: string, subject: Descriptor, envelope: Buffer) =>
  attachNotationSignature(reg, repo, subject, envelope);

beforeAll(async () => {
  requireRegistry();
  ocsp = await startRevocationServer();
  notationChain = makeChain(key('p256', 'gate-rv-leaf'), { label: 'gate-rv', leaf: { extra: ocsp.extensions('int') } });
  ocsp.ocsp.set(Certificate.fromDer(notationChain.leaf.der).serial.toString('hex'), 'http-500');
  ocsp.crl.set('int', 'http-500');
  reg = await startRegistry();
  for (const name of ['notation', 'signer']) images[name] = await reg.pushImage('app/web', name);
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
afterAll(async () => {
  await reg?.stop();
  await ocsp?.close();
});

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
        name: 'notation',
        images: [`${reg.host}/app/web`],
        verifiers: [{ type: 'notation', trustPolicy: trustPolicy({ trustStores: ['ca:gate'] }), trustStore: store }],
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

const logged = (text: string) => warn.mock.calls.some((c: unknown[]) => String(c[0]).includes(text));

describe('REVOCATION_UNKNOWN in the deployment gate', () => {
  it('Notation, OCSP and CRL down: transient, so the hook waits (IN_PROGRESS) instead of admitting', async () => {
    revision('notation');
    const answer = await lifecycleHook(event, context);
    expect(answer).toMatchObject({ hookStatus: 'IN_PROGRESS' });
    expect(logged('REVOCATION_UNKNOWN')).toBe(true);
  });

  it('AWS Signer refusing GetRevocationStatus (AccessDenied, not transient): FAILED with REVOCATION_UNKNOWN', async () => {
    process.env.POLICY = JSON.stringify({
      version: 1,
      registries: { [reg.host]: { insecure: true } },
      rules: [
        {
          name: 'signer',
          images: [`${reg.host}/app/web`],
          verifiers: [{ type: 'aws-signer', signingProfiles: [PROFILE], trustStore: signerRoots }],
        },
      ],
    });
    startContainer();
    signer
      .on(GetRevocationStatusCommand)
      .rejects(
        Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }),
      );
    revision('signer');
    expect(await lifecycleHook(event, context)).toEqual({ hookStatus: 'FAILED' });
    expect(logged('DENIED REVOCATION_UNKNOWN')).toBe(true);
  });
});
