/**
 * The Merkle worker's benchmark page (`bench/merkle.html`), driven by `bench/merkle-bench.ts` and by
 * `test/e2e/merkle-worker.test.ts`. Exposed as `window.merkleBench`: it fills a node database the way
 * `IdbStore` lays it out (batches of 1000 records per transaction), then times the Merkle worker's
 * build, its rebuilds and `update()` calls while watching the main thread for long tasks
 * (`PerformanceObserver`, entry type 'longtask': tasks over 50 ms).
 */
import { openDB } from 'idb';
import { InProcessMerkleService } from '../src/core/merkle-service.js';
import { type MerkleService } from '../src/core/ports.js';
import { Ring } from '../src/core/ring.js';
import type { VersionSet } from '../src/core/types.js';
import { BUILD_SCAN, openExisting, scanChunks } from '../src/merkle/merkle-database.js';
import { WorkerMerkleService, type MerkleWorkerStats } from '../src/merkle/worker-merkle-service.js';
import { IdbStore } from '../src/storage/idb-store.js';

/** Records per write transaction while filling. */
const FILL_BATCH = 1000;
/** Bytes of each record's one sibling, about a small JSON document encoded with MessagePack. */
const VALUE_BYTES = 100;
/** Node ids that coordinated the writes, sorted (a clock is sorted by node id). */
const NODES = ['a7k2m9', 'c9p4q1', 'x3v8z5'];

/** Long tasks seen on the main thread during one measurement. */
export interface LongTasks {
  /** Whether this browser reports 'longtask' entries at all. */
  supported: boolean;
  count: number;
  /** Longest task, ms (0 when none). */
  maxMs: number;
  /** Sum of their durations, ms. */
  totalMs: number;
}

/** One timed operation. */
export interface Timed {
  wallMs: number;
  longTasks: LongTasks;
}

/** The key of record `i`: fixed width, so IndexedDB's key order is numeric order. */
function keyOf(i: number): string {
  return `k:${String(i).padStart(7, '0')}`;
}

