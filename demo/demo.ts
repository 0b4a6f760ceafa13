/**
 * npm run demo: the real handlers on a fresh machine, no AWS account, no Docker, no
 * root, no network. It generates a cosign key, signs demo images into a registry it
 * starts on 127.0.0.1, and runs
 *   - the deployment gate (lifecycle hook) on a signed, an unsigned and a tampered
 *     revision, in enforce and in log-only mode;
 *   - the gate on an image signed keyless (a Sigstore bundle stored as an OCI referrer,
 *     as cosign 3 writes it; Fulcio and Rekor are @sigstore/mock on loopback), under an
 *     identity policy that names its signer and under one that expects another;
 *   - the task watchdog on a standalone RunTask with an unsigned image.
 * AWS (ECS, SNS) is simulated in process with aws-sdk-client-mock; every call the
 * handlers make to it is printed. The registry traffic and the cryptography are real.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Quiet structured logs: the demo prints the decision lines itself, as CloudWatch would show them.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'demo';
process.env.AWS_SECRET_ACCESS_KEY ??= 'demo';

const { mockClient } = await import('aws-sdk-client-mock');
const { DescribeServiceRevisionsCommand, DescribeServicesCommand, DescribeTasksCommand, ECSClient, StopTaskCommand } =
  await import('@aws-sdk/client-ecs');
const { PublishCommand, SNSClient } = await import('@aws-sdk/client-sns');
const { makeLifecycleHook } = await import('../src/handlers/lifecycle-hook.js');
const { makeTaskStateChange } = await import('../src/handlers/task-state-change.js');
const { logger } = await import('../src/core/observability.js');
const { Runtime } = await import('../src/gate/runtime.js');
const { generateKeyPair, signImage } = await import('../test/support/cosign-signer.js');
const { cosignStatement, pushBundle, signKeyless, startMockSigstore } = await import(
  '../test/support/sigstore-signer.js'
);
const { startDemoRegistry } = await import('./oci-registry.js');

const REVISION = 'arn:aws:ecs:us-east-1:123456789012:service-revision/demo-cluster/web/4093216470117498571';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ecs-image-gate-alerts';
const GITHUB = 'https://token.actions.githubusercontent.com';
const RELEASE = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const OTHER = 'https://github.com/acme/other/.github/workflows/release.yml@refs/heads/main';
const hookEvent = JSON.parse(readFileSync(new URL('../events/hook-pre-scale-up.json', import.meta.url), 'utf8'));
const taskEvent = JSON.parse(readFileSync(new URL('../events/task-standalone-unsigned.json', import.meta.url), 'utf8'));
const context = { getRemainingTimeInMillis: () => 30_000 };

const ecs = mockClient(ECSClient);
const sns = mockClient(SNSClient);
sns.on(PublishCommand).resolves({ MessageId: 'demo-message' });

/** What the handlers log is what an operator reads; show the decision lines. */
const printed: string[] = [];
for (const level of ['info', 'warn', 'error'] as const) {
  (logger as unknown as Record<string, (m: unknown, extra?: { decision?: { verifiedBy?: string[] } }) => void>)[level] =
    (message, extra) => {
      printed.push(`      ${level.toUpperCase().padEnd(5)} ${String(message)}`);
      // the structured log carries who signed; CloudWatch shows it as the decision's verifiedBy
      for (const by of extra?.decision?.verifiedBy ?? []) printed.push(`            verifiedBy: ${by}`);
    };
}
const flushLog = () => {
  for (const line of printed.splice(0)) console.log(line);
};

/** The handlers of the Lambda container configure() last started (a Runtime on the environment). */
let lifecycleHook = makeLifecycleHook(new Runtime(process.env));
let taskStateChange = makeTaskStateChange(new Runtime(process.env));

