/**
 * The shapes of a node's public API (paper §4.1): what get and put take and return, the events a node
 * emits for UIs and logs, and its counters.
 */
import type { DynamoError } from './errors.js';
import type { ExchangeReport, PartitionSyncState } from './anti-entropy.js';
import type { Reachability } from './failure-detector.js';
import type { TransferReport, TransferState } from './ownership-handoff.js';
import type { MemberRecord } from './membership.js';
import type { Dot, NodeId } from './types.js';
import type { Value } from './value-codec.js';

/** A version returned by `get`: a value, or a delete concurrent with values (`deleted: true`). */
export interface SiblingView {
  /** The value; `null` for a deleted sibling. */
  value: Value | null;
  /** True when this sibling is a delete (tombstone) concurrent with the other siblings. */
  deleted: boolean;
  /** The write that made it: coordinator node, its counter for this key, wall time (ms). */
  version: Dot;
}

/** Result of `get` (paper §4.1 `get(key)` → objects + context). */
export interface GetResult {
  /** Every causally-maximal version; empty when the key does not exist or was deleted. */
  siblings: SiblingView[];
  /** Opaque context to pass to the next put/delete of this key. '' when nothing was found. */
  context: string;
  /** The merged vector clock of what was read (paper §4.4): one entry per coordinator that wrote the key, for display. */
  clock: { node: NodeId; counter: number }[];
  /** Replicas that answered (including this node when it is a replica). */
  answeredBy: NodeId[];
}

/** Result of `put` / `delete`. */
export interface PutResult {
  /** Context covering what the writer had seen plus this write; pass it to the next put of the key. */
  context: string;
  /** The dot naming this write. */
  version: Dot;
  /** How many replicas acknowledged durably before the answer (≥ W). */
  acks: number;
}

/** Per-request options of get (paper §4.5: R can be chosen per request). */
export interface GetOptions {
  r?: number;
  timeoutMs?: number;
}

/** Per-request options of put and delete. */
export interface PutOptions {
  context?: string;
  w?: number;
  timeoutMs?: number;
}

/** Events a node emits for UIs and logs. */
export type NodeEvent =
  | { type: 'membership'; members: MemberRecord[] }
  | { type: 'ring'; owners: readonly NodeId[] }
  | { type: 'put'; key: string; version: Dot; acks: number; coordinator: NodeId; latencyMs: number }
  | { type: 'get'; key: string; siblings: number; answeredBy: NodeId[]; latencyMs: number }
  | { type: 'read-repair'; key: string; replicas: NodeId[] }
  /**
   * This node's replica of `key` changed: a write it coordinated, or a newer version that arrived by
   * replication (a coordinator's write, read repair, anti-entropy, hint delivery) or partition handoff.
   */
  | { type: 'key-changed'; key: string; source: 'write' | 'replication' | 'ownership-handoff' }
  | { type: 'gossip'; peer: NodeId; direction: 'sent' | 'received'; changed: boolean }
  | { type: 'message-dropped'; from: NodeId; reason: string }
  | { type: 'reachability'; peer: NodeId; from: Reachability; to: Reachability }
  | { type: 'hint-stored'; key: string; intendedFor: NodeId }
  | { type: 'hints-delivered'; peer: NodeId; count: number }
  /** A leaving node passed `count` hints it held for the unreachable `intendedFor` to `to`, which keeps them now. */
  | { type: 'hints-passed'; intendedFor: NodeId; to: NodeId; count: number }
  /** `count` hints held for `intendedFor`, unreachable for longer than `hintTtlMs`, were dropped: another replica of each key held it. */
  | { type: 'hints-expired'; intendedFor: NodeId; count: number }
  /** `count` tombstone-only keys were deleted from this node's store for good (tombstone-purge.ts). */
  | { type: 'tombstones-purged'; count: number }
  | ({ type: 'anti-entropy' } & ExchangeReport)
  | ({ type: 'partition-sync' } & PartitionSyncState)
  | ({ type: 'ownership-handoff' } & TransferReport)
  | { type: 'partition-received'; partition: number }
  | { type: 'membership-change'; change: 'join' | 'leave' | 'left' | 'remove' | 'capacity'; node: NodeId; capacity: number }
  /** A removal statement was accepted: `by` removed `target` at `atMs` (issue 16). */
  | { type: 'removal'; target: NodeId; by: NodeId; atMs: number }
  | { type: 'error'; error: DynamoError; context: string };

/** Counters of a node's traffic and work. */
export interface NodeStats {
  messagesReceived: number;
  messagesSent: number;
  messagesDropped: number;
  dropReasons: Record<string, number>;
  repliesUnmatched: number;
  putsCoordinated: number;
  getsCoordinated: number;
  requestsForwarded: number;
  readRepairs: number;
  gossipRounds: number;
  pendingRequests: number;
  /** Writes this node sent to fallbacks in place of unreachable replicas. */
  fallbackWrites: number;
  /**
   * Stalls of this node's own event loop noticed between its ticks (a long task, a saturated CPU),
   * and their total length in ms: the node reprieved what fell due meanwhile instead of blaming its
   * peers (local-stalls.ts).
   */
  localStalls: number;
  localStallMs: number;
  /** Hints this node stored for other nodes, and delivered (acknowledged, then deleted). */
  hintsStored: number;
  hintsDelivered: number;
  /** Hints a leaving node passed to a node that stays, for nodes it could not reach (acknowledged, then deleted here). */
  hintsPassed: number;
  /** Hints dropped after `hintTtlMs` (their node stayed away), each once another replica of its key held it. */
  hintsExpired: number;
  /**
   * Tombstone-only keys this node deleted for good (their delete older than `tombstoneGraceMs`, held the
   * same by every replica, hinted nowhere), and purge rounds it ran as a first replica and those held back
   * because a member could not be asked (tombstone-purge.ts).
   */
  tombstonesPurged: number;
  purgeRounds: number;
  purgeRoundsBlocked: number;
  /** Records of departed members dropped into a ring checkpoint (member-compaction.ts), and records now held. */
  membersCompacted: number;
  memberRecords: number;
  /** Times this node raised its incarnation to refute a suspicion of itself. */
  refutations: number;
  /** Gossiped member records refused: unsigned, signed by another key, or not the key of their id (issue 16). */
  recordsRejected: number;
  /** Removal statements refused: unsigned, forged, or by a node this one does not know. */
  removalsRejected: number;
  /** Failure-detector probes sent and indirect probe rounds. */
  probesSent: number;
  indirectProbeRounds: number;
  /** Anti-entropy rounds run, and those that repaired something. */
  antiEntropyRounds: number;
  antiEntropyRepairs: number;
  /** Objects handed to new replicas, received by handoff, and finished transfers (paper §4.9). */
  ownershipHandoffKeysSent: number;
  ownershipHandoffKeysReceived: number;
  ownershipHandoffTransfers: number;
}

/** Where partition handoff stands on this node (paper §4.9). */
export interface OwnershipHandoffStatus {
  /** Partitions this node replicates but has not received yet (not to be confused with pending requests). */
  pendingPartitions: number[];
  /** Partitions this node holds without replicating them, being handed off. */
  handoffPartitions: number[];
  transfers: TransferState[];
}
