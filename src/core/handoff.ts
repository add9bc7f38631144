/**
 * Partition handoff: when the ring changes, the data follows it (paper §4.9; the shape of the
 * protocol follows riak_core's ownership handoff).
 *
 * Every membership change (join, leave, removal, capacity change) changes the preference lists of some
 * partitions. For each such partition a node is in one of two roles:
 *
 *   holder    it holds the partition's objects but is no longer among its N replicas. It advertises
 *             the partition in its gossiped record (`handoffs`) and hands it to every current replica:
 *
 *               handoff-start  {partition, keys}        ──▶ accepted only by a node that replicates it
 *               handoff-batch  {partition, items[≤B]}   ──▶ merged durably, then acknowledged
 *               ...             one batch in flight per transfer, at most `ownershipHandoffConcurrency`
 *                               batches in flight per node (throttled; the small start and finish
 *                               messages are not); a failed batch is retried from the last
 *                               acknowledged one (resumable)
 *               handoff-finish {partition, keys}        ──▶ the receiver notes this holder is done
 *
 *             Once every replica acknowledged the finish, it stops advertising the partition and
 *             deletes each object it sent — only if the object did not change since it was sent. What
 *             changed or arrived later is handed off again by a later sweep.
 *   receiver  it replicates the partition now but did not before: the partition is `pending` in its
 *             gossiped record until every advertising holder finished to it. When no node advertises
 *             the partition (the old holder was removed, or the cluster had fewer than N nodes), it
 *             asks each complete replica for the partition instead (handoff-pull) and waits for all.
 *
 * Every handoff request's deadline follows the peer's measured round trips and doubles after a
 * timeout (request-deadlines.ts): the work is only ever retried, never given to another node, so a
 * fixed deadline below the round trip would make no progress at all (30 tabs on two cores).
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
import { versionDigest } from './merkle-tree.js';
import { RequestDeadlines } from './request-deadlines.js';
import { versionSetSizeBytes } from './version-set.js';

/** Settings of partition handoff. */
export interface OwnershipHandoffConfig {
  /** How often handoff work is looked for, in ms. Default 500. */
  ownershipHandoffIntervalMs: number;
  /** Most objects per handoff batch. Default 128. */
  ownershipHandoffBatchSize: number;
  /** Most handoff batches in flight at once from one node (the throttle: transfers wait for a slot per batch). Default 2. */
  ownershipHandoffConcurrency: number;
}

/** A handoff batch stops growing past this many bytes (the wire cap of a message is 6 MiB). */
export const HANDOFF_BATCH_BYTES = 1024 * 1024;

/**
 * Comparisons of Merkle roots with a receiver that get no usable answer (a timeout, an error reply)
 * before the partition is streamed to it instead: the comparison only saves work, it must never be
 * what a handoff waits for.
 */
export const VERIFY_ATTEMPTS = 2;

/** A receiver asks a source again for a pending partition after this long without its finish (ms). */
const PULL_RETRY_MS = 10_000;

/** Defaults of {@link OwnershipHandoffConfig}. */
export const DEFAULT_OWNERSHIP_HANDOFF_CONFIG: OwnershipHandoffConfig = {
  ownershipHandoffIntervalMs: 500,
  ownershipHandoffBatchSize: 128,
  ownershipHandoffConcurrency: 2,
};

/** Requests the handoff sends. */
export type HandoffRequest =
  | Omit<Extract<Message, { type: 'handoff-start' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'handoff-batch' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'handoff-finish' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'handoff-pull' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'ae-roots' }>, 'requestId'>;

/** A finished transfer of one partition to one node. */
export interface TransferReport {
  partition: number;
  /** The receiver. */
  peer: NodeId;
  /** Why: this node no longer replicates the partition (`ownership`), a new replica asked (`pull`), or left-over objects (`sweep`). */
  reason: 'ownership' | 'pull' | 'sweep';
  keys: number;
  bytes: number;
  durationMs: number;
}

/** A transfer in progress, for the explorer and tests. */
export interface TransferState {
  partition: number;
  peer: NodeId;
  reason: TransferReport['reason'];
  keysSent: number;
  keysTotal: number;
  /** `waiting`: for its retry time after a failure, or for a batch slot of the throttle. */
  state: 'running' | 'waiting';
  /** Attempts started so far (the first included); each failure waits two handoff intervals before the next. */
  attempts: number;
  /** Why the last attempt failed ('refused', a request timeout, …), if one did. */
  lastError?: string;
}

