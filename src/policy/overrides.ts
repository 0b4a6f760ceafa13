/**
 * Per-scope settings (`overrides` in the policy): where a different mode or onError
 * applies, so a team can block on production and only log on staging with one policy.
 * The first override whose every given glob matches wins; an override with no globs
 * is refused by the schema, so "everything" must be said with "*".
 */
import { compileGlob, type Matcher } from './match.js';
import type { PolicyDocument } from './schema.js';

/** Where a decision is made: what ECS told us about the workload. Unknown parts are absent. */
export interface Scope {
  cluster?: string;
  service?: string;
  taskFamily?: string;
}

export interface Settings {
  mode: PolicyDocument['mode'];
  onError: PolicyDocument['onError'];
  /** the index of the override that applied, for log lines; absent when none did */
  override?: number;
}

/** The mode and onError in force for this scope. */
export function settingsFor(
  policy: Pick<PolicyDocument, 'mode' | 'onError' | 'overrides'>,
  scope: Scope = {},
): Settings {
  const index = policy.overrides.findIndex((o) => covers(o, scope));
  const override = policy.overrides[index];
  if (!override) return { mode: policy.mode, onError: policy.onError };
  return { mode: override.mode ?? policy.mode, onError: override.onError ?? policy.onError, override: index };
}

type Override = PolicyDocument['overrides'][number];

function covers(override: Override, scope: Scope): boolean {
  return (
    matchesAny(override.clusters, scope.cluster) &&
    matchesAny(override.services, scope.service) &&
    matchesAny(override.taskFamilies, scope.taskFamily)
  );
}

/** No globs for a dimension: any value. Globs given but the value unknown: no match. */
function matchesAny(globs: string[] | undefined, value: string | undefined): boolean {
  if (!globs) return true;
  if (value === undefined) return false;
  return matchersOf(globs).some((matches) => matches(value));
}

/** Each glob list compiled once (settingsFor runs for every decision), kept as long as the policy. */
const compiled = new WeakMap<string[], Matcher[]>();

function matchersOf(globs: string[]): Matcher[] {
  let matchers = compiled.get(globs);
  if (!matchers) compiled.set(globs, (matchers = globs.map(compileGlob)));
  return matchers;
}

/** "arn:aws:ecs:r:a:cluster/prod" or "prod" → "prod". */
export function clusterName(clusterArnOrName: string | undefined): string | undefined {
  if (!clusterArnOrName) return undefined;
  return clusterArnOrName.includes(':cluster/') ? clusterArnOrName.split(':cluster/')[1] : clusterArnOrName;
}
