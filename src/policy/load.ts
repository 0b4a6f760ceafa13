/**
 * Where the policy comes from: one document source (POLICY inline, POLICY_FILE, or
 * POLICY_PARAMETER in SSM), or a document built from the environment shortcuts that
 * users of the existing ECS admission controllers already have. Mixing a document
 * with a trust shortcut, or two sources, is refused at start with both names.
 */
import { readFileSync } from 'node:fs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  parseFailureBehavior,
  POLICY_DOCUMENT_SOURCES,
  POLICY_SHORTCUTS,
  type Mode,
  type PolicyVariables,
} from '../core/config.js';
import { describeIssues, policySchema, type PolicyDocument, type PolicyInput } from './schema.js';

export class PolicyError extends Error {
  constructor(message: string) {
    super(boundedMessage(message));
    this.name = 'PolicyError';
  }
}

/** Longest stretch of the user's input an error message repeats. */
export const ECHO_MAX = 200;
/** The whole message: one readable log line, whatever the document held. */
export const MESSAGE_MAX = 2_000;

/**
 * Error messages quote what they refuse (the parser's and the schema's words, a
 * path, a parameter's value). A garbage or hostile document must not turn that
 * into 9,000 characters or terminal control codes in a log line: non-printable
 * characters are escaped, every quoted value and every unbroken run of characters
 * longer than ECHO_MAX is cut, and the whole message is capped.
 */
export function boundedMessage(message: string): string {
  const escaped = escapeNonPrintable(message);
  const shortened = escaped
    .replace(LONG_QUOTED, (quoted) => `${quoted[0]}${cutEcho(quoted.slice(1, -1))}${quoted[0]}`)
    .replace(LONG_RUN, cutEcho);
  return shortened.length <= MESSAGE_MAX
    ? shortened
    : `${shortened.slice(0, MESSAGE_MAX)}… (message cut at ${MESSAGE_MAX} characters)`;
}

const LONG_QUOTED = new RegExp(`'[^']{${ECHO_MAX + 1},}'|"[^"]{${ECHO_MAX + 1},}"`, 'g');
/** "…" ends a cut echo: the run before it is already short. */
const LONG_RUN = new RegExp(`[^\\s'"…]{${ECHO_MAX + 1},}`, 'g');

function cutEcho(text: string): string {
  return text.length <= ECHO_MAX ? text : `${text.slice(0, ECHO_MAX)}… (${text.length - ECHO_MAX} more characters)`;
}

/** Control characters, DEL, C1 controls, lone surrogates and line/paragraph separators become \u escapes. */
function escapeNonPrintable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => {
      if (c === '\n') return '\\n';
      if (c === '\t') return '\\t';
      if (c === '\r') return '\\r';
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    },
  );
}

/** What loadPolicy reads: Config.policyVariables (the environment's policy settings). */
type Env = PolicyVariables;

export interface LoadedPolicy {
  document: PolicyDocument;
  /** where it came from, for logs and error messages */
  origin: string;
  /** NOTATION_PATH: a notation binary to delegate Notation verification to */
  notationPath?: string;
}

/** ssm: the client for POLICY_PARAMETER, asked for only then (the Runtime imports its SDK module on demand). */
export async function loadPolicy(env: Env, ssm: () => SSMClient | Promise<SSMClient>): Promise<LoadedPolicy> {
  const given = <K extends keyof Env>(names: readonly K[]) => names.filter((n) => nonBlank(env[n]));
  const sources = given(POLICY_DOCUMENT_SOURCES);
  if (sources.length > 1) throw conflict(sources[0]!, sources[1]!, 'give the policy document in one place only');
  refuseNotationConflict(env);
  const source = sources[0];
  if (!source) return fromShortcuts(env);
  const shortcut = given(POLICY_SHORTCUTS)[0];
  if (shortcut) throw conflict(source, shortcut, `put the ${shortcut} setting into the policy document instead`);
  const text = await readSource(source, env[source]!.trim(), ssm);
  const raw = await parseText(text, source);
  return { document: validate(applyFailureBehavior(raw, env, source), source), origin: source };
}

function refuseNotationConflict(env: Env): void {
  if (nonBlank(env.NOTATION_PATH) && nonBlank(env.TRUSTED_SIGNING_PROFILES)) {
    throw conflict(
      'NOTATION_PATH',
      'TRUSTED_SIGNING_PROFILES',
      'the in-process AWS Signer verifier and a delegated notation binary would both judge Signer signatures; keep one',
    );
  }
}

