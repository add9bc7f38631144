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

import { md5Top32, sha256Into } from './merkle-hashes.js';
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

/** Section tags of the encoding hashed by `versionDigest`: C(lock), D(ot cloud), S(ibling dots). */
const SECTION_TAGS = [0x43, 0x44, 0x53] as const;

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
 * UTF-8 bytes of node ids (a cluster has few), so that `versionDigest` encodes each id once rather
 * than once per entry; cleared when it grows past {@link NODE_BYTES_CACHE_MAX} ids.
 */
const nodeBytesCache = new Map<string, Uint8Array>();
const NODE_BYTES_CACHE_MAX = 4096;

function nodeBytesOf(node: string): Uint8Array {
  let bytes = nodeBytesCache.get(node);
  if (bytes === undefined) {
    if (nodeBytesCache.size >= NODE_BYTES_CACHE_MAX) nodeBytesCache.clear();
    bytes = encoder.encode(node);
    nodeBytesCache.set(node, bytes);
  }
  return bytes;
}

/** The scratch buffer `versionDigest` encodes into (grown on demand; one thread uses it at a time). */
let digestScratch = new Uint8Array(256);
let digestView = new DataView(digestScratch.buffer);

/** Reused lists of each section's entries while `versionDigest` sorts them (clock, dot cloud, sibling dots). */
const sectionScratch: Dot[][] = [[], [], []];

