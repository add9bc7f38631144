/**
 * A node whose own event loop stalls (issue 20: "a detector not fooled by load"). A tab on a saturated
 * CPU, or running a long task, handles nothing for a while; when it runs again, its clock has jumped
 * while the replies that came meanwhile still wait in its task queue. A node that then expires its
 * requests and judges its peers by that clock blames them for its own slowness: it suspects them,
 * sends its writes to fallbacks, and every such write becomes a hint to be handed back later.
 *
 * Here n2 of a five-node cluster coordinates a steady stream of writes while its event loop stalls
 * for 1.5 s, five times. What it decides about others must not change: no peer suspected, no write
 * sent to a fallback or kept as a hint because of the stalls, no write failed.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from './harness.js';
import { homeReplicas } from './workload.js';

const SEEDS = [3, 14, 15];
const STALLS = 5;
const STALL_MS = 1_500;

describe('a node whose event loop stalls', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: blames no peer for its own stalls (no suspicion, no fallback write, no hint)`, async () => {
      const sim = new Simulation({ seed, nodes: 5 });
      await sim.start();
      expect(await sim.settleCluster(30_000), `cluster did not settle (seed=${seed})`).toBe(true);
      const n2 = sim.node('n2');
      // Keys n2 is a replica of: it coordinates them itself, with replica-puts in flight when it stalls.
      const keys: string[] = [];
      for (let i = 0; keys.length < 400; i++) if (homeReplicas(sim, `stall-${i}`).includes('n2')) keys.push(`stall-${i}`);
      const since = new Map(sim.liveIds().map((id) => [id, sim.node(id).events.length]));
      let next = 0;
      let acked = 0;
      const failures: string[] = [];
      let writing = true;
      const write = (): void => {
        if (!writing || next >= keys.length) return;
        const key = keys[next++]!;
        n2.core.put(key, { n: next }).then(
          () => acked++,
          (error: unknown) => failures.push(`${key}: ${String(error)}`),
        );
        sim.schedule(20, write);
      };
      write();
      for (let i = 0; i < STALLS; i++) {
        await sim.runFor(700);
        sim.stall('n2', STALL_MS);
        await sim.runFor(STALL_MS + 100);
      }
      writing = false;
      await sim.runFor(5_000);
      const eventsSince = (id: string) => sim.node(id).events.slice(since.get(id));
      const suspected = eventsSince('n2').filter((e) => e.type === 'reachability' && e.to !== 'alive');
      const hints = sim.liveIds().flatMap((id) => eventsSince(id).filter((e) => e.type === 'hint-stored').map((e) => ({ at: id, ...e })));
      const stats = n2.core.stats();
      console.log(`seed ${seed}: ${acked} writes acknowledged, ${failures.length} failed; n2 suspected ${suspected.length} times; ${hints.length} hints stored; fallback writes ${stats.fallbackWrites}; stalls noticed ${stats.localStalls}`);
      expect(stats.localStalls, `seed=${seed}`).toBe(STALLS);
      expect(suspected, `seed=${seed}: n2 suspected peers because it was slow itself`).toEqual([]);
      expect(hints, `seed=${seed}: writes kept as hints because n2 was slow`).toEqual([]);
      expect(stats.fallbackWrites, `seed=${seed}`).toBe(0);
      expect(failures, `seed=${seed}`).toEqual([]);
      expect(acked).toBeGreaterThan(100);
    });
  }
});
