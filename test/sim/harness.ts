/**
 * A deterministic simulator of whole clusters (DESIGN.md §2; after TigerBeetle's simulator).
 *
 * One seed drives everything: the network's delays and losses and each node's randomness. Time is
 * virtual: events (message deliveries, node ticks) sit in a queue ordered by (time, sequence) and run
 * one at a time; after each, pending promise callbacks (the in-memory store's I/O) are drained, so a
 * minute of cluster time runs in milliseconds and a seed replays exactly.
 *
 * The nodes are the production `NodeCore` with in-memory stores (behind a fault-injecting wrapper) and
 * the in-memory network.
 *
 * Faults are plain data and can change at any moment of a run:
 *
 *   network   `setNetworkFaults({ lossProbability, duplicateProbability, delayMinMs, delayMaxMs })`;
 *             reordering follows from the spread between the delay bounds
 *   partition `setPartition(spec)`, one at a time, with `spec` one of
 *               halves   [a b] | [c d e]      no traffic between the groups
 *               one-way  [a] -/-> [b c]       a cannot reach b or c; b and c still reach a
 *               bridge   [a b] - x - [d e]    the groups cannot reach each other, both reach x
 *   storage   `setStorageFaults(id, { writeFailureProbability, writeDelayMinMs, writeDelayMaxMs })`:
 *             the node's writes fail with StorageError or take virtual time (faulty-store.ts)
 *   nodes     `crash(id)`             the tab dies; only its committed storage (MemoryStoreData) survives
 *             `restart(id)`           a new NodeCore with the same id over that storage
 *             `wipeAndRestart(id)`    the storage was evicted: a fresh node under a NEW id; the old id
 *                                     stays a member that never comes back
 *             `stall(id, ms)`         the tab's event loop is blocked (a long task, a saturated CPU):
 *                                     nothing it receives is handled and it does not tick until the
 *                                     stall ends; then its clock tick runs first and what arrived
 *                                     meanwhile after it, in order (as a browser runs the timer task
 *                                     that became due before the queued network tasks)
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { Message } from '../../src/core/messages.js';
import type { NodeEvent } from '../../src/core/node-api.js';
import type { NodeConfig } from '../../src/core/node-config.js';
import type { Transport } from '../../src/core/ports.js';
import { NodeCore } from '../../src/core/node-core.js';
import type { NodeId } from '../../src/core/types.js';
import type { Random } from '../../src/core/ports.js';
import { MemoryNetwork, type NetworkFaults } from '../../src/net/memory-network.js';
import { MemoryStore, MemoryStoreData } from '../../src/storage/memory-store.js';
import { FaultyStore, HEALTHY_STORAGE, type StorageFaults, type StorageFaultStats } from './faulty-store.js';
import { testAuthority } from './test-keys.js';

/** A seeded source of uniform numbers in [0, 1). */
export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed);
  return { next: () => uniformFloat64(rng) };
}

/**
 * A network partition, as data (see the module header). Node ids are fixed when the partition starts:
 * a node that joins later is not blocked by it.
 */
export type PartitionSpec =
  | { mode: 'halves'; groups: [NodeId[], NodeId[]] }
  | { mode: 'one-way'; from: NodeId[]; to: NodeId[] }
  | { mode: 'bridge'; left: NodeId[]; right: NodeId[]; bridge: NodeId };

/** The directed links (`from`, `to`) a partition blocks. */
export function blockedLinks(spec: PartitionSpec): [NodeId, NodeId][] {
  const links: [NodeId, NodeId][] = [];
  const both = (a: readonly NodeId[], b: readonly NodeId[]): void => {
    for (const x of a) for (const y of b) links.push([x, y], [y, x]);
  };
  switch (spec.mode) {
    case 'halves':
      both(spec.groups[0], spec.groups[1]);
      break;
    case 'one-way':
      for (const x of spec.from) for (const y of spec.to) links.push([x, y]);
      break;
    case 'bridge':
      // The bridge is in neither group, so its links stay open in both directions.
      both(spec.left, spec.right);
      break;
  }
  return links;
}

