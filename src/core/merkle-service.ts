/**
 * The core's port to its Merkle trees (paper §4.7): one `PartitionTree` per partition that has keys
 * on this node, kept up to date as writes land. In a tab the trees live in a Web Worker (comlink,
 * `src/merkle/`), which reads the node's IndexedDB itself; in tests and simulation they live in
 * process ({@link InProcessMerkleService}). Both answer the same questions.
 */
import { partitionOfPlacement, PartitionTree, placeKey, versionDigest, type MerkleItem } from './merkle-tree.js';
import type { Ring } from './ring.js';
import type { VersionSet } from './types.js';
import { deletedAtMs } from './version-set.js';
import type { MerkleService, Store } from './ports.js';

/**
 * Trees in the caller's own thread: built once from the store, then updated by `update()`.
 * Used by the simulation and the Node tests; the browser runs the same trees in a worker.
 */
export class InProcessMerkleService implements MerkleService {
  private readonly trees = new Map<number, PartitionTree>();
  /** Tombstone-only keys and when they were deleted (ms). */
  private readonly deleted = new Map<string, number>();
  private readonly partitionBits: number;

  /** `ring` gives the partition count Q (fixed for a cluster's life, §6.2 strategy 3); keys are placed by it. */
  private constructor(ring: () => Ring) {
    this.partitionBits = Math.log2(ring().partitionCount);
  }

  /** Builds the trees of every key in `store`. */
  static async build(store: Store, ring: () => Ring): Promise<InProcessMerkleService> {
    const service = new InProcessMerkleService(ring);
    for (const key of await store.listKeys()) service.set(key, await store.getObject(key));
    return service;
  }

  async update(key: string, versions: VersionSet | undefined): Promise<void> {
    this.set(key, versions);
  }

  async hashes(partition: number, level: number, indices: readonly number[]): Promise<Uint8Array[]> {
    const tree = this.trees.get(partition);
    return indices.map((index) => (tree ? tree.hash(level, index) : new Uint8Array(16)));
  }

  async roots(partitions: readonly number[]): Promise<Uint8Array[]> {
    return partitions.map((p) => this.trees.get(p)?.root() ?? new Uint8Array(16));
  }

  async leafItems(partition: number, leaves: readonly number[]): Promise<MerkleItem[]> {
    const tree = this.trees.get(partition);
    if (!tree) return [];
    return leaves.flatMap((leaf) => tree.leafItems(leaf)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  shape(): { fanout: number; depth: number } {
    const probe = new PartitionTree({ partitionBits: this.partitionBits });
    return { fanout: probe.fanout, depth: probe.depth };
  }

  async keyCounts(): Promise<Map<number, number>> {
    return new Map([...this.trees].map(([partition, tree]) => [partition, tree.size]));
  }

  async tombstones(deletedBeforeMs: number, limit: number): Promise<string[]> {
    return oldTombstones(this.deleted, deletedBeforeMs, limit);
  }

  private set(key: string, versions: VersionSet | undefined): void {
    const deleted = versions === undefined ? undefined : deletedAtMs(versions);
    if (deleted === undefined) this.deleted.delete(key);
    else this.deleted.set(key, deleted);
    const placement = placeKey(key);
    const partition = partitionOfPlacement(placement, this.partitionBits);
    let tree = this.trees.get(partition);
    if (!tree) {
      if (versions === undefined) return;
      tree = new PartitionTree({ partitionBits: this.partitionBits });
      this.trees.set(partition, tree);
    }
    tree.set(key, versions === undefined ? undefined : versionDigest(versions), placement);
  }
}

/**
 * Up to `limit` keys of `deleted` (key → deletion time, ms) deleted before `deletedBeforeMs`: what both
 * Merkle services answer to `tombstones` (ports.ts).
 */
export function oldTombstones(deleted: ReadonlyMap<string, number>, deletedBeforeMs: number, limit: number): string[] {
  const keys: string[] = [];
  for (const [key, atMs] of deleted) {
    if (keys.length >= limit) break;
    if (atMs < deletedBeforeMs) keys.push(key);
  }
  return keys;
}
