/**
 * Anti-entropy: replicas of a partition compare Merkle trees and exchange only what differs
 * (paper §4.7). It repairs what hinted handoff cannot: a hint lost with its fallback, a tab gone for
 * days, a write that reached only W of N replicas.
 *
 * One round, every `antiEntropyIntervalMs` (± 25% jitter), with the next healthy peer that shares
 * partitions with this node (round-robin; a peer that just came back goes first). An idle node backs
 * off: after every peer in turn was found in sync, the period doubles, up to `antiEntropyMaxBackoff`
 * times the interval; a difference found, a change to this node's stored keys, a ring change or a
 * peer coming back restores the interval at once (its next round is at most one interval away).
 *
 *   ae-roots    a digest of this node's roots of every shared partition;   ──▶ `same`: nothing to do
 *               the peer answers `same` or every root, in one message        or: partitions that differ
 *   ae-hashes   per differing partition, descend level by level, asking    ──▶ leaves that differ
 *               only for the children of nodes whose hashes differ
 *   ae-leaves   the (key, digest) items of the differing leaves           ──▶ keys that differ
 *   ae-fetch    the peer's version sets of those keys; merge them here,
 *   replica-put and send the merge back where the peer's differs             (siblings kept, §4.4)
 *
 * So the bytes exchanged grow with the number of differing keys times the tree depth, not with the
 * number of keys. Rounds are throttled (`antiEntropyMaxPartitions` partitions and
 * `antiEntropyMaxKeys` keys per partition per round; one round at a time) so that foreground latency
 * does not suffer (paper §6.5). Tombstones have digests like any version set, so deletes spread too
 * and are never resurrected by a replica that missed them.
 *
 * Tombstone purging (tombstone-purge.ts) follows this rule: a replica may drop a tombstone-only key only
 * once (1) every one of the key's N replicas holds exactly that tombstone set, (2) no node holds a hint
 * for the key (nor any other version of it), and (3) a grace period longer than any outage the cluster
 * is meant to survive has passed since the delete — otherwise a replica that missed the delete would
 * bring the value back. A purge whose message was lost leaves a copy, which anti-entropy spreads back
 * (a tombstone, never a value) and the next purge round takes.
 */
import { sameBytes } from './bytes.js';
import type { MerkleItem } from './merkle-tree.js';
import { differingKeys, rootsDigest } from './merkle-diff.js';
import type { MerkleService } from './ports.js';
import type { Message, ReplyMessage } from './messages.js';
import type { Ring } from './ring.js';
import type { NodeId, VersionSet } from './types.js';
import type { Random } from './ports.js';
import { mergeVersionSets, versionSetsEqual, versionSetSizeBytes } from './version-set.js';

/** Settings of anti-entropy. */
export interface AntiEntropyConfig {
  /** Turns the background exchange on or off. Default on. */
  antiEntropy: boolean;
  /** Period of anti-entropy rounds, in ms. Default 1000. */
  antiEntropyIntervalMs: number;
  /** Most differing partitions repaired per round. Default 16. */
  antiEntropyMaxPartitions: number;
  /** Most differing keys repaired per partition per round. Default 256. */
  antiEntropyMaxKeys: number;
  /**
   * Largest back-off of an idle node: rounds that find everything in sync double the period up to this
   * many times `antiEntropyIntervalMs` (1: never back off). Default 8.
   */
  antiEntropyMaxBackoff: number;
}

/** Defaults of {@link AntiEntropyConfig}. */
export const DEFAULT_ANTI_ENTROPY_CONFIG: AntiEntropyConfig = {
  antiEntropy: true,
  antiEntropyIntervalMs: 1000,
  antiEntropyMaxPartitions: 16,
  antiEntropyMaxKeys: 256,
  antiEntropyMaxBackoff: 8,
};

/** What one exchange with a peer found and did. */
export interface ExchangeReport {
  peer: NodeId;
  /** Partitions whose roots were compared, and those that differed. */
  partitionsCompared: number;
  partitionsDiffering: number[];
  /** Keys found different, keys this node took from the peer, keys it sent to the peer. */
  keysDiffering: number;
  keysPulled: number;
  keysPushed: number;
  /** Approximate payload bytes received and sent (hashes, items, version sets). */
  bytesExchanged: number;
}

