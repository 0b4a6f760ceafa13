/**
 * Public key loading: PEM text and files (every supported type, refusals with KEY_ERROR)
 * and AWS KMS through a mocked KMSClient (cache, TTL, coalescing, error mapping, regions).
 *
 * keys.ts is imported afresh before each test (vi.resetModules): its tables (curve
 * hashes, the KMS signing algorithms, the ARN pattern, the default TTL) are built when
 * the module loads, so only a test that loads the module sees a wrong entry in them
 * (and a mutation tool counts that test as covering the entry).
 */
import { constants, createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  GetPublicKeyCommand,
  KMSClient,
  NotFoundException,
  type GetPublicKeyCommandOutput,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PublicKeyHandle } from '../src/verify/cosign/keys.js';
import { generateKeyPair, signPayload } from './support/cosign-signer.js';

const kms = mockClient(KMSClient);
afterEach(() => kms.reset());

let keys: typeof import('../src/verify/cosign/keys.js');
let VerifierError: typeof import('../src/core/verifier.js').VerifierError;
beforeEach(async () => {
  vi.resetModules();
  keys = await import('../src/verify/cosign/keys.js');
  ({ VerifierError } = await import('../src/core/verifier.js'));
});
const loadPemKey: typeof keys.loadPemKey = (...a) => keys.loadPemKey(...a);
const loadPemKeyFile: typeof keys.loadPemKeyFile = (...a) => keys.loadPemKeyFile(...a);
const verifySignature: typeof keys.verifySignature = (...a) => keys.verifySignature(...a);
const newStore = (...a: ConstructorParameters<typeof keys.KmsKeyStore>) => new keys.KmsKeyStore(...a);

// RSA key generation is slow; make each kind once.
const PAIRS = {
  p256: generateKeyPair('p256'),
  p384: generateKeyPair('p384'),
  p521: generateKeyPair('p521'),
  rsa: generateKeyPair('rsa'),
  ed25519: generateKeyPair('ed25519'),
};

// An X9.42 DH public key (openssl genpkey -algorithm DHX): Node gives it no asymmetricKeyType.
const DHX_PUBLIC_PEM = `-----BEGIN PUBLIC KEY-----
MIIBvzCCATQGByqGSM4+AgEwggEnAoGBANuv1SbdaQo42hFrzWmU59d82qiQzRfl
jTtLl5LwlicQIPs9WSMm0uYurSkQnZZFfHFLSK8MBQ6ccM05Fg22mg71edbMh/qD
UWF7PZlI2ZsoF7qdZ2qwlREsCkdQDOBTHGl7a+bGVIK+LPvUE6s4mecauHBuGZf6
oEqrCDTQp3wpAoGBAIbhQ/3O3Q+1V+A2pgcjg6FpfvoHA9PfBQg6rkpn/wqYlkB6
QliUe1obSIPXLvyoM7s5rTCAOML6QzUbCDgBHiOEXRgy8Dijz8XfEKVtqjJ50lGK
fEds5jDqHXWWNT7MpR1QUGc2YS2GIWQAeu4mHe7ZL9J4aBI96SPXeYnYo7D3Ah0A
qTiGtCnKTGI2oY3HLAbNEHHRDvBdDMn246Nm4wOBhAACgYB0vxOgenNf6b4KM/Pp
ufCS569KdFpJfkP3PvizK7xPI4sLKyflXSGoNfj6m2VusvhOq7u8cF5PA2gB3mJi
4wtHk3302uiINiNnDts9GSaBfAEVc2RMTdfP06h2fpIYNOxL6jya3rGd4YAQp7kY
svKlCNeTD3sMRN58jB4WFczELQ==
-----END PUBLIC KEY-----
`;

const ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** Fingerprint computed the long way: base64 body of the PEM → DER → SHA-256. */
function pemFingerprint(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

function spki(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }));
}

function kmsAnswer(
  key: KeyObject,
  algorithms: SigningAlgorithmSpec[],
  extra: Partial<GetPublicKeyCommandOutput> = {},
): GetPublicKeyCommandOutput {
  return {
    $metadata: {},
    KeyId: ARN,
    PublicKey: spki(key),
    KeyUsage: 'SIGN_VERIFY',
    SigningAlgorithms: algorithms,
    ...extra,
  };
}

