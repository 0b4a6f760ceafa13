/**
 * Real Sigstore signatures (../shared/fixtures: cosign, sigstore-conformance), decided
 * as cases.json expects: through the registry where the fixture is an image signature,
 * at the bundle-verification layer (the one attestation rules reuse) otherwise.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import type { Descriptor } from '../src/core/registry.js';
import { verifyBundle } from '../src/verify/cosign/bundle-verifier.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import { parseTrustedRoot, readTrustedRoot, trustMaterial } from '../src/verify/cosign/trusted-root.js';
import { pemKeySource, loadPemKeyFile } from '../src/verify/cosign/keys.js';
import { VerifierError } from '../src/core/verifier.js';
import { verifyContext } from './support/memory-repo.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';
import { pushBundle } from './support/sigstore-signer.js';

const FIXTURES = join(process.cwd(), '../shared/fixtures');
const present = existsSync(join(FIXTURES, 'cases.json'));
if (!present) console.log('sigstore fixtures: ../shared/fixtures is absent, skipping the real-signature cases');
const f = (p: string) => join(FIXTURES, p);
const PGI = f('cosign-bundle/trusted_root_pgi.json');
const CONFORMANCE = f('sigstore-conformance');
const artifact = () => readFileSync(join(CONFORMANCE, 'a.txt'));
const bundleOf = (dir: string) => JSON.parse(readFileSync(join(CONFORMANCE, dir, 'bundle.sigstore.json'), 'utf8'));

describe.skipIf(!present)('sigstore-conformance bundles at the bundle-verification layer', () => {
  const fulcio = (root: string) => ({
    material: trustMaterial(readTrustedRoot(root)),
    tlog: 'required' as const,
    signer: { kind: 'fulcio' as const },
  });
  const withKey = (dir: string, root: string) => {
    const key = loadPemKeyFile(join(CONFORMANCE, dir, 'key.pub'));
    return {
      material: trustMaterial(readTrustedRoot(root), { keys: () => ({ publicKey: key.key, validFor: () => true }) }),
      tlog: 'required' as const,
      signer: { kind: 'key' as const, key, describe: 'key.pub' },
    };
  };

  it('happy-path-intoto-in-dsse-v3 and happy-path-v0.3 pass with the public-good root', () => {
    expect(verifyBundle(bundleOf('happy-path-intoto-in-dsse-v3'), fulcio(PGI), new Date())).toMatchObject({ ok: true });
    expect(verifyBundle(bundleOf('happy-path-v0.3'), fulcio(PGI), new Date(), artifact())).toMatchObject({ ok: true });
  });

  it('signature-mismatch_fail fails', () => {
    expect(verifyBundle(bundleOf('signature-mismatch_fail'), fulcio(PGI), new Date(), artifact())).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
    });
  });

  it('managed-key-and-trusted-root passes with its own root, also with the log skipped', () => {
    const dir = 'managed-key-and-trusted-root';
    const root = join(CONFORMANCE, dir, 'trusted_root.json');
    expect(verifyBundle(bundleOf(dir), withKey(dir, root), new Date(), artifact())).toMatchObject({ ok: true });
    expect(verifyBundle(bundleOf(dir), { ...withKey(dir, root), tlog: 'skip' }, new Date(), artifact())).toMatchObject({
      ok: true,
    });
  });

  it('managed-key-happy-path passes with the shipped public-good root (it has the TSA), fails with trusted_root_pgi.json', () => {
    const dir = 'managed-key-happy-path';
    expect(
      verifyBundle(bundleOf(dir), withKey(dir, 'layers/trust/sigstore/trusted_root.json'), new Date(), artifact()),
    ).toMatchObject({ ok: true });
    expect(verifyBundle(bundleOf(dir), withKey(dir, PGI), new Date(), artifact())).toMatchObject({ ok: false });
  });

  it('trust-root-tlog-missing-validity-start_fail: the malformed root is refused (the library alone would accept it)', () => {
    const root = join(CONFORMANCE, 'trust-root-tlog-missing-validity-start_fail', 'trusted_root.json');
    expect(() => readTrustedRoot(root)).toThrow(VerifierError);
    expect(() => readTrustedRoot(root)).toThrow(/tlogs\[1\]\.publicKey\.validFor\.start is missing/);
    // the same root with the start restored is accepted: the refusal is about that one field
    const doc = JSON.parse(readFileSync(root, 'utf8'));
    doc.tlogs[1].publicKey.validFor = { start: '2020-01-01T00:00:00Z' };
    expect(() => parseTrustedRoot(JSON.stringify(doc), 'repaired')).not.toThrow();
  });
});

describe.skipIf(!present || !registryAvailable())('real Sigstore signatures through docker-registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  const KEYLESS = 'cosign-legacy/connaisseur/securesystemsengineering/testimage';
  const subject = 'sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee';
  const attested = 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4';

  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ registries: reg.settings });
    // the real cosign .sig of conn-keyless, rebuilt around its payload blob and annotations
    const sig = JSON.parse(
      readFileSync(
        f(`${KEYLESS}/manifests/sha256-31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee.sig.json`),
        'utf8',
      ),
    );
    const layer = sig.layers[0];
    const blob = readFileSync(f(`${KEYLESS}/blobs/${layer.digest}.json`));
    const pushed = await reg.pushBlob('conn/keyless', blob);
    expect(pushed.digest).toBe(layer.digest);
    const config = await reg.pushBlob('conn/keyless', Buffer.from('{}'));
    await reg.pushManifest(
      'conn/keyless',
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: [layer],
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        tag: 'sha256-31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee.sig',
      },
    );
    // cosign's real attestation bundle as a referrer of its subject (the image itself is not needed)
    const image: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: attested, size: 0 };
    await pushBundle(reg, 'cosign/attested', image, readFileSync(f('cosign-bundle/oci-attestation.sigstore.json')));
  });
  afterAll(async () => reg?.stop());

  const verifier = (identity: { issuer: string; subject: string }) =>
    createCosignVerifier(
      { type: 'cosign', keyless: { identities: [identity] }, trustedRoot: PGI },
      { path: (p) => p, keySource: () => pemKeySource('unused') },
    );

  it('conn-keyless: the legacy keyless .sig (Fulcio certificate + Rekor SET) is admitted for its identity', async () => {
    const v = verifier({ issuer: 'https://github.com/login/oauth', subject: 'philipp.belitz@securesystems.de' });
    expect(await v.verify(verifyContext(client.repository(reg.host, 'conn/keyless'), subject))).toMatchObject({
      ok: true,
    });
  });

  it('conn-keyless: UNTRUSTED_SIGNER for another identity, naming the one found', async () => {
    const v = verifier({ issuer: 'https://github.com/login/oauth', subject: 'someone@securesystems.de' });
    expect(await v.verify(verifyContext(client.repository(reg.host, 'conn/keyless'), subject))).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: expect.stringContaining('philipp.belitz@securesystems.de from https://github.com/login/oauth'),
    });
  });

  it('cosign-oci-attestation: verified, but an attestation is not a signature (SIGNATURE_MISSING)', async () => {
    const v = verifier({ issuer: 'https://github.com/login/oauth', subject: 'cody@soyland.com' });
    expect(await v.verify(verifyContext(client.repository(reg.host, 'cosign/attested'), attested))).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_MISSING',
      detail: expect.stringContaining('cosign.sigstore.dev/attestation/v1'),
    });
    const bundle = JSON.parse(readFileSync(f('cosign-bundle/oci-attestation.sigstore.json'), 'utf8'));
    const verdict = verifyBundle(
      bundle,
      { material: trustMaterial(readTrustedRoot(PGI)), tlog: 'required', signer: { kind: 'fulcio' } },
      new Date(),
    );
    expect(verdict.ok && verdict.bundle.signer.kind === 'certificate' && verdict.bundle.signer.identity).toMatchObject({
      subject: 'cody@soyland.com',
      issuer: 'https://github.com/login/oauth',
    });
  });

  it('trust-root-tlog-missing-validity-start_fail as a policy trustedRoot: denied with POLICY_ERROR, never admitted', async () => {
    const v = createCosignVerifier(
      {
        type: 'cosign',
        keyless: { identities: [{ issuer: 'https://github.com/login/oauth', subject: 'cody@soyland.com' }] },
        trustedRoot: join(CONFORMANCE, 'trust-root-tlog-missing-validity-start_fail', 'trusted_root.json'),
      },
      { path: (p) => p, keySource: () => pemKeySource('unused') },
    );
    await expect(
      v.verify(verifyContext(client.repository(reg.host, 'cosign/attested'), attested)),
    ).rejects.toMatchObject({ reason: 'POLICY_ERROR' });
  });
});
