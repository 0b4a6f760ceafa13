/**
 * The revocation checker on its own (src/verify/notary/revocation.ts), against an OCSP
 * responder and CRL distribution point on loopback that build every answer from scratch
 * (the CertID computed here, not echoed from the request), so that each field of an
 * answer can be broken on its own: CertID, responder, signature and its algorithm,
 * thisUpdate / nextUpdate at the clock-skew boundaries, response status and type, CRL
 * issuer, extensions, HTTP status, size and transport failures. A fixed clock drives the
 * freshness checks and the cache.
 *
 * The module is imported afresh in each test (vi.resetModules), so its tables
 * (accepted algorithms, OIDs) are evaluated inside the test that relies on them.
 */
import { createHash, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SUBJECT, der, key, makeCert, type IssuedCert, type KeyPair } from './support/notation-signer.js';

type RevocationModule = typeof import('../src/verify/notary/revocation.js');
type X509Module = typeof import('../src/verify/notary/x509.js');
let R: RevocationModule;
let X: X509Module;

const T0 = new Date('2031-03-01T12:00:00Z');
const MIN = 60_000;
const at = (ms: number) => new Date(T0.getTime() + ms);
let clock = T0;

const OID = {
  basic: '1.3.6.1.5.5.7.48.1.1',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsa256: '1.2.840.113549.1.1.11',
  rsa384: '1.2.840.113549.1.1.12',
  rsa512: '1.2.840.113549.1.1.13',
  ec256: '1.2.840.10045.4.3.2',
  ec384: '1.2.840.10045.4.3.3',
  ec512: '1.2.840.10045.4.3.4',
  ecSha1: '1.2.840.10045.4.1',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
};

// ---------- a little DER reading (to hash the issuer's key independently of the code under test) ----------
function header(b: Buffer, o: number): { start: number; end: number } {
  let len = b[o + 1]!;
  let start = o + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start++]!;
  }
  return { start, end: start + len };
}
function children(b: Buffer): Buffer[] {
  const { start, end } = header(b, 0);
  const out: Buffer[] = [];
  for (let o = start; o < end; o = header(b, o).end) out.push(b.subarray(o, header(b, o).end));
  return out;
}
/** the subjectPublicKey bits of a key (BIT STRING contents without the unused-bits octet) */
function keyBits(k: KeyPair): Buffer {
  const bits = children(k.publicKey.export({ type: 'spki', format: 'der' }))[1]!;
  const { start, end } = header(bits, 0);
  return bits.subarray(start + 1, end);
}
const serialOf = (c: IssuedCert) => {
  const tbs = children(c.der)[0]!;
  const int = children(tbs)[1]!;
  return int.subarray(header(int, 0).start, header(int, 0).end);
};
const sha = (alg: string, b: Buffer) => createHash(alg).update(b).digest();

// ---------- OCSP responses and CRLs, every field settable ----------
interface OcspSpec {
  status?: 'good' | 'revoked' | 'unknown';
  revokedAt?: Date;
  thisUpdate?: Date;
  /** null: no nextUpdate */
  nextUpdate?: Date | null;
  hashOid?: string;
  nameHash?: Buffer;
  keyHash?: Buffer;
  serial?: Buffer;
  /** a whole ResponderID TLV; default byName of the issuer */
  responder?: Buffer;
  signer?: KeyPair;
  sigOid?: string;
  /** null: the key's own (Ed25519) */
  sigHash?: string | null;
  certs?: Buffer[];
  responseStatus?: number;
  responseType?: string;
  /** bytes appended inside the BasicOCSPResponse OCTET STRING */
  basicTrailer?: Buffer;
  /** the bytes to send instead */
  raw?: Buffer;
}

const byName = (c: IssuedCert) => der.ctx(1, true, c.name);
const byKey = (k: KeyPair) => der.ctx(2, true, der.octets(sha('sha1', keyBits(k))));
const sigAlg = (oid: string) => der.seq(der.oid(oid), ...(oid.startsWith('1.2.840.113549') ? [der.null()] : []));
const defaultSig = (k: KeyPair): { oid: string; hash: string | null } =>
  k.privateKey.asymmetricKeyType === 'ec' ? { oid: OID.ec384, hash: 'sha384' } : { oid: OID.rsa256, hash: 'sha256' };

