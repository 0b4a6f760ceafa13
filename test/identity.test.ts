/**
 * IdentityMatcher edges (src/verify/cosign/identity.ts) the property tests in
 * sigstore-fuzz.test.ts do not reach: absent claims, a policy without issuer, and the
 * identity descriptions a deny names. Pinned by mutation testing (README "Mutation testing").
 */
import { describe, expect, it } from 'vitest';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate } from '@sigstore/core';
import {
  type CertificateIdentity,
  certificateIdentity,
  describeIdentity,
  IdentityMatcher,
} from '../src/verify/cosign/identity.js';

const GH = 'https://token.actions.githubusercontent.com';
const WF = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const found = (over: Partial<CertificateIdentity> = {}): CertificateIdentity => ({
  subject: WF,
  issuer: GH,
  github: {},
  ...over,
});

describe('IdentityMatcher.matches', () => {
  it('a certificate without subject matches no identity, not even a regular expression for anything', () => {
    expect(new IdentityMatcher({ subjectRegExp: '.*', issuer: GH }).matches(found({ subject: undefined }))).toBe(false);
  });

  it('a policy identity without subject matches nothing', () => {
    expect(new IdentityMatcher({ issuer: GH }).matches(found())).toBe(false);
  });

  it('an issuer the policy names must be present and equal; a policy without issuer accepts any', () => {
    const withIssuer = new IdentityMatcher({ subject: WF, issuer: GH });
    expect(withIssuer.matches(found())).toBe(true);
    expect(withIssuer.matches(found({ issuer: undefined }))).toBe(false);
    expect(withIssuer.matches(found({ issuer: 'https://accounts.google.com' }))).toBe(false);
    const byRegExp = new IdentityMatcher({ subject: WF, issuerRegExp: 'https://token\\.actions\\..*' });
    expect(byRegExp.matches(found())).toBe(true);
    expect(byRegExp.matches(found({ issuer: undefined }))).toBe(false);
    expect(byRegExp.matches(found({ issuer: 'https://evil.example' }))).toBe(false);
    expect(new IdentityMatcher({ subject: WF, issuerRegExp: '.*' }).matches(found({ issuer: undefined }))).toBe(false);
    const anyIssuer = new IdentityMatcher({ subject: WF });
    expect(anyIssuer.matches(found({ issuer: undefined }))).toBe(true);
    expect(anyIssuer.matches(found({ issuer: 'https://accounts.google.com' }))).toBe(true);
  });

  it('an exact subject wins over a regular expression given beside it', () => {
    const m = new IdentityMatcher({ subject: WF, subjectRegExp: '.*' });
    expect(m.matches(found({ subject: `${WF}-evil` }))).toBe(false);
  });

  it('a GitHub claim the policy names must equal the certificate one; absent in the certificate fails', () => {
    const m = new IdentityMatcher({
      subject: WF,
      issuer: GH,
      github: { repository: 'acme/app', ref: 'refs/heads/main' },
    });
    expect(m.matches(found({ github: { repository: 'acme/app', ref: 'refs/heads/main', sha: 'x' } }))).toBe(true);
    expect(m.matches(found({ github: { repository: 'acme/app' } }))).toBe(false);
    expect(m.matches(found({ github: { repository: 'acme/app', ref: 'refs/heads/dev' } }))).toBe(false);
    const unset = new IdentityMatcher({ subject: WF, github: { repository: 'acme/app', ref: undefined } });
    expect(unset.matches(found({ github: { repository: 'acme/app', ref: 'refs/heads/dev' } }))).toBe(true);
  });
});

describe('identity descriptions (named in UNTRUSTED_SIGNER details)', () => {
  it('describes a policy identity: subject or /regexp/, issuer or /regexp/ or any, and its claims', () => {
    expect(new IdentityMatcher({ subject: 'a@b', issuer: GH }).describe()).toBe(`a@b from ${GH}`);
    expect(new IdentityMatcher({ subjectRegExp: 'a.*', issuerRegExp: 'i.*' }).describe()).toBe('/a.*/ from /i.*/');
    expect(new IdentityMatcher({ subject: 'a@b', github: { repository: 'acme/app', ref: 'main' } }).describe()).toBe(
      'a@b from any issuer (repository=acme/app, ref=main)',
    );
  });

  it('describes what a certificate claims, leaving out absent claims', () => {
    expect(describeIdentity(found({ github: { repository: 'acme/app', ref: undefined, sha: 'abc' } }))).toBe(
      `${WF} from ${GH} (repository=acme/app, sha=abc)`,
    );
    expect(describeIdentity({ subject: undefined, issuer: undefined, github: {} })).toBe(
      '(no subject) from (no issuer)',
    );
  });
});

