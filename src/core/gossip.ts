/**
 * Push-pull gossip of the membership (paper §4.8.1), with SWIM's suspicions (§4.8.3) and the members'
 * load reports riding along. A round to a member first sends a digest of all of it (issue 19): only
 * views that differ exchange records and loads.
 *
 *   every gossipIntervalMs (±20% jitter)   this node ──gossip{members, removals, suspects, loads, checkpoint, reply}──▶ peer
 *                                          peer merges, and answers with its own view (push-pull)
 *
 * A round goes to an unconfirmed seed while there is one (a new node joins quickly, §4.8.2), else to
 * a connected member, and one round in GOSSIP_ANY_PEER_EVERY to any member, to heal splits. A record
 * of this node that a peer holds at a version at least as high as its own (this node lost its state,
 * or the record is forged) is out-versioned; a suspicion of this node's current incarnation is
 * refuted by raising it. Where records are signed (issue 16), new records and removals are checked
 * before they are taken; steady-state gossip carries nothing new and costs no signature check.
 */
import type { FailureDetector } from './failure-detector.js';
import type { LoadReports } from './load-reports.js';
import { sameBytes } from './bytes.js';
import { membershipDigest, recordSigningFields, withLegacyFieldNames, type Membership, type MemberRecord, type MembershipAuthority, type Removal } from './membership.js';
import type { MembershipVerifier } from './membership-verifier.js';
import { MAX_WIRE_MEMBERS, type Message } from './messages.js';
import type { NodeEvent } from './node-api.js';
import type { OwnRecord } from './own-record.js';
import type { Clock, Random } from './ports.js';
import type { RingCheckpoint } from './ring.js';
import type { NodeId } from './types.js';

/** One gossip round in this many goes to any member, connected or not (see `Transport.isConnected`). */
const GOSSIP_ANY_PEER_EVERY = 10;
/**
 * Most records of members not known yet that one gossip message may add (the rest come with later
 * rounds): a member could otherwise make a node take, check and rebuild its ring for thousands of
 * made-up members at once (a gossip of 10,000 new records blocked a node for 9.5 s).
 */
const MAX_NEW_MEMBERS_PER_GOSSIP = 256;

type GossipMessage = Extract<Message, { type: 'gossip' }>;

/** What gossip needs from its node. */
export interface GossipPorts {
  self: NodeId;
  clock: Clock;
  random: Random;
  settings(): { gossipIntervalMs: number };
  membership: Membership;
  detector: FailureDetector;
  ownRecord: OwnRecord;
  loads: LoadReports;
  authority: MembershipAuthority | undefined;
  verifier: MembershipVerifier | undefined;
  /** The transport's test of an open connection to a node, if it has one (`Transport.isConnected`). */
  connectionTest(): ((id: NodeId) => boolean) | undefined;
  running(): boolean;
  send(to: NodeId, message: Message): void;
  membershipChanged(): void;
  /** A ring checkpoint a peer gossiped (member-compaction.ts): @returns whether it was taken. */
  offerCheckpoint(checkpoint: RingCheckpoint): boolean;
  recordDrop(from: NodeId, reason: string): void;
  emit(event: NodeEvent): void;
  reportError(error: unknown, context: string): void;
}

/** Gossip rounds, the seeds still to confirm, and the handling of gossip received. */
export class Gossip {
  private readonly seeds = new Set<NodeId>();
  private nextRoundAtMs = 0;
  /** The signing of this node's record in progress, and the version it signs. */
  private signing: { version: number; done: Promise<void> } | undefined;
  /** The last digest of this node's view, and the generations of the membership and loads it covers. */
  private cachedDigest: { membership: number; loads: number; digest: Uint8Array } | undefined;
  gossipRounds = 0;
  /** Times this node raised its incarnation to refute a suspicion of itself. */
  refutations = 0;
  recordsRejected = 0;
  removalsRejected = 0;

  constructor(private readonly ports: GossipPorts) {}

