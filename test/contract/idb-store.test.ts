import 'fake-indexeddb/auto';
import { forceCloseDatabase } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StorageError, StorageQuotaError } from '../../src/core/errors';
import type { Hint, VersionSet } from '../../src/core/types';
import { IDB_SCHEMA_VERSION } from '../../src/storage/idb-schema';
import { IdbStore } from '../../src/storage/idb-store';
import { runStoreContract } from './store-contract';

let databaseCount = 0;
/** A database name no other test uses. */
function freshName(): string {
  databaseCount += 1;
  return `idb-store-test-${databaseCount}`;
}

runStoreContract('IdbStore (fake-indexeddb)', async () => {
  const name = freshName();
  return {
    store: await IdbStore.open(name),
    reopen: () => IdbStore.open(name),
    cleanup: () => IdbStore.destroy(name),
  };
});

function versionSet(byte: number): VersionSet {
  return {
    clock: [{ node: 'a', counter: byte, timestampMs: 0 }],
    siblings: [{ dot: { node: 'a', counter: byte, timestampMs: 0 }, data: Uint8Array.of(byte) }],
  };
}

function hint(intendedFor: string, key: string, byte: number): Hint {
  return { intendedFor, key, versions: versionSet(byte), createdAtMs: 1_000 };
}

/** Resolves with the result of `request`, rejects with its error. */
function requested<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** The settled outcome of `promise`: its rejection, or `undefined` when it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** Opens a raw connection (no `idb`, no versionchange handler), running `upgrade` when needed. */
function openRaw(name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = () => upgrade?.(request.result);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Makes the next `IDBObjectStore.put` succeed as a request and then have its transaction aborted with
 * a `DOMException` named `errorName`, rolling the put back. That is what a browser does when the commit
 * would exceed the origin's quota: the request looked fine, the transaction fires `abort` with
 * `error.name === 'QuotaExceededError'`. fake-indexeddb exposes no public way to fail a commit, so this
 * calls its internal "abort the transaction with this error" step (`_abort`), which the spec describes.
 */
function abortNextPutWith(errorName: string): void {
  const originalPut = IDBObjectStore.prototype.put;
  vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementationOnce(function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
    const request = originalPut.call(this, value, key);
    const transaction = this.transaction as IDBTransaction & { _abort(name: string): void };
    request.addEventListener('success', () => transaction._abort(errorName));
    return request;
  });
}

