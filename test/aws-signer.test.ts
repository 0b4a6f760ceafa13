/**
 * AWS Signer verifier: envelopes shaped as AWS Signer makes them (JWS, ES384,
 * notary.x509.signingAuthority, the Signer critical attributes) under a test root;
 * revocation asked of a mocked Signer client.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetRevocationStatusCommand, SignerClient } from '@aws-sdk/client-signer';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { createAwsSignerVerifier, loadSignerRoots, profileMatches } from '../src/verify/notary/aws-signer.js';
import { VerifierError } from '../src/core/verifier.js';
import { Certificate } from '../src/verify/notary/x509.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context } from './support/notation-context.js';
import { digestOf, key, makeChain, pem, signJws } from './support/notation-signer.js';

const IMAGE = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}');
const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(IMAGE),
  size: IMAGE.length,
};
const PROFILE = 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod';
const PROFILE_VERSION = `${PROFILE}/AbCdEf1234`;
const JOB = 'arn:aws:signer:us-east-1:123456789012:/signing-jobs/1b2c3d4e-0000-1111-2222-333344445555';
const SIGNED_AT = new Date('2025-03-01T10:00:00Z');

const c = makeChain(key('p384', 'signer-leaf'), { rootKey: key('p384', 'signer-root'), label: 'aws' });
const rootDir = mkdtempSync(join(tmpdir(), 'signer-roots-'));
writeFileSync(join(rootDir, 'test-root.pem'), pem(c.root.der));
const emptyTrust = mkdtempSync(join(tmpdir(), 'trust-'));

function signerEnvelope(over: { profileVersion?: string; target?: Descriptor; expiry?: Date } = {}): Buffer {
  return signJws({
    target: over.target ?? TARGET,
    alg: 'ES384',
    key: c.leaf.key.privateKey,
    chain: c.chain,
    scheme: 'notary.x509.signingAuthority',
    signingTime: SIGNED_AT,
    ...(over.expiry ? { expiry: over.expiry } : {}),
    extra: {
      'com.amazonaws.signer.signingProfileVersion': over.profileVersion ?? PROFILE_VERSION,
      'com.amazonaws.signer.signingJob': JOB,
      'io.cncf.notary.verificationPlugin': 'com.amazonaws.signer.notation.plugin',
      'io.cncf.notary.verificationPluginMinVersion': '1.0.0',
    },
    crit: [
      'com.amazonaws.signer.signingProfileVersion',
      'com.amazonaws.signer.signingJob',
      'io.cncf.notary.verificationPlugin',
      'io.cncf.notary.verificationPluginMinVersion',
    ],
  });
}

const signer = mockClient(SignerClient);
afterEach(() => signer.reset());

async function run(
  envelope: Buffer,
  config: { signingProfiles?: string[]; revocation?: 'enforce' | 'warn' | 'skip' } = {},
) {
  const repo = new MemoryRepo();
  attachSignature(repo, TARGET, envelope, 'application/jose+json');
  const logs: string[] = [];
  const v = createAwsSignerVerifier(
    {
      type: 'aws-signer',
      signingProfiles: config.signingProfiles ?? [PROFILE],
      revocation: config.revocation ?? 'enforce',
      trustStore: rootDir,
    },
    { signer: new SignerClient({ region: 'us-east-1' }), trustDir: emptyTrust, log: (m) => logs.push(m) },
  );
  return { verdict: await v.verify(context(repo, TARGET, new Date('2025-06-01T00:00:00Z'))), logs };
}

describe('AWS Signer verifier', () => {
  it('allows a signature by a trusted profile and asks GetRevocationStatus exactly as the plugin does', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    const { verdict } = await run(signerEnvelope());
    expect(verdict).toEqual({ ok: true, by: `aws-signer profile ${PROFILE_VERSION}` });
    const calls = signer.commandCalls(GetRevocationStatusCommand);
    expect(calls).toHaveLength(1);
    const tbs = [c.leaf.der, c.intermediate.der, c.root.der].map((d) =>
      createHash('sha384').update(Certificate.fromDer(d).tbs).digest('hex'),
    );
    expect(calls[0]!.args[0].input).toEqual({
      signatureTimestamp: SIGNED_AT,
      platformId: 'Notation-OCI-SHA384-ECDSA',
      profileVersionArn: PROFILE_VERSION,
      jobArn: JOB,
      certificateHashes: [tbs[0]! + tbs[1]!, tbs[1]! + tbs[2]!, tbs[2]! + tbs[2]!],
    });
  });

  it('UNTRUSTED_SIGNER for another profile; profile matching is case-insensitive and by version too', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    expect(
      (await run(signerEnvelope({ profileVersion: 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Dev/Zz9' })))
        .verdict,
    ).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
    });
    expect(
      (
        await run(signerEnvelope(), {
          signingProfiles: ['arn:aws:signer:US-EAST-1:123456789012:/signing-profiles/PROD'],
        })
      ).verdict,
    ).toMatchObject({ ok: true });
    expect(profileMatches(PROFILE_VERSION, PROFILE_VERSION)).toBe(true);
    expect(profileMatches(`${PROFILE}Two`, PROFILE_VERSION)).toBe(false);
    expect(profileMatches('arn:aws:signer:us-east-1:123456789012:/signing-profiles/Pro', PROFILE_VERSION)).toBe(false);
  });

  it('REVOKED when Signer lists a revoked entity', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [JOB] });
    expect((await run(signerEnvelope())).verdict).toMatchObject({
      ok: false,
      reason: 'REVOKED',
      detail: expect.stringContaining(JOB),
    });
  });

  it('Signer unreachable: a thrown REVOCATION_UNKNOWN (onError decides); throttling is transient; warn admits with a detail; skip does not ask', async () => {
    signer
      .on(GetRevocationStatusCommand)
      .rejects(
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }),
      );
    const err = await run(signerEnvelope()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifierError);
    expect(err).toMatchObject({ reason: 'REVOCATION_UNKNOWN', transient: true });
    signer.reset();
    signer
      .on(GetRevocationStatusCommand)
      .rejects(
        Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }),
      );
    expect(await run(signerEnvelope()).catch((e: unknown) => e)).toMatchObject({
      reason: 'REVOCATION_UNKNOWN',
      transient: false,
    });
    const warn = await run(signerEnvelope(), { revocation: 'warn' });
    expect(warn.verdict).toMatchObject({ ok: true, detail: expect.stringContaining('revocation not checked') });
    expect(warn.logs).toHaveLength(1);
    signer.reset();
    expect((await run(signerEnvelope(), { revocation: 'skip' })).verdict).toMatchObject({ ok: true });
    expect(signer.commandCalls(GetRevocationStatusCommand)).toHaveLength(0);
  });

  it('denies a chain to another root, a notary.x509 signature, an unknown critical attribute, an expired signature, another digest', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    const other = makeChain(key('p384', 'signer-leaf'), { rootKey: key('p384', 'not-aws'), label: 'not-aws' });
    const foreign = signJws({
      target: TARGET,
      alg: 'ES384',
      key: c.leaf.key.privateKey,
      chain: other.chain,
      scheme: 'notary.x509.signingAuthority',
      signingTime: SIGNED_AT,
      extra: { 'com.amazonaws.signer.signingProfileVersion': PROFILE_VERSION, 'com.amazonaws.signer.signingJob': JOB },
      crit: ['com.amazonaws.signer.signingProfileVersion', 'com.amazonaws.signer.signingJob'],
    });
    expect((await run(foreign)).verdict).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    const x509 = signJws({
      target: TARGET,
      alg: 'ES384',
      key: c.leaf.key.privateKey,
      chain: c.chain,
      extra: { 'com.amazonaws.signer.signingProfileVersion': PROFILE_VERSION, 'com.amazonaws.signer.signingJob': JOB },
      crit: ['com.amazonaws.signer.signingProfileVersion', 'com.amazonaws.signer.signingJob'],
    });
    expect((await run(x509)).verdict).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: expect.stringContaining('signingAuthority'),
    });
    const unknown = signJws({
      target: TARGET,
      alg: 'ES384',
      key: c.leaf.key.privateKey,
      chain: c.chain,
      scheme: 'notary.x509.signingAuthority',
      signingTime: SIGNED_AT,
      extra: {
        'com.amazonaws.signer.signingProfileVersion': PROFILE_VERSION,
        'com.amazonaws.signer.signingJob': JOB,
        'com.amazonaws.signer.future': 1,
      },
      crit: [
        'com.amazonaws.signer.signingProfileVersion',
        'com.amazonaws.signer.signingJob',
        'com.amazonaws.signer.future',
      ],
    });
    expect((await run(unknown)).verdict).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    expect((await run(signerEnvelope({ expiry: new Date('2025-04-01T00:00:00Z') }))).verdict).toMatchObject({
      ok: false,
      reason: 'EXPIRED',
    });
    expect(
      (await run(signerEnvelope({ target: { ...TARGET, digest: digestOf(Buffer.from('x')) } }))).verdict,
    ).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
    expect(signer.commandCalls(GetRevocationStatusCommand)).toHaveLength(0);
  });

  it('refuses to start without any root', () => {
    expect(() =>
      createAwsSignerVerifier(
        { type: 'aws-signer', signingProfiles: [PROFILE], revocation: 'enforce' },
        { signer: new SignerClient({}), trustDir: emptyTrust },
      ),
    ).toThrow(/signer-roots/);
  });
});

const AWS_ROOTS = resolve(import.meta.dirname, '../../shared/fixtures/aws-signer');
describe.skipIf(!existsSync(AWS_ROOTS))(
  'AWS published Signer roots (from ../shared/fixtures/aws-signer, placed as the trust layer would)',
  () => {
    it('loads both roots from <trustDir>/signer-roots; the commercial root is the published one', () => {
      const trust = mkdtempSync(join(tmpdir(), 'trust-layer-'));
      mkdirSync(join(trust, 'signer-roots'));
      for (const f of ['aws-signer-notation-root.pem', 'aws-us-gov-signer-notation-root.pem'])
        writeFileSync(join(trust, 'signer-roots', f), readFileSync(join(AWS_ROOTS, f)));
      const roots = loadSignerRoots({ type: 'aws-signer', signingProfiles: [PROFILE], revocation: 'enforce' }, trust);
      expect(roots).toHaveLength(2);
      expect(roots.map((r) => r.sha256)).toContainEqual(expect.stringMatching(/^90a87d05.*473f$/));
      expect(roots.every((r) => r.isSelfSigned() && r.basicConstraints?.ca)).toBe(true);
    });
  },
);
if (!existsSync(AWS_ROOTS)) console.log(`skipping AWS Signer root test: ${AWS_ROOTS} is absent`);