/** What the handoff needs from the node core. */
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
  /** Deletes `key` if its stored version set still has `digest` (under the key's lock); true when deleted. */
  dropIfUnchanged: (key: string, digest: Uint8Array) => Promise<boolean>;
  /** This node's `pending` or `handoffs` changed: gossip them. */
  publish: (pending: number[], handoffs: number[]) => void;
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

interface Transfer {
  partition: number;
  peer: NodeId;
  reason: TransferReport['reason'];
  keys: string[] | undefined;
  cursor: number;
  bytes: number;
  startedMs: number;
  running: boolean;
  /** Earliest time (ms) of the next attempt after a failure. */
  retryAtMs: number;
  /** Running, but waiting for a batch slot. */
  queued: boolean;
  attempts: number;
  lastError: string | undefined;
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

/** The partition handoff engine of one node. */
export class OwnershipHandoff {
  /** Partitions replicated here whose data has not been received yet, and since when (ms). */
  private readonly pending = new Map<number, number>();
  /** Partitions held here but not replicated: being handed off (advertised). */
  private readonly advertised = new Set<number>();
  /** Per advertised partition: receivers that acknowledged its finish. */
  private readonly doneTo = new Map<number, Set<NodeId>>();
  /** Per pending partition: holders/sources that finished to this node. */
  private readonly finishedFrom = new Map<number, Set<NodeId>>();
  /** Per pending partition: sources asked to hand it over (handoff-pull), and when (ms). */
  private readonly pulled = new Map<number, Map<NodeId, number>>();
  /** Digest of each object last sent, per partition (deleted after the handoff only if unchanged). */
  private readonly sentDigests = new Map<number, Map<string, Uint8Array>>();
  private readonly transfers = new Map<string, Transfer>();
  /** `partition:peer` pairs whose roots were compared and differed (or could not be compared): they get a stream. */
  private readonly verifyTried = new Set<string>();
  /** Comparisons of roots that got no usable answer, by `partition:peer` (see VERIFY_ATTEMPTS). */
  private readonly verifyFailures = new Map<string, number>();
  /** Handoff batches awaiting their acknowledgement (at most `ownershipHandoffConcurrency`), and transfers waiting for a slot. */
  private batchesInFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  /** Peers with a root comparison in flight. */
  private readonly verifying = new Set<NodeId>();
  private replicated = new Set<number>();
  /** Deadlines of handoff requests, per peer, from their measured round trips. */
  private readonly deadlines = new RequestDeadlines();
  /** Keys held per partition (from the Merkle trees, refreshed every tick). */
  private counts = new Map<number, number>();
  private refreshing = false;
  private nextRunAtMs = 0;
  private nextSweepAtMs = 0;
  private sweeping = false;
  /** Counters for statistics. */
  keysSent = 0;
  keysReceived = 0;
  transfersCompleted = 0;

  constructor(
    private readonly config: OwnershipHandoffConfig,
    private readonly ports: HandoffPorts,
  ) {}

  /** Restores what the node's stored record remembered (after a restart). */
  restore(pending: readonly number[], handoffs: readonly number[]): void {
    for (const p of pending) this.pending.set(p, this.ports.now());
    for (const p of handoffs) this.advertised.add(p);
  }

  /** The partitions still pending here, ascending. */
  pendingPartitions(): number[] {
    return [...this.pending.keys()].sort((a, b) => a - b);
  }

  /** The partitions being handed off from here, ascending. */
  handoffPartitions(): number[] {
    return [...this.advertised].sort((a, b) => a - b);
  }

  /** Transfers in progress or waiting to be retried. */
  transferStates(): TransferState[] {
    return [...this.transfers.values()].map((t) => ({
      partition: t.partition,
      peer: t.peer,
      reason: t.reason,
      keysSent: t.cursor,
      keysTotal: t.keys?.length ?? 0,
      state: t.running && !t.queued ? 'running' : 'waiting',
      attempts: t.attempts,
      ...(t.lastError !== undefined ? { lastError: t.lastError } : {}),
    }));
  }

