/**
 * Ownership handoff: when the ring changes, the data follows it (paper §4.9; the shape of the
 * protocol follows riak_core's ownership handoff). This module is the manager (riak_core's handoff
 * manager): it tracks which partitions this node replicates, holds and advertises, and plans the
 * transfers; ownership-handoff-sender.ts runs them, ownership-handoff-receiver.ts takes them in.
 *
 * Every membership change (join, leave, removal, capacity change) changes the preference lists of some
 * partitions. For each such partition a node is in one of two roles:
 *
 *   holder    it holds the partition's objects but is no longer among its N replicas. It advertises
 *             the partition in its gossiped record (`handoffPartitions`) and hands it to every current replica:
 *
 *               handoff-start  {partition}                           ──▶ once per peer: takes bundles?
 *               handoff-bundle {parts: [{partition, items, finish?}]} ──▶ merged durably in one transaction,
 *                                                                         then acknowledged (refusals named)
 *               ...             the transfers to one peer share its stream of bundles: a bundle
 *                               carries several partitions (≤ B objects, ≈ HANDOFF_BATCH_BYTES),
 *                               at most `ownershipHandoffConcurrency` bundles in flight per node
 *                               (throttled; the next is read while the last is merged); a partition
 *                               whose objects all arrived gets its `finish` in the same bundle; a
 *                               failed bundle is retried from the last acknowledged one (resumable)
 *
 *             A peer of an earlier version gets handoff-batch {partition, items} and handoff-finish
 *             {partition} per partition instead. Once every replica acknowledged the finish, the
 *             holder stops advertising the partition and deletes each object it sent — only if the
 *             object did not change since it was sent. What changed or arrived later is handed off
 *             again by a later sweep.
 *   receiver  it replicates the partition now but did not before: the partition is pending (`pendingPartitions`) in its
 *             gossiped record until every advertising holder finished to it. When no node advertises
 *             the partition (the old holder was removed, or the cluster had fewer than N nodes), it
 *             asks each complete replica for the partition instead (handoff-pull) and waits for all.
 *
 * Every ownership handoff request's deadline follows the peer's measured round trips and doubles
 * after a timeout (request-deadlines.ts): the work is only ever retried, never given to another node,
 * so a fixed deadline below the round trip would make no progress at all (30 tabs on two cores).
 *
 * While a partition moves, requests still work and still see every acknowledged write: coordinators
 * send them to the holders as well as to the replicas, and answers of a replica whose partition is
 * pending do not count towards R or W (node-core.ts) — so a quorum is always made of nodes that hold
 * the partition's past writes.
 */
import type { MerkleService } from './ports.js';
import type { MemberRecord } from './membership.js';
import type { Message, ReplyMessage } from './messages.js';
import type { Ring } from './ring.js';
import type { NodeId, VersionSet } from './types.js';
import { RequestTimeoutError } from './errors.js';
import { OwnershipHandoffReceiver } from './ownership-handoff-receiver.js';
import { OwnershipHandoffSender, type TransferReport, type TransferState } from './ownership-handoff-sender.js';
import { RequestDeadlines } from './request-deadlines.js';

export { HANDOFF_BATCH_BYTES, TRANSFER_LISTINGS, VERIFY_ATTEMPTS, type TransferReport, type TransferState } from './ownership-handoff-sender.js';

/** Settings of ownership handoff. */
export interface OwnershipHandoffConfig {
  /** How often ownership handoff work is looked for, in ms. Default 500. */
  ownershipHandoffIntervalMs: number;
  /**
   * Most objects per handoff bundle (over all its partitions; at most 1024, what one message may
   * carry), which also stops at about HANDOFF_BATCH_BYTES. Default 1024.
   */
  ownershipHandoffBatchSize: number;
  /** Most handoff bundles in flight at once from one node (the throttle: transfers wait for a slot per bundle). Default 2. */
  ownershipHandoffConcurrency: number;
}

