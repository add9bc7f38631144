/**
 * A deterministic simulator of whole clusters (DESIGN.md §2; after TigerBeetle's simulator).
 *
 * One seed drives everything: the network's delays and losses and each node's randomness. Time is
 * virtual: events (message deliveries, node ticks) sit in a queue ordered by (time, sequence) and run
 * one at a time; after each, pending promise callbacks (the in-memory store's I/O) are drained, so a
 * minute of cluster time runs in milliseconds and a seed replays exactly.
 *
 * The nodes are the production `NodeCore` with in-memory stores and the in-memory network.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { NodeConfig, NodeEvent } from '../../src/core/node-core.js';
import { NodeCore } from '../../src/core/node-core.js';
import type { NodeId, Random } from '../../src/core/types.js';
import { MemoryNetwork, type NetworkFaults } from '../../src/net/memory-network.js';
import { MemoryStore, MemoryStoreData } from '../../src/storage/memory-store.js';

/** A seeded source of uniform numbers in [0, 1). */
export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed);
  return { next: () => uniformFloat64(rng) };
}

/** Settings of a {@link Simulation}. */
export interface SimulationOptions {
  seed: number;
  nodes: number;
  config?: Partial<NodeConfig>;
  faults?: Partial<NetworkFaults>;
  /** Period at which every node's `tick` runs, in virtual ms. Default 50. */
  tickIntervalMs?: number;
}

/** One simulated node. */
export interface SimNode {
  id: NodeId;
  core: NodeCore;
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
  nowMs = 0;
  private seq = 0;
  private queue: Scheduled[] = [];
  private readonly tickIntervalMs: number;

  constructor(readonly options: SimulationOptions) {
    this.seed = options.seed;
    this.random = seededRandom(options.seed);
    this.network = new MemoryNetwork((delayMs, fn) => this.schedule(delayMs, fn), seededRandom(options.seed ^ 0x5bd1e995), options.faults);
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

  /** Creates and starts `options.nodes` nodes named n0, n1, …; every node gets n0 as its seed. */
  async start(): Promise<void> {
    for (let i = 0; i < this.options.nodes; i++) await this.addNode(`n${i}`);
    for (const node of this.nodes.values()) node.core.addSeeds(['n0']);
  }

  /** Adds and starts one node (optionally reopening stored data after a crash). */
  async addNode(id: NodeId, data = new MemoryStoreData()): Promise<SimNode> {
    const store = new MemoryStore(data);
    const events: NodeEvent[] = [];
    const nodeRandom = seededRandom((this.seed * 31 + hashId(id)) | 0);
    let core!: NodeCore;
    const transport = this.network.attach(id, (from, message) => core.receive(from, message));
    core = new NodeCore({
      id,
      config: this.options.config,
      clock: { now: () => this.nowMs },
      random: nodeRandom,
      transport,
      store,
      onEvent: (event) => events.push(event),
    });
    await core.start();
    const node: SimNode = { id, core, store, data, events };
    this.nodes.set(id, node);
    this.scheduleTicks(node);
    return node;
  }

  /** The node called `id`. */
  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  private scheduleTicks(node: SimNode): void {
    const tick = (): void => {
      if (this.nodes.get(node.id) !== node) return; // crashed or replaced
      node.core.tick(this.nowMs);
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

  /** Runs until every node sees every other node as a member, within `timeoutMs`. */
  async converge(timeoutMs = 30_000): Promise<boolean> {
    const ids = [...this.nodes.keys()];
    return this.runUntil(
      () => [...this.nodes.values()].every((n) => n.core.members().length === ids.length),
      this.nowMs + timeoutMs,
    );
  }
}

function hashId(id: string): number {
  let hash = 2166136261;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 16777619);
  return hash >>> 0;
}
