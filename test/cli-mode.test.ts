/**
 * `ecs-image-gate mode`: switches a deployed stack where it keeps its mode, the SSM
 * policy document or the FailureBehavior parameter, printing before and after.
 */
import { CloudFormationClient, DescribeStacksCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { parse as parseYaml } from 'yaml';
import { beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';

const cfn = mockClient(CloudFormationClient);
const ssm = mockClient(SSMClient);
const PARAM = '/ecs-image-gate/policy';
const POLICY = `version: 1
mode: audit
rules:
  - name: app
    images: ["*.dkr.ecr.*.amazonaws.com/app/**"]
    verifiers: [{type: cosign, kmsKey: alias/signing}]
overrides:
  - {clusters: ["prod-*"], mode: enforce}
`;

function stack(name: string, parameters: Record<string, string>) {
  cfn.on(DescribeStacksCommand, { StackName: name }).resolves({
    Stacks: [
      {
        StackName: name,
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({
          ParameterKey,
          ParameterValue,
        })),
      },
    ],
  });
}

beforeEach(() => {
  cfn.reset();
  ssm.reset();
  stack('with-doc', { FailureBehavior: 'LOG_ON_FAILURE', PolicyParameterName: PARAM, CosignPublicKey: '' });
  stack('plain', {
    FailureBehavior: 'LOG_ON_FAILURE',
    PolicyParameterName: '',
    CosignPublicKey: 'PEM',
    ClusterArns: 'arn:c',
  });
  ssm
    .on(GetParameterCommand, { Name: PARAM })
    .resolves({ Parameter: { Name: PARAM, Type: 'SecureString', Value: POLICY } });
});

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: { AWS_REGION: 'us-east-1' } });
  return { code, out, err };
}

const written = () => {
  const put = ssm.commandCalls(PutParameterCommand);
  expect(put).toHaveLength(1);
  return { input: put[0]!.args[0].input, doc: parseYaml(put[0]!.args[0].input.Value!) };
};

describe('ecs-image-gate mode', () => {
  it('sets the document mode in SSM, keeps its type, and prints before and after', async () => {
    const r = await run(['mode', 'enforce', '--stack', 'with-doc']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('  before: mode audit; overrides cluster=prod-*: enforce');
    expect(r.out).toContain('  after:  mode enforce; overrides cluster=prod-*: enforce');
    const { input, doc } = written();
    expect(input).toMatchObject({ Name: PARAM, Type: 'SecureString', Overwrite: true });
    expect(doc.mode).toBe('enforce');
    expect(doc.rules).toEqual(parseYaml(POLICY).rules);
    expect(cfn.commandCalls(UpdateStackCommand)).toHaveLength(0);
  });

  it('--scope adds an override first, or replaces the one for exactly that scope', async () => {
    expect((await run(['mode', 'audit', '--stack', 'with-doc', '--scope', 'cluster=staging-*,service=web'])).code).toBe(
      0,
    );
    expect(written().doc.overrides).toEqual([
      { clusters: ['staging-*'], services: ['web'], mode: 'audit' },
      { clusters: ['prod-*'], mode: 'enforce' },
    ]);
    ssm.resetHistory();
    expect((await run(['mode', 'audit', '--stack', 'with-doc', '--scope', 'cluster=prod-*'])).code).toBe(0);
    expect(written().doc.overrides).toEqual([{ clusters: ['prod-*'], mode: 'audit' }]);
  });

  it('changes nothing when the stack is already so', async () => {
    const r = await run(['mode', 'audit', '--stack', 'with-doc']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('nothing to change');
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('refuses a document that would not validate, writing nothing (exit 2)', async () => {
    ssm
      .on(GetParameterCommand, { Name: PARAM })
      .resolves({ Parameter: { Name: PARAM, Type: 'String', Value: 'version: 1\nonError: maybe\n' } });
    const r = await run(['mode', 'enforce', '--stack', 'with-doc']);
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/onError/);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('without a policy document, updates FailureBehavior with the previous template and every other value', async () => {
    const r = await run(['mode', 'enforce', '--stack', 'plain']);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'stack plain parameter FailureBehavior',
      '  before: LOG_ON_FAILURE',
      '  after:  BLOCK_ON_FAILURE',
      expect.stringContaining('update started'),
    ]);
    const input = cfn.commandCalls(UpdateStackCommand)[0]!.args[0].input;
    expect(input.UsePreviousTemplate).toBe(true);
    expect(input.Parameters).toEqual([
      { ParameterKey: 'FailureBehavior', ParameterValue: 'BLOCK_ON_FAILURE' },
      { ParameterKey: 'PolicyParameterName', UsePreviousValue: true },
      { ParameterKey: 'CosignPublicKey', UsePreviousValue: true },
      { ParameterKey: 'ClusterArns', UsePreviousValue: true },
    ]);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('exits 2 on usage errors: no stack, a bad mode, a bad scope, a scope without a document', async () => {
    expect((await run(['mode', 'enforce'])).code).toBe(2);
    expect((await run(['mode', 'block', '--stack', 'plain'])).code).toBe(2);
    expect((await run(['mode', 'audit', '--stack', 'with-doc', '--scope', 'namespace=x'])).code).toBe(2);
    const r = await run(['mode', 'audit', '--stack', 'plain', '--scope', 'cluster=staging']);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain('--scope needs a policy document');
    expect(cfn.commandCalls(UpdateStackCommand)).toHaveLength(0);
  });
});
