/**
 * IndexedDB implementation of the core's `Store` port (DESIGN.md §2 `src/storage/`), built on `idb`.
 * Each node owns one database, named by its node id (tabs of one origin share IndexedDB). Its schema
 * and upgrades are in `idb-schema.ts`.
 *
 * Durability (DESIGN.md §4: "an acknowledged write is on disk first"): every write runs in a
 * `readwrite` transaction opened with the configured durability (`'strict'` by default, which asks the
 * browser to flush to disk before reporting completion), and the returned promise resolves only after
 * the transaction's `complete` event (idb's `tx.done`). Concurrent `putObject` calls share
 * transactions (group commit: the writes that arrive while one commits form the next).
 *
 * Errors: whatever IndexedDB throws or reports is translated in one place, `toStorageError` in
 * `idb-errors.ts`: `QuotaExceededError` becomes `StorageQuotaError`, everything else `StorageError`
 * with the original error as `cause`.
 *
 * Other connections: when another connection (usually another tab running newer code, or
 * `IdbStore.destroy`) needs a version change, this store closes its connection at once so that the
 * other side is not blocked; from then on every call rejects with `StorageError` and
 * `options.onForcedClose` is told. The same happens when the browser closes the connection itself
 * (site data cleared, disk failure).
 */

import { deleteDB, openDB } from 'idb';
import type { IDBPObjectStore, StoreNames } from 'idb';
import { StorageError } from '../core/errors';
import type { Store } from '../core/ports.js';
import type { Hint, NodeId, VersionSet } from '../core/types';
import { withCompactData, withCompactHint } from './compact-data.js';
import { rejectWhenBlocked, toStorageError } from './idb-errors.js';
import { IDB_SCHEMA_VERSION, upgradeSchema, type Database, type StoreSchema } from './idb-schema.js';

/** A `putObject` or `updateObject` waiting for its transaction. */
interface PendingWrite {
  /** The keys it writes, each with its new version set from the current one: undefined leaves the key, null deletes it. */
  entries: { key: string; update: (current: VersionSet | undefined) => VersionSet | undefined | null }[];
  /** Whether the current version sets must be read first (`updateObject`). */
  reads: boolean;
  /** Told the first entry's state before and after. */
  resolve: (outcome: { before: VersionSet | undefined; after: VersionSet | undefined }) => void;
  reject: (error: unknown) => void;
}

/** Options of `IdbStore.open`. */
export interface IdbStoreOptions {
  /**
   * Durability asked of every write transaction. `'strict'` (the default) makes the browser flush to
   * disk before a write is reported complete, which is what lets a replica acknowledge it;
   * `'relaxed'` and `'default'` are faster but a power loss may drop acknowledged writes.
   */
  durability?: 'strict' | 'relaxed' | 'default';
  /**
   * Called once when the connection is closed other than by `close()`: another connection needed a
   * version change (a newer tab upgrading, or `IdbStore.destroy`), or the browser closed the database.
   * Receives the `StorageError` that later calls will reject with. The runtime should stop the node
   * and tell the user to reload.
   */
  onForcedClose?: (error: StorageError) => void;
}

/**
 * `Store` on one IndexedDB database. Create it with `IdbStore.open`.
 *
 * Errors: every method rejects with `StorageQuotaError` when the browser is out of space for a write,
 * and with `StorageError` for any other failure, after `close()`, and after a forced close (see
 * `IdbStoreOptions.onForcedClose`).
 */
export class IdbStore implements Store {
  /** Always `"indexeddb"`. */
  readonly kind = 'indexeddb';
  /** The IndexedDB database name. */
  readonly name: string;
  /** Durability asked of write transactions. */
  readonly durability: 'strict' | 'relaxed' | 'default';

  /** Transactions that committed `putObject`/`updateObject` writes (each may carry several: group commit). */
  groupCommits = 0;

  readonly #db: Database;
  /** `putObject` and `updateObject` writes waiting for the transaction in flight to finish. */
  #pendingWrites: PendingWrite[] = [];
  /** Whether a `putObject`/`updateObject` transaction is in flight. */
  #committing = false;
  /** Why this store no longer serves calls; `undefined` while open. */
  #closedReason: string | undefined;

