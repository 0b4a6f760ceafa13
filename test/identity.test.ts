/**
 * IdentityMatcher edges (src/verify/cosign/identity.ts) the property tests in
 * sigstore-fuzz.test.ts do not reach: absent claims, a policy without issuer, and the
 * identity descriptions a deny names. Pinned by mutation testing (README "Mutation testing").
 */
import { describe, expect, it } from 'vitest';
import { type CertificateIdentity, describeIdentity, IdentityMatcher } from '../src/verify/cosign/identity.js';

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
