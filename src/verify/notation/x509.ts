/**
 * X.509 certificates as the Notary Project signature specification uses them:
 * parsed with a strict DER reader (for the extensions Node does not expose), checked
 * with node:crypto (signatures), and validated as a code-signing or time-stamping
 * chain ("Certificate requirements" of the signature specification).
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { DerError, TAG, bitString, boolean, children, contextTag, directoryString, expectTag, integer, oid, parseOne, seq, time, type Tlv } from './der.js';

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

export const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, dataEncipherment: 3, keyAgreement: 4, keyCertSign: 5, cRLSign: 6, encipherOnly: 7, decipherOnly: 8 } as const;

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

export class Certificate {
  readonly node: X509Certificate;
  readonly tbs: Buffer;
  /** serial number contents (two's complement bytes), for CMS IssuerAndSerialNumber matching */
  readonly serial: Buffer;
  readonly rawIssuer: Buffer;
  readonly rawSubject: Buffer;
  readonly subjectAttributes: ReadonlyArray<readonly [string, string]>;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: ReadonlyMap<string, Extension>;

  private constructor(readonly der: Buffer) {
    try {
      this.node = new X509Certificate(der);
      const [tbsTlv] = seq(parseOne(der), 'Certificate');
      this.tbs = expectTag(tbsTlv, TAG.SEQUENCE, 'TBSCertificate').raw;
      const f = children(tbsTlv!);
      let i = contextTag(f[0]) === 0 ? 1 : 0; // optional [0] version
      this.serial = expectTag(f[i++], TAG.INTEGER, 'serialNumber').value;
      expectTag(f[i++], TAG.SEQUENCE, 'signature');
      this.rawIssuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer').raw;
      const validity = seq(f[i++], 'validity');
      this.notBefore = time(validity[0], 'notBefore');
      this.notAfter = time(validity[1], 'notAfter');
      const subject = expectTag(f[i++], TAG.SEQUENCE, 'subject');
      this.rawSubject = subject.raw;
      this.subjectAttributes = parseName(subject);
      expectTag(f[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
      const extTlv = f.slice(i).find((t) => contextTag(t) === 3);
      this.extensions = extTlv ? parseExtensions(extTlv) : new Map();
    } catch (e) {
      if (e instanceof DerError || e instanceof CertificateError) throw new CertificateError(`malformed certificate: ${e.message}`);
      if (e instanceof Error) throw new CertificateError(`malformed certificate: ${e.message}`);
      throw e;
    }
  }

  static fromDer(der: Buffer): Certificate {
    return new Certificate(Buffer.from(der));
  }

  get publicKey(): KeyObject {
    return this.node.publicKey;
  }

  /** "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US" in the order notation prints (reverse of encoding) */
  get subject(): string {
    return [...this.subjectAttributes]
      .reverse()
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  }

  get sha256(): string {
    return createHash('sha256').update(this.der).digest('hex');
  }

  equals(other: Certificate): boolean {
    return this.der.equals(other.der);
  }

  /** Signed by `issuer`'s key and naming it as issuer (byte-equal names). */
  isIssuedBy(issuer: Certificate): boolean {
    if (!this.rawIssuer.equals(issuer.rawSubject)) return false;
    try {
      return this.node.verify(issuer.publicKey);
    } catch {
      return false;
    }
  }

  isSelfSigned(): boolean {
    return this.isIssuedBy(this);
  }

  get basicConstraints(): { ca: boolean; pathLen?: number } | undefined {
    const ext = this.extensions.get(OID.basicConstraints);
    if (!ext) return undefined;
    const f = children(parseOne(ext.value));
    let ca = false;
    let k = 0;
    if (f[k]?.tag === TAG.BOOLEAN) ca = boolean(f[k++], 'cA');
    const pathLen = f[k] ? Number(integer(f[k], 'pathLenConstraint')) : undefined;
    return pathLen === undefined ? { ca } : { ca, pathLen };
  }

  /** Key usage bits that are set (indices per RFC 5280), or undefined when the extension is absent. */
  get keyUsage(): Set<number> | undefined {
    const ext = this.extensions.get(OID.keyUsage);
    if (!ext) return undefined;
    const { bytes } = bitString(parseOne(ext.value), 'keyUsage');
    const bits = new Set<number>();
    bytes.forEach((b, byte) => {
      for (let bit = 0; bit < 8; bit++) if (b & (0x80 >> bit)) bits.add(byte * 8 + bit);
    });
    return bits;
  }

  get extKeyUsage(): string[] | undefined {
    const ext = this.extensions.get(OID.extKeyUsage);
    if (!ext) return undefined;
    return children(parseOne(ext.value)).map((t) => oid(t, 'KeyPurposeId'));
  }

  /** Does the certificate point at OCSP or CRL (so that its revocation status could be asked)? */
  get hasRevocationInfo(): boolean {
    if (this.extensions.has(OID.crlDistributionPoints)) return true;
    const aia = this.extensions.get(OID.authorityInfoAccess);
    if (!aia) return false;
    return children(parseOne(aia.value)).some((ad) => oid(children(ad)[0], 'accessMethod') === '1.3.6.1.5.5.7.48.1');
  }

  unhandledCriticalExtensions(): string[] {
    return [...this.extensions].filter(([id, e]) => e.critical && !HANDLED_EXTENSIONS.has(id)).map(([id]) => id);
  }

  validAt(t: Date): boolean {
    return t >= this.notBefore && t <= this.notAfter;
  }
}

function parseName(name: Tlv): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const rdn of children(name)) {
    expectTag(rdn, TAG.SET, 'RelativeDistinguishedName');
    for (const atv of children(rdn)) {
      const [type, value] = seq(atv, 'AttributeTypeAndValue');
      const id = oid(type, 'attribute type');
      if (!value) throw new CertificateError('attribute without value');
      out.push([ATTRIBUTE_NAMES[id] ?? id, directoryString(value)]);
    }
  }
  return out;
}

