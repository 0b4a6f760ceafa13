/**
 * cosign's legacy attestation tag: an OCI manifest tagged `sha256-<hex>.att`, one layer
 * per attestation, of media type `application/vnd.dsse.envelope.v1+json`. The layer
 * blob is the DSSE envelope itself; the layer annotations carry what a bundle would
 * (certificate, chain, `dev.sigstore.cosign/bundle` with the Rekor SET, RFC 3161
 * timestamp), and `dev.cosignproject.cosign/signature` is "" (the signature is in the
 * envelope). `predicateType` on the layer is unsigned and ignored.
 *
 * Each layer becomes a v0.1 bundle (the only version whose log entry may hold only a
 * promise) with the envelope as its DSSE content, verified like any bundle. One check
 * is ours: the Rekor body (kind `dsse` 0.0.1, or `intoto` from older cosign) records a
 * hash of the whole envelope, which must equal sha256 of the layer blob, as cosign
 * checks; @sigstore/verify compares only the signature and the payload hash.
 */
import { createHash } from 'node:crypto';
import { MAX_PAYLOAD_BYTES, type Descriptor } from '../../core/registry.js';
import { cosignSignatureTag } from './legacy-key.js';
import type { VerifyContext } from '../../core/verifier.js';
import type { Failure } from './bundle-discovery.js';
import { verifyBundle, type BundleTrust } from './bundle-verifier.js';
import { BUNDLE_V01, legacyMaterial } from './legacy-keyless.js';
import type { Evidence, SignedStatement } from './attestations.js';
import type { SignerPolicy } from './signer-policy.js';
import { IN_TOTO_PAYLOAD_TYPE } from './statement.js';

export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
/** as many layers as the referrers we read: one per attestation */
export const MAX_ATTESTATION_LAYERS = 50;

const BLOB_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** 'sha256:<hex>' → 'sha256-<hex>.att' */
export function cosignAttestationTag(digest: string): string {
  // Stryker disable next-line Regex: the tag is sha256-<hex>.sig, '.sig' occurs only at its end
  return cosignSignatureTag(digest).replace(/\.sig$/, '.att');
}

/** The accepted statements of the image's `.att` tag, and why the other layers were rejected. */
export async function readLegacyAttestations(
  ctx: VerifyContext,
  trust: BundleTrust,
  policy: SignerPolicy,
): Promise<Evidence> {
  const evidence: Evidence = { statements: [], rejected: [] };
  const tag = cosignAttestationTag(ctx.target.digest);
  const manifest = await ctx.repo.findManifest(tag, ctx.signal);
  if (!manifest) return evidence;
  // Stryker disable next-line ArrayDeclaration: a non-descriptor entry is dropped by the media-type filter below
  const layers = (manifest.json.layers ?? [])
    .filter((l) => l?.mediaType === DSSE_ENVELOPE_MEDIA_TYPE)
    .slice(0, MAX_ATTESTATION_LAYERS);
  for (const [i, layer] of layers.entries()) {
    ctx.signal.throwIfAborted();
    const where = `${tag} layer ${i + 1}`;
    let checked: SignedStatement | Failure;
    try {
      checked = await checkLayer(layer, where, trust, policy, ctx);
    } catch (e) {
      evidence.fetchError ??= e;
      continue;
    }
    if ('statement' in checked) evidence.statements.push(checked);
    else evidence.rejected.push(checked);
  }
  return evidence;
}