/** One line describing a partition, e.g. `halves [n0 n3] | [n1 n2 n4]`. */
export function formatPartition(spec: PartitionSpec): string {
  const list = (ids: readonly NodeId[]): string => `[${ids.join(' ')}]`;
  switch (spec.mode) {
    case 'halves':
      return `halves ${list(spec.groups[0])} | ${list(spec.groups[1])}`;
    case 'one-way':
      return `one-way ${list(spec.from)} -/-> ${list(spec.to)}`;
    case 'bridge':
      return `bridge ${list(spec.left)} - ${spec.bridge} - ${list(spec.right)}`;
  }
}

/** Settings of a {@link Simulation}. */
export interface SimulationOptions {
  seed: number;
  nodes: number;
  config?: Partial<NodeConfig>;
  faults?: Partial<NetworkFaults>;
  /** Period at which every node's `tick` runs, in virtual ms. Default 50. */
  tickIntervalMs?: number;
  /**
   * Members sign their records and removals with test keys (test-keys.ts), and check each other's, as
   * tabs do with Ed25519 (issue 16). Default true.
   */
  signedMembership?: boolean;
}

/** Counters of what the harness itself did (not the network's or the nodes' own counters). */
export interface SimulationStats extends StorageFaultStats {
  crashes: number;
  restarts: number;
  wipes: number;
  /**
   * Messages addressed to a node that crashed after they were sent, caught in flight and dropped
   * rather than handed to the node's next incarnation (a reload closes a tab's connections).
   */
  staleDeliveriesDropped: number;
}

/** One simulated node. */
export interface SimNode {
  id: NodeId;
  core: NodeCore;
  /**
   * The node's committed storage, for checkers and tests (they never wait on storage faults). The core
   * writes to it through a `FaultyStore` (storage faults, faulty-store.ts).
   */
  store: MemoryStore;
  data: MemoryStoreData;
  events: NodeEvent[];
}

interface Scheduled {
  atMs: number;
  seq: number;
  run: () => void;
}

/** Tracks a promise's outcome so the simulation can run until it settles. */
export interface Tracked<T> {
  settled: boolean;
  value?: T;
  error?: unknown;
  promise: Promise<T>;
}

/** Starts tracking `promise`. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { settled: false, promise };
  promise.then(
    (value) => {
      tracked.settled = true;
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.settled = true;
      tracked.error = error;
    },
  );
  return tracked;
}

const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A cluster of `NodeCore`s on a virtual clock. */
export class Simulation {
  readonly seed: number;
  readonly random: Random;
  readonly network: MemoryNetwork;
  readonly nodes = new Map<NodeId, SimNode>();
  /** Nodes that crashed and have not restarted yet, with the storage they committed. */
  readonly crashed = new Map<NodeId, MemoryStoreData>();
  /** Ids whose storage was wiped (`wipeAndRestart`): members that will never answer again. */
  readonly retired = new Set<NodeId>();
  /** The partition in force, or null. */
  partition: PartitionSpec | null = null;
  /** Called with every event any node emits (after it is recorded in the node's `events`). */
  onNodeEvent: ((node: NodeId, event: NodeEvent) => void) | undefined;
  readonly stats: SimulationStats = { crashes: 0, restarts: 0, wipes: 0, staleDeliveriesDropped: 0, writesFailed: 0, writesDelayed: 0 };
  /** Storage faults by node id (kept across a crash and restart, like partition blocks); absent: healthy. */
  private readonly storageFaults = new Map<NodeId, StorageFaults>();
  nowMs = 0;
  private seq = 0;
  private queue: Scheduled[] = [];
  private readonly tickIntervalMs: number;
  /** How many times each id has been started; a delivery stamped with an older one is stale. */
  private readonly incarnations = new Map<NodeId, number>();
  /** The recipient of the message being sent right now (set around the network's `schedule` call). */
  private sendingTo: NodeId | undefined;
  /** Stalled nodes: until when, and what reached each meanwhile (handled when the stall ends). */
  private readonly stalls = new Map<NodeId, { untilMs: number; held: { from: NodeId; message: unknown }[] }>();
  private nextNodeIndex = 0;

  constructor(readonly options: SimulationOptions) {
    this.seed = options.seed;
    this.random = seededRandom(options.seed);
    this.network = new MemoryNetwork((delayMs, fn) => this.scheduleDelivery(delayMs, fn), seededRandom(options.seed ^ 0x5bd1e995), options.faults);
    this.tickIntervalMs = options.tickIntervalMs ?? 50;
  }

