/**
 * AWS Signer signatures of container images, verified in process as the AWS Signer
 * Notation plugin (aws/aws-signer-notation-plugin) and notation verify them together:
 * a Notary Project JWS envelope under the notary.x509.signingAuthority scheme, a chain
 * to an AWS Signer root, the signing profile named by the critical attribute
 * `com.amazonaws.signer.signingProfileVersion`, and revocation asked of
 * signer:GetRevocationStatus with exactly the parameters the plugin sends.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GetRevocationStatusCommand, type SignerClient } from '@aws-sdk/client-signer';
import { isTransient } from '../../core/aws-errors.js';
import type { AwsSignerVerifierConfig } from '../../policy/schema.js';
import { VerifierError, type VerifierVerdict, type Verifier, type VerifyContext } from '../../core/verifier.js';
import { authenticTimestampProblem, checkIntegrity, expiryProblem, trustedAnchor, type Intact } from './checks.js';
import { DEFAULT_MAX_SIGNATURES, failure, firstPassing, type Failure, type FoundEnvelope } from './discovery.js';
import { type Certificate, parseCertificates } from './x509.js';

export const SIGNER_ATTR = {
  profileVersion: 'com.amazonaws.signer.signingProfileVersion',
  job: 'com.amazonaws.signer.signingJob',
  profileAlias: 'com.amazonaws.signer.signingProfileAlias',
} as const;
export const SIGNER_PLUGIN = 'com.amazonaws.signer.notation.plugin';
export const SIGNER_PLATFORM = 'Notation-OCI-SHA384-ECDSA';
const UNDERSTOOD = new Set<string>(Object.values(SIGNER_ATTR));

export interface AwsSignerDeps {
  /** a Signer client, or one per region (revocation is asked in the profile's region) */
  signer: SignerClient | ((region: string) => SignerClient | Promise<SignerClient>);
  /** folder with `signer-roots/*.pem` (the Lambda layer's /opt/trust, Config.trustDir); default /opt/trust */
  trustDir?: string;
  /** region for a profile ARN that names none (Config.region); default us-east-1 */
  region?: string;
  maxSignatures?: number;
  log?: (message: string, data: Record<string, unknown>) => void;
}

export class AwsSignerVerifier implements Verifier {
  readonly description: string;

  constructor(
    private readonly config: AwsSignerVerifierConfig,
    private readonly roots: Certificate[],
    private readonly deps: AwsSignerDeps,
  ) {
    this.description = `aws-signer ${config.signingProfiles.join(', ')}`;
  }

  async verify(ctx: VerifyContext): Promise<VerifierVerdict> {
    const descriptor = await ctx.target.descriptor();
    return firstPassing(ctx, this.deps.maxSignatures ?? DEFAULT_MAX_SIGNATURES, 'AWS Signer', (found) =>
      this.verifySignature(found, descriptor, ctx),
    );
  }

  private async verifySignature(
    found: FoundEnvelope,
    descriptor: Awaited<ReturnType<VerifyContext['target']['descriptor']>>,
    ctx: VerifyContext,
  ): Promise<VerifierVerdict> {
    const intact = checkIntegrity(found, descriptor, { understood: UNDERSTOOD, plugin: SIGNER_PLUGIN });
    if ('ok' in intact) return intact;
    const signed = this.signerAttributes(intact);
    if ('ok' in signed) return signed;
    const problem =
      this.anchorProblem(intact) ??
      this.profileProblem(signed) ??
      // Stryker disable next-line ObjectLiteral,ArrayDeclaration,StringLiteral: for notary.x509.signingAuthority (the only scheme signerAttributes lets through) only the authentic signing time is checked; now, tsa and verifyTimestamp are not read
      authenticTimestampProblem(intact, { now: ctx.now, tsa: [], verifyTimestamp: 'always' }) ??
      expiryProblem(intact.envelope, ctx.now);
    if (problem) return problem;
    const revocation = await this.revocation(intact, signed, ctx);
    if (revocation && 'reason' in revocation) return revocation;
    return {
      ok: true,
      by: `aws-signer profile ${signed.profileVersion}`,
      ...(revocation ? { detail: revocation.unchecked } : {}),
    };
  }

  /** The Signer attributes: scheme signingAuthority, profile version and job ARNs, all critical. */
  private signerAttributes(intact: Intact): { profileVersion: string; job: string; alias?: string } | Failure {
    const { envelope } = intact;
    if (envelope.signingScheme !== 'notary.x509.signingAuthority')
      return failure(
        'UNTRUSTED_SIGNER',
        `AWS Signer signs with notary.x509.signingAuthority, not ${envelope.signingScheme}`,
      );
    const profileVersion = envelope.extendedCritical[SIGNER_ATTR.profileVersion];
    const job = envelope.extendedCritical[SIGNER_ATTR.job];
    if (typeof profileVersion !== 'string' || typeof job !== 'string') {
      return failure(
        'UNTRUSTED_SIGNER',
        `the signature lacks the critical attributes ${SIGNER_ATTR.profileVersion} and ${SIGNER_ATTR.job}`,
      );
    }
    const alias = envelope.extendedCritical[SIGNER_ATTR.profileAlias];
    return { profileVersion, job, ...(typeof alias === 'string' ? { alias } : {}) };
  }

  private anchorProblem(intact: Intact): Failure | null {
    return trustedAnchor(intact.chain, this.roots)
      ? null
      : failure(
          'UNTRUSTED_SIGNER',
          `the certificate chain of "${intact.chain[0]!.subject}" does not lead to an AWS Signer root`,
        );
  }

