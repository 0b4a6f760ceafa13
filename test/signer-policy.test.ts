/**
 * Who a cosign verifier accepts (src/verify/cosign/signer-policy.ts): a key (with or
 * without the Sigstore root, by `tlog`), keyless identities where any one of several
 * matches, a private CA; how the policy names itself and a refused signer; and the
 * trust material, built once on first use and built again after a failed build.
 * The end-to-end paths (real bundles through docker-registry) are in
 * sigstore-registry.test.ts and cosign-private-ca.test.ts.
 *
 * signer-policy.ts is imported afresh before each test (vi.resetModules): its empty
 * trusted root (keys with `tlog: skip`) is built when the module loads, so only a test
 * that loads the module sees a wrong value in it (and a mutation tool counts that test
 * as covering it).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate } from '@sigstore/core';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CertificateIdentity, PolicyIdentity } from '../src/verify/cosign/identity.js';
import { type KeySource, loadPemKey, pemKeySource, shortFingerprint } from '../src/verify/cosign/keys.js';
import type { CosignSigner } from '../src/verify/cosign/signer-policy.js';
import { readTrustedRoot } from '../src/verify/cosign/trusted-root.js';
import { generateKeyPair } from './support/cosign-signer.js';

let SignerPolicy: typeof import('../src/verify/cosign/signer-policy.js').SignerPolicy;
beforeEach(async () => {
  vi.resetModules();
  ({ SignerPolicy } = await import('../src/verify/cosign/signer-policy.js'));
});

const GH = 'https://token.actions.githubusercontent.com';
const RELEASE = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const NIGHTLY = 'https://github.com/acme/app/.github/workflows/nightly.yml@refs/heads/main';
const SHIPPED_ROOT = 'layers/trust/sigstore/trusted_root.json';

const pair = generateKeyPair('p256');
const handle = loadPemKey(pair.publicKeyPem);
const signal = new AbortController().signal;

let ca: X509Certificate;
beforeAll(async () => {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const made = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Acme private CA',
    notBefore: new Date('2025-01-01'),
    notAfter: new Date('2035-01-01'),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  ca = X509Certificate.parse(Buffer.from(made.rawData));
});

/** A root loader that counts its calls, answering the shipped root (or the given failures first). */
function rootLoader(...failures: Error[]) {
  const loader = vi.fn(async (): Promise<TrustedRoot> => {
    const failure = failures.shift();
    if (failure) throw failure;
    return readTrustedRoot(SHIPPED_ROOT);
  });
  return loader;
}

/** A key source that counts its loads (as a KMS key store would be asked), failing first if told. */
function countingSource(describe: string, ...failures: Error[]): KeySource & { load: ReturnType<typeof vi.fn> } {
  return {
    describe,
    load: vi.fn(async () => {
      const failure = failures.shift();
      if (failure) throw failure;
      return handle;
    }),
  };
}

const keyless = (...identities: PolicyIdentity[]): CosignSigner => ({ kind: 'keyless', identities });
const signedBy = (identity: Partial<CertificateIdentity>) => ({
  kind: 'certificate' as const,
  certificate: ca,
  identity: { subject: RELEASE, issuer: GH, github: {}, ...identity },
});

describe('describe(): the policy as a decision names it', () => {
  it('a key policy names its key source', () => {
    expect(
      new SignerPolicy({ kind: 'key', source: pemKeySource(pair.publicKeyPem) }, 'skip', rootLoader()).describe(),
    ).toBe('cosign key');
    const kms = countingSource('kms alias/release');
    expect(new SignerPolicy({ kind: 'key', source: kms }, 'required', rootLoader()).describe()).toBe(
      'cosign kms alias/release',
    );
  });

  it('a keyless policy names each identity, separated by " | "', () => {
    const policy = new SignerPolicy(
      keyless({ subject: RELEASE, issuer: GH }, { subjectRegExp: '.*@acme\\.example' }),
      'required',
      rootLoader(),
    );
    expect(policy.describe()).toBe(`cosign keyless ${RELEASE} from ${GH} | /.*@acme\\.example/ from any issuer`);
  });
});

