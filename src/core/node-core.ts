/**
 * One storage node's protocol logic, free of I/O (DESIGN.md §2, STYLE.md habits 1–2).
 *
 * The node reacts to three kinds of input and nothing else:
 *   receive(from, message)   a decoded message from a peer (validated here, dropped and counted if bad)
 *   tick(now)                the passage of time: gossip, failure detection, request deadlines,
 *                            hinted handoff and anti-entropy rounds
 *   get / put / delete       client operations (the public API calls these)
 * and acts only through its ports: `Transport.send`, the `Store`, the `MerkleService`, the `Clock`
 * and `Random`.
 *
 * Put (paper §4.5, §4.6): client ─▶ coordinator (this node when it is one of the key's N replicas,
 *   else forwarded to the first healthy replica) ─▶ applyPut locally, durably ─▶ the new version set
 *   to the other first-N healthy nodes of the preference list (a fallback standing in for an
 *   unreachable replica gets it as a hint) ─▶ answer after W durable acks (the local write counts).
 *   A target that fails is replaced by the next fallback; with none left the coordinator keeps the
 *   hint itself.
 * Get (paper §4.5): coordinator ─▶ replica-get to the same targets ─▶ answer after R replies with
 *   every causally-maximal version (siblings) and their merged context; once all replies are in,
 *   targets that returned less get the merge (read repair, §5).
 * Background: SWIM failure detection (failure-detector.ts, §4.8.3), delivery of held hints to
 *   replicas that are back (§4.6), Merkle-tree anti-entropy with the other replicas of each
 *   partition (anti-entropy.ts, §4.7), push-pull gossip of the membership (§4.8.1).
 */
import { contextAfterPut, decodeContext, encodeContext, type CausalContext } from './context.js';
import {
  DynamoError,
  InvalidOptionError,
  NodeNotRunningError,
  NoReplicasError,
  QuorumNotReachedError,
  PeerUnreachableError,
  RemoteError,
  RequestTimeoutError,
  StoredStateLostError,
  VersionSetTooLargeError,
} from './errors.js';
import { AntiEntropy, type ExchangeReport, type PartitionSyncState } from './anti-entropy.js';
import { FailureDetector, type Reachability } from './failure-detector.js';
import { OwnershipHandoff } from './handoff.js';
import { InProcessMerkleService } from './merkle-service.js';
import { type MerkleService } from './ports.js';
import { versionDigest } from './merkle-tree.js';
import { KeyedMutex } from './keyed-mutex.js';
import { inRing, Membership, recordSigningFields, removalSigningFields, type MemberRecord, type MembershipAuthority, type Removal } from './membership.js';
import { MembershipVerifier } from './membership-verifier.js';
import { checkMessage, isReply, MAX_WIRE_CLOCK_ENTRIES, MAX_WIRE_MEMBERS, MAX_WIRE_SIBLINGS, parseMessage, type Message, type ReplyMessage } from './messages.js';
import { Ring } from './ring.js';
import type { Dot, Hint, NodeId, VersionSet } from './types.js';
import type { Clock, Random, Store, Transport } from './ports.js';
import { checkCapacity, resolveConfig, type NodeConfig } from './node-config.js';
import type { GetOptions, GetResult, OwnershipHandoffStatus, NodeEvent, NodeStats, PutOptions, PutResult, SiblingView } from './node-api.js';
import { decodeValue, encodeValue, validateKey } from './value-codec.js';
import { applyPut, mergeVersionSets, versionSetsEqual, versionSetSizeBytes } from './version-set.js';

/** One gossip round in this many goes to any member, connected or not (see `Transport.isConnected`). */
const GOSSIP_ANY_PEER_EVERY = 10;

/** What a node needs from its host. */
export interface NodeCoreOptions {
  id: NodeId;
  config?: Partial<NodeConfig>;
  clock: Clock;
  random: Random;
  transport: Transport;
  store: Store;
  onEvent?: (event: NodeEvent) => void;
  /**
   * The node's Merkle trees (paper §4.7). Default: built in process from the store at start; a tab
   * passes trees that live in a Web Worker.
   */
  merkle?: MerkleService;
  /**
   * Signs this node's record and its removals, and checks those of others (issue 16). Without it
   * records and removals are taken unsigned (unit tests).
   */
  authority?: MembershipAuthority;
}

interface PendingRequest {
  to: NodeId;
  deadlineMs: number;
  resolve: (reply: ReplyMessage) => void;
  reject: (error: unknown) => void;
}

type RequestMessage = Extract<
  Message,
  {
    type:
      | 'replica-get'
      | 'replica-put'
      | 'coordinate-get'
      | 'coordinate-put'
      | 'hinted-put'
      | 'ping'
      | 'ping-req'
      | 'ae-roots'
      | 'ae-hashes'
      | 'ae-leaves'
      | 'ae-fetch'
      | 'handoff-start'
      | 'handoff-batch'
      | 'handoff-finish'
      | 'handoff-pull';
  }
>;
/** A request without its id, which `request()` assigns. */
type RequestBody = RequestMessage extends infer M ? (M extends RequestMessage ? Omit<M, 'requestId'> : never) : never;

const META_SELF = 'self';
const META_MEMBERS = 'members';
const META_REMOVALS = 'removals';
/**
 * Most records of members not known yet that one gossip message may add (the rest come with later
 * rounds): a member could otherwise make a node take, check and rebuild its ring for thousands of
 * made-up members at once (a gossip of 10,000 new records blocked a node for 9.5 s).
 */
const MAX_NEW_MEMBERS_PER_GOSSIP = 256;

/**
 * The protocol engine of one node. Construct, `await start()`, then feed it `receive` and `tick`.
 */
export class NodeCore {
  readonly id: NodeId;
  readonly config: NodeConfig;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly transport: Transport;
  private readonly store: Store;
  private readonly emit: (event: NodeEvent) => void;
  private readonly membership: Membership;
  private currentRing: Ring;
  private readonly locks = new KeyedMutex();
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId: number;
  /**
   * Coordinations served for peers, by `sender:requestId`: 'pending' while running, then the reply.
   * A duplicated coordinate-put (the network may duplicate messages) must not write twice; it gets the
   * first one's reply again. Bounded: the oldest entries are forgotten first.
   */
  private readonly served = new Map<string, Message | 'pending'>();
  private nextGossipAtMs = 0;
  private readonly seeds = new Set<NodeId>();
  private running = false;
  private readonly detector: FailureDetector;
  /** Deadlines of whole operations, fired by tick(). */
  private timers: { atMs: number; fire: () => void; cancelled: boolean }[] = [];
  /** Nodes this node holds hints for (loaded at start, kept up to date). */
  private readonly hintTargets = new Set<NodeId>();
  /** Leaving, with every partition handed off: hints for unreachable nodes are passed on (see passHints). */
  private passingHints = false;
  private nextHintAtMs = 0;
  private delivering = false;
  /** Set while the host reports this node cut off from the network: every peer counts as unreachable. */
  private offline = false;
  private merkle: MerkleService | undefined;
  private antiEntropy: AntiEntropy | undefined;
  private readonly handoff: OwnershipHandoff;
  /** Members, capacities and histories the current ring was built from (a ring is rebuilt only when they change). */
  private ringSignature = '';
  private startedAtMs = 0;
  /** Load reports by member (objects, hints), highest `seq` kept; this node's own refreshed each gossip round. */
  private readonly loads = new Map<NodeId, { keys: number; hints: number; seq: number; receivedAtMs: number }>();
  private loadRefreshing = false;
  private readonly authority: MembershipAuthority | undefined;
  /** Checks gossiped records and removals (where records are signed). */
  private readonly verifier: MembershipVerifier | undefined;
  /** The signing of this node's record in progress, and the version it signs. */
  private signing: { version: number; done: Promise<void> } | undefined;
  /** Waiters of `leave()`. */
  private leaveWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly counters: Omit<NodeStats, 'pendingRequests' | 'dropReasons' | 'probesSent' | 'indirectProbeRounds' | 'antiEntropyRounds' | 'antiEntropyRepairs' | 'ownershipHandoffKeysSent' | 'ownershipHandoffKeysReceived' | 'ownershipHandoffTransfers'> = {
    messagesReceived: 0,
    messagesSent: 0,
    messagesDropped: 0,
    repliesUnmatched: 0,
    putsCoordinated: 0,
    getsCoordinated: 0,
    requestsForwarded: 0,
    readRepairs: 0,
    gossipRounds: 0,
    fallbackWrites: 0,
    hintsStored: 0,
    hintsDelivered: 0,
    hintsPassed: 0,
    refutations: 0,
    recordsRejected: 0,
    removalsRejected: 0,
  };
  private readonly dropReasons: Record<string, number> = {};

  constructor(options: NodeCoreOptions) {
    this.id = options.id;
    this.config = resolveConfig(options.config);
    this.clock = options.clock;
    this.random = options.random;
    this.transport = options.transport;
    this.store = options.store;
    this.emit = options.onEvent ?? (() => undefined);
    this.merkle = options.merkle;
    this.authority = options.authority;
    this.membership = new Membership(this.id);
    this.verifier = this.authority !== undefined ? new MembershipVerifier(this.authority, this.membership) : undefined;
    this.currentRing = Ring.build([], this.config.partitionCount);
    // A random start, so that a restarted node's request ids do not repeat its previous life's.
    this.nextRequestId = 1 + Math.floor(this.random.next() * 2 ** 40);
    this.detector = new FailureDetector(this.id, this.config, this.random, {
      ping: async (target, timeoutMs) => {
        await this.request(target, { type: 'ping' }, timeoutMs);
      },
      pingVia: async (via, target, timeoutMs) => {
        await this.request(via, { type: 'ping-req', target, timeoutMs: Math.max(1, Math.floor(timeoutMs * 0.8)) }, timeoutMs);
      },
      isConnected: (peer) => this.transport.isConnected?.(peer) ?? true,
      onChange: (peer, from, to, nowMs) => {
        this.emit({ type: 'reachability', peer, from, to });
        // A peer back from a failure gets its hints at the next tick (paper §4.6).
        if (to === 'alive' && this.hintTargets.has(peer)) this.nextHintAtMs = nowMs;
        if (to === 'alive' && from === 'unreachable') this.antiEntropy?.peerBack(peer, nowMs);
      },
    });
    this.handoff = new OwnershipHandoff(this.config, {
      self: this.id,
      n: () => this.config.n,
      ring: () => this.currentRing,
      members: () => this.membership.all(),
      isHealthy: (id) => this.isHealthy(id) && this.detector.status(id) === 'alive',
      request: (to, body, timeoutMs) => this.request(to, body, timeoutMs),
      merkle: () => this.merkle,
      localObjects: (keys) => this.store.getObjects(keys),
      mergeBatch: (items) => this.mergeBatch(items),
      dropIfUnchanged: (key, digest) => this.dropIfUnchanged(key, digest),
      publish: (pending, handoffs) => this.updateSelfRecord({ pending, handoffs }),
      onDrained: () => this.drained(),
      now: () => this.clock.now(),
      timeoutMs: () => this.config.requestTimeoutMs,
      controlTimeoutMs: () => this.config.replicaTimeoutMs,
      holderGraceMs: () => 3 * this.config.gossipIntervalMs,
      reportedKeys: (node) => this.loads.get(node)?.keys,
      knowsCluster: () => this.seeds.size === 0 && this.clock.now() - this.startedAtMs >= 2 * this.config.gossipIntervalMs,
      onTransfer: (report) => this.emit({ type: 'ownership-handoff', ...report }),
      onPartitionReceived: (partition) => this.emit({ type: 'partition-received', partition }),
    });
  }

