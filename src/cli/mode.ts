/**
 * ecs-image-gate mode enforce|audit --stack NAME [--scope cluster=GLOB,service=GLOB,taskFamily=GLOB]
 *
 * Switches a deployed stack without hand-editing YAML, where the stack keeps its mode:
 *   - a stack with PolicyParameterName: the policy document in SSM. Its `mode` (or, with
 *     --scope, the `overrides` entry for exactly that scope, added or replaced) is set,
 *     the result validated with the policy schema, and written back (Overwrite, same
 *     type and key). The functions read it again within POLICY_REFRESH_SECONDS.
 *   - otherwise the stack parameter FailureBehavior (BLOCK_ON_FAILURE / LOG_ON_FAILURE),
 *     by UpdateStack with the previous template and every other parameter's previous
 *     value. --scope needs a policy document, so it is refused here.
 * Prints the before and after.
 */
import { UpdateStackCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, PutParameterCommand, type Parameter, type ParameterType } from '@aws-sdk/client-ssm';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { makeAwsClients } from '../core/aws.js';
import { PolicyError, validate } from '../policy/load.js';
import { EnvironmentError, parseOptions, UsageError, type ExitCode, type Io } from './args.js';
import { cloudFormation, describeStack, stackParameter } from './stack.js';

type Mode = 'enforce' | 'audit';
const FAILURE_BEHAVIOR: Record<Mode, string> = { enforce: 'BLOCK_ON_FAILURE', audit: 'LOG_ON_FAILURE' };
const SCOPE_KEYS = { cluster: 'clusters', service: 'services', taskFamily: 'taskFamilies' } as const;

type ScopeGlobs = Partial<Record<(typeof SCOPE_KEYS)[keyof typeof SCOPE_KEYS], string[]>>;

export async function mode(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseOptions(args, { stack: { type: 'string' }, scope: { type: 'string' } });
  const [wanted, ...extra] = positionals;
  if ((wanted !== 'enforce' && wanted !== 'audit') || extra.length) throw new UsageError('mode needs enforce or audit');
  if (!values.stack) throw new UsageError('mode needs --stack NAME (the deployed ecs-image-gate stack)');
  const scope = values.scope !== undefined ? parseScope(values.scope) : undefined;
  const stack = await describeStack(values.stack);
  const parameter = stackParameter(stack, 'PolicyParameterName');
  if (parameter) return switchDocument(parameter, wanted, scope, io);
  if (scope) {
    throw new UsageError(
      `stack ${values.stack} keeps its mode in the FailureBehavior parameter, which has no scopes: --scope needs a policy document (PolicyParameterName)`,
    );
  }
  return switchParameter(stack, wanted, io);
}

/** "cluster=prod-*,service=web" → {clusters: ["prod-*"], services: ["web"]} */
function parseScope(text: string): ScopeGlobs {
  const globs: ScopeGlobs = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [k, v] = part.split('=', 2) as [string, string | undefined];
    const key = SCOPE_KEYS[k as keyof typeof SCOPE_KEYS];
    if (!key || !v) throw new UsageError(`--scope: "${part}" is not cluster=GLOB, service=GLOB or taskFamily=GLOB`);
    (globs[key] ??= []).push(v);
  }
  if (!Object.keys(globs).length)
    throw new UsageError('--scope needs at least one of cluster=GLOB, service=GLOB, taskFamily=GLOB');
  return globs;
}

async function switchDocument(name: string, wanted: Mode, scope: ScopeGlobs | undefined, io: Io): Promise<ExitCode> {
  const ssm = await makeAwsClients().ssm();
  let parameter: Parameter | undefined;
  try {
    parameter = (await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter;
  } catch (e) {
    throw new EnvironmentError(`cannot read SSM parameter ${name}: ${(e as Error).message}`);
  }
  const text = parameter?.Value;
  if (!text) throw new EnvironmentError(`SSM parameter ${name} has no value`);
  const wasJson = text.trimStart().startsWith('{');
  const doc = parseYaml(text) as Record<string, unknown>;
  const before = describeModes(doc);
  const next = scope ? withOverride(doc, scope, wanted) : { ...doc, mode: wanted };
  try {
    validate(next, `the policy in ${name} after the change`);
  } catch (e) {
    if (e instanceof PolicyError) throw new UsageError(e.message);
    throw e;
  }
  const after = describeModes(next);
  io.out(`policy ${name}`);
  io.out(`  before: ${before}`);
  io.out(`  after:  ${after}`);
  if (before === after) {
    io.out('nothing to change');
    return 0;
  }
  const value = wasJson ? JSON.stringify(next, null, 2) : stringifyYaml(next);
  const type: ParameterType = (parameter?.Type as ParameterType | undefined) ?? 'String';
  await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: type, Overwrite: true }));
  io.out('applied (the functions read the policy again within POLICY_REFRESH_SECONDS, 60 s by default)');
  return 0;
}

/** The override for exactly these globs, replaced in place or added first (first match wins). */
function withOverride(doc: Record<string, unknown>, scope: ScopeGlobs, wanted: Mode): Record<string, unknown> {
  const overrides = Array.isArray(doc.overrides) ? [...(doc.overrides as Record<string, unknown>[])] : [];
  const same = (o: Record<string, unknown>) =>
    (Object.values(SCOPE_KEYS) as string[]).every(
      (k) => JSON.stringify(o[k] ?? null) === JSON.stringify(scope[k as keyof ScopeGlobs] ?? null),
    );
  const at = overrides.findIndex(same);
  if (at >= 0) overrides[at] = { ...overrides[at], mode: wanted };
  else overrides.unshift({ ...scope, mode: wanted });
  return { ...doc, overrides };
}

function describeModes(doc: Record<string, unknown>): string {
  const overrides = Array.isArray(doc.overrides) ? (doc.overrides as Record<string, unknown>[]) : [];
  const scoped = overrides
    .filter((o) => o.mode)
    .map((o) => {
      const where = (Object.entries(SCOPE_KEYS) as [string, string][]).flatMap(([k, key]) =>
        o[key] ? [`${k}=${(o[key] as string[]).join('|')}`] : [],
      );
      return `${where.join(',')}: ${String(o.mode)}`;
    });
  return `mode ${String(doc.mode ?? 'enforce')}${scoped.length ? `; overrides ${scoped.join('; ')}` : ''}`;
}

async function switchParameter(stack: Stack, wanted: Mode, io: Io): Promise<ExitCode> {
  const before = stackParameter(stack, 'FailureBehavior');
  if (before === undefined)
    throw new UsageError(`stack ${stack.StackName} has no FailureBehavior parameter (is it the ecs-image-gate stack?)`);
  const after = FAILURE_BEHAVIOR[wanted];
  io.out(`stack ${stack.StackName} parameter FailureBehavior`);
  io.out(`  before: ${before}`);
  io.out(`  after:  ${after}`);
  if (before === after) {
    io.out('nothing to change');
    return 0;
  }
  const parameters = (stack.Parameters ?? []).map((p) =>
    p.ParameterKey === 'FailureBehavior'
      ? { ParameterKey: p.ParameterKey, ParameterValue: after }
      : { ParameterKey: p.ParameterKey, UsePreviousValue: true },
  );
  try {
    await cloudFormation().send(
      new UpdateStackCommand({
        StackName: stack.StackName,
        UsePreviousTemplate: true,
        Parameters: parameters,
        Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND'],
      }),
    );
  } catch (e) {
    throw new EnvironmentError(`UpdateStack ${stack.StackName} failed: ${(e as Error).message}`);
  }
  io.out('update started (CloudFormation applies it to both functions)');
  return 0;
}
