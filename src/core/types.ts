/**
 * Shared data shapes of the pure core: node ids, vector-clock entries, dots, siblings, version sets and
 * hints. Plain data only; the interfaces through which the core reaches the outside are in ports.ts.
 */

/** A node's identity: a short string, unique within a cluster (`[a-z0-9]+`). */
export type NodeId = string;

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
  /**
   * The id the node that first took the client's put gave it (client-operations.ts): a coordinator
   * asked again for the same write (a retry after a late answer) finds it here and makes no second
   * version. Absent on versions made before write ids, and on read repairs' merges of them.
   */
  writeId?: string;
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