/** A version set shaped like the store's: a 2-entry clock and one sibling of {@link VALUE_BYTES} bytes. */
function versionSet(i: number, round: number): VersionSet {
  const at = 1_750_000_000_000 + i;
  const writer = NODES[i % NODES.length]!;
  const other = NODES[(i + 1) % NODES.length]!;
  const clock = [
    { node: writer, counter: round, timestampMs: at },
    { node: other, counter: 1 + (i % 5), timestampMs: at - 1000 },
  ].sort((a, b) => (a.node < b.node ? -1 : 1));
  const data = new Uint8Array(VALUE_BYTES);
  for (let b = 0; b < data.length; b++) data[b] = (i * 31 + b * 7 + round) & 0xff;
  return { clock, siblings: [{ dot: { node: writer, counter: round, timestampMs: at }, data }] };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `body` and reports its wall time and the main thread's long tasks that overlapped it. */
async function watch<T>(body: () => Promise<T>): Promise<{ result: T } & Timed> {
  const supported = PerformanceObserver.supportedEntryTypes.includes('longtask');
  const entries: PerformanceEntry[] = [];
  const observer = supported ? new PerformanceObserver((list) => entries.push(...list.getEntries())) : undefined;
  observer?.observe({ type: 'longtask' });
  // Start the work in a task of its own, begun after the observer was registered, so that a long
  // synchronous burst at the start (as in `updates`) is seen as a long task too.
  await sleep(0);
  const started = performance.now();
  const result = await body();
  const ended = performance.now();
  // Long-task entries are queued after the task ends; give them time to arrive.
  await sleep(250);
  if (observer) {
    entries.push(...observer.takeRecords());
    observer.disconnect();
  }
  const inside = entries.filter((e) => e.startTime + e.duration >= started && e.startTime <= ended);
  const durations = inside.map((e) => e.duration);
  return {
    result,
    wallMs: ended - started,
    longTasks: {
      supported,
      count: durations.length,
      maxMs: durations.length ? Math.max(...durations) : 0,
      totalMs: durations.reduce((a, b) => a + b, 0),
    },
  };
}

/** Keys per partition and every root (hex), for comparing two services. */
async function snapshot(service: MerkleService): Promise<{ counts: Record<number, number>; roots: Record<number, string> }> {
  const counts = await service.keyCounts();
  const roots: Record<number, string> = {};
  for (const partition of counts.keys()) {
    const [root] = await service.hashes(partition, 0, [0]);
    roots[partition] = Array.from(root!, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return { counts: Object.fromEntries(counts), roots };
}

function sameSnapshot(a: Awaited<ReturnType<typeof snapshot>>, b: Awaited<ReturnType<typeof snapshot>>): { equal: boolean; differing: number } {
  const partitions = new Set([...Object.keys(a.roots), ...Object.keys(b.roots)].map(Number));
  let differing = 0;
  for (const p of partitions) if (a.roots[p] !== b.roots[p] || a.counts[p] !== b.counts[p]) differing++;
  return { equal: differing === 0, differing };
}

/** A small deterministic generator (for which keys the concurrency check touches). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

let service: WorkerMerkleService | undefined;

const bench = {
  /**
   * Writes records `from` .. `from + count - 1` into node database `dbName` (created with the store's
   * schema if needed), {@link FILL_BATCH} per transaction. Returns the time taken, ms.
   */
  async fill(dbName: string, from: number, count: number): Promise<number> {
    await (await IdbStore.open(dbName)).close();
    const db = await openDB(dbName);
    const started = performance.now();
    for (let at = from; at < from + count; at += FILL_BATCH) {
      const tx = db.transaction('objects', 'readwrite');
      const end = Math.min(from + count, at + FILL_BATCH);
      for (let i = at; i < end; i++) void tx.store.put(versionSet(i, 1), keyOf(i));
      await tx.done;
    }
    db.close();
    return performance.now() - started;
  },

  /** Starts a fresh worker on `dbName` (closing the previous one) and waits for its first build. */
  async start(dbName: string, partitionCount: number): Promise<Timed & { stats: MerkleWorkerStats }> {
    service?.close();
    service = undefined;
    const timed = await watch(() => WorkerMerkleService.start(dbName, partitionCount));
    service = timed.result;
    return { wallMs: timed.wallMs, longTasks: timed.longTasks, stats: service.initialBuild };
  },

  /** A full rebuild (a new scan of the database) by the running worker. */
  async rebuild(): Promise<Timed & { stats: MerkleWorkerStats }> {
    const current = service!;
    const timed = await watch(() => current.rebuild());
    return { wallMs: timed.wallMs, longTasks: timed.longTasks, stats: timed.result };
  },

  /**
   * `count` update() calls on the running worker, for records `from` onwards with new version sets
   * (made before timing). `issueMs`: main-thread time to make the calls; `wallMs`: until all acknowledged.
   */
  async updates(count: number, from: number, round: number): Promise<Timed & { issueMs: number }> {
    const current = service!;
    const sets = Array.from({ length: count }, (_, i) => versionSet(from + i, round));
    let issueMs = 0;
    const timed = await watch(async () => {
      const started = performance.now();
      const calls = sets.map((versions, i) => current.update(keyOf(from + i), versions));
      issueMs = performance.now() - started;
      await Promise.all(calls);
    });
    return { wallMs: timed.wallMs, longTasks: timed.longTasks, issueMs };
  },

  /**
   * Latency of the node's own writes (`IdbStore.putObject`, strict durability, overwriting existing
   * records so the key count stays) while the running worker rebuilds, or, with `duringRebuild` false,
   * `count` writes on a quiet database. The scan's readonly transactions hold writes back for at most
   * one chunk each; this measures what that costs. Latencies in ms.
   */
  async writeLatency(dbName: string, count: number, duringRebuild: boolean): Promise<{ p50: number; p99: number; max: number; n: number }> {
    const store = await IdbStore.open(dbName);
    const samples: number[] = [];
    let building = duringRebuild;
    const rebuild = duringRebuild ? service!.rebuild().finally(() => (building = false)) : Promise.resolve();
    for (let i = 0; duringRebuild ? building : i < count; i++) {
      const started = performance.now();
      await store.putObject(keyOf(i % 1000), versionSet(i % 1000, 1));
      samples.push(performance.now() - started);
    }
    await rebuild;
    await store.close();
    const sorted = samples.sort((a, b) => a - b);
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
    return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? NaN, n: sorted.length };
  },

  /**
   * The floor of a rebuild: reading every record of `dbName` the way the worker's scan does (chunks of
   * the same sizes, `scanChunks`) and touching each value, with no hashing. Runs on the main thread
   * (IndexedDB serves a page and its worker alike). Returns the time taken, ms, and the records read.
   */
  async readFloor(dbName: string): Promise<Timed & { records: number }> {
    const db = await openExisting(dbName);
    if (db === undefined) throw new Error(`no database ${dbName}`);
    let records = 0;
    try {
      const timed = await watch(async () => {
        for await (const chunk of scanChunks(db, 'objects', BUILD_SCAN)) {
          records += chunk.values.length;
        }
      });
      return { wallMs: timed.wallMs, longTasks: timed.longTasks, records };
    } finally {
      db.close();
    }
  },

  /** The core's fallback: `InProcessMerkleService.build` over an `IdbStore`, on the main thread. */
  async inProcess(dbName: string, partitionCount: number): Promise<Timed> {
    const store = await IdbStore.open(dbName);
    const ring = Ring.build([], partitionCount);
    try {
      const timed = await watch(() => InProcessMerkleService.build(store, () => ring));
      return { wallMs: timed.wallMs, longTasks: timed.longTasks };
    } finally {
      await store.close();
    }
  },

  /** Calibration of the instrument: an 80 ms busy loop on the main thread must show as one long task of ~80 ms. */
  async calibrate(): Promise<Timed> {
    const timed = await watch(async () => {
      const started = performance.now();
      while (performance.now() - started < 80) {
        // busy on purpose
      }
    });
    return { wallMs: timed.wallMs, longTasks: timed.longTasks };
  },

  /** Long tasks in a quiet window of `ms` (the noise floor of the page itself). */
  async idle(ms: number): Promise<Timed> {
    const timed = await watch(() => sleep(ms));
    return { wallMs: timed.wallMs, longTasks: timed.longTasks };
  },

  /**
   * Correctness under concurrency: fills `base` records, starts a worker, then rebuilds it while
   * `writes` writes (overwrites, new keys, deletes, spread over the key range the scan walks) go to
   * the database through `IdbStore` and to the worker through `update()`, the way the core does it.
   * Then compares the worker's trees with a fresh worker's (a scan of the final database) and with
   * the core's in-process trees built from the same database.
   */
  async concurrency(dbName: string, partitionCount: number, base: number, writes: number) {
    await bench.fill(dbName, 0, base);
    await bench.start(dbName, partitionCount);
    const live = service!;
    const store = await IdbStore.open(dbName, { durability: 'relaxed' });
    const random = lcg(7);
    let deletes = 0;
    const writer = async (): Promise<void> => {
      const updates: Promise<void>[] = [];
      for (let w = 0; w < writes; w++) {
        const pick = random();
        const i = Math.floor(random() * base * 1.2);
        const key = keyOf(i);
        if (pick < 0.2 && i < base) {
          await store.deleteObject(key);
          updates.push(live.update(key, undefined));
          deletes++;
        } else {
          const versions = versionSet(i, 2 + w);
          await store.putObject(key, versions);
          updates.push(live.update(key, versions));
        }
      }
      await Promise.all(updates);
    };
    const [rebuilt] = await Promise.all([live.rebuild(), writer()]);
    const ours = await snapshot(live);
    const fresh = await WorkerMerkleService.start(dbName, partitionCount);
    const scanned = await snapshot(fresh);
    fresh.close();
    const ring = Ring.build([], partitionCount);
    const inProcess = await snapshot(await InProcessMerkleService.build(store, () => ring));
    const keys = await store.countObjects();
    await store.close();
    return {
      keys,
      deletes,
      updatesDuringBuild: rebuilt.updatesDuringBuild,
      liveKeys: (await live.stats()).keys,
      versusFreshScan: sameSnapshot(ours, scanned),
      versusInProcess: sameSnapshot(ours, inProcess),
    };
  },

  /** Closes the worker and deletes `dbName`. */
  async destroy(dbName: string): Promise<void> {
    service?.close();
    service = undefined;
    await IdbStore.destroy(dbName);
  },
};

declare global {
  interface Window {
    merkleBench?: typeof bench;
  }
}
window.merkleBench = bench;