  /**
   * Loads what this node remembers (its own record's version, the members it knew), announces itself
   * as `up` with a higher version than it ever gossiped, and builds the ring.
   * @throws StorageError when the store cannot be read or written.
   */
  async start(options: { expectStoredState?: boolean } = {}): Promise<void> {
    const self = await this.store.getMeta<StoredSelf>(META_SELF);
    if (options.expectStoredState && self === undefined) {
      // This id has written before, but its storage is gone (evicted or cleared). Reusing the id would
      // restart its dot counters and make replicas discard its new writes as already seen (Riak's
      // kv679): the host must start a new identity instead.
      throw new StoredStateLostError(`the stored state of node ${this.id} is gone; start this node under a new id`);
    }
    const known = await this.store.getMeta<MemberRecord[]>(META_MEMBERS);
    if (Array.isArray(known)) this.membership.merge(known.filter((r) => r.id !== this.id && Array.isArray(r.history)));
    const removals = await this.store.getMeta<Removal[]>(META_REMOVALS);
    if (Array.isArray(removals)) for (const removal of removals) this.membership.addRemoval(removal);
    // The join time is set once, on the first start, and kept across restarts: it fixes this node's
    // place in the ring's replay of joins (ring.ts), so a restart moves no partition.
    const nowMs = this.clock.now();
    const joinedAtMs = self?.joinedAtMs ?? nowMs;
    const history = self?.history ?? [{ atMs: joinedAtMs, capacity: this.config.capacity }];
    const status = self?.status ?? 'up';
    // The ring as this node last knew it: what it replicated then is what it holds now.
    if (self?.history !== undefined) this.membership.updateSelf({ history: self.history, joinedAtMs, capacity: self.capacity ?? this.config.capacity }, self.version);
    const before = Ring.build(this.membership.ringMembers(), this.config.partitionCount);
    // A configured capacity different from the remembered one is a capacity change (paper §2).
    const last = history[history.length - 1]!;
    const changedCapacity = status === 'up' && last.capacity > 0 && last.capacity !== this.config.capacity;
    // A new incarnation on every start: it tells every peer that suspected this node that it is back.
    const incarnation = (self?.incarnation ?? 0) + 1;
    this.membership.updateSelf(
      {
        status,
        capacity: changedCapacity ? this.config.capacity : (self?.capacity ?? this.config.capacity),
        joinedAtMs,
        incarnation,
        history: changedCapacity ? [...history, { atMs: nowMs, capacity: this.config.capacity }] : history,
        pending: self?.pending ?? [],
        handoffs: self?.handoffs ?? [],
        ...(this.authority !== undefined ? { publicKey: this.authority.publicKey } : {}),
      },
      (self?.version ?? 0) + 1,
    );
    this.handoff.restore(self?.pending ?? [], self?.handoffs ?? []);
    await this.saveSelf();
    for (const hint of await this.store.listHints()) this.hintTargets.add(hint.intendedFor);
    this.merkle ??= await InProcessMerkleService.build(this.store, () => this.currentRing);
    const merkle = this.merkle;
    this.antiEntropy = new AntiEntropy(this.config, {
      self: this.id,
      n: () => this.config.n,
      ring: () => this.currentRing,
      isHealthy: (id) => this.isHealthy(id) && this.detector.status(id) === 'alive',
      request: (to, body, timeoutMs) => this.request(to, body, timeoutMs),
      merkle,
      localObject: (key) => this.store.getObject(key),
      mergeLocal: (key, versions) => this.mergeLocal(key, versions),
      random: this.random,
      timeoutMs: () => this.config.requestTimeoutMs,
      onExchange: (report) => {
        if (report.partitionsDiffering.length > 0) this.emit({ type: 'anti-entropy', ...report });
      },
      onPartitionState: (state) => this.emit({ type: 'partition-sync', ...state }),
    });
    await this.handoff.refreshCounts();
    this.running = true;
    this.startedAtMs = this.clock.now();
    this.currentRing = before;
    this.ringSignature = '';
    this.onMembershipChanged();
    this.nextGossipAtMs = this.clock.now();
    this.nextHintAtMs = this.clock.now();
  }

  /** Stops the node: pending requests fail with NodeNotRunningError; further input is ignored. */
  stop(): void {
    this.running = false;
    this.timers = [];
    for (const waiter of this.leaveWaiters.splice(0)) waiter.reject(new NodeNotRunningError('the node stopped before it finished leaving'));
    for (const [id, request] of this.pending) {
      this.pending.delete(id);
      request.reject(new NodeNotRunningError('the node stopped'));
    }
  }

  /** True between `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Bootstrap seeds (paper §4.8.2): nodes to gossip with until they show up in the membership. */
  addSeeds(ids: readonly NodeId[]): void {
    let added = false;
    for (const id of ids) {
      if (id !== this.id && this.membership.get(id) === undefined && !this.seeds.has(id)) {
        this.seeds.add(id);
        added = true;
      }
    }
    if (added) this.nextGossipAtMs = this.clock.now(); // contact a seed at the next tick
  }

  /** The membership as this node sees it, sorted by id. */
  members(): MemberRecord[] {
    return this.membership.all();
  }

  /** The ring computed from the current membership. */
  ring(): Ring {
    return this.currentRing;
  }

  /** The key's preference list: every ring node, the N replicas first (paper §4.3). @throws InvalidKeyError */
  preferenceList(key: string): NodeId[] {
    validateKey(key);
    return [...this.currentRing.preferenceList(key)];
  }

  /** How this node sees `peer` right now (failure detector, paper §4.8.3): alive, suspect or unreachable. */
  reachability(peer: NodeId): Reachability {
    return peer === this.id ? 'alive' : this.detector.status(peer);
  }

  /** Every peer with its reachability, incarnation and when it changed / was last heard from (ms). */
  peerHealth(): ReturnType<FailureDetector['snapshot']> {
    return this.detector.snapshot();
  }

  /**
   * The transport could not reach `peer` at all (e.g. the signaling server does not know it: its tab is
   * closed). Suspects it at once and fails requests waiting on it, so fallbacks take over now.
   */
  reportUnreachable(peer: NodeId): void {
    if (!this.running) return;
    this.detector.unreachableReported(peer, this.clock.now());
    for (const [id, request] of this.pending) {
      if (request.to === peer) {
        this.pending.delete(id);
        request.reject(new PeerUnreachableError(`${peer} cannot be reached`));
      }
    }
  }

  /**
   * This node's own connectivity came back (it was disconnected): suspicions it formed meanwhile are
   * dropped, since the fault was its own, and it gossips at once.
   */
  reconnected(): void {
    this.offline = false;
    this.detector.forgetSuspicions(this.clock.now());
    this.wake();
  }

  /**
   * The host cut this node off the network (a demonstration toggle, or the browser reports it
   * offline): until {@link reconnected}, no peer counts as healthy, so requests do not wait for
   * answers that cannot come — a put with w = 1 is accepted locally at once, others fail fast.
   */
  disconnected(): void {
    this.offline = true;
  }

  /** Gossips at the next tick instead of waiting for the period (a tab that was frozen or offline catches up). */
  wake(): void {
    this.nextGossipAtMs = this.clock.now();
    this.nextHintAtMs = this.clock.now();
  }

  /** Counters since start. */
  stats(): NodeStats {
    return {
      ...this.counters,
      dropReasons: { ...this.dropReasons },
      pendingRequests: this.pending.size,
      probesSent: this.detector.probesSent,
      indirectProbeRounds: this.detector.indirectRounds,
      antiEntropyRounds: this.antiEntropy?.rounds ?? 0,
      antiEntropyRepairs: this.antiEntropy?.repairs ?? 0,
      ownershipHandoffKeysSent: this.handoff.keysSent,
      ownershipHandoffKeysReceived: this.handoff.keysReceived,
      ownershipHandoffTransfers: this.handoff.transfersCompleted,
    };
  }

  /** Counts a message dropped before it reached the core (framing or decoding errors in a transport). */
  recordDrop(from: NodeId, reason: string): void {
    this.counters.messagesDropped++;
    const category = reason.split(':')[0] ?? reason;
    this.dropReasons[category] = (this.dropReasons[category] ?? 0) + 1;
    this.emit({ type: 'message-dropped', from, reason });
  }

  // ─── time ────────────────────────────────────────────────────────────────────────────────────

