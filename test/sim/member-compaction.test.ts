/**
 * Compaction of departed members (issue 20 item 3; member-compaction.ts). Members that left long ago
 * stop being stored and gossiped: the ring's replay is checkpointed past their departure. Before this,
 * every member that ever joined kept a record in every node's map forever.
 */
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { Membership, withLegacyFieldNames, type MemberRecord } from '../../src/core/membership.js';
import { Ring } from '../../src/core/ring.js';
import { Simulation } from './harness.js';
import { ringsAgree, within } from './workload.js';

const COMPACTION_MS = 30_000;

describe('member compaction', () => {
  for (const seed of [3, 17]) {
    it(`seed ${seed}: 5 of 8 members leave; after memberCompactionMs every node holds 3 records, the same ring, and every write`, async () => {
      const sim = new Simulation({ seed, nodes: 8, config: { memberCompactionMs: COMPACTION_MS } });
      await sim.start();
      expect(await sim.settleCluster(30_000), `seed=${seed}`).toBe(true);
      const writer = sim.node('n0');
      const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
      for (const key of keys) expect((await sim.settle(within(sim, writer.core.put(key, key), 5_000), 6_000)).ok).toBe(true);
      const leavers = ['n3', 'n4', 'n5', 'n6', 'n7'];
      for (const id of leavers) {
        const left = await sim.settle(within(sim, sim.node(id).core.leave(), 60_000), 61_000);
        expect(left.ok, `seed=${seed} ${id} left`).toBe(true);
      }
      // Their tabs close for good as soon as leave() resolved: it waited until another member held the
      // `left` record (before, the last leaver's record could stay `leaving` everywhere, never compacted).
      for (const id of leavers) sim.crash(id);
      const stayers = ['n0', 'n1', 'n2'];
      const ringBefore = sim.node('n0').core.ring().owners().join();
      expect(stayers.every((id) => sim.node(id).core.stats().memberRecords === 8), 'records kept before memberCompactionMs').toBe(true);
      await sim.runUntilPolled(() => stayers.every((id) => sim.node(id).core.stats().memberRecords === 3), COMPACTION_MS + 120_000, 1_000);
      const records = stayers.map((id) => sim.node(id).core.stats().memberRecords);
      console.log(`seed ${seed}: member records per staying node ${records.join(', ')} (8 before); compacted ${stayers.map((id) => sim.node(id).core.stats().membersCompacted).join(', ')}`);
      expect(records).toEqual([3, 3, 3]);
      expect(ringsAgree(sim)).toBe(true);
      expect(sim.node('n0').core.ring().owners().join(), 'compaction moves no partition').toBe(ringBefore);
      for (const key of keys) {
        const got = await sim.settle(within(sim, sim.node('n1').core.get(key), 5_000), 6_000);
        expect(got.ok && got.value.siblings.map((s) => s.value), `seed=${seed} ${key}`).toEqual([key]);
      }
      // A node that restarts from its store keeps the checkpoint and takes no compacted record back.
      sim.crash('n1');
      await sim.runFor(2_000);
      const restarted = await sim.restart('n1');
      await sim.runFor(5_000);
      expect(restarted.core.stats().memberRecords, `seed=${seed}: records after a restart`).toBe(3);
      expect(ringsAgree(sim)).toBe(true);
      // A node that joins afterwards takes the checkpoint by gossip and computes the same ring.
      const joiner = await sim.addNode('n8');
      joiner.core.addSeeds(['n0']);
      await sim.runUntilPolled(() => ringsAgree(sim) && joiner.core.ring().owners().includes('n8') && sim.handoffsSettled(), 120_000, 1_000);
      expect(ringsAgree(sim), `seed=${seed}: rings agree after a join`).toBe(true);
      expect(joiner.core.stats().memberRecords).toBe(4);
      for (const key of keys.slice(0, 10)) {
        const got = await sim.settle(within(sim, joiner.core.get(key), 5_000), 6_000);
        expect(got.ok && got.value.siblings.map((s) => s.value), `seed=${seed} ${key} from the new node`).toEqual([key]);
      }
    });
  }

  it('gossip size at 1000 members with 900 departed, before and after compaction', () => {
    const signature = new Uint8Array(64).fill(7);
    const publicKey = new Uint8Array(32).fill(9);
    const id = (i: number): string => `n${i.toString(36).padStart(4, '0')}x${'a'.repeat(20)}`;
    const records: MemberRecord[] = Array.from({ length: 1000 }, (_, i) => {
      const joinedAtMs = 1_000_000 + i * 1000;
      const departed = i < 900;
      return {
        id: id(i),
        capacity: 1,
        status: departed ? 'left' : 'up',
        version: 5,
        joinedAtMs,
        incarnation: 3,
        history: departed ? [{ atMs: joinedAtMs, capacity: 1 }, { atMs: joinedAtMs + 500_000, capacity: 0 }] : [{ atMs: joinedAtMs, capacity: 1 }],
        pendingPartitions: [],
        handoffPartitions: [],
        publicKey,
        signature,
      };
    });
    const membership = new Membership(id(999));
    membership.merge(records);
    const fullGossip = (): number =>
      encode({ type: 'gossip', members: membership.gossipRecords().map(withLegacyFieldNames), removals: membership.removals(), reply: true, ...(membership.checkpoint ? { checkpoint: membership.checkpoint } : {}) }).byteLength;
    const before = fullGossip();
    const ringBefore = Ring.build(membership.ringMembers(), 256);
    const lastDeparture = Math.max(...records.filter((r) => r.status === 'left').map((r) => r.history.at(-1)!.atMs));
    expect(membership.compact(Ring.checkpoint(membership.ringMembers(), 256, lastDeparture))).toBe(true);
    const after = fullGossip();
    const ringAfter = Ring.build(membership.ringMembers(), 256, membership.checkpoint);
    console.log(`full gossip message, 1000 members of which 900 departed: ${before} bytes before compaction, ${after} after (${(after / before).toFixed(2)}x); records ${1000} -> ${membership.size}`);
    expect(membership.size).toBe(100);
    expect(ringAfter.owners()).toEqual(ringBefore.owners());
    expect(after).toBeLessThan(before / 5);
  });
});
