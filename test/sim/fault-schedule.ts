/**
 * Fault schedules: a seed's list of timed faults, as plain data that prints as a short script.
 *
 *   0ms      network loss=0.010 dup=0.020 delay=1..23ms (baseline)
 *   840ms    crash n3
 *   1900ms   partition bridge [n0 n4] - n1 - [n2 n3]
 *   2410ms   network loss=0.400 dup=0.020 delay=1..23ms (loss burst)
 *   3120ms   network loss=0.010 dup=0.020 delay=1..23ms (baseline)
 *   3300ms   storage n1 fail=0.350 delay=0..0ms (failing writes)
 *   4005ms   restart n3
 *   5120ms   storage n1 fail=0.000 delay=0..0ms (healthy)
 *   ...
 *
 * Four independent tracks share the chaos window, so their faults overlap in every combination:
 *   nodes      crash episodes: usually one node, sometimes two, rarely three at once (with N=3, W=2 a
 *              key keeps a strict write quorum while at most one of its replicas is down; two or
 *              three down leave some keys without one, and only the sloppy quorum can take them)
 *   partitions one at a time: halves (1|4 or 2|3), one-way, or a bridge
 *   network    a baseline of light loss, duplication and delay for the whole run, broken by bursts
 *              of heavy loss, slow and reordering periods, and duplication storms
 *   storage    one node at a time: some of its writes fail (StorageError, nothing stored), all of them
 *              fail (a full disk), or every write takes up to most of a second (faulty-store.ts)
 * Every fault ends inside the window: a crashed node restarts, a partition heals, the baseline returns,
 * the disk recovers.
 * (The runner heals everything at the end of the window regardless.)
 *
 * The schedule draws from its own stream of the seed, so adding a client to a workload does not
 * change the faults of a seed; the storage track draws from a stream of its own too, so that it left
 * the other tracks of every seed as they were.
 */
import type { NetworkFaults } from '../../src/net/memory-network.js';
import type { NodeId } from '../../src/core/types.js';
import type { Random } from '../../src/core/ports.js';
import { HEALTHY_STORAGE, type StorageFaults } from './faulty-store.js';
import { formatPartition, seededRandom, type PartitionSpec, type Simulation } from './harness.js';

/** One timed fault. `atMs` counts from the start of the chaos window. */
export type FaultEvent =
  | { atMs: number; type: 'crash'; node: NodeId }
  | { atMs: number; type: 'restart'; node: NodeId }
  /** The node's storage is evicted; it comes back empty as `newId` (see `Simulation.wipeAndRestart`). */
  | { atMs: number; type: 'wipe'; node: NodeId; newId: NodeId }
  | { atMs: number; type: 'partition'; partition: PartitionSpec }
  | { atMs: number; type: 'heal-partition' }
  | { atMs: number; type: 'network'; faults: NetworkFaults; label: 'baseline' | 'loss burst' | 'slow' | 'duplication storm' }
  /** The node's storage faults from now on (see faulty-store.ts); `healthy` ends an episode. */
  | { atMs: number; type: 'storage'; node: NodeId; faults: StorageFaults; label: StorageLabel };

/** Kinds of storage episodes: some writes fail, every write fails (a full disk), writes are slow. */
export type StorageLabel = 'healthy' | 'failing writes' | 'full disk' | 'slow writes';

/** A seed's faults, sorted by time. */
export interface FaultSchedule {
  seed: number;
  durationMs: number;
  events: FaultEvent[];
}

/** Settings of {@link generateFaultSchedule}. */
export interface ScheduleOptions {
  /** The ids of the nodes at the start of the window. */
  nodeIds: readonly NodeId[];
  /** Length of the chaos window, in virtual ms. */
  durationMs: number;
  /** Most nodes crashed at once. Default 3 (the distribution keeps it rare; see the module header). */
  maxCrashed?: number;
  /**
   * Whether one crash (at most) may end in a wipe (storage evicted, new id) instead of a restart.
   * Default false: a wiped id stays a member that never answers, which a cluster without node removal
   * cannot heal (hints for it never drain; keys it replicated keep a dead replica).
   */
  wipes?: boolean;
  /** Index of the next fresh id `n<k>` (as `Simulation.nextFreshId()`); needed with `wipes`. */
  nextNodeIndex?: number;
  /** Whether the storage track runs (failing and slow writes). Default true. */
  storageFaults?: boolean;
}

