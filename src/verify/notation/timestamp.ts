/**
 * RFC 3161 timestamp countersignatures, as the Notary Project uses them for the
 * notary.x509 scheme: a TimeStampToken (CMS SignedData over a TSTInfo) whose message
 * imprint is the hash of the envelope's signature bytes. Verified against `tsa` trust
 * stores; the result is the time range [genTime - accuracy, genTime + accuracy].
 */
import { constants, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { DerError, TAG, boolean, children, contextTag, expectTag, integer, octets, oid, parseOne, seq, time, type Tlv } from './der.js';
import { Certificate, CertificateError, chainProblem, validityProblem } from './x509.js';

const OIDS = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  baselinePolicy: '0.4.0.2023.1.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
} as const;

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** signature algorithm OID → [hash, kind] */
const SIG_ALGS: Record<string, [string, 'rsa' | 'ecdsa']> = {
  '1.2.840.113549.1.1.11': ['sha256', 'rsa'],
  '1.2.840.113549.1.1.12': ['sha384', 'rsa'],
  '1.2.840.113549.1.1.13': ['sha512', 'rsa'],
  '1.2.840.10045.4.3.2': ['sha256', 'ecdsa'],
  '1.2.840.10045.4.3.3': ['sha384', 'ecdsa'],
  '1.2.840.10045.4.3.4': ['sha512', 'ecdsa'],
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
  signer: { issuer: Buffer; serial: Buffer; digestHash: string; signedAttrs: Tlv; sigAlg: Tlv[]; signature: Buffer };
}

/** Verify `token` as a timestamp of `signature` that chains to one of `trusted`. */
export function verifyTimestamp(token: Buffer, signature: Buffer, trusted: Certificate[]): VerifiedTimestamp {
  let parsed: ParsedToken;
  try {
    parsed = parseToken(token);
  } catch (e) {
    if (e instanceof DerError || e instanceof CertificateError) throw new TimestampError(`malformed timestamp token: ${e.message}`);
    throw e;
  }
  const { eContent, certificates, signer } = parsed;
  const signerCert = certificates.find((c) => c.rawIssuer.equals(signer.issuer) && c.serial.equals(signer.serial));
  if (!signerCert) throw new TimestampError('the timestamp token does not carry its signing certificate');
  const attrs = signedAttributes(signer.signedAttrs);
  checkContentType(attrs);
  checkMessageDigest(attrs, signer.digestHash, eContent);
  checkSigningCertificate(attrs, signerCert);
  // the signature covers the DER of the attributes as a SET (RFC 5652 5.4)
  const signedBytes = Buffer.concat([Buffer.from([TAG.SET]), signer.signedAttrs.raw.subarray(1)]);
  if (!verifyCms(signer.sigAlg, signer.digestHash, signerCert.publicKey, signedBytes, signer.signature)) {
    throw new TimestampError('the timestamp token signature does not verify');
  }
  const info = parseTstInfo(eContent);
  const imprintHash = HASHES[info.imprintAlg];
  if (!imprintHash || imprintHash === 'sha1') throw new TimestampError(`unsupported message imprint hash ${info.imprintAlg}`);
  if (!createHash(imprintHash).update(signature).digest().equals(info.imprint)) {
    throw new TimestampError('the timestamp is for a different signature (message imprint mismatch)');
  }
  const chain = buildChain(signerCert, certificates, trusted);
  if (!chain) throw new TimestampError(`the timestamp authority "${signerCert.subject}" does not chain to a trusted TSA certificate`);
  const problem = chainProblem(chain, 'timeStamping') ?? validityProblem(chain, info.genTime);
  if (problem) throw new TimestampError(`timestamp authority chain: ${problem}`);
  return { genTime: info.genTime, lower: new Date(info.genTime.getTime() - info.accuracyMs), upper: new Date(info.genTime.getTime() + info.accuracyMs), tsaChain: chain };
}

function parseToken(token: Buffer): ParsedToken {
  const [type, content] = seq(parseOne(token), 'ContentInfo');
  if (oid(type, 'contentType') !== OIDS.signedData) throw new TimestampError('the timestamp token is not CMS SignedData');
  if (contextTag(content) !== 0) throw new DerError('SignedData must be [0] EXPLICIT');
  const sd = seq(children(content!)[0], 'SignedData');
  let i = 1; // version
  expectTag(sd[i++], TAG.SET, 'digestAlgorithms');
  const [eType, eWrapper] = seq(sd[i++], 'encapContentInfo');
  if (oid(eType, 'eContentType') !== OIDS.tstInfo) throw new TimestampError('the timestamp token does not hold a TSTInfo');
  if (contextTag(eWrapper) !== 0) throw new DerError('eContent missing');
  const eContent = octets(children(eWrapper!)[0], 'eContent');
  const certificates: Certificate[] = [];
  if (contextTag(sd[i]) === 0) {
    for (const c of children(sd[i++]!)) if (c.tag === TAG.SEQUENCE) certificates.push(Certificate.fromDer(c.raw));
  }
  if (contextTag(sd[i]) === 1) i++; // crls
  const signerInfos = children(expectTag(sd[i], TAG.SET, 'signerInfos'));
  if (signerInfos.length !== 1) throw new TimestampError(`the timestamp token must have exactly one signer, has ${signerInfos.length}`);
  const si = seq(signerInfos[0], 'SignerInfo');
  const [issuer, serial] = seq(si[1], 'IssuerAndSerialNumber');
  const digestAlg = oid(seq(si[2], 'digestAlgorithm')[0]);
  const digestHash = HASHES[digestAlg];
  if (!digestHash) throw new TimestampError(`unsupported digest algorithm ${digestAlg}`);
  if (contextTag(si[3]) !== 0) throw new TimestampError('the timestamp signer has no signed attributes');
  return {
    eContent,
    certificates,
    signer: {
      issuer: expectTag(issuer, TAG.SEQUENCE, 'issuer').raw,
      serial: expectTag(serial, TAG.INTEGER, 'serialNumber').value,
      digestHash,
      signedAttrs: si[3]!,
      sigAlg: seq(si[4], 'signatureAlgorithm'),
      signature: octets(si[5], 'signature'),
    },
  };
}

