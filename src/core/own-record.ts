/**
 * This node's own member record (paper §4.8.1): what it remembers across restarts, and the explicit
 * membership changes it makes — join, capacity change, leave (§4.9), and the removal of another node.
 *
 * Only this node writes its record, and every change raises its version, which must never go back,
 * even across restarts: the record is saved in the store's metadata (`self`), beside the members it
 * knew (`members`) and the removals (`removals`), and a start announces a version higher than any it
 * gossiped before, with a new incarnation (SWIM: it is back).
 */
import { InvalidOptionError, NodeNotRunningError, StoredStateLostError } from './errors.js';
import { fromStoredRecord, inRing, removalSigningFields, withLegacyFieldNames, type LegacyRecordFields, type Membership, type MemberRecord, type MembershipAuthority, type RecordChange, type Removal } from './membership.js';
import type { NodeEvent } from './node-api.js';
import { checkCapacity } from './node-config.js';
import type { Clock, Store } from './ports.js';
import { checkCheckpoint, Ring, type RingCheckpoint } from './ring.js';
import type { NodeId } from './types.js';

/** Store metadata names. */
export const META_SELF = 'self';
export const META_MEMBERS = 'members';
export const META_REMOVALS = 'removals';
/** The ring checkpoint departed members were compacted into (member-compaction.ts). */
export const META_CHECKPOINT = 'ring-checkpoint';

/** This node's own record as saved in the store's metadata. */
type StoredSelf = Partial<MemberRecord> & LegacyRecordFields & { version: number };

/** What the own record needs from its node. */
export interface OwnRecordPorts {
  self: NodeId;
  store: Store;
  clock: Clock;
  membership: Membership;
  authority: MembershipAuthority | undefined;
  settings(): { capacity: number; partitionCount: number };
  running(): boolean;
  /** The membership changed: rebuild the ring, tell the detector, save, emit. */
  membershipChanged(): void;
  /** Gossip at the next tick. */
  gossipSoon(): void;
  emit(event: NodeEvent): void;
  reportError(error: unknown, context: string): void;
  /** True while this node holds hints (a leaving node passes them on before it has left). */
  holdsHints(): boolean;
  /** Starts passing hints on (leaving, every partition handed off). */
  passHints(): void;
}

/** This node's record, its persistence and the explicit membership changes. */
export class OwnRecord {
  private leaveWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** The version of this node's `left` record that another member must hold before leave() resolves. */
  private leftVersion: number | undefined;

  constructor(private readonly ports: OwnRecordPorts) {}

