/**
 * A `type: cosign` verifier built from its policy for a private PKI (keyless.caRoots,
 * keyless.caIntermediates): the policy's CA files replace the Fulcio CAs of the trusted
 * root, certificates from any other CA are refused, and a CA file that holds no
 * certificate is a POLICY_ERROR naming the policy field. Also: no trusted root at all is
 * a POLICY_ERROR that says how to configure one.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import type { VerifierVerdict } from '../src/core/verifier.js';
import type { CosignVerifierConfig } from '../src/policy/schema.js';
import { createCosignVerifier } from '../src/verify/cosign/factory.js';
import { pemKeySource } from '../src/verify/cosign/keys.js';
import { DefaultTrustedRoot } from '../src/verify/cosign/trusted-root.js';
import { MemoryRegistry, verifyContext } from './support/memory-repo.js';
import {
  cosignStatement,
  pushBundle,
  signKeyless,
  startMockSigstore,
  type MockSigstore,
} from './support/sigstore-signer.js';

const identity = { issuer: 'https://ca.example', subject: 'https://ci.example/build' };
const unusedKey = () => pemKeySource('unused');
const noFetch = async (): Promise<TrustedRoot> => {
  throw new Error('TUF asked');
};
// the shipped public-good root: it does not know the private CA, so only caRoots can admit it
const publicGood = () =>
  new DefaultTrustedRoot({ trustDir: 'layers/trust', refresh: { kind: 'off' }, fetchRoot: noFetch });

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
}

describe('a cosign verifier for a private CA (keyless.caRoots)', () => {
  let ca: MockSigstore;
  let other: MockSigstore;
  let dir: string;
  let reg: MemoryRegistry;
  let signed: Descriptor;
  let signedByOther: Descriptor;

  beforeAll(async () => {
    ca = await startMockSigstore();
    other = await startMockSigstore();
    dir = mkdtempSync(join(tmpdir(), 'private-ca-'));
    writeFileSync(join(dir, 'ca.pem'), pem(ca.caRoot));
    writeFileSync(join(dir, 'empty.pem'), 'no certificate here\n');
    reg = new MemoryRegistry();
    signed = await reg.pushImage('app', 'v1');
    signedByOther = await reg.pushImage('app', 'v2');
    for (const [mock, image] of [
      [ca, signed],
      [other, signedByOther],
    ] as const) {
      const statement = cosignStatement(image.digest, `${reg.host}/app`);
      const bundle = await signKeyless(mock, statement, {
        claims: { iss: identity.issuer, sub: identity.subject },
        rekor: false,
      });
      await pushBundle(reg, 'app', image, bundle);
    }
  });
  afterAll(async () => {
    await ca?.stop();
    await other?.stop();
  });

  const verify = (keyless: NonNullable<CosignVerifierConfig['keyless']>, image: Descriptor) => {
    const config: CosignVerifierConfig = { type: 'cosign', keyless };
    const verifier = createCosignVerifier(config, {
      path: (p) => join(dir, p),
      keySource: unusedKey,
      defaultRoot: publicGood(),
    });
    return verifier.verify(verifyContext(reg.repository('app'), image.digest));
  };

  /** The verdict, or the VerifierError's reason and message when it throws. */
  const outcome = async (p: Promise<VerifierVerdict>) =>
    p.then(
      (v) => v,
      (e: { reason?: string; message: string }) => ({ ok: false, reason: e.reason, detail: e.message }),
    );

  it('verifies a certificate from the CA in caRoots, without a log entry', async () => {
    expect(await verify({ identities: [identity], caRoots: 'ca.pem' }, signed)).toMatchObject({ ok: true });
  });

  it('also with the CA given as an intermediate', async () => {
    const keyless = { identities: [identity], caRoots: 'ca.pem', caIntermediates: 'ca.pem' };
    expect(await verify(keyless, signed)).toMatchObject({ ok: true });
  });

  it('refuses a certificate from another CA', async () => {
    const v = await outcome(verify({ identities: [identity], caRoots: 'ca.pem' }, signedByOther));
    expect(v).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    expect((v as { detail?: string }).detail).toMatch(/does not chain to a trusted CA/);
  });

  it('refuses the same certificate without caRoots (the public-good root does not know the CA)', async () => {
    // keyless without caRoots wants a log entry or a timestamp (cosign's default for Fulcio): none here
    const v = await outcome(verify({ identities: [identity] }, signed));
    expect(v).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
    expect((v as { detail?: string }).detail).toMatch(/no trusted signing time/);
  });

  it.each([
    ['caRoots', { caRoots: 'empty.pem' }],
    ['caIntermediates', { caRoots: 'ca.pem', caIntermediates: 'empty.pem' }],
  ])('POLICY_ERROR naming %s when its file holds no certificate', async (field, files) => {
    const v = await outcome(verify({ identities: [identity], ...files }, signed));
    expect(v).toMatchObject({ ok: false, reason: 'POLICY_ERROR' });
    expect((v as { detail?: string }).detail).toMatch(new RegExp(`^${field} \\S+empty.pem holds no PEM certificate`));
  });
});

describe('a cosign verifier with no trusted root at all', () => {
  it('is a POLICY_ERROR that says how to configure one', async () => {
    const reg = new MemoryRegistry();
    const image = await reg.pushImage('app', 'v1');
    const verifier = createCosignVerifier(
      { type: 'cosign', keyless: { identities: [identity] } },
      { path: (p) => p, keySource: unusedKey },
    );
    await expect(verifier.verify(verifyContext(reg.repository('app'), image.digest))).rejects.toMatchObject({
      name: 'VerifierError',
      reason: 'POLICY_ERROR',
      message: 'no Sigstore trusted root: set trustedRoot or TRUST_DIR',
    });
  });
});
