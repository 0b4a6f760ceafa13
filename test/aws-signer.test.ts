/**
 * AWS Signer verifier: envelopes shaped as AWS Signer makes them (JWS, ES384,
 * notary.x509.signingAuthority, the Signer critical attributes) under a test root;
 * revocation asked of a mocked Signer client.
 *
 * The verifier module is imported afresh before each test (vi.resetModules): its
 * constants (the plugin name, the platform id sent to Signer, the understood critical
 * attributes) are built when the module loads, so only a test that loads the module sees
 * a wrong one (and a mutation tool counts that test as covering it).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetRevocationStatusCommand, SignerClient } from '@aws-sdk/client-signer';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type AwsClients, makeAwsClients } from '../src/core/aws.js';
import type { Descriptor } from '../src/core/registry.js';
import { factoriesFrom } from '../src/verify/load-factories.js';
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
const unused = (): never => {
  throw new Error('not used by this test');
};
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

let mod: typeof import('../src/verify/notary/aws-signer.js');
let VerifierError: typeof import('../src/core/verifier.js').VerifierError;
beforeEach(async () => {
  vi.resetModules();
  mod = await import('../src/verify/notary/aws-signer.js');
  ({ VerifierError } = await import('../src/core/verifier.js'));
});
const createAwsSignerVerifier: typeof mod.createAwsSignerVerifier = (...a) => mod.createAwsSignerVerifier(...a);
const loadSignerRoots: typeof mod.loadSignerRoots = (...a) => mod.loadSignerRoots(...a);
const profileMatches: typeof mod.profileMatches = (...a) => mod.profileMatches(...a);

interface RunOptions {
  signingProfiles?: string[];
  revocation?: 'enforce' | 'warn' | 'skip';
  /** more signatures, attached after `envelope` */
  more?: Buffer[];
  signer?: SignerClient | ((region: string) => SignerClient);
  region?: string;
  maxSignatures?: number;
  /** false: no log function given */
  log?: boolean;
}

async function run(envelope: Buffer | null, config: RunOptions = {}) {
  const repo = new MemoryRepo();
  for (const e of [...(envelope ? [envelope] : []), ...(config.more ?? [])])
    attachSignature(repo, TARGET, e, 'application/jose+json');
  const logs: string[] = [];
  const data: Array<Record<string, unknown>> = [];
  const v = createAwsSignerVerifier(
    {
      type: 'aws-signer',
      signingProfiles: config.signingProfiles ?? [PROFILE],
      revocation: config.revocation ?? 'enforce',
      trustStore: rootDir,
    },
    {
      signer: config.signer ?? new SignerClient({ region: 'us-east-1' }),
      trustDir: emptyTrust,
      ...(config.region ? { region: config.region } : {}),
      ...(config.maxSignatures ? { maxSignatures: config.maxSignatures } : {}),
      ...(config.log === false
        ? {}
        : {
            log: (m: string, d: Record<string, unknown>) => {
              logs.push(m);
              data.push(d);
            },
          }),
    },
  );
  const ctx = context(repo, TARGET, new Date('2025-06-01T00:00:00Z'));
  return { verdict: await v.verify(ctx), logs, data, v, ctx };
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
      detail:
        'signing profile arn:aws:signer:us-east-1:123456789012:/signing-profiles/Dev/Zz9 is not among the trusted signing profiles',
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
    expect((await run(foreign)).verdict).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: expect.stringMatching(
        /^the certificate chain of "CN=Test Signer,.*" does not lead to an AWS Signer root$/,
      ),
    });
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
    const future = 'com.amazonaws.signer.future';
    const unknown = withAttributes({ [A.version]: PROFILE_VERSION, [A.job]: JOB, [future]: 1 }, [
      A.version,
      A.job,
      future,
    ]);
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

const ALIAS = 'arn:aws:signer:us-east-1:123456789012:/aliases/ProdAlias';
const A = {
  version: 'com.amazonaws.signer.signingProfileVersion',
  job: 'com.amazonaws.signer.signingJob',
  alias: 'com.amazonaws.signer.signingProfileAlias',
};

/** An AWS Signer-shaped envelope with exactly these Signer attributes, `crit` naming the critical ones. */
function withAttributes(attrs: Record<string, unknown>, crit: string[]): Buffer {
  return signJws({
    target: TARGET,
    alg: 'ES384',
    key: c.leaf.key.privateKey,
    chain: c.chain,
    scheme: 'notary.x509.signingAuthority',
    signingTime: SIGNED_AT,
    extra: attrs,
    crit,
  });
}

