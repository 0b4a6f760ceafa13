/**
 * Finding Notary Project signatures of an image: OCI referrers of artifact type
 * `application/vnd.cncf.notary.signature` (the registry client handles the referrers
 * API, the tag-schema fallback and the older config-mediaType form), each a manifest
 * with exactly one envelope blob. Limits are notation's: signature manifests 4 MiB,
 * envelopes 32 MiB, and a cap on how many signatures are tried.
 */
import { MAX_MANIFEST_BYTES, MAX_PAYLOAD_BYTES, type Descriptor } from '../../core/registry.js';
import { worstFailure, type FailureReason, type VerifierVerdict, type VerifyContext } from '../../core/verifier.js';
import { MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, SIGNATURE_ARTIFACT_TYPE } from './envelope.js';

export const DEFAULT_MAX_SIGNATURES = 50;

export interface FoundEnvelope {
  /** the signature manifest's descriptor */
  manifest: Descriptor;
  mediaType: typeof MEDIA_TYPE_JWS | typeof MEDIA_TYPE_COSE;
  bytes: Buffer;
}

export type Failure = { ok: false; reason: FailureReason; detail: string };

export function failure(reason: FailureReason, detail: string): Failure {
  return { ok: false, reason, detail };
}

/** Signature manifests referring to the target digest, newest registry order kept, capped. */
export async function listSignatures(ctx: VerifyContext, maxSignatures: number): Promise<Descriptor[]> {
  const found = await ctx.repo.listReferrers(ctx.target.digest, SIGNATURE_ARTIFACT_TYPE, ctx.signal);
  return found.slice(0, maxSignatures);
}

/** Fetch one signature's envelope; a malformed signature manifest is a failure, not an error. */
export async function fetchEnvelope(ctx: VerifyContext, desc: Descriptor): Promise<FoundEnvelope | Failure> {
  if (desc.size > MAX_MANIFEST_BYTES)
    return failure('SIGNATURE_INVALID', `signature manifest ${desc.digest} is larger than 4 MiB`);
  const manifest = await ctx.repo.getManifest(desc.digest, ctx.signal);
  const json = manifest.json;
  const type = json.artifactType ?? json.config?.mediaType;
  if (type !== SIGNATURE_ARTIFACT_TYPE)
    return failure(
      'SIGNATURE_INVALID',
      `manifest ${desc.digest} is not a Notary Project signature (type ${String(type)})`,
    );
  if (json.subject && json.subject.digest !== ctx.target.digest) {
    return failure(
      'DIGEST_MISMATCH',
      `signature manifest ${desc.digest} refers to ${json.subject.digest}, not ${ctx.target.digest}`,
    );
  }
  const layers = json.layers ?? [];
  if (layers.length !== 1)
    return failure(
      'SIGNATURE_INVALID',
      `signature manifest ${desc.digest} must hold exactly one envelope, holds ${layers.length}`,
    );
  const layer = layers[0]!;
  if (layer.mediaType !== MEDIA_TYPE_JWS && layer.mediaType !== MEDIA_TYPE_COSE) {
    return failure('SIGNATURE_INVALID', `unsupported signature envelope type ${layer.mediaType}`);
  }
  if (!Number.isSafeInteger(layer.size) || layer.size < 0 || layer.size > MAX_PAYLOAD_BYTES) {
    return failure('SIGNATURE_INVALID', `signature envelope ${layer.digest} is larger than 32 MiB`);
  }
  const bytes = await ctx.repo.getBlob(layer.digest, MAX_PAYLOAD_BYTES, ctx.signal);
  return { manifest: desc, mediaType: layer.mediaType, bytes };
}

/**
 * Try each signature with `judge`; the first that passes admits. When none passes, the
 * most telling failure is returned, unless fetching some signature failed: then that
 * error is thrown, since the unread signature might have been the good one.
 */
export async function firstPassing(
  ctx: VerifyContext,
  maxSignatures: number,
  what: string,
  judge: (found: FoundEnvelope) => Promise<VerifierVerdict>,
): Promise<VerifierVerdict> {
  const descriptors = await listSignatures(ctx, maxSignatures);
  if (descriptors.length === 0) return failure('SIGNATURE_MISSING', `no ${what} signature found`);
  const failures: Failure[] = [];
  let fetchError: unknown;
  for (const desc of descriptors) {
    ctx.signal.throwIfAborted();
    let found: FoundEnvelope | Failure;
    try {
      found = await fetchEnvelope(ctx, desc);
    } catch (e) {
      fetchError ??= e;
      continue;
    }
    const verdict = 'ok' in found ? found : await judge(found);
    if (verdict.ok) return verdict;
    failures.push(verdict);
  }
  if (fetchError) throw fetchError;
  const worst = worstFailure(failures)!;
  const more = failures.length > 1 ? ` (${failures.length} signatures tried)` : '';
  return { ...worst, detail: `${worst.detail}${more}` };
}
