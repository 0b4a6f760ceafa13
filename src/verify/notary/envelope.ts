/**
 * What a Notary Project signature envelope says, whatever its encoding (JWS or COSE):
 * the signed attributes of the signature specification, the bytes the signature
 * covers, and the unsigned certificate chain and timestamp.
 */
import type { Alg } from './algorithms.js';

export const MEDIA_TYPE_JWS = 'application/jose+json';
export const MEDIA_TYPE_COSE = 'application/cose';
export const PAYLOAD_CONTENT_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
export const SIGNATURE_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';

export type SigningScheme = 'notary.x509' | 'notary.x509.signingAuthority';

/** Header names of the Notary Project signed attributes. */
export const ATTR = {
  signingScheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  verificationPlugin: 'io.cncf.notary.verificationPlugin',
  verificationPluginMinVersion: 'io.cncf.notary.verificationPluginMinVersion',
  signingAgent: 'io.cncf.notary.signingAgent',
  timestamp: 'io.cncf.notary.timestampSignature',
} as const;

export interface SignedEnvelope {
  format: 'jws' | 'cose';
  alg: Alg;
  /** the payload bytes exactly as signed */
  payload: Buffer;
  /** the bytes the signature is over (JWS signing input, COSE Sig_structure) */
  signedBytes: Buffer;
  signature: Buffer;
  /** DER certificates, leaf first */
  certChain: Buffer[];
  signingScheme: SigningScheme;
  signingTime?: Date;
  authenticSigningTime?: Date;
  expiry?: Date;
  verificationPlugin?: string;
  verificationPluginMinVersion?: string;
  /** critical protected headers that are not Notary Project attributes: the verifier must understand each */
  extendedCritical: Record<string, unknown>;
  /** RFC 3161 TimeStampToken (CMS ContentInfo DER) over the signature bytes */
  timestampToken?: Buffer;
}

/** The envelope is malformed or breaks the signature specification: SIGNATURE_INVALID. */
export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

/** Notary attributes that may appear in `crit`, and those that must when present. */
export const NOTARY_CRITICAL = new Set<string>([
  ATTR.signingScheme,
  ATTR.authenticSigningTime,
  ATTR.expiry,
  ATTR.verificationPlugin,
  ATTR.verificationPluginMinVersion,
]);

function parseScheme(v: unknown): SigningScheme {
  if (v === 'notary.x509' || v === 'notary.x509.signingAuthority') return v;
  throw new EnvelopeError(`unsupported signing scheme ${JSON.stringify(v)}`);
}

type SignedAttributes = Pick<
  SignedEnvelope,
  | 'signingScheme'
  | 'signingTime'
  | 'authenticSigningTime'
  | 'expiry'
  | 'verificationPlugin'
  | 'verificationPluginMinVersion'
>;

/**
 * The Notary Project signed attributes of a protected header, each checked, for either
 * encoding: `get` reads one header by name, `readTime` a present time attribute the way
 * the encoding writes it (JWS: RFC 3339 text, COSE: CBOR tag 1), throwing EnvelopeError.
 */
export function signedAttributes(
  get: (name: string) => unknown,
  readTime: (value: unknown, name: string) => Date,
): SignedAttributes {
  const attributes: SignedAttributes = { signingScheme: parseScheme(get(ATTR.signingScheme)) };
  for (const key of ['signingTime', 'authenticSigningTime', 'expiry'] as const) {
    const v = get(ATTR[key]);
    if (v !== undefined) attributes[key] = readTime(v, ATTR[key]);
  }
  for (const key of ['verificationPlugin', 'verificationPluginMinVersion'] as const) {
    const v = get(ATTR[key]);
    if (v === undefined) continue;
    if (typeof v !== 'string' || !v) throw new EnvelopeError(`${ATTR[key]} must be a non-empty string`);
    attributes[key] = v;
  }
  return attributes;
}

/** Scheme-specific time attributes (signing-scheme.md): notary.x509 has signingTime; signingAuthority has authenticSigningTime. */
export function checkSchemeTimes(
  e: Pick<SignedEnvelope, 'signingScheme' | 'signingTime' | 'authenticSigningTime'>,
): void {
  if (e.signingScheme === 'notary.x509' && !e.signingTime)
    throw new EnvelopeError('notary.x509 signature without signing time');
  if (e.signingScheme === 'notary.x509.signingAuthority' && !e.authenticSigningTime) {
    throw new EnvelopeError('notary.x509.signingAuthority signature without authentic signing time');
  }
}

/** Every present attribute among these must be listed as critical. */
export function requireCritical(present: string[], crit: ReadonlySet<string | number>): void {
  for (const name of present) if (!crit.has(name)) throw new EnvelopeError(`${name} must be marked critical`);
}
