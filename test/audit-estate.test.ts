/**
 * `ecs-image-gate audit` over the stand-in ECS (3 clusters, 40 services on ROLLING,
 * BLUE_GREEN and the CODE_DEPLOY controller, 200 tasks, throttling) with the images in
 * the real docker-registry, behind a recording proxy that counts what is fetched.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, ListTasksCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { MAX_ATTEMPTS } from '../src/cli/ecs.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { buildEstate, serveEstate, throttlingError, type Estate, type EstateImage } from './support/ecs-estate.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

const ecs = mockClient(ECSClient);
const key = generateKeyPair('p256');
let reg: TestRegistry;
let proxy: FaultProxy;
let dir: string;
let policy: string;
let signed: EstateImage[];
let unsigned: EstateImage[];
let estate: Estate;

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
  const push = async (repo: string) => ({ repo, tag: 'v1', digest: (await reg.pushImage(repo, 'v1')).digest });
  signed = [await push('app/api'), await push('app/web')];
  unsigned = [await push('app/legacy')];
  for (const img of signed)
    await signImage(reg, img.repo, img, key.privateKey, { dockerReference: `${proxy.host}/${img.repo}` });
  dir = mkdtempSync(join(tmpdir(), 'audit-'));
  writeFileSync(join(dir, 'cosign.pub'), key.publicKeyPem);
  policy = writePolicy('policy.yaml', '');
}, 30_000);
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});
beforeEach(() => {
  ecs.reset();
  proxy.reset();
  estate = buildEstate(proxy.host, signed, unsigned);
  serveEstate(ecs, estate, {
    throttle: {
      ListClusters: 1,
      ListServices: 2,
      DescribeServices: 1,
      DescribeServiceRevisions: 1,
      ListTasks: 2,
      DescribeTasks: 3,
    },
  });
});

function writePolicy(name: string, extra: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      'version: 1',
      'registries:',
      `  "${proxy.host}": {insecure: true}`,
      'allow:',
      '  prefixes: ["public.ecr.aws/aws-observability/"]',
      'rules:',
      '  - name: app',
      `    images: ["${proxy.host}/app/**"]`,
      '    verifiers: [{type: cosign, publicKeyFile: cosign.pub}]',
      extra,
    ].join('\n'),
  );
  return file;
}

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: { AWS_REGION: 'us-east-1' } });
  return { code, out, err };
}

describe('ecs-image-gate audit', () => {
  it('--json: one line per (service or standalone task, container), decided, through throttling; exit 1', async () => {
    const r = await run(['audit', '--all-clusters', '--json', '--policy', policy]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(1);
    const rows = r.out.map((l) => JSON.parse(l));
    expect(rows).toHaveLength(estate.expected.length);
    const key = (x: { cluster: string; service?: string; taskArn?: string; container: string }) =>
      `${x.cluster}|${x.service ?? x.taskArn}|${x.container}`;
    expect(rows.map(key).sort()).toEqual(estate.expected.map(key).sort());
    for (const want of estate.expected) {
      const got = rows.find((x) => key(x) === key(want))!;
      expect(got.image).toBe(want.image);
      if (want.unsigned) expect([got.decision, got.reason]).toEqual(['deny', 'SIGNATURE_MISSING']);
      else expect(got.decision).toBe('allow');
      expect('service' in got !== 'taskArn' in got).toBe(true);
    }
    // CODE_DEPLOY services: no service revisions, audited from their task sets' task definitions
    const codeDeploy = rows.find((x) => x.cluster === 'prod' && x.service === 'svc-2')!;
    expect(codeDeploy).toMatchObject({ decision: 'allow', reason: 'VERIFIED', digestResolvedFromTag: 'v1' });
    expect(rows.filter((x) => x.reason === 'ALLOWLISTED').length).toBeGreaterThan(0);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0); // nothing changed
  });

  it('verifies each (repository, digest) once per run, however many services and tasks share it', async () => {
    await run(['audit', '--all-clusters', '--json', '--policy', policy]);
    for (const img of [...signed, ...unsigned]) {
      const hex = img.digest.slice('sha256:'.length);
      expect(proxy.count(new RegExp(`/manifests/sha256-${hex}\\.sig$`))).toBe(1);
    }
  });

  it('--csv: a header and the same rows', async () => {
    const r = await run(['audit', '--cluster', 'prod', '--cluster', 'batch', '--csv', '--policy', policy]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toBe('decision,reason,cluster,service,taskArn,container,image,digest,rule,mode,detail');
    const expected = estate.expected.filter((x) => x.cluster !== 'staging');
    expect(r.out).toHaveLength(1 + expected.length);
    const legacy = r.out.find((l) => l.startsWith('deny,SIGNATURE_MISSING,prod,'))!;
    expect(legacy.split(',').slice(5, 7)).toEqual(['app', `${proxy.host}/app/legacy:v1`]);
  });

  it('prints a summary table and the denials, and exits 0 when nothing would be denied', async () => {
    const r = await run(['audit', '--all-clusters', '--policy', policy]);
    expect(r.code).toBe(1);
    const denied = estate.expected.filter((x) => x.unsigned).length;
    expect(r.out[0]).toMatch(/^CLUSTER\s+SERVICES\s+TASKS\s+CONTAINERS\s+IMAGES\s+WOULD BE DENIED$/);
    expect(r.out.find((l) => l.startsWith('total'))).toMatch(
      new RegExp(`^total\\s+40\\s+40\\s+${estate.expected.length}\\s+\\d+\\s+${denied}$`),
    );
    expect(r.out).toContainEqual(expect.stringMatching(new RegExp(`^SIGNATURE_MISSING\\s+${denied}$`)));
    expect(r.out.filter((l) => l.includes('DENIED SIGNATURE_MISSING'))).toHaveLength(denied);
    const lenient = writePolicy(
      'lenient.yaml',
      '  - {name: legacy, images: ["nowhere/**"], verifiers: [{type: cosign, publicKeyFile: cosign.pub}]}\n',
    );
    writeFileSync(
      lenient,
      (await import('node:fs'))
        .readFileSync(lenient, 'utf8')
        .replace('prefixes:', `repositories: ["${proxy.host}/app/legacy"]\n  prefixes:`),
    );
    const clean = await run(['audit', '--all-clusters', '--policy', lenient]);
    expect(clean.code).toBe(0);
    expect(clean.out).toContain('nothing would be denied');
  });

  it('shows the mode each workload is under: an override makes staging audit-only', async () => {
    const scoped = writePolicy('scoped.yaml', 'overrides:\n  - {clusters: ["staging"], mode: audit}\n');
    const rows = (await run(['audit', '--all-clusters', '--json', '--policy', scoped])).out.map((l) => JSON.parse(l));
    expect(new Set(rows.filter((x) => x.cluster === 'staging').map((x) => x.mode))).toEqual(new Set(['audit']));
    expect(new Set(rows.filter((x) => x.cluster !== 'staging').map((x) => x.mode))).toEqual(new Set(['enforce']));
  });

  it(`reports an error (exit 2) when ECS keeps throttling after ${MAX_ATTEMPTS} attempts`, async () => {
    ecs.on(ListTasksCommand).rejects(throttlingError());
    const r = await run(['audit', '--cluster', 'prod', '--json', '--policy', policy]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain('reading ECS failed (after retries): ThrottlingException: Rate exceeded');
    expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(MAX_ATTEMPTS);
    expect(r.out).toEqual([]);
  });

  it('exits 2 on a usage error', async () => {
    expect((await run(['audit', '--policy', policy])).code).toBe(2);
    expect((await run(['audit', '--cluster', 'prod', '--all-clusters', '--policy', policy])).code).toBe(2);
    expect((await run(['audit', '--cluster', 'prod', '--json', '--csv', '--policy', policy])).code).toBe(2);
  });
});
