/**
 * Keyless identities: what a Fulcio (or private CA) certificate says about its signer,
 * and whether that matches one of the policy's identities.
 *
 * We match ourselves rather than through @sigstore/verify's policy, which treats a
 * string SAN as an unanchored regex (`…@refs/heads/main` would admit
 * `…@refs/heads/main-evil`). Exact strings compare exactly; regular expressions must
 * match the whole value (cosign's `--certificate-identity-regexp` semantics, anchored).
 */
import { anchored } from '../../policy/regex.js';
import type { X509Certificate } from '@sigstore/core';

/** Fulcio certificate extensions (github.com/sigstore/fulcio docs/oid-info.md). */
const OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1', // raw string, older certificates
  triggerV1: '1.3.6.1.4.1.57264.1.2',
  shaV1: '1.3.6.1.4.1.57264.1.3',
  repositoryV1: '1.3.6.1.4.1.57264.1.5',
  refV1: '1.3.6.1.4.1.57264.1.6',
  issuer: '1.3.6.1.4.1.57264.1.8', // DER UTF8String
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  buildTrigger: '1.3.6.1.4.1.57264.1.20',
} as const;

export interface GithubClaims {
  repository?: string;
  ref?: string;
  trigger?: string;
  sha?: string;
}

export interface PolicyIdentity {
  issuer?: string;
  issuerRegExp?: string;
  subject?: string;
  subjectRegExp?: string;
  github?: GithubClaims;
}

/** What the certificate claims. */
export interface CertificateIdentity {
  subject: string | undefined;
  issuer: string | undefined;
  github: GithubClaims;
}

/**
 * What the certificate claims. Never throws: it also names the signer of a certificate
 * that failed verification, whose extensions may not parse; an unreadable claim is an
 * absent one, and an absent subject or issuer matches no policy identity.
 */
export function certificateIdentity(cert: X509Certificate): CertificateIdentity {
  return {
    subject: readable(() => subjectOf(cert)),
    issuer: readable(() => utf8Extension(cert, OID.issuer) ?? rawExtension(cert, OID.issuerV1)),
    github: {
      repository: readable(
        () => rawExtension(cert, OID.repositoryV1) ?? githubRepository(utf8Extension(cert, OID.sourceRepositoryUri)),
      ),
      ref: readable(() => rawExtension(cert, OID.refV1) ?? utf8Extension(cert, OID.sourceRepositoryRef)),
      trigger: readable(() => rawExtension(cert, OID.triggerV1) ?? utf8Extension(cert, OID.buildTrigger)),
      sha: readable(() => rawExtension(cert, OID.shaV1) ?? utf8Extension(cert, OID.sourceRepositoryDigest)),
    },
  };
}

function readable(read: () => string | undefined): string | undefined {
  try {
    return read();
  } /* Stryker disable next-line BlockStatement: an empty catch block falls through to the end of the function, which returns undefined as well: the same absent claim */ catch {
    return undefined;
  }
}

/** A compiled policy identity: exact strings and anchored regular expressions. */
export class IdentityMatcher {
  private readonly issuer: ((v: string) => boolean) | undefined;
  private readonly subject: (v: string) => boolean;

  constructor(readonly policy: PolicyIdentity) {
    this.issuer = matcher(policy.issuer, policy.issuerRegExp);
    // Stryker disable next-line ArrowFunction: `() => undefined` is falsy as `() => false` is, so a policy without subject still matches nothing
    this.subject = matcher(policy.subject, policy.subjectRegExp) ?? (() => false);
  }

  matches(found: CertificateIdentity): boolean {
    if (found.subject === undefined || !this.subject(found.subject)) return false;
    if (this.issuer && (found.issuer === undefined || !this.issuer(found.issuer))) return false;
    const claims = this.policy.github ?? {};
    return (Object.keys(claims) as Array<keyof GithubClaims>).every(
      (k) => claims[k] === undefined || claims[k] === found.github[k],
    );
  }

  describe(): string {
    const p = this.policy;
    const subject = p.subject ?? `/${p.subjectRegExp}/`;
    const issuer = p.issuer ?? (p.issuerRegExp ? `/${p.issuerRegExp}/` : 'any issuer');
    const claims = Object.entries(p.github ?? {}).map(([k, v]) => `${k}=${v}`);
    return `${subject} from ${issuer}${claims.length ? ` (${claims.join(', ')})` : ''}`;
  }
}

export function describeIdentity(found: CertificateIdentity): string {
  const claims = Object.entries(found.github)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return `${found.subject ?? '(no subject)'} from ${found.issuer ?? '(no issuer)'}${claims.length ? ` (${claims.join(', ')})` : ''}`;
}

function matcher(exact: string | undefined, regExp: string | undefined): ((v: string) => boolean) | undefined {
  if (exact !== undefined) return (v) => v === exact;
  if (regExp !== undefined) {
    const re = anchored(regExp);
    return (v) => re.test(v);
  }
  return undefined;
}

/** SAN URI or email; for private CAs without a SAN, nothing (a subject must then not match). */
function subjectOf(cert: X509Certificate): string | undefined {
  const san = cert.extSubjectAltName;
  // Stryker disable next-line OptionalChaining: without a SAN, `san.uri` throws and readable() turns the throw into the same absent subject
  return san?.uri ?? san?.rfc822Name;
}

function rawExtension(cert: X509Certificate, oid: string): string | undefined {
  const ext = cert.extension(oid);
  return ext ? ext.value.toString('utf8') : undefined;
}

/**
 * Newer Fulcio extensions hold a DER UTF8String inside the extnValue OCTET STRING, which
 * @sigstore/core parses into the OCTET STRING's first child. Only that form is read.
 */
function utf8Extension(cert: X509Certificate, oid: string): string | undefined {
  const ext = cert.extension(oid);
  if (!ext) return undefined;
  // Stryker disable next-line OptionalChaining: without a child, `subs[0].value` throws and readable() turns the throw into the same absent claim
  return ext.valueObj.subs[0]?.value.toString('utf8');
}

function githubRepository(uri: string | undefined): string | undefined {
  const m = uri ? /^https:\/\/github\.com\/([^/]+\/[^/]+)$/.exec(uri) : null;
  // Stryker disable next-line OptionalChaining: with no match `m[1]` throws, and readable() (its only caller's caller) turns the throw into the same absent repository
  return m?.[1];
}