/** Defaults of {@link OwnershipHandoffConfig}. */
export const DEFAULT_OWNERSHIP_HANDOFF_CONFIG: OwnershipHandoffConfig = {
  ownershipHandoffIntervalMs: 500,
  ownershipHandoffBatchSize: 1024,
  ownershipHandoffConcurrency: 2,
};

/** Requests the ownership handoff sends (messages.ts, without their `requestId`). */
export type HandoffRequest =
  | Omit<Extract<Message, { type: 'handoff-start' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'handoff-batch' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'handoff-bundle' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'handoff-finish' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'handoff-pull' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'ae-roots' }>, 'requestId'>;

/**
 * One partition's share of a handoff-bundle: objects of `partition` (possibly none) and, with `finish`,
 * the word that they end what the holder has of it (the handoff-finish of earlier versions).
 */
export type HandoffPart = Extract<Message, { type: 'handoff-bundle' }>['parts'][number];

/** What the ownership handoff needs from the node core. */
export interface HandoffPorts {
  self: NodeId;
  n: () => number;
  ring: () => Ring;
  /** The gossiped records (this node's included). */
  members: () => MemberRecord[];
  isHealthy: (id: NodeId) => boolean;
  request: (to: NodeId, body: HandoffRequest, timeoutMs: number) => Promise<ReplyMessage>;
  merkle: () => MerkleService | undefined;
  /** This node's stored version sets of `keys` (not hints), in order, read in one transaction. */
  localObjects: (keys: readonly string[]) => Promise<(VersionSet | undefined)[]>;
  /** Merges a batch into this node's store durably, in one transaction (under the keys' locks). */
  mergeBatch: (items: readonly { key: string; versions: VersionSet }[]) => Promise<void>;
  /**
   * Deletes each key of `items` whose stored version set still has its `digest`, unless this node
   * replicates the key's partition again (under the keys' locks); resolves to how many it deleted.
   * Rejects (StorageError) when the store fails; keys not deleted are left for the next sweep.
   */
  dropIfUnchanged: (items: readonly { key: string; digest: Uint8Array }[]) => Promise<number>;
  /** This node's pending or handed-off partitions changed: gossip them. */
  publish: (pendingPartitions: number[], handoffPartitions: number[]) => void;
  /** No partition left to hand off and no object of a partition this node does not replicate. */
  onDrained: () => void;
  now: () => number;
  /** Shortest deadline of a batch (ms); longer when the receiver's round trips are (request-deadlines.ts). */
  timeoutMs: () => number;
  /** Shortest deadline of the small control messages (start, finish, pull, ae-roots), ms; longer likewise. */
  controlTimeoutMs: () => number;
  /** Objects `node` last reported holding (gossiped load), if known. */
  reportedKeys: (node: NodeId) => number | undefined;
  /** How long a new replica waits for holders to advertise a partition before pulling it from the other replicas (ms). */
  holderGraceMs: () => number;
  /** False while a fresh node has not heard from any peer yet (it must not conclude it is alone). */
  knowsCluster: () => boolean;
  onTransfer: (report: TransferReport) => void;
  onPartitionReceived: (partition: number) => void;
}

/** The partitions `self` replicates (is among the first `n` of the preference list) in `ring`. */
export function replicatedPartitions(ring: Ring, self: NodeId, n: number): Set<number> {
  const result = new Set<number>();
  if (ring.members.length === 0) return result;
  for (let p = 0; p < ring.partitionCount; p++) {
    const list = ring.preferenceListForPartition(p);
    for (let i = 0; i < n && i < list.length; i++) {
      if (list[i] === self) {
        result.add(p);
        break;
      }
    }
  }
  return result;
}

