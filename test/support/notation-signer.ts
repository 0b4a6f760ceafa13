/**
 * Test-only signing for Notary Project signatures: a small DER writer, an X.509
 * certificate builder (node:crypto keys and signatures), and JWS / COSE_Sign1
 * envelope builders, so tests can make valid chains and then break one thing at a time.
 */
import { createHash, generateKeyPairSync, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import { Encoder, Tag } from 'cbor-x';
import type { Descriptor } from '../../src/core/registry.js';

// ---------- DER writer ----------
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
export const der = {
  tlv: (tag: number, ...parts: Buffer[]): Buffer => {
    const body = Buffer.concat(parts);
    return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
  },
  seq: (...parts: Buffer[]) => der.tlv(0x30, ...parts),
  set: (...parts: Buffer[]) => der.tlv(0x31, ...parts),
  int: (n: bigint | number): Buffer => {
    let v = BigInt(n);
    const bytes: number[] = [];
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    if (bytes[0]! & 0x80) bytes.unshift(0);
    return der.tlv(0x02, Buffer.from(bytes));
  },
  oid: (s: string): Buffer => {
    const p = s.split('.').map(Number);
    const out = [40 * p[0]! + p[1]!];
    for (const n of p.slice(2)) {
      const b: number[] = [n & 0x7f];
      for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) b.unshift((v & 0x7f) | 0x80);
      out.push(...b);
    }
    return der.tlv(0x06, Buffer.from(out));
  },
  /** an OID whose last arc carries a leading 0x80 octet: BER allows it, DER does not */
  oidNonMinimal: (s: string): Buffer => {
    const good = der.oid(s);
    return der.tlv(
      0x06,
      Buffer.concat([good.subarray(2, good.length - 1), Buffer.from([0x80, good[good.length - 1]!])]),
    );
  },
  bool: (b: boolean) => der.tlv(0x01, Buffer.from([b ? 0xff : 0])),
  null: () => Buffer.from([0x05, 0x00]),
  octets: (b: Buffer) => der.tlv(0x04, b),
  bits: (b: Buffer, unused = 0) => der.tlv(0x03, Buffer.from([unused]), b),
  utf8: (s: string) => der.tlv(0x0c, Buffer.from(s, 'utf8')),
  printable: (s: string) => der.tlv(0x13, Buffer.from(s, 'latin1')),
  genTime: (d: Date) =>
    der.tlv(
      0x18,
      Buffer.from(
        d
          .toISOString()
          .replace(/[-:T]/g, '')
          .replace(/\.\d+Z$/, 'Z'),
        'latin1',
      ),
    ),
  ctx: (n: number, constructed: boolean, ...parts: Buffer[]) => der.tlv(0x80 | (constructed ? 0x20 : 0) | n, ...parts),
};

// ---------- certificates ----------
const NAME_OIDS: Record<string, string> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
};
export const EKU = {
  codeSigning: '1.3.6.1.5.5.7.3.3',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  timeStamping: '1.3.6.1.5.5.7.3.8',
};
export const KU = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 };

export type KeyKind = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'p256' | 'p384' | 'p521';
export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}
const keyCache = new Map<string, KeyPair>();
/** Keys are slow to make (RSA): cache by label so a test suite makes each once. */
export function key(kind: KeyKind, label = 'default'): KeyPair {
  const k = `${kind}/${label}`;
  let pair = keyCache.get(k);
  if (!pair) {
    pair = kind.startsWith('rsa')
      ? generateKeyPairSync('rsa', { modulusLength: Number(kind.slice(3)) })
      : generateKeyPairSync('ec', { namedCurve: { p256: 'P-256', p384: 'P-384', p521: 'P-521' }[kind as 'p256'] });
    keyCache.set(k, pair);
  }
  return pair;
}

