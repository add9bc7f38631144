/**
 * One anti-entropy exchange (src/core/anti-entropy.ts, paper §4.7) between node `a` and a fake peer
 * `b` that answers from its own store and in-process Merkle trees: the keys found different are
 * repaired both ways (siblings kept), this node's versions of them are read in one call per
 * partition, and the merges of what it pulls run together rather than one after the other (the store
 * commits concurrent writes together). The whole-cluster behaviour, with faults, is in
 * test/sim/anti-entropy.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AntiEntropy, DEFAULT_ANTI_ENTROPY_CONFIG, type AntiEntropyRequest } from '../../../src/core/anti-entropy.js';
import { InProcessMerkleService } from '../../../src/core/merkle-service.js';
import type { ReplyMessage } from '../../../src/core/messages.js';
import { Ring } from '../../../src/core/ring.js';
import type { VersionSet } from '../../../src/core/types.js';
import { encodeValue } from '../../../src/core/value-codec.js';
import { mergeVersionSets, versionSetsEqual } from '../../../src/core/version-set.js';
import { MemoryStore } from '../../../src/storage/memory-store.js';

/** One write of `value` by `node`, its `counter`-th. */
function write(node: string, counter: number, value: unknown): VersionSet {
  return { clock: [{ node, counter, timestampMs: counter }], siblings: [{ dot: { node, counter, timestampMs: counter }, data: encodeValue(value) }] };
}

/** A replica: a store and its trees, over a ring of two partitions both nodes replicate. */
async function replica(ring: Ring) {
  const store = new MemoryStore();
  const merkle = await InProcessMerkleService.build(store, () => ring);
  const put = async (key: string, versions: VersionSet): Promise<void> => {
    const merged = mergeVersionSets(await store.getObject(key), versions);
    await store.putObject(key, merged);
    await merkle.update(key, merged);
  };
  return { store, merkle, put };
}

