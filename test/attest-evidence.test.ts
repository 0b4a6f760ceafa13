/**
 * How attestation evidence is read: each bundle fetched and verified once per decision
 * (the signature and every rule share it), the `.att` tag only when bundles fall short,
 * at most 50 referrers, and a registry error on unread evidence is an error, never an
 * ATTESTATION_MISSING verdict.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryError } from '../src/core/registry.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import {
  githubClaims,
  githubProvenance,
  GH_ISSUER,
  RELEASE_WORKFLOW,
  sbom,
  vulnScan,
} from './support/attest-signer.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  startMockSigstore,
  type MockSigstore,
} from './support/sigstore-signer.js';

describe('attestation evidence', () => {
  let mock: MockSigstore;
  let rootFile: string;

  beforeAll(async () => {
    mock = await startMockSigstore();
    rootFile = join(mkdtempSync(join(tmpdir(), 'attest-root-')), 'trusted_root.json');
    writeFileSync(rootFile, mock.trustedRoot);
  });
  afterAll(async () => mock?.stop());

  const verifier = (attestations: Record<string, unknown>[], signature = true) =>
    createCosignVerifier(
      {
        type: 'cosign',
        keyless: { identities: [{ issuer: GH_ISSUER, subject: RELEASE_WORKFLOW }] },
        trustedRoot: rootFile,
        attestations: attestations as never,
        signature,
      },
      { path: (p) => p, keySource: () => pemKeySource('unused') },
    );
  const provenance = {
    predicateType: 'slsaprovenance1',
    conditions: [{ path: 'predicate.buildDefinition.externalParameters.workflow.ref', equals: 'refs/heads/main' }],
  };
  const vuln = { predicateType: 'vuln', conditions: [{ path: 'predicate.scanner.result.summary.critical', max: 0 }] };

  async function image(reg: MemoryRegistry, statements: ((digest: string) => Buffer)[]) {
    const desc = await reg.pushImage('app');
    for (const s of statements)
      await pushBundle(reg, 'app', desc, await signKeyless(mock, s(desc.digest), { claims: githubClaims }));
    reg.requests.length = 0;
    return desc;
  }

  it('each bundle is fetched once for the signature and two rules; no .sig or .att is read', async () => {
    const reg = new MemoryRegistry();
    const desc = await image(reg, [
      (d) => cosignStatement(d, 'app'),
      (d) => githubProvenance(d, 'app'),
      (d) => vulnScan(d, 'app', { critical: 0, high: 1 }),
    ]);
    const verdict = await verifier([provenance, vuln]).verify(verifyContext(reg.repository('app'), desc.digest));
    expect(verdict).toMatchObject({ ok: true });
    const blobs = reg.requests.filter((r) => r.startsWith('blob '));
    expect(blobs).toHaveLength(3);
    expect(new Set(blobs).size).toBe(3);
    expect(reg.requests.filter((r) => /\.(sig|att)$/.test(r))).toEqual([]);
  });

  it('the .att tag is read when bundles fall short', async () => {
    const reg = new MemoryRegistry();
    const desc = await image(reg, [(d) => cosignStatement(d, 'app'), (d) => sbom(d, 'app')]);
    const verdict = await verifier([provenance]).verify(verifyContext(reg.repository('app'), desc.digest));
    expect(verdict).toMatchObject({ ok: false, reason: 'ATTESTATION_MISSING' });
    expect(reg.requests).toContain(`manifest app ${desc.digest.replace(':', '-')}.att`);
  });

  it('at most 50 referrers are read: an attestation behind 50 others is not seen', async () => {
    const reg = new MemoryRegistry();
    const desc = await reg.pushImage('app');
    const filler = await signKeyless(mock, sbom(desc.digest, 'app'), { claims: githubClaims });
    for (let i = 0; i < 50; i++) await pushBundle(reg, 'app', desc, filler, { annotations: { n: String(i) } });
    await pushBundle(
      reg,
      'app',
      desc,
      await signKeyless(mock, githubProvenance(desc.digest, 'app'), { claims: githubClaims }),
    );
    const verdict = await verifier([provenance], false).verify(verifyContext(reg.repository('app'), desc.digest));
    expect(verdict).toMatchObject({ ok: false, reason: 'ATTESTATION_MISSING' });
    expect(reg.requests.filter((r) => r.startsWith('blob '))).toHaveLength(50);
  });

  it('a registry error on a bundle that might have met the rule is thrown (an error, not a verdict)', async () => {
    const reg = new MemoryRegistry();
    const desc = await image(reg, [(d) => githubProvenance(d, 'app')]);
    reg.fault.blob = new RegistryError('UNAVAILABLE', 'registry answered 503', 503);
    await expect(
      verifier([provenance], false).verify(verifyContext(reg.repository('app'), desc.digest)),
    ).rejects.toBeInstanceOf(RegistryError);
  });
});