export interface CertSpec {
  subject: Array<[string, string]>;
  key: KeyPair;
  /** the issuing cert and key; absent: self-signed */
  issuer?: IssuedCert;
  notBefore?: Date;
  notAfter?: Date;
  ca?: boolean;
  pathLen?: number;
  /** bit indices; null: no key usage extension */
  keyUsage?: number[] | null;
  /** null: no EKU extension */
  eku?: string[] | null;
  ekuCritical?: boolean;
  extra?: Array<{ oid: string; critical: boolean; value: Buffer }>;
  serial?: number;
  /** the hash the issuer signs with (default: SHA-256 for RSA, SHA-384 for EC) */
  sigHash?: 'sha1' | 'sha256' | 'sha384';
  /** raw validity times (a whole UTCTime/GeneralizedTime TLV), to encode what Date cannot */
  notBeforeRaw?: Buffer;
  notAfterRaw?: Buffer;
}

export interface IssuedCert {
  der: Buffer;
  spec: CertSpec;
  key: KeyPair;
  name: Buffer;
}

function encodeName(attrs: Array<[string, string]>): Buffer {
  return der.seq(
    ...attrs.map(([k, v]) => der.set(der.seq(der.oid(NAME_OIDS[k]!), k === 'C' ? der.printable(v) : der.utf8(v)))),
  );
}