  /** Bootstrap seeds (paper §4.8.2): nodes to gossip with until they show up in the membership. */
  addSeeds(ids: readonly NodeId[]): void {
    let added = false;
    for (const id of ids) {
      if (id !== this.ports.self && this.ports.membership.get(id) === undefined && !this.seeds.has(id)) {
        this.seeds.add(id);
        added = true;
      }
    }
    if (added) this.wake(); // contact a seed at the next tick
  }

  /** Seeds not confirmed yet (0 once this node heard from the cluster). */
  get unconfirmedSeeds(): number {
    return this.seeds.size;
  }

  /** Gossips at the next tick. */
  wake(): void {
    this.nextRoundAtMs = this.ports.clock.now();
  }

  /** Gossips at the next tick unless a round is already due earlier. */
  soon(): void {
    this.nextRoundAtMs = Math.min(this.nextRoundAtMs, this.ports.clock.now());
  }

  /** Runs a round when one is due at `nowMs`. */
  tick(nowMs: number): void {
    if (nowMs < this.nextRoundAtMs) return;
    // Jitter (±20%) keeps nodes that started together from gossiping in lockstep.
    const jitter = 0.8 + 0.4 * this.ports.random.next();
    this.nextRoundAtMs = nowMs + this.ports.settings().gossipIntervalMs * jitter;
    this.round();
  }

  /** Takes a gossip message from `from`: records, removals, suspicions and loads. */
  receive(from: NodeId, message: GossipMessage): void {
    const gossip = { ...message, members: this.boundedNewRecords(message.members) };
    if (this.ports.verifier !== undefined) {
      void this.receiveSigned(from, gossip, this.ports.verifier);
      return;
    }
    for (const load of gossip.loads ?? []) this.ports.loads.merge(load);
    this.merge(from, gossip.members, gossip.removals ?? [], gossip.reply, gossip.suspects ?? [], digestOf(message), gossip.checkpoint);
  }

  private round(): void {
    const { membership, random } = this.ports;
    const candidates = [...this.seeds, ...membership.peers()];
    if (candidates.length === 0) return;
    // Prefer an unconfirmed seed while there is one, so a new node joins quickly.
    let pool = this.seeds.size > 0 ? [...this.seeds] : candidates;
    // Below a full mesh, gossip goes to a connected peer (epidemic spreading needs only a connected
    // graph) but for one round in GOSSIP_ANY_PEER_EVERY, which reaches any member, to heal splits.
    const isConnected = this.ports.connectionTest();
    if (isConnected !== undefined && this.seeds.size === 0 && random.next() >= 1 / GOSSIP_ANY_PEER_EVERY) {
      const connected = pool.filter((id) => isConnected(id));
      if (connected.length > 0) pool = connected;
    }
    const peer = pool[Math.floor(random.next() * pool.length)];
    if (peer === undefined) return;
    this.gossipRounds++;
    this.ports.loads.refreshOwn();
    // A seed does not know this node yet: it gets every record. Members get the digest first.
    this.send(peer, true, this.seeds.has(peer));
    this.ports.emit({ type: 'gossip', peer, direction: 'sent', changed: false });
  }

  /** Gossip where records are signed: what fails the check is dropped and counted, the rest taken. */
  private async receiveSigned(from: NodeId, message: GossipMessage, verifier: MembershipVerifier): Promise<void> {
    const { taken: members, refused: records } = await verifier.records(message.members);
    // A remover's key may arrive in the same message as its removal.
    const keys = new Map(members.filter((r) => r.publicKey !== undefined).map((r) => [r.id, r.publicKey!]));
    const { taken: removals, refused } = await verifier.removals(message.removals ?? [], keys);
    if (!this.ports.running()) return;
    for (const record of records) {
      this.recordsRejected++;
      this.ports.recordDrop(from, `a record of ${record.id} not signed by its node`);
    }
    for (const removal of refused) {
      this.removalsRejected++;
      this.ports.recordDrop(from, `a removal of ${removal.target} not signed by a member (${removal.by})`);
    }
    for (const load of message.loads ?? []) this.ports.loads.merge(load);
    this.merge(from, members, removals, message.reply, message.suspects ?? [], digestOf(message), message.checkpoint);
  }

