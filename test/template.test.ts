/**
 * template.yaml, checked as CloudFormation will read it: the runtime and build of
 * both functions, the parameters, and above all the permissions. The permission
 * tests compare every statement with the exact grant this project needs, so
 * widening one (an action, a resource, a dropped condition, an extra policy)
 * fails here; the last block proves that by widening a copy on purpose.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';
import { OPTIONAL_NATIVE, REQUIRE_SHIM, lambdaBuildOptions } from '../scripts/bundle.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// ---------------------------------------------------------------------------
// Reading the template: CloudFormation's short-form tags become their long form.
// ---------------------------------------------------------------------------

const INTRINSICS = ['Ref', 'Condition', 'Sub', 'GetAtt', 'If', 'Equals', 'Not', 'And', 'Or', 'Select', 'Split',
  'Join', 'FindInMap', 'Base64', 'Cidr', 'GetAZs', 'ImportValue', 'Transform'] as const;

function longName(name: (typeof INTRINSICS)[number]): string {
  return name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
}

const cloudFormationTags: (ScalarTag | CollectionTag)[] = INTRINSICS.flatMap((name) => [
  {
    tag: `!${name}`,
    // !GetAtt Resource.Attribute is the short form of [Resource, Attribute].
    resolve: (value: string) => ({ [longName(name)]: name === 'GetAtt' ? value.split('.') : value }),
  } satisfies ScalarTag,
  {
    tag: `!${name}`,
    collection: 'seq',
    resolve: (seq: YAMLSeq) => ({ [longName(name)]: seq.toJSON() }),
  } as unknown as CollectionTag,
  {
    tag: `!${name}`,
    collection: 'map',
    resolve: (map: YAMLMap) => ({ [longName(name)]: map.toJSON() }),
  } as unknown as CollectionTag,
]);

function loadTemplate(): JsonObject {
  return parse(readFileSync(path.join(repoRoot, 'template.yaml'), 'utf8'), { customTags: cloudFormationTags }) as JsonObject;
}

function readJson(relative: string): JsonObject {
  return JSON.parse(readFileSync(path.join(repoRoot, relative), 'utf8')) as JsonObject;
}

function obj(value: Json | undefined, what: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} is not a mapping`);
  return value;
}

function list(value: Json | undefined, what: string): Json[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
}

/** One value or a list of them, as IAM allows for Action and Resource. */
function asList(value: Json | undefined): Json[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

const ref = (name: string): Json => ({ Ref: name });
const sub = (text: string): Json => ({ 'Fn::Sub': text });
const getAtt = (resource: string, attribute: string): Json => ({ 'Fn::GetAtt': [resource, attribute] });
const NO_VALUE = ref('AWS::NoValue');
const ifSet = (condition: string, value: Json): Json => ({ 'Fn::If': [condition, value, NO_VALUE] });

const template = loadTemplate();
const resources = obj(template.Resources, 'Resources');
const parameters = obj(template.Parameters, 'Parameters');
const conditions = obj(template.Conditions, 'Conditions');
const globals = obj(obj(template.Globals, 'Globals').Function, 'Globals.Function');

function resource(doc: JsonObject, name: string): JsonObject {
  return obj(obj(doc.Resources, 'Resources')[name], `resource ${name}`);
}

function properties(doc: JsonObject, name: string): JsonObject {
  return obj(resource(doc, name).Properties, `${name}.Properties`);
}

/** A function's properties as SAM deploys them: Globals.Function, then its own (environment merged). */
function effectiveFunction(name: string): JsonObject {
  const own = properties(template, name);
  const variables = {
    ...obj(obj(globals.Environment, 'Globals environment').Variables, 'Globals variables'),
    ...(own.Environment ? obj(obj(own.Environment, 'environment').Variables, 'variables') : {}),
  };
  return { ...globals, ...own, Environment: { Variables: variables } };
}

const FUNCTIONS = {
  ImageGateHookFunction: { entry: 'src/handlers/lifecycle-hook.ts', handler: 'lifecycle-hook.handler' },
  TaskWatchdogFunction: { entry: 'src/handlers/task-state-change.ts', handler: 'task-state-change.handler' },
} as const;
type FunctionName = keyof typeof FUNCTIONS;

// ---------------------------------------------------------------------------
// Permissions: every statement a function's role gets, with the CloudFormation
// condition (if any) under which it exists.
// ---------------------------------------------------------------------------

interface Grant {
  sid: string;
  /** the template condition that must hold for the statement to exist */
  when?: string;
  actions: string[];
  resources: Json[];
  /** the IAM Condition element, verbatim */
  iamCondition?: Json;
}

function isNoValue(value: Json | undefined): boolean {
  return JSON.stringify(value) === JSON.stringify(NO_VALUE);
}

/** Statements of one policy document; `!If [C, statement, AWS::NoValue]` yields the statement under C. */
function statementsOf(document: JsonObject, where: string): { statement: JsonObject; when?: string }[] {
  return list(document.Statement, `${where}.Statement`).flatMap((item, i) => {
    const node = obj(item, `${where}.Statement[${i}]`);
    const conditional = node['Fn::If'];
    if (conditional === undefined) return [{ statement: node }];
    const [condition, whenTrue, whenFalse] = list(conditional, 'Fn::If');
    if (typeof condition !== 'string' || !isNoValue(whenFalse)) {
      throw new Error(`${where}: a conditional statement must be !If [Condition, statement, AWS::NoValue]`);
    }
    return [{ statement: obj(whenTrue, `${where} conditional statement`), when: condition }];
  });
}

/**
 * Every statement attached to a function through `Policies`. Only inline documents
 * and this template's own managed policies are understood: anything else (a SAM
 * policy template, an AWS managed policy name) is reported as a problem.
 */
function grantsOf(doc: JsonObject, fn: FunctionName): { grants: Grant[]; problems: string[] } {
  const props = properties(doc, fn);
  const problems: string[] = [];
  if (props.Role !== undefined) problems.push(`${fn} uses an external Role: its permissions cannot be checked`);
  const documents = list(props.Policies, `${fn}.Policies`).flatMap((entry, i): [JsonObject, string][] => {
    if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
      if (typeof entry.Ref === 'string') {
        const managed = resource(doc, entry.Ref);
        if (managed.Type !== 'AWS::IAM::ManagedPolicy') problems.push(`${fn}.Policies[${i}] refers to ${entry.Ref}, not a managed policy`);
        return [[obj(obj(managed.Properties, entry.Ref).PolicyDocument, `${entry.Ref}.PolicyDocument`), entry.Ref]];
      }
      if (entry.Statement !== undefined) return [[entry, `${fn}.Policies[${i}]`]];
    }
    problems.push(`${fn}.Policies[${i}] is ${JSON.stringify(entry)}: only inline documents and this template's managed policies are allowed`);
    return [];
  });
  const grants = documents.flatMap(([document, where]) =>
    statementsOf(document, where).map(({ statement, when }) => {
      if (statement.Effect !== 'Allow') problems.push(`${where} ${String(statement.Sid)}: Effect must be Allow`);
      for (const key of ['NotAction', 'NotResource', 'Principal']) {
        if (statement[key] !== undefined) problems.push(`${where} ${String(statement.Sid)}: ${key} is not allowed`);
      }
      return {
        sid: String(statement.Sid),
        ...(when ? { when } : {}),
        actions: asList(statement.Action).map(String).sort(),
        resources: asList(statement.Resource),
        ...(statement.Condition !== undefined ? { iamCondition: statement.Condition } : {}),
      };
    }),
  );
  return { grants, problems };
}

