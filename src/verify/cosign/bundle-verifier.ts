/**
 * One Sigstore bundle, verified with @sigstore/verify and the checks it leaves to us.
 *
 * The library checks the signature, the certificate chain to the trust material at
 * every trusted signing time (so the signing time lies inside the certificate's
 * validity), the SCTs, the log entries (inclusion proof or promise, and that the body
 * records this signature) and RFC 3161 timestamps. It does not check: that the key in
 * the Rekor body is the signer's (checked here), the signer's identity with anchored
 * patterns (identity.ts), nor what the statement says (statement.ts). It also cannot
 * verify a certificate with no signing time at all (it throws a TypeError): a private
 * CA without a log is checked here, at the current time.
 *
 * Returns the verified signer and, for DSSE bundles, the verified in-toto statement;
 * every failure is a verdict with a reason code, never an exception, so one hostile
 * bundle among several cannot stop the others from being tried.
 */
import { X509Certificate as StrictX509 } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { crypto as sigCrypto, RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import {
  toSignedEntity,
  Verifier,
  VerificationError,
  type SignedEntity,
  type TrustMaterial,
  type VerifierOptions,
} from '@sigstore/verify';
import type { PublicKeyHandle } from './keys.js';
import type { FailureReason } from '../../core/verifier.js';
import { certificateIdentity, describeIdentity, type CertificateIdentity } from './identity.js';
import { parseStatement, type InTotoStatement } from './statement.js';

export type TlogMode = 'required' | 'skip';

/** Who may have signed: a public key, a Fulcio certificate, or a private CA's certificate. */
export type SignerTrust =
  | { kind: 'key'; key: PublicKeyHandle; describe: string }
  | { kind: 'fulcio' }
  | { kind: 'private-ca' };

export interface BundleTrust {
  material: TrustMaterial;
  signer: SignerTrust;
  tlog: TlogMode;
}

export type VerifiedSigner =
  | { kind: 'key'; fingerprint: string }
  | { kind: 'certificate'; certificate: X509Certificate; identity: CertificateIdentity };

export interface VerifiedBundle {
  signer: VerifiedSigner;
  /** the signed in-toto statement (DSSE bundles); null for a message signature */
  statement: InTotoStatement | null;
  /** why a DSSE payload is not an in-toto statement, when it is not */
  statementProblem?: string;
}

export type Failure = { ok: false; reason: FailureReason; detail: string };
export type BundleVerdict = { ok: true; bundle: VerifiedBundle } | Failure;

const fail = (reason: FailureReason, detail: string): Failure => ({ ok: false, reason, detail });

/**
 * Verify one serialized bundle. `artifact` is needed only for message-signature bundles.
 * Whatever a hostile bundle makes the parsers throw (a certificate's fields are parsed
 * lazily, on first read) ends as a failure here, never as an exception.
 */
export function verifyBundle(json: unknown, trust: BundleTrust, now: Date, artifact?: Buffer): BundleVerdict {
  try {
    return verifyParsed(json, trust, now, artifact);
  } catch (e) {
    // Stryker disable next-line OptionalChaining: nothing verifyParsed calls throws null or undefined (the parsers and the library throw Errors), so `?.` never stops here
    return fail('SIGNATURE_INVALID', `bundle could not be verified: ${(e as Error)?.message ?? String(e)}`);
  }
}

function verifyParsed(json: unknown, trust: BundleTrust, now: Date, artifact?: Buffer): BundleVerdict {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (e) {
    return fail('SIGNATURE_INVALID', `malformed Sigstore bundle: ${(e as Error).message}`);
  }
  if (trust.tlog === 'skip') bundle = withoutLogEntries(bundle);
  const material = bundle.verificationMaterial.content;
  if (trust.signer.kind === 'key' && material.$case !== 'publicKey') {
    return fail('UNTRUSTED_SIGNER', `bundle is signed with a certificate, the policy expects ${trust.signer.describe}`);
  }
  if (trust.signer.kind !== 'key' && material.$case === 'publicKey') {
    return fail(
      'UNTRUSTED_SIGNER',
      `bundle is signed with a public key (hint ${material.publicKey.hint || 'none'}), the policy expects a keyless certificate`,
    );
  }
  if (bundle.content.$case === 'messageSignature' && !artifact) {
    // cosign signs images with DSSE statements; a message signature over some other artifact is not one
    return fail(
      'SIGNATURE_MISSING',
      'a message-signature bundle (not a DSSE statement), so not a cosign image signature',
    );
  }
  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, artifact);
  } catch (e) {
    return fail('SIGNATURE_INVALID', `malformed Sigstore bundle: ${(e as Error).message}`);
  }
  const malformed = malformedCertificate(bundle);
  if (malformed) return malformed;
  const verdict = checkEntity(entity, bundle, trust, now);
  if (!verdict.ok) return verdict;
  const logged = checkLoggedKey(bundle, verdict.signer, trust);
  if (logged) return logged;
  return { ok: true, bundle: { signer: verdict.signer, ...statementOf(bundle) } };
}

