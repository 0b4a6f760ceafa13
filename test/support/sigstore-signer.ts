/**
 * Keyless signing for tests, the demo and the bench: a mock Fulcio, Rekor and TSA
 * (@sigstore/mock's handlers, served on a loopback port by node:http, no global HTTP
 * interception) and @sigstore/sign's real clients talking to them. Images get what
 * cosign 3 writes: a DSSE bundle over an in-toto statement with predicateType
 * https://sigstore.dev/cosign/sign/v1, stored as an OCI referrer (tag-schema index on
 * registries without the referrers API), or a legacy `.sig` layer with certificate
 * and Rekor SET annotations.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
  type HandlerFn,
} from '@sigstore/mock';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness, type Signer, type Witness } from '@sigstore/sign';
import type { Descriptor } from '../../src/core/registry.js';
import type { RepoPusher } from './cosign-signer.js';

export const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

export interface MockSigstore {
  url: string;
  /** trusted_root.json text for this instance (its CA, log, CT log and TSA) */
  trustedRoot: string;
  /** the CA root certificate (DER) */
  caRoot: Buffer;
  stop(): Promise<void>;
}

export interface MockOptions {
  /** the CA issues certificates valid from this time (10 minutes); default: now */
  caClock?: Date;
}

/** Start a mock Fulcio (/api/v2/signingCert), Rekor (/api/v1/log/entries) and TSA (/api/v1/timestamp). */
export async function startMockSigstore(opts: MockOptions = {}): Promise<MockSigstore> {
  const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctKeys = keyPair();
  const ctlog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(keyPair(), ctlog, opts.caClock);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tlog = await initializeTLog(url, keyPair());
  const tsa = await initializeTSA(keyPair());
  // The mock stamps genTime with milliseconds, which DER writes without trailing zeros
  // (".12Z"); @sigstore/core reads only exactly three fraction digits and refuses the
  // rest ("invalid time"), so one stamp in ten failed at random. Stamp whole seconds, as
  // most real TSAs do.
  (tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () =>
    new Date(Math.floor(Date.now() / 1000) * 1000);
  const routes = new Map<string, HandlerFn>(
    [fulcioHandler(ca), rekorHandler(tlog), tsaHandler(tsa)].map((h) => [h.path, h.fn] as [string, HandlerFn]),
  );
  const rekor = routes.get('/api/v1/log/entries')!;
  routes.set('/api/v1/log/entries', (body) => rekor(JSON.stringify(asRekorStores(JSON.parse(body)))));
  serve(server, routes);
  const start = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const spki = (k: Buffer) => k.toString('base64');
  const caRoot = Buffer.from(ca.rootCertificate.buffer, ca.rootCertificate.byteOffset, ca.rootCertificate.byteLength);
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: spki(tlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: caRoot.toString('base64') }] },
        validFor: { start: '2000-01-01T00:00:00Z' },
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: spki(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: {
          keyId: Buffer.from(ctlog.logID.buffer, ctlog.logID.byteOffset, ctlog.logID.byteLength).toString('base64'),
        },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        certChain: {
          certificates: [tsa.intCertificate, tsa.rootCertificate].map((c) => ({
            rawBytes: Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('base64'),
          })),
        },
        validFor: { start: '2000-01-01T00:00:00Z' },
      },
    ],
  };
  return {
    url,
    trustedRoot: JSON.stringify(root),
    caRoot,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The mock logs a proposed entry as it came; real Rekor stores a dsse entry as hashes
 * plus {signature, verifier} pairs. Store it the way Rekor does, so verification sees
 * what it sees with cosign 3's bundles.
 */
function asRekorStores(proposed: {
  kind?: string;
  apiVersion?: string;
  spec?: { proposedContent?: { envelope: string; verifiers: string[] } };
}): object {
  const content = proposed.spec?.proposedContent;
  if (proposed.kind !== 'dsse' || !content) return proposed;
  const envelope = JSON.parse(content.envelope) as { payload: string; signatures: Array<{ sig: string }> };
  const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  return {
    apiVersion: proposed.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: hex(content.envelope) },
      payloadHash: { algorithm: 'sha256', value: hex(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((sig, i) => ({
        signature: sig.sig,
        verifier: content.verifiers[i] ?? content.verifiers[0],
      })),
    },
  };
}

function serve(server: Server, routes: Map<string, HandlerFn>): void {
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const handler = routes.get(req.url ?? '');
      if (!handler || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      handler(Buffer.concat(chunks).toString('utf8')).then(
        ({ statusCode, response, contentType }) => {
          res.writeHead(statusCode, { 'content-type': contentType ?? 'text/plain' });
          res.end(
            typeof response === 'string'
              ? response
              : Buffer.from(response.buffer, response.byteOffset, response.byteLength),
          );
        },
        (e: Error) => res.writeHead(500).end(e.message),
      );
    });
  });
}