  private constructor(db: Database, name: string, durability: 'strict' | 'relaxed' | 'default') {
    this.#db = db;
    this.name = name;
    this.durability = durability;
  }

  /**
   * Opens (creating or upgrading as needed) the database `name` at `IDB_SCHEMA_VERSION`.
   *
   * @param name database name; one per node (e.g. the node id).
   * @param options durability of writes (default `'strict'`) and the forced-close callback.
   * @throws StorageError when IndexedDB is unavailable, the database on disk has a newer version
   *   (`VersionError` as `cause`), the upgrade fails, or the upgrade is blocked by another connection
   *   that keeps an older version open (close the app's other tabs and retry). After a blocked open the
   *   request stays queued in the browser; if it completes later its connection is closed at once.
   * @throws StorageQuotaError when there is no space to create the database.
   */
  static async open(name: string, options: IdbStoreOptions = {}): Promise<IdbStore> {
    const durability = options.durability ?? 'strict';
    const { blocked, onBlocked } = rejectWhenBlocked();
    let store: IdbStore | undefined;
    let abandoned = false;

    const opening = openDB<StoreSchema>(name, IDB_SCHEMA_VERSION, {
      upgrade: upgradeSchema,
      blocked: (currentVersion) =>
        onBlocked(
          new StorageError(
            `open on IndexedDB database "${name}" failed: another connection keeps version ${currentVersion} open and did not ` +
              `close for the upgrade to version ${IDB_SCHEMA_VERSION}; close the app's other tabs and retry`,
          ),
        ),
      // The store exists by then: these events are dispatched in later tasks, after `open` resumed.
      blocking: (_currentVersion, blockedVersion) => {
        const reason =
          blockedVersion === null
            ? 'another connection is deleting the database, so this connection was closed; reopen the store'
            : `another connection is upgrading the database to version ${blockedVersion}, so this connection was closed; reload the page to run the newer code`;
        if (store !== undefined) store.#forceClose(reason, options.onForcedClose);
      },
      terminated: () => {
        const reason = 'the browser closed the database connection (site data cleared or a storage failure); reopen the store';
        if (store !== undefined) store.#forceClose(reason, options.onForcedClose);
      },
    });
    // A blocked open may still succeed later: do not leak that connection.
    opening.then(
      (db) => {
        if (abandoned) db.close();
      },
      () => undefined,
    );

    try {
      const db = await Promise.race([opening, blocked]);
      store = new IdbStore(db, name, durability);
      return store;
    } catch (error) {
      abandoned = true;
      throw toStorageError(error, 'open', name);
    }
  }

  /**
   * Deletes the database `name` with everything in it (tests, and a later "wipe this node" feature).
   * An open `IdbStore` on it closes itself first (see `onForcedClose`). Resolves when deleted, and also
   * when there was no such database.
   *
   * @throws StorageError when another connection keeps the database open and ignores the request; the
   *   deletion then stays queued in the browser and happens once that connection closes.
   */
  static async destroy(name: string): Promise<void> {
    const { blocked, onBlocked } = rejectWhenBlocked();
    const deleting = deleteDB(name, {
      blocked: () =>
        onBlocked(
          new StorageError(
            `destroy of IndexedDB database "${name}" is waiting: another connection keeps it open; ` +
              'it will be deleted once that connection closes (close the app\'s other tabs)',
          ),
        ),
    });
    deleting.catch(() => undefined);
    try {
      await Promise.race([deleting, blocked]);
    } catch (error) {
      throw toStorageError(error, 'destroy', name);
    }
  }

  /** The stored version set of `key`, or `undefined`. `Uint8Array` data comes back as `Uint8Array`. */
  async getObject(key: string): Promise<VersionSet | undefined> {
    return this.#run('getObject', (db) => db.get('objects', key));
  }