const arn = (service: string, resourcePart: string, region = '${AWS::Region}', account = '${AWS::AccountId}') =>
  sub(`arn:\${AWS::Partition}:${service}:${region}:${account}:${resourcePart}`);

/** What both functions need, and nothing more. */
const VERIFY_AND_ALERT: Grant[] = [
  { sid: 'EcrToken', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
  {
    sid: 'EcrPullThisAccount',
    actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
    resources: [arn('ecr', 'repository/*', '*')],
  },
  {
    sid: 'EcrPullOtherAccounts',
    when: 'HasCrossAccountRepositories',
    actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
    resources: [ref('CrossAccountRepositoryArns')],
  },
  { sid: 'CosignKmsPublicKey', when: 'HasCosignKmsKey', actions: ['kms:GetPublicKey'], resources: [ref('CosignKmsKeyArn')] },
  {
    sid: 'ReadConfigurationParameters',
    when: 'ReadsParameters',
    actions: ['ssm:GetParameter'],
    resources: [
      ifSet('HasPolicyParameter', arn('ssm', 'parameter${PolicyParameterName}')),
      ifSet('HasSlackWebhook', arn('ssm', 'parameter${SlackWebhookParameter}')),
    ],
  },
  {
    sid: 'DecryptConfigurationParameters',
    when: 'DecryptsParameters',
    actions: ['kms:Decrypt'],
    resources: [ref('ParameterKmsKeyArn')],
    iamCondition: { StringEquals: { 'kms:ViaService': sub('ssm.${AWS::Region}.amazonaws.com') } },
  },
  {
    sid: 'SignerRevocation',
    actions: ['signer:GetRevocationStatus'],
    resources: [arn('signer', '/signing-profiles/*', '*', '*'), arn('signer', '/signing-jobs/*', '*', '*')],
  },
  { sid: 'PublishAlerts', actions: ['sns:Publish'], resources: [ref('AlertTopic')] },
  {
    sid: 'EncryptAlerts',
    when: 'HasAlertTopicKmsKey',
    actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
    resources: [ref('AlertTopicKmsKeyArn')],
    iamCondition: { StringEquals: { 'kms:ViaService': sub('sns.${AWS::Region}.amazonaws.com') } },
  },
  {
    sid: 'PutDecisionEvents',
    when: 'HasDecisionEventBus',
    actions: ['events:PutEvents'],
    resources: [arn('events', 'event-bus/${DecisionEventBus}')],
  },
];

const EXPECTED_GRANTS: Record<FunctionName, Grant[]> = {
  ImageGateHookFunction: [
    ...VERIFY_AND_ALERT,
    {
      sid: 'ReadTargetRevision',
      actions: ['ecs:DescribeServiceRevisions'],
      resources: [arn('ecs', 'service/*'), arn('ecs', 'service-revision/*')],
    },
  ],
  TaskWatchdogFunction: [
    ...VERIFY_AND_ALERT,
    {
      sid: 'ReadTasksAndServices',
      actions: ['ecs:DescribeServices', 'ecs:DescribeTasks'],
      resources: [arn('ecs', 'task/*'), arn('ecs', 'service/*')],
    },
    {
      sid: 'StopUnsignedTasks',
      actions: ['ecs:StopTask'],
      resources: [arn('ecs', 'task/*')],
      iamCondition: { 'Fn::If': ['HasClusterArns', { ArnEquals: { 'ecs:cluster': ref('ClusterArns') } }, NO_VALUE] },
    },
  ],
};

const bySid = (a: Grant, b: Grant) => a.sid.localeCompare(b.sid);
const normalize = (grants: Grant[]) => grants.map((g) => ({ ...g, actions: [...g.actions].sort() })).sort(bySid);

/** Everything wrong with a function's permissions; [] when they are exactly as intended. */
function permissionProblems(doc: JsonObject, fn: FunctionName): string[] {
  const { grants, problems } = grantsOf(doc, fn);
  for (const grant of grants) {
    for (const action of grant.actions) {
      if (action.includes('*')) problems.push(`${fn} ${grant.sid}: wildcard action ${action}`);
    }
    if (grant.resources.includes('*') && !(grant.actions.length === 1 && grant.actions[0] === 'ecr:GetAuthorizationToken')) {
      problems.push(`${fn} ${grant.sid}: Resource '*' for ${grant.actions.join(', ')}`);
    }
  }
  const actual = JSON.stringify(normalize(grants));
  const expected = JSON.stringify(normalize(EXPECTED_GRANTS[fn]));
  if (actual !== expected) problems.push(`${fn}: statements differ from the intended grants\n  actual:   ${actual}\n  expected: ${expected}`);
  return problems;
}

function invokeRoleProblems(doc: JsonObject): string[] {
  const role = properties(doc, 'HookInvokeRole');
  const problems: string[] = [];
  const trust = list(obj(role.AssumeRolePolicyDocument, 'trust policy').Statement, 'trust statements');
  const expectedTrust = [{ Effect: 'Allow', Principal: { Service: 'ecs.amazonaws.com' }, Action: 'sts:AssumeRole' }];
  if (JSON.stringify(trust) !== JSON.stringify(expectedTrust)) problems.push(`trust policy is ${JSON.stringify(trust)}`);
  for (const key of ['ManagedPolicyArns', 'PermissionsBoundary']) {
    if (role[key] !== undefined) problems.push(`HookInvokeRole has ${key}`);
  }
  const statements = list(role.Policies, 'HookInvokeRole.Policies').flatMap((p, i) =>
    list(obj(obj(p, `policy ${i}`).PolicyDocument, 'PolicyDocument').Statement, 'Statement'),
  );
  const expected = [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: getAtt('ImageGateHookFunction', 'Arn') }];
  if (JSON.stringify(statements) !== JSON.stringify(expected)) problems.push(`invoke permissions are ${JSON.stringify(statements)}`);
  return problems;
}

