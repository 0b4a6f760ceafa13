/**
 * The Sigstore trusted root as a file and as a refresh: a malformed or hostile
 * trusted_root.json is refused with a POLICY_ERROR that names the file and the field
 * (never repaired, never read as "valid since the beginning of time"); the private-CA
 * trust material is valid at any signing time; the default root is the shipped file
 * under the trust directory, or (opt-in) a TUF-refreshed one checked like a file,
 * falling back to the shipped file, logged, when the refresh fails.
 *
 * trusted-root.ts is imported afresh before each test (vi.resetModules): its constants
 * (the media type prefix, the shipped root's path, the private CAs' validity bounds) are
 * set when the module loads, so only a test that loads the module sees a wrong value in
 * them (and a mutation tool counts that test as covering them). The logger is imported
 * afresh with it, so that a spy on it is the one the module writes to.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyBundle } from '../src/verify/cosign/bundle-verifier.js';
import { cosignStatement, signKeyless, startMockSigstore, type MockSigstore } from './support/sigstore-signer.js';

type Module = typeof import('../src/verify/cosign/trusted-root.js');
let M: Module;
let logger: typeof import('../src/core/observability.js').logger;
beforeEach(async () => {
  vi.resetModules();
  M = await import('../src/verify/cosign/trusted-root.js');
  ({ logger } = await import('../src/core/observability.js'));
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.doUnmock('@sigstore/tuf');
});

const SHIPPED = 'layers/trust/sigstore/trusted_root.json';
const shippedText = readFileSync(SHIPPED, 'utf8');
const shippedJson = () => JSON.parse(shippedText) as Record<string, unknown>;
const MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
const START = { start: '2021-01-01T00:00:00Z' };
const tlogEntry = (publicKey: unknown) => ({ baseUrl: 'https://log.example', hashAlgorithm: 'SHA2_256', publicKey });
const KEY = { rawBytes: 'MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=', validFor: START };

const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));
function writeTemp(name: string, text: string): string {
  const file = join(tempDir('tr-'), name);
  writeFileSync(file, text);
  return file;
}
/** The error parseTrustedRoot throws for this text, as the user reads it. */
function refusal(text: string, name = 'policy-root.json'): { name: string; reason: string; message: string } {
  try {
    M.parseTrustedRoot(text, name);
  } catch (e) {
    const err = e as { name: string; reason: string; message: string };
    return { name: err.name, reason: err.reason, message: err.message };
  }
  throw new Error('accepted');
}
const malformed = (detail: string) => ({
  name: 'VerifierError',
  reason: 'POLICY_ERROR',
  message: `Sigstore trusted root policy-root.json is malformed: ${detail}`,
});
const withField = (field: string, value: unknown) => JSON.stringify({ ...shippedJson(), [field]: value });