/** Crashes last at least this long: longer than any message delay, so nothing sent before lands after. */
const MIN_DOWNTIME_MS = 600;

/**
 * Draws a fault schedule from `seed`. Pure: the same seed and options give the same schedule.
 */
export function generateFaultSchedule(seed: number, options: ScheduleOptions): FaultSchedule {
  const random = seededRandom((seed ^ 0x2545f491) | 0);
  const { durationMs } = options;
  const events: FaultEvent[] = [
    ...nodeTrack(random, options),
    ...partitionTrack(random, options),
    ...networkTrack(random, durationMs),
    ...(options.storageFaults !== false ? storageTrack(seededRandom((seed ^ 0x7f4a7c15) | 0), options) : []),
  ];
  // Stable sort: at equal times the tracks keep their order (nodes, partitions, network, storage).
  events.sort((a, b) => a.atMs - b.atMs);
  return { seed, durationMs, events: nameWipedNodes(events, options.nextNodeIndex ?? options.nodeIds.length) };
}

/**
 * The simulation names a wiped node's successor when the wipe happens, so successors must be numbered
 * in time order; the node track drew them in the order it picked victims. Renames the placeholders
 * (`?0`, `?1`, …) to `n<k>` by time, in every event that mentions them (a successor can crash later).
 */
function nameWipedNodes(events: FaultEvent[], nextIndex: number): FaultEvent[] {
  const names = new Map<NodeId, NodeId>();
  const rename = (id: NodeId): NodeId => names.get(id) ?? id;
  return events.map((e) => {
    if (e.type === 'wipe') {
      names.set(e.newId, `n${nextIndex++}`);
      return { ...e, node: rename(e.node), newId: rename(e.newId) };
    }
    if (e.type === 'crash' || e.type === 'restart') return { ...e, node: rename(e.node) };
    return e;
  });
}

const between = (random: Random, min: number, max: number): number => Math.round(min + random.next() * (max - min));

function pickDistinct<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0) picked.push(pool.splice(Math.floor(random.next() * pool.length), 1)[0]!);
  return picked;
}

function nodeTrack(random: Random, options: ScheduleOptions): FaultEvent[] {
  const events: FaultEvent[] = [];
  const live = [...options.nodeIds];
  const maxCrashed = Math.min(options.maxCrashed ?? 3, live.length - 1);
  let placeholders = 0;
  // At most one wipe per schedule: an acknowledged write is on W = 2 disks, so it survives losing one
  // of them, not two (nothing can recover what both copies held).
  let wipesLeft = options.wipes ? 1 : 0;
  let t = between(random, 200, 2_000);
  while (t < options.durationMs - MIN_DOWNTIME_MS) {
    const roll = random.next();
    const count = Math.min(maxCrashed, roll < 0.7 ? 1 : roll < 0.95 ? 2 : 3);
    const victims = pickDistinct(random, live, count);
    let end = t;
    for (const node of victims) {
      const crashAt = t + between(random, 0, 400);
      const upAt = Math.min(options.durationMs, crashAt + between(random, MIN_DOWNTIME_MS, 5_000));
      if (upAt - crashAt < MIN_DOWNTIME_MS) continue;
      events.push({ atMs: crashAt, type: 'crash', node });
      if (wipesLeft > 0 && random.next() < 0.15) {
        wipesLeft--;
        const newId = `?${placeholders++}`; // named in time order afterwards (nameWipedNodes)
        events.push({ atMs: upAt, type: 'wipe', node, newId });
        live.splice(live.indexOf(node), 1, newId);
      } else {
        events.push({ atMs: upAt, type: 'restart', node });
      }
      end = Math.max(end, upAt);
    }
    t = end + between(random, 300, 3_000);
  }
  return events;
}

