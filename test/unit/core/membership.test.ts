/**
 * The gossiped membership merge as properties (paper §4.8.1; issue 18 item 4): whatever order records
 * and removal statements arrive in, twice or once, every node ends with the same view — the merge is
 * commutative, associative and idempotent — and a removal always wins over its target's own records.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Membership, type MemberRecord, type Removal } from '../../../src/core/membership.js';

const IDS = ['a', 'b', 'c', 'd'];

const record: fc.Arbitrary<MemberRecord> = fc
  .record({
    id: fc.constantFrom(...IDS),
    capacity: fc.constantFrom(1, 2),
    status: fc.constantFrom('up', 'leaving', 'left'),
    version: fc.integer({ min: 1, max: 6 }),
    joinedAtMs: fc.integer({ min: 0, max: 3 }),
    incarnation: fc.integer({ min: 0, max: 3 }),
    leftAtMs: fc.option(fc.integer({ min: 4, max: 9 }), { nil: undefined }),
  })
  .map(({ leftAtMs, ...r }) => ({
    ...r,
    history: [{ atMs: r.joinedAtMs, capacity: r.capacity }, ...(leftAtMs !== undefined ? [{ atMs: leftAtMs, capacity: 0 }] : [])],
    pendingPartitions: [],
    handoffPartitions: [],
  }));

const removal: fc.Arbitrary<Removal> = fc
  .record({ target: fc.constantFrom(...IDS), by: fc.constantFrom(...IDS), atMs: fc.integer({ min: 0, max: 9 }) })
  .filter((r) => r.target !== r.by);

/** One gossip message's worth: some records and some removals. */
const message = fc.record({ records: fc.array(record, { maxLength: 6 }), removals: fc.array(removal, { maxLength: 3 }) });
type Batch = { records: MemberRecord[]; removals: Removal[] };

/** A fresh view (of node `z`, which none of the records name) after taking `batches` in order. */
function viewAfter(batches: readonly Batch[]): unknown {
  const m = new Membership('z');
  for (const { records, removals } of batches) {
    m.merge(records);
    for (const r of removals) m.addRemoval(r);
  }
  return { all: m.all(), removals: m.removals(), ring: m.ringMembers(), peers: m.peers() };
}

describe('membership merge', () => {
  it('is commutative: two messages taken in either order give the same view', () => {
    fc.assert(fc.property(message, message, (x, y) => {
        expect(viewAfter([x, y])).toEqual(viewAfter([y, x]));
      }), { seed: 18, numRuns: 500 });
  });

  it('is associative: merging (x then y) into z equals x into (y then z), as views built by gossip', () => {
    fc.assert(
      fc.property(message, message, message, (x, y, z) => {
        const left = viewAfter([x, y, z]);
        const right = viewAfter([{ records: [...y.records, ...z.records], removals: [...y.removals, ...z.removals] }, x]);
        expect(left).toEqual(right);
      }),
      { seed: 18, numRuns: 500 },
    );
  });

  it('is idempotent: a message taken twice changes nothing the second time', () => {
    fc.assert(
      fc.property(message, (x) => {
        const m = new Membership('z');
        m.merge(x.records);
        for (const r of x.removals) m.addRemoval(r);
        const once = { all: m.all(), removals: m.removals() };
        expect(m.merge(x.records)).toBe(false);
        expect(x.removals.some((r) => m.addRemoval(r))).toBe(false);
        expect({ all: m.all(), removals: m.removals() }).toEqual(once);
      }),
      { seed: 18, numRuns: 500 },
    );
  });

  it('keeps a removed member removed, whatever record of it comes later', () => {
    fc.assert(
      fc.property(message, removal, fc.array(record, { maxLength: 6 }), (before, removed, later) => {
        const m = new Membership('z');
        m.merge(before.records);
        m.addRemoval(removed);
        m.merge(later.map((r) => ({ ...r, version: r.version + 100 })));
        const view = m.get(removed.target);
        if (view !== undefined) {
          expect(view.status).toBe('left');
          expect(view.history.at(-1)!.capacity).toBe(0);
        }
        expect(m.peers()).not.toContain(removed.target);
      }),
      { seed: 18, numRuns: 300 },
    );
  });
});