  /** Advances the node to `nowMs`: expires request deadlines and runs a gossip round when due. */
  tick(nowMs: number): void {
    if (!this.running) return;
    for (const [id, request] of this.pending) {
      if (request.deadlineMs <= nowMs) {
        this.pending.delete(id);
        request.reject(new RequestTimeoutError(`no answer from ${request.to} in time`));
      }
    }
    if (this.timers.length > 0) {
      const due = this.timers.filter((t) => t.atMs <= nowMs);
      this.timers = this.timers.filter((t) => t.atMs > nowMs && !t.cancelled);
      for (const timer of due) if (!timer.cancelled) timer.fire();
    }
    if (!this.offline) {
      this.detector.tick(nowMs);
      this.antiEntropy?.tick(nowMs);
      this.handoff.tick(nowMs);
    }
    if (nowMs >= this.nextHintAtMs && !this.delivering && this.hintTargets.size > 0) {
      this.nextHintAtMs = nowMs + this.config.hintIntervalMs;
      void this.deliverHints();
    }
    if (nowMs >= this.nextGossipAtMs) {
      // Jitter (±20%) keeps nodes that started together from gossiping in lockstep.
      const jitter = 0.8 + 0.4 * this.random.next();
      this.nextGossipAtMs = nowMs + this.config.gossipIntervalMs * jitter;
      this.gossipRound();
    }
  }

  private gossipRound(): void {
    const candidates = [...this.seeds, ...this.membership.peers()];
    if (candidates.length === 0) return;
    // Prefer an unconfirmed seed while there is one, so a new node joins quickly.
    let pool = this.seeds.size > 0 ? [...this.seeds] : candidates;
    // Below a full mesh, gossip goes to a connected peer (epidemic spreading needs only a connected
    // graph) but for one round in GOSSIP_ANY_PEER_EVERY, which reaches any member, to heal splits.
    const isConnected = this.transport.isConnected?.bind(this.transport);
    if (isConnected !== undefined && this.seeds.size === 0 && this.random.next() >= 1 / GOSSIP_ANY_PEER_EVERY) {
      const connected = pool.filter((id) => isConnected(id));
      if (connected.length > 0) pool = connected;
    }
    const peer = pool[Math.floor(this.random.next() * pool.length)];
    if (peer === undefined) return;
    this.counters.gossipRounds++;
    this.refreshOwnLoad();
    this.sendGossip(peer, true);
    this.emit({ type: 'gossip', peer, direction: 'sent', changed: false });
  }

  // ─── input from peers ────────────────────────────────────────────────────────────────────────

  /**
   * Handles one decoded message from `from`. Never throws: a message that fails validation is
   * dropped and counted (`stats().messagesDropped`) with its reason.
   */
  receive(from: NodeId, input: unknown): void {
    if (!this.running) return;
    this.counters.messagesReceived++;
    const parsed = parseMessage(input);
    const problem = parsed.ok ? checkMessage(parsed.message) : parsed.reason;
    if (!parsed.ok || problem !== undefined) {
      this.recordDrop(from, `invalid: ${problem}`);
      return;
    }
    const message = parsed.message;
    if (this.membership.isRemoved(from)) {
      this.recordDrop(from, 'from a node removed from the cluster');
      return;
    }
    this.detector.heardFrom(from, this.clock.now());
    if (isReply(message)) {
      this.settleReply(from, message);
      return;
    }
    switch (message.type) {
      case 'gossip': {
        const gossip = { ...message, members: this.boundedNewRecords(message.members) };
        if (this.authority !== undefined) {
          void this.acceptSignedGossip(from, gossip);
          return;
        }
        for (const load of gossip.loads ?? []) this.mergeLoad(load);
        this.onGossip(from, gossip.members, gossip.removals ?? [], gossip.reply, gossip.suspects ?? []);
        return;
      }
      case 'replica-get':
      case 'replica-put':
      case 'coordinate-get':
      case 'coordinate-put':
      case 'hinted-put':
      case 'ping':
      case 'ping-req':
      case 'ae-roots':
      case 'ae-hashes':
      case 'ae-leaves':
      case 'ae-fetch':
      case 'handoff-start':
      case 'handoff-batch':
      case 'handoff-finish':
      case 'handoff-pull':
        void this.serve(from, message);
        return;
    }
  }

  /**
   * Gossip where records are signed (issue 16): records that would change this node's view and
   * removals not known yet are checked first; those that fail are dropped and counted, the rest of the
   * message is taken as usual. Steady-state gossip carries nothing new and costs no signature check.
   */
  private async acceptSignedGossip(from: NodeId, message: Extract<Message, { type: 'gossip' }>): Promise<void> {
    const verifier = this.verifier!;
    const { taken: members, refused: records } = await verifier.records(message.members);
    // A remover's key may arrive in the same message as its removal.
    const keys = new Map(members.filter((r) => r.publicKey !== undefined).map((r) => [r.id, r.publicKey!]));
    const { taken: removals, refused } = await verifier.removals(message.removals ?? [], keys);
    if (!this.running) return;
    for (const record of records) {
      this.counters.recordsRejected++;
      this.recordDrop(from, `a record of ${record.id} not signed by its node`);
    }
    for (const removal of refused) {
      this.counters.removalsRejected++;
      this.recordDrop(from, `a removal of ${removal.target} not signed by a member (${removal.by})`);
    }
    for (const load of message.loads ?? []) this.mergeLoad(load);
    this.onGossip(from, members, removals, message.reply, message.suspects ?? []);
  }

  /**
   * `incoming` with at most {@link MAX_NEW_MEMBERS_PER_GOSSIP} records of members not known yet, and
   * none that would take the membership past what one gossip message may carry.
   */
  private boundedNewRecords(incoming: readonly MemberRecord[]): MemberRecord[] {
    let room = Math.min(MAX_NEW_MEMBERS_PER_GOSSIP, MAX_WIRE_MEMBERS - this.membership.size);
    return incoming.filter((record) => record.id === this.id || this.membership.raw(record.id) !== undefined || room-- > 0);
  }

  /**
   * Sends a gossip message: every record as its member wrote it, the removals, suspicions and loads.
   * Where records are signed, this node's own record is signed first (once per version).
   */
  private sendGossip(to: NodeId, reply: boolean): void {
    const send = (): void => {
      if (!this.running && reply) return;
      this.send(to, {
        type: 'gossip',
        members: this.membership.gossipRecords(),
        removals: this.membership.removals(),
        reply,
        suspects: this.detector.suspicions(),
        loads: this.loadReports(),
      });
    };
    const own = this.membership.raw(this.id);
    if (this.authority === undefined || own === undefined || own.signature !== undefined) {
      send();
      return;
    }
    void this.signOwnRecord().then(send, (error: unknown) => this.reportError(error, "signing this node's record"));
  }

  /** Signs this node's current record (the signing of one version is shared by everyone waiting for it). */
  private signOwnRecord(): Promise<void> {
    const own = this.membership.raw(this.id)!;
    if (this.signing?.version === own.version) return this.signing.done;
    const version = own.version;
    const done = this.authority!.sign(recordSigningFields(own)).then((signature) => this.membership.setSignature(this.id, version, signature));
    this.signing = { version, done };
    return done;
  }

  private onGossip(from: NodeId, members: MemberRecord[], removals: readonly Removal[], reply: boolean, suspects: { id: NodeId; incarnation: number }[]): void {
    // A node may only speak for itself about its own record being present; others' records are hearsay
    // we accept by version (and, where records are signed, by its node's signature). We do not let a
    // peer rewrite our own record.
    let changed = this.membership.merge(members.filter((r) => r.id !== this.id));
    this.seeds.delete(from);
    for (const r of members) this.seeds.delete(r.id);
    for (const removal of removals) {
      // Unsigned removals (no authority) must at least come from a member this node knows.
      if (this.authority === undefined && (removal.by === removal.target || this.membership.raw(removal.by) === undefined)) continue;
      if (!this.membership.addRemoval(removal)) continue;
      changed = true;
      const winner = this.membership.removalOf(removal.target)!;
      this.emit({ type: 'removal', target: winner.target, by: winner.by, atMs: winner.atMs });
      if (winner.target === this.id) this.removedSelf(winner);
    }
    if (changed) this.onMembershipChanged();
    this.emit({ type: 'gossip', peer: from, direction: 'received', changed });
    const theirView = members.find((r) => r.id === this.id);
    let selfRecord = this.membership.raw(this.id);
    if (selfRecord !== undefined && this.membership.isRemoved(this.id)) {
      // Removed: nothing to refute or correct any more.
    } else if (selfRecord !== undefined && theirView !== undefined && theirView.version >= selfRecord.version && theirView.version < Number.MAX_SAFE_INTEGER &&
        (theirView.version > selfRecord.version || theirView.status !== selfRecord.status || theirView.capacity !== selfRecord.capacity)) {
      // Someone holds a record of this node at least as new as ours (we lost our state, or it was
      // forged): out-version it so our own record wins again.
      selfRecord = this.membership.updateSelf({}, theirView.version + 1);
      this.saveSelf();
      this.onMembershipChanged();
    }
    const nowMs = this.clock.now();
    for (const record of members) if (record.id !== this.id) this.detector.incarnationSeen(record.id, record.incarnation, nowMs);
    for (const suspicion of suspects) {
      if (suspicion.id === this.id) {
        // Only this node raises its incarnation: a suspicion above it is made up (and refuting it
        // could push the incarnation past what can be counted); one below it is already refuted.
        if (selfRecord !== undefined && suspicion.incarnation === selfRecord.incarnation) {
          // Refute (SWIM): a higher incarnation, gossiped, clears the suspicion everywhere.
          selfRecord = this.membership.updateSelf({ incarnation: suspicion.incarnation + 1 });
          this.counters.refutations++;
          this.saveSelf();
          this.onMembershipChanged();
        }
      } else if (suspicion.incarnation <= (this.membership.raw(suspicion.id)?.incarnation ?? -1)) {
        // A suspicion of an incarnation its node never announced could never be refuted: ignored.
        this.detector.suspicionHeard(suspicion.id, suspicion.incarnation, nowMs);
      }
    }
    const stale = selfRecord !== undefined && (theirView === undefined || theirView.version < selfRecord.version);
    // Push-pull: answer a round, and correct a peer that holds an old record of this node.
    if (reply || stale) this.sendGossip(from, false);
  }