function ocspResponse(cert: IssuedCert, issuer: IssuedCert, spec: OcspSpec = {}): Buffer {
  if (spec.raw) return spec.raw;
  const status = spec.responseStatus ?? 0;
  if (status !== 0) return der.seq(der.tlv(0x0a, Buffer.from([status])));
  const certId = der.seq(
    der.seq(der.oid(spec.hashOid ?? OID.sha256), der.null()),
    der.octets(spec.nameHash ?? sha('sha256', issuer.name)),
    der.octets(spec.keyHash ?? sha('sha256', keyBits(issuer.key))),
    der.tlv(0x02, spec.serial ?? serialOf(cert)),
  );
  const certStatus =
    spec.status === 'revoked'
      ? der.ctx(1, true, der.genTime(spec.revokedAt ?? at(-24 * 60 * MIN)))
      : spec.status === 'unknown'
        ? Buffer.from([0x82, 0x00])
        : Buffer.from([0x80, 0x00]);
  const next = spec.nextUpdate === undefined ? new Date(clock.getTime() + 60 * MIN) : spec.nextUpdate;
  const single = der.seq(
    certId,
    certStatus,
    der.genTime(spec.thisUpdate ?? clock),
    ...(next ? [der.ctx(0, true, der.genTime(next))] : []),
  );
  const tbs = der.seq(spec.responder ?? byName(issuer), der.genTime(clock), der.seq(single));
  const signer = spec.signer ?? issuer.key;
  const sig = { ...defaultSig(signer), ...(spec.sigOid ? { oid: spec.sigOid, hash: spec.sigHash ?? null } : {}) };
  const basic = der.seq(
    tbs,
    sigAlg(sig.oid),
    der.bits(cryptoSign(sig.hash, tbs, signer.privateKey)),
    ...(spec.certs ? [der.ctx(0, true, der.seq(...spec.certs))] : []),
  );
  return der.seq(
    der.tlv(0x0a, Buffer.from([0])),
    der.ctx(
      0,
      true,
      der.seq(
        der.oid(spec.responseType ?? OID.basic),
        der.octets(Buffer.concat([basic, spec.basicTrailer ?? Buffer.alloc(0)])),
      ),
    ),
  );
}

interface CrlSpec {
  issuerName?: Buffer;
  thisUpdate?: Date;
  nextUpdate?: Date | null;
  revoked?: Buffer[];
  /** whole Extension TLVs */
  extensions?: Buffer[];
  signer?: KeyPair;
  raw?: Buffer;
}
const ext = (oid: string, critical: boolean, value: Buffer) =>
  der.seq(der.oid(oid), ...(critical ? [der.bool(true)] : []), der.octets(value));

function crl(issuer: IssuedCert, spec: CrlSpec = {}): Buffer {
  if (spec.raw) return spec.raw;
  const next = spec.nextUpdate === undefined ? new Date(clock.getTime() + 60 * MIN) : spec.nextUpdate;
  const sig = defaultSig(spec.signer ?? issuer.key);
  const tbs = der.seq(
    der.int(1),
    sigAlg(sig.oid),
    spec.issuerName ?? issuer.name,
    der.genTime(spec.thisUpdate ?? clock),
    ...(next ? [der.genTime(next)] : []),
    ...(spec.revoked?.length
      ? [der.seq(...spec.revoked.map((s) => der.seq(der.tlv(0x02, s), der.genTime(at(-48 * 60 * MIN)))))]
      : []),
    ...(spec.extensions ? [der.ctx(0, true, der.seq(...spec.extensions))] : []),
  );
  return der.seq(tbs, sigAlg(sig.oid), der.bits(cryptoSign(sig.hash, tbs, (spec.signer ?? issuer.key).privateKey)));
}

// ---------- the loopback responder ----------
type Reply = Buffer | ((res: ServerResponse) => void);
/** per certificate (by serial hex): how the OCSP responder answers; default a good answer */
const ocspAnswers = new Map<string, (cert: IssuedCert, issuer: IssuedCert) => Reply>();
/** per CRL label: the CRL served; default an empty CRL by that issuer */
const crlAnswers = new Map<string, (issuer: IssuedCert) => Reply>();
const certs = new Map<string, { cert: IssuedCert; issuer: IssuedCert }>();
const crlIssuers = new Map<string, IssuedCert>();
const seen: string[] = [];
const hanging = new Set<ServerResponse>();
let url = '';

const server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let reply: Reply | undefined;
  if (req.url === '/ocsp' && req.method === 'POST') {
    // RFC 6960 A.1.1: a responder reads only what is labelled as an OCSP request
    if (req.headers['content-type'] !== 'application/ocsp-request') return void res.writeHead(415).end();
    const request = pkijs.OCSPRequest.fromBER(new Uint8Array(Buffer.concat(chunks)));
    const serial = Buffer.from(request.tbsRequest.requestList[0]!.reqCert.serialNumber.valueBlock.valueHexView);
    seen.push(`OCSP ${serial.toString('hex')}`);
    const known = certs.get(serial.toString('hex'));
    if (!known) return void res.writeHead(404).end();
    reply = (ocspAnswers.get(serial.toString('hex')) ?? ((c, i) => ocspResponse(c, i)))(known.cert, known.issuer);
  }
  const crlPath = /^\/crl\/([\w-]+)$/.exec(req.url ?? '');
  if (crlPath && req.method === 'GET') {
    seen.push(`CRL ${crlPath[1]}`);
    const issuer = crlIssuers.get(crlPath[1]!);
    if (!issuer) return void res.writeHead(404).end();
    reply = (crlAnswers.get(crlPath[1]!) ?? ((i) => crl(i)))(issuer);
  }
  if (!reply) return void res.writeHead(404).end();
  if (Buffer.isBuffer(reply)) return void res.writeHead(200).end(reply);
  reply(res);
}

