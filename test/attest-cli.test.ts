/**
 * `verify --explain` on attestation rules: one line per piece of evidence, naming the
 * bundle each attestation came from and the condition that failed; `--json` carries the
 * same in verifiedBy and detail.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { githubClaims, githubProvenance, GH_ISSUER, RELEASE_WORKFLOW, vulnScan } from './support/attest-signer.js';
import { registryAvailable, startRegistry, type TestRegistry } from './support/registry.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  startMockSigstore,
  type MockSigstore,
} from './support/sigstore-signer.js';

describe.skipIf(!registryAvailable())('verify --explain with attestations', () => {
  let reg: TestRegistry;
  let mock: MockSigstore;
  let policyFile: string;
  let good: string;
  let bad: string;

  beforeAll(async () => {
    [reg, mock] = await Promise.all([startRegistry(), startMockSigstore()]);
    const dir = mkdtempSync(join(tmpdir(), 'attest-cli-'));
    writeFileSync(join(dir, 'trusted_root.json'), mock.trustedRoot);
    policyFile = join(dir, 'policy.json');
    const verifier = {
      type: 'cosign',
      keyless: { identities: [{ issuer: GH_ISSUER, subject: RELEASE_WORKFLOW }] },
      trustedRoot: 'trusted_root.json',
      attestations: [
        {
          predicateType: 'slsaprovenance1',
          conditions: [
            { path: 'predicate.buildDefinition.externalParameters.workflow.ref', equals: 'refs/heads/main' },
          ],
        },
        { predicateType: 'vuln', conditions: [{ path: 'predicate.scanner.result.summary.critical', max: 0 }] },
      ],
    };
    writeFileSync(
      policyFile,
      JSON.stringify({
        version: 1,
        registries: reg.settings,
        rules: [{ name: 'app', images: [`${reg.host}/**`], verifiers: [verifier] }],
      }),
    );
    for (const [name, critical, ref] of [
      ['good', 0, 'refs/heads/main'],
      ['bad', 4, 'refs/heads/dev'],
    ] as const) {
      const desc = await reg.pushImage(`attest/${name}`, 'v1');
      const image = `${reg.host}/attest/${name}`;
      for (const s of [
        cosignStatement(desc.digest, image),
        githubProvenance(desc.digest, image, { ref }),
        vulnScan(desc.digest, image, { critical, high: 0 }),
      ]) {
        await pushBundle(reg, `attest/${name}`, desc, await signKeyless(mock, s, { claims: githubClaims }));
      }
      if (name === 'good') good = `${image}@${desc.digest}`;
      else bad = `${image}@${desc.digest}`;
    }
  });
  afterAll(async () => Promise.all([reg?.stop(), mock?.stop()]));

  async function run(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { AWS_REGION: 'us-east-1' },
    });
    return { code, out, err };
  }

  it('allowed: the signature and each attestation with the bundle it came from', async () => {
    const { code, out } = await run(['verify', '--policy', policyFile, '--explain', good]);
    expect(code).toBe(0);
    expect(out[0]).toMatch(/ALLOWED VERIFIED/);
    expect(out.slice(1)).toEqual([
      expect.stringMatching(/^ {2}passed: cosign keyless bundle, .*release\.yml@refs\/heads\/main/),
      expect.stringMatching(
        /^ {2}passed: attestation https:\/\/slsa\.dev\/provenance\/v1: bundle sha256:[0-9a-f]{12} by .*, 1 condition holds$/,
      ),
      expect.stringMatching(
        /^ {2}passed: attestation https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1: bundle sha256:[0-9a-f]{12} by .*, 1 condition holds$/,
      ),
    ]);
  });

  it('denied: each unmet attestation, its bundle and the condition that failed', async () => {
    const { code, out } = await run(['verify', '--policy', policyFile, '--explain', bad]);
    expect(code).toBe(1);
    expect(out[0]).toMatch(/DENIED ATTESTATION_FAILED/);
    expect(out.slice(1)).toEqual([
      expect.stringMatching(
        /^ {2}failed: attestation https:\/\/slsa\.dev\/provenance\/v1 in bundle sha256:[0-9a-f]{12} by .*: predicate\.buildDefinition\.externalParameters\.workflow\.ref: expected equals "refs\/heads\/main", found "refs\/heads\/dev"$/,
      ),
      expect.stringMatching(
        /^ {2}failed: attestation https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1 in bundle sha256:[0-9a-f]{12} by .*: predicate\.scanner\.result\.summary\.critical: expected a number ≤ 0, found 4$/,
      ),
    ]);
  });

  it('--json carries the same evidence; --json with --explain is a usage error', async () => {
    const { out } = await run(['verify', '--policy', policyFile, '--json', bad]);
    expect(JSON.parse(out[0]!)).toMatchObject({
      reason: 'ATTESTATION_FAILED',
      detail: expect.stringContaining(
        'found "refs/heads/dev"; attestation https://cosign.sigstore.dev/attestation/vuln/v1',
      ),
    });
    expect((await run(['verify', '--policy', policyFile, '--json', '--explain', bad])).code).toBe(2);
  });
});
