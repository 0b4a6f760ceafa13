/**
 * template.yaml, checked as CloudFormation will read it: the runtime and build of
 * both functions, the parameters, and above all the permissions. The permission
 * tests compare every statement with the exact grant this project needs, so
 * widening one (an action, a resource, a dropped condition, an extra policy)
 * fails here; the last block proves that by widening a copy on purpose.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// ---------------------------------------------------------------------------
// Reading the template: CloudFormation's short-form tags become their long form.
// ---------------------------------------------------------------------------

const INTRINSICS = [
  'Ref',
  'Condition',
  'Sub',
  'GetAtt',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'Select',
  'Split',
  'Join',
  'FindInMap',
  'Base64',
  'Cidr',
  'GetAZs',
  'ImportValue',
  'Transform',
] as const;

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
  return parse(readFileSync(path.join(repoRoot, 'template.yaml'), 'utf8'), {
    customTags: cloudFormationTags,
  }) as JsonObject;
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
const _resources = obj(template.Resources, 'Resources');
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
        if (managed.Type !== 'AWS::IAM::ManagedPolicy')
          problems.push(`${fn}.Policies[${i}] refers to ${entry.Ref}, not a managed policy`);
        return [[obj(obj(managed.Properties, entry.Ref).PolicyDocument, `${entry.Ref}.PolicyDocument`), entry.Ref]];
      }
      if (entry.Statement !== undefined) return [[entry, `${fn}.Policies[${i}]`]];
    }
    problems.push(
      `${fn}.Policies[${i}] is ${JSON.stringify(entry)}: only inline documents and this template's managed policies are allowed`,
    );
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
  {
    sid: 'CosignKmsPublicKey',
    when: 'HasCosignKmsKey',
    actions: ['kms:GetPublicKey'],
    resources: [ref('CosignKmsKeyArn')],
  },
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
    actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
    resources: [{ 'Fn::If': ['HasAlertTopicKmsKey', ref('AlertTopicKmsKeyArn'), getAtt('AlertTopicKey', 'Arn')] }],
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
    {
      sid: 'ConfirmRollbacks',
      actions: ['ecs:DescribeServiceDeployments'],
      resources: [arn('ecs', 'service/*'), arn('ecs', 'service-deployment/*')],
    },
    { sid: 'ReadVersionConsistency', actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] },
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
    // Lambda writes the on-failure record of an async invocation with the function's role.
    { sid: 'SendFailedInvocations', actions: ['sqs:SendMessage'], resources: [getAtt('WatchdogFailureQueue', 'Arn')] },
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
    // Actions without resource-level permissions are the only ones that may have Resource '*'.
    const unscoped = ['ecr:GetAuthorizationToken', 'ecs:DescribeTaskDefinition'];
    if (grant.resources.includes('*') && !(grant.actions.length === 1 && unscoped.includes(grant.actions[0]!))) {
      problems.push(`${fn} ${grant.sid}: Resource '*' for ${grant.actions.join(', ')}`);
    }
  }
  const actual = JSON.stringify(normalize(grants));
  const expected = JSON.stringify(normalize(EXPECTED_GRANTS[fn]));
  if (actual !== expected)
    problems.push(`${fn}: statements differ from the intended grants\n  actual:   ${actual}\n  expected: ${expected}`);
  return problems;
}

function invokeRoleProblems(doc: JsonObject): string[] {
  const role = properties(doc, 'HookInvokeRole');
  const problems: string[] = [];
  const trust = list(obj(role.AssumeRolePolicyDocument, 'trust policy').Statement, 'trust statements');
  const expectedTrust = [
    {
      Effect: 'Allow',
      Principal: { Service: 'ecs.amazonaws.com' },
      Action: 'sts:AssumeRole',
      // confused deputy: ECS acting for this account only
      Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
    },
  ];
  if (JSON.stringify(trust) !== JSON.stringify(expectedTrust))
    problems.push(`trust policy is ${JSON.stringify(trust)}`);
  for (const key of ['ManagedPolicyArns', 'PermissionsBoundary']) {
    if (role[key] !== undefined) problems.push(`HookInvokeRole has ${key}`);
  }
  const statements = list(role.Policies, 'HookInvokeRole.Policies').flatMap((p, i) =>
    list(obj(obj(p, `policy ${i}`).PolicyDocument, 'PolicyDocument').Statement, 'Statement'),
  );
  const expected = [
    { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: getAtt('ImageGateHookFunction', 'Arn') },
  ];
  if (JSON.stringify(statements) !== JSON.stringify(expected))
    problems.push(`invoke permissions are ${JSON.stringify(statements)}`);
  return problems;
}

// sam build needs make too; without it the build tests say so and skip.
const hasMake = spawnSync('make', ['--version'], { encoding: 'utf8' }).status === 0;

/** `make build-<fn>` into `out`, as sam build runs it; returns the entry file's name. */
function makeBuild(fn: FunctionName, out: string): string {
  const run = spawnSync('make', ['--no-print-directory', `build-${fn}`, `ARTIFACTS_DIR=${out}`], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return `${path.basename(FUNCTIONS[fn].entry, '.ts')}.mjs`;
}

/** An ES module script in a fresh Node with no node_modules within reach: the bundle must stand alone. */
function runIsolated(script: string, env: Record<string, string>) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: tmpdir(),
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

function ecPublicKeyPem(): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
if (!hasMake) console.log('skipping the Makefile build checks: make is not installed (apt-get install make)');

/** The recipe lines of one Makefile target (tabs stripped). */
function makeTarget(name: string): string[] {
  const lines = readFileSync(path.join(repoRoot, 'Makefile'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(`${name}:`));
  if (start < 0) return [];
  const recipe: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('\t')) break;
    recipe.push(line.slice(1));
  }
  return recipe;
}