const aia = (u: string) => ({
  oid: '1.3.6.1.5.5.7.1.1',
  critical: false,
  value: der.seq(der.seq(der.oid('1.3.6.1.5.5.7.48.1'), der.tlv(0x86, Buffer.from(u)))),
});
const cdp = (u: string) => ({
  oid: '2.5.29.31',
  critical: false,
  value: der.seq(der.seq(der.ctx(0, true, der.ctx(0, true, der.tlv(0x86, Buffer.from(u)))))),
});

let root: IssuedCert;
let issuer: IssuedCert;
/** names only the OCSP responder */
let ocspLeaf: IssuedCert;
/** names only the CRL of `issuer` */
let crlLeaf: IssuedCert;
let rsaIssuer: IssuedCert;
let rsaLeaf: IssuedCert;
let pssIssuer: IssuedCert;
let pssLeaf: IssuedCert;
const pssKey: KeyPair = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
let edIssuer: IssuedCert;
let edLeaf: IssuedCert;
const edKey: KeyPair = generateKeyPairSync('ed25519');

/** a leaf of `by` pointing wherever `extra` says, known to the responder */
function leafOf(by: IssuedCert, name: string, extra: Array<ReturnType<typeof aia>>): IssuedCert {
  const cert = makeCert({ subject: SUBJECT(name), key: key('p256', 'ocsp-crl-leaf'), issuer: by, extra });
  certs.set(serialOf(cert).toString('hex'), { cert, issuer: by });
  return cert;
}
function caOf(by: IssuedCert, name: string, k: KeyPair, extra: Array<ReturnType<typeof aia>> = []): IssuedCert {
  const cert = makeCert({ subject: SUBJECT(name), key: k, issuer: by, ca: true, extra });
  certs.set(serialOf(cert).toString('hex'), { cert, issuer: by });
  return cert;
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  root = makeCert({ subject: SUBJECT('OCSP CRL Root'), key: key('p384', 'ocsp-crl-root'), ca: true });
  issuer = caOf(root, 'OCSP CRL Issuer', key('p384', 'ocsp-crl-issuer'));
  crlIssuers.set('issuer', issuer);
  ocspLeaf = leafOf(issuer, 'OCSP Leaf', [aia(`${url}/ocsp`)]);
  crlLeaf = leafOf(issuer, 'CRL Leaf', [cdp(`${url}/crl/issuer`)]);
  rsaIssuer = caOf(root, 'RSA Issuer', key('rsa2048', 'ocsp-crl-rsa'));
  rsaLeaf = leafOf(rsaIssuer, 'RSA Leaf', [aia(`${url}/ocsp`)]);
  pssIssuer = caOf(root, 'PSS Issuer', pssKey);
  pssLeaf = leafOf(pssIssuer, 'PSS Leaf', [aia(`${url}/ocsp`)]);
  edIssuer = caOf(root, 'Ed25519 Issuer', edKey);
  // makeCert cannot sign with Ed25519: this leaf is signed by the root, and the checker (which
  // takes the chain as verified) is shown it under the Ed25519 issuer
  edLeaf = leafOf(root, 'Ed25519 Leaf', [aia(`${url}/ocsp`)]);
  certs.set(hex(edLeaf), { cert: edLeaf, issuer: edIssuer });
});
afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(async () => {
  vi.resetModules();
  R = await import('../src/verify/notary/revocation.js');
  X = await import('../src/verify/notary/x509.js');
  clock = T0;
  ocspAnswers.clear();
  crlAnswers.clear();
  seen.length = 0;
});

const hex = (c: IssuedCert) => serialOf(c).toString('hex');
const subjectOf = (c: IssuedCert) => X.Certificate.fromDer(c.der).subject;
function checker(opts: ConstructorParameters<RevocationModule['RevocationChecker']>[0] = {}) {
  return new R.RevocationChecker({ now: () => clock, ...opts });
}
/** the status of leaf → issuer → root (or any chain given), with a caller signal that never aborts */
function check(chain: IssuedCert[], c = checker(), signal = new AbortController().signal) {
  return c.checkChain(
    chain.map((x) => X.Certificate.fromDer(x.der)),
    signal,
  );
}
const ocspChain = () => [ocspLeaf, issuer, root];
const crlChain = () => [crlLeaf, issuer, root];
const answerOcsp = (cert: IssuedCert, spec: OcspSpec | ((c: IssuedCert, i: IssuedCert) => Reply)) =>
  ocspAnswers.set(hex(cert), typeof spec === 'function' ? spec : (c, i) => ocspResponse(c, i, spec));
