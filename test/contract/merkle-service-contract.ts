/**
 * The contract of the core's `MerkleService` port (src/core/ports.ts; paper §4.7): what anti-entropy
 * and ownership handoff rely on from a node's Merkle trees, run against every implementation —
 * `InProcessMerkleService` in Node (in-process-merkle-service.test.ts) and the Web Worker one in a real
 * Chromium page (test/e2e/merkle-service-contract.test.ts).
 *
 * The cases are plain data: a name and an async function over a fixture, with their own small
 * assertions, and no import of vitest, so that the same module runs in Node under vitest and in a
 * browser page (bundled by Vite) that reports each case's outcome to the e2e test.
 *
 *   agreement    replicas compare trees built by different implementations (a tab's worker, a
 *                fallback's in-process trees): every root, node hash and leaf item equals that of the
 *                reference trees of merkle-tree.ts, whatever the order of the updates
 *   locality     an update changes its partition's root and no other, and exactly one node per level
 *                (the key's leaf and its ancestors): a descent finds the key
 *   inverse      removing a key, or writing an earlier version back, restores the earlier hashes
 *   counts       keyCounts: keys per partition holding keys (an overwrite counts once)
 *   order        an update is seen by every query made after it, before its promise settles
 *   build        a service built over a store that holds keys equals one that was told of them
 *   tombstones   the tombstone-only keys deleted before a time, built or told, and kept current
 */
import { PartitionTree, versionDigest, type MerkleItem } from '../../src/core/merkle-tree.js';
import type { MerkleService } from '../../src/core/ports.js';
import { Ring } from '../../src/core/ring.js';
import type { VersionSet } from '../../src/core/types.js';

/** A key and the version set a store holds for it. */
export interface StoredKey {
  key: string;
  versions: VersionSet;
}

/** How a contract case gets services of one implementation. */
export interface MerkleServiceFixture {
  /**
   * A fresh service for a ring of `partitionCount` partitions, built over a store that already holds
   * `stored` (nothing by default). Closed by the runner after the case.
   */
  open(partitionCount: number, stored?: readonly StoredKey[]): Promise<MerkleService>;
  /** Releases every service opened (workers, databases). */
  close(): Promise<void>;
}

/** One case of the contract. Throws {@link ContractFailure} (or any error) when the service breaks it. */
export interface MerkleContractCase {
  name: string;
  run(fixture: MerkleServiceFixture): Promise<void>;
}

/** A broken rule of the contract. Named, so that it is recognised across the page boundary. */
export class ContractFailure extends Error {
  override name = 'ContractFailure';
}

/** Partitions of the ring most cases use: several keys share a partition, and several partitions hold keys. */
const Q = 16;

// ─── assertions (no vitest here: the module also runs in a page) ─────────────────────────────────

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** JSON of `value` with bytes as hex and maps as sorted entry lists, for comparing and printing. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return `0x${hex(v)}`;
    if (v instanceof Map) return { map: [...v].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
    return v;
  });
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new ContractFailure(message);
}

function equal(actual: unknown, expected: unknown, what: string): void {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) throw new ContractFailure(`${what}:\n  expected ${e.slice(0, 600)}\n  got      ${a.slice(0, 600)}`);
}

// ─── data ─────────────────────────────────────────────────────────────────────────────────────

/** A version set written by `writer` at `counter`, with `data` (null: a tombstone) and optional older dots. */
function versions(writer: string, counter: number, data: Uint8Array | null = Uint8Array.of(counter & 0xff), dots: number[] = []): VersionSet {
  const timestampMs = 1_700_000_000_000 + counter;
  const dot = { node: writer, counter, timestampMs };
  const set: VersionSet = { clock: [dot], siblings: [{ dot, data }] };
  if (dots.length > 0) set.dots = dots.map((c) => ({ node: 'z9', counter: c, timestampMs }));
  return set;
}

/**
 * Keys of every kind the store takes: plain, Unicode (outside the BMP too), with U+0000, long, and
 * tombstones (a deleted key stays until purged, and is hashed like any other).
 */
