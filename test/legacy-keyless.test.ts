/**
 * The legacy `.sig` verifier backed by @sigstore/verify (src/verify/cosign/legacy-keyless.ts),
 * one rule at a time, on an in-memory registry with a mock Fulcio / Rekor / TSA: which
 * layers are read (media type, count, descriptor digest and size), how each annotation is
 * read (strict base64 signature, PEM certificate, the chain ignored, the Rekor SET's
 * fields, the RFC 3161 timestamp), and what the decision says. Each refusal is asserted
 * with its reason code and the words of the check that made it, so that a later check
 * refusing the same input cannot hide a missing first one.
 *
 * Stryker counts a mutant in the module's top-level expressions (the annotation names,
 * the strict base64 and blob digest patterns) as covered only by a test that loads the
 * module while it runs: each test imports it afresh (as keys.test.ts and legacy-key.test.ts
 * do). The tests name annotations by their literal text, never by the module's constants,
 * so a changed constant is seen.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { VerifierVerdict } from '../src/core/verifier.js';
import { MAX_SIGNATURE_LAYERS, MAX_SIMPLE_SIGNING_PAYLOAD_BYTES } from '../src/verify/cosign/legacy-key.js';
import type * as LegacyKeylessModule from '../src/verify/cosign/legacy-keyless.js';
import { loadPemKey, pemKeySource, shortFingerprint } from '../src/verify/cosign/keys.js';
import type { TlogMode } from '../src/verify/cosign/bundle-verifier.js';
import { SignerPolicy, type CosignSigner } from '../src/verify/cosign/signer-policy.js';
import { parseTrustedRoot } from '../src/verify/cosign/trusted-root.js';
import { cosignPayload, generateKeyPair, signatureTag } from './support/cosign-signer.js';
import {
  keyAnnotations,
  keylessAnnotations,
  pushSigLayers,
  pushSigManifest,
  type SigLayer,
} from './support/legacy-keyless-fixtures.js';
import { MemoryRegistry, sha256Digest, verifyContext } from './support/memory-repo.js';
import { startMockSigstore, type Claims, type MockSigstore } from './support/sigstore-signer.js';

let M: typeof LegacyKeylessModule;
beforeEach(async () => {
  vi.resetModules();
  M = await import('../src/verify/cosign/legacy-keyless.js');
});

const SIG = 'dev.cosignproject.cosign/signature';
const CERT = 'dev.sigstore.cosign/certificate';
const CHAIN = 'dev.sigstore.cosign/chain';
const SET = 'dev.sigstore.cosign/bundle';
const TIMESTAMP = 'dev.sigstore.cosign/rfc3161timestamp';

const GH = 'https://token.actions.githubusercontent.com';
const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const claims: Claims = { iss: GH, sub: WORKFLOW };
const REPO = 'team/app';
const HOST = 'registry.memory.test';
const IMAGE = sha256Digest(randomBytes(32));
const OTHER_IMAGE = `sha256:${'c'.repeat(64)}`;
const key = generateKeyPair('p256');

let mock: MockSigstore;
let payload: Buffer;
/** keyless annotations over this image's payload: signature, certificate, empty chain, SET */
let keyless: Record<string, string>;
/** the same with an RFC 3161 timestamp */
let stamped: Record<string, string>;
/** key annotations (signature + SET) over this image's payload */
let keyed: Record<string, string>;
let reg: MemoryRegistry;

beforeAll(async () => {
  mock = await startMockSigstore();
  payload = cosignPayload(`${HOST}/${REPO}`, IMAGE);
  [keyless, stamped, keyed] = await Promise.all([
    keylessAnnotations(mock, claims, payload),
    keylessAnnotations(mock, claims, payload, { tsa: true }),
    keyAnnotations(mock, key, payload),
  ]);
});
afterAll(async () => mock?.stop());
beforeEach(() => {
  reg = new MemoryRegistry();
});

function policy(signer: CosignSigner, tlog: TlogMode): SignerPolicy {
  const root = parseTrustedRoot(mock.trustedRoot, 'mock');
  return new SignerPolicy(signer, tlog, async () => root);
}
const keylessPolicy = (tlog: TlogMode = 'required') =>
  policy({ kind: 'keyless', identities: [{ issuer: GH, subject: WORKFLOW }] }, tlog);
const keyPolicy = (tlog: TlogMode = 'required') =>
  policy({ kind: 'key', source: pemKeySource(key.publicKeyPem) }, tlog);