// ---------------------------------------------------------------------------

describe('template.yaml: functions and build', () => {
  it.each(Object.keys(FUNCTIONS) as FunctionName[])('%s runs on nodejs22.x, arm64, from its esbuild bundle', (fn) => {
    const props = effectiveFunction(fn);
    expect(resource(template, fn).Type).toBe('AWS::Serverless::Function');
    expect(props.Runtime).toBe('nodejs22.x');
    expect(props.Architectures).toEqual(['arm64']);
    expect(props.CodeUri).toBe('.');
    expect(props.Handler).toBe(FUNCTIONS[fn].handler);
    expect(props.Layers).toEqual([ref('TrustLayer')]);

    const metadata = obj(resource(template, fn).Metadata, `${fn}.Metadata`);
    expect(metadata.BuildMethod).toBe('esbuild');
    const build = obj(metadata.BuildProperties, 'BuildProperties');
    expect(build.EntryPoints).toEqual([FUNCTIONS[fn].entry]);
    // The handler file is the entry point's name with the .mjs extension.
    expect(`${path.basename(FUNCTIONS[fn].entry, '.ts')}.handler`).toBe(props.Handler);
    expect(build.Format).toBe('esm');
    expect(build.OutExtension).toEqual(['.js=.mjs']);
  });

  it.each(Object.keys(FUNCTIONS) as FunctionName[])('%s is bundled by sam build as scripts/bundle.mjs bundles it', (fn) => {
    const build = obj(obj(resource(template, fn).Metadata, 'Metadata').BuildProperties, 'BuildProperties');
    const options = lambdaBuildOptions(FUNCTIONS[fn].entry, '/tmp/out.mjs');
    expect(build.Banner).toEqual([`js=${REQUIRE_SHIM}`]);
    expect(options.banner).toEqual({ js: REQUIRE_SHIM });
    expect(REQUIRE_SHIM).toContain('createRequire');
    expect(build.Target).toBe(options.target);
    expect(build.Format).toBe(options.format);
    expect(build.MainFields).toBe((options.mainFields ?? []).join(','));
    expect(build.Minify).toBe(options.minify);
    expect(build.Sourcemap).toBe(options.sourcemap);
    expect(build.External).toEqual([...OPTIONAL_NATIVE]);
    expect(options.external).toEqual([...OPTIONAL_NATIVE]);
  });

  it('retries the watchdog itself when it throws (a failed StopTask)', () => {
    const fn = obj(template.Resources, 'Resources').TaskWatchdogFunction as Record<string, any>;
    expect(fn.Properties.EventInvokeConfig).toMatchObject({ MaximumRetryAttempts: 2 });
  });

  it('gives each function the documented environment, and the watchdog its TASK_SCOPE', () => {
    const shared = [
      'FAILURE_BEHAVIOR', 'COSIGN_KEY_PEM', 'COSIGN_KEY_ARN', 'POLICY_PARAMETER', 'TRUSTED_SIGNING_PROFILES',
      'ALERT_TOPIC_ARN', 'DECISION_EVENT_BUS', 'DECISION_EVENTS', 'SLACK_WEBHOOK_PARAMETER', 'TRUST_DIR',
      'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL',
    ];
    const hookVars = obj(obj(effectiveFunction('ImageGateHookFunction').Environment, 'env').Variables, 'vars');
    const watchdogVars = obj(obj(effectiveFunction('TaskWatchdogFunction').Environment, 'env').Variables, 'vars');
    expect(Object.keys(hookVars).sort()).toEqual([...shared].sort());
    expect(Object.keys(watchdogVars).sort()).toEqual([...shared, 'TASK_SCOPE'].sort());
    expect(watchdogVars.TASK_SCOPE).toEqual(ref('TaskScope'));
    // With a policy document, these would conflict with it (the loader refuses both at once).
    expect(hookVars.COSIGN_KEY_ARN).toEqual({ 'Fn::If': ['HasPolicyParameter', '', ref('CosignKmsKeyArn')] });
    expect(hookVars.POLICY_PARAMETER).toEqual(ref('PolicyParameterName'));
    expect(hookVars.ALERT_TOPIC_ARN).toEqual(ref('AlertTopic'));
    // FailureBehavior would contradict a policy document's own `mode`.
    expect(hookVars.FAILURE_BEHAVIOR).toEqual({ 'Fn::If': ['HasPolicyParameter', '', ref('FailureBehavior')] });
  });

  it('mounts the trust layer so that its trust/ folder is TRUST_DIR', () => {
    const layer = properties(template, 'TrustLayer');
    expect(resource(template, 'TrustLayer').Type).toBe('AWS::Serverless::LayerVersion');
    // A layer's content root is mounted at /opt: layers/ → /opt, layers/trust → /opt/trust.
    expect(layer.ContentUri).toBe('layers/');
    expect(existsSync(path.join(repoRoot, 'layers', 'trust'))).toBe(true);
    expect(obj(obj(globals.Environment, 'env').Variables, 'vars').TRUST_DIR).toBe('/opt/trust');
    expect(layer.CompatibleRuntimes).toEqual(['nodejs22.x']);
    expect(layer.CompatibleArchitectures).toEqual(['arm64']);
  });

  it('keeps the logs of both functions for LogRetentionInDays', () => {
    for (const [group, fn] of [['ImageGateHookLogGroup', 'ImageGateHookFunction'], ['TaskWatchdogLogGroup', 'TaskWatchdogFunction']] as const) {
      const props = properties(template, group);
      expect(resource(template, group).Type).toBe('AWS::Logs::LogGroup');
      expect(props.LogGroupName).toEqual(sub(`/aws/lambda/\${${fn}}`));
      expect(props.RetentionInDays).toEqual(ref('LogRetentionInDays'));
    }
  });
});

