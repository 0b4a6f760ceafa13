/**
 * The deployed stack, read with CloudFormation DescribeStacks: its outputs (the hook's
 * function and invoke role ARNs) and its parameters (where the policy lives).
 */
import { CloudFormationClient, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { UsageError } from './args.js';

/** A client per command: the CLI runs one command per process. */
export function cloudFormation(): CloudFormationClient {
  return new CloudFormationClient({});
}

export async function describeStack(name: string): Promise<Stack> {
  let stack: Stack | undefined;
  try {
    stack = (await cloudFormation().send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
  } catch (e) {
    throw new UsageError(`--stack ${name}: cannot describe the stack: ${(e as Error).message}`);
  }
  if (!stack) throw new UsageError(`--stack ${name}: no such stack`);
  return stack;
}

export function stackOutput(stack: Stack, key: string): string {
  const value = stack.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
  if (!value) throw new UsageError(`stack ${stack.StackName}: no output ${key} (is it the ecs-image-gate stack?)`);
  return value;
}

export function stackParameter(stack: Stack, key: string): string | undefined {
  return stack.Parameters?.find((p) => p.ParameterKey === key)?.ParameterValue;
}

/** The hook's ARNs: from --stack's outputs, or --function-arn / --role-arn. */
export async function hookArns(
  values: { stack?: string; 'function-arn'?: string; 'role-arn'?: string },
  needRole: boolean,
): Promise<{ functionArn: string; roleArn?: string }> {
  if (values.stack) {
    if (values['function-arn'] || values['role-arn'])
      throw new UsageError('give --stack or --function-arn/--role-arn, not both');
    const stack = await describeStack(values.stack);
    return {
      functionArn: stackOutput(stack, 'HookFunctionArn'),
      ...(needRole ? { roleArn: stackOutput(stack, 'HookInvokeRoleArn') } : {}),
    };
  }
  const functionArn = values['function-arn'];
  if (!functionArn)
    throw new UsageError(`name the hook with --stack NAME or --function-arn ARN${needRole ? ' --role-arn ARN' : ''}`);
  if (needRole && !values['role-arn'])
    throw new UsageError('--function-arn needs --role-arn (the role ECS assumes to invoke the hook)');
  return { functionArn, ...(values['role-arn'] ? { roleArn: values['role-arn'] } : {}) };
}
