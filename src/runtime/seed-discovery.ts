/**
 * How a node finds the others and stays in one piece with them (paper §4.8.2, DESIGN.md §3 "Signaling
 * paths"):
 *
 *   - seeds: the nodes of this cluster that the signaling server lists (`GET <path>/peerjs/peers?tag=`)
 *     and the tabs of this cluster in this browser (heard over BroadcastChannel), handed to the core,
 *     whose gossip then learns the whole membership from them. The listing is fetched at start, every
 *     3 s while the node knows no other member, and whenever the server connection opens again;
 *   - ring-neighbour connections: every second the transport is asked to keep connections open to this
 *     node's ring neighbours (`ringNeighbours`), so that the connections of the cluster stay one piece
 *     through which any member can relay signaling to any other without the server;
 *   - the browser coming back online retries the signaling server at once rather than at its next retry.
 */
import type { NodeCore } from '../core/node-core.js';
import type { NodeId } from '../core/types.js';
import { ringNeighbours } from '../net/connection-policy.js';
import { nodeIdOfPeer } from '../net/peer-ids.js';
import type { PeerjsTransport } from '../net/peerjs-transport.js';
import { peersListUrl } from '../signaling/signaling-urls.js';
import { signalingOrigin, type SignalingOptions } from './node-options.js';

/** Deadline of one fetch of the server's peer listing, ms. */
export const SEED_LISTING_TIMEOUT_MS = 5000;
/** Most seeds taken from one listing. */
export const MAX_SEEDS_PER_LISTING = 16;
/** Period of the listing fetch while this node knows no other member, ms. */
export const ALONE_SEED_INTERVAL_MS = 3000;
/** Period of the ring-neighbour connection upkeep, ms. */
export const RING_CONNECTIONS_INTERVAL_MS = 1000;

/** What seed discovery works with. */
export interface SeedDiscoveryOptions {
  /** This node (never its own seed). */
  self: NodeId;
  /** Where the signaling server is. */
  signaling: SignalingOptions;
  /** The core: takes the seeds, and tells the members (to count them, and to find the ring neighbours). */
  core: Pick<NodeCore, 'addSeeds' | 'members'>;
  /** The transport: its cluster tag, its ring-neighbour connections, and its signaling router. */
  transport: Pick<PeerjsTransport, 'cluster' | 'keepConnected' | 'signaling'>;
  /** Told every seed list found in the server's listing (before the 16-seed cut), for the 'seeds' event. */
  onSeeds: (seeds: NodeId[]) => void;
}

/** Seed discovery and ring-neighbour connection upkeep of one node; {@link start} runs it, {@link stop} ends it. */
export class SeedDiscovery {
  private seedTimer: ReturnType<typeof setInterval> | undefined;
  private keepTimer: ReturnType<typeof setInterval> | undefined;
  private readonly lifecycle = new AbortController();

  constructor(private readonly options: SeedDiscoveryOptions) {}

  /**
   * Takes this browser's tabs heard so far as seeds, fetches the server's listing (not awaited: a node
   * starts from its stored state whether or not the server answers), and starts the periodic listing
   * and ring-neighbour upkeep.
   */
  start(): void {
    const { core, transport } = this.options;
    if (typeof window !== 'undefined') {
      window.addEventListener('online', () => transport.signaling?.retryServer(), { signal: this.lifecycle.signal });
    }
    // Tabs of this browser heard before the node existed.
    core.addSeeds(transport.signaling?.sameBrowserNodes() ?? []);
    void this.refresh();
    // A node alone keeps looking for others (tabs opened later find it, but it may have started first).
    this.seedTimer = setInterval(() => {
      if (core.members().length <= 1) void this.refresh();
    }, ALONE_SEED_INTERVAL_MS);
    this.keepTimer = setInterval(() => this.keepRingConnections(), RING_CONNECTIONS_INTERVAL_MS);
  }

  /** Stops the timers and the online listener. Idempotent. */
  stop(): void {
    clearInterval(this.seedTimer);
    clearInterval(this.keepTimer);
    this.lifecycle.abort();
  }

  /**
   * Fetches the signaling server's peer listing and hands this cluster's nodes to the core as seeds
   * (at most 16). Never rejects: when the server is unreachable, gossip with known members goes on.
   */
  async refresh(): Promise<void> {
    const { self, signaling, core, transport, onSeeds } = this.options;
    try {
      const url = peersListUrl(signalingOrigin(signaling), transport.cluster, signaling.path);
      const response = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(SEED_LISTING_TIMEOUT_MS) });
      if (!response.ok) return;
      const listing: unknown = await response.json();
      if (!Array.isArray(listing)) return;
      const seeds = listing
        .filter((p): p is string => typeof p === 'string')
        .map((p) => nodeIdOfPeer(transport.cluster, p))
        .filter((id): id is NodeId => id !== undefined && id !== self);
      core.addSeeds(seeds.slice(0, MAX_SEEDS_PER_LISTING));
      onSeeds(seeds);
    } catch {
      // The signaling server is unreachable; gossip with known members goes on.
    }
  }

  /** Keeps connections open to this node's ring neighbours among the members the core knows. */
  keepRingConnections(): void {
    const { self, core, transport } = this.options;
    transport.keepConnected(ringNeighbours(self, core.members().map((m) => m.id)));
  }
}
