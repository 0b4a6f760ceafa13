/**
 * RFC 3161 timestamp countersignatures, as the Notary Project uses them for the
 * notary.x509 scheme: a TimeStampToken (CMS SignedData over a TSTInfo) whose message
 * imprint is the hash of the envelope's signature bytes. Verified against `tsa` trust
 * stores; the result is the time range [genTime - accuracy, genTime + accuracy].
 */
import { constants, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as pkijs from 'pkijs';
import {
  DerError,
  childrenOf,
  contextTag,
  expectSequence,
  integerBytes,
  isSequence,
  octetsOf,
  oidOf,
  parseDer,
  raw,
  type Node,
} from './asn1.js';
import { Certificate, CertificateError, chainProblem, validityProblem } from './x509.js';

const OIDS = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  baselinePolicy: '0.4.0.2023.1.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
} as const;

/**
 * The hashes a timestamp may use anywhere: signer digest, message imprint, ESS cert hash.
 * SHA-1 (1.3.14.3.2.26) is absent on purpose: the Notary Project and tspclient-go refuse it
 * in all three places, so it is an unsupported hash like any other.
 */
const HASHES: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** signature algorithm OID → [hash, the key type it needs] (the hash-less RSA OIDs use the signer's digest) */
const SIG_ALGS: Record<string, [string | null, 'rsa' | 'ec']> = {
  [OIDS.rsaEncryption]: [null, 'rsa'],
  [OIDS.rsaPss]: [null, 'rsa'],
  '1.2.840.113549.1.1.11': ['sha256', 'rsa'],
  '1.2.840.113549.1.1.12': ['sha384', 'rsa'],
  '1.2.840.113549.1.1.13': ['sha512', 'rsa'],
  '1.2.840.10045.4.3.2': ['sha256', 'ec'],
  '1.2.840.10045.4.3.3': ['sha384', 'ec'],
  '1.2.840.10045.4.3.4': ['sha512', 'ec'],
};

export class TimestampError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimestampError';
  }
}

export interface VerifiedTimestamp {
  genTime: Date;
  lower: Date;
  upper: Date;
  /** the TSA's chain, signing certificate first */
  tsaChain: Certificate[];
}

interface ParsedToken {
  eContent: Buffer;
  certificates: Certificate[];
  signer: pkijs.SignerInfo;
  /** hash named by the signer's digestAlgorithm */
  digestHash: string;
  /** signed attributes by type, each with its values */
  attrs: Map<string, Node[]>;
}

/** Verify `token` as a timestamp of `signature` that chains to one of `trusted`; any problem is a TimestampError. */
export function verifyTimestamp(token: Buffer, signature: Buffer, trusted: Certificate[]): VerifiedTimestamp {
  let parsed: ParsedToken;
  let info: TstInfo;
  try {
    parsed = parseToken(token);
    info = parseTstInfo(parsed.eContent);
  } catch (e) {
    if (e instanceof TimestampError) throw e;
    throw new TimestampError(`malformed timestamp token: ${(e as Error).message}`);
  }
  try {
    return verifyParsed(parsed, info, signature, trusted);
  } catch (e) {
    // a signed attribute whose value has the wrong shape is as malformed as the token itself
    if (e instanceof DerError || e instanceof CertificateError)
      throw new TimestampError(`malformed timestamp token: ${e.message}`);
    throw e;
  }
}

function verifyParsed(
  parsed: ParsedToken,
  info: TstInfo,
  signature: Buffer,
  trusted: Certificate[],
): VerifiedTimestamp {
  const { eContent, certificates, signer, digestHash, attrs } = parsed;
  const signerCert = findSignerCertificate(signer, certificates);
  checkContentType(attrs);
  checkMessageDigest(attrs, digestHash, eContent);
  checkSigningCertificateV2(attrs, signerCert);
  const signedBytes = Buffer.from(signer.signedAttrs!.encodedValue); // re-tagged as SET by pkijs (RFC 5652 5.4)
  if (
    !verifyCms(
      signer.signatureAlgorithm,
      digestHash,
      signerCert.publicKey,
      signedBytes,
      Buffer.from(signer.signature.valueBlock.valueHexView),
    )
  ) {
    throw new TimestampError('the timestamp token signature does not verify');
  }
  checkMessageImprint(info, signature);
  const chain = buildChain(signerCert, certificates, trusted);
  if (!chain)
    throw new TimestampError(
      `the timestamp authority "${signerCert.subject}" does not chain to a trusted TSA certificate`,
    );
  const problem = chainProblem(chain, 'timeStamping') ?? validityProblem(chain, info.genTime);
  if (problem) throw new TimestampError(`timestamp authority chain: ${problem}`);
  return {
    genTime: info.genTime,
    lower: new Date(info.genTime.getTime() - info.accuracyMs),
    upper: new Date(info.genTime.getTime() + info.accuracyMs),
    tsaChain: chain,
  };
}

