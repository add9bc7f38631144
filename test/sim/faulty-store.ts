/**
 * Storage faults for the simulation: a `Store` (src/core/ports.ts) that wraps a node's real store and,
 * while its node's storage faults say so, makes writes fail or take time — what IndexedDB does on a
 * full or busy disk (a transaction aborted with an error; a commit that takes hundreds of ms).
 *
 *   write ──▶ lane of its object store (FIFO) ──▶ wait until its commit time ──▶ fail? ─ yes ─▶ StorageError, nothing stored
 *                                                                                └─ no ──▶ the real store's write
 *
 * - Faults are plain data ({@link StorageFaults}), read at every write from the simulation, per node, so
 *   they can change at any moment (the fault schedule's storage track).
 * - Which write fails and how long it takes are drawn when it is called, from a random source the
 *   simulation derives from its seed, so a seed replays exactly.
 * - Delays are virtual time (the simulation's clock). Operations on one object store — objects, meta,
 *   hints — run one after the other in call order, a read included: an IndexedDB transaction waits for
 *   the earlier ones whose scope overlaps its own, so a slow write holds back a later read of the same
 *   store, and two writes of one key never swap. A write commits `writeDelayMs` after it was called,
 *   or when the write before it in its lane committed, whichever is later: commits are pipelined, so
 *   a burst of slow writes waits for the slowest of them, not for the sum of their delays.
 * - The simulation's observers (checkers, the liveness phase) read the committed state through the
 *   real store, never through this one, so that they never wait for virtual time that only the
 *   simulation loop can make pass.
 * - A failed write stores nothing (IndexedDB rolls the transaction back) and rejects with
 *   `StorageError`, the error the Store port promises.
 * - Closing is immediate (a crashed tab): writes still waiting for their turn or their delay then reach a
 *   closed store and are refused — lost, as in a tab killed mid-transaction.
 * Reads never fail here: the point is whether a write the core counted as durable is durable.
 */
import { StorageError } from '../../src/core/errors.js';
import type { Random, Store } from '../../src/core/ports.js';
import type { Hint, NodeId, VersionSet } from '../../src/core/types.js';

/** Storage faults of one node. Probability in [0, 1]; delays in virtual ms. */
export interface StorageFaults {
  /** Chance that a write fails (rejects with `StorageError`, storing nothing). */
  writeFailureProbability: number;
  /** Least time a write takes before it commits (or fails). */
  writeDelayMinMs: number;
  /** Most time a write takes before it commits (or fails). */
  writeDelayMaxMs: number;
}

/** No storage faults: writes commit at once and never fail. */
export const HEALTHY_STORAGE: StorageFaults = { writeFailureProbability: 0, writeDelayMinMs: 0, writeDelayMaxMs: 0 };

/** Counters of injected storage faults (shared by every store of a simulation). */
export interface StorageFaultStats {
  /** Writes refused with an injected `StorageError`. */
  writesFailed: number;
  /** Writes that waited an injected delay before committing or failing. */
  writesDelayed: number;
}

/** What a {@link FaultyStore} needs from the simulation. */
export interface FaultyStorePorts {
  /** The node's storage faults in force now. */
  faults(): StorageFaults;
  /** The node's storage fault randomness (derived from the seed). */
  random: Random;
  /** Virtual time now, ms. */
  now(): number;
  /** Resolves after `delayMs` of virtual time. */
  sleep(delayMs: number): Promise<void>;
  /** Where injected faults are counted. */
  stats: StorageFaultStats;
}

type Lane = 'objects' | 'meta' | 'hints';

/** A store whose writes fail or take time as its node's {@link StorageFaults} say. */
export class FaultyStore implements Store {
  readonly kind: string;
  /** The end of each object store's queue of operations. */
  private readonly tails: Record<Lane, Promise<void>> = { objects: Promise.resolve(), meta: Promise.resolve(), hints: Promise.resolve() };
  /** When the last write queued on each object store commits, virtual ms. */
  private readonly lastCommitMs: Record<Lane, number> = { objects: 0, meta: 0, hints: 0 };

  constructor(
    /** The real store (committed state survives a crash there). */
    readonly inner: Store,
    private readonly ports: FaultyStorePorts,
  ) {
    this.kind = `faulty ${inner.kind}`;
  }