function sampleKeys(count = 40): StoredKey[] {
  const special = ['ä', '\u{1F600}', 'a\u0000b', 'x'.repeat(900), 'k', 'K'];
  const keys = [...special, ...Array.from({ length: count - special.length }, (_, i) => `key:${i}`)];
  return keys.map((key, i) => ({ key, versions: i % 7 === 3 ? versions('n1', i + 1, null) : versions(i % 2 === 0 ? 'n1' : 'n2', i + 1, Uint8Array.of(i, 1, 2), i % 5 === 0 ? [i + 100] : []) }));
}

/** The partition of `key` in a ring of `partitionCount` partitions (what both the core and the worker use). */
function partitionOf(key: string, partitionCount: number): number {
  return Ring.build([], partitionCount).partitionOfKey(key);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The reference trees (merkle-tree.ts) of `stored`, by partition. */
function referenceTrees(stored: readonly StoredKey[], partitionCount: number): Map<number, PartitionTree> {
  const trees = new Map<number, PartitionTree>();
  for (const { key, versions: v } of stored) {
    const p = partitionOf(key, partitionCount);
    let tree = trees.get(p);
    if (tree === undefined) {
      tree = new PartitionTree({ partitionBits: Math.log2(partitionCount) });
      trees.set(p, tree);
    }
    tree.set(key, versionDigest(v));
  }
  return trees;
}

/** Every hash of `partition`'s tree, level by level. */
async function allHashes(service: MerkleService, partition: number): Promise<Uint8Array[][]> {
  const { fanout, depth } = service.shape();
  const levels: Uint8Array[][] = [];
  for (let level = 0; level <= depth; level++) levels.push(await service.hashes(partition, level, range(fanout ** level)));
  return levels;
}

/** Everything a peer can ask of the service: every root, every hash, every leaf's items, the counts. */
async function snapshot(service: MerkleService, partitionCount: number): Promise<{ roots: Uint8Array[]; hashes: Uint8Array[][][]; items: MerkleItem[][]; counts: Map<number, number> }> {
  const { fanout, depth } = service.shape();
  const partitions = range(partitionCount);
  const hashes: Uint8Array[][][] = [];
  const items: MerkleItem[][] = [];
  for (const p of partitions) {
    hashes.push(await allHashes(service, p));
    items.push(await service.leafItems(p, range(fanout ** depth)));
  }
  return { roots: await service.roots(partitions), hashes, items, counts: nonZero(await service.keyCounts()) };
}

/**
 * The counts of partitions that hold keys. The port leaves open whether a partition whose keys were
 * all removed is listed with 0 (the in-process trees keep it) or left out (the worker drops it).
 */
function nonZero(counts: Map<number, number>): Map<number, number> {
  for (const [p, n] of counts) check(Number.isInteger(n) && n >= 0, `keyCounts: partition ${p} has count ${n}`);
  return new Map([...counts].filter(([, n]) => n > 0));
}

function expectedCounts(stored: readonly StoredKey[], partitionCount: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { key } of new Map(stored.map((s) => [s.key, s])).values()) {
    const p = partitionOf(key, partitionCount);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return counts;
}

async function updateAll(service: MerkleService, stored: readonly StoredKey[]): Promise<void> {
  for (const { key, versions: v } of stored) await service.update(key, v);
}

/** Compares a service with the reference trees of `stored`: every root, hash, leaf item and count. */
async function expectReference(service: MerkleService, stored: readonly StoredKey[], partitionCount: number, what: string): Promise<void> {
  const reference = referenceTrees(stored, partitionCount);
  const { fanout, depth } = service.shape();
  const zero = new Uint8Array(16);
  const got = await snapshot(service, partitionCount);
  for (const p of range(partitionCount)) {
    const tree = reference.get(p);
    equal(got.roots[p], tree?.root() ?? zero, `${what}: root of partition ${p}`);
    for (let level = 0; level <= depth; level++) {
      const expected = range(fanout ** level).map((i) => tree?.hash(level, i) ?? zero);
      equal(got.hashes[p]![level], expected, `${what}: hashes of partition ${p}, level ${level}`);
    }
    equal(got.items[p], tree?.items() ?? [], `${what}: leaf items of partition ${p}`);
  }
  equal(got.counts, expectedCounts(stored, partitionCount), `${what}: keyCounts`);
}

// ─── the cases ────────────────────────────────────────────────────────────────────────────────

export const merkleServiceContract: MerkleContractCase[] = [
  {
    name: 'has the shape of the reference trees, the same on every call (replicas must agree on it)',
    async run(fixture) {
      const service = await fixture.open(Q);
      const reference = new PartitionTree({ partitionBits: Math.log2(Q) });
      const shape = service.shape();
      equal(shape, { fanout: reference.fanout, depth: reference.depth }, 'shape');
      await service.update('k', versions('n1', 1));
      equal(service.shape(), shape, 'shape after an update');
    },
  },
  {
    name: 'an empty service answers zeros: 16-byte zero roots and hashes, no leaf items, no key counts',
    async run(fixture) {
      const service = await fixture.open(Q);
      await expectReference(service, [], Q, 'empty');
      const roots = await service.roots(range(Q));
      check(roots.length === Q && roots.every((r) => r instanceof Uint8Array && r.length === 16), 'roots are 16-byte arrays, one per partition');
    },
  },
  {
    name: 'every root, node hash and leaf item equals that of the reference trees (merkle-tree.ts), for 16 partitions and for 1',
    async run(fixture) {
      const stored = sampleKeys();
      for (const partitionCount of [Q, 1]) {
        const service = await fixture.open(partitionCount);
        await updateAll(service, stored);
        await expectReference(service, stored, partitionCount, `${partitionCount} partitions`);
      }
    },
  },
  {
    name: 'two services told the same final states in different orders agree on everything',
    async run(fixture) {
      const stored = sampleKeys();
      const first = await fixture.open(Q);
      const second = await fixture.open(Q);
      await updateAll(first, stored);
      // The second hears of the keys backwards, with older versions and keys since removed on the way.
      for (const [i, { key, versions: v }] of [...stored].reverse().entries()) {
        if (i % 3 === 0) await second.update(key, versions('n3', 9_000 + i));
        await second.update(`gone:${i}`, versions('n3', i + 1));
        await second.update(key, v);
        await second.update(`gone:${i}`, undefined);
      }
      equal(await snapshot(second, Q), await snapshot(first, Q), 'the two services');
    },
  },
  {
    name: "an update changes its partition's root and no other, and one node per level: the key's leaf and its ancestors",
    async run(fixture) {
      const stored = sampleKeys();
      const service = await fixture.open(Q);
      await updateAll(service, stored);
      const before = await snapshot(service, Q);
      const key = 'a new key';
      const p = partitionOf(key, Q);
      await service.update(key, versions('n2', 77));
      const after = await snapshot(service, Q);
      for (const q of range(Q)) {
        if (q === p) check(hex(after.roots[q]!) !== hex(before.roots[q]!), `the root of partition ${p} (the key's) did not change`);
        else equal(after.roots[q], before.roots[q], `root of partition ${q}, which does not hold the key`);
      }
      const { fanout, depth } = service.shape();
      const leaf = new PartitionTree({ partitionBits: Math.log2(Q) }).leafOf(key);
      for (let level = 0; level <= depth; level++) {
        const changed = range(fanout ** level).filter((i) => hex(after.hashes[p]![level]![i]!) !== hex(before.hashes[p]![level]![i]!));
        equal(changed, [Math.floor(leaf / fanout ** (depth - level))], `nodes changed at level ${level}`);
      }
      const items = await service.leafItems(p, [leaf]);
      check(
        items.some((item) => item.key === key),
        `leafItems(${p}, [${leaf}]) lacks the key`,
      );
    },
  },
  {
    name: 'removing a key restores every hash and count from before it was added; the last key of a partition leaves a zero root',
    async run(fixture) {
      const stored = sampleKeys(12);
      const service = await fixture.open(Q);
      await updateAll(service, stored);
      const before = await snapshot(service, Q);
      await service.update('added', versions('n1', 5));
      await service.update('added', undefined);
      equal(await snapshot(service, Q), before, 'after adding and removing a key');
      // Removing a key never stored changes nothing.
      await service.update('never stored', undefined);
      equal(await snapshot(service, Q), before, 'after removing a key never stored');
      for (const { key } of stored) await service.update(key, undefined);
      await expectReference(service, [], Q, 'after removing every key');
    },
  },
  {
    name: 'a newer version changes the root and writing the earlier one back restores it; value bytes do not count, clocks and dots do',
    async run(fixture) {
      const service = await fixture.open(Q);
      const key = 'doc';
      const p = partitionOf(key, Q);
      const v1 = versions('n1', 1, Uint8Array.of(1));
      await service.update(key, v1);
      const [root1] = await service.roots([p]);
      await service.update(key, versions('n1', 2, Uint8Array.of(1)));
      const [root2] = await service.roots([p]);
      check(hex(root2!) !== hex(root1!), 'a new dot left the root as it was');
      await service.update(key, v1);
      equal((await service.roots([p]))[0], root1, 'root after writing the first version back');
      // The digest covers the causal history, not the bytes: the same dot with other bytes is the same version.
      await service.update(key, versions('n1', 1, Uint8Array.of(9, 9, 9)));
      equal((await service.roots([p]))[0], root1, 'root after the same dot with other bytes');
      await service.update(key, versions('n1', 1, Uint8Array.of(1), [42]));
      check(hex((await service.roots([p]))[0]!) !== hex(root1!), 'an extra dot in the dot cloud left the root as it was');
      await service.update(key, versions('n1', 1, null));
      equal(nonZero(await service.keyCounts()), new Map([[p, 1]]), 'keyCounts after overwrites (one key)');
    },
  },
  {
    name: 'keyCounts counts the keys of each partition that holds any; an overwrite counts once, a removal counts down',
    async run(fixture) {
      const stored = sampleKeys();
      const service = await fixture.open(Q);
      await updateAll(service, stored);
      equal(nonZero(await service.keyCounts()), expectedCounts(stored, Q), 'keyCounts');
      await updateAll(service, stored.slice(0, 10).map(({ key }, i) => ({ key, versions: versions('n3', 500 + i) })));
      equal(nonZero(await service.keyCounts()), expectedCounts(stored, Q), 'keyCounts after overwriting ten keys');
      for (const { key } of stored.slice(0, 10)) await service.update(key, undefined);
      equal(nonZero(await service.keyCounts()), expectedCounts(stored.slice(10), Q), 'keyCounts after removing ten keys');
    },
  },
  {
    name: 'leafItems lists the (key, digest) items of the leaves asked, sorted by key across them, each key in exactly one leaf',
    async run(fixture) {
      const stored = sampleKeys(60);
      const service = await fixture.open(Q);
      await updateAll(service, stored);
      const { fanout, depth } = service.shape();
      const leaves = range(fanout ** depth);
      for (const p of range(Q)) {
        const inPartition = stored.filter(({ key }) => partitionOf(key, Q) === p);
        const all = await service.leafItems(p, leaves);
        equal(
          all,
          inPartition.map(({ key, versions: v }) => ({ key, digest: versionDigest(v) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
          `items of every leaf of partition ${p}`,
        );
        // Leaf by leaf, every key turns up exactly once; two leaves asked at once come back merged in key order.
        const seen: string[] = [];
        for (const leaf of leaves) for (const item of await service.leafItems(p, [leaf])) seen.push(item.key);
        equal(seen.sort(), all.map((i) => i.key), `keys of partition ${p} over its leaves one by one`);
        if (inPartition.length >= 2) {
          const tree = new PartitionTree({ partitionBits: Math.log2(Q) });
          const two = [...new Set(inPartition.map(({ key }) => tree.leafOf(key)))].slice(0, 2).reverse();
          const items = await service.leafItems(p, two);
          equal(
            items.map((i) => i.key),
            items.map((i) => i.key).sort(),
            `leafItems(${p}, [${two.join(', ')}]) in key order`,
          );
        }
      }
    },
  },
  {
    name: 'roots of many partitions come in the order asked, repeats included, each equal to the level-0 hash',
    async run(fixture) {
      const stored = sampleKeys();
      const service = await fixture.open(Q);
      await updateAll(service, stored);
      const asked = [5, 0, 15, 5, 3];
      const roots = await service.roots(asked);
      equal(roots.length, asked.length, 'number of roots');
      for (const [i, p] of asked.entries()) equal(roots[i], (await service.hashes(p, 0, [0]))[0], `root of partition ${p} (position ${i})`);
      equal(await service.roots([]), [], 'roots of no partition');
    },
  },
  {
    name: 'an update is seen by every query made after it, even before its promise settled, and updates of a key apply in call order',
    async run(fixture) {
      const stored = sampleKeys(20);
      const service = await fixture.open(Q);
      const pending: Promise<void>[] = [];
      for (const { key } of stored) pending.push(service.update(key, versions('n3', 1)));
      for (const { key } of stored.slice(0, 5)) pending.push(service.update(key, undefined));
      for (const { key, versions: v } of stored) pending.push(service.update(key, v));
      // Asked before any update settled.
      const roots = service.roots(range(Q));
      const counts = service.keyCounts();
      const reference = referenceTrees(stored, Q);
      equal(await roots, range(Q).map((p) => reference.get(p)?.root() ?? new Uint8Array(16)), 'roots asked right after the updates');
      equal(nonZero(await counts), expectedCounts(stored, Q), 'keyCounts asked right after the updates');
      await Promise.all(pending);
    },
  },
  {
    name: 'a service built over a store holding keys equals one told of them, and keeps taking updates',
    async run(fixture) {
      const stored = sampleKeys();
      const built = await fixture.open(Q, stored);
      await expectReference(built, stored, Q, 'built from the store');
      const told = await fixture.open(Q);
      await updateAll(told, stored);
      const later = [
        { key: 'key:3', versions: versions('n2', 300) },
        { key: 'late', versions: versions('n1', 301) },
      ];
      await updateAll(built, later);
      await updateAll(told, later);
      await built.update('key:4', undefined);
      await told.update('key:4', undefined);
      equal(await snapshot(built, Q), await snapshot(told, Q), 'built and told, after more updates');
    },
  },
  {
    name: 'tombstones lists the tombstone-only keys deleted before the time asked, built or told, up to the limit, and follows updates',
    async run(fixture) {
      const stored = sampleKeys();
      const expected = (before: number): string[] =>
        stored.filter(({ versions: v }) => v.siblings.every((s) => s.data === null) && Math.max(...v.siblings.map((s) => s.dot.timestampMs)) < before).map(({ key }) => key).sort();
      const sorted = (keys: string[]): string[] => [...keys].sort();
      const cut = 1_700_000_000_000 + 20;
      const built = await fixture.open(Q, stored);
      const told = await fixture.open(Q);
      await updateAll(told, stored);
      check(expected(cut).length > 0 && expected(cut).length < expected(Infinity).length, 'the sample has tombstones on both sides of the cut');
      for (const [service, what] of [[built, 'built'], [told, 'told']] as const) {
        equal(sorted(await service.tombstones(cut, 1000)), expected(cut), `${what}: tombstones before the cut`);
        equal(sorted(await service.tombstones(Infinity, 1000)), expected(Infinity), `${what}: every tombstone`);
        equal((await service.tombstones(Infinity, 2)).length, 2, `${what}: at most the limit`);
      }
      // A value written over a tombstone, a new delete, and a removal are followed.
      const [first, second] = expected(Infinity);
      await told.update(first!, versions('n3', 500));
      await told.update('gone-now', versions('n3', 1, null));
      await told.update(second!, undefined);
      equal(sorted(await told.tombstones(Infinity, 1000)), sorted([...expected(Infinity).filter((k) => k !== first && k !== second), 'gone-now']), 'after updates');
    },
  },
];

/** Runs one case with a fixture, closing the fixture afterwards whatever happens. */
export async function runMerkleContractCase(contractCase: MerkleContractCase, fixture: MerkleServiceFixture): Promise<void> {
  try {
    await contractCase.run(fixture);
  } finally {
    await fixture.close();
  }
}
