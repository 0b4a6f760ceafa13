/**
 * Attestations for tests and the bench: in-toto statements of the kinds CI publishes
 * (GitHub's SLSA v1 provenance, an SBOM, cosign's vulnerability scan), signed keyless
 * by @sigstore/sign against the mock Fulcio / Rekor (sigstore-signer.ts), stored as a
 * bundle referrer or, as cosign 1.x/2.x did, a layer of the `sha256-<hex>.att` tag.
 */
import { pem } from '@sigstore/core';
import type { Descriptor } from '../../src/core/registry.js';
import type { RepoPusher, TestKeyPair } from './cosign-signer.js';
import { logEntry } from './sigstore-legacy.js';
import { signKeyless, signWithKey, type Claims, type MockSigstore } from './sigstore-signer.js';

export const GH_ISSUER = 'https://token.actions.githubusercontent.com';
export const RELEASE_WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
export const githubClaims: Claims = {
  iss: GH_ISSUER,
  sub: RELEASE_WORKFLOW,
  repository: 'acme/app',
  ref: 'refs/heads/main',
  event_name: 'push',
  sha: 'abc123',
};
export const SLSA_V1 = 'https://slsa.dev/provenance/v1';
export const SPDX = 'https://spdx.dev/Document';
export const VULN = 'https://cosign.sigstore.dev/attestation/vuln/v1';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';

export type StatementVersion = 'v0.1' | 'v1';

/** An in-toto statement over `digest` (cosign writes v0.1, GitHub v1). */
export function statement(
  digest: string,
  name: string,
  predicateType: string,
  predicate: unknown,
  version: StatementVersion = 'v1',
): Buffer {
  const [alg, hex] = digest.split(':');
  const doc = {
    _type: `https://in-toto.io/Statement/${version}`,
    subject: [{ name, digest: { [alg!]: hex } }],
    predicateType,
    predicate,
  };
  return Buffer.from(JSON.stringify(doc));
}

/** GitHub artifact attestation provenance: the calling workflow is in externalParameters.workflow. */
export function githubProvenance(
  digest: string,
  name: string,
  workflow: { ref?: string; repository?: string; path?: string } = {},
): Buffer {
  return statement(digest, name, SLSA_V1, {
    buildDefinition: {
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      externalParameters: {
        workflow: {
          ref: workflow.ref ?? 'refs/heads/main',
          repository: workflow.repository ?? 'https://github.com/acme/app',
          path: workflow.path ?? '.github/workflows/release.yml',
        },
      },
      internalParameters: {
        github: {
          event_name: 'push',
          repository_id: '1',
          repository_owner_id: '2',
          runner_environment: 'github-hosted',
        },
      },
      resolvedDependencies: [
        {
          uri: `git+https://github.com/acme/app@${workflow.ref ?? 'refs/heads/main'}`,
          digest: { gitCommit: 'abc123' },
        },
      ],
    },
    runDetails: {
      builder: { id: `${RELEASE_WORKFLOW}` },
      metadata: { invocationId: 'https://github.com/acme/app/actions/runs/1/attempts/1' },
    },
  });
}

/** cosign's vulnerability attestation (`cosign attest --type vuln`), with a scanner summary. */
export function vulnScan(digest: string, name: string, summary: { critical: number; high: number }): Buffer {
  return statement(
    digest,
    name,
    VULN,
    {
      invocation: { uri: 'https://github.com/acme/app/actions/runs/1', event_id: '1', builder: { id: 'github' } },
      scanner: { uri: 'pkg:github/aquasecurity/trivy@0.50.0', version: '0.50.0', result: { summary } },
      metadata: { scanStartedOn: '2025-01-01T00:00:00Z', scanFinishedOn: '2025-01-01T00:01:00Z' },
    },
    'v0.1',
  );
}

