/**
 * Where a key's requests go (src/core/preference-targets.ts; paper §4.5, §4.6, §4.9): healthy
 * replicas for themselves, the next healthy fallback for each unreachable replica, holders of a
 * partition being handed off, and the fallbacks left over in order.
 */
import { describe, expect, it } from 'vitest';
import { NoReplicasError } from '../../../src/core/errors.js';
import { requestTargets } from '../../../src/core/preference-targets.js';

const base = { preferenceList: ['r1', 'r2', 'r3', 'f1', 'f2', 'f3'], n: 3, self: 'r1', hintedHandoff: true, holders: [] as string[] };

describe('requestTargets', () => {
  it('all replicas healthy: they are the targets, every fallback is left in order', () => {
    expect(requestTargets({ ...base, isHealthy: () => true })).toEqual({
      replicas: ['r1', 'r2', 'r3'],
      targets: [{ node: 'r1' }, { node: 'r2' }, { node: 'r3' }],
      fallbacks: ['f1', 'f2', 'f3'],
    });
  });

  it('an unreachable replica is taken over by the first healthy fallback; unhealthy fallbacks are skipped', () => {
    const down = new Set(['r2', 'f1']);
    const t = requestTargets({ ...base, isHealthy: (id) => !down.has(id) });
    expect(t.targets).toEqual([{ node: 'r1' }, { node: 'r3' }, { node: 'f2', intendedFor: 'r2' }]);
    expect(t.fallbacks).toEqual(['f3']);
  });

  it('this node counts as healthy whatever the detector says', () => {
    expect(requestTargets({ ...base, isHealthy: () => false }).targets.map((t) => t.node)).toEqual(['r1']);
  });

  it('a strict quorum (hinted handoff off) asks the replicas only', () => {
    const t = requestTargets({ ...base, hintedHandoff: false, isHealthy: (id) => id !== 'r2' });
    expect(t.targets).toEqual([{ node: 'r1' }, { node: 'r3' }]);
    expect(t.fallbacks).toEqual([]);
  });

  it('healthy holders of the partition are asked too and are no longer fallbacks', () => {
    const t = requestTargets({ ...base, holders: ['f2', 'r3', 'gone'], isHealthy: (id) => id !== 'gone' });
    expect(t.targets).toEqual([{ node: 'r1' }, { node: 'r2' }, { node: 'r3' }, { node: 'f2' }]);
    expect(t.fallbacks).toEqual(['f1', 'f3']);
  });

  it('an empty ring is refused with NoReplicasError', () => {
    expect(() => requestTargets({ ...base, preferenceList: [], isHealthy: () => true })).toThrow(NoReplicasError);
  });
});
