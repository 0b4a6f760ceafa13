/**
 * settingsFor() (src/policy/overrides.ts): which mode and onError apply to a workload.
 * An override that matches where it should not could turn enforce into audit or
 * onError: deny into allow, so each matching rule is pinned here (README "Mutation testing").
 */
import { describe, expect, it } from 'vitest';
import { clusterName, settingsFor } from '../src/policy/overrides.js';
import type { PolicyDocument } from '../src/policy/schema.js';

type Policy = Pick<PolicyDocument, 'mode' | 'onError' | 'overrides'>;
const policy = (overrides: Policy['overrides']): Policy => ({ mode: 'enforce', onError: 'deny', overrides });

describe('settingsFor', () => {
  it('no override, or none that matches: the document settings, no override index', () => {
    expect(settingsFor(policy([]), { cluster: 'prod' })).toEqual({ mode: 'enforce', onError: 'deny' });
    const p = policy([{ clusters: ['staging'], mode: 'audit' }]);
    expect(settingsFor(p, { cluster: 'prod' })).toEqual({ mode: 'enforce', onError: 'deny' });
  });

  it('the first matching override wins, and its index is reported', () => {
    const p = policy([
      { clusters: ['dev'], mode: 'audit' },
      { clusters: ['prod'], onError: 'allow' },
      { clusters: ['*'], mode: 'audit' },
    ]);
    expect(settingsFor(p, { cluster: 'prod' })).toEqual({ mode: 'enforce', onError: 'allow', override: 1 });
    expect(settingsFor(p, { cluster: 'dev' })).toEqual({ mode: 'audit', onError: 'deny', override: 0 });
    expect(settingsFor(p, { cluster: 'other' })).toEqual({ mode: 'audit', onError: 'deny', override: 2 });
  });

  it('an override keeps the document setting it does not name', () => {
    const doc: Policy = { mode: 'audit', onError: 'allow', overrides: [{ clusters: ['*'], onError: 'deny' }] };
    expect(settingsFor(doc, { cluster: 'x' })).toEqual({ mode: 'audit', onError: 'deny', override: 0 });
    doc.overrides = [{ clusters: ['*'], mode: 'enforce' }];
    expect(settingsFor(doc, { cluster: 'x' })).toEqual({ mode: 'enforce', onError: 'allow', override: 0 });
  });

  it('every dimension the override names must match; unnamed dimensions match anything', () => {
    const p = policy([{ clusters: ['prod'], services: ['legacy-*'], taskFamilies: ['api'], onError: 'allow' }]);
    const all = { cluster: 'prod', service: 'legacy-web', taskFamily: 'api' };
    expect(settingsFor(p, all).override).toBe(0);
    expect(settingsFor(p, { ...all, cluster: 'dev' }).override).toBeUndefined();
    expect(settingsFor(p, { ...all, service: 'web' }).override).toBeUndefined();
    expect(settingsFor(p, { ...all, taskFamily: 'batch' }).override).toBeUndefined();
    const services = policy([{ services: ['web'], mode: 'audit' }]);
    expect(settingsFor(services, { cluster: 'any', service: 'web', taskFamily: 'any' }).override).toBe(0);
  });

  it('a dimension the override names but the scope does not know never matches, not even "*"', () => {
    const p = policy([{ clusters: ['*'], services: ['*'], onError: 'allow' }]);
    expect(settingsFor(p, { cluster: 'prod' })).toEqual({ mode: 'enforce', onError: 'deny' });
    expect(settingsFor(p)).toEqual({ mode: 'enforce', onError: 'deny' });
    expect(settingsFor(p, { cluster: 'prod', service: 'web' }).onError).toBe('allow');
  });

  it("any one of a dimension's globs may match", () => {
    const p = policy([{ clusters: ['dev', 'prod-*'], mode: 'audit' }]);
    expect(settingsFor(p, { cluster: 'prod-eu' }).mode).toBe('audit');
    expect(settingsFor(p, { cluster: 'dev' }).mode).toBe('audit');
    expect(settingsFor(p, { cluster: 'prod' }).mode).toBe('enforce');
  });
});

describe('clusterName', () => {
  it('takes the name from a cluster ARN, keeps a bare name, and knows nothing of nothing', () => {
    expect(clusterName('arn:aws:ecs:eu-west-1:123456789012:cluster/prod')).toBe('prod');
    expect(clusterName('prod')).toBe('prod');
    expect(clusterName(undefined)).toBeUndefined();
    expect(clusterName('')).toBeUndefined();
  });
});
