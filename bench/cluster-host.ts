/**
 * The cluster host page (`bench/cluster-host.html`): real nodes without the app's page. Exposed as
 * `window.clusterHost`. Two drivers use it:
 *   - `bench/explorer-bench.ts` runs several nodes in one tab (`start`), so that a cluster of 30 fits a
 *     2-core machine (30 tabs there saturate the CPU before the cluster forms), with memory storage
 *     (their Merkle trees built in this thread);
 *   - `bench/run.ts` runs one node per tab (`startNode`) with the options under test (IndexedDB
 *     storage, authentication on or off), so that two clusters differing only in those options are
 *     measured side by side by the same kind of page, with no UI work in either.
 * Each node is a full `DynamoNode` — its own PeerJS peer on the real signaling server, WebRTC data
 * channels to every node it talks to (those in the same tab too), gossip, failure detection,
 * anti-entropy, handoff.
 */
import { DynamoNode, type SecurityStats, type TransportStats } from '../src/runtime/dynamo-node.js';
import { peerClientOptions } from '../src/signaling/signaling-urls.js';

/** Result of {@link ClusterHost.load}. */
export interface LoadResult {
  written: number;
  failed: number;
  /** Wall time, ms. */
  elapsedMs: number;
  /** First few error messages, for the report. */
  errors: string[];
}

/** Where one hosted node stands (for the bench's report when handoffs do not settle). */
export interface HostedNodeReport {
  id: string;
  status: string;
  /** A short digest of the ring this node routes by (nodes that agree on the ring show the same). */
  ring: string;
  pending: number[];
  handoffs: number[];
  transfers: { partition: number; peer: string; reason: string; keysSent: number; keysTotal: number; state: string; attempts: number; lastError?: string; links: string }[];
  /** Connections that are not one open link per node (waiting, opening, superseded, duplicates), described. */
  oddLinks: string[];
  hints: number;
  /** For a leaving node: its hints by the node they are for, and the nodes its hint delivery targets. */
  hintTargets?: string;
  /** Peers this node does not see as alive, with how it sees them. */
  unhealthy: string[];
  connected: number;
  /** The transport's counters: open connections (links; two to one node count twice), opened, evicted at the cap, failed to open. */
  links: { open: number; opened: number; evicted: number; duplicates: number; failed: number; droppedUnsent: number; errors: Record<string, number>; setupMs: { p50: number; p95: number; max: number } };
}

/** Options of {@link ClusterHost.startNode}: those of `DynamoNode.start` a benchmark varies. */
export interface HostedNodeOptions {
  storage: 'indexeddb' | 'memory';
  /** Connection handshake and signed member records (false only to measure what they cost). */
  authentication: boolean;
  /** Most connections kept open; default that of `DynamoNode.start`. */
  maxConnections?: number;
}

/** What {@link ClusterHost.authReport} says of one node. */
export interface HostedAuthReport {
  id: string;
  /** Handshake counters and times (handshakeMs: from the open data channel to the verified proof). */
  security: SecurityStats;
  /** Connection setup times, from `connect` (or the offer's arrival) until messages flow: with authentication on, the handshake included. */
  setupMs: TransportStats['setupMs'];
  connectionsOpened: number;
}

/**
 * What {@link ClusterHost.signatureCost} measured. Each operation is timed on its own (`signMs`,
 * `verifyMs`) and the whole sequence too (`…TotalMs`): outside a cross-origin isolated page
 * `performance.now()` is coarsened to 0.1 ms, about the cost of one operation, so the mean (total over
 * count) is the figure to trust.
 */
export interface SignatureCost {
  signMs: number[];
  verifyMs: number[];
  signTotalMs: number;
  verifyTotalMs: number;
}

