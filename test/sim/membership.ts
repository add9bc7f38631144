/**
 * Membership changes under load, with faults (paper §4.8.1, §4.9): joins, graceful leaves, an
 * operator's removal of a dead node and capacity changes, some of them at the same moment, while
 * clients read and write and the network loses, duplicates and delays messages and a node crashes and
 * restarts. Then the network heals and the cluster settles, and the checkers look at the end state:
 *
 *   no-loss      every acknowledged write is in the final read of its key (set-full, as workload.ts)
 *   placement    every key is stored on exactly the N replicas of the final ring, nowhere else
 *   same-ring    every running node computes the same ring
 *   movement     each join moved at most 10% more partitions than the minimum (the joiner's share)
 *   balance      after every change, each member's partitions are within 5% of Q·capacity/total
 *   drained      a node that left holds no object, and its status is `left`
 *
 * Each seed fixes the schedule, the workload and the network: a failure prints its seed and replays.
 */
import { createHash } from 'node:crypto';
import type { MemberRecord } from '../../src/core/membership.js';
import { Ring } from '../../src/core/ring.js';
import type { NodeId } from '../../src/core/types.js';
import { checkSetFull, checkStoredState, dotId, preview, type FinalRead, type Violation } from './checkers.js';
import { seededRandom, Simulation, type SimNode } from './harness.js';
import { finalRead, ringsAgree, storedElements, within } from './workload.js';

/** One membership change of a schedule. */
export type MembershipEvent =
  | { atMs: number; kind: 'join'; capacity: number }
  | { atMs: number; kind: 'leave'; node: NodeId }
  | { atMs: number; kind: 'remove'; node: NodeId; by: NodeId }
  | { atMs: number; kind: 'capacity'; node: NodeId; capacity: number }
  | { atMs: number; kind: 'crash-restart'; node: NodeId; downMs: number };

/** Settings of one membership seed. */
export interface MembershipRunOptions {
  seed: number;
  /** Nodes at the start. Default 5. */
  nodes?: number;
  /** Keys written before the changes (data to move). Default 300. */
  preloadKeys?: number;
  /** Membership changes in the schedule. Default 4. */
  changes?: number;
  /** Bound on the settle phase after the heal, virtual ms. Default 60000. */
  settleDeadlineMs?: number;
  keepTrace?: boolean;
}

/** What one seed did and found. */
export interface MembershipReport {
  seed: number;
  events: MembershipEvent[];
  acknowledgedWrites: number;
  lostWrites: number;
  violations: Violation[];
  /** Per join: partitions that changed owner, and the minimum (the joiner's partitions). */
  joins: { moved: number; minimum: number }[];
  /** Largest relative deviation of a member's partitions from its ideal share, over every change. */
  worstImbalance: number;
  /** Objects moved by handoff in all. */
  keysHandedOff: number;
  /** Virtual ms from the heal until the cluster settled (membership, handoffs, placement). */
  settleMs: number | undefined;
  traceHash: string;
  trace: string[];
  realMs: number;
}

const THINK_MS: [number, number] = [30, 200];
const OP_LIMIT_MS = 8_000;

