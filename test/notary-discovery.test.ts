/**
 * Finding Notary Project signatures: what a referrers list (or a tag-schema index, which
 * anyone who can push may write) names is checked against the signature manifest itself
 * before any envelope is judged: its size, its artifact type, its subject, its one
 * envelope layer and that layer's size; at most maxSignatures are tried; a signature
 * that could not be read is never passed over when no other admits.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MANIFEST_BYTES, MAX_PAYLOAD_BYTES, RegistryError, type Descriptor } from '../src/core/registry.js';
import type { VerifierVerdict } from '../src/core/verifier.js';
import { failure, fetchEnvelope, firstPassing, type FoundEnvelope } from '../src/verify/notary/discovery.js';
import { context, imageDescriptor } from './support/notation-context.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { digestOf, EMPTY, SIG_TYPE } from './support/notation-signer.js';

const IMAGE = Buffer.from('{"schemaVersion":2,"layers":[]}');
const TARGET = imageDescriptor(IMAGE);
const JWS = 'application/jose+json';
const COSE = 'application/cose';
const COSIGN = 'application/vnd.dev.cosign.artifact.sig.v1+json';

type Layer = { mediaType: string; digest: string; size: number };

/** A signature manifest as notation pushes it, with `over` replacing (undefined: dropping) fields. */
function manifestJson(envelope: Buffer, over: Record<string, unknown> = {}): Record<string, unknown> {
  const json: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: SIG_TYPE,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(EMPTY), size: 2 },
    layers: [{ mediaType: JWS, digest: digestOf(envelope), size: envelope.length }] satisfies Layer[],
    subject: { mediaType: TARGET.mediaType, digest: TARGET.digest, size: TARGET.size },
    ...over,
  };
  for (const [k, v] of Object.entries(over)) if (v === undefined) delete json[k];
  return json;
}

/**
 * Stores the manifest (and the envelope blob) and lists it as a signature referrer of
 * TARGET, as the referrers API or a tag-schema index would, whatever the manifest says.
 */
