/**
 * In-memory implementation of the core's `Store` port (DESIGN.md §2 `src/storage/`), used by the
 * deterministic simulation and by unit tests.
 *
 * The committed state lives in a `MemoryStoreData` object, separate from the `MemoryStore` that serves
 * it. That split is what lets a simulation model a node crash (DESIGN.md §2: "nodes that crash and
 * restart with their stored state"):
 *
 * ```
 *   MemoryStore (node before the crash) ──┐
 *                                          ├──> MemoryStoreData { objects, meta, hints }
 *   MemoryStore (node after the restart) ──┘
 * ```
 *
 * A crash drops the node and closes its store (so a write still in flight from the dead node is
 * refused), then `new MemoryStore(oldStore.data)` reopens what had been committed.
 *
 * Every value is copied with `structuredClone` on the way in and on the way out, exactly as IndexedDB
 * copies, so neither the caller nor the store can change the other's objects by mutation, and a value
 * that IndexedDB would refuse (a function, a DOM node) is refused here too.
 */

import { StorageError } from '../core/errors';
import type { Store } from '../core/ports.js';
import type { Hint, NodeId, VersionSet } from '../core/types';
import { withCompactData, withCompactHint } from './compact-data.js';

/**
 * The committed contents of one `MemoryStore`: version sets by key, metadata records by name, and
 * hints by intended node and key. Holds copies owned by the store; read it through a `MemoryStore`
 * rather than directly, since the maps hand out the stored objects themselves.
 */
export class MemoryStoreData {
  /** Version sets by key (the `objects` store of `IdbStore`). */
  readonly objects = new Map<string, VersionSet>();
  /** Metadata records by name (the `meta` store of `IdbStore`). */
  readonly meta = new Map<string, unknown>();
  /**
   * Hints for hinted handoff (paper §4.6; the `hints` store of `IdbStore`), by `intendedFor`, then by
   * `key`. An intended node without hints has no entry, so the outer map's keys are exactly the nodes
   * that have hints waiting.
   */
  readonly hints = new Map<NodeId, Map<string, Hint>>();
}

/**
 * `Store` kept in process memory. Operations complete synchronously when called (the returned promise
 * only reports the outcome), so a write is "committed" as soon as its promise resolves and the
 * simulation's ordering is fully deterministic.
 *
 * Errors: every method rejects with `StorageError` after `close()`, when a value cannot be
 * structured-cloned, and (for writes) while failures injected with `failNextWrites` remain.
 */
export class MemoryStore implements Store {
  /** Always `"memory"`. */
  readonly kind = 'memory';
  /** The committed contents; pass it to `new MemoryStore(data)` to reopen them after a simulated crash. */
  readonly data: MemoryStoreData;

  #closed = false;
  #failuresLeft = 0;
  #failure: StorageError | undefined;

  /**
   * @param data committed contents to serve; a fresh, empty `MemoryStoreData` when omitted. Only one
   *   open store should serve a given `data` at a time (close the old one first), like one IndexedDB
   *   database per node.
   */
  constructor(data: MemoryStoreData = new MemoryStoreData()) {
    this.data = data;
  }

