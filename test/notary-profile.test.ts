/**
 * The Notary Project certificate profile and timestamp rules, one broken rule per
 * signature: chains (own root, intermediate, leaf) and timestamp tokens (own TSA) made
 * here. First the seven signatures a hand-written DER reader once admitted, then a
 * negative case for every check of the chain, leaf, TSA and RFC 3161 verification.
 */
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import type { VerifierVerdict } from '../src/core/verifier.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context, makeTrustStore, policy } from './support/notation-context.js';
import {
  EKU,
  KU,
  SUBJECT,
  der,
  digestOf,
  key,
  makeCert,
  makeChain,
  pem,
  signCose,
  signJws,
  type CertSpec,
  type EnvelopeSpec,
} from './support/notation-signer.js';
import { makeTsa, timestampToken, tstInfo, type TokenSpec } from './support/pki-tsa.js';

const IMAGE = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }),
);
const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(IMAGE),
  size: IMAGE.length,
};
const LEAF_KEY = key('p256', 'profile-leaf');
const good = makeChain(LEAF_KEY, { label: 'profile' });
const tsa = makeTsa({ label: 'profile' });
const STORE = makeTrustStore({ ca: { mine: [pem(good.root.der)] }, tsa: { tsa: [pem(tsa.root.der)] } });
const NOW = new Date('2025-06-01T00:00:00Z');
const SIGNED_AT = new Date('2025-01-01T00:00:00Z');

const FORMATS = [
  { name: 'JWS', sign: signJws, mediaType: 'application/jose+json' },
  { name: 'COSE', sign: signCose, mediaType: 'application/cose' },
] as const;
type Format = (typeof FORMATS)[number];

/** Verify one signature under a strict policy; `tsa: true` also verifies its timestamp. */
async function verify(envelope: Buffer, mediaType: string, opts: { tsa?: boolean } = {}): Promise<VerifierVerdict> {
  const repo = new MemoryRepo();
  attachSignature(repo, TARGET, envelope, mediaType);
  const v = createNotationVerifier(
    {
      type: 'notation',
      trustPolicy: policy({ trustStores: opts.tsa ? ['ca:mine', 'tsa:tsa'] : ['ca:mine'] }),
      trustStore: STORE,
    },
    { baseDir: '/' },
  );
  return v.verify(context(repo, TARGET, NOW));
}

function envelope(f: Format, over: Partial<EnvelopeSpec> = {}): Buffer {
  return f.sign({
    target: TARGET,
    alg: 'ES256',
    key: LEAF_KEY.privateKey,
    chain: good.chain,
    signingTime: SIGNED_AT,
    ...over,
  });
}

function chainWith(opts: {
  leaf?: Partial<CertSpec>;
  intermediate?: Partial<CertSpec>;
  rootSpec?: Partial<CertSpec>;
}): Buffer[] {
  return makeChain(LEAF_KEY, { root: good.root, ...opts }).chain;
}

/** A timestamped envelope whose token is made by `token` (defaults: a valid token by the test TSA). */
function timestamped(f: Format, token: Partial<TokenSpec> = {}): Buffer {
  return envelope(f, { timestamp: (signature) => timestampToken({ signature, tsa, ...token }) });
}

const denied = (reason?: string) => ({
  ok: false,
  ...(reason ? { reason } : { reason: expect.stringMatching(/^(SIGNATURE_INVALID|UNTRUSTED_SIGNER|EXPIRED)$/) }),
});

