/**
 * A Docker token server (the `auth.token` realm of Distribution) for tests: checks basic
 * credentials and issues ES256 JWTs that Distribution 2.8 accepts. Distribution finds the
 * signing key through the JWT header `kid` (libtrust key ID of a key in its
 * `rootcertbundle`), so we also write a self-signed certificate for the key.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenServer {
  /** `http://127.0.0.1:PORT/token` */
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the self-signed certificate for the signing key (Distribution's rootcertbundle) */
  certificatePem: string;
  /** tokens issued so far (a test can check the registry really asked) */
  readonly issued: number;
  /** a token for `scope` signed for `subject`, without HTTP (the harness pushes with it) */
  issue(subject: string, scopes: string[]): string;
  stop(): Promise<void>;
}

export async function startTokenServer(creds: { username: string; password: string }): Promise<TokenServer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const service = 'ecs-image-gate-test-registry';
  const issuer = 'ecs-image-gate-test-token-server';
  const kid = libtrustKeyId(publicKey);
  const certificatePem = selfSignedCertificate(privateKey, publicKey, 'ecs-image-gate test token signer');
  let issued = 0;

  const issue = (subject: string, scopes: string[]): string => {
    issued++;
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', kid };
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service, // Distribution 2.8 reads `aud` as a single string
      iat: now,
      nbf: now - 10,
      exp: now + 300,
      jti: randomBytes(12).toString('hex'),
      access: subject ? scopes.map(parseScope).filter((a) => a !== null) : [],
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };

  const server = createServer((req, res) => handle(req, res));
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token' || req.method !== 'GET') return reply(res, 404, { error: 'not found' });
    const auth = req.headers.authorization;
    let subject = ''; // anonymous: a token with no access
    if (auth) {
      const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : '';
      if (decoded !== `${creds.username}:${creds.password}`)
        return reply(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      subject = creds.username;
    }
    if (url.searchParams.get('service') !== service) return reply(res, 400, { error: 'unknown service' });
    const token = issue(subject, url.searchParams.getAll('scope'));
    reply(res, 200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
  };
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certificatePem,
    get issued() {
      return issued;
    },
    issue,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** `repository:name:pull,push` → an access claim granting exactly the asked actions we allow */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | null {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return null;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a === 'pull' || a === 'push' || a === 'delete');
  return type === 'repository' ? { type, name, actions } : null;
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

/** libtrust KeyID: base32(SHA-256(SPKI DER)[:30]), in groups of four joined by ':' */
export function libtrustKeyId(publicKey: KeyObject): string {
  const digest = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 30);
  const b32 = base32(digest);
  return b32.match(/.{1,4}/g)!.join(':');
}

function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

// --- a minimal DER writer: just enough X.509 for one self-signed ECDSA P-256 certificate ---

function der(tag: number, content: Buffer): Buffer {
  const len = content.length;
  let header: Buffer;
  if (len < 0x80) header = Buffer.from([tag, len]);
  else if (len < 0x100) header = Buffer.from([tag, 0x81, len]);
  else header = Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  return Buffer.concat([header, content]);
}
const seq = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk = [part & 0x7f];
    for (let v = part >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const s = `${date.toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`;
  return der(0x17, Buffer.from(s, 'ascii'));
}

function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, commonName: string): string {
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName, 'utf8')))));
  const serial = randomBytes(8);
  // positive (top bit clear) and minimal (a leading zero byte would be padding OpenSSL refuses:
  // one run in a few hundred failed on it)
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  const now = Date.now();
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, serial),
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 24 * 3600_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value, as X.509 wants
  const cert = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const pem = `-----BEGIN CERTIFICATE-----\n${cert
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
  new X509Certificate(pem); // fail here, not inside the registry, if we wrote bad DER
  return pem;
}
