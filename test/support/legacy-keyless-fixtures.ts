/**
 * Legacy cosign `.sig` layers built piece by piece, for unit tests of the legacy keyless
 * verifier: the annotations cosign writes for any payload (keyless: certificate, Rekor
 * SET, optionally an RFC 3161 timestamp; key: signature and SET), and a signature
 * manifest pushed with whatever layer descriptors the test wants (odd media types,
 * digests, sizes), in any RepoPusher (e.g. the in-memory registry).
 */
import { createHash } from 'node:crypto';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { TSAWitness } from '@sigstore/sign';
import { signPayload, signatureTag, type RepoPusher, type TestKeyPair } from './cosign-signer.js';
import { fulcioSign, logHashedRekord } from './sigstore-legacy.js';
import type { Claims, MockSigstore } from './sigstore-signer.js';

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** One `.sig` layer: its payload and annotations; descriptor fields replaced when given. */
export interface SigLayer {
  payload: Buffer;
  annotations: Record<string, string>;
  mediaType?: string;
  digest?: unknown;
  size?: unknown;
}

/** Keyless annotations over `payload`, as cosign writes them (a Rekor SET; an RFC 3161 timestamp when asked). */
export async function keylessAnnotations(
  mock: MockSigstore,
  claims: Claims,
  payload: Buffer,
  opts: { tsa?: boolean } = {},
): Promise<Record<string, string>> {
  const signed = await fulcioSign(mock, claims, payload);
  const signature = signed.signature.toString('base64');
  const annotations: Record<string, string> = {
    'dev.cosignproject.cosign/signature': signature,
    'dev.sigstore.cosign/certificate': signed.certificate,
    'dev.sigstore.cosign/chain': '',
    'dev.sigstore.cosign/bundle': await logHashedRekord(mock, payload, signature, signed.certificate),
  };
  if (opts.tsa) {
    // the TSA stamps the signature bytes, as cosign's --timestamp-server-url does
    const witnessed = await new TSAWitness({ tsaBaseURL: mock.url, retry: false }).testify({
      $case: 'messageSignature',
      messageSignature: {
        messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: createHash('sha256').update(payload).digest() },
        signature: signed.signature,
      },
    });
    const stamp = witnessed.rfc3161Timestamps[0]?.signedTimestamp;
    if (!stamp) throw new Error('the mock TSA gave no timestamp');
    annotations['dev.sigstore.cosign/rfc3161timestamp'] = JSON.stringify({
      SignedRFC3161Timestamp: Buffer.from(stamp).toString('base64'),
    });
  }
  return annotations;
}

/** Key annotations over `payload` with a Rekor SET (cosign sign --key with the log on). */
export async function keyAnnotations(
  mock: MockSigstore,
  key: TestKeyPair,
  payload: Buffer,
): Promise<Record<string, string>> {
  const signature = signPayload(key.privateKey, payload);
  return {
    'dev.cosignproject.cosign/signature': signature,
    'dev.sigstore.cosign/bundle': await logHashedRekord(mock, payload, signature, key.publicKeyPem),
  };
}

/** Push the payloads and a signature manifest under the image's `.sig` tag with these layers. */
export async function pushSigLayers(reg: RepoPusher, repo: string, imageDigest: string, layers: SigLayer[]) {
  const descriptors = [];
  for (const l of layers) {
    const blob = await reg.pushBlob(repo, l.payload);
    descriptors.push({
      mediaType: l.mediaType ?? SIMPLE_SIGNING,
      digest: 'digest' in l ? l.digest : blob.digest,
      size: 'size' in l ? l.size : blob.size,
      annotations: l.annotations,
    });
  }
  return pushSigManifest(reg, repo, imageDigest, descriptors);
}

/** Push a signature manifest with this `layers` value (anything) under the image's `.sig` tag. */
export async function pushSigManifest(reg: RepoPusher, repo: string, imageDigest: string, layers: unknown) {
  const config = await reg.pushBlob(repo, Buffer.from('{}'));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    ...(layers === undefined ? {} : { layers }),
  };
  return reg.pushManifest(repo, manifest, { mediaType: OCI_MANIFEST, tag: signatureTag(imageDigest) });
}
