/**
 * Ring checkpoints (ring-placement.ts "Checkpoints"; issue 20, compaction of departed members): a ring
 * built from a checkpoint at T and only the records that still matter after T — members in the ring at
 * T, and members with an event after T — has exactly the owners of the ring built from every record's
 * whole history. Property-based (fast-check) over random histories of joins, capacity changes, leaves
 * and re-joins.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ring, type RingMember } from '../../../src/core/ring.js';

const Q = 64;

/** A member with a random history: join, then capacity changes, leaves (0) and re-joins, times ascending. */
const member = (id: string): fc.Arbitrary<RingMember> =>
  fc
    .tuple(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(1, 2, 0.5), fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), fc.constantFrom(0, 0, 1, 2)), { maxLength: 4 }))
    .map(([joined, capacity, steps]) => {
      const history: { atMs: number; capacity: number }[] = [{ atMs: joined, capacity }];
      let at = joined;
      for (const [gap, c] of steps) history.push({ atMs: (at += gap), capacity: c });
      return { id, capacity: history.filter((e) => e.capacity > 0).at(-1)?.capacity ?? capacity, history };
    });

const members = fc.integer({ min: 1, max: 14 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => member(`m${i}`))));

const ownersOf = (ring: Ring): string[] => Array.from({ length: Q }, (_, p) => (ring.owners().length === 0 ? '-' : ring.owner(p)));

/** The records a node keeps once it holds a checkpoint at `atMs`: departed-before members are dropped. */
function kept(all: readonly RingMember[], atMs: number): RingMember[] {
  return all.filter((m) => {
    const last = m.history!.at(-1)!;
    return !(last.capacity === 0 && last.atMs <= atMs);
  });
}

describe('ring checkpoints', () => {
  it('a ring from a checkpoint and the records left after compaction equals the ring from every record', () => {
    fc.assert(
      fc.property(members, fc.integer({ min: 0, max: 2500 }), (all, atMs) => {
        const full = Ring.build(all, Q);
        const checkpoint = Ring.checkpoint(all, Q, atMs);
        const compacted = Ring.build(kept(all, atMs), Q, checkpoint);
        expect(ownersOf(compacted)).toEqual(ownersOf(full));
        expect(compacted.members.map((m) => m.id)).toEqual(full.members.map((m) => m.id));
      }),
      { numRuns: 300 },
    );
  });

  it('checkpoints chain: a later one made from an earlier one and the kept records gives the same ring', () => {
    fc.assert(
      fc.property(members, fc.integer({ min: 0, max: 1500 }), fc.integer({ min: 0, max: 1500 }), (all, t1, gap) => {
        const first = Ring.checkpoint(all, Q, t1);
        const second = Ring.checkpoint(kept(all, t1), Q, t1 + gap, first);
        expect(second).toEqual(Ring.checkpoint(all, Q, t1 + gap));
        expect(ownersOf(Ring.build(kept(all, t1 + gap), Q, second))).toEqual(ownersOf(Ring.build(all, Q)));
      }),
      { numRuns: 200 },
    );
  });

  it('members that left before the checkpoint are in neither the checkpoint nor the ring, and a checkpoint of a malformed shape is refused', () => {
    const all: RingMember[] = [
      { id: 'a', capacity: 1, history: [{ atMs: 0, capacity: 1 }] },
      { id: 'b', capacity: 1, history: [{ atMs: 5, capacity: 1 }, { atMs: 50, capacity: 0 }] },
      { id: 'c', capacity: 1, history: [{ atMs: 10, capacity: 1 }] },
    ];
    const checkpoint = Ring.checkpoint(all, Q, 100);
    expect(checkpoint.members.map((m) => m.id)).toEqual(['a', 'c']);
    expect(checkpoint.owners.every((i) => i === 0 || i === 1)).toBe(true);
    expect(() => Ring.build([], Q, { ...checkpoint, owners: checkpoint.owners.slice(1) })).toThrow(/owner for each/);
    expect(() => Ring.build([], Q, { ...checkpoint, owners: checkpoint.owners.map(() => 7) })).toThrow(/names no member/);
    // Built from the checkpoint alone (no record of a or c arrived yet), the ring is already right.
    expect(ownersOf(Ring.build([], Q, checkpoint))).toEqual(ownersOf(Ring.build(all, Q)));
  });
});
