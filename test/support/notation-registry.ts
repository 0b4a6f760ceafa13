/**
 * Stores a Notation signature for an image in a real registry the way docker-registry
 * 2.8 (no referrers API) needs it: the envelope blob, the signature manifest, and the
 * referrers tag-schema index `sha256-<hex>` that lists it.
 */
import type { Descriptor } from '../../src/core/registry.js';
import { EMPTY, SIG_TYPE, signatureManifest } from './notation-signer.js';
import type { TestRegistry } from './registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export async function attachNotationSignature(
  reg: TestRegistry,
  repo: string,
  subject: Descriptor,
  envelope: Buffer,
  envelopeType = 'application/jose+json',
): Promise<void> {
  await reg.pushBlob(repo, EMPTY);
  await reg.pushBlob(repo, envelope);
  const sig = await reg.pushManifest(repo, signatureManifest(subject, envelope, envelopeType), {
    mediaType: OCI_MANIFEST,
  });
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...sig, artifactType: SIG_TYPE }] };
  await reg.pushManifest(repo, index, { mediaType: OCI_INDEX, tag: subject.digest.replace(':', '-') });
}