/** What the page exposes. */
export interface ClusterHost {
  /** Starts `count` nodes of `cluster` (concurrently), each with at most `maxConnections` connections; their ids. */
  start(cluster: string, count: number, maxConnections: number): Promise<string[]>;
  /** Starts one node of `cluster` with `options`; its id. */
  startNode(cluster: string, options: HostedNodeOptions): Promise<string>;
  /**
   * Runs `count` sequential operations from node `id` — puts of a small value (about 80 bytes
   * encoded) to, or gets of, keys `prefix{from}` … `prefix{from+count-1}`, each with the node's
   * default quorum — and returns how long each took, ms (the first error is thrown).
   */
  timeOperations(id: string, kind: 'put' | 'get', prefix: string, from: number, count: number): Promise<number[]>;
  /** Each hosted node's handshake counters and connection setup times. */
  authReport(): HostedAuthReport[];
  /**
   * Times `iterations` Ed25519 signatures of a 64-byte message and as many verifications with
   * WebCrypto in this page (a fresh non-extractable key, as a node's), sequentially, after a warm-up.
   */
  signatureCost(iterations: number): Promise<SignatureCost>;
  /** Ids of the running nodes, in start order. */
  ids(): string[];
  /** How many members each running node sees. */
  membersSeen(): number[];
  /**
   * Writes keys `prefix{from}` … `prefix{from+count-1}` (values of about `valueBytes` bytes), at most
   * `concurrency` at a time, each coordinated by a hosted node among the key's N replicas when one is
   * (else forwarded by the first hosted node).
   */
  load(prefix: string, from: number, count: number, concurrency: number, valueBytes: number): Promise<LoadResult>;
  /** Makes the node `id` leave the ring (resolves once it has handed everything off). */
  leave(id: string): Promise<void>;
  /** Changes node `id`'s capacity. */
  setCapacity(id: string, capacity: number): Promise<void>;
  /** Where each hosted node stands: status, partitions it receives / hands off, transfers, hints held. */
  report(): Promise<HostedNodeReport[]>;
  /** Keys held by every hosted node, summed. */
  keysHeld(): Promise<number>;
}

declare global {
  interface Window {
    clusterHost?: ClusterHost;
  }
}

const nodes: DynamoNode[] = [];

function linkStats(node: DynamoNode): HostedNodeReport['links'] {
  const t = node.stats().transport;
  return { open: t.openConnections, opened: t.connectionsOpened, evicted: t.connectionsEvicted, duplicates: t.duplicatesClosed, failed: t.connectFailures, droppedUnsent: t.messagesDroppedUnsent, errors: t.errors, setupMs: t.setupMs };
}