  /**
   * Whether this node's answers for `partition` count towards a quorum: it replicates the partition
   * and has received it, or it is a holder still handing it off.
   */
  isComplete(partition: number): boolean {
    return (this.replicated.has(partition) && !this.pending.has(partition)) || this.advertised.has(partition);
  }

  /** True when this node replicates `partition` in its current ring. */
  replicates(partition: number): boolean {
    return this.replicated.has(partition);
  }

  /**
   * The ring changed from `before` to `after`: partitions replicated now but not before become
   * pending, partitions replicated before but not now are advertised for handoff.
   */
  ringChanged(before: Ring, after: Ring): void {
    const n = this.ports.n();
    const old = replicatedPartitions(before, this.ports.self, n);
    const now = replicatedPartitions(after, this.ports.self, n);
    this.replicated = now;
    let changed = false;
    for (const p of now) {
      if (!old.has(p) && !this.pending.has(p) && !this.advertised.has(p)) {
        this.pending.set(p, this.ports.now());
        changed = true;
      }
      if (this.advertised.delete(p)) {
        changed = true;
        this.cancelTransfers(p);
      }
    }
    for (const p of old) {
      if (now.has(p)) continue;
      if (this.pending.delete(p)) changed = true;
      // Only a partition with objects here is worth a handoff; objects that arrive later are found by the sweep.
      if (!this.advertised.has(p) && (this.counts.get(p) ?? 0) > 0) {
        this.advertised.add(p);
        changed = true;
      }
    }
    for (const p of [...this.pending.keys()]) {
      if (!now.has(p)) {
        this.pending.delete(p);
        changed = true;
      }
    }
    // Receivers may have changed: what was acknowledged stays acknowledged, new receivers get theirs.
    for (const p of [...this.finishedFrom.keys()]) if (!this.pending.has(p)) this.finishedFrom.delete(p);
    for (const p of [...this.pulled.keys()]) if (!this.pending.has(p)) this.pulled.delete(p);
    this.verifyTried.clear();
    this.verifyFailures.clear();
    if (changed) this.publish();
    this.nextRunAtMs = this.ports.now();
  }

  /** Runs due work: transfers to start or resume, pending partitions to settle. */
  tick(nowMs: number): void {
    if (nowMs < this.nextRunAtMs) return;
    this.nextRunAtMs = nowMs + this.config.ownershipHandoffIntervalMs;
    if (!this.refreshing) void this.refreshCounts();
    this.settlePending(nowMs);
    this.planOwnershipTransfers();
    if (nowMs >= this.nextSweepAtMs && !this.sweeping) {
      this.nextSweepAtMs = nowMs + this.config.ownershipHandoffIntervalMs * 10;
      this.sweeping = true;
      void this.sweep().finally(() => (this.sweeping = false));
    }
    this.runTransfers(nowMs);
  }

  /** Reads the key count of every partition held here from the Merkle trees. */
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

  // ─── receiver ───────────────────────────────────────────────────────────────────────────────

  /** A holder announces a transfer of `partition`: accepted only when this node replicates it. */
  onStart(partition: number): boolean {
    return this.replicated.has(partition);
  }

  /** A batch of objects: merged durably before the answer. */
  async onBatch(partition: number, items: readonly { key: string; versions: VersionSet }[]): Promise<boolean> {
    if (!this.replicated.has(partition)) return false;
    await this.ports.mergeBatch(items);
    this.keysReceived += items.length;
    return true;
  }

  /** `from` sent everything it had of `partition`. */
  onFinish(from: NodeId, partition: number): boolean {
    if (!this.replicated.has(partition)) return false;
    if (this.pending.has(partition)) {
      let set = this.finishedFrom.get(partition);
      if (!set) this.finishedFrom.set(partition, (set = new Set()));
      set.add(from);
      this.settlePending(this.ports.now());
    }
    return true;
  }

  /** A new replica asks for `partition`: accepted (and a transfer queued) when this node holds it completely. */
  onPull(from: NodeId, partition: number): boolean {
    if (!this.isComplete(partition) || from === this.ports.self) return false;
    const key = `${partition}:${from}`;
    if (!this.transfers.has(key)) this.transfers.set(key, this.newTransfer(partition, from, 'pull'));
    this.nextRunAtMs = this.ports.now();
    return true;
  }

