/**
 * The Notary Project trust policy document, version 1.0 (trust-store-trust-policy.md):
 * parsed and validated once, then asked which policy covers a repository and what
 * each validation step does under it.
 */

export type Validation = 'integrity' | 'authenticity' | 'authenticTimestamp' | 'expiry' | 'revocation';
export type Action = 'enforce' | 'log' | 'skip';
export type Level = 'strict' | 'permissive' | 'audit' | 'skip';
export type TrustStoreType = 'ca' | 'signingAuthority' | 'tsa';

const LEVELS: Record<Exclude<Level, 'skip'>, Record<Validation, Action>> = {
  strict: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'enforce',
    expiry: 'enforce',
    revocation: 'enforce',
  },
  permissive: {
    integrity: 'enforce',
    authenticity: 'enforce',
    authenticTimestamp: 'log',
    expiry: 'log',
    revocation: 'log',
  },
  audit: { integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' },
};

/** What `override` may set for each validation (integrity cannot be overridden). */
const OVERRIDABLE: Record<Exclude<Validation, 'integrity'>, readonly Action[]> = {
  authenticity: ['enforce', 'log'],
  authenticTimestamp: ['enforce', 'log'],
  expiry: ['enforce', 'log'],
  revocation: ['enforce', 'log', 'skip'],
};

export interface TrustStoreRef {
  type: TrustStoreType;
  name: string;
}

/** One parsed x509.subject identity: attribute → value. */
export type SubjectIdentity = ReadonlyMap<string, string>;

export type TrustPolicyStatement =
  | { name: string; registryScopes: string[]; level: 'skip' }
  | {
      name: string;
      registryScopes: string[];
      level: Exclude<Level, 'skip'>;
      actions: Record<Validation, Action>;
      verifyTimestamp: 'always' | 'afterCertExpiry';
      trustStores: TrustStoreRef[];
      /** null: `*`, any identity the trust stores vouch for */
      trustedIdentities: SubjectIdentity[] | null;
      /** as written, for messages */
      identityText: string[];
    };

export class TrustPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustPolicyError';
  }
}

export class TrustPolicyDocument {
  private constructor(readonly statements: TrustPolicyStatement[]) {}

  static parse(doc: unknown): TrustPolicyDocument {
    if (!isObject(doc)) throw new TrustPolicyError('the trust policy is not a JSON object');
    // notation's newer documents use "trustPolicies" with version 1.0; OCI and blob policies split later
    if (doc.version !== '1.0')
      throw new TrustPolicyError(`unsupported trust policy version ${JSON.stringify(doc.version)} (expected "1.0")`);
    const list = doc.trustPolicies;
    if (!Array.isArray(list) || list.length === 0)
      throw new TrustPolicyError('"trustPolicies" must be a non-empty array');
    const statements = list.map((s, i) => parseStatement(s, i));
    checkUnique(statements);
    return new TrustPolicyDocument(statements);
  }

  /** An exact repository scope beats the global `*`; none → undefined (the artifact is untrusted). */
  select(repositoryUri: string): TrustPolicyStatement | undefined {
    return (
      this.statements.find((s) => s.registryScopes.includes(repositoryUri)) ??
      this.statements.find((s) => s.registryScopes[0] === '*')
    );
  }

  /** Trust stores named anywhere in the document, deduplicated. */
  trustStores(): TrustStoreRef[] {
    const seen = new Map<string, TrustStoreRef>();
    for (const s of this.statements)
      if (s.level !== 'skip') for (const t of s.trustStores) seen.set(`${t.type}:${t.name}`, t);
    return [...seen.values()];
  }
}

function parseStatement(s: unknown, i: number): TrustPolicyStatement {
  const where = `trustPolicies[${i}]`;
  if (!isObject(s)) throw new TrustPolicyError(`${where} is not an object`);
  const name = s.name;
  if (typeof name !== 'string' || !name) throw new TrustPolicyError(`${where} has no name`);
  const at = `trust policy "${name}"`;
  const scopes = stringArray(s.registryScopes, `${at}: registryScopes`);
  if (scopes.length === 0) throw new TrustPolicyError(`${at}: registryScopes must not be empty`);
  if (scopes.includes('*') && scopes.length > 1)
    throw new TrustPolicyError(`${at}: the global scope "*" must be the only scope`);
  for (const scope of scopes)
    if (scope !== '*' && (scope.includes('*') || !scope.includes('/')))
      throw new TrustPolicyError(`${at}: "${scope}" is not a fully qualified repository`);
  const sv = s.signatureVerification;
  if (!isObject(sv)) throw new TrustPolicyError(`${at}: signatureVerification is required`);
  const level = sv.level;
  if (level === 'skip') {
    if (sv.override !== undefined) throw new TrustPolicyError(`${at}: the skip level cannot be overridden`);
    if (scopes[0] === '*') throw new TrustPolicyError(`${at}: the skip level cannot be used with the global scope "*"`);
    if ((s.trustStores as unknown[] | undefined)?.length || (s.trustedIdentities as unknown[] | undefined)?.length) {
      throw new TrustPolicyError(`${at}: a skip policy must not name trust stores or trusted identities`);
    }
    return { name, registryScopes: scopes, level: 'skip' };
  }
  if (level !== 'strict' && level !== 'permissive' && level !== 'audit')
    throw new TrustPolicyError(`${at}: unknown verification level ${JSON.stringify(level)}`);
  const verifyTimestamp = sv.verifyTimestamp ?? 'always';
  if (verifyTimestamp !== 'always' && verifyTimestamp !== 'afterCertExpiry')
    throw new TrustPolicyError(`${at}: verifyTimestamp must be "always" or "afterCertExpiry"`);
  const identityText = stringArray(s.trustedIdentities, `${at}: trustedIdentities`);
  const stores = stringArray(s.trustStores, `${at}: trustStores`);
  if (stores.length === 0) throw new TrustPolicyError(`${at}: trustStores must not be empty`);
  if (identityText.length === 0) throw new TrustPolicyError(`${at}: trustedIdentities must not be empty`);
  return {
    name,
    registryScopes: scopes,
    level,
    actions: applyOverride(LEVELS[level], sv.override, at),
    verifyTimestamp,
    trustStores: stores.map((t) => parseStoreRef(t, at)),
    trustedIdentities: parseIdentities(identityText, at),
    identityText,
  };
}

