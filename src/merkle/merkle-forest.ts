/**
 * The Merkle trees of one node as the worker holds them (paper §4.7; one tree per partition, §6.2
 * strategy 3): a `Forest` maps each partition that has keys to its `PartitionTree` (from
 * `src/core/merkle-tree.ts`); partitions without keys have no tree. `merkle-worker.ts` builds one
 * `Forest` per scan of the database and swaps it in when the scan ends.
 *
 * ```
 *   Forest ── trees: partition ─► PartitionTree      (only partitions holding keys)
 *          └─ keys: total over every tree
 *   set(key, digest) ─► placeKey(key): one MD5 ─┬─► partition (its first log2 Q bits)
 *                                                └─► tree.set(key, digest, placement): the leaf (the bits after)
 * ```
 *
 * Also here: `fillForest`, which digests the chunks of a scan of the database into a forest (the
 * worker's build), and `isVersionSetLike`, the shape check for what is digested (values read from the
 * database, and updates sent by the main thread).
 */
import { partitionOfPlacement, PartitionTree, placeKey, versionDigest } from '../core/merkle-tree.js';
import type { VersionSet } from '../core/types.js';
import { deletedAtMs } from '../core/version-set.js';
import type { ScannedChunk } from './merkle-database.js';

/**
 * One partition tree per partition that has keys, and the partitioning they follow.
 * Trees are created on a partition's first key and dropped when its last key is removed.
 */
export class Forest {
  /** The tree of each partition holding at least one key, by partition index. */
  readonly trees = new Map<number, PartitionTree>();
  /** Keys over every tree. */
  keys = 0;
  /** Tombstone-only keys and when they were deleted (ms; `deletedAtMs` of version-set.ts). */
  readonly deleted = new Map<string, number>();
  /**
   * An empty forest.
   * @param partitionBits log2 of the ring's partition count Q (an integer in [0, 16]): where keys go
   *   (the partition of `Ring.partitionOfKey`) and the shape of every tree.
   */
  constructor(private readonly partitionBits: number) {}

  /**
   * Sets (or with `undefined` removes) `key`'s digest in its partition's tree, and records whether it
   * is tombstone-only (`deletedAt`: when it was deleted, ms; `undefined`: it holds a value or is gone).
   * @throws TypeError when `key` is not a string; RangeError when `digest` is not 16 bytes.
   */
  set(key: string, digest: Uint8Array | undefined, deletedAt?: number): void {
    const placement = placeKey(key);
    if (digest === undefined || deletedAt === undefined) this.deleted.delete(key);
    else this.deleted.set(key, deletedAt);
    const partition = partitionOfPlacement(placement, this.partitionBits);
    let tree = this.trees.get(partition);
    if (tree === undefined) {
      if (digest === undefined) return;
      tree = new PartitionTree({ partitionBits: this.partitionBits });
      this.trees.set(partition, tree);
    }
    const before = tree.size;
    tree.set(key, digest, placement);
    this.keys += tree.size - before;
    if (tree.size === 0) this.trees.delete(partition);
  }
}

/**
 * Whether `value` has the shape `versionDigest` reads: arrays `clock` and `siblings`, and `dots`
 * absent or an array. Entries are not checked; `versionDigest` throws on malformed ones.
 */
export function isVersionSetLike(value: unknown): value is VersionSet {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<VersionSet>;
  return Array.isArray(v.clock) && Array.isArray(v.siblings) && (v.dots === undefined || Array.isArray(v.dots));
}

/** What {@link fillForest} did: records, chunks, and its time split between waiting for chunks and digesting, ms. */
export interface FillFigures {
  scanned: number;
  /** Records that were not (string key, version set) pairs, or whose digest failed. */
  skipped: number;
  chunks: number;
  scanMs: number;
  hashMs: number;
}

/**
 * Digests the records of `chunks` (a scan of the `objects` store, in key order) into `forest`, skipping
 * keys in `pending`: an update that came during the build is as new as what the scan read, or newer,
 * and is applied after the scan (see the header of merkle-worker.ts). Records that are not (string
 * key, version set) pairs are counted as skipped, never thrown on.
 * @throws what `chunks` throws (the scan's IndexedDB errors).
 */
export async function fillForest(forest: Forest, chunks: AsyncIterable<ScannedChunk>, pending: ReadonlyMap<string, unknown>): Promise<FillFigures> {
  const figures: FillFigures = { scanned: 0, skipped: 0, chunks: 0, scanMs: 0, hashMs: 0 };
  const iterator = chunks[Symbol.asyncIterator]();
  let mark = performance.now();
  for (;;) {
    const next = await iterator.next();
    const hashing = performance.now();
    figures.scanMs += hashing - mark;
    if (next.done === true) break;
    const { keys, values } = next.value;
    figures.chunks++;
    figures.scanned += keys.length;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const value = values[i];
      if (typeof key !== 'string' || !isVersionSetLike(value)) {
        figures.skipped++;
        continue;
      }
      if (pending.has(key)) continue;
      try {
        forest.set(key, versionDigest(value), deletedAtMs(value));
      } catch {
        figures.skipped++;
      }
    }
    mark = performance.now();
    figures.hashMs += mark - hashing;
  }
  return figures;
}