describe('anti-entropy repairs', () => {
  it('repair the differing keys both ways, reading this node\'s versions at once and merging together', async () => {
    const ring = Ring.build(
      ['a', 'b'].map((id) => ({ id, capacity: 1, joinedAtMs: 0 })),
      2,
    );
    const a = await replica(ring);
    const b = await replica(ring);
    for (let i = 0; i < 20; i++) {
      await a.put(`same-${i}`, write('a', i + 1, i));
      await b.put(`same-${i}`, write('a', i + 1, i));
    }
    for (let i = 0; i < 5; i++) await a.put(`only-a-${i}`, write('a', 100 + i, i));
    for (let i = 0; i < 5; i++) await b.put(`only-b-${i}`, write('b', 100 + i, i));
    // Concurrent writes of one key on each side: the repair keeps both as siblings.
    for (let i = 0; i < 3; i++) {
      await a.put(`both-${i}`, write('a', 200 + i, `a${i}`));
      await b.put(`both-${i}`, write('b', 200 + i, `b${i}`));
    }
    const reads: string[][] = [];
    let merging = 0;
    let mostMerging = 0;
    const engine = new AntiEntropy(DEFAULT_ANTI_ENTROPY_CONFIG, {
      self: 'a',
      n: () => 2,
      ring: () => ring,
      isHealthy: () => true,
      request: async (_to, body: AntiEntropyRequest): Promise<ReplyMessage> => {
        switch (body.type) {
          case 'ae-roots':
            return { type: 'ae-hashes-reply', requestId: 0, hashes: await b.merkle.roots(body.partitions) };
          case 'ae-hashes':
            return { type: 'ae-hashes-reply', requestId: 0, hashes: await b.merkle.hashes(body.partition, body.level, body.indices) };
          case 'ae-leaves':
            return { type: 'ae-leaves-reply', requestId: 0, items: await b.merkle.leafItems(body.partition, body.leaves) };
          case 'ae-fetch':
            return { type: 'ae-fetch-reply', requestId: 0, versions: (await b.store.getObjects(body.keys)).map((v) => v ?? null) };
          case 'replica-put':
            await b.put(body.key, body.versions);
            return { type: 'replica-put-reply', requestId: 0 };
        }
      },
      merkle: a.merkle,
      localObjects: async (keys) => {
        reads.push([...keys]);
        return a.store.getObjects(keys);
      },
      mergeLocal: async (key, versions) => {
        merging++;
        mostMerging = Math.max(mostMerging, merging);
        await new Promise((resolve) => setImmediate(resolve));
        await a.put(key, versions);
        merging--;
      },
      random: { next: () => 0.5 },
      timeoutMs: () => 1_000,
      onExchange: () => undefined,
      onPartitionState: () => undefined,
    });
    const report = await engine.exchange('b', 0);
    const pulled = [...Array(5).keys()].map((i) => `only-b-${i}`).concat([...Array(3).keys()].map((i) => `both-${i}`));
    const differing = pulled.concat([...Array(5).keys()].map((i) => `only-a-${i}`));
    const partitions = [...new Set(differing.map((key) => ring.partitionOfKey(key)))].sort();
    expect(report).toMatchObject({ partitionsDiffering: partitions, keysDiffering: 13, keysPulled: 8, keysPushed: 8 });
    // Every key now holds the same versions on both sides, the concurrent writes as two siblings.
    const keys = (await a.store.listKeys()).sort();
    expect(keys).toEqual((await b.store.listKeys()).sort());
    expect(keys).toHaveLength(33);
    for (const key of keys) expect(versionSetsEqual(await a.store.getObject(key), await b.store.getObject(key)), key).toBe(true);
    for (let i = 0; i < 3; i++) expect((await a.store.getObject(`both-${i}`))!.siblings).toHaveLength(2);
    expect(await a.merkle.roots([0, 1])).toEqual(await b.merkle.roots([0, 1]));
    // One read of this node's versions per partition repaired, and each partition's pulls merged together.
    expect(reads.map((keysRead) => keysRead.sort())).toEqual(partitions.map((p) => differing.filter((key) => ring.partitionOfKey(key) === p).sort()));
    expect(mostMerging).toBe(Math.max(...partitions.map((p) => pulled.filter((key) => ring.partitionOfKey(key) === p).length)));
    expect(mostMerging).toBeGreaterThan(1);
  });

  it('an idle node backs off: the period doubles after every peer was found in sync, up to the cap, and a change restores it', async () => {
    const ring = Ring.build(
      ['a', 'b', 'c'].map((id) => ({ id, capacity: 1, joinedAtMs: 0 })),
      4,
    );
    const a = await replica(ring);
    await a.put('k', write('a', 1, 'v'));
    const rounds: number[] = [];
    let nowMs = 0;
    let differ = false;
    const engine = new AntiEntropy(
      { ...DEFAULT_ANTI_ENTROPY_CONFIG, antiEntropyIntervalMs: 1000, antiEntropyMaxBackoff: 4 },
      {
        self: 'a',
        n: () => 3,
        ring: () => ring,
        isHealthy: () => true,
        request: async (_to, body: AntiEntropyRequest): Promise<ReplyMessage> => {
          if (body.type === 'ae-roots') {
            rounds.push(nowMs);
            // The peers hold what this node holds, unless told to differ (then every hash differs).
            const roots = await a.merkle.roots(body.partitions);
            return { type: 'ae-hashes-reply', requestId: 0, hashes: differ ? roots.map(() => new Uint8Array(16)) : roots };
          }
          if (body.type === 'ae-hashes') return { type: 'ae-hashes-reply', requestId: 0, hashes: body.indices.map(() => new Uint8Array(16)) };
          if (body.type === 'ae-leaves') return { type: 'ae-leaves-reply', requestId: 0, items: [] };
          return { type: 'ae-fetch-reply', requestId: 0, versions: [] };
        },
        merkle: a.merkle,
        localObjects: (keys) => a.store.getObjects(keys),
        mergeLocal: (key, versions) => a.put(key, versions),
        random: { next: () => 0.5 },
        timeoutMs: () => 1_000,
        onExchange: () => undefined,
        onPartitionState: () => undefined,
      },
    );
    const runUntil = async (endMs: number): Promise<void> => {
      for (; nowMs <= endMs; nowMs += 100) {
        engine.tick(nowMs);
        for (let i = 0; i < 20; i++) await Promise.resolve();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await runUntil(20_000);
    // Two peers: two rounds at each period, 1 s, then 2 s, then 4 s (the cap), and 4 s from then on.
    expect(rounds).toEqual([0, 1000, 2000, 4000, 6000, 10_000, 14_000, 18_000]);
    expect(engine.currentBackoff()).toBe(4);
    // A change at 20.1 s: the round due at 22 s comes at once (one interval after the last one, at 18 s,
    // has passed), and the period is the interval again.
    engine.changed();
    expect(engine.currentBackoff()).toBe(1);
    await runUntil(22_000);
    expect(rounds.slice(8)).toEqual([20_100, 21_100]);
    // Rounds that find differences keep the period at the interval.
    differ = true;
    await runUntil(30_000);
    expect(rounds.slice(10)).toEqual([22_100, 23_100, 24_100, 25_100, 26_100, 27_100, 28_100, 29_100]);
    expect(engine.currentBackoff()).toBe(1);
  });
});