function applyOverride(base: Record<Validation, Action>, override: unknown, at: string): Record<Validation, Action> {
  const actions = { ...base };
  if (override === undefined) return actions;
  if (!isObject(override)) throw new TrustPolicyError(`${at}: override must be an object`);
  for (const [k, v] of Object.entries(override)) {
    // own keys only: "toString" or "constructor" must be refused, not found on the prototype
    const allowed = Object.hasOwn(OVERRIDABLE, k) ? OVERRIDABLE[k as keyof typeof OVERRIDABLE] : undefined;
    if (!allowed) throw new TrustPolicyError(`${at}: "${k}" cannot be overridden`);
    if (!allowed.includes(v as Action))
      throw new TrustPolicyError(`${at}: override ${k} must be one of ${allowed.join(', ')}`);
    actions[k as Validation] = v as Action;
  }
  return actions;
}

function parseStoreRef(text: string, at: string): TrustStoreRef {
  const [type, name, ...rest] = text.split(':');
  if (rest.length || !name || (type !== 'ca' && type !== 'signingAuthority' && type !== 'tsa')) {
    throw new TrustPolicyError(`${at}: trust store "${text}" must be <ca|signingAuthority|tsa>:<name>`);
  }
  if (!/^[\w.-]+$/.test(name))
    throw new TrustPolicyError(`${at}: trust store name "${name}" has characters outside [A-Za-z0-9_.-]`);
  return { type, name };
}

function parseIdentities(list: string[], at: string): SubjectIdentity[] | null {
  if (list.includes('*')) {
    if (list.length > 1)
      throw new TrustPolicyError(`${at}: the wildcard identity "*" must be the only trusted identity`);
    return null;
  }
  const ids = list.map((text) => {
    if (!text.startsWith('x509.subject:'))
      throw new TrustPolicyError(`${at}: trusted identity "${text}" must start with "x509.subject:"`);
    const dn = parseDn(text.slice('x509.subject:'.length), `${at}: "${text}"`);
    for (const required of ['C', 'ST', 'O'])
      if (!dn.has(required)) throw new TrustPolicyError(`${at}: trusted identity "${text}" must contain C, ST and O`);
    return dn;
  });
  for (let j = 1; j < ids.length; j++)
    for (let i = 0; i < j; i++)
      if (overlap(ids[i]!, ids[j]!))
        throw new TrustPolicyError(`${at}: trusted identities "${list[i]}" and "${list[j]}" overlap`);
  return ids;
}

/** Two identities overlap when some certificate could match both: no attribute they share differs. */
function overlap(a: SubjectIdentity, b: SubjectIdentity): boolean {
  for (const [k, v] of a) if (b.has(k) && b.get(k) !== v) return false;
  return true;
}

/** "C=US, ST=WA, O=wabbit\, inc" → Map; escapes per the spec (\, \; \\ and escaped edge spaces). */
export function parseDn(text: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[++i];
    } else if (c === ',' || c === ';' || c === '+') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim().toUpperCase();
    // a blank attribute name (" =x") is as wrong as none
    if (eq === -1 || !key) throw new TrustPolicyError(`${what}: "${part.trim()}" is not ATTRIBUTE=value`);
    const value = unescapeValue(part.slice(eq + 1));
    if (!value) throw new TrustPolicyError(`${what}: ${key} has an empty value`);
    if (out.has(key)) throw new TrustPolicyError(`${what}: ${key} appears twice`);
    out.set(key, value);
  }
  return out;
}

function unescapeValue(raw: string): string {
  // trim unescaped edge spaces, then drop the escapes
  const trimmed = raw.replace(/^ +/, '').replace(/(?<!\\) +$/, '');
  return trimmed.replace(/\\(.)/g, '$1');
}

/** The leaf subject contains every attribute of the identity with the same value (a subset match). */
export function subjectMatches(identity: SubjectIdentity, subject: ReadonlyArray<readonly [string, string]>): boolean {
  const attrs = new Map<string, string[]>();
  for (const [k, v] of subject) attrs.set(k.toUpperCase(), [...(attrs.get(k.toUpperCase()) ?? []), v]);
  for (const [k, v] of identity) {
    const values = attrs.get(k);
    // a repeated attribute in the certificate is ambiguous: refuse rather than guess
    if (values?.length !== 1 || values[0] !== v) return false;
  }
  return true;
}

function checkUnique(statements: TrustPolicyStatement[]): void {
  const names = new Set<string>();
  const scopes = new Map<string, string>();
  for (const s of statements) {
    if (names.has(s.name)) throw new TrustPolicyError(`trust policy name "${s.name}" is used twice`);
    names.add(s.name);
    for (const scope of s.registryScopes) {
      const other = scopes.get(scope);
      if (other) throw new TrustPolicyError(`registry scope "${scope}" appears in both "${other}" and "${s.name}"`);
      scopes.set(scope, s.name);
    }
  }
}

function stringArray(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string' && x.length > 0))
    throw new TrustPolicyError(`${what} must be an array of strings`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
