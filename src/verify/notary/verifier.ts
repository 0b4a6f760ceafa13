/**
 * The Notation verifier: a Notary Project trust policy (version 1.0) and trust store,
 * applied in process to the image's signatures. `verify()` is the specification's
 * list of validations, each enforced, logged or skipped as the policy's level says.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NotationVerifierConfig } from '../../policy/schema.js';
import { VerifierError, type VerifierVerdict, type Verifier, type VerifyContext } from '../../core/verifier.js';
import { authenticTimestamp, checkIntegrity, expiryProblem, trustedAnchor, type Intact } from './checks.js';
import { RevocationChecker } from './revocation.js';
import type { Certificate } from './x509.js';
import { DEFAULT_MAX_SIGNATURES, failure, firstPassing, type Failure, type FoundEnvelope } from './discovery.js';
import {
  TrustPolicyDocument,
  TrustPolicyError,
  subjectMatches,
  type TrustPolicyStatement,
  type Validation,
} from './trust-policy.js';
import { TrustStore } from './trust-store.js';

type Enforced = Exclude<TrustPolicyStatement, { level: 'skip' }>;

export interface NotationDeps {
  /** folder that relative paths in the config are resolved against */
  baseDir: string;
  /** how many signatures to try at most (notation's default: 50) */
  maxSignatures?: number;
  /** where logged (not enforced) validation failures go */
  log?: (message: string, data: Record<string, unknown>) => void;
  /** OCSP/CRL client with its cache; share one across verifiers to share answers */
  revocation?: RevocationChecker;
}

const NO_EXTENDED = new Set<string>();

export class NotationVerifier implements Verifier {
  readonly description: string;

  constructor(
    private readonly policy: TrustPolicyDocument,
    private readonly store: TrustStore,
    private readonly opts: {
      maxSignatures: number;
      log: NonNullable<NotationDeps['log']>;
      name: string;
      revocation: RevocationChecker;
    },
  ) {
    this.description = `notation ${opts.name}`;
  }