describe('template.yaml: parameters and conditions', () => {
  const param = (name: string) => obj(parameters[name], `parameter ${name}`);

  it('offers exactly the documented choices where there are choices', () => {
    expect(param('FailureBehavior').AllowedValues).toEqual(['BLOCK_ON_FAILURE', 'LOG_ON_FAILURE']);
    expect(param('TaskScope').AllowedValues).toEqual(['standalone', 'all']);
    expect(param('TaskScope').Default).toBe('standalone');
    expect(param('LogLevel').AllowedValues).toEqual(['DEBUG', 'INFO', 'WARN', 'ERROR']);
    for (const name of Object.keys(parameters)) {
      expect(typeof param(name).Description, `${name} needs a Description`).toBe('string');
    }
  });

  it('leaves every optional setting off by default', () => {
    for (const name of ['CosignPublicKey', 'CosignKmsKeyArn', 'PolicyParameterName', 'TrustedSigningProfiles', 'ClusterArns',
      'CrossAccountRepositoryArns', 'ParameterKmsKeyArn', 'AlertEmail', 'AlertTopicKmsKeyArn', 'DecisionEventBus',
      'SlackWebhookParameter']) {
      expect(param(name).Default, name).toBe('');
    }
  });

  it('accepts only values that keep the IAM resources they build exact', () => {
    const accepts = (name: string, value: string) => new RegExp(String(param(name).AllowedPattern)).test(value);
    for (const key of ['CosignKmsKeyArn', 'ParameterKmsKeyArn', 'AlertTopicKmsKeyArn']) {
      expect(accepts(key, 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab')).toBe(true);
      expect(accepts(key, 'arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab')).toBe(true);
      expect(accepts(key, '')).toBe(true);
      expect(accepts(key, '*')).toBe(false);
      expect(accepts(key, 'arn:aws:kms:us-east-1:123456789012:key/*')).toBe(false);
      expect(accepts(key, 'arn:aws:kms:us-east-1:123456789012:alias/cosign')).toBe(false);
    }
    for (const key of ['PolicyParameterName', 'SlackWebhookParameter']) {
      expect(accepts(key, '/ecs-image-gate/policy')).toBe(true);
      expect(accepts(key, '')).toBe(true);
      expect(accepts(key, '/ecs-image-gate/*')).toBe(false);
      expect(accepts(key, 'policy')).toBe(false); // the ARN is built as parameter${Name}
    }
    expect(accepts('DecisionEventBus', 'default')).toBe(true);
    expect(accepts('DecisionEventBus', '*')).toBe(false);
    expect(accepts('TrustedSigningProfiles', 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod')).toBe(true);
    expect(accepts('TrustedSigningProfiles',
      'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod, arn:aws-us-gov:signer:us-gov-west-1:123456789012:/signing-profiles/Gov_2')).toBe(true);
    expect(accepts('TrustedSigningProfiles', 'Prod')).toBe(false);
    expect(accepts('AlertEmail', 'ops@example.com')).toBe(true);
    expect(accepts('AlertEmail', 'not an address')).toBe(false);
  });

  it('refuses at deploy time a policy document together with trust shortcuts', () => {
    const rule = obj(obj(template.Rules, 'Rules').PolicyDocumentOrShortcuts, 'rule');
    expect(rule.RuleCondition).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [ref('PolicyParameterName'), ''] }] });
    expect(list(rule.Assertions, 'Assertions').map((a) => obj(a, 'assertion').Assert)).toEqual([
      { 'Fn::And': [{ 'Fn::Equals': [ref('CosignPublicKey'), ''] }, { 'Fn::Equals': [ref('TrustedSigningProfiles'), ''] }] },
    ]);
  });

  it('turns each optional permission on only when its parameter is set', () => {
    const isSet = (name: string) => ({ 'Fn::Not': [{ 'Fn::Equals': [ref(name), ''] }] });
    const listIsSet = (name: string) => ({ 'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', ref(name)] }, ''] }] });
    expect(conditions.HasPolicyParameter).toEqual(isSet('PolicyParameterName'));
    expect(conditions.HasCosignKmsKey).toEqual(isSet('CosignKmsKeyArn'));
    expect(conditions.HasSlackWebhook).toEqual(isSet('SlackWebhookParameter'));
    expect(conditions.HasParameterKmsKey).toEqual(isSet('ParameterKmsKeyArn'));
    expect(conditions.HasAlertEmail).toEqual(isSet('AlertEmail'));
    expect(conditions.HasAlertTopicKmsKey).toEqual(isSet('AlertTopicKmsKeyArn'));
    expect(conditions.HasDecisionEventBus).toEqual(isSet('DecisionEventBus'));
    expect(conditions.HasClusterArns).toEqual(listIsSet('ClusterArns'));
    expect(conditions.HasCrossAccountRepositories).toEqual(listIsSet('CrossAccountRepositoryArns'));
    expect(conditions.ReadsParameters).toEqual({ 'Fn::Or': [{ Condition: 'HasPolicyParameter' }, { Condition: 'HasSlackWebhook' }] });
    expect(conditions.DecryptsParameters).toEqual({ 'Fn::And': [{ Condition: 'ReadsParameters' }, { Condition: 'HasParameterKmsKey' }] });
  });
});