function bySectionOrder(a: Dot, b: Dot): number {
  return (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.counter - b.counter;
}

/**
 * Adds entry `e` (a clock entry or a dot) to a section being collected. @returns the bytes it takes in
 * the encoding, or -1 when it is not a (string node, finite counter) pair: `versionDigest` then takes
 * the general path, which encodes (or reports) it as the definition says.
 */
function addEntry(into: Dot[], e: Dot | undefined | null): number {
  if (typeof e !== 'object' || e === null || typeof e.node !== 'string' || typeof e.counter !== 'number' || !Number.isFinite(e.counter)) return -1;
  into.push(e);
  return 4 + nodeBytesOf(e.node).length + 8;
}

/** Sorts a collected section in encoding order, unless it already is (stored version sets are). */
function sortSection(entries: Dot[]): void {
  for (let i = 1; i < entries.length; i++) {
    if (bySectionOrder(entries[i - 1]!, entries[i]!) > 0) {
      entries.sort(bySectionOrder);
      return;
    }
  }
}

/**
 * The sections of `v` collected into {@link sectionScratch}, sorted. @returns their encoded size in
 * bytes, or -1 when an entry needs the general path.
 */
function collectSections(v: VersionSet): number {
  const [clock, dots, siblings] = sectionScratch as [Dot[], Dot[], Dot[]];
  let size = 1 + 3 * (1 + 4);
  for (const e of v.clock) {
    // A missing entry counts as 0, so counters <= 0 are left out (NaN, too: the general path does the same).
    if (typeof e === 'object' && e !== null && typeof e.counter === 'number' && !(e.counter > 0)) continue;
    const bytes = addEntry(clock, e);
    if (bytes < 0) return -1;
    size += bytes;
  }
  for (const e of v.dots ?? []) {
    const bytes = addEntry(dots, e);
    if (bytes < 0) return -1;
    size += bytes;
  }
  for (const s of v.siblings) {
    const bytes = addEntry(siblings, typeof s === 'object' && s !== null ? s.dot : undefined);
    if (bytes < 0) return -1;
    size += bytes;
  }
  sortSection(clock);
  sortSection(dots);
  sortSection(siblings);
  return size;
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
 * Encoded into a reused buffer with each node id's UTF-8 bytes cached, since a rebuild of the trees
 * digests every stored key (100k keys: the Merkle worker's rebuild); entries of another shape take a
 * general path that gives the same bytes for whatever it accepts.
 *
 * @param v a version set; not modified.
 * @returns a fresh `Uint8Array` of {@link DIGEST_BYTES} bytes: the first 16 bytes of SHA-256 of the
 *   canonical encoding.
 * @throws TypeError when a node id is not a string (a malformed version set).
 */
export function versionDigest(v: VersionSet): Uint8Array {
  let size: number;
  try {
    size = collectSections(v);
  } catch (error) {
    for (const list of sectionScratch) list.length = 0;
    throw error;
  }
  if (size < 0) return versionDigestGeneral(v);
  if (digestScratch.length < size) {
    digestScratch = new Uint8Array(Math.max(size, 2 * digestScratch.length));
    digestView = new DataView(digestScratch.buffer);
  }
  const bytes = digestScratch;
  const view = digestView;
  let at = 0;
  bytes[at++] = VERSION_DIGEST_FORMAT;
  for (let section = 0; section < 3; section++) {
    const entries = sectionScratch[section]!;
    bytes[at++] = SECTION_TAGS[section]!;
    view.setUint32(at, entries.length);
    at += 4;
    for (const e of entries) {
      const nodeBytes = nodeBytesOf(e.node);
      view.setUint32(at, nodeBytes.length);
      at += 4;
      bytes.set(nodeBytes, at);
      at += nodeBytes.length;
      view.setFloat64(at, canonicalCounter(e.counter));
      at += 8;
    }
    entries.length = 0;
  }
  const digest = new Uint8Array(DIGEST_BYTES);
  sha256Into(bytes, size, digest, 0, DIGEST_BYTES);
  return digest;
}

/** {@link versionDigest} for any input (the definition as written): also what reports malformed entries. */
function versionDigestGeneral(v: VersionSet): Uint8Array {
  for (const list of sectionScratch) list.length = 0;
  const sections: [number, EncodedEntry[]][] = [
    [SECTION_TAGS[0], encodeEntries(v.clock.filter((e) => e.counter > 0))],
    [SECTION_TAGS[1], encodeEntries(v.dots ?? [])],
    [SECTION_TAGS[2], encodeEntries(v.siblings.map((s): Dot => s.dot))],
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
  const digest = new Uint8Array(DIGEST_BYTES);
  sha256Into(bytes, size, digest, 0, DIGEST_BYTES);
  return digest;
}

/** One key of a partition tree and the digest of its version set (see {@link versionDigest}). */
export interface MerkleItem {
  key: string;
  /** {@link DIGEST_BYTES} bytes. */
  digest: Uint8Array;
}

/**
 * Where a key sits: its UTF-8 bytes and the first 32 bits of their MD5, read big-endian (the top bits
 * of `keyPosition` in `ring.ts`). The partition is the first log2 Q of those bits and the leaf of its
 * tree the D·log2 F bits after them, so one MD5 places a key in both ({@link placeKey}).
 */
export interface KeyPlacement {
  keyBytes: Uint8Array;
  /** The first 32 bits of MD5(keyBytes), an unsigned integer. */
  top32: number;
}

/** UTF-8 bytes of `key`: a byte loop for ASCII keys (most are; cheaper than a TextEncoder call for short strings). */
function utf8(key: string): Uint8Array {
  const bytes = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    if (unit > 0x7f) return encoder.encode(key);
    bytes[i] = unit;
  }
  return bytes;
}

/**
 * The {@link KeyPlacement} of `key`: one UTF-8 encoding and one MD5.
 * @throws TypeError when `key` is not a string.
 */
export function placeKey(key: string): KeyPlacement {
  if (typeof key !== 'string') throw new TypeError(`PartitionTree: key must be a string, got ${typeof key}`);
  const keyBytes = utf8(key);
  return { keyBytes, top32: md5Top32(keyBytes) };
}

/**
 * The partition of a placed key in a ring of 2^`partitionBits` partitions: what `Ring.partitionOfKey`
 * answers for the same key. `partitionBits` is an integer in [0, 32].
 */
export function partitionOfPlacement(placement: KeyPlacement, partitionBits: number): number {
  return partitionBits === 0 ? 0 : placement.top32 >>> (32 - partitionBits);
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

/**
 * What a tree keeps per key, in one array of 2·DIGEST_BYTES bytes (one allocation per key: a rebuild
 * makes 100k of them): the digest it was given, then the item hash derived from it.
 */
type Entry = Uint8Array;

/** The digest part of an entry (a copy). */
const digestOf = (entry: Entry): Uint8Array => entry.slice(0, DIGEST_BYTES);

/** Whether `entry` holds `digest`. */
function holds(entry: Entry, digest: Uint8Array): boolean {
  for (let i = 0; i < DIGEST_BYTES; i++) if (entry[i] !== digest[i]) return false;
  return true;
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
 * Costs: `set` hashes the key twice (MD5 for the leaf, unless given its placement; SHA-256 for the
 * item) and XORs D + 1 node hashes.
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
    return this.#leafOfTop32(placeKey(key).top32);
  }

  /**
   * Inserts, replaces or (when `digest` is `undefined`) removes the item of `key`, updating the hashes
   * of its leaf and of every ancestor in O(D). The digest is copied.
   * @param digest {@link DIGEST_BYTES} bytes, normally `versionDigest` of the key's version set.
   * @param placement `placeKey(key)` when the caller has it already (it placed the key in its
   *   partition), which saves hashing the key again; computed here otherwise.
   * @returns true when the tree changed; false when the key already had this digest, or was absent and
   *   is being removed.
   * @throws TypeError when `key` is not a string; RangeError when `digest` is not a `Uint8Array` of
   *   {@link DIGEST_BYTES} bytes.
   */
  set(key: string, digest: Uint8Array | undefined, placement: KeyPlacement = placeKey(key)): boolean {
    if (digest !== undefined && (!(digest instanceof Uint8Array) || digest.length !== DIGEST_BYTES)) {
      throw new RangeError(`PartitionTree.set: digest must be a Uint8Array of ${DIGEST_BYTES} bytes`);
    }
    const leaf = this.#leafOfTop32(placement.top32);
    let items = this.#leaves[leaf];
    const old = items?.get(key);
    if (digest === undefined) {
      if (old === undefined) return false;
      items!.delete(key);
      this.#size--;
      this.#xorPath(leaf, old);
      return true;
    }
    if (old !== undefined && holds(old, digest)) return false;
    const entry = entryOf(placement.keyBytes, digest);
    if (items === undefined) {
      items = new Map();
      this.#leaves[leaf] = items;
    }
    items.set(key, entry);
    if (old === undefined) {
      this.#size++;
    } else {
      this.#xorPath(leaf, old);
    }
    this.#xorPath(leaf, entry);
    return true;
  }

  /**
   * The digest stored for `key` (a copy), or `undefined` when the key is not in the tree.
   * @throws TypeError when `key` is not a string.
   */
  get(key: string): Uint8Array | undefined {
    const entry = this.#leaves[this.leafOf(key)]?.get(key);
    return entry === undefined ? undefined : digestOf(entry);
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
    for (const [key, entry] of this.#leaves[leaf] ?? []) items.push({ key, digest: digestOf(entry) });
    return items.sort(compareKeys);
  }

  /** Every item of the tree, sorted by key in code-unit order; digests are copies. */
  items(): MerkleItem[] {
    const items: MerkleItem[] = [];
    for (const leaf of this.#leaves) {
      if (leaf === undefined) continue;
      for (const [key, entry] of leaf) items.push({ key, digest: digestOf(entry) });
    }
    return items.sort(compareKeys);
  }

  #level(level: number): Uint8Array {
    if (!isInteger(level) || level < 0 || level > this.depth) {
      throw new RangeError(`PartitionTree.hash: level must be an integer in [0, ${this.depth}], got ${String(level)}`);
    }
    return this.#levels[level]!;
  }

  #leafOfTop32(top32: number): number {
    // partitionBits <= 31 here (leafBits >= 1), so the shift is exact; 32 - leafBits is in [12, 31].
    return ((top32 << this.#partitionBits) >>> 0) >>> (32 - this.#leafBits);
  }

  /** XORs the item hash of `entry` into the leaf and every ancestor up to the root. */
  #xorPath(leaf: number, entry: Entry): void {
    let index = leaf;
    for (let level = this.depth; level >= 0; level--) {
      const hashes = this.#levels[level]!;
      const at = index * DIGEST_BYTES;
      for (let i = 0; i < DIGEST_BYTES; i++) hashes[at + i]! ^= entry[DIGEST_BYTES + i]!;
      index >>>= this.#fanoutBits;
    }
  }
}

/** The input buffer of {@link entryOf}, reused (grown for long keys). */
let itemScratch = new Uint8Array(256);

/** The entry of a key: a copy of `digest`, then h(key, digest) = first 16 bytes of SHA-256(utf8(key) ‖ 0x00 ‖ digest). */
function entryOf(keyBytes: Uint8Array, digest: Uint8Array): Entry {
  const size = keyBytes.length + 1 + DIGEST_BYTES;
  if (itemScratch.length < size) itemScratch = new Uint8Array(Math.max(size, 2 * itemScratch.length));
  itemScratch.set(keyBytes, 0);
  itemScratch[keyBytes.length] = 0;
  itemScratch.set(digest, keyBytes.length + 1);
  const entry = new Uint8Array(2 * DIGEST_BYTES);
  entry.set(digest, 0);
  sha256Into(itemScratch, size, entry, DIGEST_BYTES, DIGEST_BYTES);
  return entry;
}
