/**
 * Sign images the way `cosign sign --key` does (legacy `.sig` tag), for tests, the demo
 * and the bench. No test framework imports here.
 *
 * cosign writes, in the image's repository:
 *   - a layer blob: the simple signing payload, exactly the bytes that were signed
 *     `{"critical":{"identity":{"docker-reference":"host/repo"},"image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},"optional":null}`
 *   - a config blob (an OCI image config listing the layers' digests),
 *   - an OCI manifest with one layer per signature, the base64 signature in the layer
 *     annotation `dev.cosignproject.cosign/signature`, tagged `sha256-<hex>.sig`.
 * Signatures use cosign's defaults for the key: ECDSA (DER) with the curve's hash,
 * RSA PKCS#1 v1.5 with SHA-256, ed25519 over the raw payload.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Descriptor } from '../../src/core/registry.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';

export type KeyKind = 'p256' | 'p384' | 'p521' | 'rsa' | 'ed25519';

export interface TestKeyPair {
  kind: KeyKind;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
}

/** Anything that can push into a registry: the docker-registry harness or the memory registry. */
export interface RepoPusher {
  host: string;
  pushBlob(repo: string, bytes: Buffer): Promise<Descriptor>;
  pushManifest(repo: string, manifest: object | Buffer, opts: { mediaType: string; tag?: string }): Promise<Descriptor>;
}

/** One signature layer as stored: the payload bytes and the annotation text. */
export interface SignatureLayer {
  payload: Buffer;
  signature: string;
}

export interface SignOptions {
  /** more signers: one more layer each, over the same payload (as `cosign sign` run by each) */
  alsoSignedBy?: KeyObject[];
  /** sign a payload for this digest instead of the image's (a `.sig` made for another image) */
  bindDigest?: string;
  /**
   * Edit the first layer's payload after signing and keep the signature. `true` points the
   * payload at another digest (the attack: reuse a signature for another image).
   */
  tamper?: true | ((payload: Buffer) => Buffer);
  /** store this text as the first layer's signature annotation instead of the real one */
  annotation?: string;
  /** sign these bytes instead of the cosign payload (payloads that are not cosign's) */
  payload?: Buffer;
  /** docker-reference in the payload (default host/repo) */
  dockerReference?: string;
}

export interface SignedImage {
  tag: string;
  manifest: Descriptor;
  layers: SignatureLayer[];
}

export function generateKeyPair(kind: KeyKind): TestKeyPair {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: { p256: 'P-256', p384: 'P-384', p521: 'P-521' }[kind] });
  return {
    kind,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicKeyPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** The payload as cosign marshals it (Go encoding/json: struct field order, no spaces). */
export function cosignPayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
}

/** Sign with cosign's default scheme for the key type; the base64 text cosign stores. */
export function signPayload(privateKey: KeyObject, payload: Buffer): string {
  const type = privateKey.asymmetricKeyType;
  if (type === 'ed25519') return sign(null, payload, privateKey).toString('base64');
  if (type === 'rsa') return sign('sha256', payload, privateKey).toString('base64');
  if (type === 'ec') {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    const hash = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
    return sign(hash, payload, { key: privateKey, dsaEncoding: 'der' }).toString('base64');
  }
  throw new Error(`cannot sign with a ${type} key`);
}

export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** Sign `image` and push its signature manifest at `sha256-<hex>.sig`, replacing any there. */
export async function signImage(
  reg: RepoPusher,
  repo: string,
  image: Pick<Descriptor, 'digest'>,
  privateKey: KeyObject,
  opts: SignOptions = {},
): Promise<SignedImage> {
  const payload =
    opts.payload ?? cosignPayload(opts.dockerReference ?? `${reg.host}/${repo}`, opts.bindDigest ?? image.digest);
  const layers = [privateKey, ...(opts.alsoSignedBy ?? [])].map((key) => ({
    payload,
    signature: signPayload(key, payload),
  }));
  const first = layers[0]!;
  if (opts.tamper)
    first.payload = opts.tamper === true ? pointAtAnotherDigest(first.payload) : opts.tamper(first.payload);
  if (opts.annotation !== undefined) first.signature = opts.annotation;
  return pushSignatureManifest(reg, repo, image.digest, layers);
}

/**
 * Push signature layers as cosign lays them out: payload blobs, a config blob, and the
 * manifest tagged for `digest`. Also used to serve real cosign signatures (fixtures).
 */
export async function pushSignatureManifest(
  reg: RepoPusher,
  repo: string,
  digest: string,
  layers: SignatureLayer[],
): Promise<SignedImage> {
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const blob = await reg.pushBlob(repo, layer.payload);
    descriptors.push({
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      digest: blob.digest,
      size: blob.size,
      annotations: { [SIGNATURE_ANNOTATION]: layer.signature },
    });
  }
  const config = await reg.pushBlob(repo, signatureConfig(descriptors));
  const tag = signatureTag(digest);
  const manifest = await reg.pushManifest(
    repo,
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, size: config.size, digest: config.digest },
      layers: descriptors,
    },
    { mediaType: OCI_MANIFEST, tag },
  );
  return { tag, manifest, layers };
}

/** cosign's config blob: an image config whose rootfs lists the payload digests. */
function signatureConfig(layers: Descriptor[]): Buffer {
  const epoch = '0001-01-01T00:00:00Z';
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: epoch,
      history: layers.map(() => ({ created: epoch })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

/** The same payload naming a different (but well-formed) digest. */
function pointAtAnotherDigest(payload: Buffer): Buffer {
  const doc = JSON.parse(payload.toString('utf8')) as { critical: { image: { 'docker-manifest-digest': string } } };
  const original = doc.critical.image['docker-manifest-digest'];
  doc.critical.image['docker-manifest-digest'] = `sha256:${createHash('sha256').update(original).digest('hex')}`;
  return Buffer.from(JSON.stringify(doc));
}
