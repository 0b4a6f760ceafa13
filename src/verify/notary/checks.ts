/**
 * The validation steps of the Notary Project verification workflow, in the words of
 * the trust-store-trust-policy specification: integrity, authenticity (trust store,
 * trusted identity), authentic timestamp, expiry. Each returns null when it passes,
 * or a failure with a reason code. Shared by the Notation and AWS Signer verifiers.
 */
import type { Descriptor } from '../../core/registry.js';
import { algForKey, verifySignature } from './algorithms.js';
import { parseCose } from './cose.js';
import { failure, type Failure, type FoundEnvelope } from './discovery.js';
import { EnvelopeError, MEDIA_TYPE_JWS, type SignedEnvelope } from './envelope.js';
import { parseJws } from './jws.js';
import { TimestampError, verifyTimestamp } from './timestamp.js';
import { Certificate, CertificateError, chainProblem, validityProblem } from './x509.js';

export interface Intact {
  envelope: SignedEnvelope;
  /** leaf first, as in the envelope */
  chain: Certificate[];
}

export interface IntegrityOptions {
  /** extended critical attributes this verifier processes (e.g. AWS Signer's) */
  understood: ReadonlySet<string>;
  /** the verification plugin this verifier stands in for, if any */
  plugin?: string;
}

/**
 * Integrity: the envelope parses, its algorithm fits the signing key, the signature
 * verifies, every critical header is understood, the chain is a well-formed
 * code-signing chain, and the payload names exactly the image's descriptor.
 */
export function checkIntegrity(found: FoundEnvelope, target: Descriptor, opts: IntegrityOptions): Intact | Failure {
  let envelope: SignedEnvelope;
  let chain: Certificate[];
  try {
    envelope = found.mediaType === MEDIA_TYPE_JWS ? parseJws(found.bytes) : parseCose(found.bytes);
    chain = envelope.certChain.map((der) => Certificate.fromDer(der));
  } catch (e) {
    if (e instanceof EnvelopeError || e instanceof CertificateError)
      return failure('SIGNATURE_INVALID', `signature ${short(found)}: ${e.message}`);
    throw e;
  }
  const leaf = chain[0]!;
  const expected = algForKey(leaf.publicKey);
  if (expected !== envelope.alg) {
    const why = expected.length > 5 ? expected : `the signing key requires ${expected}`;
    return failure('SIGNATURE_INVALID', `signature ${short(found)} uses ${envelope.alg}, but ${why}`);
  }
  if (!verifySignature(envelope.alg, leaf.publicKey, envelope.signedBytes, envelope.signature)) {
    return failure('SIGNATURE_INVALID', `signature ${short(found)} does not verify with the key of "${leaf.subject}"`);
  }
  const unknown = Object.keys(envelope.extendedCritical).filter((k) => !opts.understood.has(k));
  if (unknown.length)
    return failure(
      'SIGNATURE_INVALID',
      `signature ${short(found)} has critical header(s) not understood: ${unknown.join(', ')}`,
    );
  if (envelope.verificationPlugin && envelope.verificationPlugin !== opts.plugin) {
    return failure(
      'SIGNATURE_INVALID',
      `signature ${short(found)} requires verification plugin "${envelope.verificationPlugin}", which is not available in process (fail closed)`,
    );
  }
  const problem = chainProblem(chain, 'codeSigning');
  if (problem) return failure('UNTRUSTED_SIGNER', `signature ${short(found)}: ${problem}`);
  const mismatch = targetMismatch(envelope.payload, target);
  if (mismatch) return mismatch;
  return { envelope, chain };
}

function targetMismatch(payload: Buffer, target: Descriptor): Failure | null {
  let t: Record<string, unknown> | undefined;
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as { targetArtifact?: unknown };
    if (parsed && typeof parsed.targetArtifact === 'object' && parsed.targetArtifact)
      t = parsed.targetArtifact as Record<string, unknown>;
  } catch {
    /* handled below */
  }
  if (!t) return failure('SIGNATURE_INVALID', 'the signed payload has no targetArtifact');
  const diffs: string[] = [];
  if (t.digest !== target.digest) diffs.push(`digest ${String(t.digest)} ≠ ${target.digest}`);
  if (t.size !== target.size) diffs.push(`size ${String(t.size)} ≠ ${target.size}`);
  if (t.mediaType !== target.mediaType) diffs.push(`mediaType ${String(t.mediaType)} ≠ ${target.mediaType}`);
  return diffs.length ? failure('DIGEST_MISMATCH', `the signature is for another artifact: ${diffs.join(', ')}`) : null;
}

/** Authenticity, trust store: some certificate of the chain is one of the trusted ones. */
export function trustedAnchor(chain: Certificate[], trusted: Certificate[]): Certificate | undefined {
  return trusted.find((t) => chain.some((c) => c.equals(t)));
}

export interface TimeOptions {
  now: Date;
  /** TSA roots; empty: timestamps are not verified (notation: no tsa store in the policy) */
  tsa: Certificate[];
  verifyTimestamp: 'always' | 'afterCertExpiry';
}

/**
 * Authentic timestamp. notary.x509: with TSA roots configured, the RFC 3161 timestamp
 * must verify and its range fall inside every certificate's validity; otherwise the
 * chain must be valid now. signingAuthority: the authentic signing time must fall inside.
 */
export function authenticTimestampProblem(intact: Intact, opts: TimeOptions): Failure | null {
  return authenticTimestamp(intact, opts).failure;
}

/** As authenticTimestampProblem, also giving the TSA chain of a verified timestamp (for revocation). */
export function authenticTimestamp(
  intact: Intact,
  opts: TimeOptions,
): { failure: Failure | null; tsaChain?: Certificate[] } {
  const { envelope, chain } = intact;
  if (envelope.signingScheme === 'notary.x509.signingAuthority') {
    const p = validityProblem(chain, envelope.authenticSigningTime!);
    return { failure: p ? failure('EXPIRED', `at the authentic signing time: ${p}`) : null };
  }
  const useTimestamp =
    opts.tsa.length > 0 && (opts.verifyTimestamp === 'always' || validityProblem(chain, opts.now) !== null);
  if (!useTimestamp) {
    const p = validityProblem(chain, opts.now);
    return { failure: p ? failure('EXPIRED', p) : null };
  }
  if (!envelope.timestampToken)
    return {
      failure: failure('EXPIRED', 'the trust policy requires a timestamp countersignature and the signature has none'),
    };
  try {
    const ts = verifyTimestamp(envelope.timestampToken, envelope.signature, opts.tsa);
    const p = validityProblem(chain, ts.lower, ts.upper);
    return {
      failure: p ? failure('EXPIRED', `at the timestamp ${ts.genTime.toISOString()}: ${p}`) : null,
      tsaChain: ts.tsaChain,
    };
  } catch (e) {
    if (e instanceof TimestampError)
      return { failure: failure('SIGNATURE_INVALID', `timestamp countersignature: ${e.message}`) };
    throw e;
  }
}

/** Expiry: the signer's own "best before" (io.cncf.notary.expiry). */
export function expiryProblem(envelope: SignedEnvelope, now: Date): Failure | null {
  return envelope.expiry && now >= envelope.expiry
    ? failure('EXPIRED', `the signature expired at ${envelope.expiry.toISOString()}`)
    : null;
}

function short(found: FoundEnvelope): string {
  return found.manifest.digest.slice(0, 19);
}
