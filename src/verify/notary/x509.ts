/**
 * X.509 certificates as the Notary Project signature specification uses them:
 * parsed with pkijs over asn1js held to DER (./asn1.ts), signatures checked with
 * node:crypto, and validated as a code-signing or time-stamping
 * chain ("Certificate requirements" of the signature specification).
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { DerError, parseDer } from './asn1.js';
import { TtlCache } from '../../core/cache.js';

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  crlDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  ekuAny: '2.5.29.37.0',
  ekuServerAuth: '1.3.6.1.5.5.7.3.1',
  ekuClientAuth: '1.3.6.1.5.5.7.3.2',
  ekuCodeSigning: '1.3.6.1.5.5.7.3.3',
  ekuEmailProtection: '1.3.6.1.5.5.7.3.4',
  ekuTimeStamping: '1.3.6.1.5.5.7.3.8',
  ekuOcspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

/** Extensions we understand; any other extension marked critical makes the certificate unusable (RFC 5280 4.2). */
const HANDLED_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyId,
  OID.authorityKeyId,
  OID.certificatePolicies,
  OID.crlDistributionPoints,
  OID.authorityInfoAccess,
]);

/** Short names as Go's pkix.Name and notation print them. */
const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.17': 'POSTALCODE',
};

export const KEY_USAGE = {
  digitalSignature: 0,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;

export interface Extension {
  critical: boolean;
  value: Buffer;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/**
 * Certificate signature algorithms a chain may use: SHA-256 or stronger, as Go's x509
 * (which notation runs on) requires. SHA-1, MD5 and anything unknown are refused.
 */
const STRONG_SIGNATURE_ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.113549.1.1.10', 'RSASSA-PSS'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
  ['1.3.101.112', 'Ed25519'],
]);
const PSS_STRONG_HASHES = new Set(['2.16.840.1.101.3.4.2.1', '2.16.840.1.101.3.4.2.2', '2.16.840.1.101.3.4.2.3']);

/** Parsed certificates are immutable: a warm Lambda verifies the same chains again and again. */
const parsed = new TtlCache<Certificate>({ ttlMs: Infinity, maxEntries: 512 });

export class Certificate {
  readonly node: X509Certificate;
  readonly publicKey: KeyObject;
  readonly tbs: Buffer;
  /** serial number contents (two's complement bytes), for CMS IssuerAndSerialNumber matching */
  readonly serial: Buffer;
  readonly rawIssuer: Buffer;
  readonly rawSubject: Buffer;
  readonly subjectAttributes: ReadonlyArray<readonly [string, string]>;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: ReadonlyMap<string, Extension>;
  /** the certificate's signature algorithm OID (outer and TBS, checked equal) */
  readonly signatureAlgorithm: string;
  readonly sha256: string;
  private readonly pss?: pkijs.RSASSAPSSParams;
  private readonly parsedExtensions = new Map<string, unknown>();

  private constructor(
    readonly der: Buffer,
    sha256: string,
  ) {
    this.sha256 = sha256;
    let cert: pkijs.Certificate;
    try {
      const root = parseDer(der, 'certificate');
      cert = new pkijs.Certificate({ schema: root });
      this.node = new X509Certificate(der);
      // Node decodes the key lazily: a key it cannot decode is a malformed certificate, now
      this.publicKey = this.node.publicKey;
    } catch (e) {
      throw new CertificateError(`malformed certificate: ${(e as Error).message}`);
    }
    this.tbs = Buffer.from(cert.tbsView);
    this.serial = Buffer.from(cert.serialNumber.valueBlock.valueHexView);
    this.rawIssuer = Buffer.from(cert.issuer.valueBeforeDecode);
    this.rawSubject = Buffer.from(cert.subject.valueBeforeDecode);
    this.subjectAttributes = cert.subject.typesAndValues.map(
      (tv) => [ATTRIBUTE_NAMES[tv.type] ?? tv.type, String(tv.value.valueBlock.value)] as const,
    );
    this.notBefore = cert.notBefore.value;
    this.notAfter = cert.notAfter.value;
    this.signatureAlgorithm = cert.signatureAlgorithm.algorithmId;
    if (cert.signature.algorithmId !== this.signatureAlgorithm) {
      throw new CertificateError(
        `malformed certificate: signature algorithm ${this.signatureAlgorithm} differs from the TBS algorithm ${cert.signature.algorithmId}`,
      );
    }
    if (this.signatureAlgorithm === '1.2.840.113549.1.1.10') {
      // absent parameters mean the RFC 4055 defaults, SHA-1 among them
      const params = cert.signatureAlgorithm.algorithmParams as asn1js.AsnType | undefined;
      this.pss = params ? new pkijs.RSASSAPSSParams({ schema: params }) : new pkijs.RSASSAPSSParams();
    }
    this.extensions = extensionMap(cert.extensions ?? []);
    // Read every extension a rule uses now, so a malformed one refuses the certificate
    // here (CertificateError) rather than surprising a rule later.
    void [this.basicConstraints, this.keyUsage, this.extKeyUsage, this.ocspUrls, this.crlUrls];
  }

