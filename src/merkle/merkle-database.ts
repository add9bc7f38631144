/**
 * The Merkle worker's read-only access to the node's IndexedDB database (paper §4.7; see the header of
 * `merkle-worker.ts` for how the scan uses it): opening without ever creating or upgrading the
 * database, and the `StorageError` a failed scan reports. The schema itself belongs to
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