/** A signature as KMS Sign makes it: DER ECDSA, RSASSA-PSS with a salt as long as the hash, pure ed25519. */
function kmsSign(kind: string, hash: string | null, key: KeyObject, payload: Buffer): Buffer {
  if (kind === 'ecdsa') return sign(hash, payload, { key, dsaEncoding: 'der' });
  if (kind === 'rsa-pss') {
    const saltLength = { sha256: 32, sha384: 48, sha512: 64 }[hash as 'sha256'];
    return sign(hash, payload, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
  }
  if (kind === 'rsa-pkcs1') return sign(hash, payload, { key, padding: constants.RSA_PKCS1_PADDING });
  return sign(null, payload, key);
}

type KeyError = InstanceType<typeof VerifierError>;

async function keyError(p: Promise<unknown> | (() => unknown)): Promise<KeyError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(VerifierError);
    expect((err as KeyError).reason).toBe('KEY_ERROR');
    return err as KeyError;
  }
  throw new Error('expected a KEY_ERROR');
}

describe('loadPemKey', () => {
  it.each(['p256', 'p384', 'p521', 'rsa', 'ed25519'] as const)(
    'loads a %s public key with its SPKI fingerprint',
    (kind) => {
      const pair = PAIRS[kind];
      const handle = loadPemKey(pair.publicKeyPem);
      expect(handle.fingerprint).toBe(pemFingerprint(pair.publicKeyPem));
      const payload = Buffer.from('{"critical":{}}');
      expect(verifySignature(handle, payload, Buffer.from(signPayload(pair.privateKey, payload), 'base64'))).toBe(true);
      expect(
        verifySignature(
          handle,
          Buffer.from('{"critical":{ }}'),
          Buffer.from(signPayload(pair.privateKey, payload), 'base64'),
        ),
      ).toBe(false);
    },
  );

  it('uses cosign defaults: ECDSA with the curve hash, RSA PKCS#1 v1.5 SHA-256, pure ed25519', () => {
    expect(loadPemKey(PAIRS.p256.publicKeyPem).schemes).toEqual([{ kind: 'ecdsa', hash: 'sha256' }]);
    expect(loadPemKey(PAIRS.p384.publicKeyPem).schemes).toEqual([{ kind: 'ecdsa', hash: 'sha384' }]);
    expect(loadPemKey(PAIRS.p521.publicKeyPem).schemes).toEqual([{ kind: 'ecdsa', hash: 'sha512' }]);
    expect(loadPemKey(PAIRS.rsa.publicKeyPem).schemes).toEqual([{ kind: 'rsa-pkcs1', hash: 'sha256' }]);
    expect(loadPemKey(PAIRS.ed25519.publicKeyPem).schemes).toEqual([{ kind: 'ed25519' }]);
  });

  it.each([
    ['garbage', 'not a key'],
    ['an empty string', ''],
    ['a truncated PEM', PAIRS.p256.publicKeyPem.slice(0, 80)],
  ])('refuses %s with KEY_ERROR', async (_what, pem) => {
    const err = await keyError(() => loadPemKey(pem));
    expect(err.message).toMatch(/^not a PEM public key: \S/);
  });

  it.each([
    ['PKCS#8 (BEGIN PRIVATE KEY)', PAIRS.p256.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()],
    ['SEC1 (BEGIN EC PRIVATE KEY)', PAIRS.p256.privateKey.export({ format: 'pem', type: 'sec1' }).toString()],
    ['PKCS#1 (BEGIN RSA PRIVATE KEY)', PAIRS.rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString()],
  ])('refuses a %s private key instead of deriving its public half', async (_what, pem) => {
    const err = await keyError(() => loadPemKey(pem));
    expect(err.message).toMatch(/this is a PEM private key: configure the public key/);
  });

  it('refuses a key type Node cannot name (X9.42 DH) as unknown', async () => {
    const err = await keyError(() => loadPemKey(DHX_PUBLIC_PEM));
    expect(err.message).toMatch(/unsupported public key type unknown/);
  });

  it.each([
    [
      'secp256k1',
      () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
      /unsupported EC curve secp256k1/,
    ],
    ['ed448', () => generateKeyPairSync('ed448').publicKey, /unsupported public key type ed448/],
    ['x25519', () => generateKeyPairSync('x25519').publicKey, /unsupported public key type x25519/],
    ['RSA 1024', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, /1024 bits is too short/],
  ])('refuses a %s key', async (_what, make, message) => {
    const pem = make().export({ format: 'pem', type: 'spki' }).toString();
    const err = await keyError(() => loadPemKey(pem));
    expect(err.message).toMatch(message);
  });
});

