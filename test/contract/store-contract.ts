/**
 * The acceptance suite every `Store` implementation must pass (STYLE.md habit 4; the idea of
 * automerge-repo's `runStorageAdapterTests`). Each implementation's test file calls
 * `runStoreContract` once with a factory; every test gets a fresh, empty store from it.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/core/errors';
import type { Store, VersionSet } from '../../src/core/types';

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
