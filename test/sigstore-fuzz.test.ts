/**
 * Property tests (fast-check) on the Sigstore parsers and checks: the bundle JSON and
 * verifyBundle, the in-toto statement parser, the legacy `.sig` annotations, and
 * identity matching. Inputs are arbitrary values and mutations of a valid bundle or
 * `.sig` signed here (mock Fulcio / Rekor / TSA). What a user relies on:
 *
 *   - nothing thrown out of a verifier: every outcome is a verdict with a reason code,
 *     or a VerifierError (which decide() turns into a reasoned deny);
 *   - garbage is never accepted, and whatever is accepted after a mutation is exactly
 *     what was signed (same statement, same signer);
 *   - a mutation of a signed byte (payload, signature, certificate, SET) is rejected.
 *
 * Runs are bounded so the file takes a few seconds.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from '@sigstore/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { verifyBundle, type BundleTrust, type BundleVerdict } from '../src/verify/cosign/bundle-verifier.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import { certificateIdentity, IdentityMatcher, type CertificateIdentity } from '../src/verify/cosign/identity.js';
import { anchored } from '../src/policy/regex.js';
import {
  CERTIFICATE_ANNOTATION,
  legacyBundle,
  REKOR_BUNDLE_ANNOTATION,
  TIMESTAMP_ANNOTATION,
} from '../src/verify/cosign/legacy-keyless.js';
import {
  COSIGN_SIGN_PREDICATE,
  isCosignSignatureFor,
  IN_TOTO_PAYLOAD_TYPE,
  parseStatement,
} from '../src/verify/cosign/statement.js';
import { parseTrustedRoot, trustMaterial } from '../src/verify/cosign/trusted-root.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import { VerifierError, type FailureReason, type VerifierVerdict } from '../src/core/verifier.js';
import { generateKeyPair, SIGNATURE_ANNOTATION } from './support/cosign-signer.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';
import { pushLegacyKeyless } from './support/sigstore-legacy.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  startMockSigstore,
  type Claims,
  type MockSigstore,
} from './support/sigstore-signer.js';

const GH = 'https://token.actions.githubusercontent.com';
const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const claims: Claims = {
  iss: GH,
  sub: WORKFLOW,
  repository: 'acme/app',
  ref: 'refs/heads/main',
  event_name: 'push',
  sha: 'abc123',
};
const REPO = 'fuzz/app';
/** the codes a verdict may carry (typed: a new FailureReason must be listed here) */
const FAILURE_REASONS: Record<FailureReason, true> = {
  SIGNATURE_MISSING: true,
  SIGNATURE_INVALID: true,
  UNTRUSTED_SIGNER: true,
  DIGEST_MISMATCH: true,
  EXPIRED: true,
  REVOKED: true,
  ATTESTATION_MISSING: true,
  ATTESTATION_FAILED: true,
};
const REASONS = new Set<string>(Object.keys(FAILURE_REASONS));
const RUNS = { numRuns: 150 };

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

// --- mutations of a JSON document ---

/** Every path in a JSON value, interior nodes included. */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  const here = at.length ? [at] : [];
  if (Array.isArray(v)) return [...here, ...v.flatMap((x, i) => paths(x, [...at, i]))];
  if (v !== null && typeof v === 'object')
    return [...here, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...at, k]))];
  return here;
}

type Op =
  | { kind: 'delete' }
  | { kind: 'replace'; value: Json }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'number'; delta: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant({ kind: 'delete' } as const),
  fc.record({ kind: fc.constant('replace' as const), value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('number' as const), delta: fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0) }),
);

/** Flip one bit: of the decoded bytes for base64 text, of the UTF-8 bytes otherwise. */
function flipString(s: string, at: number, bit: number): string {
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/.test(s) && s.length % 4 === 0 && s.length >= 8;
  const bytes = b64 ? Buffer.from(s, 'base64') : Buffer.from(s, 'utf8');
  if (!bytes.length) return 'x';
  bytes[at % bytes.length]! ^= 1 << bit;
  return b64 ? bytes.toString('base64') : bytes.toString('utf8');
}

