/**
 * The Notation fixtures made by notation / notation-go (../shared/fixtures/notation):
 * every case of cases.json decided as it expects. The independent check on our own
 * test signer.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { createNotationVerifier } from '../src/verify/notary/verifier.js';
import { MemoryRepo } from './support/notation-memory-repo.js';
import { attachSignature, context, makeTrustStore, policy } from './support/notation-context.js';

const FIXTURES = resolve(import.meta.dirname, '../../shared/fixtures/notation');
const hasFixtures = existsSync(FIXTURES);
if (!hasFixtures) console.log(`skipping Notation fixture tests: ${FIXTURES} is absent`);

const read = (p: string) => readFileSync(resolve(FIXTURES, p));
const JWS = 'application/jose+json';
const COSE = 'application/cose';
const OCI_LAYOUT: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
  size: 481,
};
const MOCK: Descriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e',
  size: 528,
};
const METADATA: Descriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: 'sha256:5a07385af4e6b6af81b0ebfd435aedccdfa3507f0609c658209e1aba57159b2b',
  size: 942,
};
const PLUGIN: Descriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: 'sha256:fe7e9333395060c2f5e63cf36a38fba10176f183b4163a5794e081a480abba5f',
  size: 942,
};
const TSA_TARGET: Descriptor = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: 'sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda',
  size: 528,
};
const TEST_ROOT = 'x509.subject: CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US';

/** x5c[0] of a JWS envelope as PEM-less DER, for self-signed cases */
function firstCert(path: string): Buffer {
  const env = JSON.parse(read(path).toString()) as { header: { x5c: string[] } };
  return Buffer.from(env.header.x5c[0]!, 'base64');
}

async function decide(
  envelopePath: string,
  mediaType: string,
  target: Descriptor,
  trustStore: string,
  statement: Record<string, unknown>,
) {
  const repo = new MemoryRepo();
  attachSignature(repo, target, read(envelopePath), mediaType);
  const verifier = createNotationVerifier(
    { type: 'notation', trustPolicy: policy(statement), trustStore },
    { baseDir: '/' },
  );
  return verifier.verify(context(repo, target));
}

