/**
 * The ring: where a key lives (paper §4.2 partitioning, §4.3 replication, §6.2 strategy 3).
 *
 * The MD5 output space [0, 2^128) is cut into Q equal partitions (Q a power of two, default 256), so the
 * partition of a key is simply the top log2(Q) bits of MD5(key). Each partition has exactly one owner.
 * A key's preference list starts at the owner of its partition and walks the ring clockwise, keeping
 * each node the first time it is met:
 *
 *                      partition 0
 *                 Q-1    .---.    1            key k: MD5(k) = 0x3f2a...
 *                    .-'  c  a  '-.                 |  top log2(Q) bits
 *                  .'  b         b  '.              v
 *                 /  a              c  \       partition p (owner a)
 *                |  c    clockwise    a |      preference list: a, c, b, ...   (first N: the replicas,
 *                 \  b      --->     b /        the rest: fallbacks of the sloppy quorum, paper §4.6)
 *                  '.  a          c .'
 *                    '-.  b  c  .-'
 *                        '---'
 *
 * Ownership is a pure function of the member set: every node that sees the same members (ids and
 * capacities), in whatever order it learned them, computes the same owners. There is no claim history
 * to agree on, which is what lets gossip converge on a ring without a coordinator (DESIGN.md §3).
 *
 * Which member owns which partition (the replay of joins, leaves and capacity changes) is decided in
 * `ring-placement.ts`; this module checks the members, holds the result and derives preference lists.
 */

import { md5 } from '@noble/hashes/legacy.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { InvalidOptionError } from './errors.js';
import { historyOf, replay, type ReplayState } from './ring-placement.js';
import type { NodeId } from './types.js';

/** Default number of partitions Q of a cluster (DESIGN.md §3). Fixed for the life of a cluster. */
export const DEFAULT_PARTITION_COUNT = 256;

/** Largest partition count `Ring.build` accepts (2^16: the partition is then the first two MD5 bytes). */
const MAX_PARTITION_COUNT = 65_536;

/** Most members `Ring.build` accepts; keeps every (partition, node) pair index within 32 bits. */
const MAX_MEMBERS = 65_536;

const TWO_POW_128 = 1n << 128n;

/**
 * A key's position on the ring (paper §4.2): MD5 of the key's UTF-8 bytes, read as an unsigned
 * big-endian 128-bit integer, in [0, 2^128). Lone surrogates encode as U+FFFD (`TextEncoder`).
 *
 * @throws TypeError when `key` is not a string.
 */
export function keyPosition(key: string): bigint {
  const digest = md5(utf8ToBytes(key));
  const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
  return (view.getBigUint64(0) << 64n) | view.getBigUint64(8);
}

/**
 * One node as the ring sees it (paper §6.2 strategy 3: nodes own whole partitions).
 * `id`: the node's id, unique in the cluster. `capacity`: a finite number > 0, a relative weight; a
 * node with capacity 2 owns about twice the partitions of a node with capacity 1.
 */
export interface RingMember {
  id: NodeId;
  capacity: number;
  /** When the member joined (ms; any monotonic scale shared by the cluster). Orders the replay of joins. Default 0. */
  joinedAtMs?: number;
  /**
   * When the member left the ring for good (paper §4.8.1 explicit removal), if it did. A departed
   * member owns nothing; it is kept in the replay so that its departure moves only its own partitions.
   */
  leftAtMs?: number;
  /**
   * The member's whole ring history, oldest first: each entry sets its capacity from `atMs` on, and
   * capacity 0 takes it out of the ring (a leave or removal); a later entry > 0 is a re-join. When
   * given it replaces `joinedAtMs`/`leftAtMs` in the replay (explicit membership changes, paper §4.8.1,
   * §4.9, heterogeneity §2); `capacity` is then only informative.
   */
  history?: readonly RingEvent[];
}

/** One change of a member's capacity in the ring (0 = out of the ring), at `atMs` (ms). */
export interface RingEvent {
  atMs: number;
  capacity: number;
}