describe('loadPemKeyFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keys-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a PEM file', () => {
    const pair = PAIRS.p256;
    const file = path.join(dir, 'cosign.pub');
    writeFileSync(file, pair.publicKeyPem);
    expect(loadPemKeyFile(file).fingerprint).toBe(pemFingerprint(pair.publicKeyPem));
  });

  it('names the path when the file is missing', async () => {
    const err = await keyError(() => loadPemKeyFile(path.join(dir, 'missing.pub')));
    expect(err.message).toContain(`cannot read public key file ${path.join(dir, 'missing.pub')}: ENOENT`);
  });

  it('names the path when the file is not a key', async () => {
    const file = path.join(dir, 'bad.pub');
    writeFileSync(file, 'hello');
    const err = await keyError(() => loadPemKeyFile(file));
    expect(err.message).toContain(file);
  });
});

describe('verifySignature', () => {
  const payload = Buffer.from('{"critical":{}}');

  it('refuses an ECDSA signature in IEEE P1363 (raw r||s) instead of DER', () => {
    const handle = loadPemKey(PAIRS.p256.publicKeyPem);
    const raw = sign('sha256', payload, { key: PAIRS.p256.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifySignature(handle, payload, raw)).toBe(false);
  });

  it('answers false, not an exception, when OpenSSL refuses the operation', () => {
    // a handle whose scheme its key cannot do: OpenSSL throws "invalid digest" for ed25519 with SHA-256
    const ed = loadPemKey(PAIRS.ed25519.publicKeyPem);
    const handle: PublicKeyHandle = { ...ed, schemes: [{ kind: 'ecdsa', hash: 'sha256' }] };
    expect(verifySignature(handle, payload, sign(null, payload, PAIRS.ed25519.privateKey))).toBe(false);
  });
});

describe('KmsKeyStore', () => {
  const pair = PAIRS.p256;
  const rsa = PAIRS.rsa;
  const payload = Buffer.from('payload');
  const signature = Buffer.from(signPayload(pair.privateKey, payload), 'base64');

  it('loads the SPKI DER from GetPublicKey, with the same fingerprint as the PEM', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
    const handle = await newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN);
    expect(handle.fingerprint).toBe(pemFingerprint(pair.publicKeyPem));
    expect(verifySignature(handle, payload, signature)).toBe(true);
    expect(kms.commandCalls(GetPublicKeyCommand)[0]!.args[0].input).toEqual({ KeyId: ARN });
  });

  it('asks KMS once per key within the TTL, again after it', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
    let now = 1_000_000;
    const store = newStore(new KMSClient({ region: 'eu-west-1' }), { ttlMs: 60_000, now: () => now });
    await store.get(ARN);
    now += 59_000;
    await store.get(ARN);
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    now += 2_000;
    await store.get(ARN);
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(2);
  });

  it('keeps a key for an hour by default', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
    let now = 1_000_000;
    const store = newStore(new KMSClient({ region: 'eu-west-1' }), { now: () => now });
    await store.get(ARN);
    now += 59 * 60_000;
    await store.get(ARN);
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    now += 2 * 60_000;
    await store.get(ARN);
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(2);
  });

  it('reads a key id with spaces around it, or as a cosign URI, as the same key (one KMS call)', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
    const store = newStore(new KMSClient({ region: 'eu-west-1' }));
    await store.get('  alias/cosign\n');
    await store.get(' awskms:///alias/cosign ');
    await store.get('alias/cosign');
    expect(kms.commandCalls(GetPublicKeyCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: 'alias/cosign' }]);
  });

  it.each(['', '   ', 'awskms:///'])('refuses an empty key id %j without asking KMS', async (id) => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(id));
    expect(err.message).toBe('empty KMS key id');
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(0);
  });

  it('coalesces concurrent misses into one call', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    kms.on(GetPublicKeyCommand).callsFake(async () => {
      await gate;
      return kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']);
    });
    const store = newStore(new KMSClient({ region: 'eu-west-1' }));
    const all = Promise.all([store.get(ARN), store.get(ARN), store.get(`awskms:///${ARN}`)]);
    release();
    const handles = await all;
    expect(new Set(handles.map((h) => h.fingerprint)).size).toBe(1);
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });

  it('maps a KMS client error to KEY_ERROR, not transient, and does not cache it', async () => {
    kms
      .on(GetPublicKeyCommand)
      .rejectsOnce(new NotFoundException({ message: 'Key not found', $metadata: { httpStatusCode: 400 } }))
      .resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
    const store = newStore(new KMSClient({ region: 'eu-west-1' }));
    const err = await keyError(store.get(ARN));
    expect(err.transient).toBe(false);
    expect(err.message).toBe(`kms:GetPublicKey ${ARN} failed: NotFoundException: Key not found`);
    await expect(store.get(ARN)).resolves.toMatchObject({ fingerprint: pemFingerprint(pair.publicKeyPem) });
  });

  it.each([
    [
      'throttling',
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    ],
    [
      'a KMS server error',
      Object.assign(new Error('internal'), {
        name: 'KMSInternalException',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      }),
    ],
    ['a network error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' })],
  ])('marks %s as transient KEY_ERROR', async (_what, error) => {
    kms.on(GetPublicKeyCommand).rejects(error);
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.transient).toBe(true);
  });

  it('maps access denied to KEY_ERROR, not transient (the hook must not wait for a policy fix)', async () => {
    kms.on(GetPublicKeyCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: kms:GetPublicKey'), {
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(/failed: AccessDeniedException: User is not authorized/);
  });

  it('names a thrown non-Error as Error with its text', async () => {
    kms.on(GetPublicKeyCommand).callsFake(async () => {
      throw 'socket hang up';
    });
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toBe(`kms:GetPublicKey ${ARN} failed: Error: socket hang up`);
  });

  it('gives the KMS call its own abort signal (a hung call is given up, not waited on)', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
    await newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN);
    const args: unknown[] = kms.commandCalls(GetPublicKeyCommand)[0]!.args;
    const options = args[1] as { abortSignal?: AbortSignal } | undefined;
    expect(options?.abortSignal).toBeInstanceOf(AbortSignal);
    expect(options?.abortSignal?.aborted).toBe(false);
  });

  it('refuses a key that is not for signing', async () => {
    kms
      .on(GetPublicKeyCommand)
      .resolves(kmsAnswer(pair.publicKey, [], { KeyUsage: 'ENCRYPT_DECRYPT', SigningAlgorithms: undefined }));
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toMatch(/ENCRYPT_DECRYPT/);
  });

  it('refuses an answer without a key usage', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256'], { KeyUsage: undefined }));
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toMatch(/has key usage unknown, not SIGN_VERIFY/);
  });

  it('refuses an answer without a public key', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256'], { PublicKey: undefined }));
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toBe(`KMS returned no public key for ${ARN}`);
  });

  it('refuses an RSA key shorter than 2048 bits from KMS too', async () => {
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(short, ['RSASSA_PSS_SHA_256']));
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toMatch(/RSA key of 1024 bits is too short/);
  });

  it('says which algorithms it was offered, or none, and the key spec if any', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, [], { SigningAlgorithms: undefined }));
    const none = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(none.message).toMatch(/\(unknown spec\) has no signing algorithm we verify: none$/);
    kms.reset();
    kms
      .on(GetPublicKeyCommand)
      .resolves(kmsAnswer(pair.publicKey, ['SM2DSA', 'ED25519_PH_SHA_512'], { KeySpec: 'ECC_NIST_P256' }));
    const two = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(two.message).toMatch(/\(ECC_NIST_P256\) has no signing algorithm we verify: SM2DSA, ED25519_PH_SHA_512$/);
  });

  it('refuses a key with no signing algorithm we verify', async () => {
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey;
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(k1, ['SM2DSA'], { KeySpec: 'ECC_SECG_P256K1' }));
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toMatch(/ECC_SECG_P256K1/);
  });

  it('refuses an answer without a usable public key', async () => {
    kms.on(GetPublicKeyCommand).resolves({
      $metadata: {},
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['ECDSA_SHA_256'],
      PublicKey: new Uint8Array([1, 2, 3]),
    });
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toMatch(/^KMS key \S+: public key is not SPKI DER: \S/);
  });

  it.each([
    ['ECDSA_SHA_256', 'p256', { kind: 'ecdsa', hash: 'sha256' }],
    ['ECDSA_SHA_384', 'p384', { kind: 'ecdsa', hash: 'sha384' }],
    ['ECDSA_SHA_512', 'p521', { kind: 'ecdsa', hash: 'sha512' }],
    ['RSASSA_PSS_SHA_256', 'rsa', { kind: 'rsa-pss', hash: 'sha256' }],
    ['RSASSA_PSS_SHA_384', 'rsa', { kind: 'rsa-pss', hash: 'sha384' }],
    ['RSASSA_PSS_SHA_512', 'rsa', { kind: 'rsa-pss', hash: 'sha512' }],
    ['RSASSA_PKCS1_V1_5_SHA_256', 'rsa', { kind: 'rsa-pkcs1', hash: 'sha256' }],
    ['RSASSA_PKCS1_V1_5_SHA_384', 'rsa', { kind: 'rsa-pkcs1', hash: 'sha384' }],
    ['RSASSA_PKCS1_V1_5_SHA_512', 'rsa', { kind: 'rsa-pkcs1', hash: 'sha512' }],
    ['ED25519_SHA_512', 'ed25519', { kind: 'ed25519' }],
  ] as const)('verifies what KMS signs with %s, and only that', async (alg, kind, scheme) => {
    const key = PAIRS[kind];
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(key.publicKey, [alg]));
    const handle = await newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN);
    expect(handle.schemes).toEqual([scheme]);
    const hash = 'hash' in scheme ? scheme.hash : null;
    const signed = kmsSign(scheme.kind, hash, key.privateKey, payload);
    expect(verifySignature(handle, payload, signed)).toBe(true);
    expect(verifySignature(handle, Buffer.from('other'), signed)).toBe(false);
    if (hash) {
      // the same scheme with another hash is not what KMS signed with
      const other = hash === 'sha256' ? 'sha384' : 'sha256';
      expect(verifySignature(handle, payload, kmsSign(scheme.kind, other, key.privateKey, payload))).toBe(false);
    }
  });

  it('verifies RSA keys with the algorithms KMS lists (cosign signs with the first: RSASSA-PSS)', async () => {
    kms
      .on(GetPublicKeyCommand)
      .resolves(
        kmsAnswer(
          rsa.publicKey,
          ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512', 'RSASSA_PKCS1_V1_5_SHA_256'],
          { KeySpec: 'RSA_2048' },
        ),
      );
    const handle: PublicKeyHandle = await newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN);
    // KMS RSASSA_PSS_SHA_256 uses a salt as long as the hash
    const pss = sign('sha256', payload, {
      key: rsa.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
    expect(verifySignature(handle, payload, pss)).toBe(true);
    expect(verifySignature(handle, payload, sign('sha256', payload, rsa.privateKey))).toBe(true);
    expect(verifySignature(handle, Buffer.from('other'), pss)).toBe(false);
  });

  it('does not accept PKCS#1 v1.5 from a KMS key that lists only PSS', async () => {
    kms.on(GetPublicKeyCommand).resolves(kmsAnswer(rsa.publicKey, ['RSASSA_PSS_SHA_256']));
    const handle = await newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN);
    expect(verifySignature(handle, payload, sign('sha256', payload, rsa.privateKey))).toBe(false);
  });

  describe('regions', () => {
    /** A store with us-east-2 as its default region that records the region of each client it makes. */
    const recordingStore = () => {
      const asked: string[] = [];
      const store = newStore(
        (region) => {
          asked.push(region);
          return new KMSClient({ region });
        },
        { defaultRegion: 'us-east-2' },
      );
      return { store, asked };
    };

    it('takes the region from a key ARN and the default region for an alias', async () => {
      kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
      const { store, asked } = recordingStore();
      await store.get(ARN);
      await store.get('alias/cosign');
      await store.get('arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/cosign');
      expect(asked).toEqual(['eu-west-1', 'us-east-2', 'us-gov-west-1']);
      expect(kms.commandCalls(GetPublicKeyCommand).map((c) => c.args[0].input.KeyId)).toEqual([
        ARN,
        'alias/cosign',
        'arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/cosign',
      ]);
    });

    it('says so when a single client is in another region than the key', async () => {
      kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
      const err = await keyError(newStore(new KMSClient({ region: 'us-east-1' })).get(ARN));
      expect(err.message).toMatch(/is in eu-west-1 but the KMS client is for us-east-1/);
      expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(0);
    });

    it('refuses a cosign URI with a custom endpoint', async () => {
      const err = await keyError(
        newStore(new KMSClient({ region: 'eu-west-1' })).get('awskms://localhost:4566/alias/x'),
      );
      expect(err.message).toMatch(
        /^KMS key awskms:\/\/localhost:4566\/alias\/x: a custom endpoint in the URI is not supported/,
      );
    });

    it('uses the default region for an id that is not a whole KMS ARN', async () => {
      kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
      const { store, asked } = recordingStore();
      await store.get('xarn:aws:kms:eu-west-1:123456789012:key/k');
      await store.get('arn:aws:kms:eu-west-1:123456789012:key/k\nother');
      expect(asked).toEqual(['us-east-2', 'us-east-2']);
    });

    it('refuses a key id or alias without a region (no ARN, no default) before calling KMS', async () => {
      kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
      const factory = vi.fn((region: string) => new KMSClient({ region }));
      const err = await keyError(newStore(factory).get('alias/cosign'));
      expect(err.message).toBe('no AWS region for KMS key alias/cosign: use a key ARN or set AWS_REGION');
      expect(factory).not.toHaveBeenCalled();
      expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(0);
    });

    it('asks a single client for an alias, whatever its region', async () => {
      kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
      await newStore(new KMSClient({ region: 'us-east-1' })).get('alias/cosign');
      expect(kms.commandCalls(GetPublicKeyCommand).map((c) => c.args[0].input)).toEqual([{ KeyId: 'alias/cosign' }]);
    });

    it('lets KMS answer when the single client cannot tell its region yet', async () => {
      kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
      const client = new KMSClient({
        region: async () => {
          throw new Error('Region is missing');
        },
      });
      await expect(newStore(client).get(ARN)).resolves.toMatchObject({
        fingerprint: pemFingerprint(pair.publicKeyPem),
      });
      expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
    });
  });

  it('lets one caller give up (TIMEOUT) while the shared fetch serves the others', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    kms.on(GetPublicKeyCommand).callsFake(async () => {
      await gate;
      return kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']);
    });
    const store = newStore(new KMSClient({ region: 'eu-west-1' }));
    const abort = new AbortController();
    const impatient = store.get(ARN, abort.signal);
    const patient = store.get(ARN);
    abort.abort();
    await expect(impatient).rejects.toMatchObject({
      name: 'VerifierError',
      reason: 'TIMEOUT',
      transient: true,
      message: `gave up waiting for KMS key ${ARN}`,
    });
    release();
    await expect(patient).resolves.toMatchObject({ fingerprint: pemFingerprint(pair.publicKeyPem) });
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });
});
