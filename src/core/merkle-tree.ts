/**
 * The Merkle tree of one partition (paper §4.7 anti-entropy; §6.2 strategy 3 for why one tree per
 * partition). Two replicas of a partition compare their trees from the root down and only descend where
 * hashes differ, so the work of finding what to repair grows with how much differs, not with how many
 * keys the partition holds.
 *
 * Shape (defaults: fan-out F = 16, depth D = 2 below the root; hashes are 16 bytes):
 *
 * ```
 *  level 0                               root                          1 node
 *                         ┌───────────────┴─ ... ─┬─────────┐
 *  level 1              n[0]          n[1]       ...     n[15]         F   = 16 nodes
 *                  ┌──────┴─ ... ─┐     ...               ...
 *  level 2 = D   L[0]  L[1] ... L[15] ...                L[255]        F^D = 256 leaves
 *                  │
 *               items: { key → h(key, digest) }, one map per leaf
 *
 *  MD5(key), 128 bits:  [ partition: log2 Q bits | leaf: D·log2 F bits | unused ... ]
 *                                                   └─ level-1 node = top log2 F bits of the leaf
 *
 *  h(key, digest)  = SHA-256(utf8(key) ‖ 0x00 ‖ digest)[0..16)      digest = versionDigest(versions)
 *  hash(leaf)      = XOR of h(key, digest) over the leaf's items     (16 zero bytes when empty)
 *  hash(inner)     = XOR of its F children's hashes
 * ```
 *
 * Why XOR (a set hash, as Cassandra's Merkle trees combine rows): XOR is its own inverse, so inserting,
 * replacing or removing one key costs O(D) — XOR the old item hash out and the new one in, at the leaf
 * and at each of its D ancestors — and the tree never needs a rebuild, whatever the order of updates.
 * The price: an inner node's hash is simply the XOR of every item below it, so it commits to the set of
 * (key, digest) pairs under it, not to how they are spread over its children. That is all anti-entropy
 * needs, because a key's leaf is a function of the key.
 *
 * Collision bound. Model the truncated SHA-256 as a random function onto 128 bits. When two replicas
 * hold different (key, digest) pairs below a node, the two hashes of that node differ by the XOR of the
 * item hashes of the pairs held by one side only: a non-empty set of distinct inputs, so the XOR is
 * uniform and equals zero with probability 2^-128. A difference is thus hidden at a given node with
 * probability 2^-128, and over m node comparisons with probability at most m·2^-128. The bound is for
 * honest replicas: a XOR set hash is not collision resistant against someone who chooses many items to
 * cancel out on purpose (Wagner's generalised birthday attack), which replicas of one cluster do not do.
 *
 * Item hashes are unambiguous although keys may contain U+0000: the digest has a fixed length
 * ({@link DIGEST_BYTES}), so the length of the hashed input fixes where the key ends.
 *
 * Comparing two trees (what the §4.7 exchange would send) is in `merkle-diff.ts`.
 *
 * Pure and deterministic: no clock, randomness or I/O.
 */

import { sameBytes } from './bytes.js';
import { md5 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Dot, VersionSet } from './types.js';

/** Default fan-out F of a partition tree: children per inner node. */
export const MERKLE_FANOUT = 16;

/** Default depth D of a partition tree: levels below the root (leaves are level D; F^D leaves). */
export const MERKLE_DEPTH = 2;

/** Length in bytes of a version digest, of an item hash and of every node hash. */
export const DIGEST_BYTES = 16;

/**
 * Most leaf-index bits a tree accepts (2^20 leaves, 16 MiB of leaf hashes): per-node hashes live in
 * flat arrays allocated up front, so bigger shapes would exhaust a browser tab's memory.
 */
export const MERKLE_MAX_LEAF_BITS = 20;

/** Format byte leading the encoding hashed by `versionDigest`; bump it if the encoding ever changes. */
const VERSION_DIGEST_FORMAT = 1;

const encoder = new TextEncoder();

/** One (node, counter) pair of a canonical version set encoding, node already UTF-8 encoded. */
interface EncodedEntry {
  node: string;
  nodeBytes: Uint8Array;
  counter: number;
}

