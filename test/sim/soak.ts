/**
 * The soak (issue 20 item 7): a long run of a 20-node cluster with steady churn, sampled as it goes, to
 * show that nothing grows forever — per-node storage (live keys, tombstones, hints), member records and
 * the full gossip message level off — and that no acknowledged write is lost. Used by
 * `npm run sim:soak` (scripts/sim-soak.ts: long, prints the table) and, shortened, by soak.test.ts.
 *
 * Every virtual minute, from a random running node:
 *   puts      WRITES_PER_MINUTE keys never written before
 *   deletes   the oldest live keys, down to LIVE_KEYS (so half of all writes are deletes, and the live
 *             set stays the same size once it is reached)
 * Every CHURN_EVERY_MINUTES, one of (in turn): a node crashes (and comes back two minutes later), a node
 * leaves the ring (its tab closes shortly after), a new node joins. The cluster stays near 20 nodes.
 *
 * The protocol's long periods are scaled down with the run (`SoakTimes`): a tombstone grace, a member
 * compaction age and a hint TTL of minutes instead of days, so that a run of hours sees each of them many
 * times over. What is measured is whether the sizes level off, which depends on those periods relative to
 * the churn, not on their absolute length.
 */
import { encode } from '@msgpack/msgpack';
import { withLegacyFieldNames } from '../../src/core/membership.js';
import type { NodeConfig } from '../../src/core/node-config.js';
import type { NodeId } from '../../src/core/types.js';
import { isTombstoneOnly } from '../../src/core/version-set.js';
import { Simulation } from './harness.js';
import { within } from './workload.js';

export const WRITES_PER_MINUTE = 20;
export const LIVE_KEYS = 200;
export const CHURN_EVERY_MINUTES = 3;
const NODES = 20;
const MINUTE_MS = 60_000;

/** The protocol periods of a soak, ms. */
export interface SoakTimes {
  tombstoneGraceMs: number;
  memberCompactionMs: number;
  hintTtlMs: number;
}

/** The scaled periods used unless a run says otherwise. */
export const DEFAULT_SOAK_TIMES: SoakTimes = { tombstoneGraceMs: 5 * MINUTE_MS, memberCompactionMs: 8 * MINUTE_MS, hintTtlMs: 4 * MINUTE_MS };

/** One sample of the sizes, over the running nodes. */
export interface SoakSample {
  minute: number;
  /** Running nodes, and members of the ring (running or down). */
  nodes: number;
  ringMembers: number;
  /** Keys stored per node (live and tombstones), mean and max. */
  objectsMean: number;
  objectsMax: number;
  /** Tombstone-only keys per node, mean and max. */
  tombstonesMean: number;
  tombstonesMax: number;
  /** Hints held, over all nodes. */
  hints: number;
  /** Partitions being handed off, and partitions waiting to be received, over all running nodes. */
  handingOff: number;
  pending: number;
  /** Member records per node, max. */
  memberRecordsMax: number;
  /** Bytes of the largest full gossip message (records, removals, checkpoint). */
  gossipBytesMax: number;
  /** Keys written and deleted so far (acknowledged). */
  written: number;
  deleted: number;
}

/** What a soak found. */
export interface SoakReport {
  seed: number;
  samples: SoakSample[];
  /** Acknowledged writes that a final quorum read did not show as they were left. */
  lost: string[];
  tombstonesPurged: number;
  membersCompacted: number;
  hintsExpired: number;
  churn: string[];
}

/**
 * Runs a soak of `minutes` virtual minutes with `seed`, sampling every `sampleEveryMinutes`.
 * `onSample` sees each sample as it is taken (the script prints them).
 */
