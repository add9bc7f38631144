/**
 * Tombstone purging (issue 20: "nothing grows forever"; tombstone-purge.ts). A delete is kept as a
 * tombstone so that a replica that missed it cannot bring the value back; once every replica holds the
 * same tombstone set, no member holds a hint or another version, and `tombstoneGraceMs` has passed,
 * the key's first replica has it deleted everywhere. Before this, tombstones were kept forever.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from './harness.js';
import { within } from './workload.js';

const GRACE_MS = 30_000;
const config = { tombstoneGraceMs: GRACE_MS, tombstonePurgeIntervalMs: 5_000 };

/** Nodes (running or crashed) whose store holds `key` in any form. */
function holders(sim: Simulation, key: string): string[] {
  const all = [...[...sim.nodes].map(([id, node]) => [id, node.data] as const), ...sim.crashed];
  return all.filter(([, data]) => data.objects.has(key)).map(([id]) => id);
}

async function writeAndDelete(sim: Simulation, seed: number, count: number): Promise<{ kept: string[]; deleted: string[] }> {
  const writer = sim.node('n0');
  const kept: string[] = [];
  const deleted: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = `note-${i}`;
    const put = await sim.settle(within(sim, writer.core.put(key, { i }), 5_000), 6_000);
    expect(put.ok, `seed=${seed} put ${key}`).toBe(true);
    if (i % 2 === 1) {
      const got = await sim.settle(within(sim, writer.core.get(key), 5_000), 6_000);
      expect(got.ok).toBe(true);
      const del = await sim.settle(within(sim, writer.core.delete(key, { context: got.ok ? got.value.context : '' }), 5_000), 6_000);
      expect(del.ok, `seed=${seed} delete ${key}`).toBe(true);
      deleted.push(key);
    } else kept.push(key);
  }
  return { kept, deleted };
}

const purgedCount = (sim: Simulation): number => [...sim.nodes.values()].reduce((sum, node) => sum + node.core.stats().tombstonesPurged, 0);

describe('tombstone purge', () => {
  for (const seed of [5, 9]) {
    it(`seed ${seed}: tombstones stay through the grace period, then leave every store; live keys stay`, async () => {
      const sim = new Simulation({ seed, nodes: 5, config });
      await sim.start();
      expect(await sim.settleCluster(30_000), `seed=${seed}`).toBe(true);
      const { kept, deleted } = await writeAndDelete(sim, seed, 40);
      await sim.runFor(5_000);
      const copies = deleted.reduce((sum, key) => sum + holders(sim, key).length, 0);
      expect(copies, `seed=${seed}: every delete is held by its 3 replicas`).toBe(deleted.length * 3);
      // Inside the grace period nothing goes.
      await sim.runFor(GRACE_MS - 15_000);
      expect(deleted.filter((key) => holders(sim, key).length > 0)).toEqual(deleted);
      await sim.runUntilPolled(() => deleted.every((key) => holders(sim, key).length === 0), 60_000, 1_000);
      const left = deleted.filter((key) => holders(sim, key).length > 0);
      console.log(`seed ${seed}: ${copies} tombstones of ${deleted.length} deletes, ${purgedCount(sim)} purged, ${left.length} keys left`);
      expect(left, `seed=${seed}: tombstones left after the grace period`).toEqual([]);
      expect(purgedCount(sim)).toBe(copies);
      expect(sim.liveIds().flatMap((id) => sim.node(id).events.filter((e) => e.type === 'tombstones-purged')).length).toBeGreaterThan(0);
      // Anti-entropy does not bring them back, and live keys are untouched.
      await sim.runFor(20_000);
      expect(deleted.filter((key) => holders(sim, key).length > 0)).toEqual([]);
      for (const key of kept) expect(holders(sim, key).length, key).toBe(3);
      for (const key of [...kept.slice(0, 5), ...deleted.slice(0, 5)]) {
        const got = await sim.settle(within(sim, sim.node('n2').core.get(key), 5_000), 6_000);
        expect(got.ok && got.value.siblings.length, `seed=${seed} ${key}`).toBe(kept.includes(key) ? 1 : 0);
      }
    });
  }

  it('a member that cannot be asked holds purging back; once back, it gets the deletes it missed and nothing is resurrected', async () => {
    const seed = 12;
    const sim = new Simulation({ seed, nodes: 5, config });
    await sim.start();
    expect(await sim.settleCluster(30_000)).toBe(true);
    // n3 holds the values, then misses their deletes.
    const writer = sim.node('n0');
    const keys = Array.from({ length: 30 }, (_, i) => `missed-${i}`);
    for (const key of keys) expect((await sim.settle(within(sim, writer.core.put(key, 'old'), 5_000), 6_000)).ok).toBe(true);
    await sim.runFor(3_000);
    sim.crash('n3');
    await sim.runFor(10_000);
    for (const key of keys) {
      const got = await sim.settle(within(sim, writer.core.get(key), 5_000), 6_000);
      expect(got.ok).toBe(true);
      expect((await sim.settle(within(sim, writer.core.delete(key, { context: got.ok ? got.value.context : '' }), 5_000), 6_000)).ok).toBe(true);
    }
    await sim.runFor(GRACE_MS + 30_000);
    const missedByN3 = keys.filter((key) => sim.crashed.get('n3')!.objects.has(key));
    expect(missedByN3.length, 'n3 holds old values of some keys').toBeGreaterThan(0);
    expect(keys.every((key) => holders(sim, key).length > 0), 'nothing purged while n3 is away').toBe(true);
    expect(purgedCount(sim)).toBe(0);
    expect(sim.liveIds().reduce((sum, id) => sum + sim.node(id).core.stats().purgeRoundsBlocked, 0)).toBeGreaterThan(0);
    await sim.restart('n3');
    await sim.runUntilPolled(() => keys.every((key) => holders(sim, key).length === 0), 120_000, 1_000);
    expect(keys.filter((key) => holders(sim, key).length > 0), 'purged everywhere once n3 took the deletes').toEqual([]);
    for (const key of keys.slice(0, 10)) {
      const got = await sim.settle(within(sim, sim.node('n3').core.get(key), 5_000), 6_000);
      expect(got.ok && got.value.siblings.length, key).toBe(0);
    }
  });
});
