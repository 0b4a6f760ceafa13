/**
 * CosignKeyVerifier against the in-memory registry: every outcome and reason code,
 * every key type, and that registry and key errors are thrown, never turned into a verdict.
 */
import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { MEDIA_TYPES, RegistryError, type Descriptor } from '../src/core/registry.js';
import {
  CosignKeyVerifier,
  cosignSignatureTag,
  MAX_SIGNATURE_LAYERS,
  MAX_SIMPLE_SIGNING_PAYLOAD_BYTES,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from '../src/verify/cosign/legacy-key.js';
import { loadPemKey, pemKeySource, type KeySource } from '../src/verify/cosign/keys.js';
import { VerifierError, type VerifierVerdict } from '../src/core/verifier.js';
import {
  cosignPayload,
  generateKeyPair,
  pushSignatureManifest,
  signImage,
  signPayload,
  type KeyKind,
  type TestKeyPair,
} from './support/cosign-signer.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';

const REPO = 'team/app';
const ours = generateKeyPair('p256');
const theirs = generateKeyPair('p256');

let reg: MemoryRegistry;
let image: Descriptor;

beforeEach(async () => {
  reg = new MemoryRegistry();
  image = await reg.pushImage(REPO, 'v1');
});

function verifierFor(pair: TestKeyPair = ours): CosignKeyVerifier {
  return new CosignKeyVerifier(pemKeySource(pair.publicKeyPem));
}

function verify(verifier = verifierFor(), digest = image.digest): Promise<VerifierVerdict> {
  return verifier.verify(verifyContext(reg.repository(REPO), digest));
}

function expectFailure(verdict: VerifierVerdict, reason: string, detail?: RegExp): void {
  expect(verdict.ok).toBe(false);
  if (verdict.ok) return;
  expect(verdict.reason).toBe(reason);
  if (detail) expect(verdict.detail).toMatch(detail);
}

/** Push a `.sig` manifest written by hand (descriptors the signer would never write). */
async function pushRawSignatureManifest(layers: object[]): Promise<void> {
  const config = await reg.pushBlob(REPO, Buffer.from('{}'));
  await reg.pushManifest(
    REPO,
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' },
      layers,
    },
    { mediaType: MEDIA_TYPES.ociManifest, tag: cosignSignatureTag(image.digest) },
  );
}

