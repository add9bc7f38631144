/**
 * The gossiped membership map (paper §4.8.1; DESIGN.md §3 "Membership and failure detection").
 *
 * Each member's record is written only by that member and carries a `version` it bumps on every change;
 * merging two maps keeps, per member, the record with the higher version. The merge is commutative,
 * associative and idempotent, so gossip in any order converges, and every node that holds the same map
 * computes the same ring (`Ring.build` is a function of the members alone).
 *
 *   node a: { a@3, b@1 }  ──gossip──▶  node b: { b@2 }   ⇒   both: { a@3, b@2 }
 *
 * Removals (an operator's "this node is gone for good", §4.8.1) are statements of their own, never an
 * edit of the removed node's record: `{ target, by, atMs }`, signed by the member that made it
 * (issue 16). The set of removals is merged by union (per target the earliest statement is kept, so
 * every node keeps the same one); a removed node stays removed whatever record it writes later. The
 * view the rest of the core reads (`get`, `all`, `ringMembers`) applies them: a removed member shows
 * as `left`, its history closed with capacity 0. The raw records (`raw`, `gossipRecords`) are what is
 * signed and gossiped.
 *
 * Compaction (issue 20). Records of members that left are needed only by the ring's replay of history.
 * Once the map holds a ring checkpoint (ring.ts `RingCheckpoint`: the replay's state at a time T, made
 * long after T, see member-compaction.ts), the records of members that left at or before T are dropped,
 * and such records arriving by gossip are not taken again; the checkpoint is gossiped instead (the
 * latest one wins). Removal statements are kept: a removed node stays refused.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { RingCheckpoint, RingEvent, RingMember } from './ring.js';
import type { NodeId } from './types.js';

/**
 * `up`: in the ring. `leaving`: left the ring (its last history entry has capacity 0) and is still handing
 * its data to the new owners (paper §4.9). `left`: gone, holds nothing; an operator's removal writes it at
 * once. A temporary failure never changes a member's status (failure detection is local, §4.8.3).
 */
export type MemberStatus = 'up' | 'leaving' | 'left';

/** One member as gossiped. `capacity` is a relative weight (> 0); `version` orders its updates. */
export interface MemberRecord {
  id: NodeId;
  capacity: number;
  status: MemberStatus;
  version: number;
  /** When the node first joined (ms, its own clock); orders the ring's replay of joins (see ring.ts). */
  joinedAtMs: number;
  /**
   * Raised by the node itself on every start and whenever it hears itself suspected (SWIM): a record
   * with a higher incarnation proves the node is up again and clears suspicions of it.
   */
  incarnation: number;
  /**
   * Every explicit change of the member's place in the ring, oldest first: join (capacity > 0),
   * capacity change, leave or removal (capacity 0), re-join. The ring replays these (ring.ts), so it
   * is a function of the gossiped records alone.
   */
  history: RingEvent[];
  /**
   * Partitions the member replicates in its current ring but has not yet received from their previous
   * holders (ownership handoff in progress, §4.9). Its answers for them do not count towards quorums.
   * (Gossiped also as `pending` for tabs of earlier versions: see {@link withLegacyFieldNames}.)
   */
  pendingPartitions: number[];
  /**
   * Partitions whose data the member holds without replicating them: it is handing them off (§4.9).
   * (Gossiped also as `handoffs` for tabs of earlier versions.)
   */
  handoffPartitions: number[];
  /** The member's raw Ed25519 public key (its id is derived from it); absent where records are not signed. */
  publicKey?: Uint8Array;
  /** The member's signature over {@link recordSigningFields} of this record; absent where records are not signed. */
  signature?: Uint8Array;
}

/** A signed statement that `by` removed `target` from the cluster at `atMs` (ms, by's clock). */
export interface Removal {
  target: NodeId;
  by: NodeId;
  atMs: number;
  /** `by`'s signature over {@link removalSigningFields}; absent where statements are not signed. */
  signature?: Uint8Array;
}

/** What a record's signature covers, in order (encoded by the signer with MessagePack). */
export function recordSigningFields(r: MemberRecord): unknown[] {
  return [
    'tabdynamo-record/v1',
    r.id,
    r.capacity,
    r.status,
    r.version,
    r.joinedAtMs,
    r.incarnation,
    r.history.map((e) => [e.atMs, e.capacity]),
    r.pendingPartitions,
    r.handoffPartitions,
    r.publicKey ?? null,
  ];
}

