/**
 * Anti-entropy alone (paper §4.7): replicas made to diverge with hinted handoff turned off — writes
 * with W = 1 on both sides of a partition, a node whose objects were lost, random drops — become
 * identical without any client read, and no acknowledged write is lost. Every failure names its seed.
 */
import { describe, expect, it } from 'vitest';
import type { NodeConfig } from '../../src/core/node-config.js';
import type { NodeId } from '../../src/core/types.js';
import { decodeValue } from '../../src/core/value-codec.js';
import { Simulation } from './harness.js';
import { awaitQuiescence, homeReplicas, replicaStates } from './workload.js';

const SEEDS = [3, 14, 15, 92, 65];
/** Hints off, so that only anti-entropy can repair; no read repair happens because no client reads. */
const NO_HINTS: Partial<NodeConfig> = { hintedHandoff: false };

async function cluster(seed: number, config: Partial<NodeConfig> = NO_HINTS): Promise<Simulation> {
  const sim = new Simulation({ seed, nodes: 5, config });
  await sim.start();
  expect(await sim.settleCluster(30_000), `cluster did not settle (seed=${seed})`).toBe(true);
  return sim;
}

/** The values stored on every home replica of `key`, as sorted JSON, per replica. */
function storedValues(sim: Simulation, key: string): Map<NodeId, string[]> {
  const out = new Map<NodeId, string[]>();
  for (const [id, state] of replicaStates(sim, [key]).get(key) ?? []) {
    out.set(id, (state?.siblings ?? []).map((s) => (s.data === null ? '(deleted)' : JSON.stringify(decodeValue(s.data)))).sort());
  }
  return out;
}

async function putAcknowledged(sim: Simulation, via: NodeId, key: string, value: unknown, w: number): Promise<boolean> {
  try {
    await sim.settle(sim.node(via).core.put(key, value, { w, timeoutMs: 2000 }), 10_000);
    return true;
  } catch {
    return false;
  }
}

describe('anti-entropy repairs divergent replicas without hints or reads', () => {
  it.each(SEEDS)('writes with W = 1 on both sides of a 2|3 partition meet on every replica after the heal (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const ids = sim.liveIds();
    const left = ids.slice(0, 2);
    const right = ids.slice(2);
    sim.setPartition({ mode: 'halves', groups: [left, right] });
    const keys = Array.from({ length: 40 }, (_, i) => `ae-${seed}-${i}`);
    const acknowledged: { key: string; value: string }[] = [];
    for (const [i, key] of keys.entries()) {
      for (const side of [left, right]) {
        const via = side[i % side.length]!;
        const value = `${key}@${via}`;
        if (await putAcknowledged(sim, via, key, value, 1)) acknowledged.push({ key, value });
      }
    }
    expect(acknowledged.length, `writes acknowledged during the partition (seed=${seed})`).toBeGreaterThan(keys.length);
    // Right after the heal the replicas disagree…
    await sim.healAll();
    const diverged = keys.filter((key) => new Set([...storedValues(sim, key).values()].map((v) => v.join('|'))).size > 1);
    expect(diverged.length, `replicas diverged during the partition (seed=${seed})`).toBeGreaterThan(0);
    // …and anti-entropy alone levels them: no hints exist, no client reads.
    const outcome = await awaitQuiescence(sim, keys, 60_000);
    expect(outcome.divergent, `replicas still differ 60 s after the heal (seed=${seed})`).toEqual([]);
    for (const { key, value } of acknowledged) {
      for (const [replica, values] of storedValues(sim, key)) {
        expect(values, `${key} on ${replica} lost ${value} (seed=${seed})`).toContain(JSON.stringify(value));
      }
    }
    const rounds = [...sim.nodes.values()].reduce((sum, n) => sum + n.core.stats().antiEntropyRepairs, 0);
    expect(rounds, 'repairs were made by anti-entropy').toBeGreaterThan(0);
    // The event stream shows it per partition (for the ring explorer), and the final state is in sync.
    const syncEvents = [...sim.nodes.values()].flatMap((n) => n.events.filter((e) => e.type === 'partition-sync'));
    expect(syncEvents.some((e) => e.type === 'partition-sync' && e.keysRepaired > 0)).toBe(true);
    await sim.runFor(5_000);
    const states = [...sim.nodes.values()].flatMap((n) => n.core.syncStates());
    expect(states.length).toBeGreaterThan(0);
    expect(states.filter((st) => !st.inSync), `partitions still out of sync (seed=${seed})`).toEqual([]);
  });

  it.each(SEEDS)('a node that lost its objects (but not its identity) gets every replica back (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const keys = Array.from({ length: 60 }, (_, i) => `lost-${seed}-${i}`);
    for (const [i, key] of keys.entries()) expect(await putAcknowledged(sim, `n${i % 5}`, key, i, 3)).toBe(true);
    const victim = 'n2';
    const held = keys.filter((key) => homeReplicas(sim, key).includes(victim));
    expect(held.length).toBeGreaterThan(0);
    sim.crash(victim);
    // The stored objects are gone (a corrupted or deleted object store); its meta records survive, so
    // it keeps its id: only anti-entropy can give the data back.
    sim.crashed.get(victim)!.objects.clear();
    await sim.restart(victim);
    const outcome = await awaitQuiescence(sim, keys, 60_000);
    expect(outcome.divergent, `seed=${seed}`).toEqual([]);
    for (const key of held) expect(sim.node(victim).data.objects.has(key), `${key} back on ${victim} (seed=${seed})`).toBe(true);
  });

  it.each(SEEDS)('writes under 30% message loss with W = 1 end identical on every replica (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    sim.setNetworkFaults({ lossProbability: 0.3 });
    const keys = Array.from({ length: 30 }, (_, i) => `lossy-${seed}-${i}`);
    const acknowledged: { key: string; value: number }[] = [];
    for (const [i, key] of keys.entries()) if (await putAcknowledged(sim, `n${i % 5}`, key, i, 1)) acknowledged.push({ key, value: i });
    await sim.healAll();
    const outcome = await awaitQuiescence(sim, keys, 60_000);
    expect(outcome.divergent, `seed=${seed}`).toEqual([]);
    for (const { key, value } of acknowledged) {
      for (const [replica, values] of storedValues(sim, key)) expect(values, `${key} on ${replica} (seed=${seed})`).toContain(JSON.stringify(value));
    }
  });

  it('a delete reaches a replica that missed it, and the old value is not resurrected', async () => {
    const sim = await cluster(7);
    const key = 'deleted-once';
    expect(await putAcknowledged(sim, 'n0', key, 'alive', 3)).toBe(true);
    const [, , last] = homeReplicas(sim, key) as [NodeId, NodeId, NodeId];
    // The last replica is cut off while the delete happens with W = 1 on another replica.
    const others = sim.liveIds().filter((id) => id !== last);
    sim.setPartition({ mode: 'halves', groups: [[last], others] });
    const coordinator = homeReplicas(sim, key).find((id) => id !== last)!;
    const read = await sim.settle(sim.node(coordinator).core.get(key, { r: 1 }));
    await sim.settle(sim.node(coordinator).core.delete(key, { context: read.context, w: 1 }));
    await sim.healAll();
    const outcome = await awaitQuiescence(sim, [key], 60_000);
    expect(outcome.divergent).toEqual([]);
    for (const [replica, values] of storedValues(sim, key)) expect(values, replica).toEqual(['(deleted)']);
    const got = await sim.settle(sim.node(last).core.get(key, { r: 3 }));
    expect(got.siblings).toEqual([]);
  });
});