describe('template.yaml: least privilege', () => {
  it.each(Object.keys(FUNCTIONS) as FunctionName[])('%s has exactly the intended statements', (fn) => {
    expect(permissionProblems(template, fn)).toEqual([]);
  });

  it('lets only the watchdog stop tasks, and only in ClusterArns when they are given', () => {
    const stop = (fn: FunctionName) => grantsOf(template, fn).grants.filter((g) => g.actions.includes('ecs:StopTask'));
    expect(stop('ImageGateHookFunction')).toEqual([]);
    const [grant, ...others] = stop('TaskWatchdogFunction');
    expect(others).toEqual([]);
    expect(grant?.resources).toEqual([arn('ecs', 'task/*')]);
    expect(grant?.iamCondition).toEqual({
      'Fn::If': ['HasClusterArns', { ArnEquals: { 'ecs:cluster': ref('ClusterArns') } }, NO_VALUE],
    });
  });

  it('reads only the configured KMS key and SSM parameters', () => {
    const all = grantsOf(template, 'ImageGateHookFunction').grants;
    const kms = all.filter((g) => g.actions.includes('kms:GetPublicKey'));
    expect(kms).toEqual([{ sid: 'CosignKmsPublicKey', when: 'HasCosignKmsKey', actions: ['kms:GetPublicKey'], resources: [ref('CosignKmsKeyArn')] }]);
    const ssm = all.filter((g) => g.actions.some((a) => a.startsWith('ssm:')));
    expect(ssm.map((g) => g.resources)).toEqual([[
      ifSet('HasPolicyParameter', arn('ssm', 'parameter${PolicyParameterName}')),
      ifSet('HasSlackWebhook', arn('ssm', 'parameter${SlackWebhookParameter}')),
    ]]);
  });

  it('lets ECS, and only ECS, invoke the hook function and nothing else', () => {
    expect(invokeRoleProblems(template)).toEqual([]);
  });
});

