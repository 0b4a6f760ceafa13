/**
 * Legacy `.sig` signatures verified through @sigstore/verify: keyless layers (a Fulcio
 * or private-CA certificate) and key layers whose policy requires a Rekor entry.
 *
 * cosign keeps what a bundle would hold in layer annotations:
 *   dev.cosignproject.cosign/signature      base64 signature over the payload blob
 *   dev.sigstore.cosign/certificate         PEM signing certificate (keyless)
 *   dev.sigstore.cosign/chain               PEM chain (ignored: chains are built from
 *                                           the trust material only)
 *   dev.sigstore.cosign/bundle              Rekor SET: {SignedEntryTimestamp, Payload:
 *                                           {body, integratedTime, logIndex, logID}}
 *   dev.sigstore.cosign/rfc3161timestamp    {SignedRFC3161Timestamp}
 * Each layer becomes a v0.1 bundle (the only version whose log entry may carry just a
 * promise) with a message signature over the payload, and is verified like a bundle;
 * then the payload must name the image digest.
 */
import { createHash } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import type { Descriptor } from '../../core/registry.js';
import {
  cosignSignatureTag,
  MAX_SIGNATURE_LAYERS,
  MAX_SIMPLE_SIGNING_PAYLOAD_BYTES,
  parseStatement,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from './legacy-key.js';
import { worstFailure, type VerifierVerdict, type Verifier, type VerifyContext } from '../../core/verifier.js';
import { verifyBundle, type BundleTrust, type Failure } from './bundle-verifier.js';
import type { SignerPolicy } from './signer-policy.js';

export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
export const TIMESTAMP_ANNOTATION = 'dev.sigstore.cosign/rfc3161timestamp';

export const BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BLOB_DIGEST = /^sha256:[a-f0-9]{64}$/;

export class LegacySigVerifier implements Verifier {
  constructor(private readonly policy: SignerPolicy) {}

  get description(): string {
    return this.policy.describe();
  }

  async verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    const tag = cosignSignatureTag(ctx.target.digest);
    const manifest = await ctx.repo.findManifest(tag, ctx.signal);
    if (!manifest)
      return {
        ok: false,
        reason: 'SIGNATURE_MISSING',
        detail: `no cosign signature found (no Sigstore bundle, no tag ${tag})`,
      };
    // Stryker disable next-line ArrayDeclaration: an element put in the fallback list is a string, without a mediaType: filtered out
    const layers = (manifest.json.layers ?? [])
      .filter((l) => l?.mediaType === SIMPLE_SIGNING_MEDIA_TYPE)
      .slice(0, MAX_SIGNATURE_LAYERS);
    if (!layers.length)
      return {
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `signature manifest ${tag} has no ${SIMPLE_SIGNING_MEDIA_TYPE} layer`,
      };
    const trust = await this.policy.trust(ctx.signal);
    const failures: Failure[] = [];
    for (const [i, layer] of layers.entries()) {
      const verdict = await this.checkLayer(layer, trust, ctx);
      if (verdict.ok) return verdict;
      failures.push(
        layers.length > 1 ? { ...verdict, detail: `layer ${i + 1} of ${layers.length}: ${verdict.detail}` } : verdict,
      );
    }
    return worstFailure(failures)!;
  }

  private async checkLayer(layer: Descriptor, trust: BundleTrust, ctx: VerifyContext): Promise<VerifierVerdict> {
    if (
      !BLOB_DIGEST.test(layer.digest) ||
      !Number.isSafeInteger(layer.size) ||
      layer.size < 0 ||
      layer.size > MAX_SIMPLE_SIGNING_PAYLOAD_BYTES
    ) {
      return invalid('signature layer has a malformed or oversized descriptor');
    }
    const bundle = legacyBundle(layer.annotations ?? {}, this.policy.signer.kind === 'key');
    if (typeof bundle === 'string') return invalid(bundle);
    const payload = await ctx.repo.getBlob(layer.digest, MAX_SIMPLE_SIGNING_PAYLOAD_BYTES, ctx.signal);
    const hash = createHash('sha256').update(payload);
    // Stryker disable next-line StringLiteral: digest('') gives the Buffer, which protobuf-specs' bytesFromBase64 (Buffer.from(b64, 'base64')) copies as is
    bundle.messageSignature.messageDigest.digest = hash.digest('base64');
    const verdict = verifyBundle(bundle, trust, ctx.now, payload);
    if (!verdict.ok) return verdict;
    const who = this.policy.accept(verdict.bundle.signer);
    if (!who.ok) return who;
    const statement = parseStatement(payload);
    if (!statement.wellFormed)
      return invalid(`payload signed by ${who.by} is not a cosign image signature: ${statement.problem}`);
    if (statement.digest !== ctx.target.digest) {
      return {
        ok: false,
        reason: 'DIGEST_MISMATCH',
        detail: `cosign signature by ${who.by} is for ${statement.digest}, not ${ctx.target.digest}`,
      };
    }
    const via = bundle.verificationMaterial.tlogEntries.length ? ', Rekor SET' : '';
    return { ok: true, by: `${this.policy.signer.kind === 'key' ? 'cosign' : 'cosign keyless'} .sig, ${who.by}${via}` };
  }
}