const answerCrl = (spec: CrlSpec | ((i: IssuedCert) => Reply)) =>
  crlAnswers.set('issuer', typeof spec === 'function' ? spec : (i) => crl(i, spec));
/** an unknown status whose detail names `why` for the one source asked */
const unknownBecause = (why: string | RegExp) => ({
  status: 'unknown',
  detail: expect.stringMatching(typeof why === 'string' ? new RegExp(why.replace(/[()[\].*+?^$|\\]/g, '\\$&')) : why),
});

describe('an OCSP answer counts only when every field is right', () => {
  it('a good answer from the issuer, about this certificate, current: good (asked once, with the OCSP media type)', async () => {
    expect(await check(ocspChain())).toEqual({ status: 'good' });
    expect(seen).toEqual([`OCSP ${hex(ocspLeaf)}`]);
  });

  it.each([
    ['the hash algorithm is another (SHA-1 named over SHA-256 hashes)', { hashOid: OID.sha1 }],
    ['the issuer name hash is of another name', { nameHash: sha('sha256', Buffer.from('someone else')) }],
    ['the issuer key hash is of another key', { keyHash: sha('sha256', keyBits(key('p384', 'stranger'))) }],
    ['the serial is another', { serial: Buffer.from([0x01, 0x02, 0x03]) }],
  ] as const)('not about this certificate when %s', async (_name, spec) => {
    answerOcsp(ocspLeaf, spec);
    expect(await check(ocspChain())).toEqual(unknownBecause('the OCSP response does not answer for this certificate'));
  });

  it('revoked: the detail names the certificate, the time and the responder', async () => {
    answerOcsp(ocspLeaf, { status: 'revoked', revokedAt: new Date('2031-02-01T08:00:00Z') });
    expect(await check(ocspChain())).toEqual({
      status: 'revoked',
      detail: `certificate "${subjectOf(ocspLeaf)}" was revoked at 2031-02-01T08:00:00.000Z (OCSP ${url}/ocsp)`,
    });
  });

  it('a responder that does not know the certificate gives no answer', async () => {
    answerOcsp(ocspLeaf, { status: 'unknown' });
    expect(await check(ocspChain())).toEqual(unknownBecause('the OCSP responder does not know the certificate'));
  });

  it('a responder named by the SHA-1 of the issuer key (byKey) is the issuer', async () => {
    answerOcsp(ocspLeaf, { responder: byKey(issuer.key) });
    expect(await check(ocspChain())).toEqual({ status: 'good' });
  });

  it('a byKey responder that is not the issuer, even signed by the issuer, is not trusted', async () => {
    answerOcsp(ocspLeaf, { responder: byKey(key('p384', 'stranger')) });
    expect(await check(ocspChain())).toEqual(unknownBecause('not signed by the issuer or a responder it authorised'));
  });

  it('a response signed by another key than the one it names does not verify', async () => {
    answerOcsp(ocspLeaf, { signer: key('p384', 'stranger') });
    expect(await check(ocspChain())).toEqual(unknownBecause('the OCSP response signature does not verify'));
  });

  it('a successful status without a response body, or a response of another type, is not a basic response', async () => {
    answerOcsp(ocspLeaf, { raw: der.seq(der.tlv(0x0a, Buffer.from([0]))) });
    expect(await check(ocspChain())).toEqual(unknownBecause(/: not a basic OCSP response\)$/));
    // a well-formed, well-signed good answer, but labelled as another response type
    answerOcsp(ocspLeaf, { responseType: '1.3.6.1.5.5.7.48.1.99' });
    expect(await check(ocspChain(), checker())).toEqual(unknownBecause(/: not a basic OCSP response\)$/));
  });

  it('a responder refusing to answer (unauthorized) says so, as itself', async () => {
    answerOcsp(ocspLeaf, { responseStatus: 6 });
    expect(await check(ocspChain())).toEqual(unknownBecause(/\/ocsp: the OCSP responder answered status 6\)$/));
  });

  it('malformed responses: the outer message, and the basic response inside', async () => {
    answerOcsp(ocspLeaf, { raw: Buffer.from('<html>not OCSP</html>') });
    expect(await check(ocspChain())).toEqual(unknownBecause(/: malformed OCSP response: OCSP response: /));
    answerOcsp(ocspLeaf, { basicTrailer: Buffer.from([0x00]) });
    expect(await check(ocspChain(), checker())).toEqual(
      unknownBecause(/: malformed OCSP response: BasicOCSPResponse: trailing bytes/),
    );
  });
});