  private onMembershipChanged(): void {
    const ringMembers = this.membership.ringMembers();
    const signature = JSON.stringify(ringMembers.map((m) => [m.id, m.history]));
    if (signature !== this.ringSignature) {
      this.ringSignature = signature;
      const before = this.currentRing;
      this.currentRing = Ring.build(ringMembers, this.config.partitionCount);
      this.handoff.ringChanged(before, this.currentRing);
      if (Ring.movedPartitions(before, this.currentRing) > 0 || before.members.length !== this.currentRing.members.length) {
        this.emit({ type: 'ring', owners: this.currentRing.owners() });
      }
    }
    const members = this.membership.all();
    this.detector.setPeers(this.membership.peers(), this.clock.now());
    this.emit({ type: 'membership', members });
    // Stored as gossiped (signed as written by each member); removals beside them.
    this.store.putMeta(META_MEMBERS, this.membership.gossipRecords()).catch((error: unknown) => this.reportError(error, 'saving the membership'));
    this.store.putMeta(META_REMOVALS, this.membership.removals()).catch((error: unknown) => this.reportError(error, 'saving the removals'));
  }

  /**
   * Another member removed this node (paper §4.8.1; the statement is signed by its maker): it is out
   * of the ring for good. Its record says so; the others re-create its replicas from the surviving
   * ones and no longer talk to it (their handshakes refuse it). Its data stays on its disk.
   */
  private removedSelf(removal: Removal): void {
    const self = this.membership.raw(this.id);
    if (self === undefined || self.status === 'left') return;
    const last = self.history[self.history.length - 1];
    const history = inRing(self) ? [...self.history, { atMs: Math.max(removal.atMs, last?.atMs ?? 0), capacity: 0 }] : self.history;
    this.membership.updateSelf({ status: 'left', history, pending: [], handoffs: [] });
    void this.saveSelf();
    this.emit({ type: 'membership-change', change: 'remove', node: this.id, capacity: 0 });
    for (const waiter of this.leaveWaiters.splice(0)) waiter.resolve();
  }

  /** Own load for the next report: objects held (from the Merkle trees) and hints held, read without waiting. */
  private refreshOwnLoad(): void {
    if (this.loadRefreshing) return;
    this.loadRefreshing = true;
    void Promise.all([this.merkle?.keyCounts() ?? Promise.resolve(new Map<number, number>()), this.store.countHints()])
      .then(([counts, hints]) => {
        let keys = 0;
        for (const count of counts.values()) keys += count;
        const own = this.loads.get(this.id);
        if (own?.keys !== keys || own.hints !== hints) this.loads.set(this.id, { keys, hints, seq: (own?.seq ?? 0) + 1, receivedAtMs: this.clock.now() });
      })
      .catch(() => undefined)
      .finally(() => (this.loadRefreshing = false));
  }

  private loadReports(): { id: NodeId; keys: number; hints: number; seq: number }[] {
    return [...this.loads].map(([id, l]) => ({ id, keys: l.keys, hints: l.hints, seq: l.seq }));
  }

  private mergeLoad(load: { id: NodeId; keys: number; hints: number; seq: number }): void {
    // Only members' loads are kept (and relayed): reports of made-up ids would grow without bound.
    if (load.id === this.id || this.membership.raw(load.id) === undefined || this.membership.isRemoved(load.id)) return;
    const known = this.loads.get(load.id);
    if (known === undefined || load.seq > known.seq) this.loads.set(load.id, { keys: load.keys, hints: load.hints, seq: load.seq, receivedAtMs: this.clock.now() });
  }

  /**
   * What each member last reported of its load (by gossip; this node's own is fresh): objects it
   * stores and hints it holds for others, and when the report reached this node (ms).
   */
  memberLoads(): Map<NodeId, { keys: number; hints: number; reportedAtMs: number }> {
    return new Map([...this.loads].map(([id, l]) => [id, { keys: l.keys, hints: l.hints, reportedAtMs: l.receivedAtMs }]));
  }

  /** Persists this node's own record (its version must never go back, even across restarts). */
  private saveSelf(): Promise<void> {
    const record = this.membership.raw(this.id);
    if (record === undefined) return Promise.resolve();
    const stored: StoredSelf = { ...record };
    return this.store.putMeta(META_SELF, stored).catch((error: unknown) => this.reportError(error, "saving this node's record"));
  }

  /** Changes this node's own record, saves it and lets the ring and peers know. */
  private updateSelfRecord(change: Parameters<Membership['updateSelf']>[0]): MemberRecord {
    const record = this.membership.updateSelf(change);
    void this.saveSelf();
    if (this.running) {
      this.onMembershipChanged();
      this.nextGossipAtMs = Math.min(this.nextGossipAtMs, this.clock.now());
    }
    return record;
  }

  // ─── explicit membership changes (paper §4.8.1, §4.9) ──────────────────────────────────────────

  /**
   * Puts this node (back) into the ring with `capacity` (default: its configured capacity): the
   * partitions it is given are handed to it by their holders. A node that is already in the ring
   * keeps its place. Resolves once recorded; the ring spreads by gossip.
   * @throws NodeNotRunningError, InvalidOptionError (capacity not a finite number > 0).
   */
  async join(capacity = this.config.capacity): Promise<void> {
    this.assertRunning();
    checkCapacity(capacity);
    const self = this.membership.get(this.id)!;
    if (inRing(self)) return;
    this.updateSelfRecord({ status: 'up', capacity, history: [...self.history, { atMs: this.clock.now(), capacity }] });
    await this.saveSelf();
    this.emit({ type: 'membership-change', change: 'join', node: this.id, capacity });
  }

  /**
   * Changes this node's capacity (heterogeneity, paper §2): its share of partitions becomes
   * capacity / total; the partitions that move are handed off.
   * @throws NodeNotRunningError, InvalidOptionError (not a finite number > 0, or the node is not in the ring).
   */
  async setCapacity(capacity: number): Promise<void> {
    this.assertRunning();
    checkCapacity(capacity);
    const self = this.membership.get(this.id)!;
    if (!inRing(self)) throw new InvalidOptionError('this node is not in the ring; join first');
    if (self.capacity === capacity) return;
    this.updateSelfRecord({ capacity, history: [...self.history, { atMs: this.clock.now(), capacity }] });
    await this.saveSelf();
    this.emit({ type: 'membership-change', change: 'capacity', node: this.id, capacity });
  }

  /**
   * Takes this node out of the ring (paper §4.9): its partitions go to their new owners, it hands them
   * its objects (and passes on hints it holds), then its status becomes `left`. Resolves when it has
   * left — nothing of a partition remains here. Requests still work meanwhile.
   * @throws NodeNotRunningError (also when the node stops before it finished leaving).
   */
  async leave(): Promise<void> {
    this.assertRunning();
    const self = this.membership.get(this.id)!;
    if (self.status === 'left') return;
    const done = new Promise<void>((resolve, reject) => this.leaveWaiters.push({ resolve, reject }));
    if (self.status !== 'leaving') {
      this.updateSelfRecord({ status: 'leaving', history: inRing(self) ? [...self.history, { atMs: this.clock.now(), capacity: 0 }] : self.history });
      await this.saveSelf();
      this.emit({ type: 'membership-change', change: 'leave', node: this.id, capacity: 0 });
    }
    await done;
  }

  /**
   * An operator removes `node`, gone for good (paper §4.8.1): it leaves the ring at once and the
   * surviving replicas re-create its replicas on the new owners. Temporary failures must not be
   * handled this way (they heal by themselves). The removal is a statement of its own, signed by this
   * node and attributed to it (issue 16); no record the removed node writes later undoes it, and its
   * identity is refused from then on. Resolves once recorded here; gossip spreads it.
   * @throws NodeNotRunningError; InvalidOptionError when `node` is this node (use `leave`), unknown,
   *   or already gone.
   */
  async remove(node: NodeId): Promise<void> {
    this.assertRunning();
    if (node === this.id) throw new InvalidOptionError('a node cannot remove itself; use leave()');
    const record = this.membership.get(node);
    if (record === undefined) throw new InvalidOptionError(`unknown node ${node}`);
    if (record.status === 'left') throw new InvalidOptionError(`${node} has already left`);
    const removal: Removal = { target: node, by: this.id, atMs: this.clock.now() };
    if (this.authority !== undefined) removal.signature = await this.authority.sign(removalSigningFields(removal));
    if (!this.membership.addRemoval(removal)) throw new InvalidOptionError(`${node} has already been removed`);
    this.onMembershipChanged();
    this.nextGossipAtMs = this.clock.now();
    await this.store.putMeta(META_REMOVALS, this.membership.removals());
    this.emit({ type: 'removal', target: node, by: this.id, atMs: removal.atMs });
    this.emit({ type: 'membership-change', change: 'remove', node, capacity: 0 });
  }

  /** Every removal statement this node knows (who removed whom, when), sorted by target. */
  removals(): Removal[] {
    return this.membership.removals().map((r) => ({ target: r.target, by: r.by, atMs: r.atMs }));
  }

  /** True when `node` was removed from the cluster (its connections are to be refused). */
  isRemoved(node: NodeId): boolean {
    return this.membership.isRemoved(node);
  }

  /** Where partition handoff stands here. */
  ownershipHandoffStatus(): OwnershipHandoffStatus {
    return { pendingPartitions: this.handoff.pendingPartitions(), handoffPartitions: this.handoff.handoffPartitions(), transfers: this.handoff.transferStates() };
  }

  /** The handoff found nothing left to hand off: a leaving node has now left. */
  private drained(): void {
    const self = this.membership.get(this.id);
    if (self?.status !== 'leaving') return;
    if (this.hintTargets.size > 0) {
      // Its partitions are handed off but it still holds hints: those for nodes it cannot reach go to
      // a node that stays (see passHints), the others are delivered as usual; then it has left.
      this.passingHints = true;
      this.nextHintAtMs = Math.min(this.nextHintAtMs, this.clock.now());
      return;
    }
    this.updateSelfRecord({ status: 'left', pending: [], handoffs: [] });
    this.emit({ type: 'membership-change', change: 'left', node: this.id, capacity: 0 });
    for (const waiter of this.leaveWaiters.splice(0)) waiter.resolve();
  }

  /** Deletes a handed-off object if it did not change since it was sent. */
  private async dropIfUnchanged(key: string, digest: Uint8Array): Promise<boolean> {
    return this.locks.run(key, async () => {
      if (this.handoff.replicates(this.currentRing.partitionOfKey(key))) return false;
      const current = await this.store.getObject(key);
      if (current === undefined) return false;
      const now = versionDigest(current);
      if (now.length !== digest.length || !now.every((x, i) => x === digest[i])) return false;
      await this.store.deleteObject(key);
      this.treeUpdate(key, undefined);
      return true;
    });
  }

