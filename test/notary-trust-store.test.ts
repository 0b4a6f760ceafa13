/**
 * Notation trust stores on disk: `<root>/x509/{ca,signingAuthority,tsa}/<name>/` holding
 * PEM (several certificates a file) or DER files. What is loaded, in which order, what is
 * skipped, and the error a user reads (naming store and file) when a store is missing,
 * empty or holds something that is not a trust anchor.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VerifierError } from '../src/core/verifier.js';
import type { TrustStoreRef } from '../src/verify/notary/trust-policy.js';
import { TrustStore, TrustStoreError } from '../src/verify/notary/trust-store.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import { Certificate } from '../src/verify/notary/x509.js';
import { policy } from './support/notation-context.js';
import { key, makeCert, makeChain, pem, SUBJECT } from './support/notation-signer.js';

const chains = ['one', 'two', 'three'].map((label) => makeChain(key('p256', `store-${label}`), { label }));
const [A, B, C] = chains as [(typeof chains)[0], (typeof chains)[0], (typeof chains)[0]];
const MINE: TrustStoreRef[] = [{ type: 'ca', name: 'mine' }];
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A trust store root with one named store `type:name` whose folder holds `files` (name → contents or a folder). */
function storeRoot(files: Record<string, string | Buffer | null>, type = 'ca', name = 'mine') {
  const root = mkdtempSync(join(tmpdir(), 'trust-store-'));
  const dir = join(root, 'x509', type, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, contents] of Object.entries(files)) {
    if (contents === null) mkdirSync(join(dir, f));
    else writeFileSync(join(dir, f), contents);
  }
  return { root, dir };
}

function loadError(root: string, refs: TrustStoreRef[] = MINE): TrustStoreError {
  try {
    TrustStore.load(root, refs);
  } catch (e) {
    expect(e).toBeInstanceOf(TrustStoreError);
    return e as TrustStoreError;
  }
  throw new Error('TrustStore.load did not fail');
}