describe('template.yaml: events, alerts, outputs', () => {
  it('sends the watchdog only tasks that are starting, from the watched clusters', () => {
    const events = obj(properties(template, 'TaskWatchdogFunction').Events, 'Events');
    const rule = obj(events.TaskStarting, 'TaskStarting');
    expect(rule.Type).toBe('EventBridgeRule');
    const pattern = obj(obj(rule.Properties, 'rule properties').Pattern, 'Pattern');
    expect(pattern.source).toEqual(['aws.ecs']);
    expect(pattern['detail-type']).toEqual(['ECS Task State Change']);
    expect(pattern.detail).toEqual({
      lastStatus: ['PROVISIONING', 'PENDING'],
      desiredStatus: ['RUNNING'],
      clusterArn: { 'Fn::If': ['HasClusterArns', ref('ClusterArns'), NO_VALUE] },
    });
    expect(Object.keys(events)).toEqual(['TaskStarting']);
    expect(properties(template, 'ImageGateHookFunction').Events).toBeUndefined();
  });

  it('encrypts the alert topic and subscribes the email only when given', () => {
    expect(properties(template, 'AlertTopic').KmsMasterKeyId).toEqual({
      'Fn::If': ['HasAlertTopicKmsKey', ref('AlertTopicKmsKeyArn'), 'alias/aws/sns'],
    });
    const subscription = resource(template, 'AlertEmailSubscription');
    expect(subscription.Condition).toBe('HasAlertEmail');
    expect(subscription.Properties).toEqual({ TopicArn: ref('AlertTopic'), Protocol: 'email', Endpoint: ref('AlertEmail') });
  });

  it('outputs what attaching the hook needs', () => {
    const outputs = obj(template.Outputs, 'Outputs');
    const value = (name: string) => obj(outputs[name], name).Value;
    expect(value('HookFunctionArn')).toEqual(getAtt('ImageGateHookFunction', 'Arn'));
    expect(value('HookInvokeRoleArn')).toEqual(getAtt('HookInvokeRole', 'Arn'));
    expect(value('TaskWatchdogFunctionArn')).toEqual(getAtt('TaskWatchdogFunction', 'Arn'));
    expect(value('AlertTopicArn')).toEqual(ref('AlertTopic'));
    // Services defined in other stacks attach the hook with !ImportValue.
    expect(obj(outputs.HookFunctionArn, 'out').Export).toEqual({ Name: sub('${AWS::StackName}-HookFunctionArn') });
    expect(obj(outputs.HookInvokeRoleArn, 'out').Export).toEqual({ Name: sub('${AWS::StackName}-HookInvokeRoleArn') });
    const snippet = obj(value('LifecycleHook'), 'LifecycleHook')['Fn::Sub'];
    expect(typeof snippet).toBe('string');
    // With the references filled in, the snippet is one DeploymentLifecycleHook in API JSON.
    const filled = String(snippet).replace('${ImageGateHookFunction.Arn}', 'FN').replace('${HookInvokeRole.Arn}', 'ROLE');
    expect(JSON.parse(filled)).toEqual({ hookTargetArn: 'FN', roleArn: 'ROLE', lifecycleStages: ['PRE_SCALE_UP'] });
  });
});

