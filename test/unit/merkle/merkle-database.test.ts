/**
 * The Merkle worker's scan of a node's database (src/merkle/merkle-database.ts) and the build it feeds
 * (src/merkle/merkle-forest.ts `fillForest`), in Node over fake-indexeddb: the same code the worker
 * runs, without the worker. A scan reads every record once, in key order, in chunks whose size follows
 * the read rate within its bounds; a forest filled from the chunks has the roots, counts and items of
 * trees told of every key one update at a time (what the node's writes do), whatever the chunk sizes.
 * The worker itself, in Chromium, is covered by test/e2e/merkle-worker.test.ts.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { InProcessMerkleService } from '../../../src/core/merkle-service.js';
import { Ring } from '../../../src/core/ring.js';
import type { VersionSet } from '../../../src/core/types.js';
import { openExisting, readChunk, scanChunks, type ScanChunkOptions, type ScannedChunk } from '../../../src/merkle/merkle-database.js';
import { fillForest, Forest } from '../../../src/merkle/merkle-forest.js';
import { IdbStore } from '../../../src/storage/idb-store.js';

const Q = 256;
let databases = 0;

/** A version set of key `i`, written `round` times by one of three nodes. */
function versionsOf(i: number, round = 1): VersionSet {
  const node = ['n1', 'n2', 'n3'][i % 3]!;
  return { clock: [{ node, counter: round, timestampMs: i }], siblings: [{ dot: { node, counter: round, timestampMs: i }, data: Uint8Array.of(i & 0xff, round) }] };
}

/** A node database holding `count` keys (`key-000000` …), through the store the node uses. */
async function databaseWith(count: number): Promise<{ name: string; store: IdbStore; keys: string[] }> {
  const name = `merkle-scan-${++databases}`;
  const store = await IdbStore.open(name);
  const keys = Array.from({ length: count }, (_, i) => `key-${String(i).padStart(6, '0')}`);
  for (let at = 0; at < count; at += 500) await store.putObjects(keys.slice(at, at + 500).map((key, j) => ({ key, versions: versionsOf(at + j) })));
  return { name, store, keys };
}

