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
 * Size: this file is the facade and also its options, browser ports, tick driver, seed discovery,
 * ring-neighbour upkeep, the wiring of members-only security (secret, node key, authority) and the
 * ICE configuration refresh (about 870 lines); issue 18 splits them into files of their own. The
 * security and ICE logic themselves live in src/security/ and ice-servers.ts; only their wiring is here.
 */
import { DynamoError, InvalidOptionError, NodeKeyMissingError, StoredStateLostError } from '../core/errors.js';
import type { MemberRecord, Removal } from '../core/membership.js';
import { NodeCore } from '../core/node-core.js';
import { type GetOptions, type GetResult, type NodeEvent, type NodeStats, type PutOptions, type PutResult } from '../core/node-api.js';
import { DEFAULT_NODE_CONFIG, type NodeConfig } from '../core/node-config.js';
import { Ring } from '../core/ring.js';
import { MerkleWorkerError, WorkerMerkleService, type MerkleWorkerStats } from '../merkle/worker-merkle-service.js';
import type { NodeId } from '../core/types.js';
import type { Store } from '../core/ports.js';
import { PeerjsTransport, type ConnectionPath, type LinkState, type TransportStats } from '../net/peerjs-transport.js';
import { fetchIceConfig, nextIceFetchAtMs, storedIceConfig, type IceConfig } from './ice-servers.js';
import { nodeIdOfPeer } from '../net/peer-ids.js';
import { ringNeighbours } from '../net/connection-policy.js';
import type { ServerStatus } from '../net/server-signaling.js';
import type { SetupPath, SignalingPath, SignalingStats } from '../net/signaling-router.js';
import { IdbStore } from '../storage/idb-store.js';
import { MemoryStore } from '../storage/memory-store.js';
import { claimIdentity, databaseName, type NodeIdentity } from './identity.js';
import { deriveClusterKeys, type ClusterKeys } from '../security/cluster-secret.js';
import { clusterSecret, invitationLink, secretFromFragment, type SecretSource, type SecretStorage } from '../security/invitation.js';
import { webCryptoAuthority } from '../security/membership-authority.js';
import { generateNodeKey, restoreNodeKey, type NodeKey } from '../security/node-key.js';
import { registrationParams } from '../security/registration.js';
import type { AuthenticationStats } from '../net/peerjs-transport.js';
import { peersListUrl } from '../signaling/signaling-urls.js';

export { databaseName };

export type { GetOptions, GetResult, NodeEvent, PutOptions, PutResult, MemberRecord, NodeStats, TransportStats, MerkleWorkerStats };
export type { ServerStatus, SetupPath, SignalingPath, SignalingStats, SecretSource, Removal, ConnectionPath };

/** What {@link DynamoNode.iceStatus} reports: the STUN/TURN servers new connections use (issue 17). */
export interface IceStatus {
  /** The servers' URLs (credentials are not shown). */
  urls: string[];
  /**
   * `fetched`: from the app's server in this run; `stored`: this browser's copy of an earlier fetch
   * (the server is not reached yet); `option`: given to `start`; `none`: no STUN or TURN server (only
   * direct connections, e.g. on one machine or one LAN).
   */
  source: 'fetched' | 'stored' | 'option' | 'none';
  fetchedAtMs?: number;
  /** When the TURN credentials expire, ms since the epoch. */
  expiresAtMs?: number;
}

/** What {@link DynamoNode.securityStats} reports (issue 16). */
export interface SecurityStats extends AuthenticationStats {
  /** Gossiped member records refused: not signed by their own node. */
  recordsRejected: number;
  /** Removal statements refused: not signed by a member. */
  removalsRejected: number;
}

/** Meta entries of a node's database holding its key pair and the tag of its cluster secret. */
const META_NODE_KEY = 'node-key';
const META_CLUSTER_TAG = 'cluster-tag';

/** What the node knows of its cluster's secret. */
interface ClusterSecurity {
  secret: Uint8Array;
  source: SecretSource;
  keys: ClusterKeys;
  /** Keys of ids made by this start, not yet stored. */
  fresh: Map<NodeId, NodeKey>;
}

