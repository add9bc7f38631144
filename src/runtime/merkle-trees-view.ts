/**
 * A read-only look at a node's Merkle trees (anti-entropy, paper §4.7) for the console, the explorer
 * and tests: keys held and root hash per partition, read from the node's Merkle worker
 * (src/merkle/worker-merkle-service.ts). Trees the core keeps on the main thread are not visible.
 */
import type { MerkleWorkerStats, WorkerMerkleService } from '../merkle/worker-merkle-service.js';

/** What `DynamoNode.merkleTrees()` reports of a node's Merkle trees (paper §4.7). */
export interface MerkleTreesView {
  /**
   * `'worker'`: the trees live in the node's Merkle worker (the normal case with IndexedDB);
   * `'in-process'`: the core keeps them on the main thread (memory storage, or the worker could not
   * start), and the other fields are empty.
   */
  backend: 'worker' | 'in-process';
  /** Keys held per partition, for partitions holding keys; their sum is the number of local keys. */
  keyCounts: Record<number, number>;
  /** Root hash (32 hex digits) of every partition in `keyCounts`. */
  roots: Record<number, string>;
  /** The worker's figures (keys, last build's time), when `backend` is `'worker'`. */
  stats?: MerkleWorkerStats;
}

/**
 * The view of the trees in `merkle`, the node's Merkle worker (`undefined`: the core keeps its trees in
 * process, and the view is empty).
 * @throws an error named `MerkleWorkerError` when the worker has failed or is closed.
 */
export async function merkleTreesView(merkle: WorkerMerkleService | undefined): Promise<MerkleTreesView> {
  if (merkle === undefined) return { backend: 'in-process', keyCounts: {}, roots: {} };
  const counts = await merkle.keyCounts();
  const partitions = [...counts.keys()].sort((a, b) => a - b);
  const roots = await Promise.all(partitions.map((p) => merkle.hashes(p, 0, [0]).then((h) => toHex(h[0]!))));
  return {
    backend: 'worker',
    keyCounts: Object.fromEntries(partitions.map((p) => [p, counts.get(p)!])),
    roots: Object.fromEntries(partitions.map((p, i) => [p, roots[i]!])),
    stats: await merkle.stats(),
  };
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
