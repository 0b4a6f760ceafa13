/**
 * The fault matrix: each fault a registry or its token endpoint can show, injected by
 * the fault proxy in front of a real docker-registry with token auth (whose realm sits
 * on another origin, behind a second proxy that records what it receives). For each,
 * a signed, an unsigned and a tampered image are decided through decide() with the real
 * registry client and cosign verifier, in enforce mode (onError deny and allow) and in
 * audit mode, all concurrently, with a short deadline.
 *
 * What must hold for every fault:
 *   - enforce: an unsigned or tampered image is never allowed; a signed one is allowed
 *     only when the bytes it was verified from were untouched;
 *   - onError: allow admits an outage (5xx, 429, reset, timeout) but never evidence that
 *     fails its digest, size cap or parse, or that the registry cannot produce;
 *   - every decision ends inside its deadline (durationMs ≤ deadline + slack);
 *   - audit admits and keeps the code enforce mode reports;
 *   - loopback only, bounded in requests, stops by itself.
 *
 * The outcomes become the README's "Under faults" table: the test writes it to
 * test/.output/fault-table.md and fails when the README's table says something else
 * (`npm run fault-table` reruns this file and rewrites the README's table).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAwsClients } from '../src/core/aws.js';
import { compilePolicy } from '../src/policy/compile.js';
import { decide, type Gate, outcomeCache } from '../src/gate/decide.js';
import { blocks, ERROR_REASONS, type Decision } from '../src/core/decision.js';
import { validate } from '../src/policy/load.js';
import type { PolicyInput } from '../src/policy/schema.js';
import { RegistryClient } from '../src/registry/client.js';
import { MEDIA_TYPES } from '../src/core/registry.js';
import { makeKmsKeyStore, realVerifierFactories } from '../src/verify/factories.js';
import {
  generateKeyPair,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signImage,
} from './support/cosign-signer.js';
import { startFaultProxy, type FaultProxy, type FaultRule } from './support/fault-proxy.js';
import { requireRegistry, sha256, startRegistry, type TestRegistry } from './support/registry.js';
import { compareTables, README_TABLE, renderFaultTable, type FaultRow } from './support/fault-table.js';

const REPO = 'app/web';
const DEADLINE_MS = 1_500;
/** event-loop lag on a busy 2-core machine; a decision that ignored its deadline would overshoot by seconds */
const SLACK_MS = 750;
const key = generateKeyPair('p256');

type ImageKind = 'signed' | 'unsigned' | 'tampered';
type Setting = 'enforce' | 'onErrorAllow' | 'audit';
const IMAGES: ImageKind[] = ['signed', 'unsigned', 'tampered'];
const SETTINGS: Record<Setting, Partial<PolicyInput>> = {
  enforce: {},
  onErrorAllow: { onError: 'allow' },
  audit: { mode: 'audit' },
};

let reg: TestRegistry;
let proxy: FaultProxy;
let realm: FaultProxy;
const digests = {} as Record<ImageKind, string>;
let thousandLayers: string;

beforeAll(async () => {
  requireRegistry();
  reg = await startRegistry({ auth: 'token' });
  realm = await startFaultProxy(new URL(reg.tokenServer!.realm).host);
  proxy = await startFaultProxy(reg.host, { realm: `${realm.origin}/token` });
  for (const kind of IMAGES) digests[kind] = (await reg.pushImage(REPO, kind)).digest;
  const signature = await signImage(reg, REPO, { digest: digests.signed }, key.privateKey);
  await signImage(reg, REPO, { digest: digests.tampered }, key.privateKey, { tamper: true });
  const layer = signature.layers[0]!;
  const descriptor = {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: sha256(layer.payload),
    size: layer.payload.length,
    annotations: { [SIGNATURE_ANNOTATION]: layer.signature },
  };
  thousandLayers = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    layers: Array(5_000).fill(descriptor),
  });
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await realm?.stop();
  await reg?.stop();
});

const sig = /\/manifests\/sha256-[a-f0-9]+\.sig$/;
const blob = /\/blobs\/sha256:/;
const anyRepo = /^\/v2\/app\//;
const token = /^\/token/;