describe('cosignSignatureTag', () => {
  it('is where cosign keeps the signatures of a digest', () => {
    expect(cosignSignatureTag(`sha256:${'ab'.repeat(32)}`)).toBe(`sha256-${'ab'.repeat(32)}.sig`);
  });

  it('refuses something that is not a digest', () => {
    const error = (() => {
      try {
        cosignSignatureTag('latest');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(VerifierError);
    expect(error).toMatchObject({ reason: 'INTERNAL_ERROR', message: 'not an image digest: "latest"' });
  });
});

describe('CosignKeyVerifier', () => {
  it('admits an image signed with our key and names the key by fingerprint', async () => {
    await signImage(reg, REPO, image, ours.privateKey);
    const verifier = verifierFor();
    const fingerprint = loadPemKey(ours.publicKeyPem).fingerprint;
    expect(verifier.description).toBe(`cosign key ${fingerprint.slice(0, 15)}…`);
    const verdict = await verify(verifier);
    expect(verdict).toEqual({ ok: true, by: `cosign key ${fingerprint.slice(0, 15)}…` });
    expect(verifier.description).toBe(`cosign key ${fingerprint.slice(0, 15)}…`);
  });

  it('reports SIGNATURE_MISSING for an unsigned image, naming the tag it looked for', async () => {
    expectFailure(
      await verify(),
      'SIGNATURE_MISSING',
      new RegExp(`no cosign signature found \\(tag ${cosignSignatureTag(image.digest)}\\)`),
    );
  });

  it('does not accept the signature of another image in the same repository', async () => {
    const other = await reg.pushImage(REPO, 'v2');
    await signImage(reg, REPO, other, ours.privateKey);
    expectFailure(await verify(), 'SIGNATURE_MISSING');
  });

  it('reports UNTRUSTED_SIGNER for a signature made with another key', async () => {
    await signImage(reg, REPO, image, theirs.privateKey);
    expectFailure(await verify(), 'UNTRUSTED_SIGNER', /not made by key sha256:[a-f0-9]{8}…/);
  });

  it('reports SIGNATURE_INVALID for a payload edited after signing to name this image', async () => {
    // Our key signed a payload; the stored payload was then changed to name another digest.
    await signImage(reg, REPO, image, ours.privateKey, { tamper: true });
    expectFailure(await verify(), 'SIGNATURE_INVALID', /does not verify/);
  });

  it('reports SIGNATURE_INVALID for a signature over another digest whose payload was then edited', async () => {
    const other = await reg.pushImage(REPO, 'v2');
    // signed for `other`, stored as this image's signature, then edited (still naming `other`)
    await signImage(reg, REPO, image, ours.privateKey, {
      bindDigest: other.digest,
      tamper: (p) => Buffer.from(p.toString().replace('"optional":null', '"optional":{"edited":"yes"}')),
    });
    expectFailure(await verify(), 'SIGNATURE_INVALID');
  });

  it('cannot tell an edit that keeps this digest from another signer: UNTRUSTED_SIGNER (documented)', async () => {
    await signImage(reg, REPO, image, ours.privateKey, {
      tamper: (p) => Buffer.from(p.toString().replace(`${reg.host}/${REPO}`, 'evil.example/app')),
    });
    expectFailure(await verify(), 'UNTRUSTED_SIGNER');
  });

  it('reports DIGEST_MISMATCH for a valid signature by our key that binds another digest', async () => {
    const other = await reg.pushImage(REPO, 'v2');
    await signImage(reg, REPO, image, ours.privateKey, { bindDigest: other.digest });
    expectFailure(await verify(), 'DIGEST_MISMATCH', new RegExp(`is for ${other.digest}, not ${image.digest}`));
  });

  it('reports SIGNATURE_INVALID for another key over another digest', async () => {
    const other = await reg.pushImage(REPO, 'v2');
    await signImage(reg, REPO, image, theirs.privateKey, { bindDigest: other.digest });
    expectFailure(await verify(), 'SIGNATURE_INVALID');
  });

  describe('malformed evidence is SIGNATURE_INVALID', () => {
    it.each([
      ['not base64', '!!!not-base64!!!'],
      ['empty', ''],
      [
        'base64 with a space in it',
        signPayload(ours.privateKey, cosignPayload('x', 'sha256:00')).replace(/^(.{8})/, '$1 '),
      ],
      ['unpadded base64', 'YWJj' + 'ZA'],
    ])('an annotation that is %s', async (_what, annotation) => {
      await signImage(reg, REPO, image, ours.privateKey, { annotation });
      expectFailure(await verify(), 'SIGNATURE_INVALID', /annotation/);
    });

    it('a layer without the signature annotation', async () => {
      const payload = await reg.pushBlob(REPO, cosignPayload(`${reg.host}/${REPO}`, image.digest));
      await pushRawSignatureManifest([{ ...payload, mediaType: SIMPLE_SIGNING_MEDIA_TYPE }]);
      expectFailure(await verify(), 'SIGNATURE_INVALID', /no dev.cosignproject.cosign\/signature annotation/);
    });

    it('a payload that is not JSON, signed by our key', async () => {
      await signImage(reg, REPO, image, ours.privateKey, { payload: Buffer.from('not json at all') });
      expectFailure(await verify(), 'SIGNATURE_INVALID', /not JSON/);
    });

    it('a payload that is not JSON, signed by another key', async () => {
      await signImage(reg, REPO, image, theirs.privateKey, { payload: Buffer.from('{"critical":') });
      expectFailure(await verify(), 'SIGNATURE_INVALID', /not JSON/);
    });

    it('a signed payload of another type (not a container image signature)', async () => {
      const payload = Buffer.from(
        cosignPayload('x', image.digest)
          .toString()
          .replace('cosign container image signature', 'atomic container signature'),
      );
      await signImage(reg, REPO, image, ours.privateKey, { payload });
      expectFailure(await verify(), 'SIGNATURE_INVALID', /critical.type/);
    });

    it('a signed payload without a digest', async () => {
      const payload = Buffer.from(
        JSON.stringify({
          critical: { identity: {}, image: {}, type: 'cosign container image signature' },
          optional: null,
        }),
      );
      await signImage(reg, REPO, image, ours.privateKey, { payload });
      expectFailure(await verify(), 'SIGNATURE_INVALID', /docker-manifest-digest/);
    });

    it('a payload over the cap, without fetching it', async () => {
      const huge = Buffer.alloc(MAX_SIMPLE_SIGNING_PAYLOAD_BYTES + 1, 0x20);
      cosignPayload(`${reg.host}/${REPO}`, image.digest).copy(huge);
      await signImage(reg, REPO, image, ours.privateKey, { payload: huge });
      reg.requests.length = 0;
      expectFailure(await verify(), 'SIGNATURE_INVALID', /exceeds the 1048576-byte cap/);
      expect(reg.requests.filter((r) => r.startsWith('blob'))).toEqual([]);
    });

    it('a layer descriptor whose size is not its blob size', async () => {
      const payload = cosignPayload(`${reg.host}/${REPO}`, image.digest);
      const blob = await reg.pushBlob(REPO, payload);
      await pushRawSignatureManifest([
        {
          ...blob,
          size: blob.size - 1,
          mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
          annotations: { 'dev.cosignproject.cosign/signature': signPayload(ours.privateKey, payload) },
        },
      ]);
      expectFailure(await verify(), 'SIGNATURE_INVALID', /declares/);
    });

    it('a layer descriptor with a malformed digest', async () => {
      await pushRawSignatureManifest([
        {
          mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
          digest: 'sha256:../../etc',
          size: 10,
          annotations: { 'dev.cosignproject.cosign/signature': 'AAAA' },
        },
      ]);
      expectFailure(await verify(), 'SIGNATURE_INVALID', /malformed layer descriptor/);
    });

    it('a signature manifest without simple signing layers', async () => {
      const blob = await reg.pushBlob(REPO, Buffer.from('x'));
      await pushRawSignatureManifest([{ ...blob, mediaType: 'application/vnd.oci.image.layer.v1.tar' }]);
      expectFailure(
        await verify(),
        'SIGNATURE_INVALID',
        /has no application\/vnd.dev.cosign.simplesigning.v1\+json layer/,
      );
    });

    it(`a signature manifest with more than ${MAX_SIGNATURE_LAYERS} signature layers`, async () => {
      const others = Array.from({ length: MAX_SIGNATURE_LAYERS }, () => theirs.privateKey);
      await signImage(reg, REPO, image, ours.privateKey, { alsoSignedBy: others });
      expectFailure(await verify(), 'SIGNATURE_INVALID', /33 signature layers/);
    });
  });

  describe.each<KeyKind>(['p256', 'p384', 'p521', 'rsa', 'ed25519'])('%s keys', (kind) => {
    const pair = generateKeyPair(kind);
    const sameKindOther = generateKeyPair(kind);

    it('verify their own signatures', async () => {
      await signImage(reg, REPO, image, pair.privateKey);
      expect((await verify(verifierFor(pair))).ok).toBe(true);
    });

    it('reject a signature by another key of the same type as UNTRUSTED_SIGNER', async () => {
      await signImage(reg, REPO, image, sameKindOther.privateKey);
      expectFailure(await verify(verifierFor(pair)), 'UNTRUSTED_SIGNER');
    });

    it('reject a P-256 signature as UNTRUSTED_SIGNER', async () => {
      await signImage(reg, REPO, image, theirs.privateKey);
      expectFailure(await verify(verifierFor(pair)), 'UNTRUSTED_SIGNER');
    });

    it('reject a tampered payload as SIGNATURE_INVALID', async () => {
      await signImage(reg, REPO, image, pair.privateKey, { tamper: true });
      expectFailure(await verify(verifierFor(pair)), 'SIGNATURE_INVALID');
    });
  });

  it('hashes P-384 with SHA-384: a P-384 signature over SHA-256 does not verify', async () => {
    const p384 = generateKeyPair('p384');
    const { sign } = await import('node:crypto');
    const payload = cosignPayload(`${reg.host}/${REPO}`, image.digest);
    const wrongHash = sign('sha256', payload, { key: p384.privateKey, dsaEncoding: 'der' }).toString('base64');
    await pushSignatureManifest(reg, REPO, image.digest, [{ payload, signature: wrongHash }]);
    expectFailure(await verify(verifierFor(p384)), 'UNTRUSTED_SIGNER');
  });

  describe('several signature layers', () => {
    it('admit when any one layer is valid, fetching the shared payload once', async () => {
      const third = generateKeyPair('ed25519');
      await signImage(reg, REPO, image, theirs.privateKey, { alsoSignedBy: [third.privateKey, ours.privateKey] });
      reg.requests.length = 0;
      expect((await verify()).ok).toBe(true);
      expect(reg.requests.filter((r) => r.startsWith('blob'))).toHaveLength(1);
    });

    it('report the most telling failure when none is valid, naming the layer', async () => {
      await signImage(reg, REPO, image, ours.privateKey, { tamper: true, alsoSignedBy: [theirs.privateKey] });
      expectFailure(await verify(), 'SIGNATURE_INVALID', /^layer 1 of 2: /);
    });

    it('report DIGEST_MISMATCH over UNTRUSTED_SIGNER', async () => {
      const other = await reg.pushImage(REPO, 'v2');
      const payload = cosignPayload(`${reg.host}/${REPO}`, image.digest);
      const otherPayload = cosignPayload(`${reg.host}/${REPO}`, other.digest);
      await pushSignatureManifest(reg, REPO, image.digest, [
        { payload, signature: signPayload(theirs.privateKey, payload) },
        { payload: otherPayload, signature: signPayload(ours.privateKey, otherPayload) },
      ]);
      expectFailure(await verify(), 'DIGEST_MISMATCH', /^layer 2 of 2: /);
    });
  });

  describe('errors are thrown, never a verdict', () => {
    it('a registry error reading the signature manifest', async () => {
      await signImage(reg, REPO, image, ours.privateKey);
      reg.fault.manifest = new RegistryError('UNAVAILABLE', 'registry answered 503', 503);
      await expect(verify()).rejects.toMatchObject({ name: 'RegistryError', kind: 'UNAVAILABLE' });
    });

    it('a registry error reading a payload blob', async () => {
      await signImage(reg, REPO, image, ours.privateKey);
      reg.fault.blob = new RegistryError('AUTH', 'denied', 401);
      await expect(verify()).rejects.toMatchObject({ name: 'RegistryError', kind: 'AUTH' });
    });

    it('a payload blob whose bytes do not match its digest', async () => {
      const signed = await signImage(reg, REPO, image, ours.privateKey);
      const stored = cosignPayload(`${reg.host}/${REPO}`, image.digest);
      const digest = (await reg.repository(REPO).getManifest(signed.tag)).json.layers![0]!.digest;
      reg.corruptBlob(REPO, digest, Buffer.from(stored.toString().replace('optional', 'Optional')));
      await expect(verify()).rejects.toMatchObject({ name: 'RegistryError', kind: 'BAD_RESPONSE' });
    });

    it('a key that cannot be loaded, when there is a signature to check', async () => {
      await signImage(reg, REPO, image, ours.privateKey);
      const failing: KeySource = {
        describe: 'kms alias/prod',
        load: async () => {
          throw new VerifierError('KEY_ERROR', 'kms:GetPublicKey alias/prod failed: AccessDeniedException');
        },
      };
      const verifier = new CosignKeyVerifier(failing);
      await expect(verify(verifier)).rejects.toMatchObject({ name: 'VerifierError', reason: 'KEY_ERROR' });
      expect(verifier.description).toBe('cosign kms alias/prod');
    });

    it('but an unsigned image is SIGNATURE_MISSING whatever the key does', async () => {
      const failing: KeySource = {
        describe: 'kms alias/prod',
        load: async () => {
          throw new VerifierError('KEY_ERROR', 'no key');
        },
      };
      expectFailure(await verify(new CosignKeyVerifier(failing)), 'SIGNATURE_MISSING');
    });
  });

  it('verifies a different payload blob per layer (cosign re-signing over a new payload)', async () => {
    const p1 = cosignPayload(`${reg.host}/${REPO}`, image.digest);
    const p2 = Buffer.from(
      p1.toString().replace('"optional":null', `"optional":{"nonce":"${randomBytes(4).toString('hex')}"}`),
    );
    await pushSignatureManifest(reg, REPO, image.digest, [
      { payload: p1, signature: signPayload(theirs.privateKey, p1) },
      { payload: p2, signature: signPayload(ours.privateKey, p2) },
    ]);
    reg.requests.length = 0;
    expect((await verify()).ok).toBe(true);
    expect(reg.requests.filter((r) => r.startsWith('blob'))).toHaveLength(2);
  });
});