describe('accept(): is the verified signer one the policy names?', () => {
  const two = () =>
    new SignerPolicy(
      keyless({ subject: RELEASE, issuer: GH }, { subject: NIGHTLY, issuer: GH }),
      'required',
      rootLoader(),
    );

  it('any one of several identities is enough: the first, or the second only', () => {
    expect(two().accept(signedBy({ subject: RELEASE }))).toEqual({ ok: true, by: `${RELEASE} from ${GH}` });
    expect(two().accept(signedBy({ subject: NIGHTLY }))).toEqual({ ok: true, by: `${NIGHTLY} from ${GH}` });
  });

  it('a signer none of them names is UNTRUSTED_SIGNER, naming the signer and every identity', () => {
    const other = 'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main';
    expect(two().accept(signedBy({ subject: other, github: { repository: 'evil/app' } }))).toEqual({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: `signed by ${other} from ${GH} (repository=evil/app); the policy expects ${RELEASE} from ${GH} or ${NIGHTLY} from ${GH}`,
    });
  });

  it('a key signer is named by its short fingerprint', () => {
    const policy = new SignerPolicy({ kind: 'key', source: pemKeySource(pair.publicKeyPem) }, 'skip', rootLoader());
    expect(policy.accept({ kind: 'key', fingerprint: handle.fingerprint })).toEqual({
      ok: true,
      by: `key ${shortFingerprint(handle.fingerprint)}`,
    });
  });

  it('a key policy names no identity: a certificate signer is UNTRUSTED_SIGNER', () => {
    const policy = new SignerPolicy({ kind: 'key', source: pemKeySource(pair.publicKeyPem) }, 'required', rootLoader());
    expect(policy.accept(signedBy({}))).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: expect.stringMatching(new RegExp(`^signed by ${RELEASE} from ${GH};`)),
    });
  });
});

describe('trust(): the material to verify with', () => {
  it('a key with tlog skip trusts only the key: no Sigstore root is read', async () => {
    const root = rootLoader();
    const source = countingSource('kms alias/release');
    const trust = await new SignerPolicy({ kind: 'key', source }, 'skip', root).trust(signal);
    expect(root).not.toHaveBeenCalled();
    expect(trust.tlog).toBe('skip');
    expect(trust.signer).toEqual({
      kind: 'key',
      key: handle,
      describe: `kms alias/release ${shortFingerprint(handle.fingerprint)}`,
    });
    expect(trust.material).toMatchObject({
      certificateAuthorities: [],
      timestampAuthorities: [],
      tlogs: [],
      ctlogs: [],
    });
    const found = trust.material.publicKey('any hint the bundle gives');
    expect(found.publicKey).toBe(handle.key);
    expect(found.validFor(new Date(0))).toBe(true);
  });

  it('a key with tlog required also trusts the Sigstore root (its logs)', async () => {
    const root = rootLoader();
    const trust = await new SignerPolicy({ kind: 'key', source: countingSource('key') }, 'required', root).trust(
      signal,
    );
    expect(root).toHaveBeenCalledTimes(1);
    expect(trust.tlog).toBe('required');
    expect(trust.material.tlogs.length).toBeGreaterThan(0);
    expect(trust.material.publicKey('x').publicKey).toBe(handle.key);
  });

  it('keyless trusts the Fulcio CAs of the root', async () => {
    const trust = await new SignerPolicy(keyless({ subject: RELEASE }), 'required', rootLoader()).trust(signal);
    expect(trust.signer).toEqual({ kind: 'fulcio' });
    expect(trust.material.certificateAuthorities.length).toBeGreaterThan(0);
    expect(trust.material.certificateAuthorities.flatMap((c) => c.certChain)).not.toContain(ca);
  });

  it('keyless with a private CA trusts that CA in place of Fulcio', async () => {
    const signer: CosignSigner = {
      kind: 'keyless',
      identities: [{ subject: RELEASE }],
      privateCas: () => ({ roots: [ca], intermediates: [] }),
    };
    const trust = await new SignerPolicy(signer, 'required', rootLoader()).trust(signal);
    expect(trust.signer).toEqual({ kind: 'private-ca' });
    expect(trust.material.certificateAuthorities.map((c) => c.certChain)).toEqual([[ca]]);
  });

  it('is built once: later calls neither load the key nor read the root again', async () => {
    const root = rootLoader();
    const source = countingSource('kms alias/release');
    const policy = new SignerPolicy({ kind: 'key', source }, 'required', root);
    const first = await policy.trust(signal);
    const second = await policy.trust(signal);
    expect(second).toBe(first);
    expect(source.load).toHaveBeenCalledTimes(1);
    expect(root).toHaveBeenCalledTimes(1);
  });

  it('a failed build does not stick: the next call builds again (a root file or KMS hiccup)', async () => {
    const root = rootLoader(new Error('root file: EIO'));
    const policy = new SignerPolicy(keyless({ subject: RELEASE }), 'required', root);
    await expect(policy.trust(signal)).rejects.toThrow('root file: EIO');
    await expect(policy.trust(signal)).resolves.toMatchObject({ signer: { kind: 'fulcio' } });
    expect(root).toHaveBeenCalledTimes(2);

    const source = countingSource('kms alias/release', new Error('KMS throttled'));
    const keyPolicy = new SignerPolicy({ kind: 'key', source }, 'skip', rootLoader());
    await expect(keyPolicy.trust(signal)).rejects.toThrow('KMS throttled');
    await expect(keyPolicy.trust(signal)).resolves.toMatchObject({ signer: { kind: 'key', key: handle } });
    expect(source.load).toHaveBeenCalledTimes(2);
  });
});