/** Per-partition sync state, for the ring explorer. */
export interface PartitionSyncState {
  partition: number;
  /** Last time (ms) this partition was compared with a peer, and the outcome. */
  lastComparedMs: number;
  lastPeer: NodeId;
  inSync: boolean;
  /** Keys repaired here (pulled or pushed) in the partition since start. */
  keysRepaired: number;
}

/** What anti-entropy needs from the node core. */
export interface AntiEntropyPorts {
  self: NodeId;
  n: () => number;
  ring: () => Ring;
  isHealthy: (id: NodeId) => boolean;
  request: (to: NodeId, body: AntiEntropyRequest, timeoutMs: number) => Promise<ReplyMessage>;
  merkle: MerkleService;
  /** This replica's stored version sets of `keys` (not hints), in order, read in one transaction. */
  localObjects: (keys: readonly string[]) => Promise<(VersionSet | undefined)[]>;
  /** Merges into this replica (under the key's lock) and updates the tree. */
  mergeLocal: (key: string, versions: VersionSet) => Promise<void>;
  random: Random;
  timeoutMs: () => number;
  onExchange: (report: ExchangeReport) => void;
  /** Told when a partition's sync state changes (in sync ↔ differing) or keys were repaired in it. */
  onPartitionState: (state: PartitionSyncState) => void;
}

/** Requests anti-entropy sends. */
export type AntiEntropyRequest =
  | Omit<Extract<Message, { type: 'ae-roots' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'ae-hashes' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'ae-leaves' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'ae-fetch' }>, 'requestId'>
  | Omit<Extract<Message, { type: 'replica-put' }>, 'requestId'>;

const equalBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => a !== undefined && b !== undefined && sameBytes(a, b);

/** The anti-entropy engine of one node. */
export class AntiEntropy {
  private nextRoundAtMs = 0;
  /** When the last round started, ms; and the current period's multiple of the interval (idle back-off). */
  private lastRoundAtMs = 0;
  private backoff = 1;
  /** Rounds in a row that found every shared partition in sync. */
  private inSyncStreak = 0;
  private running = false;
  private peerCursor = 0;
  private readonly priority: NodeId[] = [];
  private readonly state = new Map<number, PartitionSyncState>();
  private sharedCache: { ring: Ring; n: number; byPeer: Map<NodeId, number[]> } | undefined;
  /** Rounds run and exchanges that found differences, for statistics. */
  rounds = 0;
  repairs = 0;

  constructor(
    private readonly config: AntiEntropyConfig,
    private readonly ports: AntiEntropyPorts,
  ) {}

  /** Runs a round when one is due (and none is running). */
  tick(nowMs: number): void {
    if (!this.config.antiEntropy || this.running || nowMs < this.nextRoundAtMs) return;
    const jitter = 0.75 + 0.5 * this.ports.random.next();
    this.lastRoundAtMs = nowMs;
    this.nextRoundAtMs = nowMs + this.config.antiEntropyIntervalMs * this.backoff * jitter;
    const peer = this.nextPeer();
    if (peer === undefined) return;
    this.running = true;
    const ring = this.ports.ring();
    void this.exchange(peer, nowMs)
      .then((report) => this.roundEnded(report.partitionsDiffering.length === 0 && this.ports.ring() === ring))
      .catch(() => this.roundEnded(false))
      .finally(() => (this.running = false));
  }

  /** A peer came back: compare with it at the next tick (paper §4.7, repairs what it missed). */
  peerBack(peer: NodeId, nowMs: number): void {
    if (!this.priority.includes(peer)) this.priority.push(peer);
    this.nextRoundAtMs = Math.min(this.nextRoundAtMs, nowMs);
    this.resetBackoff();
  }

  /** This node's stored keys or its ring changed: rounds go back to every interval (idle back-off ends). */
  changed(): void {
    this.resetBackoff();
  }

  /** The period's current multiple of `antiEntropyIntervalMs` (1 unless idle). */
  currentBackoff(): number {
    return this.backoff;
  }

  private resetBackoff(): void {
    this.inSyncStreak = 0;
    if (this.backoff === 1) return;
    this.backoff = 1;
    this.nextRoundAtMs = Math.min(this.nextRoundAtMs, this.lastRoundAtMs + this.config.antiEntropyIntervalMs);
  }