function signedAttributes(t: Tlv): Map<string, Tlv[]> {
  const out = new Map<string, Tlv[]>();
  for (const attr of children(t)) {
    const [type, values] = seq(attr, 'Attribute');
    const id = oid(type);
    if (out.has(id)) throw new TimestampError(`signed attribute ${id} appears twice`);
    out.set(id, children(expectTag(values, TAG.SET, 'attrValues')));
  }
  return out;
}

function checkContentType(attrs: Map<string, Tlv[]>): void {
  const v = attrs.get(OIDS.contentType);
  if (!v || v.length !== 1 || oid(v[0]) !== OIDS.tstInfo) throw new TimestampError('the signed content type is not TSTInfo');
}

function checkMessageDigest(attrs: Map<string, Tlv[]>, hash: string, eContent: Buffer): void {
  const v = attrs.get(OIDS.messageDigest);
  if (!v || v.length !== 1 || !octets(v[0]).equals(createHash(hash).update(eContent).digest())) {
    throw new TimestampError('the TSTInfo does not match the signed message digest');
  }
}

/** ESS signing-certificate(-v2): the token names the certificate that signed it. */
function checkSigningCertificate(attrs: Map<string, Tlv[]>, cert: Certificate): void {
  const v2 = attrs.get(OIDS.signingCertificateV2);
  const v1 = attrs.get(OIDS.signingCertificate);
  const value = v2?.[0] ?? v1?.[0];
  if (!value) throw new TimestampError('the timestamp has no signing-certificate attribute');
  const [certs] = seq(value, 'SigningCertificate');
  const [first] = seq(certs, 'certs');
  const f = seq(first, 'ESSCertID');
  let hash = 'sha1';
  let k = 0;
  if (v2 && f[0]?.tag === TAG.SEQUENCE) {
    const alg = HASHES[oid(seq(f[k++], 'hashAlgorithm')[0])];
    if (!alg) throw new TimestampError('unsupported signing-certificate hash');
    hash = alg;
  } else if (v2) hash = 'sha256';
  if (!octets(f[k], 'certHash').equals(createHash(hash).update(cert.der).digest())) {
    throw new TimestampError('the signing-certificate attribute names another certificate');
  }
}

function verifyCms(sigAlg: Tlv[], digestHash: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const id = oid(sigAlg[0]);
  try {
    if (id === OIDS.rsaEncryption) return cryptoVerify(digestHash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    if (id === OIDS.rsaPss) return cryptoVerify(digestHash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
    const known = SIG_ALGS[id];
    if (!known) return false;
    return cryptoVerify(known[0], data, known[1] === 'rsa' ? { key, padding: constants.RSA_PKCS1_PADDING } : { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

function parseTstInfo(bytes: Buffer): { imprintAlg: string; imprint: Buffer; genTime: Date; accuracyMs: number } {
  const f = seq(parseOne(bytes), 'TSTInfo');
  if (integer(f[0], 'version') !== 1n) throw new TimestampError('unsupported TSTInfo version');
  const policy = oid(f[1], 'policy');
  const [alg, hashed] = seq(f[2], 'messageImprint');
  const genTime = time(f[4], 'genTime');
  let accuracyMs = policy === OIDS.baselinePolicy ? 1000 : 0;
  if (f[5]?.tag === TAG.SEQUENCE) accuracyMs = accuracy(f[5]);
  else if (f[5] && f[5].tag === TAG.BOOLEAN) boolean(f[5]);
  return { imprintAlg: oid(seq(alg, 'hashAlgorithm')[0]), imprint: octets(hashed, 'hashedMessage'), genTime, accuracyMs };
}

function accuracy(t: Tlv): number {
  let ms = 0;
  for (const part of children(t)) {
    if (part.tag === TAG.INTEGER) ms += Number(integer(part)) * 1000;
    else if (contextTag(part) === 0) ms += intValue(part.value);
    else if (contextTag(part) === 1) ms += intValue(part.value) / 1000;
  }
  return ms;
}

function intValue(v: Buffer): number {
  return v.reduce((n, b) => n * 256 + b, 0);
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