describe('a trusted_root.json file', () => {
  it('the shipped public-good root is read, with its logs, CT logs, CAs and TSA', () => {
    const root = M.readTrustedRoot(SHIPPED);
    expect(root.mediaType.startsWith(M.TRUSTED_ROOT_MEDIA_TYPE_PREFIX)).toBe(true);
    expect(M.TRUSTED_ROOT_MEDIA_TYPE_PREFIX).toBe('application/vnd.dev.sigstore.trustedroot');
    expect(root.tlogs.length).toBeGreaterThan(0);
    expect(root.ctlogs.length).toBeGreaterThan(0);
    expect(root.certificateAuthorities.length).toBeGreaterThan(0);
    expect(root.timestampAuthorities.length).toBeGreaterThan(0);
  });

  it('a root with no logs at all (e.g. only CAs) is read: absent lists are empty', () => {
    const root = M.parseTrustedRoot(JSON.stringify({ mediaType: MEDIA_TYPE }), 'minimal');
    expect(root.tlogs).toEqual([]);
    expect(root.ctlogs).toEqual([]);
    expect(root.certificateAuthorities).toEqual([]);
    expect(root.timestampAuthorities).toEqual([]);
  });

  it('a file that cannot be read is a POLICY_ERROR naming the file and the cause', () => {
    const missing = join(tempDir('tr-'), 'nope.json');
    expect(() => M.readTrustedRoot(missing)).toThrow(
      expect.objectContaining({
        name: 'VerifierError',
        reason: 'POLICY_ERROR',
        message: expect.stringMatching(new RegExp(`^cannot read Sigstore trusted root ${missing}: ENOENT`)),
      }),
    );
  });

  it('a file that is not JSON is refused, naming the file', () => {
    const file = writeTemp('root.json', '{"mediaType": ');
    expect(() => M.readTrustedRoot(file)).toThrow(
      expect.objectContaining({ reason: 'POLICY_ERROR', message: `Sigstore trusted root ${file} is not JSON` }),
    );
  });

  it.each([
    ['null', 'null'],
    ['a string', '"application/vnd.dev.sigstore.trustedroot+json"'],
    ['a number', '42'],
    ['a list', '[]'],
  ])('JSON that is %s is not a trusted root', (_, text) => {
    expect(refusal(text)).toEqual(malformed('not a JSON object'));
  });

  it.each([
    ['missing', undefined, 'mediaType is undefined'],
    ['not a string', 42, 'mediaType is 42'],
    ['another media type', 'application/json', 'mediaType is "application/json"'],
    ['the prefix elsewhere than at the start', `x-${MEDIA_TYPE}`, `mediaType is "x-${MEDIA_TYPE}"`],
    ['empty', '', 'mediaType is ""'],
  ])('a media type that is %s is refused', (_, mediaType, detail) => {
    expect(refusal(withField('mediaType', mediaType))).toEqual(malformed(detail));
  });

  it.each(['tlogs', 'ctlogs', 'certificateAuthorities', 'timestampAuthorities'])(
    '%s that is not a list is refused',
    (field) => {
      for (const value of [{ 0: {} }, 'abc', 7])
        expect(refusal(withField(field, value))).toEqual(malformed(`${field} is not a list`));
    },
  );

  it.each(['tlogs', 'ctlogs'])(
    'a %s entry without a public key, or with key bytes that are not text, is refused',
    (field) => {
      const shipped = shippedJson()[field] as unknown[];
      const bad = [
        null,
        'key',
        {},
        tlogEntry(undefined),
        tlogEntry('MFkw'),
        tlogEntry({ validFor: START }),
        tlogEntry({ rawBytes: 7, validFor: START }),
        tlogEntry({ rawBytes: null, validFor: START }),
      ];
      for (const entry of bad)
        expect(refusal(withField(field, [...shipped, entry]))).toEqual(
          malformed(`${field}[${shipped.length}] has no publicKey`),
        );
    },
  );

  it.each(['tlogs', 'ctlogs'])('a %s key without a validity start is refused (not valid since the epoch)', (field) => {
    for (const validFor of [
      undefined,
      null,
      'always',
      {},
      { end: '2030-01-01T00:00:00Z' },
      { start: '' },
      { start: 0 },
      { start: 'yesterday' },
    ])
      expect(refusal(withField(field, [tlogEntry({ ...KEY, validFor })]))).toEqual(
        malformed(`${field}[0].publicKey.validFor.start is missing or not a time`),
      );
  });

  it.each(['certificateAuthorities', 'timestampAuthorities'])(
    'a %s entry without a validity start is refused (not valid since the epoch)',
    (field) => {
      const shipped = shippedJson()[field] as Record<string, unknown>[];
      const bad = [
        null,
        'ca',
        5,
        {},
        ...[undefined, {}, { start: '' }, { start: 5 }, { start: '2021-13-45' }, []].map((v) => ({
          ...shipped[0],
          validFor: v,
        })),
      ];
      for (const entry of bad)
        expect(refusal(withField(field, [...shipped, entry]))).toEqual(
          malformed(`${field}[${shipped.length}].validFor.start is missing or not a time`),
        );
    },
  );

  it('a validity end that is not a time is refused; no end (absent or null) is valid to this day', () => {
    const start = '2021-01-01T00:00:00Z';
    for (const end of ['never', 5, '', {}]) {
      for (const field of ['tlogs', 'ctlogs'])
        expect(refusal(withField(field, [tlogEntry({ ...KEY, validFor: { start, end } })])), `${field} ${end}`).toEqual(
          malformed(`${field}[0].publicKey.validFor.end is not a time`),
        );
      for (const field of ['certificateAuthorities', 'timestampAuthorities']) {
        const shipped = shippedJson()[field] as Record<string, unknown>[];
        const entry = { ...shipped[0], validFor: { start, end } };
        expect(refusal(withField(field, [...shipped, entry])), `${field} ${end}`).toEqual(
          malformed(`${field}[${shipped.length}].validFor.end is not a time`),
        );
      }
    }
    for (const validFor of [{ start }, { start, end: null }, { start, end: '2031-01-01T00:00:00Z' }])
      expect(() => M.parseTrustedRoot(withField('tlogs', [tlogEntry({ ...KEY, validFor })]), 'root')).not.toThrow();
  });

  it('a field the parser does not know is refused with its words', () => {
    const text = withField('tlogs', [{ ...tlogEntry(KEY), hashAlgorithm: 'MD5' }]);
    expect(refusal(text)).toEqual({
      ...malformed(''),
      message: expect.stringMatching(/^Sigstore trusted root policy-root.json is malformed: .*MD5/),
    });
  });
});

