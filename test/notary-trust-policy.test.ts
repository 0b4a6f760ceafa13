/**
 * The Notary Project trust policy document (trust-store-trust-policy.md, version 1.0) on
 * its own: which documents are refused and with which words (the message a user reads in
 * the POLICY_ERROR line), what each verification level and override enforces, logs or
 * skips, which statement covers a repository, and how trusted x509.subject identities are
 * parsed and matched against a signing certificate's subject.
 *
 * The module is imported afresh before each test (vi.resetModules): its level and override
 * tables are built when the module loads, so only a test that loads the module sees a
 * wrong entry in them (and a mutation tool counts that test as covering the entry).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

type TrustPolicyModule = typeof import('../src/verify/notary/trust-policy.js');
let tp: TrustPolicyModule;

beforeEach(async () => {
  vi.resetModules();
  tp = await import('../src/verify/notary/trust-policy.js');
});

const REPO = 'registry.example/team/app';
const ACME = 'x509.subject: C=US, ST=WA, O=acme';

function statement(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'p',
    registryScopes: [REPO],
    signatureVerification: { level: 'strict' },
    trustStores: ['ca:acme'],
    trustedIdentities: [ACME],
    ...over,
  };
}
const doc = (...statements: unknown[]) => ({ version: '1.0', trustPolicies: statements });
const parse = (d: unknown) => tp.TrustPolicyDocument.parse(d);
const only = (over: Record<string, unknown> = {}) => {
  const s = parse(doc(statement(over))).statements[0]!;
  if (s.level === 'skip') throw new Error('expected an enforced statement');
  return s;
};

/** The TrustPolicyError a document is refused with (fails the test on anything else). */
function refusal(d: unknown): Error {
  try {
    parse(d);
  } catch (e) {
    expect(e).toBeInstanceOf(tp.TrustPolicyError);
    return e as Error;
  }
  throw new Error('the document was accepted');
}
const refused = (over: Record<string, unknown>) => refusal(doc(statement(over))).message;

describe('the document', () => {
  it('a refusal is a TrustPolicyError named so, carrying its message', () => {
    const e = refusal({ version: '2.0', trustPolicies: [] });
    expect(e.name).toBe('TrustPolicyError');
    expect(e.message).toBe('unsupported trust policy version "2.0" (expected "1.0")');
  });

  it.each([[null], [[]], ['a string'], [5]])('%j is not a JSON object', (d) => {
    expect(refusal(d).message).toBe('the trust policy is not a JSON object');
  });

  it.each([
    [1.0, 'unsupported trust policy version 1 (expected "1.0")'],
    [undefined, 'unsupported trust policy version undefined (expected "1.0")'],
  ])('version %j is refused', (version, message) => {
    expect(refusal({ version, trustPolicies: [statement()] }).message).toBe(message);
  });

  it.each([[undefined], [[]], [{ length: 0 }], ['p']])('trustPolicies %j is refused', (list) => {
    expect(refusal({ version: '1.0', trustPolicies: list }).message).toBe('"trustPolicies" must be a non-empty array');
  });

  it.each([[null], ['p'], [[statement()]]])('a statement that is %j names its index', (bad) => {
    expect(refusal(doc(statement(), bad)).message).toBe('trustPolicies[1] is not an object');
  });

  it.each([[undefined], [''], [5]])('a statement named %j has no name', (name) => {
    expect(refused({ name })).toBe('trustPolicies[0] has no name');
  });

  it('two statements with the same name are refused', () => {
    const d = doc(statement(), statement({ registryScopes: ['registry.example/team/other'] }));
    expect(refusal(d).message).toBe('trust policy name "p" is used twice');
  });

  it('a repository in the scopes of two statements is refused, naming both', () => {
    const d = doc(
      statement({ name: 'a', registryScopes: ['registry.example/x/one', REPO] }),
      statement({ name: 'b', registryScopes: [REPO] }),
    );
    expect(refusal(d).message).toBe(`registry scope "${REPO}" appears in both "a" and "b"`);
  });

  it('only one statement may use the global scope', () => {
    const d = doc(statement({ name: 'a', registryScopes: ['*'] }), statement({ name: 'b', registryScopes: ['*'] }));
    expect(refusal(d).message).toBe('registry scope "*" appears in both "a" and "b"');
  });

  it('statements with distinct names and scopes are all kept, in order', () => {
    const d = parse(doc(statement({ name: 'a' }), statement({ name: 'b', registryScopes: ['*'] })));
    expect(d.statements.map((s) => [s.name, s.registryScopes])).toEqual([
      ['a', [REPO]],
      ['b', ['*']],
    ]);
  });
});