  /**
   * Fault injection for tests: the next `count` writes (`putObject`, `deleteObject`, `putMeta`,
   * `putHint`, `deleteHint`) reject
   * with `error` and leave the data unchanged; later writes behave normally again. Reads are never
   * affected. Calling it again replaces any failures still pending.
   *
   * @param count number of writes to fail; a non-negative integer (0 cancels pending failures).
   * @param error the error to reject with, e.g. a `StorageQuotaError` to model a full disk. Defaults to
   *   a `StorageError` saying the failure was injected.
   * @throws RangeError when `count` is not a non-negative integer (a programmer error).
   */
  failNextWrites(count: number, error: StorageError = new StorageError('injected storage failure (MemoryStore.failNextWrites)')): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`failNextWrites: count must be a non-negative integer, got ${count}`);
    }
    this.#failuresLeft = count;
    this.#failure = error;
  }

  /** The stored version set of `key` (a copy), or `undefined`. Rejects with `StorageError` after `close()`. */
  async getObject(key: string): Promise<VersionSet | undefined> {
    this.#assertOpen('getObject');
    const stored = this.data.objects.get(key);
    return stored === undefined ? undefined : structuredClone(stored);
  }

  /**
   * Replaces the version set of `key` with a copy of `versions`. Rejects with `StorageError` after
   * `close()`, when `versions` cannot be cloned, or on an injected failure; nothing is stored then.
   */
  async putObject(key: string, versions: VersionSet): Promise<void> {
    this.#beginWrite('putObject');
    this.data.objects.set(key, copyForStorage(withCompactData(versions), 'putObject'));
  }

  /**
   * Reads `key`, stores what `update` makes of it (nothing when it returns `undefined`). Counts as a
   * write (injected failures apply) only when it stores something. Rejects with what `update` throws,
   * and with `StorageError` as `putObject` does; nothing is stored then.
   */
  async updateObject(key: string, update: (current: VersionSet | undefined) => VersionSet | undefined): Promise<{ before: VersionSet | undefined; after: VersionSet | undefined }> {
    this.#assertOpen('updateObject');
    const stored = this.data.objects.get(key);
    const before = stored === undefined ? undefined : structuredClone(stored);
    const after = update(before);
    if (after === undefined) return { before, after: before };
    this.#beginWrite('updateObject');
    this.data.objects.set(key, copyForStorage(withCompactData(after), 'updateObject'));
    return { before, after };
  }

  /** Copies of the version sets of `keys`, in order (`undefined` where absent). */
  async getObjects(keys: readonly string[]): Promise<(VersionSet | undefined)[]> {
    this.#assertOpen('getObjects');
    return keys.map((key) => {
      const stored = this.data.objects.get(key);
      return stored === undefined ? undefined : structuredClone(stored);
    });
  }

  /** Replaces many keys' version sets at once: all or none (copies are made before anything is stored). */
  async putObjects(entries: readonly { key: string; versions: VersionSet }[]): Promise<void> {
    this.#beginWrite('putObjects');
    const copies = entries.map((e) => [e.key, copyForStorage(withCompactData(e.versions), 'putObjects')] as const);
    for (const [key, versions] of copies) this.data.objects.set(key, versions);
  }

  /** Removes `key`; resolves when it was absent too. Rejects with `StorageError` after `close()` or on an injected failure. */
  async deleteObject(key: string): Promise<void> {
    this.#beginWrite('deleteObject');
    this.data.objects.delete(key);
  }

  /** Every stored key in ascending UTF-16 code-unit order (IndexedDB's key order). Rejects with `StorageError` after `close()`. */
  async listKeys(): Promise<string[]> {
    this.#assertOpen('listKeys');
    // The default sort compares UTF-16 code units, which is also how IndexedDB orders string keys.
    return [...this.data.objects.keys()].sort();
  }

  /** Number of stored keys. Rejects with `StorageError` after `close()`. */
  async countObjects(): Promise<number> {
    this.#assertOpen('countObjects');
    return this.data.objects.size;
  }

  /** A copy of the metadata record `name`, or `undefined`. Rejects with `StorageError` after `close()`. */
  async getMeta<T = unknown>(name: string): Promise<T | undefined> {
    this.#assertOpen('getMeta');
    if (!this.data.meta.has(name)) return undefined;
    return structuredClone(this.data.meta.get(name)) as T;
  }

  /**
   * Stores a copy of `value` as metadata record `name`. Rejects with `StorageError` after `close()`,
   * when `value` cannot be structured-cloned, or on an injected failure; nothing is stored then.
   */
  async putMeta(name: string, value: unknown): Promise<void> {
    this.#beginWrite('putMeta');
    this.data.meta.set(name, copyForStorage(value, 'putMeta'));
  }

  /** A copy of the hint for (`intendedFor`, `key`), or `undefined`. Rejects with `StorageError` after `close()`. */
  async getHint(intendedFor: NodeId, key: string): Promise<Hint | undefined> {
    this.#assertOpen('getHint');
    const stored = this.data.hints.get(intendedFor)?.get(key);
    return stored === undefined ? undefined : structuredClone(stored);
  }

  /**
   * Stores a copy of `hint`, replacing any hint for the same (`intendedFor`, `key`). Rejects with
   * `StorageError` after `close()`, when `intendedFor` or `key` is not a string (IndexedDB could not key
   * it), when the hint cannot be structured-cloned, or on an injected failure; nothing is stored then.
   */
  async putHint(hint: Hint): Promise<void> {
    this.#beginWrite('putHint');
    if (typeof hint.intendedFor !== 'string' || typeof hint.key !== 'string') {
      throw new StorageError('putHint: the hint cannot be stored because its intendedFor and key must both be strings');
    }
    const copy = copyForStorage(withCompactHint(hint), 'putHint');
    let forTarget = this.data.hints.get(hint.intendedFor);
    if (forTarget === undefined) {
      forTarget = new Map();
      this.data.hints.set(hint.intendedFor, forTarget);
    }
    forTarget.set(hint.key, copy);
  }

  /**
   * Removes the hint for (`intendedFor`, `key`); resolves when it was absent too. Rejects with
   * `StorageError` after `close()` or on an injected failure.
   */
  async deleteHint(intendedFor: NodeId, key: string): Promise<void> {
    this.#beginWrite('deleteHint');
    const forTarget = this.data.hints.get(intendedFor);
    if (forTarget === undefined) return;
    forTarget.delete(key);
    if (forTarget.size === 0) this.data.hints.delete(intendedFor);
  }

  /**
   * Copies of the stored hints ordered by (`intendedFor`, `key`) in UTF-16 code-unit order (IndexedDB's
   * order of the compound key): all of them, or only those for `intendedFor`; at most `limit`.
   *
   * @param intendedFor only hints meant for this node; every hint when omitted.
   * @param limit most hints returned, a non-negative integer; no limit when omitted.
   * @throws StorageError after `close()`.
   * @throws RangeError when `limit` is not a non-negative integer (a programmer error).
   */
  async listHints(intendedFor?: NodeId, limit?: number): Promise<Hint[]> {
    this.#assertOpen('listHints');
    assertLimit(limit);
    const targets = intendedFor === undefined ? [...this.data.hints.keys()].sort() : [intendedFor];
    const found: Hint[] = [];
    const max = limit ?? Infinity;
    for (const target of targets) {
      const forTarget = this.data.hints.get(target);
      if (forTarget === undefined) continue;
      for (const key of [...forTarget.keys()].sort()) {
        if (found.length >= max) return found;
        found.push(structuredClone(forTarget.get(key) as Hint));
      }
    }
    return found;
  }

  /** Copies of every hint for `key`, ordered by `intendedFor` (code-unit order). Rejects with `StorageError` after `close()`. */
  async hintsForKey(key: string): Promise<Hint[]> {
    this.#assertOpen('hintsForKey');
    const found: Hint[] = [];
    for (const target of [...this.data.hints.keys()].sort()) {
      const stored = this.data.hints.get(target)?.get(key);
      if (stored !== undefined) found.push(structuredClone(stored));
    }
    return found;
  }

  /** Number of stored hints, over every intended node. Rejects with `StorageError` after `close()`. */
  async countHints(): Promise<number> {
    this.#assertOpen('countHints');
    let count = 0;
    for (const forTarget of this.data.hints.values()) count += forTarget.size;
    return count;
  }

  /**
   * Stops serving `data`; later calls reject with `StorageError`. The data itself is kept for a
   * `new MemoryStore(data)`. Calling `close()` again resolves and does nothing.
   */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #assertOpen(operation: string): void {
    if (this.#closed) {
      throw new StorageError(`${operation}: the memory store is closed; open a new MemoryStore on its data`);
    }
  }

  /** Checks that a write may proceed, consuming one injected failure if any is pending. */
  #beginWrite(operation: string): void {
    this.#assertOpen(operation);
    if (this.#failuresLeft > 0 && this.#failure !== undefined) {
      this.#failuresLeft -= 1;
      throw this.#failure;
    }
  }
}

/** Checks `listHints`'s `limit`: absent, or a non-negative integer. Same rule as `IdbStore`. */
function assertLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`listHints: limit must be a non-negative integer, got ${limit}`);
  }
}

/** Copies a value before storing it, turning a clone failure into the `StorageError` IndexedDB would give. */
function copyForStorage<T>(value: T, operation: string): T {
  try {
    return structuredClone(value);
  } catch (cause) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    throw new StorageError(`${operation}: the value cannot be stored because it is not structured-cloneable (${detail})`, { cause });
  }
}
