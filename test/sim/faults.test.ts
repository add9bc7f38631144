/**
 * Seeded simulations of a 5-node cluster under mixed faults (DESIGN.md §5; TigerBeetle's VOPR idea):
 * crashes and restarts, partitions of three shapes, loss bursts, slow and duplicating periods, failing
 * and slow storage writes (faulty-store.ts), while set-full clients and blind writers run. Safety is checked during the chaos and at the end; liveness
 * (replicas converge, hints drain) after the heal. Half the seeds run here, half in faults-2.test.ts.
 *
 * A failure prints `seed=S`, what broke, the fault schedule and the command that replays it:
 *   npm run sim -- --seed S --runs 1 --verbose
 */
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/core/errors.js';
import type { VersionSet } from '../../src/core/types.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { countFaults, formatFaultSchedule, generateFaultSchedule, type FaultEvent } from './fault-schedule.js';
import { FaultyStore, HEALTHY_STORAGE, type StorageFaults } from './faulty-store.js';
import { seededRandom, Simulation } from './harness.js';
import { defineMixedFaultShard } from './seed-suite.js';
import { runMixedSeed } from './workload.js';

defineMixedFaultShard(0, 2);

describe('replay', () => {
  it('the same seed replays exactly: same trace hash (every observation, message counts, final states)', async () => {
    const seed = 20_071;
    const first = await runMixedSeed({ seed });
    const second = await runMixedSeed({ seed });
    expect(second.traceHash, `seed=${seed} did not replay exactly`).toBe(first.traceHash);
    expect(second.messages).toEqual(first.messages);
    expect([second.acknowledgedWrites, second.attemptedWrites, second.convergenceMs]).toEqual([first.acknowledgedWrites, first.attemptedWrites, first.convergenceMs]);
    expect(second.violations).toEqual(first.violations);
    // The hash does depend on the seed (a constant hash would make the check above vacuous).
    const other = await runMixedSeed({ seed: seed + 1 });
    expect(other.traceHash).not.toBe(first.traceHash);
  });

  it('a seed replays exactly inside a busy suite: alone, then beside two other seeds on a loaded event loop, the same trace hash', async () => {
    const seed = 30_011;
    const alone = await runMixedSeed({ seed });
    // A busy suite: other simulations interleave with this one in the same process, and the event loop
    // is loaded (a timer that keeps the CPU busy), so that anything real — time, the order of I/O
    // callbacks, module state left by other runs — reaching a run would change its trace.
    const burn = setInterval(() => {
      const until = performance.now() + 2;
      while (performance.now() < until) {
        // busy
      }
    }, 3);
    try {
      const [busy] = await Promise.all([runMixedSeed({ seed }), runMixedSeed({ seed: 1 }), runMixedSeed({ seed: 2 })]);
      expect(busy.traceHash, `seed=${seed} ran differently inside a busy suite`).toBe(alone.traceHash);
      expect(busy.messages).toEqual(alone.messages);
    } finally {
      clearInterval(burn);
    }
  });
});