async function readSource(source: string, value: string, ssm: () => SSMClient | Promise<SSMClient>): Promise<string> {
  if (source === 'POLICY') return value;
  if (source === 'POLICY_FILE') {
    try {
      return readFileSync(value, 'utf8');
    } catch (e) {
      throw new PolicyError(`POLICY_FILE: cannot read ${value}: ${(e as Error).message}`);
    }
  }
  try {
    const { GetParameterCommand } = await import('@aws-sdk/client-ssm'); // only a policy kept in SSM needs it
    const out = await (await ssm()).send(new GetParameterCommand({ Name: value, WithDecryption: true }));
    const text = out.Parameter?.Value;
    if (!text) throw new Error('the parameter has no value');
    return text;
  } catch (e) {
    throw new PolicyError(`POLICY_PARAMETER: cannot read SSM parameter ${value}: ${(e as Error).message}`);
  }
}

/** YAML is a superset of JSON, so one parser reads both forms. */
/**
 * Far above any real policy (SSM's advanced parameters hold 8 KiB), far below what keeps
 * the YAML parser busy for seconds: a larger document is refused before it is parsed.
 */
export const MAX_POLICY_BYTES = 1024 * 1024;

async function parseText(text: string, origin: string): Promise<unknown> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_POLICY_BYTES) {
    throw new PolicyError(
      `${origin}: the policy document has ${bytes} bytes, more than the ${MAX_POLICY_BYTES} a policy may have`,
    );
  }
  // imported here: a policy made of the environment's shortcuts is never text to parse
  const { parse: parseYaml } = await import('yaml');
  try {
    return parseYaml(text);
  } catch (e) {
    throw new PolicyError(`${origin}: not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function validate(raw: unknown, origin: string): PolicyDocument {
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) throw new PolicyError(`${origin}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** With a policy to load, a FAILURE_BEHAVIOR that is neither mode is a policy error. */
function failureBehaviorMode(env: Env): Mode | undefined {
  const behavior = parseFailureBehavior(env.FAILURE_BEHAVIOR);
  if (behavior.kind === 'invalid')
    throw new PolicyError(`FAILURE_BEHAVIOR: "${behavior.value}" is not one of BLOCK_ON_FAILURE, LOG_ON_FAILURE`);
  return behavior.kind === 'mode' ? behavior.mode : undefined;
}

/**
 * FAILURE_BEHAVIOR sets the mode of a document that does not say it; a document that
 * says another mode is a conflict (which one did the user mean?).
 */
function applyFailureBehavior(raw: unknown, env: Env, source: string): unknown {
  const mode = failureBehaviorMode(env);
  if (!mode || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const stated = (raw as { mode?: unknown }).mode;
  if (stated === undefined) return { ...raw, mode };
  if (stated !== mode)
    throw conflict('FAILURE_BEHAVIOR', `${source} (mode: ${String(stated)})`, 'set the mode in one place only');
  return raw;
}

function fromShortcuts(env: Env): LoadedPolicy {
  const list = (name: keyof Env) => (env[name] ?? '').split(/[,\s]+/).filter(Boolean);
  const verifiers: NonNullable<PolicyInput['rules']>[number]['verifiers'] = [];
  if (nonBlank(env.COSIGN_KEY_PEM))
    verifiers.push({ type: 'cosign', publicKey: env.COSIGN_KEY_PEM!.replace(/\\n/g, '\n') });
  if (nonBlank(env.COSIGN_KEY_ARN)) verifiers.push({ type: 'cosign', kmsKey: env.COSIGN_KEY_ARN!.trim() });
  const profiles = list('TRUSTED_SIGNING_PROFILES');
  if (profiles.length) verifiers.push({ type: 'aws-signer', signingProfiles: profiles });
  const notationPath = env.NOTATION_PATH?.trim() || undefined;
  const allow = {
    images: list('ALLOWLIST_IMAGES'),
    digests: list('ALLOWLIST_DIGESTS'),
    prefixes: list('ALLOWLIST_PREFIXES'),
    repositories: list('REPO_ALLOWLIST'),
  };
  const anyAllow = Object.values(allow).some((entries) => entries.length > 0);
  if (!verifiers.length && !notationPath && !anyAllow) {
    throw new PolicyError(
      'no policy configured: set POLICY, POLICY_FILE or POLICY_PARAMETER, or at least one of COSIGN_KEY_PEM, COSIGN_KEY_ARN, TRUSTED_SIGNING_PROFILES, NOTATION_PATH',
    );
  }
  const input: PolicyInput = {
    version: 1,
    mode: failureBehaviorMode(env) ?? 'enforce',
    allow,
    // The delegated notation binary is added to this rule by the compiler (it is not a document verifier).
    rules: verifiers.length ? [{ name: 'default', images: ['**'], verifiers }] : [],
  };
  return { document: validate(input, 'environment'), origin: 'environment', ...(notationPath ? { notationPath } : {}) };
}

function conflict(a: string, b: string, fix: string): PolicyError {
  return new PolicyError(`conflicting settings ${a} and ${b}: ${fix}`);
}

function nonBlank(v: string | undefined): boolean {
  return v !== undefined && v.trim() !== '';
}