  /** Marks pending partitions received when every holder (or, without holders, every complete replica) finished. */
  private settlePending(nowMs: number): void {
    if (this.pending.size === 0) return;
    const members = this.ports.members();
    const ring = this.ports.ring();
    const n = this.ports.n();
    const pendingOf = new Map(members.map((m) => [m.id, new Set(m.pending)]));
    let changed = false;
    for (const [p, sinceMs] of [...this.pending]) {
      const finished = this.finishedFrom.get(p) ?? new Set<NodeId>();
      const holders = members.filter((m) => m.id !== this.ports.self && m.status !== 'left' && m.handoffs.includes(p)).map((m) => m.id);
      let done: boolean;
      if (holders.length > 0) {
        done = holders.every((h) => finished.has(h));
      } else {
        const sources = ring
          .preferenceListForPartition(p)
          .slice(0, n)
          .filter((id) => id !== this.ports.self && !(pendingOf.get(id)?.has(p) ?? true));
        if (sources.length > 0 && sources.every((s) => this.ports.reportedKeys(s) === 0) && this.ports.knowsCluster()) {
          // Every other replica reported holding no object at all (a new cluster): nothing to receive.
          done = true;
        } else if (nowMs - sinceMs < this.ports.holderGraceMs()) {
          // The old holders may not have heard of the change yet: give gossip time to bring their
          // advertisements before asking the other replicas for the whole partition.
          done = false;
        } else if (sources.length === 0) {
          // Nobody holds the partition's past writes: nothing to wait for (a new cluster) — unless
          // this node has not heard of its cluster yet.
          done = this.ports.knowsCluster();
        } else {
          // Every source this node can reach must have finished (a source that is gone for good — a
          // wiped tab's old id, say — would otherwise keep the partition pending forever), and at least
          // one.
          const reachable = sources.filter((s) => this.ports.isHealthy(s) || finished.has(s));
          done = reachable.length > 0 && reachable.every((s) => finished.has(s));
          let asked = this.pulled.get(p);
          if (!asked) this.pulled.set(p, (asked = new Map()));
          for (const source of sources) {
            // Asked again when nothing came for a while (the source may have dropped the transfer).
            const askedAtMs = asked.get(source);
            if (finished.has(source) || (askedAtMs !== undefined && nowMs - askedAtMs < PULL_RETRY_MS) || !this.ports.isHealthy(source)) continue;
            asked.set(source, nowMs);
            const askedSet = asked;
            this.ask(source, { type: 'handoff-pull', partition: p }, this.ports.controlTimeoutMs())
              .then((reply) => {
                if (reply.type !== 'handoff-reply' || !reply.accepted) askedSet.delete(source);
              })
              .catch(() => askedSet.delete(source));
          }
        }
      }
      if (done) {
        this.pending.delete(p);
        this.finishedFrom.delete(p);
        this.pulled.delete(p);
        changed = true;
        this.ports.onPartitionReceived(p);
      }
    }
    if (changed) this.publish();
  }