interface Fault {
  name: string;
  /** functions: some rules need what beforeAll made (the realm's origin, the 5,000-layer manifest) */
  rules?: () => FaultRule[];
  realmRules?: () => FaultRule[];
  /** what enforce mode answers for each image (decision follows: only VERIFIED allows) */
  expect: Record<ImageKind, Decision['reason']>;
  /** an outage: onError: allow may admit it; otherwise (forged or missing evidence) never */
  outage?: boolean;
  /** extra checks on what was sent where */
  check?: () => void;
}

const challenge = () => ({
  'www-authenticate': `Bearer realm="${realm.origin}/token",service="${reg.tokenServer!.service}"`,
});
const deniedAll = (reason: Decision['reason']): Fault['expect'] => ({
  signed: reason,
  unsigned: reason,
  tampered: reason,
});
/** the fault hits only the signed image's evidence; the others are decided as without it */
const signedOnly = (reason: Decision['reason']): Fault['expect'] => ({
  signed: reason,
  unsigned: 'SIGNATURE_MISSING',
  tampered: reason,
});

const FAULTS: Fault[] = [
  {
    name: 'none (baseline)',
    expect: { signed: 'VERIFIED', unsigned: 'SIGNATURE_MISSING', tampered: 'SIGNATURE_INVALID' },
  },
  {
    name: 'latency past the deadline (signature manifest, 3 s)',
    rules: () => [{ path: sig, action: { type: 'delay', ms: 3_000 } }],
    expect: deniedAll('TIMEOUT'),
    outage: true,
  },
  {
    name: 'HTTP 500 (signature manifest)',
    rules: () => [{ path: sig, action: { type: 'status', status: 500 } }],
    expect: deniedAll('REGISTRY_ERROR'),
    outage: true,
  },
  {
    name: 'HTTP 503 (signature manifest)',
    rules: () => [{ path: sig, action: { type: 'status', status: 503 } }],
    expect: deniedAll('REGISTRY_ERROR'),
    outage: true,
  },
  {
    name: 'HTTP 429 with Retry-After (signature manifest)',
    rules: () => [{ path: sig, action: { type: 'status', status: 429, headers: { 'retry-after': '1' } } }],
    expect: deniedAll('REGISTRY_ERROR'),
    outage: true,
  },
  {
    name: 'connection reset mid-body (signature manifest)',
    rules: () => [{ path: sig, action: { type: 'reset-body' } }],
    expect: signedOnly('REGISTRY_ERROR'),
    outage: true,
  },
  {
    // what whoever can push can do: delete the payload a signature manifest names
    name: 'payload blob gone (404)',
    rules: () => [{ path: blob, action: { type: 'status', status: 404 } }],
    expect: signedOnly('REGISTRY_ERROR'),
  },
  {
    name: 'truncated body (payload blob)',
    rules: () => [{ path: blob, action: { type: 'truncate' } }],
    expect: signedOnly('REGISTRY_ERROR'),
  },
  {
    name: 'altered bytes: signature manifest',
    rules: () => [{ path: sig, action: { type: 'alter' } }],
    expect: signedOnly('REGISTRY_ERROR'),
  },
  {
    name: 'altered bytes: signature payload',
    rules: () => [{ path: blob, action: { type: 'alter' } }],
    expect: signedOnly('REGISTRY_ERROR'),
  },
  {
    // the cosign key verifier never reads the image manifest: ECS pulls it by digest and checks it
    name: 'altered bytes: image manifest',
    rules: () => [{ path: /\/manifests\/sha256:/, action: { type: 'alter' } }],
    expect: { signed: 'VERIFIED', unsigned: 'SIGNATURE_MISSING', tampered: 'SIGNATURE_INVALID' },
  },
  {
    name: 'endless slow body (signature manifest)',
    rules: () => [{ path: sig, action: { type: 'trickle', intervalMs: 50 } }],
    expect: deniedAll('TIMEOUT'),
    outage: true,
  },
  {
    name: 'huge Content-Length (signature manifest)',
    rules: () => [{ path: sig, action: { type: 'huge-length' } }],
    expect: deniedAll('REGISTRY_ERROR'),
  },
  {
    name: 'redirect loop (signature manifest)',
    rules: () => [
      {
        path: sig,
        action: { type: 'status', status: 307, headers: { location: '/v2/app/web/manifests/sha256-aaaa.sig' } },
      },
    ],
    expect: deniedAll('REGISTRY_ERROR'),
  },
  {
    name: 'cross-host redirect (payload blob)',
    rules: () => [{ path: blob, action: { type: 'redirect', to: 'cross-origin' } }],
    expect: { signed: 'VERIFIED', unsigned: 'SIGNATURE_MISSING', tampered: 'SIGNATURE_INVALID' },
    check: () => {
      const atOther = proxy.requests.filter((q) => q.server === 'other');
      expect(atOther.length).toBeGreaterThan(0);
      expect(atOther.map((q) => q.authorization ?? null)).toEqual(atOther.map(() => null)); // credentials never follow
    },
  },
  {
    name: 'slow headers within the deadline (every registry answer, 200 ms)',
    rules: () => [{ path: anyRepo, action: { type: 'delay', ms: 200 } }],
    expect: { signed: 'VERIFIED', unsigned: 'SIGNATURE_MISSING', tampered: 'SIGNATURE_INVALID' },
  },
  {
    name: 'malformed JSON (signature manifest)',
    rules: () => [{ path: sig, action: { type: 'respond', body: '{"layers": [' } }],
    expect: deniedAll('REGISTRY_ERROR'),
  },
  {
    name: 'thousands of layers (5,000 in the signature manifest)',
    rules: () => [{ path: sig, action: { type: 'respond', body: thousandLayers } }],
    expect: deniedAll('SIGNATURE_INVALID'),
    check: () => expect(proxy.count(blob)).toBe(0), // refused before a single payload is fetched
  },
  {
    name: 'token endpoint: registry answers 401 to every token (401 loop)',
    rules: () => [{ path: anyRepo, action: { type: 'status', status: 401, headers: challenge() } }],
    expect: deniedAll('REGISTRY_AUTH_FAILURE'),
    outage: true,
    check: () => expect(proxy.count(anyRepo)).toBeLessThanOrEqual(2 * IMAGES.length * 3), // one try and one retry per decision
  },
  {
    name: 'token endpoint refuses the credentials (401)',
    realmRules: () => [{ path: token, action: { type: 'status', status: 401 } }],
    expect: deniedAll('REGISTRY_AUTH_FAILURE'),
    outage: true,
  },
  {
    name: 'token endpoint down (503)',
    realmRules: () => [{ path: token, action: { type: 'status', status: 503 } }],
    expect: deniedAll('REGISTRY_ERROR'),
    outage: true,
  },
  {
    name: 'token endpoint past the deadline (3 s)',
    realmRules: () => [{ path: token, action: { type: 'delay', ms: 3_000 } }],
    expect: deniedAll('TIMEOUT'),
    outage: true,
  },
  {
    name: 'token realm on another host that redirects to a third',
    realmRules: () => [{ path: token, action: { type: 'redirect', to: 'cross-origin' } }],
    expect: { signed: 'VERIFIED', unsigned: 'SIGNATURE_MISSING', tampered: 'SIGNATURE_INVALID' },
    check: () => {
      // the realm named by the registry's challenge gets the credentials (the token protocol needs them) ...
      const asked = realm.requests.filter((q) => q.server === 'proxy');
      expect(asked.length).toBeGreaterThan(0);
      for (const q of asked) expect(q.authorization).toMatch(/^Basic /);
      // ... the host it redirects to does not
      const redirected = realm.requests.filter((q) => q.server === 'other');
      expect(redirected.length).toBeGreaterThan(0);
      for (const q of redirected) expect(q.authorization).toBeUndefined();
    },
  },
];