/**
 * The signing certificate must be well-formed DER, as cosign's Go parser requires.
 * @sigstore/core's parser is lenient: it reads a certificate whose outer SEQUENCE tag
 * was altered (so the bytes are also parsed by OpenSSL), and ignores the unused-bits
 * count of the signature BIT STRING (which OpenSSL accepts too: checked here).
 */
function malformedCertificate(bundle: Bundle): Failure | undefined {
  const material = bundle.verificationMaterial.content;
  if (material.$case === 'publicKey') return undefined;
  // the bytes toSignedEntity parsed (a chain with no certificate was refused there)
  const der = Buffer.from(
    material.$case === 'certificate'
      ? material.certificate.rawBytes
      : material.x509CertificateChain.certificates[0]!.rawBytes,
  );
  try {
    new StrictX509(der);
    const signature = X509Certificate.parse(der).root.subs[2];
    // Stryker disable next-line ConditionalExpression,OptionalChaining: OpenSSL has just read these bytes as a certificate, so its third element is there and is a BIT STRING; only the unused-bits byte can be wrong
    if (signature?.tag.number !== 3 || signature.value[0] !== 0)
      throw new Error('the signature is not a whole number of bytes');
    return undefined;
  } catch (e) {
    return fail(
      'SIGNATURE_INVALID',
      `the bundle's signing certificate is not a well-formed DER certificate: ${(e as Error).message}`,
    );
  }
}

function checkEntity(
  entity: SignedEntity,
  bundle: Bundle,
  trust: BundleTrust,
  now: Date,
): { ok: true; signer: VerifiedSigner } | Failure {
  // Stryker disable next-line ConditionalExpression: a public key's entity.key has no certificate field, so reading it gives undefined as well
  const leaf = entity.key.$case === 'certificate' ? entity.key.certificate : undefined;
  if (leaf && entity.timestamps.length === 0) {
    if (trust.signer.kind === 'fulcio') {
      return fail(
        'SIGNATURE_INVALID',
        'no trusted signing time: the bundle has neither a Rekor entry with a promise nor an RFC 3161 timestamp',
      );
    }
    return checkPrivateCaNow(entity, leaf, trust.material, now);
  }
  try {
    new Verifier(trust.material, thresholds(trust)).verify(entity);
  } catch (e) {
    return explain(e, bundle, leaf, trust);
  }
  if (leaf)
    return { ok: true, signer: { kind: 'certificate', certificate: leaf, identity: certificateIdentity(leaf) } };
  return { ok: true, signer: { kind: 'key', fingerprint: (trust.signer as { key: PublicKeyHandle }).key.fingerprint } };
}

/** cosign's defaults: Fulcio needs an SCT, a log entry (unless skipped) and a signing time. */
function thresholds(trust: BundleTrust): VerifierOptions {
  const tlogThreshold = trust.tlog === 'required' ? 1 : 0;
  if (trust.signer.kind === 'fulcio') return { ctlogThreshold: 1, tlogThreshold, timestampThreshold: 1 };
  return { ctlogThreshold: 0, tlogThreshold, timestampThreshold: 0 };
}