function list(repo: MemoryRepo, envelope: Buffer, over: Record<string, unknown> = {}, size?: number): Descriptor {
  const bytes = Buffer.from(JSON.stringify(manifestJson(envelope, over)));
  const digest = digestOf(bytes);
  repo.manifests.set(digest, { bytes, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
  repo.putBlob(envelope);
  const desc = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest,
    size: size ?? bytes.length,
    artifactType: SIG_TYPE,
  };
  repo.referrers.set(TARGET.digest, [...(repo.referrers.get(TARGET.digest) ?? []), desc]);
  return desc;
}

/** A judge that admits the envelope "good" and refuses any other, remembering what it saw. */
function judge(seen: FoundEnvelope[] = []) {
  return async (found: FoundEnvelope): Promise<VerifierVerdict> => {
    seen.push(found);
    const text = found.bytes.toString();
    return text === 'good' ? { ok: true, by: 'the good one' } : failure('UNTRUSTED_SIGNER', `${text} is not trusted`);
  };
}

const good = Buffer.from('good');
const bad = (n: number) => Buffer.from(`bad${n}`);

async function verdictOf(repo: MemoryRepo, max = 50, seen: FoundEnvelope[] = []): Promise<VerifierVerdict> {
  return firstPassing(context(repo, TARGET), max, 'Test', judge(seen));
}

describe('signature discovery', () => {
  it('no referrer: SIGNATURE_MISSING naming what was looked for', async () => {
    expect(await verdictOf(new MemoryRepo())).toEqual({
      ok: false,
      reason: 'SIGNATURE_MISSING',
      detail: 'no Test signature found',
    });
  });

  it('a signature manifest listed as larger than 4 MiB is refused unread; exactly 4 MiB is read', async () => {
    const big = new MemoryRepo();
    const desc = list(big, good, {}, MAX_MANIFEST_BYTES + 1);
    expect(await verdictOf(big)).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: `signature manifest ${desc.digest} is larger than 4 MiB`,
    });
    expect(big.requests).toBe(1); // the referrers list only
    const edge = new MemoryRepo();
    list(edge, good, {}, MAX_MANIFEST_BYTES);
    expect(await verdictOf(edge)).toEqual({ ok: true, by: 'the good one' });
  });

  it('a listed manifest that is not a Notary Project signature is SIGNATURE_INVALID, whatever the index claimed', async () => {
    const cosign = new MemoryRepo();
    const desc = list(cosign, good, { artifactType: COSIGN });
    expect(await verdictOf(cosign)).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: `manifest ${desc.digest} is not a Notary Project signature (type ${COSIGN})`,
    });
    const untyped = new MemoryRepo();
    const bare = list(untyped, good, { artifactType: undefined, config: undefined });
    expect(await verdictOf(untyped)).toEqual({
      ok: false,
      reason: 'SIGNATURE_INVALID',
      detail: `manifest ${bare.digest} is not a Notary Project signature (type undefined)`,
    });
  });

  it('the older form (no artifactType, the config media type says signature) and a manifest without subject are read', async () => {
    const older = new MemoryRepo();
    list(older, good, {
      artifactType: undefined,
      config: { mediaType: SIG_TYPE, digest: digestOf(EMPTY), size: 2 },
      subject: undefined,
    });
    expect(await verdictOf(older)).toEqual({ ok: true, by: 'the good one' });
  });

  it('a signature manifest whose subject is another image is DIGEST_MISMATCH, not judged', async () => {
    const repo = new MemoryRepo();
    const other = digestOf(Buffer.from('another image'));
    const desc = list(repo, good, { subject: { mediaType: TARGET.mediaType, digest: other, size: 1 } });
    const seen: FoundEnvelope[] = [];
    expect(await verdictOf(repo, 50, seen)).toEqual({
      ok: false,
      reason: 'DIGEST_MISMATCH',
      detail: `signature manifest ${desc.digest} refers to ${other}, not ${TARGET.digest}`,
    });
    expect(seen).toEqual([]);
  });

  it('exactly one envelope layer, of the JWS or COSE media type', async () => {
    const refused = async (over: Record<string, unknown>, detail: (d: Descriptor) => string) => {
      const repo = new MemoryRepo();
      const desc = list(repo, good, over);
      expect(await verdictOf(repo)).toEqual({ ok: false, reason: 'SIGNATURE_INVALID', detail: detail(desc) });
    };
    const layer = (mediaType: string, size = good.length): Layer => ({ mediaType, digest: digestOf(good), size });
    await refused(
      { layers: undefined },
      (d) => `signature manifest ${d.digest} must hold exactly one envelope, holds 0`,
    );
    await refused({ layers: [] }, (d) => `signature manifest ${d.digest} must hold exactly one envelope, holds 0`);
    await refused(
      { layers: [layer(JWS), layer(JWS)] },
      (d) => `signature manifest ${d.digest} must hold exactly one envelope, holds 2`,
    );
    await refused(
      { layers: [layer('application/octet-stream')] },
      () => 'unsupported signature envelope type application/octet-stream',
    );
    const cose = new MemoryRepo();
    list(cose, good, { layers: [layer(COSE)] });
    const seen: FoundEnvelope[] = [];
    expect(await verdictOf(cose, 50, seen)).toMatchObject({ ok: true });
    expect(seen[0]!.mediaType).toBe(COSE);
  });

  it('an envelope layer whose size is negative, fractional or over 32 MiB is refused unread; 0 and 32 MiB are read', async () => {
    for (const size of [-1, 1.5, MAX_PAYLOAD_BYTES + 1]) {
      const repo = new MemoryRepo();
      list(repo, good, { layers: [{ mediaType: JWS, digest: digestOf(good), size }] });
      expect(await verdictOf(repo)).toEqual({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: `signature envelope ${digestOf(good)} is larger than 32 MiB`,
      });
      expect(repo.requests).toBe(2); // referrers and the manifest; no blob
    }
    for (const size of [0, MAX_PAYLOAD_BYTES]) {
      const repo = new MemoryRepo();
      const desc = list(repo, good, { layers: [{ mediaType: JWS, digest: digestOf(good), size }] });
      expect(await fetchEnvelope(context(repo, TARGET), desc)).toEqual({ manifest: desc, mediaType: JWS, bytes: good });
    }
  });

  it('tries at most maxSignatures, in registry order; the detail counts the signatures tried only when more than one', async () => {
    const repo = new MemoryRepo();
    list(repo, bad(1));
    list(repo, bad(2));
    list(repo, good);
    expect(await verdictOf(repo, 3)).toEqual({ ok: true, by: 'the good one' });
    const seen: FoundEnvelope[] = [];
    expect(await verdictOf(repo, 2, seen)).toEqual({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
      detail: 'bad1 is not trusted (2 signatures tried)',
    });
    expect(seen.map((f) => f.bytes.toString())).toEqual(['bad1', 'bad2']);
    expect(await verdictOf(repo, 1)).toEqual({ ok: false, reason: 'UNTRUSTED_SIGNER', detail: 'bad1 is not trusted' });
  });

  it('a signature that cannot be read: another admits, else its error is thrown (the unread one might have been good)', async () => {
    const unreadable = (repo: MemoryRepo, envelope: Buffer) => {
      const desc = list(repo, envelope);
      repo.manifests.delete(desc.digest);
      return desc;
    };
    const admitted = new MemoryRepo();
    unreadable(admitted, bad(0));
    list(admitted, good);
    expect(await verdictOf(admitted)).toEqual({ ok: true, by: 'the good one' });

    const refused = new MemoryRepo();
    const first = unreadable(refused, bad(0));
    list(refused, bad(1));
    unreadable(refused, bad(2));
    const err = await verdictOf(refused).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ kind: 'NOT_FOUND', message: `manifest ${first.digest} not found` });
  });
});