  /**
   * `incoming` with at most {@link MAX_NEW_MEMBERS_PER_GOSSIP} records of members not known yet, and
   * none that would take the membership past what one gossip message may carry.
   */
  private boundedNewRecords(incoming: readonly MemberRecord[]): MemberRecord[] {
    const { membership, self } = this.ports;
    let room = Math.min(MAX_NEW_MEMBERS_PER_GOSSIP, MAX_WIRE_MEMBERS - membership.size);
    return incoming.filter((record) => record.id === self || membership.raw(record.id) !== undefined || room-- > 0);
  }

  /**
   * Sends a gossip message: the digest of this node's view, suspicions and loads, and, when `full`,
   * every record as its member wrote it and the removals (this node's own record signed first).
   */
  private send(to: NodeId, reply: boolean, full: boolean): void {
    const { membership, self, authority } = this.ports;
    const send = (): void => {
      if (!this.ports.running() && reply) return;
      this.ports.send(to, {
        type: 'gossip',
        // Under both field names, for tabs of earlier versions (membership.ts `LegacyRecordFields`).
        members: full ? membership.gossipRecords().map(withLegacyFieldNames) : [],
        ...(full ? { removals: membership.removals() } : {}),
        reply,
        suspects: this.ports.detector.suspicions(),
        // Loads are part of the digest: a digest-only round carries none.
        ...(full ? { loads: this.ports.loads.reports() } : {}),
        ...(full && membership.checkpoint !== undefined ? { checkpoint: membership.checkpoint } : {}),
        digest: this.digest(),
      });
    };
    const own = membership.raw(self);
    if (!full || authority === undefined || own === undefined || own.signature !== undefined) {
      send();
      return;
    }
    void this.signOwnRecord(authority).then(send, (error: unknown) => this.ports.reportError(error, "signing this node's record"));
  }

  /**
   * The digest of this node's view: records as gossiped, removals, load reports and the checkpoint;
   * computed again only after one of them changed.
   */
  private digest(): Uint8Array {
    const { membership, loads } = this.ports;
    const cached = this.cachedDigest;
    if (cached !== undefined && cached.membership === membership.generation && cached.loads === loads.generation) return cached.digest;
    const digest = membershipDigest(membership.gossipRecords(), membership.removals(), loads.reports(), membership.checkpoint);
    this.cachedDigest = { membership: membership.generation, loads: loads.generation, digest };
    return digest;
  }

  /** Signs this node's current record (the signing of one version is shared by everyone waiting for it). */
  private signOwnRecord(authority: MembershipAuthority): Promise<void> {
    const { membership, self } = this.ports;
    const own = membership.raw(self)!;
    if (this.signing?.version === own.version) return this.signing.done;
    const version = own.version;
    const done = authority.sign(recordSigningFields(own)).then((signature) => membership.setSignature(self, version, signature));
    this.signing = { version, done };
    return done;
  }