const RSA_SIG_OID = { sha1: '1.2.840.113549.1.1.5', sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12' };
const EC_SIG_OID = { sha1: '1.2.840.10045.4.1', sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3' };
function sigAlgFor(k: KeyObject, hash?: 'sha1' | 'sha256' | 'sha384'): { alg: Buffer; sign: (data: Buffer) => Buffer } {
  if (k.asymmetricKeyType === 'rsa') {
    const h = hash ?? 'sha256';
    return { alg: der.seq(der.oid(RSA_SIG_OID[h]), der.null()), sign: (d) => cryptoSign(h, d, k) };
  }
  const h = hash ?? 'sha384';
  return { alg: der.seq(der.oid(EC_SIG_OID[h])), sign: (d) => cryptoSign(h, d, k) };
}

function utcOrGen(d: Date): Buffer {
  if (d.getUTCFullYear() < 2050 && d.getUTCFullYear() >= 1950) {
    return der.tlv(
      0x17,
      Buffer.from(
        d
          .toISOString()
          .slice(2)
          .replace(/[-:T]/g, '')
          .replace(/\.\d+Z$/, 'Z'),
        'latin1',
      ),
    );
  }
  return der.genTime(d);
}

let serialCounter = 1000;
export function makeCert(spec: CertSpec): IssuedCert {
  const name = encodeName(spec.subject);
  const signer = spec.issuer?.key ?? spec.key;
  const { alg, sign } = sigAlgFor(signer.privateKey, spec.sigHash);
  const exts: Buffer[] = [];
  if (spec.ca !== undefined) {
    const bc = [...(spec.ca ? [der.bool(true)] : []), ...(spec.pathLen !== undefined ? [der.int(spec.pathLen)] : [])];
    exts.push(der.seq(der.oid('2.5.29.19'), der.bool(true), der.octets(der.seq(...bc))));
  }
  const ku =
    spec.keyUsage === undefined ? (spec.ca ? [KU.keyCertSign, KU.cRLSign] : [KU.digitalSignature]) : spec.keyUsage;
  if (ku) {
    const bytes = Buffer.alloc(2);
    for (const b of ku) bytes[b >> 3]! |= 0x80 >> (b & 7);
    const used = bytes[1] ? bytes : bytes.subarray(0, 1);
    exts.push(der.seq(der.oid('2.5.29.15'), der.bool(true), der.octets(der.bits(used))));
  }
  const eku = spec.eku === undefined ? (spec.ca ? null : [EKU.codeSigning]) : spec.eku;
  if (eku)
    exts.push(
      der.seq(
        der.oid('2.5.29.37'),
        ...(spec.ekuCritical ? [der.bool(true)] : []),
        der.octets(der.seq(...eku.map(der.oid))),
      ),
    );
  for (const e of spec.extra ?? [])
    exts.push(der.seq(der.oid(e.oid), ...(e.critical ? [der.bool(true)] : []), der.octets(e.value)));
  const tbs = der.seq(
    der.ctx(0, true, der.int(2)),
    der.int(spec.serial ?? serialCounter++),
    alg,
    spec.issuer?.name ?? name,
    der.seq(
      spec.notBeforeRaw ?? utcOrGen(spec.notBefore ?? new Date('2020-01-01T00:00:00Z')),
      spec.notAfterRaw ?? utcOrGen(spec.notAfter ?? new Date('2120-01-01T00:00:00Z')),
    ),
    name,
    spec.key.publicKey.export({ type: 'spki', format: 'der' }),
    ...(exts.length ? [der.ctx(3, true, der.seq(...exts))] : []),
  );
  return { der: der.seq(tbs, alg, der.bits(sign(tbs))), spec, key: spec.key, name };
}

export const SUBJECT = (cn: string): Array<[string, string]> => [
  ['C', 'US'],
  ['ST', 'WA'],
  ['L', 'Seattle'],
  ['O', 'Test Org'],
  ['CN', cn],
];

/** root → intermediate → leaf, all valid 2020..2120 unless told otherwise */
export function makeChain(
  leafKey: KeyPair,
  opts: {
    rootKey?: KeyPair;
    leaf?: Partial<CertSpec>;
    intermediate?: Partial<CertSpec>;
    root?: IssuedCert;
    label?: string;
  } = {},
): { root: IssuedCert; intermediate: IssuedCert; leaf: IssuedCert; chain: Buffer[] } {
  const root =
    opts.root ??
    makeCert({
      subject: SUBJECT(`Test Root ${opts.label ?? ''}`.trim()),
      key: opts.rootKey ?? key('p384', 'root'),
      ca: true,
      pathLen: 1,
    });
  const intermediate = makeCert({
    subject: SUBJECT('Test Intermediate'),
    key: key('p384', `int-${opts.label ?? ''}`),
    issuer: root,
    ca: true,
    pathLen: 0,
    ...opts.intermediate,
  });
  const leaf = makeCert({ subject: SUBJECT('Test Signer'), key: leafKey, issuer: intermediate, ...opts.leaf });
  return { root, intermediate, leaf, chain: [leaf.der, intermediate.der, root.der] };
}

export function pem(der: Buffer): string {
  // 64 characters a line and no empty line (OpenSSL refuses one before the END line)
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
}

// ---------- envelopes ----------
export type Alg = 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';
const HASH: Record<Alg, string> = {
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};
const SALT: Record<Alg, number> = { PS256: 32, PS384: 48, PS512: 64, ES256: 0, ES384: 0, ES512: 0 };
const COSE_ALG: Record<Alg, number> = { PS256: -37, PS384: -38, PS512: -39, ES256: -7, ES384: -35, ES512: -36 };

export function rawSign(alg: Alg, k: KeyObject, data: Buffer): Buffer {
  if (alg.startsWith('PS'))
    return cryptoSign(HASH[alg], data, { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: SALT[alg] });
  return cryptoSign(HASH[alg], data, { key: k, dsaEncoding: 'ieee-p1363' });
}

export interface EnvelopeSpec {
  target: Descriptor;
  alg: Alg;
  key: KeyObject;
  chain: Buffer[];
  scheme?: 'notary.x509' | 'notary.x509.signingAuthority';
  signingTime?: Date;
  expiry?: Date;
  /** extra protected header entries (attribute → value) */
  extra?: Record<string, unknown>;
  /** extra names to list in crit */
  crit?: string[];
  /** replace the payload bytes after signing (tampering) */
  tamperPayload?: (p: Buffer) => Buffer;
  /** sign a different payload than the one described by target */
  payload?: Buffer;
  /** an RFC 3161 token, or a function making one over the signature bytes */
  timestamp?: Buffer | ((signature: Buffer) => Buffer);
}

function timestampOf(spec: EnvelopeSpec, signature: Buffer): Buffer | undefined {
  return typeof spec.timestamp === 'function' ? spec.timestamp(signature) : spec.timestamp;
}

function payloadOf(spec: EnvelopeSpec): Buffer {
  const { mediaType, digest, size } = spec.target;
  return spec.payload ?? Buffer.from(JSON.stringify({ targetArtifact: { mediaType, digest, size } }));
}

function timeAttrs(spec: EnvelopeSpec): Array<[string, Date]> {
  const scheme = spec.scheme ?? 'notary.x509';
  const t = spec.signingTime ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const out: Array<[string, Date]> = [
    [scheme === 'notary.x509' ? 'io.cncf.notary.signingTime' : 'io.cncf.notary.authenticSigningTime', t],
  ];
  if (spec.expiry) out.push(['io.cncf.notary.expiry', spec.expiry]);
  return out;
}

function critOf(spec: EnvelopeSpec): string[] {
  const scheme = spec.scheme ?? 'notary.x509';
  return [
    'io.cncf.notary.signingScheme',
    ...(scheme !== 'notary.x509' ? ['io.cncf.notary.authenticSigningTime'] : []),
    ...(spec.expiry ? ['io.cncf.notary.expiry'] : []),
    ...(spec.crit ?? []),
  ];
}

export function signJws(spec: EnvelopeSpec): Buffer {
  const header: Record<string, unknown> = {
    alg: spec.alg,
    crit: critOf(spec),
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    'io.cncf.notary.signingScheme': spec.scheme ?? 'notary.x509',
    ...Object.fromEntries(timeAttrs(spec).map(([k, d]) => [k, d.toISOString().replace(/\.000Z$/, 'Z')])),
    ...spec.extra,
  };
  const p = Buffer.from(JSON.stringify(header)).toString('base64url');
  const payload = payloadOf(spec);
  const pl = payload.toString('base64url');
  const signature = rawSign(spec.alg, spec.key, Buffer.from(`${p}.${pl}`));
  const sent = spec.tamperPayload ? spec.tamperPayload(payload).toString('base64url') : pl;
  return Buffer.from(
    JSON.stringify({
      payload: sent,
      protected: p,
      header: {
        x5c: spec.chain.map((c) => c.toString('base64')),
        'io.cncf.notary.signingAgent': 'ecs-image-gate-test',
        ...(spec.timestamp
          ? { 'io.cncf.notary.timestampSignature': timestampOf(spec, signature)!.toString('base64') }
          : {}),
      },
      signature: signature.toString('base64url'),
    }),
  );
}

const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false } as ConstructorParameters<
  typeof Encoder
>[0]);