/**
 * The ring's replay state at `atMs` (ring-placement.ts "Checkpoints"; issue 20): the members in the
 * ring then, with their join times (which order the replay) and capacities, and the owner of each
 * partition as an index into `members` (-1: none). A ring built from a checkpoint and the members'
 * events after it equals the ring built from every event, so records of members that left before it
 * can be dropped.
 */
export interface RingCheckpoint {
  atMs: number;
  members: { id: NodeId; joinedAtMs: number; capacity: number }[];
  owners: number[];
}

/**
 * An immutable assignment of Q equal partitions to member nodes, and the preference lists derived
 * from it (paper §4.2, §4.3, §6.2 strategy 3). Build one with `Ring.build`; build a new one whenever
 * the membership changes (adding or removing a node is explicit, paper §4.8.1).
 *
 * A member whose share rounds down to zero partitions (possible when there are more members than
 * partitions, or with a tiny capacity) owns nothing and appears in no preference list.
 */
export class Ring {
  /** Q: the number of partitions, a power of two in [1, 65536]. */
  readonly partitionCount: number;
  /** The members the ring was built from, sorted by id (code-unit order), frozen. */
  readonly members: readonly RingMember[];

  /** log2(Q): how many top bits of a position name its partition. */
  readonly #partitionBits: number;
  /** Owner of each partition, by index; empty for an empty ring. Frozen. */
  readonly #owners: readonly NodeId[];
  /** Partitions of each owning node, ascending. */
  readonly #partitionsByNode: ReadonlyMap<NodeId, readonly number[]>;
  /** How many distinct nodes own at least one partition (the length of every preference list). */
  readonly #owningNodeCount: number;
  /** Preference lists, computed on first use per partition. */
  readonly #preferenceLists: (readonly NodeId[] | undefined)[];

  private constructor(partitionCount: number, members: readonly RingMember[], owners: readonly NodeId[]) {
    this.partitionCount = partitionCount;
    this.members = members;
    this.#partitionBits = Math.log2(partitionCount);
    this.#owners = owners;
    const byNode = new Map<NodeId, number[]>();
    owners.forEach((node, partition) => {
      const list = byNode.get(node);
      if (list) list.push(partition);
      else byNode.set(node, [partition]);
    });
    this.#partitionsByNode = byNode;
    this.#owningNodeCount = byNode.size;
    this.#preferenceLists = new Array<readonly NodeId[] | undefined>(owners.length).fill(undefined);
  }

  /**
   * Builds the ring of `members` with `partitionCount` partitions (paper §6.2 strategy 3, see the
   * header of `ring-placement.ts` for the rule). The result depends only on the set of (id, capacity) pairs, not on
   * their order. Zero members give an empty ring, whose preference lists are empty.
   *
   * Cost: O(Q * members) hashing in a few passes; Q = 256 with 100 members takes a few milliseconds.
   *
   * @param members nodes that own partitions (at most 65536); ids unique, capacities finite and > 0.
   * @param partitionCount Q, a power of two in [1, 65536]; default `DEFAULT_PARTITION_COUNT`.
   * @throws InvalidOptionError when `partitionCount` is not a power of two in [1, 65536], a capacity is
   *   not a finite number > 0, an id is not a non-empty string, ids repeat, or there are more than
   *   65536 members.
   */
  static build(members: readonly RingMember[], partitionCount: number = DEFAULT_PARTITION_COUNT, checkpoint?: RingCheckpoint): Ring {
    if (
      typeof partitionCount !== 'number' ||
      !Number.isInteger(partitionCount) ||
      partitionCount < 1 ||
      partitionCount > MAX_PARTITION_COUNT ||
      (partitionCount & (partitionCount - 1)) !== 0
    ) {
      throw new InvalidOptionError(`partitionCount must be a power of two between 1 and ${MAX_PARTITION_COUNT}, got ${String(partitionCount)}`);
    }
    checkMembers(members);
    if (checkpoint !== undefined) checkCheckpoint(checkpoint, partitionCount);
    const { joinOrder, from } = prepareReplay(members, partitionCount, checkpoint);
    const { owner: ownerIndex, weight } = replay(joinOrder, partitionCount, from);
    // In the ring now: last history entry > 0 (with a checkpoint: a capacity > 0 at the end of the replay).
    const sorted = joinOrder.filter((m, i) => (checkpoint ? weight[i]! > 0 : m.leftAtMs === undefined)).sort((a, b) => compareIds(a.id, b.id));
    const frozenMembers = Object.freeze(sorted);
    if (sorted.length === 0 || ownerIndex.every((i) => i === -1)) return new Ring(partitionCount, frozenMembers, Object.freeze([]));
    const owners = Object.freeze(Array.from(ownerIndex, (i) => joinOrder[i]!.id));
    return new Ring(partitionCount, frozenMembers, owners);
  }

