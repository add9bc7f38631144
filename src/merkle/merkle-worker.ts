/**
 * The Merkle trees of one node (paper §4.7 anti-entropy), kept in a module Web Worker so that neither
 * building nor hashing ever runs on the tab's main thread (DESIGN.md §2 `src/merkle/`). The main thread
 * talks to it through comlink (see `worker-merkle-service.ts`); the tree code itself is the pure
 * `PartitionTree` of `src/core/merkle-tree.ts`, one per partition in a `Forest` (`merkle-forest.ts`),
 * and the database is opened read-only by `merkle-database.ts`. This file is the worker's entry: it
 * holds the builds and exposes `merkleWorkerApi`.
 *
 * ```
 *   main thread                                   this worker
 *   ───────────                                   ───────────
 *   IdbStore ── putObject ─► IndexedDB ◄── readonly getAll, in chunks ───────── build()
 *   NodeCore ── update(key, versions), gathered per task ── updateMany ─► digest + PartitionTree.set
 *   AntiEntropy ── hashes / leafItems / keyCounts ─────────────────────► answers from the trees
 * ```
 *
 * The worker opens the node's database itself and reads the `objects` store in chunks of records, so
 * the store's contents never cross the main thread. It only reads: it opens the database without a version
 * (never causing an upgrade) and, if the database does not exist yet, aborts the implicit creation and
 * treats the node as empty, so that `IdbStore.open` later creates the schema from version 0 as usual.
 * The connection is held only while scanning and closes itself on a `versionchange`, so the worker
 * never blocks an upgrade or a deletion of the database by the page.
 *
 * Scanning in chunks. Each chunk is read with two requests for many records (`getAllKeys` and
 * `getAll` over one key range, with a count) in its own readonly transaction, committed as soon as
 * asked, resuming after the last key of the previous chunk; the next chunk is asked for as soon as
 * this one's keys are known, so the backend reads it while this one is hashed. Its count follows the
 * read rate so that a transaction takes about 25 ms (`BUILD_SCAN` in merkle-database.ts). One
 * transaction over the whole store would, in Chromium, hold back every write of the node (readwrite
 * transactions wait for overlapping readonly ones) for the length of the scan; chunks let writes and
 * this worker's own messages (updates, queries) interleave. A request per chunk instead of a cursor
 * step per record reads 100k keys several times faster than the cursor did (`npm run bench:merkle`).
 *
 * Hashing. Per record: one MD5 of the key places it in its partition and its tree's leaf
 * (`placeKey`), one SHA-256 gives its version digest and one more its item hash (merkle-tree.ts).
 *
 * Updates that arrive during a build. The scan runs concurrently with the node's writes, so a key may
 * be written after its chunk was read (the scan saw the older state) or before (the scan saw the newer
 * one). The rule used: while a build runs, `update` records the newest digest of each key in a
 * `pending` map (later updates of a key replace earlier ones: the core sends a key's updates in write
 * order, under the key's lock); the scan skips keys present in `pending`; when the scan ends, `pending`
 * is applied to the new trees, which then replace the old ones. Why this is right, for one key K:
 *  - the core sends `update(K)` only after K's write is durable, one per write, in write order;
 *  - a write of K whose update arrived before the build started committed before the scan began, so
 *    the scan reads it or a later state (this is why updates before the first `open` can be dropped);
 *  - a write whose update arrives during the build lands in `pending`, and `pending` is applied after
 *    the scan, over whatever the scan read (older or newer: if newer, that newer write's own update
 *    is still to come, or already replaced the entry in `pending`);
 *  - a write whose update arrives after the build is applied to the new trees directly.
 * So the last thing applied to K is always the newest of its states the worker has heard of, and once
 * every update sent has arrived, the tree holds K's stored state.
 * Applying updates as they come, straight into the trees being built, would instead rely on the scan
 * never reading an older state after a newer update was applied: true in Chromium (the write waits
 * for the chunk's transaction) but not promised by IndexedDB, which lets an implementation run
 * readonly transactions on a snapshot. The pending map does not depend on the isolation level, and it
 * costs one map entry per key written during the build.
 *
 * A rebuild (`rebuild()`) works the same way, and the old trees keep answering queries and taking
 * updates until the new ones replace them.
 */
import { expose } from 'comlink';
import { StorageError } from '../core/errors.js';
import { PartitionTree, versionDigest, type MerkleItem } from '../core/merkle-tree.js';
import { oldTombstones } from '../core/merkle-service.js';
import { Ring } from '../core/ring.js';
import type { Dot, VersionSet } from '../core/types.js';
import { deletedAtMs } from '../core/version-set.js';
import { BUILD_SCAN, openExisting, scanChunks, storageError } from './merkle-database.js';
import { fillForest, Forest, isVersionSetLike } from './merkle-forest.js';

