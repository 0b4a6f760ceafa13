/** Helpers for Notation verifier tests: trust store folders, signature attachment, contexts. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReference } from '../../src/core/reference.js';
import type { Descriptor, RepositoryClient } from '../../src/core/registry.js';
import type { VerifyContext } from '../../src/core/verifier.js';
import type { MemoryRepo } from './notation-memory-repo.js';
import { digestOf, EMPTY, signatureManifest } from './notation-signer.js';

/** The manifest descriptor of an image whose manifest is `bytes`: what a signature's payload names. */
export function imageDescriptor(bytes: Buffer): Descriptor {
  return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(bytes), size: bytes.length };
}

/** A notation-style trust store folder in a temp dir: {ca: {name: [pem or der, ...]}, ...} */
export function makeTrustStore(
  stores: Partial<Record<'ca' | 'signingAuthority' | 'tsa', Record<string, Array<string | Buffer>>>>,
): string {
  const root = mkdtempSync(join(tmpdir(), 'notation-store-'));
  for (const [type, named] of Object.entries(stores)) {
    for (const [name, certs] of Object.entries(named ?? {})) {
      const dir = join(root, 'x509', type, name);
      mkdirSync(dir, { recursive: true });
      for (const [i, c] of certs.entries())
        writeFileSync(join(dir, `cert${i}.${typeof c === 'string' ? 'pem' : 'cer'}`), c);
    }
  }
  return root;
}

export function attachSignature(
  repo: MemoryRepo,
  subject: Descriptor,
  envelope: Buffer,
  mediaType: string,
): Descriptor {
  repo.putBlob(EMPTY);
  repo.putBlob(envelope);
  return repo.putManifest(signatureManifest(subject, envelope, mediaType));
}

export function context(repo: RepositoryClient, descriptor: Descriptor, now = new Date()): VerifyContext {
  return {
    target: {
      ref: parseReference(`${repo.registry}/${repo.repository}@${descriptor.digest}`),
      digest: descriptor.digest,
      descriptor: async () => descriptor,
    },
    repo,
    signal: new AbortController().signal,
    now,
  };
}

export function policy(statement: Record<string, unknown>): Record<string, unknown> {
  return {
    version: '1.0',
    trustPolicies: [
      {
        name: 'test',
        registryScopes: ['*'],
        signatureVerification: { level: 'strict' },
        trustedIdentities: ['*'],
        ...statement,
      },
    ],
  };
}