function gate(setting: Setting): Gate {
  const document = validate(
    {
      version: 1,
      registries: { [proxy.host]: { insecure: true, username: reg.username!, password: reg.password! } },
      rules: [
        { name: 'app', images: [`${proxy.host}/app/**`], verifiers: [{ type: 'cosign', publicKey: key.publicKeyPem }] },
      ],
      ...SETTINGS[setting],
    },
    'test',
  );
  const clients = makeAwsClients();
  return {
    policy: compilePolicy(
      { document, origin: 'test' },
      realVerifierFactories({ clients, kmsKeys: makeKmsKeyStore(clients), baseDir: '.' }),
    ),
    // a fresh client per decision: each one meets the fault cold (challenge, token, request);
    // the request timeout is the production default, so the decision deadline is what binds
    registry: new RegistryClient({ registries: document.registries, requestTimeoutMs: 10_000 }),
    cache: outcomeCache(60_000, 10),
  };
}

type Results = Record<Setting, Record<ImageKind, Decision>>;

async function run(fault: Fault): Promise<Results> {
  proxy.reset();
  realm.reset();
  proxy.setRules(fault.rules?.() ?? []);
  realm.setRules(fault.realmRules?.() ?? []);
  const cases = (Object.keys(SETTINGS) as Setting[]).flatMap((setting) => IMAGES.map((image) => ({ setting, image })));
  const decided = await Promise.all(
    cases.map(async ({ setting, image }) => {
      const [d] = await decide(
        [{ container: 'web', image: `${proxy.host}/${REPO}:${image}`, digest: digests[image] }],
        gate(setting),
        {
          deadline: Date.now() + DEADLINE_MS,
        },
      );
      return { setting, image, d: d! };
    }),
  );
  const results = { enforce: {}, onErrorAllow: {}, audit: {} } as Results;
  for (const { setting, image, d } of decided) results[setting][image] = d;
  return results;
}

