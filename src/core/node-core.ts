/**
 * One storage node's protocol engine, free of I/O (DESIGN.md §2, STYLE.md habits 1–2): the
 * composition root of the core. It wires the single-concept modules below to the ports, dispatches
 * each message to its handler, and fans the passage of time out to the background protocols.
 *
 *   input                          module that handles it
 *   get / put / delete (client)    forwarding.ts ─▶ get-coordinator.ts / put-coordinator.ts
 *                                    (preference-targets.ts, quorum.ts + fan-out.ts)
 *   replica-get / replica-put      replica.ts (the vnode: stored keys and key locks)
 *   hinted-put                     hinted-handoff.ts (§4.6)
 *   coordinate-get / -put          the coordinators, once per request (forwarding.ts ServedRequests)
 *   gossip                         gossip.ts (+ own-record.ts, load-reports.ts, member-compaction.ts; §4.8)
 *   ping / ping-req                failure-detector.ts (SWIM, §4.8.3)
 *   ae-*                           anti-entropy.ts and the Merkle trees (§4.7)
 *   purge-check / purge            tombstone-purge.ts (a key's first replica purges its old tombstones)
 *   ownership-handoff-*            ownership-handoff.ts (§4.9)
 *   replies                        request-table.ts
 *   tick(now)                      request deadlines, failure detector, anti-entropy, tombstone
 *                                  purging, ownership handoff, hinted handoff, gossip
 *
 * Handlers return their replies (request-handlers.ts); this root adds the request id and sends them
 * (an error becomes an error-reply). The node acts only through its ports (ports.ts): Transport,
 * Store, MerkleService, Clock and Random.
 *
 * Size (about 770 lines, over the usual 400): this file is the core's whole public surface — some
 * thirty methods with their documented shapes and errors, each a line or two delegating to a module —
 * plus the constructor that wires the modules to each other. No protocol rule lives here; splitting the
 * public API across several objects would only move the same delegations and change every caller.
 */
