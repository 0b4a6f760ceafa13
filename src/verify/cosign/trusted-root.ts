/**
 * Sigstore trust: a `trusted_root.json` (Fulcio CAs, Rekor and CT log keys, timestamp
 * authorities) turned into @sigstore/verify's TrustMaterial, plus private CAs.
 *
 * A malformed root is refused, not repaired: every key and CA must state when its
 * validity starts. @sigstore/verify reads a missing start as "since the beginning of
 * time", which would extend trust in a log key beyond what its operator declared
 * (sigstore-conformance `trust-root-tlog-missing-validity-start_fail`).
 *
 * The default root is the public-good one shipped in layers/trust/sigstore/. With
 * SIGSTORE_TRUST_REFRESH=tuf the Runtime asks Sigstore's TUF repository for a newer
 * one once per container, with a short timeout, and falls back to the shipped root
 * (logged) when that fails: opt-in, because by default no decision waits on the network.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type KeyFinderFunc, type TrustMaterial } from '@sigstore/verify';
import { raceSignal } from '../../core/abort.js';
import type { SigstoreRefresh } from '../../core/config.js';
import { logger } from '../../core/observability.js';
import { VerifierError } from '../../core/verifier.js';

export const TRUSTED_ROOT_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.trustedroot';
export const SHIPPED_ROOT_PATH = 'sigstore/trusted_root.json';

const BEGINNING = new Date(0);
const END = new Date(8640000000000000);

type Json = Record<string, unknown>;

/** Read and check a trusted_root.json; every problem is a POLICY_ERROR naming the file. */
export function readTrustedRoot(path: string): TrustedRoot {
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding Node returns a Buffer, which JSON.parse reads as UTF-8 text all the same
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new VerifierError('POLICY_ERROR', `cannot read Sigstore trusted root ${path}: ${(e as Error).message}`);
  }
  return parseTrustedRoot(text, path);
}

export function parseTrustedRoot(text: string, name: string): TrustedRoot {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new VerifierError('POLICY_ERROR', `Sigstore trusted root ${name} is not JSON`);
  }
  const problem = checkShape(doc);
  if (problem) throw new VerifierError('POLICY_ERROR', `Sigstore trusted root ${name} is malformed: ${problem}`);
  try {
    return TrustedRoot.fromJSON(doc);
  } catch (e) {
    throw new VerifierError('POLICY_ERROR', `Sigstore trusted root ${name} is malformed: ${(e as Error).message}`);
  }
}

function checkShape(doc: unknown): string | undefined {
  if (!isObject(doc)) return 'not a JSON object';
  if (typeof doc.mediaType !== 'string' || !doc.mediaType.startsWith(TRUSTED_ROOT_MEDIA_TYPE_PREFIX))
    return `mediaType is ${JSON.stringify(doc.mediaType)}`;
  for (const list of ['tlogs', 'ctlogs'] as const) {
    const entries = doc[list] ?? [];
    if (!Array.isArray(entries)) return `${list} is not a list`;
    for (const [i, entry] of entries.entries()) {
      const key = isObject(entry) ? entry.publicKey : undefined;
      if (!isObject(key) || typeof key.rawBytes !== 'string') return `${list}[${i}] has no publicKey`;
      const problem = validityProblem(key.validFor);
      if (problem) return `${list}[${i}].publicKey.${problem}`;
    }
  }
  for (const list of ['certificateAuthorities', 'timestampAuthorities'] as const) {
    const entries = doc[list] ?? [];
    if (!Array.isArray(entries)) return `${list} is not a list`;
    for (const [i, entry] of entries.entries()) {
      const problem = validityProblem(isObject(entry) ? entry.validFor : undefined);
      if (problem) return `${list}[${i}].${problem}`;
    }
  }
  return undefined;
}

/** Private PKI (cosign --ca-roots / --certificate-chain): PEM files of roots and intermediates. */
export interface PrivateCas {
  roots: X509Certificate[];
  intermediates: X509Certificate[];
}