describe('the seven signatures a lax DER reader admitted are denied', () => {
  for (const f of FORMATS) {
    it(`${f.name}: leaf code-signing EKU encoded with a non-minimal OID arc`, async () => {
      const chain = chainWith({
        leaf: {
          eku: null,
          extra: [{ oid: '2.5.29.37', critical: false, value: der.seq(der.oidNonMinimal(EKU.codeSigning)) }],
        },
      });
      expect(await verify(envelope(f, { chain }), f.mediaType)).toMatchObject(denied('SIGNATURE_INVALID'));
    });
  }

  it('TSA certificate whose timeStamping EKU has a non-minimal OID arc', async () => {
    const odd = makeTsa({
      label: 'odd-eku',
      leaf: {
        eku: null,
        extra: [{ oid: '2.5.29.37', critical: true, value: der.seq(der.oidNonMinimal(EKU.timeStamping)) }],
      },
    });
    const store = makeTrustStore({ ca: { mine: [pem(good.root.der)] }, tsa: { tsa: [pem(odd.root.der)] } });
    const repo = new MemoryRepo();
    attachSignature(
      repo,
      TARGET,
      envelope(FORMATS[0], { timestamp: (signature) => timestampToken({ signature, tsa: odd }) }),
      FORMATS[0].mediaType,
    );
    const v = createNotationVerifier(
      { type: 'notation', trustPolicy: policy({ trustStores: ['ca:mine', 'tsa:tsa'] }), trustStore: store },
      { baseDir: '/' },
    );
    expect(await v.verify(context(repo, TARGET, NOW))).toMatchObject(denied('SIGNATURE_INVALID'));
  });

  it('leaf notAfter with month 13', async () => {
    const chain = chainWith({ leaf: { notAfterRaw: der.tlv(0x17, Buffer.from('301301000000Z', 'latin1')) } });
    expect(await verify(envelope(FORMATS[0], { chain }), FORMATS[0].mediaType)).toMatchObject(
      denied('SIGNATURE_INVALID'),
    );
  });

  it('intermediate pathLen encoded as a non-minimal INTEGER', async () => {
    const bc = der.seq(der.bool(true), der.tlv(0x02, Buffer.from([0x00, 0x00])));
    const chain = chainWith({
      intermediate: {
        ca: undefined,
        keyUsage: [KU.keyCertSign, KU.cRLSign],
        extra: [{ oid: '2.5.29.19', critical: true, value: bc }],
      },
    });
    expect(await verify(envelope(FORMATS[1], { chain }), FORMATS[1].mediaType)).toMatchObject(
      denied('SIGNATURE_INVALID'),
    );
  });

  it('intermediate signed with SHA-1 (by the root)', async () => {
    const chain = chainWith({ intermediate: { sigHash: 'sha1' } });
    expect(await verify(envelope(FORMATS[0], { chain }), FORMATS[0].mediaType)).toMatchObject({
      ...denied('UNTRUSTED_SIGNER'),
      detail: expect.stringContaining('1.2.840.10045.4.1'),
    });
  });

  it('a leaf signed with SHA-1 by the intermediate, too', async () => {
    const chain = chainWith({ leaf: { sigHash: 'sha1' } });
    expect(await verify(envelope(FORMATS[1], { chain }), FORMATS[1].mediaType)).toMatchObject(
      denied('UNTRUSTED_SIGNER'),
    );
  });

  it('a timestamp token carrying only ESS signing-certificate v1', async () => {
    expect(await verify(timestamped(FORMATS[0], { ess: 'v1' }), FORMATS[0].mediaType, { tsa: true })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('signing-certificate-v2'),
    });
  });
});

describe('certificate chain profile: one broken rule each', () => {
  it('the valid chain and a valid timestamp are admitted (so each denial below is the rule it breaks)', async () => {
    for (const f of FORMATS) {
      expect(await verify(envelope(f), f.mediaType)).toMatchObject({ ok: true });
      expect(await verify(timestamped(f), f.mediaType, { tsa: true })).toMatchObject({ ok: true });
    }
  });

  it('an intermediate without basicConstraints cA=true', async () => {
    const chain = chainWith({ intermediate: { ca: false, keyUsage: [KU.keyCertSign, KU.cRLSign] } });
    expect(await verify(envelope(FORMATS[0], { chain }), FORMATS[0].mediaType)).toMatchObject({
      ...denied('UNTRUSTED_SIGNER'),
      detail: expect.stringContaining('cA=true'),
    });
  });

  it('a root whose pathLen 0 leaves no room for the intermediate', async () => {
    const chain = makeChain(LEAF_KEY, { root: makeRoot({ pathLen: 0 }, 'pathlen'), label: 'pathlen' }).chain;
    const store = makeTrustStore({ ca: { mine: [pem(chain[2]!)] } });
    const repo = new MemoryRepo();
    attachSignature(repo, TARGET, envelope(FORMATS[0], { chain }), FORMATS[0].mediaType);
    const v = createNotationVerifier(
      { type: 'notation', trustPolicy: policy({ trustStores: ['ca:mine'] }), trustStore: store },
      { baseDir: '/' },
    );
    expect(await v.verify(context(repo, TARGET, NOW))).toMatchObject({
      ...denied('UNTRUSTED_SIGNER'),
      detail: expect.stringContaining('pathLen 0'),
    });
  });

  it('an intermediate that may not sign certificates (no keyCertSign)', async () => {
    const chain = chainWith({ intermediate: { keyUsage: [KU.digitalSignature, KU.cRLSign] } });
    expect(await verify(envelope(FORMATS[1], { chain }), FORMATS[1].mediaType)).toMatchObject({
      ...denied('UNTRUSTED_SIGNER'),
      detail: expect.stringContaining('keyCertSign'),
    });
  });

  it.each([
    ['serverAuth', EKU.serverAuth],
    ['clientAuth', '1.3.6.1.5.5.7.3.2'],
    ['emailProtection', '1.3.6.1.5.5.7.3.4'],
    ['timeStamping', EKU.timeStamping],
    ['OCSPSigning', '1.3.6.1.5.5.7.3.9'],
    ['anyExtendedKeyUsage', '2.5.29.37.0'],
  ])('a leaf with code signing and the excluded EKU %s', async (_name, excluded) => {
    const chain = chainWith({ leaf: { eku: [EKU.codeSigning, excluded] } });
    expect(await verify(envelope(FORMATS[0], { chain }), FORMATS[0].mediaType)).toMatchObject({
      ...denied('UNTRUSTED_SIGNER'),
      detail: expect.stringContaining('excludes'),
    });
  });
});