describe('TrustStore.load', () => {
  it('loads PEM (several certificates a file) and DER files in file-name order', () => {
    const { root } = storeRoot({
      'e.pem': pem(C.root.der),
      'b.cer': A.intermediate.der,
      'd.crt': pem(B.root.der) + pem(B.intermediate.der),
      'a.pem': pem(A.root.der),
      'c.der': C.intermediate.der,
    });
    const certs = TrustStore.load(root, MINE).certificates(MINE, 'ca');
    expect(certs.map((c) => c.der)).toEqual([
      A.root.der,
      A.intermediate.der,
      C.intermediate.der,
      B.root.der,
      B.intermediate.der,
      C.root.der,
    ]);
  });

  it('skips hidden files and folders, and sub-folders', () => {
    const { root, dir } = storeRoot({
      'root.pem': pem(A.root.der),
      '.DS_Store': 'not a certificate',
      '.hidden.pem': 'not a certificate either',
      '.git': null,
      sub: null,
    });
    writeFileSync(join(dir, 'sub', 'inside.pem'), 'never read');
    writeFileSync(join(dir, '.git', 'HEAD'), 'never read');
    expect(
      TrustStore.load(root, MINE)
        .certificates(MINE, 'ca')
        .map((c) => c.der),
    ).toEqual([A.root.der]);
  });

  it('a self-signed signing certificate is a trust anchor too, as in notation', () => {
    const selfSigned = makeCert({ subject: SUBJECT('Self Signed Signer'), key: key('p256', 'store-self') });
    const { root } = storeRoot({ 'self.pem': pem(selfSigned.der) });
    expect(
      TrustStore.load(root, MINE)
        .certificates(MINE, 'ca')
        .map((c) => c.der),
    ).toEqual([selfSigned.der]);
  });

  it('a missing store folder, or a file where the folder should be, names the store and the folder', () => {
    const { root } = storeRoot({ 'root.pem': pem(A.root.der) });
    const missing = loadError(root, [{ type: 'ca', name: 'other' }]);
    expect(missing.message).toBe(`trust store ca:other: folder ${join(root, 'x509', 'ca', 'other')} does not exist`);
    expect(missing.name).toBe('TrustStoreError');
    writeFileSync(join(root, 'x509', 'ca', 'file'), pem(A.root.der));
    expect(loadError(root, [{ type: 'ca', name: 'file' }]).message).toMatch(
      /^trust store ca:file: folder .* does not exist$/,
    );
  });

  it('a store with no certificate (only hidden files and folders) is an error', () => {
    const { root, dir } = storeRoot({ '.keep': '', sub: null });
    expect(loadError(root).message).toBe(`trust store ca:mine: no certificate in ${dir}`);
  });

  it('a file that is not a certificate names the store, the file and why', () => {
    const { root, dir } = storeRoot({ 'a.pem': pem(A.root.der), 'b.pem': 'hello' });
    expect(loadError(root).message).toMatch(
      new RegExp(`^trust store ca:mine: ${reEscape(join(dir, 'b.pem'))}: malformed certificate: certificate: not DER`),
    );
  });

  it('an unreadable entry (a dangling link) is an error naming the store and the file, not a crash', () => {
    const { root, dir } = storeRoot({ 'a.pem': pem(A.root.der) });
    symlinkSync(join(dir, 'gone.pem'), join(dir, 'link.pem'));
    expect(loadError(root).message).toMatch(
      new RegExp(`^trust store ca:mine: ${reEscape(join(dir, 'link.pem'))}: .*ENOENT`),
    );
  });

  it('a certificate that is neither a CA nor self-signed is not a trust anchor', () => {
    const { root } = storeRoot({ 'a.pem': pem(A.root.der), 'leaf.pem': pem(A.leaf.der) });
    expect(loadError(root).message).toBe(
      `trust store ca:mine: "${Certificate.fromDer(A.leaf.der).subject}" is neither a CA nor self-signed`,
    );
  });

  it('a bad store stops the Notation verifier at start with POLICY_ERROR', () => {
    const { root } = storeRoot({ 'b.pem': 'hello' });
    const make = () =>
      createNotationVerifier(
        { type: 'notation', trustPolicy: policy({ trustStores: ['ca:mine'] }), trustStore: root },
        { baseDir: '/' },
      );
    expect(make).toThrow(VerifierError);
    expect(make).toThrow(/^Notation trust store .*: trust store ca:mine: .*b\.pem: /);
    try {
      make();
    } catch (e) {
      expect((e as VerifierError).reason).toBe('POLICY_ERROR');
    }
  });
});

describe('TrustStore.certificates', () => {
  const of = () =>
    TrustStore.of([
      { type: 'ca', name: 'mine', certs: [Certificate.fromDer(A.root.der)] },
      { type: 'ca', name: 'theirs', certs: [Certificate.fromDer(B.root.der)] },
      { type: 'tsa', name: 'mine', certs: [Certificate.fromDer(C.root.der)] },
    ]);

  it('returns the certificates of the named stores of one type only', () => {
    const store = of();
    const refs: TrustStoreRef[] = [
      { type: 'ca', name: 'mine' },
      { type: 'tsa', name: 'mine' },
    ];
    expect(store.certificates(refs, 'ca').map((c) => c.der)).toEqual([A.root.der]);
    expect(store.certificates(refs, 'tsa').map((c) => c.der)).toEqual([C.root.der]);
    expect(store.certificates(refs, 'signingAuthority')).toEqual([]);
  });

  it('a store the references name but that was not loaded adds nothing', () => {
    expect(of().certificates([{ type: 'ca', name: 'unknown' }], 'ca')).toEqual([]);
    expect(
      of()
        .certificates(
          [
            { type: 'ca', name: 'theirs' },
            { type: 'ca', name: 'unknown' },
          ],
          'ca',
        )
        .map((c) => c.der),
    ).toEqual([B.root.der]);
  });
});
