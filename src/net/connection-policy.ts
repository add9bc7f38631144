/**
 * Which data-channel connections a node keeps and which one it sends on (DESIGN.md §2): pure rules
 * the transport applies, driven directly by the unit tests.
 *
 * Two nodes that connect to each other at the same moment get two connections. Both sides then send
 * on the one opened by the node with the smaller id, and the other is closed once it has been idle for
 * `DUPLICATE_IDLE_MS` (so nothing written to it is cut off). At the cap (`maxConnections`) a duplicate
 * goes first, else the connections of the least recently used node, preferring one that awaits no
 * reply; only open connections are closed to make room (one still opening holds messages waiting for
 * it), and the connections to this node's ring neighbours (see {@link ringNeighbours}) go last.
 */
import type { NodeId } from '../core/types.js';

/** A duplicate connection (see the header) is closed after this long without traffic, ms. */
export const DUPLICATE_IDLE_MS = 2000;

/** What the connection policy needs to know of a connection. */
export interface ConnectionView {
  node: NodeId;
  /** Opened by this node (else accepted). */
  outbound: boolean;
  open: boolean;
  /**
   * The node connected to us again while this connection was open here: it had none left on its
   * side (it closed it, or lost it), so nothing is sent on this one any more; it is closed once idle.
   */
  superseded: boolean;
  /** Last send or receive on it, ms. */
  lastUsedMs: number;
  /** Something was sent on it after the last thing received (a reply may be on its way). */
  awaitingReply?: boolean;
}

/**
 * Whether `connection` is the one both ends use when there are two: the one opened by the node with
 * the smaller id (each end can tell without asking the other).
 */
export function isPreferredConnection(self: NodeId, connection: Pick<ConnectionView, 'node' | 'outbound'>): boolean {
  return connection.outbound === self < connection.node;
}

/**
 * The connection to send on, of the connections to one node: an open one that is not superseded,
 * the preferred one of two (see {@link isPreferredConnection}); else one still opening (the message waits
 * for it); else whatever there is.
 */
export function connectionToUse<C extends ConnectionView>(connections: readonly C[], self: NodeId): C | undefined {
  const live = connections.filter((c) => !c.superseded);
  return live.find((c) => c.open && isPreferredConnection(self, c)) ?? live.find((c) => c.open) ?? live[live.length - 1] ?? connections.find((c) => c.open) ?? connections[0];
}

/**
 * The connections to close, of `connections`:
 *   - always: duplicates (connections to a node besides the one used, see {@link connectionToUse}) that are
 *     open and idle for `DUPLICATE_IDLE_MS` while the one used is open — never one still opening (the
 *     other end may be about to use it);
 *   - enough open connections to leave at most `max - 1` (`room` true: one more connection is about to
 *     be made) or `max` (`room` false: trimming after the cap was exceeded) — duplicates first, least
 *     recently used first, then the connections of the least recently used nodes, nodes awaiting no
 *     reply before the others; nodes in `keep` (see {@link ringNeighbours}) only when they alone are
 *     more than the limit. Connections still opening or waiting to open are never closed for room: fewer than needed
 *     may come back, and the caller waits.
 * Pure (the transport applies it); the unit tests drive it directly.
 */
export function connectionsToClose<C extends ConnectionView>(connections: readonly C[], self: NodeId, max: number, nowMs: number, room: boolean, keep: ReadonlySet<NodeId> = new Set()): C[] {
  const close = new Set<C>();
  const byNode = new Map<NodeId, C[]>();
  for (const connection of connections) byNode.set(connection.node, [...(byNode.get(connection.node) ?? []), connection]);
  const duplicates: C[] = [];
  for (const list of byNode.values()) {
    if (list.length < 2) continue;
    const used = connectionToUse(list, self)!;
    for (const d of list) {
      if (d === used) continue;
      duplicates.push(d);
      if (d.open && used.open && nowMs - d.lastUsedMs >= DUPLICATE_IDLE_MS) close.add(d);
    }
  }
  let excess = connections.length - close.size - (room ? max - 1 : max);
  if (excess > 0) {
    for (const d of [...duplicates].sort((a, b) => a.lastUsedMs - b.lastUsedMs)) {
      if (excess <= 0) break;
      if (d.open && !close.has(d)) {
        close.add(d);
        excess--;
      }
    }
    const lastUse = (list: C[]): number => Math.max(...list.map((c) => c.lastUsedMs));
    const rank = ([node, list]: [NodeId, C[]]): [number, number, number] => [keep.has(node) ? 1 : 0, list.some((c) => c.awaitingReply) ? 1 : 0, lastUse(list)];
    const byRank = (a: [NodeId, C[]], b: [NodeId, C[]]): number => {
      const [x, y] = [rank(a), rank(b)];
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    };
    // Kept nodes go only when they alone are more than the cap allows (never to make room for others
    // still opening: a ring connection evicted for that split six tabs with a cap of 3 into pieces).
    const keptNodes = [...byNode.keys()].filter((node) => keep.has(node)).length;
    const mayCloseKept = keptNodes > (room ? max - 1 : max);
    for (const [node, list] of [...byNode].sort(byRank)) {
      if (excess <= 0) break;
      if (keep.has(node) && !mayCloseKept) continue;
      // A node is closed whole or not at all: its open connections, none of which may still be opening.
      if (list.some((c) => !c.open && !close.has(c))) continue;
      for (const connection of list) {
        if (close.has(connection)) continue;
        close.add(connection);
        excess--;
      }
    }
  }
  return [...close];
}

/**
 * The nodes whose connections this node keeps open whatever the cap: its successor and predecessor
 * among `members` (this node included) sorted by id, a ring that every node agrees on. Below a full
 * mesh, least-recently-used eviction alone lets the graph of connections fall apart into pieces that
 * cannot signal to each other once the signaling server is gone (seen with six tabs and a cap of 3:
 * two-tab browsers ended up talking only to themselves). With every node holding its two ring
 * neighbours, the connections always contain a ring, so a relayed offer can reach every member, and
 * one member gone leaves a path. Both ends of a ring connection keep it, so neither evicts it; the
 * ring spans every member, reachable or not, so that both ends agree whatever their failure
 * detectors think (an earlier version bridged members seen as unreachable, which made ends disagree
 * and filled the cap with kept connections).
 * @param members ids of the members; `self` may be absent.
 * @returns zero, one or two ids, never `self`.
 */
export function ringNeighbours(self: NodeId, members: readonly NodeId[]): NodeId[] {
  const ids = [...new Set([...members, self])].sort();
  if (ids.length < 2) return [];
  const at = ids.indexOf(self);
  const successor = ids[(at + 1) % ids.length]!;
  const predecessor = ids[(at - 1 + ids.length) % ids.length]!;
  return successor === predecessor ? [successor] : [successor, predecessor];
}
