/**
 * The gossiped membership map (paper §4.8.1; DESIGN.md §3 "Membership and failure detection").
 *
 * Each member's record is written only by that member and carries a `version` it bumps on every change;
 * merging two maps keeps, per member, the record with the higher version. The merge is commutative,
 * associative and idempotent, so gossip in any order converges, and every node that holds the same map
 * computes the same ring (`Ring.build` is a function of the members alone).
 *
 *   node a: { a@3, b@1 }  ──gossip──▶  node b: { b@2 }   ⇒   both: { a@3, b@2 }
 */
import type { RingEvent, RingMember } from './ring.js';
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
   * holders (handoff in progress, §4.9). Its answers for them do not count towards quorums.
   */
  pending: number[];
  /** Partitions whose data the member holds without replicating them: it is handing them off (§4.9). */
  handoffs: number[];
}

/** Orders two records of the same member: higher version wins; equal versions fall back to content. */
export function newerRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.version !== b.version) return a.version > b.version ? a : b;
  // Equal versions with different contents only arise from a node that lost its state; pick one
  // deterministically so that every node picks the same.
  return recordKey(a) >= recordKey(b) ? a : b;
}

function recordKey(r: MemberRecord): string {
  return `${r.status}|${r.capacity}|${r.joinedAtMs}|${r.incarnation}|${JSON.stringify(r.history)}|${r.pending.join(',')}|${r.handoffs.join(',')}`;
}

/**
 * A node's view of the membership. Not thread-safe in any sense: it belongs to one node's core.
 */
export class Membership {
  private readonly records = new Map<NodeId, MemberRecord>();

  constructor(readonly self: NodeId) {}

  /** The record of `id`, if known. */
  get(id: NodeId): MemberRecord | undefined {
    return this.records.get(id);
  }

  /** Every known record, sorted by id. */
  all(): MemberRecord[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
      if (current === undefined) {
        this.records.set(record.id, { ...record });
        changed = true;
        continue;
      }
      const winner = newerRecord(current, record);
      if (winner !== current) {
        this.records.set(record.id, { ...record });
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

  /**
   * Writes another member's record: only an operator's removal of a node that is gone for good does
   * this (paper §4.8.1); the higher version makes the removal win over the node's own record.
   * @returns the new record.
   */
  updateOther(id: NodeId, change: RecordChange, minVersion = 0): MemberRecord {
    return this.update(id, change, minVersion);
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
      pending: [...(change.pending ?? current?.pending ?? [])],
      handoffs: [...(change.handoffs ?? current?.handoffs ?? [])],
    };
    this.records.set(id, record);
    return record;
  }
}

/** Fields of a record its writer may change. */
export type RecordChange = Partial<Pick<MemberRecord, 'capacity' | 'status' | 'joinedAtMs' | 'incarnation' | 'history' | 'pending' | 'handoffs'>>;

/** True when the member is in the ring now (its last history entry has capacity > 0). */
export function inRing(record: MemberRecord): boolean {
  const last = record.history[record.history.length - 1];
  return last !== undefined && last.capacity > 0;
}
