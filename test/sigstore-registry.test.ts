/**
 * cosign keyless and bundle verification end to end: images signed in process with
 * @sigstore/sign against a mock Fulcio / Rekor / TSA, stored in a real docker-registry
 * (no referrers API: the tag-schema path), verified by the verifier the policy builds.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CosignVerifierConfig } from '../src/policy/schema.js';
import { RegistryClient } from '../src/registry/client.js';
import type { Descriptor } from '../src/core/registry.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import type { VerifierVerdict } from '../src/core/verifier.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { verifyContext } from './support/memory-repo.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';
import { pushLegacyKeyless, pushLegacyKeyWithSet } from './support/sigstore-legacy.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  signWithKey,
  startMockSigstore,
  type Claims,
  type MockSigstore,
} from './support/sigstore-signer.js';

const GH = 'https://token.actions.githubusercontent.com';
const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const claims: Claims = {
  iss: GH,
  sub: WORKFLOW,
  repository: 'acme/app',
  ref: 'refs/heads/main',
  event_name: 'push',
  sha: 'abc123',
};
const key = generateKeyPair('p256');

describe.skipIf(!registryAvailable())('cosign keyless and bundles through docker-registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  let mock: MockSigstore;
  let rootFile: string;
  let n = 0;

  beforeAll(async () => {
    [reg, mock] = await Promise.all([startRegistry(), startMockSigstore()]);
    client = new RegistryClient({ registries: reg.settings });
    const dir = mkdtempSync(join(tmpdir(), 'sigstore-root-'));
    rootFile = join(dir, 'trusted_root.json');
    writeFileSync(rootFile, mock.trustedRoot);
  });
  afterAll(async () => Promise.all([reg?.stop(), mock?.stop()]));

  async function freshImage(): Promise<{ repo: string; image: Descriptor }> {
    const repo = `sigstore/case${++n}`;
    return { repo, image: await reg.pushImage(repo, 'v1') };
  }

  function keyless(
    identity: Record<string, unknown> = { issuer: GH, subject: WORKFLOW },
    extra: Partial<CosignVerifierConfig> = {},
  ) {
    return createCosignVerifier(
      { type: 'cosign', keyless: { identities: [identity as never] }, trustedRoot: rootFile, ...extra },
      { path: (p) => p, keySource: () => pemKeySource(key.publicKeyPem) },
    );
  }

  function keyed(extra: Partial<CosignVerifierConfig> = {}, pem = key.publicKeyPem) {
    return createCosignVerifier(
      { type: 'cosign', publicKey: pem, trustedRoot: rootFile, ...extra },
      { path: (p) => p, keySource: () => pemKeySource(pem) },
    );
  }

  function verify(
    verifier: ReturnType<typeof keyless>,
    repo: string,
    digest: string,
    c = client,
  ): Promise<VerifierVerdict> {
    return verifier.verify(verifyContext(c.repository(reg.host, repo), digest));
  }

  async function signedImage(
    opts: {
      claims?: Claims;
      statement?: (image: Descriptor, repo: string) => Buffer;
      tsa?: boolean;
      mock?: MockSigstore;
    } = {},
  ) {
    const { repo, image } = await freshImage();
    const statement = opts.statement?.(image, repo) ?? cosignStatement(image.digest, `${reg.host}/${repo}`);
    const bundle = await signKeyless(opts.mock ?? mock, statement, {
      claims: opts.claims ?? claims,
      tsa: opts.tsa ?? false,
    });
    return { repo, image, bundle };
  }

  it('admits a keyless bundle signed by the policy identity, naming the identity', async () => {
    const { repo, image, bundle } = await signedImage();
    await pushBundle(reg, repo, image, bundle);
    const verdict = await verify(keyless(), repo, image.digest);
    expect(verdict).toMatchObject({ ok: true, by: expect.stringContaining(WORKFLOW) });
  });

  it('admits with an RFC 3161 timestamp too, and with GitHub claims that match', async () => {
    const { repo, image, bundle } = await signedImage({ tsa: true });
    await pushBundle(reg, repo, image, bundle);
    const verdict = await verify(
      keyless({
        issuer: GH,
        subject: WORKFLOW,
        github: { repository: 'acme/app', ref: 'refs/heads/main', trigger: 'push', sha: 'abc123' },
      }),
      repo,
      image.digest,
    );
    expect(verdict.ok).toBe(true);
  });

  it('UNTRUSTED_SIGNER for another issuer, naming found and expected', async () => {
    const { repo, image, bundle } = await signedImage({ claims: { ...claims, iss: 'https://gitlab.com' } });
    await pushBundle(reg, repo, image, bundle);
    const verdict = await verify(keyless(), repo, image.digest);
    expect(verdict).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    expect(!verdict.ok && verdict.detail).toMatch(
      /signed by .*release\.yml@refs\/heads\/main from https:\/\/gitlab\.com.*expects .* from https:\/\/token\.actions/,
    );
  });

  it('UNTRUSTED_SIGNER for another subject', async () => {
    const { repo, image, bundle } = await signedImage({ claims: { ...claims, sub: WORKFLOW.replace('acme', 'evil') } });
    await pushBundle(reg, repo, image, bundle);
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });

  it('a regular expression must match the whole subject, not a substring', async () => {
    const { repo, image, bundle } = await signedImage({ claims: { ...claims, sub: `${WORKFLOW}-evil` } });
    await pushBundle(reg, repo, image, bundle);
    const escaped = WORKFLOW.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    expect(await verify(keyless({ issuer: GH, subjectRegExp: escaped }), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
    });
    expect(await verify(keyless({ issuer: GH, subjectRegExp: 'acme/app' }), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
    });
    expect(await verify(keyless({ issuer: GH, subjectRegExp: `${escaped}-evil|x` }), repo, image.digest)).toMatchObject(
      { ok: true },
    );
  });

  it('UNTRUSTED_SIGNER when a GitHub claim differs', async () => {
    const { repo, image, bundle } = await signedImage({ claims: { ...claims, ref: 'refs/heads/dev' } });
    await pushBundle(reg, repo, image, bundle);
    expect(
      await verify(keyless({ issuer: GH, subject: WORKFLOW, github: { ref: 'refs/heads/main' } }), repo, image.digest),
    ).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });

  it('DIGEST_MISMATCH for a bundle that signs another image', async () => {
    const other = `sha256:${'b'.repeat(64)}`;
    const { repo, image, bundle } = await signedImage({ statement: (_i, r) => cosignStatement(other, r) });
    await pushBundle(reg, repo, image, bundle);
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'DIGEST_MISMATCH',
      detail: expect.stringContaining(other),
    });
  });

  it('an attestation is not a signature: an attestation-only image is SIGNATURE_MISSING', async () => {
    const { repo, image, bundle } = await signedImage({
      statement: (i, r) => cosignStatement(i.digest, r, 'https://slsa.dev/provenance/v1'),
    });
    await pushBundle(reg, repo, image, bundle);
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_MISSING',
      detail: expect.stringContaining('slsa.dev/provenance/v1'),
    });
  });

  it('unsigned manifest annotations that claim a signature change nothing', async () => {
    const { repo, image, bundle } = await signedImage({
      statement: (i, r) => cosignStatement(i.digest, r, 'https://slsa.dev/provenance/v1'),
    });
    await pushBundle(reg, repo, image, bundle, {
      annotations: { 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
    });
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({ ok: false, reason: 'SIGNATURE_MISSING' });
  });

  it('EXPIRED when the certificate was not valid at the signing time', async () => {
    const stale = await startMockSigstore({ caClock: new Date(Date.now() - 3600_000) });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'sigstore-root-'));
      writeFileSync(join(dir, 'root.json'), stale.trustedRoot);
      const { repo, image, bundle } = await signedImage({ mock: stale });
      await pushBundle(reg, repo, image, bundle);
      const verdict = await verify(
        keyless({ issuer: GH, subject: WORKFLOW }, { trustedRoot: join(dir, 'root.json') }),
        repo,
        image.digest,
      );
      expect(verdict).toMatchObject({
        ok: false,
        reason: 'EXPIRED',
        detail: expect.stringContaining('signature was made at'),
      });
    } finally {
      await stale.stop();
    }
  });

  it('SIGNATURE_INVALID for a broken inclusion proof', async () => {
    const { repo, image, bundle } = await signedImage();
    type Proof = { hashes?: string[]; checkpoint: { envelope: string } };
    const entry = (bundle as { verificationMaterial: { tlogEntries: Array<{ inclusionProof: Proof }> } })
      .verificationMaterial.tlogEntries[0]!;
    const proof = entry.inclusionProof;
    if (proof.hashes?.length) {
      const h = Buffer.from(proof.hashes[0]!, 'base64');
      h[0] = h[0]! ^ 1;
      proof.hashes[0] = h.toString('base64');
    } else {
      // a one-entry tree has no hashes: break the checkpoint's root instead
      const lines = proof.checkpoint.envelope.split('\n');
      const root = Buffer.from(lines[2]!, 'base64');
      root[0] = root[0]! ^ 1;
      lines[2] = root.toString('base64');
      proof.checkpoint.envelope = lines.join('\n');
    }
    await pushBundle(reg, repo, image, bundle);
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.stringMatching(/TLOG/),
    });
  });

  it('SIGNATURE_INVALID without a log entry when the log is required; admitted with tlog: skip and a timestamp', async () => {
    const { repo, image } = await freshImage();
    const bundle = await signKeyless(mock, cosignStatement(image.digest, repo), { claims, rekor: false, tsa: true });
    await pushBundle(reg, repo, image, bundle);
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    expect(await verify(keyless(undefined, { tlog: 'skip' }), repo, image.digest)).toMatchObject({ ok: true });
  });

  it('SIGNATURE_INVALID for a certificate from a CA outside the trusted root', async () => {
    const rogue = await startMockSigstore();
    try {
      const { repo, image, bundle } = await signedImage({ mock: rogue });
      await pushBundle(reg, repo, image, bundle);
      const verdict = await verify(keyless(), repo, image.digest);
      expect(verdict.ok).toBe(false);
      expect(!verdict.ok && ['UNTRUSTED_SIGNER', 'SIGNATURE_INVALID']).toContain(!verdict.ok && verdict.reason);
    } finally {
      await rogue.stop();
    }
  });

  it('admits a key-signed bundle with the policy key; UNTRUSTED_SIGNER with another', async () => {
    const { repo, image } = await freshImage();
    await pushBundle(
      reg,
      repo,
      image,
      await signWithKey(key.privateKey, key.publicKeyPem, cosignStatement(image.digest, repo)),
    );
    expect(await verify(keyed(), repo, image.digest)).toMatchObject({
      ok: true,
      by: expect.stringMatching(/^cosign bundle, key sha256:/),
    });
    const other = generateKeyPair('p256');
    expect(await verify(keyed({}, other.publicKeyPem), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
    });
  });

  it('a key with tlog: required needs the bundle logged in Rekor', async () => {
    const { repo, image } = await freshImage();
    await pushBundle(
      reg,
      repo,
      image,
      await signWithKey(key.privateKey, key.publicKeyPem, cosignStatement(image.digest, repo)),
    );
    expect(await verify(keyed({ tlog: 'required' }), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
    });
    const logged = await freshImage();
    await pushBundle(
      reg,
      logged.repo,
      logged.image,
      await signWithKey(key.privateKey, key.publicKeyPem, cosignStatement(logged.image.digest, logged.repo), mock),
    );
    expect(await verify(keyed({ tlog: 'required' }), logged.repo, logged.image.digest)).toMatchObject({ ok: true });
  });

  it('a keyless certificate does not pass a key verifier, nor a key bundle a keyless one', async () => {
    const { repo, image, bundle } = await signedImage();
    await pushBundle(reg, repo, image, bundle);
    expect(await verify(keyed(), repo, image.digest)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    const k = await freshImage();
    await pushBundle(
      reg,
      k.repo,
      k.image,
      await signWithKey(key.privateKey, key.publicKeyPem, cosignStatement(k.image.digest, k.repo)),
    );
    expect(await verify(keyless(), k.repo, k.image.digest)).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });

  it('bundles first: a bundle-signed image never reads the .sig tag, and costs three requests once the registry is known', async () => {
    const fresh = new RegistryClient({ registries: reg.settings });
    const first = await signedImage();
    await pushBundle(reg, first.repo, first.image, first.bundle);
    const second = await signedImage();
    await pushBundle(reg, second.repo, second.image, second.bundle);
    // a legacy .sig by another key next to the bundle: never read, so it cannot spoil the verdict
    await signImage(reg, second.repo, second.image, generateKeyPair('p256').privateKey);
    expect(await verify(keyless(), first.repo, first.image.digest, fresh)).toMatchObject({ ok: true });
    const before = fresh.requestCount;
    expect(await verify(keyless(), second.repo, second.image.digest, fresh)).toMatchObject({ ok: true });
    expect(fresh.requestCount - before).toBe(3); // tag-schema index, referrer manifest, bundle
  });

  it('falls back to the legacy .sig when no bundle decides (key-signed image, key verifier)', async () => {
    const { repo, image } = await freshImage();
    await signImage(reg, repo, image, key.privateKey);
    expect(await verify(keyed(), repo, image.digest)).toMatchObject({
      ok: true,
      by: expect.stringMatching(/^cosign key sha256:/),
    });
  });

  it('SIGNATURE_MISSING when there is neither a bundle nor a .sig', async () => {
    const { repo, image } = await freshImage();
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({ ok: false, reason: 'SIGNATURE_MISSING' });
  });

  it('legacy keyless .sig (certificate + Rekor SET annotations) is admitted for its identity only', async () => {
    const { repo, image } = await freshImage();
    await pushLegacyKeyless(reg, repo, image, mock, claims);
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({
      ok: true,
      by: expect.stringContaining('.sig'),
    });
    expect(await verify(keyless({ issuer: GH, subject: `${WORKFLOW}x` }), repo, image.digest)).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
    });
  });

  it('legacy keyless .sig: DIGEST_MISMATCH for another image, SIGNATURE_INVALID for a tampered SET', async () => {
    const { repo, image } = await freshImage();
    await pushLegacyKeyless(reg, repo, image, mock, claims, { bindDigest: `sha256:${'c'.repeat(64)}` });
    expect(await verify(keyless(), repo, image.digest)).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
    const t = await freshImage();
    await pushLegacyKeyless(reg, t.repo, t.image, mock, claims, { tamperSet: true });
    expect(await verify(keyless(), t.repo, t.image.digest)).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });

  it('legacy key .sig with a Rekor SET: required by tlog: required, and the logged key must be the signer', async () => {
    const { repo, image } = await freshImage();
    await pushLegacyKeyWithSet(reg, repo, image, mock, key);
    expect(await verify(keyed({ tlog: 'required' }), repo, image.digest)).toMatchObject({
      ok: true,
      by: expect.stringContaining('Rekor SET'),
    });
    const plain = await freshImage();
    await signImage(reg, plain.repo, plain.image, key.privateKey);
    expect(await verify(keyed({ tlog: 'required' }), plain.repo, plain.image.digest)).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
    });
    const otherLogged = await freshImage();
    await pushLegacyKeyWithSet(reg, otherLogged.repo, otherLogged.image, mock, key, {
      loggedKey: generateKeyPair('p256'),
    });
    expect(await verify(keyed({ tlog: 'required' }), otherLogged.repo, otherLogged.image.digest)).toMatchObject({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: expect.stringContaining('another key'),
    });
  });
});
