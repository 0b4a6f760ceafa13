/**
 * Legacy cosign `.sig` signatures with Sigstore material in the layer annotations, as
 * cosign 1.x/2.x writes them: keyless (Fulcio certificate + Rekor SET) and key + SET.
 * The Rekor entry is a real hashedrekord logged in the mock Rekor.
 */
import { createHash } from 'node:crypto';
import { FulcioSigner } from '@sigstore/sign';
import type { Descriptor } from '../../src/core/registry.js';
import { cosignPayload, signPayload, type RepoPusher, type TestKeyPair } from './cosign-signer.js';
import type { Claims, MockSigstore } from './sigstore-signer.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';

export interface LegacyOptions {
  bindDigest?: string;
  /** flip a byte of the SET */
  tamperSet?: boolean;
  /** log this key in Rekor instead of the signer's */
  loggedKey?: TestKeyPair;
}

function jwt(claims: Claims): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ ...claims, aud: 'sigstore' })}.`;
}

/** A signature over `payload` and the PEM certificate the mock Fulcio issued for `claims`. */
export async function fulcioSign(
  mock: MockSigstore,
  claims: Claims,
  payload: Buffer,
): Promise<{ signature: Buffer; certificate: string }> {
  const signer = new FulcioSigner({
    fulcioBaseURL: mock.url,
    identityProvider: { getToken: async () => jwt(claims) },
    retry: false,
  });
  const signed = await signer.sign(payload);
  if (signed.key.$case !== 'x509Certificate') throw new Error('expected a certificate');
  return { signature: signed.signature, certificate: signed.key.certificate };
}

export async function pushLegacyKeyless(
  reg: RepoPusher,
  repo: string,
  image: Descriptor,
  mock: MockSigstore,
  claims: Claims,
  opts: LegacyOptions = {},
): Promise<void> {
  const payload = cosignPayload(`${reg.host}/${repo}`, opts.bindDigest ?? image.digest);
  const signed = await fulcioSign(mock, claims, payload);
  const signature = signed.signature.toString('base64');
  const set = await logHashedRekord(mock, payload, signature, signed.certificate, opts.tamperSet);
  await pushLayer(reg, repo, image, payload, {
    'dev.cosignproject.cosign/signature': signature,
    'dev.sigstore.cosign/certificate': signed.certificate,
    'dev.sigstore.cosign/chain': '',
    'dev.sigstore.cosign/bundle': set,
  });
}

export async function pushLegacyKeyWithSet(
  reg: RepoPusher,
  repo: string,
  image: Descriptor,
  mock: MockSigstore,
  key: TestKeyPair,
  opts: LegacyOptions = {},
): Promise<void> {
  const payload = cosignPayload(`${reg.host}/${repo}`, opts.bindDigest ?? image.digest);
  const signature = signPayload(key.privateKey, payload);
  const set = await logHashedRekord(mock, payload, signature, (opts.loggedKey ?? key).publicKeyPem, opts.tamperSet);
  await pushLayer(reg, repo, image, payload, {
    'dev.cosignproject.cosign/signature': signature,
    'dev.sigstore.cosign/bundle': set,
  });
}

/** Log a hashedrekord entry (signature in base64); the `dev.sigstore.cosign/bundle` annotation text for it. */
export async function logHashedRekord(
  mock: MockSigstore,
  payload: Buffer,
  signature: string,
  pem: string,
  tamper = false,
): Promise<string> {
  const entry = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
      signature: { content: signature, publicKey: { content: Buffer.from(pem).toString('base64') } },
    },
  };
  return logEntry(mock, entry, tamper);
}

/** Log a proposed Rekor entry in the mock; the `dev.sigstore.cosign/bundle` annotation text for it. */
export async function logEntry(mock: MockSigstore, entry: object, tamper = false): Promise<string> {
  const logged = await postToMockRekor(mock, entry);
  const set = Buffer.from(logged.verification.signedEntryTimestamp, 'base64');
  if (tamper) set[set.length - 5] = set[set.length - 5]! ^ 1;
  return JSON.stringify({
    SignedEntryTimestamp: set.toString('base64'),
    Payload: {
      body: logged.body,
      integratedTime: logged.integratedTime,
      logIndex: logged.logIndex,
      logID: logged.logID,
    },
  });
}

/** What the mock Rekor answers for one logged entry (Rekor's LogEntry). */
export interface MockLogEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    signedEntryTimestamp: string;
    inclusionProof: { logIndex: number; treeSize: number; rootHash: string; hashes: string[]; checkpoint: string };
  };
}

/** Log a proposed Rekor entry in the mock, as cosign posts it; the entry the log answers with. */
export async function postToMockRekor(mock: MockSigstore, entry: object): Promise<MockLogEntry> {
  const res = await fetch(`${mock.url}/api/v1/log/entries`, {
    method: 'POST',
    body: JSON.stringify(entry),
    headers: { 'content-type': 'application/json' },
  });
  if (res.status !== 201) throw new Error(`mock Rekor: ${res.status} ${await res.text()}`);
  return Object.values((await res.json()) as Record<string, MockLogEntry>)[0]!;
}

async function pushLayer(
  reg: RepoPusher,
  repo: string,
  image: Descriptor,
  payload: Buffer,
  annotations: Record<string, string>,
): Promise<void> {
  const blob = await reg.pushBlob(repo, payload);
  const config = await reg.pushBlob(repo, Buffer.from('{}'));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [{ mediaType: SIMPLE_SIGNING, digest: blob.digest, size: blob.size, annotations }],
  };
  await reg.pushManifest(repo, manifest, { mediaType: OCI_MANIFEST, tag: `${image.digest.replace(':', '-')}.sig` });
}
