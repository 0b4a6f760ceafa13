/**
 * Sigstore bundles signed by a key or certificate the test chooses (a private CA's leaf
 * made with notation-signer's makeCert, a key pair), with @sigstore/sign's real bundle
 * builders and, when asked, the mock's Rekor and TSA as witnesses. Also: a Rekor entry
 * logged with a body the test writes, as a bundle's tlogEntries[] item.
 */
import { sign, type KeyObject } from 'node:crypto';
import { TransparencyLogEntry } from '@sigstore/protobuf-specs';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import {
  DSSEBundleBuilder,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
  type Signer,
  type Witness,
} from '@sigstore/sign';
import { pem } from './notation-signer.js';
import { postToMockRekor } from './sigstore-legacy.js';
import type { MockSigstore } from './sigstore-signer.js';

export type Json = Record<string, unknown>;

/** Who signs: a certificate (DER) and its key, or a public key (PEM) with its hint. */
export type SigningMaterial =
  | { certificate: Buffer; privateKey: KeyObject }
  | { publicKeyPem: string; hint: string; privateKey: KeyObject };

export interface Witnesses {
  mock?: MockSigstore;
  rekor?: boolean;
  tsa?: boolean;
}

function signer(m: SigningMaterial): Signer {
  return {
    sign: async (data) => ({
      signature: sign('sha256', data, { key: m.privateKey, dsaEncoding: 'der' }),
      key:
        'certificate' in m
          ? { $case: 'x509Certificate', certificate: pem(m.certificate) }
          : { $case: 'publicKey', publicKey: m.publicKeyPem, hint: m.hint },
    }),
  };
}

function witnesses(w: Witnesses): Witness[] {
  if (!w.mock) return [];
  return [
    ...(w.rekor ? [new RekorWitness({ rekorBaseURL: w.mock.url, entryType: 'dsse', retry: false })] : []),
    ...(w.tsa ? [new TSAWitness({ tsaBaseURL: w.mock.url, retry: false })] : []),
  ];
}

/** A DSSE bundle over `payload` (an in-toto statement unless `payloadType` says otherwise). */
export async function dsseBundle(
  m: SigningMaterial,
  payload: Buffer,
  w: Witnesses = {},
  payloadType = 'application/vnd.in-toto+json',
): Promise<Json> {
  const bundle: Bundle = await new DSSEBundleBuilder({ signer: signer(m), witnesses: witnesses(w) }).create({
    data: payload,
    type: payloadType,
  });
  return bundleToJSON(bundle) as unknown as Json;
}

/** A message-signature bundle over `artifact` (cosign sign-blob). */
export async function messageBundle(m: SigningMaterial, artifact: Buffer): Promise<Json> {
  const bundle: Bundle = await new MessageSignatureBundleBuilder({ signer: signer(m), witnesses: [] }).create({
    data: artifact,
  });
  return bundleToJSON(bundle) as unknown as Json;
}

/** Log `body` as it is in the mock Rekor; the bundle's tlogEntries[] item for it (promise and proof). */
export async function logBody(mock: MockSigstore, body: object): Promise<Json> {
  const e = await postToMockRekor(mock, body);
  const proof = e.verification.inclusionProof;
  return TransparencyLogEntry.toJSON({
    logIndex: String(e.logIndex),
    logId: { keyId: Buffer.from(e.logID, 'hex') },
    kindVersion: { kind: (body as { kind: string }).kind, version: (body as { apiVersion: string }).apiVersion },
    integratedTime: String(e.integratedTime),
    inclusionPromise: { signedEntryTimestamp: Buffer.from(e.verification.signedEntryTimestamp, 'base64') },
    inclusionProof: {
      logIndex: String(proof.logIndex),
      treeSize: String(proof.treeSize),
      rootHash: Buffer.from(proof.rootHash, 'hex'),
      hashes: proof.hashes.map((h) => Buffer.from(h, 'hex')),
      checkpoint: { envelope: proof.checkpoint },
    },
    canonicalizedBody: Buffer.from(e.body, 'base64'),
  }) as Json;
}
