/**
 * Turns a validated policy document into what decide() runs: rules with compiled
 * globs and constructed verifiers, plus a hash of everything that can change a
 * verdict, so cached results never outlive the policy that produced them.
 */
import { createHash } from 'node:crypto';
import type { Verifier } from '../core/verifier.js';
import type { LoadedPolicy } from './load.js';
import { compileGlob, type Matcher } from './match.js';
import type {
  AwsSignerVerifierConfig,
  CosignVerifierConfig,
  NotationVerifierConfig,
  PolicyDocument,
  VerifierConfig,
} from './schema.js';

/** How each verifier type is built; the runtime passes the real ones, tests may pass their own. */
export interface VerifierFactories {
  cosign(config: CosignVerifierConfig): Verifier;
  notation(config: NotationVerifierConfig): Verifier;
  awsSigner(config: AwsSignerVerifierConfig): Verifier;
  notationCli(notationPath: string): Verifier;
}

export interface CompiledRule {
  name: string;
  matches: Matcher;
  require: number;
  verifiers: Verifier[];
}

export interface CompiledPolicy {
  document: PolicyDocument;
  origin: string;
  /** sha256 over the document and delegate settings: part of every cache key */
  hash: string;
  rules: CompiledRule[];
}

export function compilePolicy(loaded: LoadedPolicy, factories: VerifierFactories): CompiledPolicy {
  const rules = loaded.document.rules.map((rule) => ({
    name: rule.name,
    matches: anyOf(rule.images.map(compileGlob)),
    require: rule.require,
    verifiers: rule.verifiers.map((config) => buildVerifier(config, factories)),
  }));
  if (loaded.notationPath) addNotationDelegate(rules, factories.notationCli(loaded.notationPath));
  return { document: loaded.document, origin: loaded.origin, hash: policyHash(loaded), rules };
}

/** Which factory builds each verifier type. */
const FACTORY_FOR = {
  cosign: 'cosign',
  notation: 'notation',
  'aws-signer': 'awsSigner',
} as const satisfies Record<VerifierConfig['type'], keyof VerifierFactories>;

/**
 * The factories compilePolicy will call for this policy, and no others: what a loader of
 * verifier families (src/verify/load-factories.ts) must have ready before compiling.
 */
export function factoriesUsed(loaded: LoadedPolicy): Set<keyof VerifierFactories> {
  const used = new Set<keyof VerifierFactories>();
  for (const rule of loaded.document.rules) for (const config of rule.verifiers) used.add(FACTORY_FOR[config.type]);
  if (loaded.notationPath) used.add('notationCli');
  return used;
}

export function ruleFor(policy: CompiledPolicy, repositoryPath: string): CompiledRule | undefined {
  return policy.rules.find((rule) => rule.matches(repositoryPath));
}

function buildVerifier(config: VerifierConfig, factories: VerifierFactories): Verifier {
  switch (config.type) {
    case 'cosign':
      return factories.cosign(config);
    case 'notation':
      return factories.notation(config);
    case 'aws-signer':
      return factories.awsSigner(config);
  }
}

/** NOTATION_PATH joins the environment's catch-all rule as one more verifier (any one suffices). */
function addNotationDelegate(rules: CompiledRule[], delegate: Verifier): void {
  const catchAll = rules.find((r) => r.name === 'default');
  if (catchAll) catchAll.verifiers.push(delegate);
  else rules.push({ name: 'default', matches: compileGlob('**'), require: 1, verifiers: [delegate] });
}

function anyOf(matchers: Matcher[]): Matcher {
  return (path) => matchers.some((m) => m(path));
}

function policyHash(loaded: LoadedPolicy): string {
  const material = JSON.stringify({ document: loaded.document, notationPath: loaded.notationPath ?? null });
  return createHash('sha256').update(material).digest('hex').slice(0, 16);
}
