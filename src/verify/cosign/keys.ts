/**
 * Public keys for signature verification: PEM text, PEM files and AWS KMS keys.
 *
 * A key is loaded once into a PublicKeyHandle that says which signature schemes it
 * verifies. The schemes follow what cosign does with the same key, so that an image
 * `cosign verify --key …` accepts is what we accept:
 *   - PEM ECDSA keys hash with their curve's default (P-256 → SHA-256, P-384 → SHA-384,
 *     P-521 → SHA-512), RSA PEM keys use PKCS#1 v1.5 with SHA-256, ed25519 signs the
 *     raw payload (sigstore `LoadDefaultVerifier`).
 *   - KMS keys use the signing algorithms KMS reports for the key (cosign uses the first
 *     one; for RSA keys that is RSASSA-PSS, which is why KMS RSA keys must not be
 *     treated like PEM RSA keys).
 *
 * Every failure is a VerifierError('KEY_ERROR'): a key we cannot load is a
 * configuration or infrastructure problem, never a verdict about the image.
 */
import { constants, createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  GetPublicKeyCommand,
  type KMSClient,
  type GetPublicKeyCommandOutput,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { isTransient } from '../../core/aws-errors.js';
import { TtlCache } from '../../core/cache.js';
import { VerifierError } from '../../core/verifier.js';

export type HashName = 'sha256' | 'sha384' | 'sha512';

/** How a signature over a payload is checked with a key. */
export type SignatureScheme =
  | { kind: 'ecdsa'; hash: HashName } // DER-encoded (r, s), as cosign and KMS write it
  | { kind: 'rsa-pkcs1'; hash: HashName }
  | { kind: 'rsa-pss'; hash: HashName } // salt length: any (Go's PSSSaltLengthAuto)
  | { kind: 'ed25519' }; // pure EdDSA over the raw payload, no prehash

export interface PublicKeyHandle {
  key: KeyObject;
  /** 'sha256:' + hex SHA-256 of the SPKI DER, the same for a key from PEM or KMS */
  fingerprint: string;
  /** the schemes this key verifies; a signature is valid when any of them accepts it */
  schemes: readonly SignatureScheme[];
}

/** What a verifier needs: a name for logs and a way to get the key when it is needed. */
export interface KeySource {
  describe: string;
  load: (signal?: AbortSignal) => Promise<PublicKeyHandle>;
  /** the key when it is already loaded (PEM), so a verifier can name it before its first use */
  known?: PublicKeyHandle;
}

const CURVE_HASH: Record<string, HashName> = {
  prime256v1: 'sha256',
  secp384r1: 'sha384',
  secp521r1: 'sha512',
};

// RSA keys shorter than this are refused: cosign's own floor (sigstore rejects < 2048).
const MIN_RSA_BITS = 2048;

export function loadPemKey(pem: string): PublicKeyHandle {
  // createPublicKey would derive the public half of a private key; a private key in a
  // policy is a leak to report, not a key to use.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new VerifierError(
      'KEY_ERROR',
      'this is a PEM private key: configure the public key (cosign.pub), and rotate the private one',
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new VerifierError('KEY_ERROR', `not a PEM public key: ${errorText(err)}`);
  }
  return handleFor(key, defaultSchemes(key));
}

export function loadPemKeyFile(path: string): PublicKeyHandle {
  let pem: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding the file comes as a Buffer, which the PEM regex and createPublicKey read as UTF-8 all the same
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new VerifierError('KEY_ERROR', `cannot read public key file ${path}: ${errorText(err)}`);
  }
  try {
    return loadPemKey(pem);
  } catch (err) {
    throw new VerifierError('KEY_ERROR', `public key file ${path}: ${errorText(err)}`);
  }
}

/** Parse once, at policy load, so a bad key is reported before any image is seen. */
export function pemKeySource(pem: string): KeySource {
  const handle = loadPemKey(pem);
  return { describe: 'key', load: async () => handle, known: handle };
}

export function pemFileKeySource(path: string): KeySource {
  const handle = loadPemKeyFile(path);
  return { describe: 'key', load: async () => handle, known: handle };
}

export function kmsKeySource(store: KmsKeyStore, keyId: string): KeySource {
  return { describe: `kms ${keyId}`, load: (signal) => store.get(keyId, signal) };
}

/** True when `signature` over `payload` verifies with the key under one of its schemes. */
export function verifySignature(handle: PublicKeyHandle, payload: Buffer, signature: Buffer): boolean {
  return handle.schemes.some((scheme) => verifyWith(handle.key, scheme, payload, signature));
}

export function shortFingerprint(fingerprint: string): string {
  return `${fingerprint.slice(0, 'sha256:'.length + 8)}…`;
}