function parseExtensions(wrapper: Tlv): Map<string, Extension> {
  const out = new Map<string, Extension>();
  const [list] = children(wrapper);
  for (const ext of seq(list, 'Extensions')) {
    const f = children(ext);
    const id = oid(f[0], 'extnID');
    const critical = f[1]?.tag === TAG.BOOLEAN ? boolean(f[1], 'critical') : false;
    const value = expectTag(f[f.length - 1], TAG.OCTET_STRING, 'extnValue').value;
    if (out.has(id)) throw new CertificateError(`duplicate extension ${id}`);
    out.set(id, { critical, value });
  }
  return out;
}

/** Parse PEM (one or more CERTIFICATE blocks) or a single DER certificate. */
export function parseCertificates(bytes: Buffer): Certificate[] {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
    if (blocks.length === 0) throw new CertificateError('no CERTIFICATE block in PEM');
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
    if (unhandled.length) return `certificate "${cert.subject}" has unsupported critical extension(s) ${unhandled.join(', ')}`;
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
      if (cert.isSelfSigned()) return `${i === 0 ? 'leaf' : 'intermediate'} certificate "${cert.subject}" is self-signed`;
      if (!cert.isIssuedBy(chain[i + 1]!)) return `certificate "${cert.subject}" is not issued by "${chain[i + 1]!.subject}"`;
    }
    const problem = i === 0 ? leafProblem(cert, purpose) : caProblem(cert, i - 1, purpose);
    if (problem) return problem;
  }
  return null;
}

function caProblem(cert: Certificate, pathLenBelow: number, purpose: ChainPurpose): string | null {
  const bc = cert.basicConstraints;
  if (!bc?.ca) return `CA certificate "${cert.subject}" lacks basicConstraints cA=true`;
  if (bc.pathLen !== undefined && bc.pathLen < pathLenBelow) return `CA certificate "${cert.subject}" has pathLen ${bc.pathLen}, needs ${pathLenBelow}`;
  const ku = cert.keyUsage;
  if (!ku) return `CA certificate "${cert.subject}" has no key usage extension`;
  if (purpose === 'codeSigning' && !cert.extensions.get(OID.keyUsage)!.critical) return `CA certificate "${cert.subject}": key usage must be critical`;
  if (!ku.has(KEY_USAGE.keyCertSign)) return `CA certificate "${cert.subject}" may not sign certificates (keyCertSign missing)`;
  return null;
}

const EXCLUDED_CODE_SIGNING_EKUS = new Set<string>([OID.ekuAny, OID.ekuServerAuth, OID.ekuClientAuth, OID.ekuEmailProtection, OID.ekuOcspSigning, OID.ekuTimeStamping]);

function leafProblem(cert: Certificate, purpose: ChainPurpose): string | null {
  const name = `signing certificate "${cert.subject}"`;
  if (cert.basicConstraints?.ca) return `${name} is a CA certificate`;
  const ku = cert.keyUsage;
  if (!ku) return `${name} has no key usage extension`;
  if (purpose === 'codeSigning' && !cert.extensions.get(OID.keyUsage)!.critical) return `${name}: key usage must be critical`;
  if (!ku.has(KEY_USAGE.digitalSignature)) return `${name} lacks the digitalSignature key usage`;
  const extra = [...ku].filter((b) => b !== KEY_USAGE.digitalSignature);
  if (extra.length) return `${name} has key usages other than digitalSignature (bits ${extra.join(', ')})`;
  const eku = cert.extKeyUsage;
  if (purpose === 'timeStamping') {
    if (!eku || eku.length !== 1 || eku[0] !== OID.ekuTimeStamping) return `${name} must have timeStamping as its only extended key usage`;
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
    if (from < c.notBefore) return `certificate "${c.subject}" is not valid before ${c.notBefore.toISOString()} (time checked: ${from.toISOString()})`;
    if (to > c.notAfter) return `certificate "${c.subject}" expired at ${c.notAfter.toISOString()} (time checked: ${to.toISOString()})`;
  }
  return null;
}