/** What a removal's signature covers, in order. */
export function removalSigningFields(r: Removal): unknown[] {
  return ['tabdynamo-removal/v1', r.target, r.by, r.atMs];
}

/** Orders two removals of one target: the earlier wins, then the smaller remover id. */
function earlierRemoval(a: Removal, b: Removal): Removal {
  if (a.atMs !== b.atMs) return a.atMs < b.atMs ? a : b;
  return a.by <= b.by ? a : b;
}

/** A record as the removal makes it look: left, its ring history closed with capacity 0. */
function removedView(record: MemberRecord, removal: Removal): MemberRecord {
  const last = record.history[record.history.length - 1];
  const history = inRing(record) ? [...record.history, { atMs: Math.max(removal.atMs, last?.atMs ?? removal.atMs), capacity: 0 }] : record.history;
  return { ...record, status: 'left', history, pendingPartitions: [], handoffPartitions: [] };
}

/** Orders two records of the same member: higher version wins; equal versions fall back to content. */
export function newerRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.version !== b.version) return a.version > b.version ? a : b;
  // Equal versions with different contents only arise from a node that lost its state; pick one
  // deterministically so that every node picks the same.
  return recordKey(a) >= recordKey(b) ? a : b;
}

/** A checkpoint's content as a string, to compare and digest. */
function checkpointKey(c: RingCheckpoint): string {
  return `${c.atMs}|${c.members.map((m) => `${m.id}:${m.joinedAtMs}:${m.capacity}`).join(',')}|${c.owners.join(',')}`;
}

function recordKey(r: MemberRecord): string {
  return `${r.status}|${r.capacity}|${r.joinedAtMs}|${r.incarnation}|${JSON.stringify(r.history)}|${r.pendingPartitions.join(',')}|${r.handoffPartitions.join(',')}`;
}

/**
 * A node's view of the membership. Not thread-safe in any sense: it belongs to one node's core.
 */
export class Membership {
  private readonly records = new Map<NodeId, MemberRecord>();
  private readonly removed = new Map<NodeId, Removal>();
  /** The ring checkpoint records were compacted into, if any. */
  private latestCheckpoint: RingCheckpoint | undefined;
  /** Records dropped by compaction (statistics). */
  compacted = 0;
  /** Bumped on every change of the records, removals or checkpoint (gossip caches its digest by it). */
  generation = 0;

  constructor(readonly self: NodeId) {}

  /** The ring checkpoint the ring is replayed from, if records were compacted. */
  get checkpoint(): RingCheckpoint | undefined {
    return this.latestCheckpoint;
  }

  /**
   * Takes `checkpoint` when it is later than the one held (at equal times, the one whose content sorts
   * first, so every node keeps the same), and drops the records of members that left at or before it.
   * @returns true when it changed the view.
   */
  compact(checkpoint: RingCheckpoint): boolean {
    const current = this.latestCheckpoint;
    if (current !== undefined && (checkpoint.atMs < current.atMs || (checkpoint.atMs === current.atMs && checkpointKey(checkpoint) >= checkpointKey(current)))) return false;
    this.generation++;
    this.latestCheckpoint = { atMs: checkpoint.atMs, members: checkpoint.members.map((m) => ({ ...m })), owners: [...checkpoint.owners] };
    for (const id of [...this.records.keys()]) {
      if (id !== this.self && this.departedBy(this.get(id)!)) {
        this.records.delete(id);
        this.compacted++;
      }
    }
    return true;
  }

  /** Whether `view` (removals applied) left the ring at or before the checkpoint: its record is not needed. */
  private departedBy(view: MemberRecord): boolean {
    const checkpoint = this.latestCheckpoint;
    if (checkpoint === undefined || view.status !== 'left') return false;
    const last = view.history[view.history.length - 1];
    return last !== undefined && last.capacity === 0 && last.atMs <= checkpoint.atMs;
  }

  /** The record of `id` as the core sees it (removals applied), if known. */
  get(id: NodeId): MemberRecord | undefined {
    const record = this.records.get(id);
    const removal = this.removed.get(id);
    return record !== undefined && removal !== undefined ? removedView(record, removal) : record;
  }

