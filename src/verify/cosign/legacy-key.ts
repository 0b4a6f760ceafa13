/**
 * cosign key-based verification of legacy `.sig` signatures.
 *
 * cosign stores the signatures of image `sha256:<hex>` as an OCI manifest tagged
 * `sha256-<hex>.sig` in the image's repository. Each layer of media type
 * `application/vnd.dev.cosign.simplesigning.v1+json` is one signature: the layer blob is
 * the signed payload (a small "simple signing" JSON document that names the image
 * digest) and the annotation `dev.cosignproject.cosign/signature` holds the base64
 * signature over those exact bytes. Any one layer that verifies with our key and names
 * the image's digest admits the image, as with `cosign verify --key`.
 *
 * Reason codes when no layer is valid (the most telling one wins, see worstFailure):
 *   - DIGEST_MISMATCH: our key signed it, but for another image (e.g. a `.sig` copied
 *     from another digest).
 *   - SIGNATURE_INVALID: the evidence is broken: the annotation is not base64, the
 *     payload is not a cosign payload, is too large, or the signature does not verify
 *     and the payload does not even name this image (a payload edited after signing).
 *   - UNTRUSTED_SIGNER: a well-formed payload for this image whose signature does not
 *     verify with our key: signed by someone else.
 *
 * The last two cannot be told apart by cryptography: a payload edited after signing
 * that still names this image (e.g. only its docker-reference changed) reports
 * UNTRUSTED_SIGNER. Both deny; the split only guides the operator to the likely cause
 * (the common one being a key mismatch).
 *
 * cosign itself does not check `critical.identity.docker-reference` (images are
 * re-tagged and mirrored), so neither do we; we do require `critical.type`.
 *
 * Registry trouble (auth, network, a blob whose bytes do not match its digest) is thrown
 * as RegistryError and never turned into a verdict. An absent `.sig` tag is
 * SIGNATURE_MISSING; but a payload blob that the signature manifest names and the
 * registry answers 404 for is thrown as RegistryError NOT_FOUND, which decide() reports
 * as REGISTRY_ERROR and never admits, not even with onError: allow (whoever can push can
 * delete a blob).
 */
import type { Descriptor, Manifest } from '../../core/registry.js';
import { shortFingerprint, verifySignature, type KeySource, type PublicKeyHandle } from './keys.js';
import {
  VerifierError,
  worstFailure,
  type FailureReason,
  type VerifierVerdict,
  type Verifier,
  type VerifyContext,
} from '../../core/verifier.js';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

/**
 * A simple signing payload is ~270 bytes, a few KiB with `cosign sign -a` annotations.
 * 1 MiB is far above any real one and far below DESIGN's 32 MiB envelope cap, which is
 * meant for envelopes that embed certificate chains and timestamps.
 */
export const MAX_SIMPLE_SIGNING_PAYLOAD_BYTES = 1024 * 1024;
/** cosign adds one layer per signer and skips duplicates; 32 signers is already unusual. */
export const MAX_SIGNATURE_LAYERS = 32;

const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;
const BLOB_DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const STRICT_BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

type Failure = { ok: false; reason: FailureReason; detail: string };
type LayerResult = { ok: true } | Failure;

/** What a simple signing payload claims, or why it is not one. */
export type Statement = { wellFormed: true; digest: string } | { wellFormed: false; problem: string };

/** 'sha256:<hex>' → 'sha256-<hex>.sig', where cosign keeps the signatures of that digest. */
export function cosignSignatureTag(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new VerifierError('INTERNAL_ERROR', `not an image digest: "${digest}"`);
  return `${m[1]}-${m[2]}.sig`;
}

export class CosignKeyVerifier implements Verifier {
  private loaded: PublicKeyHandle | undefined;

  constructor(private readonly keySource: KeySource) {
    this.loaded = keySource.known;
  }

  get description(): string {
    const what = `cosign ${this.keySource.describe}`;
    return this.loaded ? `${what} ${shortFingerprint(this.loaded.fingerprint)}` : what;
  }