  /**
   * The replay's state at `atMs` (every history event at or before it; ring-placement.ts
   * "Checkpoints"), starting from `base` when given: a ring built from it and the members' later events
   * is the ring built from every event. Members out of the ring at `atMs` whose history ends by then
   * are not needed by such a ring any more.
   * @throws InvalidOptionError as {@link Ring.build}; RangeError when `atMs` is before `base.atMs`.
   */
  static checkpoint(members: readonly RingMember[], partitionCount: number, atMs: number, base?: RingCheckpoint): RingCheckpoint {
    if (base !== undefined && atMs < base.atMs) throw new RangeError(`a checkpoint at ${atMs} cannot follow one at ${base.atMs}`);
    Ring.build([], partitionCount); // checks the partition count
    checkMembers(members);
    const { joinOrder, from } = prepareReplay(members, partitionCount, base);
    const { owner, weight } = replay(joinOrder, partitionCount, from, atMs);
    const kept = joinOrder.map((m, i) => ({ id: m.id, joinedAtMs: m.joinedAtMs, capacity: weight[i]!, i })).filter((m) => m.capacity > 0);
    const indexOf = new Map(kept.map((m, k) => [m.i, k]));
    return {
      atMs,
      members: kept.map(({ id, joinedAtMs, capacity }) => ({ id, joinedAtMs, capacity })),
      owners: Array.from(owner, (i) => (i === -1 ? -1 : (indexOf.get(i) ?? -1))),
    };
  }