async function scanAll(db: IDBDatabase, options: ScanChunkOptions): Promise<ScannedChunk[]> {
  const chunks: ScannedChunk[] = [];
  for await (const chunk of scanChunks(db, 'objects', options)) chunks.push(chunk);
  return chunks;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Roots, key counts and leaf items of every partition of `service`. */
async function snapshot(service: { roots(p: readonly number[]): Promise<Uint8Array[]>; keyCounts(): Promise<Map<number, number>>; leafItems(p: number, l: readonly number[]): Promise<{ key: string; digest: Uint8Array }[]> }) {
  const partitions = Array.from({ length: Q }, (_, p) => p);
  const roots = (await service.roots(partitions)).map(hex);
  const counts = Object.fromEntries([...(await service.keyCounts())].sort(([a], [b]) => a - b));
  const leaves = Array.from({ length: 256 }, (_, l) => l);
  const items: string[] = [];
  for (const p of partitions) for (const item of await service.leafItems(p, leaves)) items.push(`${p} ${item.key} ${hex(item.digest)}`);
  return { roots, counts, items };
}

/** A forest seen through the questions `snapshot` asks. */
function forestView(forest: Forest) {
  const empty = new Uint8Array(16);
  return {
    roots: async (partitions: readonly number[]) => partitions.map((p) => forest.trees.get(p)?.root() ?? empty),
    keyCounts: async () => new Map([...forest.trees].map(([p, tree]) => [p, tree.size])),
    leafItems: async (p: number, leaves: readonly number[]) => leaves.flatMap((leaf) => forest.trees.get(p)?.leafItems(leaf) ?? []).sort((a, b) => (a.key < b.key ? -1 : 1)),
  };
}

describe('scanChunks', () => {
  it('reads every record once, in key order, each value with its key', async () => {
    const { name, store, keys } = await databaseWith(2_345);
    const db = (await openExisting(name))!;
    const chunks = await scanAll(db, { firstCount: 100, minCount: 50, maxCount: 700, targetMs: 1_000 });
    expect(chunks.flatMap((c) => c.keys)).toEqual(keys);
    for (const chunk of chunks) expect(chunk.values.map((v) => (v as VersionSet).siblings[0]!.dot.timestampMs)).toEqual(chunk.keys.map((k) => Number(String(k).slice(4))));
    expect(chunks.length).toBeGreaterThan(3);
    db.close();
    await store.close();
  });

  it('grows a chunk at most twofold and keeps it within its bounds; a slow read shrinks it to the least', async () => {
    const { name, store } = await databaseWith(3_000);
    const db = (await openExisting(name))!;
    // A generous target: each chunk asks for twice the last, up to the most.
    const growing = (await scanAll(db, { firstCount: 100, minCount: 50, maxCount: 700, targetMs: 60_000 })).map((c) => c.keys.length);
    expect(growing.slice(0, 4)).toEqual([100, 200, 400, 700]);
    expect(growing.slice(0, -1).every((n) => n === 700 || n < 700)).toBe(true);
    expect(growing.reduce((a, b) => a + b, 0)).toBe(3_000);
    // An impossible target: every chunk after the first asks for the least.
    const shrinking = (await scanAll(db, { firstCount: 400, minCount: 150, maxCount: 700, targetMs: 1e-9 })).map((c) => c.keys.length);
    expect(shrinking[0]).toBe(400);
    expect(shrinking.slice(1, -1).every((n) => n === 150)).toBe(true);
    expect(shrinking.reduce((a, b) => a + b, 0)).toBe(3_000);
    db.close();
    await store.close();
  });

  it('resumes after the last key read, and ends on a short chunk (an empty store yields one empty chunk)', async () => {
    const { name, store, keys } = await databaseWith(10);
    const db = (await openExisting(name))!;
    const chunk = readChunk(db, 'objects', keys[3], 4);
    expect(await chunk.keys).toEqual(keys.slice(4, 8));
    expect(await chunk.values).toHaveLength(4);
    expect((await scanAll(db, { firstCount: 10, minCount: 1, maxCount: 10, targetMs: 1 })).map((c) => c.keys.length)).toEqual([10, 0]);
    db.close();
    await store.close();
    const empty = await databaseWith(0);
    const emptyDb = (await openExisting(empty.name))!;
    expect((await scanAll(emptyDb, { firstCount: 10, minCount: 1, maxCount: 10, targetMs: 1 })).map((c) => c.keys.length)).toEqual([0]);
    emptyDb.close();
    await empty.store.close();
  });
});

describe('fillForest: a rebuild read in chunks', () => {
  it('gives the roots, counts and items of trees told of every write one update at a time, whatever the chunk size', async () => {
    const { name, store, keys } = await databaseWith(3_000);
    // Some keys written again, some removed: what the store holds now is what counts.
    const told = await InProcessMerkleService.build(await IdbStore.open(`merkle-scan-empty-${++databases}`), () => Ring.build([], Q));
    for (const [i, key] of keys.entries()) await told.update(key, versionsOf(i));
    for (let i = 0; i < keys.length; i += 7) {
      const versions = versionsOf(i, 2);
      await store.putObject(keys[i]!, versions);
      await told.update(keys[i]!, versions);
    }
    for (let i = 3; i < keys.length; i += 11) {
      await store.deleteObject(keys[i]!);
      await told.update(keys[i]!, undefined);
    }
    const expected = await snapshot(told);
    const db = (await openExisting(name))!;
    for (const options of [
      { firstCount: 1, minCount: 1, maxCount: 1, targetMs: 1 },
      { firstCount: 97, minCount: 13, maxCount: 500, targetMs: 5 },
      { firstCount: 5_000, minCount: 5_000, maxCount: 5_000, targetMs: 5 },
    ]) {
      const forest = new Forest(Math.log2(Q));
      const figures = await fillForest(forest, scanChunks(db, 'objects', options), new Map());
      expect(figures.scanned, JSON.stringify(options)).toBe(await store.countObjects());
      expect(figures.skipped).toBe(0);
      expect(await snapshot(forestView(forest)), JSON.stringify(options)).toEqual(expected);
    }
    db.close();
    await store.close();
  });

  it('leaves out keys updated during the build, and counts records that are no version set as skipped', async () => {
    const { name, store, keys } = await databaseWith(50);
    const db = (await openExisting(name))!;
    const chunks = async function* (): AsyncGenerator<ScannedChunk> {
      for await (const chunk of scanChunks(db, 'objects', { firstCount: 20, minCount: 20, maxCount: 20, targetMs: 1 })) yield chunk;
      yield { keys: [7, 'not-a-set', 'bad-clock'], values: [versionsOf(1), { clock: 'x', siblings: [] }, { clock: [null], siblings: [] }], readMs: 0 };
    };
    const forest = new Forest(Math.log2(Q));
    const figures = await fillForest(forest, chunks(), new Map([[keys[0]!, undefined]]));
    expect(figures).toMatchObject({ scanned: 53, skipped: 3, chunks: 4 });
    expect(forest.keys).toBe(49);
    db.close();
    await store.close();
  });
});