  /** Describes the run, for failure messages: replay with the same seed and options. */
  describe(): string {
    return `seed=${this.seed} options=${JSON.stringify(this.options)}`;
  }

  /** Runs `fn` after `delayMs` of virtual time. */
  schedule(delayMs: number, fn: () => void): void {
    const item = { atMs: this.nowMs + Math.max(0, delayMs), seq: this.seq++, run: fn };
    // Binary search insertion keeps the queue ordered by (time, sequence).
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.queue[mid]!;
      if (other.atMs < item.atMs || (other.atMs === item.atMs && other.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
  }

  /**
   * The network calls this once per copy of a message it sends. When the message comes from a node's
   * core (see `addNode`), the delivery is stamped with the recipient's incarnation, and dropped if the
   * recipient crashed meanwhile: a late reply must not reach the restarted node, whose request ids
   * start again from 1 and could match it to the wrong request. A real reload closes the connection.
   */
  private scheduleDelivery(delayMs: number, fn: () => void): void {
    const to = this.sendingTo;
    if (to === undefined) {
      this.schedule(delayMs, fn);
      return;
    }
    const incarnation = this.incarnations.get(to) ?? 0;
    this.schedule(delayMs, () => {
      if ((this.incarnations.get(to) ?? 0) !== incarnation) {
        this.stats.staleDeliveriesDropped++;
        return;
      }
      fn();
    });
  }

  /** A promise that resolves after `delayMs` of virtual time (for client think time and deadlines). */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.schedule(delayMs, resolve));
  }

  /** Creates and starts `options.nodes` nodes named n0, n1, …; every node gets n0 as its seed. */
  async start(): Promise<void> {
    for (let i = 0; i < this.options.nodes; i++) await this.addNode(`n${i}`);
    for (const node of this.nodes.values()) node.core.addSeeds(['n0']);
  }

  /** Ids of the running nodes, sorted. */
  liveIds(): NodeId[] {
    return [...this.nodes.keys()].sort();
  }

  /** Adds and starts one node (optionally reopening stored data after a crash). */
  async addNode(id: NodeId, data = new MemoryStoreData(), config: Partial<NodeConfig> = {}): Promise<SimNode> {
    const store = new MemoryStore(data);
    const events: NodeEvent[] = [];
    const incarnation = (this.incarnations.get(id) ?? -1) + 1;
    const faultyStore = new FaultyStore(store, {
      faults: () => this.storageFaults.get(id) ?? HEALTHY_STORAGE,
      random: seededRandom((this.seed * 131 + hashId(id) + 0x3c6ef372 + 104_729 * incarnation) | 0),
      now: () => this.nowMs,
      sleep: (delayMs) => this.sleep(delayMs),
      stats: this.stats,
    });
    this.incarnations.set(id, incarnation);
    const match = /^n(\d+)$/.exec(id);
    if (match) this.nextNodeIndex = Math.max(this.nextNodeIndex, Number(match[1]) + 1);
    const nodeRandom = seededRandom((this.seed * 31 + hashId(id) + 7919 * incarnation) | 0);
    let core!: NodeCore;
    let self: SimNode | undefined;
    const attached = this.network.attach(id, (from, message) => {
      const stall = this.stalls.get(id);
      if (stall !== undefined) stall.held.push({ from, message });
      else core.receive(from, message);
    });
    // A crashed node's core may still be finishing work it had started (an await on its closed store);
    // whatever it tries to send after the crash goes nowhere.
    const transport: Transport = {
      send: (to: NodeId, message: Message): void => {
        if (self === undefined || this.nodes.get(id) !== self) return;
        this.sendingTo = to;
        try {
          attached.send(to, message);
        } finally {
          this.sendingTo = undefined;
        }
      },
    };
    core = new NodeCore({
      id,
      config: { ...this.options.config, ...config },
      clock: { now: () => this.nowMs },
      random: nodeRandom,
      transport,
      store: faultyStore,
      ...(this.options.signedMembership !== false ? { authority: testAuthority(id) } : {}),
      onEvent: (event) => {
        events.push(event);
        this.onNodeEvent?.(id, event);
      },
    });
    const node: SimNode = { id, core, store, data, events };
    self = node;
    // Registered before start() so that what start() sends (nothing today; a join announcement later)
    // is not mistaken for a dead node's traffic.
    this.nodes.set(id, node);
    await core.start();
    this.scheduleTicks(node);
    return node;
  }

