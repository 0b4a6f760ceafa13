/**
 * Signature algorithms of the Notary Project signature specification. The algorithm
 * is a function of the signing key (RSA 2048/3072/4096 → PS256/384/512; P-256/384/521
 * → ES256/384/512), so an envelope whose `alg` differs from its key's is refused.
 */
import { constants, verify as cryptoVerify, type KeyObject } from 'node:crypto';

export type Alg = 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';

const HASH: Record<Alg, string> = {
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};
const HASH_BYTES: Record<Alg, number> = { PS256: 32, PS384: 48, PS512: 64, ES256: 32, ES384: 48, ES512: 64 };

export const COSE_ALGS: ReadonlyMap<number, Alg> = new Map<number, Alg>([
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
]);

export function isAlg(s: unknown): s is Alg {
  // own names only: "toString" is in HASH too, through its prototype
  return typeof s === 'string' && Object.hasOwn(HASH, s);
}

/** The one algorithm the specification allows for this key, or a sentence why none. */
export function algForKey(key: KeyObject): Alg | string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength;
    if (bits === 2048) return 'PS256';
    if (bits === 3072) return 'PS384';
    if (bits === 4096) return 'PS512';
    return `RSA key size ${bits} is not allowed (2048, 3072 or 4096)`;
  }
  if (key.asymmetricKeyType === 'ec') {
    if (d.namedCurve === 'prime256v1') return 'ES256';
    if (d.namedCurve === 'secp384r1') return 'ES384';
    if (d.namedCurve === 'secp521r1') return 'ES512';
    return `EC curve ${d.namedCurve} is not allowed (P-256, P-384 or P-521)`;
  }
  return `key type ${key.asymmetricKeyType} is not allowed (RSA or EC)`;
}

/** Verify `signature` over `data`: RSASSA-PSS with salt = hash length, or ECDSA with raw r||s. */
export function verifySignature(alg: Alg, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    if (alg.startsWith('PS')) {
      return cryptoVerify(
        HASH[alg],
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[alg] },
        signature,
      );
    }
    // Node refuses an ieee-p1363 signature that is not exactly r||s of the curve's size (e.g. DER).
    return cryptoVerify(HASH[alg], data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