describe('the fault schedule generator', () => {
  const nodeIds = ['n0', 'n1', 'n2', 'n3', 'n4'];
  const schedules = Array.from({ length: 200 }, (_, i) => generateFaultSchedule(i + 1, { nodeIds, durationMs: 12_000 }));

  it('is a pure function of the seed and prints as a script', () => {
    expect(generateFaultSchedule(7, { nodeIds, durationMs: 12_000 })).toEqual(generateFaultSchedule(7, { nodeIds, durationMs: 12_000 }));
    expect(generateFaultSchedule(7, { nodeIds, durationMs: 12_000 })).not.toEqual(generateFaultSchedule(8, { nodeIds, durationMs: 12_000 }));
    const text = formatFaultSchedule(schedules[0]!);
    expect(text).toContain('seed=1');
    expect(text.split('\n').length).toBe(schedules[0]!.events.length + 1);
  });

  it('covers every kind of fault over a few seeds, and every fault ends inside the window', () => {
    const all = schedules.flatMap((s) => s.events);
    const modes = new Set(all.flatMap((e) => (e.type === 'partition' ? [e.partition.mode] : [])));
    expect([...modes].sort()).toEqual(['bridge', 'halves', 'one-way']);
    const labels = new Set(all.flatMap((e) => (e.type === 'network' ? [e.label] : [])));
    expect([...labels].sort()).toEqual(['baseline', 'duplication storm', 'loss burst', 'slow']);
    const storage = new Set(all.flatMap((e) => (e.type === 'storage' ? [e.label] : [])));
    expect([...storage].sort()).toEqual(['failing writes', 'full disk', 'healthy', 'slow writes']);
    for (const s of schedules) {
      expect(countFaults(s)).toBeGreaterThan(0);
      const crashed = new Set<string>();
      let partitioned = false;
      const faultyDisks = new Set<string>();
      for (const e of s.events) {
        expect(e.atMs).toBeLessThanOrEqual(s.durationMs);
        if (e.type === 'crash') crashed.add(e.node);
        if (e.type === 'restart') expect(crashed.delete(e.node), `seed=${s.seed} restarts ${e.node}, which is not down`).toBe(true);
        if (e.type === 'partition') partitioned = true;
        if (e.type === 'heal-partition') partitioned = false;
        if (e.type === 'storage' && e.label === 'healthy') faultyDisks.delete(e.node);
        else if (e.type === 'storage') faultyDisks.add(e.node);
      }
      expect(crashed.size, `seed=${s.seed} leaves nodes down`).toBe(0);
      expect(partitioned, `seed=${s.seed} leaves a partition`).toBe(false);
      expect([...faultyDisks], `seed=${s.seed} leaves storage faulty`).toEqual([]);
    }
  });

  it('leaves the other tracks of a seed as they were without the storage track, and can turn it off', () => {
    for (const s of schedules.slice(0, 20)) {
      const without = generateFaultSchedule(s.seed, { nodeIds, durationMs: 12_000, storageFaults: false });
      expect(without.events.some((e) => e.type === 'storage')).toBe(false);
      expect(s.events.filter((e) => e.type !== 'storage')).toEqual(without.events);
    }
    // Storage episodes in most seeds, several per seed, and printed as script lines.
    const perSeed = schedules.map((s) => s.events.filter((e) => e.type === 'storage' && e.label !== 'healthy').length);
    expect(perSeed.filter((n) => n > 0).length).toBeGreaterThan(190);
    expect(formatFaultSchedule(schedules[0]!)).toMatch(/storage n\d fail=\d\.\d{3} delay=\d+\.\.\d+ms \((failing writes|full disk|slow writes)\)/);
  });

  it('keeps a write quorum for most keys most of the time, but not always', () => {
    // Time with k nodes down, summed over the seeds: mostly zero or one (every key keeps W=2 of N=3),
    // sometimes two or three (some keys have no strict quorum; only a sloppy one).
    const downMs = [0, 0, 0, 0, 0];
    for (const s of schedules) {
      let down = 0;
      let lastMs = 0;
      const step = (e: FaultEvent): void => {
        downMs[down]! += e.atMs - lastMs;
        lastMs = e.atMs;
        if (e.type === 'crash') down++;
        if (e.type === 'restart') down--;
      };
      s.events.forEach(step);
      downMs[down]! += s.durationMs - lastMs;
    }
    const total = downMs.reduce((a, b) => a + b, 0);
    const share = (k: number): number => downMs[k]! / total;
    expect(share(0) + share(1)).toBeGreaterThan(0.75);
    expect(share(2) + share(3)).toBeGreaterThan(0.02);
    expect(share(4)).toBe(0);
  });
});