  /**
   * Crashes a running node: its core stops (pending requests fail), it leaves the network (messages
   * to it are lost, including those already in flight), and its store is closed, so that only what it
   * had committed to its `MemoryStoreData` survives. Nothing is flushed: a write the core had not yet
   * committed is lost, as in a tab killed mid-transaction.
   * @throws Error when `id` is not running (a programmer error in the test).
   */
  crash(id: NodeId): void {
    const node = this.node(id);
    this.nodes.delete(id);
    this.crashed.set(id, node.data);
    this.stats.crashes++;
    node.core.stop();
    this.network.detach(id);
    void node.store.close();
  }

  /**
   * Restarts a crashed node: a new `NodeCore` with the same id over the same committed storage, told
   * about one running node as a seed (it also remembers the members it had stored).
   * @throws Error when `id` has not crashed.
   */
  async restart(id: NodeId): Promise<SimNode> {
    const data = this.crashed.get(id);
    if (data === undefined) throw new Error(`restart(${id}): the node has not crashed`);
    this.crashed.delete(id);
    this.stats.restarts++;
    const node = await this.addNode(id, data);
    const seed = this.liveIds().find((other) => other !== id);
    if (seed !== undefined) node.core.addSeeds([seed]);
    return node;
  }

  /**
   * What a tab whose storage was evicted does: the node (crashed first if it is running) comes back
   * with empty storage under a new id, `n<k>` with k one past the highest index used so far. The old
   * id is retired: it stays in everyone's membership and never answers again.
   * @returns the new node.
   */
  async wipeAndRestart(id: NodeId): Promise<SimNode> {
    if (this.nodes.has(id)) this.crash(id);
    if (!this.crashed.delete(id)) throw new Error(`wipeAndRestart(${id}): no such node`);
    this.retired.add(id);
    this.stats.wipes++;
    const node = await this.addNode(this.nextFreshId());
    const seed = this.liveIds().find((other) => other !== node.id);
    if (seed !== undefined) node.core.addSeeds([seed]);
    return node;
  }

  /** The id `wipeAndRestart` will give the next fresh node. */
  nextFreshId(): NodeId {
    return `n${this.nextNodeIndex}`;
  }

  /** Changes the network's loss, duplication and delay settings; the rest stay as they are. */
  setNetworkFaults(faults: Partial<NetworkFaults>): void {
    Object.assign(this.network.faults, faults);
  }

  /** Sets the storage faults of node `id` (null: healthy again); they hold across its crash and restart. */
  setStorageFaults(id: NodeId, faults: StorageFaults | null): void {
    if (faults === null) this.storageFaults.delete(id);
    else this.storageFaults.set(id, { ...faults });
  }

  /**
   * Replaces the partition in force (null: none). Blocks are set on the network by id, so they hold
   * for a node across its crash and restart.
   */
  setPartition(spec: PartitionSpec | null): void {
    this.network.heal();
    this.partition = spec;
    if (spec !== null) for (const [from, to] of blockedLinks(spec)) this.network.block(from, to);
  }

  /**
   * Ends every fault: no partition, no loss or duplication (delays keep their bounds, so messages still
   * reorder), healthy storage, and every crashed node restarted with its storage. Retired ids stay gone.
   */
  async healAll(): Promise<void> {
    this.setPartition(null);
    this.storageFaults.clear();
    this.setNetworkFaults({ lossProbability: 0, duplicateProbability: 0 });
    for (const id of [...this.crashed.keys()].sort()) await this.restart(id);
  }

  /**
   * Runs in steps of `pollMs` until `condition()` (which may read stores asynchronously) holds, or
   * virtual time passes `deadlineMs`. Checking every `pollMs` rather than after every event keeps
   * expensive conditions cheap; the time it returns is exact to `pollMs`.
   * @returns the virtual time at which the condition was first seen to hold, or undefined.
   */
  async runUntilPolled(condition: () => boolean | Promise<boolean>, deadlineMs: number, pollMs = 100): Promise<number | undefined> {
    for (;;) {
      if (await condition()) return this.nowMs;
      if (this.nowMs >= deadlineMs) return undefined;
      await this.runFor(Math.min(pollMs, deadlineMs - this.nowMs));
    }
  }

