/**
 * The acceptance suite every `Store` implementation must pass (STYLE.md habit 4; the idea of
 * automerge-repo's `runStorageAdapterTests`). Each implementation's test file calls
 * `runStoreContract` once with a factory; every test gets a fresh, empty store from it.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/core/errors';
import type { Store } from '../../src/core/ports.js';
import type { Hint, NodeId, VersionSet } from '../../src/core/types';

/** What the factory hands to each test. */
export interface StoreFixture {
  /** A fresh, empty, open store. */
  store: Store;
  /** Opens the same storage again (after `store.close()`); omit when the store cannot be reopened. */
  reopen?: () => Promise<Store>;
  /** Releases whatever the factory made (e.g. deletes the database); runs after every test. */
  cleanup?: () => Promise<void>;
}

/** A version set with one sibling written by `node` (counter 1), holding `data`. */
function versionSet(data: Uint8Array | null, node = 'a', timestampMs = 1_000): VersionSet {
  return {
    clock: [{ node, counter: 1, timestampMs }],
    siblings: [{ dot: { node, counter: 1, timestampMs }, data }],
  };
}

/** A hint for (`intendedFor`, `key`) holding one sibling with `data`. */
function hint(intendedFor: NodeId, key: string, data: Uint8Array | null = bytes(1), createdAtMs = 5_000): Hint {
  return { intendedFor, key, versions: versionSet(data, 'f', createdAtMs), createdAtMs };
}

/** The (intendedFor, key) pairs of `hints`, in order, for compact ordering assertions. */
function pairs(hints: Hint[]): Array<[NodeId, string]> {
  return hints.map((each) => [each.intendedFor, each.key]);
}

/** The settled outcome of `promise`: its rejection, or `undefined` when it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** Same length and same bytes (a plain loop: deep-equality matchers are slow on 1 MiB arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/** The bytes of the first sibling, asserting that they are a `Uint8Array`. */
function firstData(versions: VersionSet | undefined): Uint8Array {
  const data = versions?.siblings[0]?.data;
  expect(data).toBeInstanceOf(Uint8Array);
  return data as Uint8Array;
}

/**
 * Registers the `Store` contract tests for one implementation.
 *
 * @param name shown in the test names, e.g. `"MemoryStore"`.
 * @param open makes a fresh, empty store for one test, with optional `reopen` and `cleanup`.
 */
