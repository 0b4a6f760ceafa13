/**
 * in-toto statements carried in DSSE envelopes, and the one rule that makes a statement
 * a cosign image signature. The statement is parsed as JSON, never compared as bytes:
 * cosign 3 writes it with spaces between members.
 *
 * Kept apart from bundle verification so that attestation rules (other predicate types)
 * reuse the same verified statements.
 */

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** the predicate type cosign 3 signs for `cosign sign` (an image signature, not an attestation) */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

export interface StatementSubject {
  name?: string;
  digest: Record<string, string>;
}

export interface InTotoStatement {
  type: string;
  predicateType: string;
  subject: StatementSubject[];
  predicate: unknown;
}

/** Parse a DSSE payload as an in-toto statement; a string says why it is not one. */
export function parseStatement(payloadType: string, payload: Buffer): InTotoStatement | string {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return `DSSE payload type is ${JSON.stringify(payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`;
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'the DSSE payload is not JSON';
  }
  if (!isObject(doc)) return 'the in-toto statement is not a JSON object';
  const { _type: type, predicateType, subject } = doc;
  if (typeof type !== 'string' || !type.startsWith('https://in-toto.io/Statement/'))
    return 'the payload is not an in-toto statement (_type)';
  if (typeof predicateType !== 'string' || !predicateType) return 'the in-toto statement has no predicateType';
  if (!Array.isArray(subject) || !subject.every(isSubject)) return 'the in-toto statement has no valid subject list';
  return { type, predicateType, subject, predicate: doc.predicate };
}

/** The statement names `digest` ('sha256:<hex>') among its subjects. */
export function namesDigest(statement: InTotoStatement, digest: string): boolean {
  const [algorithm, hex] = digest.split(':');
  if (!algorithm || !hex) return false;
  return statement.subject.some((s) => s.digest[algorithm]?.toLowerCase() === hex);
}

/** The sha256 digests a statement names, for the detail of a DIGEST_MISMATCH. */
export function subjectDigests(statement: InTotoStatement): string[] {
  return statement.subject.flatMap((s) => Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex}`));
}

export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'NOT_A_SIGNATURE' | 'DIGEST_MISMATCH'; detail: string };

/** Is this verified statement a cosign signature of exactly this image digest? */
export function isCosignSignatureFor(statement: InTotoStatement, digest: string): SignatureCheck {
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE) {
    return {
      ok: false,
      reason: 'NOT_A_SIGNATURE',
      detail: `an attestation (predicateType ${statement.predicateType}), not a cosign signature`,
    };
  }
  if (!namesDigest(statement, digest)) {
    return {
      ok: false,
      reason: 'DIGEST_MISMATCH',
      detail: `signs ${subjectDigests(statement).join(', ') || 'no digest'}, not ${digest}`,
    };
  }
  return { ok: true };
}

function isSubject(v: unknown): v is StatementSubject {
  return isObject(v) && isObject(v.digest) && Object.values(v.digest).every((d) => typeof d === 'string');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
