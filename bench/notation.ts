/**
 * Notation and AWS Signer verification cost per image, in process, on an in-memory
 * repository (so the figure is the verifier's own work: parse, X.509 path, signature,
 * trust policy). Median after warm-up.
 */
import type { SignerClient } from '@aws-sdk/client-signer';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAwsSignerVerifier } from '../src/verify/notary/aws-signer.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import type { Verifier } from '../src/core/verifier.js';
import type { Descriptor } from '../src/core/registry.js';
import { MemoryRepo } from '../test/support/notation-memory-repo.js';
import { attachSignature, context, makeTrustStore, policy } from '../test/support/notation-context.js';
import { digestOf, key, makeChain, pem, signCose, signJws } from '../test/support/notation-signer.js';

const WARMUP = 20;
const RUNS = 200;

export async function benchNotation(): Promise<{ jwsMs: number; coseMs: number; signerMs: number }> {
  const image = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}');
  const target: Descriptor = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: digestOf(image),
    size: image.length,
  };
  const c = makeChain(key('p256', 'bench'));
  const store = makeTrustStore({ ca: { bench: [pem(c.root.der)] } });
  const notation = createNotationVerifier(
    { type: 'notation', trustPolicy: policy({ trustStores: ['ca:bench'] }), trustStore: store },
    { baseDir: '/' },
  );

  const jwsRepo = new MemoryRepo();
  attachSignature(
    jwsRepo,
    target,
    signJws({ target, alg: 'ES256', key: c.leaf.key.privateKey, chain: c.chain }),
    'application/jose+json',
  );
  const coseRepo = new MemoryRepo();
  attachSignature(
    coseRepo,
    target,
    signCose({ target, alg: 'ES256', key: c.leaf.key.privateKey, chain: c.chain }),
    'application/cose',
  );

  const s = makeChain(key('p384', 'bench-signer'), { label: 'bench-signer' });
  const roots = mkdtempSync(join(tmpdir(), 'bench-roots-'));
  writeFileSync(join(roots, 'root.pem'), pem(s.root.der));
  const profileVersion = 'arn:aws:signer:us-east-1:123456789012:/signing-profiles/Bench/v1';
  const signerRepo = new MemoryRepo();
  const attrs = {
    'com.amazonaws.signer.signingProfileVersion': profileVersion,
    'com.amazonaws.signer.signingJob': 'arn:aws:signer:us-east-1:123456789012:/signing-jobs/x',
  };
  attachSignature(
    signerRepo,
    target,
    signJws({
      target,
      alg: 'ES384',
      key: s.leaf.key.privateKey,
      chain: s.chain,
      scheme: 'notary.x509.signingAuthority',
      extra: attrs,
      crit: Object.keys(attrs),
    }),
    'application/jose+json',
  );
  // revocation answered locally: the figure is the verifier's cost, not Signer's latency
  const client = { send: async () => ({ revokedEntities: [] }) } as unknown as SignerClient;
  const signer = createAwsSignerVerifier(
    {
      type: 'aws-signer',
      signingProfiles: ['arn:aws:signer:us-east-1:123456789012:/signing-profiles/Bench'],
      revocation: 'enforce',
      trustStore: roots,
    },
    { signer: client, trustDir: roots },
  );

  return {
    jwsMs: await medianMs(notation, jwsRepo, target),
    coseMs: await medianMs(notation, coseRepo, target),
    signerMs: await medianMs(signer, signerRepo, target),
  };
}

async function medianMs(v: Verifier, repo: MemoryRepo, target: Descriptor): Promise<number> {
  const ctx = context(repo, target);
  for (let i = 0; i < WARMUP; i++)
    if (!(await v.verify(ctx)).ok) throw new Error(`bench signature did not verify: ${v.description}`);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    await v.verify(ctx);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchNotation());
}