/** A self-signed root with the given constraints. */
function makeRoot(spec: Partial<CertSpec>, label: string) {
  return makeCert({
    subject: SUBJECT(`Test Root ${label}`),
    key: key('p384', `root-${label}`),
    ca: true,
    pathLen: 1,
    ...spec,
  });
}

describe('timestamp countersignature: one broken rule each', () => {
  const f = FORMATS[0];
  const ts = (token: Partial<TokenSpec>) => verify(timestamped(f, token), f.mediaType, { tsa: true });

  it('a timestamp of another signature (message imprint mismatch)', async () => {
    expect(await ts({ imprintOf: Buffer.from('another signature') })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('message imprint'),
    });
  });

  it('a TSTInfo swapped after the attributes were signed (messageDigest binding)', async () => {
    // the swapped-in TSTInfo is a valid one for this very signature: only the binding catches it
    const token = (signature: Buffer) =>
      timestampToken({
        signature,
        tsa,
        swapTstInfo: tstInfo({ signature, genTime: new Date('2025-02-02T00:00:00Z') }),
      });
    expect(await verify(envelope(f, { timestamp: token }), f.mediaType, { tsa: true })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('message digest'),
    });
  });

  it('ESS signing-certificate-v2 naming another certificate', async () => {
    expect(await ts({ ess: 'v2-other-cert' })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('another certificate'),
    });
  });

  it('an ESS signing-certificate-v2 attribute of the wrong shape is a malformed token, not an internal error', async () => {
    expect(await ts({ ess: 'v2-malformed' })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('malformed timestamp token'),
    });
  });

  it('ESS signing-certificate-v2 with issuerSerial: the signer serial admits, another serial is denied', async () => {
    expect(await ts({ ess: 'v2-issuer-serial' })).toMatchObject({ ok: true });
    expect(await ts({ ess: 'v2-wrong-serial' })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('another serial number'),
    });
  });

  it('no ESS signing-certificate attribute at all', async () => {
    expect(await ts({ ess: 'none' })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('signing-certificate-v2'),
    });
  });

  it('a SHA-1 message imprint (even when it is the right hash)', async () => {
    expect(await ts({ imprintHash: 'sha1' })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('1.3.14.3.2.26'),
    });
  });

  it.each([
    ['code signing instead of timeStamping', { eku: [EKU.codeSigning], ekuCritical: true }],
    ['timeStamping plus another EKU', { eku: [EKU.timeStamping, EKU.codeSigning], ekuCritical: true }],
    ['timeStamping not critical', { eku: [EKU.timeStamping], ekuCritical: false }],
    ['no EKU', { eku: null }],
  ] as Array<[string, Partial<CertSpec>]>)('a TSA certificate with %s', async (_name, leaf) => {
    const bad = makeTsa({ label: `tsa-${_name.replace(/\W/g, '')}`, leaf });
    const store = makeTrustStore({ ca: { mine: [pem(good.root.der)] }, tsa: { tsa: [pem(bad.root.der)] } });
    const repo = new MemoryRepo();
    attachSignature(
      repo,
      TARGET,
      envelope(f, { timestamp: (signature) => timestampToken({ signature, tsa: bad }) }),
      f.mediaType,
    );
    const v = createNotationVerifier(
      { type: 'notation', trustPolicy: policy({ trustStores: ['ca:mine', 'tsa:tsa'] }), trustStore: store },
      { baseDir: '/' },
    );
    expect(await v.verify(context(repo, TARGET, NOW))).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('timeStamping'),
    });
  });

  it('a TSA that does not chain to the tsa trust store', async () => {
    const other = makeTsa({ label: 'other-tsa' });
    expect(await ts({ tsa: other })).toMatchObject({
      ...denied('SIGNATURE_INVALID'),
      detail: expect.stringContaining('trusted TSA'),
    });
  });
});