/** The ownership handoff of one node: its roles per partition, the transfers it plans, the sweep. */
export class OwnershipHandoff {
  /** Partitions held here but not replicated: being handed off (advertised). */
  private readonly advertised = new Set<number>();
  /** Per advertised partition: receivers that acknowledged its finish (or whose Merkle roots equal ours). */
  private readonly doneTo = new Map<number, Set<NodeId>>();
  private replicated = new Set<number>();
  /** Deadlines of ownership handoff requests, per peer, from their measured round trips. */
  private readonly deadlines = new RequestDeadlines();
  /** Keys held per partition (from the Merkle trees, refreshed every tick). */
  private counts = new Map<number, number>();
  private refreshing = false;
  private nextRunAtMs = 0;
  private nextSweepAtMs = 0;
  private sweeping = false;
  private readonly sender: OwnershipHandoffSender;
  private readonly receiver: OwnershipHandoffReceiver;

  constructor(
    private readonly config: OwnershipHandoffConfig,
    private readonly ports: HandoffPorts,
  ) {
    const ask = (peer: NodeId, body: HandoffRequest, floorMs: number): Promise<ReplyMessage> => this.ask(peer, body, floorMs);
    const replicates = (partition: number): boolean => this.replicated.has(partition);
    this.sender = new OwnershipHandoffSender(config, ports, {
      ask,
      replicates,
      isComplete: (partition) => this.isComplete(partition),
      isAdvertised: (partition) => this.advertised.has(partition),
      acknowledged: (partition, peer) => {
        let done = this.doneTo.get(partition);
        if (!done) this.doneTo.set(partition, (done = new Set()));
        done.add(peer);
      },
      planOwnershipTransfers: () => this.planOwnershipTransfers(),
      sweepSoon: () => {
        this.nextSweepAtMs = Math.min(this.nextSweepAtMs, this.ports.now() + this.config.ownershipHandoffIntervalMs);
      },
    });
    this.receiver = new OwnershipHandoffReceiver(ports, { ask, replicates, publish: () => this.publish() });
  }

  /** Objects sent in acknowledged handoff batches since the node started (statistics). */
  get keysSent(): number {
    return this.sender.keysSent;
  }

  /** Objects merged from handoff batches since the node started (statistics). */
  get keysReceived(): number {
    return this.receiver.keysReceived;
  }

  /** Transfers that ended with an acknowledged finish since the node started (statistics). */
  get transfersCompleted(): number {
    return this.sender.transfersCompleted;
  }

  /** Restores what the node's stored record remembered (after a restart). */
  restore(pendingPartitions: readonly number[], handoffPartitions: readonly number[]): void {
    for (const p of pendingPartitions) this.receiver.expect(p, this.ports.now());
    for (const p of handoffPartitions) this.advertised.add(p);
  }

  /** The partitions still pending here, ascending. */
  pendingPartitions(): number[] {
    return this.receiver.partitions();
  }

  /** The partitions being handed off from here, ascending. */
  handoffPartitions(): number[] {
    return [...this.advertised].sort((a, b) => a - b);
  }

  /** Transfers in progress or waiting to be retried. */
  transferStates(): TransferState[] {
    return this.sender.states();
  }

  /**
   * Whether this node's answers for `partition` count towards a quorum: it replicates the partition
   * and has received it, or it is a holder still handing it off.
   */
  isComplete(partition: number): boolean {
    return (this.replicated.has(partition) && !this.receiver.isPending(partition)) || this.advertised.has(partition);
  }

  /** True when this node replicates `partition` in its current ring. */
  replicates(partition: number): boolean {
    return this.replicated.has(partition);
  }

  /**
   * The ring changed from `before` to `after`: partitions replicated now but not before become
   * pending, partitions replicated before but not now are advertised for ownership handoff.
   */
  ringChanged(before: Ring, after: Ring): void {
    const n = this.ports.n();
    const old = replicatedPartitions(before, this.ports.self, n);
    const now = replicatedPartitions(after, this.ports.self, n);
    this.replicated = now;
    let changed = false;
    for (const p of now) {
      if (!old.has(p) && !this.receiver.isPending(p) && !this.advertised.has(p)) {
        this.receiver.expect(p, this.ports.now());
        changed = true;
      }
      if (this.advertised.delete(p)) {
        changed = true;
        this.sender.cancel(p);
      }
    }
    for (const p of old) {
      if (now.has(p)) continue;
      if (this.receiver.forget(p)) changed = true;
      // Only a partition with objects here is worth a handoff; objects that arrive later are found by the sweep.
      if (!this.advertised.has(p) && (this.counts.get(p) ?? 0) > 0) {
        this.advertised.add(p);
        changed = true;
      }
    }
    if (this.receiver.retainOnly(now)) changed = true;
    // Receivers may have changed: what was acknowledged stays acknowledged, new receivers get theirs.
    this.sender.forgetVerifications();
    if (changed) this.publish();
    this.nextRunAtMs = this.ports.now();
  }

