/**
 * The Merkle worker's read-only access to the node's IndexedDB database (paper §4.7; see the header of
 * `merkle-worker.ts` for how the scan uses it): opening without ever creating or upgrading the
 * database, reading the `objects` store in chunks of records, and the `StorageError` a failed scan
 * reports.
 *
 * ```
 *   scanChunks ── readChunk(after = ∅,  count c0) ──► [k1 … k1000]      one readonly transaction each,
 *              ── readChunk(after = k1000, c1)   ──► [k1001 … ]         committed as soon as asked;
 *              ── …  until a chunk comes back short                      c(i+1) from chunk i's read rate
 * ``` The schema itself belongs to
 * `src/storage/idb-schema.ts`; the worker reads only its `objects` store.
 */
import { StorageError } from '../core/errors.js';

/**
 * Opens database `name` at whatever version it has, without ever creating or upgrading it.
 * @returns the connection, or `undefined` when no such database exists (its creation is aborted).
 */
export function openExisting(name: string): Promise<IDBDatabase | undefined> {
  return new Promise((resolve, reject) => {
    let creating = false;
    const request = indexedDB.open(name);
    request.onupgradeneeded = () => {
      // Only a database that does not exist gets here (no version was asked for): leave it uncreated.
      creating = true;
      request.transaction?.abort();
    };
    request.onsuccess = () => {
      const db = request.result;
      // Never stand in the way of the page upgrading or deleting its database.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = (event) => {
      if (creating) {
        event.preventDefault();
        resolve(undefined);
      } else {
        reject(request.error);
      }
    };
  });
}

/**
 * The `StorageError` a failed open or scan of database `dbName` rejects with: its message names the
 * database and the original error's name and message, which it keeps as `cause`.
 */
export function storageError(error: unknown, dbName: string): StorageError {
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : 'Error';
  const message = typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
  return new StorageError(`Merkle worker: scanning IndexedDB database "${dbName}" failed (${name}: ${message})`, { cause: error });
}

/** How {@link scanChunks} sizes its chunks. */
export interface ScanChunkOptions {
  /** Records asked for by the first chunk. */
  firstCount: number;
  /** Fewest and most records asked for by one chunk. */
  minCount: number;
  maxCount: number;
  /**
   * How long one chunk's readonly transaction should take, ms: each next chunk asks for as many
   * records as the last one's read rate gets through in this time (within the bounds above, and at
   * most twice as many as the last).
   */
  targetMs: number;
}

/**
 * How the worker's build scans the `objects` store: 1000 records first, then as many as the last
 * chunk's read rate gets through in 25 ms (between 100 and 16,000): about the longest a write of the
 * node waits behind the scan, while a request per chunk instead of a cursor step per record makes
 * reading 100k keys several times faster (`npm run bench:merkle`).
 */
export const BUILD_SCAN: Readonly<ScanChunkOptions> = Object.freeze({ firstCount: 1000, minCount: 100, maxCount: 16_000, targetMs: 25 });

/** One chunk read by {@link scanChunks}: keys and values in key order, and how long its keys took to come. */
export interface ScannedChunk {
  keys: IDBValidKey[];
  values: unknown[];
  /** From the request to its keys, ms. */
  readMs: number;
}

/** A chunk being read (see {@link readChunk}): its keys arrive first, then its values. */
export interface ChunkRead {
  keys: Promise<IDBValidKey[]>;
  values: Promise<unknown[]>;
}

/**
 * Starts reading at most `count` records of `storeName` with keys above `after` (from the first key
 * when `after` is undefined) in one readonly transaction: `getAllKeys` and then `getAll` over the same
 * range and count, so the same records in key order. The transaction is committed as soon as both
 * are asked for, so it ends once the backend has read them, whenever this thread gets to their events.
 * Both promises reject with what IndexedDB reports (a DOMException) when the transaction fails.
 */
export function readChunk(db: IDBDatabase, storeName: string, after: IDBValidKey | undefined, count: number): ChunkRead {
  const tx = db.transaction(storeName, 'readonly');
  const store = tx.objectStore(storeName);
  const range = after === undefined ? null : IDBKeyRange.lowerBound(after, true);
  const keysRequest = store.getAllKeys(range, count);
  const valuesRequest = store.getAll(range, count);
  const failed = new Promise<never>((_resolve, reject) => {
    tx.onabort = () => reject(tx.error ?? new DOMException('the scan transaction was aborted', 'AbortError'));
  });
  const settle = <T>(request: IDBRequest<T>): Promise<T> =>
    Promise.race([
      new Promise<T>((resolve) => {
        request.onsuccess = () => resolve(request.result);
      }),
      failed,
    ]);
  const keys = settle(keysRequest);
  const values = settle(valuesRequest);
  // A chunk read ahead may fail while its caller is still busy with the one before: it sees the error
  // when it awaits this chunk, not as an unhandled rejection.
  keys.catch(() => undefined);
  values.catch(() => undefined);
  tx.commit?.();
  return { keys, values };
}

/**
 * Scans `storeName` in key order, chunk by chunk (see {@link readChunk}), each sized so that its
 * transaction takes about `options.targetMs`: one readonly transaction over the whole store would hold
 * back every write of the node (in Chromium, a readwrite transaction waits for overlapping readonly
 * ones) for the length of the scan. Each chunk resumes after the last key of the one before, and is
 * asked for as soon as those keys are known: the backend reads it while the caller decodes and handles
 * the chunk just yielded (the next transaction is already committed, so it holds nothing meanwhile).
 * @throws whatever IndexedDB reports, from the generator's `next()`.
 */
export async function* scanChunks(db: IDBDatabase, storeName: string, options: ScanChunkOptions): AsyncGenerator<ScannedChunk, void, undefined> {
  let count = options.firstCount;
  let askedAt = performance.now();
  let current = readChunk(db, storeName, undefined, count);
  for (;;) {
    const keys = await current.keys;
    const readMs = performance.now() - askedAt;
    let next: ChunkRead | undefined;
    if (keys.length === count) {
      // As many records as this chunk's rate reads in targetMs (a chunk read in no measurable time doubles).
      const wanted = readMs > 0 ? Math.round((count * options.targetMs) / readMs) : 2 * count;
      count = Math.min(options.maxCount, 2 * count, Math.max(options.minCount, wanted));
      askedAt = performance.now();
      next = readChunk(db, storeName, keys[keys.length - 1], count);
    }
    const values = await current.values;
    if (values.length !== keys.length) throw new Error(`scan of "${storeName}": ${keys.length} keys but ${values.length} values in one chunk`);
    yield { keys, values, readMs };
    if (next === undefined) return;
    current = next;
  }
}