/** ContentInfo → SignedData with one signer over a TSTInfo; the whole token held to DER. */
function parseToken(token: Buffer): ParsedToken {
  const root = parseDer(token, 'timestamp token');
  const contentInfo = new pkijs.ContentInfo({ schema: root });
  if (contentInfo.contentType !== OIDS.signedData)
    throw new TimestampError('the timestamp token is not CMS SignedData');
  const sdNode = contentInfo.content as Node;
  const sd = new pkijs.SignedData({ schema: sdNode });
  if (sd.encapContentInfo.eContentType !== OIDS.tstInfo)
    throw new TimestampError('the timestamp token does not hold a TSTInfo');
  const eContent = sd.encapContentInfo.eContent;
  if (!eContent || eContent.idBlock.isConstructed)
    throw new TimestampError('the timestamp token has no TSTInfo content');
  if (sd.signerInfos.length !== 1)
    throw new TimestampError(`the timestamp token must have exactly one signer, has ${sd.signerInfos.length}`);
  const signer = sd.signerInfos[0]!;
  const digestHash = HASHES[signer.digestAlgorithm.algorithmId];
  if (!digestHash) throw new TimestampError(`unsupported digest algorithm ${signer.digestAlgorithm.algorithmId}`);
  if (!signer.signedAttrs) throw new TimestampError('the timestamp signer has no signed attributes');
  return {
    eContent: Buffer.from(eContent.valueBlock.valueHexView),
    certificates: tokenCertificates(sdNode),
    signer,
    digestHash,
    attrs: attributeMap(signer.signedAttrs),
  };
}

/**
 * The certificates of SignedData as the bytes they were sent in ([0] IMPLICIT SET OF).
 * Each must be an X.509 certificate, as Go's x509.ParseCertificates (tspclient-go, and so
 * notation) requires: an attribute or other-format certificate makes the token malformed.
 */
function tokenCertificates(sdNode: Node): Certificate[] {
  // pkijs has already read sdNode as the SignedData SEQUENCE
  const set = childrenOf(sdNode).find((f) => contextTag(f) === 0);
  return set ? childrenOf(set).map((c) => Certificate.fromDer(raw(c))) : [];
}

function findSignerCertificate(signer: pkijs.SignerInfo, certificates: Certificate[]): Certificate {
  const sid = signer.sid as unknown;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber))
    throw new TimestampError('the timestamp signer is not named by issuer and serial number');
  const issuer = Buffer.from(sid.issuer.valueBeforeDecode);
  const serial = Buffer.from(sid.serialNumber.valueBlock.valueHexView);
  const cert = certificates.find((c) => c.rawIssuer.equals(issuer) && c.serial.equals(serial));
  if (!cert) throw new TimestampError('the timestamp token does not carry its signing certificate');
  return cert;
}

function attributeMap(signedAttrs: pkijs.SignedAndUnsignedAttributes): Map<string, Node[]> {
  const out = new Map<string, Node[]>();
  for (const attr of signedAttrs.attributes) {
    if (out.has(attr.type)) throw new TimestampError(`signed attribute ${attr.type} appears twice`);
    out.set(attr.type, attr.values as Node[]);
  }
  return out;
}

function checkContentType(attrs: Map<string, Node[]>): void {
  const v = attrs.get(OIDS.contentType);
  if (v?.length !== 1 || oidOf(v[0], 'content-type attribute') !== OIDS.tstInfo)
    throw new TimestampError('the signed content type is not TSTInfo');
}

/** The signature covers the attributes; the messageDigest attribute binds them to the TSTInfo. */
function checkMessageDigest(attrs: Map<string, Node[]>, hash: string, eContent: Buffer): void {
  const v = attrs.get(OIDS.messageDigest);
  if (
    v?.length !== 1 ||
    !octetsOf(v[0], 'message-digest attribute').equals(createHash(hash).update(eContent).digest())
  ) {
    throw new TimestampError('the TSTInfo does not match the signed message digest');
  }
}

/**
 * ESS signing-certificate-v2 (RFC 5816): the token names the certificate that signed it,
 * so a TSA certificate cannot be swapped for another with the same key. Required, as
 * in the Notary Project specification and tspclient-go: the SHA-1 v1 attribute alone fails.
 */