function rejected(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('AWS Signer attributes and signing profiles', () => {
  it('no signature at all: SIGNATURE_MISSING naming AWS Signer; the verifier is described by its profiles', async () => {
    const other = 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Other';
    const { verdict, v } = await run(null, { signingProfiles: [PROFILE, other] });
    expect(verdict).toEqual({ ok: false, reason: 'SIGNATURE_MISSING', detail: 'no AWS Signer signature found' });
    expect(v.description).toBe(`aws-signer ${PROFILE}, ${other}`);
  });

  it('the profile-version and job attributes must both be present and critical, or UNTRUSTED_SIGNER before Signer is asked', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    const lacks = {
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail:
        'the signature lacks the critical attributes com.amazonaws.signer.signingProfileVersion and com.amazonaws.signer.signingJob',
    };
    expect((await run(withAttributes({ [A.job]: JOB }, [A.job]))).verdict).toEqual(lacks);
    expect((await run(withAttributes({ [A.version]: PROFILE_VERSION }, [A.version]))).verdict).toEqual(lacks);
    // present but not critical: a verifier that does not know them may ignore them, so they do not count
    expect((await run(withAttributes({ [A.version]: PROFILE_VERSION, [A.job]: JOB }, [A.version]))).verdict).toEqual(
      lacks,
    );
    expect(signer.commandCalls(GetRevocationStatusCommand)).toHaveLength(0);
  });

  it('a signing-profile alias ARN trusts a signature carrying that alias as a critical attribute, and only that', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    const signed = (alias: unknown) =>
      withAttributes({ [A.version]: PROFILE_VERSION, [A.job]: JOB, [A.alias]: alias }, [A.version, A.job, A.alias]);
    expect((await run(signed(ALIAS), { signingProfiles: [ALIAS] })).verdict).toEqual({
      ok: true,
      by: `aws-signer profile ${PROFILE_VERSION}`,
    });
    const notTrusted = {
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: `signing profile ${PROFILE_VERSION} is not among the trusted signing profiles`,
    };
    expect((await run(signerEnvelope(), { signingProfiles: [ALIAS] })).verdict).toEqual(notTrusted);
    expect((await run(signed(`${ALIAS}2`), { signingProfiles: [ALIAS] })).verdict).toEqual(notTrusted);
    // an alias that is not a string is no alias (and no crash)
    expect((await run(signed(42), { signingProfiles: [ALIAS] })).verdict).toEqual(notTrusted);
  });

  it('profile matching, as the plugin does it', () => {
    const V = PROFILE_VERSION;
    // aliases: the signed alias, case-insensitively; no alias signed, no match
    expect(profileMatches(ALIAS, V, ALIAS.toUpperCase())).toBe(true);
    expect(profileMatches(ALIAS, V)).toBe(false);
    expect(profileMatches(ALIAS, V, `${ALIAS}x`)).toBe(false);
    // an aliased-signing-profiles ARN: the signed profile-version ARN exactly
    const aliased = 'arn:aws:signer:us-east-1:123456789012:/aliased-signing-profiles/Prod/AbCdEf1234';
    expect(profileMatches(aliased, aliased)).toBe(true);
    expect(profileMatches(aliased, V)).toBe(false);
    // a profile ARN: the signed version minus its last element; a version ARN: exactly; nothing deeper
    expect(profileMatches(PROFILE, V)).toBe(true);
    expect(profileMatches(V, V)).toBe(true);
    expect(profileMatches(V, `${PROFILE}/Other5678`)).toBe(false);
    expect(profileMatches(`${V}/extra`, `${V}/extra`)).toBe(false);
    // not an AWS Signer signing-profile ARN at all
    const inner = ':aws:signer:us-east-1:123456789012:/signing-profiles/Prod';
    expect(profileMatches(`arx${inner}`, `arx${inner}/AbCd`)).toBe(false);
    const ecr = 'arn:aws:ecr:us-east-1:123456789012:/signing-profiles/Prod';
    expect(profileMatches(ecr, `${ecr}/AbCd`)).toBe(false);
    const jobs = 'arn:aws:signer:us-east-1:123456789012:/signing-jobs/Prod';
    expect(profileMatches(jobs, `${jobs}/AbCd`)).toBe(false);
    expect(profileMatches('arn:aws:signer:us-east-1:/signing-profiles/Prod', V)).toBe(false);
  });

  it('tries at most maxSignatures signatures (default 50), in registry order', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    const dev = (i: number) =>
      signerEnvelope({ profileVersion: `arn:aws:signer:us-east-1:123456789012:/signing-profiles/Dev/v${i}` });
    expect((await run(dev(0), { more: [signerEnvelope()] })).verdict).toMatchObject({ ok: true });
    expect((await run(dev(0), { more: [signerEnvelope()], maxSignatures: 1 })).verdict).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
    });
    const fifty = Array.from({ length: 49 }, (_, i) => dev(i + 1));
    const capped = await run(dev(0), { more: [...fifty, signerEnvelope()] });
    expect(capped.verdict).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: expect.stringContaining('(50 signatures tried)'),
    });
  });
});