export interface LegacyBundleJson {
  mediaType: string;
  verificationMaterial: {
    x509CertificateChain?: { certificates: Array<{ rawBytes: string }> };
    publicKey?: { hint: string };
    tlogEntries: unknown[];
    timestampVerificationData: { rfc3161Timestamps: Array<{ signedTimestamp: string }> };
  };
  messageSignature: { messageDigest: { algorithm: 'SHA2_256'; digest: string }; signature: string };
}

/** The layer's annotations as a v0.1 bundle JSON; a string says what is malformed. */
export function legacyBundle(annotations: Record<string, string>, withKey: boolean): LegacyBundleJson | string {
  const signature = annotations[SIGNATURE_ANNOTATION];
  if (!signature || !STRICT_BASE64.test(signature))
    return `the ${SIGNATURE_ANNOTATION} annotation is missing or not base64`;
  const verificationMaterial = legacyMaterial(annotations, withKey);
  if (typeof verificationMaterial === 'string') return verificationMaterial;
  return {
    mediaType: BUNDLE_V01,
    verificationMaterial,
    messageSignature: {
      // Stryker disable next-line ObjectLiteral: checkLayer sets the digest before use; no algorithm reads as HASH_ALGORITHM_UNSPECIFIED, which @sigstore/verify hashes with sha256, as SHA2_256
      messageDigest: {
        algorithm: 'SHA2_256',
        // Stryker disable next-line StringLiteral: a placeholder: checkLayer sets the payload's digest before the bundle is read
        digest: '',
      },
      signature,
    },
  };
}

/** The certificate (or key), Rekor SET and timestamp annotations as v0.1 verification material (also for `.att` layers). */
export function legacyMaterial(
  annotations: Record<string, string>,
  withKey: boolean,
): LegacyBundleJson['verificationMaterial'] | string {
  const key = withKey
    ? {
        // Stryker disable next-line ObjectLiteral: protobuf-specs reads a missing hint as '' all the same (cosign writes none)
        publicKey: { hint: '' },
      }
    : certificateMaterial(annotations[CERTIFICATE_ANNOTATION]);
  if (typeof key === 'string') return key;
  const tlogEntries = rekorEntries(annotations[REKOR_BUNDLE_ANNOTATION]);
  if (typeof tlogEntries === 'string') return tlogEntries;
  const timestamps = rfc3161(annotations[TIMESTAMP_ANNOTATION]);
  if (typeof timestamps === 'string') return timestamps;
  return { ...key, tlogEntries, timestampVerificationData: { rfc3161Timestamps: timestamps } };
}

function certificateMaterial(
  pem: string | undefined,
): Pick<LegacyBundleJson['verificationMaterial'], 'x509CertificateChain'> | string {
  if (!pem) return `no ${CERTIFICATE_ANNOTATION} annotation: not a keyless signature`;
  try {
    const der = X509Certificate.parse(pem).root.toDER();
    return { x509CertificateChain: { certificates: [{ rawBytes: der.toString('base64') }] } };
  } catch {
    return `the ${CERTIFICATE_ANNOTATION} annotation is not a PEM certificate`;
  }
}

/** dev.sigstore.cosign/bundle → one tlog entry with its promise (SET). */
function rekorEntries(text: string | undefined): unknown[] | string {
  if (text === undefined) return [];
  const bad = `the ${REKOR_BUNDLE_ANNOTATION} annotation is not a Rekor bundle`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } /* Stryker disable next-line BlockStatement: without the return, doc stays undefined and the field checks below return bad */ catch {
    return bad;
  }
  const set = get(doc, 'SignedEntryTimestamp');
  const payload = get(doc, 'Payload');
  const body = get(payload, 'body');
  const integratedTime = get(payload, 'integratedTime');
  const logIndex = get(payload, 'logIndex');
  const logID = get(payload, 'logID');
  if (
    typeof set !== 'string' ||
    typeof body !== 'string' ||
    typeof integratedTime !== 'number' ||
    typeof logIndex !== 'number' ||
    typeof logID !== 'string'
  )
    return bad;
  if (!/^[a-f0-9]{64}$/.test(logID)) return bad;
  let kind: unknown;
  let version: unknown;
  try {
    const decoded = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
    kind = decoded.kind;
    version = decoded.apiVersion;
  } /* Stryker disable next-line BlockStatement: without the return, kind and version stay undefined and the check below returns bad */ catch {
    return bad;
  }
  if (typeof kind !== 'string' || typeof version !== 'string') return bad;
  return [
    {
      logIndex: String(logIndex),
      logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
      kindVersion: { kind, version },
      integratedTime: String(integratedTime),
      inclusionPromise: { signedEntryTimestamp: set },
      canonicalizedBody: body,
    },
  ];
}

function rfc3161(text: string | undefined): Array<{ signedTimestamp: string }> | string {
  if (text === undefined) return [];
  try {
    const ts = get(JSON.parse(text), 'SignedRFC3161Timestamp');
    if (typeof ts === 'string' && STRICT_BASE64.test(ts)) return [{ signedTimestamp: ts }];
  } catch {
    // reported below
  }
  return `the ${TIMESTAMP_ANNOTATION} annotation is not an RFC 3161 timestamp`;
}

function invalid(detail: string): Failure {
  return { ok: false, reason: 'SIGNATURE_INVALID', detail };
}

function get(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
}