const [registry, sigstore] = await Promise.all([startDemoRegistry(), startMockSigstore()]);
try {
  const key = generateKeyPair('p256');
  const digests: Record<string, string> = {};
  for (const name of ['signed', 'unsigned', 'tampered'])
    digests[name] = (await registry.pushImage('demo/app', name)).digest;
  await signImage(registry, 'demo/app', { digest: digests.signed! }, key.privateKey);
  await signImage(registry, 'demo/app', { digest: digests.tampered! }, key.privateKey, { tamper: true });

  // keyless: a GitHub Actions identity, a short-lived certificate from the mock Fulcio, logged in the mock Rekor
  const keyless = await registry.pushImage('demo/keyless', 'v1');
  const bundle = await signKeyless(sigstore, cosignStatement(keyless.digest, `${registry.host}/demo/keyless`), {
    claims: {
      iss: GITHUB,
      sub: RELEASE,
      repository: 'acme/app',
      ref: 'refs/heads/main',
      event_name: 'push',
      sha: 'abc123',
    },
  });
  await pushBundle(registry, 'demo/keyless', keyless, bundle);
  const trustedRoot = join(mkdtempSync(join(tmpdir(), 'demo-sigstore-')), 'trusted_root.json');
  writeFileSync(trustedRoot, sigstore.trustedRoot);

  console.log(`ecs-image-gate demo
  registry   http://${registry.host} (in memory, loopback only)
  key        a P-256 cosign key generated just now
  images     demo/app:signed (signed), demo/app:unsigned (no signature), demo/app:tampered (signature payload edited after signing)
             demo/keyless:v1 (signed keyless by ${RELEASE}: a Sigstore bundle referrer)
  Sigstore   Fulcio and Rekor simulated on loopback (@sigstore/mock), their trusted root written to ${trustedRoot}
  AWS        simulated in process: ECS DescribeServiceRevisions / StopTask, SNS Publish
`);

  for (const mode of ['enforce', 'audit'] as const) {
    configure(mode, registry.host, key.publicKeyPem);
    console.log(
      `Deployment gate (lifecycle hook at PRE_SCALE_UP), mode ${mode}${mode === 'audit' ? ' (log-only: always SUCCEEDED)' : ''}`,
    );
    for (const which of ['signed', 'unsigned', 'tampered']) {
      ecs.reset();
      sns.resetHistory();
      ecs.on(DescribeServiceRevisionsCommand).resolves({
        serviceRevisions: [
          {
            serviceRevisionArn: REVISION,
            containerImages: [
              { containerName: 'web', image: `${registry.host}/demo/app:${which}`, imageDigest: digests[which] },
            ],
          },
        ],
      });
      const answer = await lifecycleHook(hookEvent, context);
      console.log(`  ${which.padEnd(9)} revision -> ${JSON.stringify(answer)}`);
      flushLog();
      if (sns.commandCalls(PublishCommand).length)
        console.log(`      SNS alert: ${sns.commandCalls(PublishCommand)[0]!.args[0].input.Subject}`);
    }
    console.log('');
  }

  console.log('Deployment gate, mode enforce: keyless (Sigstore bundle), the same image under two identity policies');
  for (const subject of [RELEASE, OTHER]) {
    configureKeyless(registry.host, trustedRoot, subject);
    ecs.reset();
    sns.resetHistory();
    ecs.on(DescribeServiceRevisionsCommand).resolves({
      serviceRevisions: [
        {
          serviceRevisionArn: REVISION,
          containerImages: [
            { containerName: 'web', image: `${registry.host}/demo/keyless:v1`, imageDigest: keyless.digest },
          ],
        },
      ],
    });
    const answer = await lifecycleHook(hookEvent, context);
    console.log(`  policy expects ${subject}\n  ${'keyless'.padEnd(9)} revision -> ${JSON.stringify(answer)}`);
    flushLog();
    if (sns.commandCalls(PublishCommand).length)
      console.log(`      SNS alert: ${sns.commandCalls(PublishCommand)[0]!.args[0].input.Subject}`);
  }
  console.log('');

  configure('enforce', registry.host, key.publicKeyPem);
  console.log(
    'Task watchdog (EventBridge "ECS Task State Change"), mode enforce: a standalone RunTask with an unsigned image',
  );
  ecs.reset();
  sns.resetHistory();
  ecs.on(StopTaskCommand).resolves({ task: { taskArn: taskEvent.detail.taskArn, desiredStatus: 'STOPPED' } });
  ecs.on(DescribeTasksCommand).resolves({ tasks: [] });
  ecs.on(DescribeServicesCommand).resolves({ services: [] });
  taskEvent.detail.containers[0].image = `${registry.host}/demo/app:unsigned`;
  taskEvent.detail.containers[0].imageDigest = digests.unsigned;
  const summary = await taskStateChange(taskEvent, context);
  console.log(`  task ${taskEvent.detail.taskArn.split('/').pop()} -> action ${summary.action}`);
  flushLog();
  for (const call of ecs.commandCalls(StopTaskCommand))
    console.log(`      ecs:StopTask ${JSON.stringify(call.args[0].input)}`);
  for (const call of sns.commandCalls(PublishCommand)) {
    console.log(`      sns:Publish to ${call.args[0].input.TopicArn}\n      Subject: ${call.args[0].input.Subject}`);
    console.log(String(call.args[0].input.Message).replace(/^/gm, '      | '));
  }
} finally {
  await Promise.all([registry.stop(), sigstore.stop()]);
}

function configure(mode: 'enforce' | 'audit', host: string, publicKeyPem: string): void {
  usePolicy(mode, host, [
    { name: 'demo-app', images: [`${host}/demo/**`], verifiers: [{ type: 'cosign', publicKey: publicKeyPem }] },
  ]);
}

/** A keyless identity policy: the GitHub Actions workflow that may sign, and its issuer. */
function configureKeyless(host: string, trustedRoot: string, subject: string): void {
  usePolicy('enforce', host, [
    {
      name: 'demo-keyless',
      images: [`${host}/demo/keyless`],
      verifiers: [{ type: 'cosign', keyless: { identities: [{ issuer: GITHUB, subject }] }, trustedRoot }],
    },
  ]);
}

function usePolicy(mode: 'enforce' | 'audit', host: string, rules: object[]): void {
  process.env.ALERT_TOPIC_ARN = TOPIC;
  process.env.POLICY = JSON.stringify({ version: 1, mode, registries: { [host]: { insecure: true } }, rules });
  const runtime = new Runtime(process.env);
  lifecycleHook = makeLifecycleHook(runtime);
  taskStateChange = makeTaskStateChange(runtime);
}