/**
 * What the worker needs of a key's version set to compute its digest: `versionDigest` reads the clock,
 * the dot cloud and the siblings' dots, never the siblings' data (nor any timestamp). The main thread
 * sends this stripped form so that values of up to 1 MiB are not cloned across for nothing; a whole
 * `VersionSet` is accepted too. A tombstone sibling keeps `data: null`, so the worker knows which keys
 * are deleted (the candidates of tombstone purging) without the values.
 */
export interface DigestInput {
  clock: VersionSet['clock'];
  dots?: Dot[];
  siblings: { dot: Dot; data?: null }[];
}

/** An update that came during a build: the key's digest (`undefined`: removed) and when it was deleted, if tombstone-only. */
type PendingUpdate = readonly [digest: Uint8Array | undefined, deletedAt: number | undefined];

/** Figures of the worker's trees and of its last build. */
export interface MerkleWorkerStats {
  /** `'idle'` before `open`, `'building'` during the first build, `'ready'` after it, `'failed'` if it failed. */
  state: 'idle' | 'building' | 'ready' | 'failed';
  /** Keys in the trees being served now. */
  keys: number;
  /** Partitions with at least one key. */
  partitions: number;
  /** Wall time of the last completed build, ms (open → trees swapped in). */
  buildMs: number;
  /** Of `buildMs`: time spent waiting on IndexedDB (open, cursor steps, transaction ends), ms. */
  scanMs: number;
  /** Of `buildMs`: time spent computing digests and updating trees, ms. */
  hashMs: number;
  /** Records read by the last build's scan. */
  scanned: number;
  /** Readonly transactions (chunks of records) the last build's scan took. */
  chunks: number;
  /** Records of the last scan that were skipped: a key was not a string, or a value not a version set. */
  skipped: number;
  /** Updates that arrived during the last build and were applied after its scan. */
  updatesDuringBuild: number;
  /** Completed builds, the first one included. */
  builds: number;
  /** Updates received since the worker started. */
  updates: number;
  /** Whether the database lacked the `objects` store (or did not exist) at the last build. */
  databaseMissing: boolean;
}

/** An entry of {@link merkleWorkerApi.updateMany} that was not applied, and why. */
export interface UpdateFailure {
  index: number;
  /** The error's `name` (`TypeError` for a malformed entry). */
  name: string;
  message: string;
}

/** State of a build in progress. */
interface Build {
  /** Newest digest (or `undefined` for a removal) of every key updated since the build started. */
  readonly pending: Map<string, PendingUpdate>;
  readonly done: Promise<MerkleWorkerStats>;
}

function now(): number {
  return performance.now();
}