async function checkLayer(
  layer: Descriptor,
  where: string,
  trust: BundleTrust,
  policy: SignerPolicy,
  ctx: VerifyContext,
): Promise<SignedStatement | Failure> {
  if (
    !BLOB_DIGEST.test(layer.digest) ||
    !Number.isSafeInteger(layer.size) ||
    layer.size < 0 ||
    layer.size > MAX_PAYLOAD_BYTES
  ) {
    return invalid(`${where} has a malformed descriptor or is larger than 32 MiB`);
  }
  const material = legacyMaterial(layer.annotations ?? {}, policy.signer.kind === 'key');
  if (typeof material === 'string') return invalid(`${where}: ${material}`);
  const blob = await ctx.repo.getBlob(layer.digest, MAX_PAYLOAD_BYTES, ctx.signal);
  const envelope = parseEnvelope(blob);
  if (typeof envelope === 'string') return invalid(`${where}: ${envelope}`);
  if (trust.tlog === 'required') {
    const logged = checkEnvelopeHash(material.tlogEntries, blob);
    if (logged) return invalid(`${where}: ${logged}`);
  }
  const verdict = verifyBundle(
    { mediaType: BUNDLE_V01, verificationMaterial: material, dsseEnvelope: envelope },
    trust,
    ctx.now,
  );
  if (!verdict.ok) return { ...verdict, detail: `${where}: ${verdict.detail}` };
  const who = policy.accept(verdict.bundle.signer);
  if (!who.ok) return { ...who, detail: `${where}: ${who.detail}` };
  const { statement, statementProblem } = verdict.bundle;
  if (!statement) return invalid(`${where} by ${who.by} is not an in-toto statement: ${statementProblem}`);
  return { where, by: who.by, statement };
}

interface EnvelopeJson {
  payloadType: string;
  payload: string;
  signatures: Array<{ sig: string; keyid: string }>;
}

function parseEnvelope(blob: Buffer): EnvelopeJson | string {
  let doc: unknown;
  try {
    doc = JSON.parse(blob.toString('utf8'));
  } catch {
    return 'the DSSE envelope is not JSON';
  }
  // null has no fields; other non-objects (numbers, strings, arrays) fail the field checks
  const e = (doc ?? {}) as Partial<Record<keyof EnvelopeJson, unknown>>;
  if (typeof e.payload !== 'string' || typeof e.payloadType !== 'string' || !Array.isArray(e.signatures)) {
    return 'not a DSSE envelope';
  }
  if (e.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return `DSSE payload type is ${JSON.stringify(e.payloadType).slice(0, 100)}, not ${IN_TOTO_PAYLOAD_TYPE}`;
  const signatures = e.signatures.map((s: { sig?: unknown; keyid?: unknown } | null) => ({
    sig: s?.sig,
    // Stryker disable next-line StringLiteral: keyid is not signed and not used to pick the key (the policy names it)
    keyid: s?.keyid ?? '',
  }));
  if (signatures.length !== 1 || typeof signatures[0]!.sig !== 'string' || typeof signatures[0]!.keyid !== 'string')
    return 'the DSSE envelope must hold exactly one signature';
  return { payloadType: e.payloadType, payload: e.payload, signatures: signatures as EnvelopeJson['signatures'] };
}

/**
 * The Rekor entry must record this envelope: `spec.envelopeHash` (dsse 0.0.1) or
 * `spec.content.hash` (intoto) equal to sha256 of the layer blob.
 */
function checkEnvelopeHash(entries: unknown[], blob: Buffer): string | undefined {
  const expected = createHash('sha256').update(blob).digest('hex');
  for (const entry of entries as Array<{ canonicalizedBody?: unknown }>) {
    let body: { kind?: unknown; spec?: { envelopeHash?: Hash; content?: { hash?: Hash } } };
    try {
      body = JSON.parse(Buffer.from(String(entry.canonicalizedBody), 'base64').toString('utf8'));
    } /* Stryker disable next-line BlockStatement: unreachable: legacyMaterial already parsed this very body as JSON with a kind */ catch {
      // Stryker disable next-line StringLiteral: unreachable, as above
      return 'the Rekor entry body is not JSON';
    }
    const hash =
      body.kind === 'dsse' ? body.spec?.envelopeHash : body.kind === 'intoto' ? body.spec?.content?.hash : undefined;
    if (!hash) return `the Rekor entry (kind ${JSON.stringify(body.kind)}) records no envelope hash`;
    if (hash.algorithm !== 'sha256' || hash.value !== expected) {
      return `the Rekor entry records envelope ${String(hash.algorithm)}:${String(hash.value).slice(0, 64)}, but the layer holds sha256:${expected} (envelope altered after logging)`;
    }
  }
  return undefined;
}

type Hash = { algorithm?: unknown; value?: unknown };

function invalid(detail: string): Failure {
  return { ok: false, reason: 'SIGNATURE_INVALID', detail };
}