  private settleReply(from: NodeId, reply: ReplyMessage): void {
    const request = this.pending.get(reply.requestId);
    if (request === undefined || request.to !== from) {
      // Late (after its deadline) or spoofed: nothing waits for it.
      this.counters.repliesUnmatched++;
      return;
    }
    this.pending.delete(reply.requestId);
    if (reply.type === 'error-reply') {
      if (reply.code === 'QuorumNotReachedError' && reply.needed !== undefined) {
        request.reject(new QuorumNotReachedError('get', reply.answered ?? 0, reply.needed, reply.replicas ?? 0, `at ${from}`));
      } else {
        request.reject(new RemoteError(reply.code, `${from}: ${reply.message}`));
      }
    } else {
      request.resolve(reply);
    }
  }

  /** Serves a request from a peer and answers it; failures become an error-reply. */
  private async serve(from: NodeId, message: RequestMessage): Promise<void> {
    try {
      switch (message.type) {
        case 'replica-get': {
          validateKey(message.key);
          const versions = await this.localState(message.key);
          // The replica merged with the hints held for the key may exceed what one message carries.
          if (versions !== undefined) assertFitsOneMessage(versions, this.config.maxVersionSetBytes);
          const complete = this.handoff.isComplete(this.currentRing.partitionOfKey(message.key));
          this.send(from, { type: 'replica-get-reply', requestId: message.requestId, versions: versions ?? null, ...(complete ? {} : { complete }) });
          return;
        }
        case 'handoff-start':
          this.send(from, { type: 'handoff-reply', requestId: message.requestId, accepted: this.handoff.onStart(message.partition) });
          return;
        case 'handoff-batch': {
          for (const item of message.items) validateKey(item.key);
          const accepted = await this.handoff.onBatch(message.partition, message.items);
          this.send(from, { type: 'handoff-reply', requestId: message.requestId, accepted });
          return;
        }
        case 'handoff-finish':
          this.send(from, { type: 'handoff-reply', requestId: message.requestId, accepted: this.handoff.onFinish(from, message.partition) });
          return;
        case 'handoff-pull':
          this.send(from, { type: 'handoff-reply', requestId: message.requestId, accepted: this.handoff.onPull(from, message.partition) });
          return;
        case 'hinted-put': {
          validateKey(message.key);
          // A hint for a node this one does not know could never be delivered, and would stay forever.
          if (message.intendedFor !== this.id && this.membership.get(message.intendedFor) === undefined) {
            throw new InvalidOptionError(`${message.intendedFor} is not a member: no hint is kept for it`);
          }
          if (message.intendedFor === this.id) await this.mergeLocal(message.key, message.versions);
          else await this.storeHint(message.intendedFor, message.key, message.versions);
          this.send(from, { type: 'hinted-put-reply', requestId: message.requestId });
          return;
        }
        case 'ping':
          this.send(from, { type: 'ping-reply', requestId: message.requestId });
          return;
        case 'ae-roots': {
          const hashes = await this.requireMerkle().roots(message.partitions);
          this.send(from, { type: 'ae-hashes-reply', requestId: message.requestId, hashes });
          return;
        }
        case 'ae-hashes': {
          const hashes = await this.requireMerkle().hashes(message.partition, message.level, message.indices);
          this.send(from, { type: 'ae-hashes-reply', requestId: message.requestId, hashes });
          return;
        }
        case 'ae-leaves': {
          const items = await this.requireMerkle().leafItems(message.partition, message.leaves);
          this.send(from, { type: 'ae-leaves-reply', requestId: message.requestId, items });
          return;
        }
        case 'ae-fetch': {
          const versions = await Promise.all(message.keys.map((k) => this.store.getObject(k).then((v) => v ?? null)));
          this.send(from, { type: 'ae-fetch-reply', requestId: message.requestId, versions });
          return;
        }
        case 'ping-req': {
          // Only members this node watches are probed, and for one protocol period at most: a peer must
          // not make it contact any id it names (a connection each, in a tab) or keep requests open for
          // the ten minutes the schema allows.
          const target = message.target;
          if (target === this.id || target === from || !this.membership.peers().includes(target)) throw new InvalidOptionError(`${target} is not a member this node probes`);
          await this.request(target, { type: 'ping' }, Math.min(message.timeoutMs, this.config.probeIntervalMs));
          this.send(from, { type: 'ping-reply', requestId: message.requestId });
          return;
        }
        case 'replica-put': {
          validateKey(message.key);
          await this.mergeLocal(message.key, message.versions);
          const complete = this.handoff.isComplete(this.currentRing.partitionOfKey(message.key));
          this.send(from, { type: 'replica-put-reply', requestId: message.requestId, ...(complete ? {} : { complete }) });
          return;
        }
        case 'coordinate-get': {
          validateKey(message.key);
          const outcome = await this.coordinateGet(message.key, message.r, message.timeoutMs);
          // Replicas' states merged here may exceed what one message carries: say so rather than send
          // a reply the requester would drop.
          if (outcome.versions !== undefined) assertFitsOneMessage(outcome.versions, this.config.maxVersionSetBytes);
          this.send(from, {
            type: 'coordinate-get-reply',
            requestId: message.requestId,
            versions: outcome.versions ?? null,
            answeredBy: outcome.answeredBy,
          });
          return;
        }
        case 'coordinate-put': {
          validateKey(message.key);
          const servedKey = `${from}:${message.requestId}`;
          const earlier = this.served.get(servedKey);
          if (earlier !== undefined) {
            if (earlier !== 'pending') this.send(from, earlier);
            return;
          }
          this.served.set(servedKey, 'pending');
          if (this.served.size > 4096) this.served.delete(this.served.keys().next().value!);
          const context: CausalContext = { clock: message.context, dots: message.contextDots };
          let reply: Message;
          try {
            const outcome = await this.coordinatePut(message.key, message.data, context, message.w, message.timeoutMs);
            reply = { type: 'coordinate-put-reply', requestId: message.requestId, dot: outcome.dot, answered: outcome.acks };
          } catch (error) {
            reply = errorReply(message.requestId, error);
          }
          if (this.served.has(servedKey)) this.served.set(servedKey, reply);
          this.send(from, reply);
          return;
        }
      }
    } catch (error) {
      this.send(from, errorReply(message.requestId, error));
    }
  }

  // ─── client operations ───────────────────────────────────────────────────────────────────────

