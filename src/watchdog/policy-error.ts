/**
 * When the policy cannot be loaded there is no rule to apply, but the task still
 * needs an answer. Each image gets a POLICY_ERROR deny in the mode the user chose
 * by environment (FAILURE_BEHAVIOR=LOG_ON_FAILURE: audit; anything else: enforce),
 * the same choice the deployment gate makes, so a broken policy never admits
 * silently and is alerted on like any other deny.
 */
import type { ImageInput } from '../policy/decide.js';
import type { Decision } from '../policy/decision.js';

export function policyErrorDecisions(images: ImageInput[], error: unknown, env: Record<string, string | undefined>): Decision[] {
  const mode = env.FAILURE_BEHAVIOR?.trim() === 'LOG_ON_FAILURE' ? 'audit' : 'enforce';
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
