/**
 * The public API of a node: one browser tab, one storage node (DESIGN.md §1–2).
 *
 * `DynamoNode.start()` wires the pure core to its ports — PeerJS data channels for transport, IndexedDB
 * (or memory) for storage, the wall clock and `crypto` randomness — and drives the core's clock with a
 * timer. Everything the UI shows comes from the methods and events here.
 *
 * ```ts
 * const node = await DynamoNode.start({ cluster: 'demo' });
 * const { context } = await node.put('cart:alice', { items: ['book'] });
 * const { siblings, context: latest } = await node.get('cart:alice');   // every concurrent version
 * await node.put('cart:alice', merged, { context: latest });             // collapses the siblings
 * ```
 *
 * This file is the facade only: each method hands over to one part of the node. The parts, each in a
 * file of its own under src/runtime/:
 *
 *   DynamoNode.start ──▶ start-node.ts          makes the parts and wires them:
 *                          node-options.ts      options, defaults, validation
 *                          members-only.ts      cluster secret, node key, adoptable closed nodes
 *                          browser-ports.ts     clock, randomness, store, Merkle worker for the core
 *                          NodeCore (src/core/), PeerjsTransport (src/net/)
 *                          ice-refresh.ts       STUN/TURN servers: option, stored, fetched, refreshed
 *                          tick-driver.ts       core.tick(now) from a worker (or a page timer)
 *                          seed-discovery.ts    seeds from the server and this browser; ring neighbours
 *   on               ──▶ event-emitter.ts       DynamoEvent and its typed emitter
 *   merkleTrees      ──▶ merkle-trees-view.ts   the Merkle worker's trees, for the console
 *   iceStatus        ──▶ ice-refresh.ts
 *   close            ──▶ every part, stopped
 *   the rest         ──▶ NodeCore and PeerjsTransport
 */
import type { MemberRecord, Removal } from '../core/membership.js';
import type { NodeCore } from '../core/node-core.js';
import type { GetOptions, GetResult, NodeEvent, NodeStats, PutOptions, PutResult } from '../core/node-api.js';
import type { Stage, StageSummary } from '../core/stage-timings.js';
import type { NodeConfig } from '../core/node-config.js';
import type { Ring } from '../core/ring.js';
import type { NodeId } from '../core/types.js';
import type { MerkleWorkerStats } from '../merkle/worker-merkle-service.js';
import type { ConnectionPath, ConnectionState, PeerjsTransport, TransportStats } from '../net/peerjs-transport.js';
import type { ServerStatus } from '../net/server-signaling.js';
import type { SetupPath, SignalingPath, SignalingStats } from '../net/signaling-router.js';
import { invitationLink, type SecretSource } from '../security/invitation.js';
import type { DynamoEvent, DynamoEventListener } from './event-emitter.js';
import type { IceStatus } from './ice-refresh.js';
import { databaseName } from './identity.js';
import type { SecurityStats } from './members-only.js';
import { merkleTreesView, type MerkleTreesView } from './merkle-trees-view.js';
import type { DynamoNodeOptions, SignalingOptions } from './node-options.js';
import { startNode, type NodeParts } from './start-node.js';

export { databaseName };

// The shapes this class takes and returns, so that this module alone types a node (src/index.ts
// exports them from the modules that own them).
export type { GetOptions, GetResult, NodeEvent, PutOptions, PutResult, MemberRecord, NodeStats, TransportStats, MerkleWorkerStats };
export type { ServerStatus, SetupPath, SignalingPath, SignalingStats, SecretSource, Removal, ConnectionPath };
export type { DynamoEvent, DynamoNodeOptions, IceStatus, MerkleTreesView, SecurityStats, SignalingOptions };

/** What {@link DynamoNode.signalingStatus} reports: how this node finds and reaches the others. */
export interface SignalingStatus extends SignalingStats {
  /**
   * True while this node knows no other member and has no connection: it waits for a first contact
   * (the signaling server, or another tab of this cluster in this browser).
   */
  waitingForFirstContact: boolean;
}

/** A running node. */
export class DynamoNode {
  readonly id: NodeId;
  readonly cluster: string;
  private readonly core: NodeCore;
  private readonly transport: PeerjsTransport;
  private closed = false;

  private constructor(private readonly parts: NodeParts) {
    this.id = parts.id;
    this.cluster = parts.cluster;
    this.core = parts.core;
    this.transport = parts.transport;
  }

