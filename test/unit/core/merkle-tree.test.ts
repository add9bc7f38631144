/**
 * The Merkle tree of one partition (src/core/merkle-tree.ts; paper §4.7 anti-entropy).
 *
 * Hashes are checked against a reference written here from the definitions in the module header, with
 * Node's own MD5 and SHA-256 (node:crypto, not the @noble/hashes the module uses): leaf = the bits of
 * MD5(key) after the partition bits, item = SHA-256(utf8(key) ‖ 0x00 ‖ digest)[0..16), node = XOR of
 * what is below it. Random cases are seeded (pure-rand); every assertion message carries the seed.
 *
 * Cost of the exchange, asserted exactly: `differingLeaves` compares 1 + F·A hashes, A being the number
 * of distinct ancestors (levels 0..D-1) of the differing leaves; so at most 1 + F·Σ_{l<D} min(F^l, d)
 * for d differing leaves, and 1 + F·D = 33 for one differing key with the default shape (F = 16,
 * D = 2), whether the partition holds 1 000 keys or 11 000.
 */
import { createHash } from 'node:crypto';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { describe, expect, it } from 'vitest';
import {
  DIGEST_BYTES,
  MERKLE_DEPTH,
  MERKLE_FANOUT,
  MERKLE_MAX_LEAF_BITS,
  type MerkleItem,
  PartitionTree,
  partitionOfPlacement,
  placeKey,
  versionDigest,
} from '../../../src/core/merkle-tree.js';
import { differingKeys, differingLeaves } from '../../../src/core/merkle-diff.js';
import { keyPosition, Ring } from '../../../src/core/ring.js';
import type { ClockEntry, Dot, Sibling, VersionSet } from '../../../src/core/types.js';
import { versionSetsEqual } from '../../../src/core/version-set.js';

// ----------------------------------------------------------------------------------------------
// helpers

interface Rng {
  int(from: number, to: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: readonly T[]): T[];
  bytes(n: number): Uint8Array;
}

