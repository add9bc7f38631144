/**
 * The receiving side of ownership handoff (paper §4.9; riak_core's handoff receiver): the partitions
 * this node replicates now but did not before, until their data has arrived.
 *
 *   pending   a partition becomes pending when the ring gives it to this node (the manager,
 *             ownership-handoff.ts, says so); its answers do not count towards R or W meanwhile
 *   receive   handoff-bundle from holders: the objects of several partitions, merged durably in one
 *             transaction before the answer, and the finish of each partition a holder has sent
 *             completely; a part whose partition this node does not replicate is refused (and not
 *             merged). Holders of earlier versions send handoff-start / handoff-batch /
 *             handoff-finish for one partition at a time, taken the same way
 *   pull      when no node advertises the partition (its old holder was removed, or the cluster had
 *             fewer than N nodes), each complete replica is asked for it (handoff-pull), again after
 *             PULL_RETRY_MS without its finish
 *   settle    the partition is received once every advertising holder — or, without holders, every
 *             reachable complete replica — finished to this node
 */
import type { HandoffPart, HandoffPorts, HandoffRequest } from './ownership-handoff.js';
import type { ReplyMessage } from './messages.js';
import type { NodeId, VersionSet } from './types.js';

/** A receiver asks a source again for a pending partition after this long without its finish (ms). */
const PULL_RETRY_MS = 10_000;

/** What the receiver needs from its manager (ownership-handoff.ts). */
export interface ReceiverManager {
  /** Sends a request with a deadline of at least `floorMs` that follows `peer`'s round trips. */
  ask(peer: NodeId, body: HandoffRequest, floorMs: number): Promise<ReplyMessage>;
  replicates(partition: number): boolean;
  /** The pending partitions changed: gossip them. */
  publish(): void;
}

/** The pending partitions of one node, the finishes and pulls that settle them. */
export class OwnershipHandoffReceiver {
  /** Partitions replicated here whose data has not been received yet, and since when (ms). */
  private readonly pending = new Map<number, number>();
  /** Per pending partition: holders/sources that finished to this node. */
  private readonly finishedFrom = new Map<number, Set<NodeId>>();
  /** Per pending partition: sources asked to hand it over (handoff-pull), and when (ms). */
  private readonly pulled = new Map<number, Map<NodeId, number>>();
  /** Objects merged from handoff batches (statistics). */
  keysReceived = 0;

  constructor(
    private readonly ports: HandoffPorts,
    private readonly manager: ReceiverManager,
  ) {}

  /** The partitions still pending here, ascending. */
  partitions(): number[] {
    return [...this.pending.keys()].sort((a, b) => a - b);
  }

  /** True while `partition` is pending here. */
  isPending(partition: number): boolean {
    return this.pending.has(partition);
  }

  /** `partition` is pending from `sinceMs` on (replacing an earlier start). */
  expect(partition: number, sinceMs: number): void {
    this.pending.set(partition, sinceMs);
  }

  /** `partition` is no longer pending (not received: no longer replicated); true when it was. */
  forget(partition: number): boolean {
    return this.pending.delete(partition);
  }

  /**
   * Forgets the pending partitions not in `replicated`, and the finishes and pulls of partitions no
   * longer pending; true when a pending partition was forgotten.
   */
  retainOnly(replicated: ReadonlySet<number>): boolean {
    let changed = false;
    for (const p of [...this.pending.keys()]) {
      if (!replicated.has(p)) {
        this.pending.delete(p);
        changed = true;
      }
    }
    for (const p of [...this.finishedFrom.keys()]) if (!this.pending.has(p)) this.finishedFrom.delete(p);
    for (const p of [...this.pulled.keys()]) if (!this.pending.has(p)) this.pulled.delete(p);
    return changed;
  }

  /** A holder announces a transfer of `partition`: accepted only when this node replicates it. */
  onStart(partition: number): boolean {
    return this.manager.replicates(partition);
  }

  /** A batch of objects: merged durably before the answer; false when this node does not replicate `partition`. */
  async onBatch(partition: number, items: readonly { key: string; versions: VersionSet }[]): Promise<boolean> {
    if (!this.manager.replicates(partition)) return false;
    await this.ports.mergeBatch(items);
    this.keysReceived += items.length;
    return true;
  }

  /**
   * A bundle of parts from `from`: the objects of the parts whose partition this node replicates are
   * merged durably in one transaction, then their finishes are taken (see {@link onFinish}).
   * @returns the partitions refused, ascending: not replicated here (nothing of theirs was merged), or
   *   no longer replicated when their finish came to be taken.
   * @throws what `mergeBatch` throws (StorageError, VersionSetTooLargeError): nothing was taken.
   */
  async onBundle(from: NodeId, parts: readonly HandoffPart[]): Promise<number[]> {
    const refused = new Set<number>();
    const accepted: HandoffPart[] = [];
    for (const part of parts) {
      if (this.manager.replicates(part.partition)) accepted.push(part);
      else refused.add(part.partition);
    }
    const items = accepted.flatMap((part) => part.items);
    if (items.length > 0) {
      await this.ports.mergeBatch(items);
      this.keysReceived += items.length;
    }
    for (const part of accepted) if (part.finish === true && !this.onFinish(from, part.partition)) refused.add(part.partition);
    return [...refused].sort((a, b) => a - b);
  }

  /** `from` sent everything it had of `partition`; false when this node does not replicate it. */
  onFinish(from: NodeId, partition: number): boolean {
    if (!this.manager.replicates(partition)) return false;
    if (this.pending.has(partition)) {
      let set = this.finishedFrom.get(partition);
      if (!set) this.finishedFrom.set(partition, (set = new Set()));
      set.add(from);
      this.settle(this.ports.now());
    }
    return true;
  }

  /** Marks pending partitions received when every holder (or, without holders, every complete replica) finished. */
  settle(nowMs: number): void {
    if (this.pending.size === 0) return;
    const members = this.ports.members();
    const ring = this.ports.ring();
    const n = this.ports.n();
    const pendingOf = new Map(members.map((m) => [m.id, new Set(m.pendingPartitions)]));
    let changed = false;
    for (const [p, sinceMs] of [...this.pending]) {
      const finished = this.finishedFrom.get(p) ?? new Set<NodeId>();
      const holders = members.filter((m) => m.id !== this.ports.self && m.status !== 'left' && m.handoffPartitions.includes(p)).map((m) => m.id);
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
          this.pull(p, sources, finished, nowMs);
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
    if (changed) this.manager.publish();
  }

  /** Asks each reachable source of `partition` that has not finished for it (handoff-pull), at most every PULL_RETRY_MS. */
  private pull(partition: number, sources: readonly NodeId[], finished: ReadonlySet<NodeId>, nowMs: number): void {
    let asked = this.pulled.get(partition);
    if (!asked) this.pulled.set(partition, (asked = new Map()));
    for (const source of sources) {
      // Asked again when nothing came for a while (the source may have dropped the transfer).
      const askedAtMs = asked.get(source);
      if (finished.has(source) || (askedAtMs !== undefined && nowMs - askedAtMs < PULL_RETRY_MS) || !this.ports.isHealthy(source)) continue;
      asked.set(source, nowMs);
      const askedSet = asked;
      this.manager
        .ask(source, { type: 'handoff-pull', partition }, this.ports.controlTimeoutMs())
        .then((reply) => {
          if (reply.type !== 'handoff-reply' || !reply.accepted) askedSet.delete(source);
        })
        .catch(() => askedSet.delete(source));
    }
  }
}