import { DynamoError, NodeNotRunningError, PeerUnreachableError } from './errors.js';
import { ClientOperations } from './client-operations.js';
import { AntiEntropy, type ExchangeReport, type PartitionSyncState } from './anti-entropy.js';
import { FailureDetector, type Reachability } from './failure-detector.js';
import { Forwarding, ServedRequests } from './forwarding.js';
import { GetCoordinator, type CoordinatorPorts } from './get-coordinator.js';
import { Gossip } from './gossip.js';
import { OwnershipHandoff } from './ownership-handoff.js';
import { HintedHandoff } from './hinted-handoff.js';
import { LoadReports } from './load-reports.js';
import { LocalStalls, MAX_REPRIEVE_MS } from './local-stalls.js';
import { InProcessMerkleService } from './merkle-service.js';
import { Membership, withLegacyFieldNames, type MemberRecord, type MembershipAuthority, type Removal } from './membership.js';
import { MembershipVerifier } from './membership-verifier.js';
import { checkMessage, isReply, parseMessage, type Message } from './messages.js';
import type { GetOptions, GetResult, NodeEvent, NodeStats, OwnershipHandoffStatus, PutOptions, PutResult } from './node-api.js';
import { resolveConfig, type NodeConfig } from './node-config.js';
import { META_CHECKPOINT, META_MEMBERS, META_REMOVALS, OwnRecord } from './own-record.js';
import { MemberCompaction } from './member-compaction.js';
import type { Clock, MerkleService, Random, Store, Transport } from './ports.js';
import { requestTargets, type RequestTargets } from './preference-targets.js';
import { PutCoordinator } from './put-coordinator.js';
import { Replica } from './replica.js';
import { EpochActor } from './epoch-actor.js';
import { requestHandlers, type Handler, type Handlers } from './request-handlers.js';
import { errorReply, RequestTable, type ReplyBody, type RequestMessage } from './request-table.js';
import { Ring, type RingCheckpoint } from './ring.js';
import { StageTimings, type Stage, type StageSummary } from './stage-timings.js';
import { TombstonePurge } from './tombstone-purge.js';
import type { NodeId } from './types.js';
import { validateKey } from './value-codec.js';

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
  private running = false;
  /** Set while the host reports this node cut off from the network: every peer counts as unreachable. */
  private offline = false;
  private merkle: MerkleService | undefined;
  private antiEntropy: AntiEntropy | undefined;
  private purger: TombstonePurge | undefined;
  /** Members, capacities and histories the current ring was built from (a ring is rebuilt only when they change). */
  private ringSignature = '';
  private startedAtMs = 0;
  private readonly requests: RequestTable;
  private readonly stalls = new LocalStalls();
  /** Write ids made so far (client-operations.ts `newWriteId`). */
  private writeIds = 0;
  private readonly detector: FailureDetector;
  private readonly replica: Replica;
  private readonly hints: HintedHandoff;
  private readonly handoff: OwnershipHandoff;
  private readonly loads: LoadReports;
  private readonly ownRecord: OwnRecord;
  private readonly gossip: Gossip;
  private readonly compaction: MemberCompaction;
  private readonly forwarding: Forwarding;
  private readonly served = new ServedRequests();
  private readonly getCoordinator: GetCoordinator;
  private readonly putCoordinator: PutCoordinator;
  private readonly client: ClientOperations;
  private readonly handlers: Handlers;
  private readonly counters = { messagesReceived: 0, messagesSent: 0, messagesDropped: 0 };
  private readonly dropReasons: Record<string, number> = {};
  private readonly epochActor: EpochActor;
  private readonly stages = new StageTimings();

  constructor(options: NodeCoreOptions) {
    this.id = options.id;
    this.config = resolveConfig(options.config);
    this.clock = options.clock;
    const clock = this.clock;
    this.epochActor = new EpochActor(options.id);
    const elapsedMs = (): number => clock.elapsedMs?.() ?? clock.now();
    this.random = options.random;
    this.transport = options.transport;
    this.store = options.store;
    this.emit = options.onEvent ?? (() => undefined);
    this.merkle = options.merkle;
    const authority = options.authority;
    this.membership = new Membership(this.id);
    this.currentRing = Ring.build([], this.config.partitionCount);
    const self = this.id;
    const config = this.config;
    const reportError = (error: unknown, context: string): void => this.reportError(error, context);
    const running = (): boolean => this.running;
    const isAlive = (id: NodeId): boolean => this.isHealthy(id) && this.detector.status(id) === 'alive';
    // Read at each use: a host may give its transport the test after constructing the node.
    const connectionTest = (): ((id: NodeId) => boolean) | undefined => this.transport.isConnected?.bind(this.transport);
    this.requests = new RequestTable(this.clock, this.random, (to, message) => this.send(to, message));
    const request = this.requests.request.bind(this.requests);
    this.detector = new FailureDetector(this.id, this.config, this.random, {
      ping: async (target, timeoutMs) => {
        await request(target, { type: 'ping' }, timeoutMs);
      },
      pingVia: async (via, target, timeoutMs) => {
        await request(via, { type: 'ping-req', target, timeoutMs: Math.max(1, Math.floor(timeoutMs * 0.8)) }, timeoutMs);
      },
      isConnected: (peer) => this.transport.isConnected?.(peer) ?? true,
      onChange: (peer, from, to, nowMs) => {
        this.emit({ type: 'reachability', peer, from, to });
        // A peer back from a failure gets its hints at the next tick (paper §4.6).
        if (to === 'alive') this.hints.peerBack(peer, nowMs);
        if (to === 'alive' && from === 'unreachable') this.antiEntropy?.peerBack(peer, nowMs);
      },
    });
    this.replica = new Replica({
      store: this.store,
      merkle: () => this.merkle,
      storedChanged: () => this.antiEntropy?.changed(),
      emit: this.emit,
      reportError,
      maxVersionSetBytes: () => config.maxVersionSetBytes,
      holdsHints: () => this.hints.holdsHints(),
      isComplete: (key) => this.handoff.isComplete(this.currentRing.partitionOfKey(key)),
      stages: this.stages,
      elapsedMs,
    });
    this.hints = new HintedHandoff({
      self,
      store: this.store,
      clock: this.clock,
      replica: this.replica,
      settings: () => config,
      ring: () => this.currentRing,
      member: (id) => this.membership.get(id),
      reachability: (id) => this.detector.status(id),
      isHealthy: (id) => this.isHealthy(id),
      request,
      emit: this.emit,
      reportError,
    });
    this.loads = new LoadReports({
      self,
      now: () => this.clock.now(),
      isMember: (id) => this.membership.raw(id) !== undefined && !this.membership.isRemoved(id),
      ownCounts: async () => {
        const [counts, hints] = await Promise.all([this.merkle?.keyCounts() ?? Promise.resolve(new Map<number, number>()), this.store.countHints()]);
        let keys = 0;
        for (const count of counts.values()) keys += count;
        return { keys, hints };
      },
    });
    this.ownRecord = new OwnRecord({
      self,
      store: this.store,
      clock: this.clock,
      membership: this.membership,
      authority,
      settings: () => config,
      running,
      membershipChanged: () => this.membershipChanged(),
      gossipSoon: () => this.gossip.soon(),
      emit: this.emit,
      reportError,
      holdsHints: () => this.hints.holdsHints(),
      passHints: () => this.hints.startPassing(this.clock.now()),
    });
    this.compaction = new MemberCompaction({
      membership: this.membership,
      partitionCount: () => config.partitionCount,
      compactionMs: () => config.memberCompactionMs,
      compacted: () => this.membershipChanged(),
      reportError,
    });
    this.gossip = new Gossip({
      self,
      clock: this.clock,
      random: this.random,
      settings: () => config,
      membership: this.membership,
      detector: this.detector,
      ownRecord: this.ownRecord,
      loads: this.loads,
      authority,
      verifier: authority !== undefined ? new MembershipVerifier(authority, this.membership) : undefined,
      connectionTest,
      running,
      send: (to, message) => this.send(to, message),
      membershipChanged: () => this.membershipChanged(),
      offerCheckpoint: (checkpoint) => this.compaction.offer(checkpoint, this.clock.now()),
      recordDrop: (from, reason) => this.recordDrop(from, reason),
      emit: this.emit,
      reportError,
    });
    this.handoff = new OwnershipHandoff(this.config, {
      self,
      n: () => config.n,
      ring: () => this.currentRing,
      members: () => this.membership.all(),
      isHealthy: isAlive,
      request,
      merkle: () => this.merkle,
      localObjects: (keys) => this.store.getObjects(keys),
      mergeBatch: (items) => this.replica.mergeBatch(items),
      dropIfUnchanged: async (items) => {
        // All at once, each under its key's lock: the store commits their deletes together (group
        // commit) rather than in a durable transaction each.
        const outcomes = await Promise.allSettled(
          items.map(({ key, digest }) => this.replica.dropIfUnchanged(key, digest, () => this.handoff.replicates(this.currentRing.partitionOfKey(key)))),
        );
        const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
        if (failure !== undefined) throw failure.reason;
        return outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value).length;
      },
      publish: (pendingPartitions, handoffPartitions) => this.ownRecord.update({ pendingPartitions, handoffPartitions }),
      onDrained: () => this.ownRecord.drained(),
      now: () => this.clock.now(),
      timeoutMs: () => config.requestTimeoutMs,
      controlTimeoutMs: () => config.replicaTimeoutMs,
      holderGraceMs: () => 3 * config.gossipIntervalMs,
      reportedKeys: (node) => this.loads.keysOf(node),
      knowsCluster: () => this.gossip.unconfirmedSeeds === 0 && this.clock.now() - this.startedAtMs >= 2 * config.gossipIntervalMs,
      onTransfer: (report) => this.emit({ type: 'ownership-handoff', ...report }),
      onPartitionReceived: (partition) => this.emit({ type: 'partition-received', partition }),
    });
    this.forwarding = new Forwarding({
      self,
      now: () => this.clock.now(),
      isHealthy: (id) => this.isHealthy(id),
      connectionTest,
    });
    const coordinatorPorts: CoordinatorPorts = {
      self,
      settings: () => config,
      targets: (key) => this.targetsOf(key),
      partitionComplete: (key) => this.handoff.isComplete(this.currentRing.partitionOfKey(key)),
      replica: this.replica,
      request,
      now: () => this.clock.now(),
      emit: this.emit,
      reportError,
      running,
      after: (delayMs, fire) => this.requests.after(delayMs, fire),
    };
    this.getCoordinator = new GetCoordinator(coordinatorPorts);
    this.putCoordinator = new PutCoordinator({
      ...coordinatorPorts,
      hints: this.hints,
      freshActorId: () => this.freshActorId(),
      epochActor: this.epochActor,
      leaseEpoch: () => this.epochActor.lease(this.store),
      stages: this.stages,
      elapsedMs,
    });
    this.client = new ClientOperations({
      self,
      config,
      // This node, its clock and a counter: unique across its restarts, and no draw from Random.
      newWriteId: () => `${self}.${Math.floor(this.clock.now()).toString(36)}.${(this.writeIds++).toString(36)}`,
      assertRunning: () => this.assertRunning(),
      now: () => this.clock.now(),
      targets: (key) => this.targetsOf(key),
      forwarding: this.forwarding,
      getCoordinator: this.getCoordinator,
      putCoordinator: this.putCoordinator,
      request,
      emit: this.emit,
    });
    this.handlers = requestHandlers({
      self,
      config,
      merkle: () => this.merkle,
      replica: this.replica,
      hints: this.hints,
      handoff: this.handoff,
      served: this.served,
      getCoordinator: this.getCoordinator,
      putCoordinator: this.putCoordinator,
      probedPeers: () => this.membership.peers(),
      purger: () => this.purger,
      request,
    });
  }

  /**
   * Loads what this node remembers (its own record's version, the members it knew), announces itself
   * as `up` with a higher version than it ever gossiped, and builds the ring.
   * @throws StoredStateLostError (`expectStoredState` but nothing stored); StorageError.
   */
  async start(options: { expectStoredState?: boolean } = {}): Promise<void> {
    const { before, pendingPartitions, handoffPartitions } = await this.ownRecord.restore(options.expectStoredState ?? false);
    // A new epoch, so a new actor for this life's writes (epoch-actor.ts); if storing it fails, the
    // first put tries again.
    await this.epochActor.lease(this.store).catch((error: unknown) => this.reportError(error, 'leasing a writer epoch'));
    this.handoff.restore(pendingPartitions, handoffPartitions);
    await this.hints.load();
    this.merkle ??= await InProcessMerkleService.build(this.store, () => this.currentRing);
    const merkle = this.merkle;
    this.antiEntropy = new AntiEntropy(this.config, {
      self: this.id,
      n: () => this.config.n,
      ring: () => this.currentRing,
      isHealthy: (id) => this.isHealthy(id) && this.detector.status(id) === 'alive',
      request: (to, body, timeoutMs) => this.requests.request(to, body, timeoutMs),
      merkle,
      localObjects: (keys) => this.store.getObjects(keys),
      mergeLocal: (key, versions) => this.replica.merge(key, versions),
      random: this.random,
      timeoutMs: () => this.config.requestTimeoutMs,
      onExchange: (report) => {
        if (report.partitionsDiffering.length > 0) this.emit({ type: 'anti-entropy', ...report });
      },
      onPartitionState: (state) => this.emit({ type: 'partition-sync', ...state }),
    });
    this.purger = new TombstonePurge(this.config, {
      self: this.id,
      n: () => this.config.n,
      ring: () => this.currentRing,
      members: () => this.membership.peers(),
      isHealthy: (id) => this.isHealthy(id),
      request: (to, body, timeoutMs) => this.requests.request(to, body, timeoutMs),
      merkle,
      candidates: (keys) => this.replica.purgeCandidates(keys),
      purge: (items) => this.replica.purge(items),
      timeoutMs: () => this.config.requestTimeoutMs,
      onPurged: (count) => this.emit({ type: 'tombstones-purged', count }),
      reportError: (error, context) => this.reportError(error, context),
    });
    await this.handoff.refreshCounts();
    this.running = true;
    this.startedAtMs = this.clock.now();
    // The ring as this node last knew it: what it replicated then is what it holds now.
    this.currentRing = before;
    this.ringSignature = '';
    this.membershipChanged();
    this.gossip.wake();
    this.hints.wake(this.clock.now());
  }

  /** Stops the node: pending requests fail with NodeNotRunningError; further input is ignored. */
  stop(): void {
    this.running = false;
    this.ownRecord.stopped();
    this.requests.failAll(new NodeNotRunningError('the node stopped'));
  }

  /** True between `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Bootstrap seeds (paper §4.8.2): nodes to gossip with until they show up in the membership. */
  addSeeds(ids: readonly NodeId[]): void {
    this.gossip.addSeeds(ids);
  }

  /** The membership as this node sees it, sorted by id. */
  members(): MemberRecord[] {
    return this.membership.all();
  }

  /** The ring computed from the current membership. */
  ring(): Ring {
    return this.currentRing;
  }

  /**
   * What a full gossip message of this node carries, as gossiped: every record as its member wrote it,
   * the removals, and the ring checkpoint departed members were compacted into (member-compaction.ts).
   */
  gossipView(): { records: MemberRecord[]; removals: Removal[]; checkpoint: RingCheckpoint | undefined } {
    return { records: this.membership.gossipRecords(), removals: this.membership.removals(), checkpoint: this.membership.checkpoint };
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
    this.requests.failPeer(peer, new PeerUnreachableError(`${peer} cannot be reached`));
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
    this.gossip.wake();
    this.hints.wake(this.clock.now());
  }

  /** Counters since start. */
  stats(): NodeStats {
    const { gossip, hints, handoff, getCoordinator: gets, putCoordinator: puts } = this;
    return {
      ...this.counters,
      dropReasons: { ...this.dropReasons },
      repliesUnmatched: this.requests.repliesUnmatched,
      putsCoordinated: puts.putsCoordinated,
      getsCoordinated: gets.getsCoordinated,
      requestsForwarded: this.forwarding.requestsForwarded,
      readRepairs: gets.readRepairs,
      gossipRounds: gossip.gossipRounds,
      pendingRequests: this.requests.size,
      fallbackWrites: puts.fallbackWrites,
      localStalls: this.stalls.count,
      localStallMs: Math.round(this.stalls.totalMs),
      hintsStored: hints.hintsStored,
      hintsDelivered: hints.hintsDelivered,
      hintsPassed: hints.hintsPassed,
      hintsExpired: hints.hintsExpired,
      refutations: gossip.refutations,
      recordsRejected: gossip.recordsRejected,
      removalsRejected: gossip.removalsRejected,
      probesSent: this.detector.probesSent,
      indirectProbeRounds: this.detector.indirectRounds,
      antiEntropyRounds: this.antiEntropy?.rounds ?? 0,
      antiEntropyRepairs: this.antiEntropy?.repairs ?? 0,
      tombstonesPurged: this.purger?.purged ?? 0,
      purgeRounds: this.purger?.rounds ?? 0,
      purgeRoundsBlocked: this.purger?.roundsBlocked ?? 0,
      membersCompacted: this.membership.compacted,
      memberRecords: this.membership.size,
      ownershipHandoffKeysSent: handoff.keysSent,
      ownershipHandoffKeysReceived: handoff.keysReceived,
      ownershipHandoffTransfers: handoff.transfersCompleted,
    };
  }

  /**
   * Durations of the write path's stages (stage-timings.ts), in ms, over the last samples of each:
   * coordinator read, local write, quorum wait, whole put; replica read and write. With `reset`, the
   * samples are forgotten after the summary is taken (a benchmark's warm-up).
   */
  putStages(reset = false): Partial<Record<Stage, StageSummary>> {
    const summary = this.stages.summary();
    if (reset) this.stages.reset();
    return summary;
  }

  /** Counts a message dropped before it reached the core (framing or decoding errors in a transport). */
  recordDrop(from: NodeId, reason: string): void {
    this.counters.messagesDropped++;
    const category = reason.split(':')[0] ?? reason;
    this.dropReasons[category] = (this.dropReasons[category] ?? 0) + 1;
    this.emit({ type: 'message-dropped', from, reason });
  }

  /** Advances the node to `nowMs`: request deadlines, then every background protocol that is due. */
  tick(nowMs: number): void {
    if (!this.running) return;
    // This node's own stall is not its peers' silence (local-stalls.ts).
    const stalledMs = this.stalls.tick(nowMs);
    if (stalledMs > 0) {
      this.requests.reprieve(nowMs, Math.min(stalledMs, MAX_REPRIEVE_MS));
      this.detector.localStall(stalledMs);
    }
    this.requests.expire(nowMs);
    if (!this.offline) {
      this.detector.tick(nowMs);
      this.antiEntropy?.tick(nowMs);
      this.purger?.tick(nowMs);
      this.handoff.tick(nowMs);
    }
    this.hints.tick(nowMs);
    this.gossip.tick(nowMs);
    this.compaction.tick(nowMs);
  }

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
    if (isReply(message)) this.requests.settle(from, message);
    else if (message.type === 'gossip') this.gossip.receive(from, message);
    else void this.serve(from, message);
  }

  /** Runs the handler of a request and sends its reply; a failure becomes an error-reply. */
  private async serve(from: NodeId, message: RequestMessage): Promise<void> {
    let reply: ReplyBody | undefined;
    try {
      const handler = this.handlers[message.type] as Handler<typeof message.type>;
      reply = await handler(from, message as never);
    } catch (error) {
      reply = errorReply(error);
    }
    if (reply === undefined) return;
    try {
      this.send(from, { ...reply, requestId: message.requestId } as Message);
    } catch (error) {
      // A transport does not throw (ports.ts); if one does, the node says so and carries on.
      this.reportError(error, `answering ${message.type} from ${from}`);
    }
  }

  /** Rebuilds the ring when the ring's members changed, and tells the detector, the store and listeners. */
  private membershipChanged(): void {
    const ringMembers = this.membership.ringMembers();
    const checkpoint = this.membership.checkpoint;
    const signature = JSON.stringify([checkpoint?.atMs, ringMembers.map((m) => [m.id, m.history])]);
    if (signature !== this.ringSignature) {
      this.ringSignature = signature;
      const before = this.currentRing;
      this.currentRing = Ring.build(ringMembers, this.config.partitionCount, checkpoint);
      this.handoff.ringChanged(before, this.currentRing);
      this.antiEntropy?.changed();
      if (Ring.movedPartitions(before, this.currentRing) > 0 || before.members.length !== this.currentRing.members.length) {
        this.emit({ type: 'ring', owners: this.currentRing.owners() });
      }
    }
    this.detector.setPeers(this.membership.peers(), this.clock.now());
    this.emit({ type: 'membership', members: this.membership.all() });
    // Stored as gossiped (signed as written by each member); removals beside them.
    this.store.putMeta(META_MEMBERS, this.membership.gossipRecords().map(withLegacyFieldNames)).catch((error: unknown) => this.reportError(error, 'saving the membership'));
    this.store.putMeta(META_REMOVALS, this.membership.removals()).catch((error: unknown) => this.reportError(error, 'saving the removals'));
    if (checkpoint !== undefined) this.store.putMeta(META_CHECKPOINT, checkpoint).catch((error: unknown) => this.reportError(error, 'saving the ring checkpoint'));
  }

  /** What each member last reported of its load, and when the report reached this node (ms). */
  memberLoads(): Map<NodeId, { keys: number; hints: number; reportedAtMs: number }> {
    return this.loads.byMember();
  }

  /**
   * Puts this node (back) into the ring with `capacity` (default: its configured capacity): the
   * partitions it is given are handed to it by their holders (paper §4.9). Resolves once recorded.
   * @throws NodeNotRunningError, InvalidOptionError (capacity not a finite number > 0).
   */
  async join(capacity = this.config.capacity): Promise<void> {
    this.assertRunning();
    await this.ownRecord.join(capacity);
  }

  /**
   * Changes this node's capacity (heterogeneity, paper §2): its share of partitions becomes
   * capacity / total; the partitions that move are handed off.
   * @throws NodeNotRunningError, InvalidOptionError (not a finite number > 0, or the node is not in the ring).
   */
  async setCapacity(capacity: number): Promise<void> {
    this.assertRunning();
    await this.ownRecord.setCapacity(capacity);
  }

  /**
   * Takes this node out of the ring (paper §4.9): its partitions go to their new owners, it hands them
   * its objects (and passes on hints it holds), then its status becomes `left`. Resolves when it has
   * left. Requests still work meanwhile.
   * @throws NodeNotRunningError (also when the node stops before it finished leaving).
   */
  async leave(): Promise<void> {
    this.assertRunning();
    await this.ownRecord.leave();
  }

  /**
   * An operator removes `node`, gone for good (paper §4.8.1): it leaves the ring at once and the
   * surviving replicas re-create its replicas on the new owners. The removal is a statement signed by
   * this node (issue 16); the removed identity is refused from then on. Resolves once recorded here.
   * @throws NodeNotRunningError; InvalidOptionError when `node` is this node (use `leave`), unknown,
   *   or already gone.
   */
  async remove(node: NodeId): Promise<void> {
    this.assertRunning();
    await this.ownRecord.remove(node);
  }

  /** Every removal statement this node knows (who removed whom, when), sorted by target. */
  removals(): Removal[] {
    return this.membership.removals().map((r) => ({ target: r.target, by: r.by, atMs: r.atMs }));
  }

  /** True when `node` was removed from the cluster (its connections are to be refused). */
  isRemoved(node: NodeId): boolean {
    return this.membership.isRemoved(node);
  }

  /** Where ownership handoff stands here (paper §4.9). */
  ownershipHandoffStatus(): OwnershipHandoffStatus {
    return { pendingPartitions: this.handoff.pendingPartitions(), handoffPartitions: this.handoff.handoffPartitions(), transfers: this.handoff.transferStates() };
  }

  /** Number of hints held for other nodes (a cheap count from the store). */
  hintCount(): Promise<number> {
    return this.hints.count();
  }

  /** Hints held by the node each is for (reads every hint: diagnostics only), and the nodes being delivered to. */
  hintsByTarget(): Promise<{ held: Record<NodeId, number>; delivering: NodeId[] }> {
    return this.hints.byTarget();
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

  /**
   * Reads a key (paper §4.1, §4.5): waits for R replicas and returns every concurrent version.
   * @throws InvalidKeyError, InvalidOptionError, NoReplicasError, QuorumNotReachedError (how many
   *   answered of how many needed), NodeNotRunningError, StorageError.
   */
  get(key: string, options: GetOptions = {}): Promise<GetResult> {
    return this.client.get(key, options);
  }

  /**
   * Writes a value (paper §4.1 `put(key, context, object)`): answers after W durable acks. Without a
   * context the write is concurrent with every existing version (it becomes a sibling).
   * @throws InvalidKeyError, InvalidValueError, ValueTooLargeError (nothing written), InvalidContextError,
   *   InvalidOptionError, VersionSetTooLargeError, ClockOverflowError, NoReplicasError, QuorumNotReachedError,
   *   NodeNotRunningError, StorageError.
   */
  put(key: string, value: unknown, options: PutOptions = {}): Promise<PutResult> {
    return this.client.put(key, value, options);
  }

  /** Deletes a key by writing a tombstone with the given context (DESIGN.md §3 "Deletes"). Same errors as {@link put}. */
  delete(key: string, options: PutOptions = {}): Promise<PutResult> {
    return this.client.delete(key, options);
  }

  /** Where requests for `key` go now (preference-targets.ts). @throws NoReplicasError */
  private targetsOf(key: string): RequestTargets {
    const partition = this.currentRing.partitionOfKey(key);
    return requestTargets({
      preferenceList: this.currentRing.preferenceList(key),
      n: this.config.n,
      self: this.id,
      isHealthy: (id) => this.isHealthy(id),
      hintedHandoff: this.config.hintedHandoff,
      holders: this.membership.all().filter((m) => m.status !== 'left' && m.handoffPartitions.includes(partition)).map((m) => m.id),
    });
  }

  private isHealthy(id: NodeId): boolean {
    return !this.offline && this.detector.isHealthy(id);
  }

  private freshActorId(): NodeId {
    let suffix = '';
    for (let i = 0; i < 8; i++) suffix += '0123456789abcdefghijklmnopqrstuvwxyz'[Math.floor(this.random.next() * 36)];
    return `${this.id.slice(0, 50)}x${suffix}`;
  }

  private send(to: NodeId, message: Message): void {
    this.counters.messagesSent++;
    this.transport.send(to, message);
  }

  private assertRunning(): void {
    if (!this.running) throw new NodeNotRunningError('the node is not running; wait for it to start');
  }

  private reportError(error: unknown, context: string): void {
    const err = error instanceof DynamoError ? error : new DynamoError(error instanceof Error ? error.message : String(error));
    this.emit({ type: 'error', error: err, context });
  }
}
