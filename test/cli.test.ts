import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeServiceRevisionsCommand, ECSClient } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

const ecs = mockClient(ECSClient);
let reg: TestRegistry;
let dir: string;
let policyFile: string;
const key = generateKeyPair('p256');
let signed: string;
let unsigned: string;

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry();
  signed = (await reg.pushImage('app/web', 'signed')).digest;
  unsigned = (await reg.pushImage('app/web', 'unsigned')).digest;
  await signImage(reg, 'app/web', { digest: signed }, key.privateKey);
  dir = mkdtempSync(join(tmpdir(), 'cli-'));
  writeFileSync(join(dir, 'cosign.pub'), key.publicKeyPem);
  policyFile = join(dir, 'policy.yaml');
  // a relative publicKeyFile resolves against the policy file's folder
  writeFileSync(
    policyFile,
    `version: 1\nregistries:\n  "${reg.host}": {insecure: true}\nrules:\n  - name: app\n    images: ["${reg.host}/app/**"]\n    verifiers: [{type: cosign, publicKeyFile: cosign.pub}]\n`,
  );
}, 30_000);
afterAll(async () => reg?.stop());
beforeEach(() => {
  ecs.reset();
});

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    env: { AWS_REGION: 'us-east-1', ...env },
  });
  return { code, out, err };
}

describe('ecs-image-gate verify', () => {
  it('exits 0 and prints one line per image when all are allowed', async () => {
    const r = await run(['verify', '--policy', policyFile, `${reg.host}/app/web@${signed}`]);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(new RegExp(`^${reg.host}/app/web@${signed} ALLOWED VERIFIED, .*rule app$`));
  });

  it('exits 1 when any image is denied, and resolves tags to the digest served now', async () => {
    const r = await run([
      'verify',
      '--policy',
      policyFile,
      `${reg.host}/app/web:signed`,
      `${reg.host}/app/web:unsigned`,
    ]);
    expect(r.code).toBe(1);
    expect(r.out[0]).toContain(`app/web:signed@${signed} ALLOWED VERIFIED`);
    expect(r.out[1]).toContain(`app/web:unsigned@${unsigned} DENIED SIGNATURE_MISSING`);
  });

  it('--json prints one decision object a line', async () => {
    const r = await run([
      'verify',
      '--json',
      '--policy',
      policyFile,
      `${reg.host}/app/web@${signed}`,
      `${reg.host}/app/web@${unsigned}`,
    ]);
    const decisions = r.out.map((l) => JSON.parse(l));
    expect(decisions.map((d) => [d.decision, d.reason, d.digest])).toEqual([
      ['allow', 'VERIFIED', signed],
      ['deny', 'SIGNATURE_MISSING', unsigned],
    ]);
  });

  it('reads the configuration from the environment without --policy', async () => {
    const r = await run(['verify', `${reg.host}/app/web@${signed}`], { POLICY_FILE: policyFile });
    expect(r.code).toBe(0);
  });

  it('exits 2 with a message that says what to fix', async () => {
    expect((await run(['verify'])).code).toBe(2);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nonError: maybe\n');
    const r = await run(['verify', '--policy', bad, `${reg.host}/app/web@${signed}`]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(/onError: .*'deny' \| 'allow'/);
    expect((await run(['verify', '--policy', policyFile, 'Not A Ref'])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['verify', '--nope', 'x'])).code).toBe(2);
  });
});

describe('ecs-image-gate invoke', () => {
  it('runs the real hook handler on an event file and prints its answer', async () => {
    const revision = 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo-cluster/web/4093216470117498571';
    ecs.on(DescribeServiceRevisionsCommand).resolves({
      serviceRevisions: [
        {
          serviceRevisionArn: revision,
          containerImages: [{ containerName: 'web', image: `${reg.host}/app/web:unsigned`, imageDigest: unsigned }],
        },
      ],
    });
    // invoke configures the handler from the process environment, exactly as the Lambda is
    process.env.POLICY_FILE = policyFile;
    try {
      const r = await run(['invoke', 'hook', 'events/hook-pre-scale-up.json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out[0]!)).toEqual({ hookStatus: 'FAILED' });
      expect(ecs.commandCalls(DescribeServiceRevisionsCommand)[0]!.args[0].input).toEqual({
        serviceRevisionArns: [revision],
      });
    } finally {
      delete process.env.POLICY_FILE;
    }
  });

  it('exits 2 on a missing event file or kind', async () => {
    expect((await run(['invoke', 'hook', join(dir, 'nope.json')])).code).toBe(2);
    expect((await run(['invoke', 'deploy', 'events/hook-pre-scale-up.json'])).code).toBe(2);
  });
});

describe('--timeout', () => {
  it('bounds the decision: a registry that never answers gives TIMEOUT, not a hang', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(silent.address() as import('node:net').AddressInfo).port}`;
    const policy = join(dir, 'silent.yaml');
    writeFileSync(
      policy,
      `version: 1\nregistries:\n  "${host}": {insecure: true}\nrules:\n  - name: app\n    images: ["${host}/**"]\n    verifiers: [{type: cosign, publicKeyFile: cosign.pub}]\n`,
    );
    try {
      const r = await run(['verify', '--json', '--timeout', '0.5', '--policy', policy, `${host}/app/web@${signed}`]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out[0]!)).toMatchObject({ decision: 'deny', reason: 'TIMEOUT' });
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  }, 8_000);

  it('is a usage error when it is not a positive number', async () => {
    const r = await run(['verify', '--timeout=-1', '--policy', policyFile, `${reg.host}/app/web@${signed}`]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain('--timeout needs a number of seconds above 0');
  });
});