export function runStoreContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;
    /** Every store a test opened, so that each is closed even when the test fails. */
    let opened: Store[];

    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
      opened = [store];
    });

    afterEach(async () => {
      for (const each of opened) await each.close();
      await fixture.cleanup?.();
    });

    async function reopen(): Promise<Store> {
      if (fixture.reopen === undefined) throw new Error('this fixture cannot reopen its store');
      const again = await fixture.reopen();
      opened.push(again);
      return again;
    }

    describe('objects', () => {
      it('returns undefined for a key never stored', async () => {
        expect(await store.getObject('missing')).toBeUndefined();
      });

      it('returns what was put, with Uint8Array data as Uint8Array', async () => {
        const versions = versionSet(bytes(1, 2, 3, 255));
        await store.putObject('k', versions);
        const got = await store.getObject('k');
        expect(got).toEqual(versions);
        expect(sameBytes(firstData(got), bytes(1, 2, 3, 255))).toBe(true);
      });

      it('keeps a tombstone (null data)', async () => {
        await store.putObject('gone', versionSet(null));
        const got = await store.getObject('gone');
        expect(got).toEqual(versionSet(null));
        expect(got?.siblings[0]?.data).toBeNull();
      });

      it('keeps several siblings and clock entries in their order', async () => {
        const versions: VersionSet = {
          clock: [
            { node: 'a', counter: 3, timestampMs: 10 },
            { node: 'b', counter: 1, timestampMs: 20 },
          ],
          siblings: [
            { dot: { node: 'a', counter: 3, timestampMs: 10 }, data: bytes(0xa3) },
            { dot: { node: 'b', counter: 1, timestampMs: 20 }, data: null },
          ],
        };
        await store.putObject('k', versions);
        expect(await store.getObject('k')).toEqual(versions);
      });

      it('round-trips a 1 MiB value', async () => {
        const big = new Uint8Array(1024 * 1024);
        for (let i = 0; i < big.length; i += 1) big[i] = (i * 31 + 7) & 0xff;
        await store.putObject('big', versionSet(big));
        const got = firstData(await store.getObject('big'));
        expect(got.byteLength).toBe(1024 * 1024);
        expect(sameBytes(got, big)).toBe(true);
      });

      it('stores only the viewed bytes of a Uint8Array that views part of a larger buffer', async () => {
        const buffer = new Uint8Array(4096).fill(9);
        buffer.set([1, 2, 3], 100);
        await store.putObject('view', versionSet(buffer.subarray(100, 103)));
        const got = firstData(await store.getObject('view'));
        expect(sameBytes(got, bytes(1, 2, 3))).toBe(true);
        expect(got.byteOffset).toBe(0);
        expect(got.buffer.byteLength).toBe(3);
      });

      it('replaces the previous version set on overwrite', async () => {
        await store.putObject('k', versionSet(bytes(1), 'a'));
        await store.putObject('k', versionSet(bytes(2), 'b'));
        expect(await store.getObject('k')).toEqual(versionSet(bytes(2), 'b'));
        expect(await store.countObjects()).toBe(1);
      });

      it('deletes a key, and resolves when deleting a key that is absent', async () => {
        await store.putObject('k', versionSet(bytes(1)));
        await store.putObject('other', versionSet(bytes(2)));
        await store.deleteObject('k');
        await store.deleteObject('never-there');
        expect(await store.getObject('k')).toBeUndefined();
        expect(await store.listKeys()).toEqual(['other']);
        expect(await store.countObjects()).toBe(1);
      });

      it('lists keys in ascending code-unit order and counts them', async () => {
        expect(await store.listKeys()).toEqual([]);
        expect(await store.countObjects()).toBe(0);
        // '\u{1F600}' starts with the surrogate 0xD83D, so it sorts before '\uFFFD' by code unit
        // (but after it by code point): IndexedDB compares code units.
        const keys = ['b', 'a', 'B', '10', '9', 'ä', '\uFFFD', '\u{1F600}', 'a/b', 'a-b', ' '];
        for (const key of keys) await store.putObject(key, versionSet(bytes(key.length)));
        const expected = [' ', '10', '9', 'B', 'a', 'a-b', 'a/b', 'b', 'ä', '\u{1F600}', '\uFFFD'];
        expect(await store.listKeys()).toEqual(expected);
        expect(await store.countObjects()).toBe(keys.length);
      });

      it('accepts unicode keys and keys of 1 KiB', async () => {
        const keys = ['\u{1F600}-emoji', '日本語のキー', 'é'.repeat(512), 'k'.repeat(1024), '\u0000nul'];
        expect(new TextEncoder().encode(keys[2]).byteLength).toBe(1024);
        for (const [i, key] of keys.entries()) await store.putObject(key, versionSet(bytes(i)));
        for (const [i, key] of keys.entries()) expect(await store.getObject(key)).toEqual(versionSet(bytes(i)));
        expect(await store.countObjects()).toBe(keys.length);
      });

      it('does not alias the caller objects: mutating after put or after get changes nothing stored', async () => {
        const versions = versionSet(bytes(1, 2, 3));
        await store.putObject('k', versions);
        firstData(versions)[0] = 99;
        versions.siblings.push({ dot: { node: 'z', counter: 9, timestampMs: 9 }, data: null });
        versions.clock[0]!.counter = 42;

        const got = await store.getObject('k');
        expect(got).toEqual(versionSet(bytes(1, 2, 3)));
        firstData(got)[1] = 77;
        got!.siblings.length = 0;

        expect(await store.getObject('k')).toEqual(versionSet(bytes(1, 2, 3)));
      });

      it('lands every one of many concurrent puts to different keys', async () => {
        const keys = Array.from({ length: 50 }, (_, i) => `key-${String(i).padStart(2, '0')}`);
        await Promise.all(keys.map((key, i) => store.putObject(key, versionSet(bytes(i)))));
        expect(await store.listKeys()).toEqual(keys);
        const got = await Promise.all(keys.map((key) => store.getObject(key)));
        got.forEach((versions, i) => expect(versions).toEqual(versionSet(bytes(i))));
      });

      it('keeps the dots of a version set, also when its data needs compacting', async () => {
        const buffer = new Uint8Array(64);
        buffer.set([7, 8], 10);
        const versions: VersionSet = { ...versionSet(buffer.subarray(10, 12)), dots: [{ node: 'c', counter: 4, timestampMs: 30 }] };
        await store.putObject('k', versions);
        expect(await store.getObject('k')).toEqual({ ...versionSet(bytes(7, 8)), dots: [{ node: 'c', counter: 4, timestampMs: 30 }] });
      });

      it('reads many keys at once, in order, undefined where absent', async () => {
        await store.putObject('b', versionSet(bytes(2)));
        await store.putObject('d', versionSet(null));
        expect(await store.getObjects(['d', 'a', 'b', 'b'])).toEqual([versionSet(null), undefined, versionSet(bytes(2)), versionSet(bytes(2))]);
        expect(await store.getObjects([])).toEqual([]);
      });

      it('writes many keys at once: every one lands, replacing what was there, and survives a reopen', async () => {
        await store.putObject('k1', versionSet(bytes(9)));
        const entries = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, versions: versionSet(bytes(i)) }));
        await store.putObjects(entries);
        expect(await store.countObjects()).toBe(40);
        expect(await store.getObject('k1')).toEqual(versionSet(bytes(1)));
        await store.putObjects([]);
        if (fixture.reopen === undefined) return;
        await store.close();
        const again = await reopen();
        expect(await again.getObjects(entries.map((e) => e.key))).toEqual(entries.map((e) => e.versions));
      });

      it('updateObject reads the key, stores what the update makes of it, and tells before and after', async () => {
        await store.putObject('k', versionSet(bytes(1)));
        const seen: (VersionSet | undefined)[] = [];
        const result = await store.updateObject('k', (current) => {
          seen.push(current);
          return versionSet(bytes(2));
        });
        expect(seen).toEqual([versionSet(bytes(1))]);
        expect(result).toEqual({ before: versionSet(bytes(1)), after: versionSet(bytes(2)) });
        expect(await store.getObject('k')).toEqual(versionSet(bytes(2)));
        const created = await store.updateObject('new', (current) => (current === undefined ? versionSet(bytes(7)) : undefined));
        expect(created).toEqual({ before: undefined, after: versionSet(bytes(7)) });
        expect(await store.getObject('new')).toEqual(versionSet(bytes(7)));
      });

      it('updateObject stores nothing when the update returns undefined, or throws (rejecting with its error)', async () => {
        await store.putObject('k', versionSet(bytes(1)));
        expect(await store.updateObject('k', () => undefined)).toEqual({ before: versionSet(bytes(1)), after: versionSet(bytes(1)) });
        const refused = new RangeError('too large');
        const [failed, other] = await Promise.allSettled([
          store.updateObject('k', () => {
            throw refused;
          }),
          store.updateObject('other', () => versionSet(bytes(9))),
        ]);
        expect(failed).toEqual({ status: 'rejected', reason: refused });
        expect(other.status, 'a write sharing its transaction is not affected').toBe('fulfilled');
        expect(await store.getObject('k')).toEqual(versionSet(bytes(1)));
        expect(await store.getObject('other')).toEqual(versionSet(bytes(9)));
      });

      it('concurrent updateObject calls of one key each see the one before (no lost update)', async () => {
        const increment = (current: VersionSet | undefined): VersionSet => versionSet(bytes((current?.siblings[0]?.data?.[0] ?? 0) + 1));
        await Promise.all(Array.from({ length: 10 }, () => store.updateObject('counter', increment)));
        expect(firstData(await store.getObject('counter'))[0]).toBe(10);
      });

      it('keeps call order across putObject, updateObject, deleteObject and putObjects of one key', async () => {
        await Promise.all([
          store.putObject('x', versionSet(bytes(1))),
          store.putObject('k', versionSet(bytes(1))),
          store.deleteObject('k'),
          store.updateObject('k', (current) => (current === undefined ? versionSet(bytes(5)) : versionSet(bytes(6)))),
          store.putObjects([{ key: 'k', versions: versionSet(bytes(8)) }]),
          store.deleteObject('k'),
        ]);
        expect(await store.getObject('k')).toBeUndefined();
        await Promise.all([store.deleteObject('k'), store.updateObject('k', (current) => (current === undefined ? versionSet(bytes(5)) : versionSet(bytes(6))))]);
        expect(await store.getObject('k')).toEqual(versionSet(bytes(5)));
      });

      it('applies concurrent writes to one key in call order', async () => {
        await Promise.all([
          store.putObject('k', versionSet(bytes(1))),
          store.putObject('k', versionSet(bytes(2))),
          store.deleteObject('k'),
          store.putObject('k', versionSet(bytes(3))),
        ]);
        expect(await store.getObject('k')).toEqual(versionSet(bytes(3)));
      });
    });

    describe('meta', () => {
      it('returns undefined for a record never stored', async () => {
        expect(await store.getMeta('missing')).toBeUndefined();
      });

      it('returns what was put, and the latest value after an overwrite', async () => {
        const record = { nodeId: 'abc', epoch: 3, seeds: ['x', 'y'], token: bytes(7, 8), nested: { ok: true, none: null } };
        await store.putMeta('node', record);
        const got = await store.getMeta<typeof record>('node');
        expect(got).toEqual(record);
        expect(got?.token).toBeInstanceOf(Uint8Array);

        await store.putMeta('node', 5);
        expect(await store.getMeta<number>('node')).toBe(5);
      });

      it('does not alias the caller objects', async () => {
        const record = { list: [1, 2] };
        await store.putMeta('r', record);
        record.list.push(3);
        const got = await store.getMeta<{ list: number[] }>('r');
        got!.list.push(4);
        expect(await store.getMeta('r')).toEqual({ list: [1, 2] });
      });

      it('keeps meta records apart from objects', async () => {
        await store.putMeta('k', 'meta value');
        expect(await store.getObject('k')).toBeUndefined();
        expect(await store.listKeys()).toEqual([]);
        expect(await store.countObjects()).toBe(0);
      });

      it('refuses a value that is not structured-cloneable with StorageError, storing nothing', async () => {
        await store.putMeta('m', 'before');
        const error = await store.putMeta('m', { callback: () => 1 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(StorageError);
        expect((error as Error).name).toBe('StorageError');
        expect(await store.getMeta('m')).toBe('before');
      });
    });

    describe('hints', () => {
      it('returns undefined for a hint never stored, also when another node has one for the key', async () => {
        expect(await store.getHint('n1', 'k')).toBeUndefined();
        await store.putHint(hint('n1', 'k'));
        expect(await store.getHint('n2', 'k')).toBeUndefined();
        expect(await store.getHint('n1', 'other')).toBeUndefined();
      });

      it('returns what was put, with Uint8Array data as Uint8Array and tombstones as null', async () => {
        const held: Hint = {
          intendedFor: 'n1',
          key: 'k',
          versions: {
            clock: [
              { node: 'a', counter: 3, timestampMs: 10 },
              { node: 'b', counter: 1, timestampMs: 20 },
            ],
            siblings: [
              { dot: { node: 'a', counter: 3, timestampMs: 10 }, data: bytes(1, 2, 255) },
              { dot: { node: 'b', counter: 1, timestampMs: 20 }, data: null },
            ],
            dots: [{ node: 'c', counter: 5, timestampMs: 30 }],
          },
          createdAtMs: 1_234,
        };
        await store.putHint(held);
        const got = await store.getHint('n1', 'k');
        expect(got).toEqual(held);
        expect(sameBytes(firstData(got?.versions), bytes(1, 2, 255))).toBe(true);
        expect(got?.versions.siblings[1]?.data).toBeNull();

        await store.putHint(hint('n1', 'gone', null));
        expect(await store.getHint('n1', 'gone')).toEqual(hint('n1', 'gone', null));
      });

      it('stores only the viewed bytes of a Uint8Array that views part of a larger buffer', async () => {
        const buffer = new Uint8Array(4096).fill(9);
        buffer.set([1, 2, 3], 200);
        await store.putHint(hint('n1', 'view', buffer.subarray(200, 203)));
        const got = firstData((await store.getHint('n1', 'view'))?.versions);
        expect(sameBytes(got, bytes(1, 2, 3))).toBe(true);
        expect(got.byteOffset).toBe(0);
        expect(got.buffer.byteLength).toBe(3);
      });

      it('replaces the hint for the same intended node and key', async () => {
        await store.putHint(hint('n1', 'k', bytes(1), 100));
        await store.putHint(hint('n1', 'k', bytes(2), 200));
        expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', bytes(2), 200));
        expect(await store.countHints()).toBe(1);
      });

      it('deletes one hint, leaving the others, and resolves when deleting a hint that is absent', async () => {
        await store.putHint(hint('n1', 'k'));
        await store.putHint(hint('n2', 'k'));
        await store.putHint(hint('n1', 'j'));
        await store.deleteHint('n1', 'k');
        await store.deleteHint('n1', 'k');
        await store.deleteHint('n9', 'never-there');
        expect(await store.getHint('n1', 'k')).toBeUndefined();
        expect(pairs(await store.listHints())).toEqual([
          ['n1', 'j'],
          ['n2', 'k'],
        ]);
        expect(await store.countHints()).toBe(2);
      });

      it('lists every hint ordered by intended node, then key, in code-unit order', async () => {
        expect(await store.listHints()).toEqual([]);
        // 'n10' sorts between 'n1' and 'n2'; keys as in the objects ordering test.
        const stored: Array<[NodeId, string]> = [
          ['n2', 'a'],
          ['n10', 'b'],
          ['n1', '\uFFFD'],
          ['n1', '\u{1F600}'],
          ['n1', 'ä'],
          ['n1', 'B'],
          ['n1', 'a'],
          ['n10', 'a'],
        ];
        for (const [target, key] of stored) await store.putHint(hint(target, key));
        expect(pairs(await store.listHints())).toEqual([
          ['n1', 'B'],
          ['n1', 'a'],
          ['n1', 'ä'],
          ['n1', '\u{1F600}'],
          ['n1', '\uFFFD'],
          ['n10', 'a'],
          ['n10', 'b'],
          ['n2', 'a'],
        ]);
        const all = await store.listHints();
        expect(all[0]).toEqual(hint('n1', 'B'));
      });

      it('lists the hints of one intended node only (not of a node whose id it prefixes)', async () => {
        for (const [target, key] of [
          ['n10', 'a'],
          ['n1', 'b'],
          ['n1', ''],
          ['n2', 'a'],
          ['n1', 'a'],
          ['n', 'z'],
        ] as Array<[NodeId, string]>) {
          await store.putHint(hint(target, key));
        }
        expect(pairs(await store.listHints('n1'))).toEqual([
          ['n1', ''],
          ['n1', 'a'],
          ['n1', 'b'],
        ]);
        expect(pairs(await store.listHints('n10'))).toEqual([['n10', 'a']]);
        expect(pairs(await store.listHints('n'))).toEqual([['n', 'z']]);
        expect(await store.listHints('nobody')).toEqual([]);
      });

      it('returns at most limit hints, the first ones in order', async () => {
        for (const [target, key] of [
          ['n2', 'a'],
          ['n1', 'c'],
          ['n1', 'a'],
          ['n1', 'b'],
        ] as Array<[NodeId, string]>) {
          await store.putHint(hint(target, key));
        }
        expect(pairs(await store.listHints(undefined, 2))).toEqual([
          ['n1', 'a'],
          ['n1', 'b'],
        ]);
        expect(pairs(await store.listHints('n1', 2))).toEqual([
          ['n1', 'a'],
          ['n1', 'b'],
        ]);
        expect(pairs(await store.listHints('n2', 2))).toEqual([['n2', 'a']]);
        expect(await store.listHints(undefined, 10)).toHaveLength(4);
        expect(await store.listHints(undefined, 0)).toEqual([]);
        expect(await store.listHints('n1', 0)).toEqual([]);
      });

      it('refuses a negative or fractional limit with RangeError (a programmer error)', async () => {
        await store.putHint(hint('n1', 'k'));
        expect(await rejectionOf(store.listHints(undefined, -1))).toBeInstanceOf(RangeError);
        expect(await rejectionOf(store.listHints('n1', 1.5))).toBeInstanceOf(RangeError);
        expect(await rejectionOf(store.listHints('n1', Number.NaN))).toBeInstanceOf(RangeError);
      });

      it('finds every hint for one key across intended nodes, ordered by intended node', async () => {
        await store.putHint(hint('n2', 'k', bytes(2)));
        await store.putHint(hint('n10', 'k', bytes(10)));
        await store.putHint(hint('n1', 'k', bytes(1)));
        await store.putHint(hint('n1', 'k2'));
        await store.putHint(hint('n3', 'j'));
        expect(await store.hintsForKey('k')).toEqual([hint('n1', 'k', bytes(1)), hint('n10', 'k', bytes(10)), hint('n2', 'k', bytes(2))]);
        expect(pairs(await store.hintsForKey('k2'))).toEqual([['n1', 'k2']]);
        expect(await store.hintsForKey('missing')).toEqual([]);
      });

      it('counts hints over every intended node', async () => {
        expect(await store.countHints()).toBe(0);
        await store.putHint(hint('n1', 'a'));
        await store.putHint(hint('n1', 'b'));
        await store.putHint(hint('n2', 'a'));
        await store.putHint(hint('n2', 'a', bytes(9)));
        expect(await store.countHints()).toBe(3);
        await store.deleteHint('n1', 'a');
        expect(await store.countHints()).toBe(2);
      });

      it('keeps hints apart from objects and meta with the same key', async () => {
        await store.putObject('k', versionSet(bytes(1)));
        await store.putMeta('k', 'meta');
        await store.putHint(hint('n1', 'k', bytes(2)));

        expect(await store.getObject('k')).toEqual(versionSet(bytes(1)));
        expect(await store.listKeys()).toEqual(['k']);
        expect(await store.countObjects()).toBe(1);

        await store.deleteObject('k');
        expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', bytes(2)));
        await store.putObject('k', versionSet(bytes(3)));
        await store.deleteHint('n1', 'k');
        expect(await store.getObject('k')).toEqual(versionSet(bytes(3)));
        expect(await store.getMeta('k')).toBe('meta');
        expect(await store.countHints()).toBe(0);
      });

      it('does not alias the caller objects: mutating after put or after get changes nothing stored', async () => {
        const held = hint('n1', 'k', bytes(1, 2, 3));
        await store.putHint(held);
        firstData(held.versions)[0] = 99;
        held.versions.clock[0]!.counter = 42;
        held.createdAtMs = 0;

        const got = await store.getHint('n1', 'k');
        expect(got).toEqual(hint('n1', 'k', bytes(1, 2, 3)));
        firstData(got?.versions)[1] = 77;
        got!.versions.siblings.length = 0;
        const listed = await store.listHints('n1');
        listed[0]!.createdAtMs = -1;
        const byKey = await store.hintsForKey('k');
        byKey[0]!.versions.clock.length = 0;

        expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', bytes(1, 2, 3)));
      });

      it('refuses a hint that is not structured-cloneable with StorageError, storing nothing', async () => {
        await store.putHint(hint('n1', 'k', bytes(1)));
        const bad = { ...hint('n1', 'k', bytes(2)), callback: () => 1 } as Hint;
        const error = await rejectionOf(store.putHint(bad));
        expect(error).toBeInstanceOf(StorageError);
        expect((error as Error).name).toBe('StorageError');
        expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', bytes(1)));
      });

      it('applies concurrent writes to one hint in call order', async () => {
        await Promise.all([
          store.putHint(hint('n1', 'k', bytes(1))),
          store.putHint(hint('n1', 'k', bytes(2))),
          store.deleteHint('n1', 'k'),
          store.putHint(hint('n1', 'k', bytes(3))),
        ]);
        expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', bytes(3)));
      });
    });

    describe('lifecycle', () => {
      it('keeps objects and meta across close and reopen', async (context) => {
        if (fixture.reopen === undefined) context.skip();
        await store.putObject('k', versionSet(bytes(4, 5)));
        await store.putObject('tomb', versionSet(null));
        await store.putMeta('node', { id: 'n1' });
        await store.close();

        const again = await reopen();
        expect(await again.getObject('k')).toEqual(versionSet(bytes(4, 5)));
        expect(await again.getObject('tomb')).toEqual(versionSet(null));
        expect(await again.getMeta('node')).toEqual({ id: 'n1' });
        expect(await again.listKeys()).toEqual(['k', 'tomb']);
      });

      it('keeps hints across close and reopen', async (context) => {
        if (fixture.reopen === undefined) context.skip();
        await store.putHint(hint('n2', 'k', bytes(2)));
        await store.putHint(hint('n1', 'k', null));
        await store.putHint(hint('n1', 'j', bytes(1)));
        await store.deleteHint('n1', 'j');
        await store.close();

        const again = await reopen();
        expect(await again.listHints()).toEqual([hint('n1', 'k', null), hint('n2', 'k', bytes(2))]);
        expect(await again.hintsForKey('k')).toHaveLength(2);
        expect(await again.countHints()).toBe(2);
        await again.putHint(hint('n3', 'x'));
        expect(await again.countHints()).toBe(3);
      });

      it('rejects every call after close with StorageError', async () => {
        await store.putObject('k', versionSet(bytes(1)));
        await store.close();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['getObject', () => store.getObject('k')],
          ['putObject', () => store.putObject('k', versionSet(bytes(2)))],
          ['deleteObject', () => store.deleteObject('k')],
          ['listKeys', () => store.listKeys()],
          ['countObjects', () => store.countObjects()],
          ['getMeta', () => store.getMeta('m')],
          ['putMeta', () => store.putMeta('m', 1)],
          ['getHint', () => store.getHint('n1', 'k')],
          ['putHint', () => store.putHint(hint('n1', 'k'))],
          ['deleteHint', () => store.deleteHint('n1', 'k')],
          ['listHints', () => store.listHints()],
          ['listHints (one node)', () => store.listHints('n1', 1)],
          ['hintsForKey', () => store.hintsForKey('k')],
          ['countHints', () => store.countHints()],
        ];
        for (const [method, call] of calls) {
          const error = await call().then(
            () => new Error(`${method} resolved after close`),
            (e: unknown) => e,
          );
          expect(error, method).toBeInstanceOf(StorageError);
          expect((error as Error).name, method).toBe('StorageError');
        }
      });

      it('resolves a second close', async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