/** OIDC claims the mock Fulcio turns into the certificate: iss, sub, and GitHub's claims. */
export interface Claims {
  iss: string;
  sub: string;
  repository?: string;
  ref?: string;
  event_name?: string;
  sha?: string;
}

/** An unsigned JWT: the mock Fulcio reads the claims without checking a signature. */
function jwt(claims: Claims): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
}

/** The statement cosign 3 signs for an image (with spaces between members, as cosign writes it). */
export function cosignStatement(digest: string, name: string, predicateType = COSIGN_SIGN_PREDICATE): Buffer {
  const [alg, hex] = digest.split(':');
  const doc = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name, digest: { [alg!]: hex } }],
    predicateType,
    predicate: {},
  };
  return Buffer.from(JSON.stringify(doc, null, 1).replace(/\n\s*/g, ' '));
}

export interface KeylessSignOptions {
  claims: Claims;
  /** log the signature in Rekor (default true) */
  rekor?: boolean;
  /** add an RFC 3161 timestamp (default false) */
  tsa?: boolean;
}

export async function signKeyless(
  mock: MockSigstore,
  statement: Buffer,
  opts: KeylessSignOptions,
): Promise<Record<string, unknown>> {
  const signer = new FulcioSigner({
    fulcioBaseURL: mock.url,
    identityProvider: { getToken: async () => jwt(opts.claims) },
    retry: false,
  });
  return buildBundle(signer, witnesses(mock, opts), statement);
}

/** A bundle signed with a key (cosign sign --key, new bundle format). */
export async function signWithKey(
  privateKey: KeyObject,
  publicKeyPem: string,
  statement: Buffer,
  mock?: MockSigstore,
): Promise<Record<string, unknown>> {
  const hint = createHash('sha256').update(createPublicKeyDer(publicKeyPem)).digest('base64');
  const signer: Signer = {
    sign: async (data) => ({
      signature: sign('sha256', data, { key: privateKey, dsaEncoding: 'der' }),
      key: { $case: 'publicKey', publicKey: publicKeyPem, hint },
    }),
  };
  return buildBundle(signer, mock ? witnesses(mock, { claims: { iss: '', sub: '' } }) : [], statement);
}

function createPublicKeyDer(pem: string): Buffer {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(b64, 'base64');
}

function witnesses(mock: MockSigstore, opts: KeylessSignOptions): Witness[] {
  const w: Witness[] = [];
  if (opts.rekor ?? true) w.push(new RekorWitness({ rekorBaseURL: mock.url, entryType: 'dsse', retry: false }));
  if (opts.tsa) w.push(new TSAWitness({ tsaBaseURL: mock.url, retry: false }));
  return w;
}

async function buildBundle(signer: Signer, w: Witness[], statement: Buffer): Promise<Record<string, unknown>> {
  const bundle: Bundle = await new DSSEBundleBuilder({ signer, witnesses: w }).create({
    data: statement,
    type: 'application/vnd.in-toto+json',
  });
  return bundleToJSON(bundle) as unknown as Record<string, unknown>;
}

/** Referrers already pushed per repo@subject, so the tag-schema index lists them all. */
const indexes = new Map<string, Descriptor[]>();

export interface PushBundleOptions {
  /** also write the tag-schema index `sha256-<hex>` (registries without the referrers API) */
  tagSchema?: boolean;
  /** the subject the referrer manifest names (default: the image) */
  subject?: Descriptor;
  /** unsigned annotations on the referrer manifest */
  annotations?: Record<string, string>;
}

/** Push a bundle as cosign 3 does: bundle blob, empty config, referrer manifest (and index). */
export async function pushBundle(
  reg: RepoPusher,
  repo: string,
  image: Descriptor,
  bundle: object | Buffer,
  opts: PushBundleOptions = {},
): Promise<Descriptor> {
  const bytes = Buffer.isBuffer(bundle) ? bundle : Buffer.from(JSON.stringify(bundle));
  const blob = await reg.pushBlob(repo, bytes);
  const config = await reg.pushBlob(repo, Buffer.from('{}'));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_TYPE,
    config: { mediaType: OCI_EMPTY, digest: config.digest, size: config.size },
    layers: [{ mediaType: BUNDLE_TYPE, digest: blob.digest, size: blob.size }],
    subject: {
      mediaType: (opts.subject ?? image).mediaType,
      digest: (opts.subject ?? image).digest,
      size: (opts.subject ?? image).size,
    },
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const desc = await reg.pushManifest(repo, manifest, { mediaType: OCI_MANIFEST });
  if (opts.tagSchema ?? true) {
    const key = `${repo}@${image.digest}`;
    // no artifactType on the entry, as some tools write it: the verifier must read the manifest
    const entries = [...(indexes.get(key) ?? []), { mediaType: OCI_MANIFEST, digest: desc.digest, size: desc.size }];
    indexes.set(key, entries);
    await reg.pushManifest(
      repo,
      { schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries },
      { mediaType: OCI_INDEX, tag: image.digest.replace(':', '-') },
    );
  }
  return desc;
}