  /**
   * Starts this tab's node: claims its identity (kept across reloads, never shared with a duplicated
   * tab), opens its database, starts from its stored state (members, ring, data, hints) and starts
   * gossip. It does not wait for the signaling server: the server is contacted in the background and
   * retried with backoff, tabs of this browser are found over BroadcastChannel, and members are reached
   * through the cluster (DESIGN.md §3 "Signaling paths"). See {@link signalingStatus}.
   *
   * Members only (issue 16): the node's id is derived from its Ed25519 key (kept non-extractable in
   * its database), its connections are authenticated with that key and the cluster secret, and its
   * membership record is signed. The secret comes from `options.invitation`, this browser's storage,
   * or is made now (see {@link secretSource}).
   * @throws InvalidOptionError for a bad cluster name or N/R/W/Q; IdentityLockedError; StorageError;
   *   an error from PeerJS when this browser has no WebRTC; a DOMException when WebCrypto lacks Ed25519.
   */
  static async start(options: DynamoNodeOptions): Promise<DynamoNode> {
    return new DynamoNode(await startNode(options));
  }

  /**
   * Reads `key` from R replicas (paper §4.1, §4.5).
   * @param options `r` replies to wait for (1..N, default the cluster's R); `timeoutMs` deadline (default 3000).
   * @returns `{ siblings, context, answeredBy }`: every causally-maximal version (empty when absent or
   *   deleted) and the context to pass to the next put.
   * @throws InvalidKeyError, InvalidOptionError, QuorumNotReachedError (`answered` of `needed`),
   *   NoReplicasError, NodeNotRunningError, StorageError.
   */
  get(key: string, options?: GetOptions): Promise<GetResult> {
    return this.core.get(key, options);
  }

  /**
   * Writes `value` under `key` after W durable acks (paper §4.1, §4.5). Pass the context from the last
   * get (or put) of the key; without one the write becomes a sibling of what is there.
   * @param value JSON-compatible data or bytes (`Uint8Array`), at most 1 MiB encoded.
   * @returns `{ context, version, acks }`.
   * @throws InvalidKeyError, InvalidValueError, ValueTooLargeError, InvalidContextError, InvalidOptionError,
   *   VersionSetTooLargeError, QuorumNotReachedError, NoReplicasError, NodeNotRunningError, StorageError.
   *   Nothing is written when validation fails.
   */
  put(key: string, value: unknown, options?: PutOptions): Promise<PutResult> {
    return this.core.put(key, value, options);
  }

  /** Deletes `key` by writing a tombstone with the given context. Same results and errors as {@link put}. */
  delete(key: string, options?: PutOptions): Promise<PutResult> {
    return this.core.delete(key, options);
  }

  /** The membership this node sees: `{ id, capacity, status, version }`, sorted by id. */
  members(): MemberRecord[] {
    return this.core.members();
  }

  /** The ring computed from the membership (partitions, owners, preference lists). */
  ring(): Ring {
    return this.core.ring();
  }

  /** The key's preference list: node ids, the N replicas first, then the fallbacks. @throws InvalidKeyError */
  preferenceList(key: string): NodeId[] {
    return this.core.preferenceList(key);
  }

  /** The node's N, R, W, Q and timing settings. */
  config(): NodeConfig {
    return { ...this.core.config };
  }

  /**
   * This node's data-channel connections (to `node` only, when given): `{ node, outbound, state
   * ('waiting' | 'opening' | 'open'), superseded, queuedFrames, ageMs, idleMs }`. Two to one node
   * means both connected at once; the duplicate closes once idle (DESIGN.md §2).
   */
  connections(node?: NodeId): ConnectionState[] {
    return this.transport.connectionStates(node);
  }

  /**
   * How this node signals: the signaling server's state (`connecting`, `open`, `unreachable`, `id-taken`,
   * with failures and the next retry), tabs of this browser, offers and connection setups per path
   * (`same-browser`, `relay`, `server`; in all and in the last minute), relay counters, and whether it
   * waits for a first contact. DESIGN.md §3 "Signaling paths".
   */
  signalingStatus(): SignalingStatus {
    const stats = this.transport.signaling?.stats() ?? {
      server: { state: 'none' as const },
      sameBrowserNodes: [],
      offersSent: { 'same-browser': 0, relay: 0, server: 0 },
      offersReceived: { 'same-browser': 0, relay: 0, server: 0 },
      setups: { 'same-browser': 0, relay: 0, server: 0 },
      setupsLastMinute: { 'same-browser': 0, relay: 0, server: 0 },
      signalsSent: { 'same-browser': 0, relay: 0, server: 0 },
      signalsReceived: { 'same-browser': 0, relay: 0, server: 0 },
      noPath: 0,
      answerTimeouts: 0,
      malformed: 0,
      relay: { sent: 0, delivered: 0, forwarded: 0, dropped: { malformed: 0, duplicate: 0, 'hop-limit': 0, 'no-route': 0, loop: 0 } },
    };
    return { ...stats, waitingForFirstContact: this.core.members().length <= 1 && this.transport.connectedNodes().length === 0 };
  }

