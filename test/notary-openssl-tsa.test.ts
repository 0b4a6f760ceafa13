/**
 * A real timestamp authority: `openssl ts -reply` answers for a TSA certificate made
 * here, over the envelope's signature. Its signing-certificate attribute follows
 * `ess_cert_id_alg`: SHA-256 gives ESS signing-certificate-v2 (admitted), SHA-1 gives the
 * v1 attribute only (denied, as notation and tspclient-go deny it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context, makeTrustStore, policy } from './support/notation-context.js';
import { digestOf, key, makeChain, pem, signCose, signJws } from './support/notation-signer.js';
import { makeTsa } from './support/pki-tsa.js';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasOpenssl) console.log('skipping the openssl ts tests: no openssl on PATH');

const IMAGE = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}');
const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(IMAGE),
  size: IMAGE.length,
};
const LEAF_KEY = key('p256', 'openssl-leaf');
const signing = makeChain(LEAF_KEY, { label: 'openssl' });
const tsa = makeTsa({ label: 'openssl-tsa' });
const STORE = makeTrustStore({ ca: { mine: [pem(signing.root.der)] }, tsa: { tsa: [pem(tsa.root.der)] } });

/** `openssl ts -query` then `-reply -token_out` over `signature`, as a TSA would answer. */
function opensslToken(signature: Buffer, essCertIdAlg: 'sha1' | 'sha256'): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'openssl-tsa-'));
  const p = (f: string) => join(dir, f);
  writeFileSync(p('sig.bin'), signature);
  writeFileSync(p('tsa.pem'), pem(tsa.leaf.der));
  writeFileSync(p('chain.pem'), pem(tsa.root.der));
  writeFileSync(p('tsa.key'), tsa.leaf.key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(p('serial'), '01\n');
  writeFileSync(
    p('tsa.cnf'),
    [
      '[ tsa ]',
      'default_tsa = tsa_config',
      '[ tsa_config ]',
      `serial = ${p('serial')}`,
      'default_policy = 1.2.3.4.1',
      'digests = sha256, sha384, sha512',
      'accuracy = secs:1',
      'ordering = no',
      'tsa_name = no',
      'ess_cert_id_chain = no',
      `ess_cert_id_alg = ${essCertIdAlg}`,
      'signer_digest = sha256',
      '',
    ].join('\n'),
  );
  try {
    return opensslReply(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function opensslReply(p: (f: string) => string): Buffer {
  execFileSync(
    'openssl',
    ['ts', '-query', '-data', p('sig.bin'), '-sha256', '-cert', '-no_nonce', '-out', p('req.tsq')],
    { stdio: 'pipe' },
  );
  execFileSync(
    'openssl',
    [
      'ts',
      '-reply',
      '-config',
      p('tsa.cnf'),
      '-queryfile',
      p('req.tsq'),
      '-signer',
      p('tsa.pem'),
      '-inkey',
      p('tsa.key'),
      '-chain',
      p('chain.pem'),
      '-token_out',
      '-out',
      p('token.der'),
    ],
    { stdio: 'pipe' },
  );
  return readFileSync(p('token.der'));
}

async function verify(envelope: Buffer, mediaType: string) {
  const repo = new MemoryRepo();
  attachSignature(repo, TARGET, envelope, mediaType);
  const v = createNotationVerifier(
    { type: 'notation', trustPolicy: policy({ trustStores: ['ca:mine', 'tsa:tsa'] }), trustStore: STORE },
    { baseDir: '/' },
  );
  return v.verify(context(repo, TARGET));
}

describe.skipIf(!hasOpenssl)('timestamps from openssl ts', () => {
  for (const [name, sign, mediaType] of [
    ['JWS', signJws, 'application/jose+json'],
    ['COSE', signCose, 'application/cose'],
  ] as const) {
    it(`${name}: ESS signing-certificate-v2 (ess_cert_id_alg sha256) is admitted`, async () => {
      const envelope = sign({
        target: TARGET,
        alg: 'ES256',
        key: LEAF_KEY.privateKey,
        chain: signing.chain,
        timestamp: (s) => opensslToken(s, 'sha256'),
      });
      expect(await verify(envelope, mediaType)).toMatchObject({ ok: true });
    });

    it(`${name}: signing-certificate v1 only (ess_cert_id_alg sha1) is denied`, async () => {
      const envelope = sign({
        target: TARGET,
        alg: 'ES256',
        key: LEAF_KEY.privateKey,
        chain: signing.chain,
        timestamp: (s) => opensslToken(s, 'sha1'),
      });
      expect(await verify(envelope, mediaType)).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('signing-certificate-v2'),
      });
    });
  }
});
