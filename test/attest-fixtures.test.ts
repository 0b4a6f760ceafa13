/**
 * A real cosign attestation (../shared/fixtures/cosign-bundle/oci-attestation.sigstore.json,
 * signed keyless by cody@soyland.com on the public-good Sigstore) decided through
 * docker-registry, served as a referrer of its subject digest through the tag-schema
 * index. Its statement: in-toto v0.1, predicateType https://cosign.sigstore.dev/attestation/v1
 * (`custom`), predicate {"Data": "{\"foo\": \"bar\"}\n", "Timestamp": "2025-02-28T19:18:11Z"}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { attestGate, decideImage } from './support/attest-gate.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';
import { pushBundle } from './support/sigstore-signer.js';

const FIXTURES = join(process.cwd(), '../shared/fixtures');
const present = existsSync(join(FIXTURES, 'cases.json'));
if (!present) console.log('attestation fixtures: ../shared/fixtures is absent, skipping the real cosign attestation');
const PGI = join(FIXTURES, 'cosign-bundle/trusted_root_pgi.json');
const SUBJECT = 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4';
const identity = { issuer: 'https://github.com/login/oauth', subject: 'cody@soyland.com' };

describe.skipIf(!present || !registryAvailable())('the real cosign attestation through docker-registry', () => {
  let reg: TestRegistry;
  let image: string;

  beforeAll(async () => {
    reg = await startRegistry();
    // only the referrer is served: the image manifest is neither needed nor public
    const subject: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: SUBJECT, size: 0 };
    await pushBundle(
      reg,
      'cosign/attested',
      subject,
      readFileSync(join(FIXTURES, 'cosign-bundle/oci-attestation.sigstore.json')),
    );
    image = `${reg.host}/cosign/attested@${SUBJECT}`;
  });
  afterAll(async () => reg?.stop());

  const verifier = (extra: Record<string, unknown>) => ({
    type: 'cosign',
    keyless: { identities: [identity] },
    trustedRoot: PGI,
    ...extra,
  });

  it('allowed under a matching attestation rule with signature: false, naming the bundle', async () => {
    const gate = attestGate(reg, [
      verifier({
        signature: false,
        attestations: [
          {
            predicateType: 'custom',
            conditions: [
              { path: 'predicate.Data', equals: '{"foo": "bar"}\n' },
              { path: 'predicate.Timestamp', regExp: '2025-.*' },
            ],
          },
        ],
      }),
    ]);
    const d = await decideImage(gate, image, SUBJECT);
    expect(d).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
    expect(d.verifiedBy[0]).toMatch(
      /attestation https:\/\/cosign\.sigstore\.dev\/attestation\/v1: bundle sha256:[0-9a-f]{12} by cody@soyland\.com from https:\/\/github\.com\/login\/oauth, 2 conditions hold/,
    );
  });

  it('denied under a signature-only rule: an attestation is not a signature', async () => {
    const d = await decideImage(attestGate(reg, [verifier({})]), image, SUBJECT);
    expect(d).toMatchObject({ decision: 'deny', reason: 'SIGNATURE_MISSING' });
  });

  it('denied when a condition does not hold, naming path, expected and found', async () => {
    const gate = attestGate(reg, [
      verifier({
        signature: false,
        attestations: [{ predicateType: 'custom', conditions: [{ path: 'predicate.Timestamp', regExp: '2024-.*' }] }],
      }),
    ]);
    const d = await decideImage(gate, image, SUBJECT);
    expect(d).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_FAILED' });
    expect(d.detail).toContain('predicate.Timestamp: expected matches /2024-.*/, found "2025-02-28T19:18:11Z"');
  });

  it('denied as ATTESTATION_MISSING for another identity or another predicate type', async () => {
    const other = attestGate(reg, [
      {
        ...verifier({ signature: false, attestations: [{ predicateType: 'custom' }] }),
        keyless: { identities: [{ ...identity, subject: 'someone@soyland.com' }] },
      },
    ]);
    expect(await decideImage(other, image, SUBJECT)).toMatchObject({
      decision: 'deny',
      reason: 'ATTESTATION_MISSING',
      detail: expect.stringContaining('cody@soyland.com'),
    });
    const sbom = attestGate(reg, [verifier({ signature: false, attestations: [{ predicateType: 'spdxjson' }] })]);
    expect(await decideImage(sbom, image, SUBJECT)).toMatchObject({ decision: 'deny', reason: 'ATTESTATION_MISSING' });
  });
});