describe('AWS Signer GetRevocationStatus', () => {
  it('REVOKED names the revoked job and profile ARNs, and counts revoked certificates', async () => {
    const hash = createHash('sha384').update('whatever').digest('hex').repeat(2);
    const detailFor = async (revokedEntities: string[]) => {
      signer.reset();
      signer.on(GetRevocationStatusCommand).resolves({ revokedEntities });
      const { verdict } = await run(signerEnvelope());
      expect(verdict).toMatchObject({ ok: false, reason: 'REVOKED' });
      return (verdict as { detail: string }).detail;
    };
    expect(await detailFor([JOB])).toBe(`revoked by AWS Signer: ${JOB}`);
    expect(await detailFor([PROFILE_VERSION, JOB])).toBe(`revoked by AWS Signer: ${PROFILE_VERSION}, ${JOB}`);
    expect(await detailFor([hash])).toBe('1 certificate(s) of the signing chain revoked');
    expect(await detailFor([JOB, hash, hash])).toBe(
      `revoked by AWS Signer: ${JOB}; 2 certificate(s) of the signing chain revoked`,
    );
  });

  it('an answer without revokedEntities revokes nothing; the request carries the verification’s abort signal', async () => {
    signer.on(GetRevocationStatusCommand).resolves({});
    const { verdict, ctx } = await run(signerEnvelope());
    expect(verdict).toEqual({ ok: true, by: `aws-signer profile ${PROFILE_VERSION}` });
    const call = signer.commandCalls(GetRevocationStatusCommand)[0]!;
    expect((call.args as unknown[])[1]).toEqual({ abortSignal: ctx.signal });
  });

  it('a throttled or refused call: REVOCATION_UNKNOWN naming the AWS error; warn admits saying so, with or without a log', async () => {
    signer
      .on(GetRevocationStatusCommand)
      .rejects(
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }),
      );
    const err = await rejected(run(signerEnvelope()));
    expect(err).toBeInstanceOf(VerifierError);
    expect(err).toMatchObject({
      reason: 'REVOCATION_UNKNOWN',
      transient: true,
      message: 'AWS Signer GetRevocationStatus failed: ThrottlingException: Rate exceeded',
    });
    signer.reset();
    signer
      .on(GetRevocationStatusCommand)
      .rejects(
        Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }),
      );
    const message = 'AWS Signer GetRevocationStatus failed: AccessDeniedException: denied';
    const warn = await run(signerEnvelope(), { revocation: 'warn' });
    expect(warn.verdict).toEqual({
      ok: true,
      by: `aws-signer profile ${PROFILE_VERSION}`,
      detail: `revocation not checked (revocation: warn): ${message}`,
    });
    expect(warn.logs).toEqual([message]);
    expect(warn.data).toEqual([{ profileVersionArn: PROFILE_VERSION }]);
    const silent = await run(signerEnvelope(), { revocation: 'warn', log: false });
    expect(silent.verdict).toMatchObject({ ok: true, detail: expect.stringContaining('revocation not checked') });
  });

  it('asks Signer in the profile’s region; a profile ARN without one uses the configured region, else us-east-1', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    const regionFor = async (profileVersion: string, region?: string) => {
      const asked: string[] = [];
      const profile = profileVersion.slice(0, profileVersion.lastIndexOf('/'));
      const { verdict } = await run(signerEnvelope({ profileVersion }), {
        signingProfiles: [profile],
        signer: (r) => {
          asked.push(r);
          return new SignerClient({ region: r });
        },
        ...(region ? { region } : {}),
      });
      expect(verdict).toMatchObject({ ok: true });
      return asked;
    };
    expect(await regionFor('arn:aws:signer:eu-west-1:123456789012:/signing-profiles/Prod/Ab12', 'ap-south-1')).toEqual([
      'eu-west-1',
    ]);
    expect(await regionFor('arn:aws:signer::123456789012:/signing-profiles/Prod/Ab12', 'ap-south-1')).toEqual([
      'ap-south-1',
    ]);
    expect(await regionFor('arn:aws:signer::123456789012:/signing-profiles/Prod/Ab12')).toEqual(['us-east-1']);
  });

  it('built as the Runtime builds it (the Notary family factory), the configured region reaches the verifier', async () => {
    signer.on(GetRevocationStatusCommand).resolves({ revokedEntities: [] });
    const asked: string[] = [];
    const clients: AwsClients = Object.create(makeAwsClients(), {
      signerFor: { value: async (r: string) => (asked.push(r), new SignerClient({ region: r })) },
    });
    const notary = await import('../src/verify/notary-family.js');
    const factories = factoriesFrom(
      { notary },
      { clients, kmsKeys: () => unused(), baseDir: process.cwd(), trustDir: emptyTrust, region: 'ap-south-1' },
    );
    const verifier = factories.awsSigner({
      type: 'aws-signer',
      signingProfiles: ['arn:aws:signer::123456789012:/signing-profiles/Prod'],
      revocation: 'enforce',
      trustStore: rootDir,
    });
    const repo = new MemoryRepo();
    const envelope = signerEnvelope({ profileVersion: 'arn:aws:signer::123456789012:/signing-profiles/Prod/Ab12' });
    attachSignature(repo, TARGET, envelope, 'application/jose+json');
    expect(await verifier.verify(context(repo, TARGET, new Date('2025-06-01T00:00:00Z')))).toMatchObject({ ok: true });
    expect(asked).toEqual(['ap-south-1']);
  });
});

