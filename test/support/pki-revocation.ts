/**
 * A test OCSP responder and CRL distribution point on a loopback HTTP server. OCSP
 * answers are built per request (the request's CertID parsed with pkijs and echoed
 * back), signed by the issuer of the certificate asked about; CRLs are built with the
 * test DER writer and signed by their issuer. Each certificate's answer is set by the
 * test: good, revoked, unknown, an HTTP error, or no answer at all.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign as cryptoSign } from 'node:crypto';
import * as pkijs from 'pkijs';
import { SUBJECT, der, key, makeCert, type IssuedCert } from './notation-signer.js';

export type Answer =
  | 'good'
  | 'revoked'
  | 'unknown'
  | 'http-500'
  | 'hang'
  | 'bad-signature'
  /** OCSP: an answer about another certificate */
  | 'other-cert'
  /** OCSP: validly signed, but by a stranger (not the issuer, not a delegate) */
  | 'wrong-signer'
  /** OCSP or CRL: nextUpdate two hours ago */
  | 'stale'
  /** CRL: signed by the issuer's key but naming another issuer */
  | 'wrong-issuer'
  /** CRL: a critical extension (deltaCRLIndicator) */
  | 'critical-ext'
  /** CRL: without nextUpdate */
  | 'no-next-update'
  /** OCSP: signed by a responder certificate the issuer made for OCSP signing, sent along */
  | 'delegate'
  /** OCSP: as delegate, but the responder certificate lacks the OCSPSigning EKU */
  | 'delegate-without-eku';

const OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const ECDSA_SHA384 = '1.2.840.10045.4.3.3';

export interface RevocationServer {
  url: string;
  /** OCSP answers by certificate serial (hex, as in the certificate); default good */
  ocsp: Map<string, Answer>;
  /** CRL answers by issuer label; 'revoked' lists the serials in `revokedSerials` */
  crl: Map<string, Answer>;
  revokedSerials: Set<string>;
  /** issuers by label (for CRLs) and by serial of the certificates they issued (for OCSP) */
  issuers: Map<string, IssuedCert>;
  issuerOf: Map<string, IssuedCert>;
  /** requests seen, as "OCSP <serial>" / "CRL <label>" */
  seen: string[];
  /** the AIA and CRL-DP extensions pointing a certificate at this server */
  extensions(
    label: string,
    opts?: { ocsp?: boolean; crl?: boolean },
  ): Array<{ oid: string; critical: boolean; value: Buffer }>;
  close(): Promise<void>;
}

