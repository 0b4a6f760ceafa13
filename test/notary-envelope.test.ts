/**
 * The two envelope media types of the Notary Project signature specification, as a
 * signature manifest names its one layer: application/jose+json and application/cose
 * are fetched for parsing, anything else is refused. Real signature manifests in a real
 * registry (docker-registry).
 *
 * The discovery module (and the envelope module it reads the media types from) is
 * imported afresh inside each test (vi.resetModules): the media types are module
 * constants, set when the module loads, so only a test that loads the module sees a
 * wrong one (and a mutation tool counts that test as covering it).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseReference } from '../src/core/reference.js';
import type { Descriptor } from '../src/core/registry.js';
import type { VerifyContext } from '../src/core/verifier.js';
import { RegistryClient } from '../src/registry/client.js';
import { EMPTY, key, makeChain, signatureManifest, signCose, signJws } from './support/notation-signer.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const REPO = 'envelopes/app';

async function freshDiscovery() {
  vi.resetModules();
  return import('../src/verify/notary/discovery.js');
}

if (!registryAvailable()) console.log('skipping envelope media type tests: docker-registry is not installed');

describe.skipIf(!registryAvailable())('envelope media types in a signature manifest', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let image: Descriptor;
  const leafKey = key('p256', 'envelope-types');
  const { chain } = makeChain(leafKey, { label: 'envelope-types' });

  beforeAll(async () => {
    reg = await startRegistry();
    client = new RegistryClient({ registries: reg.settings });
    await reg.pushBlob(REPO, EMPTY);
    image = await reg.pushImage(REPO, 'v1');
  }, 30_000);
  afterAll(async () => reg?.stop());

  function ctx(): VerifyContext {
    const repo = client.repository(reg.host, REPO);
    return {
      target: {
        ref: parseReference(`${reg.host}/${REPO}@${image.digest}`),
        digest: image.digest,
        descriptor: async () => image,
      },
      repo,
      signal: new AbortController().signal,
      now: new Date(),
    };
  }
  async function pushSignature(envelope: Buffer, mediaType: string): Promise<Descriptor> {
    await reg.pushBlob(REPO, envelope);
    return reg.pushManifest(REPO, signatureManifest(image, envelope, mediaType), { mediaType: OCI });
  }
  const envelopeSpec = () => ({ target: image, alg: 'ES256' as const, key: leafKey.privateKey, chain });

  it('a COSE envelope (application/cose) is fetched for parsing', async () => {
    const envelope = signCose(envelopeSpec());
    const desc = await pushSignature(envelope, 'application/cose');
    const { fetchEnvelope } = await freshDiscovery();
    expect(await fetchEnvelope(ctx(), desc)).toEqual({
      manifest: desc,
      mediaType: 'application/cose',
      bytes: envelope,
    });
  });

  it('a JWS envelope (application/jose+json) is fetched for parsing', async () => {
    const envelope = signJws(envelopeSpec());
    const desc = await pushSignature(envelope, 'application/jose+json');
    const { fetchEnvelope } = await freshDiscovery();
    expect(await fetchEnvelope(ctx(), desc)).toEqual({
      manifest: desc,
      mediaType: 'application/jose+json',
      bytes: envelope,
    });
  });

  it.each(['application/json', 'application/cose-x509', ''])('a layer of type "%s" is refused', async (mediaType) => {
    const desc = await pushSignature(signCose(envelopeSpec()), mediaType);
    const { fetchEnvelope } = await freshDiscovery();
    expect(await fetchEnvelope(ctx(), desc)).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: `unsupported signature envelope type ${mediaType}`,
    });
  });
});
