/**
 * Comparing two Merkle trees of one partition (paper §4.7 anti-entropy), done locally: descend from the
 * roots only where hashes differ (`differingLeaves`), then compare the items of each differing leaf
 * (`differingKeys`). The trees are the `PartitionTree`s of `merkle-tree.ts`; any object with the same
 * `hash`/`children` shape will do (`MerkleTreeView`).
 *
 * ```
 *   a.root ≠ b.root ?            1 comparison
 *     └─ children pairwise        F comparisons per differing inner node
 *          └─ ... down to level D: the differing leaves
 *               └─ differingKeys(a.leafItems(leaf), b.leafItems(leaf)): the keys to push or pull
 * ```
 *
 * The networked exchange (`anti-entropy.ts`) asks the same questions of a remote replica one level at
 * a time; `differingKeys` is its last step.
 *
 * Pure and deterministic: no clock, randomness or I/O.
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { sameBytes } from './bytes.js';
import { DIGEST_BYTES, type MerkleItem, type PartitionTree } from './merkle-tree.js';

/** The minimal view of a tree {@link differingLeaves} reads. */
export type MerkleTreeView = Pick<PartitionTree, 'hash' | 'children' | 'depth' | 'fanout'>;

/**
 * Descends two trees of the same shape where their hashes differ — the anti-entropy exchange of paper
 * §4.7, done locally — and returns the leaves whose hashes differ. Tests use it, and the exchange
 * protocol uses it to define "what would be sent".
 *
 * Cost, counted in `hashesCompared`: 1 for the roots, then F for every differing inner node (its
 * children are compared pairwise). With d differing leaves that is exactly
 * 1 + F·(number of distinct ancestors of those leaves at levels 0..D-1), at most
 * 1 + F·Σ_{l=0}^{D-1} min(F^l, d): for one differing key, 1 + F·D (33 with the defaults) whatever the
 * number of keys, and 1 when the trees agree.
 *
 * @returns `leaves` in ascending order; `hashesCompared` as above.
 * @throws RangeError when the trees differ in fan-out or depth (a programmer error).
 */
export function differingLeaves(a: MerkleTreeView, b: MerkleTreeView): { leaves: number[]; hashesCompared: number } {
  if (a.fanout !== b.fanout || a.depth !== b.depth) {
    throw new RangeError(`differingLeaves: trees of different shapes (fan-out ${a.fanout} vs ${b.fanout}, depth ${a.depth} vs ${b.depth})`);
  }
  const { depth, fanout } = a;
  const leaves: number[] = [];
  let hashesCompared = 1;
  if (sameBytes(a.hash(0, 0), b.hash(0, 0))) return { leaves, hashesCompared };
  // Depth-first, children in order, so the leaves come out ascending.
  const descend = (level: number, index: number): void => {
    if (level === depth) {
      leaves.push(index);
      return;
    }
    const left = a.children(level, index);
    const right = b.children(level, index);
    for (let c = 0; c < fanout; c++) {
      hashesCompared++;
      if (!sameBytes(left[c]!, right[c]!)) descend(level + 1, index * fanout + c);
    }
  };
  descend(0, 0);
  return { leaves, hashesCompared };
}

/**
 * The keys whose items differ between two listings of the same leaf (or of any key range): present on
 * one side only, or present on both with different digests. Listings need not be sorted; each must hold
 * a key at most once. This is the last step of the §4.7 exchange: the keys to push or pull.
 * @returns the keys, sorted in code-unit order.
 */
export function differingKeys(a: readonly MerkleItem[], b: readonly MerkleItem[]): string[] {
  const theirs = new Map<string, Uint8Array>();
  for (const item of b) theirs.set(item.key, item.digest);
  const keys: string[] = [];
  for (const item of a) {
    const other = theirs.get(item.key);
    if (other === undefined || !sameBytes(item.digest, other)) keys.push(item.key);
    theirs.delete(item.key);
  }
  for (const key of theirs.keys()) keys.push(key);
  return keys.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

/**
 * One hash over many partitions' roots, in the order given: the first 16 bytes of SHA-256 over the
 * roots concatenated. Two replicas whose digests over the same partitions agree hold the same roots
 * (up to a collision of SHA-256), so an idle anti-entropy round exchanges this one hash instead of
 * every root (issue 19).
 */
export function rootsDigest(roots: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(roots.reduce((n, r) => n + r.byteLength, 0));
  let at = 0;
  for (const root of roots) {
    all.set(root, at);
    at += root.byteLength;
  }
  return sha256(all).slice(0, DIGEST_BYTES);
}
