/**
 * When the policy cannot be loaded there is no rule to apply, but the task still
 * needs an answer. Each image gets a POLICY_ERROR deny in the mode the user chose
 * by environment (FAILURE_BEHAVIOR=LOG_ON_FAILURE: audit; anything else: enforce),
 * the same choice the deployment gate makes, so a broken policy never admits
 * silently and is alerted on like any other deny.
 */
import { modeWithoutPolicy, type FailureBehavior } from '../core/config.js';
import type { ImageInput } from '../gate/decide.js';
import type { Decision } from '../core/decision.js';

export function policyErrorDecisions(
  images: ImageInput[],
  error: unknown,
  failureBehavior: FailureBehavior,
): Decision[] {
  const mode = modeWithoutPolicy(failureBehavior);
  const detail = `the policy cannot be loaded: ${error instanceof Error ? error.message : String(error)}`;
  return images.map((i) => ({
    container: i.container,
    image: i.image,
    digest: i.digest ?? null,
    decision: 'deny',
    reason: 'POLICY_ERROR',
    rule: null,
    verifiedBy: [],
    detail,
    durationMs: 0,
    mode,
  }));
}
