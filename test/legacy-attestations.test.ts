/**
 * cosign's legacy `sha256-<hex>.att` tag, layer by layer: which layers are read (DSSE
 * media type, at most 50), which descriptors and envelopes are refused before any
 * signature check and with which words, and the Rekor envelope-hash check that guards
 * a keyless attestation. Each refusal is a SIGNATURE_INVALID rejection naming the layer;
 * a registry error is kept as the evidence's fetchError (never a rejection).
 *
 * The module is imported afresh before each test (vi.resetModules): its module-level
 * constants (the DSSE media type, the blob digest pattern) are then evaluated inside the
 * test, so that mutation testing (Stryker, ignoreStatic) counts these tests as covering them.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_PAYLOAD_BYTES, RegistryError, type Descriptor, type ManifestJson } from '../src/core/registry.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import type * as LegacyAttestations from '../src/verify/cosign/legacy-attestations.js';
import { SignerPolicy } from '../src/verify/cosign/signer-policy.js';
import { readTrustedRoot } from '../src/verify/cosign/trusted-root.js';
import {
  githubClaims,
  GH_ISSUER,
  pushLegacyAttestation,
  pushLegacyKeyAttestation,
  RELEASE_WORKFLOW,
  vulnScan,
} from './support/attest-signer.js';
import { generateKeyPair, type TestKeyPair } from './support/cosign-signer.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';
import { signWithKey, startMockSigstore, type MockSigstore } from './support/sigstore-signer.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const IN_TOTO = 'application/vnd.in-toto+json';
type Layer = Descriptor & { annotations?: Record<string, string> };

describe('legacy .att attestations', () => {
  let mock: MockSigstore;
  let rootFile: string;
  let key: TestKeyPair;

  beforeAll(async () => {
    mock = await startMockSigstore();
    rootFile = join(mkdtempSync(join(tmpdir(), 'latt-root-')), 'trusted_root.json');
    writeFileSync(rootFile, mock.trustedRoot);
    key = generateKeyPair('p256');
  });
  afterAll(async () => mock?.stop());

  let readLegacyAttestations: typeof LegacyAttestations.readLegacyAttestations;
  let cosignAttestationTag: typeof LegacyAttestations.cosignAttestationTag;
  beforeEach(async () => {
    vi.resetModules();
    ({ readLegacyAttestations, cosignAttestationTag } = await import('../src/verify/cosign/legacy-attestations.js'));
  });

  const keyPolicy = (pem = key.publicKeyPem) =>
    new SignerPolicy({ kind: 'key', source: pemKeySource(pem) }, 'skip', () =>
      Promise.reject(new Error('no root for a key')),
    );
  const keylessPolicy = () =>
    new SignerPolicy(
      { kind: 'keyless', identities: [{ issuer: GH_ISSUER, subject: RELEASE_WORKFLOW }] },
      'required',
      () => Promise.resolve().then(() => readTrustedRoot(rootFile)),
    );

  async function read(reg: MemoryRegistry, digest: string, policy = keyPolicy()) {
    const ctx = verifyContext(reg.repository('app'), digest);
    return readLegacyAttestations(ctx, await policy.trust(ctx.signal), policy);
  }

  /** An image with one key-signed `.att` layer (a vulnerability scan), as cosign 2.x writes it. */
  async function keyImage(reg = new MemoryRegistry()) {
    const desc = await reg.pushImage('app');
    await pushLegacyKeyAttestation(reg, 'app', desc, key, vulnScan(desc.digest, 'app', { critical: 0, high: 0 }));
    return { reg, desc, layer: where(desc.digest) };
  }

  async function keylessImage(reg = new MemoryRegistry()) {
    const desc = await reg.pushImage('app');
    await pushLegacyAttestation(
      reg,
      'app',
      desc,
      mock,
      githubClaims,
      vulnScan(desc.digest, 'app', { critical: 0, high: 0 }),
    );
    return { reg, desc, layer: where(desc.digest) };
  }

  const where = (digest: string, n = 1) => `${cosignAttestationTag(digest)} layer ${n}`;

  /** Rewrite the `.att` manifest (its layers), re-tagged. */
  async function rewrite(reg: MemoryRegistry, digest: string, edit: (layers: Layer[]) => unknown[]) {
    const tag = cosignAttestationTag(digest);
    const manifest = await reg.repository('app').getManifest(tag);
    const json = manifest.json as ManifestJson & { layers: Layer[] };
    await reg.pushManifest('app', { ...json, layers: edit(json.layers) }, { mediaType: OCI_MANIFEST, tag });
  }

  /** Replace the first layer's blob (the DSSE envelope) with other bytes, descriptor updated. */
  async function replaceBlob(reg: MemoryRegistry, digest: string, blob: Buffer) {
    const pushed = await reg.pushBlob('app', blob);
    await rewrite(reg, digest, ([l]) => [{ ...l!, digest: pushed.digest, size: pushed.size }]);
  }

  /** The first layer's envelope, parsed. */
  async function envelopeOf(reg: MemoryRegistry, digest: string) {
    const manifest = await reg.repository('app').getManifest(cosignAttestationTag(digest));
    const layer = (manifest.json.layers as Layer[])[0]!;
    const blob = await reg.repository('app').getBlob(layer.digest, MAX_PAYLOAD_BYTES);
    return JSON.parse(blob.toString('utf8')) as Record<string, unknown> & { signatures: Record<string, unknown>[] };
  }

  const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));

  /** exactly one rejection, SIGNATURE_INVALID, whose detail is `<layer>: <words>` (or `<layer> <words>`) */
  async function expectRefused(reg: MemoryRegistry, digest: string, detail: RegExp, policy = keyPolicy()) {
    const evidence = await read(reg, digest, policy);
    expect(evidence.fetchError).toBeUndefined();
    expect(evidence.statements).toEqual([]);
    expect(evidence.rejected).toHaveLength(1);
    expect(evidence.rejected[0]).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    expect(evidence.rejected[0]!.detail).toMatch(detail);
  }

  it('a key-signed .att layer is read as a signed statement by that key', async () => {
    const { reg, desc, layer } = await keyImage();
    const evidence = await read(reg, desc.digest);
    expect(evidence.rejected).toEqual([]);
    expect(evidence.statements).toHaveLength(1);
    expect(evidence.statements[0]).toMatchObject({ where: layer, by: expect.stringMatching(/^key sha256:/) });
    expect(evidence.statements[0]!.statement.predicateType).toBe('https://cosign.sigstore.dev/attestation/vuln/v1');
  });

  it('no .att tag, or a .att manifest without layers: no evidence at all', async () => {
    const reg = new MemoryRegistry();
    const desc = await reg.pushImage('app');
    expect(await read(reg, desc.digest)).toEqual({ statements: [], rejected: [] });
    const { reg: r2, desc: d2 } = await keyImage();
    await rewrite(r2, d2.digest, () => []);
    expect(await read(r2, d2.digest)).toEqual({ statements: [], rejected: [] });
  });

  it('only DSSE envelope layers are read: the same layer under another media type is ignored', async () => {
    const { reg, desc } = await keyImage();
    await rewrite(reg, desc.digest, ([l]) => [{ ...l!, mediaType: 'application/json' }]);
    expect(await read(reg, desc.digest)).toEqual({ statements: [], rejected: [] });
  });

  it('a null layer entry is skipped, the envelope layer after it still read', async () => {
    const { reg, desc } = await keyImage();
    await rewrite(reg, desc.digest, ([l]) => [null, l]);
    const evidence = await read(reg, desc.digest);
    expect(evidence.statements).toHaveLength(1);
    expect(evidence.statements[0]!.where).toBe(where(desc.digest, 1));
  });

  it('at most 50 envelope layers are read: the 50th counts, the 51st is not seen', async () => {
    for (const [fillers, seen] of [
      [49, 1],
      [50, 0],
    ] as const) {
      const { reg, desc } = await keyImage();
      const bad = { mediaType: 'application/vnd.dsse.envelope.v1+json', digest: 'sha256:00', size: 1 };
      await rewrite(reg, desc.digest, ([l]) => [...Array.from({ length: fillers }, () => bad), l]);
      const evidence = await read(reg, desc.digest);
      expect(evidence.statements).toHaveLength(seen);
      expect(evidence.rejected).toHaveLength(fillers);
    }
  });

  it('a registry error on a layer blob is the evidence fetchError (the first), not a rejection', async () => {
    const { reg, desc } = await keyImage();
    await rewrite(reg, desc.digest, ([l]) => [l, l]);
    const first = new RegistryError('UNAVAILABLE', 'registry answered 503', 503);
    reg.fault.blob = first;
    const evidence = await read(reg, desc.digest);
    expect(evidence.fetchError).toBe(first);
    expect(evidence).toMatchObject({ statements: [], rejected: [] });
  });

  describe('descriptor checks (before any fetch)', () => {
    const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

    it.each([
      ['a short digest', { digest: 'sha256:abc' }],
      ['a digest with a prefix', { digest: `xsha256:${'a'.repeat(64)}` }],
      ['a digest with a suffix', { digest: `sha256:${'a'.repeat(64)}0` }],
      ['an upper-case digest', { digest: `sha256:${'A'.repeat(64)}` }],
      ['a fractional size', { size: 1.5 }],
      ['a string size', { size: '12' }],
      ['a negative size', { size: -1 }],
      ['a size past 32 MiB', { size: MAX_PAYLOAD_BYTES + 1 }],
    ])('%s: refused as a malformed descriptor, nothing fetched', async (_, change) => {
      const { reg, desc, layer } = await keyImage();
      await rewrite(reg, desc.digest, ([l]) => [{ ...l!, ...change }]);
      reg.requests.length = 0;
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${layer} has a malformed descriptor or is larger than 32 MiB$`),
      );
      expect(reg.requests.filter((r) => r.startsWith('blob '))).toEqual([]);
    });

    it.each([
      ['size 0', 0],
      ['size exactly 32 MiB', MAX_PAYLOAD_BYTES],
    ])('%s passes the descriptor check (the blob read decides)', async (_, size) => {
      const { reg, desc, layer } = await keyImage();
      const empty = Buffer.alloc(0);
      await reg.pushBlob('app', empty);
      await rewrite(reg, desc.digest, ([l]) => [{ ...l!, digest: digestOf(empty), size }]);
      await expectRefused(reg, desc.digest, new RegExp(`^${layer}: the DSSE envelope is not JSON$`));
    });
  });

  describe('envelope checks', () => {
    it('a blob that is not JSON', async () => {
      const { reg, desc, layer } = await keyImage();
      await replaceBlob(reg, desc.digest, Buffer.from('{not json'));
      await expectRefused(reg, desc.digest, new RegExp(`^${layer}: the DSSE envelope is not JSON$`));
    });

    it.each([
      ['null', () => null],
      ['a number', () => 5],
      ['no payload', (e: Record<string, unknown>) => ({ ...e, payload: undefined })],
      ['a numeric payload', (e: Record<string, unknown>) => ({ ...e, payload: 5 })],
      ['no payloadType', (e: Record<string, unknown>) => ({ ...e, payloadType: undefined })],
      ['signatures not a list', (e: Record<string, unknown>) => ({ ...e, signatures: { sig: 'x' } })],
    ])('%s: not a DSSE envelope', async (_, edit) => {
      const { reg, desc, layer } = await keyImage();
      await replaceBlob(reg, desc.digest, json(edit(await envelopeOf(reg, desc.digest))));
      await expectRefused(reg, desc.digest, new RegExp(`^${layer}: not a DSSE envelope$`));
    });

    it('another payload type is refused, naming it (quoted, at most 100 characters)', async () => {
      const { reg, desc, layer } = await keyImage();
      const e = await envelopeOf(reg, desc.digest);
      await replaceBlob(reg, desc.digest, json({ ...e, payloadType: 'application/json' }));
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${layer}: DSSE payload type is "application/json", not application/vnd\\.in-toto\\+json$`),
      );
      await replaceBlob(reg, desc.digest, json({ ...e, payloadType: 'x'.repeat(300) }));
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`: DSSE payload type is "${'x'.repeat(99)}, not ${IN_TOTO.replace(/[.+]/g, '\\$&')}$`),
      );
    });

    it.each([
      ['no signature', () => []],
      ['two signatures', (s: Record<string, unknown>[]) => [s[0], s[0]]],
      ['a null signature', () => [null]],
      ['a signature without sig', (s: Record<string, unknown>[]) => [{ keyid: s[0]!.keyid }]],
      ['a numeric keyid', (s: Record<string, unknown>[]) => [{ ...s[0], keyid: 5 }]],
    ])('%s: must hold exactly one signature', async (_, edit) => {
      const { reg, desc, layer } = await keyImage();
      const e = await envelopeOf(reg, desc.digest);
      await replaceBlob(reg, desc.digest, json({ ...e, signatures: edit(e.signatures) }));
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${layer}: the DSSE envelope must hold exactly one signature$`),
      );
    });

    it('a signature without keyid is read (the keyid is not signed)', async () => {
      const { reg, desc } = await keyImage();
      const e = await envelopeOf(reg, desc.digest);
      await replaceBlob(reg, desc.digest, json({ ...e, signatures: [{ sig: e.signatures[0]!.sig }] }));
      const evidence = await read(reg, desc.digest);
      expect(evidence.rejected).toEqual([]);
      expect(evidence.statements).toHaveLength(1);
    });

    it('an envelope by another key: rejected naming the layer', async () => {
      const { reg, desc, layer } = await keyImage();
      const evidence = await read(reg, desc.digest, keyPolicy(generateKeyPair('p256').publicKeyPem));
      expect(evidence.statements).toEqual([]);
      expect(evidence.rejected).toHaveLength(1);
      expect(evidence.rejected[0]).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
      expect(evidence.rejected[0]!.detail.startsWith(`${layer}: `)).toBe(true);
    });

    it('a signed payload that is not an in-toto statement: refused naming the signer', async () => {
      const reg = new MemoryRegistry();
      const desc = await reg.pushImage('app');
      await pushLegacyKeyAttestation(reg, 'app', desc, key, vulnScan(desc.digest, 'app', { critical: 0, high: 0 }));
      const bundle = (await signWithKey(key.privateKey, key.publicKeyPem, json({ hello: 'world' }))) as {
        dsseEnvelope: unknown;
      };
      await replaceBlob(reg, desc.digest, json(bundle.dsseEnvelope));
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${where(desc.digest)} by key sha256:\\S+ is not an in-toto statement: `),
      );
    });
  });

  describe('keyless: the Rekor entry must record this envelope', () => {
    it('a keyless .att layer with its dsse Rekor entry is read', async () => {
      const { reg, desc, layer } = await keylessImage();
      const evidence = await read(reg, desc.digest, keylessPolicy());
      expect(evidence.rejected).toEqual([]);
      expect(evidence.statements).toMatchObject([{ where: layer, by: expect.stringContaining(RELEASE_WORKFLOW) }]);
    });

    it('no certificate annotation: not a keyless signature', async () => {
      const { reg, desc, layer } = await keylessImage();
      await rewrite(reg, desc.digest, ([l]) => {
        const { 'dev.sigstore.cosign/certificate': _, ...annotations } = l!.annotations!;
        return [{ ...l!, annotations }];
      });
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${layer}: no dev\\.sigstore\\.cosign/certificate annotation: not a keyless signature$`),
        keylessPolicy(),
      );
    });

    /** Replace the logged Rekor body (its SET no longer matches: our check must come first). */
    async function withBody(body: string) {
      const { reg, desc, layer } = await keylessImage();
      await rewrite(reg, desc.digest, ([l]) => {
        const bundle = JSON.parse(l!.annotations!['dev.sigstore.cosign/bundle']!) as { Payload: { body: string } };
        bundle.Payload.body = Buffer.from(body).toString('base64');
        return [{ ...l!, annotations: { ...l!.annotations, 'dev.sigstore.cosign/bundle': JSON.stringify(bundle) } }];
      });
      return { reg, desc, layer };
    }

    it.each([
      ['dsse without spec', { kind: 'dsse', apiVersion: '0.0.1' }, '"dsse"'],
      ['intoto without spec', { kind: 'intoto', apiVersion: '0.0.2' }, '"intoto"'],
      ['intoto without content hash', { kind: 'intoto', apiVersion: '0.0.2', spec: { content: {} } }, '"intoto"'],
      ['intoto without content', { kind: 'intoto', apiVersion: '0.0.2', spec: {} }, '"intoto"'],
    ])('%s: records no envelope hash', async (_, body, kind) => {
      const { reg, desc, layer } = await withBody(JSON.stringify(body));
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${layer}: the Rekor entry \\(kind ${kind}\\) records no envelope hash$`),
        keylessPolicy(),
      );
    });

    it('another kind records no envelope hash, even with matching envelopeHash and content.hash fields', async () => {
      const { reg, desc, layer } = await keylessImage();
      const blob = await envelopeBytes(reg, desc.digest);
      const hash = { algorithm: 'sha256', value: createHash('sha256').update(blob).digest('hex') };
      await rewriteBody(reg, desc.digest, {
        kind: 'hashedrekord',
        apiVersion: '0.0.1',
        spec: { envelopeHash: hash, content: { hash } },
      });
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${layer}: the Rekor entry \\(kind "hashedrekord"\\) records no envelope hash$`),
        keylessPolicy(),
      );
    });

    it('an intoto entry recording another hash: envelope altered after logging', async () => {
      const { reg, desc, layer } = await withBody(
        JSON.stringify({
          kind: 'intoto',
          apiVersion: '0.0.2',
          spec: { content: { hash: { algorithm: 'sha256', value: 'ab'.repeat(40) } } },
        }),
      );
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(
          `^${layer}: the Rekor entry records envelope sha256:${'ab'.repeat(32)}, but the layer holds sha256:[0-9a-f]{64} \\(envelope altered after logging\\)$`,
        ),
        keylessPolicy(),
      );
    });

    it('the right hex under another algorithm is refused', async () => {
      const { reg, desc, layer } = await keylessImage();
      const hex = createHash('sha256')
        .update(await envelopeBytes(reg, desc.digest))
        .digest('hex');
      await rewriteBody(reg, desc.digest, {
        kind: 'dsse',
        apiVersion: '0.0.1',
        spec: { envelopeHash: { algorithm: 'sha512', value: hex } },
      });
      await expectRefused(
        reg,
        desc.digest,
        new RegExp(`^${layer}: the Rekor entry records envelope sha512:${hex}, but the layer holds sha256:${hex} `),
        keylessPolicy(),
      );
    });

    it('without a required log (a key), the Rekor annotation is not checked against the envelope', async () => {
      const { reg, desc } = await keyImage();
      const { reg: kreg, desc: kdesc } = await keylessImage();
      const logged = (await kreg.repository('app').getManifest(cosignAttestationTag(kdesc.digest))).json
        .layers as Layer[];
      await rewrite(reg, desc.digest, ([l]) => [
        {
          ...l!,
          annotations: {
            ...l!.annotations,
            'dev.sigstore.cosign/bundle': logged[0]!.annotations!['dev.sigstore.cosign/bundle']!,
          },
        },
      ]);
      const evidence = await read(reg, desc.digest);
      expect(evidence.rejected).toEqual([]);
      expect(evidence.statements).toHaveLength(1);
    });

    async function envelopeBytes(reg: MemoryRegistry, digest: string) {
      const manifest = await reg.repository('app').getManifest(cosignAttestationTag(digest));
      const layer = (manifest.json.layers as Layer[])[0]!;
      return reg.repository('app').getBlob(layer.digest, MAX_PAYLOAD_BYTES);
    }

    async function rewriteBody(reg: MemoryRegistry, digest: string, body: unknown) {
      await rewrite(reg, digest, ([l]) => {
        const bundle = JSON.parse(l!.annotations!['dev.sigstore.cosign/bundle']!) as { Payload: { body: string } };
        bundle.Payload.body = Buffer.from(JSON.stringify(body)).toString('base64');
        return [{ ...l!, annotations: { ...l!.annotations, 'dev.sigstore.cosign/bundle': JSON.stringify(bundle) } }];
      });
    }
  });
});
