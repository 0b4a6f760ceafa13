/**
 * The policy document, version 1 (DESIGN.md "Policy document"), as a zod schema.
 * Unknown keys are refused everywhere: a typo in a security policy must not be
 * silently ignored.
 */
import { z } from 'zod';
import { conditionProblem } from './conditions.js';
import { resolvePredicateType } from './predicate-types.js';

const nonEmpty = z.string().min(1);

/**
 * A rule glob matches registry/repository, never a whole reference: a scheme, a tag, a
 * digest or blanks would make a glob that matches nothing, and with `unmatched: allow`
 * the images it was written for would be admitted unverified.
 */
const imageGlob = nonEmpty.superRefine((glob, ctx) => {
  const problem = /\s/.test(glob)
    ? 'contains blanks'
    : glob.includes('://')
      ? 'has a scheme (write host/repository, without https://)'
      : glob.includes('@')
        ? 'has a digest (a rule matches registry/repository; pin digests in allow.digests)'
        : glob
              .split('/')
              .slice(1)
              .some((segment) => segment.includes(':'))
          ? 'has a tag (a rule matches registry/repository, whatever the tag)'
          : undefined;
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `image glob "${glob.slice(0, 200)}" ${problem}` });
});

/** A regular expression in the policy must compile; it will be anchored (regex.ts). */
const regExp = nonEmpty.refine(
  (v) => {
    try {
      new RegExp(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not a valid regular expression' },
);

/** A keyless signer: a certificate subject (SAN) and OIDC issuer, exact or by anchored regex. */
const keylessIdentity = z
  .object({
    issuer: nonEmpty.optional(),
    issuerRegExp: regExp.optional(),
    subject: nonEmpty.optional(),
    subjectRegExp: regExp.optional(),
    /** Fulcio's GitHub workflow claims (OIDs 1.3.6.1.4.1.57264.1.*), compared exactly */
    github: z
      .object({
        repository: nonEmpty.optional(),
        ref: nonEmpty.optional(),
        trigger: nonEmpty.optional(),
        sha: nonEmpty.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((i) => [i.subject, i.subjectRegExp].filter((v) => v !== undefined).length === 1, {
    message: 'an identity needs exactly one of subject, subjectRegExp',
  })
  .refine((i) => !(i.issuer !== undefined && i.issuerRegExp !== undefined), {
    message: 'an identity takes issuer or issuerRegExp, not both',
  });

const keyless = z
  .object({
    identities: z.array(keylessIdentity).min(1),
    /** PEM file of private CA roots (cosign --ca-roots); without it, Fulcio from the trusted root */
    caRoots: nonEmpty.optional(),
    /** PEM file of intermediates (cosign --certificate-chain / --ca-intermediates) */
    caIntermediates: nonEmpty.optional(),
  })
  .strict()
  .refine((k) => k.caRoots !== undefined || k.caIntermediates === undefined, {
    message: 'caIntermediates needs caRoots',
    path: ['caIntermediates'],
  })
  .refine(
    (k) => k.caRoots !== undefined || k.identities.every((i) => i.issuer !== undefined || i.issuerRegExp !== undefined),
    {
      message: 'a Fulcio identity needs an issuer or issuerRegExp (the OIDC provider that vouched for the subject)',
      path: ['identities'],
    },
  );

/** A condition on the signed in-toto statement: a path and at least one operator (conditions.ts). */
const scalar = z.union([z.string(), z.number().finite(), z.boolean()]);
const attestationCondition = z
  .object({
    path: nonEmpty,
    equals: scalar.optional(),
    regExp: z.string().optional(),
    oneOf: z.array(scalar).min(1).optional(),
    exists: z.boolean().optional(),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const problem = conditionProblem(c);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

const attestation = z
  .object({
    /** a URI, or cosign's short names (slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, vuln, openvex, custom) */
    predicateType: nonEmpty.superRefine((t, ctx) => {
      const resolved = resolvePredicateType(t);
      if ('problem' in resolved)
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `predicateType ${resolved.problem}` });
    }),
    conditions: z.array(attestationCondition).default([]),
  })
  .strict();

const cosignVerifier = z
  .object({
    type: z.literal('cosign'),
    publicKey: nonEmpty.optional(),
    publicKeyFile: nonEmpty.optional(),
    kmsKey: nonEmpty.optional(),
    keyless: keyless.optional(),
    /** a Sigstore trusted_root.json (private Sigstore); default: the public-good root in layers/trust/sigstore */
    trustedRoot: nonEmpty.optional(),
    /** default: required for Fulcio keyless, skip for keys and private CAs */
    tlog: z.enum(['required', 'skip']).optional(),
    /** signed in-toto attestations the image must also have, each by this verifier's signer */
    attestations: z.array(attestation).min(1).optional(),
    /** default true; false: the attestations alone admit (no image signature needed) */
    signature: z.boolean().optional(),
  })
  .strict()
  .refine((v) => v.signature !== false || Boolean(v.attestations?.length), {
    message: 'signature: false needs attestations (otherwise the verifier would check nothing)',
    path: ['signature'],
  })
  .refine((v) => !(v.keyless && [v.publicKey, v.publicKeyFile, v.kmsKey].some(Boolean)), {
    message: 'keyless cannot stand beside a key: use two cosign verifiers (and require) to accept either',
  })
  .refine((v) => Boolean(v.keyless) || [v.publicKey, v.publicKeyFile, v.kmsKey].filter(Boolean).length === 1, {
    message: 'a cosign verifier needs exactly one of publicKey, publicKeyFile, kmsKey, keyless',
  });

const notationVerifier = z
  .object({
    type: z.literal('notation'),
    trustPolicyFile: nonEmpty.optional(),
    trustPolicy: z.record(z.unknown()).optional(),
    trustStore: nonEmpty,
  })
  .strict()
  .refine((v) => Boolean(v.trustPolicyFile) !== Boolean(v.trustPolicy), {
    message: 'a notation verifier needs exactly one of trustPolicyFile, trustPolicy',
  });

const awsSignerVerifier = z
  .object({
    type: z.literal('aws-signer'),
    signingProfiles: z.array(nonEmpty).min(1),
    /** enforce: Signer unreachable is an error (onError); warn: logged and admitted; skip: not asked */
    revocation: z.enum(['enforce', 'warn', 'skip']).default('enforce'),
    /** folder with extra trusted roots (tests, private partitions); default: layers/trust */
    trustStore: nonEmpty.optional(),
  })
  .strict();

export const verifierSchema = z.union([cosignVerifier, notationVerifier, awsSignerVerifier]);

const ruleSchema = z
  .object({
    name: nonEmpty,
    images: z.array(imageGlob).min(1),
    require: z.number().int().min(1).default(1),
    verifiers: z.array(verifierSchema).min(1),
  })
  .strict()
  .refine((r) => r.require <= r.verifiers.length, {
    message: 'require cannot be larger than the number of verifiers',
    path: ['require'],
  });

const registrySettings = z
  .object({
    insecure: z.boolean().default(false),
    /** static credentials for registries outside ECR (tests, private mirrors) */
    username: z.string().optional(),
    password: z.string().optional(),
  })
  .strict();

const allowSchema = z
  .object({
    images: z.array(nonEmpty).default([]),
    digests: z.array(z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 lowercase hex>')).default([]),
    prefixes: z.array(nonEmpty).default([]),
    repositories: z.array(nonEmpty).default([]),
  })
  .strict();

const overrideSchema = z
  .object({
    /** globs on the cluster name (not the ARN) */
    clusters: z.array(nonEmpty).min(1).optional(),
    services: z.array(nonEmpty).min(1).optional(),
    taskFamilies: z.array(nonEmpty).min(1).optional(),
    mode: z.enum(['enforce', 'audit']).optional(),
    onError: z.enum(['deny', 'allow']).optional(),
  })
  .strict()
  .refine((o) => o.clusters || o.services || o.taskFamilies, {
    message: 'an override needs at least one of clusters, services, taskFamilies (use ["*"] for all)',
  })
  .refine((o) => o.mode || o.onError, { message: 'an override needs mode or onError' });

export const policySchema = z
  .object({
    version: z.literal(1),
    mode: z.enum(['enforce', 'audit']).default('enforce'),
    onError: z.enum(['deny', 'allow']).default('deny'),
    unmatched: z.enum(['deny', 'allow']).default('deny'),
    /** resolve a tag to a digest when ECS gave none (versionConsistency: disabled); off by default */
    resolveTags: z.boolean().default(false),
    registries: z.record(registrySettings).default({}),
    allow: allowSchema.default({}),
    rules: z.array(ruleSchema).default([]),
    /** the first override that matches the workload's scope sets its mode and onError */
    overrides: z.array(overrideSchema).default([]),
  })
  .strict();

export type PolicyDocument = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type VerifierConfig = z.infer<typeof verifierSchema>;
export type CosignVerifierConfig = z.infer<typeof cosignVerifier>;
export type KeylessConfig = z.infer<typeof keyless>;
export type AttestationConfig = z.infer<typeof attestation>;
export type NotationVerifierConfig = z.infer<typeof notationVerifier>;
export type AwsSignerVerifierConfig = z.infer<typeof awsSignerVerifier>;
export type RegistrySettings = z.infer<typeof registrySettings>;

/** "rules.0.verifiers.1: a cosign verifier needs exactly one of ..." */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(document)'}: ${i.message}`).join('; ');
}
