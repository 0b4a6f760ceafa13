/**
 * The attestation part of the policy document: what it accepts and the policy errors
 * it gives (unknown short name, condition without operator, invalid regex,
 * signature: false without attestations).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { describeIssues, policySchema } from '../src/policy/schema.js';

const identity = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
};

function policyError(verifier: Record<string, unknown>): string | undefined {
  const r = policySchema.safeParse({
    version: 1,
    rules: [
      {
        name: 'app',
        images: ['**'],
        verifiers: [{ type: 'cosign', keyless: { identities: [identity] }, ...verifier }],
      },
    ],
  });
  return r.success ? undefined : describeIssues(r.error);
}

describe('attestations in the policy', () => {
  it('accepts short names, URIs, every operator, no conditions, and signature: false with attestations', () => {
    expect(
      policyError({
        signature: false,
        attestations: [
          {
            predicateType: 'slsaprovenance1',
            conditions: [
              { path: 'predicate.buildDefinition.externalParameters.workflow.ref', equals: 'refs/heads/main' },
              { path: 'predicate.runDetails.builder.id', regExp: 'https://github\\.com/acme/.*' },
              { path: 'predicate.buildDefinition.internalParameters.github.event_name', oneOf: ['push', 'release'] },
              { path: 'predicate.invocation["builder.id"]', exists: true },
              { path: 'predicate.unwanted', exists: false },
              { path: 'predicate.scanner.result.summary.critical', min: 0, max: 0 },
            ],
          },
          { predicateType: 'https://example.com/attestation/v1' },
          { predicateType: 'spdxjson' },
        ],
      }),
    ).toBeUndefined();
  });

  it('an unknown short name is a policy error naming the ones cosign knows', () => {
    expect(policyError({ attestations: [{ predicateType: 'slsa' }] })).toMatch(
      /attestations\.0\.predicateType: predicateType "slsa" is neither a URI nor one of cosign's short names \(slsaprovenance, slsaprovenance1,/,
    );
  });

  it('a condition without an operator is a policy error', () => {
    expect(policyError({ attestations: [{ predicateType: 'vuln', conditions: [{ path: 'predicate.x' }] }] })).toMatch(
      /conditions\.0: a condition needs at least one of equals, regExp, oneOf, exists, min, max/,
    );
  });

  it('an invalid regex is a policy error', () => {
    expect(
      policyError({
        attestations: [{ predicateType: 'vuln', conditions: [{ path: 'predicate.x', regExp: '([a-z' }] }],
      }),
    ).toMatch(/not a valid regular expression/);
  });

  it('signature: false without attestations is a policy error', () => {
    expect(policyError({ signature: false })).toMatch(/signature: signature: false needs attestations/);
    expect(policyError({ signature: false, attestations: [] })).toMatch(/attestations/);
  });

  it('a malformed path, min above max, and an unknown operator are policy errors', () => {
    expect(
      policyError({ attestations: [{ predicateType: 'vuln', conditions: [{ path: 'predicate..x', exists: true }] }] }),
    ).toMatch(/invalid path/);
    expect(
      policyError({ attestations: [{ predicateType: 'vuln', conditions: [{ path: 'a', min: 3, max: 1 }] }] }),
    ).toMatch(/min 3 is above max 1/);
    expect(
      policyError({ attestations: [{ predicateType: 'vuln', conditions: [{ path: 'a', lessThan: 3 }] }] }),
    ).toMatch(/lessThan/);
    expect(
      policyError({ attestations: [{ predicateType: 'vuln', conditions: [{ path: 'a', equals: { nested: 1 } }] }] }),
    ).toBeDefined();
  });

  it('the CLI answers a policy error with exit 2 and the message', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'attest-policy-')), 'policy.json');
    const verifier = { type: 'cosign', keyless: { identities: [identity] }, attestations: [{ predicateType: 'sbom' }] };
    writeFileSync(
      file,
      JSON.stringify({ version: 1, rules: [{ name: 'app', images: ['**'], verifiers: [verifier] }] }),
    );
    const err: string[] = [];
    const code = await main(['verify', '--policy', file, `example.com/app@sha256:${'a'.repeat(64)}`], {
      out: () => undefined,
      err: (l) => err.push(l),
      env: { AWS_REGION: 'us-east-1' },
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/"sbom" is neither a URI nor one of cosign's short names/);
  });
});

describe('the README policies', () => {
  it('every attestation policy in README "Attestations" is a valid document', async () => {
    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('### Attestations'), readme.indexOf('### Notation'));
    const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .filter((b) => b.includes('predicateType') && !b.includes('[...]'));
    expect(blocks).toHaveLength(3);
    for (const block of blocks) {
      const doc = parse(block.startsWith('      ') ? block.replace(/^ {6}/gm, '') : block);
      const rules = Array.isArray(doc) ? [{ name: 'app', images: ['**'], verifiers: doc }] : doc.rules;
      const r = policySchema.safeParse({ version: 1, rules });
      expect(r.success ? undefined : describeIssues(r.error), block).toBeUndefined();
    }
  });
});