/** The library's verification errors, as reason codes with a sentence. */
function explain(e: unknown, bundle: Bundle, leaf: X509Certificate | undefined, trust: BundleTrust): Failure {
  if (!(e instanceof VerificationError)) {
    // not a verdict the library meant to give (e.g. a TypeError on odd input): never a pass
    // Stryker disable next-line OptionalChaining: the library throws Errors, never null or undefined
    return fail('SIGNATURE_INVALID', `bundle could not be verified: ${(e as Error)?.message ?? String(e)}`);
  }
  const message = `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}`;
  switch (e.code) {
    case 'CERTIFICATE_ERROR':
      // the library checks a certificate only when the bundle has one
      return explainCertificate(message, bundle, leaf!);
    case 'PUBLIC_KEY_ERROR':
      // a public-key bundle reaches the library only under a key policy (refused above otherwise)
      return fail(
        'UNTRUSTED_SIGNER',
        `bundle was not signed by ${(trust.signer as { describe: string }).describe}: ${message}`,
      );
    case 'SIGNATURE_ERROR':
      if (trust.signer.kind === 'key') {
        // under a key policy the bundle holds a public key (a certificate was refused above)
        const { hint } = (bundle.verificationMaterial.content as { publicKey: { hint: string } }).publicKey;
        return fail(
          'UNTRUSTED_SIGNER',
          `bundle signature (key hint ${hint || 'none'}) does not verify with ${trust.signer.describe}`,
        );
      }
      // not a key policy: the bundle has a certificate (a public key was refused above)
      return fail(
        'SIGNATURE_INVALID',
        `signature does not verify with the certificate of ${describeIdentity(certificateIdentity(leaf!))}`,
      );
    default:
      // TLOG_*, TIMESTAMP_ERROR: a missing or invalid transparency proof or timestamp
      return fail('SIGNATURE_INVALID', `${e.code}: ${message}`);
  }
}

function explainCertificate(message: string, bundle: Bundle, leaf: X509Certificate): Failure {
  const outside = claimedSigningTimes(bundle).find((t) => !leaf.validForDate(t));
  if (outside) {
    return fail(
      'EXPIRED',
      `certificate of ${describeIdentity(certificateIdentity(leaf))} is valid from ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}, but the signature was made at ${outside.toISOString()}`,
    );
  }
  if (/SCT/.test(message)) return fail('SIGNATURE_INVALID', `certificate transparency: ${message}`);
  return fail(
    'UNTRUSTED_SIGNER',
    `certificate of ${describeIdentity(certificateIdentity(leaf))} does not chain to a trusted CA: ${message}`,
  );
}

/** The signing times the bundle claims (checked by the library; used only to name the cause). */
function claimedSigningTimes(bundle: Bundle): Date[] {
  const times = bundle.verificationMaterial.tlogEntries
    .filter((e) => e.inclusionPromise)
    .map((e) => new Date(Number(e.integratedTime) * 1000));
  // Stryker disable next-line ArrayDeclaration: an item 'Stryker was here' has no signedTimestamp, so its parse throws and is skipped like a malformed one
  for (const ts of bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? []) {
    try {
      times.push(RFC3161Timestamp.parse(Buffer.from(ts.signedTimestamp)).signingTime);
    } catch {
      // a malformed timestamp is the library's to report
    }
  }
  return times;
}

/**
 * A private CA's certificate with no log entry and no timestamp: the chain must hold now
 * (as cosign does with --ca-roots and no tlog), then the signature must verify with it.
 */
function checkPrivateCaNow(
  entity: SignedEntity,
  leaf: X509Certificate,
  material: TrustMaterial,
  now: Date,
): { ok: true; signer: VerifiedSigner } | Failure {
  const identity = certificateIdentity(leaf);
  const chained = material.certificateAuthorities.some((ca) => chainsTo(leaf, ca.certChain, now));
  if (!chained) {
    if (!leaf.validForDate(now)) {
      return fail(
        'EXPIRED',
        `certificate of ${describeIdentity(identity)} is valid from ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}, not now (${now.toISOString()})`,
      );
    }
    return fail('UNTRUSTED_SIGNER', `certificate of ${describeIdentity(identity)} does not chain to a trusted CA`);
  }
  if (!entity.signature.verifySignature(sigCrypto.createPublicKey(leaf.publicKey))) {
    return fail('SIGNATURE_INVALID', `signature does not verify with the certificate of ${describeIdentity(identity)}`);
  }
  return { ok: true, signer: { kind: 'certificate', certificate: leaf, identity } };
}