  /**
   * Loads what this node remembers (its record, the members and removals it knew) and announces itself
   * with a higher version and a new incarnation.
   * @returns the ring as this node last knew it (what it replicated then is what it holds now), and the
   *   partitions its saved record listed as pending and handed off.
   * @throws StoredStateLostError when `expectStoredState` and nothing is stored; StorageError.
   */
  async restore(expectStoredState: boolean): Promise<{ before: Ring; pendingPartitions: number[]; handoffPartitions: number[] }> {
    const { store, membership, self: id } = this.ports;
    const { capacity, partitionCount } = this.ports.settings();
    const stored = await store.getMeta<StoredSelf>(META_SELF);
    const self = stored === undefined ? undefined : fromStoredRecord(stored);
    if (expectStoredState && self === undefined) {
      // This id has written before, but its storage is gone (evicted or cleared). Reusing the id would
      // restart its dot counters and make replicas discard its new writes as already seen (Riak's
      // kv679): the host must start a new identity instead.
      throw new StoredStateLostError(`the stored state of node ${id} is gone; start this node under a new id`);
    }
    // The checkpoint first: records of members it compacted are not taken back.
    const checkpoint = await store.getMeta<RingCheckpoint>(META_CHECKPOINT);
    if (checkpoint !== undefined) {
      try {
        checkCheckpoint(checkpoint, partitionCount);
        membership.compact(checkpoint);
      } catch (error) {
        this.ports.reportError(error, 'reading the stored ring checkpoint');
      }
    }
    const known = await store.getMeta<(MemberRecord & LegacyRecordFields)[]>(META_MEMBERS);
    if (Array.isArray(known)) membership.merge(known.filter((r) => r.id !== id && Array.isArray(r.history)).map(fromStoredRecord));
    const removals = await store.getMeta<Removal[]>(META_REMOVALS);
    if (Array.isArray(removals)) for (const removal of removals) membership.addRemoval(removal);
    // The join time is set once, on the first start, and kept across restarts: it fixes this node's
    // place in the ring's replay of joins (ring.ts), so a restart moves no partition.
    const nowMs = this.ports.clock.now();
    const joinedAtMs = self?.joinedAtMs ?? nowMs;
    const history = self?.history ?? [{ atMs: joinedAtMs, capacity }];
    const status = self?.status ?? 'up';
    if (self?.history !== undefined) membership.updateSelf({ history: self.history, joinedAtMs, capacity: self.capacity ?? capacity }, self.version);
    const before = Ring.build(membership.ringMembers(), partitionCount, membership.checkpoint);
    // A configured capacity different from the remembered one is a capacity change (paper §2).
    const last = history[history.length - 1]!;
    const changedCapacity = status === 'up' && last.capacity > 0 && last.capacity !== capacity;
    // A new incarnation on every start: it tells every peer that suspected this node that it is back.
    const incarnation = (self?.incarnation ?? 0) + 1;
    const pendingPartitions = self?.pendingPartitions ?? [];
    const handoffPartitions = self?.handoffPartitions ?? [];
    membership.updateSelf(
      {
        status,
        capacity: changedCapacity ? capacity : (self?.capacity ?? capacity),
        joinedAtMs,
        incarnation,
        history: changedCapacity ? [...history, { atMs: nowMs, capacity }] : history,
        pendingPartitions,
        handoffPartitions,
        ...(this.ports.authority !== undefined ? { publicKey: this.ports.authority.publicKey } : {}),
      },
      (self?.version ?? 0) + 1,
    );
    await this.save();
    return { before, pendingPartitions, handoffPartitions };
  }

  /** Persists this node's record (errors are reported, not thrown). */
  save(): Promise<void> {
    const record = this.ports.membership.raw(this.ports.self);
    if (record === undefined) return Promise.resolve();
    // Stored under both field names, so that an earlier version opening this database reads it too.
    const stored: StoredSelf = withLegacyFieldNames(record);
    return this.ports.store.putMeta(META_SELF, stored).catch((error: unknown) => this.ports.reportError(error, "saving this node's record"));
  }

  /** Changes the record, saves it, and lets the ring and peers know at once. */
  update(change: RecordChange): MemberRecord {
    const record = this.ports.membership.updateSelf(change);
    void this.save();
    if (this.ports.running()) {
      this.ports.membershipChanged();
      this.ports.gossipSoon();
    }
    return record;
  }

  /**
   * Changes the record with a version of at least `minVersion` (a correction or a refutation that
   * gossip carries), saves it and rebuilds the view.
   */
  correct(change: RecordChange, minVersion = 0): MemberRecord {
    const record = this.ports.membership.updateSelf(change, minVersion);
    void this.save();
    this.ports.membershipChanged();
    return record;
  }

  /**
   * Puts this node (back) into the ring with `capacity`; a node already in the ring keeps its place.
   * @throws NodeNotRunningError, InvalidOptionError (capacity not a finite number > 0).
   */
  async join(capacity: number): Promise<void> {
    checkCapacity(capacity);
    const self = this.current();
    if (inRing(self)) return;
    this.update({ status: 'up', capacity, history: [...self.history, { atMs: this.ports.clock.now(), capacity }] });
    await this.save();
    this.ports.emit({ type: 'membership-change', change: 'join', node: this.ports.self, capacity });
  }

  /**
   * Changes this node's capacity (heterogeneity, paper §2).
   * @throws InvalidOptionError (not a finite number > 0, or the node is not in the ring).
   */
  async setCapacity(capacity: number): Promise<void> {
    checkCapacity(capacity);
    const self = this.current();
    if (!inRing(self)) throw new InvalidOptionError('this node is not in the ring; join first');
    if (self.capacity === capacity) return;
    this.update({ capacity, history: [...self.history, { atMs: this.ports.clock.now(), capacity }] });
    await this.save();
    this.ports.emit({ type: 'membership-change', change: 'capacity', node: this.ports.self, capacity });
  }

