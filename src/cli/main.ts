/**
 * ecs-image-gate command line (DESIGN.md "Command line"): one module per command,
 * this one only dispatches and maps errors to the exit codes of the contract.
 */
import { PolicyError } from '../policy/load.js';
import { ImageReferenceError } from '../core/reference.js';
import { EnvironmentError, UsageError, type ExitCode, type Io } from './args.js';
import { attach, detach, status } from './attach.js';
import { audit } from './audit.js';
import { invoke } from './invoke.js';
import { mode } from './mode.js';
import { testCases } from './test-cases.js';
import { verify } from './verify.js';

export { UsageError, type ExitCode, type Io } from './args.js';

export const USAGE = `usage:
  ecs-image-gate verify [--policy FILE] [--json | --explain] [--timeout S] IMAGE…
        decide images now; IMAGE: host/repo@sha256:… or host/repo:tag (resolved at the registry);
        --explain: the evidence, one line each (which bundle met each attestation, which condition failed)
  ecs-image-gate invoke hook|task EVENT.json [--timeout S]
        run a real handler on an event, print its answer (sam local invoke without Docker)
  ecs-image-gate audit (--cluster C… | --all-clusters) [--region R…] [--policy FILE]
        [--json | --csv | --html FILE] [--timeout S]
        what the policy would deny today: every service's current images and every
        running standalone task; nothing is changed
  ecs-image-gate attach|detach --cluster C --service S… [--stages PRE_SCALE_UP,POST_SCALE_UP]
        (--stack NAME | --function-arn A --role-arn R) [--dry-run]
        add or remove only this hook in each service's deploymentConfiguration.lifecycleHooks
  ecs-image-gate status --cluster C (--stack NAME | --function-arn A)
        which services have the hook, their deployment strategy and stages
  ecs-image-gate mode enforce|audit --stack NAME [--scope cluster=GLOB,service=GLOB,taskFamily=GLOB]
        switch a deployed stack (its SSM policy document, or its FailureBehavior parameter)
  ecs-image-gate test POLICY CASES [--layout REGISTRY/REPOSITORY=DIR …] [--timeout S]
        policy tests: cases: [{name, image, expect: allow|deny, reason?}]; images from
        registries or local OCI image layouts (cosign save, oras copy --to-oci-layout)

Exit codes: 0 success, 1 a finding (an image would be denied, a case mismatched, a
service refused), 2 a usage or configuration error.

--timeout S: the deadline of the whole command in seconds (default 60; audit 600). For
verify and test it falls back to VERIFY_TIMEOUT_SECONDS, for invoke (the Lambda's
remaining time the handler sees) to INVOKE_TIMEOUT_SECONDS.

Without --policy the configuration comes from the environment, as in the Lambda
(POLICY, POLICY_FILE, POLICY_PARAMETER, COSIGN_KEY_PEM, ...; see README). AWS calls use
the SDK's standard settings (credentials, AWS_REGION, AWS_ENDPOINT_URL_ECS, ...).`;

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<ExitCode>> = {
  verify,
  invoke,
  audit,
  attach,
  detach,
  status,
  mode,
  test: testCases,
};

export async function main(argv: string[], io: Io): Promise<ExitCode> {
  const [command, ...rest] = argv;
  try {
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(USAGE);
      return 0;
    }
    const run = command ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    return await run(rest, io);
  } catch (e) {
    if (
      e instanceof UsageError ||
      e instanceof EnvironmentError ||
      e instanceof PolicyError ||
      e instanceof ImageReferenceError
    ) {
      io.err(`ecs-image-gate: ${e.message}`);
      if (e instanceof UsageError) io.err(USAGE);
      return 2;
    }
    throw e;
  }
}