describe('delegated OCSP responders (RFC 6960 4.2.2.2)', () => {
  const responderKey = key('p256', 'ocsp-crl-responder');
  const stranger = makeCert({ subject: SUBJECT('Stranger'), key: key('p384', 'stranger'), ca: true });
  const responder = (
    opts: { eku?: readonly string[] | null; name?: string; byStranger?: boolean; sigHash?: 'sha1' } = {},
  ) =>
    makeCert({
      subject: SUBJECT(opts.name ?? 'OCSP Responder'),
      key: responderKey,
      issuer: opts.byStranger ? stranger : issuer,
      keyUsage: [0],
      eku: opts.eku === undefined ? [OID.ocspSigning] : opts.eku && [...opts.eku],
      ...(opts.sigHash ? { sigHash: opts.sigHash } : {}),
    });

  it('a responder the issuer certified for OCSP signing, named and sent along, signs for it', async () => {
    const r = responder();
    answerOcsp(ocspLeaf, { responder: byName(r), signer: responderKey, certs: [r.der] });
    expect(await check(ocspChain())).toEqual({ status: 'good' });
  });

  it('a certificate node cannot read among those sent is skipped, the next one is used', async () => {
    const r = responder();
    // a certificate in shape whose key is not one: node refuses it
    const broken = Buffer.from(r.der);
    const spkiOid = der.oid('1.2.840.10045.2.1');
    broken.set(der.oid('1.2.840.10045.2.9').subarray(0, spkiOid.length), broken.indexOf(spkiOid));
    expect(() => X.Certificate.fromDer(broken)).toThrow();
    answerOcsp(ocspLeaf, { responder: byName(r), signer: responderKey, certs: [broken, r.der] });
    expect(await check(ocspChain())).toEqual({ status: 'good' });
  });

  it.each([
    ['the response names someone else as its responder', { name: 'OCSP Responder' }, 'stranger'],
    ['the responder certificate has no extended key usage at all', { eku: null }, 'self'],
    ['the responder certificate is for code signing, not OCSP', { eku: ['1.3.6.1.5.5.7.3.3'] }, 'self'],
    ['the responder certificate was issued by someone else', { byStranger: true }, 'self'],
    ['the issuer signed the responder certificate with SHA-1', { sigHash: 'sha1' }, 'self'],
  ] as const)('not authorised when %s', async (_name, opts, named) => {
    const r = responder(opts);
    answerOcsp(ocspLeaf, { responder: byName(named === 'self' ? r : stranger), signer: responderKey, certs: [r.der] });
    expect(await check(ocspChain())).toEqual(
      unknownBecause(/\/ocsp: the OCSP response is not signed by the issuer or a responder it authorised\)$/),
    );
  });

  it('a certs field holding something other than certificates is malformed', async () => {
    answerOcsp(ocspLeaf, { certs: [der.int(7)] });
    expect(await check(ocspChain())).toEqual(unknownBecause(/: malformed OCSP response: /));
  });
});

describe('signature algorithms (SHA-256 or stronger, RSA PKCS#1 v1.5 or ECDSA)', () => {
  it.each([
    ['sha256WithRSAEncryption', OID.rsa256, 'sha256', 'rsa'],
    ['sha384WithRSAEncryption', OID.rsa384, 'sha384', 'rsa'],
    ['sha512WithRSAEncryption', OID.rsa512, 'sha512', 'rsa'],
    ['ecdsa-with-SHA256', OID.ec256, 'sha256', 'ec'],
    ['ecdsa-with-SHA384', OID.ec384, 'sha384', 'ec'],
    ['ecdsa-with-SHA512', OID.ec512, 'sha512', 'ec'],
  ] as const)('%s verifies', async (_name, sigOid, sigHash, kind) => {
    const [leaf, by] = kind === 'rsa' ? [rsaLeaf, rsaIssuer] : [ocspLeaf, issuer];
    answerOcsp(leaf, { sigOid, sigHash });
    expect(await check([leaf, by, root])).toEqual({ status: 'good' });
  });

  it('ecdsa-with-SHA1, validly signed by the issuer, is refused', async () => {
    answerOcsp(ocspLeaf, { sigOid: OID.ecSha1, sigHash: 'sha1' });
    expect(await check(ocspChain())).toEqual(unknownBecause('the OCSP response signature does not verify'));
  });

  it('an Ed25519 key cannot pass its signature off as ECDSA', async () => {
    answerOcsp(edLeaf, { sigOid: OID.ec256, sigHash: null });
    expect(await check([edLeaf, edIssuer, root])).toEqual(
      unknownBecause('the OCSP response signature does not verify'),
    );
  });

  it('an RSA key cannot pass its PKCS#1 v1.5 signature off as ECDSA (Go refuses a key of the wrong type)', async () => {
    answerOcsp(rsaLeaf, { sigOid: OID.ec256, sigHash: 'sha256' });
    expect(await check([rsaLeaf, rsaIssuer, root])).toEqual(
      unknownBecause('the OCSP response signature does not verify'),
    );
  });

  it.each([
    [OID.rsa256, 'sha256'],
    [OID.rsa384, 'sha384'],
    [OID.rsa512, 'sha512'],
  ] as const)('an RSA-PSS key cannot pass a PSS signature off as PKCS#1 v1.5 (%s)', async (sigOid, sigHash) => {
    answerOcsp(pssLeaf, { sigOid, sigHash });
    expect(await check([pssLeaf, pssIssuer, root])).toEqual(
      unknownBecause('the OCSP response signature does not verify'),
    );
  });
});

