/**
 * The validation steps shared by the Notation and AWS Signer verifiers (checks.ts), one
 * step at a time on envelopes built here: integrity (algorithm, signature, critical
 * headers, payload target), authentic timestamp under both signing schemes and both
 * verifyTimestamp settings, and the signer's own expiry. Each case asserts the reason code
 * and the words a user reads in the decision line.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import {
  authenticTimestamp,
  authenticTimestampProblem,
  checkIntegrity,
  expiryProblem,
  type Intact,
  type TimeOptions,
} from '../src/verify/notary/checks.js';
import { MEDIA_TYPE_COSE, MEDIA_TYPE_JWS } from '../src/verify/notary/envelope.js';
import { Certificate } from '../src/verify/notary/x509.js';
import {
  digestOf,
  key,
  makeChain,
  signCose,
  signJws,
  type CertSpec,
  type EnvelopeSpec,
  type KeyPair,
} from './support/notation-signer.js';
import { makeTsa, timestampToken } from './support/pki-tsa.js';

const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(Buffer.from('checks image')),
  size: 12,
};
/** the signature manifest's descriptor: its digest, shortened, opens every detail */
const MANIFEST: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'0123456789abcdef'.repeat(4)}`,
  size: 500,
};
const SHORT = 'sha256:0123456789ab';
const LEAF_KEY = key('p256', 'checks-leaf');
const good = makeChain(LEAF_KEY, { label: 'checks' });
const tsa = makeTsa({ label: 'checks' });
const TSA_ROOTS = [Certificate.fromDer(tsa.root.der)];
const SUBJECT_DN = 'CN=Test Signer,O=Test Org,L=Seattle,ST=WA,C=US';

type Format = {
  name: string;
  sign: (s: EnvelopeSpec) => Buffer;
  mediaType: typeof MEDIA_TYPE_JWS | typeof MEDIA_TYPE_COSE;
};
const FORMATS: Format[] = [
  { name: 'JWS', sign: signJws, mediaType: MEDIA_TYPE_JWS },
  { name: 'COSE', sign: signCose, mediaType: MEDIA_TYPE_COSE },
];

function check(f: Format, over: Partial<EnvelopeSpec> = {}, target: Descriptor = TARGET) {
  const bytes = f.sign({ target: TARGET, alg: 'ES256', key: LEAF_KEY.privateKey, chain: good.chain, ...over });
  return checkIntegrity({ manifest: MANIFEST, mediaType: f.mediaType, bytes }, target, { understood: new Set() });
}
function intact(f: Format, over: Partial<EnvelopeSpec> = {}): Intact {
  const r = check(f, over);
  if ('ok' in r) throw new Error(`not intact: ${r.detail}`);
  return r;
}
const invalid = (detail: string) => ({ ok: false, reason: 'SIGNATURE_INVALID', detail });

describe('integrity', () => {
  for (const f of FORMATS) {
    describe(f.name, () => {
      it('an intact signature gives the envelope and the parsed chain', () => {
        const r = intact(f);
        expect(r.chain.map((c) => c.der)).toEqual(good.chain);
        expect(r.envelope.alg).toBe('ES256');
      });

      it('an algorithm that does not fit the key names the one it requires', () => {
        expect(check(f, { alg: 'ES384' })).toEqual(
          invalid(`signature ${SHORT} uses ES384, but the signing key requires ES256`),
        );
      });

      it('a signing key the profile does not allow is named as such', () => {
        const small: KeyPair = generateKeyPairSync('rsa', { modulusLength: 1024 });
        const chain = makeChain(small, { root: good.root, label: 'checks' }).chain;
        expect(check(f, { alg: 'PS256', key: small.privateKey, chain })).toEqual(
          invalid(`signature ${SHORT} uses PS256, but RSA key size 1024 is not allowed (2048, 3072 or 4096)`),
        );
      });

      it('a signature that does not verify names the signer', () => {
        const tamper = (p: Buffer) => Buffer.from(p.toString().replace('"size":12', '"size":13'));
        expect(check(f, { tamperPayload: tamper })).toEqual(
          invalid(`signature ${SHORT} does not verify with the key of "${SUBJECT_DN}"`),
        );
      });

      it('critical headers nobody understands are all named', () => {
        const extra = { 'com.example.a': 'x', 'com.example.b': 'y' };
        expect(check(f, { extra, crit: ['com.example.a', 'com.example.b'] })).toEqual(
          invalid(`signature ${SHORT} has critical header(s) not understood: com.example.a, com.example.b`),
        );
      });

      it('a payload whose targetArtifact is not an object, or that is not JSON, has no target', () => {
        for (const payload of ['{"targetArtifact":"sha256:abc"}', '{"targetArtifact":null}', 'null', 'not json']) {
          expect(check(f, { payload: Buffer.from(payload) }), payload).toEqual(
            invalid('the signed payload has no targetArtifact'),
          );
        }
      });

      it('a signature for another artifact lists every difference', () => {
        const other: Descriptor = {
          mediaType: 'application/vnd.oci.image.index.v1+json',
          digest: digestOf(Buffer.from('x')),
          size: 1,
        };
        expect(check(f, {}, other)).toEqual({
          ok: false,
          reason: 'DIGEST_MISMATCH',
          detail: `the signature is for another artifact: digest ${TARGET.digest} ≠ ${other.digest}, size 12 ≠ 1, mediaType ${TARGET.mediaType} ≠ ${other.mediaType}`,
        });
        expect(check(f, {}, { ...TARGET, size: 13 })).toEqual({
          ok: false,
          reason: 'DIGEST_MISMATCH',
          detail: 'the signature is for another artifact: size 12 ≠ 13',
        });
      });
    });
  }

  it('an unexpected error while parsing is not turned into a verdict (it surfaces as an internal error)', () => {
    const bytes = {
      toString() {
        throw new RangeError('not a buffer');
      },
    } as unknown as Buffer;
    expect(() =>
      checkIntegrity({ manifest: MANIFEST, mediaType: MEDIA_TYPE_JWS, bytes }, TARGET, { understood: new Set() }),
    ).toThrow(RangeError);
  });
});

/** good's root and intermediate, a leaf valid over [from, to] */
function chainValid(from: string, to: string): Buffer[] {
  const leaf: Partial<CertSpec> = { notBefore: new Date(from), notAfter: new Date(to) };
  return makeChain(LEAF_KEY, { root: good.root, label: 'checks', leaf }).chain;
}
const JWS = FORMATS[0]!;
const stamped = (chain: Buffer[], genTime: Date) =>
  intact(JWS, { chain, timestamp: (signature) => timestampToken({ signature, tsa, genTime }) });
const opts = (over: Partial<TimeOptions>): TimeOptions => ({
  now: new Date('2025-06-01T00:00:00Z'),
  tsa: TSA_ROOTS,
  verifyTimestamp: 'always',
  ...over,
});

describe('authentic timestamp, notary.x509', () => {
  const chain = chainValid('2024-01-01T00:00:00Z', '2026-01-01T00:00:00Z');

  it('without TSA roots the chain must be valid now', () => {
    const i = intact(JWS, { chain });
    expect(authenticTimestampProblem(i, opts({ tsa: [] }))).toBeNull();
    expect(authenticTimestampProblem(i, opts({ tsa: [], now: new Date('2026-06-01T00:00:00Z') }))).toEqual({
      ok: false,
      reason: 'EXPIRED',
      detail: expect.stringMatching(/^certificate "CN=Test Signer.*" expired at 2026-01-01T00:00:00.000Z/),
    });
  });

  it('afterCertExpiry: a chain valid now needs no timestamp', () => {
    expect(authenticTimestamp(intact(JWS, { chain }), opts({ verifyTimestamp: 'afterCertExpiry' }))).toEqual({
      failure: null,
    });
  });

  it('afterCertExpiry: a chain expired now is judged at its verified timestamp', () => {
    const i = stamped(chain, new Date('2025-03-01T00:00:00Z'));
    const r = authenticTimestamp(
      i,
      opts({ verifyTimestamp: 'afterCertExpiry', now: new Date('2027-01-01T00:00:00Z') }),
    );
    expect(r.failure).toBeNull();
    expect(r.tsaChain?.map((c) => c.der)).toEqual([tsa.leaf.der, tsa.root.der]);
  });

  it('always: a signature without a timestamp is refused', () => {
    expect(authenticTimestampProblem(intact(JWS, { chain }), opts({}))).toEqual({
      ok: false,
      reason: 'EXPIRED',
      detail: 'the trust policy requires a timestamp countersignature and the signature has none',
    });
  });

  it('a timestamp outside the chain validity says when it was made', () => {
    const i = stamped(chain, new Date('2023-06-01T00:00:00Z'));
    expect(authenticTimestampProblem(i, opts({}))).toEqual({
      ok: false,
      reason: 'EXPIRED',
      detail: expect.stringMatching(
        /^at the timestamp 2023-06-01T00:00:00.000Z: certificate "CN=Test Signer.*" is not valid before 2024-01-01/,
      ),
    });
  });

  it('a timestamp by an untrusted TSA is an invalid countersignature', () => {
    const other = makeTsa({ label: 'checks-other' });
    const i = intact(JWS, { chain, timestamp: (signature) => timestampToken({ signature, tsa: other }) });
    expect(authenticTimestampProblem(i, opts({}))).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.stringMatching(/^timestamp countersignature: the timestamp authority .* does not chain/),
    });
  });

  it('an unexpected error while verifying the timestamp is not turned into a verdict', () => {
    const i = stamped(chain, new Date('2025-03-01T00:00:00Z'));
    expect(() => authenticTimestamp(i, opts({ tsa: [{} as Certificate] }))).toThrow(TypeError);
  });
});

describe('authentic timestamp, notary.x509.signingAuthority', () => {
  const chain = chainValid('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z');
  const signed = (at: string) =>
    intact(JWS, { chain, scheme: 'notary.x509.signingAuthority', signingTime: new Date(at) });

  it('the chain must be valid at the authentic signing time, not now', () => {
    // now (2025-06-01) is after the leaf expired, and no TSA signed anything
    expect(authenticTimestampProblem(signed('2024-06-01T00:00:00Z'), opts({}))).toBeNull();
  });

  it('a signing time outside the chain validity is EXPIRED, at the authentic signing time', () => {
    expect(
      authenticTimestampProblem(signed('2023-06-01T00:00:00Z'), opts({ now: new Date('2024-06-01T00:00:00Z') })),
    ).toEqual({
      ok: false,
      reason: 'EXPIRED',
      detail: expect.stringMatching(
        /^at the authentic signing time: certificate "CN=Test Signer.*" is not valid before/,
      ),
    });
  });
});

describe('expiry (io.cncf.notary.expiry)', () => {
  const expiry = new Date('2025-06-01T00:00:00Z');
  const env = intact(JWS, { expiry }).envelope;

  it('the signature is expired from the very instant of its expiry', () => {
    expect(expiryProblem(env, new Date(expiry.getTime() - 1000))).toBeNull();
    expect(expiryProblem(env, expiry)).toEqual({
      ok: false,
      reason: 'EXPIRED',
      detail: 'the signature expired at 2025-06-01T00:00:00.000Z',
    });
  });

  it('a signature without expiry never expires', () => {
    expect(expiryProblem(intact(JWS).envelope, new Date('2999-01-01T00:00:00Z'))).toBeNull();
  });
});