  static fromDer(der: Buffer): Certificate {
    const sha256 = createHash('sha256').update(der).digest('hex');
    const cached = parsed.get(sha256);
    if (cached) return cached;
    const cert = new Certificate(Buffer.from(der), sha256);
    parsed.set(sha256, cert);
    return cert;
  }

  /** "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US" in the order notation prints (reverse of encoding) */
  get subject(): string {
    return [...this.subjectAttributes]
      .reverse()
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }

  equals(other: Certificate): boolean {
    return this.der.equals(other.der);
  }

  /** Signed by `issuer`'s key and naming it as issuer (byte-equal names). */
  isIssuedBy(issuer: Certificate): boolean {
    // verify() answers false (never throws) for a public KeyObject of any type
    return this.rawIssuer.equals(issuer.rawSubject) && this.node.verify(issuer.publicKey);
  }

  isSelfSigned(): boolean {
    return this.isIssuedBy(this);
  }

  /** Why this certificate's own signature algorithm is not acceptable (SHA-1, MD5, unknown), or null. */
  weakSignatureProblem(): string | null {
    const name = STRONG_SIGNATURE_ALGORITHMS.get(this.signatureAlgorithm);
    if (!name)
      return `certificate "${this.subject}" is signed with ${this.signatureAlgorithm}, which is not allowed (SHA-256 or stronger required)`;
    if (this.pss && !PSS_STRONG_HASHES.has(this.pss.hashAlgorithm.algorithmId)) {
      return `certificate "${this.subject}" is signed with RSASSA-PSS over ${this.pss.hashAlgorithm.algorithmId}, which is not allowed (SHA-256 or stronger required)`;
    }
    return null;
  }

  get basicConstraints(): { ca: boolean; pathLen?: number } | undefined {
    const bc = this.extension(OID.basicConstraints, (schema) => new pkijs.BasicConstraints({ schema }));
    if (!bc) return undefined;
    const pathLen = bc.pathLenConstraint;
    if (pathLen === undefined) return { ca: bc.cA };
    if (typeof pathLen !== 'number' || pathLen < 0)
      throw new CertificateError(`certificate "${this.subject}": pathLenConstraint out of range`);
    return { ca: bc.cA, pathLen };
  }

  /** Key usage bits that are set (indices per RFC 5280), or undefined when the extension is absent. */
  get keyUsage(): Set<number> | undefined {
    const bits = this.extension(OID.keyUsage, (schema) => {
      if (!(schema instanceof asn1js.BitString) || schema.idBlock.isConstructed)
        throw new DerError('keyUsage is not a BIT STRING');
      return Buffer.from(schema.valueBlock.valueHexView);
    });
    if (!bits) return undefined;
    const set = new Set<number>();
    bits.forEach((b, byte) => {
      // Stryker disable next-line EqualityOperator: bit 8 would test the mask 0x80 >> 8 = 0, never set
      for (let bit = 0; bit < 8; bit++) if (b & (0x80 >> bit)) set.add(byte * 8 + bit);
    });
    return set;
  }

  get extKeyUsage(): string[] | undefined {
    return this.extension(OID.extKeyUsage, (schema) => new pkijs.ExtKeyUsage({ schema }).keyPurposes);
  }

