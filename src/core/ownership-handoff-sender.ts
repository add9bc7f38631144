/**
 * The sending side of ownership handoff (paper §4.9; riak_core's handoff sender): the transfers of
 * partitions from this node to other nodes, which the manager (ownership-handoff.ts) plans.
 *
 * A transfer moves one partition to one peer and is resumable:
 *
 *   keys      listed from the Merkle trees; an empty partition needs no handoff-start
 *   stream    batches of ≤ ownershipHandoffBatchSize objects (≈ HANDOFF_BATCH_BYTES), one in flight
 *             per transfer, each waiting for one of ownershipHandoffConcurrency batch slots of the
 *             node; the cursor moves past a batch once it is acknowledged, so a retry resumes there
 *   catch up  objects written here while the stream ran are streamed too (up to three passes)
 *   finish    handoff-finish; then the manager hears that the peer has the partition
 *
 * A failed attempt waits two handoff intervals (`retryAtMs`). Before any stream, a peer that
 * replicated the partition before is asked for its Merkle roots (`verify`): equal roots count as
 * handed off. Once a partition is handed off, the objects sent are dropped if they did not change
 * since (`dropSent`).
 */
import { sameBytes } from './bytes.js';
import { describeTransferFailure, MerkleTreesNotReadyError, TransferNotWantedError, TransferRefusedError } from './ownership-handoff-errors.js';
import type { HandoffPorts, HandoffRequest, OwnershipHandoffConfig } from './ownership-handoff.js';
import type { ReplyMessage } from './messages.js';
import type { NodeId, VersionSet } from './types.js';
import { versionDigest } from './merkle-tree.js';
import { versionSetSizeBytes } from './version-set.js';

/** A handoff batch stops growing past this many bytes (the wire cap of a message is 6 MiB). */
export const HANDOFF_BATCH_BYTES = 1024 * 1024;

/**
 * Comparisons of Merkle roots with a receiver that get no usable answer (a timeout, an error reply)
 * before the partition is streamed to it instead: the comparison only saves work, it must never be
 * what an ownership handoff waits for.
 */
export const VERIFY_ATTEMPTS = 2;

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
  /** Attempts started so far (the first included); each failure waits two ownership handoff intervals before the next. */
  attempts: number;
  /** Why the last attempt failed ('refused', a request timeout, …), if one did (ownership-handoff-errors.ts). */
  lastError?: string;
}

/** What the sender needs from its manager (ownership-handoff.ts). */
export interface SenderManager {
  /** Sends a request with a deadline of at least `floorMs` that follows `peer`'s round trips. */
  ask(peer: NodeId, body: HandoffRequest, floorMs: number): Promise<ReplyMessage>;
  replicates(partition: number): boolean;
  isComplete(partition: number): boolean;
  isAdvertised(partition: number): boolean;
  /** `peer` has `partition`: its finish was acknowledged, or its Merkle roots equal this node's. */
  acknowledged(partition: number, peer: NodeId): void;
  planOwnershipTransfers(): void;
  /** Objects were dropped: the next sweep runs within one ownership handoff interval. */
  sweepSoon(): void;
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

const transferKey = (partition: number, peer: NodeId): string => `${partition}:${peer}`;

/** The transfers of one node, their batch slots, root comparisons and the dropping of what was sent. */
export class OwnershipHandoffSender {
  /** By `partition:peer`. */
  private readonly transfers = new Map<string, Transfer>();
  /** Digest of each object last sent, per partition (dropped after the ownership handoff only if unchanged). */
  private readonly sentDigests = new Map<number, Map<string, Uint8Array>>();
  /** `partition:peer` pairs whose roots were compared and differed (or could not be compared): they get a stream. */
  private readonly verifyTried = new Set<string>();
  /** Comparisons of roots that got no usable answer, by `partition:peer` (see VERIFY_ATTEMPTS). */
  private readonly verifyFailures = new Map<string, number>();
  /** Peers with a root comparison in flight. */
  private readonly verifying = new Set<NodeId>();
  /** Batches awaiting their acknowledgement (at most `ownershipHandoffConcurrency`), and transfers waiting for a slot. */
  private batchesInFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  /** Objects sent in acknowledged batches (statistics). */
  keysSent = 0;
  /** Transfers that ended with an acknowledged finish (statistics). */
  transfersCompleted = 0;

  constructor(
    private readonly config: OwnershipHandoffConfig,
    private readonly ports: HandoffPorts,
    private readonly manager: SenderManager,
  ) {}