  /**
   * The partition of `key` (paper §4.2): the top log2(Q) bits of `keyPosition(key)`, in [0, Q).
   * @throws TypeError when `key` is not a string.
   */
  partitionOfKey(key: string): number {
    if (this.#partitionBits === 0) {
      utf8ToBytes(key); // same argument check as keyPosition
      return 0;
    }
    const digest = md5(utf8ToBytes(key));
    const top32 = ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
    return top32 >>> (32 - this.#partitionBits);
  }

  /**
   * The partition holding a ring position (top log2(Q) bits of a 128-bit position), in [0, Q).
   * @throws RangeError when `position` is outside [0, 2^128) (a programmer error).
   */
  partitionOfPosition(position: bigint): number {
    if (typeof position !== 'bigint' || position < 0n || position >= TWO_POW_128) {
      throw new RangeError(`ring position must be a bigint in [0, 2^128), got ${String(position)}`);
    }
    return Number(position >> BigInt(128 - this.#partitionBits));
  }

  /**
   * The node that owns `partition` (the first node of its preference list).
   * @throws RangeError when the ring is empty or `partition` is not an integer in [0, Q) (programmer errors).
   */
  owner(partition: number): NodeId {
    this.#checkPartition(partition);
    const node = this.#owners[partition];
    if (node === undefined) throw new RangeError('the ring is empty: no node owns partitions');
    return node;
  }

  /** Owner of every partition, indexed by partition (length Q); empty for an empty ring. Frozen. */
  owners(): readonly NodeId[] {
    return this.#owners;
  }

  /** The partitions `node` owns, ascending; `[]` when it owns none or is not a member. A fresh array. */
  partitionsOf(node: NodeId): number[] {
    return [...(this.#partitionsByNode.get(node) ?? [])];
  }

  /**
   * The preference list of `key` (paper §4.3): every node that owns a partition, each once, in the
   * order met walking partitions clockwise from the key's partition. The first N are the key's
   * replicas (the first is the owner of its partition); the rest are, in order, the fallback nodes
   * that take writes with a hint when replicas are unreachable (sloppy quorum, paper §4.6).
   * Empty for an empty ring. The array is cached and frozen: do not modify it.
   * @throws TypeError when `key` is not a string.
   */
  preferenceList(key: string): NodeId[] {
    return this.preferenceListForPartition(this.partitionOfKey(key));
  }

  /**
   * The preference list shared by every key of `partition` (see `preferenceList`). Computed on first
   * use and cached; the returned array is frozen and must be treated as read-only. Empty for an empty
   * ring.
   * @throws RangeError when `partition` is not an integer in [0, Q) (a programmer error).
   */
  preferenceListForPartition(partition: number): NodeId[] {
    this.#checkPartition(partition);
    if (this.#owners.length === 0) return EMPTY_LIST as NodeId[];
    const cached = this.#preferenceLists[partition];
    // The cache holds frozen arrays; the mutable type is kept for callers that only read.
    if (cached) return cached as NodeId[];
    const list: NodeId[] = [];
    const seen = new Set<NodeId>();
    const q = this.#owners.length;
    for (let step = 0; step < q && list.length < this.#owningNodeCount; step++) {
      const node = this.#owners[(partition + step) % q]!;
      if (!seen.has(node)) {
        seen.add(node);
        list.push(node);
      }
    }
    Object.freeze(list);
    this.#preferenceLists[partition] = list;
    return list;
  }

  /**
   * How many partitions have a different owner in `a` and in `b` (the partitions a membership change
   * hands off, paper §4.9). Against an empty ring every partition counts as moved; two empty rings
   * differ in none.
   * @throws RangeError when the rings have different partition counts (a programmer error).
   */
  static movedPartitions(a: Ring, b: Ring): number {
    if (a.partitionCount !== b.partitionCount) {
      throw new RangeError(`cannot compare rings of ${a.partitionCount} and ${b.partitionCount} partitions`);
    }
    const ownersA = a.#owners;
    const ownersB = b.#owners;
    if (ownersA.length === 0 && ownersB.length === 0) return 0;
    let moved = 0;
    for (let p = 0; p < a.partitionCount; p++) if (ownersA[p] !== ownersB[p]) moved++;
    return moved;
  }

  #checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitionCount) {
      throw new RangeError(`partition must be an integer in [0, ${this.partitionCount}), got ${String(partition)}`);
    }
  }
}

/** The preference list of every partition of an empty ring. */
const EMPTY_LIST: readonly NodeId[] = Object.freeze([]);

/**
 * Checks ring members as {@link Ring.build} documents.
 * @throws InvalidOptionError naming the first problem.
 */
function checkMembers(members: readonly RingMember[]): void {
  if (members.length > MAX_MEMBERS) {
    throw new InvalidOptionError(`a ring holds at most ${MAX_MEMBERS} members, got ${members.length}`);
  }
  for (const member of members) {
    if (typeof member.id !== 'string' || member.id.length === 0) {
      throw new InvalidOptionError(`a ring member's id must be a non-empty string, got ${JSON.stringify(member.id)}`);
    }
    const { capacity } = member;
    if (typeof capacity !== 'number' || !Number.isFinite(capacity) || capacity <= 0) {
      throw new InvalidOptionError(`capacity of ${member.id} must be a finite number > 0, got ${String(capacity)}`);
    }
  }
  for (const member of members) {
    for (const field of ['joinedAtMs', 'leftAtMs'] as const) {
      const value = member[field];
      if (value !== undefined && !Number.isFinite(value)) {
        throw new InvalidOptionError(`${field} of ${member.id} must be a finite number, got ${String(value)}`);
      }
    }
  }
  for (const member of members) {
    if (member.history === undefined) continue;
    if (!Array.isArray(member.history) || member.history.length === 0) {
      throw new InvalidOptionError(`history of ${member.id} must be a non-empty array`);
    }
    for (const event of member.history) {
      if (!Number.isFinite(event.atMs) || !Number.isFinite(event.capacity) || event.capacity < 0) {
        throw new InvalidOptionError(`history of ${member.id} has an invalid entry ${JSON.stringify(event)}`);
      }
    }
  }
  const ids = members.map((m) => m.id).sort(compareIds);
  for (let i = 1; i < ids.length; i++) if (ids[i] === ids[i - 1]) throw new InvalidOptionError(`duplicate ring member id ${ids[i]}`);
}

/**
 * Checks a checkpoint's shape against a ring of `partitionCount` partitions.
 * @throws InvalidOptionError naming the first problem.
 */
export function checkCheckpoint(checkpoint: RingCheckpoint, partitionCount: number): void {
  const { atMs, members, owners } = checkpoint;
  if (!Number.isFinite(atMs)) throw new InvalidOptionError(`a checkpoint's time must be finite, got ${String(atMs)}`);
  if (!Array.isArray(owners) || owners.length !== partitionCount) throw new InvalidOptionError(`a checkpoint names an owner for each of the ${partitionCount} partitions`);
  const ids = new Set<NodeId>();
  for (const m of members) {
    if (typeof m.id !== 'string' || m.id.length === 0 || ids.has(m.id)) throw new InvalidOptionError(`a checkpoint's member ids must be distinct non-empty strings, got ${JSON.stringify(m.id)}`);
    if (!Number.isFinite(m.joinedAtMs) || !Number.isFinite(m.capacity) || m.capacity <= 0) throw new InvalidOptionError(`checkpoint member ${m.id} has an invalid join time or capacity`);
    ids.add(m.id);
  }
  for (const i of owners) if (!Number.isInteger(i) || i < -1 || i >= members.length) throw new InvalidOptionError(`a checkpoint's owner index ${String(i)} names no member`);
}

/** A member as the replay takes it: its history frozen, join time from its first entry. */
type ReplayMember = Readonly<RingMember> & { joinedAtMs: number; history: readonly RingEvent[] };

/**
 * The replay's members in join order and, with a checkpoint, the state it starts from: the
 * checkpoint's members (from their records when known) and every member with an event after it.
 */
function prepareReplay(members: readonly RingMember[], partitionCount: number, checkpoint: RingCheckpoint | undefined): { joinOrder: ReplayMember[]; from: ReplayState | undefined } {
  const byId = new Map<NodeId, ReplayMember>();
  for (const m of members) {
    const history = historyOf(m);
    byId.set(
      m.id,
      Object.freeze({
        id: m.id,
        capacity: m.capacity,
        joinedAtMs: history[0]!.atMs,
        ...(history[history.length - 1]!.capacity === 0 ? { leftAtMs: history[history.length - 1]!.atMs } : {}),
        history,
      }),
    );
  }
  if (checkpoint === undefined) {
    const joinOrder = [...byId.values()].sort((a, b) => a.joinedAtMs - b.joinedAtMs || compareIds(a.id, b.id));
    return { joinOrder, from: undefined };
  }
  const atT = new Map(checkpoint.members.map((m) => [m.id, m]));
  const kept: ReplayMember[] = [];
  for (const m of byId.values()) {
    const at = atT.get(m.id);
    // The checkpoint fixes the join time it was made with, so every node orders the replay alike.
    if (at !== undefined) kept.push(Object.freeze({ ...m, joinedAtMs: at.joinedAtMs }));
    else if (m.history.some((e) => e.atMs > checkpoint.atMs)) kept.push(m);
  }
  for (const at of checkpoint.members) {
    if (!byId.has(at.id)) kept.push(Object.freeze({ id: at.id, capacity: at.capacity, joinedAtMs: at.joinedAtMs, history: Object.freeze([Object.freeze({ atMs: at.joinedAtMs, capacity: at.capacity })]) }));
  }
  const joinOrder = kept.sort((a, b) => a.joinedAtMs - b.joinedAtMs || compareIds(a.id, b.id));
  const indexOf = new Map(joinOrder.map((m, i) => [m.id, i]));
  const weight = new Float64Array(joinOrder.length);
  for (const at of checkpoint.members) weight[indexOf.get(at.id)!] = at.capacity;
  const owner = Int32Array.from(checkpoint.owners, (k) => (k === -1 ? -1 : indexOf.get(checkpoint.members[k]!.id)!));
  return { joinOrder, from: { atMs: checkpoint.atMs, owner, weight } };
}

/** Code-unit order of ids, the same in every JavaScript engine. */
function compareIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