  /** OCSP responder URLs named in authorityInfoAccess. */
  get ocspUrls(): string[] {
    const aia = this.extension(OID.authorityInfoAccess, (schema) => new pkijs.InfoAccess({ schema }));
    // Stryker disable next-line ArrayDeclaration: a stand-in element has no accessMethod and is filtered out
    const descriptions = aia?.accessDescriptions ?? [];
    return descriptions
      .filter((d) => d.accessMethod === OID_OCSP && d.accessLocation.type === URI)
      .map((d) => String(d.accessLocation.value));
  }

  /** CRL URLs named in cRLDistributionPoints (full names only). */
  get crlUrls(): string[] {
    const dps = this.extension(OID.crlDistributionPoints, (schema) => new pkijs.CRLDistributionPoints({ schema }));
    // Stryker disable next-line ArrayDeclaration: a stand-in element has no distributionPoint and adds nothing
    const points = dps?.distributionPoints ?? [];
    // Stryker disable next-line ArrayDeclaration: a stand-in name has no type and is filtered out
    const names = points.flatMap((dp) => (Array.isArray(dp.distributionPoint) ? dp.distributionPoint : []));
    return names.filter((n) => n.type === URI).map((n) => String(n.value));
  }

  /** Does the certificate point at OCSP or CRL (so that its revocation status could be asked)? */
  get hasRevocationInfo(): boolean {
    return this.ocspUrls.length > 0 || this.crlUrls.length > 0;
  }

  unhandledCriticalExtensions(): string[] {
    return [...this.extensions].filter(([id, e]) => e.critical && !HANDLED_EXTENSIONS.has(id)).map(([id]) => id);
  }

  /** An extension's value, parsed strictly once; a malformed value is a CertificateError. */
  private extension<T>(id: string, read: (schema: asn1js.AsnType) => T): T | undefined {
    if (this.parsedExtensions.has(id)) return this.parsedExtensions.get(id) as T;
    const ext = this.extensions.get(id);
    if (!ext) return undefined;
    let value: T;
    try {
      value = read(parseDer(ext.value, `extension ${id}`));
    } catch (e) {
      throw new CertificateError(`certificate "${this.subject}": malformed extension ${id}: ${(e as Error).message}`);
    }
    this.parsedExtensions.set(id, value);
    return value;
  }
}

const OID_OCSP = '1.3.6.1.5.5.7.48.1';
/** GeneralName uniformResourceIdentifier */
const URI = 6;

function extensionMap(list: pkijs.Extension[]): Map<string, Extension> {
  const out = new Map<string, Extension>();
  for (const ext of list) {
    if (out.has(ext.extnID)) throw new CertificateError(`malformed certificate: duplicate extension ${ext.extnID}`);
    out.set(ext.extnID, { critical: ext.critical, value: Buffer.from(ext.extnValue.valueBlock.valueHexView) });
  }
  return out;
}