  /** Transfers in progress or waiting to be retried. */
  states(): TransferState[] {
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

  /** True when a transfer of `partition` to `peer` is queued or running. */
  has(partition: number, peer: NodeId): boolean {
    return this.transfers.has(transferKey(partition, peer));
  }

  /** True when no transfer is queued or running. */
  idle(): boolean {
    return this.transfers.size === 0;
  }

  /** Partitions with a transfer queued or running. */
  busyPartitions(): Set<number> {
    return new Set([...this.transfers.values()].map((t) => t.partition));
  }

  /** Queues a new transfer of `partition` to `peer` (replacing one queued before), started at the next `run`. */
  queue(partition: number, peer: NodeId, reason: TransferReport['reason']): void {
    const transfer: Transfer = { partition, peer, reason, keys: undefined, cursor: 0, bytes: 0, startedMs: this.ports.now(), running: false, retryAtMs: 0, queued: false, attempts: 0, lastError: undefined };
    this.transfers.set(transferKey(partition, peer), transfer);
  }

  /** Drops the transfers of `partition` that are not running, pulls excepted. */
  cancel(partition: number): void {
    for (const [key, t] of this.transfers) if (t.partition === partition && t.reason !== 'pull' && !t.running) this.transfers.delete(key);
  }

  /** Forgets every root comparison (the ring changed: receivers may have too). */
  forgetVerifications(): void {
    this.verifyTried.clear();
    this.verifyFailures.clear();
  }

  /** True when `peer` is asked for its Merkle roots of `partition` before a stream (not compared yet). */
  needsVerification(partition: number, peer: NodeId): boolean {
    return !this.verifyTried.has(transferKey(partition, peer));
  }

  /**
   * Starts every due transfer. The throttle is on batches, not transfers (see `batchSlot`): a
   * transfer's start and finish are small messages, and when each of them waited for a slot too, a
   * node with many small partitions to hand off (a leaving node holds a 1/n share of the ring) moved
   * one partition per three round trips per slot, which took minutes once round trips took a second.
   */
  run(nowMs: number): void {
    for (const transfer of this.transfers.values()) {
      if (transfer.running || transfer.retryAtMs > nowMs || !this.ports.isHealthy(transfer.peer)) continue;
      transfer.running = true;
      void this.runTransfer(transfer);
    }
  }

  /**
   * Compares `partitions` with `peer` by Merkle roots (one ae-roots message), unless a comparison
   * with `peer` is in flight or it is unreachable. Receivers that replicated the partitions before
   * (not pending) usually hold everything already: equal roots count as handed off (the digests of
   * this node's objects are recorded, so they may be dropped if unchanged); the others get a stream.
   */
  verify(peer: NodeId, partitions: number[]): void {
    if (this.verifying.has(peer) || !this.ports.isHealthy(peer)) return;
    this.verifying.add(peer);
    void this.verifyHeld(peer, partitions).finally(() => this.verifying.delete(peer));
  }

  /** Deletes the objects of `partition` that were handed off and did not change since. */
  async dropSent(partition: number): Promise<void> {
    if (this.manager.replicates(partition)) return;
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
    this.manager.sweepSoon();
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
    const key = transferKey(t.partition, t.peer);
    const timeoutMs = this.ports.timeoutMs();
    const controlTimeoutMs = this.ports.controlTimeoutMs();
    t.attempts++;
    try {
      if (t.keys === undefined) {
        const keys = await this.keysOf(t.partition);
        // An empty partition needs no stream: the finish alone tells the receiver (one round trip).
        if (keys.length > 0) {
          const reply = await this.manager.ask(t.peer, { type: 'handoff-start', partition: t.partition, keys: keys.length }, controlTimeoutMs);
          // Refused: the receiver does not replicate the partition in its ring (views differ for a moment).
          if (reply.type !== 'handoff-reply' || !reply.accepted) throw new TransferRefusedError();
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
      const reply = await this.manager.ask(t.peer, { type: 'handoff-finish', partition: t.partition, keys: t.keys.length }, controlTimeoutMs);
      if (reply.type !== 'handoff-reply' || !reply.accepted) throw new TransferRefusedError();
      this.completed(t, key, t.keys.length);
    } catch (error) {
      t.retryAtMs = this.ports.now() + this.config.ownershipHandoffIntervalMs * 2;
      t.lastError = describeTransferFailure(error);
      // A transfer that is no longer wanted (the ring changed back, or the receiver no longer
      // replicates the partition) is dropped; a receiver that still needs a pulled partition asks again.
      const refused = error instanceof TransferRefusedError;
      if (t.reason !== 'pull' && (this.manager.replicates(t.partition) || !this.wantedBy(t.partition, t.peer))) this.transfers.delete(key);
      if (t.reason === 'pull' && (refused || !this.manager.isComplete(t.partition) || !this.wantedBy(t.partition, t.peer))) this.transfers.delete(key);
    } finally {
      t.running = false;
    }
    // The next transfer starts now, not at the next tick.
    if (this.transfers.size > 0) this.run(this.ports.now());
  }

  private completed(t: Transfer, key: string, keys: number): void {
    this.transfers.delete(key);
    this.transfersCompleted++;
    if (t.reason === 'ownership') this.manager.acknowledged(t.partition, t.peer);
    this.ports.onTransfer({ partition: t.partition, peer: t.peer, reason: t.reason, keys, bytes: t.bytes, durationMs: this.ports.now() - t.startedMs });
    if (t.reason === 'sweep' && ![...this.transfers.values()].some((o) => o.partition === t.partition)) void this.dropSent(t.partition);
    if (t.reason === 'ownership') this.manager.planOwnershipTransfers();
  }

  /** The comparison of {@link verify}; a failed one is tried again at the next tick, and streamed after VERIFY_ATTEMPTS. */
  private async verifyHeld(peer: NodeId, partitions: number[]): Promise<void> {
    const merkle = this.ports.merkle();
    if (!merkle) return;
    try {
      const reply = await this.manager.ask(peer, { type: 'ae-roots', partitions }, this.ports.controlTimeoutMs());
      if (reply.type !== 'ae-hashes-reply' || reply.hashes.length !== partitions.length) {
        this.verifyFailed(peer, partitions);
        return;
      }
      const mine = await merkle.roots(partitions);
      const { fanout, depth } = merkle.shape();
      const leaves = Array.from({ length: fanout ** depth }, (_, i) => i);
      for (const [i, p] of partitions.entries()) {
        if (!this.manager.isAdvertised(p)) continue;
        if (!sameBytes(mine[i]!, reply.hashes[i]!)) {
          this.verifyTried.add(transferKey(p, peer));
          continue;
        }
        let digests = this.sentDigests.get(p);
        if (!digests) this.sentDigests.set(p, (digests = new Map()));
        for (const item of await merkle.leafItems(p, leaves)) {
          const earlier = digests.get(item.key);
          digests.set(item.key, earlier === undefined || sameBytes(earlier, item.digest) ? item.digest : new Uint8Array(0));
        }
        this.manager.acknowledged(p, peer);
      }
    } catch {
      // Tried again at the next tick, and streamed after VERIFY_ATTEMPTS failures.
      this.verifyFailed(peer, partitions);
      return;
    }
    this.manager.planOwnershipTransfers();
  }

  /** A comparison with `peer` got no usable answer: after VERIFY_ATTEMPTS of them, its partitions are streamed. */
  private verifyFailed(peer: NodeId, partitions: number[]): void {
    for (const p of partitions) {
      const key = transferKey(p, peer);
      const failures = (this.verifyFailures.get(key) ?? 0) + 1;
      if (failures < VERIFY_ATTEMPTS) {
        this.verifyFailures.set(key, failures);
      } else {
        this.verifyFailures.delete(key);
        this.verifyTried.add(key);
      }
    }
  }

  /** Keys of `partition` held here (from the Merkle trees), sorted. @throws MerkleTreesNotReadyError */
  private async keysOf(partition: number): Promise<string[]> {
    const merkle = this.ports.merkle();
    if (!merkle) throw new MerkleTreesNotReadyError();
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
        if (!this.stillWanted(t)) throw new TransferNotWantedError();
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
    const reply = await this.manager.ask(t.peer, { type: 'handoff-batch', partition: t.partition, items }, timeoutMs);
    if (reply.type !== 'handoff-reply' || !reply.accepted) throw new TransferRefusedError();
    for (const item of items) {
      const digest = versionDigest(item.versions);
      const earlier = digests.get(item.key);
      // Two receivers got different versions: keep the object for the sweep to resend.
      digests.set(item.key, earlier === undefined || sameBytes(earlier, digest) ? digest : new Uint8Array(0));
      t.bytes += versionSetSizeBytes(item.versions) + item.key.length;
    }
    t.cursor += taken;
    this.keysSent += items.length;
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
    return this.manager.isComplete(t.partition) && this.ports.members().find((m) => m.id === t.peer)?.status !== 'left';
  }

  /** Whether `peer` is among the first N of `partition`'s preference list in this node's ring. */
  private wantedBy(partition: number, peer: NodeId): boolean {
    const ring = this.ports.ring();
    return ring.members.length > 0 && ring.preferenceListForPartition(partition).slice(0, this.ports.n()).includes(peer);
  }
}
