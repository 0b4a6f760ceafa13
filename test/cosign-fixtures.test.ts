/**
 * Real cosign signatures (connaisseur's test data, made by the cosign CLI) served from a
 * real docker-registry and checked with CosignKeyVerifier through RegistryClient.
 *
 * The saved `.sig` manifests reference config blobs that are not in the fixtures; only
 * the payload blobs and their signature annotations are signed, so each signature
 * manifest is rebuilt around the saved payload bytes with a config of our own.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import { CosignKeyVerifier, SIGNATURE_ANNOTATION } from '../src/verify/cosign/legacy-key.js';
import { loadPemKey, pemFileKeySource, pemKeySource, verifySignature } from '../src/verify/cosign/keys.js';
import type { VerifierVerdict } from '../src/core/verifier.js';
import { pushSignatureManifest, type SignatureLayer } from './support/cosign-signer.js';
import { verifyContext, sha256Digest } from './support/memory-repo.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures');
const hasFixtures = existsSync(path.join(fixtures, 'cases.json'));
if (!hasFixtures)
  console.log(`cosign fixture tests skipped: ${fixtures} is absent (real cosign signatures live there)`);

const KEY_DIR = 'cosign-legacy/connaisseur';
const BLOB_DIR = 'cosign-legacy/connaisseur/securesystemsengineering/testimage/blobs';
const REPO = 'securesystemsengineering/testimage';

interface LegacyCase {
  id: string;
  sigManifest: string;
  subject: string;
}

interface SavedManifest {
  layers: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
}

function legacyCase(id: string): LegacyCase {
  const cases = JSON.parse(readFileSync(path.join(fixtures, 'cases.json'), 'utf8')) as { cosignLegacy: LegacyCase[] };
  const found = cases.cosignLegacy.find((c) => c.id === id);
  if (!found) throw new Error(`cases.json has no cosignLegacy case ${id}`);
  return found;
}

/** The saved layers: payload bytes from blobs/ (checked against their digest) and the signatures. */
function savedLayers(c: LegacyCase): SignatureLayer[] {
  const manifest = JSON.parse(readFileSync(path.join(fixtures, c.sigManifest), 'utf8')) as SavedManifest;
  return manifest.layers.map((layer) => {
    const payload = readFileSync(path.join(fixtures, BLOB_DIR, `${layer.digest}.json`));
    expect(sha256Digest(payload)).toBe(layer.digest);
    expect(payload.length).toBe(layer.size);
    return { payload, signature: layer.annotations[SIGNATURE_ANNOTATION]! };
  });
}

function keyFile(name: string): string {
  return path.join(fixtures, KEY_DIR, name);
}