describe('storage faults (faulty-store.ts)', () => {
  const versions = (counter: number): VersionSet => {
    const dot = { node: 'n0', counter, timestampMs: counter };
    return { clock: [dot], siblings: [{ dot, data: Uint8Array.of(counter) }] };
  };

  /** A faulty store over a fresh memory store, on a simulation's virtual clock (no nodes). */
  function faulty(faults: Partial<StorageFaults>, seed = 1): { sim: Simulation; store: FaultyStore; inner: MemoryStore; stats: { writesFailed: number; writesDelayed: number } } {
    const sim = new Simulation({ seed, nodes: 0 });
    const inner = new MemoryStore();
    const stats = { writesFailed: 0, writesDelayed: 0 };
    const store = new FaultyStore(inner, { faults: () => ({ ...HEALTHY_STORAGE, ...faults }), random: seededRandom(seed), now: () => sim.nowMs, sleep: (ms) => sim.sleep(ms), stats });
    return { sim, store, inner, stats };
  }

  const outcome = (promise: Promise<unknown>): Promise<unknown> =>
    promise.then(
      () => 'stored',
      (error: unknown) => error,
    );

  it('a failed write rejects with StorageError and stores nothing, whichever write it is; reads still work', async () => {
    const { store, inner, stats } = faulty({ writeFailureProbability: 1 });
    await inner.putObject('k', versions(1));
    const writes = [
      store.putObject('k', versions(2)),
      store.putObjects([{ key: 'j', versions: versions(3) }]),
      store.deleteObject('k'),
      store.putMeta('m', 1),
      store.putHint({ intendedFor: 'n1', key: 'k', versions: versions(4), createdAtMs: 0 }),
      store.deleteHint('n1', 'k'),
    ];
    for (const error of await Promise.all(writes.map(outcome))) {
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).name).toBe('StorageError');
    }
    expect(stats.writesFailed).toBe(6);
    expect(await store.getObject('k')).toEqual(versions(1));
    expect(await store.listKeys()).toEqual(['k']);
    expect(await store.getMeta('m')).toBeUndefined();
    expect(await store.countHints()).toBe(0);
  });

  it('fails a share of writes near the probability, the same writes for the same seed', async () => {
    const run = async (seed: number): Promise<boolean[]> => {
      const { store } = faulty({ writeFailureProbability: 0.3 }, seed);
      const results = await Promise.all(Array.from({ length: 400 }, (_, i) => outcome(store.putObject(`k${i}`, versions(1)))));
      return results.map((r) => r === 'stored');
    };
    const first = await run(5);
    const share = first.filter((ok) => !ok).length / first.length;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.4);
    expect(await run(5)).toEqual(first);
    expect(await run(6)).not.toEqual(first);
  });

  it('a slow write commits only after its delay in virtual time; a later read of that store waits for it', async () => {
    const { sim, store, inner, stats } = faulty({ writeDelayMinMs: 100, writeDelayMaxMs: 100 });
    let done = false;
    void store.putObject('k', versions(1)).then(() => (done = true));
    const read = store.getObject('k');
    // Another object store does not wait for it.
    let meta: unknown = 'pending';
    void store.getMeta('m').then((value) => (meta = value));
    await sim.runFor(0);
    expect(meta).toBeUndefined();
    await sim.runFor(99);
    expect(done).toBe(false);
    expect(await inner.getObject('k')).toBeUndefined();
    await sim.runFor(1);
    expect(done).toBe(true);
    expect(await read).toEqual(versions(1));
    expect(stats.writesDelayed).toBe(1);
  });

  it('pipelines commits: a burst of slow writes takes as long as the slowest, and commits in call order', async () => {
    const { sim, store } = faulty({ writeDelayMinMs: 100, writeDelayMaxMs: 100 });
    const committed: number[] = [];
    const writes = [1, 2, 3].map((i) => store.putObject(`k${i}`, versions(i)).then(() => committed.push(i)));
    await sim.runFor(100);
    await Promise.all(writes);
    expect(committed).toEqual([1, 2, 3]);
    expect(sim.nowMs).toBe(100);
  });

  it('keeps call order per object store whatever the delays drawn: the last write of a key wins', async () => {
    const { sim, store } = faulty({ writeDelayMinMs: 1, writeDelayMaxMs: 300 });
    const writes = [store.putObject('k', versions(1)), store.putObject('k', versions(2)), store.deleteObject('k'), store.putObject('k', versions(3))];
    await sim.settle(Promise.all(writes), 5_000);
    expect(await sim.settle(store.getObject('k'))).toEqual(versions(3));
  });

  it('a write still waiting when the store closes (a crash) is refused and lost', async () => {
    const { sim, store, inner } = faulty({ writeDelayMinMs: 50, writeDelayMaxMs: 50 });
    const write = outcome(store.putObject('k', versions(1)));
    await sim.runFor(10);
    await store.close();
    await sim.runFor(100);
    expect(await write).toBeInstanceOf(StorageError);
    expect(await new MemoryStore(inner.data).getObject('k')).toBeUndefined();
  });
});