// ---------------------------------------------------------------------------
// Nothing lost: the queues, who writes to them, and the alarms on them.
// ---------------------------------------------------------------------------

/** The watchdog's async invocation config: retries, then the encrypted failure queue. */
function failureDestinationProblems(doc: JsonObject): string[] {
  const problems: string[] = [];
  const config = obj(doc.Resources, 'Resources').TaskWatchdogInvokeConfig;
  if (!config) return ['no AWS::Lambda::EventInvokeConfig TaskWatchdogInvokeConfig'];
  const props = obj(obj(config, 'config').Properties, 'config properties');
  const expected = {
    FunctionName: ref('TaskWatchdogFunction'),
    Qualifier: '$LATEST',
    MaximumRetryAttempts: 2,
    MaximumEventAgeInSeconds: 600,
    DestinationConfig: { OnFailure: { Destination: getAtt('WatchdogFailureQueue', 'Arn') } },
  };
  if (obj(config, 'config').Type !== 'AWS::Lambda::EventInvokeConfig')
    problems.push('TaskWatchdogInvokeConfig has the wrong type');
  if (JSON.stringify(props) !== JSON.stringify(expected)) problems.push(`invoke config is ${JSON.stringify(props)}`);
  const sends = grantsOf(doc, 'TaskWatchdogFunction').grants.filter((g) => g.actions.some((a) => a.startsWith('sqs:')));
  const exact = [
    { sid: 'SendFailedInvocations', actions: ['sqs:SendMessage'], resources: [getAtt('WatchdogFailureQueue', 'Arn')] },
  ];
  if (JSON.stringify(sends) !== JSON.stringify(exact))
    problems.push(`the watchdog's SQS grants are ${JSON.stringify(sends)}`);
  return problems;
}

const QUEUES = ['TaskEventDeadLetterQueue', 'WatchdogFailureQueue'] as const;

/** Both queues encrypted and kept 14 days; each writable by exactly its one writer. */
function queueProblems(doc: JsonObject): string[] {
  const problems: string[] = [];
  for (const queue of QUEUES) {
    const props = properties(doc, queue);
    if (resource(doc, queue).Type !== 'AWS::SQS::Queue') problems.push(`${queue} is not an SQS queue`);
    if (props.SqsManagedSseEnabled !== true && props.KmsMasterKeyId === undefined)
      problems.push(`${queue} is not encrypted`);
    if (props.MessageRetentionPeriod !== 1209600)
      problems.push(`${queue} keeps messages ${String(props.MessageRetentionPeriod)} s`);
  }
  const policy = (name: string) => {
    const props = properties(doc, name);
    return { queues: props.Queues, statements: list(obj(props.PolicyDocument, 'doc').Statement, 'Statement') };
  };
  const dlq = policy('TaskEventDeadLetterQueuePolicy');
  const dlqExpected = {
    queues: [ref('TaskEventDeadLetterQueue')],
    statements: [
      {
        Sid: 'TheTaskRuleDeliversItsFailures',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: getAtt('TaskEventDeadLetterQueue', 'Arn'),
        Condition: { ArnEquals: { 'aws:SourceArn': getAtt('TaskWatchdogFunctionTaskStarting', 'Arn') } },
      },
    ],
  };
  if (JSON.stringify(dlq) !== JSON.stringify(dlqExpected))
    problems.push(`dead-letter queue policy is ${JSON.stringify(dlq)}`);
  const failure = policy('WatchdogFailureQueuePolicy');
  const failureExpected = {
    queues: [ref('WatchdogFailureQueue')],
    statements: [
      {
        Sid: 'OnlyTheWatchdogWrites',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sqs:SendMessage',
        Resource: getAtt('WatchdogFailureQueue', 'Arn'),
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': getAtt('TaskWatchdogFunctionRole', 'Arn') } },
      },
    ],
  };
  if (JSON.stringify(failure) !== JSON.stringify(failureExpected))
    problems.push(`failure queue policy is ${JSON.stringify(failure)}`);
  return problems;
}

interface AlarmSpec {
  namespace: string;
  metric: string;
  dimensions: Record<string, Json>;
  statistic: string;
}

const ALARMS: Record<string, AlarmSpec> = {
  TaskEventDeadLetterAlarm: {
    namespace: 'AWS/SQS',
    metric: 'ApproximateNumberOfMessagesVisible',
    statistic: 'Maximum',
    dimensions: { QueueName: getAtt('TaskEventDeadLetterQueue', 'QueueName') },
  },
  WatchdogFailureAlarm: {
    namespace: 'AWS/SQS',
    metric: 'ApproximateNumberOfMessagesVisible',
    statistic: 'Maximum',
    dimensions: { QueueName: getAtt('WatchdogFailureQueue', 'QueueName') },
  },
  HookErrorsAlarm: {
    namespace: 'AWS/Lambda',
    metric: 'Errors',
    statistic: 'Sum',
    dimensions: { FunctionName: ref('ImageGateHookFunction') },
  },
  WatchdogErrorsAlarm: {
    namespace: 'AWS/Lambda',
    metric: 'Errors',
    statistic: 'Sum',
    dimensions: { FunctionName: ref('TaskWatchdogFunction') },
  },
  InternalErrorDecisionsAlarm: {
    namespace: 'EcsImageGate',
    metric: 'Decisions',
    statistic: 'Sum',
    dimensions: { service: 'ecs-image-gate', reason: 'INTERNAL_ERROR', decision: 'deny' },
  },
};