const MAX_CHAIN = 8;

/** leaf → … → a self-signed certificate, each link issued by a CA in `trusted`, all valid at `now`. */
function chainsTo(leaf: X509Certificate, trusted: X509Certificate[], now: Date): boolean {
  let current = leaf;
  if (!leaf.validForDate(now)) return false;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const issuer = trusted.find(
      (c) => c.isCA && c.subject.equals(current.issuer) && c.validForDate(now) && safeVerify(current, c),
    );
    if (!issuer) return false;
    if (issuer.subject.equals(issuer.issuer) && safeVerify(issuer, issuer)) return true;
    current = issuer;
  }
  return false;
}

function safeVerify(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer);
  } /* Stryker disable next-line BlockStatement: an empty catch returns undefined, which fails the same way as false */ catch {
    return false;
  }
}

/**
 * Every log entry must record the signer's own key or certificate: the library checks
 * that the entry holds this signature, not that it was logged for this key.
 */
function checkLoggedKey(bundle: Bundle, signer: VerifiedSigner, trust: BundleTrust): Failure | undefined {
  const expected =
    signer.kind === 'certificate'
      ? signer.certificate.publicKey
      : (trust.signer as { key: PublicKeyHandle }).key.key.export({ type: 'spki', format: 'der' });
  for (const entry of bundle.verificationMaterial.tlogEntries) {
    const logged = loggedKeys(entry.canonicalizedBody);
    if (!logged.length) return fail('SIGNATURE_INVALID', `Rekor entry ${entry.logIndex} names no verification key`);
    if (!logged.some((k) => k.equals(expected))) {
      return fail('SIGNATURE_INVALID', `Rekor entry ${entry.logIndex} was logged for another key than the signer's`);
    }
  }
  return undefined;
}

/** SPKI DER of every key or certificate a Rekor entry body names. */
export function loggedKeys(canonicalizedBody: Buffer): Buffer[] {
  let body: unknown;
  try {
    body = JSON.parse(canonicalizedBody.toString('utf8'));
  } /* Stryker disable next-line BlockStatement: with no body every candidate below is undefined, so the result is [] as well */ catch {
    return [];
  }
  const spec = get(body, 'spec');
  const candidates: unknown[] = [
    get(spec, 'signature', 'publicKey', 'content'), // hashedrekord, rekord
    ...arr(get(spec, 'signatures')).map((s) => get(s, 'verifier')), // dsse 0.0.1
    ...arr(get(spec, 'content', 'envelope', 'signatures')).map((s) => get(s, 'publicKey')), // intoto 0.0.2
    get(spec, 'publicKey'), // intoto 0.0.1
  ];
  return candidates.flatMap((c) => (typeof c === 'string' ? spkiOf(c) : []));
}

/** base64(PEM of a certificate or public key) → SPKI DER */
function spkiOf(b64: string): Buffer[] {
  try {
    const pem = Buffer.from(b64, 'base64').toString('utf8');
    if (pem.includes('BEGIN CERTIFICATE')) return [X509Certificate.parse(pem).publicKey];
    if (pem.includes('BEGIN PUBLIC KEY'))
      return [sigCrypto.createPublicKey(pem).export({ type: 'spki', format: 'der' })];
  } catch {
    // not a key: ignored, and an entry with no usable key fails above
  }
  return [];
}

function statementOf(bundle: Bundle): Pick<VerifiedBundle, 'statement' | 'statementProblem'> {
  if (bundle.content.$case !== 'dsseEnvelope')
    return { statement: null, statementProblem: 'a message signature, not a DSSE statement' };
  const { payloadType, payload } = bundle.content.dsseEnvelope;
  const parsed = parseStatement(payloadType, payload);
  return typeof parsed === 'string' ? { statement: null, statementProblem: parsed } : { statement: parsed };
}

function withoutLogEntries(bundle: Bundle): Bundle {
  return { ...bundle, verificationMaterial: { ...bundle.verificationMaterial, tlogEntries: [] } } as Bundle;
}

function get(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const p of path) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

function arr(v: unknown): unknown[] {
  // Stryker disable next-line ArrayDeclaration: a non-array read as ['Stryker was here'] yields one string item, whose fields are undefined and name no key
  return Array.isArray(v) ? v : [];
}