export function readPemCertificates(path: string, what: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new VerifierError('POLICY_ERROR', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new VerifierError('POLICY_ERROR', `${what} ${path} holds no PEM certificate`);
  try {
    return blocks.map((pem) => X509Certificate.parse(pem));
  } catch (e) {
    throw new VerifierError('POLICY_ERROR', `${what} ${path} holds a malformed certificate: ${(e as Error).message}`);
  }
}

/**
 * TrustMaterial for @sigstore/verify. With private CAs, they replace the root's Fulcio
 * CAs (the logs and TSAs stay). The library builds chains only from certificates in
 * the trust material, so intermediates go in with every root.
 */
export function trustMaterial(
  root: TrustedRoot,
  opts: { keys?: KeyFinderFunc; privateCas?: PrivateCas } = {},
): TrustMaterial {
  const material = toTrustMaterial(root, opts.keys);
  if (!opts.privateCas) return material;
  const { roots, intermediates } = opts.privateCas;
  return {
    ...material,
    certificateAuthorities: roots.map((r) => ({
      certChain: [...intermediates, r],
      validFor: { start: BEGINNING, end: END },
    })),
  };
}

// --- the default root, and its opt-in refresh ---

export interface DefaultRootOptions {
  trustDir: string;
  refresh: SigstoreRefresh;
  /** default: a warning in the Lambda's log */
  log?: (message: string, extra?: Record<string, unknown>) => void;
  /** TEST ONLY: replaces the TUF fetch */
  fetchRoot?: (timeoutMs: number) => Promise<TrustedRoot>;
}

/**
 * The public-good root: the shipped file, or (opt-in) a TUF-refreshed one, loaded on
 * first use and then kept by its owner. The Runtime owns one, so a container asks TUF
 * once, however often its policy is rebuilt.
 */
export class DefaultTrustedRoot {
  #root: Promise<TrustedRoot> | undefined;

  constructor(private readonly opts: DefaultRootOptions) {}

  get(): Promise<TrustedRoot> {
    this.#root ??= loadDefault(this.opts);
    return this.#root;
  }
}

async function loadDefault(opts: DefaultRootOptions): Promise<TrustedRoot> {
  const shippedPath = `${opts.trustDir}/${SHIPPED_ROOT_PATH}`;
  if (opts.refresh.kind !== 'tuf') return readTrustedRoot(shippedPath);
  const { timeoutMs } = opts.refresh;
  const log = opts.log ?? ((m, extra) => logger.warn(m, extra ?? {}));
  try {
    const fetched = await raceSignal(
      (opts.fetchRoot ?? fetchFromTuf)(timeoutMs),
      AbortSignal.timeout(timeoutMs),
      () => new Error(`no answer within ${timeoutMs} ms`),
    );
    // the same checks as a file: a malformed root from the network is no better
    const root = parseTrustedRoot(JSON.stringify(TrustedRoot.toJSON(fetched)), 'from TUF');
    log('Sigstore trusted root refreshed through TUF', { source: 'tuf' });
    return root;
  } catch (e) {
    log('Sigstore trusted root refresh failed: using the shipped root', {
      error: (e as Error).message,
      shippedPath,
    });
    return readTrustedRoot(shippedPath);
  }
}

async function fetchFromTuf(timeoutMs: number): Promise<TrustedRoot> {
  const { getTrustedRoot } = await import('@sigstore/tuf');
  return getTrustedRoot({ cachePath: '/tmp/sigstore-tuf', timeout: timeoutMs, retry: false });
}

/**
 * A start or end that is not a time would be read as an invalid Date, which the library
 * compares as never valid: refuse it here, with the field's name. No end (absent or null,
 * as protobuf JSON reads null) is valid to this day.
 */
function validityProblem(validFor: unknown): string | undefined {
  if (!isObject(validFor) || !isTime(validFor.start)) return 'validFor.start is missing or not a time';
  if (validFor.end !== undefined && validFor.end !== null && !isTime(validFor.end)) return 'validFor.end is not a time';
  return undefined;
}

function isTime(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