  /** After each round: once every sharing peer in turn was found in sync, the period doubles (up to the cap). */
  private roundEnded(inSync: boolean): void {
    if (!inSync) {
      this.resetBackoff();
      return;
    }
    this.inSyncStreak++;
    const peers = Math.max(1, this.sharedCache?.byPeer.size ?? 1);
    if (this.inSyncStreak >= peers) {
      this.inSyncStreak = 0;
      this.backoff = Math.min(this.backoff * 2, Math.max(1, this.config.antiEntropyMaxBackoff));
    }
  }

  /** Sync state of every partition compared so far, by partition. */
  syncStates(): PartitionSyncState[] {
    return [...this.state.values()].sort((a, b) => a.partition - b.partition);
  }

  /** Partitions this node and `peer` both replicate (both among the first N of its preference list). */
  sharedPartitions(peer: NodeId): number[] {
    const ring = this.ports.ring();
    const n = this.ports.n();
    if (!this.sharedCache || this.sharedCache.ring !== ring || this.sharedCache.n !== n) {
      const byPeer = new Map<NodeId, number[]>();
      for (let p = 0; p < ring.partitionCount && ring.members.length > 0; p++) {
        const replicas = ring.preferenceListForPartition(p).slice(0, n);
        if (!replicas.includes(this.ports.self)) continue;
        for (const other of replicas) {
          if (other === this.ports.self) continue;
          const list = byPeer.get(other) ?? [];
          list.push(p);
          byPeer.set(other, list);
        }
      }
      this.sharedCache = { ring, n, byPeer };
    }
    return this.sharedCache.byPeer.get(peer) ?? [];
  }

  private nextPeer(): NodeId | undefined {
    while (this.priority.length > 0) {
      const peer = this.priority.shift()!;
      if (this.ports.isHealthy(peer) && this.sharedPartitions(peer).length > 0) return peer;
    }
    this.sharedPartitions(this.ports.self); // refresh the cache
    const peers = [...(this.sharedCache?.byPeer.keys() ?? [])].sort().filter((p) => this.ports.isHealthy(p));
    if (peers.length === 0) return undefined;
    return peers[this.peerCursor++ % peers.length];
  }

  /**
   * One exchange with `peer` over the partitions both replicate (see the module header).
   * @throws whatever a request to the peer throws (timeouts, remote errors): the round ends there;
   *   repairs already merged stay merged.
   */
  async exchange(peer: NodeId, nowMs: number): Promise<ExchangeReport> {
    this.rounds++;
    const { merkle } = this.ports;
    const { fanout, depth } = merkle.shape();
    const timeoutMs = this.ports.timeoutMs();
    const shared = this.sharedPartitions(peer);
    const report: ExchangeReport = { peer, partitionsCompared: shared.length, partitionsDiffering: [], keysDiffering: 0, keysPulled: 0, keysPushed: 0, bytesExchanged: 0 };
    if (shared.length === 0) return report;
    // One hash over this node's roots first: a peer whose roots hash the same answers `same`, so an
    // idle round costs one hash instead of one root per shared partition.
    const ownRoots = await merkle.roots(shared);
    const reply = expect(await this.ports.request(peer, { type: 'ae-roots', partitions: shared, digest: rootsDigest(ownRoots) }, timeoutMs), 'ae-hashes-reply');
    const roots = reply.same === true ? ownRoots : reply.hashes;
    report.bytesExchanged += 16 + 16 * reply.hashes.length + 2 * shared.length;
    const differing = shared.filter((_, i) => !equalBytes(ownRoots[i], roots[i]));
    report.partitionsDiffering = differing;
    for (const partition of shared) if (!differing.includes(partition)) this.note(partition, peer, nowMs, true, 0);
    for (const partition of differing.slice(0, this.config.antiEntropyMaxPartitions)) {
      // Descend: at each level ask only for the children of nodes whose hashes differ.
      let indices = [0];
      for (let level = 1; level <= depth && indices.length > 0; level++) {
        const children = indices.flatMap((i) => Array.from({ length: fanout }, (_, c) => i * fanout + c));
        const theirs = expect(await this.ports.request(peer, { type: 'ae-hashes', partition, level, indices: children }, timeoutMs), 'ae-hashes-reply').hashes;
        const ours = await merkle.hashes(partition, level, children);
        report.bytesExchanged += 16 * theirs.length + 4 * children.length;
        indices = children.filter((_, i) => !equalBytes(ours[i], theirs[i]));
      }
      if (indices.length === 0) {
        this.note(partition, peer, nowMs, true, 0);
        continue;
      }
      const theirItems = expect(await this.ports.request(peer, { type: 'ae-leaves', partition, leaves: indices }, timeoutMs), 'ae-leaves-reply').items;
      const ourItems: MerkleItem[] = await merkle.leafItems(partition, indices);
      report.bytesExchanged += theirItems.reduce((sum, item) => sum + item.key.length + 16, 0) + 4 * indices.length;
      const keys = differingKeys(ourItems, theirItems).slice(0, this.config.antiEntropyMaxKeys);
      report.keysDiffering += keys.length;
      const repaired = await this.repairKeys(peer, keys, report, timeoutMs);
      this.repairs += repaired > 0 ? 1 : 0;
      this.note(partition, peer, nowMs, false, repaired);
    }
    this.ports.onExchange(report);
    return report;
  }