function compareEntries(a: EncodedEntry, b: EncodedEntry): number {
  return (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.counter - b.counter;
}

/** `-0` and `0` compare equal as counters, so they must encode the same. */
function canonicalCounter(counter: number): number {
  return counter + 0;
}

function encodeEntries(entries: readonly { node: string; counter: number }[]): EncodedEntry[] {
  return entries
    .map((e) => ({ node: e.node, nodeBytes: encoder.encode(e.node), counter: canonicalCounter(e.counter) }))
    .sort(compareEntries);
}

/**
 * A 16-byte digest of a version set (the per-key value the Merkle tree of paper §4.7 hashes): equal for
 * two well-formed version sets exactly when `versionSetsEqual` holds for them, up to a 2^-128 chance of
 * a SHA-256 collision on the truncated output.
 *
 * What it covers, canonically sorted (code-unit order of node ids, then counter): the clock's
 * (node, counter) pairs, leaving out counters <= 0 because a missing entry counts as 0; the dot cloud's
 * (node, counter) pairs (an absent `dots` and an empty one are the same); and the siblings' dots. It
 * ignores every `timestampMs` and the siblings' data bytes, as `versionSetsEqual` does: a dot names
 * exactly one write, so equal dots mean equal data. Tombstones take part like any sibling, so a
 * tombstone-only set has a digest of its own, different from that of the empty set.
 *
 * Well-formed means what `version-set.ts` keeps: one clock entry per node, no repeated dot in
 * `siblings` nor in `dots`. The three sections are tagged and counted, so a dot moving between the
 * cloud and the siblings changes the digest.
 *
 * @param v a version set; not modified.
 * @returns a fresh `Uint8Array` of {@link DIGEST_BYTES} bytes: the first 16 bytes of SHA-256 of the
 *   canonical encoding.
 * @throws TypeError when a node id is not a string (a malformed version set).
 */
export function versionDigest(v: VersionSet): Uint8Array {
  const sections: [number, EncodedEntry[]][] = [
    [0x43 /* C */, encodeEntries(v.clock.filter((e) => e.counter > 0))],
    [0x44 /* D */, encodeEntries(v.dots ?? [])],
    [0x53 /* S */, encodeEntries(v.siblings.map((s): Dot => s.dot))],
  ];
  let size = 1;
  for (const [, entries] of sections) {
    size += 1 + 4;
    for (const e of entries) size += 4 + e.nodeBytes.length + 8;
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  bytes[at++] = VERSION_DIGEST_FORMAT;
  for (const [tag, entries] of sections) {
    bytes[at++] = tag;
    view.setUint32(at, entries.length);
    at += 4;
    for (const e of entries) {
      view.setUint32(at, e.nodeBytes.length);
      at += 4;
      bytes.set(e.nodeBytes, at);
      at += e.nodeBytes.length;
      view.setFloat64(at, e.counter);
      at += 8;
    }
  }
  return sha256(bytes).slice(0, DIGEST_BYTES);
}

/** One key of a partition tree and the digest of its version set (see {@link versionDigest}). */
export interface MerkleItem {
  key: string;
  /** {@link DIGEST_BYTES} bytes. */
  digest: Uint8Array;
}

/** Shape of a {@link PartitionTree}. */
export interface PartitionTreeOptions {
  /** log2 Q, the ring's partition bits (an integer in [0, 32]); the leaf bits of MD5(key) follow them. */
  partitionBits: number;
  /** Children per inner node: a power of two in [2, 256]. Default {@link MERKLE_FANOUT}. */
  fanout?: number;
  /** Levels below the root: an integer >= 1. Default {@link MERKLE_DEPTH}. */
  depth?: number;
}

/** What a tree keeps per key: the digest it was given (a private copy) and the item hash derived from it. */
interface Entry {
  digest: Uint8Array;
  itemHash: Uint8Array;
}

function compareKeys(a: MerkleItem, b: MerkleItem): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/**
 * The Merkle tree over the keys one node holds of ONE partition (paper §4.7), updated in place as keys
 * are written; see the module header for the shape and hashes. Partitions are fixed for the life of a
 * cluster (§6.2 strategy 3), so a tree never needs rebuilding when membership changes: a node that takes
 * over a partition receives its keys and its tree follows them.
 *
 * The tree does not check that a key belongs to its partition: it places every key by the leaf bits of
 * MD5(key), the ones after the first `partitionBits`.
 *
 * Costs: `set` hashes the key twice (MD5 for the leaf, SHA-256 for the item) and XORs D + 1 node hashes.
 * Memory: 16 bytes per node (Σ F^l for l = 0..D) plus one map entry per key.
 */
export class PartitionTree {
  /** Children per inner node F (a power of two in [2, 256]). */
  readonly fanout: number;
  /** Levels below the root D (>= 1); the leaves are level D. */
  readonly depth: number;
  /** Number of leaves, F^D. */
  readonly leafCount: number;
  readonly #partitionBits: number;
  readonly #fanoutBits: number;
  readonly #leafBits: number;
  /** `#levels[l]` holds the F^l hashes of level l, 16 bytes each, node i at offset 16·i. */
  readonly #levels: Uint8Array[];
  /** The items of each leaf, created on first use. */
  readonly #leaves: (Map<string, Entry> | undefined)[];
  #size = 0;

  /**
   * An empty tree: every hash is 16 zero bytes.
   * @throws RangeError when `fanout` is not a power of two in [2, 256], `depth` is not an integer >= 1,
   *   `partitionBits` is not an integer in [0, 32], `partitionBits + depth·log2(fanout)` exceeds 32 (the
   *   leaf bits must come from the first 32 bits of MD5), or `depth·log2(fanout)` exceeds
   *   {@link MERKLE_MAX_LEAF_BITS}.
   */
  constructor(options: PartitionTreeOptions) {
    const { partitionBits } = options;
    const fanout = options.fanout ?? MERKLE_FANOUT;
    const depth = options.depth ?? MERKLE_DEPTH;
    if (!isInteger(fanout) || fanout < 2 || fanout > 256 || (fanout & (fanout - 1)) !== 0) {
      throw new RangeError(`PartitionTree: fanout must be a power of two in [2, 256], got ${String(fanout)}`);
    }
    if (!isInteger(depth) || depth < 1) {
      throw new RangeError(`PartitionTree: depth must be an integer >= 1, got ${String(depth)}`);
    }
    if (!isInteger(partitionBits) || partitionBits < 0 || partitionBits > 32) {
      throw new RangeError(`PartitionTree: partitionBits must be an integer in [0, 32], got ${String(partitionBits)}`);
    }
    const fanoutBits = Math.log2(fanout);
    const leafBits = depth * fanoutBits;
    if (partitionBits + leafBits > 32) {
      throw new RangeError(
        `PartitionTree: partitionBits + depth·log2(fanout) must be at most 32, got ${partitionBits} + ${depth}·${fanoutBits}`,
      );
    }
    if (leafBits > MERKLE_MAX_LEAF_BITS) {
      throw new RangeError(
        `PartitionTree: depth·log2(fanout) must be at most ${MERKLE_MAX_LEAF_BITS} (2^${MERKLE_MAX_LEAF_BITS} leaves), got ${leafBits}`,
      );
    }
    this.fanout = fanout;
    this.depth = depth;
    this.leafCount = 2 ** leafBits;
    this.#partitionBits = partitionBits;
    this.#fanoutBits = fanoutBits;
    this.#leafBits = leafBits;
    this.#levels = Array.from({ length: depth + 1 }, (_, level) => new Uint8Array(DIGEST_BYTES * 2 ** (level * fanoutBits)));
    this.#leaves = new Array<Map<string, Entry> | undefined>(this.leafCount);
  }

  /** Number of keys in the tree. */
  get size(): number {
    return this.#size;
  }

  /**
   * The leaf of `key`, in [0, leafCount): the D·log2(F) bits of MD5(key) that follow the first
   * `partitionBits` bits (the same MD5 as `keyPosition` in `ring.ts`).
   * @throws TypeError when `key` is not a string.
   */
  leafOf(key: string): number {
    return this.#leafOfBytes(this.#keyBytes(key));
  }

  /**
   * Inserts, replaces or (when `digest` is `undefined`) removes the item of `key`, updating the hashes
   * of its leaf and of every ancestor in O(D). The digest is copied.
   * @param digest {@link DIGEST_BYTES} bytes, normally `versionDigest` of the key's version set.
   * @returns true when the tree changed; false when the key already had this digest, or was absent and
   *   is being removed.
   * @throws TypeError when `key` is not a string; RangeError when `digest` is not a `Uint8Array` of
   *   {@link DIGEST_BYTES} bytes.
   */
  set(key: string, digest: Uint8Array | undefined): boolean {
    if (digest !== undefined && (!(digest instanceof Uint8Array) || digest.length !== DIGEST_BYTES)) {
      throw new RangeError(`PartitionTree.set: digest must be a Uint8Array of ${DIGEST_BYTES} bytes`);
    }
    const keyBytes = this.#keyBytes(key);
    const leaf = this.#leafOfBytes(keyBytes);
    let items = this.#leaves[leaf];
    const old = items?.get(key);
    if (digest === undefined) {
      if (old === undefined) return false;
      items!.delete(key);
      this.#size--;
      this.#xorPath(leaf, old.itemHash);
      return true;
    }
    if (old !== undefined && sameBytes(old.digest, digest)) return false;
    const entry: Entry = { digest: digest.slice(), itemHash: itemHashOf(keyBytes, digest) };
    if (items === undefined) {
      items = new Map();
      this.#leaves[leaf] = items;
    }
    items.set(key, entry);
    if (old === undefined) {
      this.#size++;
    } else {
      this.#xorPath(leaf, old.itemHash);
    }
    this.#xorPath(leaf, entry.itemHash);
    return true;
  }

  /**
   * The digest stored for `key` (a copy), or `undefined` when the key is not in the tree.
   * @throws TypeError when `key` is not a string.
   */
  get(key: string): Uint8Array | undefined {
    return this.#leaves[this.leafOf(key)]?.get(key)?.digest.slice();
  }

  /** The root hash: {@link DIGEST_BYTES} bytes, a copy; all zero for an empty tree. */
  root(): Uint8Array {
    return this.hash(0, 0);
  }

  /**
   * The hash of node `index` at `level` (0 = root, `depth` = leaves): {@link DIGEST_BYTES} bytes, a copy.
   * @throws RangeError when `level` is not an integer in [0, depth] or `index` not one in [0, F^level).
   */
  hash(level: number, index: number): Uint8Array {
    const hashes = this.#level(level);
    if (!isInteger(index) || index < 0 || index * DIGEST_BYTES >= hashes.length) {
      throw new RangeError(`PartitionTree.hash: index must be an integer in [0, ${hashes.length / DIGEST_BYTES}), got ${String(index)}`);
    }
    return hashes.slice(index * DIGEST_BYTES, (index + 1) * DIGEST_BYTES);
  }

  /**
   * The hashes of the F children of node (`level`, `index`), in child order (child c is node
   * index·F + c of level + 1); each a fresh {@link DIGEST_BYTES}-byte array.
   * @throws RangeError when `level` is not an integer in [0, depth) or `index` not one in [0, F^level).
   */
  children(level: number, index: number): Uint8Array[] {
    if (!isInteger(level) || level < 0 || level >= this.depth) {
      throw new RangeError(`PartitionTree.children: level must be an integer in [0, ${this.depth}), got ${String(level)}`);
    }
    const count = 2 ** (level * this.#fanoutBits);
    if (!isInteger(index) || index < 0 || index >= count) {
      throw new RangeError(`PartitionTree.children: index must be an integer in [0, ${count}), got ${String(index)}`);
    }
    const below = this.#levels[level + 1]!;
    const first = index * this.fanout;
    return Array.from({ length: this.fanout }, (_, c) => below.slice((first + c) * DIGEST_BYTES, (first + c + 1) * DIGEST_BYTES));
  }

  /**
   * The items of `leaf`, sorted by key in code-unit order; digests are copies.
   * @throws RangeError when `leaf` is not an integer in [0, leafCount).
   */
  leafItems(leaf: number): MerkleItem[] {
    if (!isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) {
      throw new RangeError(`PartitionTree.leafItems: leaf must be an integer in [0, ${this.leafCount}), got ${String(leaf)}`);
    }
    const items: MerkleItem[] = [];
    for (const [key, entry] of this.#leaves[leaf] ?? []) items.push({ key, digest: entry.digest.slice() });
    return items.sort(compareKeys);
  }

  /** Every item of the tree, sorted by key in code-unit order; digests are copies. */
  items(): MerkleItem[] {
    const items: MerkleItem[] = [];
    for (const leaf of this.#leaves) {
      if (leaf === undefined) continue;
      for (const [key, entry] of leaf) items.push({ key, digest: entry.digest.slice() });
    }
    return items.sort(compareKeys);
  }

  #level(level: number): Uint8Array {
    if (!isInteger(level) || level < 0 || level > this.depth) {
      throw new RangeError(`PartitionTree.hash: level must be an integer in [0, ${this.depth}], got ${String(level)}`);
    }
    return this.#levels[level]!;
  }

  #keyBytes(key: string): Uint8Array {
    if (typeof key !== 'string') throw new TypeError(`PartitionTree: key must be a string, got ${typeof key}`);
    return encoder.encode(key);
  }

  #leafOfBytes(keyBytes: Uint8Array): number {
    const d = md5(keyBytes);
    const top32 = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
    // partitionBits <= 31 here (leafBits >= 1), so the shift is exact; 32 - leafBits is in [12, 31].
    return ((top32 << this.#partitionBits) >>> 0) >>> (32 - this.#leafBits);
  }

  /** XORs `delta` into the leaf and every ancestor up to the root. */
  #xorPath(leaf: number, delta: Uint8Array): void {
    let index = leaf;
    for (let level = this.depth; level >= 0; level--) {
      const hashes = this.#levels[level]!;
      const at = index * DIGEST_BYTES;
      for (let i = 0; i < DIGEST_BYTES; i++) hashes[at + i]! ^= delta[i]!;
      index >>>= this.#fanoutBits;
    }
  }
}

/** h(key, digest) = first 16 bytes of SHA-256(utf8(key) ‖ 0x00 ‖ digest). */
function itemHashOf(keyBytes: Uint8Array, digest: Uint8Array): Uint8Array {
  const input = new Uint8Array(keyBytes.length + 1 + DIGEST_BYTES);
  input.set(keyBytes, 0);
  input[keyBytes.length] = 0;
  input.set(digest, keyBytes.length + 1);
  return sha256(input).subarray(0, DIGEST_BYTES);
}
