/**
 * The signature algorithms of the Notary Project specification: the one algorithm each
 * key allows (RSA 2048/3072/4096 → PS256/384/512, P-256/384/521 → ES256/384/512),
 * RSASSA-PSS with a salt as long as the hash, ECDSA as raw r||s, the JWS names and the
 * COSE numbers.
 *
 * The modules under test are imported afresh inside each test (vi.resetModules): their
 * tables are built when the module loads, so only a test that loads the module sees a
 * wrong entry in them (and a mutation tool counts that test as covering the entry).
 */
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import {
  type Alg,
  digestOf,
  type KeyKind,
  key,
  makeChain,
  rawSign,
  signCose,
  signJws,
} from './support/notation-signer.js';

async function fresh() {
  vi.resetModules();
  return {
    algorithms: await import('../src/verify/notary/algorithms.js'),
    checks: await import('../src/verify/notary/checks.js'),
  };
}

const SPEC: Array<[KeyKind, Alg]> = [
  ['rsa2048', 'PS256'],
  ['rsa3072', 'PS384'],
  ['rsa4096', 'PS512'],
  ['p256', 'ES256'],
  ['p384', 'ES384'],
  ['p521', 'ES512'],
];
const HASH_BYTES: Record<Alg, number> = { PS256: 32, PS384: 48, PS512: 64, ES256: 32, ES384: 48, ES512: 64 };
const DATA = Buffer.from('the signed bytes of an envelope');
const IMAGE = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}');
const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(IMAGE),
  size: IMAGE.length,
};
const flip = (b: Buffer, at = b.length - 1) => {
  const c = Buffer.from(b);
  c[at]! ^= 1;
  return c;
};

describe('the algorithm a key allows', () => {
  it.each(SPEC)('a %s key requires %s', async (kind, alg) => {
    const { algorithms } = await fresh();
    expect(algorithms.algForKey(key(kind, 'alg').publicKey)).toBe(alg);
  });

  it('any other key is refused with a sentence naming what is allowed', async () => {
    const { algorithms } = await fresh();
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(algorithms.algForKey(rsa1024)).toBe('RSA key size 1024 is not allowed (2048, 3072 or 4096)');
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    expect(algorithms.algForKey(k256)).toBe('EC curve secp256k1 is not allowed (P-256, P-384 or P-521)');
    const ed = generateKeyPairSync('ed25519').publicKey;
    expect(algorithms.algForKey(ed)).toBe('key type ed25519 is not allowed (RSA or EC)');
  });
});

describe('verifySignature', () => {
  it.each(SPEC)(
    'a %s key verifies its %s signature; a changed byte of data or signature does not',
    async (kind, alg) => {
      const { algorithms } = await fresh();
      const k = key(kind, 'alg');
      const signature = rawSign(alg, k.privateKey, DATA);
      expect(algorithms.verifySignature(alg, k.publicKey, DATA, signature)).toBe(true);
      expect(algorithms.verifySignature(alg, k.publicKey, flip(DATA), signature)).toBe(false);
      expect(algorithms.verifySignature(alg, k.publicKey, DATA, flip(signature))).toBe(false);
    },
  );

  it.each(SPEC.filter(([, alg]) => alg.startsWith('PS')))(
    'RSASSA-PSS (%s, %s): a salt shorter or longer than the hash does not verify',
    async (kind, alg) => {
      const { algorithms } = await fresh();
      const k = key(kind, 'alg');
      const hash = `sha${alg.slice(2)}`;
      for (const saltLength of [0, HASH_BYTES[alg] - 1, HASH_BYTES[alg] + 1]) {
        const signature = sign(hash, DATA, { key: k.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
        expect(algorithms.verifySignature(alg, k.publicKey, DATA, signature), `salt ${saltLength}`).toBe(false);
      }
    },
  );

  it.each(SPEC.filter(([, alg]) => alg.startsWith('ES')))(
    'ECDSA (%s, %s): only raw r||s verifies, not DER and not with an octet added',
    async (kind, alg) => {
      const { algorithms } = await fresh();
      const k = key(kind, 'alg');
      const derSignature = sign(`sha${alg.slice(2)}`, DATA, k.privateKey);
      expect(algorithms.verifySignature(alg, k.publicKey, DATA, derSignature)).toBe(false);
      const raw = rawSign(alg, k.privateKey, DATA);
      expect(algorithms.verifySignature(alg, k.publicKey, DATA, Buffer.concat([raw, Buffer.from([0])]))).toBe(false);
      expect(algorithms.verifySignature(alg, k.publicKey, DATA, Buffer.concat([Buffer.from([0]), raw]))).toBe(false);
    },
  );

  it('a key that cannot do the algorithm is false, not an exception', async () => {
    const { algorithms } = await fresh();
    const x25519 = generateKeyPairSync('x25519').publicKey;
    expect(algorithms.verifySignature('PS256', x25519, DATA, Buffer.alloc(256))).toBe(false);
    expect(algorithms.verifySignature('ES256', x25519, DATA, Buffer.alloc(64))).toBe(false);
  });
});

describe('algorithm names', () => {
  it('isAlg: the six JWS names of the specification, nothing else', async () => {
    const { algorithms } = await fresh();
    for (const [, alg] of SPEC) expect(algorithms.isAlg(alg), alg).toBe(true);
    for (const other of ['RS256', 'ES256K', 'EdDSA', 'none', 'ps256', '', 'toString', 'constructor', '__proto__'])
      expect(algorithms.isAlg(other), other).toBe(false);
    for (const notString of [undefined, null, -37, ['PS256'], { toString: () => 'PS256' }])
      expect(algorithms.isAlg(notString), String(notString)).toBe(false);
  });

  it.each(SPEC)(
    'a %s key signing with %s passes the integrity check in a JWS and in a COSE envelope',
    async (kind, alg) => {
      const { checks } = await fresh();
      const c = makeChain(key(kind, 'alg'), { label: `alg-${kind}` });
      for (const [sign, mediaType] of [
        [signJws, 'application/jose+json'],
        [signCose, 'application/cose'],
      ] as const) {
        const bytes = sign({ target: TARGET, alg, key: c.leaf.key.privateKey, chain: c.chain });
        const found = { manifest: { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 }, mediaType, bytes };
        const v = checks.checkIntegrity(found, TARGET, { understood: new Set() });
        expect('reason' in v ? `${v.reason}: ${v.detail}` : v.envelope.alg, mediaType).toBe(alg);
      }
    },
  );
});
