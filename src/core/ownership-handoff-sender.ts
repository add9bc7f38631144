/**
 * The sending side of ownership handoff (paper §4.9; riak_core's handoff sender): the transfers of
 * partitions from this node to other nodes, which the manager (ownership-handoff.ts) plans.
 *
 * Size (about 650 lines, over the usual 400): it holds both the bundle stream and the older
 * one-partition-at-a-time path that peers of an earlier version still need; the bundle stream
 * (per-peer queue, listing waves, pipelining) is the piece to move into a module of its own next.
 *
 * A transfer moves one partition to one peer and is resumable; the transfers to one peer travel
 * together, in one stream of bundles (a bundle carries several partitions' objects):
 *
 *   keys      listed from the Merkle trees when a bundle first needs them (LISTING_WAVE partitions
 *             at a time, in parallel)
 *   bundle    objects from the cursors of the peer's transfers, up to ownershipHandoffBatchSize objects
 *             and about HANDOFF_BATCH_BYTES, read from the store in one transaction, in one handoff-bundle
 *             message; the receiver merges them in one transaction. Each bundle waits for one of the
 *             node's ownershipHandoffConcurrency slots, so a peer's next bundle is read and sent while
 *             the last one is merged (a transfer is in at most one bundle in flight). A transfer's
 *             cursor moves past its objects once their bundle is acknowledged, so a retry resumes there
 *   catch up  once a bundle takes a transfer's last listed keys, the partition is listed again:
 *             objects written here meanwhile go in later bundles (up to TRANSFER_LISTINGS listings)
 *   finish    rides in the bundle that ends the transfer (or alone, for an empty partition); on its
 *             acknowledgement the manager hears that the peer has the partition
 *
 *   peer stream:   bundle 1 [p3: 400 objects, p7: 380 + finish, p9: 244]  ──▶  merged, acknowledged
 *                  bundle 2 [p9: 156 + finish, p12: 0 + finish, p14: 868] ──▶  (read while 1 merges)
 *
 * A receiver of an earlier version does not know bundles: the first message to a peer is a
 * handoff-start, whose reply says whether it does (`bundles`); to one that does not, each bundle holds
 * one partition and travels as handoff-batch and handoff-finish, as before.
 *
 * A failed attempt waits two handoff intervals (`retryAtMs`); a refused part fails only its own
 * transfer, and a bundle answered with an error reply sends each of its transfers alone next time, so
 * one partition the receiver cannot take holds back no other. Before any stream, a peer that
 * replicated the partition before is asked for its Merkle roots (`verify`): equal roots count as
 * handed off. Once a partition is handed off, the objects sent are dropped if they did not change
 * since (`dropSent`).
 */
import { sameBytes } from './bytes.js';
import { describeTransferFailure, MerkleTreesNotReadyError, TransferNotWantedError, TransferRefusedError } from './ownership-handoff-errors.js';
import type { HandoffPart, HandoffPorts, HandoffRequest, OwnershipHandoffConfig } from './ownership-handoff.js';
import { MAX_WIRE_HANDOFF_PARTS, type ReplyMessage } from './messages.js';
import type { NodeId, VersionSet } from './types.js';
import { versionDigest } from './merkle-tree.js';
import { versionSetSizeBytes } from './version-set.js';
import { RequestTimeoutError } from './errors.js';

/** A handoff bundle stops growing past this many bytes of objects (the wire cap of a message is 6 MiB). */
export const HANDOFF_BATCH_BYTES = 1024 * 1024;

/**
 * Listings of a partition's keys per attempt of a transfer: the first, then one each time its listed
 * keys have all been taken, for objects written here while it ran. Later ones are left to the sweep.
 */
export const TRANSFER_LISTINGS = 3;

/** Partitions a bundle lists at once (in parallel) while it fills up. */
const LISTING_WAVE = 32;