function mutate(doc: Json, path: (string | number)[], op: Op): Json {
  const copy = structuredClone(doc);
  const parent = path.slice(0, -1).reduce<Json>((n, k) => (n as Record<string | number, Json>)[k]!, copy) as Record<
    string | number,
    Json
  >;
  const key = path[path.length - 1]!;
  const old = parent[key]!;
  switch (op.kind) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'replace':
      parent[key] = op.value;
      break;
    case 'flip':
      parent[key] =
        typeof old === 'string'
          ? flipString(old, op.at, op.bit)
          : typeof old === 'number'
            ? old ^ (1 << op.bit)
            : op.bit % 2 === 0
              ? null
              : 'x';
      break;
    case 'number':
      parent[key] =
        typeof old === 'number'
          ? old + op.delta
          : typeof old === 'string' && /^\d+$/.test(old)
            ? String(Number(old) + op.delta)
            : [];
      break;
  }
  return copy;
}

const isFailure = (v: BundleVerdict | VerifierVerdict) =>
  !v.ok && REASONS.has(v.reason) && typeof v.detail === 'string' && v.detail.length > 0;

describe('Sigstore parsers and checks under arbitrary and mutated input', () => {
  let mock: MockSigstore;
  let trust: BundleTrust;
  let rootFile: string;
  let image: Descriptor;
  let bundle: Json;
  let statement: ReturnType<typeof parseStatement>;
  let signer: CertificateIdentity;
  let leafDer: Buffer;
  let legacy: { payload: Buffer; annotations: Record<string, string> };
  const keyless = () =>
    createCosignVerifier(
      { type: 'cosign', keyless: { identities: [{ issuer: GH, subject: WORKFLOW }] }, trustedRoot: rootFile },
      { path: (p) => p, keySource: () => pemKeySource(generateKeyPair('p256').publicKeyPem) },
    );

  beforeAll(async () => {
    mock = await startMockSigstore();
    rootFile = join(mkdtempSync(join(tmpdir(), 'sigstore-fuzz-')), 'trusted_root.json');
    writeFileSync(rootFile, mock.trustedRoot);
    trust = {
      material: trustMaterial(parseTrustedRoot(mock.trustedRoot, 'mock')),
      signer: { kind: 'fulcio' },
      tlog: 'required',
    };
    const seed = new MemoryRegistry();
    image = await seed.pushImage(REPO, 'v1');
    const signedStatement = cosignStatement(image.digest, `${seed.host}/${REPO}`);
    statement = parseStatement(IN_TOTO_PAYLOAD_TYPE, signedStatement);
    bundle = (await signKeyless(mock, signedStatement, { claims, tsa: true })) as Json;
    const verdict = verifyBundle(bundle, trust, new Date());
    if (!verdict.ok || verdict.bundle.signer.kind !== 'certificate')
      throw new Error(`the seed bundle does not verify: ${JSON.stringify(verdict)}`);
    signer = verdict.bundle.signer.identity;
    leafDer = verdict.bundle.signer.certificate.root.toDER();

    await pushLegacyKeyless(seed, REPO, image, mock, claims);
    const sig = (await seed.repository(REPO).getManifest(`${image.digest.replace(':', '-')}.sig`)).json;
    const layer = sig.layers![0]!;
    legacy = { payload: await seed.repository(REPO).getBlob(layer.digest, 1 << 20), annotations: layer.annotations! };
  });
  afterAll(async () => mock?.stop());

  /** The full verifier on one image whose only signature is `json` (bytes or a document) as a bundle referrer. */
  async function verifyStored(json: Json | Buffer): Promise<VerifierVerdict> {
    const reg = new MemoryRegistry();
    // only the referrer is stored: the verifier reads signatures, never the image
    await pushBundle(reg, REPO, image, Buffer.isBuffer(json) ? json : Buffer.from(JSON.stringify(json)), {
      tagSchema: false,
    });
    return outcome(() => keyless().verify(verifyContext(reg.repository(REPO), image.digest)));
  }

  /** A verifier call's outcome; anything thrown other than a VerifierError fails the property. */
  async function outcome(run: () => Promise<VerifierVerdict>): Promise<VerifierVerdict> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof VerifierError)
        return { ok: false, reason: 'SIGNATURE_INVALID', detail: `VerifierError ${e.reason}: ${e.message}` };
      throw new Error(`the verifier threw ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    }
  }

  /** What an accepted bundle says: it must be what the seed said. */
  function sameAsSigned(verdict: BundleVerdict): boolean {
    if (!verdict.ok) return true;
    const s = verdict.bundle.signer;
    return (
      s.kind === 'certificate' &&
      s.certificate.root.toDER().equals(leafDer) &&
      JSON.stringify(verdict.bundle.statement) === JSON.stringify(statement)
    );
  }

  describe('verifyBundle', () => {
    it('arbitrary values are never accepted and never throw', () => {
      fc.assert(
        fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (v) => {
          const verdict = verifyBundle(v, trust, new Date());
          expect(isFailure(verdict)).toBe(true);
        }),
        RUNS,
      );
    });

    it('bundle-shaped garbage (the right media type and keys, arbitrary contents) is never accepted', () => {
      const shaped = fc.record({
        mediaType: fc.constantFrom(
          'application/vnd.dev.sigstore.bundle.v0.3+json',
          'application/vnd.dev.sigstore.bundle+json;version=0.1',
        ),
        verificationMaterial: fc.record(
          {
            certificate: fc.record({ rawBytes: fc.base64String() }),
            publicKey: fc.record({ hint: fc.string() }),
            tlogEntries: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2 }),
            timestampVerificationData: fc.record({
              rfc3161Timestamps: fc.array(fc.record({ signedTimestamp: fc.base64String() }), { maxLength: 2 }),
            }),
          },
          { requiredKeys: [] },
        ),
        dsseEnvelope: fc.record({
          payload: fc.base64String(),
          payloadType: fc.string(),
          signatures: fc.array(fc.record({ sig: fc.base64String(), keyid: fc.string() }), { maxLength: 2 }),
        }),
      });
      fc.assert(
        fc.property(shaped, (v) => {
          expect(isFailure(verifyBundle(v, trust, new Date()))).toBe(true);
        }),
        RUNS,
      );
    });

    it('a mutated valid bundle never throws, and is accepted only when what it signs is unchanged', () => {
      const all = paths(bundle);
      fc.assert(
        fc.property(fc.nat(all.length - 1), opArb, (i, op) => {
          const verdict = verifyBundle(mutate(bundle, all[i]!, op), trust, new Date());
          expect(verdict.ok || isFailure(verdict)).toBe(true);
          expect(sameAsSigned(verdict)).toBe(true);
        }),
        { numRuns: 250 },
      );
    });

    it('a flipped bit in the payload, the signature or the certificate is always rejected', () => {
      const signed = [
        ['dsseEnvelope', 'payload'],
        ['dsseEnvelope', 'signatures', 0, 'sig'],
        ['verificationMaterial', 'certificate', 'rawBytes'],
      ];
      fc.assert(
        fc.property(fc.constantFrom(...signed), fc.nat(), fc.integer({ min: 0, max: 7 }), (path, at, bit) => {
          const verdict = verifyBundle(mutate(bundle, path, { kind: 'flip', at, bit }), trust, new Date());
          expect(isFailure(verdict)).toBe(true);
        }),
        { numRuns: 100 },
      );
    });

    it('through the registry: mutated bundle bytes never throw out of the verifier and never admit another statement', async () => {
      const text = Buffer.from(JSON.stringify(bundle));
      await fc.assert(
        fc.asyncProperty(fc.nat(text.length - 1), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
          const bytes = Buffer.from(text);
          bytes[at]! ^= xor;
          const verdict = await verifyStored(bytes);
          expect(verdict.ok || isFailure(verdict)).toBe(true);
          if (verdict.ok) {
            // a byte that does not matter (e.g. in an unknown key): the bundle still verifies as the seed did
            expect(sameAsSigned(verifyBundle(JSON.parse(bytes.toString('utf8')), trust, new Date()))).toBe(true);
          }
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('defects the properties found, pinned', () => {
    const withLeaf = (edit: (der: Buffer<ArrayBuffer>) => void): Json => {
      const der = Buffer.from(leafDer);
      edit(der);
      return mutate(bundle, ['verificationMaterial', 'certificate', 'rawBytes'], {
        kind: 'replace',
        value: der.toString('base64'),
      });
    };

    it('a certificate whose outer SEQUENCE tag is altered is refused (the lenient parser read it, and it verified)', () => {
      const verdict = verifyBundle(
        withLeaf((d) => void (d[0] = 0x31)),
        trust,
        new Date(),
      );
      expect(verdict).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('well-formed DER'),
      });
    });

    it('a certificate whose signature BIT STRING claims unused bits is refused', () => {
      const verdict = verifyBundle(
        withLeaf((d) => {
          // the certificate ends with the signature BIT STRING; its first content byte counts unused bits
          const sig = X509Certificate.parse(d).root.subs[2]!;
          d[d.length - sig.value.length] = 0x01;
        }),
        trust,
        new Date(),
      );
      expect(verdict).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('whole number of bytes'),
      });
    });

    it('an unreadable certificate time ends as a failure, not an exception', () => {
      const verdict = verifyBundle(
        withLeaf((d) => {
          const utc = d.indexOf(Buffer.from([0x17, 0x0d])); // notBefore, UTCTime YYMMDDhhmmssZ
          d[utc + 2] = 0x41; // 'A' where a digit belongs
        }),
        trust,
        new Date(),
      );
      expect(isFailure(verdict)).toBe(true);
    });

    it('an integratedTime that is no number ends as a failure, not an exception', () => {
      const verdict = verifyBundle(
        mutate(bundle, ['verificationMaterial', 'tlogEntries', 0, 'integratedTime'], { kind: 'replace', value: {} }),
        trust,
        new Date(),
      );
      expect(verdict).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    });

    it('the identity of a certificate whose extensions do not parse is absent, not an exception', () => {
      const der = Buffer.from(leafDer);
      der[0] = 0x10; // the outer SEQUENCE as a primitive: the parser reads it, its fields throw when read
      const id = certificateIdentity(X509Certificate.parse(der));
      expect(id).toMatchObject({ subject: undefined, issuer: undefined });
      expect(new IdentityMatcher({ subject: WORKFLOW, issuer: GH }).matches(id)).toBe(false);
    });
  });

  describe('in-toto statement', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;

    it('arbitrary payloads never throw and are never a cosign signature of the image', () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.constant(IN_TOTO_PAYLOAD_TYPE), fc.string()),
          fc.oneof(
            fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
            fc.jsonValue().map((j) => Buffer.from(JSON.stringify(j))),
          ),
          (type, payload) => {
            const parsed = parseStatement(type, payload);
            if (typeof parsed !== 'string') expect(isCosignSignatureFor(parsed, digest).ok).toBe(false);
          },
        ),
        RUNS,
      );
    });

    it('statement-shaped values: a signature only with the cosign predicate and a subject naming the digest', () => {
      const subject = fc.record(
        {
          name: fc.string(),
          digest: fc.dictionary(
            fc.constantFrom('sha256', 'sha512', '__proto__', 'constructor'),
            fc.oneof(
              fc.constantFrom('ab'.repeat(32), 'AB'.repeat(32)),
              fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 64 }),
              fc.jsonValue({ maxDepth: 1 }),
            ),
          ),
        },
        { requiredKeys: [] },
      );
      const doc = fc.record(
        {
          _type: fc.constantFrom('https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1', 'x'),
          predicateType: fc.oneof(fc.constant(COSIGN_SIGN_PREDICATE), fc.string(), fc.jsonValue({ maxDepth: 1 })),
          subject: fc.oneof(fc.array(subject, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
          predicate: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      );
      fc.assert(
        fc.property(doc, (d) => {
          const parsed = parseStatement(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(d)));
          if (typeof parsed === 'string') return;
          const check = isCosignSignatureFor(parsed, digest);
          const names =
            Array.isArray(d.subject) &&
            d.subject.some(
              (s) =>
                typeof s === 'object' &&
                s !== null &&
                typeof (s as { digest?: Record<string, unknown> }).digest?.sha256 === 'string' &&
                (s as { digest: Record<string, string> }).digest.sha256!.toLowerCase() === 'ab'.repeat(32),
            );
          expect(check.ok).toBe(d.predicateType === COSIGN_SIGN_PREDICATE && names);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('legacy .sig annotations', () => {
    const keys = [
      SIGNATURE_ANNOTATION,
      CERTIFICATE_ANNOTATION,
      REKOR_BUNDLE_ANNOTATION,
      TIMESTAMP_ANNOTATION,
      'dev.sigstore.cosign/chain',
    ];

    /** The full verifier on a `.sig` of the seed image with these annotations on the seed payload. */
    async function verifyLegacy(annotations: Record<string, string>): Promise<VerifierVerdict> {
      const reg = new MemoryRegistry();
      const blob = await reg.pushBlob(REPO, legacy.payload);
      const config = await reg.pushBlob(REPO, Buffer.from('{}'));
      await reg.pushManifest(
        REPO,
        {
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
          layers: [
            {
              mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
              digest: blob.digest,
              size: blob.size,
              annotations,
            },
          ],
        },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', tag: `${image.digest.replace(':', '-')}.sig` },
      );
      return outcome(() => keyless().verify(verifyContext(reg.repository(REPO), image.digest)));
    }

    /** What the annotations sign with: signature bytes, certificate DER, SET and its payload. */
    function signedMaterial(a: Record<string, string>): string {
      const cert = (() => {
        try {
          return X509Certificate.parse(a[CERTIFICATE_ANNOTATION] ?? '')
            .root.toDER()
            .toString('hex');
        } catch {
          return 'none';
        }
      })();
      const set = (() => {
        try {
          const doc = JSON.parse(a[REKOR_BUNDLE_ANNOTATION] ?? '');
          return JSON.stringify([
            Buffer.from(doc.SignedEntryTimestamp, 'base64').toString('hex'),
            doc.Payload.body,
            doc.Payload.integratedTime,
            doc.Payload.logIndex,
            doc.Payload.logID,
          ]);
        } catch {
          return 'none';
        }
      })();
      return JSON.stringify([Buffer.from(a[SIGNATURE_ANNOTATION] ?? '', 'base64').toString('hex'), cert, set]);
    }

    it('the seed .sig is admitted (the properties below start from a valid signature)', async () => {
      expect(await verifyLegacy(legacy.annotations)).toMatchObject({ ok: true });
    });

    it('arbitrary annotations never throw out of the parser or the verifier, and are never accepted', async () => {
      const annotations = fc.dictionary(
        fc.oneof(fc.constantFrom(...keys), fc.string()),
        fc.oneof(
          fc.string(),
          fc.base64String(),
          fc.jsonValue().map((j) => JSON.stringify(j)),
        ),
      );
      fc.assert(
        fc.property(annotations, fc.boolean(), (a, withKey) => {
          const b = legacyBundle(a, withKey);
          expect(typeof b === 'string' || typeof b === 'object').toBe(true);
        }),
        { numRuns: 300 },
      );
      await fc.assert(
        fc.asyncProperty(annotations, async (a) => {
          expect(isFailure(await verifyLegacy(a))).toBe(true);
        }),
        { numRuns: 60 },
      );
    });

    it('mutated annotations of a valid .sig are accepted only when what they sign is unchanged', async () => {
      // the SET annotation is JSON inside a string: mutate inside it too
      const setDoc = JSON.parse(legacy.annotations[REKOR_BUNDLE_ANNOTATION]!) as Json;
      const setPaths = paths(setDoc);
      const mutation = fc.oneof(
        fc.record({ key: fc.constantFrom(...keys), op: opArb }).map(({ key, op }) => (a: Record<string, string>) => {
          const copy = { ...a };
          if (op.kind === 'delete') delete copy[key];
          else if (op.kind === 'flip') copy[key] = flipString(copy[key] ?? '', op.at, op.bit);
          else
            copy[key] =
              op.kind === 'replace'
                ? typeof op.value === 'string'
                  ? op.value
                  : JSON.stringify(op.value)
                : `${copy[key]}${op.delta}`;
          return copy;
        }),
        fc.record({ i: fc.nat(setPaths.length - 1), op: opArb }).map(({ i, op }) => (a: Record<string, string>) => ({
          ...a,
          [REKOR_BUNDLE_ANNOTATION]: JSON.stringify(mutate(setDoc, setPaths[i]!, op)),
        })),
      );
      const original = signedMaterial(legacy.annotations);
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          const a = m(legacy.annotations);
          const verdict = await verifyLegacy(a);
          expect(verdict.ok || isFailure(verdict)).toBe(true);
          if (verdict.ok) expect(signedMaterial(a)).toBe(original);
        }),
        { numRuns: 150 },
      );
    });

    it('a flipped bit in the signature, the certificate or the SET is always rejected', async () => {
      const setDoc = JSON.parse(legacy.annotations[REKOR_BUNDLE_ANNOTATION]!) as Json;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('signature', 'certificate', 'set', 'body'),
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          async (what, at, bit) => {
            const a = { ...legacy.annotations };
            if (what === 'signature') a[SIGNATURE_ANNOTATION] = flipString(a[SIGNATURE_ANNOTATION]!, at, bit);
            if (what === 'certificate')
              a[CERTIFICATE_ANNOTATION] = pemOf(
                flipBit(X509Certificate.parse(a[CERTIFICATE_ANNOTATION]!).root.toDER(), at, bit),
              );
            if (what === 'set')
              a[REKOR_BUNDLE_ANNOTATION] = JSON.stringify(
                mutate(setDoc, ['SignedEntryTimestamp'], { kind: 'flip', at, bit }),
              );
            if (what === 'body')
              a[REKOR_BUNDLE_ANNOTATION] = JSON.stringify(
                mutate(setDoc, ['Payload', 'body'], { kind: 'flip', at, bit }),
              );
            expect(isFailure(await verifyLegacy(a))).toBe(true);
          },
        ),
        { numRuns: 100 },
      );
    });
  });

  describe('identity matching', () => {
    const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    const found = (subject: string, issuer = GH, github = {}): CertificateIdentity => ({ subject, issuer, github });
    const text = fc.string({ unit: 'binary', maxLength: 40 });

    it('an exact subject and issuer match only themselves', () => {
      fc.assert(
        fc.property(text, text, text, text, (ps, fs, pi, fi) => {
          expect(new IdentityMatcher({ subject: ps, issuer: pi }).matches(found(fs, fi))).toBe(ps === fs && pi === fi);
        }),
        { numRuns: 300 },
      );
    });

    it('a regular expression matches the whole value: never a substring, an extension, or past an alternation', () => {
      fc.assert(
        fc.property(fc.array(text, { minLength: 1, maxLength: 3 }), text, text, (literals, probe, extra) => {
          const m = new IdentityMatcher({
            subjectRegExp: literals.map(escapeRegex).join('|'),
            issuerRegExp: escapeRegex(GH),
          });
          expect(m.matches(found(probe))).toBe(literals.includes(probe));
          for (const l of literals) {
            if (extra && !literals.includes(`${l}${extra}`)) expect(m.matches(found(`${l}${extra}`))).toBe(false);
            if (extra && !literals.includes(`${extra}${l}`)) expect(m.matches(found(`${extra}${l}`))).toBe(false);
          }
          expect(m.matches(found(literals[0]!, `${GH}.evil`))).toBe(false);
        }),
        { numRuns: 300 },
      );
    });

    it('anchoring only narrows: an anchored pattern that matches also matches unanchored, and never throws for a valid pattern', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 12 }), text, (pattern, value) => {
          let plain: RegExp;
          try {
            plain = new RegExp(pattern);
          } catch {
            return; // the policy schema refuses it
          }
          if (anchored(pattern).test(value)) expect(plain.test(value)).toBe(true);
        }),
        { numRuns: 500 },
      );
    });

    it('GitHub claims must all be equal; an absent certificate value never matches', () => {
      const claim = fc.option(fc.constantFrom('acme/app', 'refs/heads/main', 'push', 'abc123', ''), { nil: undefined });
      const claimsArb = fc.record({ repository: claim, ref: claim, trigger: claim, sha: claim });
      fc.assert(
        fc.property(claimsArb, claimsArb, (wanted, has) => {
          const want = Object.fromEntries(Object.entries(wanted).filter(([, v]) => v !== undefined));
          const m = new IdentityMatcher({ subject: WORKFLOW, issuer: GH, github: want });
          const expected = Object.entries(want).every(([k, v]) => has[k as keyof typeof has] === v);
          expect(m.matches(found(WORKFLOW, GH, has))).toBe(expected);
        }),
        { numRuns: 300 },
      );
    });

    it('certificate identities of mutated certificates never throw', () => {
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, xor) => {
          const der = Buffer.from(leafDer);
          der[at % der.length]! ^= xor;
          let cert: X509Certificate;
          try {
            cert = X509Certificate.parse(der);
          } catch {
            return; // refused by the parser: never reaches identity matching
          }
          const id = certificateIdentity(cert);
          expect(id.subject === undefined || typeof id.subject === 'string').toBe(true);
        }),
        { numRuns: 400 },
      );
    });

    it('the seed certificate names the signing workflow (the properties above start from a real identity)', () => {
      expect(signer).toMatchObject({
        subject: WORKFLOW,
        issuer: GH,
        github: { repository: 'acme/app', ref: 'refs/heads/main' },
      });
    });
  });
});

function flipBit(b: Buffer, at: number, bit: number): Buffer {
  const copy = Buffer.from(b);
  copy[at % copy.length]! ^= 1 << bit;
  return copy;
}

function pemOf(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
}