  /** Counters of the core and the transport. */
  stats(): NodeStats & { transport: TransportStats; connectedPeers: NodeId[] } {
    return { ...this.core.stats(), transport: this.transport.stats(), connectedPeers: this.transport.connectedNodes() };
  }

  /**
   * Durations of the write path's stages on this node, in ms (count, mean, p50, p99 over the last 2048
   * samples of each): `localWrite` (read, make, store), `quorumWait`, `put` where it coordinated,
   * `replicaWrite` (read, merge, store) where it was a replica. `reset` forgets the samples afterwards.
   */
  putStages(reset = false): Partial<Record<Stage, StageSummary>> {
    return this.core.putStages(reset);
  }

  /** Keys stored on this node (its replicas), for inspection. */
  localKeys(): Promise<string[]> {
    return this.parts.store.listKeys();
  }

  /**
   * Subscribes to events of one type ('membership', 'ring', 'put', 'get', 'read-repair', 'key-changed',
   * 'gossip', 'reachability', 'hint-stored', 'hints-delivered', 'hints-passed', 'hints-expired', 'anti-entropy', 'partition-sync',
   * 'ownership-handoff', 'partition-received', 'membership-change', 'message-dropped', 'error', 'seeds',
   * 'connectivity'), or '*' for all; see {@link DynamoEvent} for their shapes. Returns the unsubscribe
   * function.
   */
  on<T extends DynamoEvent['type']>(type: T, listener: DynamoEventListener<T>): () => void;
  on(type: '*', listener: (event: DynamoEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    return this.parts.events.on(type as '*', listener as (event: DynamoEvent) => void);
  }

  /**
   * Cuts this node off the network (as a real network failure would) until {@link reconnect}: peers
   * see it as unreachable, writes meant for it go to fallbacks as hints (paper §4.6), and its own
   * requests fail or time out. Its data stays.
   */
  disconnect(): void {
    this.transport.disconnect();
    this.core.disconnected();
    this.dispatch({ type: 'connectivity', connected: false });
  }

  /** Ends a {@link disconnect}: the node gossips at once and peers deliver the hints they hold for it. */
  reconnect(): void {
    this.transport.reconnect();
    this.core.reconnected();
    this.dispatch({ type: 'connectivity', connected: true });
  }

  /** False while disconnected. */
  get connected(): boolean {
    return this.transport.connected;
  }

  /** How this node sees each peer (failure detector, paper §4.8.3): alive, suspect or unreachable. */
  peerHealth(): ReturnType<NodeCore['peerHealth']> {
    return this.core.peerHealth();
  }

  /**
   * Puts this node (back) into the ring (paper §4.8.1): after `leave()`, or to change nothing when it is
   * in the ring already. Its new partitions are handed to it by their holders.
   * @param capacity relative capacity (default: the configured one).
   * @throws NodeNotRunningError, InvalidOptionError.
   */
  join(capacity?: number): Promise<void> {
    return this.core.join(capacity);
  }

  /**
   * Takes this node out of the ring (paper §4.9): its partitions get new owners, it hands them its
   * objects (and passes on its hints), then it is `left` and holds nothing. Resolves then; reads and
   * writes keep working meanwhile. The tab stays a client of the cluster.
   * @throws NodeNotRunningError (also when the node is closed before it finished).
   */
  leave(): Promise<void> {
    return this.core.leave();
  }

  /**
   * Removes `node`, gone for good, from the ring (an operator's decision, paper §4.8.1); the surviving
   * replicas re-create its replicas on the new owners. Not for temporary failures.
   * @throws InvalidOptionError (this node, unknown, or already gone), NodeNotRunningError.
   */
  remove(node: NodeId): Promise<void> {
    return this.core.remove(node);
  }

  /**
   * Changes this node's capacity: it then owns about capacity / total of the partitions (paper §2,
   * heterogeneity); the partitions that move are handed off.
   * @throws InvalidOptionError (not a finite number > 0, or not in the ring), NodeNotRunningError.
   */
  setCapacity(capacity: number): Promise<void> {
    return this.core.setCapacity(capacity);
  }

  /** Ownership handoff here (paper §4.9): `{ pendingPartitions, handoffPartitions, transfers }` (partitions being received, being handed off; transfers running). */
  ownershipHandoffStatus(): ReturnType<NodeCore['ownershipHandoffStatus']> {
    return this.core.ownershipHandoffStatus();
  }

  /**
   * Each member's last reported load, spread by gossip (this node's own is fresh): `{ keys, hints,
   * reportedAtMs }` — objects stored, hints held for others, when the report arrived (ms, this clock).
   */
  memberLoads(): ReturnType<NodeCore['memberLoads']> {
    return this.core.memberLoads();
  }

  /** True when this node's identity was a closed tab's node, adopted with its data at start. */
  get adopted(): boolean {
    return this.parts.identity.adopted;
  }

  /**
   * Anti-entropy state of every partition compared so far (paper §4.7): `{ partition, lastComparedMs,
   * lastPeer, inSync, keysRepaired }`. Changes arrive as 'partition-sync' events.
   */
  syncStates(): ReturnType<NodeCore['syncStates']> {
    return this.core.syncStates();
  }

  /** Hints this node holds for other nodes (paper §4.6). */
  hintCount(): Promise<number> {
    return this.core.hintCount();
  }

  /** Hints held, counted by the node each is for, and the nodes hint delivery currently targets (paper §4.6). */
  hintsByTarget(): ReturnType<NodeCore['hintsByTarget']> {
    return this.core.hintsByTarget();
  }

  /**
   * A look at this node's Merkle trees (anti-entropy, paper §4.7), for the console, the explorer and
   * tests: keys and root hash per partition, from the Merkle worker. Trees kept by the core in this
   * thread (memory storage, or the worker could not start) are not visible: `backend` says which.
   * @throws an error named `MerkleWorkerError` when the worker has failed or the node is closed.
   */
  merkleTrees(): Promise<MerkleTreesView> {
    return merkleTreesView(this.parts.merkle);
  }

  /** The cluster's public name at the signaling server (derived from the secret; never the cluster name). */
  get signalingTag(): string {
    return this.transport.cluster;
  }

  /** How this browser got the cluster's secret: made by this tab, kept by this browser, or from an invitation. */
  get secretSource(): SecretSource {
    return this.parts.security.source;
  }

  /**
   * The invitation link to this cluster (issue 16): `<base origin and path>?cluster=<name>#invite=<secret>`.
   * Anyone who opens it joins the cluster and can read and write everything in it.
   * @param base the page the link opens; default the current page.
   */
  invitation(base: string = location.href): string {
    return invitationLink(base, this.cluster, this.parts.security.secret);
  }

  /** Every removal statement this node knows: who removed whom, and when (ms since the epoch, the remover's clock). */
  removals(): Removal[] {
    return this.core.removals();
  }

  /** Connection authentication and membership signature counters (issue 16). */
  securityStats(): SecurityStats {
    const core = this.core.stats();
    return { ...this.transport.authStats(), recordsRejected: core.recordsRejected, removalsRejected: core.removalsRejected };
  }

  /** Sends a message to a node as it is, unchecked (e.g. a forged gossip). For tests of hostile input only. */
  sendForTesting(to: NodeId, message: unknown): void {
    this.transport.send(to, message as Parameters<PeerjsTransport['send']>[1]);
  }

  /** Sends raw bytes to a node as one framed message. For fault tests only. */
  sendRawForTesting(to: NodeId, bytes: Uint8Array): void {
    this.transport.sendBytes(to, bytes);
  }

  /** Stops the node: leaves the signaling server, closes connections and the database, frees the id. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { tick, seeds, ice, core, transport, merkle, store, identity } = this.parts;
    tick.stop();
    seeds.stop();
    ice.stop();
    core.stop();
    transport.close();
    merkle?.close();
    await store.close().catch(() => undefined);
    identity.release();
  }

  /** The STUN/TURN servers new connections use, and where they came from (issue 17). */
  iceStatus(): IceStatus {
    return this.parts.ice.status();
  }

  /**
   * How each open connection's packets travel (issue 17): the selected ICE candidate pair's types
   * (`host`, `srflx`, `prflx`, `relay`), protocol and round-trip time, from getStats.
   */
  connectionPaths(): Promise<ConnectionPath[]> {
    return this.transport.connectionPaths();
  }

  private dispatch(event: DynamoEvent): void {
    this.parts.dispatch(event);
  }
}
