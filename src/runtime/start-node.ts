/**
 * Starting a node: the order in which its parts are made and wired to each other (DESIGN.md §2–3).
 * `DynamoNode.start` (dynamo-node.ts) is this plus the facade over the parts it returns.
 *
 *   options (node-options.ts)
 *     ─▶ cluster secret (members-only.ts) ─▶ identity: this tab's id, or a closed tab's node adopted
 *     ─▶ store (browser-ports.ts) ─▶ node key ─▶ Merkle worker ─▶ NodeCore
 *     ─▶ PeerjsTransport (ICE servers from ice-refresh.ts) ─▶ core.start(): stored state loaded
 *     ─▶ live: ICE refresh, events held back so far, tick driver, seed discovery
 *
 * Until the node is live, the core's events are held back and the transport's signaling events are
 * dropped (nobody can listen yet: `start()` has not returned). When the id's database is gone
 * (StoredStateLostError) or holds no key of this cluster (NodeKeyMissingError), the start is done again
 * under a new id. On any other failure everything opened so far is closed and the id freed.
 */
import { NodeKeyMissingError, StoredStateLostError } from '../core/errors.js';
import type { NodeEvent } from '../core/node-api.js';
import { NodeCore } from '../core/node-core.js';
import type { Store } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import type { WorkerMerkleService } from '../merkle/worker-merkle-service.js';
import { PeerjsTransport } from '../net/peerjs-transport.js';
import { webCryptoAuthority } from '../security/membership-authority.js';
import { registrationParams } from '../security/registration.js';
import { IdbStore } from '../storage/idb-store.js';
import { cryptoRandom, deferredTransport, openStore, startMerkleWorker, wallClock } from './browser-ports.js';
import { DynamoEventEmitter, type DynamoEvent } from './event-emitter.js';
import { IceRefresh, iceConfigUrlOf } from './ice-refresh.js';
import { claimIdentity, databaseName, type NodeIdentity } from './identity.js';
import { clusterSecurity, isAdoptable, nodeIdMaker, nodeKey, type ClusterSecurity } from './members-only.js';
import { coreConfigOf, DEFAULT_TICK_INTERVAL_MS, partitionCountOf, runtimeOptions, type DynamoNodeOptions } from './node-options.js';
import { SeedDiscovery } from './seed-discovery.js';
import { TickDriver } from './tick-driver.js';

/** The parts of a running node, as `DynamoNode` holds them. Closing it is stopping each (see `DynamoNode.close`). */
export interface NodeParts {
  id: NodeId;
  cluster: string;
  identity: NodeIdentity;
  security: ClusterSecurity;
  store: Store;
  /** The Merkle worker; absent when the core keeps its trees in process. */
  merkle: WorkerMerkleService | undefined;
  core: NodeCore;
  transport: PeerjsTransport;
  events: DynamoEventEmitter;
  /** Emits an event to the listeners; a 'removal' also closes the removed node's connections. */
  dispatch: (event: DynamoEvent) => void;
  ice: IceRefresh;
  tick: TickDriver;
  seeds: SeedDiscovery;
}

/**
 * Starts this tab's node (see `DynamoNode.start` for what that means) and returns its parts, live.
 * @throws InvalidOptionError for a bad cluster name or N/R/W/Q; IdentityLockedError; StorageError;
 *   an error from PeerJS when this browser has no WebRTC; a DOMException when WebCrypto lacks Ed25519.
 */
export async function startNode(options: DynamoNodeOptions): Promise<NodeParts> {
  const { cluster, maxConnections } = runtimeOptions(options);
  const security = await clusterSecurity(cluster, options.invitation ?? '', options.secretStorage ?? localStorage);
  const newId = nodeIdMaker(security);
  let identity = await claimIdentity(cluster, {
    adoptClosed: options.adoptClosedNodes === true && options.storage !== 'memory',
    isAdoptable: (nodeId) => isAdoptable(cluster, nodeId, security.keys.tag),
    newId,
    // A memory store keeps no key: a tab with memory storage is a new node on every load.
    forceNew: options.storage === 'memory',
  });
  try {
    return await startAs(identity, cluster, maxConnections, options, security);
  } catch (error) {
    if (!(error instanceof StoredStateLostError) && !(error instanceof NodeKeyMissingError)) throw error;
    // This tab's node id has written before but its database is gone (storage evicted or cleared):
    // continue under a new id, so that no replica takes its new writes for old ones (kv679). An id
    // without its key (or of another cluster secret) cannot be used either; its database is kept.
    if (error instanceof StoredStateLostError) await IdbStore.destroy(databaseName(cluster, identity.nodeId)).catch(() => undefined);
    identity = await claimIdentity(cluster, { forceNew: true, newId });
    return startAs(identity, cluster, maxConnections, options, security);
  }
}