  /** Runs due work: transfers to start or resume, pending partitions to settle. */
  tick(nowMs: number): void {
    if (nowMs < this.nextRunAtMs) return;
    this.nextRunAtMs = nowMs + this.config.ownershipHandoffIntervalMs;
    if (!this.refreshing) void this.refreshCounts();
    this.receiver.settle(nowMs);
    this.planOwnershipTransfers();
    if (nowMs >= this.nextSweepAtMs && !this.sweeping) {
      this.nextSweepAtMs = nowMs + this.config.ownershipHandoffIntervalMs * 10;
      this.sweeping = true;
      void this.sweep().finally(() => (this.sweeping = false));
    }
    this.sender.run(nowMs);
  }

  /** Reads the key count of every partition held here from the Merkle trees (kept as they were when that fails). */
  async refreshCounts(): Promise<void> {
    const merkle = this.ports.merkle();
    if (!merkle) return;
    this.refreshing = true;
    try {
      this.counts = await merkle.keyCounts();
    } catch {
      // Kept as they were; the next tick tries again.
    } finally {
      this.refreshing = false;
    }
  }

  /** handoff-start: a holder announces a transfer of `partition`; accepted only when this node replicates it. */
  onStart(partition: number): boolean {
    return this.receiver.onStart(partition);
  }

  /** handoff-batch: merged durably before the answer; false (nothing merged) when this node does not replicate `partition`. */
  onBatch(partition: number, items: readonly { key: string; versions: VersionSet }[]): Promise<boolean> {
    return this.receiver.onBatch(partition, items);
  }

  /**
   * handoff-bundle: objects of several partitions merged durably in one transaction, then the finishes
   * it carries taken. @returns the partitions refused (see OwnershipHandoffReceiver.onBundle).
   */
  onBundle(from: NodeId, parts: readonly HandoffPart[]): Promise<number[]> {
    return this.receiver.onBundle(from, parts);
  }

  /** handoff-finish: `from` sent everything it had of `partition`; false when this node does not replicate it. */
  onFinish(from: NodeId, partition: number): boolean {
    return this.receiver.onFinish(from, partition);
  }

  /** handoff-pull: a new replica asks for `partition`; accepted (and a transfer queued) when this node holds it completely. */
  onPull(from: NodeId, partition: number): boolean {
    if (!this.isComplete(partition) || from === this.ports.self) return false;
    if (!this.sender.has(partition, from)) this.sender.queue(partition, from, 'pull');
    this.nextRunAtMs = this.ports.now();
    return true;
  }

  /** Queues a transfer to every current replica of each advertised partition that has not acknowledged it. */
  private planOwnershipTransfers(): void {
    const ring = this.ports.ring();
    const n = this.ports.n();
    const leaving = this.isLeaving();
    let changed = false;
    const verify = new Map<NodeId, number[]>();
    for (const p of [...this.advertised]) {
      const receivers = ring.members.length === 0 ? [] : ring.preferenceListForPartition(p).slice(0, n).filter((id) => id !== this.ports.self);
      const done = this.doneTo.get(p) ?? new Set<NodeId>();
      let missing = receivers.filter((r) => !done.has(r));
      // A leaving node cannot wait for a receiver that is down (it may be down for days): once one
      // that is up has the partition, the others get it from the replicas when they are back (a
      // pending partition that no node advertises is pulled, see OwnershipHandoffReceiver.settle).
      if (leaving && done.size > 0) missing = missing.filter((r) => this.ports.isHealthy(r));
      if (receivers.length > 0 && missing.length === 0) {
        // Every replica has it: stop advertising, then delete what was sent and did not change.
        this.advertised.delete(p);
        this.doneTo.delete(p);
        // Transfers queued to receivers that are down (a leaving node's) are not waited for either.
        if (leaving) this.sender.cancel(p);
        changed = true;
        void this.sender.dropSent(p);
        continue;
      }
      for (const receiver of missing) {
        if (this.sender.has(p, receiver)) continue;
        // A receiver that replicated the partition before is asked for its Merkle roots first.
        if (!this.isPendingAt(receiver, p) && this.sender.needsVerification(p, receiver)) {
          let list = verify.get(receiver);
          if (!list) verify.set(receiver, (list = []));
          list.push(p);
        } else {
          this.sender.queue(p, receiver, 'ownership');
        }
      }
    }
    for (const [peer, partitions] of verify) this.sender.verify(peer, partitions);
    if (changed) this.publish();
  }