export async function startRevocationServer(): Promise<RevocationServer> {
  const hanging = new Set<ServerResponse>();
  const state = {
    ocsp: new Map<string, Answer>(),
    crl: new Map<string, Answer>(),
    revokedSerials: new Set<string>(),
    issuers: new Map<string, IssuedCert>(),
    issuerOf: new Map<string, IssuedCert>(),
    seen: [] as string[],
  };
  const server: Server = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.url === '/ocsp' && req.method === 'POST') {
      const request = pkijs.OCSPRequest.fromBER(new Uint8Array(body));
      const certId = request.tbsRequest.requestList[0]!.reqCert;
      const serial = Buffer.from(certId.serialNumber.valueBlock.valueHexView).toString('hex');
      state.seen.push(`OCSP ${serial}`);
      const answer = state.ocsp.get(serial) ?? 'good';
      if (answer === 'hang') return void hanging.add(res);
      if (answer === 'http-500') return void res.writeHead(500).end();
      const issuer = state.issuerOf.get(serial);
      if (!issuer) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(ocspResponse(certId, answer, issuer));
      return;
    }
    const crl = /^\/crl\/([\w-]+)\.crl$/.exec(req.url ?? '');
    if (crl && req.method === 'GET') {
      const label = crl[1]!;
      state.seen.push(`CRL ${label}`);
      const answer = state.crl.get(label) ?? 'good';
      if (answer === 'hang') return void hanging.add(res);
      if (answer === 'http-500') return void res.writeHead(500).end();
      const issuer = state.issuers.get(label);
      if (!issuer) return void res.writeHead(404).end();
      res
        .writeHead(200, { 'content-type': 'application/pkix-crl' })
        .end(crlFor(issuer, answer === 'revoked' ? [...state.revokedSerials] : [], answer));
      return;
    }
    res.writeHead(404).end();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    ...state,
    extensions(label, opts = {}) {
      const out: Array<{ oid: string; critical: boolean; value: Buffer }> = [];
      if (opts.ocsp !== false)
        out.push({
          oid: '1.3.6.1.5.5.7.1.1',
          critical: false,
          value: der.seq(der.seq(der.oid('1.3.6.1.5.5.7.48.1'), der.tlv(0x86, Buffer.from(`${url}/ocsp`)))),
        });
      if (opts.crl !== false)
        out.push({
          oid: '2.5.29.31',
          critical: false,
          value: der.seq(
            der.seq(der.ctx(0, true, der.ctx(0, true, der.tlv(0x86, Buffer.from(`${url}/crl/${label}.crl`))))),
          ),
        });
      return out;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const genTime = (d: Date) => der.genTime(d);
const hour = 60 * 60_000;

/** Someone with a valid certificate of their own, who is nobody's issuer here. */
const stranger = makeCert({ subject: SUBJECT('Stranger'), key: key('p384', 'stranger'), ca: true });

/** An OCSP responder certificate issued by `issuer` (RFC 6960 4.2.2.2), with or without id-kp-OCSPSigning. */
function responderFor(issuer: IssuedCert, withEku: boolean): IssuedCert {
  return makeCert({
    subject: SUBJECT(`OCSP Responder ${withEku}`),
    key: key('p384', 'ocsp-responder'),
    issuer,
    keyUsage: [0],
    eku: withEku ? ['1.3.6.1.5.5.7.3.9'] : ['1.3.6.1.5.5.7.3.3'],
  });
}

/** A BasicOCSPResponse for `certId`, signed by the issuer (responder byName = issuer). */
function ocspResponse(certId: pkijs.CertID, answer: Answer, issuer: IssuedCert): Buffer {
  const now = Date.now();
  const status =
    answer === 'revoked'
      ? der.ctx(1, true, genTime(new Date(now - 24 * hour)))
      : answer === 'unknown'
        ? Buffer.from([0x82, 0x00])
        : Buffer.from([0x80, 0x00]);
  let id = Buffer.from(certId.toSchema().toBER(false));
  if (answer === 'other-cert') {
    certId.serialNumber.valueBlock.valueHexView = new Uint8Array([0x01, 0x02, 0x03]);
    id = Buffer.from(certId.toSchema().toBER(false));
  }
  const [thisUpdate, nextUpdate] = answer === 'stale' ? [now - 3 * hour, now - 2 * hour] : [now - hour, now + hour];
  const single = der.seq(id, status, genTime(new Date(thisUpdate)), der.ctx(0, true, genTime(new Date(nextUpdate))));
  const delegate =
    answer === 'delegate' || answer === 'delegate-without-eku'
      ? responderFor(issuer, answer === 'delegate')
      : undefined;
  const signer = answer === 'wrong-signer' ? stranger : (delegate ?? issuer);
  const tbs = der.seq(der.ctx(1, true, signer.name), genTime(new Date(now)), der.seq(single));
  const signature = cryptoSign(
    'sha384',
    answer === 'bad-signature' ? Buffer.from('something else') : tbs,
    signer.key.privateKey,
  );
  const basic = der.seq(
    tbs,
    der.seq(der.oid(ECDSA_SHA384)),
    der.bits(signature),
    ...(delegate ? [der.ctx(0, true, der.seq(delegate.der))] : []),
  );
  return der.seq(der.tlv(0x0a, Buffer.from([0])), der.ctx(0, true, der.seq(der.oid(OCSP_BASIC), der.octets(basic))));
}

/** A CRL by `issuer`, valid an hour either side of now, listing `serials` (hex), broken as `answer` says. */
function crlFor(issuer: IssuedCert, serials: string[], answer: Answer): Buffer {
  const now = Date.now();
  const revoked = serials.map((s) => der.seq(der.tlv(0x02, Buffer.from(s, 'hex')), genTime(new Date(now - 24 * hour))));
  const [thisUpdate, nextUpdate] = answer === 'stale' ? [now - 3 * hour, now - 2 * hour] : [now - hour, now + hour];
  const tbs = der.seq(
    der.int(1),
    der.seq(der.oid(ECDSA_SHA384)),
    answer === 'wrong-issuer' ? stranger.name : issuer.name,
    genTime(new Date(thisUpdate)),
    ...(answer === 'no-next-update' ? [] : [genTime(new Date(nextUpdate))]),
    ...(revoked.length ? [der.seq(...revoked)] : []),
    ...(answer === 'critical-ext'
      ? [der.ctx(0, true, der.seq(der.seq(der.oid('2.5.29.27'), der.bool(true), der.octets(der.int(1)))))]
      : []),
  );
  const signature = cryptoSign(
    'sha384',
    answer === 'bad-signature' ? Buffer.from('other') : tbs,
    issuer.key.privateKey,
  );
  return der.seq(tbs, der.seq(der.oid(ECDSA_SHA384)), der.bits(signature));
}