describe('registryScopes', () => {
  it.each([
    [undefined, 'trust policy "p": registryScopes must not be empty'],
    [[], 'trust policy "p": registryScopes must not be empty'],
    ['registry.example/team/app', 'trust policy "p": registryScopes must be an array of strings'],
    [[REPO, ''], 'trust policy "p": registryScopes must be an array of strings'],
    [['*', REPO], 'trust policy "p": the global scope "*" must be the only scope'],
    [[REPO, '*'], 'trust policy "p": the global scope "*" must be the only scope'],
    [['registry.example/team/*'], 'trust policy "p": "registry.example/team/*" is not a fully qualified repository'],
    [['*/team/app'], 'trust policy "p": "*/team/app" is not a fully qualified repository'],
    [['app'], 'trust policy "p": "app" is not a fully qualified repository'],
  ])('%j is refused', (registryScopes, message) => {
    expect(refused({ registryScopes })).toBe(message);
  });

  it('a list of fully qualified repositories is kept as written', () => {
    expect(only({ registryScopes: [REPO, 'other.example/x'] }).registryScopes).toEqual([REPO, 'other.example/x']);
  });
});

describe('select: which statement covers a repository', () => {
  const global = statement({ name: 'global', registryScopes: ['*'] });
  const exact = statement({ name: 'exact', registryScopes: ['registry.example/x/one', REPO] });

  it('an exact repository scope beats the global scope, wherever it is listed', () => {
    expect(parse(doc(global, exact)).select(REPO)?.name).toBe('exact');
    expect(parse(doc(exact, global)).select(REPO)?.name).toBe('exact');
    expect(parse(doc(exact, global)).select('registry.example/x/one')?.name).toBe('exact');
  });

  it('a repository no scope names falls to the global statement', () => {
    expect(parse(doc(exact, global)).select('registry.example/team/app2')?.name).toBe('global');
  });

  it('without a global statement an uncovered repository has no policy (untrusted)', () => {
    const d = parse(doc(exact));
    expect(d.select('registry.example/team/app2')).toBeUndefined();
    // no prefix matching: a scope covers exactly one repository
    expect(d.select('registry.example/team')).toBeUndefined();
    expect(d.select(`${REPO}/sub`)).toBeUndefined();
    expect(d.select('*')).toBeUndefined();
  });
});