describe('AWS Signer roots', () => {
  const config = (trustStore?: string) => ({
    type: 'aws-signer' as const,
    signingProfiles: [PROFILE],
    revocation: 'enforce' as const,
    ...(trustStore ? { trustStore } : {}),
  });

  it('reads only .pem/.crt/.cer files of a trustStore folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'signer-store-'));
    writeFileSync(join(dir, 'root.pem'), pem(c.root.der));
    writeFileSync(join(dir, 'notes.txt'), 'not a certificate');
    writeFileSync(join(dir, 'old.pem.bak'), 'not a certificate');
    mkdirSync(join(dir, 'folder.pem'));
    const roots = loadSignerRoots(config(dir), emptyTrust);
    expect(roots.map((r) => r.sha256)).toEqual([Certificate.fromDer(c.root.der).sha256]);
  });

  it('POLICY_ERROR for a trustStore folder that cannot be read, and for a root file that is no certificate', () => {
    const missing = join(emptyTrust, 'no-such-folder');
    expect(() => loadSignerRoots(config(missing), emptyTrust)).toThrow(
      expect.objectContaining({ reason: 'POLICY_ERROR', message: `aws-signer trustStore ${missing} cannot be read` }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'signer-store-'));
    writeFileSync(join(dir, 'bad.pem'), 'not a certificate');
    expect(() => loadSignerRoots(config(dir), emptyTrust)).toThrow(
      expect.objectContaining({
        reason: 'POLICY_ERROR',
        message: expect.stringMatching(new RegExp(`^aws-signer root ${join(dir, 'bad.pem')}: .`)),
      }),
    );
  });

  it('the trust layer defaults to /opt/trust; without any root the verifier does not start (POLICY_ERROR)', () => {
    expect(() => createAwsSignerVerifier(config(), { signer: new SignerClient({}) })).toThrow(
      expect.objectContaining({
        reason: 'POLICY_ERROR',
        message: expect.stringContaining('put the AWS Signer Notation roots in /opt/trust/signer-roots'),
      }),
    );
    // an absent trust layer is no error when the trustStore folder has roots
    expect(createAwsSignerVerifier(config(rootDir), { signer: new SignerClient({}) }).description).toBe(
      `aws-signer ${PROFILE}`,
    );
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
