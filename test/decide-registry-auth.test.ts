/**
 * The deployment gate's acceptance cases, against a real docker-registry in each of
 * its auth modes (none, basic, token with a token server): decide() with the real
 * registry client and cosign verifier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, type Gate, outcomeCache } from '../src/gate/decide.js';
import { validate } from '../src/policy/load.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import { generateKeyPair, signImage } from './support/cosign-signer.js';
import { requireRegistry, startRegistry, type RegistryAuth, type TestRegistry } from './support/registry.js';

const key = generateKeyPair('p256');
const stranger = generateKeyPair('p256');

describe.each<RegistryAuth>(['none', 'basic', 'token'])('cosign decisions, registry auth %s', (auth) => {
  let reg: TestRegistry;
  let gate: Gate;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    requireRegistry();
    reg = await startRegistry({ auth });
    for (const name of ['signed', 'unsigned', 'wrongkey', 'otherdigest', 'tampered'])
      digests[name] = (await reg.pushImage('app/web', name)).digest;
    await signImage(reg, 'app/web', { digest: digests.signed! }, key.privateKey);
    await signImage(reg, 'app/web', { digest: digests.wrongkey! }, stranger.privateKey);
    await signImage(reg, 'app/web', { digest: digests.otherdigest! }, key.privateKey, { bindDigest: digests.signed! });
    await signImage(reg, 'app/web', { digest: digests.tampered! }, key.privateKey, { tamper: true });
    const document = validate(
      {
        version: 1,
        registries: reg.settings,
        rules: [
          { name: 'app', images: [`${reg.host}/app/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
        ],
      },
      'test',
    );
    const clients = makeAwsClients();
    gate = {
      policy: compilePolicy(
        { document, origin: 'test' },
        realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: '.' }),
      ),
      registry: new RegistryClient({ registries: document.registries }),
      cache: outcomeCache(60_000, 100),
    };
  }, 30_000);
  afterAll(async () => reg?.stop());

  it.each([
    ['signed', 'allow', 'VERIFIED'],
    ['unsigned', 'deny', 'SIGNATURE_MISSING'],
    ['wrongkey', 'deny', 'UNTRUSTED_SIGNER'],
    ['otherdigest', 'deny', 'DIGEST_MISMATCH'],
    ['tampered', 'deny', 'SIGNATURE_INVALID'],
  ])('%s image: %s %s', async (which, decision, reason) => {
    const [d] = await decide(
      [{ container: 'web', image: `${reg.host}/app/web:${which}`, digest: digests[which]! }],
      gate,
      { deadline: Date.now() + 10_000 },
    );
    expect(d).toMatchObject({ decision, reason, digest: digests[which] });
  });

  // (a registry without auth has no credentials to get wrong)
  if (auth !== 'none')
    it('denies with REGISTRY_AUTH_FAILURE when the credentials are wrong', async () => {
      const document = validate(
        {
          version: 1,
          registries: { [reg.host]: { insecure: true, username: 'intruder', password: 'guess' } },
          rules: [
            {
              name: 'app',
              images: [`${reg.host}/app/**`],
              verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }],
            },
          ],
        },
        'test',
      );
      const wrong: Gate = {
        policy: { ...gate.policy, document },
        registry: new RegistryClient({ registries: document.registries }),
        cache: outcomeCache(60_000, 100),
      };
      const [d] = await decide(
        [{ container: 'web', image: `${reg.host}/app/web:signed`, digest: digests.signed! }],
        wrong,
        { deadline: Date.now() + 10_000 },
      );
      expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_AUTH_FAILURE' });
    });
});