describe('freshness: thisUpdate and nextUpdate within 5 minutes of skew', () => {
  const S = 1000;
  it.each([
    ['thisUpdate now', { thisUpdate: T0 }, null],
    ['thisUpdate 5 minutes ahead', { thisUpdate: at(5 * MIN) }, null],
    ['thisUpdate 5 minutes and a second ahead', { thisUpdate: at(5 * MIN + S) }, 'from the future'],
    ['nextUpdate in a minute', { nextUpdate: at(MIN) }, null],
    ['nextUpdate 5 minutes ago', { nextUpdate: at(-5 * MIN) }, null],
    ['nextUpdate 5 minutes and a second ago', { nextUpdate: at(-5 * MIN - S) }, 'stale'],
  ] as const)('OCSP, %s', async (_name, spec, refused) => {
    answerOcsp(ocspLeaf, { thisUpdate: at(-MIN), ...spec });
    const status = await check(ocspChain());
    if (!refused) expect(status).toEqual({ status: 'good' });
    else if (refused === 'stale')
      expect(status).toEqual(
        unknownBecause(`the OCSP response is stale (nextUpdate ${at(-5 * MIN - S).toISOString()})`),
      );
    else
      expect(status).toEqual(
        unknownBecause(`the OCSP response is from the future (thisUpdate ${at(5 * MIN + S).toISOString()})`),
      );
  });

  it('a stale CRL, and one from the future, are no answers', async () => {
    answerCrl({ thisUpdate: at(-3 * 60 * MIN), nextUpdate: at(-2 * 60 * MIN) });
    expect(await check(crlChain())).toEqual(
      unknownBecause(`the CRL is stale (nextUpdate ${at(-2 * 60 * MIN).toISOString()})`),
    );
    answerCrl({ thisUpdate: at(10 * MIN) });
    expect(await check(crlChain(), checker())).toEqual(
      unknownBecause(`the CRL is from the future (thisUpdate ${at(10 * MIN).toISOString()})`),
    );
  });
});

describe('CRLs', () => {
  it('an empty, current CRL by the issuer (with a non-critical CRL number): good', async () => {
    answerCrl({ extensions: [ext('2.5.29.20', false, der.int(42))] });
    expect(await check(crlChain())).toEqual({ status: 'good' });
    expect(seen).toEqual(['CRL issuer']);
  });

  it('a CRL without extensions: good', async () => {
    expect(await check(crlChain())).toEqual({ status: 'good' });
  });

  it('the certificate listed: revoked, naming the time and the CRL', async () => {
    answerCrl({ revoked: [Buffer.from([0x05]), serialOf(crlLeaf)] });
    expect(await check(crlChain())).toEqual({
      status: 'revoked',
      detail: `certificate "${subjectOf(crlLeaf)}" was revoked at ${at(-48 * 60 * MIN).toISOString()} (CRL ${url}/crl/issuer)`,
    });
  });

  it('other serials listed: good', async () => {
    answerCrl({ revoked: [Buffer.from([0x05])] });
    expect(await check(crlChain())).toEqual({ status: 'good' });
  });

  it('critical extensions it does not process are named, all of them', async () => {
    answerCrl({
      extensions: [
        ext('2.5.29.27', true, der.int(1)),
        ext('2.5.29.28', true, der.seq()),
        ext('2.5.29.20', false, der.int(1)),
      ],
    });
    expect(await check(crlChain())).toEqual(
      unknownBecause('the CRL has critical extension(s) 2.5.29.27, 2.5.29.28, not supported'),
    );
  });

  it('signed by another key than the issuer it names', async () => {
    answerCrl({ signer: key('p384', 'stranger') });
    expect(await check(crlChain())).toEqual(unknownBecause('the CRL signature does not verify'));
  });

  it('malformed bytes', async () => {
    answerCrl({ raw: Buffer.from('not a CRL') });
    expect(await check(crlChain())).toEqual(unknownBecause(/\/crl\/issuer: malformed CRL: CRL: /));
  });
});

