/**
 * Finding the Sigstore bundles of an image digest: OCI referrers (the registry client
 * asks the referrers API and falls back to the `sha256-<hex>` tag-schema index) whose
 * manifest has artifactType `application/vnd.dev.sigstore.bundle.v0.3+json`, a subject
 * equal to the image and one layer holding the bundle JSON (cosign 3's layout).
 *
 * The index entries are not trusted for the type: tag-schema entries may carry no
 * artifactType and registries label them differently (GHCR lists the empty config
 * type), so the referrer manifest itself is always read. Nothing in the manifest is
 * signed either (annotations included): it only says where the bundle is.
 *
 * Bundles are fetched one at a time, in registry order, and the search stops at the
 * first one the caller accepts: a bundle-signed image costs the referrers list, one
 * manifest and one blob.
 */
import { MAX_MANIFEST_BYTES, MAX_PAYLOAD_BYTES, MEDIA_TYPES, type Descriptor } from '../../core/registry.js';
import type { FailureReason, VerifierVerdict, VerifyContext } from '../../core/verifier.js';

export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** at most this many referrers are read; beyond it, an image is not worth the requests */
export const MAX_BUNDLE_REFERRERS = 50;

/** v0.3 as cosign writes it, and the older `…bundle+json;version=0.x` spelling */
const BUNDLE_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(?:\.v0\.[1-3]\+json|\+json;\s*version=0\.[1-3])$/;

export type Failure = { ok: false; reason: FailureReason; detail: string };

export interface FoundBundle {
  /** the referrer manifest's digest, for details */
  manifest: string;
  json: unknown;
}

export function isBundleType(type: string | undefined): boolean {
  // no type reads as 'undefined', which the pattern refuses
  return BUNDLE_TYPE.test(String(type));
}

/** Referrers that may be bundles: typed as one, untyped, or typed with the empty config (GHCR). */
export async function bundleReferrers(ctx: VerifyContext): Promise<Descriptor[]> {
  const all = await ctx.repo.listReferrers(ctx.target.digest, undefined, ctx.signal);
  return all
    .filter(
      (d) => d.artifactType === undefined || d.artifactType === MEDIA_TYPES.ociEmpty || isBundleType(d.artifactType),
    )
    .slice(0, MAX_BUNDLE_REFERRERS);
}

/** Read one referrer: the bundle, a failure (a malformed bundle manifest), or null (not a bundle). */
export async function fetchBundle(ctx: VerifyContext, desc: Descriptor): Promise<FoundBundle | Failure | null> {
  if (desc.size > MAX_MANIFEST_BYTES) return null;
  const manifest = await ctx.repo.getManifest(desc.digest, ctx.signal);
  const json = manifest.json;
  if (!isBundleType(json.artifactType ?? json.config?.mediaType)) return null;
  const where = `bundle manifest ${desc.digest}`;
  if (json.subject?.digest !== ctx.target.digest) {
    return {
      ok: false,
      reason: 'DIGEST_MISMATCH',
      detail: `${where} refers to ${json.subject?.digest ?? 'no subject'}, not ${ctx.target.digest}`,
    };
  }
  // Stryker disable next-line ArrayDeclaration: a placeholder entry in place of `[]` has no mediaType, so the filter drops it: no layers either way
  const layers = (json.layers ?? []).filter((l) => isBundleType(l.mediaType));
  if (layers.length !== 1)
    return {
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: `${where} must hold exactly one bundle layer, holds ${layers.length}`,
    };
  const layer = layers[0]!;
  if (!Number.isSafeInteger(layer.size) || layer.size < 0 || layer.size > MAX_PAYLOAD_BYTES) {
    return {
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: `${where}: bundle layer has a malformed size or is larger than 32 MiB`,
    };
  }
  const bytes = await ctx.repo.getBlob(layer.digest, MAX_PAYLOAD_BYTES, ctx.signal);
  try {
    return { manifest: desc.digest, json: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return { ok: false, reason: 'SIGNATURE_INVALID', detail: `${where}: the bundle is not JSON` };
  }
}

export interface BundleSearch {
  /** how many bundles were read */
  bundles: number;
  /** the first accepted verdict */
  passed?: Extract<VerifierVerdict, { ok: true }>;
  failures: Failure[];
  /** the first registry error while reading a bundle (the unread one might have been good) */
  fetchError?: unknown;
}

/**
 * Judge each bundle of the image until one is accepted. `judge` sees the bundle JSON and
 * answers a verdict; a registry error on one bundle does not stop the others.
 */
export async function searchBundles(
  ctx: VerifyContext,
  judge: (found: FoundBundle) => VerifierVerdict | Promise<VerifierVerdict>,
): Promise<BundleSearch> {
  const search: BundleSearch = { bundles: 0, failures: [] };
  const read = await eachBundle(ctx, async (found) => {
    const verdict = 'ok' in found ? found : await judge(found);
    if (verdict.ok) search.passed = verdict;
    else search.failures.push(verdict);
    return verdict.ok;
  });
  return { ...search, ...read };
}

/**
 * Visit each bundle of the image (or the failure that reading it came to), in registry
 * order, until `visit` answers true. A registry error on one bundle is kept, not thrown,
 * so the others are still read.
 */
export async function eachBundle(
  ctx: VerifyContext,
  visit: (found: FoundBundle | Failure) => boolean | Promise<boolean>,
): Promise<{ bundles: number; fetchError?: unknown }> {
  const read: { bundles: number; fetchError?: unknown } = { bundles: 0 };
  for (const desc of await bundleReferrers(ctx)) {
    ctx.signal.throwIfAborted();
    let found: FoundBundle | Failure | null;
    try {
      found = await fetchBundle(ctx, desc);
    } catch (e) {
      read.fetchError ??= e;
      continue;
    }
    if (found === null) continue;
    read.bundles++;
    if (await visit(found)) break;
  }
  return read;
}