function verifyWith(key: KeyObject, scheme: SignatureScheme, payload: Buffer, signature: Buffer): boolean {
  try {
    switch (scheme.kind) {
      // Stryker disable next-line ConditionalExpression: falling through to rsa-pkcs1 verifies the same (Node ignores RSA padding for an EC key, and DER is its default dsaEncoding)
      case 'ecdsa':
        return cryptoVerify(scheme.hash, payload, { key, dsaEncoding: 'der' }, signature);
      case 'rsa-pkcs1':
        return cryptoVerify(scheme.hash, payload, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'rsa-pss':
        return cryptoVerify(
          scheme.hash,
          payload,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
          signature,
        );
      case 'ed25519':
        return cryptoVerify(null, payload, key, signature);
    }
  } /* Stryker disable next-line BlockStatement: an empty catch returns undefined, which some() takes as false too */ catch {
    // OpenSSL throws on some malformed signatures (bad DER, wrong length): not valid.
    return false;
  }
}

function defaultSchemes(key: KeyObject): SignatureScheme[] {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      // Stryker disable next-line OptionalChaining,StringLiteral: Node always gives an EC key a namedCurve (OpenSSL's short name, UNDEF for a custom curve)
      const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
      const hash = CURVE_HASH[curve];
      if (!hash) throw new VerifierError('KEY_ERROR', `unsupported EC curve ${curve} (use P-256, P-384 or P-521)`);
      return [{ kind: 'ecdsa', hash }];
    }
    case 'rsa':
      checkRsaSize(key);
      return [{ kind: 'rsa-pkcs1', hash: 'sha256' }];
    case 'ed25519':
      return [{ kind: 'ed25519' }];
    default:
      throw new VerifierError(
        'KEY_ERROR',
        `unsupported public key type ${key.asymmetricKeyType ?? 'unknown'} (use ECDSA P-256/P-384/P-521, RSA or ed25519)`,
      );
  }
}

function checkRsaSize(key: KeyObject): void {
  // Stryker disable next-line OptionalChaining: Node always gives an RSA key its details (modulusLength)
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS)
    throw new VerifierError('KEY_ERROR', `RSA key of ${bits} bits is too short (at least ${MIN_RSA_BITS})`);
}

function handleFor(key: KeyObject, schemes: SignatureScheme[]): PublicKeyHandle {
  const spki = key.export({ format: 'der', type: 'spki' });
  return { key, fingerprint: `sha256:${createHash('sha256').update(spki).digest('hex')}`, schemes };
}

// ---------------------------------------------------------------------------- KMS