describe.skipIf(!hasFixtures)('real cosign signatures (connaisseur fixtures)', () => {
  let reg: TestRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry({ auth: 'token' });
    client = new RegistryClient({ registries: reg.settings });
  });
  afterAll(async () => reg?.stop());

  function verify(key: string, digest: string): Promise<VerifierVerdict> {
    const verifier = new CosignKeyVerifier(pemFileKeySource(keyFile(key)));
    return verifier.verify(verifyContext(client.repository(reg.host, REPO), digest));
  }

  describe('conn-alice: one signature by alice', () => {
    const c = hasFixtures ? legacyCase('conn-alice') : ({} as LegacyCase);
    beforeAll(async () => {
      await pushSignatureManifest(reg, REPO, c.subject, savedLayers(c));
    });

    it('verifies with alice.key', async () => {
      const verdict = await verify('alice.key', c.subject);
      expect(verdict).toEqual({ ok: true, by: expect.stringMatching(/^cosign key sha256:[a-f0-9]{8}…$/) });
      expect(verdict.ok && verdict.by).toContain(
        loadPemKey(readFileSync(keyFile('alice.key'), 'utf8')).fingerprint.slice(7, 15),
      );
    });

    it.each(['bob.key', 'charlie.key', 'default.key'])('is UNTRUSTED_SIGNER with %s', async (key) => {
      expect(await verify(key, c.subject)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    });
  });

  describe('conn-multi: three signatures (alice, bob, charlie) over one payload', () => {
    const c = hasFixtures ? legacyCase('conn-multi') : ({} as LegacyCase);
    beforeAll(async () => {
      await pushSignatureManifest(reg, REPO, c.subject, savedLayers(c));
    });

    it.each(['alice.key', 'bob.key', 'charlie.key'])('verifies with %s', async (key) => {
      expect((await verify(key, c.subject)).ok).toBe(true);
    });

    it('is UNTRUSTED_SIGNER with default.key', async () => {
      expect(await verify('default.key', c.subject)).toMatchObject({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
        detail: /^layer \d of 3: /,
      });
    });

    it('each layer verifies with exactly one of the three keys', () => {
      const keys = ['alice.key', 'bob.key', 'charlie.key', 'default.key'].map((k) =>
        loadPemKey(readFileSync(keyFile(k), 'utf8')),
      );
      const matches = savedLayers(c).map((layer) =>
        keys.map((key) => verifySignature(key, layer.payload, Buffer.from(layer.signature, 'base64'))),
      );
      expect(matches.map((row) => row.filter(Boolean).length)).toEqual([1, 1, 1]);
      expect(matches.map((row) => row.indexOf(true)).sort()).toEqual([0, 1, 2]);
    });
  });

  describe('attacks built from real signatures', () => {
    it("DIGEST_MISMATCH: alice's signature of one image stored as another image's signature", async () => {
      const alice = legacyCase('conn-alice');
      const multi = legacyCase('conn-multi');
      const other = `sha256:${'ab'.repeat(32)}`;
      await pushSignatureManifest(reg, REPO, other, savedLayers(alice));
      expect(await verify('alice.key', other)).toMatchObject({
        ok: false,
        reason: 'DIGEST_MISMATCH',
        detail: new RegExp(alice.subject),
      });
      expect(multi.subject).not.toBe(alice.subject);
    });

    it("SIGNATURE_INVALID: alice's payload edited to name another image, signature kept", async () => {
      const alice = legacyCase('conn-alice');
      const [layer] = savedLayers(alice);
      const target = `sha256:${'cd'.repeat(32)}`;
      const edited = Buffer.from(layer!.payload.toString().replace(alice.subject, target));
      expect(edited.equals(layer!.payload)).toBe(false);
      await pushSignatureManifest(reg, REPO, alice.subject, [{ payload: edited, signature: layer!.signature }]);
      expect(await verify('alice.key', alice.subject)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
      // and restore the real one for the other tests in this file
      await pushSignatureManifest(reg, REPO, alice.subject, savedLayers(alice));
      expect((await verify('alice.key', alice.subject)).ok).toBe(true);
    });
  });

  describe('conn-keyless: a Fulcio-certificate signature', () => {
    // Keyless verification (certificate chain, SCT, Rekor SET, identity) is not this
    // verifier's job; a key verifier must simply not accept it.
    const c = hasFixtures ? legacyCase('conn-keyless') : ({} as LegacyCase);
    beforeAll(async () => {
      await pushSignatureManifest(reg, REPO, c.subject, savedLayers(c));
    });

    it.each(['alice.key', 'bob.key', 'charlie.key', 'default.key'])('is UNTRUSTED_SIGNER with %s', async (key) => {
      expect(await verify(key, c.subject)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    });

    it("verifies with the certificate's own public key (same signature scheme as cosign's)", async () => {
      const manifest = JSON.parse(readFileSync(path.join(fixtures, c.sigManifest), 'utf8')) as SavedManifest;
      const { X509Certificate } = await import('node:crypto');
      const cert = new X509Certificate(manifest.layers[0]!.annotations['dev.sigstore.cosign/certificate']!);
      const pem = cert.publicKey.export({ format: 'pem', type: 'spki' }).toString();
      const verdict = await new CosignKeyVerifier(pemKeySource(pem)).verify(
        verifyContext(client.repository(reg.host, REPO), c.subject),
      );
      expect(verdict.ok).toBe(true);
    });
  });
});