describe('verification levels', () => {
  it.each([
    [
      'strict',
      {
        integrity: 'enforce',
        authenticity: 'enforce',
        authenticTimestamp: 'enforce',
        expiry: 'enforce',
        revocation: 'enforce',
      },
    ],
    [
      'permissive',
      { integrity: 'enforce', authenticity: 'enforce', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' },
    ],
    [
      'audit',
      { integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' },
    ],
  ])('%s: the specification table', (level, actions) => {
    const s = only({ signatureVerification: { level } });
    expect(s.level).toBe(level);
    expect(s.actions).toEqual(actions);
  });

  it.each([
    [{ level: 'lenient' }, 'trust policy "p": unknown verification level "lenient"'],
    [{ level: 'Strict' }, 'trust policy "p": unknown verification level "Strict"'],
    [{}, 'trust policy "p": unknown verification level undefined'],
    [undefined, 'trust policy "p": signatureVerification is required'],
    ['strict', 'trust policy "p": signatureVerification is required'],
    [['strict'], 'trust policy "p": signatureVerification is required'],
  ])('signatureVerification %j is refused', (signatureVerification, message) => {
    expect(refused({ signatureVerification })).toBe(message);
  });

  it('verifyTimestamp is "always" unless "afterCertExpiry" is asked for', () => {
    expect(only().verifyTimestamp).toBe('always');
    expect(only({ signatureVerification: { level: 'strict', verifyTimestamp: 'always' } }).verifyTimestamp).toBe(
      'always',
    );
    expect(
      only({ signatureVerification: { level: 'strict', verifyTimestamp: 'afterCertExpiry' } }).verifyTimestamp,
    ).toBe('afterCertExpiry');
  });

  it.each(['never', ''])('verifyTimestamp %j is refused', (verifyTimestamp) => {
    expect(refused({ signatureVerification: { level: 'strict', verifyTimestamp } })).toBe(
      'trust policy "p": verifyTimestamp must be "always" or "afterCertExpiry"',
    );
  });
});

describe('override: a custom level', () => {
  const ACCEPTED: Array<[string, string]> = [
    ['authenticity', 'enforce'],
    ['authenticity', 'log'],
    ['authenticTimestamp', 'enforce'],
    ['authenticTimestamp', 'log'],
    ['expiry', 'enforce'],
    ['expiry', 'log'],
    ['revocation', 'enforce'],
    ['revocation', 'log'],
    ['revocation', 'skip'],
  ];
  it.each(ACCEPTED)('%s may be set to %s; the other validations keep the level', (validation, action) => {
    for (const level of ['strict', 'audit'] as const) {
      const base = only({ signatureVerification: { level } }).actions;
      const s = only({ signatureVerification: { level, override: { [validation]: action } } });
      expect(s.actions).toEqual({ ...base, [validation]: action });
    }
  });

  it('several overrides apply together', () => {
    const s = only({ signatureVerification: { level: 'strict', override: { expiry: 'log', revocation: 'skip' } } });
    expect(s.actions).toEqual({
      integrity: 'enforce',
      authenticity: 'enforce',
      authenticTimestamp: 'enforce',
      expiry: 'log',
      revocation: 'skip',
    });
  });

  it('an override changes its own statement only, not the level for the others', () => {
    const d = parse(
      doc(
        statement({ name: 'relaxed', signatureVerification: { level: 'strict', override: { authenticity: 'log' } } }),
        statement({ name: 'plain', registryScopes: ['*'] }),
      ),
    );
    const [relaxed, plain] = d.statements as Array<{ actions: Record<string, string> }>;
    expect(relaxed!.actions.authenticity).toBe('log');
    expect(plain!.actions.authenticity).toBe('enforce');
  });

  it.each([
    [{ authenticity: 'skip' }, 'trust policy "p": override authenticity must be one of enforce, log'],
    [{ authenticTimestamp: 'skip' }, 'trust policy "p": override authenticTimestamp must be one of enforce, log'],
    [{ expiry: 'skip' }, 'trust policy "p": override expiry must be one of enforce, log'],
    [{ revocation: 'ignore' }, 'trust policy "p": override revocation must be one of enforce, log, skip'],
    [{ expiry: '' }, 'trust policy "p": override expiry must be one of enforce, log'],
    [{ integrity: 'log' }, 'trust policy "p": "integrity" cannot be overridden'],
    [{ integrity: 'enforce' }, 'trust policy "p": "integrity" cannot be overridden'],
    [{ timestamp: 'log' }, 'trust policy "p": "timestamp" cannot be overridden'],
    [{ toString: 'log' }, 'trust policy "p": "toString" cannot be overridden'],
    ['log', 'trust policy "p": override must be an object'],
    [null, 'trust policy "p": override must be an object'],
    [['expiry'], 'trust policy "p": override must be an object'],
  ])('override %j is refused', (override, message) => {
    expect(refused({ signatureVerification: { level: 'permissive', override } })).toBe(message);
  });
});

describe('the skip level', () => {
  const skip = { signatureVerification: { level: 'skip' }, trustStores: undefined, trustedIdentities: undefined };

  it('covers its repositories without naming stores or identities', () => {
    const d = parse(doc(statement({ name: 'unsigned', ...skip }), statement({ registryScopes: ['*'] })));
    expect(d.statements[0]).toEqual({ name: 'unsigned', registryScopes: [REPO], level: 'skip' });
    expect(d.select(REPO)?.level).toBe('skip');
    expect(d.select('registry.example/team/other')?.level).toBe('strict');
  });

  it('empty trust store and identity lists are allowed', () => {
    expect(parse(doc(statement({ ...skip, trustStores: [], trustedIdentities: [] }))).statements[0]?.level).toBe(
      'skip',
    );
  });

  it.each([
    [{ registryScopes: ['*'] }, 'trust policy "p": the skip level cannot be used with the global scope "*"'],
    [
      { signatureVerification: { level: 'skip', override: { revocation: 'skip' } } },
      'trust policy "p": the skip level cannot be overridden',
    ],
    [
      { signatureVerification: { level: 'skip', override: {} } },
      'trust policy "p": the skip level cannot be overridden',
    ],
    [{ trustStores: ['ca:acme'] }, 'trust policy "p": a skip policy must not name trust stores or trusted identities'],
    [{ trustedIdentities: ['*'] }, 'trust policy "p": a skip policy must not name trust stores or trusted identities'],
  ])('%j is refused', (over, message) => {
    expect(refused({ ...skip, ...over })).toBe(message);
  });
});

describe('trustStores', () => {
  it('are parsed as type and name, and listed once for the whole document', () => {
    const d = parse(
      doc(
        statement({ name: 'a', trustStores: ['ca:acme', 'tsa:stamps'] }),
        statement({
          name: 'b',
          registryScopes: ['*'],
          trustStores: ['signingAuthority:aws-signer_1.x', 'ca:acme'],
        }),
        statement({
          name: 'c',
          registryScopes: ['registry.example/u/v'],
          signatureVerification: { level: 'skip' },
          trustStores: undefined,
          trustedIdentities: undefined,
        }),
      ),
    );
    expect((d.statements[1] as { trustStores: unknown }).trustStores).toEqual([
      { type: 'signingAuthority', name: 'aws-signer_1.x' },
      { type: 'ca', name: 'acme' },
    ]);
    expect(d.trustStores()).toEqual([
      { type: 'ca', name: 'acme' },
      { type: 'tsa', name: 'stamps' },
      { type: 'signingAuthority', name: 'aws-signer_1.x' },
    ]);
  });

  it.each([
    [undefined, 'trust policy "p": trustStores must not be empty'],
    [[], 'trust policy "p": trustStores must not be empty'],
    ['ca:acme', 'trust policy "p": trustStores must be an array of strings'],
    [[''], 'trust policy "p": trustStores must be an array of strings'],
    [['ca:acme', 5], 'trust policy "p": trustStores must be an array of strings'],
    [[['ca:acme']], 'trust policy "p": trustStores must be an array of strings'],
    [['ca'], 'trust policy "p": trust store "ca" must be <ca|signingAuthority|tsa>:<name>'],
    [['ca:'], 'trust policy "p": trust store "ca:" must be <ca|signingAuthority|tsa>:<name>'],
    [['ca:acme:x'], 'trust policy "p": trust store "ca:acme:x" must be <ca|signingAuthority|tsa>:<name>'],
    [['x509:acme'], 'trust policy "p": trust store "x509:acme" must be <ca|signingAuthority|tsa>:<name>'],
    [['CA:acme'], 'trust policy "p": trust store "CA:acme" must be <ca|signingAuthority|tsa>:<name>'],
    [['ca:../etc'], 'trust policy "p": trust store name "../etc" has characters outside [A-Za-z0-9_.-]'],
    [['ca:#acme'], 'trust policy "p": trust store name "#acme" has characters outside [A-Za-z0-9_.-]'],
    [['ca:acme#'], 'trust policy "p": trust store name "acme#" has characters outside [A-Za-z0-9_.-]'],
    [['ca:my store'], 'trust policy "p": trust store name "my store" has characters outside [A-Za-z0-9_.-]'],
  ])('%j is refused', (trustStores, message) => {
    expect(refused({ trustStores })).toBe(message);
  });
});

describe('trustedIdentities', () => {
  it('"*" trusts any identity the trust stores vouch for', () => {
    const s = only({ trustedIdentities: ['*'] });
    expect(s.trustedIdentities).toBeNull();
    expect(s.identityText).toEqual(['*']);
  });

  it('x509.subject identities are parsed, attribute names in upper case', () => {
    const s = only({
      trustedIdentities: ['x509.subject: c=US, st=WA, o=acme, CN=builder', 'x509.subject:C=US,ST=OR,O=acme'],
    });
    expect(s.trustedIdentities?.map((id) => Object.fromEntries(id))).toEqual([
      { C: 'US', ST: 'WA', O: 'acme', CN: 'builder' },
      { C: 'US', ST: 'OR', O: 'acme' },
    ]);
  });

  it('three identities that differ pairwise are accepted', () => {
    const ids = ['O=a', 'O=b', 'O=c'].map((o) => `x509.subject: C=US, ST=WA, ${o}`);
    expect(only({ trustedIdentities: ids }).trustedIdentities).toHaveLength(3);
  });

  it.each([
    [undefined, 'trust policy "p": trustedIdentities must not be empty'],
    [[], 'trust policy "p": trustedIdentities must not be empty'],
    [ACME, 'trust policy "p": trustedIdentities must be an array of strings'],
    [[ACME, ''], 'trust policy "p": trustedIdentities must be an array of strings'],
    [['*', ACME], 'trust policy "p": the wildcard identity "*" must be the only trusted identity'],
    [[ACME, '*'], 'trust policy "p": the wildcard identity "*" must be the only trusted identity'],
    [
      ['C=US, ST=WA, O=acme'],
      'trust policy "p": trusted identity "C=US, ST=WA, O=acme" must start with "x509.subject:"',
    ],
    [
      ['x509.issuer: C=US, ST=WA, O=acme'],
      'trust policy "p": trusted identity "x509.issuer: C=US, ST=WA, O=acme" must start with "x509.subject:"',
    ],
    [['x509.subject: CN=foo'], 'trust policy "p": trusted identity "x509.subject: CN=foo" must contain C, ST and O'],
    [
      ['x509.subject: ST=WA, O=acme'],
      'trust policy "p": trusted identity "x509.subject: ST=WA, O=acme" must contain C, ST and O',
    ],
    [
      ['x509.subject: C=US, O=acme'],
      'trust policy "p": trusted identity "x509.subject: C=US, O=acme" must contain C, ST and O',
    ],
    [
      ['x509.subject: C=US, ST=WA'],
      'trust policy "p": trusted identity "x509.subject: C=US, ST=WA" must contain C, ST and O',
    ],
    [
      ['x509.subject: C=US, ST=WA, O=acme, CN'],
      'trust policy "p": "x509.subject: C=US, ST=WA, O=acme, CN": "CN" is not ATTRIBUTE=value',
    ],
  ])('%j is refused', (trustedIdentities, message) => {
    expect(refused({ trustedIdentities })).toBe(message);
  });

  it.each([
    // the specification's example: the second is a subset of the first
    ['x509.subject: C=US, ST=WA, O=wabbit-network.io, OU=org1', 'x509.subject:  C=US, ST=WA, O=wabbit-network.io'],
    ['x509.subject: C=US, ST=WA, O=acme', ACME],
    // a certificate with both OU=x and CN=y would match both
    ['x509.subject: C=US, ST=WA, O=acme, OU=x', 'x509.subject: C=US, ST=WA, O=acme, CN=y'],
  ])('overlapping identities %j and %j are refused', (a, b) => {
    expect(refused({ trustedIdentities: [a, b] })).toBe(
      `trust policy "p": trusted identities "${a}" and "${b}" overlap`,
    );
  });

  it('the first overlapping pair is named', () => {
    const ids = ['O=a', 'O=b', 'O=b, CN=x'].map((o) => `x509.subject: C=US, ST=WA, ${o}`);
    expect(refused({ trustedIdentities: ids })).toBe(
      `trust policy "p": trusted identities "${ids[1]}" and "${ids[2]}" overlap`,
    );
  });
});

describe('parseDn: the x509.subject syntax', () => {
  const dn = (text: string) => Object.fromEntries(tp.parseDn(text, 'id'));
  const dnError = (text: string) => {
    try {
      tp.parseDn(text, 'id');
    } catch (e) {
      expect(e).toBeInstanceOf(tp.TrustPolicyError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('RDNs are separated by commas; ";" and "+" separate too', () => {
    expect(dn('C=US, ST=WA, O=acme')).toEqual({ C: 'US', ST: 'WA', O: 'acme' });
    expect(dn('C=US;ST=WA; O=acme')).toEqual({ C: 'US', ST: 'WA', O: 'acme' });
    expect(dn('C=US+ST=WA + O=acme')).toEqual({ C: 'US', ST: 'WA', O: 'acme' });
  });

  it('escaped separators and backslashes belong to the value', () => {
    expect(dn('O=wabbit\\, inc, C=US')).toEqual({ O: 'wabbit, inc', C: 'US' });
    expect(dn('O=a\\;b, C=US')).toEqual({ O: 'a;b', C: 'US' });
    expect(dn('O=a\\+b, C=US')).toEqual({ O: 'a+b', C: 'US' });
    expect(dn('O=back\\\\slash, C=US')).toEqual({ O: 'back\\slash', C: 'US' });
    expect(dn('O=a=b')).toEqual({ O: 'a=b' });
  });

  it('a lone backslash at the very end is kept as written', () => {
    expect(dn('C=US, O=a\\')).toEqual({ C: 'US', O: 'a\\' });
  });

  it('unescaped spaces around a value are dropped, escaped ones kept', () => {
    expect(dn('  C  =   US  ,O=  acme   ')).toEqual({ C: 'US', O: 'acme' });
    expect(dn('O=\\ acme\\ ')).toEqual({ O: ' acme ' });
    expect(dn('O=acme\\  ')).toEqual({ O: 'acme ' });
    expect(dn('O=in side')).toEqual({ O: 'in side' });
  });

  it.each([
    ['C=US, =x', 'id: "=x" is not ATTRIBUTE=value'],
    ['C=US,  CN  ', 'id: "CN" is not ATTRIBUTE=value'],
    ['C=US,', 'id: "" is not ATTRIBUTE=value'],
    ['C=US, O=', 'id: O has an empty value'],
    ['C=US, O=   ', 'id: O has an empty value'],
    ['C=US, c=CA', 'id: C appears twice'],
  ])('%j is refused', (text, message) => {
    expect(dnError(text)).toBe(message);
  });
});

describe('subjectMatches: a trusted identity against the signing certificate subject', () => {
  const id = (text: string) => tp.parseDn(text, 'id');
  const SUBJECT: Array<[string, string]> = [
    ['C', 'US'],
    ['ST', 'WA'],
    ['L', 'Seattle'],
    ['O', 'acme'],
    ['CN', 'builder'],
  ];

  it('every attribute of the identity is in the subject with the same value (a subset)', () => {
    expect(tp.subjectMatches(id('C=US, ST=WA, O=acme'), SUBJECT)).toBe(true);
    expect(tp.subjectMatches(id('CN=builder, C=US, ST=WA, O=acme, L=Seattle'), SUBJECT)).toBe(true);
  });

  it('a different value does not match', () => {
    expect(tp.subjectMatches(id('C=US, ST=WA, O=acme2'), SUBJECT)).toBe(false);
    expect(tp.subjectMatches(id('C=US, ST=WA, O=Acme'), SUBJECT)).toBe(false);
  });

  it('an attribute the subject lacks does not match', () => {
    expect(tp.subjectMatches(id('C=US, ST=WA, O=acme, OU=tools'), SUBJECT)).toBe(false);
  });

  it('attribute names in the subject are compared in upper case', () => {
    expect(
      tp.subjectMatches(id('C=US, ST=WA, O=acme'), [
        ['c', 'US'],
        ['st', 'WA'],
        ['o', 'acme'],
      ]),
    ).toBe(true);
  });

  it('an attribute repeated in the subject is ambiguous and never matches', () => {
    const repeated: Array<[string, string]> = [...SUBJECT, ['OU', 'a'], ['OU', 'b']];
    expect(tp.subjectMatches(id('C=US, ST=WA, O=acme, OU=a'), repeated)).toBe(false);
    expect(tp.subjectMatches(id('C=US, ST=WA, O=acme, OU=b'), repeated)).toBe(false);
    // the same attribute written in two cases is repeated too
    expect(tp.subjectMatches(id('C=US, ST=WA, O=acme'), [...SUBJECT, ['o', 'acme']])).toBe(false);
    // an identity that does not name the repeated attribute is unaffected
    expect(tp.subjectMatches(id('C=US, ST=WA, O=acme'), repeated)).toBe(true);
  });
});