  /**
   * Takes what a gossip message carries, then answers it:
   *   digest-only, same view       a digest-only reply if asked (suspicions and loads ride along)
   *   digest-only, views differ    every record, asking for the sender's (reply: true) if it asked
   *   full                         every record if asked or if the sender's view of this node is old,
   *                                a digest-only reply when the views are now the same
   * `digest` is the sender's `{ digestOnly, digest }`, undefined for a sender of an earlier version.
   */
  private merge(
    from: NodeId,
    members: MemberRecord[],
    removals: readonly Removal[],
    reply: boolean,
    suspects: { id: NodeId; incarnation: number }[],
    sent: { digestOnly: boolean; digest: Uint8Array } | undefined,
    checkpoint: RingCheckpoint | undefined,
  ): void {
    const { membership, self, detector, ownRecord } = this.ports;
    // A later checkpoint first: records of members it compacts are then not taken.
    let changed = checkpoint !== undefined && this.ports.offerCheckpoint(checkpoint);
    // Others' records are hearsay taken by version (and, where signed, by their node's signature); no
    // peer may rewrite this node's own record.
    changed = membership.merge(members.filter((r) => r.id !== self)) || changed;
    this.seeds.delete(from);
    for (const r of members) this.seeds.delete(r.id);
    for (const removal of removals) {
      // Unsigned removals (no authority) must at least come from a member this node knows.
      if (this.ports.authority === undefined && (removal.by === removal.target || membership.raw(removal.by) === undefined)) continue;
      if (!membership.addRemoval(removal)) continue;
      changed = true;
      const winner = membership.removalOf(removal.target)!;
      this.ports.emit({ type: 'removal', target: winner.target, by: winner.by, atMs: winner.atMs });
      if (winner.target === self) ownRecord.removed(winner);
    }
    if (changed) this.ports.membershipChanged();
    this.ports.emit({ type: 'gossip', peer: from, direction: 'received', changed });
    const theirView = members.find((r) => r.id === self);
    let selfRecord = membership.raw(self);
    let corrected = false;
    if (selfRecord !== undefined && membership.isRemoved(self)) {
      // Removed: nothing to refute or correct any more.
    } else if (selfRecord !== undefined && theirView !== undefined && theirView.version >= selfRecord.version && theirView.version < Number.MAX_SAFE_INTEGER &&
        (theirView.version > selfRecord.version || theirView.status !== selfRecord.status || theirView.capacity !== selfRecord.capacity)) {
      // Someone holds a record of this node at least as new as ours (we lost our state, or it was
      // forged): out-version it so our own record wins again.
      selfRecord = ownRecord.correct({}, theirView.version + 1);
      corrected = true;
    }
    const nowMs = this.ports.clock.now();
    for (const record of members) if (record.id !== self) detector.incarnationSeen(record.id, record.incarnation, nowMs);
    for (const suspicion of suspects) {
      if (suspicion.id === self) {
        // Only this node raises its incarnation: a suspicion above it is made up (and refuting it
        // could push the incarnation past what can be counted); one below it is already refuted.
        if (selfRecord !== undefined && suspicion.incarnation === selfRecord.incarnation) {
          // Refute (SWIM): a higher incarnation, gossiped, clears the suspicion everywhere.
          selfRecord = ownRecord.correct({ incarnation: suspicion.incarnation + 1 });
          this.refutations++;
          corrected = true;
        }
      } else if (suspicion.incarnation <= (membership.raw(suspicion.id)?.incarnation ?? -1)) {
        // A suspicion of an incarnation its node never announced could never be refuted: ignored.
        detector.suspicionHeard(suspicion.id, suspicion.incarnation, nowMs);
      }
    }
    const same = sent !== undefined && sameBytes(sent.digest, this.digest());
    // The peer holds this node's current record (same view), or the one it sent back.
    const seen = same ? selfRecord?.version : theirView?.version;
    if (seen !== undefined) ownRecord.seenBy(from, seen);
    if (sent?.digestOnly === true) {
      if (same) {
        if (reply) this.send(from, false, false);
      } else if (reply || corrected) {
        this.send(from, reply, true);
      }
      return;
    }
    const stale = selfRecord !== undefined && (theirView === undefined || theirView.version < selfRecord.version);
    // Push-pull: answer a round, and correct a peer that holds an old record of this node.
    if (reply || stale) this.send(from, false, stale || !same);
  }
}

/** What a message says of its sender's view: its digest, and whether it carries no records. */
function digestOf(message: GossipMessage): { digestOnly: boolean; digest: Uint8Array } | undefined {
  return message.digest === undefined ? undefined : { digestOnly: message.members.length === 0, digest: message.digest };
}