describe('private CA files (PEM)', () => {
  it('a file that cannot be read is a POLICY_ERROR naming the policy field and the file', () => {
    const missing = join(tempDir('ca-'), 'roots.pem');
    expect(() => M.readPemCertificates(missing, 'keyless.caRoots')).toThrow(
      expect.objectContaining({
        name: 'VerifierError',
        reason: 'POLICY_ERROR',
        message: expect.stringMatching(new RegExp(`^cannot read keyless.caRoots ${missing}: ENOENT`)),
      }),
    );
  });

  it('a PEM block that is not a certificate is refused', () => {
    const file = writeTemp('roots.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(() => M.readPemCertificates(file, 'keyless.caRoots')).toThrow(
      expect.objectContaining({
        reason: 'POLICY_ERROR',
        message: expect.stringMatching(new RegExp(`^keyless.caRoots ${file} holds a malformed certificate: .`)),
      }),
    );
  });
});

describe('private CA trust material: valid at any signing time', () => {
  let mock: MockSigstore;
  beforeAll(async () => {
    mock = await startMockSigstore();
  });
  afterAll(async () => mock?.stop());

  it('a private-CA certificate logged in Rekor verifies through the library (which filters CAs by validity)', async () => {
    const bundle = await signKeyless(mock, cosignStatement(`sha256:${'b'.repeat(64)}`, 'x'), {
      claims: { iss: 'https://ca.example', sub: 'https://ci.example/build' },
      rekor: true,
    });
    const caFile = writeTemp(
      'ca.pem',
      `-----BEGIN CERTIFICATE-----\n${mock.caRoot.toString('base64')}\n-----END CERTIFICATE-----\n`,
    );
    const roots = M.readPemCertificates(caFile, 'keyless.caRoots');
    // the root's own CAs are dropped: the private CA is what admits
    const root = { ...M.parseTrustedRoot(mock.trustedRoot, 'mock'), certificateAuthorities: [] };
    const material = M.trustMaterial(root, { privateCas: { roots, intermediates: [] } });
    expect(material.certificateAuthorities).toHaveLength(1);
    const trust = { material, tlog: 'required' as const, signer: { kind: 'private-ca' as const } };
    expect(verifyBundle(bundle, trust, new Date())).toMatchObject({ ok: true });
    // and not through the public-good root's CAs
    const publicGood = M.trustMaterial({
      ...M.parseTrustedRoot(mock.trustedRoot, 'mock'),
      certificateAuthorities: M.readTrustedRoot(SHIPPED).certificateAuthorities,
    });
    expect(verifyBundle(bundle, { ...trust, material: publicGood }, new Date())).toMatchObject({
      ok: false,
      reason: 'UNTRUSTED_SIGNER',
    });
  });
});