describe('which certificates are asked', () => {
  it('a chain naming no revocation location is good at once, whatever the deadline', async () => {
    const plainLeaf = makeCert({ subject: SUBJECT('Plain'), key: key('p256', 'ocsp-crl-leaf'), issuer });
    const plainIssuer = caOf(root, 'Plain Issuer', key('p384', 'ocsp-crl-issuer'));
    const aborted = AbortSignal.abort(new Error('deadline'));
    expect(await check([plainLeaf, plainIssuer, root], checker(), aborted)).toEqual({ status: 'good' });
    // the root is never asked about, even when it names a location
    const talkativeRoot = makeCert({
      subject: SUBJECT('OCSP CRL Root'),
      key: key('p384', 'ocsp-crl-root'),
      ca: true,
      extra: [aia(`${url}/ocsp`)],
    });
    expect(await check([plainLeaf, plainIssuer, talkativeRoot], checker(), aborted)).toEqual({ status: 'good' });
    expect(await check([ocspLeaf, issuer, talkativeRoot])).toEqual({ status: 'good' });
    expect(seen).toEqual([`OCSP ${hex(ocspLeaf)}`]);
  });

  it('an intermediate is asked even when the leaf names no location', async () => {
    const asked = caOf(root, 'Asked Issuer', key('p384', 'ocsp-crl-issuer'), [aia(`${url}/ocsp`)]);
    const plainLeaf = makeCert({ subject: SUBJECT('Plain'), key: key('p256', 'ocsp-crl-leaf'), issuer: asked });
    answerOcsp(asked, { status: 'revoked' });
    expect(await check([plainLeaf, asked, root])).toEqual({
      status: 'revoked',
      detail: expect.stringContaining('Asked Issuer'),
    });
  });

  it('a certificate naming no location is good while another in the chain is asked', async () => {
    expect(await check(ocspChain())).toEqual({ status: 'good' });
    expect(seen).toEqual([`OCSP ${hex(ocspLeaf)}`]);
  });

  it('one good and one unknown: unknown', async () => {
    const asked = caOf(root, 'Unknown Issuer', key('p384', 'ocsp-crl-issuer'), [aia(`${url}/ocsp`)]);
    const leaf = leafOf(asked, 'Good Leaf', [aia(`${url}/ocsp`)]);
    answerOcsp(asked, (_c, _i) => (res) => void res.writeHead(500).end());
    expect(await check([leaf, asked, root])).toEqual(unknownBecause('Unknown Issuer'));
  });
});

describe('caching per certificate, by the fixed clock', () => {
  it('an answer is reused until its nextUpdate, then asked again', async () => {
    const c = checker();
    answerOcsp(ocspLeaf, { nextUpdate: at(10 * MIN) });
    await check(ocspChain(), c);
    await check(ocspChain(), c);
    clock = at(9 * MIN);
    expect(await check(ocspChain(), c)).toEqual({ status: 'good' });
    expect(seen).toHaveLength(1);
    clock = at(11 * MIN);
    expect(await check(ocspChain(), c)).toEqual({ status: 'good' });
    expect(seen).toHaveLength(2);
  });

  it('an answer without nextUpdate is reused for an hour by default', async () => {
    const c = checker();
    answerOcsp(ocspLeaf, { nextUpdate: null });
    await check(ocspChain(), c);
    clock = at(59 * MIN);
    await check(ocspChain(), c);
    expect(seen).toHaveLength(1);
    clock = at(61 * MIN);
    await check(ocspChain(), c);
    expect(seen).toHaveLength(2);
  });

  it('maxAgeMs bounds the reuse below nextUpdate', async () => {
    const c = checker({ maxAgeMs: 10 * MIN });
    await check(ocspChain(), c); // nextUpdate in an hour
    clock = at(11 * MIN);
    await check(ocspChain(), c);
    expect(seen).toHaveLength(2);
  });

  it('a CRL answer is reused until the CRL nextUpdate', async () => {
    const c = checker();
    answerCrl({ nextUpdate: at(10 * MIN) });
    await check(crlChain(), c);
    clock = at(9 * MIN);
    await check(crlChain(), c);
    expect(seen).toHaveLength(1);
    clock = at(11 * MIN);
    answerCrl({});
    await check(crlChain(), c);
    expect(seen).toHaveLength(2);
  });

  it('an unknown status is never reused', async () => {
    const c = checker();
    answerOcsp(ocspLeaf, { status: 'unknown' });
    expect(await check(ocspChain(), c)).toMatchObject({ status: 'unknown' });
    answerOcsp(ocspLeaf, {});
    expect(await check(ocspChain(), c)).toEqual({ status: 'good' });
    expect(seen).toHaveLength(2);
  });

  it('an unknown status takes no place in the cache', async () => {
    const c = checker({ maxCacheEntries: 1 });
    await check(ocspChain(), c);
    answerOcsp(rsaLeaf, { status: 'unknown' });
    expect(await check([rsaLeaf, rsaIssuer, root], c)).toMatchObject({ status: 'unknown' });
    expect(await check(ocspChain(), c)).toEqual({ status: 'good' });
    expect(seen).toEqual([`OCSP ${hex(ocspLeaf)}`, `OCSP ${hex(rsaLeaf)}`]);
  });

  it('maxCacheEntries: the oldest answer goes first', async () => {
    const c = checker({ maxCacheEntries: 1 });
    await check(ocspChain(), c);
    await check([rsaLeaf, rsaIssuer, root], c);
    await check(ocspChain(), c);
    expect(seen).toEqual([`OCSP ${hex(ocspLeaf)}`, `OCSP ${hex(rsaLeaf)}`, `OCSP ${hex(ocspLeaf)}`]);
  });
});

