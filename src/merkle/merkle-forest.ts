/**
 * The Merkle trees of one node as the worker holds them (paper §4.7; one tree per partition, §6.2
 * strategy 3): a `Forest` maps each partition that has keys to its `PartitionTree` (from
 * `src/core/merkle-tree.ts`); partitions without keys have no tree. `merkle-worker.ts` builds one
 * `Forest` per scan of the database and swaps it in when the scan ends.
 *
 * ```
 *   Forest ── trees: partition ─► PartitionTree      (only partitions holding keys)
 *          └─ keys: total over every tree
 *   set(key, digest) ─► ring.partitionOfKey(key) ─► tree.set(key, digest)
 * ```
 *
 * Also here: `isVersionSetLike`, the shape check for what is digested (values read from the database,
 * and updates sent by the main thread).
 */
import { PartitionTree } from '../core/merkle-tree.js';
import type { Ring } from '../core/ring.js';
import type { VersionSet } from '../core/types.js';

/**
 * One partition tree per partition that has keys, and the partitioning they follow.
 * Trees are created on a partition's first key and dropped when its last key is removed.
 */
export class Forest {
  /** The tree of each partition holding at least one key, by partition index. */
  readonly trees = new Map<number, PartitionTree>();
  /** Keys over every tree. */
  keys = 0;
  /**
   * An empty forest.
   * @param ring places keys in partitions (only its partition count matters: an empty ring will do).
   * @param partitionBits log2 of the ring's partition count, the shape of every tree.
   */
  constructor(
    private readonly ring: Ring,
    private readonly partitionBits: number,
  ) {}

  /**
   * Sets (or with `undefined` removes) `key`'s digest in its partition's tree.
   * @throws TypeError when `key` is not a string; RangeError when `digest` is not 16 bytes.
   */
  set(key: string, digest: Uint8Array | undefined): void {
    const partition = this.ring.partitionOfKey(key);
    let tree = this.trees.get(partition);
    if (tree === undefined) {
      if (digest === undefined) return;
      tree = new PartitionTree({ partitionBits: this.partitionBits });
      this.trees.set(partition, tree);
    }
    const before = tree.size;
    tree.set(key, digest);
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
