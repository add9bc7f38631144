/**
 * The schema of a node's IndexedDB database and its upgrades (used by `IdbStore` in `idb-store.ts`).
 *
 * Schema (version `IDB_SCHEMA_VERSION`):
 *
 * ```
 *   database <name>
 *   ├── objects   out-of-line key: the object key (string)   value: VersionSet, stored as-is
 *   ├── meta      out-of-line key: the record name (string)  value: any structured-cloneable record
 *   └── hints     in-line key: [intendedFor, key]             value: Hint (since version 2)
 *       └── byKey index on `key` (not unique): the hints for one key, whoever they are meant for
 * ```
 *
 * Hints (hinted handoff, DESIGN.md §3 / paper §4.6) are keyed by the compound `[intendedFor, key]`.
 * IndexedDB compares arrays element by element, so the store's own order is (intendedFor, key) and
 * the hints for one intended node form one contiguous key range:
 *
 * ```
 *   ["n1", "a"]  ["n1", "b"]  ["n10", "a"]  ["n2", "a"]   ...
 *   └── [["n1"], ["n1", []]) ─┘
 * ```
 *
 * (A shorter array sorts before any longer one it prefixes, and an array sorts after every string,
 * so `["n1"] < ["n1", any string] < ["n1", []]`.)
 *
 * Upgrades: `UPGRADES[i]` turns version `i` into `i + 1`; a database is brought from whatever version
 * it has on disk to `IDB_SCHEMA_VERSION` by running every step after it.
 */

import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type { Hint, NodeId, VersionSet } from '../core/types';

/** The shape of the database at the current schema version. */
export interface StoreSchema extends DBSchema {
  objects: { key: string; value: VersionSet };
  meta: { key: string; value: unknown };
  /** Since version 2. Key: `[intendedFor, key]`, taken from the value (in-line). */
  hints: { key: [NodeId, string]; value: Hint; indexes: { byKey: string } };
}

/** An open connection to a node's database, typed by `StoreSchema`. */
export type Database = IDBPDatabase<StoreSchema>;
/** The `versionchange` transaction an upgrade runs in. */
export type UpgradeTransaction = IDBPTransaction<StoreSchema, StoreNames<StoreSchema>[], 'versionchange'>;

/**
 * One schema migration: turns a database of version `i` into version `i + 1`. It runs inside the
 * upgrade transaction, so if it throws, the whole upgrade is rolled back and `open` rejects.
 */
type UpgradeStep = (db: Database, tx: UpgradeTransaction) => void;

/**
 * Migrations in order: `UPGRADES[i]` migrates version `i` to `i + 1`. A database is brought from
 * whatever version it has on disk to the newest by running every step after it, so a tab that last ran
 * version 1 of the code and one that never ran at all both end up with the same schema.
 *
 * To add a version, append a step (and extend `StoreSchema`); never edit a step that has shipped.
 */
const UPGRADES: readonly UpgradeStep[] = [
  // 0 → 1: the objects and their metadata.
  (db) => {
    db.createObjectStore('objects');
    db.createObjectStore('meta');
  },
  // 1 → 2: durable hints for hinted handoff. Adds a store; objects and meta are left as they are.
  (db) => {
    db.createObjectStore('hints', { keyPath: ['intendedFor', 'key'] }).createIndex('byKey', 'key');
  },
];

/** The schema version this code opens databases at (the number of `UPGRADES`). */
export const IDB_SCHEMA_VERSION = UPGRADES.length;

/**
 * The `upgrade` callback of `openDB`: runs every step of `UPGRADES` from `oldVersion` up to
 * `newVersion` (default `IDB_SCHEMA_VERSION`), inside the upgrade transaction.
 *
 * @throws Error when `UPGRADES` has no step for a version below the target (a programmer error).
 *   Any throw rolls the whole upgrade back, and `open` rejects.
 */
export function upgradeSchema(db: Database, oldVersion: number, newVersion: number | null, tx: UpgradeTransaction): void {
  const target = newVersion ?? IDB_SCHEMA_VERSION;
  for (let version = oldVersion; version < target; version += 1) {
    const step = UPGRADES[version];
    if (step === undefined) throw new Error(`no upgrade step from schema version ${version}`);
    step(db, tx);
  }
}
