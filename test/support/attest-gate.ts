/**
 * decide() for attestation tests: a policy document validated as the runtime does,
 * compiled with the real verifier factories, against a test registry.
 */
import { makeAwsClients } from '../../src/core/aws.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { decide, outcomeCache, type Gate } from '../../src/gate/decide.js';
import type { Decision } from '../../src/core/decision.js';
import { validate } from '../../src/policy/load.js';
import { RegistryClient } from '../../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../../src/verify/factories.js';
import type { TestRegistry } from './registry.js';

/** A gate with one rule `app` over every repository of the registry. */
export function attestGate(reg: Pick<TestRegistry, 'host' | 'settings'>, verifiers: Record<string, unknown>[]): Gate {
  const document = validate(
    { version: 1, registries: reg.settings, rules: [{ name: 'app', images: [`${reg.host}/**`], verifiers }] },
    'test',
  );
  const clients = makeAwsClients();
  return {
    policy: compilePolicy(
      { document, origin: 'test' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: '.' }),
    ),
    registry: new RegistryClient({ registries: document.registries }),
    cache: outcomeCache(60_000, 100),
  };
}

export async function decideImage(gate: Gate, image: string, digest: string): Promise<Decision> {
  const [d] = await decide([{ container: 'app', image, digest }], gate, { deadline: Date.now() + 20_000 });
  return d!;
}
