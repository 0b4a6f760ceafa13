/**
 * Rules of the legacy `.sig` verifier (src/verify/cosign/legacy-key.ts) that the suite in
 * cosign.test.ts did not pin, found by mutation testing (README "Mutation testing"): a
 * valid signature of this very image whose annotation is not strict base64 must still be
 * refused (cosign refuses it), exactly MAX_SIGNATURE_LAYERS layers are checked, and the
 * simple signing claim is read strictly.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { type Descriptor, MEDIA_TYPES } from '../src/core/registry.js';
import {
  COSIGN_SIGNATURE_TYPE,
  MAX_SIGNATURE_LAYERS,
  MAX_SIMPLE_SIGNING_PAYLOAD_BYTES,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from '../src/verify/cosign/legacy-key.js';
import type * as LegacyKeyModule from '../src/verify/cosign/legacy-key.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import { cosignPayload, generateKeyPair, signatureTag, signImage, signPayload } from './support/cosign-signer.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';

// Stryker counts a mutant in legacy-key.ts's module-level expressions (the digest and strict
// base64 patterns) as covered only by a test that loads the module while it runs: each test
// imports it afresh.
let L: typeof LegacyKeyModule;
beforeEach(async () => {
  vi.resetModules();
  L = await import('../src/verify/cosign/legacy-key.js');
});

const REPO = 'team/app';
const ours = generateKeyPair('p256');
const theirs = generateKeyPair('p256');
let reg: MemoryRegistry;
let image: Descriptor;

beforeEach(async () => {
  reg = new MemoryRegistry();
  image = await reg.pushImage(REPO, 'v1');
});

const verify = () =>
  new L.CosignKeyVerifier(pemKeySource(ours.publicKeyPem)).verify(verifyContext(reg.repository(REPO), image.digest));

describe('L.CosignKeyVerifier, strictly', () => {
  it('refuses our valid signature of this image when its annotation carries anything but base64', async () => {
    const good = signPayload(ours.privateKey, cosignPayload(`${reg.host}/${REPO}`, image.digest));
    // a length that is not a multiple of 4 (padding dropped, or a stray character): Node would decode the same bytes
    const unpadded = good.endsWith('=') ? good.replace(/=+$/, '') : `${good}A`;
    for (const annotation of [`!${good}`, `${good}!`, `${good.slice(0, 8)} ${good.slice(8)}`, unpadded]) {
      await signImage(reg, REPO, image, ours.privateKey, { annotation });
      expect(await verify(), annotation).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    }
    await signImage(reg, REPO, image, ours.privateKey, { annotation: good });
    expect(await verify()).toMatchObject({ ok: true });
  });

  it(`checks exactly ${MAX_SIGNATURE_LAYERS} signature layers, ours last`, async () => {
    const others = Array.from({ length: MAX_SIGNATURE_LAYERS - 1 }, () => theirs.privateKey);
    await signImage(reg, REPO, image, theirs.privateKey, { alsoSignedBy: [...others.slice(1), ours.privateKey] });
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('refuses a signature manifest whose layers are not a list, as an invalid signature', async () => {
    for (const layers of [undefined, 'x', { 0: {} }]) {
      const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers };
      await reg.pushManifest(REPO, manifest, { mediaType: manifest.mediaType, tag: signatureTag(image.digest) });
      expect(await verify(), JSON.stringify(layers)).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `signature manifest ${signatureTag(image.digest)} has no layers`,
      });
    }
  });

  it(`reads a payload of exactly ${MAX_SIMPLE_SIGNING_PAYLOAD_BYTES} bytes, and refuses one byte more unread`, async () => {
    const padTo = (size: number) => {
      const claim = JSON.parse(cosignPayload(`${reg.host}/${REPO}`, image.digest).toString());
      const bare = Buffer.from(JSON.stringify({ ...claim, optional: { pad: '' } })).length;
      return Buffer.from(JSON.stringify({ ...claim, optional: { pad: 'p'.repeat(size - bare) } }));
    };
    const atCap = padTo(MAX_SIMPLE_SIGNING_PAYLOAD_BYTES);
    expect(atCap.length).toBe(MAX_SIMPLE_SIGNING_PAYLOAD_BYTES);
    await signImage(reg, REPO, image, ours.privateKey, { payload: atCap });
    expect(await verify()).toMatchObject({ ok: true });
    await signImage(reg, REPO, image, ours.privateKey, { payload: padTo(MAX_SIMPLE_SIGNING_PAYLOAD_BYTES + 1) });
    expect(await verify()).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID', detail: /exceeds the/ });
  });

  it('refuses a signature layer whose descriptor has a negative size or a digest that is not sha256:<64 hex>', async () => {
    const payload = cosignPayload(`${reg.host}/${REPO}`, image.digest);
    const blob = await reg.pushBlob(REPO, payload);
    const layer = {
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      digest: blob.digest,
      size: blob.size,
      annotations: { [SIGNATURE_ANNOTATION]: signPayload(ours.privateKey, payload) },
    };
    const withLayer = async (edit: object) => {
      const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, layers: [{ ...layer, ...edit }] };
      await reg.pushManifest(REPO, manifest, { mediaType: manifest.mediaType, tag: signatureTag(image.digest) });
      return verify();
    };
    expect(await withLayer({})).toMatchObject({ ok: true });
    const hex = blob.digest.slice('sha256:'.length);
    const edits = [
      { size: -1 },
      { digest: `${blob.digest}0` },
      { digest: `x${blob.digest}` },
      { digest: `sha256:${hex.slice(1)}` },
    ];
    for (const edit of edits) {
      expect(await withLayer(edit), JSON.stringify(edit)).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `signature manifest ${signatureTag(image.digest)} has a malformed layer descriptor`,
      });
    }
  });

  it('refuses a signature layer whose signature annotation is empty, naming the annotation', async () => {
    await signImage(reg, REPO, image, ours.privateKey, { annotation: '' });
    expect(await verify()).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: /signature layer has no dev\.cosignproject\.cosign\/signature annotation/,
    });
  });

  it('a single failing layer is reported without a layer number', async () => {
    await signImage(reg, REPO, image, theirs.privateKey);
    const v = await verify();
    expect(v).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    expect(v.ok === false && v.detail).not.toMatch(/layer 1 of/);
  });
});

describe('parseStatement (simple signing claim)', () => {
  const D = `sha256:${'a'.repeat(64)}`;
  const claim = (critical: unknown) => L.parseStatement(Buffer.from(JSON.stringify({ critical })));
  const typed = (image: unknown) => claim({ type: COSIGN_SIGNATURE_TYPE, image });

  it('reads the digest a cosign payload names', () => {
    expect(L.parseStatement(cosignPayload('x', D))).toEqual({ wellFormed: true, digest: D });
    expect(typed({ 'docker-manifest-digest': `sha512:${'b'.repeat(128)}` })).toMatchObject({ wellFormed: true });
  });

  it('refuses a document that is not an object with a "critical" object', () => {
    for (const doc of ['[]', 'null', '"x"', '{"critical":[]}', '{"critical":null}', '{}'])
      expect(L.parseStatement(Buffer.from(doc)), doc).toEqual({ wellFormed: false, problem: 'no "critical" object' });
    expect(L.parseStatement(Buffer.from('{'))).toEqual({ wellFormed: false, problem: 'not JSON' });
  });

  it('refuses another type', () => {
    expect(claim({ type: 'atomic container signature', image: { 'docker-manifest-digest': D } })).toEqual({
      wellFormed: false,
      problem: 'critical.type is "atomic container signature", not "cosign container image signature"',
    });
  });

  it('refuses a digest that is absent, not a string, or not exactly <sha256|sha512>:<lowercase hex>', () => {
    const problem = { wellFormed: false, problem: 'no valid critical.image.docker-manifest-digest' };
    for (const image of [undefined, [D], { 'docker-manifest-digest': 7 }]) expect(typed(image)).toEqual(problem);
    for (const digest of [`x${D}`, `${D}X`, `${D} `, 'sha256:', `md5:${'a'.repeat(32)}`, D.toUpperCase()])
      expect(typed({ 'docker-manifest-digest': digest }), digest).toEqual(problem);
  });
});