/** The trees and their builds; one instance per worker. */
class MerkleWorker {
  #dbName: string | undefined;
  #ring: Ring | undefined;
  #partitionBits = 0;
  /** Trees answering queries; `undefined` until the first build completes. */
  #current: Forest | undefined;
  #build: Build | undefined;
  /** Resolves when the first build completed (rejects if it failed). */
  #firstBuild: Promise<unknown> | undefined;
  /** An empty tree of the configured shape: answers (zeros, no items) for partitions without keys. */
  #empty: PartitionTree | undefined;
  #stats: MerkleWorkerStats = {
    state: 'idle',
    keys: 0,
    partitions: 0,
    buildMs: 0,
    scanMs: 0,
    hashMs: 0,
    scanned: 0,
    chunks: 0,
    skipped: 0,
    updatesDuringBuild: 0,
    builds: 0,
    updates: 0,
    databaseMissing: false,
  };

  open(dbName: string, partitionCount: number): Promise<MerkleWorkerStats> {
    if (typeof dbName !== 'string' || dbName === '') throw new TypeError('open: dbName must be a non-empty string');
    if (this.#dbName !== undefined) {
      if (this.#dbName !== dbName || this.#ring?.partitionCount !== partitionCount) {
        throw new Error(`open: this worker already serves "${this.#dbName}" with ${this.#ring?.partitionCount} partitions`);
      }
      return this.#build?.done ?? Promise.resolve(this.stats());
    }
    // Throws InvalidOptionError unless partitionCount is a power of two in [1, 65536].
    const ring = Ring.build([], partitionCount);
    this.#dbName = dbName;
    this.#ring = ring;
    this.#partitionBits = Math.log2(partitionCount);
    this.#empty = new PartitionTree({ partitionBits: this.#partitionBits });
    this.#stats.state = 'building';
    const done = this.rebuild();
    this.#firstBuild = done;
    done.catch(() => {
      this.#stats.state = 'failed';
    });
    return done;
  }

  rebuild(): Promise<MerkleWorkerStats> {
    if (this.#build !== undefined) return this.#build.done;
    if (this.#dbName === undefined || this.#ring === undefined) throw new Error('rebuild: call open() first');
    const pending = new Map<string, PendingUpdate>();
    const done = this.#runBuild(this.#dbName, pending).finally(() => {
      this.#build = undefined;
    });
    this.#build = { pending, done };
    return done;
  }

  update(key: string, versions: DigestInput | null): void {
    if (typeof key !== 'string') throw new TypeError(`update: key must be a string, got ${typeof key}`);
    if (versions !== null && !isVersionSetLike(versions)) throw new TypeError(`update: versions of "${key}" is not a version set`);
    this.#stats.updates++;
    // The digest ignores sibling data (see DigestInput), so the stripped form stands in for a VersionSet.
    const digest = versions === null ? undefined : versionDigest(versions as VersionSet);
    const deletedAt = versions === null ? undefined : deletedAtMs(versions);
    this.#build?.pending.set(key, [digest, deletedAt]);
    // With no trees and no build yet, the update is dropped: the scan, which starts later, reads this
    // write or a newer state (see the module header).
    if (this.#current !== undefined) {
      this.#current.set(key, digest, deletedAt);
      this.#refreshCounts();
    }
  }

  async hashes(partition: number, level: number, indices: readonly number[]): Promise<Uint8Array[]> {
    const tree = await this.#tree(partition);
    if (!Array.isArray(indices)) throw new TypeError('hashes: indices must be an array');
    return indices.map((index) => tree.hash(level, index));
  }

  async roots(partitions: readonly number[]): Promise<Uint8Array[]> {
    if (!Array.isArray(partitions)) throw new TypeError('roots: partitions must be an array');
    const roots: Uint8Array[] = [];
    for (const partition of partitions) roots.push((await this.#tree(partition)).root());
    return roots;
  }

  async leafItems(partition: number, leaves: readonly number[]): Promise<MerkleItem[]> {
    const tree = await this.#tree(partition);
    if (!Array.isArray(leaves)) throw new TypeError('leafItems: leaves must be an array');
    const items = leaves.flatMap((leaf) => tree.leafItems(leaf));
    return items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async tombstones(deletedBeforeMs: number, limit: number): Promise<string[]> {
    if (typeof deletedBeforeMs !== 'number' || !Number.isInteger(limit) || limit < 0) throw new TypeError('tombstones: a time (ms) and a non-negative integer limit');
    return oldTombstones((await this.#forest()).deleted, deletedBeforeMs, limit);
  }

  async keyCounts(): Promise<Map<number, number>> {
    const forest = await this.#forest();
    return new Map([...forest.trees].map(([partition, tree]) => [partition, tree.size]));
  }

  shape(): { fanout: number; depth: number } {
    const probe = this.#empty ?? new PartitionTree({ partitionBits: 0 });
    return { fanout: probe.fanout, depth: probe.depth };
  }

  stats(): MerkleWorkerStats {
    return { ...this.#stats };
  }

  /** The trees to answer from: the current ones, or, before the first build ends, those it produces. */
  async #forest(): Promise<Forest> {
    if (this.#current === undefined) {
      if (this.#firstBuild === undefined) throw new Error('the Merkle worker was not opened: call open() first');
      await this.#firstBuild;
    }
    return this.#current!;
  }

  async #tree(partition: number): Promise<PartitionTree> {
    const forest = await this.#forest();
    const count = this.#ring!.partitionCount;
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      throw new RangeError(`partition must be an integer in [0, ${count}), got ${String(partition)}`);
    }
    return forest.trees.get(partition) ?? this.#empty!;
  }

  #refreshCounts(): void {
    if (this.#current === undefined) return;
    this.#stats.keys = this.#current.keys;
    this.#stats.partitions = this.#current.trees.size;
  }

  async #runBuild(dbName: string, pending: Map<string, PendingUpdate>): Promise<MerkleWorkerStats> {
    const started = now();
    const forest = new Forest(this.#partitionBits);
    let scanMs = 0;
    let hashMs = 0;
    let scanned = 0;
    let chunkCount = 0;
    let skipped = 0;
    let databaseMissing = false;

    const opening = now();
    let raw: IDBDatabase | undefined;
    try {
      raw = await openExisting(dbName);
    } catch (error) {
      throw storageError(error, dbName);
    }
    scanMs += now() - opening;
    try {
      if (raw === undefined || !raw.objectStoreNames.contains('objects')) {
        databaseMissing = true;
      } else {
        // The schema is the store's, but only 'objects' is read, and its values are checked as they come.
        const chunks = scanChunks(raw, 'objects', BUILD_SCAN);
        const filled = await fillForest(forest, chunks, pending);
        scanMs += filled.scanMs;
        hashMs += filled.hashMs;
        scanned = filled.scanned;
        chunkCount = filled.chunks;
        skipped = filled.skipped;
      }
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw storageError(error, dbName);
    } finally {
      raw?.close();
    }

    const applying = now();
    for (const [key, [digest, deletedAt]] of pending) forest.set(key, digest, deletedAt);
    hashMs += now() - applying;
    this.#current = forest;
    this.#stats = {
      ...this.#stats,
      state: 'ready',
      buildMs: now() - started,
      scanMs,
      hashMs,
      scanned,
      chunks: chunkCount,
      skipped,
      updatesDuringBuild: pending.size,
      builds: this.#stats.builds + 1,
      databaseMissing,
    };
    this.#refreshCounts();
    return this.stats();
  }
}

const worker = new MerkleWorker();

/**
 * The API this worker exposes through comlink (each method's result arrives as a promise on the main
 * thread). Errors cross as plain `Error`s that keep their `name` (`StorageError`, `InvalidOptionError`,
 * `RangeError`, `TypeError`): compare `error.name`, never `instanceof`.
 */
export const merkleWorkerApi = {
  /**
   * Opens the node's database `dbName` (read-only use, no upgrade) and builds one tree per partition
   * of a ring of `partitionCount` partitions from a cursor scan of its `objects` store. Resolves with
   * the build's figures once the trees answer. Calling it again with the same arguments returns the
   * same build; with others it throws.
   * @throws InvalidOptionError when `partitionCount` is not a power of two in [1, 65536];
   *   StorageError when the database cannot be read.
   */
  open: (dbName: string, partitionCount: number): Promise<MerkleWorkerStats> => worker.open(dbName, partitionCount),
  /**
   * Scans the database again into new trees and swaps them in; the old trees answer meanwhile. A call
   * during a build returns that build.
   */
  rebuild: (): Promise<MerkleWorkerStats> => worker.rebuild(),
  /**
   * Records the state of `key` after a durable local write: its version set (stripped to
   * {@link DigestInput} or whole), or `null` when the key was removed from the store. The digest is
   * computed here, in the worker. Must be called in write order per key.
   */
  update: (key: string, versions: DigestInput | null): void => worker.update(key, versions),
  /**
   * {@link merkleWorkerApi.update} for many keys in one message, in order (what the main thread sends:
   * it gathers the updates made in one task). Each entry is applied on its own: @returns, per entry
   * that failed, its index and the error's name and message (an empty list when every one applied).
   */
  updateMany: (entries: readonly (readonly [string, DigestInput | null])[]): UpdateFailure[] => {
    if (!Array.isArray(entries)) throw new TypeError('updateMany: entries must be an array');
    const failures: UpdateFailure[] = [];
    for (let i = 0; i < entries.length; i++) {
      try {
        const entry = entries[i];
        if (!Array.isArray(entry)) throw new TypeError(`updateMany: entry ${i} is not a [key, versions] pair`);
        worker.update(entry[0] as string, entry[1] as DigestInput | null);
      } catch (error) {
        failures.push({ index: i, name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) });
      }
    }
    return failures;
  },
  /** Hashes (16 bytes each) of nodes `indices` at `level` of `partition`'s tree; zeros for an empty partition. */
  hashes: (partition: number, level: number, indices: readonly number[]): Promise<Uint8Array[]> => worker.hashes(partition, level, indices),
  /** Root hashes of many partitions' trees in one call (zeros for empty partitions). */
  roots: (partitions: readonly number[]): Promise<Uint8Array[]> => worker.roots(partitions),
  /** The (key, digest) items of `leaves` of `partition`'s tree, sorted by key. */
  leafItems: (partition: number, leaves: readonly number[]): Promise<MerkleItem[]> => worker.leafItems(partition, leaves),
  /** Keys per partition, for partitions holding at least one key. */
  keyCounts: (): Promise<Map<number, number>> => worker.keyCounts(),
  /** Up to `limit` tombstone-only keys deleted before `deletedBeforeMs` (ms): purge candidates. */
  tombstones: (deletedBeforeMs: number, limit: number): Promise<string[]> => worker.tombstones(deletedBeforeMs, limit),
  /** Fan-out and depth of every tree. */
  shape: (): { fanout: number; depth: number } => worker.shape(),
  /** Figures of the trees and of the last build. */
  stats: (): MerkleWorkerStats => worker.stats(),
};

/** The type of {@link merkleWorkerApi}, for `comlink.wrap` on the main thread. */
export type MerkleWorkerApi = typeof merkleWorkerApi;

expose(merkleWorkerApi);
