/**
 * Partition handoff in a large cluster (paper §4.9): the membership changes of the 30-node explorer
 * benchmark, in the simulator.
 *
 *   start    30 nodes (N = 3, Q = 256, memory stores) form a cluster on a fast network
 *   preload  a few thousand keys, each written once through some node (W = 2)
 *   change   the network turns slow (`changeNetwork`, e.g. one-way delays of 0.3–1.2 s, as in tabs
 *            that share two saturated CPU cores); a 31st node joins, and once every node knows it, one
 *            node leaves and another doubles its capacity at the same moment
 *   settle   until every check below holds, at most `settleDeadlineMs` of virtual time:
 *
 *     handoffs    no running node has a partition pending, handed off or a transfer queued, and no
 *                 node's view of any member (the gossiped records) shows one either
 *     left        the leaving node's status is `left` and it stores nothing
 *     same-ring   every running node computes the same ring
 *     placement   every key is stored on exactly its N replicas of that ring, nowhere else
 *     no-loss     the N replicas of every key hold the same version set, with the preloaded value
 *
 * Before handoff deadlines followed round trips (request-deadlines.ts), this stalled once round
 * trips passed the 1 s deadline of handoff-start/finish and ae-roots: pending and handed-off
 * partitions stayed put for minutes and the leaver never left. Each seed fixes every choice; a
 * failure prints the seed and the command that replays it.
 */
import type { NodeConfig } from '../../src/core/node-config.js';
import type { NodeId } from '../../src/core/types.js';
import { decodeValue } from '../../src/core/value-codec.js';
import type { NetworkFaults } from '../../src/net/memory-network.js';
import { divergentKeys, preview, type Violation } from './checkers.js';
import { seededRandom, Simulation, type SimNode } from './harness.js';
import { placementViolations } from './membership.js';
import { replicaStates, ringsAgree, within } from './workload.js';

/** Settings of one large-cluster seed. */
export interface LargeClusterOptions {
  seed: number;
  /** Nodes before the join. Default 30. */
  nodes?: number;
  /** Keys preloaded before the changes. Default 2000. */
  keys?: number;
  /** The network from the join on. Default: one-way delays of 300–1200 ms, no loss. */
  changeNetwork?: Partial<NetworkFaults>;
  /** Bound on the settle phase, virtual ms from the leave. Default 120000. */
  settleDeadlineMs?: number;
  config?: Partial<NodeConfig>;
  /** Called every 2 virtual s of the settle phase with a summary line (for --verbose). */
  onProgress?: (line: string) => void;
}

/** What one seed did and found. */
export interface LargeClusterReport {
  seed: number;
  violations: Violation[];
  joiner: NodeId;
  leaver: NodeId;
  grower: NodeId;
  /** Virtual ms from the leave and capacity change until every check held; undefined if never. */
  settleMs: number | undefined;
  /** Objects moved by handoff in all (from the join on). */
  keysHandedOff: number;
  realMs: number;
}

/** The network of the change phase unless the options say otherwise: round trips of 0.6–2.4 s. */
export const SLOW_NETWORK: Partial<NetworkFaults> = { delayMinMs: 300, delayMaxMs: 1_200, lossProbability: 0, duplicateProbability: 0 };

const PRELOAD_IN_FLIGHT = 64;
const OP_LIMIT_MS = 8_000;
const POLL_MS = 500;

