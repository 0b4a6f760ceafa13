/**
 * The JWS envelope parser (application/jose+json), one rule of the Notary Project
 * signature specification at a time: a valid flattened JWS is read field by field, then
 * each envelope below breaks exactly one rule and must be refused by that rule's own
 * check, as an EnvelopeError whose words the user reads in the decision line
 * (SIGNATURE_INVALID through checkIntegrity). The parser does not verify the signature,
 * so the envelopes are written by hand here, with full control of every member.
 */
import { describe, expect, it } from 'vitest';
import type { Descriptor } from '../src/core/registry.js';
import { checkIntegrity } from '../src/verify/notary/checks.js';
import { EnvelopeError, MEDIA_TYPE_JWS } from '../src/verify/notary/envelope.js';
import { parseJws } from '../src/verify/notary/jws.js';
import { imageDescriptor } from './support/notation-context.js';
import { key, makeChain } from './support/notation-signer.js';

const TARGET = imageDescriptor(Buffer.from('jws image'));
const MANIFEST: Descriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'ab'.repeat(32)}`,
  size: 400,
};
const SHORT = MANIFEST.digest.slice(0, 19);
const { chain: CHAIN } = makeChain(key('p256', 'jws-parser'), { label: 'jws-parser' });
const PAYLOAD = Buffer.from(JSON.stringify({ targetArtifact: TARGET }));
const SIGNATURE = Buffer.from('not checked by the parser');
const SCHEME = 'io.cncf.notary.signingScheme';
const SIGNING_TIME = 'io.cncf.notary.signingTime';
const AUTHENTIC_TIME = 'io.cncf.notary.authenticSigningTime';
const EXPIRY = 'io.cncf.notary.expiry';
const PLUGIN = 'io.cncf.notary.verificationPlugin';
const PLUGIN_MIN = 'io.cncf.notary.verificationPluginMinVersion';
const TIMESTAMP = 'io.cncf.notary.timestampSignature';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function header(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alg: 'ES256',
    crit: [SCHEME],
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    [SCHEME]: 'notary.x509',
    [SIGNING_TIME]: '2024-05-01T12:00:00Z',
    ...over,
  };
}

/** A flattened JWS; `over` replaces top-level members (undefined: the member is left out). */
function jws(h: Record<string, unknown> = header(), over: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      payload: PAYLOAD.toString('base64url'),
      protected: b64url(h),
      header: { x5c: CHAIN.map((c) => c.toString('base64')), 'io.cncf.notary.signingAgent': 'test' },
      signature: SIGNATURE.toString('base64url'),
      ...over,
    }),
  );
}
const unprotected = (over: Record<string, unknown>) => ({
  header: { x5c: CHAIN.map((c) => c.toString('base64')), ...over },
});

/** Refused by the parser with exactly this message, and so denied SIGNATURE_INVALID with it. */
function refused(bytes: Buffer, message: string): void {
  let err: unknown;
  try {
    parseJws(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EnvelopeError);
  expect(err).toMatchObject({ name: 'EnvelopeError', message });
  const verdict = checkIntegrity({ manifest: MANIFEST, mediaType: MEDIA_TYPE_JWS, bytes }, TARGET, {
    understood: new Set(),
  });
  expect(verdict).toEqual({ ok: false, reason: 'SIGNATURE_INVALID', detail: `signature ${SHORT}: ${message}` });
}

describe('a valid JWS envelope', () => {
  it('is read member by member: payload, signing input, signature, chain, attributes', () => {
    const h = header({ [EXPIRY]: '2025-05-01T12:00:00+02:00', crit: [SCHEME, EXPIRY] });
    const e = parseJws(jws(h));
    expect(e.format).toBe('jws');
    expect(e.alg).toBe('ES256');
    expect(e.payload).toEqual(PAYLOAD);
    expect(e.signedBytes.toString()).toBe(`${b64url(h)}.${PAYLOAD.toString('base64url')}`);
    expect(e.signature).toEqual(SIGNATURE);
    expect(e.certChain).toEqual(CHAIN);
    expect(e.signingScheme).toBe('notary.x509');
    expect(e.signingTime).toEqual(new Date('2024-05-01T12:00:00Z'));
    expect(e.expiry).toEqual(new Date('2025-05-01T10:00:00Z'));
    expect(e.extendedCritical).toEqual({});
    expect(e.timestampToken).toBeUndefined();
  });

  it('the signingAuthority scheme carries an authentic signing time, and a plugin may be named', () => {
    const e = parseJws(
      jws(
        header({
          [SCHEME]: 'notary.x509.signingAuthority',
          [SIGNING_TIME]: undefined,
          [AUTHENTIC_TIME]: '2024-05-01T12:00:00.250Z',
          [PLUGIN]: 'com.example.plugin',
          [PLUGIN_MIN]: '1.0.0',
          crit: [SCHEME, AUTHENTIC_TIME, PLUGIN, PLUGIN_MIN],
        }),
      ),
    );
    expect(e.signingScheme).toBe('notary.x509.signingAuthority');
    expect(e.authenticSigningTime).toEqual(new Date('2024-05-01T12:00:00.250Z'));
    expect(e.signingTime).toBeUndefined();
    expect(e.verificationPlugin).toBe('com.example.plugin');
    expect(e.verificationPluginMinVersion).toBe('1.0.0');
  });

  it('critical headers that are not Notary attributes are handed on for the verifier to understand', () => {
    const e = parseJws(jws(header({ crit: [SCHEME, 'signingAgent.x', 'b'], 'signingAgent.x': 7, b: { c: 1 } })));
    expect(e.extendedCritical).toEqual({ 'signingAgent.x': 7, b: { c: 1 } });
  });

  it('the unsigned timestamp is decoded from base64', () => {
    const e = parseJws(jws(header(), unprotected({ [TIMESTAMP]: Buffer.from('token').toString('base64') })));
    expect(e.timestampToken).toEqual(Buffer.from('token'));
  });
});

describe('the envelope structure', () => {
  it('not JSON', () => refused(Buffer.from('{"payload":'), 'JWS envelope is not JSON'));
  it('JSON, but not an object', () => {
    refused(Buffer.from('"a string"'), 'JWS envelope is not a JSON object');
    refused(Buffer.from('[]'), 'JWS envelope is not a JSON object');
    refused(Buffer.from('null'), 'JWS envelope is not a JSON object');
  });
  it('a member beyond payload, protected, header and signature (e.g. the general form)', () => {
    refused(jws(header(), { signatures: [] }), 'JWS envelope has unexpected member "signatures"');
  });
  it('a member that is not base64url text', () => {
    refused(jws(header(), { protected: 5 }), 'JWS "protected" is not base64url');
    refused(jws(header(), { payload: `${PAYLOAD.toString('base64url')}=` }), 'JWS "payload" is not base64url');
    refused(jws(header(), { signature: `+${SIGNATURE.toString('base64url')}` }), 'JWS "signature" is not base64url');
    refused(jws(header(), { signature: `${SIGNATURE.toString('base64url')}/` }), 'JWS "signature" is not base64url');
    refused(jws(header(), { signature: undefined }), 'JWS "signature" is not base64url');
  });
  it('base64url that is not canonical (bits past the end, or a lone character)', () => {
    refused(jws(header(), { signature: 'AB' }), 'JWS signature is not canonical base64url');
    refused(jws(header(), { payload: 'A' }), 'JWS payload is not canonical base64url');
    refused(jws(header(), { protected: `${b64url(header())}A` }), 'JWS protected is not canonical base64url');
  });
  it('no unprotected header object', () => {
    refused(jws(header(), { header: undefined }), 'JWS envelope has no unprotected "header" object');
    refused(jws(header(), { header: 5 }), 'JWS envelope has no unprotected "header" object');
    refused(jws(header(), { header: [] }), 'JWS envelope has no unprotected "header" object');
  });
});

describe('the protected header', () => {
  it('not JSON, or not an object', () => {
    refused(jws(header(), { protected: Buffer.from('{').toString('base64url') }), 'JWS protected header is not JSON');
    refused(jws(header(), { protected: b64url('x') }), 'JWS protected header is not a JSON object');
  });
  it('an algorithm outside the specification', () => {
    refused(jws(header({ alg: 'RS256' })), 'unsupported JWS alg "RS256"');
    refused(jws(header({ alg: 'none' })), 'unsupported JWS alg "none"');
  });
  it('a content type other than the Notary payload', () => {
    refused(jws(header({ cty: 'application/json' })), 'unsupported content type "application/json"');
    refused(jws(header({ cty: undefined })), 'unsupported content type undefined');
  });
});

describe('crit', () => {
  const NOT_NAMES = 'JWS "crit" must be a non-empty array of header names';
  it('absent, not an array, or empty', () => {
    refused(jws(header({ crit: undefined })), NOT_NAMES);
    refused(jws(header({ crit: SCHEME })), NOT_NAMES);
    refused(jws(header({ crit: [] })), NOT_NAMES);
  });
  it('an entry that is not a header name', () => {
    refused(jws(header({ crit: [SCHEME, 5] })), NOT_NAMES);
    refused(jws(header({ crit: [SCHEME, ''], '': 1 })), NOT_NAMES);
    // an array whose text is a header name present in the header
    refused(jws(header({ crit: [[SCHEME]] })), NOT_NAMES);
    refused(jws(header({ crit: [SCHEME, [SIGNING_TIME]] })), NOT_NAMES);
  });
  it('a name listed twice', () => {
    refused(jws(header({ crit: [SCHEME, SCHEME] })), 'JWS "crit" lists a header twice');
  });
  it('a critical header missing from the protected header', () => {
    refused(
      jws(header({ crit: [SCHEME, 'io.example.policy'] })),
      'critical header "io.example.policy" is missing from the protected header',
    );
  });
  it('the signing scheme not marked critical (whether present or not)', () => {
    refused(jws(header({ crit: [SIGNING_TIME] })), `${SCHEME} must be marked critical`);
    refused(
      jws(header({ crit: [EXPIRY], [EXPIRY]: '2030-01-01T00:00:00Z', [SCHEME]: undefined })),
      `${SCHEME} must be marked critical`,
    );
  });
  it.each([
    [AUTHENTIC_TIME, '2024-05-01T12:00:00Z'],
    [EXPIRY, '2030-01-01T00:00:00Z'],
    [PLUGIN, 'com.example.plugin'],
    [PLUGIN_MIN, '1.0.0'],
  ])('%s present but not marked critical', (name, value) => {
    refused(jws(header({ [name]: value })), `${name} must be marked critical`);
  });
});

describe('attribute values', () => {
  it('a signing scheme outside the specification', () => {
    refused(jws(header({ [SCHEME]: 'notary.default' })), 'unsupported signing scheme "notary.default"');
  });
  it.each([
    ['a number', 1714564800],
    ['an array holding a valid time', ['2024-05-01T12:00:00Z']],
    ['a time without zone', '2024-05-01T12:00:00'],
    ['a date alone', '2024-05-01'],
    ['an extended (six digit) year', '+002024-05-01T12:00:00Z'],
    ['a time followed by more text', '2024-05-01T12:00:00Z and later'],
    ['a month that does not exist', '2024-13-01T12:00:00Z'],
    // Date.parse would roll these over to the next day; Go's time.Parse (notation) refuses them
    ['a day past the end of the month', '2024-02-30T12:00:00Z'],
    ['the 29th of February of a common year', '2023-02-29T12:00:00Z'],
    ['the hour 24', '2024-05-01T24:00:00Z'],
    ['a day past the end of the month, with an offset', '2024-04-31T23:30:00-01:00'],
  ])('a signing time that is %s', (_what, value) => {
    refused(
      jws(header({ [SIGNING_TIME]: value })),
      `${SIGNING_TIME} is not an RFC 3339 time: ${JSON.stringify(value)}`,
    );
  });
  it.each([
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-02-29T23:59:59.999Z', '2024-02-29T23:59:59.999Z'],
    ['2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T23:30:00-01:00', '2024-05-02T00:30:00.000Z'],
    ['2024-05-01T00:15:00+05:45', '2024-04-30T18:30:00.000Z'],
    ['2024-05-01T12:00:00-00:30', '2024-05-01T12:30:00.000Z'],
  ])('the signing time %s is the instant %s', (text, iso) => {
    expect(parseJws(jws(header({ [SIGNING_TIME]: text }))).signingTime?.toISOString()).toBe(iso);
  });
  it('an expiry that is not RFC 3339', () => {
    refused(
      jws(header({ [EXPIRY]: '2030-01-01', crit: [SCHEME, EXPIRY] })),
      `${EXPIRY} is not an RFC 3339 time: "2030-01-01"`,
    );
  });
  it.each([
    [PLUGIN, ''],
    [PLUGIN, 5],
    [PLUGIN_MIN, ''],
    [PLUGIN_MIN, ['1.0.0']],
  ])('%s given as %j', (name, value) => {
    refused(jws(header({ [name]: value, crit: [SCHEME, name] })), `${name} must be a non-empty string`);
  });
  it('notary.x509 without a signing time', () => {
    refused(jws(header({ [SIGNING_TIME]: undefined })), 'notary.x509 signature without signing time');
  });
  it('notary.x509.signingAuthority without an authentic signing time (a plain signing time does not do)', () => {
    refused(
      jws(header({ [SCHEME]: 'notary.x509.signingAuthority' })),
      'notary.x509.signingAuthority signature without authentic signing time',
    );
  });
});

describe('the unprotected header', () => {
  it('no x5c chain, or an empty one', () => {
    refused(jws(header(), { header: {} }), 'JWS envelope has no x5c certificate chain');
    refused(
      jws(header(), { header: { x5c: CHAIN[0]!.toString('base64') } }),
      'JWS envelope has no x5c certificate chain',
    );
    refused(jws(header(), { header: { x5c: [] } }), 'JWS envelope has no x5c certificate chain');
  });
  it('a chain entry that is not base64 text', () => {
    const leaf = CHAIN[0]!.toString('base64');
    refused(jws(header(), { header: { x5c: [leaf, 5] } }), 'x5c[1] is not base64');
    refused(jws(header(), { header: { x5c: [leaf, ''] } }), 'x5c[1] is not base64');
    refused(jws(header(), { header: { x5c: [`!${leaf}`] } }), 'x5c[0] is not base64');
    refused(jws(header(), { header: { x5c: [leaf, `${leaf}!`] } }), 'x5c[1] is not base64');
    refused(jws(header(), { header: { x5c: [`${leaf.slice(0, 8)}-${leaf.slice(8)}`] } }), 'x5c[0] is not base64');
  });
  it('a timestamp that is not a non-empty string', () => {
    const BAD = 'timestamp signature must be a base64 string';
    refused(jws(header(), unprotected({ [TIMESTAMP]: '' })), BAD);
    refused(jws(header(), unprotected({ [TIMESTAMP]: 5 })), BAD);
    refused(jws(header(), unprotected({ [TIMESTAMP]: true })), BAD);
    refused(jws(header(), unprotected({ [TIMESTAMP]: ['dG9rZW4='] })), BAD);
  });
});