  /**
   * Finds objects of partitions this node neither replicates nor advertises (writes that reached it
   * after its ownership handoff, or a removed node's data) and hands them to the replicas.
   */
  private async sweep(): Promise<void> {
    const merkle = this.ports.merkle();
    if (!merkle) return;
    let counts: Map<number, number>;
    try {
      counts = await merkle.keyCounts();
    } catch {
      return;
    }
    const ring = this.ports.ring();
    if (ring.members.length === 0) return;
    const leaving = this.isLeaving();
    let leftovers = 0;
    const busy = this.sender.busyPartitions();
    for (const [p, count] of counts) {
      if (count === 0 || this.replicated.has(p) || this.advertised.has(p)) continue;
      leftovers += count;
      // One round per partition at a time: its objects are deleted once every transfer of the round is
      // over, so a transfer queued again while another of the same partition still runs (transfers
      // slower than the sweep period) would keep that moment from ever coming, and the objects would
      // be sent again and again.
      if (busy.has(p)) continue;
      const receivers = ring.preferenceListForPartition(p).slice(0, this.ports.n()).filter((id) => id !== this.ports.self);
      // A leaving node sends left-overs to the replicas that are up (as for ownership transfers).
      const up = receivers.filter((id) => this.ports.isHealthy(id));
      for (const receiver of leaving && up.length > 0 ? up : receivers) this.sender.queue(p, receiver, 'sweep');
    }
    if (leftovers === 0 && this.advertised.size === 0 && this.sender.idle()) this.ports.onDrained();
  }

  /** Whether this node is leaving the ring (its gossiped record). */
  private isLeaving(): boolean {
    return this.ports.members().find((m) => m.id === this.ports.self)?.status === 'leaving';
  }

  /** Whether `node`'s gossiped record says it is still receiving `partition` (true when it has none). */
  private isPendingAt(node: NodeId, partition: number): boolean {
    return this.ports.members().find((m) => m.id === node)?.pendingPartitions.includes(partition) ?? true;
  }

  /**
   * Sends an ownership handoff request to `peer` with a deadline of at least `floorMs`, longer when
   * the peer's answers have been slow or its last requests timed out (request-deadlines.ts). Ownership
   * handoff has no fallback node to turn to, only the same request again: a fixed deadline shorter than
   * the round trip would fail every retry. Rejects as `ports.request` does (RequestTimeoutError, …).
   */
  private async ask(peer: NodeId, body: HandoffRequest, floorMs: number): Promise<ReplyMessage> {
    const attempt = this.deadlines.start(peer, floorMs, this.ports.now());
    try {
      const reply = await this.ports.request(peer, body, attempt.deadlineMs);
      this.deadlines.answered(attempt, this.ports.now());
      return reply;
    } catch (error) {
      if (error instanceof RequestTimeoutError || (error instanceof Error && error.name === 'RequestTimeoutError')) this.deadlines.timedOut(attempt);
      throw error;
    }
  }

  private publish(): void {
    this.ports.publish(this.pendingPartitions(), this.handoffPartitions());
  }
}