  // ─── sender ─────────────────────────────────────────────────────────────────────────────────

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
      // pending partition that no node advertises is pulled, see settlePending).
      if (leaving && done.size > 0) missing = missing.filter((r) => this.ports.isHealthy(r));
      if (receivers.length > 0 && missing.length === 0) {
        // Every replica has it: stop advertising, then delete what was sent and did not change.
        this.advertised.delete(p);
        this.doneTo.delete(p);
        // Transfers queued to receivers that are down (a leaving node's) are not waited for either.
        if (leaving) this.cancelTransfers(p);
        changed = true;
        void this.dropSent(p);
        continue;
      }
      for (const receiver of missing) {
        const key = `${p}:${receiver}`;
        if (this.transfers.has(key)) continue;
        if (!this.isPendingAt(receiver, p) && !this.verifyTried.has(key)) {
          let list = verify.get(receiver);
          if (!list) verify.set(receiver, (list = []));
          list.push(p);
        } else {
          this.transfers.set(key, this.newTransfer(p, receiver, 'ownership'));
        }
      }
    }
    for (const [peer, partitions] of verify) {
      if (this.verifying.has(peer) || !this.ports.isHealthy(peer)) continue;
      this.verifying.add(peer);
      void this.verifyHeld(peer, partitions).finally(() => this.verifying.delete(peer));
    }
    if (changed) this.publish();
  }

  /**
   * Finds objects of partitions this node neither replicates nor advertises (writes that reached it
   * after its handoff, or a removed node's data) and hands them to the replicas.
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
    const busy = new Set([...this.transfers.values()].map((t) => t.partition));
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
      for (const receiver of leaving && up.length > 0 ? up : receivers) this.transfers.set(`${p}:${receiver}`, this.newTransfer(p, receiver, 'sweep'));
    }
    if (leftovers === 0 && this.advertised.size === 0 && this.transfers.size === 0) this.ports.onDrained();
  }

  private newTransfer(partition: number, peer: NodeId, reason: TransferReport['reason']): Transfer {
    return { partition, peer, reason, keys: undefined, cursor: 0, bytes: 0, startedMs: this.ports.now(), running: false, retryAtMs: 0, queued: false, attempts: 0, lastError: undefined };
  }

  private cancelTransfers(partition: number): void {
    for (const [key, t] of this.transfers) if (t.partition === partition && t.reason !== 'pull' && !t.running) this.transfers.delete(key);
  }

  /**
   * Starts every due transfer. The throttle is on batches, not transfers (see `batchSlot`): a
   * transfer's start and finish are small messages, and when each of them waited for a slot too, a
   * node with many small partitions to hand off (a leaving node holds a 1/n share of the ring) moved
   * one partition per three round trips per slot, which took minutes once round trips took a second.
   */
  private runTransfers(nowMs: number): void {
    for (const transfer of this.transfers.values()) {
      if (transfer.running || transfer.retryAtMs > nowMs || !this.ports.isHealthy(transfer.peer)) continue;
      transfer.running = true;
      void this.runTransfer(transfer);
    }
  }

  /** Waits for one of the `ownershipHandoffConcurrency` batch slots (first come, first served); resolves to its release. */
  private async batchSlot(): Promise<() => void> {
    if (this.batchesInFlight >= this.config.ownershipHandoffConcurrency) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    } else {
      this.batchesInFlight++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes directly to the next waiter, if any.
      const next = this.slotWaiters.shift();
      if (next) next();
      else this.batchesInFlight--;
    };
  }

  /** Streams one partition to one node, from where it stopped; on failure waits and resumes later. */
  private async runTransfer(t: Transfer): Promise<void> {
    const key = `${t.partition}:${t.peer}`;
    const timeoutMs = this.ports.timeoutMs();
    const controlTimeoutMs = this.ports.controlTimeoutMs();
    t.attempts++;
    try {
      if (t.keys === undefined) {
        const keys = await this.keysOf(t.partition);
        // An empty partition needs no stream: the finish alone tells the receiver (one round trip).
        if (keys.length > 0) {
          const reply = await this.ask(t.peer, { type: 'handoff-start', partition: t.partition, keys: keys.length }, controlTimeoutMs);
          // Refused: the receiver does not replicate the partition in its ring (views differ for a moment).
          if (reply.type !== 'handoff-reply' || !reply.accepted) throw new Error('refused');
        }
        t.keys = keys;
      }
      let digests = this.sentDigests.get(t.partition);
      if (!digests) this.sentDigests.set(t.partition, (digests = new Map()));
      for (let pass = 0; pass < 3; pass++) {
        if (pass > 0) {
          // Objects written here while the stream ran: send them too before the finish.
          const known = new Set(t.keys);
          const added = (await this.keysOf(t.partition)).filter((k) => !known.has(k));
          if (added.length === 0) break;
          t.keys.push(...added);
        }
        await this.streamFrom(t, t.keys, digests, timeoutMs);
      }
      const reply = await this.ask(t.peer, { type: 'handoff-finish', partition: t.partition, keys: t.keys.length }, controlTimeoutMs);
      if (reply.type !== 'handoff-reply' || !reply.accepted) throw new Error('refused');
      this.completed(t, key, t.keys.length);
    } catch (error) {
      t.retryAtMs = this.ports.now() + this.config.ownershipHandoffIntervalMs * 2;
      t.lastError = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
      // A transfer that is no longer wanted (the ring changed back, or the receiver no longer
      // replicates the partition) is dropped; a receiver that still needs a pulled partition asks again.
      const refused = error instanceof Error && error.message === 'refused';
      if (t.reason !== 'pull' && (this.replicated.has(t.partition) || !this.wantedBy(t.partition, t.peer))) this.transfers.delete(key);
      if (t.reason === 'pull' && (refused || !this.isComplete(t.partition) || !this.wantedBy(t.partition, t.peer))) this.transfers.delete(key);
    } finally {
      t.running = false;
    }
    // The next transfer starts now, not at the next tick.
    if (this.transfers.size > 0) this.runTransfers(this.ports.now());
  }

  private completed(t: Transfer, key: string, keys: number): void {
    this.transfers.delete(key);
    this.transfersCompleted++;
    if (t.reason === 'ownership') {
      let done = this.doneTo.get(t.partition);
      if (!done) this.doneTo.set(t.partition, (done = new Set()));
      done.add(t.peer);
    }
    this.ports.onTransfer({ partition: t.partition, peer: t.peer, reason: t.reason, keys, bytes: t.bytes, durationMs: this.ports.now() - t.startedMs });
    if (t.reason === 'sweep' && ![...this.transfers.values()].some((o) => o.partition === t.partition)) void this.dropSent(t.partition);
    if (t.reason === 'ownership') this.planOwnershipTransfers();
  }

  /** Whether this node is leaving the ring (its gossiped record). */
  private isLeaving(): boolean {
    return this.ports.members().find((m) => m.id === this.ports.self)?.status === 'leaving';
  }

  /** Whether `node`'s gossiped record says it is still receiving `partition`. */
  private isPendingAt(node: NodeId, partition: number): boolean {
    return this.ports.members().find((m) => m.id === node)?.pending.includes(partition) ?? true;
  }

  /**
   * Receivers that replicated the partitions before (not pending) usually hold everything already:
   * one ae-roots message compares all their Merkle roots with ours. Equal roots count as handed off
   * (our objects' digests are recorded, so they may be deleted if unchanged); the others get a stream.
   */
  private async verifyHeld(peer: NodeId, partitions: number[]): Promise<void> {
    const merkle = this.ports.merkle();
    if (!merkle) return;
    try {
      const reply = await this.ask(peer, { type: 'ae-roots', partitions }, this.ports.controlTimeoutMs());
      if (reply.type !== 'ae-hashes-reply' || reply.hashes.length !== partitions.length) {
        this.verifyFailed(peer, partitions);
        return;
      }
      const mine = await merkle.roots(partitions);
      const { fanout, depth } = merkle.shape();
      const leaves = Array.from({ length: fanout ** depth }, (_, i) => i);
      for (const [i, p] of partitions.entries()) {
        if (!this.advertised.has(p)) continue;
        if (!equalBytes(mine[i]!, reply.hashes[i]!)) {
          this.verifyTried.add(`${p}:${peer}`);
          continue;
        }
        let digests = this.sentDigests.get(p);
        if (!digests) this.sentDigests.set(p, (digests = new Map()));
        for (const item of await merkle.leafItems(p, leaves)) {
          const earlier = digests.get(item.key);
          digests.set(item.key, earlier === undefined || equalBytes(earlier, item.digest) ? item.digest : new Uint8Array(0));
        }
        let done = this.doneTo.get(p);
        if (!done) this.doneTo.set(p, (done = new Set()));
        done.add(peer);
      }
    } catch {
      // Tried again at the next tick, and streamed after VERIFY_ATTEMPTS failures.
      this.verifyFailed(peer, partitions);
      return;
    }
    this.planOwnershipTransfers();
  }

  /** A comparison with `peer` got no usable answer: after VERIFY_ATTEMPTS of them, its partitions are streamed. */
  private verifyFailed(peer: NodeId, partitions: number[]): void {
    for (const p of partitions) {
      const key = `${p}:${peer}`;
      const failures = (this.verifyFailures.get(key) ?? 0) + 1;
      if (failures < VERIFY_ATTEMPTS) {
        this.verifyFailures.set(key, failures);
      } else {
        this.verifyFailures.delete(key);
        this.verifyTried.add(key);
      }
    }
  }

  /** Keys of `partition` held here (from the Merkle trees), sorted. */
  private async keysOf(partition: number): Promise<string[]> {
    const merkle = this.ports.merkle();
    if (!merkle) throw new Error('no Merkle trees yet');
    const { fanout, depth } = merkle.shape();
    const leaves = Array.from({ length: fanout ** depth }, (_, i) => i);
    return (await merkle.leafItems(partition, leaves)).map((item) => item.key);
  }

  /** Sends the batches of `t` from its cursor on, one at a time, each acknowledged before the next. */
  private async streamFrom(t: Transfer, keys: string[], digests: Map<string, Uint8Array>, timeoutMs: number): Promise<void> {
    while (t.cursor < keys.length) {
      t.queued = true;
      const release = await this.batchSlot().finally(() => (t.queued = false));
      try {
        // The wait for a slot may have been long: a peer found unreachable or no longer a receiver
        // meanwhile is not sent to (its request would hold the slot until its deadline).
        if (!this.stillWanted(t)) throw new Error('not wanted now');
        await this.sendBatch(t, keys, digests, timeoutMs);
      } finally {
        release();
      }
    }
  }

  /** Reads and sends the batch of `t` at its cursor; on its acknowledgement, moves the cursor past it. */
  private async sendBatch(t: Transfer, keys: string[], digests: Map<string, Uint8Array>, timeoutMs: number): Promise<void> {
    const slice = keys.slice(t.cursor, t.cursor + this.config.ownershipHandoffBatchSize);
    const objects = await this.ports.localObjects(slice);
    const items: { key: string; versions: VersionSet }[] = [];
    let batchBytes = 0;
    let taken = 0;
    // At most ownershipHandoffBatchSize objects and about HANDOFF_BATCH_BYTES, but always at least one.
    for (const [i, k] of slice.entries()) {
      if (taken > 0 && batchBytes >= HANDOFF_BATCH_BYTES) break;
      taken++;
      const versions = objects[i];
      if (versions === undefined) continue;
      items.push({ key: k, versions });
      batchBytes += versionSetSizeBytes(versions) + k.length;
    }
    const reply = await this.ask(t.peer, { type: 'handoff-batch', partition: t.partition, items }, timeoutMs);
    if (reply.type !== 'handoff-reply' || !reply.accepted) throw new Error('refused');
    for (const item of items) {
      const digest = versionDigest(item.versions);
      const earlier = digests.get(item.key);
      // Two receivers got different versions: keep the object for the sweep to resend.
      digests.set(item.key, earlier === undefined || equalBytes(earlier, digest) ? digest : new Uint8Array(0));
      t.bytes += versionSetSizeBytes(item.versions) + item.key.length;
    }
    t.cursor += taken;
    this.keysSent += items.length;
  }

  /**
   * Sends a handoff request to `peer` with a deadline of at least `floorMs`, longer when the peer's
   * answers have been slow or its last requests timed out (request-deadlines.ts). Handoff has no
   * fallback node to turn to, only the same request again: a fixed deadline shorter than the round
   * trip would fail every retry.
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

  /**
   * Whether `t` is still worth a batch: its peer is reachable and still receives the partition. The
   * receivers of an ownership or sweep transfer are this node's ring's replicas; a pull comes from a
   * node that replicates the partition in its own ring, which may be newer than ours (a joiner we have
   * not heard of yet), so only its departure ends it.
   */
  private stillWanted(t: Transfer): boolean {
    if (!this.ports.isHealthy(t.peer)) return false;
    if (t.reason !== 'pull') return this.wantedBy(t.partition, t.peer);
    return this.isComplete(t.partition) && this.ports.members().find((m) => m.id === t.peer)?.status !== 'left';
  }

  private wantedBy(partition: number, peer: NodeId): boolean {
    const ring = this.ports.ring();
    return ring.members.length > 0 && ring.preferenceListForPartition(partition).slice(0, this.ports.n()).includes(peer);
  }

  /** Deletes the objects of `partition` that were handed off and did not change since. */
  private async dropSent(partition: number): Promise<void> {
    if (this.replicated.has(partition)) return;
    const digests = this.sentDigests.get(partition);
    this.sentDigests.delete(partition);
    if (!digests) return;
    for (const [key, digest] of digests) {
      if (digest.length === 0) continue;
      try {
        await this.ports.dropIfUnchanged(key, digest);
      } catch {
        // Left for the next sweep.
      }
    }
    this.nextSweepAtMs = Math.min(this.nextSweepAtMs, this.ports.now() + this.config.ownershipHandoffIntervalMs);
  }

  private publish(): void {
    this.ports.publish(this.pendingPartitions(), this.handoffPartitions());
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

