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
    await keyError(() => loadPemKey(pem));
  });

  it('refuses a private key instead of deriving its public half', async () => {
    const pem = PAIRS.p256.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const err = await keyError(() => loadPemKey(pem));
    expect(err.message).toMatch(/private key/);
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
    expect(err.message).toContain(path.join(dir, 'missing.pub'));
  });

  it('names the path when the file is not a key', async () => {
    const file = path.join(dir, 'bad.pub');
    writeFileSync(file, 'hello');
    const err = await keyError(() => loadPemKeyFile(file));
    expect(err.message).toContain(file);
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
    expect(err.message).toMatch(/NotFoundException/);
    expect(err.message).toContain(ARN);
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

  it('refuses a key that is not for signing', async () => {
    kms
      .on(GetPublicKeyCommand)
      .resolves(kmsAnswer(pair.publicKey, [], { KeyUsage: 'ENCRYPT_DECRYPT', SigningAlgorithms: undefined }));
    const err = await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
    expect(err.message).toMatch(/ENCRYPT_DECRYPT/);
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
    await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get(ARN));
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
    it('takes the region from a key ARN and the default region for an alias', async () => {
      kms.on(GetPublicKeyCommand).resolves(kmsAnswer(pair.publicKey, ['ECDSA_SHA_256']));
      const asked: string[] = [];
      const store = newStore(
        (region) => {
          asked.push(region);
          return new KMSClient({ region });
        },
        { defaultRegion: 'us-east-2' },
      );
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
      await keyError(newStore(new KMSClient({ region: 'eu-west-1' })).get('awskms://localhost:4566/alias/x'));
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
    await expect(impatient).rejects.toMatchObject({ name: 'VerifierError', reason: 'TIMEOUT', transient: true });
    release();
    await expect(patient).resolves.toMatchObject({ fingerprint: pemFingerprint(pair.publicKeyPem) });
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);
  });
});
