/**
 * Notation verifier against our own signatures (test/support/notation-signer.ts):
 * JWS and COSE, ES and PS keys; each check broken on purpose must fail with its code.
 */
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { VerifierError } from '../src/core/verifier.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context, makeTrustStore, policy } from './support/notation-context.js';
import {
  EKU,
  digestOf,
  key,
  makeChain,
  pem,
  signCose,
  signJws,
  type Alg,
  type EnvelopeSpec,
  type KeyKind,
} from './support/notation-signer.js';

const IMAGE = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }),
);
const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(IMAGE),
  size: IMAGE.length,
};
const SIGNER_ID = 'x509.subject: C=US, ST=WA, O=Test Org, CN=Test Signer';

const { root, chain, leaf } = makeChain(key('p256', 'leaf'));
const STORE = makeTrustStore({ ca: { mine: [pem(root.der)] }, signingAuthority: { mine: [pem(root.der)] } });
const FORMATS = [
  { name: 'JWS', sign: signJws, mediaType: 'application/jose+json' },
  { name: 'COSE', sign: signCose, mediaType: 'application/cose' },
] as const;
const KEYS: Array<[KeyKind, Alg]> = [
  ['p256', 'ES256'],
  ['p384', 'ES384'],
  ['p521', 'ES512'],
  ['rsa2048', 'PS256'],
  ['rsa3072', 'PS384'],
];

function verifier(statement: Record<string, unknown> = {}, store = STORE) {
  return createNotationVerifier(
    {
      type: 'notation',
      trustPolicy: policy({ trustStores: ['ca:mine'], trustedIdentities: [SIGNER_ID], ...statement }),
      trustStore: store,
    },
    { baseDir: '/' },
  );
}

async function run(
  envelope: Buffer,
  mediaType: string,
  opts: { statement?: Record<string, unknown>; target?: Descriptor; repo?: MemoryRepo; store?: string } = {},
) {
  const repo = opts.repo ?? new MemoryRepo();
  attachSignature(repo, TARGET, envelope, mediaType);
  return verifier(opts.statement, opts.store).verify(context(repo, opts.target ?? TARGET));
}