  private profileProblem(signed: { profileVersion: string; alias?: string }): Failure | null {
    const match = this.config.signingProfiles.find((trusted) =>
      profileMatches(trusted, signed.profileVersion, signed.alias),
    );
    return match
      ? null
      : failure(
          'UNTRUSTED_SIGNER',
          `signing profile ${signed.profileVersion} is not among the trusted signing profiles`,
        );
  }

  /** signer:GetRevocationStatus as the plugin asks it; `warn` admits when Signer cannot answer. */
  private async revocation(
    intact: Intact,
    signed: { profileVersion: string; job: string },
    ctx: VerifyContext,
  ): Promise<Failure | { unchecked: string } | null> {
    if (this.config.revocation === 'skip') return null;
    const input = {
      signatureTimestamp: intact.envelope.authenticSigningTime!,
      platformId: SIGNER_PLATFORM,
      profileVersionArn: signed.profileVersion,
      jobArn: signed.job,
      certificateHashes: certificateHashes(intact.chain),
    };
    const client = await this.client(signed.profileVersion);
    try {
      const out = await client.send(new GetRevocationStatusCommand(input), {
        abortSignal: ctx.signal,
      });
      const revoked = out.revokedEntities ?? [];
      return revoked.length ? failure('REVOKED', revocationReason(revoked)) : null;
    } catch (e) {
      const message = `AWS Signer GetRevocationStatus failed: ${(e as Error).name}: ${(e as Error).message}`;
      if (this.config.revocation === 'warn') {
        this.deps.log?.(message, { profileVersionArn: signed.profileVersion });
        return { unchecked: `revocation not checked (revocation: warn): ${message}` };
      }
      // the status is unknown, not bad: onError decides, and the hook may wait out a transient one
      throw new VerifierError('REVOCATION_UNKNOWN', message, isTransient(e));
    }
  }

  private client(profileVersionArn: string): SignerClient | Promise<SignerClient> {
    if (typeof this.deps.signer !== 'function') return this.deps.signer;
    return this.deps.signer(profileVersionArn.split(':')[3] || this.deps.region || 'us-east-1');
  }
}

/**
 * The plugin's matching: a profile ARN (".../signing-profiles/Name") matches the signed
 * profile-version ARN minus its last path element; a profile-version ARN or an
 * aliased-signing-profiles ARN matches exactly; an alias ARN matches the signed alias.
 * All case-insensitively.
 */
export function profileMatches(trusted: string, profileVersion: string, alias?: string): boolean {
  const parts = trusted.split(':');
  // an ARN of fewer than six parts leaves an empty resource, which matches no prefix below
  if (parts[0] !== 'arn' || parts[2] !== 'signer') return false;
  // Stryker disable next-line StringLiteral: the resource is only read for its prefix and its count of '/', which the separator does not change
  const resource = parts.slice(5).join(':');
  const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (resource.startsWith('/aliases/')) return alias !== undefined && eq(alias, trusted);
  if (resource.startsWith('/aliased-signing-profiles/')) return eq(profileVersion, trusted);
  if (!resource.startsWith('/signing-profiles/')) return false;
  const segments = resource.split('/');
  // the signed version ARN minus its last element (one without a '/' cannot equal a profile ARN, which has some)
  if (segments.length === 3) return eq(profileVersion.slice(0, profileVersion.lastIndexOf('/')), trusted);
  return segments.length === 4 && eq(profileVersion, trusted);
}

/** hex(SHA-384(TBS_i)) + hex(SHA-384(TBS_i+1)), the root paired with itself. */
export function certificateHashes(chain: Certificate[]): string[] {
  const hashes = chain.map((c) => createHash('sha384').update(c.tbs).digest('hex'));
  return hashes.map((h, i) => h + (hashes[i + 1] ?? h));
}

function revocationReason(entities: string[]): string {
  const resources = entities.filter((e) => e.startsWith('arn'));
  const certs = entities.length - resources.length;
  return [
    resources.length ? `revoked by AWS Signer: ${resources.join(', ')}` : '',
    certs ? `${certs} certificate(s) of the signing chain revoked` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/** AWS Signer roots from the trust folder, plus the verifier's own trustStore folder. */
export function loadSignerRoots(config: AwsSignerVerifierConfig, trustDir: string): Certificate[] {
  const folders = [join(trustDir, 'signer-roots'), ...(config.trustStore ? [config.trustStore] : [])];
  const roots: Certificate[] = [];
  for (const dir of folders) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => /\.(pem|crt|cer)$/i.test(f) && statSync(join(dir, f)).isFile());
    } catch {
      if (dir !== folders[0]) throw new VerifierError('POLICY_ERROR', `aws-signer trustStore ${dir} cannot be read`);
    }
    for (const f of files) {
      try {
        roots.push(...parseCertificates(readFileSync(join(dir, f))));
      } catch (e) {
        throw new VerifierError('POLICY_ERROR', `aws-signer root ${join(dir, f)}: ${(e as Error).message}`);
      }
    }
  }
  if (roots.length === 0) {
    throw new VerifierError(
      'POLICY_ERROR',
      `no AWS Signer root certificates: put the AWS Signer Notation roots in ${folders[0]} (the trust layer) or name a trustStore folder`,
    );
  }
  return roots;
}

export function createAwsSignerVerifier(config: AwsSignerVerifierConfig, deps: AwsSignerDeps): Verifier {
  const roots = loadSignerRoots(config, deps.trustDir ?? '/opt/trust');
  return new AwsSignerVerifier(config, roots, deps);
}
