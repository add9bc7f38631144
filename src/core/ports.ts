/**
 * The ports of the pure core (DESIGN.md §2, STYLE.md habits 1 and 4): everything the core knows of the
 * outside world comes through these five interfaces, so the same code runs in a browser tab and in a
 * seeded simulation.
 *
 *   port           implementations                                   contract suite
 *   Transport      memory network (net/memory-network.ts),           test/contract/transport-contract.ts
 *                  PeerJS data channels (net/peerjs-transport.ts)
 *   Store          memory (storage/memory-store.ts),                 test/contract/store-contract.ts
 *                  IndexedDB (storage/idb-store.ts)
 *   MerkleService  in process (core/merkle-service.ts),              test/contract/merkle-service-contract.ts
 *                  Web Worker (merkle/worker-merkle-service.ts)
 *   Clock, Random  wall clock and crypto in tabs, virtual and seeded in the simulation
 *
 * The core never touches I/O, timers, `Date.now` or `Math.random` itself (a lint rule keeps it so).
 */
import type { MerkleItem } from './merkle-tree.js';
import type { Message } from './messages.js';
import type { Hint, NodeId, VersionSet } from './types.js';

/** Source of time for the core. `now()` returns milliseconds (wall clock in tabs, virtual in simulation). */
export interface Clock {
  now(): number;
  /**
   * A monotonic high-resolution clock for measuring durations, in ms from an arbitrary origin
   * (optional: `performance.now()` in tabs; absent, durations use `now()`). Never stored or sent.
   */
  elapsedMs?(): number;
}

/** Source of randomness for the core. `next()` returns a uniform number in [0, 1). */
export interface Random {
  next(): number;
}

/** The core's transport port: best-effort delivery of one message to one node. Failures show as timeouts. */
export interface Transport {
  send(to: NodeId, message: Message): void;
  /**
   * Whether a message to `node` goes out on a connection that exists now (optional; absent: every
   * node is). A transport that caps its connections (browsers: a few dozen WebRTC connections, DESIGN.md
   * §2) answers false for nodes it would have to connect to first; gossip and failure-detector probes
   * then prefer connected nodes, so that background traffic does not churn connections.
   */
  isConnected?(node: NodeId): boolean;
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
  /**
   * A read-modify-write of one key in one transaction: reads its version set, calls `update` with it
   * (synchronously, without modifying it; it returns the new version set, or `undefined` to leave the
   * key as it is), stores
   * the result, and resolves once that is durable with the state before and after. Nothing else
   * changes the key in between. An error `update` throws rejects the call and stores nothing.
   * Implementations may let concurrent calls share a transaction (group commit).
   */
  updateObject(key: string, update: (current: VersionSet | undefined) => VersionSet | undefined): Promise<{ before: VersionSet | undefined; after: VersionSet | undefined }>;
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

/** What the anti-entropy protocol asks of a node's trees. All hashes are 16 bytes. */
export interface MerkleService {
  /** Records a key's new state (or its removal, with `undefined`) after a local write. */
  update(key: string, versions: VersionSet | undefined): Promise<void>;
  /** Hashes of the nodes `indices` at `level` (0 = root, depth = leaves) of `partition`'s tree. */
  hashes(partition: number, level: number, indices: readonly number[]): Promise<Uint8Array[]>;
  /** Root hashes of many partitions' trees at once (16 zero bytes for a partition without keys). */
  roots(partitions: readonly number[]): Promise<Uint8Array[]>;
  /** The (key, digest) items of the given leaves of `partition`'s tree, sorted by key. */
  leafItems(partition: number, leaves: readonly number[]): Promise<MerkleItem[]>;
  /** Tree shape: fan-out and depth below the root. */
  shape(): { fanout: number; depth: number };
  /** Keys held per partition (for the explorer and for choosing what to compare). */
  keyCounts(): Promise<Map<number, number>>;
  /**
   * Up to `limit` tombstone-only keys (every sibling a tombstone, `deletedAtMs` in version-set.ts)
   * deleted before `deletedBeforeMs` (ms), in no particular order: the candidates of tombstone purging
   * (tombstone-purge.ts).
   */
  tombstones(deletedBeforeMs: number, limit: number): Promise<string[]>;
}
