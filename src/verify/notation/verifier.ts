/**
 * The Notation verifier: a Notary Project trust policy (version 1.0) and trust store,
 * applied in process to the image's signatures. `verify()` is the specification's
 * list of validations, each enforced, logged or skipped as the policy's level says.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NotationVerifierConfig } from '../../policy/schema.js';
import { VerifierError, type Verdict, type Verifier, type VerifyContext } from '../types.js';
import { authenticTimestampProblem, checkIntegrity, expiryProblem, trustedAnchor, type Intact } from './checks.js';
import { DEFAULT_MAX_SIGNATURES, failure, firstPassing, type Failure, type FoundEnvelope } from './discovery.js';
import { TrustPolicyDocument, TrustPolicyError, subjectMatches, type TrustPolicyStatement, type Validation } from './trust-policy.js';
import { TrustStore, TrustStoreError } from './trust-store.js';

type Enforced = Exclude<TrustPolicyStatement, { level: 'skip' }>;

export interface NotationDeps {
  /** folder that relative paths in the config are resolved against */
  baseDir: string;
  /** how many signatures to try at most (notation's default: 50) */
  maxSignatures?: number;
  /** where logged (not enforced) validation failures go */
  log?: (message: string, data: Record<string, unknown>) => void;
}

const NO_EXTENDED = new Set<string>();

export class NotationVerifier implements Verifier {
  readonly description: string;

  constructor(
    private readonly policy: TrustPolicyDocument,
    private readonly store: TrustStore,
    private readonly opts: { maxSignatures: number; log: NonNullable<NotationDeps['log']>; name: string },
  ) {
    this.description = `notation ${opts.name}`;
  }

  async verify(ctx: VerifyContext): Promise<Verdict> {
    const repository = `${ctx.target.ref.registry}/${ctx.target.ref.repository}`;
    const statement = this.policy.select(repository);
    if (!statement) return failure('UNTRUSTED_SIGNER', `no Notation trust policy has a registryScope covering ${repository}`);
    if (statement.level === 'skip') return { ok: true, by: `notation trust policy "${statement.name}"`, detail: 'skipped by trust policy' };
    const descriptor = await ctx.target.descriptor();
    return firstPassing(ctx, this.opts.maxSignatures, 'Notation', async (found) => this.verifySignature(found, statement, descriptor, ctx.now));
  }

  private async verifySignature(found: FoundEnvelope, policy: Enforced, descriptor: Awaited<ReturnType<VerifyContext['target']['descriptor']>>, now: Date): Promise<Verdict> {
    const logged: string[] = [];
    const step = (v: Validation, f: Failure | null): Failure | null => {
      if (!f || policy.actions[v] === 'skip') return null;
      if (policy.actions[v] === 'enforce') return f;
      logged.push(`${v}: ${f.detail}`);
      this.opts.log(`Notation ${v} validation failed (logged by trust policy "${policy.name}")`, { reason: f.reason, detail: f.detail });
      return null;
    };
    const intact = checkIntegrity(found, descriptor, { understood: NO_EXTENDED });
    if ('ok' in intact) return intact; // integrity is always enforced
    const anchor = this.anchor(intact, policy);
    const authenticity = step('authenticity', 'reason' in anchor ? anchor : this.identity(intact, policy));
    if (authenticity) return authenticity;
    const tsa = this.store.certificates(policy.trustStores, 'tsa');
    const failed =
      step('authenticTimestamp', authenticTimestampProblem(intact, { now, tsa, verifyTimestamp: policy.verifyTimestamp })) ??
      step('expiry', expiryProblem(intact.envelope, now)) ??
      step('revocation', this.revocation(intact, policy));
    if (failed) return failed;
    const storeName = 'reason' in anchor ? 'untrusted' : anchor.store;
    return {
      ok: true,
      by: `notation x509.subject:${intact.chain[0]!.subject} (${storeName})`,
      ...(logged.length ? { detail: `verified under "${policy.name}" (${policy.level}); logged: ${logged.join('; ')}` } : {}),
    };
  }

  /** Authenticity, trust store: the chain leads to a certificate of a store of the scheme's type. */
  private anchor(intact: Intact, policy: Enforced): { store: string } | Failure {
    const type = intact.envelope.signingScheme === 'notary.x509' ? 'ca' : 'signingAuthority';
    for (const ref of policy.trustStores.filter((r) => r.type === type)) {
      if (trustedAnchor(intact.chain, this.store.certificates([ref], type))) return { store: `${ref.type}:${ref.name}` };
    }
    return failure('UNTRUSTED_SIGNER', `the certificate chain of "${intact.chain[0]!.subject}" does not lead to a certificate in the ${type} trust stores of policy "${policy.name}"`);
  }

  /** Authenticity, trusted identity: the leaf subject contains one trusted x509.subject. */
  private identity(intact: Intact, policy: Enforced): Failure | null {
    if (policy.trustedIdentities === null) return null;
    const leaf = intact.chain[0]!;
    if (policy.trustedIdentities.some((id) => subjectMatches(id, leaf.subjectAttributes))) return null;
    return failure('UNTRUSTED_SIGNER', `signer "${leaf.subject}" is not among the trusted identities of policy "${policy.name}"`);
  }

  /**
   * Revocation by OCSP/CRL is not fetched in process. Certificates that name no OCSP or
   * CRL location are not revocable (the specification's rule); for one that does, an
   * enforced check cannot be completed, which is an error rather than an allow.
   */
  private revocation(intact: Intact, policy: Enforced): Failure | null {
    if (policy.actions.revocation === 'skip') return null;
    const revocable = intact.chain.find((c) => c.hasRevocationInfo);
    if (!revocable) return null;
    const message = `revocation status of "${revocable.subject}" (OCSP/CRL) cannot be checked in process`;
    if (policy.actions.revocation === 'enforce') {
      throw new VerifierError('KEY_ERROR', `${message}; set override "revocation": "log" or "skip" in trust policy "${policy.name}", or use NOTATION_PATH`);
    }
    return failure('REVOKED', message);
  }
}

/** Loads the trust policy and stores now, so a bad file fails at start with its name. */
export function createNotationVerifier(config: NotationVerifierConfig, deps: NotationDeps): Verifier {
  const policyPath = config.trustPolicyFile ? resolve(deps.baseDir, config.trustPolicyFile) : undefined;
  const storeRoot = resolve(deps.baseDir, config.trustStore);
  let policy: TrustPolicyDocument;
  try {
    policy = TrustPolicyDocument.parse(policyPath ? readJson(policyPath) : config.trustPolicy);
  } catch (e) {
    throw new VerifierError('POLICY_ERROR', `Notation trust policy ${policyPath ?? '(inline)'}: ${(e as Error).message}`);
  }
  let store: TrustStore;
  try {
    store = TrustStore.load(storeRoot, policy.trustStores());
  } catch (e) {
    if (e instanceof TrustStoreError) throw new VerifierError('POLICY_ERROR', `Notation trust store ${storeRoot}: ${e.message}`);
    throw e;
  }
  return new NotationVerifier(policy, store, {
    maxSignatures: deps.maxSignatures ?? DEFAULT_MAX_SIGNATURES,
    log: deps.log ?? (() => undefined),
    name: policyPath ? `trust policy ${policyPath}` : `trust policy (${policy.statements.map((s) => s.name).join(', ')})`,
  });
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new TrustPolicyError('cannot read the file');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TrustPolicyError(`not JSON: ${(e as Error).message}`);
  }
}