  /**
   * Fetches the peer's versions of `keys`, merges them here, and sends the merge back where the
   * peer's differs. This node's versions are read in one transaction, and the merges run together
   * (the store commits concurrent writes together), so a round's repairs cost a few transactions,
   * not two per key. @throws what a merge throws (VersionSetTooLargeError, StorageError) once the
   * others have settled: what merged stays merged.
   */
  private async repairKeys(peer: NodeId, keys: string[], report: ExchangeReport, timeoutMs: number): Promise<number> {
    if (keys.length === 0) return 0;
    const theirs = expect(await this.ports.request(peer, { type: 'ae-fetch', keys }, timeoutMs), 'ae-fetch-reply').versions;
    // The ring may have changed since the round began (a node joined mid-exchange): only replicas
    // of the key's partition in the current ring take or receive it.
    const ring = this.ports.ring();
    const n = this.ports.n();
    const wanted = keys.map((key) => {
      const replicas = ring.preferenceList(key).slice(0, n);
      return replicas.includes(this.ports.self) && replicas.includes(peer);
    });
    const ours = await this.ports.localObjects(keys.filter((_, i) => wanted[i]));
    let repaired = 0;
    let at = 0;
    const merges: Promise<void>[] = [];
    const pushes: Promise<unknown>[] = [];
    for (const [i, key] of keys.entries()) {
      if (!wanted[i]) continue;
      const local = ours[at++];
      const remote = theirs[i] ?? undefined;
      if (remote) report.bytesExchanged += versionSetSizeBytes(remote);
      const merged = mergeVersionSets(local, remote);
      if (remote !== undefined && !versionSetsEqual(local, merged)) {
        merges.push(this.ports.mergeLocal(key, remote));
        report.keysPulled++;
        repaired++;
      }
      if (!versionSetsEqual(remote, merged)) {
        report.keysPushed++;
        report.bytesExchanged += versionSetSizeBytes(merged);
        repaired++;
        pushes.push(this.ports.request(peer, { type: 'replica-put', key, versions: merged }, timeoutMs).catch(() => undefined));
      }
    }
    const merged = await Promise.allSettled(merges);
    await Promise.all(pushes);
    const failure = merged.find((m): m is PromiseRejectedResult => m.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    return repaired;
  }

  private note(partition: number, peer: NodeId, nowMs: number, inSync: boolean, repaired: number): void {
    const previous = this.state.get(partition);
    const next = { partition, lastComparedMs: nowMs, lastPeer: peer, inSync, keysRepaired: (previous?.keysRepaired ?? 0) + repaired };
    this.state.set(partition, next);
    if (previous?.inSync !== inSync || repaired > 0) this.ports.onPartitionState(next);
  }
}

function expect<T extends ReplyMessage['type']>(reply: ReplyMessage, type: T): Extract<ReplyMessage, { type: T }> {
  if (reply.type !== type) throw new Error(`expected ${type}, got ${reply.type}`);
  return reply as Extract<ReplyMessage, { type: T }>;
}