  /**
   * Replaces the version set of `key`. Resolves after its transaction completed with the configured
   * durability; on failure nothing is written.
   *
   * Group commit: a write that arrives while another `putObject` transaction is committing waits for
   * it and then joins every other waiting write in one transaction (one flush to disk for all of them).
   * A write with nothing in flight starts at once, so a lone write waits for nobody. When a shared
   * transaction fails, each of its writes is tried again alone, so only the write that cannot be
   * stored (say, the one too large for the quota) fails.
   *
   * @throws StorageQuotaError when the browser is out of space; StorageError otherwise.
   */
  putObject(key: string, versions: VersionSet): Promise<void> {
    const stored = withCompactData(versions);
    return this.#enqueue([{ key, update: () => stored }], false).then(() => undefined);
  }

  /**
   * Read-modify-write of `key` in one `readwrite` transaction (see the Store port). Joins the group
   * commit of `putObject`: writes waiting together share one transaction, which reads the keys of its
   * updates first, then applies each write in call order (an update sees the result of an earlier
   * write of the same key) and stores them. A shared transaction that fails is retried one write at a
   * time, so only the write that cannot be stored fails.
   *
   * @throws whatever `update` throws (that write only); StorageQuotaError; StorageError.
   */
  updateObject(key: string, update: (current: VersionSet | undefined) => VersionSet | undefined): Promise<{ before: VersionSet | undefined; after: VersionSet | undefined }> {
    return this.#enqueue([{ key, update }], true);
  }

  /** Queues a write for the next group commit; writes of objects keep their call order this way. */
  #enqueue(entries: PendingWrite['entries'], reads: boolean): Promise<{ before: VersionSet | undefined; after: VersionSet | undefined }> {
    return new Promise((resolve, reject) => {
      this.#pendingWrites.push({ entries, reads, resolve, reject });
      if (!this.#committing) void this.#commitWrites();
    });
  }

  /** Commits the waiting writes, a batch per transaction, until none wait (group commit). */
  async #commitWrites(): Promise<void> {
    this.#committing = true;
    try {
      while (this.#pendingWrites.length > 0) {
        const batch = this.#pendingWrites;
        this.#pendingWrites = [];
        this.groupCommits++;
        try {
          settle(batch, await this.#writeBatch(batch));
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          for (const w of batch) await this.#writeBatch([w]).then((outcomes) => settle([w], outcomes), w.reject);
        }
      }
    } finally {
      this.#committing = false;
    }
  }

