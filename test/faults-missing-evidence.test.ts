/**
 * Evidence the registry cannot produce is never admissible, whatever onError says.
 *
 * `onError: allow` is for outages (a registry that does not answer, 5xx, 429, a
 * timeout). It must not admit an image because the registry, answering normally, could
 * not hand over what a signature manifest names: a payload blob that is gone, bytes
 * that do not match their digest, an answer over a size cap or one that does not parse.
 * Anyone who can push to the repository can provoke each of these, so each is a deny,
 * through decide(), the real cosign verifier and a real docker-registry.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, type Gate, type ImageInput, outcomeCache } from '../src/gate/decide.js';
import { blocks } from '../src/core/decision.js';
import { validate } from '../src/policy/load.js';
import type { PolicyInput } from '../src/policy/schema.js';
import { RegistryClient } from '../src/registry/client.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import {
  cosignPayload,
  generateKeyPair,
  pushSignatureManifest,
  signImage,
  signPayload,
} from './support/cosign-signer.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from './support/fault-proxy.js';
import { requireRegistry, startRegistry, type TestRegistry } from './support/registry.js';

const REPO = 'app/web';
const key = generateKeyPair('p256');
const stranger = generateKeyPair('p256');

let reg: TestRegistry;
let proxy: FaultProxy;
let signed: string;
let unsigned: string;
/** unsigned, but its `.sig` manifest names a payload blob the repository no longer has */
let dangling: string;

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
  signed = (await reg.pushImage(REPO, 'signed')).digest;
  await signImage(reg, REPO, { digest: signed }, key.privateKey);
  unsigned = (await reg.pushImage(REPO, 'unsigned')).digest;
  dangling = (await reg.pushImage(REPO, 'dangling')).digest;
  // what whoever can push does: a signature manifest (any key), then delete its payload blob
  const payload = cosignPayload(`${reg.host}/${REPO}`, dangling);
  const sig = await pushSignatureManifest(reg, REPO, dangling, [
    { payload, signature: signPayload(stranger.privateKey, payload) },
  ]);
  const manifest = (await (
    await fetch(`http://${reg.host}/v2/${REPO}/manifests/${sig.tag}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    })
  ).json()) as {
    layers: { digest: string }[];
  };
  const deleted = await fetch(`http://${reg.host}/v2/${REPO}/blobs/${manifest.layers[0]!.digest}`, {
    method: 'DELETE',
  });
  expect(deleted.status).toBe(202);
}, 30_000);
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});
beforeEach(() => proxy.reset());

function gate(extra: Partial<PolicyInput> = {}): Gate {
  const document = validate(
    {
      version: 1,
      onError: 'allow',
      registries: { [proxy.host]: { insecure: true } },
      rules: [
        { name: 'app', images: [`${proxy.host}/app/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
      ],
      ...extra,
    },
    'test',
  );
  const clients = makeAwsClients();
  return {
    policy: compilePolicy(
      { document, origin: 'test' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: '.' }),
    ),
    registry: new RegistryClient({ registries: document.registries, requestTimeoutMs: 2_000 }),
    cache: outcomeCache(60_000, 10),
  };
}

async function decideOne(
  input: Partial<ImageInput> & { digest?: string | null },
  rules: FaultRule[] = [],
  extra: Partial<PolicyInput> = {},
) {
  proxy.setRules(rules);
  const image: ImageInput = { container: 'web', image: `${proxy.host}/${REPO}:x`, ...input };
  const [d] = await decide([image], gate(extra), { deadline: Date.now() + 5_000 });
  return d!;
}

const sigManifest = /\/manifests\/sha256-[a-f0-9]+\.sig$/;
const blobs = /\/blobs\/sha256:/;

describe('missing or forged evidence under onError: allow', () => {
  it('the gate is not simply denying: a signed image verifies and an outage is admitted', async () => {
    expect(await decideOne({ digest: signed })).toMatchObject({ decision: 'allow', reason: 'VERIFIED' });
    const outage = await decideOne({ digest: unsigned }, [
      { path: sigManifest, action: { type: 'status', status: 503 } },
    ]);
    expect(outage).toMatchObject({ decision: 'allow', reason: 'REGISTRY_ERROR' });
  });

  it('denies an unsigned image whose signature manifest names a blob the registry no longer has', async () => {
    const d = await decideOne({ digest: dangling });
    expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR' });
    expect(d.detail).toMatch(/not found/);
    expect(d.detail).not.toMatch(/admitted/);
    expect(blocks(d)).toBe(true);
  });

  it('denies a tag the gate was asked to resolve that the registry does not have', async () => {
    // delete the tag, let the gate admit, push an unsigned image under it: not with us
    const d = await decideOne({ image: `${proxy.host}/${REPO}:no-such-tag`, digest: null, resolveTag: true });
    expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR' });
  });

  // [fault, rules, what the detail says, the code for the unsigned image]: an unsigned image has
  // no `.sig` manifest and so no payload to alter; a canned manifest answer reaches it too
  it.each([
    [
      'a payload whose bytes do not match its digest',
      [{ path: blobs, action: { type: 'alter' } }],
      /digest mismatch/,
      'SIGNATURE_MISSING',
    ],
    [
      'a signature manifest that does not match its Docker-Content-Digest',
      [{ path: sigManifest, action: { type: 'alter' } }],
      /digest mismatch/,
      'SIGNATURE_MISSING',
    ],
    [
      'a signature manifest over the 4 MiB cap',
      [{ path: sigManifest, action: { type: 'oversize', bytes: 5 * 1024 * 1024 } }],
      /limit/,
      'REGISTRY_ERROR',
    ],
    [
      'a signature manifest that is not JSON',
      [{ path: sigManifest, action: { type: 'respond', body: '{"layers": [' } }],
      /JSON/,
      'REGISTRY_ERROR',
    ],
    [
      'a payload blob over its cap',
      [{ path: blobs, action: { type: 'oversize', bytes: 2 * 1024 * 1024 } }],
      /limit/,
      'SIGNATURE_MISSING',
    ],
  ] as [string, FaultRule[], RegExp, string][])(
    'denies %s, signed or not',
    async (_, rules, detail, unsignedReason) => {
      const forSigned = await decideOne({ digest: signed }, rules);
      expect(forSigned).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR' });
      expect(forSigned.detail).toMatch(detail);
      expect(await decideOne({ digest: unsigned }, rules)).toMatchObject({ decision: 'deny', reason: unsignedReason });
    },
  );

  it('audit mode admits them and keeps the code', async () => {
    const d = await decideOne({ digest: dangling }, [], { mode: 'audit' });
    expect(d).toMatchObject({ decision: 'deny', reason: 'REGISTRY_ERROR', mode: 'audit' });
    expect(blocks(d)).toBe(false);
  });
});