export async function runSoak(options: {
  seed: number;
  minutes: number;
  sampleEveryMinutes: number;
  times?: SoakTimes;
  onSample?: (sample: SoakSample, sim: Simulation) => void;
}): Promise<SoakReport> {
  const { seed, minutes, sampleEveryMinutes } = options;
  const times = options.times ?? DEFAULT_SOAK_TIMES;
  const config: Partial<NodeConfig> = { ...times, tombstonePurgeIntervalMs: MINUTE_MS };
  const sim = new Simulation({ seed, nodes: NODES, config, tickIntervalMs: 100 });
  await sim.start();
  if (!(await sim.settleCluster(60_000))) throw new Error(`seed ${seed}: the cluster did not settle`);
  const random = sim.random;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)]!;
  /** Last acknowledged state of each key: its value, or null once deleted. Keys whose last operation failed are uncertain. */
  const expected = new Map<string, string | null>();
  const uncertain = new Set<string>();
  const live: string[] = [];
  const leaving = new Set<NodeId>();
  const down = new Map<NodeId, number>(); // crashed node → minute it comes back
  const churn: string[] = [];
  const samples: SoakSample[] = [];
  let written = 0;
  let deleted = 0;
  const clients = (): NodeId[] => sim.liveIds().filter((id) => !leaving.has(id) && sim.node(id).core.ring().members.some((m) => m.id === id));

  for (let minute = 1; minute <= minutes; minute++) {
    const started = sim.nowMs;
    for (let i = 0; i < WRITES_PER_MINUTE; i++) {
      const key = `m${minute}-${i}`;
      const value = `${key}@${seed}`;
      const put = await sim.settle(within(sim, sim.node(pick(clients())).core.put(key, value), 5_000), 6_000);
      if (put.ok) {
        expected.set(key, value);
        live.push(key);
        written++;
      } else uncertain.add(key);
    }
    while (live.length > LIVE_KEYS) {
      const key = live.shift()!;
      const node = sim.node(pick(clients()));
      const got = await sim.settle(within(sim, node.core.get(key), 5_000), 6_000);
      const del = got.ok ? await sim.settle(within(sim, node.core.delete(key, { context: got.value.context }), 5_000), 6_000) : got;
      if (del.ok) {
        expected.set(key, null);
        deleted++;
      } else uncertain.add(key);
    }
    for (const [id, back] of down) {
      if (back <= minute) {
        down.delete(id);
        await sim.restart(id);
        churn.push(`${minute}: ${id} back`);
      }
    }
    if (minute % CHURN_EVERY_MINUTES === 0) {
      const stable = clients().filter((id) => !down.has(id) && id !== 'n0');
      const kind = (minute / CHURN_EVERY_MINUTES) % 3;
      if (kind === 0 && stable.length > 0) {
        const id = pick(stable);
        sim.crash(id);
        down.set(id, minute + 2);
        churn.push(`${minute}: ${id} crashed`);
      } else if (kind === 1 && stable.length > NODES - 4) {
        const id = pick(stable);
        leaving.add(id);
        churn.push(`${minute}: ${id} leaves`);
        const left = await sim.settle(within(sim, sim.node(id).core.leave(), 5 * MINUTE_MS), 5 * MINUTE_MS + 1000);
        churn.push(`${minute}: ${id} ${left.ok ? 'left' : `did not leave (${left.error})`}`);
        sim.crash(id); // its tab closes for good as soon as it has left
      } else {
        const seedNode = pick(clients());
        const joiner = await sim.addNode(sim.nextFreshId());
        joiner.core.addSeeds([seedNode]);
        churn.push(`${minute}: ${joiner.id} joins`);
      }
    }
    const elapsed = sim.nowMs - started;
    if (elapsed < MINUTE_MS) await sim.runFor(MINUTE_MS - elapsed);
    if (minute % sampleEveryMinutes === 0) {
      const sample = takeSample(sim, minute, written, deleted);
      samples.push(sample);
      options.onSample?.(sample, sim);
    }
  }

  // Everyone back, then a final quorum read of every key whose last operation was acknowledged.
  for (const id of down.keys()) await sim.restart(id);
  await sim.runFor(3 * MINUTE_MS);
  const lost: string[] = [];
  for (const [key, value] of expected) {
    if (uncertain.has(key)) continue;
    const got = await sim.settle(within(sim, sim.node(pick(clients())).core.get(key), 5_000), 6_000);
    const values = got.ok ? got.value.siblings.filter((s) => !s.deleted).map((s) => s.value) : undefined;
    const fine = values !== undefined && (value === null ? values.length === 0 : values.includes(value));
    if (!fine) lost.push(`${key}: expected ${value === null ? 'deleted' : value}, read ${got.ok ? JSON.stringify(values) : got.error}`);
  }
  const total = (stat: 'tombstonesPurged' | 'membersCompacted' | 'hintsExpired'): number => sim.liveIds().reduce((sum, id) => sum + sim.node(id).core.stats()[stat], 0);
  return { seed, samples, lost, tombstonesPurged: total('tombstonesPurged'), membersCompacted: total('membersCompacted'), hintsExpired: total('hintsExpired'), churn };
}

function takeSample(sim: Simulation, minute: number, written: number, deleted: number): SoakSample {
  const ids = sim.liveIds();
  const objects = ids.map((id) => sim.node(id).data.objects.size);
  const tombstones = ids.map((id) => [...sim.node(id).data.objects.values()].filter((v) => isTombstoneOnly(v)).length);
  const hints = ids.reduce((sum, id) => sum + [...sim.node(id).data.hints.values()].reduce((n, byKey) => n + byKey.size, 0), 0);
  const gossipBytes = ids.map((id) => {
    const view = sim.node(id).core.gossipView();
    return encode({ type: 'gossip', members: view.records.map(withLegacyFieldNames), removals: view.removals, reply: true, ...(view.checkpoint ? { checkpoint: view.checkpoint } : {}) }).byteLength;
  });
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    minute,
    nodes: ids.length,
    ringMembers: sim.node(ids[0]!).core.ring().members.length,
    objectsMean: mean(objects),
    objectsMax: Math.max(...objects),
    tombstonesMean: mean(tombstones),
    tombstonesMax: Math.max(...tombstones),
    hints,
    handingOff: ids.reduce((n, id) => n + sim.node(id).core.ownershipHandoffStatus().handoffPartitions.length, 0),
    pending: ids.reduce((n, id) => n + sim.node(id).core.ownershipHandoffStatus().pendingPartitions.length, 0),
    memberRecordsMax: Math.max(...ids.map((id) => sim.node(id).core.stats().memberRecords)),
    gossipBytesMax: Math.max(...gossipBytes),
    written,
    deleted,
  };
}

/** A sample as one row of the soak's table. */
export function formatSample(s: SoakSample): string {
  return [
    String(s.minute).padStart(6),
    `${s.nodes}/${s.ringMembers}`.padStart(7),
    `${s.objectsMean.toFixed(0)}/${s.objectsMax}`.padStart(11),
    `${s.tombstonesMean.toFixed(0)}/${s.tombstonesMax}`.padStart(11),
    String(s.hints).padStart(6),
    `${s.handingOff}/${s.pending}`.padStart(9),
    String(s.memberRecordsMax).padStart(8),
    String(s.gossipBytesMax).padStart(9),
    `${s.written}/${s.deleted}`.padStart(12),
  ].join(' ');
}

/** The header of {@link formatSample}'s rows. */
export const SAMPLE_HEADER = `${'minute'.padStart(6)} ${'nodes'.padStart(7)} ${'keys/node'.padStart(11)} ${'tombstones'.padStart(11)} ${'hints'.padStart(6)} ${'handoff'.padStart(9)} ${'records'.padStart(8)} ${'gossip B'.padStart(9)} ${'put/deleted'.padStart(12)}`;
