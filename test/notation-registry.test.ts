/**
 * Notation through a real registry (Distribution 2.8, no referrers API: the tag-schema
 * fallback): the fixture JWS and COSE envelopes over the real 481-byte manifest, which
 * is preloaded into storage (its layers are absent), and our own signed image.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../src/registry/client.js';
import { parseReference } from '../src/core/reference.js';
import type { Descriptor } from '../src/core/registry.js';
import type { VerifyContext } from '../src/core/verifier.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import { parseJws } from '../src/verify/notary/jws.js';
import { makeTrustStore, policy } from './support/notation-context.js';
import {
  EMPTY,
  SIG_TYPE,
  key,
  makeChain,
  pem,
  signCose,
  signJws,
  signatureManifest,
} from './support/notation-signer.js';
import { registryAvailable, startRegistry, writeManifestToStorage, type TestRegistry } from './support/registry.js';

const FIXTURES = resolve(import.meta.dirname, '../../shared/fixtures/notation');
const hasFixtures = existsSync(FIXTURES);
const MANIFEST =
  'oci-layout-artifact/manifest-sha256-19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0.json';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
if (!hasFixtures) console.log(`skipping Notation registry fixture cases: ${FIXTURES} is absent`);
if (!registryAvailable()) console.log('skipping Notation registry tests: docker-registry is not installed');

describe.skipIf(!registryAvailable())('Notation through docker-registry (tag-schema referrers)', () => {
  let reg: TestRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    reg = await startRegistry({
      preload: async (dir) => {
        if (hasFixtures)
          await writeManifestToStorage(dir, 'fixtures/alpine', readFileSync(resolve(FIXTURES, MANIFEST)), 'v1');
      },
    });
    client = new RegistryClient({ registries: reg.settings });
  }, 30_000);
  afterAll(async () => reg?.stop());

  /** push the signature manifest and the referrers tag-schema index notation writes on old registries */
  async function pushSignatures(repo: string, subject: Descriptor, envelopes: Array<[Buffer, string]>): Promise<void> {
    await reg.pushBlob(repo, EMPTY);
    const entries: Descriptor[] = [];
    for (const [env, mt] of envelopes) {
      await reg.pushBlob(repo, env);
      const d = await reg.pushManifest(repo, signatureManifest(subject, env, mt), { mediaType: OCI });
      entries.push({ ...d, artifactType: SIG_TYPE });
    }
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries };
    await reg.pushManifest(repo, index, {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      tag: subject.digest.replace(':', '-'),
    });
  }

  function ctx(repository: string, digest: string): VerifyContext {
    const repo = client.repository(reg.host, repository);
    return {
      target: {
        ref: parseReference(`${reg.host}/${repository}@${digest}`),
        digest,
        descriptor: async () => (await repo.getManifest(digest)).descriptor,
      },
      repo,
      signal: new AbortController().signal,
      now: new Date(),
    };
  }

  it.skipIf(!hasFixtures)('fixture JWS and COSE over the real 481-byte manifest: allowed', async () => {
    const jws = readFileSync(resolve(FIXTURES, 'jws_signature.sig'));
    const cose = readFileSync(resolve(FIXTURES, 'cose_signature.sig'));
    const digest = 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0';
    await pushSignatures('fixtures/alpine', { mediaType: OCI, digest, size: 481 }, [[jws, 'application/jose+json']]);
    const store = makeTrustStore({ ca: { alpine: [parseJws(jws).certChain[0]!] } });
    const v = createNotationVerifier(
      { type: 'notation', trustPolicy: policy({ trustStores: ['ca:alpine'] }), trustStore: store },
      { baseDir: '/' },
    );
    expect(await v.verify(ctx('fixtures/alpine', digest))).toMatchObject({
      ok: true,
      by: expect.stringContaining('CN=alpine'),
    });
    await pushSignatures('fixtures/alpine', { mediaType: OCI, digest, size: 481 }, [[cose, 'application/cose']]);
    expect(await v.verify(ctx('fixtures/alpine', digest))).toMatchObject({ ok: true });
  });

  it('own image signed with JWS and COSE: allowed; a signature for the other image: DIGEST_MISMATCH; unsigned: SIGNATURE_MISSING', async () => {
    const c = makeChain(key('p256', 'registry-leaf'), { label: 'registry' });
    const store = makeTrustStore({ ca: { own: [pem(c.root.der)] } });
    const v = createNotationVerifier(
      { type: 'notation', trustPolicy: policy({ trustStores: ['ca:own'] }), trustStore: store },
      { baseDir: '/' },
    );
    const a = await reg.pushImage('own/app', 'a');
    const b = await reg.pushImage('own/app', 'b');
    await pushSignatures('own/app', a, [
      [signJws({ target: a, alg: 'ES256', key: c.leaf.key.privateKey, chain: c.chain }), 'application/jose+json'],
      [signCose({ target: a, alg: 'ES256', key: c.leaf.key.privateKey, chain: c.chain }), 'application/cose'],
    ]);
    expect(await v.verify(ctx('own/app', a.digest))).toMatchObject({ ok: true });
    await pushSignatures('own/app', b, [
      [signJws({ target: a, alg: 'ES256', key: c.leaf.key.privateKey, chain: c.chain }), 'application/jose+json'],
    ]);
    expect(await v.verify(ctx('own/app', b.digest))).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
    const unsigned = await reg.pushImage('own/app', 'c');
    expect(await v.verify(ctx('own/app', unsigned.digest))).toMatchObject({ ok: false, reason: 'SIGNATURE_MISSING' });
  });
});