/** What {@link DynamoNode.signalingStatus} reports: how this node finds and reaches the others. */
export interface SignalingStatus extends SignalingStats {
  /**
   * True while this node knows no other member and has no connection: it waits for a first contact
   * (the signaling server, or another tab of this cluster in this browser).
   */
  waitingForFirstContact: boolean;
}

/** What {@link DynamoNode.merkleTrees} reports of a node's Merkle trees (paper §4.7). */
export interface MerkleTreesView {
  /**
   * `'worker'`: the trees live in the node's Merkle worker (the normal case with IndexedDB);
   * `'in-process'`: the core keeps them on the main thread (memory storage, or the worker could not
   * start), and the other fields are empty.
   */
  backend: 'worker' | 'in-process';
  /** Keys held per partition, for partitions holding keys; their sum is the number of local keys. */
  keyCounts: Record<number, number>;
  /** Root hash (32 hex digits) of every partition in `keyCounts`. */
  roots: Record<number, string>;
  /** The worker's figures (keys, last build's time), when `backend` is `'worker'`. */
  stats?: MerkleWorkerStats;
}

/** Where the signaling server is (PeerJS client options). Defaults to the page's own origin. */
export interface SignalingOptions {
  host: string;
  port: number;
  path: string;
  secure: boolean;
}

/** Options of {@link DynamoNode.start}. */
export interface DynamoNodeOptions {
  /** Cluster name, `[a-z0-9]+(-[a-z0-9]+)*`, at most 32 characters; namespaces PeerJS ids and databases. Default 'default'. */
  cluster?: string;
  /** Replicas per key (N), default 3. */
  n?: number;
  /** Default read quorum (R), default 2. */
  r?: number;
  /** Default write quorum (W), default 2. */
  w?: number;
  /** Partitions (Q), a power of two, default 256. Must be equal on every node of the cluster. */
  q?: number;
  /** Relative capacity of this node, default 1. */
  capacity?: number;
  /** Signaling server; default: the page's origin with path '/peerjs'. */
  signaling: SignalingOptions;
  /** Storage backend: 'indexeddb' (default, durable) or 'memory' (lost on reload). */
  storage?: 'indexeddb' | 'memory';
  /** Other core settings (timeouts, gossip period). */
  config?: Partial<NodeConfig>;
  /** How often the core's clock is advanced, ms. Default 100. */
  tickIntervalMs?: number;
  /** Most WebRTC connections kept open (least recently used closed first), 2..500. Default 32 (no recycling up to 33 nodes: opening and closing RTCPeerConnections costs the main thread dearly). */
  maxConnections?: number;
  /**
   * A tab without its own node takes over the node of a closed tab of this cluster (its Web Lock is
   * free and its database is on disk, and it has not left the ring), so that node's data comes back
   * online (DESIGN.md §3). Default false; the demo page turns it on.
   */
  adoptClosedNodes?: boolean;
  /**
   * The page's URL fragment, or a whole invitation link (issue 16): when it carries `#invite=<secret>`
   * this browser joins that cluster, and keeps the secret for its other tabs. Without one, the
   * browser's stored secret of the cluster is used, or a new one is made: a cluster of its own, which
   * never meets another cluster of the same name.
   */
  invitation?: string;
  /** Where this browser keeps cluster secrets. Default: localStorage. */
  secretStorage?: SecretStorage;
  /**
   * Authenticate every connection and sign the membership (default true). False exists only to
   * measure what authentication costs (`npm run bench`); such a node cannot talk to one with it on.
   */
  authentication?: boolean;
  /**
   * Tests only: register and signal under this tag instead of the one derived from the secret, as an
   * outsider who learned the tag would (the signaling server knows every tag). Its connections to the
   * cluster are then refused by the handshake, which is what tests check.
   */
  signalingTagForTesting?: string;
  /**
   * STUN/TURN servers for every connection (issue 17). Default: fetched from `iceConfigUrl` and kept in
   * this browser for starts while the server is down; none before the first fetch.
   */
  iceServers?: RTCIceServer[];
  /**
   * Where to fetch the ICE configuration; `null`: never. Default: `/api/ice-config` on the signaling
   * server's origin (the app's server answers it: src/server/ice-config.ts).
   */
  iceConfigUrl?: string | null;
}

