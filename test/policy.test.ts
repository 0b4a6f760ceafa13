import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicy, PolicyError } from '../src/policy/load.js';
import { compileGlob, matchAllowList } from '../src/policy/match.js';
import { parseReference } from '../src/core/reference.js';

const ssmMock = mockClient(SSMClient);
const ssm = () => new SSMClient({ region: 'us-east-1' });
afterEach(() => ssmMock.reset());

const PEM = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----';
const yamlPolicy = `
version: 1
mode: audit
rules:
  - name: app
    images: ["*.dkr.ecr.*.amazonaws.com/app/**"]
    verifiers:
      - type: cosign
        publicKey: "${PEM.replace(/\n/g, '\\n')}"
`;

describe('policy sources', () => {
  it('reads an inline YAML document with defaults filled in', async () => {
    const { document, origin } = await loadPolicy({ POLICY: yamlPolicy }, ssm);
    expect(origin).toBe('POLICY');
    expect(document).toMatchObject({
      mode: 'audit',
      onError: 'deny',
      unmatched: 'deny',
      rules: [{ name: 'app', require: 1 }],
    });
  });

  it('reads JSON from POLICY_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ version: 1, allow: { repositories: ['docker.io/library/nginx'] } }));
    const { document } = await loadPolicy({ POLICY_FILE: file }, ssm);
    expect(document.allow.repositories).toEqual(['docker.io/library/nginx']);
  });

  it('reads a SecureString from SSM with decryption', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: yamlPolicy } });
    const { document } = await loadPolicy({ POLICY_PARAMETER: '/gate/policy' }, ssm);
    expect(document.mode).toBe('audit');
    expect(ssmMock.commandCalls(GetParameterCommand)[0]!.args[0].input).toEqual({
      Name: '/gate/policy',
      WithDecryption: true,
    });
  });

  it('names the SSM parameter when it cannot be read', async () => {
    ssmMock.on(GetParameterCommand).rejects(new Error('AccessDeniedException'));
    await expect(loadPolicy({ POLICY_PARAMETER: '/gate/policy' }, ssm)).rejects.toThrow(
      /POLICY_PARAMETER.*\/gate\/policy.*AccessDenied/,
    );
  });

  it('names the bad field and what is allowed', async () => {
    await expect(loadPolicy({ POLICY: 'version: 1\nmode: block\n' }, ssm)).rejects.toThrow(
      /mode: .*'enforce' \| 'audit'/,
    );
    await expect(
      loadPolicy({ POLICY: 'version: 1\nrules: [{name: a, images: ["**"], verifiers: [{type: cosign}]}]' }, ssm),
    ).rejects.toThrow(
      /rules\.0\.verifiers\.0: a cosign verifier needs exactly one of publicKey, publicKeyFile, kmsKey/,
    );
    await expect(loadPolicy({ POLICY: 'version: 1\nunknownKey: 1' }, ssm)).rejects.toThrow(/unknownKey/);
    await expect(loadPolicy({ POLICY: 'version: 2' }, ssm)).rejects.toThrow(/version/);
    await expect(loadPolicy({ POLICY: '{ not yaml: [' }, ssm)).rejects.toThrow(/POLICY: not valid YAML or JSON/);
  });

  it('refuses require larger than the number of verifiers', async () => {
    const doc = 'version: 1\nrules: [{name: a, images: ["**"], require: 2, verifiers: [{type: cosign, publicKey: k}]}]';
    await expect(loadPolicy({ POLICY: doc }, ssm)).rejects.toThrow(/rules\.0\.require: require cannot be larger/);
  });
});

describe('conflicting settings are refused by name', () => {
  it.each([
    [{ POLICY: yamlPolicy, POLICY_FILE: '/x' }, /POLICY and POLICY_FILE/],
    [{ POLICY: yamlPolicy, COSIGN_KEY_PEM: PEM }, /POLICY and COSIGN_KEY_PEM/],
    [{ POLICY_PARAMETER: '/p', REPO_ALLOWLIST: 'a/b' }, /POLICY_PARAMETER and REPO_ALLOWLIST/],
    [
      {
        NOTATION_PATH: '/opt/bin/notation',
        TRUSTED_SIGNING_PROFILES: 'arn:aws:signer:us-east-1:1:/signing-profiles/P',
      },
      /NOTATION_PATH and TRUSTED_SIGNING_PROFILES/,
    ],
    [{ POLICY: yamlPolicy, FAILURE_BEHAVIOR: 'BLOCK_ON_FAILURE' }, /FAILURE_BEHAVIOR and POLICY \(mode: audit\)/],
  ])('%o', async (env, message) => {
    await expect(loadPolicy(env, ssm)).rejects.toThrow(message);
    await expect(loadPolicy(env, ssm)).rejects.toBeInstanceOf(PolicyError);
  });

  it('accepts FAILURE_BEHAVIOR that agrees with the document, and applies it to one that states no mode', async () => {
    await expect(loadPolicy({ POLICY: yamlPolicy, FAILURE_BEHAVIOR: 'LOG_ON_FAILURE' }, ssm)).resolves.toBeTruthy();
    const { document } = await loadPolicy({ POLICY: 'version: 1', FAILURE_BEHAVIOR: 'LOG_ON_FAILURE' }, ssm);
    expect(document.mode).toBe('audit');
  });
});