const KMS_SCHEMES: Partial<Record<SigningAlgorithmSpec, SignatureScheme>> = {
  ECDSA_SHA_256: { kind: 'ecdsa', hash: 'sha256' },
  ECDSA_SHA_384: { kind: 'ecdsa', hash: 'sha384' },
  ECDSA_SHA_512: { kind: 'ecdsa', hash: 'sha512' },
  RSASSA_PSS_SHA_256: { kind: 'rsa-pss', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { kind: 'rsa-pss', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { kind: 'rsa-pss', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { kind: 'rsa-pkcs1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { kind: 'rsa-pkcs1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { kind: 'rsa-pkcs1', hash: 'sha512' },
  ED25519_SHA_512: { kind: 'ed25519' },
  // ED25519_PH_SHA_512 (prehash), SM2DSA and ML-DSA are not schemes cosign signs with.
};

export const DEFAULT_KMS_KEY_TTL_MS = 60 * 60 * 1000;
// A GetPublicKey that takes longer than this is treated as a network failure (transient).
const KMS_CALL_TIMEOUT_MS = 10_000;
const KMS_MAX_KEYS = 1_000;
const ARN_RE = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(?:key|alias)\/.+$/;

export interface KmsKeyStoreOptions {
  /** how long a fetched public key is trusted without asking KMS again (default 1 h) */
  ttlMs?: number;
  now?: () => number;
  /** region for key ids and aliases when a client factory is given (Config.region) */
  defaultRegion?: string;
}

/**
 * KMS public keys, fetched with kms:GetPublicKey once per key and kept for a TTL, so a
 * warm Lambda verifies without calling KMS. Concurrent misses for the same key share
 * one call. Failures are not cached: the next decision asks again.
 */
export class KmsKeyStore {
  private readonly cache: TtlCache<PublicKeyHandle>;

  constructor(
    private readonly client: KMSClient | ((region: string) => KMSClient | Promise<KMSClient>),
    private readonly opts: KmsKeyStoreOptions = {},
  ) {
    this.cache = new TtlCache({
      ttlMs: opts.ttlMs ?? DEFAULT_KMS_KEY_TTL_MS,
      maxEntries: KMS_MAX_KEYS,
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  async get(keyIdOrArnOrAlias: string, signal?: AbortSignal): Promise<PublicKeyHandle> {
    const keyId = normaliseKeyId(keyIdOrArnOrAlias);
    const gaveUp = () => new VerifierError('TIMEOUT', `gave up waiting for KMS key ${keyId}`, true);
    return this.cache.getOrCompute(keyId, () => this.fetch(keyId), signal, gaveUp);
  }

  /** The shared fetch runs without any one caller's signal: one caller giving up must not fail the others. */
  private async fetch(keyId: string): Promise<PublicKeyHandle> {
    const client = await this.clientFor(keyId);
    let out: GetPublicKeyCommandOutput;
    try {
      out = await client.send(new GetPublicKeyCommand({ KeyId: keyId }), {
        abortSignal: AbortSignal.timeout(KMS_CALL_TIMEOUT_MS),
      });
    } catch (err) {
      throw kmsError(keyId, err);
    }
    return kmsHandle(keyId, out);
  }

  private async clientFor(keyId: string): Promise<KMSClient> {
    const arnRegion = ARN_RE.exec(keyId)?.[1];
    if (typeof this.client === 'function') {
      const region = arnRegion ?? this.opts.defaultRegion;
      if (!region)
        throw new VerifierError('KEY_ERROR', `no AWS region for KMS key ${keyId}: use a key ARN or set AWS_REGION`);
      return this.client(region);
    }
    if (arnRegion) await this.checkClientRegion(this.client, arnRegion, keyId);
    return this.client;
  }

  /** A single client cannot reach a key in another region; say so instead of KMS's NotFound. */
  private async checkClientRegion(client: KMSClient, region: string, keyId: string): Promise<void> {
    let clientRegion: string | undefined;
    try {
      clientRegion = await client.config.region();
    } /* Stryker disable next-line BlockStatement: without the return clientRegion stays undefined, and an unknown region skips the check all the same */ catch {
      return; // region resolved by the SDK at send time; let KMS answer
    }
    if (clientRegion && clientRegion !== region) {
      throw new VerifierError(
        'KEY_ERROR',
        `KMS key ${keyId} is in ${region} but the KMS client is for ${clientRegion} (give KmsKeyStore a client factory)`,
      );
    }
  }
}

/** cosign spells KMS keys `awskms:///<id|arn|alias>`; accept that too. */
function normaliseKeyId(raw: string): string {
  const id = raw.trim();
  if (id.startsWith('awskms://')) {
    const rest = id.slice('awskms://'.length);
    if (!rest.startsWith('/')) {
      throw new VerifierError(
        'KEY_ERROR',
        `KMS key ${raw}: a custom endpoint in the URI is not supported (set AWS_ENDPOINT_URL_KMS)`,
      );
    }
    return normaliseKeyId(rest.slice(1));
  }
  if (!id) throw new VerifierError('KEY_ERROR', 'empty KMS key id');
  return id;
}

function kmsHandle(keyId: string, out: GetPublicKeyCommandOutput): PublicKeyHandle {
  if (out.KeyUsage !== 'SIGN_VERIFY') {
    throw new VerifierError(
      'KEY_ERROR',
      `KMS key ${keyId} has key usage ${out.KeyUsage ?? 'unknown'}, not SIGN_VERIFY`,
    );
  }
  if (!out.PublicKey) throw new VerifierError('KEY_ERROR', `KMS returned no public key for ${keyId}`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
  } catch (err) {
    throw new VerifierError('KEY_ERROR', `KMS key ${keyId}: public key is not SPKI DER: ${errorText(err)}`);
  }
  if (key.asymmetricKeyType === 'rsa') checkRsaSize(key);
  const algorithms = out.SigningAlgorithms ?? [];
  const schemes = algorithms.flatMap((alg) => KMS_SCHEMES[alg] ?? []);
  if (!schemes.length) {
    throw new VerifierError(
      'KEY_ERROR',
      `KMS key ${keyId} (${out.KeySpec ?? 'unknown spec'}) has no signing algorithm we verify: ${algorithms.join(', ') || 'none'}`,
    );
  }
  return handleFor(key, schemes);
}

/** `err` is what KMSClient.send threw: an SDK or network error, never one of ours. */
function kmsError(keyId: string, err: unknown): VerifierError {
  const name = err instanceof Error ? err.name : 'Error';
  // throttling, KMS's own trouble and no answer at all go away by themselves: the hook waits on these
  return new VerifierError(
    'KEY_ERROR',
    `kms:GetPublicKey ${keyId} failed: ${name}: ${errorText(err)}`,
    isTransient(err),
  );
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