  /**
   * Reads a key (paper §4.1, §4.5): waits for R replicas and returns every concurrent version.
   * @throws InvalidKeyError, InvalidOptionError, NoReplicasError, QuorumNotReachedError (how many
   *   answered of how many needed), NodeNotRunningError, StorageError.
   */
  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    this.assertRunning();
    validateKey(key);
    const r = this.quorumOption('r', options.r ?? this.config.r);
    const timeoutMs = this.timeoutOption(options.timeoutMs);
    const startedMs = this.clock.now();
    const outcome = await this.routeGet(key, r, timeoutMs);
    const siblings = toSiblingViews(outcome.versions);
    const result: GetResult = {
      siblings,
      context: outcome.versions ? encodeContext({ clock: outcome.versions.clock, dots: outcome.versions.dots ?? [] }) : '',
      clock: (outcome.versions?.clock ?? []).map((e) => ({ node: e.node, counter: e.counter })),
      answeredBy: outcome.answeredBy,
    };
    this.emit({ type: 'get', key, siblings: siblings.length, answeredBy: outcome.answeredBy, latencyMs: this.clock.now() - startedMs });
    return result;
  }

  /**
   * Writes a value (paper §4.1 `put(key, context, object)`, §4.5): answers after W durable acks.
   * Without a context the write is concurrent with every existing version (it becomes a sibling).
   * @throws InvalidKeyError, InvalidValueError, ValueTooLargeError (nothing written), InvalidContextError,
   *   InvalidOptionError, VersionSetTooLargeError, ClockOverflowError, NoReplicasError, QuorumNotReachedError,
   *   NodeNotRunningError, StorageError.
   */
  async put(key: string, value: unknown, options: PutOptions = {}): Promise<PutResult> {
    this.assertRunning();
    validateKey(key);
    const data = encodeValue(value);
    return this.write(key, data, options);
  }

  /**
   * Deletes a key by writing a tombstone with the given context (DESIGN.md §3 "Deletes"). A delete
   * concurrent with a write leaves both as siblings. Same errors as {@link put}.
   */
  async delete(key: string, options: PutOptions = {}): Promise<PutResult> {
    this.assertRunning();
    validateKey(key);
    return this.write(key, null, options);
  }

  private async write(key: string, data: Uint8Array | null, options: PutOptions): Promise<PutResult> {
    const context = decodeContext(options.context);
    const w = this.quorumOption('w', options.w ?? this.config.w);
    const timeoutMs = this.timeoutOption(options.timeoutMs);
    const startedMs = this.clock.now();
    const outcome = await this.routePut(key, data, context, w, timeoutMs);
    const result: PutResult = {
      context: encodeContext(contextAfterPut(context, outcome.dot)),
      version: outcome.dot,
      acks: outcome.acks,
    };
    this.emit({ type: 'put', key, version: outcome.dot, acks: outcome.acks, coordinator: outcome.dot.node, latencyMs: this.clock.now() - startedMs });
    return result;
  }

  /**
   * Where requests for `key` go (paper §4.5, §4.6): the key's N replicas, and the first N healthy
   * nodes of its preference list — each healthy replica for itself, and for every unreachable replica
   * the next healthy fallback, standing in for it — plus the remaining healthy fallbacks, in order, to
   * replace targets that fail during the request.
   * @throws NoReplicasError when no node owns partitions yet.
   */
  private targetsOf(key: string): { replicas: NodeId[]; targets: { node: NodeId; intendedFor?: NodeId }[]; spare: NodeId[] } {
    const list = this.currentRing.preferenceList(key);
    if (list.length === 0) throw new NoReplicasError('no node owns partitions yet; wait for the node to join the ring');
    const replicas = list.slice(0, this.config.n);
    const healthy = (id: NodeId): boolean => id === this.id || this.isHealthy(id);
    // Without hinted handoff (strict quorum), only the N replicas are ever asked.
    const spare = this.config.hintedHandoff ? list.slice(this.config.n).filter(healthy) : [];
    const targets: { node: NodeId; intendedFor?: NodeId }[] = [];
    for (const replica of replicas) {
      if (healthy(replica)) targets.push({ node: replica });
    }
    for (const replica of replicas) {
      if (healthy(replica)) continue;
      const standIn = spare.shift();
      if (standIn !== undefined) targets.push({ node: standIn, intendedFor: replica });
    }
    // While a partition moves, its holders still hold its past writes: they are asked too (§4.9).
    const partition = this.currentRing.partitionOfKey(key);
    for (const record of this.membership.all()) {
      if (record.status === 'left' || !record.handoffs.includes(partition) || !healthy(record.id)) continue;
      if (targets.some((t) => t.node === record.id)) continue;
      targets.push({ node: record.id });
      const i = spare.indexOf(record.id);
      if (i >= 0) spare.splice(i, 1);
    }
    return { replicas, targets, spare };
  }

  /**
   * Coordinates locally when this node is one of the key's N replicas (paper §6.4); otherwise forwards
   * to the healthy replicas in order, and coordinates itself only when none of them answers.
   */
  private async routeGet(key: string, r: number, timeoutMs: number): Promise<{ versions: VersionSet | undefined; answeredBy: NodeId[] }> {
    const { replicas } = this.targetsOf(key);
    if (replicas.includes(this.id)) return this.coordinateGet(key, r, timeoutMs);
    const startedMs = this.clock.now();
    const forwarded = await this.forward(replicas, 'get', timeoutMs, async (coordinator, budgetMs) => {
      // The coordinator gets most of the budget; the rest covers the two hops.
      const reply = await this.request(coordinator, { type: 'coordinate-get', key, r, timeoutMs: Math.max(1, Math.floor(budgetMs * 0.8)) }, budgetMs);
      if (reply.type !== 'coordinate-get-reply') throw new RemoteError('UnexpectedReply', `${coordinator} answered ${reply.type}`);
      return { versions: reply.versions ?? undefined, answeredBy: reply.answeredBy };
    });
    return forwarded ?? this.coordinateGet(key, r, Math.max(1, timeoutMs - (this.clock.now() - startedMs)));
  }

  private async routePut(key: string, data: Uint8Array | null, context: CausalContext, w: number, timeoutMs: number): Promise<{ dot: Dot; acks: number }> {
    const { replicas } = this.targetsOf(key);
    if (replicas.includes(this.id)) return this.coordinatePut(key, data, context, w, timeoutMs);
    const startedMs = this.clock.now();
    const forwarded = await this.forward(replicas, 'put', timeoutMs, async (coordinator, budgetMs) => {
      const reply = await this.request(
        coordinator,
        { type: 'coordinate-put', key, data, context: context.clock, contextDots: context.dots, w, timeoutMs: Math.max(1, Math.floor(budgetMs * 0.8)) },
        budgetMs,
      );
      if (reply.type !== 'coordinate-put-reply') throw new RemoteError('UnexpectedReply', `${coordinator} answered ${reply.type}`);
      return { dot: reply.dot, acks: reply.answered };
    });
    return forwarded ?? this.coordinatePut(key, data, context, w, Math.max(1, timeoutMs - (this.clock.now() - startedMs)));
  }

  /**
   * Tries the healthy replicas as coordinators, connected ones first, else in preference-list order,
   * until one answers; resolves
   * `undefined` when none could be reached. A quorum failure reported by a coordinator is final
   * (retrying elsewhere could write twice).
   */
  private async forward<T>(
    replicas: NodeId[],
    operation: 'get' | 'put',
    timeoutMs: number,
    attempt: (coordinator: NodeId, budgetMs: number) => Promise<T>,
  ): Promise<T | undefined> {
    this.counters.requestsForwarded++;
    const deadlineMs = this.clock.now() + timeoutMs;
    const healthy = replicas.filter((id) => this.isHealthy(id));
    // Any of the N replicas may coordinate (§4.1); one this node is connected to first (a stable
    // sort keeps preference-list order otherwise), so that forwarding makes no new connection.
    const isConnected = this.transport.isConnected?.bind(this.transport);
    const candidates = isConnected === undefined ? healthy : [...healthy.filter((id) => isConnected(id)), ...healthy.filter((id) => !isConnected(id))];
    for (const [i, coordinator] of candidates.entries()) {
      // Attempts share the caller's deadline, so forwarding never exceeds it: each but the last gets
      // half of what is left, so that a silent coordinator leaves time for the next (and for this
      // node to coordinate itself when none answers).
      const leftMs = deadlineMs - this.clock.now();
      const budgetMs = Math.floor(i === candidates.length - 1 ? leftMs * 0.75 : leftMs / 2);
      if (budgetMs < 2) break;
      try {
        return await attempt(coordinator, budgetMs);
      } catch (error) {
        if (error instanceof QuorumNotReachedError) throw new QuorumNotReachedError(operation, error.answered, error.needed, error.replicas, `coordinated by ${coordinator}`);
        if (error instanceof RemoteError && error.code !== 'NodeNotRunningError' && error.code !== 'NoReplicasError') throw error;
      }
    }
    return undefined;
  }

  /**
   * Sends one request per target and keeps going until `needed` succeeded: a target that fails or
   * stays silent past `replicaTimeoutMs` is replaced by the next spare fallback, which then stands in
   * for the replica the failed target served (sloppy quorum, paper §4.6). Work continues in the
   * background after the answer, so every replica (or its stand-in) gets the request.
   *
   * Only complete answers count towards `needed`: a replica still receiving the key's partition
   * (handoff, paper §4.9) may lack past writes. When every attempt has ended without enough complete
   * answers but with enough answers in all, the quorum is met with what there is (availability first,
   * as the sloppy quorum does).
   *
   * @param local the coordinator's own contribution, already done (counted as one success), if any.
   * @param unplaced told of a replica whose target failed when no spare fallback was left.
   * @returns a promise of the successes by node once `needed` is reached (rejecting with
   *   QuorumNotReachedError on the deadline or when candidates run out), and a promise of every
   *   outcome once all attempts ended.
   */
  private fanOut<T>(
    operation: 'get' | 'put' | 'delete',
    targets: { node: NodeId; intendedFor?: NodeId }[],
    spare: NodeId[],
    needed: number,
    timeoutMs: number,
    local: { node: NodeId; value: T; complete: boolean } | undefined,
    send: (node: NodeId, intendedFor: NodeId | undefined) => Promise<{ value: T; complete: boolean }>,
    unplaced?: (replica: NodeId) => void,
  ): { quorum: Promise<Map<NodeId, { value: T; intendedFor?: NodeId }>>; done: Promise<Map<NodeId, { value: T; intendedFor?: NodeId }>> } {
    const successes = new Map<NodeId, { value: T; intendedFor?: NodeId }>();
    let complete = 0;
    if (local) {
      successes.set(local.node, { value: local.value });
      if (local.complete) complete++;
    }
    const failures: string[] = [];
    const queue = spare.filter((id) => id !== this.id && !targets.some((t) => t.node === id));
    const asked = targets.filter((t) => t.node !== local?.node).length + (local ? 1 : 0);
    let outstanding = 0;
    let settled = false;
    let resolveQuorum!: (v: Map<NodeId, { value: T; intendedFor?: NodeId }>) => void;
    let rejectQuorum!: (e: unknown) => void;
    const quorum = new Promise<Map<NodeId, { value: T; intendedFor?: NodeId }>>((resolve, reject) => {
      resolveQuorum = resolve;
      rejectQuorum = reject;
    });
    let resolveDone!: (v: Map<NodeId, { value: T; intendedFor?: NodeId }>) => void;
    const done = new Promise<Map<NodeId, { value: T; intendedFor?: NodeId }>>((resolve) => (resolveDone = resolve));
    const fail = (): void => {
      settled = true;
      const partial = successes.size - complete;
      const detail = [failures[0] ?? '', partial > 0 ? `${partial} more answered from a partition still being handed to them` : ''].filter(Boolean).join('; ');
      rejectQuorum(new QuorumNotReachedError(operation, complete, needed, Math.max(asked, needed), detail));
    };

    const deadline = this.after(timeoutMs, () => {
      if (!settled) {
        failures.unshift(`deadline of ${timeoutMs} ms passed`);
        fail();
      }
    });
    const check = (): void => {
      if (!settled && (complete >= needed || (outstanding === 0 && successes.size >= needed))) {
        settled = true;
        deadline.cancel();
        resolveQuorum(successes);
      }

      // Not `else`: the reply that completes the quorum may also be the last one out.
      if (outstanding === 0) {
        if (!settled) {
          deadline.cancel();
          fail();
        }
        resolveDone(successes);
      }
    };
    const launch = (node: NodeId, intendedFor: NodeId | undefined): void => {
      outstanding++;
      send(node, intendedFor).then(
        ({ value, complete: full }) => {
          successes.set(node, intendedFor === undefined ? { value } : { value, intendedFor });
          // A stand-in counts as the replica it stands for (sloppy quorum).
          if (full || intendedFor !== undefined) complete++;
          if (intendedFor !== undefined && operation !== 'get') this.counters.fallbackWrites++;
          outstanding--;
          check();
        },
        (error: unknown) => {
          failures.push(`${node}: ${error instanceof Error ? error.message : String(error)}`);
          const next = queue.shift();
          // The stand-in takes over whatever the failed target stood for; with none left, the caller
          // may keep the request for that replica itself.
          if (next !== undefined && this.running) launch(next, intendedFor ?? node);
          else if (next === undefined && this.running) unplaced?.(intendedFor ?? node);
          outstanding--;
          check();
        },
      );
    };
    for (const target of targets) if (target.node !== local?.node) launch(target.node, target.intendedFor);
    check();
    return { quorum, done };
  }

  private async coordinateGet(key: string, r: number, timeoutMs: number): Promise<{ versions: VersionSet | undefined; answeredBy: NodeId[] }> {
    this.counters.getsCoordinated++;
    const { targets, spare } = this.targetsOf(key);
    const localTarget = targets.find((t) => t.node === this.id);
    const partition = this.currentRing.partitionOfKey(key);
    const local = localTarget ? { node: this.id, value: await this.localState(key), complete: this.handoff.isComplete(partition) } : undefined;
    const { quorum, done } = this.fanOut<VersionSet | undefined>('get', targets, spare, r, timeoutMs, local, (node) =>
      this.request(node, { type: 'replica-get', key }, this.replicaDeadline(timeoutMs)).then((reply) => {
        if (reply.type !== 'replica-get-reply') throw new RemoteError('UnexpectedReply', `${node} answered ${reply.type}`);
        return { value: reply.versions ?? undefined, complete: reply.complete ?? true };
      }),
    );
    const successes = await quorum;
    let versions: VersionSet | undefined;
    for (const { value } of successes.values()) if (value !== undefined) versions = versions === undefined ? value : mergeVersionSets(versions, value);
    const intended = new Map(targets.filter((t) => t.intendedFor !== undefined).map((t) => [t.node, t.intendedFor!]));
    void done.then((all) => this.readRepair(key, all, intended));
    return { versions, answeredBy: [...successes.keys()] };
  }

  /**
   * After every target answered (or failed), sends the merge to those that returned less (read repair,
   * paper §5): replicas get it as a replica-put, fallbacks as a hint for the replica they stand in for.
   */
  private readRepair(key: string, replies: Map<NodeId, { value: VersionSet | undefined; intendedFor?: NodeId }>, intended: Map<NodeId, NodeId>): void {
    if (!this.running) return;
    let merged: VersionSet | undefined;
    for (const { value } of replies.values()) if (value !== undefined) merged = merged === undefined ? value : mergeVersionSets(merged, value);
    // A merge too large for one message would be refused by every replica: nothing to repair with.
    if (merged === undefined || versionSetLimitProblem(merged, this.config.maxVersionSetBytes) !== undefined) return;
    const stale = [...replies].filter(([, reply]) => !versionSetsEqual(reply.value, merged)).map(([id]) => id);
    if (stale.length === 0) return;
    this.counters.readRepairs++;
    for (const node of stale) {
      const intendedFor = replies.get(node)?.intendedFor ?? intended.get(node);
      if (node === this.id) {
        this.mergeLocal(key, merged).catch((error: unknown) => this.reportError(error, `read repair of ${key}`));
      } else if (intendedFor !== undefined) {
        this.request(node, { type: 'hinted-put', key, versions: merged, intendedFor }, this.config.requestTimeoutMs).catch(() => undefined);
      } else {
        this.request(node, { type: 'replica-put', key, versions: merged }, this.config.requestTimeoutMs).catch(() => undefined);
      }
    }
    this.emit({ type: 'read-repair', key, replicas: stale });
  }

  /**
   * Applies a client's write here and replicates it (paper §4.5, §4.6): the coordinator writes locally
   * and durably first (its counter for the key must be on disk before any other node sees the dot),
   * then sends the new version set to the other targets and answers after W durable acks.
   *
   * When this node is not one of the key's replicas (every replica was unreachable), it writes under a
   * fresh actor id — it keeps no lasting record of the key, so its own counters for it could repeat —
   * and keeps its copy as a hint for the first replica.
   */
  private async coordinatePut(key: string, data: Uint8Array | null, context: CausalContext, w: number, timeoutMs: number): Promise<{ dot: Dot; acks: number }> {
    this.counters.putsCoordinated++;
    const { replicas, targets, spare } = this.targetsOf(key);
    const isReplica = replicas.includes(this.id);
    const actor = isReplica ? this.id : this.freshActorId();
    const { versions, dot } = await this.locks.run(key, async () => {
      const local = await this.localState(key);
      const result = applyPut(local, context.clock, actor, data, this.clock.now(), this.config.maxClockEntries, context.dots);
      assertFitsOneMessage(result.versions, this.config.maxVersionSetBytes);
      if (isReplica) {
        await this.store.putObject(key, result.versions);
        this.treeUpdate(key, result.versions);
        this.emit({ type: 'key-changed', key, source: 'write' });
      } else {
        await this.writeHint(replicas[0]!, key, result.versions);
      }
      return result;
    });
    const operation = data === null ? 'delete' : 'put';
    const { quorum } = this.fanOut<void>(
      operation,
      targets,
      spare,
      w,
      timeoutMs,
      { node: this.id, value: undefined, complete: isReplica && this.handoff.isComplete(this.currentRing.partitionOfKey(key)) },
      async (node, intendedFor) => {
        const deadlineMs = this.replicaDeadline(timeoutMs);
        if (intendedFor !== undefined) {
          await this.request(node, { type: 'hinted-put', key, versions, intendedFor }, deadlineMs);
          return { value: undefined, complete: true };
        }
        const reply = await this.request(node, { type: 'replica-put', key, versions }, deadlineMs);
        return { value: undefined, complete: reply.type !== 'replica-put-reply' || (reply.complete ?? true) };
      },
      // No node took the write for `replica`: the coordinator keeps it as a hint itself, so the write
      // still reaches every replica once it is back (it does not count towards W).
      (replica) => {
        if (replica !== this.id && this.config.hintedHandoff) this.storeHint(replica, key, versions).catch((error: unknown) => this.reportError(error, `keeping a hint for ${replica}`));
      },
    );
    const successes = await quorum;
    return { dot, acks: successes.size };
  }

  /** Everything this node holds of `key`: its replica's version set merged with hints it keeps for others. */
  private async localState(key: string): Promise<VersionSet | undefined> {
    let state = await this.store.getObject(key);
    // Only a node that holds hints can have one for this key: skip the index read otherwise.
    if (this.hintTargets.size === 0) return state;
    for (const hint of await this.store.hintsForKey(key)) state = state === undefined ? hint.versions : mergeVersionSets(state, hint.versions);
    return state;
  }

  /** Merges a version set into the local replica (under the key's lock); writes only when it changed. */
  private async mergeLocal(key: string, incoming: VersionSet): Promise<void> {
    await this.locks.run(key, async () => {
      const local = await this.store.getObject(key);
      const merged = mergeVersionSets(local, incoming);
      if (!versionSetsEqual(local, merged) || local === undefined) {
        // Concurrent siblings accumulate merge after merge: a state that no message could carry is refused.
        assertFitsOneMessage(merged, this.config.maxVersionSetBytes);
        await this.store.putObject(key, merged);
        this.treeUpdate(key, merged);
        this.emit({ type: 'key-changed', key, source: 'replication' });
      }
    });
  }

  /** Merges many version sets into the local replica in one durable transaction (partition handoff). */
  private async mergeBatch(items: readonly { key: string; versions: VersionSet }[]): Promise<void> {
    const keys = items.map((item) => item.key);
    await this.locks.runAll(keys, async () => {
      const unique = [...new Set(keys)];
      const stored = await this.store.getObjects(unique);
      const merged = new Map<string, VersionSet | undefined>(unique.map((key, i) => [key, stored[i]]));
      for (const item of items) merged.set(item.key, mergeVersionSets(merged.get(item.key), item.versions));
      const changed = unique
        .map((key, i) => ({ key, versions: merged.get(key)!, before: stored[i] }))
        .filter((e) => e.before === undefined || !versionSetsEqual(e.before, e.versions));
      for (const { versions } of changed) assertFitsOneMessage(versions, this.config.maxVersionSetBytes);
      await this.store.putObjects(changed.map(({ key, versions }) => ({ key, versions })));
      for (const { key, versions } of changed) {
        this.treeUpdate(key, versions);
        this.emit({ type: 'key-changed', key, source: 'ownership-handoff' });
      }
    });
  }

  /** Keeps a write for `intendedFor` (paper §4.6), merged with any hint already held for that pair. */
  private async storeHint(intendedFor: NodeId, key: string, versions: VersionSet): Promise<void> {
    await this.locks.run(key, () => this.writeHint(intendedFor, key, versions));
    this.counters.hintsStored++;
    this.emit({ type: 'hint-stored', key, intendedFor });
  }

  /** The body of {@link storeHint}, for callers that already hold the key's lock. */
  private async writeHint(intendedFor: NodeId, key: string, versions: VersionSet): Promise<void> {
    const existing = await this.store.getHint(intendedFor, key);
    const hint: Hint = {
      intendedFor,
      key,
      versions: existing ? mergeVersionSets(existing.versions, versions) : versions,
      createdAtMs: existing?.createdAtMs ?? this.clock.now(),
    };
    assertFitsOneMessage(hint.versions, this.config.maxVersionSetBytes);
    await this.store.putHint(hint);
    this.hintTargets.add(intendedFor);
  }

  /**
   * One round of hinted handoff (paper §4.6): for every node this node holds hints for and sees alive,
   * sends up to `hintBatchSize` hints in all as replica-puts, and deletes each hint only after its
   * node acknowledged it — and only if it did not change meanwhile (a newer hinted write waits for the
   * next round).
   */
  private async deliverHints(): Promise<void> {
    this.delivering = true;
    try {
      let budget = this.config.hintBatchSize;
      for (const target of [...this.hintTargets].sort()) {
        if (budget <= 0) break;
        const record = this.membership.get(target);
        if (record?.status === 'left') {
          budget -= await this.redirectHints(target, budget);
          continue;
        }
        if (this.detector.status(target) !== 'alive' || record === undefined) {
          if (this.passingHints) budget -= await this.passHints(target, budget);
          continue;
        }
        const hints = await this.store.listHints(target, budget);
        if (hints.length === 0) {
          this.hintTargets.delete(target);
          continue;
        }
        budget -= hints.length;
        const delivered = await Promise.all(
          hints.map(async (hint) => {
            try {
              await this.request(target, { type: 'replica-put', key: hint.key, versions: hint.versions }, this.config.requestTimeoutMs);
            } catch {
              return false;
            }
            return this.deleteHintIfUnchanged(hint);
          }),
        );
        const count = delivered.filter(Boolean).length;
        if (count > 0) {
          this.counters.hintsDelivered += count;
          this.emit({ type: 'hints-delivered', peer: target, count });
        }
        // Everything sent went through: look again soon rather than a full period later.
        if (count === hints.length) this.nextHintAtMs = Math.min(this.nextHintAtMs, this.clock.now() + 50);
      }
    } catch (error) {
      this.reportError(error, 'hinted handoff');
    } finally {
      this.delivering = false;
    }
  }

  /**
   * Deletes a hint that was handed on (delivered, passed, redirected) unless it changed meanwhile (a
   * newer hinted write merged into it waits for the next round). Under the key's lock. @returns
   * whether it was deleted.
   */
  private deleteHintIfUnchanged(hint: Hint): Promise<boolean> {
    return this.locks.run(hint.key, async () => {
      const current = await this.store.getHint(hint.intendedFor, hint.key);
      if (current === undefined || !versionSetsEqual(current.versions, hint.versions)) return false;
      await this.store.deleteHint(hint.intendedFor, hint.key);
      return true;
    });
  }

  /**
   * A leaving node cannot wait for an unreachable node to come back (paper §4.6 keeps a hint until
   * then), so it passes the hints it holds for `target` on: each goes as a hinted-put to the first
   * healthy node of the key's preference list other than itself and `target`, which keeps it as its
   * own hint, and is deleted here once acknowledged and unchanged. A hint with no healthy stand-in
   * stays for a later round. @returns how many hints were looked at (the round's budget).
   */
  private async passHints(target: NodeId, limit: number): Promise<number> {
    const hints = await this.store.listHints(target, limit);
    if (hints.length === 0) {
      this.hintTargets.delete(target);
      return 0;
    }
    const passedTo = new Map<NodeId, number>();
    await Promise.all(
      hints.map(async (hint) => {
        const standIn = this.currentRing.preferenceList(hint.key).find((id) => id !== this.id && id !== target && this.isHealthy(id) && this.detector.status(id) === 'alive');
        if (standIn === undefined) return;
        try {
          await this.request(standIn, { type: 'hinted-put', key: hint.key, versions: hint.versions, intendedFor: target }, this.config.requestTimeoutMs);
        } catch {
          return;
        }
        const deleted = await this.deleteHintIfUnchanged(hint);
        if (deleted) passedTo.set(standIn, (passedTo.get(standIn) ?? 0) + 1);
      }),
    );
    for (const [to, count] of passedTo) {
      this.counters.hintsPassed += count;
      this.emit({ type: 'hints-passed', intendedFor: target, to, count });
    }
    if (passedTo.size > 0) this.nextHintAtMs = Math.min(this.nextHintAtMs, this.clock.now() + 50);
    return hints.length;
  }

  /**
   * Hints held for a node that left the ring (or was removed) go to the key's current replicas
   * instead: merged here when this node is one, sent to the healthy ones, kept as new hints for the
   * others. The old hint is deleted once all of that is done. @returns how many hints were handled.
   */
  private async redirectHints(target: NodeId, limit: number): Promise<number> {
    const hints = await this.store.listHints(target, limit);
    if (hints.length === 0) {
      this.hintTargets.delete(target);
      return 0;
    }
    for (const hint of hints) {
      const replicas = this.currentRing.preferenceList(hint.key).slice(0, this.config.n);
      let ok = true;
      for (const replica of replicas) {
        try {
          if (replica === this.id) await this.mergeLocal(hint.key, hint.versions);
          else if (this.isHealthy(replica)) await this.request(replica, { type: 'replica-put', key: hint.key, versions: hint.versions }, this.config.requestTimeoutMs);
          else await this.storeHint(replica, hint.key, hint.versions);
        } catch {
          ok = false;
        }
      }
      if (!ok) continue;
      await this.deleteHintIfUnchanged(hint);
    }
    this.nextHintAtMs = Math.min(this.nextHintAtMs, this.clock.now() + 50);
    return hints.length;
  }

  /** Number of hints held for other nodes (a cheap count from the store). */
  hintCount(): Promise<number> {
    return this.store.countHints();
  }

  /**
   * Hints held, by the node each is for, and whether this node is delivering them: `{ node: count }`
   * from the store (reads every hint: for the console and diagnostics, not for a hot path), plus the
   * nodes it currently tries to deliver to.
   */
  async hintsByTarget(): Promise<{ held: Record<NodeId, number>; delivering: NodeId[] }> {
    const held: Record<NodeId, number> = {};
    // Own properties only: a node may be called `constructor`.
    for (const hint of await this.store.listHints()) held[hint.intendedFor] = (Object.hasOwn(held, hint.intendedFor) ? held[hint.intendedFor]! : 0) + 1;
    return { held, delivering: [...this.hintTargets].sort() };
  }

  /** Tells the Merkle trees of a local write (in order per key: calls are made under the key's lock). */
  private treeUpdate(key: string, versions: VersionSet | undefined): void {
    this.merkle?.update(key, versions).catch((error: unknown) => this.reportError(error, `updating the Merkle tree of ${key}`));
  }

  private requireMerkle(): MerkleService {
    if (!this.merkle) throw new NodeNotRunningError('the Merkle trees are not ready yet');
    return this.merkle;
  }

  /** Anti-entropy state of every partition compared so far (for the ring explorer). */
  syncStates(): PartitionSyncState[] {
    return this.antiEntropy?.syncStates() ?? [];
  }

  /** Runs one anti-entropy exchange with `peer` now (tests and tools; rounds also run by themselves). */
  async syncWith(peer: NodeId): Promise<ExchangeReport> {
    this.assertRunning();
    if (!this.antiEntropy) throw new NodeNotRunningError('anti-entropy is not ready');
    return this.antiEntropy.exchange(peer, this.clock.now());
  }

  /** A replica's deadline within an operation of `timeoutMs`: short enough to leave a stand-in time to answer. */
  private replicaDeadline(timeoutMs: number): number {
    return Math.max(1, Math.min(this.config.replicaTimeoutMs, Math.floor(timeoutMs / 2)));
  }

  private isHealthy(id: NodeId): boolean {
    return !this.offline && this.detector.isHealthy(id);
  }

  private freshActorId(): NodeId {
    let suffix = '';
    for (let i = 0; i < 8; i++) suffix += '0123456789abcdefghijklmnopqrstuvwxyz'[Math.floor(this.random.next() * 36)];
    return `${this.id.slice(0, 50)}x${suffix}`;
  }

  /** Runs `fire` at `delayMs` from now (checked on tick); returns a handle to cancel it. */
  private after(delayMs: number, fire: () => void): { cancel(): void } {
    const timer = { atMs: this.clock.now() + delayMs, fire, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  // ─── plumbing ────────────────────────────────────────────────────────────────────────────────

  private request(to: NodeId, body: RequestBody, timeoutMs: number): Promise<ReplyMessage> {
    const requestId = this.nextRequestId++;
    return new Promise<ReplyMessage>((resolve, reject) => {
      this.pending.set(requestId, { to, deadlineMs: this.clock.now() + timeoutMs, resolve, reject });
      this.send(to, { ...body, requestId } as Message);
    });
  }

  private send(to: NodeId, message: Message): void {
    this.counters.messagesSent++;
    this.transport.send(to, message);
  }

  private assertRunning(): void {
    if (!this.running) throw new NodeNotRunningError('the node is not running; wait for it to start');
  }

  private quorumOption(name: 'r' | 'w', value: number): number {
    if (!Number.isInteger(value) || value < 1 || value > this.config.n) {
      throw new InvalidOptionError(`${name} must be an integer from 1 to n (${this.config.n}), got ${value}`);
    }
    return value;
  }

  private timeoutOption(value: number | undefined): number {
    const timeoutMs = value ?? this.config.requestTimeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
      throw new InvalidOptionError(`timeoutMs must be an integer from 1 to 600000, got ${timeoutMs}`);
    }
    return timeoutMs;
  }

  private reportError(error: unknown, context: string): void {
    const err = error instanceof DynamoError ? error : new DynamoError(error instanceof Error ? error.message : String(error));
    this.emit({ type: 'error', error: err, context });
  }
}