function partitionTrack(random: Random, options: ScheduleOptions): FaultEvent[] {
  const events: FaultEvent[] = [];
  // Partitions name the original ids; a node that a wipe replaced is simply not blocked.
  const ids = [...options.nodeIds];
  let t = between(random, 0, 3_000);
  while (t < options.durationMs - 500) {
    const shuffled = pickDistinct(random, ids, ids.length);
    const roll = random.next();
    let partition: PartitionSpec;
    if (roll < 0.4) {
      const cut = random.next() < 0.5 ? 1 : Math.floor(ids.length / 2);
      partition = { mode: 'halves', groups: [shuffled.slice(0, cut).sort(), shuffled.slice(cut).sort()] };
    } else if (roll < 0.7) {
      const fromCount = random.next() < 0.6 ? 1 : 2;
      const toCount = between(random, 1, Math.max(1, ids.length - fromCount - 1));
      partition = { mode: 'one-way', from: shuffled.slice(0, fromCount).sort(), to: shuffled.slice(fromCount, fromCount + toCount).sort() };
    } else {
      const [bridge, ...rest] = shuffled;
      const half = Math.ceil(rest.length / 2);
      partition = { mode: 'bridge', left: rest.slice(0, half).sort(), right: rest.slice(half).sort(), bridge: bridge! };
    }
    const end = Math.min(options.durationMs, t + between(random, 800, 4_000));
    events.push({ atMs: t, type: 'partition', partition }, { atMs: end, type: 'heal-partition' });
    t = end + between(random, 500, 4_000);
  }
  return events;
}

function networkTrack(random: Random, durationMs: number): FaultEvent[] {
  const baseline: NetworkFaults = {
    lossProbability: round3(random.next() * 0.02),
    duplicateProbability: round3(random.next() * 0.05),
    delayMinMs: 1,
    delayMaxMs: between(random, 5, 40),
  };
  const events: FaultEvent[] = [{ atMs: 0, type: 'network', faults: baseline, label: 'baseline' }];
  let t = between(random, 500, 3_000);
  while (t < durationMs - 300) {
    const roll = random.next();
    let faults: NetworkFaults;
    let label: 'loss burst' | 'slow' | 'duplication storm';
    let length: number;
    if (roll < 0.5) {
      faults = { ...baseline, lossProbability: round3(0.2 + random.next() * 0.4) };
      label = 'loss burst';
      length = between(random, 300, 2_500);
    } else if (roll < 0.8) {
      faults = { ...baseline, delayMinMs: between(random, 1, 20), delayMaxMs: between(random, 100, 300) };
      label = 'slow';
      length = between(random, 500, 3_000);
    } else {
      faults = { ...baseline, duplicateProbability: round3(0.2 + random.next() * 0.3) };
      label = 'duplication storm';
      length = between(random, 300, 2_000);
    }
    const end = Math.min(durationMs, t + length);
    events.push({ atMs: t, type: 'network', faults, label }, { atMs: end, type: 'network', faults: baseline, label: 'baseline' });
    t = end + between(random, 300, 3_000);
  }
  return events;
}

/**
 * Storage episodes, one node at a time. Failing writes test that a write the core acknowledged was
 * durable (a put whose local write failed must not be acknowledged, a hint whose write failed must not
 * count); a full disk refuses every write for a while; slow writes (IndexedDB commits on a busy machine)
 * keep requests waiting on the disk while their deadlines run and reorder what reaches the disk
 * against what reaches the network.
 */
