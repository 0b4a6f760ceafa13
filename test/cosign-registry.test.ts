/**
 * CosignKeyVerifier end to end: images signed by the test signer in a real
 * docker-registry (token auth), read through RegistryClient; and with a KMS key
 * (mocked KMSClient) instead of a PEM.
 */
import { GetPublicKeyCommand, KMSClient, NotFoundException } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import { RegistryError, type Descriptor } from '../src/core/registry.js';
import { CosignKeyVerifier } from '../src/verify/cosign/legacy-key.js';
import { KmsKeyStore, kmsKeySource, pemKeySource } from '../src/verify/cosign/keys.js';
import type { VerifierVerdict } from '../src/core/verifier.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { verifyContext } from './support/memory-repo.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

const ours = generateKeyPair('p256');
const theirs = generateKeyPair('p256');
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('cosign through a real registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let n = 0;

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry({ auth: 'token' });
    client = new RegistryClient({ registries: reg.settings });
  });
  afterAll(async () => reg?.stop());

  /** a fresh image in its own repository, so cases cannot see each other's signatures */
  async function freshImage(): Promise<{ repo: string; image: Descriptor }> {
    const repo = `cosign/case${++n}`;
    return { repo, image: await reg.pushImage(repo, 'v1') };
  }

  function verify(
    repo: string,
    digest: string,
    verifier = new CosignKeyVerifier(pemKeySource(ours.publicKeyPem)),
  ): Promise<VerifierVerdict> {
    return verifier.verify(verifyContext(client.repository(reg.host, repo), digest));
  }

  it('admits a signed image', async () => {
    const { repo, image } = await freshImage();
    await signImage(reg, repo, image, ours.privateKey);
    expect(await verify(repo, image.digest)).toMatchObject({
      ok: true,
      by: expect.stringMatching(/^cosign key sha256:/),
    });
  });

  it('SIGNATURE_MISSING for an unsigned image', async () => {
    const { repo, image } = await freshImage();
    expect(await verify(repo, image.digest)).toMatchObject({ ok: false, reason: 'SIGNATURE_MISSING' });
  });

  it('UNTRUSTED_SIGNER for another key', async () => {
    const { repo, image } = await freshImage();
    await signImage(reg, repo, image, theirs.privateKey);
    expect(await verify(repo, image.digest)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });

  it('SIGNATURE_INVALID for a tampered payload', async () => {
    const { repo, image } = await freshImage();
    await signImage(reg, repo, image, ours.privateKey, { tamper: true });
    expect(await verify(repo, image.digest)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });

  it('DIGEST_MISMATCH for a signature bound to another digest', async () => {
    const { repo, image } = await freshImage();
    const other = await reg.pushImage(repo, 'v2');
    await signImage(reg, repo, image, ours.privateKey, { bindDigest: other.digest });
    expect(await verify(repo, image.digest)).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
  });

  it('admits when one of several signers is ours', async () => {
    const { repo, image } = await freshImage();
    await signImage(reg, repo, image, theirs.privateKey, {
      alsoSignedBy: [generateKeyPair('rsa').privateKey, ours.privateKey],
    });
    expect((await verify(repo, image.digest)).ok).toBe(true);
  });

  it('throws the registry error when the registry refuses us', async () => {
    const { repo, image } = await freshImage();
    await signImage(reg, repo, image, ours.privateKey);
    const anonymous = new RegistryClient({ registries: { [reg.host]: { insecure: true } } });
    const verdict = new CosignKeyVerifier(pemKeySource(ours.publicKeyPem)).verify(
      verifyContext(anonymous.repository(reg.host, repo), image.digest),
    );
    await expect(verdict).rejects.toBeInstanceOf(RegistryError);
    await expect(verdict).rejects.toMatchObject({ kind: 'AUTH' });
  });

  describe('with an AWS KMS key', () => {
    const kms = mockClient(KMSClient);
    afterEach(() => kms.reset());
    const spki = new Uint8Array(ours.publicKey.export({ format: 'der', type: 'spki' }));
    const answer = {
      $metadata: {},
      KeyId: KEY_ARN,
      PublicKey: spki,
      KeyUsage: 'SIGN_VERIFY' as const,
      KeySpec: 'ECC_NIST_P256' as const,
      SigningAlgorithms: ['ECDSA_SHA_256' as const],
    };

    it('verifies, asking KMS once for two verifications', async () => {
      kms.on(GetPublicKeyCommand).resolves(answer);
      const { repo, image } = await freshImage();
      await signImage(reg, repo, image, ours.privateKey);
      const verifier = new CosignKeyVerifier(
        kmsKeySource(new KmsKeyStore((region) => new KMSClient({ region })), KEY_ARN),
      );
      expect(verifier.description).toBe(`cosign kms ${KEY_ARN}`);
      expect(await verify(repo, image.digest, verifier)).toMatchObject({
        ok: true,
        by: expect.stringMatching(new RegExp(`^cosign kms ${KEY_ARN} sha256:[a-f0-9]{8}…$`)),
      });
      expect((await verify(repo, image.digest, verifier)).ok).toBe(true);
      expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    });

    it('coalesces concurrent verifications into one GetPublicKey', async () => {
      kms.on(GetPublicKeyCommand).resolves(answer);
      const { repo, image } = await freshImage();
      await signImage(reg, repo, image, ours.privateKey);
      const store = new KmsKeyStore((region) => new KMSClient({ region }));
      const verifiers = [1, 2, 3, 4].map(() => new CosignKeyVerifier(kmsKeySource(store, KEY_ARN)));
      const verdicts = await Promise.all(verifiers.map((v) => verify(repo, image.digest, v)));
      expect(verdicts.every((v) => v.ok)).toBe(true);
      expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    });

    it('rejects a signature by another key as UNTRUSTED_SIGNER', async () => {
      kms.on(GetPublicKeyCommand).resolves(answer);
      const { repo, image } = await freshImage();
      await signImage(reg, repo, image, theirs.privateKey);
      const verifier = new CosignKeyVerifier(
        kmsKeySource(new KmsKeyStore((region) => new KMSClient({ region })), KEY_ARN),
      );
      expect(await verify(repo, image.digest, verifier)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    });

    it('throws KEY_ERROR when KMS fails', async () => {
      kms
        .on(GetPublicKeyCommand)
        .rejects(new NotFoundException({ message: 'Alias arn:… is not found.', $metadata: { httpStatusCode: 400 } }));
      const { repo, image } = await freshImage();
      await signImage(reg, repo, image, ours.privateKey);
      const verifier = new CosignKeyVerifier(
        kmsKeySource(new KmsKeyStore(new KMSClient({ region: 'eu-west-1' })), 'alias/cosign'),
      );
      await expect(verify(repo, image.digest, verifier)).rejects.toMatchObject({
        name: 'VerifierError',
        reason: 'KEY_ERROR',
        transient: false,
      });
    });
  });
});