describe('certificateIdentity: what a Fulcio certificate claims', () => {
  const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const utf8 = (s: string) => der(0x0c, Buffer.from(s));
  function der(tag: number, body: Buffer): Buffer {
    return Buffer.concat([Buffer.from([tag, body.length]), body]);
  }
  /** A self-signed certificate with these SANs and Fulcio extensions (OID arc 1.3.6.1.4.1.57264.1.n). */
  async function cert(san: { type: 'url' | 'email'; value: string }[], ext: Record<number, Buffer>) {
    const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const made = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=test',
      notBefore: new Date('2025-01-01'),
      notAfter: new Date('2035-01-01'),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        ...(san.length ? [new x509.SubjectAlternativeNameExtension(san)] : []),
        ...Object.entries(ext).map(
          ([n, v]) => new x509.Extension(`1.3.6.1.4.1.57264.1.${n}`, false, new Uint8Array(v)),
        ),
      ],
    });
    return X509Certificate.parse(Buffer.from(made.rawData));
  }

  it('reads the current extensions (DER UTF8String) and the repository from the source repository URI', async () => {
    const c = await cert([{ type: 'url', value: WF }], {
      8: utf8(GH),
      12: utf8('https://github.com/acme/app'),
      13: utf8('abc123'),
      14: utf8('refs/heads/main'),
      20: utf8('push'),
    });
    expect(certificateIdentity(c)).toEqual({
      subject: WF,
      issuer: GH,
      github: { repository: 'acme/app', ref: 'refs/heads/main', trigger: 'push', sha: 'abc123' },
    });
  });

  it('prefers the older raw extensions where both are present, and reads an e-mail SAN', async () => {
    const c = await cert([{ type: 'email', value: 'dev@example.com' }], {
      1: Buffer.from('https://accounts.google.com'),
      8: utf8(GH),
      2: Buffer.from('workflow_dispatch'),
      20: utf8('push'),
      3: Buffer.from('def456'),
      13: utf8('abc123'),
      5: Buffer.from('acme/old'),
      12: utf8('https://github.com/acme/app'),
      6: Buffer.from('refs/tags/v1'),
      14: utf8('refs/heads/main'),
    });
    expect(certificateIdentity(c)).toEqual({
      subject: 'dev@example.com',
      issuer: GH,
      github: { repository: 'acme/old', ref: 'refs/tags/v1', trigger: 'workflow_dispatch', sha: 'def456' },
    });
    const v1 = await cert([], { 1: Buffer.from('https://accounts.google.com') });
    expect(certificateIdentity(v1)).toMatchObject({ subject: undefined, issuer: 'https://accounts.google.com' });
  });

  it('only a github.com owner/name URI names a repository', async () => {
    for (const uri of [
      'https://github.com/acme',
      'https://github.com/acme/app/extra',
      'https://github.com//app',
      'https://github.com/acme/',
      'https://gitlab.com/acme/app',
      'xhttps://github.com/acme/app',
    ]) {
      const c = await cert([{ type: 'url', value: WF }], { 12: utf8(uri) });
      expect(certificateIdentity(c).github.repository, uri).toBeUndefined();
    }
    const ok = await cert([{ type: 'url', value: WF }], { 12: utf8('https://github.com/a/b') });
    expect(certificateIdentity(ok).github.repository).toBe('a/b');
  });

  it('an extension that does not parse is an absent claim, never a throw', async () => {
    const c = await cert([{ type: 'url', value: WF }], {
      8: Buffer.from([0x0c, 0x7f, 0x41]),
      14: utf8('refs/heads/main'),
    });
    expect(certificateIdentity(c)).toMatchObject({
      subject: WF,
      issuer: undefined,
      github: { ref: 'refs/heads/main' },
    });
  });
});