/** Runs one seed (see the module header). Never throws for a protocol failure. */
export async function runLargeClusterSeed(options: LargeClusterOptions): Promise<LargeClusterReport> {
  const startedRealMs = performance.now();
  const o = {
    ...options,
    nodes: options.nodes ?? 30,
    keys: options.keys ?? 2_000,
    changeNetwork: options.changeNetwork ?? SLOW_NETWORK,
    settleDeadlineMs: options.settleDeadlineMs ?? 120_000,
  };
  const sim = new Simulation({ seed: o.seed, nodes: o.nodes, faults: { delayMinMs: 1, delayMaxMs: 25 }, tickIntervalMs: 100, config: o.config });
  const random = seededRandom(Math.imul(o.seed + 1, 0x9e3779b1) | 0);
  const violations: Violation[] = [];
  await sim.start();
  if (!(await sim.settleCluster(60_000))) violations.push({ checker: 'handoffs', message: 'the cluster did not settle before the changes' });
  const ids = sim.liveIds();

  const keys = Array.from({ length: o.keys }, (_, i) => `k${i}`);
  for (let i = 0; i < keys.length; i += PRELOAD_IN_FLIGHT) {
    const puts = keys.slice(i, i + PRELOAD_IN_FLIGHT).map((key, j) => within(sim, sim.node(ids[(i + j) % ids.length]!).core.put(key, key), OP_LIMIT_MS));
    for (const [j, put] of (await sim.settle(Promise.all(puts), OP_LIMIT_MS + 1_000)).entries()) {
      if (!put.ok) violations.push({ checker: 'no-loss', message: `preloading ${keys[i + j]} failed: ${put.error}` });
    }
  }

  sim.setNetworkFaults(o.changeNetwork);
  const joiner = await sim.addNode(sim.nextFreshId());
  joiner.core.addSeeds([ids[0]!]);
  await sim.runUntil(() => sim.membershipConverged(), sim.nowMs + 30_000);
  await sim.runFor(random.next() * 1_000);
  const pick = (exclude: readonly NodeId[]): NodeId => {
    const candidates = ids.filter((id) => !exclude.includes(id));
    return candidates[Math.floor(random.next() * candidates.length)]!;
  };
  // n0 is every node's seed: it stays.
  const leaver = pick([ids[0]!]);
  const grower = pick([ids[0]!, leaver]);
  const changedAtMs = sim.nowMs;
  // leave() resolves once the node has left; the checks below look at its status instead.
  void sim.node(leaver).core.leave().catch(() => undefined);
  await sim.node(grower).core.setCapacity(2);

  const departed = new Set([leaver]);
  const checks = (): boolean =>
    sim.membershipConverged() &&
    sim.handoffsSettled() &&
    viewsSettled(sim) &&
    statusOf(sim, leaver) === 'left' &&
    ringsAgree(sim) &&
    placementViolations(sim, keys, departed).length === 0;
  let nextProgressMs = changedAtMs;
  const settledAtMs = await sim.runUntilPolled(
    () => {
      if (o.onProgress && sim.nowMs >= nextProgressMs) {
        nextProgressMs += 2_000;
        o.onProgress(progressLine(sim, changedAtMs));
      }
      return checks();
    },
    changedAtMs + o.settleDeadlineMs,
    POLL_MS,
  );
  const settleMs = settledAtMs === undefined ? undefined : Math.round(settledAtMs - changedAtMs);

  if (settleMs === undefined) {
    const open = [...sim.nodes.values()]
      .map((n) => ({ id: n.id, status: n.core.ownershipHandoffStatus() }))
      .filter(({ status }) => status.pendingPartitions.length + status.handoffPartitions.length + status.transfers.length > 0)
      .map(({ id, status }) => `${id}: pending [${status.pendingPartitions.join(' ')}] handoffs [${status.handoffPartitions.join(' ')}] transfers ${status.transfers.length}`);
    violations.push({ checker: 'handoffs', message: `not settled ${o.settleDeadlineMs} virtual ms after the leave: ${progressLine(sim, changedAtMs)}; ${preview(open, 8)}` });
    if (!viewsSettled(sim)) violations.push({ checker: 'handoffs', message: 'some node still sees a member receiving or handing off partitions' });
    if (statusOf(sim, leaver) !== 'left') violations.push({ checker: 'left', message: `${leaver} is still ${statusOf(sim, leaver)}` });
    if (!ringsAgree(sim)) violations.push({ checker: 'same-ring', message: 'the running nodes compute different rings' });
    violations.push(...placementViolations(sim, keys, departed).slice(0, 5));
  }
  const leftObjects = sim.node(leaver).data.objects.size;
  if (leftObjects > 0) violations.push({ checker: 'left', message: `${leaver} left but still stores ${leftObjects} objects` });
  if (ringsAgree(sim)) {
    const divergent = divergentKeys(replicaStates(sim, keys));
    if (divergent.length > 0) violations.push({ checker: 'no-loss', message: `replicas differ: ${preview(divergent, 5)}` });
  }
  const lost = keys.filter((key) => !holdsPreloadedValue(sim, key));
  if (lost.length > 0) violations.push({ checker: 'no-loss', message: `${lost.length} keys lack their preloaded value on some replica: ${preview(lost, 5)}` });

  let keysHandedOff = 0;
  for (const node of sim.nodes.values()) keysHandedOff += node.core.stats().ownershipHandoffKeysSent;
  return { seed: o.seed, violations, joiner: joiner.id, leaver, grower, settleMs, keysHandedOff, realMs: performance.now() - startedRealMs };
}

/** `id`'s status in its own record. */
function statusOf(sim: Simulation, id: NodeId): string | undefined {
  return sim.nodes.get(id)?.core.members().find((m) => m.id === id)?.status;
}

/** Whether no running node's view of any member shows partitions pending or handed off (what the explorer shows). */
function viewsSettled(sim: Simulation): boolean {
  for (const node of sim.nodes.values()) for (const m of node.core.members()) if (m.pendingPartitions.length > 0 || m.handoffPartitions.length > 0) return false;
  return true;
}

/** Whether each replica of `key` (first node's ring) holds the value written by the preload. */
function holdsPreloadedValue(sim: Simulation, key: string): boolean {
  const viewer: SimNode = sim.nodes.values().next().value!;
  const replicas = viewer.core.preferenceList(key).slice(0, viewer.core.config.n);
  return replicas.every((id) => {
    const versions = sim.nodes.get(id)?.data.objects.get(key);
    return versions !== undefined && versions.siblings.some((s) => s.data !== null && decodeValue(s.data) === key);
  });
}

/** Sums over the running nodes: partitions pending, handed off, transfers queued; then the busiest nodes. */
function progressLine(sim: Simulation, sinceMs: number): string {
  let pending = 0;
  let handoffs = 0;
  let transfers = 0;
  const busy: string[] = [];
  for (const node of sim.nodes.values()) {
    const s = node.core.ownershipHandoffStatus();
    pending += s.pendingPartitions.length;
    handoffs += s.handoffPartitions.length;
    transfers += s.transfers.length;
    if (s.pendingPartitions.length + s.handoffPartitions.length > 0) busy.push(`${node.id} ${s.pendingPartitions.length}/${s.handoffPartitions.length}`);
  }
  return `+${((sim.nowMs - sinceMs) / 1000).toFixed(0)} s: pending ${pending}, handoffs ${handoffs}, transfers ${transfers} (${busy.slice(0, 6).join(', ')}${busy.length > 6 ? ', …' : ''})`;
}

/** The command that replays one seed. */
export function largeClusterReplayCommand(seed: number): string {
  return `npx tsx scripts/sim-large-cluster.ts --seed ${seed} --runs 1 --verbose`;
}