/** The seed's schedule of membership changes over a window of `windowMs`, starting from `ids`. */
export function membershipSchedule(seed: number, ids: readonly NodeId[], changes: number, windowMs: number, firstFreshIndex: number): MembershipEvent[] {
  const random = seededRandom((seed ^ 0x2b7e1516) | 0);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)]!;
  const inRing = new Set(ids);
  const events: MembershipEvent[] = [];
  let fresh = firstFreshIndex;
  let atMs = 500;
  let crashed = false;
  for (let i = 0; i < changes; i++) {
    atMs += 1_000 + random.next() * (windowMs / changes);
    // Two changes at the same moment now and then: concurrent changes must converge too.
    const count = random.next() < 0.35 ? 2 : 1;
    for (let j = 0; j < count; j++) {
      const kinds: MembershipEvent['kind'][] = ['join', 'capacity'];
      // Keep at least four nodes in the ring (N = 3 plus one), and at most one node out for good per step.
      if (inRing.size > 4) kinds.push('leave', 'remove');
      if (!crashed) kinds.push('crash-restart');
      const kind = pick(kinds);
      const members = [...inRing].sort();
      switch (kind) {
        case 'join': {
          const id = `n${fresh++}`;
          inRing.add(id);
          events.push({ atMs, kind, capacity: random.next() < 0.25 ? 2 : 1 });
          break;
        }
        case 'leave': {
          const node = pick(members);
          inRing.delete(node);
          events.push({ atMs, kind, node });
          break;
        }
        case 'remove': {
          const node = pick(members);
          inRing.delete(node);
          const by = pick([...inRing].sort());
          events.push({ atMs, kind, node, by });
          break;
        }
        case 'capacity':
          events.push({ atMs, kind, node: pick(members), capacity: pick([0.5, 1, 2, 3]) });
          break;
        case 'crash-restart':
          crashed = true;
          events.push({ atMs, kind, node: pick(members), downMs: 1_000 + random.next() * 3_000 });
          break;
      }
    }
  }
  return events;
}

/** How far each member's partition count is from Q·capacity/total, as the largest relative deviation. */
export function imbalance(ring: Ring, records: readonly MemberRecord[]): number {
  const members = records.filter((r) => r.history[r.history.length - 1]!.capacity > 0);
  const total = members.reduce((sum, r) => sum + r.history[r.history.length - 1]!.capacity, 0);
  let worst = 0;
  for (const r of members) {
    const ideal = (ring.partitionCount * r.history[r.history.length - 1]!.capacity) / total;
    const have = ring.partitionsOf(r.id).length;
    // One partition of rounding is unavoidable; beyond that, relative to the ideal.
    worst = Math.max(worst, Math.max(0, Math.abs(have - ideal) - 1) / ideal);
  }
  return worst;
}