/** This node's own record as saved in the store's metadata. */
type StoredSelf = Partial<MemberRecord> & { version: number };

/**
 * Why `versions` does not fit one message (at most MAX_WIRE_SIBLINGS siblings, MAX_WIRE_CLOCK_ENTRIES
 * clock entries and `maxBytes` bytes), or undefined when it does. A replica stores nothing it could not
 * send: its peers would drop every message carrying it (reads, repairs, handoff batches).
 */
function versionSetLimitProblem(versions: VersionSet, maxBytes: number): VersionSetTooLargeError | undefined {
  const size = versionSetSizeBytes(versions);
  const collapse = 'get the key and put a merged value with its context to collapse them';
  if (size > maxBytes) return new VersionSetTooLargeError(size, maxBytes);
  if (versions.siblings.length > MAX_WIRE_SIBLINGS) {
    return new VersionSetTooLargeError(size, maxBytes, `the key's versions would have ${versions.siblings.length} siblings (limit ${MAX_WIRE_SIBLINGS}); ${collapse}`);
  }
  if (versions.clock.length > MAX_WIRE_CLOCK_ENTRIES) {
    return new VersionSetTooLargeError(size, maxBytes, `the key's clock would have ${versions.clock.length} entries (limit ${MAX_WIRE_CLOCK_ENTRIES}); its writers are too many to track`);
  }
  return undefined;
}

