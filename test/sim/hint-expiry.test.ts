/**
 * Hints for a node that never comes back (issue 20: "nothing grows forever"). A tab closed for good,
 * and never removed, stays a member: every write of its keys leaves a hint with a fallback, and
 * before `hintTtlMs` those hints were kept forever. Now a hint older than that goes to the key's
 * other replicas and is dropped once one of them holds it, so the node would still be repaired by
 * anti-entropy if it ever returned; a hint no other replica could take stays.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from './harness.js';
import { countHints, homeReplicas, within } from './workload.js';

const TTL_MS = 30_000;

describe('hint expiry', () => {
  for (const seed of [4, 8]) {
    it(`seed ${seed}: hints for a node gone for good expire after hintTtlMs, each once another replica holds it; every write stays readable`, async () => {
      const sim = new Simulation({ seed, nodes: 5, config: { hintTtlMs: TTL_MS } });
      await sim.start();
      expect(await sim.settleCluster(30_000), `seed=${seed}`).toBe(true);
      sim.crash('n3');
      await sim.runFor(15_000);
      const keys: string[] = [];
      for (let i = 0; keys.length < 40; i++) if (homeReplicas(sim, `gone-${i}`).includes('n3')) keys.push(`gone-${i}`);
      const writer = sim.node('n0');
      for (const key of keys) {
        const put = await sim.settle(within(sim, writer.core.put(key, { key }), 5_000), 6_000);
        expect(put.ok, `seed=${seed} ${key}: ${put.ok ? '' : put.error}`).toBe(true);
      }
      const held = (await countHints(sim))!;
      expect(held, `seed=${seed}: writes of n3's keys left hints for it`).toBeGreaterThanOrEqual(keys.length);
      // Before the TTL the hints stay (n3 might come back).
      await sim.runFor(TTL_MS - 10_000);
      expect(await countHints(sim)).toBe(held);
      await sim.runFor(20_000);
      const expired = sim.liveIds().reduce((sum, id) => sum + sim.node(id).core.stats().hintsExpired, 0);
      const events = sim.liveIds().flatMap((id) => sim.node(id).events.filter((e) => e.type === 'hints-expired'));
      console.log(`seed ${seed}: ${held} hints held for n3, ${expired} expired after ${TTL_MS} ms`);
      expect(await countHints(sim), `seed=${seed}: hints left`).toBe(0);
      expect(expired).toBe(held);
      expect(events.every((e) => e.type === 'hints-expired' && e.intendedFor === 'n3')).toBe(true);
      // Every write is still held by two replicas, so readable with R = 2 without n3.
      for (const key of keys) {
        const got = await sim.settle(within(sim, sim.node('n1').core.get(key), 5_000), 6_000);
        expect(got.ok && got.value.siblings.map((s) => s.value), `seed=${seed} ${key}`).toEqual([{ key }]);
      }
    });
  }

  it('a hint that no other replica could take stays, and is dropped once one can', async () => {
    const seed = 21;
    const sim = new Simulation({ seed, nodes: 5, config: { hintTtlMs: TTL_MS } });
    await sim.start();
    expect(await sim.settleCluster(30_000)).toBe(true);
    const key = (() => {
      for (let i = 0; ; i++) if (homeReplicas(sim, `alone-${i}`).includes('n3') && !homeReplicas(sim, `alone-${i}`).includes('n0')) return `alone-${i}`;
    })();
    const others = homeReplicas(sim, key).filter((id) => id !== 'n3');
    sim.crash('n3');
    await sim.runFor(15_000);
    const put = await sim.settle(within(sim, sim.node('n0').core.put(key, 'v'), 5_000), 6_000);
    expect(put.ok).toBe(true);
    expect(await countHints(sim)).toBeGreaterThan(0);
    // The key's other replicas are cut off from every hint holder past the TTL: nothing may be dropped.
    sim.setPartition({ mode: 'halves', groups: [others, sim.liveIds().filter((id) => !others.includes(id))] });
    await sim.runFor(TTL_MS + 10_000);
    expect(await countHints(sim), 'the hint stays while no other replica can take it').toBeGreaterThan(0);
    sim.setPartition(null);
    await sim.runFor(20_000);
    expect(await countHints(sim)).toBe(0);
    expect(sim.liveIds().reduce((sum, id) => sum + sim.node(id).core.stats().hintsExpired, 0)).toBeGreaterThan(0);
  });
});