/** Runs one seed (see the module header). Never throws for a protocol failure. */
export async function runMembershipSeed(options: MembershipRunOptions): Promise<MembershipReport> {
  const startedRealMs = performance.now();
  const o = { nodes: 5, preloadKeys: 300, changes: 4, settleDeadlineMs: 60_000, ...options };
  const { seed } = o;
  const hash = createHash('sha256');
  const trace: string[] = [];
  const sim = new Simulation({ seed, nodes: o.nodes, faults: { delayMinMs: 1, delayMaxMs: 25 }, tickIntervalMs: 100 });
  const note = (line: string): void => {
    const stamped = `${sim.nowMs.toFixed(1)} ${line}`;
    hash.update(stamped + '\n');
    if (o.keepTrace) trace.push(stamped);
  };
  sim.onNodeEvent = (id, event) => {
    if (event.type === 'membership-change' || event.type === 'error' || (process.env.DBG_NODE === id && (event.type === 'ownership-handoff' || event.type === 'hints-delivered' || event.type === 'hint-stored'))) note(`event ${id} ${JSON.stringify(event, (_, v: unknown) => (v instanceof Error ? v.message : v))}`);
  };
  const violations: Violation[] = [];
  const random = seededRandom((seed ^ 0x13198a2e) | 0);
  const between = (min: number, max: number): number => min + random.next() * (max - min);
  /** Running nodes still in the ring (clients use them; a node that left acts only as a client elsewhere). */
  const pickLive = (): SimNode | undefined => {
    const ids = sim.liveIds().filter((id) => sim.node(id).core.members().find((m) => m.id === id)?.status === 'up');
    return ids.length === 0 ? undefined : sim.node(ids[Math.floor(random.next() * ids.length)]!);
  };

  await sim.start();
  if (!(await sim.settleCluster(30_000))) violations.push({ checker: 'membership', message: 'the cluster did not settle before the changes' });

  // Data to move: every preloaded key is a set with one acknowledged element.
  const acknowledged = new Map<string, Set<string>>();
  const attempted = new Set<string>();
  const preload = Array.from({ length: o.preloadKeys }, (_, i) => `k${i}`);
  for (const [i, key] of preload.entries()) {
    const node = sim.node(sim.liveIds()[i % sim.liveIds().length]!);
    const tag = `p${i}`;
    attempted.add(tag);
    const put = await sim.settle(within(sim, node.core.put(key, { tag, elems: [tag] }), OP_LIMIT_MS), OP_LIMIT_MS + 1_000);
    acknowledged.set(key, new Set(put.ok ? [tag] : []));
  }
  note(`preloaded ${preload.length} keys`);

  // Background faults: lossy, duplicating network for the whole window.
  sim.setNetworkFaults({ lossProbability: 0.02, duplicateProbability: 0.02 });
  const windowMs = 4_000 * o.changes;
  const events = membershipSchedule(seed, sim.liveIds(), o.changes, windowMs, Number(sim.nextFreshId().slice(1)));
  const startMs = sim.nowMs;
  const endMs = startMs + windowMs + 2_000;
  const joins: { moved: number; minimum: number }[] = [];
  let worstImbalance = 0;
  const leaving: Promise<unknown>[] = [];
  const departed = new Set<NodeId>();

  const observeRing = (label: string): void => {
    const viewer = pickLive();
    if (!viewer) return;
    worstImbalance = Math.max(worstImbalance, imbalance(viewer.core.ring(), viewer.core.members()));
    note(`ring after ${label}: ${viewer.core.ring().members.map((m) => m.id).join(',')}`);
  };

  const apply = async (e: MembershipEvent): Promise<void> => {
    note(`change ${JSON.stringify(e)}`);
    switch (e.kind) {
      case 'join': {
        const node = await sim.addNode(sim.nextFreshId(), undefined, { capacity: e.capacity });
        const seedNode = sim.liveIds().find((id) => id !== node.id);
        if (seedNode) node.core.addSeeds([seedNode]);
        // The ring change the join causes: the joiner's ring once every node sees it, against the ring
        // of the same membership without the joiner (other changes of the moment are in both).
        await sim.runUntil(() => sim.membershipConverged(), sim.nowMs + 10_000);
        const after = node.core.ring();
        const others = node.core
          .members()
          .filter((m) => m.id !== node.id)
          .map((m) => ({ id: m.id, capacity: m.capacity, joinedAtMs: m.joinedAtMs, history: m.history }));
        const before = Ring.build(others, after.partitionCount);
        joins.push({ moved: Ring.movedPartitions(before, after), minimum: after.partitionsOf(node.id).length });
        break;
      }
      case 'leave': {
        if (!sim.nodes.has(e.node)) return;
        departed.add(e.node);
        const node = sim.node(e.node);
        leaving.push(node.core.leave().catch((error: unknown) => note(`leave of ${e.node} failed: ${String(error)}`)));
        break;
      }
      case 'remove': {
        if (sim.nodes.has(e.node)) sim.crash(e.node);
        sim.retired.add(e.node);
        departed.add(e.node);
        const by = sim.nodes.get(e.by) ?? pickLive();
        await by?.core.remove(e.node).catch((error: unknown) => note(`remove of ${e.node} failed: ${String(error)}`));
        break;
      }
      case 'capacity':
        await sim.nodes.get(e.node)?.core.setCapacity(e.capacity).catch((error: unknown) => note(`capacity of ${e.node} failed: ${String(error)}`));
        break;
      case 'crash-restart':
        if (!sim.nodes.has(e.node) || departed.has(e.node)) return;
        sim.crash(e.node);
        sim.schedule(e.downMs, () => {
          if (sim.crashed.has(e.node) && !sim.retired.has(e.node)) void sim.restart(e.node);
        });
        break;
    }
    await sim.runFor(300);
    observeRing(e.kind);
  };

  const changes = (async () => {
    for (const e of events) {
      const waitMs = startMs + e.atMs - sim.nowMs;
      if (waitMs > 0) await sim.sleep(waitMs);
      await apply(e);
    }
  })();

  // Clients: read-modify-write of a few set keys, and blind writes to the preloaded keys.
  const setKeys = ['s0', 's1', 's2'];
  for (const key of setKeys) acknowledged.set(key, new Set());
  let acknowledgedWrites = 0;
  const setClient = async (client: number): Promise<void> => {
    for (let i = 0; ; i++) {
      await sim.sleep(between(...THINK_MS));
      if (sim.nowMs >= endMs) return;
      const node = pickLive();
      if (!node) continue;
      const key = setKeys[Math.floor(random.next() * setKeys.length)]!;
      const element = `c${client}.${i}`;
      attempted.add(element);
      const read = await within(sim, node.core.get(key), OP_LIMIT_MS);
      if (!read.ok) continue;
      const union = new Set<string>([element]);
      for (const s of read.value.siblings) for (const el of (s.value as { elems?: string[] } | null)?.elems ?? []) union.add(el);
      const put = await within(sim, node.core.put(key, { tag: element, elems: [...union].sort() }, { context: read.value.context }), OP_LIMIT_MS);
      if (put.ok) {
        acknowledged.get(key)!.add(element);
        acknowledgedWrites++;
      }
      note(`${element} ${key} via ${node.id}: ${put.ok ? dotId(put.value.version) : put.error}`);
    }
  };
  const blindWriter = async (writer: number): Promise<void> => {
    for (let j = 0; ; j++) {
      await sim.sleep(between(...THINK_MS));
      if (sim.nowMs >= endMs) return;
      const node = pickLive();
      if (!node) continue;
      const key = preload[Math.floor(random.next() * preload.length)]!;
      const read = await within(sim, node.core.get(key), OP_LIMIT_MS);
      if (!read.ok) continue;
      const tag = `w${writer}.${j}`;
      attempted.add(tag);
      const union = new Set<string>([tag]);
      for (const s of read.value.siblings) for (const el of (s.value as { elems?: string[] } | null)?.elems ?? []) union.add(el);
      const put = await within(sim, node.core.put(key, { tag, elems: [...union].sort() }, { context: read.value.context }), OP_LIMIT_MS);
      if (put.ok) {
        acknowledged.get(key)!.add(tag);
        acknowledgedWrites++;
      }
    }
  };
  const clients = [setClient(0), setClient(1), blindWriter(0), blindWriter(1)];
  await sim.runFor(endMs - sim.nowMs);
  try {
    await sim.settle(Promise.all([changes, ...clients]), 2 * OP_LIMIT_MS + 20_000);
  } catch (error) {
    violations.push({ checker: 'harness', message: `clients or changes did not finish: ${String(error)}` });
  }

  // Heal and settle: restart what is still down (unless it is gone for good), a clean network.
  note('heal');
  const healedAtMs = sim.nowMs;
  sim.setNetworkFaults({ lossProbability: 0, duplicateProbability: 0 });
  for (const id of [...sim.crashed.keys()]) if (!sim.retired.has(id)) await sim.restart(id);
  try {
    await sim.settle(Promise.all(leaving), o.settleDeadlineMs);
  } catch {
    violations.push({ checker: 'drained', message: `a leaving node did not finish leaving within ${o.settleDeadlineMs} virtual ms` });
  }
  const keys = [...preload, ...setKeys];
  const placementOk = (): boolean => placementViolations(sim, keys, departed).length === 0;
  const settled = await sim.runUntil(() => sim.membershipConverged() && sim.handoffsSettled() && ringsAgree(sim) && placementOk(), sim.nowMs + o.settleDeadlineMs);
  const settleMs = settled ? Math.round(sim.nowMs - healedAtMs) : undefined;
  if (!ringsAgree(sim)) violations.push({ checker: 'same-ring', message: 'the running nodes compute different rings' });
  if (!settled) {
    violations.push(...placementViolations(sim, keys, departed).slice(0, 5));
    if (!sim.handoffsSettled()) {
      const open = [...sim.nodes.values()].map((n) => `${n.id}: ${JSON.stringify(n.core.ownershipHandoffStatus()).slice(0, 400)}`);
      violations.push({ checker: 'placement', message: `handoffs not settled ${o.settleDeadlineMs} virtual ms after the heal: ${preview(open, 8)}` });
    }
  }
  for (const id of departed) {
    const node = sim.nodes.get(id);
    if (!node) continue;
    if (node.data.objects.size > 0) violations.push({ checker: 'drained', message: `${id} left but still stores ${node.data.objects.size} objects` });
    const status = node.core.members().find((m) => m.id === id)?.status;
    if (status !== 'left') violations.push({ checker: 'drained', message: `${id} left but its status is ${status}` });
  }
  for (const [i, join] of joins.entries()) {
    if (join.moved > Math.ceil(join.minimum * 1.1)) violations.push({ checker: 'movement', message: `join ${i} moved ${join.moved} partitions, minimum ${join.minimum}` });
  }
  if (worstImbalance > 0.05) violations.push({ checker: 'balance', message: `a member's partitions were ${(worstImbalance * 100).toFixed(1)}% off its share` });
  for (const node of sim.nodes.values()) for (const [key, state] of node.data.objects) violations.push(...checkStoredState(node.id, key, state));

  // No loss: the final read of every key holds every acknowledged element.
  const finals = new Map<string, FinalRead>();
  const stored = new Map<string, Set<string>>();
  for (const key of keys) {
    stored.set(key, storedElements(sim, key));
    finals.set(key, await finalRead(sim, key, pickLive));
  }
  const setFull = checkSetFull(acknowledged, finals, stored);
  violations.push(...setFull.violations);
  let keysHandedOff = 0;
  for (const node of sim.nodes.values()) keysHandedOff += node.core.stats().ownershipHandoffKeysSent;

  for (const n of sim.nodes.values()) note(`state ${n.id} running=${n.core.isRunning} members=${JSON.stringify(n.core.members().map((m) => [m.id, m.status, m.version, m.pendingPartitions.length, m.handoffPartitions.length]))} health=${JSON.stringify(n.core.peerHealth()).slice(0, 300)}`);
  for (const n of sim.nodes.values()) note(`dbg ${n.id} ${JSON.stringify(n.core.ownershipHandoffStatus()).slice(0, 300)} hints=${[...n.data.hints].map(([t, m]) => `${t}:${m.size}`).join(",")} objects=${n.data.objects.size} status=${n.core.members().find((m) => m.id === n.id)?.status}`);
  note(`verdict lost=${setFull.lost} violations=${violations.length}`);

  return {
    seed,
    events,
    acknowledgedWrites: acknowledgedWrites + preload.length,
    lostWrites: setFull.lost,
    violations,
    joins,
    worstImbalance,
    keysHandedOff,
    settleMs,
    traceHash: hash.digest('hex').slice(0, 16),
    trace,
    realMs: performance.now() - startedRealMs,
  };
}

/** Keys stored anywhere but on exactly the N replicas of the final ring (running nodes; departed ones must hold nothing). */
export function placementViolations(sim: Simulation, keys: readonly string[], departed: ReadonlySet<NodeId>): Violation[] {
  const viewer = [...sim.nodes.values()].find((n) => !departed.has(n.id));
  if (!viewer) return [];
  const violations: Violation[] = [];
  for (const key of keys) {
    const replicas = viewer.core.preferenceList(key).slice(0, viewer.core.config.n).sort();
    const holders = [...sim.nodes.values()].filter((n) => n.data.objects.has(key)).map((n) => n.id).sort();
    if (replicas.join() !== holders.join()) {
      violations.push({ checker: 'placement', message: `${key} is stored on [${holders.join(', ')}], its replicas are [${replicas.join(', ')}]` });
    }
  }
  return violations;
}

/** The command that replays one seed. */
export function membershipReplayCommand(seed: number): string {
  return `npm run sim:membership -- --seed ${seed} --runs 1 --verbose`;
}