  async verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    const repository = `${ctx.target.ref.registry}/${ctx.target.ref.repository}`;
    const statement = this.policy.select(repository);
    if (!statement)
      return failure('UNTRUSTED_SIGNER', `no Notation trust policy has a registryScope covering ${repository}`);
    if (statement.level === 'skip')
      return { ok: true, by: `notation trust policy "${statement.name}"`, detail: 'skipped by trust policy' };
    const descriptor = await ctx.target.descriptor();
    return firstPassing(ctx, this.opts.maxSignatures, 'Notation', async (found) =>
      this.verifySignature(found, statement, descriptor, ctx),
    );
  }

  private async verifySignature(
    found: FoundEnvelope,
    policy: Enforced,
    descriptor: Awaited<ReturnType<VerifyContext['target']['descriptor']>>,
    ctx: VerifyContext,
  ): Promise<VerifierVerdict> {
    const { now } = ctx;
    const logged: string[] = [];
    const log = (v: Validation, reason: string, detail: string): null => {
      logged.push(`${v}: ${detail}`);
      this.opts.log(`Notation ${v} validation failed (logged by trust policy "${policy.name}")`, { reason, detail });
      return null;
    };
    const step = (v: Validation, f: Failure | null): Failure | null => {
      if (!f) return null;
      // Stryker disable next-line ConditionalExpression,StringLiteral: the trust policy allows skip only for revocation, which does not go through step(); kept so that a skip ever allowed here is honoured
      if (policy.actions[v] === 'skip') return null;
      if (policy.actions[v] === 'enforce') return f;
      return log(v, f.reason, f.detail);
    };
    const intact = checkIntegrity(found, descriptor, { understood: NO_EXTENDED });
    if ('ok' in intact) return intact; // integrity is always enforced
    const anchor = this.anchor(intact, policy);
    const authenticity = step('authenticity', 'reason' in anchor ? anchor : this.identity(intact, policy));
    if (authenticity) return authenticity;
    const tsa = this.store.certificates(policy.trustStores, 'tsa');
    const timestamp = authenticTimestamp(intact, { now, tsa, verifyTimestamp: policy.verifyTimestamp });
    const failed = step('authenticTimestamp', timestamp.failure) ?? step('expiry', expiryProblem(intact.envelope, now));
    if (failed) return failed;
    const revoked = await this.revocation(intact.chain, timestamp.tsaChain, policy, ctx.signal, log);
    if (revoked) return revoked;
    const storeName = 'reason' in anchor ? 'untrusted' : anchor.store;
    return {
      ok: true,
      by: `notation x509.subject:${intact.chain[0]!.subject} (${storeName})`,
      ...(logged.length
        ? { detail: `verified under "${policy.name}" (${policy.level}); logged: ${logged.join('; ')}` }
        : {}),
    };
  }

  /** Authenticity, trust store: the chain leads to a certificate of a store of the scheme's type. */
  private anchor(intact: Intact, policy: Enforced): { store: string } | Failure {
    const type = intact.envelope.signingScheme === 'notary.x509' ? 'ca' : 'signingAuthority';
    // certificates() gives a store's certificates only when the store is of this type
    for (const ref of policy.trustStores) {
      if (trustedAnchor(intact.chain, this.store.certificates([ref], type)))
        return { store: `${ref.type}:${ref.name}` };
    }
    return failure(
      'UNTRUSTED_SIGNER',
      `the certificate chain of "${intact.chain[0]!.subject}" does not lead to a certificate in the ${type} trust stores of policy "${policy.name}"`,
    );
  }

  /** Authenticity, trusted identity: the leaf subject contains one trusted x509.subject. */
  private identity(intact: Intact, policy: Enforced): Failure | null {
    if (policy.trustedIdentities === null) return null;
    const leaf = intact.chain[0]!;
    if (policy.trustedIdentities.some((id) => subjectMatches(id, leaf.subjectAttributes))) return null;
    return failure(
      'UNTRUSTED_SIGNER',
      `signer "${leaf.subject}" is not among the trusted identities of policy "${policy.name}"`,
    );
  }

  /**
   * Revocation: OCSP, then CRL, for the signing chain and the TSA chain of a verified
   * timestamp. Revoked is REVOKED when enforced; a status that cannot be determined is
   * REVOCATION_UNKNOWN (an error: onError decides, the hook may wait it out), never a
   * pass. Under "log" both are logged and the signature passes.
   */
  private async revocation(
    chain: Certificate[],
    tsaChain: Certificate[] | undefined,
    policy: Enforced,
    signal: AbortSignal,
    log: (v: Validation, reason: string, detail: string) => null,
  ): Promise<Failure | null> {
    const action = policy.actions.revocation;
    if (action === 'skip') return null;
    const [signing, tsa] = await Promise.all([
      this.opts.revocation.checkChain(chain, signal),
      tsaChain ? this.opts.revocation.checkChain(tsaChain, signal) : undefined,
    ]);
    const worst =
      [signing, tsa].find((s) => s?.status === 'revoked') ?? [signing, tsa].find((s) => s?.status === 'unknown');
    if (!worst) return null;
    const where = worst === tsa ? 'timestamp authority chain: ' : '';
    if (action === 'log')
      return log(
        'revocation',
        worst.status === 'revoked' ? 'REVOKED' : 'REVOCATION_UNKNOWN',
        `${where}${worst.detail}`,
      );
    if (worst.status === 'revoked') return failure('REVOKED', `${where}${worst.detail}`);
    throw new VerifierError(
      'REVOCATION_UNKNOWN',
      `${where}${worst.detail} (trust policy "${policy.name}" enforces revocation)`,
      true,
    );
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
    throw new VerifierError(
      'POLICY_ERROR',
      `Notation trust policy ${policyPath ?? '(inline)'}: ${(e as Error).message}`,
    );
  }
  let store: TrustStore;
  try {
    store = TrustStore.load(storeRoot, policy.trustStores());
  } catch (e) {
    // TrustStore.load throws only TrustStoreErrors, each naming the store and the file
    throw new VerifierError('POLICY_ERROR', `Notation trust store ${storeRoot}: ${(e as Error).message}`);
  }
  return new NotationVerifier(policy, store, {
    maxSignatures: deps.maxSignatures ?? DEFAULT_MAX_SIGNATURES,
    log: deps.log ?? (() => undefined),
    revocation: deps.revocation ?? new RevocationChecker(),
    name: policyPath
      ? `trust policy ${policyPath}`
      : `trust policy (${policy.statements.map((s) => s.name).join(', ')})`,
  });
}

function readJson(path: string): unknown {
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding the Buffer goes to JSON.parse, which reads it as UTF-8 all the same
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