  getObject(key: string): Promise<VersionSet | undefined> {
    return this.read('objects', () => this.inner.getObject(key));
  }

  putObject(key: string, versions: VersionSet): Promise<void> {
    return this.write('objects', 'putObject', () => this.inner.putObject(key, versions));
  }

  updateObject(key: string, update: (current: VersionSet | undefined) => VersionSet | undefined): Promise<{ before: VersionSet | undefined; after: VersionSet | undefined }> {
    return this.write('objects', 'updateObject', () => this.inner.updateObject(key, update));
  }

  getObjects(keys: readonly string[]): Promise<(VersionSet | undefined)[]> {
    return this.read('objects', () => this.inner.getObjects(keys));
  }

  putObjects(entries: readonly { key: string; versions: VersionSet }[]): Promise<void> {
    return this.write('objects', 'putObjects', () => this.inner.putObjects(entries));
  }

  deleteObject(key: string): Promise<void> {
    return this.write('objects', 'deleteObject', () => this.inner.deleteObject(key));
  }

  listKeys(): Promise<string[]> {
    return this.read('objects', () => this.inner.listKeys());
  }

  countObjects(): Promise<number> {
    return this.read('objects', () => this.inner.countObjects());
  }

  getMeta<T = unknown>(name: string): Promise<T | undefined> {
    return this.read('meta', () => this.inner.getMeta<T>(name));
  }

  putMeta(name: string, value: unknown): Promise<void> {
    return this.write('meta', 'putMeta', () => this.inner.putMeta(name, value));
  }

  getHint(intendedFor: NodeId, key: string): Promise<Hint | undefined> {
    return this.read('hints', () => this.inner.getHint(intendedFor, key));
  }

  putHint(hint: Hint): Promise<void> {
    return this.write('hints', 'putHint', () => this.inner.putHint(hint));
  }

  deleteHint(intendedFor: NodeId, key: string): Promise<void> {
    return this.write('hints', 'deleteHint', () => this.inner.deleteHint(intendedFor, key));
  }

  listHints(intendedFor?: NodeId, limit?: number): Promise<Hint[]> {
    return this.read('hints', () => this.inner.listHints(intendedFor, limit));
  }

  hintsForKey(key: string): Promise<Hint[]> {
    return this.read('hints', () => this.inner.hintsForKey(key));
  }

  countHints(): Promise<number> {
    return this.read('hints', () => this.inner.countHints());
  }

  /** Closes the real store at once: operations still queued are refused by it (see the module header). */
  close(): Promise<void> {
    return this.inner.close();
  }

  /** Runs `operation` after every earlier operation on `lane` settled. */
  private queue<T>(lane: Lane, operation: () => Promise<T>): Promise<T> {
    const result = this.tails[lane].then(operation);
    this.tails[lane] = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private read<T>(lane: Lane, operation: () => Promise<T>): Promise<T> {
    return this.queue(lane, operation);
  }

  /** A write: its commit time and its failure are drawn now (call order), and happen in its turn. */
  private write<T>(lane: Lane, method: string, operation: () => Promise<T>): Promise<T> {
    const { writeFailureProbability, writeDelayMinMs, writeDelayMaxMs } = this.ports.faults();
    const random = this.ports.random;
    const delayMs = writeDelayMaxMs > 0 ? writeDelayMinMs + random.next() * Math.max(0, writeDelayMaxMs - writeDelayMinMs) : 0;
    const fails = writeFailureProbability > 0 && random.next() < writeFailureProbability;
    if (delayMs > 0) this.ports.stats.writesDelayed++;
    const commitAtMs = Math.max(this.ports.now() + delayMs, this.lastCommitMs[lane]);
    this.lastCommitMs[lane] = commitAtMs;
    return this.queue(lane, async () => {
      const waitMs = commitAtMs - this.ports.now();
      if (waitMs > 0) await this.ports.sleep(waitMs);
      if (fails) {
        this.ports.stats.writesFailed++;
        throw new StorageError(`${method}: injected storage failure (the simulation's storage faults); nothing was stored`);
      }
      return operation();
    });
  }
}