describe('environment shortcuts', () => {
  it('builds a catch-all rule from the cosign and signer settings', async () => {
    const { document } = await loadPolicy(
      {
        COSIGN_KEY_PEM: PEM.replace(/\n/g, '\\n'),
        COSIGN_KEY_ARN: 'alias/cosign',
        TRUSTED_SIGNING_PROFILES:
          'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod, arn:aws:signer:us-east-1:123456789012:/signing-profiles/Dev',
        FAILURE_BEHAVIOR: 'LOG_ON_FAILURE',
        ALLOWLIST_PREFIXES: 'public.ecr.aws/aws-observability/',
        ALLOWLIST_DIGESTS: `sha256:${'c'.repeat(64)}`,
        REPO_ALLOWLIST: 'docker.io/library/busybox',
      },
      ssm,
    );
    expect(document.mode).toBe('audit');
    expect(document.rules).toEqual([
      {
        name: 'default',
        images: ['**'],
        require: 1,
        verifiers: [
          { type: 'cosign', publicKey: PEM },
          { type: 'cosign', kmsKey: 'alias/cosign' },
          {
            type: 'aws-signer',
            revocation: 'enforce',
            signingProfiles: [
              'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Prod',
              'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Dev',
            ],
          },
        ],
      },
    ]);
    expect(document.allow).toMatchObject({
      prefixes: ['public.ecr.aws/aws-observability/'],
      repositories: ['docker.io/library/busybox'],
    });
  });

  it('refuses an unknown FAILURE_BEHAVIOR and an empty configuration', async () => {
    await expect(loadPolicy({ COSIGN_KEY_ARN: 'alias/k', FAILURE_BEHAVIOR: 'BLOCK' }, ssm)).rejects.toThrow(
      /FAILURE_BEHAVIOR.*BLOCK_ON_FAILURE, LOG_ON_FAILURE/,
    );
    await expect(loadPolicy({}, ssm)).rejects.toThrow(/no policy configured/);
  });

  it('keeps NOTATION_PATH for the compiler', async () => {
    const loaded = await loadPolicy({ NOTATION_PATH: '/opt/bin/notation' }, ssm);
    expect(loaded.notationPath).toBe('/opt/bin/notation');
  });
});

describe('matching', () => {
  it.each([
    ['*.dkr.ecr.*.amazonaws.com/app/**', '123456789012.dkr.ecr.us-east-1.amazonaws.com/app/web', true],
    ['*.dkr.ecr.*.amazonaws.com/app/**', '123456789012.dkr.ecr.us-east-1.amazonaws.com/app', true],
    ['*.dkr.ecr.*.amazonaws.com/app/**', '123456789012.dkr.ecr.us-east-1.amazonaws.com/application/web', false],
    ['*.dkr.ecr.*.amazonaws.com/app/*', '123456789012.dkr.ecr.us-east-1.amazonaws.com/app/web/v2', false],
    ['*.dkr.ecr.*.amazonaws.com/app/*', 'evil.com/x.dkr.ecr.y.amazonaws.com/app/web', false],
    ['docker.io/library/nginx', 'docker.io/library/nginx', true],
    ['**', 'anything/at/all', true],
  ])('%s ~ %s = %s', (glob, path, expected) => {
    expect(compileGlob(glob)(path)).toBe(expected);
  });

  it('matches allow entries by image, digest, prefix and repository', () => {
    const allow = {
      images: ['nginx:1.27'],
      digests: [`sha256:${'d'.repeat(64)}`],
      prefixes: ['public.ecr.aws/aws-observability/'],
      repositories: ['ghcr.io/org/tool'],
    };
    expect(matchAllowList(allow, parseReference('nginx:1.27'), undefined)).toEqual({
      by: 'images',
      entry: 'nginx:1.27',
    });
    expect(matchAllowList(allow, parseReference('nginx:1.28'), undefined)).toBeUndefined();
    expect(matchAllowList(allow, parseReference('ghcr.io/org/tool:3'), undefined)?.by).toBe('repositories');
    expect(matchAllowList(allow, parseReference('ghcr.io/org/toolkit:3'), undefined)).toBeUndefined();
    expect(
      matchAllowList(allow, parseReference('public.ecr.aws/aws-observability/aws-otel-collector:v0.4'), undefined)?.by,
    ).toBe('prefixes');
    expect(matchAllowList(allow, parseReference('busybox'), `sha256:${'d'.repeat(64)}`)?.by).toBe('digests');
  });

  it('normalises Docker Hub short names', () => {
    expect(parseReference('nginx')).toMatchObject({ registry: 'docker.io', repository: 'library/nginx' });
    expect(parseReference('localhost:5000/a/b:t')).toMatchObject({
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: 't',
    });
    expect(() => parseReference('x@sha256:123')).toThrow(/sha256/);
  });
});