describe('the default root', () => {
  const trustDirWith = (text: string) => {
    const dir = tempDir('trust-');
    mkdirSync(join(dir, 'sigstore'));
    writeFileSync(join(dir, 'sigstore', 'trusted_root.json'), text);
    return dir;
  };
  const noFetch = async (): Promise<TrustedRoot> => {
    throw new Error('TUF asked');
  };

  it('is <trustDir>/sigstore/trusted_root.json', async () => {
    expect(M.SHIPPED_ROOT_PATH).toBe('sigstore/trusted_root.json');
    const text = JSON.stringify({ ...shippedJson(), ctlogs: [] });
    const root = new M.DefaultTrustedRoot({
      trustDir: trustDirWith(text),
      refresh: { kind: 'off' },
      fetchRoot: noFetch,
    });
    expect(await root.get()).toEqual(M.parseTrustedRoot(text, 'x'));
  });

  it('a trust directory without it is a POLICY_ERROR naming the path', async () => {
    const dir = tempDir('trust-');
    const root = new M.DefaultTrustedRoot({ trustDir: dir, refresh: { kind: 'off' }, fetchRoot: noFetch });
    await expect(root.get()).rejects.toMatchObject({
      reason: 'POLICY_ERROR',
      message: expect.stringContaining(`cannot read Sigstore trusted root ${dir}/sigstore/trusted_root.json: ENOENT`),
    });
  });

  it('a malformed shipped file is refused, not repaired', async () => {
    const dir = trustDirWith(withField('mediaType', 'application/json'));
    const root = new M.DefaultTrustedRoot({ trustDir: dir, refresh: { kind: 'off' }, fetchRoot: noFetch });
    await expect(root.get()).rejects.toMatchObject({
      reason: 'POLICY_ERROR',
      message: `Sigstore trusted root ${dir}/sigstore/trusted_root.json is malformed: mediaType is "application/json"`,
    });
  });

  describe('with the TUF refresh', () => {
    const fetchedRoot = () => M.parseTrustedRoot(JSON.stringify({ ...shippedJson(), ctlogs: [] }), 'fetched');

    it('uses the fetched root and says so in the log, with its source', async () => {
      const logs: unknown[][] = [];
      const root = new M.DefaultTrustedRoot({
        trustDir: 'layers/trust',
        refresh: { kind: 'tuf', timeoutMs: 5_000 },
        fetchRoot: async () => fetchedRoot(),
        log: (...a) => logs.push(a),
      });
      expect(await root.get()).toEqual(fetchedRoot());
      expect(logs).toEqual([['Sigstore trusted root refreshed through TUF', { source: 'tuf' }]]);
    });

    it('without a log given, writes a warning to the Lambda log', async () => {
      const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
      const ok = new M.DefaultTrustedRoot({
        trustDir: 'layers/trust',
        refresh: { kind: 'tuf', timeoutMs: 5_000 },
        fetchRoot: async () => fetchedRoot(),
      });
      expect(await ok.get()).toEqual(fetchedRoot());
      expect(warn.mock.calls).toEqual([['Sigstore trusted root refreshed through TUF', { source: 'tuf' }]]);
      warn.mockClear();
      const failed = new M.DefaultTrustedRoot({
        trustDir: 'layers/trust',
        refresh: { kind: 'tuf', timeoutMs: 5_000 },
        fetchRoot: noFetch,
      });
      expect(await failed.get()).toEqual(M.readTrustedRoot(SHIPPED));
      expect(warn.mock.calls).toEqual([
        [
          'Sigstore trusted root refresh failed: using the shipped root',
          { error: 'TUF asked', shippedPath: `layers/trust/${M.SHIPPED_ROOT_PATH}` },
        ],
      ]);
    });

    it.each([
      ['a media type that is not a trusted root', { mediaType: 'text/plain' }, 'mediaType is "text/plain"'],
      [
        'a CA without a validity start',
        { certificateAuthorities: [{ certChain: { certificates: [] } }] },
        'certificateAuthorities[0].validFor.start is missing or not a time',
      ],
    ])('a fetched root with %s is refused like a file: the shipped one is used, logged', async (_, change, detail) => {
      const logs: unknown[][] = [];
      const dir = trustDirWith(shippedText);
      const root = new M.DefaultTrustedRoot({
        trustDir: dir,
        refresh: { kind: 'tuf', timeoutMs: 5_000 },
        fetchRoot: async () => ({ ...fetchedRoot(), ...change }) as TrustedRoot,
        log: (...a) => logs.push(a),
      });
      expect(await root.get()).toEqual(M.readTrustedRoot(SHIPPED));
      expect(logs).toEqual([
        [
          'Sigstore trusted root refresh failed: using the shipped root',
          {
            error: `Sigstore trusted root from TUF is malformed: ${detail}`,
            shippedPath: `${dir}/sigstore/trusted_root.json`,
          },
        ],
      ]);
    });

    it('a refresh that fails with no shipped file left is a POLICY_ERROR, never a root', async () => {
      const dir = tempDir('trust-');
      const root = new M.DefaultTrustedRoot({
        trustDir: dir,
        refresh: { kind: 'tuf', timeoutMs: 5_000 },
        fetchRoot: noFetch,
        log: () => undefined,
      });
      await expect(root.get()).rejects.toMatchObject({
        reason: 'POLICY_ERROR',
        message: /cannot read Sigstore trusted root/,
      });
    });

    it("asks @sigstore/tuf once, with the Lambda's writable /tmp cache, the timeout and no retry", async () => {
      const getTrustedRoot = vi.fn(async () => fetchedRoot());
      vi.doMock('@sigstore/tuf', () => ({ getTrustedRoot }));
      const logs: string[] = [];
      const root = new M.DefaultTrustedRoot({
        trustDir: 'layers/trust',
        refresh: { kind: 'tuf', timeoutMs: 1_234 },
        log: (m) => logs.push(m),
      });
      expect(await root.get()).toEqual(fetchedRoot());
      await root.get();
      expect(getTrustedRoot.mock.calls).toEqual([[{ cachePath: '/tmp/sigstore-tuf', timeout: 1_234, retry: false }]]);
      expect(logs).toEqual(['Sigstore trusted root refreshed through TUF']);
    });
  });
});