function storageTrack(random: Random, options: ScheduleOptions): FaultEvent[] {
  const events: FaultEvent[] = [];
  const ids = [...options.nodeIds];
  let t = between(random, 0, 2_000);
  while (t < options.durationMs - 300) {
    const node = ids[Math.floor(random.next() * ids.length)]!;
    const roll = random.next();
    let faults: StorageFaults;
    let label: StorageLabel;
    let length: number;
    if (roll < 0.4) {
      faults = { ...HEALTHY_STORAGE, writeFailureProbability: round3(0.1 + random.next() * 0.5) };
      label = 'failing writes';
      length = between(random, 500, 3_000);
    } else if (roll < 0.55) {
      faults = { ...HEALTHY_STORAGE, writeFailureProbability: 1 };
      label = 'full disk';
      length = between(random, 300, 2_000);
    } else {
      faults = { ...HEALTHY_STORAGE, writeDelayMinMs: between(random, 1, 30), writeDelayMaxMs: between(random, 100, 800) };
      label = 'slow writes';
      length = between(random, 500, 3_000);
    }
    const end = Math.min(options.durationMs, t + length);
    events.push({ atMs: t, type: 'storage', node, faults, label }, { atMs: end, type: 'storage', node, faults: HEALTHY_STORAGE, label: 'healthy' });
    t = end + between(random, 200, 2_000);
  }
  return events;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** How many faults a schedule injects (crashes, wipes, partitions, non-baseline network periods, storage episodes). */
export function countFaults(schedule: FaultSchedule): number {
  return schedule.events.filter(
    (e) => e.type === 'crash' || e.type === 'partition' || (e.type === 'network' && e.label !== 'baseline') || (e.type === 'storage' && e.label !== 'healthy'),
  ).length;
}

/** One line per event, as in the module header. */
export function formatFaultSchedule(schedule: FaultSchedule): string {
  const lines = schedule.events.map((e) => `  ${`${e.atMs}ms`.padEnd(8)} ${formatFaultEvent(e)}`);
  return [`fault schedule of seed=${schedule.seed} (${schedule.durationMs}ms window):`, ...lines].join('\n');
}

/** The event without its time, e.g. `crash n3`. */
export function formatFaultEvent(e: FaultEvent): string {
  switch (e.type) {
    case 'crash':
    case 'restart':
      return `${e.type} ${e.node}`;
    case 'wipe':
      return `wipe ${e.node} (returns as ${e.newId})`;
    case 'partition':
      return `partition ${formatPartition(e.partition)}`;
    case 'heal-partition':
      return 'heal partition';
    case 'network': {
      const f = e.faults;
      return `network loss=${f.lossProbability.toFixed(3)} dup=${f.duplicateProbability.toFixed(3)} delay=${f.delayMinMs}..${f.delayMaxMs}ms (${e.label})`;
    }
    case 'storage': {
      const f = e.faults;
      return `storage ${e.node} fail=${f.writeFailureProbability.toFixed(3)} delay=${f.writeDelayMinMs}..${f.writeDelayMaxMs}ms (${e.label})`;
    }
  }
}

/**
 * Applies one event to a running simulation. Restarts are asynchronous (the node loads its storage);
 * their promise settles while the simulation drains pending work after the current event.
 * @throws Error when the event does not fit the simulation's state (a bug in the schedule).
 */
export async function applyFaultEvent(sim: Simulation, e: FaultEvent): Promise<void> {
  switch (e.type) {
    case 'crash':
      if (sim.nodes.has(e.node)) sim.crash(e.node);
      return;
    case 'restart':
      if (sim.crashed.has(e.node)) await unlessCrashedWhileStarting(sim, e.node, sim.restart(e.node));
      return;
    case 'wipe': {
      const expected = sim.nextFreshId();
      if (expected !== e.newId) throw new Error(`schedule expected the wiped node to return as ${e.newId}, the simulation would name it ${expected}`);
      await unlessCrashedWhileStarting(sim, expected, sim.wipeAndRestart(e.node));
      return;
    }
    case 'partition':
      sim.setPartition(e.partition);
      return;
    case 'heal-partition':
      sim.setPartition(null);
      return;
    case 'network':
      sim.setNetworkFaults(e.faults);
      return;
    case 'storage':
      sim.setStorageFaults(e.node, e.faults);
      return;
  }
}

/**
 * Waits for a node's start. A start takes virtual time when the node's writes are slow (storage
 * faults), and the schedule may crash the node again before it finished: its store is then closed
 * under it and the start fails, as a tab closed while it loads. That is no fault of the schedule.
 */
async function unlessCrashedWhileStarting(sim: Simulation, id: NodeId, start: Promise<unknown>): Promise<void> {
  try {
    await start;
  } catch (error) {
    if (!sim.crashed.has(id)) throw error;
  }
}

/**
 * Queues every event of `schedule` on the simulation, `offsetMs` after now. Errors (a schedule that
 * does not fit) are passed to `onError` rather than lost in a detached promise.
 */
export function scheduleFaults(sim: Simulation, schedule: FaultSchedule, onApplied: (e: FaultEvent) => void, onError: (error: unknown) => void): void {
  for (const e of schedule.events) {
    sim.schedule(e.atMs, () => {
      onApplied(e);
      applyFaultEvent(sim, e).catch(onError);
    });
  }
}