function checkSigningCertificateV2(attrs: Map<string, Node[]>, cert: Certificate): void {
  const v = attrs.get(OIDS.signingCertificateV2);
  if (v?.length !== 1) throw new TimestampError('the timestamp has no signing-certificate-v2 attribute');
  const [certs] = expectSequence(v[0], 'SigningCertificateV2');
  const [first] = expectSequence(certs, 'SigningCertificateV2 certs');
  const f = expectSequence(first, 'ESSCertIDv2');
  let k = 0;
  let hash = 'sha256'; // DEFAULT id-sha256
  if (isSequence(f[0])) {
    const alg = oidOf(childrenOf(f[k++]!)[0], 'ESSCertIDv2 hashAlgorithm'); // f[0] is a SEQUENCE: checked just above
    const known = HASHES[alg];
    if (!known) throw new TimestampError(`unsupported signing-certificate-v2 hash ${alg}`);
    hash = known;
  }
  if (!octetsOf(f[k++], 'ESSCertIDv2 certHash').equals(createHash(hash).update(cert.der).digest())) {
    throw new TimestampError('the signing-certificate-v2 attribute names another certificate');
  }
  const issuerSerial = f[k];
  if (issuerSerial) {
    // IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber }: the serial must be the signer's
    const [, serial] = expectSequence(issuerSerial, 'ESSCertIDv2 issuerSerial');
    if (!integerBytes(serial, 'ESSCertIDv2 serialNumber').equals(cert.serial))
      throw new TimestampError('the signing-certificate-v2 attribute names another serial number');
  }
}

/**
 * The signer's signature over the signed attributes. The algorithm must fit the key, as
 * Go's CheckSignature (and so notation) requires: an RSA signature labelled ECDSA, or one
 * under an RSASSA-PSS-only key labelled PKCS #1, is refused. Node verifies an `rsa` key
 * with PKCS #1 v1.5 and an `ec` key as DER ECDSA unless told otherwise.
 */
function verifyCms(
  sigAlg: pkijs.AlgorithmIdentifier,
  digestHash: string,
  key: KeyObject,
  data: Buffer,
  signature: Buffer,
): boolean {
  const id = sigAlg.algorithmId;
  const known = SIG_ALGS[id];
  if (!known || key.asymmetricKeyType !== known[1]) return false;
  const hash = known[0] ?? digestHash;
  const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO };
  try {
    return cryptoVerify(hash, data, id === OIDS.rsaPss ? { key, ...pss } : key, signature);
  } /* Stryker disable next-line BlockStatement: an empty catch returns undefined, which refuses just as false does */ catch {
    // Stryker disable next-line BooleanLiteral: no known input makes node throw once algorithm and key type agree; the catch stays so an unforeseen OpenSSL error is a refusal, not an internal error
    return false;
  }
}

interface TstInfo {
  imprintAlg: string;
  imprint: Buffer;
  genTime: Date;
  accuracyMs: number;
}

function parseTstInfo(bytes: Buffer): TstInfo {
  const info = new pkijs.TSTInfo({ schema: parseDer(bytes, 'TSTInfo') });
  if (info.version !== 1) throw new TimestampError('unsupported TSTInfo version');
  const a = info.accuracy;
  const accuracyMs = a
    ? (a.seconds ?? 0) * 1000 + (a.millis ?? 0) + (a.micros ?? 0) / 1000
    : info.policy === OIDS.baselinePolicy
      ? 1000
      : 0;
  return {
    imprintAlg: info.messageImprint.hashAlgorithm.algorithmId,
    imprint: Buffer.from(info.messageImprint.hashedMessage.valueBlock.valueHexView),
    genTime: info.genTime,
    accuracyMs,
  };
}

/** The timestamp is of this signature: the imprint is its hash, by a supported hash (not SHA-1). */
function checkMessageImprint(info: TstInfo, signature: Buffer): void {
  const imprintHash = HASHES[info.imprintAlg];
  if (!imprintHash) throw new TimestampError(`unsupported message imprint hash ${info.imprintAlg}`);
  if (!createHash(imprintHash).update(signature).digest().equals(info.imprint)) {
    throw new TimestampError('the timestamp is for a different signature (message imprint mismatch)');
  }
}

/** Walk from the TSA certificate through the token's certificates to a trusted one. */
function buildChain(leaf: Certificate, pool: Certificate[], trusted: Certificate[]): Certificate[] | null {
  const chain = [leaf];
  for (let depth = 0; depth < 8; depth++) {
    const cur = chain[chain.length - 1]!;
    if (trusted.some((t) => t.equals(cur))) return chain;
    const anchor = trusted.find((t) => cur.isIssuedBy(t));
    if (anchor) return [...chain, anchor];
    if (cur.isSelfSigned()) return null;
    const next = pool.find((c) => !chain.includes(c) && cur.isIssuedBy(c));
    if (!next) return null;
    chain.push(next);
  }
  return null;
}