  /**
   * One transaction for `batch`: reads the keys of its updates, applies every write in order, stores
   * the results. An update that throws is that write's outcome (`error`); the others go on.
   */
  #writeBatch(batch: readonly PendingWrite[]): Promise<WriteOutcome[]> {
    return this.#run('putObject', async (db) => {
      const tx = db.transaction('objects', 'readwrite', { durability: this.durability });
      return completeOrAbort(tx, async () => {
        const readKeys = [...new Set(batch.filter((w) => w.reads).flatMap((w) => w.entries.map((e) => e.key)))];
        const read = await allRequests(readKeys, (key) => tx.store.get(key));
        const current = new Map<string, VersionSet | undefined>(readKeys.map((key, i) => [key, read[i] as VersionSet | undefined]));
        const changed = new Map<string, VersionSet | null>();
        const outcomes = batch.map((w): WriteOutcome => {
          let first: WriteOutcome | undefined;
          const made: [string, VersionSet | undefined, VersionSet | null][] = [];
          try {
            for (const { key, update } of w.entries) {
              const before = current.get(key);
              const after = update(before);
              const stored = after === undefined || after === null ? after : withCompactData(after);
              if (stored !== undefined) made.push([key, before, stored]);
              first ??= { before, after: stored === undefined ? before : (stored ?? undefined) };
            }
          } catch (error) {
            return { error };
          }
          for (const [key, , stored] of made) {
            current.set(key, stored ?? undefined);
            changed.set(key, stored);
          }
          return first ?? { before: undefined, after: undefined };
        });
        // Only the last state of each key is stored (the batch's writes of one key apply in order).
        await allRequests([...changed], ([key, versions]) => (versions === null ? tx.store.delete(key) : tx.store.put(versions, key)));
        return outcomes;
      });
    });
  }

  /** The version sets of `keys`, in order (`undefined` where absent), from one readonly transaction. */
  async getObjects(keys: readonly string[]): Promise<(VersionSet | undefined)[]> {
    if (keys.length === 0) return [];
    return this.#run('getObjects', async (db) => {
      const tx = db.transaction('objects', 'readonly');
      const values = await Promise.all(keys.map((key) => tx.store.get(key)));
      await tx.done;
      return values;
    });
  }

  /**
   * Replaces the version sets of many keys in one transaction, all or none, and resolves after it
   * completed with the configured durability.
   * @throws StorageQuotaError when the browser is out of space; StorageError otherwise.
   */
  async putObjects(entries: readonly { key: string; versions: VersionSet }[]): Promise<void> {
    if (entries.length === 0) return;
    const stored = entries.map((e) => ({ key: e.key, versions: withCompactData(e.versions) }));
    await this.#enqueue(stored.map(({ key, versions }) => ({ key, update: () => versions })), false);
  }

  /** Removes `key` (resolves when absent too), after its transaction completed. */
  async deleteObject(key: string): Promise<void> {
    await this.#enqueue([{ key, update: () => null }], false);
  }

  /** Every stored key, ascending by UTF-16 code unit (IndexedDB's own key order). */
  async listKeys(): Promise<string[]> {
    return this.#run('listKeys', (db) => db.getAllKeys('objects'));
  }

  /** Number of stored keys. */
  async countObjects(): Promise<number> {
    return this.#run('countObjects', (db) => db.count('objects'));
  }

  /** The metadata record `name`, or `undefined`. */
  async getMeta<T = unknown>(name: string): Promise<T | undefined> {
    return this.#run('getMeta', async (db) => (await db.get('meta', name)) as T | undefined);
  }

  /**
   * Stores the metadata record `name` after its transaction completed.
   *
   * @throws StorageError when `value` is not structured-cloneable (nothing is stored);
   *   StorageQuotaError when the browser is out of space.
   */
  async putMeta(name: string, value: unknown): Promise<void> {
    await this.#write('putMeta', 'meta', (store) => store.put(value, name));
  }

  /** The hint for (`intendedFor`, `key`), or `undefined`. `Uint8Array` data comes back as `Uint8Array`. */
  async getHint(intendedFor: NodeId, key: string): Promise<Hint | undefined> {
    return this.#run('getHint', (db) => db.get('hints', [intendedFor, key]));
  }

  /**
   * Stores `hint`, replacing any hint for the same (`intendedFor`, `key`). Resolves after its
   * transaction completed with the configured durability; on failure nothing is written.
   *
   * @throws StorageQuotaError when the browser is out of space; StorageError otherwise (including a
   *   hint whose `intendedFor` or `key` is not a valid IndexedDB key, or that is not structured-cloneable).
   */
  async putHint(hint: Hint): Promise<void> {
    await this.#write('putHint', 'hints', (store) => store.put(withCompactHint(hint)));
  }

  /** Removes the hint for (`intendedFor`, `key`) (resolves when absent too), after its transaction completed. */
  async deleteHint(intendedFor: NodeId, key: string): Promise<void> {
    await this.#write('deleteHint', 'hints', (store) => store.delete([intendedFor, key]));
  }

  /**
   * Hints ordered by (`intendedFor`, `key`) in UTF-16 code-unit order (the store's key order): all of
   * them, or, through a key range on the compound key, only those for `intendedFor`; at most `limit`.
   *
   * @param intendedFor only hints meant for this node; every hint when omitted.
   * @param limit most hints returned, a non-negative integer; no limit when omitted.
   * @throws StorageError on a storage failure or after `close()`.
   * @throws RangeError when `limit` is not a non-negative integer (a programmer error).
   */
  async listHints(intendedFor?: NodeId, limit?: number): Promise<Hint[]> {
    return this.#run('listHints', async (db) => {
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
        throw new RangeError(`listHints: limit must be a non-negative integer, got ${limit}`);
      }
      // IndexedDB reads a count of 0 as "no limit".
      if (limit === 0) return [];
      const range = intendedFor === undefined ? null : IDBKeyRange.bound([intendedFor], [intendedFor, []], false, true);
      return db.getAll('hints', range, limit);
    });
  }

  /** Every hint for `key`, ordered by `intendedFor` (the `byKey` index's order within one key). */
  async hintsForKey(key: string): Promise<Hint[]> {
    return this.#run('hintsForKey', (db) => db.getAllFromIndex('hints', 'byKey', key));
  }

  /** Number of stored hints, over every intended node. */
  async countHints(): Promise<number> {
    return this.#run('countHints', (db) => db.count('hints'));
  }

  /**
   * Closes the connection; transactions already started still complete. Later calls reject with
   * `StorageError`. Calling it again, or after a forced close, resolves and does nothing.
   */
  async close(): Promise<void> {
    if (this.#closedReason !== undefined) return;
    this.#closedReason = 'the store was closed';
    this.#db.close();
  }

  /** Closes the connection because something outside asked for it, and says so once. */
  #forceClose(reason: string, onForcedClose: ((error: StorageError) => void) | undefined): void {
    if (this.#closedReason !== undefined) return;
    this.#closedReason = reason;
    this.#db.close();
    onForcedClose?.(new StorageError(`IndexedDB database "${this.name}": ${reason}`));
  }

  /**
   * Runs one operation on the open database, translating every failure through `toStorageError`
   * (except a `RangeError`, which reports a programmer error and passes through).
   */
  async #run<T>(operation: string, body: (db: Database) => Promise<T>): Promise<T> {
    if (this.#closedReason !== undefined) {
      throw new StorageError(`${operation} on IndexedDB database "${this.name}" failed: ${this.#closedReason}`);
    }
    try {
      return await body(this.#db);
    } catch (error) {
      if (error instanceof RangeError) throw error;
      throw toStorageError(error, operation, this.name);
    }
  }

  /**
   * Runs one change in its own `readwrite` transaction on `storeName` and waits until that transaction
   * completed (not just until the request succeeded: a transaction can still abort afterwards, e.g. with
   * `QuotaExceededError` at commit).
   */
  async #write<N extends StoreNames<StoreSchema>>(
    operation: string,
    storeName: N,
    change: (store: IDBPObjectStore<StoreSchema, [N], N, 'readwrite'>) => Promise<unknown>,
  ): Promise<void> {
    await this.#run(operation, async (db) => {
      const tx = db.transaction(storeName, 'readwrite', { durability: this.durability });
      await completeOrAbort(tx, () => change(tx.store));
    });
  }
}