describe('events/: hook events and sam local environment', () => {
  const revisionArn = /^arn:aws:ecs:[a-z0-9-]+:\d{12}:service-revision\/[^/]+\/[^/]+\/\d+$/;

  it('has a PRE_SCALE_UP event as ECS sends it (executionDetails wrapper)', () => {
    const event = readJson('events/hook-pre-scale-up.json');
    expect(event.lifecycleStage).toBe('PRE_SCALE_UP');
    expect(String(event.resourceArn)).toMatch(/:service-deployment\/demo-cluster\/web\//);
    const details = obj(event.executionDetails, 'executionDetails');
    expect(String(details.targetServiceRevisionArn)).toMatch(revisionArn);
    expect(details.productionTrafficWeights).toEqual({});
  });

  it('has the same event in the flat form', () => {
    const wrapped = obj(readJson('events/hook-pre-scale-up.json').executionDetails, 'executionDetails');
    const flat = readJson('events/hook-pre-scale-up-flat.json');
    expect(flat.executionDetails).toBeUndefined();
    expect(flat.lifecycleStage).toBe('PRE_SCALE_UP');
    for (const key of ['serviceArn', 'targetServiceRevisionArn', 'testTrafficWeights', 'productionTrafficWeights']) {
      expect(flat[key], key).toEqual(wrapped[key]);
    }
  });

  it('models a rollback as ECS does: PRODUCTION_TRAFFIC_SHIFT with the target revision at weight 0', () => {
    const event = readJson('events/hook-rollback-production-traffic-shift.json');
    expect(event.lifecycleStage).toBe('PRODUCTION_TRAFFIC_SHIFT');
    const details = obj(event.executionDetails, 'executionDetails');
    const target = String(details.targetServiceRevisionArn);
    expect(target).toMatch(revisionArn);
    const weights = obj(details.productionTrafficWeights, 'productionTrafficWeights');
    expect(weights[target]).toBe(0);
    const others = Object.entries(weights).filter(([revision]) => revision !== target);
    expect(others.map(([, weight]) => weight)).toEqual([100]);
    expect(others[0]?.[0]).toMatch(revisionArn);
  });

  it('has a forward PRE_PRODUCTION_TRAFFIC_SHIFT with the same weights: weight 0 alone is not a rollback', () => {
    // ECS re-invokes only TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT hooks on rollback; before a
    // forward shift the target also has weight 0. A handler must look at the stage too.
    const forward = readJson('events/hook-pre-production-traffic-shift.json');
    const rollback = readJson('events/hook-rollback-production-traffic-shift.json');
    expect(forward.lifecycleStage).toBe('PRE_PRODUCTION_TRAFFIC_SHIFT');
    expect(obj(forward.executionDetails, 'd').productionTrafficWeights).toEqual(obj(rollback.executionDetails, 'd').productionTrafficWeights);
  });

  it('has a malformed event whose target is not a service revision', () => {
    const details = obj(readJson('events/hook-malformed.json').executionDetails, 'executionDetails');
    expect(String(details.targetServiceRevisionArn)).not.toMatch(revisionArn);
    expect(Array.isArray(details.productionTrafficWeights)).toBe(true);
  });

  it('sets in env.json exactly the variables the template declares (sam local ignores others)', () => {
    const env = readJson('events/env.json');
    for (const fn of Object.keys(FUNCTIONS) as FunctionName[]) {
      const declared = Object.keys(obj(obj(effectiveFunction(fn).Environment, 'env').Variables, 'vars')).sort();
      expect(Object.keys(obj(env[fn], `env.json ${fn}`)).sort(), fn).toEqual(declared);
    }
  });
});

// cfn-lint runs the real SAM translator and CloudFormation's resource schemas: an
// independent check of what the tests above cannot see (property names, types).
const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
const hasCfnLint = cfnLint.status === 0;
if (!hasCfnLint) console.log('skipping the cfn-lint check: cfn-lint is not installed (pip install cfn-lint)');

describe.skipIf(!hasCfnLint)('template.yaml: cfn-lint', () => {
  it('passes cfn-lint, SAM transform included', () => {
    const run = spawnSync('cfn-lint', ['--format', 'parseable', '--', 'template.yaml'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  }, 130_000);
});

describe('the checks above fail when a permission is widened', () => {
  const widened = (change: (doc: JsonObject) => void): JsonObject => {
    const copy = structuredClone(template);
    change(copy);
    return copy;
  };
  const inlineStatements = (doc: JsonObject, fn: FunctionName) =>
    list(obj(list(properties(doc, fn).Policies, 'Policies')[1], 'inline policy').Statement, 'Statement');
  const sharedStatements = (doc: JsonObject) =>
    list(obj(properties(doc, 'VerifyAndAlertPolicy').PolicyDocument, 'document').Statement, 'Statement');

  it('catches a wildcard action', () => {
    const doc = widened((d) => inlineStatements(d, 'ImageGateHookFunction').push({ Effect: 'Allow', Action: 'ecs:*', Resource: '*' }));
    expect(permissionProblems(doc, 'ImageGateHookFunction').join('\n')).toMatch(/wildcard action ecs:\*/);
  });

  it('catches a KMS grant on every key', () => {
    const doc = widened((d) => {
      const kms = sharedStatements(d).map((s) => obj(s, 's')).find((s) => JSON.stringify(s).includes('CosignKmsPublicKey'));
      obj(list(obj(kms, 'kms')['Fn::If'], 'if')[1], 'statement').Resource = '*';
    });
    expect(permissionProblems(doc, 'ImageGateHookFunction').join('\n')).toMatch(/Resource '\*' for kms:GetPublicKey/);
  });

  it('catches StopTask without the cluster condition', () => {
    const doc = widened((d) => {
      const stop = inlineStatements(d, 'TaskWatchdogFunction').map((s) => obj(s, 's')).find((s) => s.Sid === 'StopUnsignedTasks');
      delete obj(stop, 'stop').Condition;
    });
    expect(permissionProblems(doc, 'TaskWatchdogFunction')).not.toEqual([]);
  });

  it('catches an SSM read of every parameter', () => {
    const doc = widened((d) => {
      const ssm = sharedStatements(d).map((s) => obj(s, 's')).find((s) => JSON.stringify(s).includes('ReadConfigurationParameters'));
      obj(list(obj(ssm, 'ssm')['Fn::If'], 'if')[1], 'statement').Resource = arn('ssm', 'parameter/*');
    });
    expect(permissionProblems(doc, 'TaskWatchdogFunction')).not.toEqual([]);
  });

  it('catches an AWS managed policy added to a function', () => {
    const doc = widened((d) => list(properties(d, 'TaskWatchdogFunction').Policies, 'Policies').push('AmazonECS_FullAccess'));
    expect(permissionProblems(doc, 'TaskWatchdogFunction').join('\n')).toMatch(/AmazonECS_FullAccess/);
  });

  it('catches a second trusted principal or a wider invoke permission', () => {
    const trusted = widened((d) => {
      const statement = obj(list(obj(properties(d, 'HookInvokeRole').AssumeRolePolicyDocument, 'trust').Statement, 's')[0], 's0');
      statement.Principal = { Service: ['ecs.amazonaws.com', 'lambda.amazonaws.com'] };
    });
    expect(invokeRoleProblems(trusted)).not.toEqual([]);
    const invoke = widened((d) => {
      const policy = obj(list(properties(d, 'HookInvokeRole').Policies, 'p')[0], 'p0');
      obj(list(obj(policy.PolicyDocument, 'doc').Statement, 's')[0], 's0').Resource = arn('lambda', 'function:*');
    });
    expect(invokeRoleProblems(invoke)).not.toEqual([]);
  });
});