  /** `record` as the core would see it (its removal applied). */
  private viewOf(record: MemberRecord): MemberRecord {
    const removal = this.removed.get(record.id);
    return removal !== undefined ? removedView(record, removal) : record;
  }

  /** The record of `id` as its member wrote it (what is signed and gossiped). */
  raw(id: NodeId): MemberRecord | undefined {
    return this.records.get(id);
  }

  /** Every known record, removals applied, sorted by id. */
  all(): MemberRecord[] {
    return this.gossipRecords().map((r) => this.get(r.id)!);
  }

  /** Every known record as written by its member, sorted by id: what gossip carries. */
  gossipRecords(): MemberRecord[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** How many records are known (departed members included). */
  get size(): number {
    return this.records.size;
  }

  /** Every removal known, sorted by target. */
  removals(): Removal[] {
    return [...this.removed.values()].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  }

  /** The removal of `id`, if it was removed. */
  removalOf(id: NodeId): Removal | undefined {
    return this.removed.get(id);
  }

  /** True when `id` was removed from the cluster. */
  isRemoved(id: NodeId): boolean {
    return this.removed.has(id);
  }

  /**
   * Adds a removal statement (checked by the caller). Per target the earliest statement is kept, so the
   * merge is commutative, associative and idempotent like the records'.
   * @returns true when it changed the view (a new target, or an earlier statement of a known one).
   */
  addRemoval(removal: Removal): boolean {
    const known = this.removed.get(removal.target);
    const winner = known === undefined ? removal : earlierRemoval(known, removal);
    if (known !== undefined && (winner === known || (winner.atMs === known.atMs && winner.by === known.by))) return false;
    this.removed.set(removal.target, { ...removal });
    this.generation++;
    return true;
  }

  /** Sets the signature of a record this node holds, if it is still at `version`. */
  setSignature(id: NodeId, version: number, signature: Uint8Array): void {
    const record = this.records.get(id);
    if (record?.version === version) {
      record.signature = signature;
      this.generation++;
    }
  }

  /** Ids of every known member other than this node. */
  peers(): NodeId[] {
    return this.all()
      .filter((r) => r.id !== this.self && r.status !== 'left')
      .map((r) => r.id);
  }

  /**
   * Every member ever known with its ring history, as the ring wants them: departed members stay, so
   * that replaying the history moves only what each change must move (ring.ts).
   */
  ringMembers(): RingMember[] {
    return this.all().map((r) => ({ id: r.id, capacity: r.capacity, joinedAtMs: r.joinedAtMs, history: r.history }));
  }

  /**
   * Merges records received by gossip.
   * @returns true when anything changed the view.
   */
  merge(incoming: readonly MemberRecord[]): boolean {
    let changed = false;
    for (const record of incoming) {
      const current = this.records.get(record.id);
      // A member that left before the checkpoint: compacted, not taken again.
      if (record.id !== this.self && this.departedBy(this.viewOf(record))) {
        if (current !== undefined) {
          this.records.delete(record.id);
          this.generation++;
        }
        continue;
      }
      if (current === undefined) {
        this.records.set(record.id, { ...record });
        this.generation++;
        changed = true;
        continue;
      }
      const winner = newerRecord(current, record);
      if (winner !== current) {
        this.records.set(record.id, { ...record });
        this.generation++;
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Changes this node's own record (the only record a node writes), bumping its version.
   * @returns the new record.
   */
  updateSelf(change: RecordChange, minVersion = 0): MemberRecord {
    return this.update(this.self, change, minVersion);
  }

  private update(id: NodeId, change: RecordChange, minVersion: number): MemberRecord {
    const current = this.records.get(id);
    const joinedAtMs = change.joinedAtMs ?? current?.joinedAtMs ?? 0;
    const capacity = change.capacity ?? current?.capacity ?? 1;
    const record: MemberRecord = {
      id,
      capacity,
      status: change.status ?? current?.status ?? 'up',
      version: Math.max((current?.version ?? 0) + 1, minVersion),
      joinedAtMs,
      incarnation: change.incarnation ?? current?.incarnation ?? 0,
      history: (change.history ?? current?.history ?? [{ atMs: joinedAtMs, capacity }]).map((e) => ({ ...e })),
      pendingPartitions: [...(change.pendingPartitions ?? current?.pendingPartitions ?? [])],
      handoffPartitions: [...(change.handoffPartitions ?? current?.handoffPartitions ?? [])],
      // A changed record needs a new signature (the node signs its own record: see NodeCore).
      ...((change.publicKey ?? current?.publicKey) !== undefined ? { publicKey: change.publicKey ?? current?.publicKey } : {}),
    };
    this.records.set(id, record);
    this.generation++;
    return record;
  }
}

/** Fields of a record its writer may change. */
export type RecordChange = Partial<Pick<MemberRecord, 'capacity' | 'status' | 'joinedAtMs' | 'incarnation' | 'history' | 'pendingPartitions' | 'handoffPartitions' | 'publicKey'>>;

/**
 * Signs and checks membership statements (issue 16; DESIGN.md §3 "Security"): a node signs its own
 * record and the removals it makes; every other node checks them before they change its view. A tab
 * uses its Ed25519 node key (WebCrypto), bound to the cluster; the simulation uses test keys.
 */
export interface MembershipAuthority {
  /** This node's raw public key, carried in its record. */
  readonly publicKey: Uint8Array;
  /** Signs `fields` (see {@link recordSigningFields}, {@link removalSigningFields}) with this node's key. */
  sign(fields: unknown[]): Promise<Uint8Array>;
  /** Whether `signature` over `fields` was made with the key `publicKey`. Never rejects. */
  verify(publicKey: Uint8Array, fields: unknown[], signature: Uint8Array): Promise<boolean>;
  /** The node id `publicKey` belongs to. */
  nodeIdOf(publicKey: Uint8Array): Promise<NodeId>;
}

/** True when the member is in the ring now (its last history entry has capacity > 0). */
export function inRing(record: MemberRecord): boolean {
  const last = record.history[record.history.length - 1];
  return last !== undefined && last.capacity > 0;
}

/**
 * Field names of a member record before they said what they count (`pending` and `handoffs`, both
 * lists of partitions). Records are gossiped and stored with both the current and these names, so
 * that tabs still running an earlier version keep reading them; a record read from gossip or from
 * storage may carry either (messages.ts and {@link fromStoredRecord} accept both). The legacy names
 * can be dropped once no tab runs a version that needs them.
 */
export interface LegacyRecordFields {
  pending?: number[];
  handoffs?: number[];
}

/** `record` with the legacy field names added (for gossip and storage). */
export function withLegacyFieldNames(record: MemberRecord): MemberRecord & LegacyRecordFields {
  return { ...record, pending: record.pendingPartitions, handoffs: record.handoffPartitions };
}

/**
 * A record as stored by any version: the partition lists under their current names, taken from the
 * legacy ones when only those are present; the legacy names themselves dropped.
 */
export function fromStoredRecord<T extends Partial<MemberRecord> & LegacyRecordFields>(stored: T): Omit<T, 'pending' | 'handoffs'> & Pick<MemberRecord, 'pendingPartitions' | 'handoffPartitions'> {
  const { pending, handoffs, ...rest } = stored;
  return { ...rest, pendingPartitions: stored.pendingPartitions ?? pending ?? [], handoffPartitions: stored.handoffPartitions ?? handoffs ?? [] };
}

/**
 * One 16-byte hash of a membership view: every record as gossiped (all its fields, signatures
 * included), every removal statement, the members' load reports by sequence number, in id order, and
 * the ring checkpoint.
 * Two nodes whose digests agree hold the same records, removals and loads (up to a collision of
 * SHA-256), so an idle gossip round exchanges this hash instead of all of them (issue 19).
 */
export function membershipDigest(records: readonly MemberRecord[], removals: readonly Removal[], loads: readonly { id: NodeId; seq: number }[] = [], checkpoint?: RingCheckpoint): Uint8Array {
  const hex = (bytes: Uint8Array | undefined): string => (bytes === undefined ? '-' : Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(''));
  const lines = [...records]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((r) => `r|${r.id}|${r.version}|${recordKey(r)}|${hex(r.publicKey)}|${hex(r.signature)}`);
  for (const removal of [...removals].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0))) {
    lines.push(`x|${removal.target}|${removal.by}|${removal.atMs}|${hex(removal.signature)}`);
  }
  for (const load of [...loads].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) lines.push(`l|${load.id}|${load.seq}`);
  if (checkpoint !== undefined) lines.push(`c|${checkpointKey(checkpoint)}`);
  return sha256(new TextEncoder().encode(lines.join('\n'))).slice(0, 16);
}
