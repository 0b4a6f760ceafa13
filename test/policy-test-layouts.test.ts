/**
 * `ecs-image-gate test POLICY CASES --layout …`: policy tests against OCI image layouts
 * made here, in the layout `cosign save` writes and the one `oras copy
 * --to-oci-layout` writes, signed with the project's test signer. The registries named
 * (ghcr.io) are never contacted: the layouts stand in for them.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { OciLayoutRepository } from '../src/registry/oci-layout.js';
import { MEDIA_TYPES, RegistryError } from '../src/core/registry.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { LayoutWriter } from './support/oci-layout.js';

const dir = mkdtempSync(join(tmpdir(), 'policy-test-'));
const key = generateKeyPair('p256');
const otherKey = generateKeyPair('p256');
const HOST = 'ghcr.io';
const d: Record<string, string> = {};
let layoutArgs: string[];
let policy: string;

beforeAll(async () => {
  // cosign save style: one image, its .sig as the `sigs` entry, no tags
  const app = new LayoutWriter(join(dir, 'app'), HOST, 'cosign');
  d.app = (await app.pushImage('acme/app', 'v1')).digest;
  await signImage(app, 'acme/app', { digest: d.app }, key.privateKey);
  const worker = new LayoutWriter(join(dir, 'worker'), HOST, 'cosign');
  d.worker = (await worker.pushImage('acme/worker', 'v1')).digest;
  // oras style: ref.name tags, several images in one layout
  const api = new LayoutWriter(join(dir, 'api'), HOST, 'oras');
  d.api = (await api.pushImage('acme/api', '2.0')).digest;
  await signImage(api, 'acme/api', { digest: d.api }, key.privateKey);
  d.apiUnsigned = (await api.pushImage('acme/api', 'unsigned')).digest;
  d.apiOther = (await api.pushImage('acme/api', 'other-signer')).digest;
  await signImage(api, 'acme/api', { digest: d.apiOther }, otherKey.privateKey);
  layoutArgs = [
    '--layout',
    `${HOST}/acme/app=${join(dir, 'app')}`,
    '--layout',
    `${HOST}/acme/worker=${join(dir, 'worker')}`,
    '--layout',
    `${HOST}/acme/api=${join(dir, 'api')}`,
  ];
  writeFileSync(join(dir, 'cosign.pub'), key.publicKeyPem);
  policy = join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    [
      'version: 1',
      'allow:',
      '  prefixes: ["public.ecr.aws/aws-observability/"]',
      'rules:',
      '  - name: acme',
      '    images: ["ghcr.io/acme/**"]',
      '    verifiers: [{type: cosign, publicKeyFile: cosign.pub}]',
      '',
    ].join('\n'),
  );
});

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: { AWS_REGION: 'us-east-1' } });
  return { code, out, err };
}

function casesFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('ecs-image-gate test', () => {
  it('passes when every case matches, on both layout styles, by digest and by tag (exit 0)', async () => {
    const cases = casesFile(
      'pass.yaml',
      `cases:
  - {name: app by digest, image: "ghcr.io/acme/app@${d.app}", expect: allow, reason: VERIFIED}
  - {name: app by tag, image: "ghcr.io/acme/app:v1", expect: allow, reason: VERIFIED}
  - {name: worker unsigned, image: "ghcr.io/acme/worker@${d.worker}", expect: deny, reason: SIGNATURE_MISSING}
  - {name: api signed, image: "ghcr.io/acme/api:2.0", expect: allow, reason: VERIFIED}
  - {name: api unsigned, image: "ghcr.io/acme/api:unsigned", expect: deny, reason: SIGNATURE_MISSING}
  - {name: api other signer, image: "ghcr.io/acme/api@${d.apiOther}", expect: deny, reason: UNTRUSTED_SIGNER}
  - {name: agent allow-listed, image: "public.ecr.aws/aws-observability/aws-otel-collector@${d.app}", expect: allow, reason: ALLOWLISTED}
  - {name: no rule, image: "docker.io/library/redis@${d.app}", expect: deny}
`,
    );
    const r = await run(['test', policy, cases, ...layoutArgs]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^RESULT\s+CASE\s+IMAGE\s+EXPECTED\s+ACTUAL$/);
    const rows = r.out.slice(1, 9);
    expect(rows.every((l) => l.startsWith('PASS'))).toBe(true);
    expect(rows[1]).toMatch(/app by tag\s+ghcr.io\/acme\/app:v1\s+allow VERIFIED\s+allow VERIFIED$/);
    expect(r.out.at(-1)).toBe('8 passed, 0 failed');
  });

  it('fails on a mismatch, naming the case, the expected and the actual decision and reason (exit 1)', async () => {
    const cases = casesFile(
      'fail.json',
      JSON.stringify({
        cases: [
          { name: 'api unsigned', image: 'ghcr.io/acme/api:unsigned', expect: 'allow' },
          { name: 'api signed', image: `ghcr.io/acme/api@${d.api}`, expect: 'allow', reason: 'ALLOWLISTED' },
          { name: 'app', image: `ghcr.io/acme/app@${d.app}`, expect: 'allow' },
        ],
      }),
    );
    const r = await run(['test', policy, cases, ...layoutArgs]);
    expect(r.code).toBe(1);
    expect(r.out.filter((l) => l.startsWith('PASS'))).toHaveLength(1);
    expect(r.out).toContainEqual(
      expect.stringMatching(/^FAIL api unsigned: expected allow, got deny SIGNATURE_MISSING: no cosign signature/),
    );
    expect(r.out).toContainEqual(
      expect.stringMatching(/^FAIL api signed: expected allow ALLOWLISTED, got allow VERIFIED: /),
    );
    expect(r.out.at(-1)).toBe('1 passed, 2 failed');
  });

  it('never admits from a layout whose bytes do not match their digest', async () => {
    const bad = new LayoutWriter(join(dir, 'tampered'), HOST, 'oras');
    const image = await bad.pushImage('acme/tampered', '1');
    const signed = await signImage(bad, 'acme/tampered', image, key.privateKey);
    // the payload blob is edited on disk after signing
    const payloadDigest = `sha256:${createHash('sha256').update(signed.layers[0]!.payload).digest('hex')}`;
    writeFileSync(
      bad.blobPath(payloadDigest),
      signed.layers[0]!.payload.toString().replace('cosign container', 'cosign kontainer'),
    );
    const cases = casesFile(
      'tampered.yaml',
      `cases:\n  - {name: tampered, image: "ghcr.io/acme/tampered:1", expect: allow}\n`,
    );
    const r = await run(['test', policy, cases, '--layout', `${HOST}/acme/tampered=${join(dir, 'tampered')}`]);
    expect(r.code).toBe(1);
    expect(r.out).toContainEqual(
      expect.stringMatching(/^FAIL tampered: expected allow, got deny REGISTRY_ERROR: .*digest mismatch/),
    );
  });

  it('exits 2 on a usage or configuration error', async () => {
    const good = casesFile('one.yaml', `cases:\n  - {name: a, image: "ghcr.io/acme/app@${d.app}", expect: allow}\n`);
    expect((await run(['test', policy])).code).toBe(2);
    const badExpect = await run([
      'test',
      policy,
      casesFile('bad.yaml', 'cases:\n  - {name: a, image: x, expect: maybe}\n'),
    ]);
    expect(badExpect.code).toBe(2);
    expect(badExpect.err[0]).toContain("cases.0.expect: Invalid enum value. Expected 'allow' | 'deny'");
    const badReason = await run([
      'test',
      policy,
      casesFile('reason.yaml', 'cases:\n  - {name: a, image: x, expect: deny, reason: NOPE}\n'),
    ]);
    expect(badReason.code).toBe(2);
    expect((await run(['test', policy, good, '--layout', 'ghcr.io/acme/app'])).code).toBe(2);
    expect((await run(['test', policy, good, '--layout', `ghcr.io/acme/app:v1=${dir}`])).code).toBe(2);
    expect((await run(['test', join(dir, 'missing.yaml'), good])).code).toBe(2);
  });
});

describe('OciLayoutRepository', () => {
  it('finds OCI 1.1 referrers by subject and answers null for what the layout lacks', async () => {
    const w = new LayoutWriter(join(dir, 'referrers'), HOST, 'oras');
    const image = await w.pushImage('acme/ref', 'v1');
    const empty = await w.pushBlob('acme/ref', '{}');
    const referrer = await w.pushManifest(
      'acme/ref',
      {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        artifactType: 'application/vnd.cncf.notary.signature',
        config: { ...empty, mediaType: MEDIA_TYPES.ociEmpty },
        layers: [],
        subject: image,
      },
      { mediaType: MEDIA_TYPES.ociManifest },
    );
    const repo = new OciLayoutRepository(HOST, 'acme/ref', join(dir, 'referrers'));
    expect(
      (await repo.listReferrers(image.digest, 'application/vnd.cncf.notary.signature')).map((x) => x.digest),
    ).toEqual([referrer.digest]);
    expect(await repo.listReferrers(image.digest, 'application/vnd.other')).toEqual([]);
    expect(await repo.resolveTag('v1')).toBe(image.digest);
    expect(await repo.findManifest(`${image.digest.replace(':', '-')}.sig`)).toBeNull();
    await expect(repo.resolveTag('v2')).rejects.toMatchObject({ kind: 'NOT_FOUND' });
    await expect(new OciLayoutRepository(HOST, 'x', join(dir, 'nowhere')).resolveTag('v1')).rejects.toBeInstanceOf(
      RegistryError,
    );
  });

  it('answers cosign .sig lookups from a cosign save layout only for the image it saved', async () => {
    const repo = new OciLayoutRepository(HOST, 'acme/app', join(dir, 'app'));
    expect(await repo.findManifest(`${d.app!.replace(':', '-')}.sig`)).not.toBeNull();
    expect(await repo.findManifest(`${d.api!.replace(':', '-')}.sig`)).toBeNull();
    expect(await repo.findManifest(`${d.app!.replace(':', '-')}.att`)).toBeNull();
  });
});
