/**
 * Trust stores laid out as notation lays them out:
 * `<root>/x509/{ca,signingAuthority,tsa}/<name>/*.{pem,crt,cer}` (PEM or DER, several
 * certificates per file allowed). Loaded once, when the verifier is made.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Certificate, parseCertificates } from './x509.js';
import type { TrustStoreRef, TrustStoreType } from './trust-policy.js';

export class TrustStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustStoreError';
  }
}

export class TrustStore {
  private constructor(private readonly stores: ReadonlyMap<string, Certificate[]>) {}

  /** Load every named store the policy uses; a missing or empty store, or a bad file, is an error that names it. */
  static load(root: string, refs: TrustStoreRef[]): TrustStore {
    const stores = new Map<string, Certificate[]>();
    for (const ref of refs) stores.set(key(ref.type, ref.name), loadNamedStore(root, ref));
    return new TrustStore(stores);
  }

  /** From certificates in memory (AWS Signer roots, tests). */
  static of(entries: Array<{ type: TrustStoreType; name: string; certs: Certificate[] }>): TrustStore {
    return new TrustStore(new Map(entries.map((e) => [key(e.type, e.name), e.certs])));
  }

  certificates(refs: TrustStoreRef[], type: TrustStoreType): Certificate[] {
    return refs.filter((r) => r.type === type).flatMap((r) => this.stores.get(key(r.type, r.name)) ?? []);
  }
}

function key(type: string, name: string): string {
  return `${type}:${name}`;
}

function loadNamedStore(root: string, ref: TrustStoreRef): Certificate[] {
  const dir = join(root, 'x509', ref.type, ref.name);
  let files: string[];
  try {
    // a file where the folder should be fails here too (ENOTDIR)
    files = readdirSync(dir).filter((f) => !f.startsWith('.'));
  } catch {
    throw new TrustStoreError(`trust store ${ref.type}:${ref.name}: folder ${dir} does not exist`);
  }
  // Stryker disable next-line MethodExpression: libuv already lists a folder sorted; sorting here makes file-name order a promise of this module, not of libuv
  files.sort();
  const certs: Certificate[] = [];
  for (const f of files) {
    const path = join(dir, f);
    try {
      if (!statSync(path).isFile()) continue;
      certs.push(...parseCertificates(readFileSync(path)));
    } catch (e) {
      // a CertificateError says what is wrong with the file; any other error (e.g. ENOENT) says why it was not read
      throw new TrustStoreError(`trust store ${ref.type}:${ref.name}: ${path}: ${(e as Error).message}`);
    }
  }
  if (certs.length === 0) throw new TrustStoreError(`trust store ${ref.type}:${ref.name}: no certificate in ${dir}`);
  for (const c of certs) {
    // notation accepts CA certificates and self-signed signing certificates as trust anchors
    if (!c.basicConstraints?.ca && !c.isSelfSigned())
      throw new TrustStoreError(`trust store ${ref.type}:${ref.name}: "${c.subject}" is neither a CA nor self-signed`);
  }
  return certs;
}