/** Each alarm fires on the first occurrence, is quiet without data, and tells the alert topic. */
function alarmProblems(doc: JsonObject): string[] {
  const problems: string[] = [];
  const alarms = Object.entries(obj(doc.Resources, 'Resources')).filter(
    ([, r]) => obj(r, 'r').Type === 'AWS::CloudWatch::Alarm',
  );
  const names = alarms.map(([name]) => name).sort();
  if (JSON.stringify(names) !== JSON.stringify(Object.keys(ALARMS).sort()))
    problems.push(`alarms are ${names.join(', ')}`);
  for (const [name, spec] of Object.entries(ALARMS)) {
    const props = obj(obj(doc.Resources, 'Resources')[name] ?? { Properties: {} }, name).Properties as JsonObject;
    const dims = Object.fromEntries(
      list(props.Dimensions ?? [], 'Dimensions').map((d) => [String(obj(d, 'd').Name), obj(d, 'd').Value as Json]),
    );
    const actual = {
      namespace: props.Namespace,
      metric: props.MetricName,
      statistic: props.Statistic,
      dimensions: dims,
      threshold: props.Threshold,
      comparison: props.ComparisonOperator,
      missing: props.TreatMissingData,
      actions: props.AlarmActions,
      name: props.AlarmName,
    };
    const expected = {
      namespace: spec.namespace,
      metric: spec.metric,
      statistic: spec.statistic,
      dimensions: spec.dimensions,
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
      actions: [ref('AlertTopic')],
      name: actual.name,
    };
    if (JSON.stringify(actual) !== JSON.stringify(expected)) problems.push(`${name}: ${JSON.stringify(actual)}`);
    // the topic policy admits exactly the alarms named ${AWS::StackName}-…
    if (!String(obj(props.AlarmName ?? {}, 'AlarmName')['Fn::Sub'] ?? '').startsWith('${AWS::StackName}-')) {
      problems.push(`${name}: AlarmName must start with the stack name`);
    }
  }
  return problems;
}

/** All of src/ as one text, to find what the code emits. */
const sourceText = (() => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.push(readFileSync(full, 'utf8'));
    }
  };
  walk(path.join(repoRoot, 'src'));
  return files.join('\n');
})();

interface MetricUse {
  where: string;
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
}

/** The dashboard body as CloudWatch reads it, references replaced by placeholders. */
function dashboardBody(doc: JsonObject): JsonObject {
  const text = String(obj(properties(doc, 'OperationsDashboard').DashboardBody, 'body')['Fn::Sub']);
  return JSON.parse(text.replace(/\$\{([^}]+)\}/g, '<$1>')) as JsonObject;
}