describe('HTTP', () => {
  const status = (code: number) => (_c: IssuedCert, _i: IssuedCert) => (res: ServerResponse) =>
    void res.writeHead(code).end(code === 204 ? undefined : 'error page');

  it('both sources failing: unknown, naming each source and why, in order', async () => {
    const both = leafOf(issuer, 'Both Leaf', [aia(`${url}/ocsp`), cdp(`${url}/crl/issuer`)]);
    answerOcsp(both, status(500));
    answerCrl(() => (res) => void res.writeHead(503).end('busy'));
    expect(await check([both, issuer, root])).toEqual({
      status: 'unknown',
      detail: `revocation status of "${subjectOf(both)}" cannot be determined (OCSP ${url}/ocsp: HTTP 500; CRL ${url}/crl/issuer: HTTP 503)`,
    });
  });

  it('a 204 without a body is no answer', async () => {
    answerOcsp(ocspLeaf, status(204));
    expect(await check(ocspChain())).toEqual(unknownBecause(/\/ocsp: HTTP 204\)$/));
  });

  it('only http and https locations are fetched', async () => {
    const ldap = leafOf(issuer, 'LDAP Leaf', [cdp('ldap://ldap.example/cn=CRL?http://127.0.0.1/crl')]);
    expect(await check([ldap, issuer, root])).toEqual(unknownBecause(/: only http and https locations are used\)$/));
    expect(seen).toEqual([]);
  });

  it('an unreachable location', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gone = leafOf(issuer, 'Gone Leaf', [aia(`http://127.0.0.1:${port}/ocsp`)]);
    expect(await check([gone, issuer, root])).toEqual(unknownBecause(/\/ocsp: unreachable \(.*ECONNREFUSED/));
  });

  it('the size cap: a response of exactly the cap is read, one byte more is not', async () => {
    const body = ocspResponse(ocspLeaf, issuer);
    answerOcsp(ocspLeaf, () => body);
    expect(await check(ocspChain(), checker({ maxResponseBytes: body.length }))).toEqual({ status: 'good' });
    expect(await check(ocspChain(), checker({ maxResponseBytes: body.length - 1 }))).toEqual(
      unknownBecause(new RegExp(`/ocsp: larger than ${body.length - 1} bytes\\)$`)),
    );
  });

  it('the default cap is 10 MiB', async () => {
    answerOcsp(ocspLeaf, () => Buffer.alloc(10 * 1024 * 1024 + 1));
    expect(await check(ocspChain())).toEqual(unknownBecause(/\/ocsp: larger than 10485760 bytes\)$/));
  });

  it('a body cut off midway', async () => {
    answerOcsp(ocspLeaf, () => (res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
      setTimeout(() => res.destroy(), 20);
    });
    expect(await check(ocspChain())).toEqual(unknownBecause(/\/ocsp: read failed \(/));
  });

  it('a body that stops coming runs into the time budget', async () => {
    answerOcsp(ocspLeaf, () => (res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
      hanging.add(res);
    });
    expect(await check(ocspChain(), checker({ timeoutMs: 300 }))).toEqual(
      unknownBecause(/\/ocsp: no answer within the time budget\)$/),
    );
  });
});

describe('verifySigned', () => {
  it('a verification that throws (a signature that is not bytes) is a refusal, never an acceptance', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const notBytes = { length: 64 } as unknown as Buffer;
    expect(R.verifySigned('1.2.840.10045.4.3.2', publicKey, Buffer.from('data'), notBytes)).toBe(false);
  });
});