/** Seeded randomness (pure-rand). */
function seeded(seed: number): Rng {
  const rng = xoroshiro128plus(seed);
  const int = (from: number, to: number): number => uniformInt(rng, from, to);
  return {
    int,
    chance: (p) => int(0, 999_999) < p * 1_000_000,
    pick: (items) => items[int(0, items.length - 1)]!,
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
    bytes: (n) => Uint8Array.from({ length: n }, () => int(0, 255)),
  };
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const ZERO_HEX = '00'.repeat(DIGEST_BYTES);
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Reference item hash, from the definition, with node:crypto. */
function refItemHash(key: string, digest: Uint8Array): Uint8Array {
  return createHash('sha256').update(Buffer.from(key, 'utf8')).update(Uint8Array.of(0)).update(digest).digest().subarray(0, DIGEST_BYTES);
}

/** Reference leaf: the `leafBits` bits of the 128-bit key position that follow the partition bits. */
function refLeaf(key: string, partitionBits: number, leafBits: number): number {
  return Number((keyPosition(key) >> BigInt(128 - partitionBits - leafBits)) & ((1n << BigInt(leafBits)) - 1n));
}

interface Shape {
  partitionBits: number;
  fanout: number;
  depth: number;
}

/** Reference node hashes of every level (hex), built bottom-up from a key → digest model. */
function refLevels(model: ReadonlyMap<string, Uint8Array>, shape: Shape): string[][] {
  const fanoutBits = Math.log2(shape.fanout);
  const leafBits = shape.depth * fanoutBits;
  const levels: Uint8Array[][] = [];
  let current = Array.from({ length: 2 ** leafBits }, () => new Uint8Array(DIGEST_BYTES));
  for (const [key, digest] of model) {
    const into = current[refLeaf(key, shape.partitionBits, leafBits)]!;
    const h = refItemHash(key, digest);
    for (let i = 0; i < DIGEST_BYTES; i++) into[i]! ^= h[i]!;
  }
  levels.unshift(current);
  for (let level = shape.depth - 1; level >= 0; level--) {
    const above = Array.from({ length: 2 ** (level * fanoutBits) }, () => new Uint8Array(DIGEST_BYTES));
    current.forEach((h, index) => {
      const into = above[Math.floor(index / shape.fanout)]!;
      for (let i = 0; i < DIGEST_BYTES; i++) into[i]! ^= h[i]!;
    });
    levels.unshift(above);
    current = above;
  }
  return levels.map((level) => level.map(hex));
}

/** Every node hash of `tree` (hex), level by level. */
function treeLevels(tree: PartitionTree): string[][] {
  const fanoutBits = Math.log2(tree.fanout);
  return Array.from({ length: tree.depth + 1 }, (_, level) =>
    Array.from({ length: 2 ** (level * fanoutBits) }, (_, index) => hex(tree.hash(level, index))),
  );
}

const itemsAsHex = (items: readonly MerkleItem[]): [string, string][] => items.map((i) => [i.key, hex(i.digest)]);
const modelItemsAsHex = (model: ReadonlyMap<string, Uint8Array>): [string, string][] =>
  [...model].sort(([a], [b]) => byCodeUnit(a, b)).map(([k, d]) => [k, hex(d)]);

function treeOf(items: Iterable<[string, Uint8Array]>, shape: Partial<Shape> = {}): PartitionTree {
  const tree = new PartitionTree({ partitionBits: shape.partitionBits ?? 8, fanout: shape.fanout, depth: shape.depth });
  for (const [key, digest] of items) tree.set(key, digest);
  return tree;
}

/** Keys of several scripts and lengths, including surrogate pairs and U+0000. */
const KEY_STEMS = ['user', 'cart', 'ключ', '鍵', '😀', 'a\u0000b', '\uFFFF', ''];
const randomKey = (rng: Rng, space: number): string => `${rng.pick(KEY_STEMS)}:${rng.int(0, space - 1)}`;

// ---- random version sets for versionDigest ----------------------------------------------------

const NODES = ['a', 'b', 'c'];

function randomVersionSet(rng: Rng): VersionSet {
  const clock: ClockEntry[] = [];
  for (const node of NODES) if (rng.chance(0.6)) clock.push({ node, counter: rng.int(1, 2), timestampMs: rng.int(0, 100) });
  const pickDots = (p: number): Dot[] => {
    const dots: Dot[] = [];
    for (const node of NODES) for (let counter = 1; counter <= 3; counter++) if (rng.chance(p)) dots.push({ node, counter, timestampMs: rng.int(0, 100) });
    return dots;
  };
  const siblings: Sibling[] = pickDots(0.12).map((dot) => ({ dot, data: rng.chance(0.3) ? null : rng.bytes(rng.int(0, 3)) }));
  const dots = rng.chance(0.5) ? pickDots(0.06) : undefined;
  return dots === undefined ? { clock, siblings } : { clock, siblings, dots };
}

/** The same version set as `versionSetsEqual` sees it, dressed differently: order, timestamps, data, zero entries, `dots: []`. */
function disguise(v: VersionSet, rng: Rng): VersionSet {
  const clock = v.clock.map((e) => ({ ...e, timestampMs: rng.int(0, 1000) }));
  for (const node of ['z', 'y']) if (rng.chance(0.3)) clock.push({ node, counter: 0, timestampMs: rng.int(0, 1000) });
  const siblings = v.siblings.map((s) => ({ dot: { ...s.dot, timestampMs: rng.int(0, 1000) }, data: rng.chance(0.5) ? null : rng.bytes(2) }));
  const dots = (v.dots ?? []).map((d) => ({ ...d, timestampMs: rng.int(0, 1000) }));
  const out: VersionSet = { clock: rng.shuffle(clock), siblings: rng.shuffle(siblings) };
  if (dots.length > 0 || rng.chance(0.5)) out.dots = rng.shuffle(dots);
  return out;
}

/**
 * Reference version digest, from the definition in merkle-tree.ts with node:crypto: format byte 1, then
 * sections C (clock entries with counter > 0), D (dot cloud) and S (sibling dots), each a tag, a 32-bit
 * count and its (node, counter) pairs sorted by node id (code units) then counter, a pair being a
 * 32-bit length, the id's UTF-8 bytes and the counter as a float64 (-0 as 0); SHA-256, first 16 bytes.
 */
function refVersionDigest(v: VersionSet): string {
  const encode = (entries: readonly { node: string; counter: number }[]) =>
    entries.map((e) => ({ node: e.node, bytes: Buffer.from(e.node, 'utf8'), counter: e.counter + 0 })).sort((a, b) => byCodeUnit(a.node, b.node) || a.counter - b.counter);
  const sections: [number, ReturnType<typeof encode>][] = [
    [0x43, encode(v.clock.filter((e) => e.counter > 0))],
    [0x44, encode(v.dots ?? [])],
    [0x53, encode(v.siblings.map((sibling) => sibling.dot))],
  ];
  const parts: Buffer[] = [Buffer.of(1)];
  for (const [tag, entries] of sections) {
    const head = Buffer.alloc(5);
    head[0] = tag;
    head.writeUInt32BE(entries.length, 1);
    parts.push(head);
    for (const e of entries) {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(e.bytes.length);
      const counter = Buffer.alloc(8);
      counter.writeDoubleBE(e.counter);
      parts.push(length, e.bytes, counter);
    }
  }
  return createHash('sha256').update(Buffer.concat(parts)).digest().subarray(0, DIGEST_BYTES).toString('hex');
}

// ----------------------------------------------------------------------------------------------

describe('versionDigest', () => {
  it('is the definition, over random version sets in any order, with zero, negative and -0 counters and ids of any script', () => {
    const ids = ['a', 'b', 'node-7', 'ключ', '鍵😀', 'a'.repeat(64)];
    for (const seed of [4, 5, 6]) {
      const rng = seeded(seed);
      for (let i = 0; i < 400; i++) {
        const v = disguise(randomVersionSet(rng), rng);
        // Renamed ids, and now and then a counter of 0, -1 or -0 in the clock or the cloud.
        const rename = <T extends { node: string }>(e: T): T => ({ ...e, node: ids[(e.node.charCodeAt(0) + seed) % ids.length]! });
        const odd = [0, -1, -0];
        const clock = v.clock.map((e) => ({ ...rename(e), counter: rng.chance(0.1) ? rng.pick(odd) : e.counter }));
        const dots = v.dots?.map((d) => ({ ...rename(d), counter: rng.chance(0.1) ? rng.pick(odd) : d.counter }));
        const w: VersionSet = { clock, siblings: v.siblings.map((sibling) => ({ ...sibling, dot: rename(sibling.dot) })) };
        if (dots !== undefined) w.dots = dots;
        expect(hex(versionDigest(w)), `seed ${seed}, set ${i}: ${JSON.stringify(w)}`).toBe(refVersionDigest(w));
      }
    }
  });

  it('reports a malformed entry with a TypeError, and digests the next set as if nothing had happened', () => {
    const good: VersionSet = { clock: [{ node: 'a', counter: 1, timestampMs: 0 }], siblings: [{ dot: { node: 'a', counter: 1, timestampMs: 0 }, data: null }] };
    const before = hex(versionDigest(good));
    expect(() => versionDigest({ clock: [null as unknown as ClockEntry], siblings: [] })).toThrow(TypeError);
    expect(() => versionDigest({ clock: [], siblings: [{ dot: null as unknown as Dot, data: null }] })).toThrow(TypeError);
    expect(hex(versionDigest(good))).toBe(before);
    expect(before).toBe(refVersionDigest(good));
  });


  it('is 16 fresh bytes, deterministic, and pins the format on the empty set', () => {
    const v: VersionSet = { clock: [{ node: 'a', counter: 1, timestampMs: 5 }], siblings: [{ dot: { node: 'a', counter: 1, timestampMs: 5 }, data: null }] };
    const d1 = versionDigest(v);
    const d2 = versionDigest(v);
    expect(d1).toBeInstanceOf(Uint8Array);
    expect(d1.length).toBe(DIGEST_BYTES);
    expect(d1.buffer.byteLength).toBe(DIGEST_BYTES);
    expect(hex(d1)).toBe(hex(d2));
    expect(d1).not.toBe(d2);
    // Format byte 1, then three empty sections tagged C, D, S, each with a 32-bit count of 0.
    const empty = Uint8Array.of(1, 0x43, 0, 0, 0, 0, 0x44, 0, 0, 0, 0, 0x53, 0, 0, 0, 0);
    const expected = createHash('sha256').update(empty).digest().subarray(0, DIGEST_BYTES);
    expect(hex(versionDigest({ clock: [], siblings: [] }))).toBe(hex(expected));
  });

  it('is equal exactly when versionSetsEqual holds, over random version sets', () => {
    for (const seed of [1, 2, 3]) {
      const rng = seeded(seed);
      const sets: VersionSet[] = [];
      for (let i = 0; i < 150; i++) {
        const v = randomVersionSet(rng);
        sets.push(v, disguise(v, rng));
      }
      const digests = sets.map((v) => hex(versionDigest(v)));
      let equalPairs = 0;
      let unequalPairs = 0;
      for (let i = 0; i < sets.length; i++) {
        for (let j = i + 1; j < sets.length; j++) {
          const equal = versionSetsEqual(sets[i], sets[j]);
          if (equal) equalPairs++;
          else unequalPairs++;
          if ((digests[i] === digests[j]) !== equal) {
            expect.fail(`seed ${seed}: sets ${i} and ${j}: versionSetsEqual ${equal}, digests ${digests[i]} / ${digests[j]}\n${JSON.stringify([sets[i], sets[j]])}`);
          }
        }
      }
      // Not vacuous: both outcomes occur well beyond the 150 set/disguise pairs.
      expect(equalPairs, `seed ${seed}`).toBeGreaterThan(200);
      expect(unequalPairs, `seed ${seed}`).toBeGreaterThan(10_000);
    }
  });

  it('changes when a clock counter, a sibling dot or a cloud dot changes', () => {
    const base: VersionSet = {
      clock: [
        { node: 'a', counter: 3, timestampMs: 1 },
        { node: 'b', counter: 1, timestampMs: 2 },
      ],
      siblings: [
        { dot: { node: 'a', counter: 3, timestampMs: 1 }, data: Uint8Array.of(1) },
        { dot: { node: 'b', counter: 1, timestampMs: 2 }, data: Uint8Array.of(2) },
      ],
      dots: [{ node: 'c', counter: 4, timestampMs: 3 }],
    };
    const variants: Record<string, VersionSet> = {
      'clock counter': { ...base, clock: [base.clock[0]!, { node: 'b', counter: 2, timestampMs: 2 }] },
      'clock entry added': { ...base, clock: [...base.clock, { node: 'c', counter: 1, timestampMs: 0 }] },
      'sibling dot counter': { ...base, siblings: [base.siblings[0]!, { dot: { node: 'b', counter: 2, timestampMs: 2 }, data: Uint8Array.of(2) }] },
      'sibling dot node': { ...base, siblings: [base.siblings[0]!, { dot: { node: 'c', counter: 1, timestampMs: 2 }, data: Uint8Array.of(2) }] },
      'sibling removed': { ...base, siblings: [base.siblings[0]!] },
      'cloud dot counter': { ...base, dots: [{ node: 'c', counter: 5, timestampMs: 3 }] },
      'cloud dot removed': { clock: base.clock, siblings: base.siblings },
      'dot moved from the cloud to the siblings': {
        ...base,
        siblings: [...base.siblings, { dot: { node: 'c', counter: 4, timestampMs: 3 }, data: null }],
        dots: [],
      },
    };
    const baseHex = hex(versionDigest(base));
    const seen = new Set([baseHex]);
    for (const [what, v] of Object.entries(variants)) {
      expect(versionSetsEqual(base, v), what).toBe(false);
      const h = hex(versionDigest(v));
      expect(h, what).not.toBe(baseHex);
      seen.add(h);
    }
    expect(seen.size).toBe(Object.keys(variants).length + 1);
  });

  it('ignores timestamps, data bytes, order, zero clock entries and an empty dot cloud', () => {
    const v: VersionSet = {
      clock: [
        { node: 'a', counter: 2, timestampMs: 10 },
        { node: 'b', counter: 1, timestampMs: 20 },
      ],
      siblings: [
        { dot: { node: 'a', counter: 2, timestampMs: 10 }, data: Uint8Array.of(1, 2) },
        { dot: { node: 'b', counter: 1, timestampMs: 20 }, data: null },
      ],
    };
    const same: VersionSet = {
      clock: [
        { node: 'b', counter: 1, timestampMs: 999 },
        { node: 'z', counter: 0, timestampMs: 5 },
        { node: 'a', counter: 2, timestampMs: 0 },
      ],
      siblings: [
        { dot: { node: 'b', counter: 1, timestampMs: 7 }, data: Uint8Array.of(9) },
        { dot: { node: 'a', counter: 2, timestampMs: 8 }, data: null },
      ],
      dots: [],
    };
    expect(versionSetsEqual(v, same)).toBe(true);
    expect(hex(versionDigest(same))).toBe(hex(versionDigest(v)));
  });

  it('gives a tombstone-only set a digest of its own', () => {
    const dot = { node: 'a', counter: 1, timestampMs: 0 };
    const clock = [{ node: 'a', counter: 1, timestampMs: 0 }];
    const tombstone = versionDigest({ clock, siblings: [{ dot, data: null }] });
    expect(hex(tombstone)).not.toBe(hex(versionDigest({ clock: [], siblings: [] })));
    expect(hex(tombstone)).not.toBe(hex(versionDigest({ clock, siblings: [] })));
    expect(hex(tombstone)).not.toBe(ZERO_HEX);
  });
});

describe('PartitionTree: shape and placement', () => {
  it('defaults to F = 16, D = 2: 256 leaves, every hash zero', () => {
    expect([MERKLE_FANOUT, MERKLE_DEPTH, DIGEST_BYTES]).toEqual([16, 2, 16]);
    const tree = new PartitionTree({ partitionBits: 8 });
    expect([tree.fanout, tree.depth, tree.leafCount, tree.size]).toEqual([16, 2, 256, 0]);
    expect(hex(tree.root())).toBe(ZERO_HEX);
    expect(treeLevels(tree).flat().every((h) => h === ZERO_HEX)).toBe(true);
    expect(treeLevels(tree).map((level) => level.length)).toEqual([1, 16, 256]);
    expect(tree.items()).toEqual([]);
  });

  it('rejects bad shapes with a RangeError', () => {
    const bad: [string, ConstructorParameters<typeof PartitionTree>[0]][] = [
      ['fanout 3', { partitionBits: 8, fanout: 3 }],
      ['fanout 1', { partitionBits: 8, fanout: 1 }],
      ['fanout 0', { partitionBits: 8, fanout: 0 }],
      ['fanout 512', { partitionBits: 8, fanout: 512 }],
      ['fanout 2.5', { partitionBits: 8, fanout: 2.5 }],
      ['fanout NaN', { partitionBits: 8, fanout: Number.NaN }],
      ['depth 0', { partitionBits: 8, depth: 0 }],
      ['depth -1', { partitionBits: 8, depth: -1 }],
      ['depth 1.5', { partitionBits: 8, depth: 1.5 }],
      ['partitionBits -1', { partitionBits: -1 }],
      ['partitionBits 1.5', { partitionBits: 1.5 }],
      ['partitionBits 33', { partitionBits: 33 }],
      ['partitionBits "8"', { partitionBits: '8' as unknown as number }],
      ['25 + 2·4 > 32', { partitionBits: 25 }],
      ['17 + 2·8 > 32', { partitionBits: 17, fanout: 256, depth: 2 }],
      ['32 partition bits leave none for leaves', { partitionBits: 32, fanout: 2, depth: 1 }],
      [`leaf bits above ${MERKLE_MAX_LEAF_BITS}`, { partitionBits: 0, fanout: 256, depth: 3 }],
      [`leaf bits above ${MERKLE_MAX_LEAF_BITS} (2^21)`, { partitionBits: 0, fanout: 2, depth: 21 }],
    ];
    for (const [what, options] of bad) expect(() => new PartitionTree(options), what).toThrow(RangeError);
    // The edges that are allowed.
    expect(new PartitionTree({ partitionBits: 24 }).leafCount).toBe(256);
    expect(new PartitionTree({ partitionBits: 31, fanout: 2, depth: 1 }).leafCount).toBe(2);
    expect(new PartitionTree({ partitionBits: 12, fanout: 2, depth: 20 }).leafCount).toBe(2 ** 20);
    expect(new PartitionTree({ partitionBits: 0, fanout: 256, depth: 2 }).leafCount).toBe(65_536);
  });

  it('places a key by the MD5 bits that follow the partition bits', () => {
    const rng = seeded(7);
    const shapes: Shape[] = [
      { partitionBits: 8, fanout: 16, depth: 2 },
      { partitionBits: 0, fanout: 16, depth: 2 },
      { partitionBits: 16, fanout: 4, depth: 3 },
      { partitionBits: 24, fanout: 256, depth: 1 },
      { partitionBits: 31, fanout: 2, depth: 1 },
      { partitionBits: 12, fanout: 2, depth: 20 },
    ];
    for (const shape of shapes) {
      const tree = new PartitionTree(shape);
      const leafBits = shape.depth * Math.log2(shape.fanout);
      for (let i = 0; i < 300; i++) {
        const key = randomKey(rng, 1_000_000);
        expect(tree.leafOf(key), `${JSON.stringify(shape)} ${key}`).toBe(refLeaf(key, shape.partitionBits, leafBits));
      }
    }
  });

  it('places a key with one MD5: its partition is the ring\'s and its leaf the tree\'s, and set takes the placement', () => {
    const rng = seeded(8);
    for (const q of [1, 2, 256, 4096]) {
      const ring = Ring.build([{ id: 'a', capacity: 1 }], q);
      const bits = Math.log2(q);
      const tree = new PartitionTree({ partitionBits: bits });
      const told = new PartitionTree({ partitionBits: bits });
      for (let i = 0; i < 300; i++) {
        const key = randomKey(rng, 1_000_000);
        const placement = placeKey(key);
        expect(placement.keyBytes).toEqual(new TextEncoder().encode(key));
        expect(partitionOfPlacement(placement, bits), `Q = ${q}, ${key}`).toBe(ring.partitionOfKey(key));
        const digest = rng.bytes(DIGEST_BYTES);
        tree.set(key, digest);
        told.set(key, digest, placement);
      }
      expect(treeLevels(told), `Q = ${q}`).toEqual(treeLevels(tree));
      expect(itemsAsHex(told.items())).toEqual(itemsAsHex(tree.items()));
    }
    expect(() => placeKey(7 as unknown as string)).toThrow(TypeError);
  });

  it("spreads one partition's keys over all of its leaves", () => {
    const ring = Ring.build([{ id: 'a', capacity: 1 }], 4);
    const tree = new PartitionTree({ partitionBits: 2 });
    const perLeaf = new Array<number>(tree.leafCount).fill(0);
    let keys = 0;
    for (let i = 0; keys < 20_000; i++) {
      const key = `key-${i}`;
      if (ring.partitionOfKey(key) !== 3) continue;
      keys++;
      perLeaf[tree.leafOf(key)]!++;
    }
    // 78 keys a leaf on average; a binomial tail below 30 or above 150 is beyond 5 standard deviations.
    expect(Math.min(...perLeaf)).toBeGreaterThan(30);
    expect(Math.max(...perLeaf)).toBeLessThan(150);
  });
});

describe('PartitionTree: updates', () => {
  it('inserts, replaces and removes, reporting whether anything changed', () => {
    const tree = new PartitionTree({ partitionBits: 8 });
    const d1 = seeded(1).bytes(DIGEST_BYTES);
    const d2 = seeded(2).bytes(DIGEST_BYTES);
    expect(tree.set('k', undefined)).toBe(false);
    expect(tree.set('k', d1)).toBe(true);
    expect(tree.size).toBe(1);
    expect(tree.set('k', d1.slice())).toBe(false);
    expect(hex(tree.get('k')!)).toBe(hex(d1));
    const rootWithD1 = hex(tree.root());
    expect(rootWithD1).toBe(hex(refItemHash('k', d1)));
    expect(tree.set('k', d2)).toBe(true);
    expect(tree.size).toBe(1);
    expect(hex(tree.root())).toBe(hex(refItemHash('k', d2)));
    expect(tree.set('k', undefined)).toBe(true);
    expect(tree.size).toBe(0);
    expect(tree.get('k')).toBeUndefined();
    expect(hex(tree.root())).toBe(ZERO_HEX);
  });

  it('keeps its own copies of digests and hashes', () => {
    const tree = new PartitionTree({ partitionBits: 8 });
    const digest = seeded(3).bytes(DIGEST_BYTES);
    tree.set('k', digest);
    const root = hex(tree.root());
    digest.fill(0);
    tree.get('k')!.fill(0);
    tree.root().fill(0);
    tree.hash(2, tree.leafOf('k')).fill(0);
    tree.children(0, 0).forEach((h) => h.fill(0));
    tree.items()[0]!.digest.fill(0);
    expect(hex(tree.root())).toBe(root);
    expect(hex(tree.get('k')!)).toBe(hex(seeded(3).bytes(DIGEST_BYTES)));
  });

  it('rejects digests of the wrong size and keys that are not strings', () => {
    const tree = new PartitionTree({ partitionBits: 8 });
    expect(() => tree.set('k', new Uint8Array(15))).toThrow(RangeError);
    expect(() => tree.set('k', new Uint8Array(32))).toThrow(RangeError);
    expect(() => tree.set('k', [...new Uint8Array(16)] as unknown as Uint8Array)).toThrow(RangeError);
    expect(() => tree.set(7 as unknown as string, new Uint8Array(16))).toThrow(TypeError);
    expect(() => tree.leafOf(undefined as unknown as string)).toThrow(TypeError);
    expect(tree.size).toBe(0);
  });

  it('rejects out-of-range nodes and leaves', () => {
    const tree = new PartitionTree({ partitionBits: 8 });
    for (const [level, index] of [[-1, 0], [3, 0], [0, 1], [1, 16], [2, 256], [2, -1], [1, 0.5]] as const) {
      expect(() => tree.hash(level, index), `hash(${level}, ${index})`).toThrow(RangeError);
    }
    for (const [level, index] of [[2, 0], [-1, 0], [0, 1], [1, 16]] as const) {
      expect(() => tree.children(level, index), `children(${level}, ${index})`).toThrow(RangeError);
    }
    for (const leaf of [-1, 256, 1.5]) expect(() => tree.leafItems(leaf)).toThrow(RangeError);
  });

  it('matches a rebuild from scratch after thousands of random sets and removes', () => {
    const shapes: Shape[] = [
      { partitionBits: 8, fanout: 16, depth: 2 },
      { partitionBits: 4, fanout: 4, depth: 3 },
      { partitionBits: 20, fanout: 2, depth: 5 },
    ];
    for (const [s, shape] of shapes.entries()) {
      for (const seed of [11, 12]) {
        const rng = seeded(seed * 10 + s);
        const label = `seed ${seed}, shape ${JSON.stringify(shape)}`;
        const tree = new PartitionTree(shape);
        const model = new Map<string, Uint8Array>();
        const digestPool = Array.from({ length: 6 }, () => rng.bytes(DIGEST_BYTES));
        for (let op = 0; op < 4000; op++) {
          const key = randomKey(rng, 300);
          if (rng.chance(0.3)) {
            expect(tree.set(key, undefined), `${label} op ${op}`).toBe(model.delete(key));
          } else {
            const digest = rng.chance(0.5) ? rng.pick(digestPool) : rng.bytes(DIGEST_BYTES);
            const changed = model.get(key) === undefined || hex(model.get(key)!) !== hex(digest);
            expect(tree.set(key, digest), `${label} op ${op}`).toBe(changed);
            model.set(key, digest);
          }
          if (op % 1000 === 999) expect(hex(tree.root()), `${label} op ${op}`).toBe(refLevels(model, shape)[0]![0]);
        }
        expect(model.size, label).toBeGreaterThan(100);
        expect(tree.size, label).toBe(model.size);
        const expected = refLevels(model, shape);
        expect(treeLevels(tree), label).toEqual(expected);
        // A fresh tree fed the final items, in another order, agrees on every node.
        expect(treeLevels(treeOf(rng.shuffle(tree.items().map((i): [string, Uint8Array] => [i.key, i.digest])), shape)), label).toEqual(expected);
        expect(itemsAsHex(tree.items()), label).toEqual(modelItemsAsHex(model));
        const leafBits = shape.depth * Math.log2(shape.fanout);
        const byLeaf = Array.from({ length: tree.leafCount }, () => new Map<string, Uint8Array>());
        for (const [key, digest] of model) byLeaf[refLeaf(key, shape.partitionBits, leafBits)]!.set(key, digest);
        byLeaf.forEach((inLeaf, leaf) => expect(itemsAsHex(tree.leafItems(leaf)), `${label} leaf ${leaf}`).toEqual(modelItemsAsHex(inLeaf)));
        for (const [key, digest] of model) expect(hex(tree.get(key)!), `${label} ${key}`).toBe(hex(digest));
      }
    }
  });

  it('does not depend on the order of updates', () => {
    const rng = seeded(21);
    const items = Array.from({ length: 1500 }, (_, i): [string, Uint8Array] => [`k${i}`, rng.bytes(DIGEST_BYTES)]);
    const reference = treeLevels(treeOf(items));
    for (let trial = 0; trial < 3; trial++) {
      const tree = new PartitionTree({ partitionBits: 8 });
      // Detours: stale digests first, and keys that come and go.
      for (const [key] of rng.shuffle(items).slice(0, 500)) tree.set(key, rng.bytes(DIGEST_BYTES));
      for (let i = 0; i < 200; i++) tree.set(`gone${i}`, rng.bytes(DIGEST_BYTES));
      for (const [key, digest] of rng.shuffle(items)) tree.set(key, digest);
      for (let i = 0; i < 200; i++) tree.set(`gone${i}`, undefined);
      expect(treeLevels(tree), `trial ${trial}`).toEqual(reference);
    }
  });

  it('returns to the all-zero tree when every key is removed', () => {
    const rng = seeded(31);
    const items = Array.from({ length: 3000 }, (_, i): [string, Uint8Array] => [randomKey(rng, 1e9) + i, rng.bytes(DIGEST_BYTES)]);
    const tree = treeOf(items);
    expect(hex(tree.root())).not.toBe(ZERO_HEX);
    for (const [key] of rng.shuffle(items)) expect(tree.set(key, undefined)).toBe(true);
    expect(tree.size).toBe(0);
    expect(tree.items()).toEqual([]);
    expect(hex(tree.root())).toBe(ZERO_HEX);
    expect(treeLevels(tree).flat().every((h) => h === ZERO_HEX)).toBe(true);
  });

  it('lists children as the hashes one level down, and items in code-unit order', () => {
    const rng = seeded(41);
    const tree = treeOf(Array.from({ length: 500 }, (_, i): [string, Uint8Array] => [`k${i}`, rng.bytes(DIGEST_BYTES)]));
    for (let level = 0; level < tree.depth; level++) {
      for (let index = 0; index < tree.fanout ** level; index++) {
        const expected = Array.from({ length: tree.fanout }, (_, c) => hex(tree.hash(level + 1, index * tree.fanout + c)));
        expect(tree.children(level, index).map(hex)).toEqual(expected);
      }
    }
    const odd = treeOf(['b', 'a', '\uFFFF', '😀', 'a\u0000', ''].map((k): [string, Uint8Array] => [k, rng.bytes(DIGEST_BYTES)]));
    // U+1F600 is stored as the surrogates D83D DE00, which sort before U+FFFF in code-unit order.
    expect(odd.items().map((i) => i.key)).toEqual(['', 'a', 'a\u0000', 'b', '😀', '\uFFFF']);
  });
});

describe('differingLeaves and differingKeys', () => {
  /** Distinct ancestors (levels 0..D-1) of `leaves`: the inner nodes whose children get compared. */
  function ancestorCount(leaves: readonly number[], fanout: number, depth: number): number {
    let count = 0;
    let current = new Set(leaves);
    for (let level = depth - 1; level >= 0; level--) {
      current = new Set([...current].map((i) => Math.floor(i / fanout)));
      count += current.size;
    }
    return count;
  }

  /** Upper bound on hashes compared for d differing leaves: 1 + F·Σ_{l<D} min(F^l, d). */
  function hashesBound(d: number, fanout: number, depth: number): number {
    let bound = 1;
    for (let level = 0; level < depth; level++) bound += fanout * Math.min(fanout ** level, d);
    return d === 0 ? 1 : bound;
  }

  /** Runs the local exchange: differing leaves, then the differing keys of each. */
  function exchange(a: PartitionTree, b: PartitionTree): { keys: string[]; leaves: number[]; hashesCompared: number } {
    const { leaves, hashesCompared } = differingLeaves(a, b);
    const keys = leaves.flatMap((leaf) => differingKeys(a.leafItems(leaf), b.leafItems(leaf)));
    return { keys: keys.sort(byCodeUnit), leaves, hashesCompared };
  }

  it('finds exactly the symmetric difference of random key sets', () => {
    const shapes: Shape[] = [
      { partitionBits: 8, fanout: 16, depth: 2 },
      { partitionBits: 6, fanout: 8, depth: 2 },
      { partitionBits: 10, fanout: 4, depth: 3 },
    ];
    let trials = 0;
    let withoutDifferences = 0;
    for (let seed = 100; seed < 130; seed++) {
      const rng = seeded(seed);
      const shape = shapes[seed % shapes.length]!;
      const label = `seed ${seed}, shape ${JSON.stringify(shape)}`;
      // Per-trial mix of shared, changed and one-sided keys; some trials share everything.
      const sizeA = rng.pick([0, rng.int(0, 20), rng.int(0, 2000), 2000]);
      const pDiffer = rng.pick([0, 0.001, 0.01, 0.2, 1]);
      const a = new Map<string, Uint8Array>();
      const b = new Map<string, Uint8Array>();
      for (let i = 0; i < sizeA; i++) a.set(randomKey(rng, 1e6) + `#${i}`, rng.bytes(DIGEST_BYTES));
      for (const [key, digest] of a) {
        if (!rng.chance(pDiffer)) b.set(key, digest);
        else if (rng.chance(0.5)) b.set(key, rng.bytes(DIGEST_BYTES)); // changed digest
        // else: key on A only
      }
      const onlyB = rng.chance(pDiffer) ? rng.int(0, Math.min(2000 - b.size, 300)) : 0;
      for (let i = 0; i < onlyB; i++) b.set(`only-b:${randomKey(rng, 1e6)}#${i}`, rng.bytes(DIGEST_BYTES));

      const expected = [...new Set([...a.keys(), ...b.keys()])]
        .filter((k) => a.get(k) === undefined || b.get(k) === undefined || hex(a.get(k)!) !== hex(b.get(k)!))
        .sort(byCodeUnit);
      const treeA = treeOf(rng.shuffle([...a]), shape);
      const treeB = treeOf(rng.shuffle([...b]), shape);
      const found = exchange(treeA, treeB);
      expect(found.keys, label).toEqual(expected);

      const leafBits = shape.depth * Math.log2(shape.fanout);
      const expectedLeaves = [...new Set(expected.map((k) => refLeaf(k, shape.partitionBits, leafBits)))].sort((x, y) => x - y);
      expect(found.leaves, label).toEqual(expectedLeaves);
      const exactCost = expectedLeaves.length === 0 ? 1 : 1 + shape.fanout * ancestorCount(expectedLeaves, shape.fanout, shape.depth);
      expect(found.hashesCompared, label).toBe(exactCost);
      expect(found.hashesCompared, label).toBeLessThanOrEqual(hashesBound(expectedLeaves.length, shape.fanout, shape.depth));
      // The exchange is symmetric.
      const back = exchange(treeB, treeA);
      expect([back.keys, back.leaves, back.hashesCompared], label).toEqual([found.keys, found.leaves, found.hashesCompared]);
      trials++;
      if (expected.length === 0) withoutDifferences++;
    }
    expect(trials).toBe(30);
    expect(withoutDifferences).toBeGreaterThan(0);
    expect(withoutDifferences).toBeLessThan(trials);
  });

  it('compares 1 + F·D hashes for one differing key, however many keys agree', () => {
    const rng = seeded(200);
    const items = Array.from({ length: 10_000 }, (_, i): [string, Uint8Array] => [`user:${i}`, rng.bytes(DIGEST_BYTES)]);
    const a = treeOf(items);
    const b = treeOf(items);
    expect(differingLeaves(a, b)).toEqual({ leaves: [], hashesCompared: 1 });

    const changes: [string, (t: PartitionTree) => void][] = [
      ['digest changed', (t) => t.set('user:17', rng.bytes(DIGEST_BYTES))],
      ['key removed', (t) => t.set('user:17', undefined)],
      ['key added', (t) => t.set('newcomer', rng.bytes(DIGEST_BYTES))],
    ];
    for (const [what, change] of changes) {
      const c = treeOf(items);
      change(c);
      const key = what === 'key added' ? 'newcomer' : 'user:17';
      const result = differingLeaves(a, c);
      expect(result.leaves, what).toEqual([a.leafOf(key)]);
      expect(result.hashesCompared, what).toBe(1 + MERKLE_FANOUT * MERKLE_DEPTH); // 33
      expect(differingKeys(a.leafItems(a.leafOf(key)), c.leafItems(a.leafOf(key))), what).toEqual([key]);
    }

    // Another shape: F = 4, D = 3 compares 1 + 4·3 = 13 hashes for one differing key.
    const small = { partitionBits: 8, fanout: 4, depth: 3 };
    const x = treeOf(items, small);
    const y = treeOf(items, small);
    y.set('user:5', rng.bytes(DIGEST_BYTES));
    expect(differingLeaves(x, y).hashesCompared).toBe(13);
  });

  it('costs the same for the same differences whatever the number of shared keys', () => {
    const rng = seeded(300);
    const changed = Array.from({ length: 40 }, (_, i) => `changed:${i}`);
    const costs: number[] = [];
    for (const shared of [1_000, 11_000]) {
      const items = Array.from({ length: shared }, (_, i): [string, Uint8Array] => [`user:${i}`, rng.bytes(DIGEST_BYTES)]);
      const a = treeOf([...items, ...changed.map((k): [string, Uint8Array] => [k, rng.bytes(DIGEST_BYTES)])]);
      const b = treeOf([...items, ...changed.map((k): [string, Uint8Array] => [k, rng.bytes(DIGEST_BYTES)])]);
      const result = differingLeaves(a, b);
      const leaves = [...new Set(changed.map((k) => a.leafOf(k)))];
      expect(result.leaves.length).toBe(leaves.length);
      expect(result.hashesCompared).toBeLessThanOrEqual(hashesBound(leaves.length, 16, 2));
      costs.push(result.hashesCompared);
    }
    expect(costs[0]).toBe(costs[1]);
  });

  it('refuses trees of different shapes', () => {
    const a = new PartitionTree({ partitionBits: 8 });
    expect(() => differingLeaves(a, new PartitionTree({ partitionBits: 8, fanout: 4, depth: 4 }))).toThrow(RangeError);
    expect(() => differingLeaves(a, new PartitionTree({ partitionBits: 8, depth: 1 }))).toThrow(RangeError);
  });

  it('differingKeys lists one-sided keys and changed digests, in any input order', () => {
    const d = (n: number): Uint8Array => new Uint8Array(DIGEST_BYTES).fill(n);
    const a: MerkleItem[] = [
      { key: 'same', digest: d(1) },
      { key: 'changed', digest: d(2) },
      { key: 'only-a', digest: d(3) },
    ];
    const b: MerkleItem[] = [
      { key: 'only-b', digest: d(4) },
      { key: 'changed', digest: d(5) },
      { key: 'same', digest: d(1) },
    ];
    expect(differingKeys(a, b)).toEqual(['changed', 'only-a', 'only-b']);
    expect(differingKeys(b, a)).toEqual(['changed', 'only-a', 'only-b']);
    expect(differingKeys(a, a)).toEqual([]);
    expect(differingKeys([], b)).toEqual(['changed', 'only-b', 'same']);
    expect(differingKeys([], [])).toEqual([]);
  });
});