/** FNV-1a of the partition owners, as 8 hex digits. */
export function ringDigest(owners: readonly (string | undefined)[]): string {
  let hash = 2166136261;
  const text = owners.join(',');
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** Connections to one node, as text: `out open idle 3s, in opening 5s (2 queued)`. */
function describeLinks(links: ReturnType<DynamoNode['connections']>): string {
  if (links.length === 0) return 'no connection';
  return links
    .map((l) => `${l.outbound ? 'out' : 'in'} ${l.state}${l.superseded ? ' superseded' : ''} age ${(l.ageMs / 1000).toFixed(0)}s idle ${(l.idleMs / 1000).toFixed(1)}s${l.queuedFrames > 0 ? ` (${l.queuedFrames} frames queued)` : ''}`)
    .join(', ');
}

function byPeer(links: ReturnType<DynamoNode['connections']>): Map<string, ReturnType<DynamoNode['connections']>> {
  const map = new Map<string, ReturnType<DynamoNode['connections']>>();
  for (const l of links) map.set(l.node, [...(map.get(l.node) ?? []), l]);
  return map;
}

function byId(id: string): DynamoNode {
  const node = nodes.find((n) => n.id === id);
  if (!node) throw new Error(`no hosted node ${id}`);
  return node;
}

window.clusterHost = {
  async start(cluster, count, maxConnections) {
    const signaling = peerClientOptions(location);
    const started = await Promise.all(Array.from({ length: count }, () => DynamoNode.start({ cluster, storage: 'memory', maxConnections, signaling })));
    nodes.push(...started);
    return started.map((n) => n.id);
  },
  async startNode(cluster, options) {
    const node = await DynamoNode.start({
      cluster,
      storage: options.storage,
      authentication: options.authentication,
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      signaling: peerClientOptions(location),
    });
    nodes.push(node);
    return node.id;
  },
  async timeOperations(id, kind, prefix, from, count) {
    const node = byId(id);
    const value = { text: 'x'.repeat(60), n: 0 };
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const key = `${prefix}${from + i}`;
      const started = performance.now();
      if (kind === 'put') await node.put(key, { ...value, n: i });
      else await node.get(key);
      times.push(performance.now() - started);
    }
    return times;
  },
  authReport: () =>
    nodes.map((node) => {
      const transport = node.stats().transport;
      return { id: node.id, security: node.securityStats(), setupMs: transport.setupMs, connectionsOpened: transport.connectionsOpened };
    }),
  async signatureCost(iterations) {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const message = crypto.getRandomValues(new Uint8Array(64));
    const signature = await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, message);
    const time = async (operation: () => Promise<unknown>): Promise<{ samples: number[]; totalMs: number }> => {
      for (let i = 0; i < 20; i++) await operation(); // warm-up
      const samples: number[] = [];
      const startedAll = performance.now();
      for (let i = 0; i < iterations; i++) {
        const started = performance.now();
        await operation();
        samples.push(performance.now() - started);
      }
      return { samples, totalMs: performance.now() - startedAll };
    };
    const sign = await time(() => crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, message));
    const verify = await time(() => crypto.subtle.verify({ name: 'Ed25519' }, pair.publicKey, signature, message));
    return { signMs: sign.samples, verifyMs: verify.samples, signTotalMs: sign.totalMs, verifyTotalMs: verify.totalMs };
  },
  ids: () => nodes.map((n) => n.id),
  membersSeen: () => nodes.map((n) => n.members().length),
  async load(prefix, from, count, concurrency, valueBytes) {
    const startedMs = performance.now();
    const filler = 'x'.repeat(Math.max(0, valueBytes - 24));
    const n = nodes[0]!.config().n;
    let next = from;
    let written = 0;
    let failed = 0;
    const errors: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < from + count) {
        const i = next++;
        const key = `${prefix}${i}`;
        const replicas = nodes[0]!.preferenceList(key).slice(0, n);
        const coordinator = nodes.find((node) => replicas.includes(node.id)) ?? nodes[0]!;
        try {
          await coordinator.put(key, { n: i, text: filler });
          written++;
        } catch (error) {
          failed++;
          if (errors.length < 5) errors.push(`${key}: ${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { written, failed, elapsedMs: performance.now() - startedMs, errors };
  },
  leave: (id) => byId(id).leave(),
  setCapacity: (id, capacity) => byId(id).setCapacity(capacity),
  report: () =>
    Promise.all(
      nodes.map(async (node) => {
        const status = node.ownershipHandoffStatus();
        return {
          id: node.id,
          status: node.members().find((m) => m.id === node.id)?.status ?? 'unknown',
          ring: ringDigest(node.ring().owners()),
          pending: status.pendingPartitions,
          handoffs: status.handoffPartitions,
          transfers: status.transfers.map((t) => ({ ...t, links: describeLinks(node.connections(t.peer)) })),
          oddLinks: [...byPeer(node.connections())]
            .filter(([, links]) => links.length !== 1 || links[0]!.state !== 'open' || links[0]!.superseded || links[0]!.queuedFrames > 0)
            .map(([peer, links]) => `${peer}: ${describeLinks(links)}`),
          hints: await node.hintCount(),
          ...(node.members().find((m) => m.id === node.id)?.status === 'leaving' ? { hintTargets: JSON.stringify(await node.hintsByTarget()) } : {}),
          unhealthy: node.peerHealth().filter((h) => h.status !== 'alive').map((h) => `${h.id}:${h.status}`),
          connected: node.stats().connectedPeers.length,
          links: linkStats(node),
        };
      }),
    ),
  async keysHeld() {
    const counts = await Promise.all(nodes.map((n) => n.localKeys().then((keys) => keys.length)));
    return counts.reduce((a, b) => a + b, 0);
  },
};