for (const f of FORMATS) {
  describe(`${f.name} signatures`, () => {
    const base = (over: Partial<EnvelopeSpec> = {}): Buffer =>
      f.sign({ target: TARGET, alg: 'ES256', key: leaf.key.privateKey, chain, ...over });

    it.each(KEYS)('allows a %s key signing with %s', async (kind, alg) => {
      const c = makeChain(key(kind, 'signer'));
      const v = await run(f.sign({ target: TARGET, alg, key: c.leaf.key.privateKey, chain: c.chain }), f.mediaType, {
        store: makeTrustStore({ ca: { mine: [pem(c.root.der)] } }),
      });
      expect(v).toMatchObject({
        ok: true,
        by: 'notation x509.subject:CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US (ca:mine)',
      });
    });

    it('allows a signingAuthority signature with a signingAuthority store', async () => {
      const v = await run(base({ scheme: 'notary.x509.signingAuthority' }), f.mediaType, {
        statement: { trustStores: ['signingAuthority:mine'] },
      });
      expect(v).toMatchObject({ ok: true });
    });

    it('SIGNATURE_INVALID: tampered payload', async () => {
      const v = await run(
        base({ tamperPayload: (p) => Buffer.from(p.toString().replace('"size":', '"size": ')) }),
        f.mediaType,
      );
      expect(v).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    });

    it('DIGEST_MISMATCH: changed size, changed media type, signature for another digest', async () => {
      for (const t of [
        { ...TARGET, size: TARGET.size + 1 },
        { ...TARGET, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' },
        { ...TARGET, digest: digestOf(Buffer.from('other')) },
      ]) {
        const v = await run(base({ target: t }), f.mediaType);
        expect(v, JSON.stringify(t)).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
      }
    });

    it('UNTRUSTED_SIGNER: chain to an untrusted root', async () => {
      const other = makeChain(key('p256', 'leaf'), { rootKey: key('p384', 'other-root'), label: 'other' });
      const v = await run(base({ chain: other.chain }), f.mediaType);
      expect(v).toMatchObject({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringContaining('does not lead'),
      });
    });

    it('UNTRUSTED_SIGNER: identity not in trustedIdentities', async () => {
      const v = await run(base(), f.mediaType, {
        statement: { trustedIdentities: ['x509.subject: C=US, ST=WA, O=Test Org, CN=Someone Else'] },
      });
      expect(v).toMatchObject({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringContaining('trusted identities'),
      });
    });

    it('UNTRUSTED_SIGNER: no registryScope covers the repository; a skip scope admits with a detail', async () => {
      const v = await run(base(), f.mediaType, { statement: { registryScopes: ['registry.example.com/other'] } });
      expect(v).toMatchObject({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringContaining('registry.example.com/team/app'),
      });
      const skip = createNotationVerifier(
        {
          type: 'notation',
          trustPolicy: {
            version: '1.0',
            trustPolicies: [
              {
                name: 'unsigned',
                registryScopes: ['registry.example.com/team/app'],
                signatureVerification: { level: 'skip' },
              },
            ],
          },
          trustStore: STORE,
        },
        { baseDir: '/' },
      );
      expect(await skip.verify(context(new MemoryRepo(), TARGET))).toEqual({
        ok: true,
        by: 'notation trust policy "unsigned"',
        detail: 'skipped by trust policy',
      });
    });

    it('EXPIRED: signature past its expiry; certificate expired', async () => {
      expect(
        await run(
          base({ expiry: new Date(Date.now() - 60_000), signingTime: new Date(Date.now() - 120_000) }),
          f.mediaType,
        ),
      ).toMatchObject({ ok: false, reason: 'EXPIRED' });
      const old = makeChain(key('p256', 'leaf'), {
        root,
        leaf: { notBefore: new Date('2020-01-01Z'), notAfter: new Date('2021-01-01Z') },
      });
      expect(await run(base({ chain: old.chain }), f.mediaType)).toMatchObject({
        ok: false,
        reason: 'EXPIRED',
        detail: expect.stringContaining('expired'),
      });
    });

    it('SIGNATURE_INVALID: unknown critical header, and a header named critical but absent', async () => {
      expect(
        await run(
          base({ extra: { 'com.example.mustUnderstand': 'x' }, crit: ['com.example.mustUnderstand'] }),
          f.mediaType,
        ),
      ).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('com.example.mustUnderstand'),
      });
      expect(await run(base({ crit: ['com.example.absent'] }), f.mediaType)).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
      });
    });

    it.each([
      ['a signing time that is a number', { 'io.cncf.notary.signingTime': 12345 }, [], /signingTime is not an? /],
      ['an expiry that is text', { 'io.cncf.notary.expiry': 'tomorrow' }, ['io.cncf.notary.expiry'], /expiry is not/],
      [
        'an empty verification plugin',
        { 'io.cncf.notary.verificationPlugin': '' },
        ['io.cncf.notary.verificationPlugin'],
        /verificationPlugin must be a non-empty string/,
      ],
      [
        'an unknown signing scheme',
        { 'io.cncf.notary.signingScheme': 'notary.x510' },
        [],
        /unsupported signing scheme/,
      ],
    ])('SIGNATURE_INVALID: a signed attribute in the wrong form (%s)', async (_, extra, crit, detail) => {
      expect(await run(base({ extra, crit }), f.mediaType)).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringMatching(detail),
      });
    });

    it('SIGNATURE_INVALID: algorithm that does not fit the key (ES384 with a P-256 key; PS384 with RSA-2048)', async () => {
      expect(await run(base({ alg: 'ES384' }), f.mediaType)).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('ES256'),
      });
      const rsa = makeChain(key('rsa2048', 'signer'), { root });
      expect(
        await run(base({ alg: 'PS384', key: rsa.leaf.key.privateKey, chain: rsa.chain }), f.mediaType),
      ).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    });

    it('UNTRUSTED_SIGNER: leaf whose extended key usage lacks code signing, or is a CA, or may sign certificates', async () => {
      for (const bad of [{ eku: [EKU.serverAuth] }, { eku: ['1.2.3.4'] }, { ca: true }, { keyUsage: [0, 5] }]) {
        const c = makeChain(key('p256', 'leaf'), { root, leaf: bad });
        const v = await run(base({ chain: c.chain }), f.mediaType);
        expect(v, JSON.stringify(bad)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
      }
    });

    it('UNTRUSTED_SIGNER: chain with an unknown critical extension, or out of order', async () => {
      const c = makeChain(key('p256', 'leaf'), {
        root,
        leaf: { extra: [{ oid: '1.2.3.4.5', critical: true, value: Buffer.from([5, 0]) }] },
      });
      expect(await run(base({ chain: c.chain }), f.mediaType)).toMatchObject({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
        detail: expect.stringContaining('1.2.3.4.5'),
      });
      expect(await run(base({ chain: [chain[0]!, chain[2]!, chain[1]!] }), f.mediaType)).toMatchObject({
        ok: false,
        reason: 'UNTRUSTED_SIGNER',
      });
    });

    it('SIGNATURE_MISSING without signatures; any one valid signature among bad ones admits', async () => {
      expect(await verifier().verify(context(new MemoryRepo(), TARGET))).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_MISSING',
      });
      const repo = new MemoryRepo();
      attachSignature(repo, TARGET, base({ alg: 'ES384' }), f.mediaType);
      expect(await run(base(), f.mediaType, { repo })).toMatchObject({ ok: true });
    });
  });
}