/** An SPDX SBOM attestation (`cosign attest --type spdxjson`). */
export function sbom(digest: string, name: string): Buffer {
  return statement(
    digest,
    name,
    SPDX,
    {
      spdxVersion: 'SPDX-2.3',
      SPDXID: 'SPDXRef-DOCUMENT',
      name,
      packages: [{ name: 'openssl', versionInfo: '3.0.13' }],
    },
    'v0.1',
  );
}

export type AttTamper = 'payload' | 'envelope';

/**
 * Push a keyless attestation as a layer of the legacy `sha256-<hex>.att` tag, as cosign
 * 2.x writes it: the DSSE envelope as the blob, a dsse 0.0.1 Rekor entry (logged in the
 * mock) in `dev.sigstore.cosign/bundle`. `tamper`: 'payload' swaps the statement after
 * signing; 'envelope' changes the envelope bytes but not what is signed (the keyid), so
 * only the Rekor envelope hash can tell.
 */
export async function pushLegacyAttestation(
  reg: RepoPusher,
  repo: string,
  image: Descriptor,
  mock: MockSigstore,
  claims: Claims,
  signed: Buffer,
  opts: { tamper?: AttTamper; swapped?: Buffer } = {},
): Promise<void> {
  const bundle = (await signKeyless(mock, signed, { claims, rekor: false })) as SignedEnvelope & {
    verificationMaterial: { certificate: { rawBytes: string } };
  };
  const certificate = pem.fromDER(Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'));
  const text = JSON.stringify(bundle.dsseEnvelope);
  const set = await logEntry(mock, {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope: text, verifiers: [Buffer.from(certificate).toString('base64')] } },
  });
  await pushAttLayer(
    reg,
    repo,
    image,
    signed,
    bundle.dsseEnvelope,
    {
      'dev.sigstore.cosign/certificate': certificate,
      'dev.sigstore.cosign/chain': '',
      'dev.sigstore.cosign/bundle': set,
    },
    opts,
  );
}

/** `cosign attest --key` without a transparency log: the envelope signed with a key, no certificate, no Rekor entry. */
export async function pushLegacyKeyAttestation(
  reg: RepoPusher,
  repo: string,
  image: Descriptor,
  key: TestKeyPair,
  signed: Buffer,
): Promise<void> {
  const bundle = (await signWithKey(key.privateKey, key.publicKeyPem, signed)) as SignedEnvelope;
  await pushAttLayer(reg, repo, image, signed, bundle.dsseEnvelope, {}, {});
}

type Envelope = { payload: string; payloadType: string; signatures: Array<{ sig: string; keyid: string }> };
type SignedEnvelope = { dsseEnvelope: Envelope };

async function pushAttLayer(
  reg: RepoPusher,
  repo: string,
  image: Descriptor,
  signed: Buffer,
  envelope: Envelope,
  material: Record<string, string>,
  opts: { tamper?: AttTamper; swapped?: Buffer },
): Promise<void> {
  const text = JSON.stringify(envelope);
  let blob = Buffer.from(text);
  if (opts.tamper === 'payload')
    blob = Buffer.from(
      JSON.stringify({ ...envelope, payload: (opts.swapped ?? Buffer.from('{}')).toString('base64') }),
    );
  if (opts.tamper === 'envelope')
    blob = Buffer.from(
      JSON.stringify({ ...envelope, signatures: envelope.signatures.map((s) => ({ ...s, keyid: 'altered' })) }),
    );
  const layer = await reg.pushBlob(repo, blob);
  const config = await reg.pushBlob(repo, Buffer.from('{}'));
  const predicateType = (JSON.parse(signed.toString('utf8')) as { predicateType: string }).predicateType;
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: [
      {
        mediaType: DSSE_ENVELOPE,
        digest: layer.digest,
        size: layer.size,
        annotations: {
          predicateType,
          'dev.cosignproject.cosign/signature': '',
          ...material,
        },
      },
    ],
  };
  await reg.pushManifest(repo, manifest, { mediaType: OCI_MANIFEST, tag: `${image.digest.replace(':', '-')}.att` });
}