/** Parse PEM (one or more CERTIFICATE blocks) or a single DER certificate. */
export function parseCertificates(bytes: Buffer): Certificate[] {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
    if (blocks.length === 0) throw new CertificateError('no CERTIFICATE block in PEM');
    // Stryker disable next-line Regex: removing whitespace one character or one run at a time gives the same text
    return blocks.map((m) => Certificate.fromDer(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  return [Certificate.fromDer(bytes)];
}

export type ChainPurpose = 'codeSigning' | 'timeStamping';

/**
 * Validate an ordered chain (leaf first, self-signed root last) against the
 * certificate requirements of the Notary Project signature specification. Time is
 * not checked here: which instant counts depends on the signing scheme.
 * Returns a sentence describing the first problem, or null.
 */
export function chainProblem(chain: Certificate[], purpose: ChainPurpose): string | null {
  const leaf = chain[0];
  if (!leaf) return 'the certificate chain is empty';
  for (const cert of chain) {
    const unhandled = cert.unhandledCriticalExtensions();
    if (unhandled.length)
      return `certificate "${cert.subject}" has unsupported critical extension(s) ${unhandled.join(', ')}`;
    // a collision-prone hash anywhere lets a forged certificate take the place of a real one
    const weak = cert.weakSignatureProblem();
    if (weak) return weak;
  }
  if (chain.length === 1) {
    if (!leaf.isSelfSigned()) return `the single certificate "${leaf.subject}" is not self-signed`;
    return leafProblem(leaf, purpose);
  }
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    const last = i === chain.length - 1;
    if (last) {
      if (!cert.isSelfSigned()) return `the chain does not end in a self-signed root ("${cert.subject}")`;
    } else {
      if (cert.isSelfSigned())
        return `${i === 0 ? 'leaf' : 'intermediate'} certificate "${cert.subject}" is self-signed`;
      if (!cert.isIssuedBy(chain[i + 1]!))
        return `certificate "${cert.subject}" is not issued by "${chain[i + 1]!.subject}"`;
    }
    const problem = i === 0 ? leafProblem(cert, purpose) : caProblem(cert, i - 1, purpose);
    if (problem) return problem;
  }
  return null;
}

function caProblem(cert: Certificate, pathLenBelow: number, purpose: ChainPurpose): string | null {
  const bc = cert.basicConstraints;
  if (!bc?.ca) return `CA certificate "${cert.subject}" lacks basicConstraints cA=true`;
  // an absent pathLenConstraint sets no limit
  if ((bc.pathLen ?? Infinity) < pathLenBelow)
    return `CA certificate "${cert.subject}" has pathLen ${bc.pathLen}, needs ${pathLenBelow}`;
  const ku = cert.keyUsage;
  if (!ku) return `CA certificate "${cert.subject}" has no key usage extension`;
  if (purpose === 'codeSigning' && !cert.extensions.get(OID.keyUsage)!.critical)
    return `CA certificate "${cert.subject}": key usage must be critical`;
  if (!ku.has(KEY_USAGE.keyCertSign))
    return `CA certificate "${cert.subject}" may not sign certificates (keyCertSign missing)`;
  return null;
}

const EXCLUDED_CODE_SIGNING_EKUS = new Set<string>([
  OID.ekuAny,
  OID.ekuServerAuth,
  OID.ekuClientAuth,
  OID.ekuEmailProtection,
  OID.ekuOcspSigning,
  OID.ekuTimeStamping,
]);

function leafProblem(cert: Certificate, purpose: ChainPurpose): string | null {
  const name = `signing certificate "${cert.subject}"`;
  if (cert.basicConstraints?.ca) return `${name} is a CA certificate`;
  const ku = cert.keyUsage;
  if (!ku) return `${name} has no key usage extension`;
  if (purpose === 'codeSigning' && !cert.extensions.get(OID.keyUsage)!.critical)
    return `${name}: key usage must be critical`;
  if (!ku.has(KEY_USAGE.digitalSignature)) return `${name} lacks the digitalSignature key usage`;
  const extra = [...ku].filter((b) => b !== KEY_USAGE.digitalSignature);
  if (extra.length) return `${name} has key usages other than digitalSignature (bits ${extra.join(', ')})`;
  const eku = cert.extKeyUsage;
  if (purpose === 'timeStamping') {
    if (eku?.length !== 1 || eku[0] !== OID.ekuTimeStamping)
      return `${name} must have timeStamping as its only extended key usage`;
    if (!cert.extensions.get(OID.extKeyUsage)!.critical) return `${name}: the extended key usage must be critical`;
    return null;
  }
  // The spec allows a leaf without EKU; when an EKU is present it must name code signing
  // and none of the purposes that would let a TLS or e-mail certificate sign images.
  if (eku) {
    const excluded = eku.find((e) => EXCLUDED_CODE_SIGNING_EKUS.has(e));
    if (excluded) return `${name} has extended key usage ${excluded}, which code signing excludes`;
    if (!eku.includes(OID.ekuCodeSigning)) return `${name} has an extended key usage without code signing`;
  }
  return null;
}

/** The first certificate of the chain that is not valid at `t`, described; or null. */
export function validityProblem(chain: Certificate[], from: Date, to: Date = from): string | null {
  for (const c of chain) {
    if (from < c.notBefore)
      return `certificate "${c.subject}" is not valid before ${c.notBefore.toISOString()} (time checked: ${from.toISOString()})`;
    if (to > c.notAfter)
      return `certificate "${c.subject}" expired at ${c.notAfter.toISOString()} (time checked: ${to.toISOString()})`;
  }
  return null;
}
