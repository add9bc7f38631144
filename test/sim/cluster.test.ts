/**
 * Seeded simulations of a 5-node cluster on the in-memory network and stores (issue: a working cluster).
 * Every failure message carries the seed and options that replay it.
 */
import { describe, expect, it } from 'vitest';
import { decodeValue } from '../../src/core/value-codec.js';
import { mergeVersionSets } from '../../src/core/version-set.js';
import type { VersionSet } from '../../src/core/types.js';
import { Simulation } from './harness.js';

const SEEDS = [1, 2, 3, 42, 1234];

async function cluster(seed: number, faults = {}): Promise<Simulation> {
  const sim = new Simulation({ seed, nodes: 5, faults });
  await sim.start();
  const converged = await sim.settleCluster(30_000);
  expect(converged, `membership did not converge (${sim.describe()})`).toBe(true);
  return sim;
}

/** The replicas' stored version sets of `key`, by node. */
async function replicaStates(sim: Simulation, key: string): Promise<Map<string, VersionSet | undefined>> {
  const states = new Map<string, VersionSet | undefined>();
  for (const node of sim.nodes.values()) states.set(node.id, await node.store.getObject(key));
  return states;
}

describe('a 5-node simulated cluster', () => {
  it.each(SEEDS)('every node computes the same ring after gossip (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const rings = [...sim.nodes.values()].map((n) => n.core.ring().owners().join(','));
    expect(new Set(rings).size, sim.describe()).toBe(1);
    expect(sim.node('n0').core.ring().members.length).toBe(5);
  });

  it.each(SEEDS)('a put on one node is read on every other, stored on exactly its N replicas (seed %i)', async (seed) => {
    const sim = await cluster(seed, { delayMinMs: 1, delayMaxMs: 20 });
    const keys = Array.from({ length: 40 }, (_, i) => `key-${seed}-${i}`);
    // Concurrent puts from different nodes.
    await sim.settle(Promise.all(keys.map((key, i) => sim.node(`n${i % 5}`).core.put(key, { i, key }))));
    // Concurrent gets from other nodes.
    const gets = await sim.settle(Promise.all(keys.map((key, i) => sim.node(`n${(i + 2) % 5}`).core.get(key))));
    gets.forEach((got, i) => {
      expect(got.siblings.map((s) => s.value), `${keys[i]} (${sim.describe()})`).toEqual([{ i, key: keys[i] }]);
    });
    // Let background replication finish, then check placement.
    await sim.runFor(2_000);
    for (const key of keys) {
      const replicas = sim.node('n0').core.preferenceList(key).slice(0, 3);
      const states = await replicaStates(sim, key);
      const holders = [...states].filter(([, v]) => v !== undefined).map(([id]) => id).sort();
      expect(holders, `${key} (${sim.describe()})`).toEqual([...replicas].sort());
    }
  });

  it.each(SEEDS)('two writes with the same context become siblings; a put with the merged context collapses them everywhere (seed %i)', async (seed) => {
    const sim = await cluster(seed, { delayMinMs: 1, delayMaxMs: 10 });
    const key = `cart-${seed}`;
    const first = await sim.settle(sim.node('n1').core.put(key, { items: ['book'] }));
    const read = await sim.settle(sim.node('n2').core.get(key));
    expect(read.siblings).toHaveLength(1);
    // Two clients write concurrently with the same context, through different nodes.
    const [a, b] = await sim.settle(
      Promise.all([
        sim.node('n3').core.put(key, { items: ['book', 'pen'] }, { context: read.context }),
        sim.node('n4').core.put(key, { items: ['book', 'lamp'] }, { context: read.context }),
      ]),
    );
    expect(a.version).not.toEqual(b.version);
    await sim.runFor(1_000);
    const conflicted = await sim.settle(sim.node('n0').core.get(key, { r: 3 }));
    expect(conflicted.siblings.map((s) => s.value).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))), sim.describe()).toEqual([
      { items: ['book', 'lamp'] },
      { items: ['book', 'pen'] },
    ]);
    // The first version was overwritten by both: it is not a sibling any more.
    expect(conflicted.siblings.map((s) => s.version)).not.toContainEqual(first.version);
    // A client merges and writes with the merged context: one version remains, on every replica.
    await sim.settle(sim.node('n2').core.put(key, { items: ['book', 'lamp', 'pen'] }, { context: conflicted.context }));
    await sim.runFor(1_000);
    for (const node of sim.nodes.values()) {
      const got = await sim.settle(node.core.get(key, { r: 3 }));
      expect(got.siblings.map((s) => s.value), `${node.id} (${sim.describe()})`).toEqual([{ items: ['book', 'lamp', 'pen'] }]);
    }
    const replicas = sim.node('n0').core.preferenceList(key).slice(0, 3);
    for (const [id, state] of await replicaStates(sim, key)) {
      if (!replicas.includes(id)) continue;
      expect(state?.siblings.map((s) => decodeValue(s.data!)), `replica ${id} (${sim.describe()})`).toEqual([{ items: ['book', 'lamp', 'pen'] }]);
    }
  });

  it.each(SEEDS)('a delete leaves a tombstone that hides the value; a delete concurrent with a write keeps both (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const key = `note-${seed}`;
    await sim.settle(sim.node('n0').core.put(key, 'draft'));
    const read = await sim.settle(sim.node('n1').core.get(key));
    const deleted = await sim.settle(sim.node('n2').core.delete(key, { context: read.context }));
    expect(deleted.acks).toBeGreaterThanOrEqual(2);
    const afterDelete = await sim.settle(sim.node('n3').core.get(key, { r: 3 }));
    expect(afterDelete.siblings, sim.describe()).toEqual([]);
    // The tombstone is stored (not a missing key): replicas hold a sibling with null data.
    const states = await replicaStates(sim, key);
    const tombstones = [...states.values()].filter((v) => v?.siblings.length === 1 && v.siblings[0]!.data === null);
    expect(tombstones.length).toBeGreaterThanOrEqual(2);
    // Edit vs delete with the same context: both survive as siblings.
    const again = await sim.settle(sim.node('n0').core.put(key, 'v2', { context: afterDelete.context }));
    const ctx = (await sim.settle(sim.node('n1').core.get(key, { r: 3 }))).context;
    await sim.settle(Promise.all([sim.node('n2').core.put(key, 'edited', { context: ctx }), sim.node('n3').core.delete(key, { context: ctx })]));
    await sim.runFor(500);
    const conflict = await sim.settle(sim.node('n4').core.get(key, { r: 3 }));
    expect(conflict.siblings.map((s) => (s.deleted ? '(deleted)' : s.value)).sort(), sim.describe()).toEqual(['(deleted)', 'edited']);
    expect(again.acks).toBeGreaterThanOrEqual(2);
  });

  it.each(SEEDS)('interleaved stale-context writers never pile up siblings (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const key = `counter-${seed}`;
    let contextA = '';
    let contextB = '';
    for (let i = 0; i < 30; i++) {
      contextA = (await sim.settle(sim.node('n1').core.put(key, `a${i}`, { context: contextA }))).context;
      contextB = (await sim.settle(sim.node('n3').core.put(key, `b${i}`, { context: contextB }))).context;
      const got = await sim.settle(sim.node('n0').core.get(key, { r: 3 }));
      expect(got.siblings.length, `step ${i} (${sim.describe()})`).toBeLessThanOrEqual(2);
    }
    const final = await sim.settle(sim.node('n2').core.get(key, { r: 3 }));
    expect(final.siblings.map((s) => s.value).sort()).toEqual(['a29', 'b29']);
  });

  it.each(SEEDS)('concurrent gets and puts under message loss and duplication converge to one merged state (seed %i)', async (seed) => {
    const sim = await cluster(seed, { lossProbability: 0.05, duplicateProbability: 0.05, delayMinMs: 1, delayMaxMs: 30 });
    const key = `hot-${seed}`;
    const acknowledged: string[] = [];
    const ops = Array.from({ length: 20 }, (_, i) =>
      sim
        .node(`n${i % 5}`)
        .core.put(key, `w${i}`, { timeoutMs: 2_000 })
        .then(() => acknowledged.push(`w${i}`))
        .catch(() => undefined),
    );
    await sim.settle(Promise.all(ops));
    sim.network.faults.lossProbability = 0;
    sim.network.faults.duplicateProbability = 0;
    // Blind writes (no context) are all concurrent: every acknowledged one must be a sibling.
    const got = await sim.settle(sim.node('n0').core.get(key, { r: 3 }));
    const values = got.siblings.map((s) => s.value as string);
    for (const w of acknowledged) expect(values, `${w} lost (${sim.describe()})`).toContain(w);
    // Read repair brings all replicas to the merged state.
    await sim.runFor(2_000);
    const replicas = sim.node('n0').core.preferenceList(key).slice(0, 3);
    const states = await replicaStates(sim, key);
    const merged = replicas.map((id) => states.get(id)).reduce<VersionSet | undefined>((acc, v) => mergeVersionSets(acc, v), undefined);
    for (const id of replicas) {
      expect(states.get(id)?.siblings.map((s) => s.dot), `replica ${id} (${sim.describe()})`).toEqual(merged?.siblings.map((s) => s.dot));
    }
  });

  it('a malformed message is dropped and counted, and the node keeps serving', async () => {
    const sim = await cluster(7);
    const target = sim.node('n2');
    const before = target.core.stats().messagesDropped;
    sim.network.sendBytes('n1', 'n2', new Uint8Array([0xc1, 0xff, 0x00])); // not MessagePack
    target.core.receive('n1', { type: 'replica-put', requestId: 1, key: 'k', versions: { clock: 'nope', siblings: [] } });
    target.core.receive('n1', { type: 'gossip', members: [{ id: 'BAD ID', capacity: 1, status: 'up', version: 1 }], reply: true });
    target.core.receive('n1', null);
    await sim.runFor(100);
    const stats = target.core.stats();
    expect(stats.messagesDropped - before).toBe(4);
    expect(target.core.members().map((m) => m.id)).not.toContain('BAD ID');
    await sim.settle(target.core.put('after', 'still works'));
    const got = await sim.settle(sim.node('n4').core.get('after'));
    expect(got.siblings.map((s) => s.value)).toEqual(['still works']);
  });
});
