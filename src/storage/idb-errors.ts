/**
 * The one place where failures of IndexedDB (or of `idb`) become the store's typed errors (STYLE.md
 * habit 5), for `IdbStore` in `idb-store.ts`.
 *
 * `QuotaExceededError` becomes `StorageQuotaError`; everything else (aborted transaction, closed
 * connection, version mismatch, blocked upgrade, uncloneable value) becomes `StorageError` whose
 * message names the operation, the database and what happened, with the original error as `cause`.
 */

import { StorageError, StorageQuotaError } from '../core/errors';

/** IndexedDB error names that mean "out of space" (the second is older Firefox). */
const QUOTA_ERROR_NAMES = new Set(['QuotaExceededError', 'NS_ERROR_DOM_QUOTA_REACHED']);

/** Plain-language meaning of the IndexedDB errors this store can meet, by `DOMException` name. */
const ERROR_MEANINGS: Readonly<Record<string, string>> = {
  AbortError: 'the transaction was aborted before it committed, so nothing was written',
  InvalidStateError: 'the database connection is closed or closing',
  TransactionInactiveError: 'the transaction had already finished',
  VersionError: 'the database on disk has a newer schema version than this code; reload the page to run the newer code',
  DataCloneError: 'the value is not structured-cloneable (it holds a function, a DOM node or similar)',
  DataError: 'the key is not a valid IndexedDB key',
  NotFoundError: 'an object store is missing; the database schema is not what this code expects',
  UnknownError: 'the browser could not read or write its storage (disk error, or the profile is being shut down)',
};

/**
 * The one place where failures of IndexedDB (or of `idb`) become the store's typed errors.
 * A `StorageError` passes through unchanged.
 *
 * @param error what was thrown or reported (usually a `DOMException`).
 * @param operation the `Store` method or lifecycle step that failed, e.g. `"putObject"`.
 * @param databaseName the database involved, for the message.
 * @returns `StorageQuotaError` for an out-of-space error, `StorageError` for any other.
 */
export function toStorageError(error: unknown, operation: string, databaseName: string): StorageError {
  if (error instanceof StorageError) return error;
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : 'Error';
  const message = typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
  const original = message ? `${name}: ${message}` : name;
  const where = `${operation} on IndexedDB database "${databaseName}"`;
  if (QUOTA_ERROR_NAMES.has(name)) {
    return new StorageQuotaError(
      `${where} failed: the browser refused to store more data (${original}); nothing was written. Free space (delete keys or other site data) and retry.`,
      { cause: error },
    );
  }
  const meaning = ERROR_MEANINGS[name] ?? 'IndexedDB reported an unexpected error';
  return new StorageError(`${where} failed: ${meaning} (${original})`, { cause: error });
}

/**
 * A promise that rejects when `onBlocked` is called, to race against an open or delete request: such a
 * request waits without end while other connections keep the database open and ignore the version
 * change, and we would rather report that (as `StorageError`) than hang.
 */
export function rejectWhenBlocked(): { blocked: Promise<never>; onBlocked: (error: StorageError) => void } {
  let onBlocked: (error: StorageError) => void = () => undefined;
  const blocked = new Promise<never>((_resolve, reject) => {
    onBlocked = reject;
  });
  // Only ever read through Promise.race; keep a late rejection from being reported as unhandled.
  blocked.catch(() => undefined);
  return { blocked, onBlocked };
}