/** Every metric a dashboard widget or alarm names, SEARCH expressions included. */
function metricUses(doc: JsonObject): MetricUse[] {
  const uses: MetricUse[] = [];
  for (const widget of list(dashboardBody(doc).widgets, 'widgets')) {
    const props = obj(obj(widget, 'widget').properties, 'properties');
    const where = `widget "${String(props.title)}"`;
    for (const row of list(props.metrics, 'metrics')) {
      const items = list(row, 'row');
      const first = items[0];
      if (
        typeof first === 'object' &&
        first !== null &&
        !Array.isArray(first) &&
        typeof first.expression === 'string'
      ) {
        const search = /SEARCH\('\{([^}]*)\}([^']*)'/.exec(first.expression);
        if (!search) continue;
        const [namespace, ...keys] = search[1]!.split(',');
        const terms = Object.fromEntries([...search[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
        const { MetricName, ...values } = terms;
        uses.push({
          where,
          namespace: namespace!,
          name: MetricName ?? '',
          dimensions: Object.fromEntries(keys.map((k) => [k, values[k] ?? '*'])),
        });
        continue;
      }
      const strings = items.filter((i): i is string => typeof i === 'string');
      const dims: Record<string, string> = {};
      for (let i = 2; i + 1 < strings.length; i += 2) dims[strings[i]!] = strings[i + 1]!;
      uses.push({ where, namespace: strings[0]!, name: strings[1]!, dimensions: dims });
    }
  }
  for (const [name, r] of Object.entries(obj(doc.Resources, 'Resources'))) {
    if (obj(r, name).Type !== 'AWS::CloudWatch::Alarm') continue;
    const props = obj(obj(r, name).Properties, name);
    const dims = Object.fromEntries(
      list(props.Dimensions ?? [], 'Dimensions').map((d) => [String(obj(d, 'd').Name), String(obj(d, 'd').Value)]),
    );
    uses.push({
      where: `alarm ${name}`,
      namespace: String(props.Namespace),
      name: String(props.MetricName),
      dimensions: dims,
    });
  }
  return uses;
}

/**
 * A dashboard or alarm metric of our namespace that src/ does not emit shows nothing
 * or never fires: every name must be an addMetric('Name') in src, every dimension an
 * addDimension('key'), every value a literal in src, and `service` the function's.
 */
function emittedMetricProblems(doc: JsonObject): string[] {
  const variables = obj(obj(globals.Environment, 'env').Variables, 'vars');
  const problems: string[] = [];
  for (const use of metricUses(doc)) {
    if (use.namespace !== variables.POWERTOOLS_METRICS_NAMESPACE) continue;
    if (!sourceText.includes(`addMetric('${use.name}'`))
      problems.push(`${use.where}: metric ${use.name} is not emitted in src/`);
    for (const [key, value] of Object.entries(use.dimensions)) {
      if (key === 'service') {
        if (value !== variables.POWERTOOLS_SERVICE_NAME)
          problems.push(
            `${use.where}: service=${value}, but the functions' is ${String(variables.POWERTOOLS_SERVICE_NAME)}`,
          );
        continue;
      }
      if (!sourceText.includes(`addDimension('${key}'`))
        problems.push(`${use.where}: dimension ${key} is not emitted in src/`);
      if (value !== '*' && !sourceText.includes(`'${value}'`))
        problems.push(`${use.where}: ${key}=${value} appears nowhere in src/`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------

describe('template.yaml: functions and build', () => {
  it.each(Object.keys(FUNCTIONS) as FunctionName[])('%s runs on nodejs22.x, arm64, built by the Makefile', (fn) => {
    const props = effectiveFunction(fn);
    expect(resource(template, fn).Type).toBe('AWS::Serverless::Function');
    expect(props.Runtime).toBe('nodejs22.x');
    expect(props.Architectures).toEqual(['arm64']);
    expect(props.CodeUri).toBe('.');
    expect(props.Handler).toBe(FUNCTIONS[fn].handler);
    expect(props.Layers).toEqual([ref('TrustLayer')]);
    // sam build runs `make build-<LogicalId>`; no esbuild of SAM's own (global or in a scratch npm install)
    expect(resource(template, fn).Metadata).toEqual({ BuildMethod: 'makefile' });
    const name = path.basename(FUNCTIONS[fn].entry, '.ts');
    expect(makeTarget(`build-${fn}`)).toEqual([`$(NODE) scripts/build.mjs handler ${name} "$(ARTIFACTS_DIR)"`]);
    expect(`${name}.handler`).toBe(props.Handler);
  });

  it.skipIf(!hasMake).each(Object.keys(FUNCTIONS) as FunctionName[])(
    '`make build-%s` bundles the handler into ARTIFACTS_DIR as an ES module that exports handler, and its chunks',
    (fn) => {
      const out = mkdtempSync(path.join(tmpdir(), 'sam-artifacts-'));
      try {
        const file = makeBuild(fn, out);
        expect(readdirSync(out).sort()).toEqual(['chunks', file]);
        const chunks = readdirSync(path.join(out, 'chunks'));
        expect(chunks.length).toBeGreaterThan(0);
        expect(chunks.filter((c) => !c.endsWith('.mjs'))).toEqual([]);
        const load = runIsolated(
          `const m = await import(${JSON.stringify(path.join(out, file))}); process.stdout.write(typeof m.handler);`,
          { AWS_REGION: 'us-east-1' },
        );
        expect(load.stderr).toBe('');
        expect(load.stdout).toBe('function');
        expect(statSync(path.join(out, file)).size).toBeGreaterThan(10_000);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it.skipIf(!hasMake)(
    "the hook's artifacts load a policy's verifier families from their chunks, on first use",
    () => {
      const out = mkdtempSync(path.join(tmpdir(), 'sam-artifacts-'));
      try {
        const file = makeBuild('ImageGateHookFunction', out);
        // audit mode: a malformed event answers SUCCEEDED once the policy compiles (its
        // families loaded), FAILED when it cannot (FAILURE_BEHAVIOR unset: enforce)
        const policy = {
          version: 1,
          mode: 'audit',
          rules: [
            {
              name: 'signed',
              images: ['**'],
              verifiers: [
                { type: 'cosign', publicKey: ecPublicKeyPem() },
                {
                  type: 'aws-signer',
                  signingProfiles: ['arn:aws:signer:us-east-1:123456789012:/signing-profiles/app'],
                  revocation: 'skip',
                },
              ],
            },
          ],
        };
        const invoke = () =>
          runIsolated(
            `const { handler } = await import(${JSON.stringify(path.join(out, file))});` +
              "const answer = await handler({}, { getRemainingTimeInMillis: () => 30000, functionName: 'f', awsRequestId: 'r' });" +
              'process.stdout.write(`\\nANSWER ${JSON.stringify(answer)}`);',
            {
              AWS_REGION: 'us-east-1',
              POLICY: JSON.stringify(policy),
              TRUST_DIR: path.join(repoRoot, 'layers', 'trust'), // the layer: AWS Signer roots
            },
          );
        const answerOf = (run: ReturnType<typeof invoke>) => /ANSWER (\{[^}]*\})/.exec(run.stdout)?.[1];
        expect(answerOf(invoke())).toBe('{"hookStatus":"SUCCEEDED"}');
        // the Notary family (pkijs, asn1js, the AWS Signer roots' parser) is only in its chunk
        const notary = readdirSync(path.join(out, 'chunks')).filter((c) => c.startsWith('notary-family-'));
        expect(notary).toHaveLength(1);
        rmSync(path.join(out, 'chunks', notary[0]!));
        expect(answerOf(invoke())).toBe('{"hookStatus":"FAILED"}');
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it.skipIf(!hasMake)('refuses a build without ARTIFACTS_DIR with a sentence that says what to do', () => {
    const run = spawnSync('make', ['--no-print-directory', 'build-TaskWatchdogFunction'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, ARTIFACTS_DIR: '' },
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('ARTIFACTS_DIR is not set');
  });

  it('sends a watchdog invocation that still fails after 2 retries, or waited 10 minutes, to the failure queue', () => {
    expect(failureDestinationProblems(template)).toEqual([]);
    expect(properties(template, 'TaskWatchdogFunction').EventInvokeConfig).toBeUndefined(); // SAM's would add its own grant
  });

  it('gives each function the documented environment, and the watchdog its TASK_SCOPE', () => {
    const shared = [
      'FAILURE_BEHAVIOR',
      'COSIGN_KEY_PEM',
      'COSIGN_KEY_ARN',
      'POLICY_PARAMETER',
      'TRUSTED_SIGNING_PROFILES',
      'ALERT_TOPIC_ARN',
      'DECISION_EVENT_BUS',
      'DECISION_EVENTS',
      'SLACK_WEBHOOK_PARAMETER',
      'TRUST_DIR',
      'POWERTOOLS_SERVICE_NAME',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_LOG_LEVEL',
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
    for (const [group, fn] of [
      ['ImageGateHookLogGroup', 'ImageGateHookFunction'],
      ['TaskWatchdogLogGroup', 'TaskWatchdogFunction'],
    ] as const) {
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
    for (const name of [
      'CosignPublicKey',
      'CosignKmsKeyArn',
      'PolicyParameterName',
      'TrustedSigningProfiles',
      'ClusterArns',
      'CrossAccountRepositoryArns',
      'ParameterKmsKeyArn',
      'AlertEmail',
      'AlertTopicKmsKeyArn',
      'DecisionEventBus',
      'SlackWebhookParameter',
    ]) {
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
    expect(accepts('TrustedSigningProfiles', 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod')).toBe(
      true,
    );
    expect(
      accepts(
        'TrustedSigningProfiles',
        'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod, arn:aws-us-gov:signer:us-gov-west-1:123456789012:/signing-profiles/Gov_2',
      ),
    ).toBe(true);
    expect(accepts('TrustedSigningProfiles', 'Prod')).toBe(false);
    expect(accepts('AlertEmail', 'ops@example.com')).toBe(true);
    expect(accepts('AlertEmail', 'not an address')).toBe(false);
  });

  it('says, in the template and the README alike, that CosignKmsKeyArn takes a key ARN and not an alias', () => {
    // IAM grants kms:GetPublicKey on a key ARN; an alias ARN in Resource matches no key
    expect(String(param('CosignKmsKeyArn').Description)).toContain('not an alias ARN');
    expect(String(param('CosignKmsKeyArn').ConstraintDescription)).toContain('not an alias ARN');
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const row = readme.split('\n').find((l) => l.startsWith('| `CosignKmsKeyArn`'));
    expect(row).toContain('key ARN (not an alias ARN');
  });

  it('refuses at deploy time a policy document together with trust shortcuts', () => {
    const rule = obj(obj(template.Rules, 'Rules').PolicyDocumentOrShortcuts, 'rule');
    expect(rule.RuleCondition).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [ref('PolicyParameterName'), ''] }] });
    expect(list(rule.Assertions, 'Assertions').map((a) => obj(a, 'assertion').Assert)).toEqual([
      {
        'Fn::And': [
          { 'Fn::Equals': [ref('CosignPublicKey'), ''] },
          { 'Fn::Equals': [ref('TrustedSigningProfiles'), ''] },
        ],
      },
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
    expect(conditions.ReadsParameters).toEqual({
      'Fn::Or': [{ Condition: 'HasPolicyParameter' }, { Condition: 'HasSlackWebhook' }],
    });
    expect(conditions.DecryptsParameters).toEqual({
      'Fn::And': [{ Condition: 'ReadsParameters' }, { Condition: 'HasParameterKmsKey' }],
    });
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
    expect(kms).toEqual([
      {
        sid: 'CosignKmsPublicKey',
        when: 'HasCosignKmsKey',
        actions: ['kms:GetPublicKey'],
        resources: [ref('CosignKmsKeyArn')],
      },
    ]);
    const ssm = all.filter((g) => g.actions.some((a) => a.startsWith('ssm:')));
    expect(ssm.map((g) => g.resources)).toEqual([
      [
        ifSet('HasPolicyParameter', arn('ssm', 'parameter${PolicyParameterName}')),
        ifSet('HasSlackWebhook', arn('ssm', 'parameter${SlackWebhookParameter}')),
      ],
    ]);
  });

  it('lets ECS, and only ECS, invoke the hook function and nothing else', () => {
    expect(invokeRoleProblems(template)).toEqual([]);
  });
});

describe('template.yaml: events, alerts, outputs', () => {
  it('sends the watchdog the events of starting tasks that can carry image digests, from the watched clusters', () => {
    const events = obj(properties(template, 'TaskWatchdogFunction').Events, 'Events');
    const rule = obj(events.TaskStarting, 'TaskStarting');
    expect(rule.Type).toBe('EventBridgeRule');
    const pattern = obj(obj(rule.Properties, 'rule properties').Pattern, 'Pattern');
    expect(pattern.source).toEqual(['aws.ecs']);
    expect(pattern['detail-type']).toEqual(['ECS Task State Change']);
    // The agent reports a tag's digest after pulling the manifest: PENDING or later, not PROVISIONING.
    expect(pattern.detail).toEqual({
      lastStatus: ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING'],
      desiredStatus: ['RUNNING'],
      clusterArn: { 'Fn::If': ['HasClusterArns', ref('ClusterArns'), NO_VALUE] },
    });
    // delivery failures go to the stack's own encrypted queue
    expect(obj(rule.Properties, 'p').DeadLetterConfig).toEqual({ Arn: getAtt('TaskEventDeadLetterQueue', 'Arn') });
    expect(Object.keys(events)).toEqual(['TaskStarting']);
    expect(properties(template, 'ImageGateHookFunction').Events).toBeUndefined();
  });

  it('encrypts the alert topic with a key CloudWatch alarms may use, and subscribes the email only when given', () => {
    // alias/aws/sns would refuse the alarms: its key policy cannot admit cloudwatch.amazonaws.com
    expect(properties(template, 'AlertTopic').KmsMasterKeyId).toEqual({
      'Fn::If': ['HasAlertTopicKmsKey', ref('AlertTopicKmsKeyArn'), getAtt('AlertTopicKey', 'Arn')],
    });
    expect(conditions.CreatesAlertTopicKey).toEqual({ 'Fn::Equals': [ref('AlertTopicKmsKeyArn'), ''] });
    expect(resource(template, 'AlertTopicKey').Condition).toBe('CreatesAlertTopicKey');
    const key = properties(template, 'AlertTopicKey');
    expect(key.EnableKeyRotation).toBe(true);
    expect(obj(key.KeyPolicy, 'policy').Statement).toEqual([
      {
        Sid: 'AccountAdministersAndGrantsThroughIam',
        Effect: 'Allow',
        Principal: { AWS: sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:root') },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Sid: 'CloudWatchAlarmsPublishToTheTopic',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
      },
    ]);
    expect(String(obj(parameters.AlertTopicKmsKeyArn, 'p').Description)).toContain('cloudwatch.amazonaws.com');
    // the topic admits this stack's alarms (named ${AWS::StackName}-…) and no other service
    expect(properties(template, 'AlertTopicPolicy')).toEqual({
      Topics: [ref('AlertTopic')],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'ThisStacksAlarmsPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: ref('AlertTopic'),
            Condition: {
              ArnLike: {
                'aws:SourceArn': sub(
                  'arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-*',
                ),
              },
              StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') },
            },
          },
        ],
      },
    });
    const subscription = resource(template, 'AlertEmailSubscription');
    expect(subscription.Condition).toBe('HasAlertEmail');
    expect(subscription.Properties).toEqual({
      TopicArn: ref('AlertTopic'),
      Protocol: 'email',
      Endpoint: ref('AlertEmail'),
    });
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
    const filled = String(snippet)
      .replace('${ImageGateHookFunction.Arn}', 'FN')
      .replace('${HookInvokeRole.Arn}', 'ROLE');
    // PRE_SCALE_UP before any new task (tags resolved by the gate if ECS has no digest yet),
    // POST_SCALE_UP on the digests ECS established, before any traffic
    expect(JSON.parse(filled)).toEqual({
      hookTargetArn: 'FN',
      roleArn: 'ROLE',
      lifecycleStages: ['PRE_SCALE_UP', 'POST_SCALE_UP'],
    });
    expect(value('TaskEventDeadLetterQueueUrl')).toEqual(ref('TaskEventDeadLetterQueue'));
    expect(value('WatchdogFailureQueueUrl')).toEqual(ref('WatchdogFailureQueue'));
    expect(value('DashboardName')).toEqual(ref('OperationsDashboard'));
  });
});

describe('template.yaml: nothing lost, and someone is told', () => {
  it('keeps both kinds of failed task events in encrypted queues, each writable by its one writer only', () => {
    expect(queueProblems(template)).toEqual([]);
  });

  it('alarms on both queues, on errors of both functions and on INTERNAL_ERROR decisions, to the alert topic', () => {
    expect(alarmProblems(template)).toEqual([]);
  });
});

describe('template.yaml: the dashboard shows what the code emits', () => {
  const uses = metricUses(template);
  const shown = (title: string) =>
    uses
      .filter((u) => u.where === `widget "${title}"`)
      .map(({ namespace, name, dimensions }) => ({ namespace, name, dimensions }));
  const service = 'ecs-image-gate';

  it('names only metrics, dimensions and values that src/ emits', () => {
    expect(uses.filter((u) => u.namespace === 'EcsImageGate').length).toBeGreaterThan(10);
    expect(emittedMetricProblems(template)).toEqual([]);
  });

  it('has a widget for each question an operator asks', () => {
    expect(shown('Decisions by reason')).toEqual([
      { namespace: 'EcsImageGate', name: 'Decisions', dimensions: { service, reason: '*', decision: '*' } },
    ]);
    expect(shown('Decisions by source')).toEqual([
      { namespace: 'EcsImageGate', name: 'Decisions', dimensions: { service, source: '*', decision: '*' } },
    ]);
    expect(shown('Denies by reason (enforce and audit)')).toEqual([
      { namespace: 'EcsImageGate', name: 'Decisions', dimensions: { service, reason: '*', decision: 'deny' } },
    ]);
    expect(shown('Errors')).toEqual([
      { namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: '<ImageGateHookFunction>' } },
      { namespace: 'AWS/Lambda', name: 'Errors', dimensions: { FunctionName: '<TaskWatchdogFunction>' } },
      {
        namespace: 'EcsImageGate',
        name: 'Decisions',
        dimensions: { service, reason: 'INTERNAL_ERROR', decision: 'deny' },
      },
    ]);
    const latency = list(obj(obj(list(dashboardBody(template).widgets, 'w')[4], 'w').properties, 'p').metrics, 'm');
    expect(latency.map((row) => obj(list(row, 'row').at(-1), 'options').stat)).toEqual(['p50', 'p99', 'p50', 'p99']);
    expect(shown('Decision latency (ms)').map((u) => u.dimensions.source)).toEqual([
      'deployment-gate',
      'deployment-gate',
      'task-watchdog',
      'task-watchdog',
    ]);
    expect(shown('Watchdog stops').map((u) => [u.name, u.dimensions.action])).toEqual([
      ['WatchdogTasks', 'stopped'],
      ['WatchdogTasks', 'stop-failed'],
    ]);
    expect(shown('Alerts not delivered').map((u) => [u.name, u.dimensions.channel])).toEqual([
      ['AlertDeliveryFailures', 'sns'],
      ['AlertDeliveryFailures', 'eventbridge'],
      ['AlertDeliveryFailures', 'slack'],
    ]);
    expect(shown('Dead-letter depth (should be 0)')).toEqual([
      {
        namespace: 'AWS/SQS',
        name: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: '<TaskEventDeadLetterQueue.QueueName>' },
      },
      {
        namespace: 'AWS/SQS',
        name: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: '<WatchdogFailureQueue.QueueName>' },
      },
    ]);
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
    expect(obj(forward.executionDetails, 'd').productionTrafficWeights).toEqual(
      obj(rollback.executionDetails, 'd').productionTrafficWeights,
    );
  });

  it('has a malformed event whose target is not a service revision', () => {
    const details = obj(readJson('events/hook-malformed.json').executionDetails, 'executionDetails');
    expect(String(details.targetServiceRevisionArn)).not.toMatch(revisionArn);
    expect(Array.isArray(details.productionTrafficWeights)).toBe(true);
  });

  it('has the README run every sample event, with sam local invoke and without Docker', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const files = readdirSync(path.join(repoRoot, 'events')).filter((f) => f.endsWith('.json') && f !== 'env.json');
    // the README's loops take events/hook-*.json and events/task-*.json: every sample must be one of them
    expect(files.filter((f) => !/^(hook|task)-.+\.json$/.test(f))).toEqual([]);
    expect(readme).toContain(
      'for e in events/hook-*.json; do sam local invoke ImageGateHookFunction -e "$e" --env-vars events/env.json; done',
    );
    expect(readme).toContain(
      'for e in events/task-*.json; do sam local invoke TaskWatchdogFunction -e "$e" --env-vars events/env.json; done',
    );
    expect(readme).toContain('for e in events/hook-*.json; do node dist/cli.js invoke hook "$e"; done');
    expect(readme).toContain('for e in events/task-*.json; do node dist/cli.js invoke task "$e"; done');
    for (const fn of Object.keys(FUNCTIONS)) expect(resource(template, fn)).toBeDefined();
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
    const run = spawnSync('cfn-lint', ['--format', 'parseable', '--', 'template.yaml'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 120_000,
    });
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
    const doc = widened((d) =>
      inlineStatements(d, 'ImageGateHookFunction').push({ Effect: 'Allow', Action: 'ecs:*', Resource: '*' }),
    );
    expect(permissionProblems(doc, 'ImageGateHookFunction').join('\n')).toMatch(/wildcard action ecs:\*/);
  });

  it('catches a KMS grant on every key', () => {
    const doc = widened((d) => {
      const kms = sharedStatements(d)
        .map((s) => obj(s, 's'))
        .find((s) => JSON.stringify(s).includes('CosignKmsPublicKey'));
      obj(list(obj(kms, 'kms')['Fn::If'], 'if')[1], 'statement').Resource = '*';
    });
    expect(permissionProblems(doc, 'ImageGateHookFunction').join('\n')).toMatch(/Resource '\*' for kms:GetPublicKey/);
  });

  it('catches StopTask without the cluster condition', () => {
    const doc = widened((d) => {
      const stop = inlineStatements(d, 'TaskWatchdogFunction')
        .map((s) => obj(s, 's'))
        .find((s) => s.Sid === 'StopUnsignedTasks');
      delete obj(stop, 'stop').Condition;
    });
    expect(permissionProblems(doc, 'TaskWatchdogFunction')).not.toEqual([]);
  });

  it('catches an SSM read of every parameter', () => {
    const doc = widened((d) => {
      const ssm = sharedStatements(d)
        .map((s) => obj(s, 's'))
        .find((s) => JSON.stringify(s).includes('ReadConfigurationParameters'));
      obj(list(obj(ssm, 'ssm')['Fn::If'], 'if')[1], 'statement').Resource = arn('ssm', 'parameter/*');
    });
    expect(permissionProblems(doc, 'TaskWatchdogFunction')).not.toEqual([]);
  });

  it('catches an AWS managed policy added to a function', () => {
    const doc = widened((d) =>
      list(properties(d, 'TaskWatchdogFunction').Policies, 'Policies').push('AmazonECS_FullAccess'),
    );
    expect(permissionProblems(doc, 'TaskWatchdogFunction').join('\n')).toMatch(/AmazonECS_FullAccess/);
  });

  it('catches a second trusted principal or a wider invoke permission', () => {
    const trusted = widened((d) => {
      const statement = obj(
        list(obj(properties(d, 'HookInvokeRole').AssumeRolePolicyDocument, 'trust').Statement, 's')[0],
        's0',
      );
      statement.Principal = { Service: ['ecs.amazonaws.com', 'lambda.amazonaws.com'] };
    });
    expect(invokeRoleProblems(trusted)).not.toEqual([]);
    const invoke = widened((d) => {
      const policy = obj(list(properties(d, 'HookInvokeRole').Policies, 'p')[0], 'p0');
      obj(list(obj(policy.PolicyDocument, 'doc').Statement, 's')[0], 's0').Resource = arn('lambda', 'function:*');
    });
    expect(invokeRoleProblems(invoke)).not.toEqual([]);
    const anyAccount = widened((d) => {
      delete obj(list(obj(properties(d, 'HookInvokeRole').AssumeRolePolicyDocument, 'trust').Statement, 's')[0], 's0')
        .Condition;
    });
    expect(invokeRoleProblems(anyAccount)).not.toEqual([]);
  });
});

describe('the checks above fail when a queue, an alarm or the dashboard is broken', () => {
  const broken = (change: (doc: JsonObject) => void): JsonObject => {
    const copy = structuredClone(template);
    change(copy);
    return copy;
  };
  const watchdogInline = (doc: JsonObject) =>
    list(
      obj(list(properties(doc, 'TaskWatchdogFunction').Policies, 'Policies')[1], 'inline policy').Statement,
      'Statement',
    ).map((x) => obj(x, 's'));

  it('catches a failure destination without its sqs:SendMessage, or with a wider one', () => {
    const without = broken((d) => {
      const statements = list(obj(list(properties(d, 'TaskWatchdogFunction').Policies, 'P')[1], 'p').Statement, 'S');
      statements.splice(
        statements.findIndex((x) => obj(x, 's').Sid === 'SendFailedInvocations'),
        1,
      );
    });
    expect(failureDestinationProblems(without).join('\n')).toMatch(/SQS grants are \[\]/);
    expect(permissionProblems(without, 'TaskWatchdogFunction')).not.toEqual([]);
    const wider = broken((d) => {
      watchdogInline(d).find((x) => x.Sid === 'SendFailedInvocations')!.Action = 'sqs:*';
    });
    expect(permissionProblems(wider, 'TaskWatchdogFunction').join('\n')).toMatch(/wildcard action sqs:\*/);
    const anyQueue = broken((d) => {
      watchdogInline(d).find((x) => x.Sid === 'SendFailedInvocations')!.Resource = arn('sqs', '*');
    });
    expect(failureDestinationProblems(anyQueue)).not.toEqual([]);
  });

  it('catches a watchdog without its on-failure destination', () => {
    const none = broken((d) => {
      delete obj(properties(d, 'TaskWatchdogInvokeConfig'), 'p').DestinationConfig;
    });
    expect(failureDestinationProblems(none)).not.toEqual([]);
    const gone = broken((d) => {
      delete obj(d.Resources, 'R').TaskWatchdogInvokeConfig;
    });
    expect(failureDestinationProblems(gone)).toEqual(['no AWS::Lambda::EventInvokeConfig TaskWatchdogInvokeConfig']);
  });

  it('catches an unencrypted queue and a queue anyone may write to', () => {
    const plain = broken((d) => {
      delete properties(d, 'WatchdogFailureQueue').SqsManagedSseEnabled;
    });
    expect(queueProblems(plain)).toEqual(['WatchdogFailureQueue is not encrypted']);
    const open = broken((d) => {
      const statement = obj(
        list(obj(properties(d, 'TaskEventDeadLetterQueuePolicy').PolicyDocument, 'doc').Statement, 'S')[0],
        's',
      );
      delete statement.Condition;
    });
    expect(queueProblems(open)).not.toEqual([]);
    const noDeny = broken((d) => {
      delete obj(d.Resources, 'R').WatchdogFailureQueuePolicy;
    });
    expect(() => queueProblems(noDeny)).toThrow(/WatchdogFailureQueuePolicy/);
  });

  it('catches an alarm that tells nobody, or one on the wrong queue', () => {
    const silent = broken((d) => {
      delete properties(d, 'WatchdogFailureAlarm').AlarmActions;
    });
    expect(alarmProblems(silent).join('\n')).toMatch(/^WatchdogFailureAlarm:/);
    const wrongQueue = broken((d) => {
      list(properties(d, 'WatchdogFailureAlarm').Dimensions, 'D')[0] = {
        Name: 'QueueName',
        Value: getAtt('TaskEventDeadLetterQueue', 'QueueName'),
      };
    });
    expect(alarmProblems(wrongQueue)).not.toEqual([]);
    const missing = broken((d) => {
      delete obj(d.Resources, 'R').InternalErrorDecisionsAlarm;
    });
    expect(alarmProblems(missing).join('\n')).toMatch(/alarms are/);
  });

  it('catches a dashboard or alarm metric that the code does not emit (renamed, or a dimension it never sets)', () => {
    const renamed = broken((d) => {
      const dashboard = obj(properties(d, 'OperationsDashboard').DashboardBody, 'body');
      dashboard['Fn::Sub'] = String(dashboard['Fn::Sub']).replace('"DecisionLatency"', '"DecisionLatencyMs"');
    });
    expect(emittedMetricProblems(renamed).join('\n')).toMatch(/metric DecisionLatencyMs is not emitted in src/);
    const searched = broken((d) => {
      const dashboard = obj(properties(d, 'OperationsDashboard').DashboardBody, 'body');
      dashboard['Fn::Sub'] = String(dashboard['Fn::Sub']).replace(
        '{EcsImageGate,service,source,decision}',
        '{EcsImageGate,service,stage,decision}',
      );
    });
    expect(emittedMetricProblems(searched).join('\n')).toMatch(/dimension stage is not emitted/);
    const value = broken((d) => {
      properties(d, 'InternalErrorDecisionsAlarm').Dimensions = [
        { Name: 'service', Value: 'ecs-image-gate' },
        { Name: 'reason', Value: 'INTERNAL_FAILURE' },
        { Name: 'decision', Value: 'deny' },
      ];
    });
    expect(emittedMetricProblems(value).join('\n')).toMatch(/reason=INTERNAL_FAILURE appears nowhere/);
  });
});