describe('IdbStore', () => {
  const opened: IdbStore[] = [];
  const names: string[] = [];

  /** Opens a store on a fresh database, closed and deleted after the test. */
  async function openFresh(options?: Parameters<typeof IdbStore.open>[1]): Promise<IdbStore> {
    const name = freshName();
    names.push(name);
    const store = await IdbStore.open(name, options);
    opened.push(store);
    return store;
  }

  afterEach(async () => {
    vi.restoreAllMocks();
    for (const store of opened.splice(0)) await store.close();
    for (const name of names.splice(0)) await IdbStore.destroy(name);
  });

  it('is of kind "indexeddb" and creates schema version 2 with the objects, meta and hints stores', async () => {
    const store = await openFresh();
    expect(store.kind).toBe('indexeddb');
    expect(IDB_SCHEMA_VERSION).toBe(2);
    await store.close();

    const raw = await openRaw(store.name);
    expect(raw.version).toBe(2);
    expect([...raw.objectStoreNames]).toEqual(['hints', 'meta', 'objects']);
    const hints = raw.transaction('hints').objectStore('hints');
    expect(hints.keyPath).toEqual(['intendedFor', 'key']);
    expect([...hints.indexNames]).toEqual(['byKey']);
    expect(hints.index('byKey').keyPath).toBe('key');
    expect(hints.index('byKey').unique).toBe(false);
    raw.close();
  });

  describe('upgrading from schema version 1', () => {
    /** Creates `name` as version 1 of this code did (objects and meta, out-of-line keys), with one of each. */
    async function createVersion1(name: string): Promise<void> {
      const raw = await openRaw(name, 1, (db) => {
        db.createObjectStore('objects');
        db.createObjectStore('meta');
      });
      const tx = raw.transaction(['objects', 'meta'], 'readwrite');
      tx.objectStore('objects').put(versionSet(7), 'k');
      tx.objectStore('meta').put({ id: 'n1', epoch: 3 }, 'node');
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onabort = () => reject(tx.error);
      });
      raw.close();
    }

    it('keeps the objects and meta of a version 1 database and adds a working hints store', async () => {
      const name = freshName();
      names.push(name);
      await createVersion1(name);

      const store = await IdbStore.open(name);
      opened.push(store);
      expect(await store.getObject('k')).toEqual(versionSet(7));
      expect(await store.listKeys()).toEqual(['k']);
      expect(await store.getMeta('node')).toEqual({ id: 'n1', epoch: 3 });
      expect(await store.countHints()).toBe(0);

      await store.putHint(hint('n2', 'k', 8));
      expect(await store.getHint('n2', 'k')).toEqual(hint('n2', 'k', 8));
      expect(await store.hintsForKey('k')).toEqual([hint('n2', 'k', 8)]);
      expect(await store.getObject('k')).toEqual(versionSet(7));
      await store.close();

      const raw = await openRaw(name);
      expect(raw.version).toBe(2);
      expect([...raw.objectStoreNames]).toEqual(['hints', 'meta', 'objects']);
      expect(await requested(raw.transaction('objects').objectStore('objects').count())).toBe(1);
      raw.close();
    });

    it('rejects with StorageError when a version 1 connection blocks the upgrade, and upgrades once it closed', async () => {
      const name = freshName();
      names.push(name);
      await createVersion1(name);
      const stubborn = await openRaw(name); // an old tab without a versionchange handler

      const error = await rejectionOf(IdbStore.open(name));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).message).toMatch(/keeps version 1 open .*upgrade to version 2/);

      stubborn.close();
      const store = await IdbStore.open(name); // queued behind the abandoned open, which closes itself
      opened.push(store);
      expect(await store.getObject('k')).toEqual(versionSet(7));
      await store.putHint(hint('n2', 'k', 8));
      expect(await store.countHints()).toBe(1);
    });
  });

  it('asks for strict durability on writes by default, and for the configured one otherwise', async () => {
    const transaction = vi.spyOn(IDBDatabase.prototype, 'transaction');
    const strict = await openFresh();
    await strict.putObject('k', versionSet(1));
    await strict.deleteObject('k');
    await strict.putMeta('m', 1);
    await strict.putHint(hint('n1', 'k', 1));
    await strict.deleteHint('n1', 'k');
    const relaxed = await openFresh({ durability: 'relaxed' });
    await relaxed.putObject('k', versionSet(1));
    await relaxed.putHint(hint('n1', 'k', 1));

    const writes = transaction.mock.calls.filter(([, mode]) => mode === 'readwrite');
    expect(writes.map(([, , options]) => options?.durability)).toEqual(['strict', 'strict', 'strict', 'strict', 'strict', 'relaxed', 'relaxed']);
    expect(strict.durability).toBe('strict');
  });

  describe('group commit of putObject', () => {
    it('a lone write runs at once; writes arriving while it commits share the next transaction', async () => {
      const store = await openFresh();
      const transaction = vi.spyOn(IDBDatabase.prototype, 'transaction');
      await store.putObject('alone', versionSet(1));
      expect(store.groupCommits).toBe(1);
      const writes = Array.from({ length: 20 }, (_, i) => store.putObject(`k${i}`, versionSet(i + 1)));
      await Promise.all(writes);
      // The first of the 20 starts a transaction by itself; the 19 that arrive meanwhile form one more.
      expect(store.groupCommits).toBe(3);
      expect(transaction.mock.calls.filter(([, mode]) => mode === 'readwrite')).toHaveLength(3);
      for (let i = 0; i < 20; i++) expect((await store.getObject(`k${i}`))?.clock[0]?.counter).toBe(i + 1);
    });

    it('a write that cannot be stored fails alone: the others of its shared transaction land', async () => {
      const store = await openFresh();
      const first = store.putObject('first', versionSet(1));
      const unclonable = { ...versionSet(2), extra: () => undefined } as unknown as VersionSet;
      const results = await Promise.allSettled([store.putObject('a', versionSet(3)), store.putObject('bad', unclonable), store.putObject('b', versionSet(4))]);
      await first;
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
      expect(await store.getObject('bad')).toBeUndefined();
      expect((await store.getObject('a'))?.clock[0]?.counter).toBe(3);
      expect((await store.getObject('b'))?.clock[0]?.counter).toBe(4);
    });

    it('concurrent writes of one key land in call order within a shared transaction', async () => {
      const store = await openFresh();
      const first = store.putObject('other', versionSet(1));
      await Promise.all([store.putObject('k', versionSet(2)), store.putObject('k', versionSet(3)), first]);
      expect((await store.getObject('k'))?.clock[0]?.counter).toBe(3);
    });
  });

  describe('quota and aborted transactions', () => {
    it('surfaces a QuotaExceededError at commit as StorageQuotaError and keeps the previous value', async () => {
      const store = await openFresh();
      await store.putObject('k', versionSet(1));

      abortNextPutWith('QuotaExceededError');
      const error = await rejectionOf(store.putObject('k', versionSet(2)));

      expect(error).toBeInstanceOf(StorageQuotaError);
      expect((error as Error).name).toBe('StorageQuotaError');
      expect((error as Error).message).toMatch(/putObject .*refused to store more data/);
      expect(((error as Error).cause as DOMException).name).toBe('QuotaExceededError');
      expect(await store.getObject('k')).toEqual(versionSet(1));

      // The store stays usable once space is free again.
      await store.putObject('k', versionSet(3));
      expect(await store.getObject('k')).toEqual(versionSet(3));
    });

    it('surfaces a quota failure of a meta write too, storing nothing', async () => {
      const store = await openFresh();
      abortNextPutWith('QuotaExceededError');
      const error = await rejectionOf(store.putMeta('m', { big: true }));
      expect((error as Error).name).toBe('StorageQuotaError');
      expect(await store.getMeta('m')).toBeUndefined();
    });

    it('surfaces a quota failure of a hint write as StorageQuotaError and keeps the previous hint', async () => {
      const store = await openFresh();
      await store.putHint(hint('n1', 'k', 1));
      abortNextPutWith('QuotaExceededError');
      const error = await rejectionOf(store.putHint(hint('n1', 'k', 2)));
      expect(error).toBeInstanceOf(StorageQuotaError);
      expect((error as Error).message).toMatch(/putHint .*refused to store more data/);
      expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', 1));
      expect(await store.countHints()).toBe(1);
    });

    it('surfaces an aborted hint write as StorageError (not quota), storing nothing', async () => {
      const store = await openFresh();
      abortNextPutWith('UnknownError');
      const error = await rejectionOf(store.putHint(hint('n1', 'k', 1)));
      expect(error).toBeInstanceOf(StorageError);
      expect(error).not.toBeInstanceOf(StorageQuotaError);
      expect((error as Error).message).toMatch(/putHint on IndexedDB database ".*" failed/);
      expect(await store.countHints()).toBe(0);
    });

    it('refuses a hint whose key is not a valid IndexedDB key with StorageError (DataError as cause)', async () => {
      const store = await openFresh();
      const error = await rejectionOf(store.putHint({ ...hint('n1', 'k', 1), key: undefined } as unknown as Hint));
      expect(error).toBeInstanceOf(StorageError);
      expect(((error as Error).cause as DOMException).name).toBe('DataError');
      expect(await store.countHints()).toBe(0);
    });

    it('surfaces any other abort as StorageError (not quota) with the original error as cause', async () => {
      const store = await openFresh();
      await store.putObject('k', versionSet(1));
      abortNextPutWith('UnknownError');
      const error = await rejectionOf(store.putObject('k', versionSet(2)));
      expect(error).toBeInstanceOf(StorageError);
      expect(error).not.toBeInstanceOf(StorageQuotaError);
      expect((error as Error).name).toBe('StorageError');
      expect((error as Error).message).toMatch(/putObject on IndexedDB database ".*" failed: the browser could not read or write/);
      expect(((error as Error).cause as DOMException).name).toBe('UnknownError');
      expect(await store.getObject('k')).toEqual(versionSet(1));
    });
  });

  describe('opening', () => {
    it('refuses a database that a newer version of the code created, with StorageError (VersionError as cause)', async () => {
      const name = freshName();
      names.push(name);
      const raw = await openRaw(name, IDB_SCHEMA_VERSION + 5, (db) => db.createObjectStore('objects'));
      raw.close();

      const error = await rejectionOf(IdbStore.open(name));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).name).toBe('StorageError');
      expect((error as Error).message).toMatch(/newer schema version/);
      expect(((error as Error).cause as DOMException).name).toBe('VersionError');
    });
  });

  describe('other connections', () => {
    it('closes itself when another connection upgrades the database, then rejects calls with StorageError', async () => {
      const onForcedClose = vi.fn();
      const store = await openFresh({ onForcedClose });
      await store.putObject('k', versionSet(1));

      // A newer tab opening the next version must not be blocked by this one.
      const newer = await openRaw(store.name, IDB_SCHEMA_VERSION + 1, (db) => db.createObjectStore('future'));
      expect(newer.version).toBe(IDB_SCHEMA_VERSION + 1);
      newer.close();

      expect(onForcedClose).toHaveBeenCalledTimes(1);
      expect((onForcedClose.mock.calls[0]?.[0] as Error).name).toBe('StorageError');
      const error = await rejectionOf(store.getObject('k'));
      expect((error as Error).name).toBe('StorageError');
      expect((error as Error).message).toContain(`upgrading the database to version ${IDB_SCHEMA_VERSION + 1}`);
      await expect(store.close()).resolves.toBeUndefined();
    });

    it('closes itself when the browser terminates the connection', async () => {
      const open = vi.spyOn(indexedDB, 'open');
      const onForcedClose = vi.fn();
      const store = await openFresh({ onForcedClose });
      const raw = open.mock.results[0]?.value as IDBOpenDBRequest;

      // What DevTools "clear site data" does to an open connection. fake-indexeddb's typings declare
      // the parameter as the database class, but the function takes a connection (see its README).
      forceCloseDatabase(raw.result as unknown as Parameters<typeof forceCloseDatabase>[0]);
      await vi.waitFor(() => expect(onForcedClose).toHaveBeenCalledTimes(1));

      const error = await rejectionOf(store.putObject('k', versionSet(1)));
      expect((error as Error).name).toBe('StorageError');
      expect((error as Error).message).toMatch(/browser closed the database connection/);
    });

    it('destroy deletes the database even while a store has it open', async () => {
      const onForcedClose = vi.fn();
      const store = await openFresh({ onForcedClose });
      await store.putObject('k', versionSet(1));
      await store.putMeta('m', 1);

      await IdbStore.destroy(store.name);

      expect(onForcedClose).toHaveBeenCalledTimes(1);
      expect((await rejectionOf(store.listKeys()) as Error).message).toMatch(/deleting the database/);
      const again = await IdbStore.open(store.name);
      opened.push(again);
      expect(await again.countObjects()).toBe(0);
      expect(await again.getMeta('m')).toBeUndefined();
    });

    it('destroy rejects with StorageError when a connection ignores it, and deletes once that one closes', async () => {
      const store = await openFresh();
      await store.putObject('k', versionSet(1));
      await store.close();
      const stubborn = await openRaw(store.name); // no versionchange handler: never closes by itself

      const error = await rejectionOf(IdbStore.destroy(store.name));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).message).toMatch(/another connection keeps it open/);

      stubborn.close();
      const again = await IdbStore.open(store.name); // queued behind the pending deletion
      opened.push(again);
      expect(await again.countObjects()).toBe(0);
    });

    it('destroy of a database that does not exist resolves', async () => {
      await expect(IdbStore.destroy(freshName())).resolves.toBeUndefined();
    });
  });
});
