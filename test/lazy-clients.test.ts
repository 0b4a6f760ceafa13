/**
 * The SSM client (POLICY_PARAMETER, the Slack webhook) is made, and its SDK module
 * imported, only when a setting needs it (src/core/aws.ts): through the Runtime, a
 * policy read from SSM and a Slack alert still reach SSM, and a configuration without
 * either never asks for the client. That the module is out of module init:
 * test/bundle-split.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sendAlerts } from '../src/alerts/index.js';
import { type AwsClients, makeAwsClients } from '../src/core/aws.js';
import type { Decision } from '../src/core/decision.js';
import { Runtime } from '../src/gate/runtime.js';

const ssmMock = mockClient(SSMClient);
const KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

/** Real clients, with a count of the calls to ssm(). */
function countingClients(): { clients: AwsClients; ssmCalls: () => number } {
  const real = makeAwsClients();
  let calls = 0;
  const clients: AwsClients = Object.create(real, {
    ssm: {
      value: () => {
        calls += 1;
        return real.ssm();
      },
    },
  });
  return { clients, ssmCalls: () => calls };
}

const deny: Decision = {
  container: 'web',
  image: `registry.example/app@sha256:${'ab'.repeat(32)}`,
  digest: `sha256:${'ab'.repeat(32)}`,
  decision: 'deny',
  reason: 'SIGNATURE_MISSING',
  rule: 'app',
  verifiedBy: [],
  detail: 'no cosign signature found',
  mode: 'enforce',
  durationMs: 1,
};

let server: Server;
let webhook: string;
const posted: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      posted.push(req.url ?? '');
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  webhook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  ssmMock.reset();
  posted.length = 0;
});

describe('the SSM client, made on demand', () => {
  it('is one client per set of clients', async () => {
    const clients = makeAwsClients();
    const first = await clients.ssm();
    expect(first).toBeInstanceOf(SSMClient);
    expect(await clients.ssm()).toBe(first);
  });

  it('is never asked for by a Runtime whose policy comes from the environment and that has no Slack channel', async () => {
    const { clients, ssmCalls } = countingClients();
    const runtime = new Runtime({ COSIGN_KEY_PEM: KEY, AWS_REGION: 'us-east-1' }, { clients });
    await runtime.gate();
    expect(runtime.alertDeps().ssm).toBeTypeOf('function'); // handed over, not called
    expect(ssmCalls()).toBe(0);
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it('reads a policy from POLICY_PARAMETER and the Slack webhook URL through the Runtime', async () => {
    const policy = JSON.stringify({
      version: 1,
      rules: [{ name: 'app', images: ['**'], verifiers: [{ type: 'cosign', publicKey: KEY }] }],
    });
    ssmMock
      .on(GetParameterCommand, { Name: '/gate/policy', WithDecryption: true })
      .resolves({ Parameter: { Value: policy } })
      .on(GetParameterCommand, { Name: '/gate/slack', WithDecryption: true })
      .resolves({ Parameter: { Value: webhook } });
    const { clients, ssmCalls } = countingClients();
    const runtime = new Runtime(
      { POLICY_PARAMETER: '/gate/policy', SLACK_WEBHOOK_PARAMETER: '/gate/slack', AWS_REGION: 'us-east-1' },
      { clients },
    );
    expect((await runtime.gate()).policy.document.rules[0]?.name).toBe('app');
    const ctx = { source: 'task-watchdog', mode: 'enforce', action: 'task-stopped' } as const;
    const out = await sendAlerts([deny], ctx, { ...runtime.alertDeps(), timeoutMs: 5_000 });
    expect(out?.slack).toBe('sent');
    expect(posted).toEqual(['/hook']);
    expect(ssmMock.commandCalls(GetParameterCommand).map((c) => c.args[0].input.Name)).toEqual([
      '/gate/policy',
      '/gate/slack',
    ]);
    expect(ssmCalls()).toBe(2);
  });
});
