import { expect } from 'vitest';
import { RegistryError } from '../../src/core/registry.js';

/** The RegistryError a promise rejects with; fails the test when it resolves or throws anything else. */
export async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => {
      throw new Error('expected a RegistryError, got success');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}
