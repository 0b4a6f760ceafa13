/**
 * The cosign verifier's own decisions, over an in-memory registry with real keys: bundles
 * first, then the legacy `.sig`; which failure is the verdict and how many signatures it
 * says were tried; a registry error on unread evidence is thrown (never a verdict); the
 * `.att` tag is read when any rule is unmet by bundles.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RegistryError, type Descriptor } from '../src/core/registry.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import { CosignKeyVerifier } from '../src/verify/cosign/legacy-key.js';
import {
  GH_ISSUER,
  githubProvenance,
  pushLegacyKeyAttestation,
  RELEASE_WORKFLOW,
  vulnScan,
} from './support/attest-signer.js';
import { generateKeyPair, signImage, type TestKeyPair } from './support/cosign-signer.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';
import { cosignStatement, pushBundle, signWithKey } from './support/sigstore-signer.js';

const vuln = { predicateType: 'vuln', conditions: [{ path: 'predicate.scanner.result.summary.critical', max: 0 }] };
const provenance = {
  predicateType: 'slsaprovenance1',
  conditions: [{ path: 'predicate.buildDefinition.externalParameters.workflow.ref', equals: 'refs/heads/main' }],
};

describe('cosign verifier', () => {
  let key: TestKeyPair;
  let stranger: TestKeyPair;

  beforeAll(() => {
    key = generateKeyPair('p256');
    stranger = generateKeyPair('p256');
  });

  const verifier = (opts: { attestations?: Record<string, unknown>[]; signature?: boolean } = {}) =>
    createCosignVerifier(
      {
        type: 'cosign',
        ...(opts.attestations ? { attestations: opts.attestations as never } : {}),
        ...(opts.signature === undefined ? {} : { signature: opts.signature }),
      } as never,
      { path: (p) => p, keySource: () => pemKeySource(key.publicKeyPem) },
    );

  async function image() {
    const reg = new MemoryRegistry();
    const desc = await reg.pushImage('app');
    return { reg, desc, ctx: () => verifyContext(reg.repository('app'), desc.digest) };
  }

  const signBundle = (reg: MemoryRegistry, desc: Descriptor, by: TestKeyPair, payload: Buffer) =>
    signWithKey(by.privateKey, by.publicKeyPem, payload).then((b) => pushBundle(reg, 'app', desc, b));
  const signatureBundle = (reg: MemoryRegistry, desc: Descriptor, by: TestKeyPair) =>
    signBundle(reg, desc, by, cosignStatement(desc.digest, 'app'));

  /** Make a pushed bundle's blob unreadable (the registry answers with other bytes). */
  async function corrupt(reg: MemoryRegistry, manifest: Descriptor) {
    const layer = (await reg.repository('app').getManifest(manifest.digest)).json.layers![0]!;
    reg.corruptBlob('app', layer.digest, Buffer.from('{}'));
  }

  it('describes itself by the key verifier for a key, by the identities for keyless', () => {
    expect(verifier().description).toMatch(/^cosign key sha256:[0-9a-f]+/);
    const keyless = createCosignVerifier(
      { type: 'cosign', keyless: { identities: [{ issuer: GH_ISSUER, subject: RELEASE_WORKFLOW }] } } as never,
      { path: (p) => p, keySource: () => pemKeySource(key.publicKeyPem) },
    );
    expect(keyless.description).toMatch(/^cosign keyless /);
    expect(keyless.description).toContain(RELEASE_WORKFLOW);
  });

  it('a valid legacy .sig admits as the key verifier says, nothing added', async () => {
    const { reg, desc, ctx } = await image();
    await signImage(reg, 'app', desc, key.privateKey);
    expect(await verifier().verify(ctx())).toEqual({ ok: true, by: verifier().description });
  });

  it('no bundle and no .sig: SIGNATURE_MISSING, one signature tried', async () => {
    const { ctx } = await image();
    const verdict = await verifier().verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'SIGNATURE_MISSING' });
    expect(verdict).toEqual(await new CosignKeyVerifier(pemKeySource(key.publicKeyPem)).verify(ctx()));
  });

  it('a bundle by another key and no .sig: the bundle failure alone (an absent .sig says nothing)', async () => {
    const { reg, desc, ctx } = await image();
    await signatureBundle(reg, desc, stranger);
    const verdict = await verifier().verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    expect((verdict as { detail: string }).detail).toMatch(/^bundle sha256:[0-9a-f]{12}: /);
    expect((verdict as { detail: string }).detail).not.toMatch(/signatures tried/);
  });

  it('two bundles by another key: "(2 signatures tried)"', async () => {
    const { reg, desc, ctx } = await image();
    await signatureBundle(reg, desc, stranger);
    await signBundle(reg, desc, stranger, cosignStatement(desc.digest, 'app/other'));
    const verdict = await verifier().verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    expect((verdict as { detail: string }).detail).toMatch(/ \(2 signatures tried\)$/);
  });

  it('a bundle and a .sig both by another key: both count, the worst is the verdict', async () => {
    const { reg, desc, ctx } = await image();
    await signatureBundle(reg, desc, stranger);
    await signImage(reg, 'app', desc, stranger.privateKey);
    const verdict = await verifier().verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    expect((verdict as { detail: string }).detail).toMatch(/ \(2 signatures tried\)$/);
  });

  it('a bundle whose signed payload is not an in-toto statement: SIGNATURE_MISSING naming it', async () => {
    const { reg, desc, ctx } = await image();
    await signBundle(reg, desc, key, Buffer.from('{"hello":"world"}'));
    const verdict = await verifier().verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'SIGNATURE_MISSING' });
    expect((verdict as { detail: string }).detail).toMatch(/^bundle sha256:[0-9a-f]{12} is not a cosign signature: /);
  });

  it('an unreadable bundle and no .sig: the registry error is thrown, with or without attestations', async () => {
    const { reg, desc, ctx } = await image();
    await corrupt(reg, await signatureBundle(reg, desc, key));
    await expect(verifier().verify(ctx())).rejects.toBeInstanceOf(RegistryError);
    await expect(verifier({ attestations: [vuln] }).verify(ctx())).rejects.toBeInstanceOf(RegistryError);
  });

  it('attestations with signature: a bundle by another key is the verdict, not a missing .sig', async () => {
    const { reg, desc, ctx } = await image();
    await signatureBundle(reg, desc, stranger);
    const verdict = await verifier({ attestations: [vuln] }).verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });

  it('a rule met by a bundle and another only by the .att tag: the .att tag is read and both pass', async () => {
    const { reg, desc, ctx } = await image();
    await signBundle(reg, desc, key, vulnScan(desc.digest, 'app', { critical: 0, high: 0 }));
    await pushLegacyKeyAttestation(reg, 'app', desc, key, githubProvenance(desc.digest, 'app'));
    const verdict = await verifier({ attestations: [vuln, provenance], signature: false }).verify(ctx());
    expect(verdict).toMatchObject({ ok: true });
    expect((verdict as { by: string }).by).toMatch(/^cosign key sha256:\S+ \(signature not required\) \+ /);
    expect((verdict as { by: string }).by).toMatch(/\.att layer 1 by key/);
  });

  it('an unreadable bundle with a rule unmet: thrown (it might have met it)', async () => {
    const { reg, desc, ctx } = await image();
    await signBundle(reg, desc, key, vulnScan(desc.digest, 'app', { critical: 1, high: 0 }));
    await corrupt(reg, await signBundle(reg, desc, key, githubProvenance(desc.digest, 'app')));
    await expect(verifier({ attestations: [vuln, provenance], signature: false }).verify(ctx())).rejects.toBeInstanceOf(
      RegistryError,
    );
  });

  it('an unreadable bundle when every rule found its attestation but one failed: ATTESTATION_FAILED', async () => {
    const { reg, desc, ctx } = await image();
    await signBundle(reg, desc, key, vulnScan(desc.digest, 'app', { critical: 1, high: 0 }));
    await corrupt(reg, await signBundle(reg, desc, key, vulnScan(desc.digest, 'app', { critical: 0, high: 0 })));
    const verdict = await verifier({ attestations: [vuln], signature: false }).verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'ATTESTATION_FAILED' });
  });

  it('a bundle referrer that is not JSON is rejected evidence, named in ATTESTATION_MISSING', async () => {
    const { reg, desc, ctx } = await image();
    await pushBundle(reg, 'app', desc, Buffer.from('not json'));
    const verdict = await verifier({ attestations: [vuln], signature: false }).verify(ctx());
    expect(verdict).toMatchObject({ ok: false, reason: 'ATTESTATION_MISSING' });
    expect((verdict as { detail: string }).detail).toMatch(
      /1 rejected, e\.g\. bundle manifest sha256:\S+: the bundle is not JSON$/,
    );
  });
});
