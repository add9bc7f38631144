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
import type { RingMember } from './ring.js';
import type { NodeId } from './types.js';

/**
 * `up`: owns partitions. `leaving`/`left` are reserved for explicit departure (paper §4.9, a later step);
 * a temporary failure never changes a member's status (failure detection is local, §4.8.3).
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
}

/** Orders two records of the same member: higher version wins; equal versions fall back to content. */
export function newerRecord(a: MemberRecord, b: MemberRecord): MemberRecord {
  if (a.version !== b.version) return a.version > b.version ? a : b;
  // Equal versions with different contents only arise from a node that lost its state; pick one
  // deterministically so that every node picks the same.
  return recordKey(a) >= recordKey(b) ? a : b;
}

function recordKey(r: MemberRecord): string {
  return `${r.status}|${r.capacity}|${r.joinedAtMs}|${r.incarnation}`;
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

  /** Members that own partitions (status `up`), as the ring wants them. */
  ringMembers(): RingMember[] {
    return this.all()
      .filter((r) => r.status === 'up')
      .map((r) => ({ id: r.id, capacity: r.capacity, joinedAtMs: r.joinedAtMs }));
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
  updateSelf(change: Partial<Pick<MemberRecord, 'capacity' | 'status' | 'joinedAtMs' | 'incarnation'>>, minVersion = 0): MemberRecord {
    const current = this.records.get(this.self);
    const record: MemberRecord = {
      id: this.self,
      capacity: change.capacity ?? current?.capacity ?? 1,
      status: change.status ?? current?.status ?? 'up',
      version: Math.max((current?.version ?? 0) + 1, minVersion),
      joinedAtMs: change.joinedAtMs ?? current?.joinedAtMs ?? 0,
      incarnation: change.incarnation ?? current?.incarnation ?? 0,
    };
    this.records.set(this.self, record);
    return record;
  }
}