const rows: FaultRow[] = [];

describe('under faults', () => {
  it.each(FAULTS.map((f) => [f.name, f] as const))('%s', async (_, fault) => {
    const results = await run(fault);
    for (const image of IMAGES) {
      const enforced = results.enforce[image];
      const expected = fault.expect[image];
      expect(enforced, `${image} in enforce mode`).toMatchObject({
        reason: expected,
        decision: expected === 'VERIFIED' ? 'allow' : 'deny',
      });
      if (image !== 'signed') expect(blocks(enforced), `${image} is never allowed in enforce mode`).toBe(true);

      const lenient = results.onErrorAllow[image];
      expect(lenient.reason).toBe(expected);
      const admitted = expected === 'VERIFIED' || (fault.outage === true && ERROR_REASONS.has(expected));
      expect(lenient.decision, `${image} with onError: allow`).toBe(admitted ? 'allow' : 'deny');

      const audited = results.audit[image];
      expect(audited, `${image} in audit mode keeps the code`).toMatchObject({ reason: expected, mode: 'audit' });
      expect(blocks(audited), `${image} is admitted in audit mode`).toBe(false);
    }
    const all = Object.values(results).flatMap((byImage) => Object.values(byImage));
    for (const d of all)
      expect(d.durationMs, `${d.image} ${d.reason} within its ${DEADLINE_MS} ms deadline`).toBeLessThanOrEqual(
        DEADLINE_MS + SLACK_MS,
      );
    // bounded: a handful of requests per decision, whatever the fault (bundle discovery
    // through the referrers tag, then the .sig, each followed through at most a few redirects)
    expect(proxy.requests.length + realm.requests.length).toBeLessThanOrEqual(all.length * 12);
    fault.check?.();
    rows.push({ fault: fault.name, results, medianMs: median(all.map((d) => d.durationMs)) });
  });

  it('the README table says what this run measured', () => {
    expect(rows).toHaveLength(FAULTS.length);
    const table = renderFaultTable(rows, DEADLINE_MS);
    const out = path.resolve('test/.output');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'fault-table.md'), table);
    writeFileSync(path.join(out, 'fault-table.json'), JSON.stringify(rows, null, 2));
    if (process.env.FAULT_TABLE_UPDATE === '1') return; // npm run fault-table rewrites the README next
    const readme = readFileSync('README.md', 'utf8');
    const documented = README_TABLE.exec(readme)?.[1];
    expect(documented, 'README.md has a fault table between the fault-table markers').toBeDefined();
    expect(compareTables(documented!, table), 'README fault table differs from this run: npm run fault-table').toEqual(
      [],
    );
  });
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
