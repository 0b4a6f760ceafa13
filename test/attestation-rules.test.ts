/**
 * One attestation rule judged over evidence already read: the policy errors a rule is
 * refused with, and the words of ATTESTATION_MISSING / ATTESTATION_FAILED that tell an
 * operator what was found (statements for another image, rejected evidence, how many
 * statements of the type failed).
 */
import { describe, expect, it } from 'vitest';
import { VerifierError } from '../src/core/verifier.js';
import { AttestationRule, type Evidence, type SignedStatement } from '../src/verify/cosign/attestations.js';

const SLSA = 'https://slsa.dev/provenance/v1';
const IMAGE = `sha256:${'1'.repeat(64)}`;
const other = (n: number) => `sha256:${String(n).repeat(64)}`;

function signed(digest: string, ref = 'refs/heads/main', where = 'bundle sha256:0123456789ab'): SignedStatement {
  return {
    where,
    by: 'keyless ci',
    statement: {
      type: 'https://in-toto.io/Statement/v1',
      predicateType: SLSA,
      subject: [{ name: 'app', digest: { sha256: digest.slice(7) } }],
      predicate: { ref },
    },
  };
}

const evidence = (statements: SignedStatement[], rejected: Evidence['rejected'] = []): Evidence => ({
  statements,
  rejected,
});
const onMain = { path: 'predicate.ref', equals: 'refs/heads/main' };

describe('attestation rules', () => {
  it('a predicate type that is neither a URI nor a short name is a POLICY_ERROR naming it', () => {
    const build = () => new AttestationRule({ predicateType: 'not a type' });
    expect(build).toThrow(VerifierError);
    expect(build).toThrow(/^attestation predicateType "not a type" is neither a URI nor one of cosign's short names/);
    try {
      build();
    } catch (e) {
      expect((e as VerifierError).reason).toBe('POLICY_ERROR');
    }
  });

  it('an invalid condition is a POLICY_ERROR with the condition problem', () => {
    const build = () => new AttestationRule({ predicateType: SLSA, conditions: [{ path: 'predicate.ref' } as never] });
    expect(build).toThrow(VerifierError);
    expect(build).toThrow(/^invalid condition on predicate\.ref: /);
    try {
      build();
    } catch (e) {
      expect((e as VerifierError).reason).toBe('POLICY_ERROR');
    }
  });

  it('a rule without conditions: any statement of the type for the image passes, 0 conditions', () => {
    const rule = new AttestationRule({ predicateType: 'slsaprovenance1' });
    expect(rule.predicateType).toBe(SLSA);
    expect(rule.judge(IMAGE, evidence([signed(IMAGE, 'refs/heads/dev')]))).toEqual({
      ok: true,
      predicateType: SLSA,
      where: 'bundle sha256:0123456789ab',
      by: 'keyless ci',
      conditions: 0,
    });
  });

  it('nothing found: ATTESTATION_MISSING, a detail with no list of reasons', () => {
    const rule = new AttestationRule({ predicateType: SLSA, conditions: [onMain] });
    expect(rule.judge(IMAGE, evidence([]))).toEqual({
      ok: false,
      predicateType: SLSA,
      reason: 'ATTESTATION_MISSING',
      detail: `no valid attestation ${SLSA} for ${IMAGE} by a trusted signer`,
    });
  });

  it('statements for other images: named, at most three digests, with the rejected evidence after "; "', () => {
    const rule = new AttestationRule({ predicateType: SLSA, conditions: [onMain] });
    const two = rule.judge(IMAGE, evidence([signed(other(2)), signed(other(3))]));
    expect(two).toMatchObject({
      reason: 'ATTESTATION_MISSING',
      detail: `no valid attestation ${SLSA} for ${IMAGE} by a trusted signer: 2 signed for another image (${other(2)}, ${other(3)})`,
    });
    const four = rule.judge(
      IMAGE,
      evidence(
        [signed(other(2)), signed(other(3)), signed(other(4)), signed(other(5))],
        [{ ok: false, reason: 'UNTRUSTED_SIGNER', detail: 'bundle x: signed by someone else' }],
      ),
    );
    expect(four).toMatchObject({
      reason: 'ATTESTATION_MISSING',
      detail: `no valid attestation ${SLSA} for ${IMAGE} by a trusted signer: 4 signed for another image (${other(2)}, ${other(3)}, ${other(4)}); 1 rejected, e.g. bundle x: signed by someone else`,
    });
  });

  it('one statement failing a condition: ATTESTATION_FAILED naming it; several: how many failed', () => {
    const rule = new AttestationRule({ predicateType: SLSA, conditions: [onMain] });
    const one = rule.judge(IMAGE, evidence([signed(IMAGE, 'refs/heads/dev', 'a')]));
    expect(one).toMatchObject({ ok: false, reason: 'ATTESTATION_FAILED' });
    expect((one as { detail: string }).detail).toMatch(
      new RegExp(
        `^attestation ${SLSA} in a by keyless ci: predicate\\.ref: expected .*refs/heads/main.*, found .*refs/heads/dev[^)]*$`,
      ),
    );
    const two = rule.judge(IMAGE, evidence([signed(IMAGE, 'refs/heads/dev', 'a'), signed(IMAGE, 'refs/tags/x', 'b')]));
    expect((two as { detail: string }).detail).toMatch(
      /^attestation \S+ in a by keyless ci: .* \(2 attestations of this type, none meets every condition\)$/,
    );
    expect(rule.judge(IMAGE, evidence([signed(IMAGE, 'refs/heads/dev', 'a'), signed(IMAGE)]))).toMatchObject({
      ok: true,
      where: 'bundle sha256:0123456789ab',
      conditions: 1,
    });
  });
});