function verify(p: SignerPolicy = keylessPolicy(), digest = IMAGE): Promise<VerifierVerdict> {
  return new M.LegacySigVerifier(p).verify(verifyContext(reg.repository(REPO), digest));
}

/** Push one `.sig` layer over this image's payload with these annotations (descriptor fields replaced when given). */
function pushLayer(annotations: Record<string, string>, extra: Partial<SigLayer> = {}) {
  return pushSigLayers(reg, REPO, IMAGE, [{ payload, annotations, ...extra }]);
}

const IDENTITY = `${WORKFLOW} from ${GH}`;
const refused = (detail: string | RegExp) => ({
  ok: false,
  reason: 'SIGNATURE_INVALID',
  detail: typeof detail === 'string' ? detail : expect.stringMatching(detail),
});

describe('LegacySigVerifier: the decision', () => {
  it('admits a keyless .sig of this image, naming the identity and the Rekor SET', async () => {
    await pushLayer(keyless);
    expect(await verify()).toEqual({ ok: true, by: `cosign keyless .sig, ${IDENTITY}, Rekor SET` });
  });

  it('admits a key .sig with a Rekor SET, naming the key', async () => {
    await pushLayer(keyed);
    expect(await verify(keyPolicy())).toEqual({
      ok: true,
      by: expect.stringMatching(/^cosign \.sig, key [^,]+, Rekor SET$/),
    });
  });

  it('names no Rekor SET when the signature was admitted without one (log not required)', async () => {
    const { [SET]: _set, ...unlogged } = keyed;
    await pushLayer(unlogged);
    const fingerprint = shortFingerprint(loadPemKey(key.publicKeyPem).fingerprint);
    expect(await verify(keyPolicy('skip'))).toEqual({ ok: true, by: `cosign .sig, key ${fingerprint}` });
  });

  it('UNTRUSTED_SIGNER for a key .sig by another key, saying the layer names no key (cosign writes no hint)', async () => {
    const theirs = await keyAnnotations(mock, generateKeyPair('p256'), payload);
    await pushLayer({ [SIG]: theirs[SIG]! });
    expect(await verify(keyPolicy('skip'))).toEqual({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: expect.stringMatching(/^bundle signature \(key hint none\) does not verify with /),
    });
  });

  it('SIGNATURE_MISSING names the .sig tag it looked for', async () => {
    expect(await verify()).toEqual({
      ok: false,
      reason: 'SIGNATURE_MISSING',
      detail: `no cosign signature found (no Sigstore bundle, no tag ${signatureTag(IMAGE)})`,
    });
  });

  it('DIGEST_MISMATCH names the signer and both digests when the payload is for another image', async () => {
    const other = cosignPayload(`${HOST}/${REPO}`, OTHER_IMAGE);
    await pushSigLayers(reg, REPO, IMAGE, [
      { payload: other, annotations: await keylessAnnotations(mock, claims, other) },
    ]);
    expect(await verify()).toEqual({
      ok: false,
      reason: 'DIGEST_MISMATCH',
      detail: `cosign signature by ${IDENTITY} is for ${OTHER_IMAGE}, not ${IMAGE}`,
    });
  });

  it('a validly signed payload that is not a cosign image signature is refused as such', async () => {
    const notAClaim = Buffer.from(JSON.stringify({ hello: 'world' }));
    await pushSigLayers(reg, REPO, IMAGE, [
      { payload: notAClaim, annotations: await keylessAnnotations(mock, claims, notAClaim) },
    ]);
    expect(await verify()).toEqual(
      refused(new RegExp(`^payload signed by ${escapeRegex(IDENTITY)} is not a cosign image signature: .+`)),
    );
  });

  it('UNTRUSTED_SIGNER for another identity', async () => {
    await pushLayer(keyless);
    const other = policy({ kind: 'keyless', identities: [{ issuer: GH, subject: `${WORKFLOW}x` }] }, 'required');
    expect(await verify(other)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });
});

describe('LegacySigVerifier: which layers are read', () => {
  it('only simple signing layers: a valid signature in a layer of another media type is not read', async () => {
    await pushLayer(keyless, { mediaType: 'application/octet-stream' });
    expect(await verify()).toEqual(
      refused(
        `signature manifest ${signatureTag(IMAGE)} has no application/vnd.dev.cosign.simplesigning.v1+json layer`,
      ),
    );
  });

  it('a manifest without layers has no simple signing layer', async () => {
    await pushSigManifest(reg, REPO, IMAGE, undefined);
    expect(await verify()).toEqual(
      refused(
        `signature manifest ${signatureTag(IMAGE)} has no application/vnd.dev.cosign.simplesigning.v1+json layer`,
      ),
    );
  });

  it('skips a null entry in the layers and reads the next', async () => {
    const blob = await reg.pushBlob(REPO, payload);
    await pushSigManifest(reg, REPO, IMAGE, [
      null,
      { ...blob, mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', annotations: keyless },
    ]);
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('admits when a later layer verifies after an invalid one', async () => {
    await pushSigLayers(reg, REPO, IMAGE, [
      { payload, annotations: { ...keyless, [SIG]: keyed[SIG]! } },
      { payload, annotations: keyless },
    ]);
    expect(await verify()).toMatchObject({ ok: true, by: `cosign keyless .sig, ${IDENTITY}, Rekor SET` });
  });

  it('admits when the first layer verifies and a later one is invalid', async () => {
    await pushSigLayers(reg, REPO, IMAGE, [
      { payload, annotations: keyless },
      { payload, annotations: { [SIG]: 'AAAA' } },
    ]);
    expect(await verify()).toMatchObject({ ok: true });
  });

  it(`reads at most ${MAX_SIGNATURE_LAYERS} layers: a valid one after them is not read`, async () => {
    const bad = { payload, annotations: { ...keyless, [SIG]: '!' } };
    const layers = Array.from({ length: MAX_SIGNATURE_LAYERS }, () => bad);
    await pushSigLayers(reg, REPO, IMAGE, [...layers, { payload, annotations: keyless }]);
    expect(await verify()).toEqual(
      refused(`layer 1 of ${MAX_SIGNATURE_LAYERS}: the ${SIG} annotation is missing or not base64`),
    );
    reg = new MemoryRegistry();
    await pushSigLayers(reg, REPO, IMAGE, [...layers.slice(1), { payload, annotations: keyless }]);
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('a failure names its layer when there are several, and not when there is one', async () => {
    await pushLayer({ ...keyless, [SIG]: '!' });
    expect(await verify()).toEqual(refused(`the ${SIG} annotation is missing or not base64`));
    reg = new MemoryRegistry();
    await pushSigLayers(reg, REPO, IMAGE, [
      { payload, annotations: { ...keyless, [CERT]: 'x' } },
      { payload, annotations: { ...keyless, [SIG]: '!' } },
    ]);
    // both are invalid signatures: the first of the worst is reported, with its place
    expect(await verify()).toEqual(refused(`layer 1 of 2: the ${CERT} annotation is not a PEM certificate`));
  });
});

describe('LegacySigVerifier: the layer descriptor', () => {
  const malformed = refused('signature layer has a malformed or oversized descriptor');

  it.each([
    ['trailing text', `${'sha256:'}${'a'.repeat(64)}x`],
    ['leading text', `x${'sha256:'}${'a'.repeat(64)}`],
    ['upper case hex', `sha256:${'A'.repeat(64)}`],
    ['a short hex', `sha256:${'a'.repeat(63)}`],
    ['another algorithm', `sha512:${'a'.repeat(64)}`],
    ['a number', 5],
  ])('refuses a layer digest with %s, unread', async (_what, digest) => {
    await pushLayer(keyless, { digest });
    expect(await verify()).toEqual(malformed);
    expect(reg.requests.filter((r) => r.startsWith('blob'))).toEqual([]);
  });

  it('refuses the real digest followed by more text, unread', async () => {
    await pushLayer(keyless, { digest: `${sha256Digest(payload)}\n` });
    expect(await verify()).toEqual(malformed);
    expect(reg.requests.filter((r) => r.startsWith('blob'))).toEqual([]);
  });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', String(1)],
    ['unsafe', 2 ** 53],
    ['one byte over the cap', MAX_SIMPLE_SIGNING_PAYLOAD_BYTES + 1],
  ])('refuses a %s layer size, unread', async (_what, size) => {
    await pushLayer(keyless, { size });
    expect(await verify()).toEqual(malformed);
    expect(reg.requests.filter((r) => r.startsWith('blob'))).toEqual([]);
  });

  it.each([0, MAX_SIMPLE_SIGNING_PAYLOAD_BYTES])(
    'a layer size of %i is within bounds (the digest pins the bytes)',
    async (size) => {
      await pushLayer(keyless, { size });
      expect(await verify()).toMatchObject({ ok: true });
    },
  );
});

describe('LegacySigVerifier: the annotations', () => {
  it('refuses a missing signature annotation', async () => {
    const { [SIG]: _sig, ...rest } = keyless;
    await pushLayer(rest);
    expect(await verify()).toEqual(refused(`the ${SIG} annotation is missing or not base64`));
  });

  it('refuses our valid signature when its annotation carries anything but strict base64', async () => {
    const good = keyless[SIG]!;
    const unpadded = good.replace(/=+$/, '');
    for (const sig of [
      `!${good}`,
      `${good}!`,
      `${good.slice(0, 8)} ${good.slice(8)}`,
      `${good}\n`,
      unpadded,
      `${good}A`,
    ].filter((s) => s !== good)) {
      reg = new MemoryRegistry();
      await pushLayer({ ...keyless, [SIG]: sig });
      expect(await verify(), JSON.stringify(sig)).toEqual(refused(`the ${SIG} annotation is missing or not base64`));
    }
  });

  it('keyless: refuses a layer without a certificate, or with one that is not PEM', async () => {
    const { [CERT]: _cert, ...rest } = keyless;
    await pushLayer(rest);
    expect(await verify()).toEqual(refused(`no ${CERT} annotation: not a keyless signature`));
    reg = new MemoryRegistry();
    await pushLayer({ ...keyless, [CERT]: 'not a certificate' });
    expect(await verify()).toEqual(refused(`the ${CERT} annotation is not a PEM certificate`));
  });

  it('the chain annotation is ignored: chains are built from the trust material only', async () => {
    await pushLayer({ ...keyless, [CHAIN]: 'not a chain' });
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('admits a keyless .sig with an RFC 3161 timestamp, and refuses it when the timestamp does not verify', async () => {
    await pushLayer(stamped);
    expect(await verify()).toMatchObject({ ok: true });
    const doc = JSON.parse(stamped[TIMESTAMP]!) as { SignedRFC3161Timestamp: string };
    const der = Buffer.from(doc.SignedRFC3161Timestamp, 'base64');
    der[der.length - 3]! ^= 1;
    reg = new MemoryRegistry();
    await pushLayer({ ...stamped, [TIMESTAMP]: JSON.stringify({ SignedRFC3161Timestamp: der.toString('base64') }) });
    expect(await verify()).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.not.stringMatching(/annotation/),
    });
  });

  it('a timestamp is read: a stamp over other bytes is refused even next to a valid SET', async () => {
    // the other layer's stamp is well formed and from the trusted TSA, but over another signature
    await pushLayer({ ...keyless, [TIMESTAMP]: stamped[TIMESTAMP]! });
    expect(await verify()).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.stringMatching(/TIMESTAMP/),
    });
  });

  it.each([
    ['not JSON', '{'],
    ['no SignedRFC3161Timestamp', JSON.stringify({ signedRFC3161Timestamp: 'AAAA' })],
    ['a number', JSON.stringify({ SignedRFC3161Timestamp: 1234 })],
    ['not strict base64', JSON.stringify({ SignedRFC3161Timestamp: 'AAAA!' })],
    ['unpadded base64', JSON.stringify({ SignedRFC3161Timestamp: 'AAAAA' })],
    ['JSON null', 'null'],
  ])('refuses a timestamp annotation that is %s', async (_what, text) => {
    await pushLayer({ ...keyless, [TIMESTAMP]: text });
    expect(await verify()).toEqual(refused(`the ${TIMESTAMP} annotation is not an RFC 3161 timestamp`));
  });
});

describe('LegacySigVerifier: the Rekor SET annotation', () => {
  type SetDoc = { SignedEntryTimestamp: unknown; Payload: Record<string, unknown> };
  const setDoc = () => JSON.parse(keyless[SET]!) as SetDoc;
  const notRekor = refused(`the ${SET} annotation is not a Rekor bundle`);
  const withSet = async (doc: unknown) => {
    await pushLayer({ ...keyless, [SET]: typeof doc === 'string' ? doc : JSON.stringify(doc) });
    return verify();
  };

  it('refuses text that is not JSON, or JSON that is not an object', async () => {
    expect(await withSet('{')).toEqual(notRekor);
    reg = new MemoryRegistry();
    expect(await withSet('null')).toEqual(notRekor);
  });

  it.each([
    ['SignedEntryTimestamp', 'a number', (d: SetDoc) => Object.assign(d, { SignedEntryTimestamp: 7 })],
    ['body', 'missing', (d: SetDoc) => Object.assign(d.Payload, { body: undefined }) && d],
    // a byte array decodes to the very body bytes wherever base64 text is expected: still not what cosign writes
    [
      'body',
      'a byte array of the logged body',
      (d: SetDoc) => Object.assign(d.Payload, { body: [...Buffer.from(d.Payload.body as string, 'base64')] }) && d,
    ],
    ['logID', 'a list of its hex', (d: SetDoc) => Object.assign(d.Payload, { logID: [d.Payload.logID] }) && d],
    [
      'integratedTime',
      'a string',
      (d: SetDoc) => Object.assign(d.Payload, { integratedTime: String(d.Payload.integratedTime) }) && d,
    ],
    ['logIndex', 'a string', (d: SetDoc) => Object.assign(d.Payload, { logIndex: String(d.Payload.logIndex) }) && d],
    ['logID', 'a number', (d: SetDoc) => Object.assign(d.Payload, { logID: 1 }) && d],
    ['logID', 'followed by more text', (d: SetDoc) => Object.assign(d.Payload, { logID: `${d.Payload.logID}00` }) && d],
    ['logID', 'after other text', (d: SetDoc) => Object.assign(d.Payload, { logID: `00${d.Payload.logID}` }) && d],
    [
      'logID',
      'in upper case',
      (d: SetDoc) => Object.assign(d.Payload, { logID: String(d.Payload.logID).toUpperCase() }) && d,
    ],
  ])('refuses a SET whose %s is %s', async (_field, _what, change) => {
    expect(await withSet(change(setDoc()))).toEqual(notRekor);
  });

  const body = (entry: object) => Buffer.from(JSON.stringify(entry)).toString('base64');
  const logged = () =>
    JSON.parse(Buffer.from(setDoc().Payload.body as string, 'base64').toString()) as Record<string, unknown>;
  it.each([
    ['not base64 JSON', () => 'e30K!'],
    ['JSON null', () => body(null as never)],
    ['without a kind', () => body({ ...logged(), kind: undefined })],
    ['without an apiVersion', () => body({ ...logged(), apiVersion: undefined })],
    ['with a numeric kind', () => body({ ...logged(), kind: 1 })],
  ])('refuses a SET whose logged body is %s', async (_what, make) => {
    const d = setDoc();
    d.Payload.body = make();
    expect(await withSet(d)).toEqual(notRekor);
  });

  it('a key .sig with a malformed SET is refused for the SET, not for the key', async () => {
    await pushLayer({ ...keyed, [SET]: '{' });
    expect(await verify(keyPolicy())).toEqual(notRekor);
  });
});

describe('legacyBundle', () => {
  const bundleOf = (signature: string) => M.legacyBundle({ [SIG]: signature }, true);

  it.each(['AAAA', 'AAAAAA==', 'AAAAAAA=', 'AA==', 'AAA=', 'ab+/CD9z'])('takes %s as a base64 signature', (sig) => {
    expect(bundleOf(sig)).toMatchObject({
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
      messageSignature: { signature: sig },
      verificationMaterial: { publicKey: {}, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    });
  });

  it.each(['', 'A', 'AAAAA', 'AA=', 'A===', 'AAAA=', '=AAA', 'AA-_', 'AA AA', 'AAAA\n'])(
    'refuses %j as a signature',
    (sig) => {
      expect(bundleOf(sig)).toBe(`the ${SIG} annotation is missing or not base64`);
    },
  );

  it('a key bundle carries the key material only; a keyless one the certificate', () => {
    const b = M.legacyBundle(keyless, false);
    if (typeof b === 'string') throw new Error(b);
    expect(b.verificationMaterial.publicKey).toBeUndefined();
    expect(b.verificationMaterial.x509CertificateChain?.certificates).toHaveLength(1);
    expect(b.verificationMaterial.tlogEntries).toHaveLength(1);
    const k = M.legacyBundle(keyless, true);
    if (typeof k === 'string') throw new Error(k);
    expect(k.verificationMaterial.x509CertificateChain).toBeUndefined();
    expect(k.verificationMaterial.publicKey).toBeDefined();
  });
});

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