export function signCose(spec: EnvelopeSpec): Buffer {
  const h = new Map<unknown, unknown>([
    [1, COSE_ALG[spec.alg]],
    [2, critOf(spec)],
    [3, 'application/vnd.cncf.notary.payload.v1+json'],
    ['io.cncf.notary.signingScheme', spec.scheme ?? 'notary.x509'],
  ]);
  for (const [k, d] of timeAttrs(spec)) h.set(k, new Tag(Math.floor(d.getTime() / 1000), 1));
  for (const [k, v] of Object.entries(spec.extra ?? {})) h.set(k, v);
  const protectedBytes = Buffer.from(cbor.encode(h));
  const payload = payloadOf(spec);
  const toSign = Buffer.from(cbor.encode(['Signature1', protectedBytes, Buffer.alloc(0), payload]));
  const signature = rawSign(spec.alg, spec.key, toSign);
  const unprotected = new Map<unknown, unknown>([
    [33, spec.chain],
    ['io.cncf.notary.signingAgent', 'ecs-image-gate-test'],
  ]);
  if (spec.timestamp) unprotected.set('io.cncf.notary.timestampSignature', timestampOf(spec, signature));
  const sent = spec.tamperPayload ? spec.tamperPayload(payload) : payload;
  return Buffer.from(cbor.encode(new Tag([protectedBytes, unprotected, sent, signature], 18)));
}

// ---------- signature manifests ----------
export const SIG_TYPE = 'application/vnd.cncf.notary.signature';
export const EMPTY = Buffer.from('{}');
export function digestOf(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** The OCI 1.1 manifest notation pushes for a signature of `subject`. */
export function signatureManifest(subject: Descriptor, envelope: Buffer, mediaType: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: SIG_TYPE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(EMPTY), size: 2 },
      layers: [{ mediaType, digest: digestOf(envelope), size: envelope.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': '[]' },
    }),
  );
}
