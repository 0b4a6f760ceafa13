/**
 * Attestation rules end to end: statements signed in process with @sigstore/sign against
 * a mock Fulcio / Rekor, stored in docker-registry as bundle referrers (tag-schema
 * index) or in cosign's legacy `.att` tag, decided by decide() with the real factories.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Descriptor } from '../src/core/registry.js';
import { attestGate, decideImage } from './support/attest-gate.js';
import {
  githubClaims,
  githubProvenance,
  GH_ISSUER,
  pushLegacyAttestation,
  pushLegacyKeyAttestation,
  RELEASE_WORKFLOW,
  sbom,
  statement,
  vulnScan,
} from './support/attest-signer.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  signWithKey,
  startMockSigstore,
  type MockSigstore,
} from './support/sigstore-signer.js';

const WORKFLOW_REF = 'predicate.buildDefinition.externalParameters.workflow.ref';
const provenanceRule = {
  predicateType: 'slsaprovenance1',
  conditions: [
    { path: WORKFLOW_REF, equals: 'refs/heads/main' },
    { path: 'predicate.buildDefinition.externalParameters.workflow.repository', equals: 'https://github.com/acme/app' },
    {
      path: 'predicate.buildDefinition.externalParameters.workflow.path',
      regExp: '\\.github/workflows/release\\.ya?ml',
    },
  ],
};
const vulnRule = { predicateType: 'vuln', conditions: [{ path: 'predicate.scanner.result.summary.critical', max: 0 }] };

describe.skipIf(!registryAvailable())('attestation rules through docker-registry', () => {
  let reg: TestRegistry;
  let mock: MockSigstore;
  let rootFile: string;
  let n = 0;

  beforeAll(async () => {
    [reg, mock] = await Promise.all([startRegistry(), startMockSigstore()]);
    rootFile = join(mkdtempSync(join(tmpdir(), 'attest-root-')), 'trusted_root.json');
    writeFileSync(rootFile, mock.trustedRoot);
  });
  afterAll(async () => Promise.all([reg?.stop(), mock?.stop()]));

  const keyless = (extra: Record<string, unknown> = {}) => ({
    type: 'cosign',
    keyless: { identities: [{ issuer: GH_ISSUER, subject: RELEASE_WORKFLOW }] },
    trustedRoot: rootFile,
    ...extra,
  });

  async function image(): Promise<{ repo: string; desc: Descriptor; name: string; ref: string }> {
    const repo = `attest/case${++n}`;
    const desc = await reg.pushImage(repo, 'v1');
    return { repo, desc, name: `${reg.host}/${repo}`, ref: `${reg.host}/${repo}@${desc.digest}` };
  }

  /** keyless-sign a statement by the release workflow (or other claims) and push it as a referrer */
  async function attach(img: { repo: string; desc: Descriptor }, signed: Buffer, claims = githubClaims): Promise<void> {
    await pushBundle(reg, img.repo, img.desc, await signKeyless(mock, signed, { claims }));
  }

  const signature = (img: { desc: Descriptor; name: string }) => cosignStatement(img.desc.digest, img.name);

  it('SLSA provenance that meets the conditions: allowed, naming the bundle used', async () => {
    const img = await image();
    await attach(img, signature(img));
    await attach(img, githubProvenance(img.desc.digest, img.name));
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [provenanceRule] })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
    expect(d.verifiedBy[0]).toMatch(
      /^cosign keyless bundle, .*release\.yml@refs\/heads\/main .* \+ attestation https:\/\/slsa\.dev\/provenance\/v1: bundle sha256:[0-9a-f]{12} by .*, 3 conditions hold$/,
    );
  });

  it('provenance from another workflow ref: ATTESTATION_FAILED naming path, expected and found', async () => {
    const img = await image();
    await attach(img, signature(img));
    await attach(img, githubProvenance(img.desc.digest, img.name, { ref: 'refs/heads/dev' }));
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [provenanceRule] })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_FAILED' });
    expect(d.detail).toMatch(
      /^attestation https:\/\/slsa\.dev\/provenance\/v1 in bundle sha256:[0-9a-f]{12} by .*: predicate\.buildDefinition\.externalParameters\.workflow\.ref: expected equals "refs\/heads\/main", found "refs\/heads\/dev"/,
    );
  });

  it('the right statement signed by an untrusted identity: ATTESTATION_MISSING', async () => {
    const img = await image();
    await attach(img, signature(img));
    await attach(img, githubProvenance(img.desc.digest, img.name), {
      ...githubClaims,
      sub: RELEASE_WORKFLOW.replace('acme/app', 'evil/app'),
    });
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [provenanceRule] })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_MISSING' });
    expect(d.detail).toContain('evil/app');
  });

  it('provenance whose subject is another image: ATTESTATION_MISSING', async () => {
    const img = await image();
    const other = `sha256:${'c'.repeat(64)}`;
    await attach(img, signature(img));
    await attach(img, githubProvenance(other, img.name));
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [provenanceRule] })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({
      decision: 'deny',
      reason: 'ATTESTATION_MISSING',
      detail: expect.stringContaining(`signed for another image (${other})`),
    });
  });

  it('an SBOM rule on an image with only provenance: ATTESTATION_MISSING; with an SBOM: allowed', async () => {
    const img = await image();
    await attach(img, signature(img));
    await attach(img, githubProvenance(img.desc.digest, img.name));
    const gate = attestGate(reg, [keyless({ attestations: [{ predicateType: 'spdxjson' }] })]);
    expect(await decideImage(gate, img.ref, img.desc.digest)).toMatchObject({
      decision: 'deny',
      reason: 'ATTESTATION_MISSING',
      detail: expect.stringContaining('https://spdx.dev/Document'),
    });
    await attach(img, sbom(img.desc.digest, img.name));
    expect(await decideImage(gate, img.ref, img.desc.digest)).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
  });

  it('a vulnerability scan above max: ATTESTATION_FAILED; at the threshold: allowed', async () => {
    const bad = await image();
    await attach(bad, signature(bad));
    await attach(bad, vulnScan(bad.desc.digest, bad.name, { critical: 2, high: 7 }));
    const gate = attestGate(reg, [keyless({ attestations: [vulnRule] })]);
    const d = await decideImage(gate, bad.ref, bad.desc.digest);
    expect(d).toMatchObject({
      decision: 'deny',
      reason: 'ATTESTATION_FAILED',
      detail: expect.stringContaining('predicate.scanner.result.summary.critical: expected a number ≤ 0, found 2'),
    });
    const good = await image();
    await attach(good, signature(good));
    await attach(good, vulnScan(good.desc.digest, good.name, { critical: 0, high: 7 }));
    expect(await decideImage(gate, good.ref, good.desc.digest)).toMatchObject({
      decision: 'allow',
      reason: 'VERIFIED',
    });
  });

  it('every listed attestation is required; one that passes does not cover another that fails', async () => {
    const img = await image();
    await attach(img, signature(img));
    await attach(img, githubProvenance(img.desc.digest, img.name));
    await attach(img, vulnScan(img.desc.digest, img.name, { critical: 1, high: 0 }));
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [provenanceRule, vulnRule] })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({
      decision: 'deny',
      reason: 'ATTESTATION_FAILED',
      detail: expect.stringContaining('cosign.sigstore.dev/attestation/vuln/v1'),
    });
  });

  it('one attestation of the type that meets every condition is enough among several that do not', async () => {
    const img = await image();
    await attach(img, signature(img));
    await attach(img, githubProvenance(img.desc.digest, img.name, { ref: 'refs/heads/dev' }));
    await attach(img, githubProvenance(img.desc.digest, img.name));
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [provenanceRule] })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
  });

  it('signature: true and no signature: SIGNATURE_MISSING, even with a good attestation; signature: false admits', async () => {
    const img = await image();
    await attach(img, githubProvenance(img.desc.digest, img.name));
    expect(
      await decideImage(attestGate(reg, [keyless({ attestations: [provenanceRule] })]), img.ref, img.desc.digest),
    ).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_MISSING' });
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [provenanceRule], signature: false })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({
      decision: 'allow',
      reason: 'VERIFIED',
      verifiedBy: [expect.stringContaining('(signature not required)')],
    });
  });

  it('only the signed statement counts: unsigned annotations naming the type change nothing', async () => {
    const img = await image();
    await attach(img, signature(img));
    // an SBOM whose referrer manifest claims to be provenance
    await pushBundle(
      reg,
      img.repo,
      img.desc,
      await signKeyless(mock, sbom(img.desc.digest, img.name), { claims: githubClaims }),
      {
        annotations: {
          'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1',
          predicateType: 'https://slsa.dev/provenance/v1',
        },
      },
    );
    const d = await decideImage(
      attestGate(reg, [keyless({ attestations: [{ predicateType: 'slsaprovenance1' }] })]),
      img.ref,
      img.desc.digest,
    );
    expect(d).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_MISSING' });
  });

  it('key-signed attestations count for a key verifier, and only with its key', async () => {
    const key = generateKeyPair('p256');
    const img = await image();
    await pushBundle(reg, img.repo, img.desc, await signWithKey(key.privateKey, key.publicKeyPem, signature(img)));
    await pushBundle(
      reg,
      img.repo,
      img.desc,
      await signWithKey(
        key.privateKey,
        key.publicKeyPem,
        vulnScan(img.desc.digest, img.name, { critical: 0, high: 0 }),
      ),
    );
    const keyed = (pem: string, extra: Record<string, unknown> = {}) =>
      attestGate(reg, [{ type: 'cosign', publicKey: pem, attestations: [vulnRule], ...extra }]);
    expect(await decideImage(keyed(key.publicKeyPem), img.ref, img.desc.digest)).toMatchObject({
      decision: 'allow',
      reason: 'VERIFIED',
    });
    const stranger = generateKeyPair('p256');
    expect(
      await decideImage(keyed(stranger.publicKeyPem, { signature: false }), img.ref, img.desc.digest),
    ).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_MISSING' });
  });

  describe('legacy .att tag', () => {
    it('a keyless .att attestation (DSSE envelope layer, Rekor dsse entry): allowed', async () => {
      const img = await image();
      await attach(img, signature(img));
      await pushLegacyAttestation(
        reg,
        img.repo,
        img.desc,
        mock,
        githubClaims,
        githubProvenance(img.desc.digest, img.name),
      );
      const d = await decideImage(
        attestGate(reg, [keyless({ attestations: [provenanceRule] })]),
        img.ref,
        img.desc.digest,
      );
      expect(d).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
      expect(d.verifiedBy[0]).toContain(
        `attestation https://slsa.dev/provenance/v1: sha256-${img.desc.digest.slice(7)}.att layer 1 by`,
      );
    });

    it('the .att condition failing reads like a bundle one: ATTESTATION_FAILED', async () => {
      const img = await image();
      await pushLegacyAttestation(
        reg,
        img.repo,
        img.desc,
        mock,
        githubClaims,
        githubProvenance(img.desc.digest, img.name, { ref: 'refs/heads/dev' }),
      );
      const d = await decideImage(
        attestGate(reg, [keyless({ attestations: [provenanceRule], signature: false })]),
        img.ref,
        img.desc.digest,
      );
      expect(d).toMatchObject({
        decision: 'deny',
        reason: 'ATTESTATION_FAILED',
        detail: expect.stringContaining('found "refs/heads/dev"'),
      });
    });

    it('a statement swapped into the envelope after signing: ATTESTATION_MISSING', async () => {
      const img = await image();
      const swapped = githubProvenance(img.desc.digest, img.name);
      await pushLegacyAttestation(
        reg,
        img.repo,
        img.desc,
        mock,
        githubClaims,
        githubProvenance(img.desc.digest, img.name, { ref: 'refs/heads/dev' }),
        { tamper: 'payload', swapped },
      );
      const d = await decideImage(
        attestGate(reg, [keyless({ attestations: [provenanceRule], signature: false })]),
        img.ref,
        img.desc.digest,
      );
      expect(d).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_MISSING' });
    });

    it('an envelope altered after logging (the signature still verifies): ATTESTATION_MISSING by the Rekor envelope hash', async () => {
      const img = await image();
      await pushLegacyAttestation(
        reg,
        img.repo,
        img.desc,
        mock,
        githubClaims,
        githubProvenance(img.desc.digest, img.name),
        { tamper: 'envelope' },
      );
      const d = await decideImage(
        attestGate(reg, [keyless({ attestations: [provenanceRule], signature: false })]),
        img.ref,
        img.desc.digest,
      );
      expect(d).toMatchObject({
        decision: 'deny',
        reason: 'ATTESTATION_MISSING',
        detail: expect.stringContaining('envelope altered after logging'),
      });
    });

    it('cosign 2.x with a key: .sig signature and .att attestation, no log; another key is ATTESTATION_MISSING', async () => {
      const key = generateKeyPair('p256');
      const img = await image();
      await signImage(reg, img.repo, img.desc, key.privateKey);
      await pushLegacyKeyAttestation(
        reg,
        img.repo,
        img.desc,
        key,
        vulnScan(img.desc.digest, img.name, { critical: 0, high: 0 }),
      );
      const keyed = (pem: string) => attestGate(reg, [{ type: 'cosign', publicKey: pem, attestations: [vulnRule] }]);
      const d = await decideImage(keyed(key.publicKeyPem), img.ref, img.desc.digest);
      expect(d).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
      expect(d.verifiedBy[0]).toMatch(
        /^cosign key sha256:.* \+ attestation https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1: sha256-[0-9a-f]{64}\.att layer 1 by key sha256:/,
      );
      // signed by our key for the signature, but the attestation by another: not enough
      const other = await image();
      await signImage(reg, other.repo, other.desc, key.privateKey);
      await pushLegacyKeyAttestation(
        reg,
        other.repo,
        other.desc,
        generateKeyPair('p256'),
        vulnScan(other.desc.digest, other.name, { critical: 0, high: 0 }),
      );
      expect(await decideImage(keyed(key.publicKeyPem), other.ref, other.desc.digest)).toMatchObject({
        decision: 'deny',
        reason: 'ATTESTATION_MISSING',
      });
    });

    it('a .att attestation by an untrusted identity: ATTESTATION_MISSING naming it', async () => {
      const img = await image();
      await pushLegacyAttestation(
        reg,
        img.repo,
        img.desc,
        mock,
        { ...githubClaims, sub: RELEASE_WORKFLOW.replace('acme/app', 'evil/app') },
        githubProvenance(img.desc.digest, img.name),
      );
      const d = await decideImage(
        attestGate(reg, [keyless({ attestations: [provenanceRule], signature: false })]),
        img.ref,
        img.desc.digest,
      );
      expect(d).toMatchObject({
        decision: 'deny',
        reason: 'ATTESTATION_MISSING',
        detail: expect.stringContaining('evil/app'),
      });
    });

    it('an unsigned predicateType layer annotation does not make an SBOM provenance', async () => {
      const img = await image();
      const signed = sbom(img.desc.digest, img.name);
      await pushLegacyAttestation(reg, img.repo, img.desc, mock, githubClaims, signed);
      const d = await decideImage(
        attestGate(reg, [keyless({ attestations: [{ predicateType: 'spdx' }], signature: false })]),
        img.ref,
        img.desc.digest,
      );
      expect(d).toMatchObject({ decision: 'allow' });
      const p = await decideImage(
        attestGate(reg, [keyless({ attestations: [{ predicateType: 'slsaprovenance1' }], signature: false })]),
        img.ref,
        img.desc.digest,
      );
      expect(p).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_MISSING' });
    });
  });

  it('statements v0.1 and v1 are both read', async () => {
    const img = await image();
    await attach(img, statement(img.desc.digest, img.name, 'https://example.com/custom/v1', { level: 3 }, 'v0.1'));
    await attach(img, statement(img.desc.digest, img.name, 'https://example.com/other/v1', { level: 4 }, 'v1'));
    const rule = (t: string, min: number) => ({
      predicateType: t,
      conditions: [
        { path: 'predicate.level', min },
        { path: '_type', regExp: 'https://in-toto\\.io/Statement/v(0\\.1|1)' },
      ],
    });
    const gate = attestGate(reg, [
      keyless({
        signature: false,
        attestations: [rule('https://example.com/custom/v1', 3), rule('https://example.com/other/v1', 4)],
      }),
    ]);
    expect(await decideImage(gate, img.ref, img.desc.digest)).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
  });

  it('README policy 1 (GitHub provenance) decides as the README says, for a direct and a reusable workflow', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('**1. Built by acme/app'), readme.indexOf('**2. An SBOM is present**'));
    const [verifier] = parse(/```yaml\n([\s\S]*?)```/.exec(section)![1]!).rules[0].verifiers;
    const gate = attestGate(reg, [{ ...verifier, trustedRoot: rootFile }]);
    const reusable = {
      ...githubClaims,
      sub: 'https://github.com/acme/workflows/.github/workflows/build.yml@refs/heads/main',
    };
    const cases = [
      { claims: githubClaims, ref: 'refs/heads/main', expected: { decision: 'allow', reason: 'VERIFIED' } },
      { claims: reusable, ref: 'refs/tags/v1.2.0', expected: { decision: 'allow', reason: 'VERIFIED' } },
      {
        claims: reusable,
        ref: 'refs/heads/dev',
        expected: {
          decision: 'deny',
          reason: 'ATTESTATION_FAILED',
          detail: expect.stringContaining('found "refs/heads/dev"'),
        },
      },
      {
        claims: { ...githubClaims, sub: RELEASE_WORKFLOW.replace('refs/heads/main', 'refs/heads/dev') },
        ref: 'refs/heads/dev',
        expected: { decision: 'deny', reason: 'ATTESTATION_MISSING' },
      },
    ];
    for (const c of cases) {
      const img = await image();
      await attach(img, githubProvenance(img.desc.digest, img.name, { ref: c.ref }), c.claims);
      expect(await decideImage(gate, img.ref, img.desc.digest), JSON.stringify(c)).toMatchObject(c.expected);
    }
  });
});