/**
 * Events of a node: the core's, plus `seeds` when bootstrap seeds were found (server listing or tabs of
 * this browser), `connectivity` for disconnect/reconnect, and `signaling` when the signaling server's
 * state changes.
 */
export type DynamoEvent =
  | NodeEvent
  | { type: 'seeds'; seeds: NodeId[] }
  | { type: 'connectivity'; connected: boolean }
  | { type: 'signaling'; server: ServerStatus };
type Listener<T extends DynamoEvent['type']> = (event: Extract<DynamoEvent, { type: T }>) => void;

const CLUSTER_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** A running node. */
export class DynamoNode {
  private readonly listeners = new Map<string, Set<(event: DynamoEvent) => void>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private worker: Worker | undefined;
  private readonly lifecycle = new AbortController();
  private seedTimer: ReturnType<typeof setInterval> | undefined;
  private keepTimer: ReturnType<typeof setInterval> | undefined;
  private iceTimer: ReturnType<typeof setTimeout> | undefined;
  private ice: { config: IceConfig | undefined; source: IceStatus['source'] } = { config: undefined, source: 'none' };
  private closed = false;

  private constructor(
    readonly id: NodeId,
    readonly cluster: string,
    private readonly core: NodeCore,
    private readonly transport: PeerjsTransport,
    private readonly store: Store,
    private readonly identity: NodeIdentity,
    private readonly signaling: SignalingOptions,
    private readonly merkle: WorkerMerkleService | undefined,
    private readonly security: ClusterSecurity,
  ) {}

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
    const cluster = options.cluster ?? 'default';
    if (!CLUSTER_NAME.test(cluster) || cluster.length > 32) {
      throw new InvalidOptionError(`cluster must match [a-z0-9]+(-[a-z0-9]+)* and be at most 32 characters, got "${cluster}"`);
    }
    const maxConnections = options.maxConnections ?? 32;
    if (!Number.isInteger(maxConnections) || maxConnections < 2 || maxConnections > 500) {
      throw new InvalidOptionError(`maxConnections must be an integer from 2 to 500, got ${maxConnections}`);
    }
    const invitation = options.invitation ?? '';
    const invited = secretFromFragment(invitation.includes('#') ? invitation.slice(invitation.indexOf('#')) : invitation);
    const { secret, source } = clusterSecret(cluster, options.secretStorage ?? localStorage, invited);
    const security: ClusterSecurity = { secret, source, keys: await deriveClusterKeys(secret, cluster), fresh: new Map() };
    const newId = async (): Promise<NodeId> => {
      const key = await generateNodeKey();
      security.fresh.set(key.nodeId, key);
      return key.nodeId;
    };
    let identity = await claimIdentity(cluster, {
      adoptClosed: options.adoptClosedNodes === true && options.storage !== 'memory',
      isAdoptable: (nodeId) => DynamoNode.isAdoptable(cluster, nodeId, security.keys.tag),
      newId,
      // A memory store keeps no key: a tab with memory storage is a new node on every load.
      forceNew: options.storage === 'memory',
    });
    try {
      return await DynamoNode.startAs(identity, cluster, maxConnections, options, security);
    } catch (error) {
      if (!(error instanceof StoredStateLostError) && !(error instanceof NodeKeyMissingError)) throw error;
      // This tab's node id has written before but its database is gone (storage evicted or cleared):
      // continue under a new id, so that no replica takes its new writes for old ones (kv679). An id
      // without its key (or of another cluster secret) cannot be used either; its database is kept.
      if (error instanceof StoredStateLostError) await IdbStore.destroy(databaseName(cluster, identity.nodeId)).catch(() => undefined);
      identity = await claimIdentity(cluster, { forceNew: true, newId });
      return DynamoNode.startAs(identity, cluster, maxConnections, options, security);
    }
  }

  /**
   * Whether the closed node `nodeId` may be adopted: its database holds its record and its key, belongs
   * to this cluster secret (`tag`), and it has not left.
   */
  private static async isAdoptable(cluster: string, nodeId: NodeId, tag: string): Promise<boolean> {
    let store: IdbStore | undefined;
    try {
      store = await IdbStore.open(databaseName(cluster, nodeId));
      const self = await store.getMeta<{ status?: string; history?: { capacity: number }[] }>('self');
      if ((await store.getMeta(META_CLUSTER_TAG)) !== tag) return false;
      if ((await restoreNodeKey(nodeId, await store.getMeta(META_NODE_KEY))) === undefined) return false;
      return self !== undefined && self.status !== 'left';
    } catch {
      return false;
    } finally {
      await store?.close().catch(() => undefined);
    }
  }

  /**
   * The key of `nodeId`: made by this start (then stored with the cluster's tag), or read from its
   * database.
   * @throws NodeKeyMissingError when the database holds no key for the id or belongs to another secret.
   */
  private static async nodeKey(store: Store, nodeId: NodeId, security: ClusterSecurity): Promise<NodeKey> {
    const made = security.fresh.get(nodeId);
    if (made !== undefined) {
      await store.putMeta(META_NODE_KEY, { publicKey: made.publicKey, privateKey: made.privateKey });
      await store.putMeta(META_CLUSTER_TAG, security.keys.tag);
      return made;
    }
    const tag = await store.getMeta(META_CLUSTER_TAG);
    const key = await restoreNodeKey(nodeId, await store.getMeta(META_NODE_KEY));
    if (key === undefined || tag !== security.keys.tag) {
      throw new NodeKeyMissingError(`node ${nodeId} has no key of this cluster in its database; starting a new node`);
    }
    return key;
  }

  private static async startAs(identity: NodeIdentity, cluster: string, maxConnections: number, options: DynamoNodeOptions, security: ClusterSecurity): Promise<DynamoNode> {
    const nodeId = identity.nodeId;
    let store: Store | undefined;
    let transport: PeerjsTransport | undefined;
    let merkle: WorkerMerkleService | undefined;
    try {
      const events: NodeEvent[] = [];
      let node: DynamoNode | undefined;
      const report = (event: NodeEvent): void => void (node ? node.dispatch(event) : events.push(event));
      store =
        options.storage === 'memory'
          ? new MemoryStore()
          : await IdbStore.open(databaseName(cluster, nodeId), {
              // Another tab upgrading or deleting this database, or the browser closing it: every later
              // storage call fails with StorageError; tell the page.
              onForcedClose: (error) => report({ type: 'error', error, context: 'the database was closed' }),
            });
      const key = await DynamoNode.nodeKey(store, nodeId, security);
      const tag = options.signalingTagForTesting ?? security.keys.tag;
      const authenticated = options.authentication !== false;
      if (store instanceof IdbStore) {
        const partitionCount = options.q ?? options.config?.partitionCount ?? DEFAULT_NODE_CONFIG.partitionCount;
        merkle = await startMerkleWorker(store.name, partitionCount, report);
      }
      const core = new NodeCore({
        id: nodeId,
        config: {
          ...options.config,
          ...(options.n !== undefined ? { n: options.n } : {}),
          ...(options.r !== undefined ? { r: options.r } : {}),
          ...(options.w !== undefined ? { w: options.w } : {}),
          ...(options.q !== undefined ? { partitionCount: options.q } : {}),
          ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
        },
        clock: { now: () => Date.now() },
        random: { next: () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32 },
        transport: {
          send: (to, message) => transport?.send(to, message),
          isConnected: (peer) => transport?.isConnected(peer) ?? false,
        },
        store,
        onEvent: report,
        ...(authenticated ? { authority: webCryptoAuthority(key, tag) } : {}),
        // Without it (memory storage, or no worker) the core builds its trees in this thread.
        ...(merkle !== undefined ? { merkle } : {}),
      });
      const givenIce = options.iceServers;
      const storedIce = givenIce === undefined ? storedIceConfig(localStorage) : undefined;
      transport = await PeerjsTransport.open({
        // The server and BroadcastChannel know the cluster by its tag only (src/security/cluster-secret.ts).
        cluster: tag,
        nodeId,
        ...(authenticated ? { authentication: { key, cluster: security.keys, admit: (peer: NodeId) => !core.isRemoved(peer) } } : {}),
        registration: (peerId) => registrationParams(key, peerId, Date.now()),
        maxConnections,
        peerOptions: {
          host: options.signaling.host,
          port: options.signaling.port,
          path: options.signaling.path,
          secure: options.signaling.secure,
          config: { iceServers: givenIce ?? storedIce?.iceServers ?? [] },
        },
        signaling: {
          // A tab of this cluster in this browser: a seed that needs no server (DESIGN.md §3).
          onPresent: (peer) => {
            core.addSeeds([peer]);
            if (node) node.dispatch({ type: 'seeds', seeds: [peer] });
          },
          onServerState: (server) => {
            if (!node) return;
            node.dispatch({ type: 'signaling', server });
            // Back in touch with the server: look for nodes this one has not met yet.
            if (server.state === 'open') void node.refreshSeeds();
          },
        },
      });
      const t = transport;
      t.listen(
        (from, message) => core.receive(from, message),
        (from, reason) => core.recordDrop(from, reason),
        (peer) => core.reportUnreachable(peer),
      );
      await core.start({ expectStoredState: !identity.fresh && options.storage !== 'memory' });
      node = new DynamoNode(nodeId, cluster, core, t, store, identity, options.signaling, merkle, security);
      node.ice = givenIce !== undefined ? { config: { iceServers: givenIce, fetchedAtMs: 0 }, source: 'option' } : { config: storedIce, source: storedIce !== undefined ? 'stored' : 'none' };
      if (givenIce === undefined && options.iceConfigUrl !== null) void node.refreshIce(options.iceConfigUrl ?? node.defaultIceConfigUrl());
      for (const event of events) node.dispatch(event);
      node.startClock(options.tickIntervalMs ?? 100);
      // Tabs of this browser heard before the node existed.
      core.addSeeds(t.signaling?.sameBrowserNodes() ?? []);
      // Not awaited: a node starts from its stored state whether or not the server answers.
      void node.refreshSeeds();
      // A node alone keeps looking for others (tabs opened later find it, but it may have started first).
      node.seedTimer = setInterval(() => {
        if (core.members().length <= 1) void node?.refreshSeeds();
      }, 3000);
      node.keepTimer = setInterval(() => node?.keepRingConnections(), 1000);
      return node;
    } catch (error) {
      transport?.close();
      merkle?.close();
      await store?.close().catch(() => undefined);
      identity.release();
      throw error;
    }
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
  connections(node?: NodeId): LinkState[] {
    return this.transport.linkStates(node);
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

  /** Keys stored on this node (its replicas), for inspection. */
  localKeys(): Promise<string[]> {
    return this.store.listKeys();
  }

  /**
   * Subscribes to events of one type ('membership', 'ring', 'put', 'get', 'read-repair', 'key-changed',
   * 'gossip', 'reachability', 'hint-stored', 'hints-delivered', 'hints-passed', 'anti-entropy', 'partition-sync',
   * 'ownership-handoff', 'partition-received', 'membership-change', 'message-dropped', 'error', 'seeds',
   * 'connectivity'), or '*' for all; see {@link DynamoEvent} for their shapes. Returns the unsubscribe
   * function.
   */
  on<T extends DynamoEvent['type']>(type: T, listener: Listener<T>): () => void;
  on(type: '*', listener: (event: DynamoEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener as (event: DynamoEvent) => void);
    this.listeners.set(type, set);
    return () => set.delete(listener as (event: DynamoEvent) => void);
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

  /** Partition handoff here: `{ pending, handoffs, transfers }` (partitions receiving, handing off; transfers running). */
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
    return this.identity.adopted;
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
  async merkleTrees(): Promise<MerkleTreesView> {
    if (this.merkle === undefined) return { backend: 'in-process', keyCounts: {}, roots: {} };
    const merkle = this.merkle;
    const counts = await merkle.keyCounts();
    const partitions = [...counts.keys()].sort((a, b) => a - b);
    const roots = await Promise.all(partitions.map((p) => merkle.hashes(p, 0, [0]).then((h) => toHex(h[0]!))));
    return {
      backend: 'worker',
      keyCounts: Object.fromEntries(partitions.map((p) => [p, counts.get(p)!])),
      roots: Object.fromEntries(partitions.map((p, i) => [p, roots[i]!])),
      stats: await merkle.stats(),
    };
  }

  /** The cluster's public name at the signaling server (derived from the secret; never the cluster name). */
  get signalingTag(): string {
    return this.transport.cluster;
  }

  /** How this browser got the cluster's secret: made by this tab, kept by this browser, or from an invitation. */
  get secretSource(): SecretSource {
    return this.security.source;
  }

  /**
   * The invitation link to this cluster (issue 16): `<base origin and path>?cluster=<name>#invite=<secret>`.
   * Anyone who opens it joins the cluster and can read and write everything in it.
   * @param base the page the link opens; default the current page.
   */
  invitation(base: string = location.href): string {
    return invitationLink(base, this.cluster, this.security.secret);
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
    clearInterval(this.timer);
    clearInterval(this.seedTimer);
    clearInterval(this.keepTimer);
    clearTimeout(this.iceTimer);
    this.worker?.terminate();
    this.lifecycle.abort();
    this.core.stop();
    this.transport.close();
    this.merkle?.close();
    await this.store.close().catch(() => undefined);
    this.identity.release();
  }

  /**
   * Drives the core's clock from a dedicated worker, which hidden tabs do not throttle, falling back to
   * a page timer; a page coming back from being frozen or hidden gossips at once to catch up.
   */
  private startClock(intervalMs: number): void {
    const tick = (): void => this.core.tick(Date.now());
    try {
      this.worker = new Worker(new URL('./tick-worker.ts', import.meta.url), { type: 'module' });
      this.worker.onmessage = tick;
      this.worker.onerror = () => {
        this.worker?.terminate();
        this.worker = undefined;
        this.timer ??= setInterval(tick, intervalMs);
      };
      this.worker.postMessage({ intervalMs });
    } catch {
      this.timer = setInterval(tick, intervalMs);
    }
    if (typeof document !== 'undefined') {
      const wake = (): void => {
        this.core.wake();
        tick();
      };
      document.addEventListener('resume', wake, { signal: this.lifecycle.signal });
      document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && wake(), { signal: this.lifecycle.signal });
      // The browser is online again: try the signaling server now rather than at its next retry.
      window.addEventListener('online', () => this.transport.signaling?.retryServer(), { signal: this.lifecycle.signal });
    }
  }

  /**
   * Keeps connections open to this node's ring neighbours (see `ringNeighbours`), so that the connections of the cluster stay one piece through
   * which any member can signal to any other without the server.
   */
  private keepRingConnections(): void {
    this.transport.keepConnected(ringNeighbours(this.id, this.core.members().map((m) => m.id)));
  }

  /** The signaling server's origin (scheme, host, port). */
  private signalingOrigin(): string {
    const { host, port, secure } = this.signaling;
    return `${secure ? 'https' : 'http'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  }

  private defaultIceConfigUrl(): string {
    return `${this.signalingOrigin()}/api/ice-config`;
  }

  /** Fetches the ICE configuration, uses it for new connections, and schedules the next fetch. */
  private async refreshIce(url: string): Promise<void> {
    if (this.closed) return;
    const config = await fetchIceConfig(url, localStorage, Date.now());
    if (this.closed) return;
    if (config !== undefined) {
      this.ice = { config, source: 'fetched' };
      this.transport.setIceServers(config.iceServers);
    }
    this.iceTimer = setTimeout(() => void this.refreshIce(url), nextIceFetchAtMs(config, Date.now()) - Date.now());
  }

  /** The STUN/TURN servers new connections use, and where they came from (issue 17). */
  iceStatus(): IceStatus {
    const config = this.ice.config;
    const urls = (config?.iceServers ?? []).flatMap((s) => (typeof s.urls === 'string' ? [s.urls] : s.urls));
    return {
      urls,
      source: urls.length === 0 && this.ice.source !== 'fetched' ? 'none' : this.ice.source,
      ...(config?.fetchedAtMs ? { fetchedAtMs: config.fetchedAtMs } : {}),
      ...(config?.expiresAtMs !== undefined ? { expiresAtMs: config.expiresAtMs } : {}),
    };
  }

  /**
   * How each open connection's packets travel (issue 17): the selected ICE candidate pair's types
   * (`host`, `srflx`, `prflx`, `relay`), protocol and round-trip time, from getStats.
   */
  connectionPaths(): Promise<ConnectionPath[]> {
    return this.transport.connectionPaths();
  }

  /** Fetches the signaling server's peer listing and hands this cluster's nodes to the core as seeds (paper §4.8.2). */
  private async refreshSeeds(): Promise<void> {
    try {
      const url = peersListUrl(this.signalingOrigin(), this.transport.cluster, this.signaling.path);
      const response = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(5000) });
      if (!response.ok) return;
      const listing: unknown = await response.json();
      if (!Array.isArray(listing)) return;
      const seeds = listing
        .filter((p): p is string => typeof p === 'string')
        .map((p) => nodeIdOfPeer(this.transport.cluster, p))
        .filter((id): id is NodeId => id !== undefined && id !== this.id);
      this.core.addSeeds(seeds.slice(0, 16));
      this.dispatch({ type: 'seeds', seeds });
    } catch {
      // The signaling server is unreachable; gossip with known members goes on.
    }
  }

  private dispatch(event: DynamoEvent): void {
    // A removed node is refused from now on: its open connections go too.
    if (event.type === 'removal') this.transport.disconnectNode(event.target);
    for (const key of [event.type, '*']) {
      for (const listener of this.listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch (error) {
          console.error('listener of', event.type, 'failed', error);
        }
      }
    }
  }
}


/**
 * Starts the Merkle worker on the node's database. When that fails (no `Worker` in this context, the
 * worker script does not load, or the worker cannot read the database), reports an 'error' event and
 * returns `undefined`: the core then builds its trees in this thread, which works wherever the main
 * thread's store works, at the cost of hashing on the main thread.
 */
async function startMerkleWorker(dbName: string, partitionCount: number, report: (event: NodeEvent) => void): Promise<WorkerMerkleService | undefined> {
  try {
    // A bad Q is for the core to refuse, with its own InvalidOptionError; do not start a worker for it.
    Ring.build([], partitionCount);
  } catch {
    return undefined;
  }
  const fallback = 'the Merkle worker could not be started, so the anti-entropy trees are built and kept on the main thread';
  if (typeof Worker === 'undefined') {
    report({ type: 'error', error: new MerkleWorkerError('Web Workers are not available here'), context: fallback });
    return undefined;
  }
  try {
    return await WorkerMerkleService.start(dbName, partitionCount, {
      onFailure: (error) => report({ type: 'error', error, context: 'the Merkle worker failed; anti-entropy stops until the page is reloaded' }),
    });
  } catch (error) {
    // Errors from inside the worker arrive as plain Errors that keep only their name.
    const reported =
      error instanceof DynamoError
        ? error
        : new MerkleWorkerError(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
    report({ type: 'error', error: reported, context: fallback });
    // Events reported while the node starts reach no listener yet (none can subscribe before start()
    // returns), so say it on the console as well.
    console.warn(`tabdynamo: ${fallback}:`, reported);
    return undefined;
  }
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
