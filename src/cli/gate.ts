/**
 * The gate a command decides with: the policy from --policy or the environment, and
 * images named on the command line turned into decide() inputs.
 */
import { decide, type Gate, type ImageInput } from '../gate/decide.js';
import type { Decision } from '../core/decision.js';
import { parseReference } from '../core/reference.js';
import { Runtime } from '../gate/runtime.js';
import type { Io } from './args.js';

/** The Runtime of one command: --policy FILE stands in for the environment's document sources. */
export function runtimeFor(io: Io, policyFile: unknown): Runtime {
  if (policyFile !== undefined) {
    for (const name of ['POLICY', 'POLICY_PARAMETER']) delete io.env[name];
    io.env.POLICY_FILE = String(policyFile);
  }
  return new Runtime(io.env);
}

/**
 * On the command line a tag is resolved to the digest the registry serves now, as
 * `cosign verify` does; the handlers never do this (ECS tells them the digest).
 */
export async function cliImage(image: string, container: string, gate: Gate, deadline: number): Promise<ImageInput> {
  const ref = parseReference(image);
  if (ref.digest || !ref.tag) return { container, image };
  try {
    const repo = gate.registry.repository(ref.registry, ref.repository);
    const digest = await repo.resolveTag(ref.tag, AbortSignal.timeout(Math.max(1, deadline - Date.now())));
    return { container, image, digest };
  } catch {
    // left without digest: decide() reports DIGEST_MISSING (or the allow-list admits it)
    return { container, image };
  }
}

export async function decideImages(images: string[], gate: Gate, deadline: number): Promise<Decision[]> {
  const inputs = await Promise.all(images.map((image, i) => cliImage(image, `image-${i + 1}`, gate, deadline)));
  return decide(inputs, gate, { deadline });
}