  /**
   * Takes this node out of the ring (paper §4.9); resolves once it has left (see {@link drained}) and
   * another member holds its `left` record (gossip spreads it from there, so the tab may close at once:
   * no member is left thinking it is still leaving).
   * @throws NodeNotRunningError when the node stops before it finished leaving.
   */
  async leave(): Promise<void> {
    const self = this.current();
    if (self.status === 'left') return;
    const done = new Promise<void>((resolve, reject) => this.leaveWaiters.push({ resolve, reject }));
    if (self.status !== 'leaving') {
      this.update({ status: 'leaving', history: inRing(self) ? [...self.history, { atMs: this.ports.clock.now(), capacity: 0 }] : self.history });
      await this.save();
      this.ports.emit({ type: 'membership-change', change: 'leave', node: this.ports.self, capacity: 0 });
    }
    await done;
  }

  /** Ownership handoff found nothing left to hand off: a leaving node has left (after passing its hints on). */
  drained(): void {
    if (this.ports.membership.get(this.ports.self)?.status !== 'leaving') return;
    if (this.ports.holdsHints()) {
      this.ports.passHints();
      return;
    }
    const record = this.update({ status: 'left', pendingPartitions: [], handoffPartitions: [] });
    this.ports.emit({ type: 'membership-change', change: 'left', node: this.ports.self, capacity: 0 });
    if (this.ports.membership.peers().length === 0) this.settleLeave();
    else this.leftVersion = record.version;
  }

  /** Gossip found that `peer` holds this node's record at `version` (or later). */
  seenBy(peer: NodeId, version: number): void {
    if (this.leftVersion === undefined || version < this.leftVersion) return;
    this.leftVersion = undefined;
    this.settleLeave();
  }

  /**
   * Removes `node`, gone for good (paper §4.8.1), by a removal statement signed by this node.
   * @throws InvalidOptionError when `node` is this node, unknown, or already gone; StorageError.
   */
  async remove(node: NodeId): Promise<void> {
    const { membership, self } = this.ports;
    if (node === self) throw new InvalidOptionError('a node cannot remove itself; use leave()');
    const record = membership.get(node);
    if (record === undefined) throw new InvalidOptionError(`unknown node ${node}`);
    if (record.status === 'left') throw new InvalidOptionError(`${node} has already left`);
    const removal: Removal = { target: node, by: self, atMs: this.ports.clock.now() };
    if (this.ports.authority !== undefined) removal.signature = await this.ports.authority.sign(removalSigningFields(removal));
    if (!membership.addRemoval(removal)) throw new InvalidOptionError(`${node} has already been removed`);
    this.ports.membershipChanged();
    this.ports.gossipSoon();
    await this.ports.store.putMeta(META_REMOVALS, membership.removals());
    this.ports.emit({ type: 'removal', target: node, by: self, atMs: removal.atMs });
    this.ports.emit({ type: 'membership-change', change: 'remove', node, capacity: 0 });
  }

  /**
   * Another member removed this node: it is out of the ring for good. Its record says so; its data
   * stays on its disk.
   */
  removed(removal: Removal): void {
    const self = this.ports.membership.raw(this.ports.self);
    if (self === undefined || self.status === 'left') return;
    const last = self.history[self.history.length - 1];
    const history = inRing(self) ? [...self.history, { atMs: Math.max(removal.atMs, last?.atMs ?? 0), capacity: 0 }] : self.history;
    this.ports.membership.updateSelf({ status: 'left', history, pendingPartitions: [], handoffPartitions: [] });
    void this.save();
    this.ports.emit({ type: 'membership-change', change: 'remove', node: this.ports.self, capacity: 0 });
    this.settleLeave();
  }

  /** The node stopped: waiters of leave() fail. */
  stopped(): void {
    for (const waiter of this.leaveWaiters.splice(0)) waiter.reject(new NodeNotRunningError('the node stopped before it finished leaving'));
  }

  private settleLeave(): void {
    for (const waiter of this.leaveWaiters.splice(0)) waiter.resolve();
  }

  private current(): MemberRecord {
    return this.ports.membership.get(this.ports.self)!;
  }
}