describe.skipIf(!hasFixtures)('Notation fixtures (notation-go testdata)', () => {
  const store = resolve(FIXTURES, 'truststore');

  it('jws-oci-layout and cose-oci-layout: the real manifest, self-signed alpine certificate as ca store', async () => {
    const alpine = makeTrustStore({ ca: { alpine: [firstCert('jws_signature.sig')] } });
    const jws = await decide('jws_signature.sig', JWS, OCI_LAYOUT, alpine, { trustStores: ['ca:alpine'] });
    expect(jws).toMatchObject({
      ok: true,
      by: 'notation x509.subject:CN=alpine,O=Notary,L=Seattle,ST=WA,C=US (ca:alpine)',
    });
    const cose = await decide('cose_signature.sig', COSE, OCI_LAYOUT, alpine, { trustStores: ['ca:alpine'] });
    expect(cose).toMatchObject({ ok: true });
    // and the manifest bytes are the ones the descriptor names
    expect(
      read('oci-layout-artifact/manifest-sha256-19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0.json')
        .length,
    ).toBe(481);
  });

  it('jws-oci-layout: another media type or size for the same digest is DIGEST_MISMATCH', async () => {
    const alpine = makeTrustStore({ ca: { alpine: [firstCert('jws_signature.sig')] } });
    const v = await decide('jws_signature.sig', JWS, { ...OCI_LAYOUT, size: 482 }, alpine, {
      trustStores: ['ca:alpine'],
    });
    expect(v).toMatchObject({ ok: false, reason: 'DIGEST_MISMATCH' });
  });

  it('ca-valid passes with ca:valid-trust-store and the subject of the test root', async () => {
    const v = await decide('mock-envelopes/ca_valid_sig_env.json', JWS, MOCK, store, {
      trustStores: ['ca:valid-trust-store'],
      trustedIdentities: [TEST_ROOT],
    });
    expect(v).toMatchObject({ ok: true, by: expect.stringContaining('(ca:valid-trust-store)') });
  });

  it('ca-valid with another trusted identity is UNTRUSTED_SIGNER; under audit it passes (authenticity logged)', async () => {
    const other = 'x509.subject: C=US, ST=WA, O=Someone Else';
    expect(
      await decide('mock-envelopes/ca_valid_sig_env.json', JWS, MOCK, store, {
        trustStores: ['ca:valid-trust-store'],
        trustedIdentities: [other],
      }),
    ).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
    const audit = await decide('mock-envelopes/ca_valid_sig_env.json', JWS, MOCK, store, {
      trustStores: ['ca:valid-trust-store'],
      trustedIdentities: [other],
      signatureVerification: { level: 'audit' },
    });
    expect(audit).toMatchObject({ ok: true, detail: expect.stringContaining('authenticity') });
  });

  it('sa-valid passes with signingAuthority:valid-trust-store, not with the ca store (scheme decides the store type)', async () => {
    expect(
      await decide('mock-envelopes/sa_valid_sig_env.json', JWS, MOCK, store, {
        trustStores: ['signingAuthority:valid-trust-store'],
      }),
    ).toMatchObject({ ok: true });
    expect(
      await decide('mock-envelopes/sa_valid_sig_env.json', JWS, MOCK, store, { trustStores: ['ca:valid-trust-store'] }),
    ).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });

  it('ca-invalid and sa-invalid fail integrity: SIGNATURE_INVALID even under audit', async () => {
    for (const [f, s] of [
      ['ca_invalid_sig_env.json', 'ca:valid-trust-store'],
      ['sa_invalid_sig_env.json', 'signingAuthority:valid-trust-store'],
    ] as const) {
      for (const level of ['strict', 'audit']) {
        const v = await decide(`mock-envelopes/${f}`, JWS, MOCK, store, {
          trustStores: [s],
          signatureVerification: { level },
        });
        expect(v, `${f} ${level}`).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
      }
    }
  });

  it('ca-expired and sa-expired: EXPIRED under strict, admitted with the failure logged under permissive and audit', async () => {
    for (const [f, s] of [
      ['ca_expired_sig_env.json', 'ca:valid-trust-store'],
      ['sa_expired_sig_env.json', 'signingAuthority:valid-trust-store'],
    ] as const) {
      expect(await decide(`mock-envelopes/${f}`, JWS, MOCK, store, { trustStores: [s] })).toMatchObject({
        ok: false,
        reason: 'EXPIRED',
        detail: expect.stringContaining('2022-07-29T23:59:00'),
      });
      for (const level of ['permissive', 'audit']) {
        const v = await decide(`mock-envelopes/${f}`, JWS, MOCK, store, {
          trustStores: [s],
          signatureVerification: { level },
        });
        expect(v).toMatchObject({ ok: true, detail: expect.stringContaining('expiry') });
      }
      const overridden = await decide(`mock-envelopes/${f}`, JWS, MOCK, store, {
        trustStores: [s],
        signatureVerification: { level: 'strict', override: { expiry: 'log' } },
      });
      expect(overridden).toMatchObject({ ok: true });
    }
  });

  it('ca-plugin and sa-plugin fail closed (unknown critical header SomeKey, plugin not available)', async () => {
    for (const [f, s] of [
      ['ca_plugin_sig_env.json', 'ca:valid-trust-store'],
      ['sa_plugin_sig_env.json', 'signingAuthority:valid-trust-store'],
    ] as const) {
      const v = await decide(`mock-envelopes/${f}`, JWS, MOCK, store, {
        trustStores: [s],
        signatureVerification: { level: 'audit' },
      });
      expect(v).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID', detail: expect.stringContaining('SomeKey') });
    }
  });

  it('plugin-min-version envelopes (valid signatures that name a verification plugin) fail closed', async () => {
    for (const f of ['ca_compatible_pluginver_sig_env_1.0.0.json', 'ca_incompatible_pluginver_sig_env_1.0.1.json']) {
      const v = await decide(`mock-envelopes/${f}`, JWS, PLUGIN, store, { trustStores: ['ca:valid-trust-store'] });
      expect(v).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('io.cncf.notary.plugin.unittest.mock'),
      });
    }
  });

  it('sig-with-metadata: its self-signed certificate expired 2023-01-12: EXPIRED under strict, admitted under permissive', async () => {
    const own = makeTrustStore({ ca: { wabbit: [firstCert('mock-envelopes/sig_env_with_metadata.json')] } });
    expect(
      await decide('mock-envelopes/sig_env_with_metadata.json', JWS, METADATA, own, { trustStores: ['ca:wabbit'] }),
    ).toMatchObject({ ok: false, reason: 'EXPIRED' });
    expect(
      await decide('mock-envelopes/sig_env_with_metadata.json', JWS, METADATA, own, {
        trustStores: ['ca:wabbit'],
        signatureVerification: { level: 'permissive' },
      }),
    ).toMatchObject({ ok: true });
    // the truststore's wabbit-networks.io.crt is another certificate with the same name: not trusted
    expect(
      await decide('mock-envelopes/sig_env_with_metadata.json', JWS, METADATA, store, {
        trustStores: ['ca:valid-trust-store'],
        signatureVerification: { level: 'permissive' },
      }),
    ).toMatchObject({ ok: false, reason: 'UNTRUSTED_SIGNER' });
  });

  describe('RFC 3161 timestamps from the GlobalSign TSA', () => {
    // The GlobalSign TSA chain names OCSP and CRL locations on the internet; these tests
    // are about the timestamp and run offline, so revocation is skipped (it has its own tests).
    const offline = { signatureVerification: { level: 'strict', override: { revocation: 'skip' } } };
    const tsaRoot = () => read('truststore/x509/tsa/test-timestamp/globalsignRoot.cer');
    const storeFor = (envelope: string, format: 'jws' | 'cose') => {
      const leaf = format === 'jws' ? firstCert(envelope) : coseFirstCert(envelope);
      return makeTrustStore({ ca: { signer: [leaf] }, tsa: { globalsign: [tsaRoot()] } });
    };

    it('jws-with-tsa and cose-with-tsa verify with the tsa store', async () => {
      const jws = await decide(
        'timestamp/jwsWithTimestamp.sig',
        JWS,
        TSA_TARGET,
        storeFor('timestamp/jwsWithTimestamp.sig', 'jws'),
        { trustStores: ['ca:signer', 'tsa:globalsign'], ...offline },
      );
      expect(jws).toMatchObject({ ok: true });
      const cose = await decide(
        'timestamp/coseWithTimestamp.sig',
        COSE,
        TSA_TARGET,
        storeFor('timestamp/coseWithTimestamp.sig', 'cose'),
        { trustStores: ['ca:signer', 'tsa:globalsign'], ...offline },
      );
      expect(cose).toMatchObject({ ok: true });
    });

    it('a certificate that expired after signing passes with a trusted timestamp, fails without one', async () => {
      const s = storeFor('timestamp/jwsExpiredWithTimestamp.sig', 'jws');
      expect(
        await decide('timestamp/jwsExpiredWithTimestamp.sig', JWS, TSA_TARGET, s, {
          trustStores: ['ca:signer', 'tsa:globalsign'],
          ...offline,
        }),
      ).toMatchObject({ ok: true });
      expect(
        await decide('timestamp/jwsExpiredWithTimestamp.sig', JWS, TSA_TARGET, s, { trustStores: ['ca:signer'] }),
      ).toMatchObject({ ok: false, reason: 'EXPIRED' });
      const c = storeFor('timestamp/coseExpiredWithTimestamp.sig', 'cose');
      expect(
        await decide('timestamp/coseExpiredWithTimestamp.sig', COSE, TSA_TARGET, c, {
          trustStores: ['ca:signer', 'tsa:globalsign'],
          ...offline,
        }),
      ).toMatchObject({ ok: true });
    });

    it('a timestamp outside the certificate validity is EXPIRED', async () => {
      for (const f of ['timestamp/timestampAfterNotAfter.sig', 'timestamp/timestampBeforeNotBefore.sig']) {
        const isJws = read(f)[0] === 0x7b; // '{'
        const v = await decide(f, isJws ? JWS : COSE, TSA_TARGET, storeFor(f, isJws ? 'jws' : 'cose'), {
          trustStores: ['ca:signer', 'tsa:globalsign'],
          ...offline,
        });
        expect(v, f).toMatchObject({ ok: false, reason: 'EXPIRED' });
      }
    });

    it('a tsa store that does not hold the TSA root fails the timestamp', async () => {
      const wrongTsa = makeTrustStore({
        ca: { signer: [firstCert('timestamp/jwsWithTimestamp.sig')] },
        tsa: { other: [firstCert('timestamp/jwsWithTimestamp.sig')] },
      });
      const v = await decide('timestamp/jwsWithTimestamp.sig', JWS, TSA_TARGET, wrongTsa, {
        trustStores: ['ca:signer', 'tsa:other'],
        ...offline,
      });
      expect(v).toMatchObject({
        ok: false,
        reason: 'SIGNATURE_INVALID',
        detail: expect.stringContaining('trusted TSA'),
      });
    });

    it('withoutTimestamp.sig fails when the policy names a tsa store', async () => {
      const v = await decide(
        'timestamp/withoutTimestamp.sig',
        JWS,
        TSA_TARGET,
        storeFor('timestamp/withoutTimestamp.sig', 'jws'),
        { trustStores: ['ca:signer', 'tsa:globalsign'], ...offline },
      );
      expect(v).toMatchObject({ ok: false, reason: 'EXPIRED', detail: expect.stringContaining('timestamp') });
    });
  });
});

function coseFirstCert(path: string): Buffer {
  // x5chain is label 33 of the unprotected header; the envelope parser gives it to us
  return parseCoseChain(read(path))[0]!;
}

import { parseCose } from '../src/verify/notary/cose.js';
function parseCoseChain(bytes: Buffer): Buffer[] {
  return parseCose(bytes).certChain;
}