describe('malformed and oversized input', () => {
  it('SIGNATURE_INVALID for garbage envelopes of both types', async () => {
    for (const [bytes, mt] of [
      [Buffer.from('{"payload":1}'), 'application/jose+json'],
      [Buffer.from('not json'), 'application/jose+json'],
      [Buffer.from([0xd2, 0x84, 0x40]), 'application/cose'],
      [Buffer.from([0xff, 0xff]), 'application/cose'],
    ] as const) {
      expect(await run(bytes, mt)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    }
  });

  it('an envelope declared larger than 32 MiB is refused without being fetched', async () => {
    const repo = new MemoryRepo();
    repo.putManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: 'application/vnd.cncf.notary.signature',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 },
          layers: [{ mediaType: 'application/jose+json', digest: digestOf(Buffer.from('x')), size: 33 * 1024 * 1024 }],
          subject: TARGET,
        }),
      ),
    );
    expect(await verifier().verify(context(repo, TARGET))).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.stringContaining('32 MiB'),
    });
  });

  it('at most maxSignatures signatures are tried', async () => {
    const repo = new MemoryRepo();
    for (let i = 0; i < 3; i++) attachSignature(repo, TARGET, Buffer.from(`{"bad":${i}}`), 'application/jose+json');
    attachSignature(
      repo,
      TARGET,
      signJws({ target: TARGET, alg: 'ES256', key: leaf.key.privateKey, chain }),
      'application/jose+json',
    );
    const capped = createNotationVerifier(
      { type: 'notation', trustPolicy: policy({ trustStores: ['ca:mine'] }), trustStore: STORE },
      { baseDir: '/', maxSignatures: 3 },
    );
    expect(await capped.verify(context(repo, TARGET))).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.stringContaining('3 signatures tried'),
    });
  });
});

describe('trust policy and trust store loading', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['version', { version: '2.0', trustPolicies: [] }],
    [
      'two global scopes',
      {
        version: '1.0',
        trustPolicies: [policy({}).trustPolicies as unknown, policy({ name: 'b' }).trustPolicies as unknown].flat(),
      },
    ],
    ['identity without C/ST/O', policy({ trustStores: ['ca:mine'], trustedIdentities: ['x509.subject: CN=foo'] })],
    [
      'overlapping identities',
      policy({
        trustStores: ['ca:mine'],
        trustedIdentities: ['x509.subject: C=US, ST=WA, O=A', 'x509.subject: C=US, ST=WA, O=A, CN=b'],
      }),
    ],
    [
      'override integrity',
      policy({ trustStores: ['ca:mine'], signatureVerification: { level: 'strict', override: { integrity: 'log' } } }),
    ],
    [
      'skip with global scope',
      policy({ signatureVerification: { level: 'skip' }, trustStores: undefined, trustedIdentities: undefined }),
    ],
    ['missing store', policy({ trustStores: ['ca:nope'] })],
  ];
  it.each(bad)('POLICY_ERROR: %s', (_name, doc) => {
    expect(() =>
      createNotationVerifier({ type: 'notation', trustPolicy: doc, trustStore: STORE }, { baseDir: '/' }),
    ).toThrow(VerifierError);
    try {
      createNotationVerifier({ type: 'notation', trustPolicy: doc, trustStore: STORE }, { baseDir: '/' });
    } catch (e) {
      expect((e as VerifierError).reason).toBe('POLICY_ERROR');
    }
  });

  it('an exact repository scope beats the global scope', async () => {
    const repo = new MemoryRepo();
    attachSignature(
      repo,
      TARGET,
      signJws({ target: TARGET, alg: 'ES256', key: leaf.key.privateKey, chain }),
      'application/jose+json',
    );
    const doc = {
      version: '1.0',
      trustPolicies: [
        {
          name: 'global',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:mine'],
          trustedIdentities: ['x509.subject: C=US, ST=WA, O=Nobody'],
        },
        {
          name: 'exact',
          registryScopes: ['registry.example.com/team/app'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:mine'],
          trustedIdentities: [SIGNER_ID],
        },
      ],
    };
    const v = createNotationVerifier({ type: 'notation', trustPolicy: doc, trustStore: STORE }, { baseDir: '/' });
    expect(await v.verify(context(repo, TARGET))).toMatchObject({ ok: true });
  });

  it('a trust policy file is read relative to baseDir and a bad file names itself', () => {
    expect(() =>
      createNotationVerifier(
        { type: 'notation', trustPolicyFile: 'no-such-policy.json', trustStore: STORE },
        { baseDir: '/tmp' },
      ),
    ).toThrow(/no-such-policy\.json/);
  });

  it('a leaf that is not a CA nor self-signed cannot be a trust anchor', () => {
    const store = makeTrustStore({ ca: { mine: [pem(leaf.der)] } });
    expect(() => verifier({}, store)).toThrow(/neither a CA nor self-signed/);
  });
});