/**
 * Runs `body` in `tx` and resolves with its result once the transaction completed (not just once its
 * requests succeeded: a transaction can still abort at commit, e.g. with `QuotaExceededError`). On any
 * failure the transaction is aborted and the first error is thrown (the transaction's own rejection
 * that follows is expected and ignored).
 */
async function completeOrAbort<T>(tx: { done: Promise<void>; abort(): void }, body: () => Promise<T>): Promise<T> {
  const done = tx.done;
  try {
    const [result] = await Promise.all([body(), done]);
    return result;
  } catch (error) {
    done.catch(() => undefined);
    try {
      tx.abort();
    } catch {
      // Already aborted or finished.
    }
    throw error;
  }
}

/**
 * Makes one request per item in one transaction and waits for all of them. A request that throws at
 * once (a value IndexedDB cannot clone) becomes a rejection, so the requests already made are still
 * awaited and none is left rejecting unobserved when the transaction aborts.
 */
function allRequests<T>(items: readonly T[], request: (item: T) => Promise<unknown>): Promise<unknown[]> {
  return Promise.all(
    items.map((item) => {
      try {
        return request(item);
      } catch (error) {
        return Promise.reject(error);
      }
    }),
  );
}

/** What one write of a group commit came to: the key's state before and after, or the error of its update. */
type WriteOutcome = { before: VersionSet | undefined; after: VersionSet | undefined } | { error: unknown };

/** Settles each write of `batch` with its outcome. */
function settle(batch: readonly PendingWrite[], outcomes: readonly WriteOutcome[]): void {
  batch.forEach((w, i) => {
    const outcome = outcomes[i]!;
    if ('error' in outcome) w.reject(outcome.error);
    else w.resolve(outcome);
  });
}
