/**
 * A test timestamp authority: RFC 3161 TimeStampTokens (CMS SignedData over a TSTInfo)
 * built with the test DER writer and signed by a test TSA certificate, valid by default,
 * with one knob per rule the verifier checks so a test can break exactly one.
 */
import { createHash, sign as cryptoSign } from 'node:crypto';
import { EKU, KU, SUBJECT, der, key, makeCert, type CertSpec, type IssuedCert } from './notation-signer.js';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  ecdsaSha256: '1.2.840.10045.4.3.2',
};
const HASH_OID: Record<string, string> = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
};

export interface Tsa {
  root: IssuedCert;
  leaf: IssuedCert;
}

/** A TSA root and a TSA signing certificate (timeStamping, the only EKU, critical). */
export function makeTsa(opts: { leaf?: Partial<CertSpec>; label?: string } = {}): Tsa {
  const label = opts.label ?? 'tsa';
  const root = makeCert({
    subject: SUBJECT(`Test TSA Root ${label}`),
    key: key('p256', `${label}-root`),
    ca: true,
    pathLen: 0,
  });
  const leaf = makeCert({
    subject: SUBJECT(`Test TSA ${label}`),
    key: key('p256', `${label}-leaf`),
    issuer: root,
    keyUsage: [KU.digitalSignature],
    eku: [EKU.timeStamping],
    ekuCritical: true,
    ...opts.leaf,
  });
  return { root, leaf };
}

export interface TokenSpec {
  /** the envelope signature bytes the timestamp is over */
  signature: Buffer;
  tsa: Tsa;
  genTime?: Date;
  /** hash of the message imprint (default sha256) */
  imprintHash?: 'sha1' | 'sha256' | 'sha384';
  /** imprint these bytes instead of `signature` (a timestamp of another signature) */
  imprintOf?: Buffer;
  /** which ESS signing-certificate attribute: v2 (default), v1 only, v2 naming another certificate, or none */
  ess?: 'v2' | 'v1' | 'v2-other-cert' | 'none' | 'v2-malformed' | 'v2-issuer-serial' | 'v2-wrong-serial';
  /** put this TSTInfo in the token after the attributes were signed over the real one */
  swapTstInfo?: Buffer;
  /** certificates carried in the token (default: the TSA leaf) */
  certificates?: Buffer[];
}

export function tstInfo(spec: Pick<TokenSpec, 'signature' | 'genTime' | 'imprintHash' | 'imprintOf'>): Buffer {
  const hash = spec.imprintHash ?? 'sha256';
  const imprint = createHash(hash)
    .update(spec.imprintOf ?? spec.signature)
    .digest();
  return der.seq(
    der.int(1),
    der.oid('1.2.3.4.1'), // policy
    der.seq(der.seq(der.oid(HASH_OID[hash]!), der.null()), der.octets(imprint)),
    der.int(4242), // serialNumber
    der.genTime(spec.genTime ?? new Date('2025-01-01T00:00:00Z')),
    der.seq(der.int(1)), // accuracy: 1 s
  );
}

export function timestampToken(spec: TokenSpec): Buffer {
  const info = tstInfo(spec);
  const leaf = spec.tsa.leaf;
  const attrs = [
    der.seq(der.oid(OID.contentType), der.set(der.oid(OID.tstInfo))),
    der.seq(der.oid(OID.messageDigest), der.set(der.octets(createHash('sha256').update(info).digest()))),
    ...essAttribute(spec.ess ?? 'v2', leaf, spec.tsa.root),
  ];
  const signedAttrs = der.set(...attrs);
  const signature = cryptoSign('sha256', signedAttrs, leaf.key.privateKey);
  const { issuer, serial } = issuerAndSerial(leaf);
  const signerInfo = der.seq(
    der.int(1),
    der.seq(issuer, serial),
    der.seq(der.oid(HASH_OID.sha256!), der.null()),
    Buffer.concat([Buffer.from([0xa0]), signedAttrs.subarray(1)]), // [0] IMPLICIT SET
    der.seq(der.oid(OID.ecdsaSha256)),
    der.octets(signature),
  );
  const signedData = der.seq(
    der.int(3),
    der.set(der.seq(der.oid(HASH_OID.sha256!), der.null())),
    der.seq(der.oid(OID.tstInfo), der.ctx(0, true, der.octets(spec.swapTstInfo ?? info))),
    der.ctx(0, true, ...(spec.certificates ?? [leaf.der])),
    der.set(signerInfo),
  );
  return der.seq(der.oid(OID.signedData), der.ctx(0, true, signedData));
}

function essAttribute(kind: NonNullable<TokenSpec['ess']>, leaf: IssuedCert, other: IssuedCert): Buffer[] {
  if (kind === 'none') return [];
  if (kind === 'v1') {
    const certHash = createHash('sha1').update(leaf.der).digest();
    return [der.seq(der.oid(OID.signingCertificate), der.set(der.seq(der.seq(der.seq(der.octets(certHash))))))];
  }
  // a SigningCertificateV2 whose certs list holds an INTEGER where an ESSCertIDv2 belongs
  if (kind === 'v2-malformed')
    return [der.seq(der.oid(OID.signingCertificateV2), der.set(der.seq(der.seq(der.int(5)))))];
  const named = kind === 'v2-other-cert' ? other : leaf;
  const certHash = createHash('sha256').update(named.der).digest();
  if (kind === 'v2-issuer-serial' || kind === 'v2-wrong-serial') {
    // IssuerSerial { GeneralNames [directoryName [4] issuer], serialNumber }
    const { issuer, serial } = issuerAndSerial(leaf);
    const issuerSerial = der.seq(
      der.seq(der.ctx(4, true, issuer)),
      kind === 'v2-wrong-serial' ? der.int(999_999) : serial,
    );
    return [
      der.seq(
        der.oid(OID.signingCertificateV2),
        der.set(der.seq(der.seq(der.seq(der.octets(certHash), issuerSerial)))),
      ),
    ];
  }
  // ESSCertIDv2 with the DEFAULT hash (sha256) omitted, as DER requires
  return [der.seq(der.oid(OID.signingCertificateV2), der.set(der.seq(der.seq(der.seq(der.octets(certHash))))))];
}

/** The issuer name and serial INTEGER of a test certificate, as its TBS encodes them. */
function issuerAndSerial(cert: IssuedCert): { issuer: Buffer; serial: Buffer } {
  const issuer = cert.spec.issuer?.name ?? cert.name;
  return { issuer, serial: der.int(cert.spec.serial ?? serialOf(cert.der)) };
}

/** Read the serial back out of the DER (Certificate → TBS → [0] version, serial). */
function serialOf(certDer: Buffer): bigint {
  let pos = 0;
  const header = (at: number): { len: number; start: number } => {
    const first = certDer[at + 1]!;
    if (first < 0x80) return { len: first, start: at + 2 };
    const n = first & 0x7f;
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + certDer[at + 2 + i]!;
    return { len, start: at + 2 + n };
  };
  pos = header(0).start; // into Certificate
  pos = header(pos).start; // into TBSCertificate
  const version = header(pos);
  pos = version.start + version.len; // skip [0] version
  const serial = header(pos);
  return BigInt(`0x${certDer.subarray(serial.start, serial.start + serial.len).toString('hex')}`);
}