  /** The node called `id`. */
  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  /**
   * Blocks `id`'s event loop for `durationMs` of virtual time (see the module header): it neither
   * ticks nor handles messages until then; at the end its tick runs first, then what arrived.
   * @throws Error when `id` is not running or already stalled.
   */
  stall(id: NodeId, durationMs: number): void {
    const node = this.node(id);
    if (this.stalls.has(id)) throw new Error(`${id} is already stalled`);
    const stall = { untilMs: this.nowMs + durationMs, held: [] as { from: NodeId; message: unknown }[] };
    this.stalls.set(id, stall);
    this.schedule(durationMs, () => {
      this.stalls.delete(id);
      if (this.nodes.get(id) !== node) return;
      node.core.tick(this.nowMs);
      for (const { from, message } of stall.held) node.core.receive(from, message);
    });
  }

  private scheduleTicks(node: SimNode): void {
    const tick = (): void => {
      if (this.nodes.get(node.id) !== node) return; // crashed or replaced
      if (!this.stalls.has(node.id)) node.core.tick(this.nowMs);
      this.schedule(this.tickIntervalMs, tick);
    };
    this.schedule(this.random.next() * this.tickIntervalMs, tick);
  }

  /** Runs events until virtual time has advanced by `durationMs`. */
  async runFor(durationMs: number): Promise<void> {
    const endMs = this.nowMs + durationMs;
    await this.runUntil(() => false, endMs);
  }

  /**
   * Runs events until `condition()` holds (checked after every event) or virtual time passes
   * `deadlineMs`. Returns whether the condition held.
   */
  async runUntil(condition: () => boolean, deadlineMs: number): Promise<boolean> {
    await drainMicrotasks();
    while (!condition()) {
      const next = this.queue[0];
      if (next === undefined || next.atMs > deadlineMs) {
        this.nowMs = Math.max(this.nowMs, deadlineMs);
        return condition();
      }
      this.queue.shift();
      this.nowMs = next.atMs;
      next.run();
      await drainMicrotasks();
    }
    return true;
  }

  /** Runs until `tracked` settles (or `timeoutMs` of virtual time pass), then returns its value or throws its error. */
  async settle<T>(promise: Promise<T>, timeoutMs = 60_000): Promise<T> {
    const tracked = track(promise);
    const ok = await this.runUntil(() => tracked.settled, this.nowMs + timeoutMs);
    if (!ok) throw new Error(`operation did not settle within ${timeoutMs} virtual ms (${this.describe()})`);
    if (tracked.error !== undefined) throw tracked.error;
    return tracked.value as T;
  }

  /** Runs until every running node sees every running node as a member, within `timeoutMs`. */
  async converge(timeoutMs = 30_000): Promise<boolean> {
    return this.runUntil(() => this.membershipConverged(), this.nowMs + timeoutMs);
  }

  /**
   * Runs until the membership converged and no running node has a partition pending or being handed
   * off (a settled cluster, paper §4.9), within `timeoutMs`.
   */
  async settleCluster(timeoutMs = 30_000): Promise<boolean> {
    return this.runUntil(() => this.membershipConverged() && this.handoffsSettled(), this.nowMs + timeoutMs);
  }

  /** Whether no running node has a partition pending, being handed off, or a transfer queued. */
  handoffsSettled(): boolean {
    for (const node of this.nodes.values()) {
      const status = node.core.ownershipHandoffStatus();
      if (status.pendingPartitions.length > 0 || status.handoffPartitions.length > 0 || status.transfers.length > 0) return false;
    }
    return true;
  }

  /** Whether every running node has every running node in its membership (crashed ones may linger). */
  membershipConverged(): boolean {
    const ids = [...this.nodes.keys()];
    for (const node of this.nodes.values()) {
      const known = new Set(node.core.members().map((m) => m.id));
      if (!ids.every((id) => known.has(id))) return false;
    }
    return true;
  }
}

function hashId(id: string): number {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 16777619);
  return hash >>> 0;
}