  async verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    // Start the key load (KMS on a cold start) while the registry is asked for the signature.
    const key = this.loadKey(ctx.signal);
    key.catch(() => undefined); // awaited below; an unsigned image needs no key
    const manifest = await this.findSignatureManifest(ctx);
    if (!manifest) return this.signatureMissing(ctx);
    const layers = this.signatureLayers(manifest, ctx);
    if (!Array.isArray(layers)) return layers;
    const handle = await key;
    const payloads = new Map<string, Promise<Buffer>>();
    const failures: Failure[] = [];
    for (const [index, layer] of layers.entries()) {
      const result = await this.checkLayer(layer, handle, ctx, payloads);
      if (result.ok) return { ok: true, by: this.description };
      failures.push(
        layers.length > 1 ? { ...result, detail: `layer ${index + 1} of ${layers.length}: ${result.detail}` } : result,
      );
    }
    return worstFailure(failures) ?? this.signatureMissing(ctx);
  }

  private async loadKey(signal: AbortSignal): Promise<PublicKeyHandle> {
    this.loaded = await this.keySource.load(signal);
    return this.loaded;
  }

  private findSignatureManifest(ctx: VerifyContext): Promise<Manifest | null> {
    return ctx.repo.findManifest(cosignSignatureTag(ctx.target.digest), ctx.signal);
  }

  private signatureMissing(ctx: VerifyContext): Failure {
    return {
      ok: false,
      reason: 'SIGNATURE_MISSING',
      detail: `no cosign signature found (tag ${cosignSignatureTag(ctx.target.digest)})`,
    };
  }

  /** The simple signing layers, checked for shape and count before anything is fetched. */
  private signatureLayers(manifest: Manifest, ctx: VerifyContext): Descriptor[] | Failure {
    const tag = cosignSignatureTag(ctx.target.digest);
    const layers: unknown = manifest.json.layers;
    if (!Array.isArray(layers)) return invalid(`signature manifest ${tag} has no layers`);
    const signing = layers.filter((l): l is Descriptor => isObject(l) && l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE);
    if (!signing.length) return invalid(`signature manifest ${tag} has no ${SIMPLE_SIGNING_MEDIA_TYPE} layer`);
    if (signing.length > MAX_SIGNATURE_LAYERS) {
      return invalid(
        `signature manifest ${tag} has ${signing.length} signature layers, more than the ${MAX_SIGNATURE_LAYERS} we check`,
      );
    }
    const malformed = signing.find(
      (l) =>
        // Stryker disable next-line ConditionalExpression: a digest that is not a string fails the pattern just after
        typeof l.digest !== 'string' ||
        !BLOB_DIGEST_RE.test(l.digest) ||
        !Number.isSafeInteger(l.size) ||
        // Stryker disable next-line EqualityOperator: a 0-byte layer is refused a step later (an empty payload is no claim), SIGNATURE_INVALID all the same
        l.size < 0,
    );
    if (malformed) return invalid(`signature manifest ${tag} has a malformed layer descriptor`);
    return signing;
  }

  private async checkLayer(
    layer: Descriptor,
    key: PublicKeyHandle,
    ctx: VerifyContext,
    payloads: Map<string, Promise<Buffer>>,
  ): Promise<LayerResult> {
    const signature = this.decodeSignature(layer);
    if (!Buffer.isBuffer(signature)) return signature;
    const payload = await this.fetchPayload(layer, ctx, payloads);
    if (!Buffer.isBuffer(payload)) return payload;
    const statement = parseStatement(payload);
    return verifySignature(key, payload, signature)
      ? this.checkSignedStatement(statement, ctx.target.digest)
      : this.explainUnverified(statement, ctx.target.digest);
  }

  private decodeSignature(layer: Descriptor): Buffer | Failure {
    const text = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (
      // Stryker disable next-line ConditionalExpression: a value that is not a string fails the base64 check just below, SIGNATURE_INVALID all the same
      typeof text !== 'string' ||
      !text
    )
      return invalid(`signature layer has no ${SIGNATURE_ANNOTATION} annotation`);
    // Buffer.from(…, 'base64') skips characters it does not know; cosign (Go StdEncoding) refuses them.
    if (!STRICT_BASE64_RE.test(text)) return invalid(`the ${SIGNATURE_ANNOTATION} annotation is not base64`);
    return Buffer.from(text, 'base64');
  }

  /** The payload blob, once per digest: cosign layers of one manifest often share it. */
  private async fetchPayload(
    layer: Descriptor,
    ctx: VerifyContext,
    payloads: Map<string, Promise<Buffer>>,
  ): Promise<Buffer | Failure> {
    if (layer.size > MAX_SIMPLE_SIGNING_PAYLOAD_BYTES) {
      return invalid(
        `signature payload of ${layer.size} bytes exceeds the ${MAX_SIMPLE_SIGNING_PAYLOAD_BYTES}-byte cap`,
      );
    }
    let fetch = payloads.get(layer.digest);
    if (!fetch) {
      fetch = ctx.repo.getBlob(layer.digest, MAX_SIMPLE_SIGNING_PAYLOAD_BYTES, ctx.signal);
      payloads.set(layer.digest, fetch);
    }
    const payload = await fetch;
    // The digest matched (the client checks it), so a different length means the descriptor lied.
    if (payload.length !== layer.size)
      return invalid(`signature layer declares ${layer.size} bytes but its blob has ${payload.length}`);
    return payload;
  }

  /** The signature is ours: the payload must be a cosign image signature for this digest. */
  private checkSignedStatement(statement: Statement, digest: string): LayerResult {
    if (!statement.wellFormed)
      return invalid(`payload signed by ${this.keyName()} is not a cosign image signature: ${statement.problem}`);
    if (statement.digest !== digest) {
      return {
        ok: false,
        reason: 'DIGEST_MISMATCH',
        detail: `cosign signature by ${this.keyName()} is for ${statement.digest}, not ${digest}`,
      };
    }
    return { ok: true };
  }

  /** The signature is not ours: someone else's signature, or a payload changed after signing. */
  private explainUnverified(statement: Statement, digest: string): Failure {
    if (!statement.wellFormed) {
      return invalid(
        `signature does not verify with ${this.keyName()} and the payload is not a cosign image signature: ${statement.problem}`,
      );
    }
    if (statement.digest !== digest) {
      return invalid(
        `signature does not verify with ${this.keyName()} and its payload names ${statement.digest}, not ${digest} (payload altered after signing, or a signature copied from another image)`,
      );
    }
    return { ok: false, reason: 'UNTRUSTED_SIGNER', detail: `cosign signature was not made by ${this.keyName()}` };
  }

  private keyName(): string {
    return this.loaded
      ? `${this.keySource.describe} ${shortFingerprint(this.loaded.fingerprint)}`
      : this.keySource.describe;
  }
}

/** Read the claim of a simple signing payload (github.com/sigstore/cosign/pkg/types, SimpleContainerImage). */
export function parseStatement(payload: Buffer): Statement {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { wellFormed: false, problem: 'not JSON' };
  }
  const critical = isObject(doc) ? doc.critical : undefined;
  if (!isObject(critical)) return { wellFormed: false, problem: 'no "critical" object' };
  if (critical.type !== COSIGN_SIGNATURE_TYPE) {
    return {
      wellFormed: false,
      problem: `critical.type is ${JSON.stringify(critical.type)}, not "${COSIGN_SIGNATURE_TYPE}"`,
    };
  }
  const digest = isObject(critical.image) ? critical.image['docker-manifest-digest'] : undefined;
  if (
    // Stryker disable next-line ConditionalExpression: RegExp.test of a non-string reads its String(), which no digest pattern matches
    typeof digest !== 'string' ||
    !DIGEST_RE.test(digest)
  )
    return { wellFormed: false, problem: 'no valid critical.image.docker-manifest-digest' };
  return { wellFormed: true, digest };
}

function invalid(detail: string): Failure {
  return { ok: false, reason: 'SIGNATURE_INVALID', detail };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