/** Starts the node under `identity`; on failure closes what it opened and releases the identity. */
async function startAs(identity: NodeIdentity, cluster: string, maxConnections: number, options: DynamoNodeOptions, security: ClusterSecurity): Promise<NodeParts> {
  const nodeId = identity.nodeId;
  let store: Store | undefined;
  let transport: PeerjsTransport | undefined;
  let merkle: WorkerMerkleService | undefined;
  try {
    const events = new DynamoEventEmitter();
    const dispatch = (event: DynamoEvent): void => {
      // A removed node is refused from now on: its open connections go too.
      if (event.type === 'removal') transport?.disconnectNode(event.target);
      events.emit(event);
    };
    let live = false;
    const heldBack: NodeEvent[] = [];
    const report = (event: NodeEvent): void => void (live ? dispatch(event) : heldBack.push(event));
    const opened = await openStore(options.storage, databaseName(cluster, nodeId), report);
    store = opened;
    const key = await nodeKey(opened, nodeId, security);
    const tag = options.signalingTagForTesting ?? security.keys.tag;
    const authenticated = options.authentication !== false;
    if (opened instanceof IdbStore) merkle = await startMerkleWorker(opened.name, partitionCountOf(options), report);
    const core = new NodeCore({
      id: nodeId,
      config: coreConfigOf(options),
      clock: wallClock,
      random: cryptoRandom,
      transport: deferredTransport(() => transport),
      store: opened,
      onEvent: report,
      ...(authenticated ? { authority: webCryptoAuthority(key, tag) } : {}),
      // Without it (memory storage, or no worker) the core builds its trees in this thread.
      ...(merkle !== undefined ? { merkle } : {}),
    });
    const ice = IceRefresh.initial(options.iceServers, localStorage);
    let seeds: SeedDiscovery | undefined;
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
        config: { iceServers: ice.iceServers() },
      },
      signaling: {
        // A tab of this cluster in this browser: a seed that needs no server (DESIGN.md §3).
        onPresent: (peer) => {
          core.addSeeds([peer]);
          if (live) dispatch({ type: 'seeds', seeds: [peer] });
        },
        onServerState: (server) => {
          if (!live) return;
          dispatch({ type: 'signaling', server });
          // Back in touch with the server: look for nodes this one has not met yet.
          if (server.state === 'open') void seeds?.refresh();
        },
      },
    });
    const t = transport;
    seeds = new SeedDiscovery({ self: nodeId, signaling: options.signaling, core, transport: t, onSeeds: (found) => dispatch({ type: 'seeds', seeds: found }) });
    t.listen(
      (from, message) => core.receive(from, message),
      (from, reason) => core.recordDrop(from, reason),
      (peer) => core.reportUnreachable(peer),
    );
    await core.start({ expectStoredState: !identity.fresh && options.storage !== 'memory' });
    live = true;
    const iceConfigUrl = iceConfigUrlOf(options);
    if (iceConfigUrl !== undefined) void ice.start(t, iceConfigUrl);
    for (const event of heldBack) dispatch(event);
    const tick = TickDriver.start({
      intervalMs: options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS,
      clock: wallClock,
      tick: (nowMs) => core.tick(nowMs),
      wake: () => core.wake(),
    });
    seeds.start();
    return { id: nodeId, cluster, identity, security, store: opened, merkle, core, transport: t, events, dispatch, ice, tick, seeds };
  } catch (error) {
    transport?.close();
    merkle?.close();
    await store?.close().catch(() => undefined);
    identity.release();
    throw error;
  }
}
