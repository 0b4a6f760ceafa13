/**
 * Revocation of Notary Project certificate chains, in process, as notation does it
 * (trust-store-trust-policy.md, "Revocation checking with OCSP and CRL"): for each
 * certificate below the root, ask OCSP first; when OCSP gives no answer, the CRL. A
 * certificate that names neither is not revocable and passes. Answers are verified
 * (signed by the issuer or its delegated OCSP responder, current) and cached by
 * certificate until they go stale; an unreachable or unusable source is "unknown",
 * never "good".
 */
import { constants, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { TtlCache } from '../../core/cache.js';
import { childrenOf, contextTag, parseDer, raw } from './asn1.js';
import { Certificate, OID } from './x509.js';

export type CertStatus =
  | { status: 'good' }
  | { status: 'revoked'; detail: string }
  | { status: 'unknown'; detail: string };

export interface RevocationOptions {
  /** the whole budget for one chain's answers, within the caller's signal */
  timeoutMs?: number;
  /** the longest an answer is reused when it names no nextUpdate */
  maxAgeMs?: number;
  /** largest OCSP response or CRL read */
  maxResponseBytes?: number;
  maxCacheEntries?: number;
  now?: () => Date;
}

const OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const SHA256 = '2.16.840.1.101.3.4.2.1';
/**
 * Accepted signature algorithms and the key type each needs (as Go's CheckSignature: an RSA
 * key's signature labelled ECDSA is refused). RSA is PKCS#1 v1.5 only: an RSA-PSS key
 * (type 'rsa-pss') cannot pass off a PSS signature under these OIDs. ECDSA needs no option
 * (node's default encoding is DER).
 */
const SIGNATURES: Record<string, { hash: string; key: 'rsa' | 'ec'; padding?: number }> = {
  '1.2.840.113549.1.1.11': { hash: 'sha256', key: 'rsa', padding: constants.RSA_PKCS1_PADDING },
  '1.2.840.113549.1.1.12': { hash: 'sha384', key: 'rsa', padding: constants.RSA_PKCS1_PADDING },
  '1.2.840.113549.1.1.13': { hash: 'sha512', key: 'rsa', padding: constants.RSA_PKCS1_PADDING },
  '1.2.840.10045.4.3.2': { hash: 'sha256', key: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', key: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', key: 'ec' },
};
/** allowed clock difference between us and a responder */
const SKEW_MS = 5 * 60_000;

/** Why an answer cannot be used; the next source is tried. */
class Unusable extends Error {}

/** What an OCSP response or CRL can say. */
type Known = Exclude<CertStatus, { status: 'unknown' }>;

/** The one good status (frozen: callers share it). */
const GOOD: { readonly status: 'good' } = Object.freeze({ status: 'good' });

/** A certificate's status with how long it may be reused (unknown is never kept). */
type Answer = { status: CertStatus; until: number };

export class RevocationChecker {
  /** answers by (issuer, certificate) until they go stale; concurrent lookups share one */
  private readonly cache: TtlCache<Answer>;
  private readonly timeoutMs: number;
  private readonly maxAgeMs: number;
  private readonly maxBytes: number;
  private readonly now: () => Date;

  constructor(opts: RevocationOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.maxAgeMs = opts.maxAgeMs ?? 60 * 60_000;
    this.maxBytes = opts.maxResponseBytes ?? 10 * 1024 * 1024;
    this.now = opts.now ?? (() => new Date());
    this.cache = new TtlCache<Answer>({
      ttlMs: (a) => a.until - this.now().getTime(),
      maxEntries: opts.maxCacheEntries ?? 1_000,
      keep: (a) => a.status.status !== 'unknown',
      now: () => this.now().getTime(),
    });
  }

  /**
   * The status of a chain (leaf first, root last): revoked if any certificate is,
   * unknown if any cannot be told, good otherwise.
   */
  async checkChain(chain: Certificate[], signal: AbortSignal): Promise<CertStatus> {
    if (!chain.slice(0, -1).some((c) => c.hasRevocationInfo)) return GOOD;
    const budget = AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]);
    const statuses = await Promise.all(chain.slice(0, -1).map((cert, i) => this.status(cert, chain[i + 1]!, budget)));
    signal.throwIfAborted(); // the caller's own deadline is a TIMEOUT, not an unknown status
    return statuses.find((s) => s.status === 'revoked') ?? statuses.find((s) => s.status === 'unknown') ?? GOOD;
  }

  /** One certificate's status, from the cache, a request already under way, or the network. */
  private status(cert: Certificate, issuer: Certificate, signal: AbortSignal): Promise<CertStatus> {
    if (!cert.hasRevocationInfo) return Promise.resolve(GOOD);
    const key = `${issuer.sha256}/${cert.sha256}`;
    // the first caller's budget bounds the shared lookup, as it always has
    return this.cache.getOrCompute(key, () => this.ask(cert, issuer, signal)).then((a) => a.status);
  }

  private async ask(cert: Certificate, issuer: Certificate, signal: AbortSignal): Promise<Answer> {
    const problems: string[] = [];
    for (const [kind, urls, query] of [
      ['OCSP', cert.ocspUrls, (url: string) => this.ocsp(url, cert, issuer, signal)],
      ['CRL', cert.crlUrls, (url: string) => this.crl(url, cert, issuer, signal)],
    ] as const) {
      for (const url of urls) {
        try {
          const answer = await query(url);
          return { status: answer.status, until: this.until(answer) };
        } catch (e) {
          problems.push(`${kind} ${url}: ${(e as Error).message}`);
        }
      }
    }
    const detail = `revocation status of "${cert.subject}" cannot be determined (${problems.join('; ')})`;
    return { status: { status: 'unknown', detail }, until: 0 };
  }

  /** An answer is reused until its nextUpdate, and never longer than maxAgeMs. */
  private until(answer: { nextUpdate?: Date }): number {
    return Math.min(answer.nextUpdate?.getTime() ?? Infinity, this.now().getTime() + this.maxAgeMs);
  }

  // ---------- OCSP (RFC 6960) ----------

  private async ocsp(
    url: string,
    cert: Certificate,
    issuer: Certificate,
    signal: AbortSignal,
  ): Promise<{ status: Known; nextUpdate?: Date }> {
    const certId = certIdFor(cert, issuer);
    const request = new pkijs.OCSPRequest({
      tbsRequest: new pkijs.TBSRequest({ requestList: [new pkijs.Request({ reqCert: certId })] }),
    });
    const body = Buffer.from(request.toSchema(true).toBER(false));
    const bytes = await this.http(url, signal, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request' },
      body,
    });
    const basic = parseOcspResponse(bytes);
    const signer = ocspSigner(basic, issuer);
    const tbs = Buffer.from(basic.tbsResponseData.tbsView);
    if (!verifySigned(basic.signatureAlgorithm.algorithmId, signer.publicKey, tbs, bitStringBytes(basic.signature))) {
      throw new Unusable('the OCSP response signature does not verify');
    }
    const single = basic.tbsResponseData.responses.find((r) => sameCertId(r.certID, certId));
    if (!single) throw new Unusable('the OCSP response does not answer for this certificate');
    this.current(single.thisUpdate, single.nextUpdate, 'OCSP response');
    const tag = (single.certStatus as asn1js.AsnType).idBlock.tagNumber;
    if (tag === 0) return { status: GOOD, ...(single.nextUpdate ? { nextUpdate: single.nextUpdate } : {}) };
    if (tag === 1) {
      const at = revocationTime(single.certStatus as asn1js.AsnType);
      return {
        status: {
          status: 'revoked',
          detail: `certificate "${cert.subject}" was revoked at ${at.toISOString()} (OCSP ${url})`,
        },
      };
    }
    throw new Unusable('the OCSP responder does not know the certificate');
  }

  // ---------- CRL (RFC 5280) ----------

  private async crl(
    url: string,
    cert: Certificate,
    issuer: Certificate,
    signal: AbortSignal,
  ): Promise<{ status: Known; nextUpdate?: Date }> {
    // Stryker disable next-line ObjectLiteral: GET is fetch's default method; the explicit one is for the reader
    const bytes = await this.http(url, signal, { method: 'GET' });
    let crl: pkijs.CertificateRevocationList;
    try {
      crl = new pkijs.CertificateRevocationList({ schema: parseDer(bytes, 'CRL') });
    } catch (e) {
      throw new Unusable(`malformed CRL: ${(e as Error).message}`);
    }
    if (!Buffer.from(crl.issuer.valueBeforeDecode).equals(issuer.rawSubject))
      throw new Unusable('the CRL is not issued by the certificate issuer');
    if (issuer.keyUsage && !issuer.keyUsage.has(6))
      throw new Unusable('the CRL issuer may not sign CRLs (cRLSign missing)');
    if (
      !verifySigned(
        crl.signatureAlgorithm.algorithmId,
        issuer.publicKey,
        Buffer.from(crl.tbsView),
        bitStringBytes(crl.signatureValue),
      )
    ) {
      throw new Unusable('the CRL signature does not verify');
    }
    const critical = crl.crlExtensions?.extensions.filter((e) => e.critical).map((e) => e.extnID) ?? [];
    // delta CRLs and issuing-distribution-point scoping are not processed: such a CRL cannot vouch for anything
    if (critical.length) throw new Unusable(`the CRL has critical extension(s) ${critical.join(', ')}, not supported`);
    const nextUpdate = crl.nextUpdate?.value;
    if (!nextUpdate) throw new Unusable('the CRL has no nextUpdate');
    this.current(crl.thisUpdate.value, nextUpdate, 'CRL');
    const entry = (crl.revokedCertificates ?? []).find((r) =>
      Buffer.from(r.userCertificate.valueBlock.valueHexView).equals(cert.serial),
    );
    if (entry)
      return {
        status: {
          status: 'revoked',
          detail: `certificate "${cert.subject}" was revoked at ${entry.revocationDate.value.toISOString()} (CRL ${url})`,
        },
      };
    return { status: GOOD, nextUpdate };
  }

  private current(thisUpdate: Date, nextUpdate: Date | undefined, what: string): void {
    const now = this.now().getTime();
    if (thisUpdate.getTime() > now + SKEW_MS)
      throw new Unusable(`the ${what} is from the future (thisUpdate ${thisUpdate.toISOString()})`);
    if (nextUpdate && nextUpdate.getTime() < now - SKEW_MS)
      throw new Unusable(`the ${what} is stale (nextUpdate ${nextUpdate.toISOString()})`);
  }

  /** One HTTP exchange inside the budget; anything but a 200 with a body under the cap is unusable. */
  private async http(url: string, signal: AbortSignal, init: RequestInit): Promise<Buffer> {
    if (!/^https?:\/\//i.test(url)) throw new Unusable('only http and https locations are used');
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal, redirect: 'error' });
    } catch (e) {
      throw new Unusable(
        signal.aborted
          ? 'no answer within the time budget'
          : `unreachable (${(e as Error).cause ? String((e as Error).cause) : (e as Error).message})`,
      );
    }
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      throw new Unusable(`HTTP ${res.status}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > this.maxBytes) throw new Unusable(`larger than ${this.maxBytes} bytes`);
        chunks.push(Buffer.from(chunk));
      }
    } catch (e) {
      if (e instanceof Unusable) throw e;
      throw new Unusable(signal.aborted ? 'no answer within the time budget' : `read failed (${(e as Error).message})`);
    }
    return Buffer.concat(chunks);
  }
}

/** CertID with SHA-256 over the issuer's name and key (RFC 6960 4.1.1). */
function certIdFor(cert: Certificate, issuer: Certificate): pkijs.CertID {
  const spki = issuer.node.publicKey.export({ type: 'spki', format: 'der' });
  const keyBits = bitStringBytes(new pkijs.PublicKeyInfo({ schema: asn1js.fromBER(spki).result }).subjectPublicKey);
  return new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA256, algorithmParams: new asn1js.Null() }),
    issuerNameHash: new asn1js.OctetString({ valueHex: createHash('sha256').update(issuer.rawSubject).digest() }),
    issuerKeyHash: new asn1js.OctetString({ valueHex: createHash('sha256').update(keyBits).digest() }),
    serialNumber: new asn1js.Integer({ valueHex: cert.serial }),
  });
}

/** The response's CertID is ours: same hash algorithm (ours is SHA-256), hashes and serial. */
function sameCertId(a: pkijs.CertID, b: pkijs.CertID): boolean {
  const bytes = (o: asn1js.OctetString | asn1js.Integer) => Buffer.from(o.valueBlock.valueHexView);
  return (
    a.hashAlgorithm.algorithmId === b.hashAlgorithm.algorithmId &&
    bytes(a.issuerNameHash).equals(bytes(b.issuerNameHash)) &&
    bytes(a.issuerKeyHash).equals(bytes(b.issuerKeyHash)) &&
    bytes(a.serialNumber).equals(bytes(b.serialNumber))
  );
}

function parseOcspResponse(bytes: Buffer): pkijs.BasicOCSPResponse & { certDers: Buffer[] } {
  try {
    const response = new pkijs.OCSPResponse({ schema: parseDer(bytes, 'OCSP response') });
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0) throw new Unusable(`the OCSP responder answered status ${status}`);
    if (!response.responseBytes || response.responseBytes.responseType !== OCSP_BASIC)
      throw new Unusable('not a basic OCSP response');
    const node = parseDer(response.responseBytes.response.valueBlock.valueHexView, 'BasicOCSPResponse');
    const basic = new pkijs.BasicOCSPResponse({ schema: node });
    // delegated responder certificates, as the bytes they were sent in
    // (pkijs has checked the shape: a SEQUENCE whose certs, if any, are certificates)
    const wrapped = childrenOf(node).find((n) => contextTag(n) === 0);
    // Stryker disable next-line ArrayDeclaration: a placeholder entry is no certificate; ocspSigner skips it as it skips any unparsable one
    const certDers = wrapped ? childrenOf(childrenOf(wrapped)[0]!).map(raw) : [];
    return Object.assign(basic, { certDers });
  } catch (e) {
    if (e instanceof Unusable) throw e;
    throw new Unusable(`malformed OCSP response: ${(e as Error).message}`);
  }
}

/** The issuer itself, or a certificate it issued for OCSP signing (id-kp-OCSPSigning). */
function ocspSigner(basic: pkijs.BasicOCSPResponse & { certDers: Buffer[] }, issuer: Certificate): Certificate {
  const id = basic.tbsResponseData.responderID as unknown;
  const names = (c: Certificate): boolean =>
    id instanceof pkijs.RelativeDistinguishedNames
      ? Buffer.from(id.valueBeforeDecode).equals(c.rawSubject)
      : id instanceof asn1js.OctetString && Buffer.from(id.valueBlock.valueHexView).equals(keyHash(c));
  if (names(issuer)) return issuer;
  for (const der of basic.certDers) {
    let delegate: Certificate;
    try {
      delegate = Certificate.fromDer(der);
    } catch {
      continue;
    }
    if (
      names(delegate) &&
      delegate.isIssuedBy(issuer) &&
      delegate.extKeyUsage?.includes(OID.ekuOcspSigning) &&
      !delegate.weakSignatureProblem()
    )
      return delegate;
  }
  throw new Unusable('the OCSP response is not signed by the issuer or a responder it authorised');
}

/** SHA-1 of the subjectPublicKey bits: the byKey ResponderID (RFC 6960 4.2.1). */
function keyHash(c: Certificate): Buffer {
  const spki = c.node.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1')
    .update(bitStringBytes(new pkijs.PublicKeyInfo({ schema: asn1js.fromBER(spki).result }).subjectPublicKey))
    .digest();
}

/** RevokedInfo's revocationTime: pkijs's schema has checked that it is a GeneralizedTime. */
function revocationTime(status: asn1js.AsnType): Date {
  return (childrenOf(status)[0] as asn1js.GeneralizedTime).toDate();
}

function bitStringBytes(b: asn1js.BitString): Buffer {
  return Buffer.from(b.valueBlock.valueHexView);
}

/** A signature by an algorithm this project accepts for certificates (SHA-256 or stronger). */
export function verifySigned(algorithm: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const alg = SIGNATURES[algorithm];
  if (!alg || key.asymmetricKeyType !== alg.key) return false;
  try {
    return cryptoVerify(alg.hash, data, { key, padding: alg.padding }, signature);
  } /* Stryker disable next-line BlockStatement: an empty catch returns undefined, which every caller reads as false */ catch {
    return false;
  }
}
