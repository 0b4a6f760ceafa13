/**
 * Notation revocation in process: OCSP, then CRL, for the signing chain and the TSA
 * chain, as the trust policy's revocation action says (enforce / log / skip). The
 * responder and the CRLs come from a loopback HTTP server (test/support/pki-revocation.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { RevocationChecker } from '../src/verify/notary/revocation.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import { Certificate } from '../src/verify/notary/x509.js';
import { VerifierError, type VerifierVerdict } from '../src/core/verifier.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context, makeTrustStore, policy } from './support/notation-context.js';
import { digestOf, key, makeChain, pem, signJws, type IssuedCert } from './support/notation-signer.js';
import { startRevocationServer, type RevocationServer } from './support/pki-revocation.js';
import { makeTsa, timestampToken, type Tsa } from './support/pki-tsa.js';

const IMAGE = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}');
const TARGET: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(IMAGE),
  size: IMAGE.length,
};
const LEAF_KEY = key('p256', 'revocation-leaf');

let server: RevocationServer;
let chain: { root: IssuedCert; intermediate: IssuedCert; leaf: IssuedCert; chain: Buffer[] };
let tsa: Tsa;
let store: string;
const serial = (c: IssuedCert) => Certificate.fromDer(c.der).serial.toString('hex');

beforeAll(async () => {
  server = await startRevocationServer();
  chain = makeChain(LEAF_KEY, {
    label: 'revocation',
    intermediate: { extra: server.extensions('root') },
    leaf: { extra: server.extensions('int') },
  });
  tsa = makeTsa({ label: 'revocation-tsa', leaf: { extra: server.extensions('tsa-root') } });
  server.issuers.set('root', chain.root).set('int', chain.intermediate).set('tsa-root', tsa.root);
  server.issuerOf
    .set(serial(chain.intermediate), chain.root)
    .set(serial(chain.leaf), chain.intermediate)
    .set(serial(tsa.leaf), tsa.root);
  store = makeTrustStore({ ca: { mine: [pem(chain.root.der)] }, tsa: { tsa: [pem(tsa.root.der)] } });
});
afterAll(() => server.close());
beforeEach(() => {
  server.ocsp.clear();
  server.crl.clear();
  server.revokedSerials.clear();
  server.seen.length = 0;
});

interface Run {
  revocation?: 'enforce' | 'log' | 'skip';
  envelope?: Buffer;
  tsa?: boolean;
  checker?: RevocationChecker;
}

async function run(opts: Run = {}): Promise<{ verdict: VerifierVerdict; logs: Array<Record<string, unknown>> }> {
  const repo = new MemoryRepo();
  attachSignature(
    repo,
    TARGET,
    opts.envelope ?? signJws({ target: TARGET, alg: 'ES256', key: LEAF_KEY.privateKey, chain: chain.chain }),
    'application/jose+json',
  );
  const logs: Array<Record<string, unknown>> = [];
  const statement = {
    trustStores: opts.tsa ? ['ca:mine', 'tsa:tsa'] : ['ca:mine'],
    signatureVerification: {
      level: 'strict',
      ...(opts.revocation ? { override: { revocation: opts.revocation } } : {}),
    },
  };
  const v = createNotationVerifier(
    { type: 'notation', trustPolicy: policy(statement), trustStore: store },
    {
      baseDir: '/',
      log: (message, data) => logs.push({ message, ...data }),
      ...(opts.checker ? { revocation: opts.checker } : {}),
    },
  );
  return { verdict: await v.verify(context(repo, TARGET)), logs };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a thrown error');
    },
    (e: unknown) => e,
  );

describe('OCSP first', () => {
  it('good answers for leaf and intermediate admit; the CRL is not fetched', async () => {
    expect((await run()).verdict).toMatchObject({ ok: true });
    expect(server.seen.sort()).toEqual([`OCSP ${serial(chain.intermediate)}`, `OCSP ${serial(chain.leaf)}`].sort());
  });

  it('REVOKED when the responder says the leaf is revoked', async () => {
    server.ocsp.set(serial(chain.leaf), 'revoked');
    expect((await run()).verdict).toMatchObject({
      ok: false,
      reason: 'REVOKED',
      detail: expect.stringContaining('Test Signer'),
    });
  });

  it('REVOKED when the intermediate is revoked (every certificate below the root is asked)', async () => {
    server.ocsp.set(serial(chain.intermediate), 'revoked');
    expect((await run()).verdict).toMatchObject({
      ok: false,
      reason: 'REVOKED',
      detail: expect.stringContaining('Test Intermediate'),
    });
  });

  it('an answer signed by a responder the issuer authorised (OCSPSigning) counts; one without that EKU does not', async () => {
    server.crl.set('int', 'http-500'); // OCSP alone decides
    server.ocsp.set(serial(chain.leaf), 'delegate');
    expect((await run()).verdict).toMatchObject({ ok: true });
    server.ocsp.set(serial(chain.leaf), 'delegate-without-eku');
    expect(await failure(run())).toMatchObject({
      reason: 'REVOCATION_UNKNOWN',
      message: expect.stringContaining('not signed by the issuer'),
    });
  });

  it('answers are cached by certificate: a second verification asks nobody', async () => {
    const checker = new RevocationChecker();
    expect((await run({ checker })).verdict).toMatchObject({ ok: true });
    const asked = server.seen.length;
    expect((await run({ checker })).verdict).toMatchObject({ ok: true });
    expect(server.seen.length).toBe(asked);
  });
});

describe('then the CRL', () => {
  it('responder down (HTTP 500): the CRL decides, good', async () => {
    server.ocsp.set(serial(chain.leaf), 'http-500');
    expect((await run()).verdict).toMatchObject({ ok: true });
    expect(server.seen).toContain('CRL int');
  });

  it('responder does not know the certificate, the CRL lists it: REVOKED', async () => {
    server.ocsp.set(serial(chain.leaf), 'unknown');
    server.crl.set('int', 'revoked');
    server.revokedSerials.add(serial(chain.leaf));
    expect((await run()).verdict).toMatchObject({
      ok: false,
      reason: 'REVOKED',
      detail: expect.stringContaining('CRL'),
    });
  });

  it('a badly signed OCSP response and a badly signed CRL are not answers', async () => {
    server.ocsp.set(serial(chain.leaf), 'bad-signature');
    server.crl.set('int', 'bad-signature');
    expect(await failure(run())).toMatchObject({
      reason: 'REVOCATION_UNKNOWN',
      message: expect.stringMatching(/OCSP response signature[\s\S]*CRL signature/),
    });
  });
});

describe('answers that are not answers: the status stays unknown (REVOCATION_UNKNOWN under enforce)', () => {
  it.each([
    ['OCSP about another certificate', 'other-cert', 'does not answer for this certificate'],
    ['OCSP signed by a stranger', 'wrong-signer', 'not signed by the issuer'],
    ['OCSP past its nextUpdate', 'stale', 'stale'],
  ] as const)('%s', async (_name, answer, why) => {
    server.ocsp.set(serial(chain.leaf), answer);
    server.crl.set('int', 'http-500');
    expect(await failure(run())).toMatchObject({ reason: 'REVOCATION_UNKNOWN', message: expect.stringContaining(why) });
  });

  it.each([
    ['CRL naming another issuer', 'wrong-issuer', 'not issued by the certificate issuer'],
    ['CRL with a critical extension (delta CRL)', 'critical-ext', '2.5.29.27'],
    ['CRL without nextUpdate', 'no-next-update', 'no nextUpdate'],
    ['CRL past its nextUpdate', 'stale', 'stale'],
  ] as const)('%s', async (_name, answer, why) => {
    server.ocsp.set(serial(chain.leaf), 'http-500');
    server.crl.set('int', answer);
    expect(await failure(run())).toMatchObject({ reason: 'REVOCATION_UNKNOWN', message: expect.stringContaining(why) });
  });

  it('a CRL signed by an issuer whose key usage lacks cRLSign', async () => {
    const noCrlSign = makeChain(LEAF_KEY, {
      root: chain.root,
      label: 'no-crlsign',
      intermediate: { keyUsage: [5] },
      leaf: { extra: server.extensions('no-crlsign', { ocsp: false }) },
    });
    server.issuers.set('no-crlsign', noCrlSign.intermediate);
    const envelope = signJws({ target: TARGET, alg: 'ES256', key: LEAF_KEY.privateKey, chain: noCrlSign.chain });
    expect(await failure(run({ envelope }))).toMatchObject({
      reason: 'REVOCATION_UNKNOWN',
      message: expect.stringContaining('cRLSign'),
    });
  });
});

describe('status unknown (neither source answers)', () => {
  const unreachable = () => {
    server.ocsp.set(serial(chain.leaf), 'http-500');
    server.crl.set('int', 'http-500');
  };

  it('enforce: a thrown REVOCATION_UNKNOWN, transient (onError decides; never an allow by itself)', async () => {
    unreachable();
    const err = await failure(run());
    expect(err).toBeInstanceOf(VerifierError);
    expect(err).toMatchObject({
      reason: 'REVOCATION_UNKNOWN',
      transient: true,
      message: expect.stringContaining('Test Signer'),
    });
  });

  it('log: admitted, and the unknown status is logged with its code', async () => {
    unreachable();
    const { verdict, logs } = await run({ revocation: 'log' });
    expect(verdict).toMatchObject({ ok: true, detail: expect.stringContaining('revocation') });
    expect(logs).toEqual([expect.objectContaining({ reason: 'REVOCATION_UNKNOWN' })]);
  });

  it('log: a revoked certificate is admitted too, logged as REVOKED', async () => {
    server.ocsp.set(serial(chain.leaf), 'revoked');
    const { verdict, logs } = await run({ revocation: 'log' });
    expect(verdict).toMatchObject({ ok: true });
    expect(logs).toEqual([expect.objectContaining({ reason: 'REVOKED' })]);
  });

  it('skip: nothing is asked', async () => {
    unreachable();
    expect((await run({ revocation: 'skip' })).verdict).toMatchObject({ ok: true });
    expect(server.seen).toEqual([]);
  });

  it('a responder that never answers runs into the time budget: REVOCATION_UNKNOWN', async () => {
    server.ocsp.set(serial(chain.leaf), 'hang');
    server.crl.set('int', 'hang');
    const err = await failure(run({ checker: new RevocationChecker({ timeoutMs: 300 }) }));
    expect(err).toMatchObject({ reason: 'REVOCATION_UNKNOWN', message: expect.stringContaining('time budget') });
  });

  it('a chain that names no revocation location passes without a request', async () => {
    const plain = makeChain(LEAF_KEY, { root: chain.root, label: 'plain' });
    const envelope = signJws({ target: TARGET, alg: 'ES256', key: LEAF_KEY.privateKey, chain: plain.chain });
    expect((await run({ envelope })).verdict).toMatchObject({ ok: true });
    expect(server.seen).toEqual([]);
  });
});

describe('the TSA chain of a verified timestamp', () => {
  const timestamped = () =>
    signJws({
      target: TARGET,
      alg: 'ES256',
      key: LEAF_KEY.privateKey,
      chain: chain.chain,
      timestamp: (signature) => timestampToken({ signature, tsa }),
    });

  it('is checked too: good admits, revoked is REVOKED naming the timestamp authority', async () => {
    expect((await run({ envelope: timestamped(), tsa: true })).verdict).toMatchObject({ ok: true });
    expect(server.seen).toContain(`OCSP ${serial(tsa.leaf)}`);
    server.ocsp.set(serial(tsa.leaf), 'revoked');
    expect((await run({ envelope: timestamped(), tsa: true })).verdict).toMatchObject({
      ok: false,
      reason: 'REVOKED',
      detail: expect.stringContaining('timestamp authority'),
    });
  });

  it('unknown for the TSA is REVOCATION_UNKNOWN under enforce', async () => {
    server.ocsp.set(serial(tsa.leaf), 'http-500');
    server.crl.set('tsa-root', 'http-500');
    expect(await failure(run({ envelope: timestamped(), tsa: true }))).toMatchObject({
      reason: 'REVOCATION_UNKNOWN',
      message: expect.stringContaining('timestamp authority'),
    });
  });
});
