/**
 * The cluster host page (`bench/cluster-host.html`), driven by `bench/explorer-bench.ts`: runs several
 * real nodes in one tab, so that a cluster of 30 fits a 2-core machine (30 tabs there saturate the CPU
 * before the cluster forms). Each node is a full `DynamoNode` — its own PeerJS peer on the real
 * signaling server, WebRTC data channels to every node it talks to (those in the same tab too), gossip,
 * failure detection, anti-entropy, handoff — with memory storage (its Merkle trees built in this
 * thread) and no page of its own. Exposed as `window.clusterHost`.
 */
import { DynamoNode } from '../src/runtime/dynamo-node.js';
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

/** What the page exposes. */
export interface ClusterHost {
  /** Starts `count` nodes of `cluster` (concurrently), each with at most `maxConnections` connections; their ids. */
  start(cluster: string, count: number, maxConnections: number): Promise<string[]>;
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
        const status = node.handoffStatus();
        return {
          id: node.id,
          status: node.members().find((m) => m.id === node.id)?.status ?? 'unknown',
          ring: ringDigest(node.ring().owners()),
          pending: status.pending,
          handoffs: status.handoffs,
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