/** @throws VersionSetTooLargeError when `versions` does not fit one message (see versionSetLimitProblem). */
function assertFitsOneMessage(versions: VersionSet, maxBytes: number): void {
  const problem = versionSetLimitProblem(versions, maxBytes);
  if (problem !== undefined) throw problem;
}

/** The error-reply that reports `error` to a requester. */
function errorReply(requestId: number, error: unknown): Message {
  const err = error instanceof Error ? error : new Error(String(error));
  const quorum = error instanceof QuorumNotReachedError ? error : undefined;
  return {
    type: 'error-reply',
    requestId,
    code: err.name.slice(0, 64),
    message: err.message.slice(0, 2048),
    ...(quorum ? { answered: quorum.answered, needed: quorum.needed, replicas: quorum.replicas } : {}),
  };
}

/** Live siblings as values; tombstones only when concurrent with a live value (an edit-vs-delete conflict). */
function toSiblingViews(versions: VersionSet | undefined): SiblingView[] {
  if (versions === undefined) return [];
  const live = versions.siblings.filter((s) => s.data !== null);
  if (live.length === 0) return [];
  return versions.siblings.map((s) => ({
    value: s.data === null ? null : decodeValue(s.data),
    deleted: s.data === null,
    version: { ...s.dot },
  }));
}