/** Handed-off objects asked to be dropped at once (`HandoffPorts.dropIfUnchanged`). */
export const DROP_BATCH_KEYS = 1024;

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
  /** The keys listed so far (the first listing, then those the catch-up listings added). */
  keys: string[] | undefined;
  /** Keys before it were sent and acknowledged. */
  cursor: number;
  /** Listings made in this attempt (see TRANSFER_LISTINGS). */
  listings: number;
  /** Part of a bundle awaiting its acknowledgement. */
  inFlight: boolean;
  /** Its last bundle was answered with an error reply: it travels alone until it completes. */
  alone: boolean;
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

/** One transfer's share of a bundle being sent. */
interface BundleEntry {
  transfer: Transfer;
  /** Listed keys this entry covers (objects deleted since their listing are among them, but not sent). */
  taken: number;
  items: { key: string; versions: VersionSet }[];
  finish: boolean;
}

/** What an answer to a bundle says: the partitions refused; the others were taken. */
interface BundleOutcome {
  refused: ReadonlySet<number>;
}

/** The transfers of one node, their streams and bundle slots, root comparisons and the dropping of what was sent. */
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
  /** Peers whose stream of bundles is running. */
  private readonly streams = new Set<NodeId>();
  /** Per peer, whether it takes handoff-bundle (learnt from its reply to a handoff-start). */
  private readonly takesBundles = new Map<NodeId, boolean>();
  /** Partitions whose sent objects are being dropped: a sweep leaves them alone meanwhile. */
  private readonly dropping = new Set<number>();
  /** Bundles awaiting their acknowledgement (at most `ownershipHandoffConcurrency`), and streams waiting for a slot. */
  private batchesInFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  /** Objects sent in acknowledged bundles (statistics). */
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

  /** Partitions with a transfer queued or running, or whose sent objects are being dropped. */
  busyPartitions(): Set<number> {
    return new Set([...[...this.transfers.values()].map((t) => t.partition), ...this.dropping]);
  }

  /** Queues a new transfer of `partition` to `peer` (replacing one queued before), started at the next `run`. */
  queue(partition: number, peer: NodeId, reason: TransferReport['reason']): void {
    const transfer: Transfer = {
      partition,
      peer,
      reason,
      keys: undefined,
      cursor: 0,
      listings: 0,
      inFlight: false,
      alone: false,
      bytes: 0,
      startedMs: this.ports.now(),
      running: false,
      retryAtMs: 0,
      queued: false,
      attempts: 0,
      lastError: undefined,
    };
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
   * Starts every due transfer: it joins its peer's stream of bundles (started if none runs). The
   * throttle is on bundles, not transfers (see `batchSlot`): a node with many small partitions to
   * hand off (a leaving node holds a 1/n share of the ring) sends them together, several per bundle.
   */
  run(nowMs: number): void {
    for (const transfer of this.transfers.values()) {
      if (transfer.running || transfer.retryAtMs > nowMs || !this.ports.isHealthy(transfer.peer)) continue;
      transfer.running = true;
      transfer.attempts++;
      transfer.listings = transfer.keys === undefined ? 0 : 1;
      if (!this.streams.has(transfer.peer)) {
        this.streams.add(transfer.peer);
        void this.stream(transfer.peer);
      }
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

  /**
   * Deletes the objects of `partition` that were handed off and did not change since. Until it is
   * done the partition counts as busy (`busyPartitions`), so a sweep does not send them again.
   */
  async dropSent(partition: number): Promise<void> {
    if (this.manager.replicates(partition)) return;
    const digests = this.sentDigests.get(partition);
    this.sentDigests.delete(partition);
    if (!digests) return;
    this.dropping.add(partition);
    try {
      // Objects two receivers got in different versions (no digest) stay for the sweep to resend.
      const items = [...digests].filter(([, digest]) => digest.length > 0).map(([key, digest]) => ({ key, digest }));
      for (let at = 0; at < items.length; at += DROP_BATCH_KEYS) {
        try {
          await this.ports.dropIfUnchanged(items.slice(at, at + DROP_BATCH_KEYS));
        } catch {
          // Left for the next sweep.
        }
      }
    } finally {
      this.dropping.delete(partition);
    }
    this.manager.sweepSoon();
  }

  /** Waits for one of the `ownershipHandoffConcurrency` bundle slots (first come, first served); resolves to its release. */
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

  /** The running transfers to `peer` that are not in a bundle in flight, in the order they were queued. */
  private readyFor(peer: NodeId): Transfer[] {
    return [...this.transfers.values()].filter((t) => t.peer === peer && t.running && !t.inFlight);
  }

  /**
   * The stream of bundles to `peer`: while it has transfers running, takes a slot, makes a bundle of
   * the ready ones and sends it without waiting for the answer (the next bundle is made meanwhile).
   * Ends when no transfer to `peer` runs and no bundle is in flight.
   */
  private async stream(peer: NodeId): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    try {
      for (;;) {
        let ready = this.readyFor(peer);
        if (ready.length === 0) {
          if (inFlight.size === 0) return;
          await Promise.race(inFlight);
          continue;
        }
        // Partitions are listed from the Merkle trees: without them nothing can be sent.
        if (this.ports.merkle() === undefined) {
          for (const t of ready) this.failed(t, new MerkleTreesNotReadyError());
          continue;
        }
        if (!this.takesBundles.has(peer)) {
          try {
            await this.askWhetherBundles(peer, ready[0]!);
          } catch (error) {
            for (const t of this.readyFor(peer)) this.failed(t, error);
            continue;
          }
        }
        for (const t of ready) t.queued = true;
        const release = await this.batchSlot();
        for (const t of ready) t.queued = false;
        // The wait may have been long: a peer found unreachable or no longer a receiver meanwhile is
        // not sent to (its request would hold the slot until its deadline).
        ready = this.readyFor(peer);
        for (const t of ready) if (!this.stillWanted(t)) this.failed(t, new TransferNotWantedError());
        ready = ready.filter((t) => t.running);
        let entries: BundleEntry[] = [];
        try {
          if (ready.length > 0) entries = await this.compose(peer, ready);
        } catch (error) {
          for (const t of ready) this.failed(t, error);
        }
        if (entries.length === 0) {
          release();
          continue;
        }
        const sending: Promise<void> = this.send(peer, entries).finally(() => {
          release();
          inFlight.delete(sending);
        });
        inFlight.add(sending);
      }
    } finally {
      this.streams.delete(peer);
      // Transfers queued or due meanwhile start now, not at the next tick.
      if (this.transfers.size > 0) this.run(this.ports.now());
    }
  }

  /** Asks `peer` whether it takes bundles: a handoff-start for `first`'s partition, whose reply says so. */
  private async askWhetherBundles(peer: NodeId, first: Transfer): Promise<void> {
    const reply = await this.manager.ask(peer, { type: 'handoff-start', partition: first.partition, keys: first.keys?.length ?? 0 }, this.ports.controlTimeoutMs());
    this.takesBundles.set(peer, reply.type === 'handoff-reply' && reply.bundles === true);
  }

  /**
   * The next bundle to `peer` from `ready` (its transfers not in flight): lists the partitions not
   * listed yet, reads the objects at their cursors in one transaction, cuts at HANDOFF_BATCH_BYTES,
   * lists again the partitions whose listed keys it takes to the end, and adds each finish that is due.
   * Marks the transfers it covers in flight. A peer that does not take bundles gets one transfer.
   * @throws MerkleTreesNotReadyError; what the store throws.
   */
  private async compose(peer: NodeId, ready: Transfer[]): Promise<BundleEntry[]> {
    const first = ready[0]!;
    // A transfer whose bundle was answered with an error travels alone, and holds back no other.
    const chosen = this.takesBundles.get(peer) !== true || first.alone ? [first] : ready.filter((t) => !t.alone).slice(0, MAX_WIRE_HANDOFF_PARTS);
    // Keys per transfer, in order, within the bundle's object count. Partitions not listed yet are
    // listed LISTING_WAVE at a time, in parallel, and only as far as the bundle needs them.
    let budget = this.config.ownershipHandoffBatchSize;
    const plans: { t: Transfer; keys: string[] }[] = [];
    for (let at = 0; at < chosen.length && budget > 0; ) {
      const wave = chosen.slice(at, at + LISTING_WAVE);
      await Promise.all(
        wave
          .filter((t) => t.keys === undefined)
          .map(async (t) => {
            t.keys = await this.keysOf(t.partition);
            t.listings = 1;
          }),
      );
      for (const t of wave) {
        at++;
        const keys = t.keys!.slice(t.cursor, t.cursor + budget);
        if (keys.length === 0 && t.cursor < t.keys!.length) {
          budget = 0;
          break;
        }
        plans.push({ t, keys });
        budget -= keys.length;
      }
    }
    const keys = plans.flatMap((plan) => plan.keys);
    const objects = keys.length > 0 ? await this.ports.localObjects(keys) : [];
    // At most about HANDOFF_BATCH_BYTES of objects, but always at least one.
    const entries: BundleEntry[] = [];
    let bytes = 0;
    let at = 0;
    for (const { t, keys: planned } of plans) {
      if (bytes >= HANDOFF_BATCH_BYTES && entries.length > 0) break;
      const entry: BundleEntry = { transfer: t, taken: 0, items: [], finish: false };
      for (const key of planned) {
        if (bytes >= HANDOFF_BATCH_BYTES && (entry.taken > 0 || entries.length > 0)) break;
        const versions = objects[at + entry.taken];
        entry.taken++;
        if (versions === undefined) continue;
        entry.items.push({ key, versions });
        bytes += versionSetSizeBytes(versions) + key.length;
      }
      at += planned.length;
      // Cut before this transfer's first object: it waits for the next bundle.
      if (entry.taken === 0 && planned.length > 0) break;
      entries.push(entry);
    }
    // The entries that take their transfer's listed keys to the end: list again (objects written here
    // meanwhile go in a later bundle), and finish the transfers that found nothing new.
    const ending = entries.filter((e) => e.transfer.cursor + e.taken === e.transfer.keys!.length);
    await Promise.all(
      ending.map(async (e) => {
        const t = e.transfer;
        if (t.listings < TRANSFER_LISTINGS) {
          t.listings++;
          const known = new Set(t.keys);
          const added = (await this.keysOf(t.partition)).filter((k) => !known.has(k));
          if (added.length > 0) {
            t.keys!.push(...added);
            return;
          }
        }
        e.finish = true;
      }),
    );
    for (const e of entries) e.transfer.inFlight = true;
    return entries;
  }

  /** Sends one bundle's entries to `peer` and settles each transfer by the answer. */
  private async send(peer: NodeId, entries: BundleEntry[]): Promise<void> {
    let outcome: BundleOutcome;
    try {
      outcome = this.takesBundles.get(peer) === true ? await this.sendBundle(peer, entries) : await this.sendEach(peer, entries);
    } catch (error) {
      // A peer that stopped answering may have been replaced by an earlier version: ask again next time.
      if (error instanceof RequestTimeoutError || (error instanceof Error && error.name === 'RequestTimeoutError')) this.takesBundles.delete(peer);
      for (const e of entries) {
        e.transfer.inFlight = false;
        if (error instanceof TransferRefusedError && entries.length > 1) e.transfer.alone = true;
        this.failed(e.transfer, error);
      }
      return;
    }
    for (const e of entries) {
      const t = e.transfer;
      t.inFlight = false;
      if (!t.running) continue;
      if (outcome.refused.has(t.partition)) {
        this.failed(t, new TransferRefusedError());
        continue;
      }
      this.acknowledged(t, e);
      if (e.finish) this.completed(t, e);
    }
  }

  /** One handoff-bundle message. @throws TransferRefusedError for an answer of another kind (an error reply). */
  private async sendBundle(peer: NodeId, entries: BundleEntry[]): Promise<BundleOutcome> {
    const parts: HandoffPart[] = entries.map((e) => (e.finish ? { partition: e.transfer.partition, items: e.items, finish: true } : { partition: e.transfer.partition, items: e.items }));
    // Twice a batch's deadline: a bundle carries up to 1024 objects merged in one transaction, and the
    // bundles of several holders may wait at the receiver for its store.
    const reply = await this.manager.ask(peer, { type: 'handoff-bundle', parts }, 2 * this.ports.timeoutMs());
    if (reply.type !== 'handoff-bundle-reply') throw new TransferRefusedError();
    return { refused: new Set(reply.refused) };
  }

  /** For a peer of an earlier version: a handoff-batch and a handoff-finish per entry, as it expects. */
  private async sendEach(peer: NodeId, entries: BundleEntry[]): Promise<BundleOutcome> {
    const refused = new Set<number>();
    for (const e of entries) {
      const { partition } = e.transfer;
      if (e.items.length > 0) {
        const reply = await this.manager.ask(peer, { type: 'handoff-batch', partition, items: e.items }, this.ports.timeoutMs());
        if (reply.type !== 'handoff-reply' || !reply.accepted) {
          refused.add(partition);
          continue;
        }
      }
      if (e.finish) {
        const reply = await this.manager.ask(peer, { type: 'handoff-finish', partition, keys: e.transfer.keys!.length }, this.ports.controlTimeoutMs());
        if (reply.type !== 'handoff-reply' || !reply.accepted) refused.add(partition);
      }
    }
    return { refused };
  }

  /** The objects of entry `e` reached its receiver: the cursor moves past them and their digests are kept. */
  private acknowledged(t: Transfer, e: BundleEntry): void {
    let digests = this.sentDigests.get(t.partition);
    if (!digests) this.sentDigests.set(t.partition, (digests = new Map()));
    for (const item of e.items) {
      const digest = versionDigest(item.versions);
      const earlier = digests.get(item.key);
      // Two receivers got different versions: keep the object for the sweep to resend.
      digests.set(item.key, earlier === undefined || sameBytes(earlier, digest) ? digest : new Uint8Array(0));
      t.bytes += versionSetSizeBytes(item.versions) + item.key.length;
    }
    t.cursor += e.taken;
    this.keysSent += e.items.length;
  }

  private completed(t: Transfer, e: BundleEntry): void {
    t.running = false;
    this.transfers.delete(transferKey(t.partition, t.peer));
    this.transfersCompleted++;
    if (t.reason === 'ownership') this.manager.acknowledged(t.partition, t.peer);
    this.ports.onTransfer({ partition: t.partition, peer: t.peer, reason: t.reason, keys: t.keys?.length ?? e.taken, bytes: t.bytes, durationMs: this.ports.now() - t.startedMs });
    if (t.reason === 'sweep' && ![...this.transfers.values()].some((o) => o.partition === t.partition)) void this.dropSent(t.partition);
    if (t.reason === 'ownership') this.manager.planOwnershipTransfers();
  }

  /**
   * An attempt of `t` failed: it waits two handoff intervals before the next (from its cursor), or is
   * dropped when it is no longer wanted (the ring changed back, or the receiver no longer replicates
   * the partition); a receiver that still needs a pulled partition asks again.
   */
  private failed(t: Transfer, error: unknown): void {
    t.running = false;
    t.queued = false;
    t.retryAtMs = this.ports.now() + this.config.ownershipHandoffIntervalMs * 2;
    t.lastError = describeTransferFailure(error);
    const key = transferKey(t.partition, t.peer);
    if (this.transfers.get(key) !== t) return;
    const refused = error instanceof TransferRefusedError;
    if (t.reason !== 'pull' && (this.manager.replicates(t.partition) || !this.wantedBy(t.partition, t.peer))) this.transfers.delete(key);
    if (t.reason === 'pull' && (refused || !this.manager.isComplete(t.partition) || !this.wantedBy(t.partition, t.peer))) this.transfers.delete(key);
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

  /**
   * Whether `t` is still worth a bundle: its peer is reachable and still receives the partition. The
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
