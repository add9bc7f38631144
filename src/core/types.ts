/**
 * Shared shapes of the pure core.
 *
 * The core never touches I/O, timers, `Date.now` or `Math.random` (DESIGN.md §2, STYLE.md habit 1):
 * time, randomness, transport and storage reach it through the interfaces below, so the same code runs
 * in a browser tab and in a seeded simulation.
 */

/** A node's identity: a short string, unique within a cluster (`[a-z0-9]+`). */
export type NodeId = string;

/** Source of time for the core. `now()` returns milliseconds (wall clock in tabs, virtual in simulation). */
export interface Clock {
  now(): number;
}

/** Source of randomness for the core. `next()` returns a uniform number in [0, 1). */
export interface Random {
  next(): number;
}

/**
 * One entry of a vector clock (paper §4.4): the node that coordinated writes, how many it has
 * coordinated for this key, and the wall time (ms) of the newest one, used only for truncation.
 */
export interface ClockEntry {
  node: NodeId;
  counter: number;
  timestampMs: number;
}

/**
 * A dot names exactly one write: the `counter`-th write coordinated by `node` for a key
 * (dotted version vectors, Preguiça et al.; Riak's dvvset). `timestampMs` is when it was made.
 */
export interface Dot {
  node: NodeId;
  counter: number;
  timestampMs: number;
}

/**
 * One concurrent version of a key. `data` is the value encoded with MessagePack
 * (see `value-codec.ts`), or `null` for a tombstone (a delete, DESIGN.md §3 "Deletes").
 */
export interface Sibling {
  dot: Dot;
  data: Uint8Array | null;
}

/**
 * Everything a replica knows of one key: the causal context `clock` (the join of every write it has
 * seen, sorted by node id) and the causally-maximal writes not yet overwritten (`siblings`, sorted by
 * dot). Plain data: stored as-is in IndexedDB and sent as-is over the wire.
 */
export interface VersionSet {
  clock: ClockEntry[];
  siblings: Sibling[];
  /**
   * Writes seen beyond `clock` that do not follow on from it (the "dot cloud" of a causal context):
   * a write whose context named a dot this replica never held records it here, so that the dot,
   * arriving later, is known as overwritten. Absent when empty; sorted by dot.
   */
  dots?: Dot[];
}

/**
 * A write held for a replica that could not take it (paper §4.6 hinted handoff): the fallback node
 * that stored it keeps it, durably, until `intendedFor` acknowledged it. One hint per (intended node,
 * key); a newer hinted write for the same pair is merged into it.
 */
export interface Hint {
  /** The replica the write was meant for. */
  intendedFor: NodeId;
  key: string;
  versions: VersionSet;
  /** When the hint was first stored (ms), for age and expiry policies. */
  createdAtMs: number;
}

/**
 * The core's storage port (DESIGN.md §2 `src/storage/`). Implementations: in-memory and IndexedDB;
 * both pass `test/contract/store-contract.ts`.
 *
 * Errors: every method rejects with a `StorageError` (or its subclass `StorageQuotaError`) when the
 * underlying storage fails; nothing else is thrown.
 */
export interface Store {
  /** A short name of the implementation, e.g. `"memory"` or `"indexeddb"`. */
  readonly kind: string;
  /** The stored version set of `key`, or `undefined` when the key was never stored here. */
  getObject(key: string): Promise<VersionSet | undefined>;
  /**
   * Replaces the version set of `key`. Resolves only once the write is durable (its IndexedDB
   * transaction completed), so a replica may acknowledge it.
   */
  putObject(key: string, versions: VersionSet): Promise<void>;
  /** The stored version sets of `keys`, in order (`undefined` where absent), read in one transaction. */
  getObjects(keys: readonly string[]): Promise<(VersionSet | undefined)[]>;
  /**
   * Replaces the version sets of many keys in one transaction: all are stored or none. Resolves only
   * once durable (partition handoff writes a batch this way).
   */
  putObjects(entries: readonly { key: string; versions: VersionSet }[]): Promise<void>;
  /** Removes `key` entirely (used to purge tombstones). Resolves once durable. */
  deleteObject(key: string): Promise<void>;
  /** Every stored key, in ascending code-unit order. */
  listKeys(): Promise<string[]>;
  /** Number of stored keys. */
  countObjects(): Promise<number>;
  /** A metadata record (structured-cloneable), or `undefined`. */
  getMeta<T = unknown>(name: string): Promise<T | undefined>;
  /** Stores a metadata record (structured-cloneable). Resolves once durable. */
  putMeta(name: string, value: unknown): Promise<void>;
  /** The hint for (`intendedFor`, `key`), or `undefined`. */
  getHint(intendedFor: NodeId, key: string): Promise<Hint | undefined>;
  /** Stores (replaces) the hint for (`hint.intendedFor`, `hint.key`). Resolves once durable. */
  putHint(hint: Hint): Promise<void>;
  /** Removes the hint for (`intendedFor`, `key`); no error when absent. Resolves once durable. */
  deleteHint(intendedFor: NodeId, key: string): Promise<void>;
  /**
   * Hints, ordered by (intendedFor, key) in code-unit order: all of them, or only those for
   * `intendedFor`; at most `limit` (default: no limit).
   */
  listHints(intendedFor?: NodeId, limit?: number): Promise<Hint[]>;
  /** Every hint for `key`, whoever it is intended for (a fallback answers reads with them too). */
  hintsForKey(key: string): Promise<Hint[]>;
  /** Number of stored hints. */
  countHints(): Promise<number>;
  /** Releases the underlying resources; calling it again does nothing. Other calls afterwards reject with `StorageError`. */
  close(): Promise<void>;
}
