/**
 * The connection table of the PeerJS transport (DESIGN.md §2): which connections this node has to
 * which nodes, which one a message to a node goes on, and which ones go when the cap is reached — the
 * rules of connection-policy.ts applied to live connections.
 *
 *   in use (counted towards the cap)                      draining (not counted)
 *   ┌──────┬─────────────────────────────────────┐        ┌───────────────────────────┐
 *   │ node │ connections: waiting/opening/open   │ drain  │ evicted connections, open │
 *   │  b   │ [outbound open, inbound opening]    │ ─────▶ │ until DRAIN_MS passed     │
 *   │  d   │ [outbound waiting]                  │        └─────────────┬─────────────┘
 *   └──────┴──────────────────┬──────────────────┘                      │
 *                             └──────────── drop ───────────────────────┴─▶ closed (close-queue.ts)
 *
 * - At the cap (`maxConnections`) a duplicate connection is closed first, else the least recently
 *   used node's connections are drained; connections to kept nodes (ring neighbours, see
 *   `keepConnected`) go last, and only open connections are ever closed to make room.
 * - Draining, not dropping, an evicted connection (as HTTP/2's GOAWAY does): this end tells the other
 *   to stop sending on it (a drain notice, after everything this end wrote before); it leaves the
 *   connections in use at once and is closed `DRAIN_MS` later. Closing an evicted connection at once
 *   lost the replies the other end was writing on it, and each lost reply held a request until its
 *   deadline: below a full mesh, where connections are evicted every few requests, that made most
 *   read-modify-writes take seconds and some miss their quorum (six tabs with a cap of 3).
 * - A dropped connection hands what waited on it to another open connection to the node, if any.
 */
import type { DataConnection } from 'peerjs';
import type { NodeId } from '../core/types.js';
import { newConnection, type Connection } from './connection.js';
import { connectionsToClose, connectionToUse } from './connection-policy.js';
import type { TransportCounters } from './transport-stats.js';
import { framesOf } from './write-path.js';

/** How long an evicted connection stays open for messages already on their way, ms (see the header). */
export const DRAIN_MS = 2000;

/**
 * The notice that an end evicted a connection: a transport message, never handed to the core. Its
 * wire type predates the word "connection" in this code and is kept so that tabs of either version
 * understand each other.
 */
const DRAIN_NOTICE = { type: 'link-drain' } as const;

/** Whether a decoded message is the other end's drain notice (see {@link DRAIN_MS}). */
export function isDrainNotice(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === DRAIN_NOTICE.type;
}

/** What the table asks of the rest of the transport. */
export interface ConnectionTableHooks {
  /** Writes frames on an open connection now (write-path.ts). */
  write(connection: Connection, frames: Uint8Array[]): void;
  /** Hands what waited on a dropped connection to `to` when that is open, else counts it lost (write-path.ts). */
  handOver(from: Connection, to: Connection | undefined): void;
  /** Closes a PeerJS connection soon, in a task of its own (close-queue.ts). */
  close(dataConnection: DataConnection): void;
  /** `connection` was dropped; `settingUp`: it was an outbound setup in progress (a setup slot came free). */
  dropped(connection: Connection, settingUp: boolean): void;
}

/** The transport's connections by node, and the evicted ones still draining. */
export class ConnectionTable {
  private readonly byNode = new Map<NodeId, Connection[]>();
  /** Evicted connections still open for in-flight messages (see {@link drain}). */
  private readonly draining = new Set<Connection>();
  /** Nodes whose connections the cap evicts last (see {@link keepConnected}). */
  private keep: ReadonlySet<NodeId> = new Set();

  constructor(
    private readonly self: NodeId,
    /** Most connections in use. */
    readonly maxConnections: number,
    private readonly counters: TransportCounters,
    private readonly hooks: ConnectionTableHooks,
  ) {}

  // ── tracking ──

  /** Records a new connection to `node`, not started yet. */
  add(node: NodeId, outbound: boolean): Connection {
    const connection = newConnection(node, outbound, Date.now());
    const list = this.byNode.get(node) ?? [];
    list.push(connection);
    this.byNode.set(node, list);
    return connection;
  }

  /** Whether `connection` is in use (not draining, not dropped). */
  tracks(connection: Connection): boolean {
    return (this.byNode.get(connection.node) ?? []).includes(connection);
  }

  /** The connections in use to `node`. */
  forNode(node: NodeId): readonly Connection[] {
    return this.byNode.get(node) ?? [];
  }

  /** Whether any connection to `node` is in use (open, opening or waiting). */
  has(node: NodeId): boolean {
    return this.byNode.has(node);
  }

  /** Nodes with a connection in use. */
  nodes(): NodeId[] {
    return [...this.byNode.keys()];
  }

  /** Every connection (to `node` only, when given), draining ones after those in use. */
  all(node?: NodeId): Connection[] {
    if (node === undefined) return [...[...this.byNode.values()].flat(), ...this.draining];
    return [...this.forNode(node), ...[...this.draining].filter((c) => c.node === node)];
  }

  // ── choosing ──

  /** The connection a message to `node` goes on (see {@link connectionToUse}); undefined: none yet. */
  toUse(node: NodeId): Connection | undefined {
    const connections = this.byNode.get(node);
    if (!connections || connections.length === 0) return undefined;
    return connectionToUse(connections, this.self);
  }

  /** A draining connection to `node` (still open both ways for a moment), if any. */
  drainingTo(node: NodeId): Connection | undefined {
    return [...this.draining].find((c) => c.node === node);
  }

  /** Connections being set up or open (not those waiting their turn): what the cap counts. */
  inUse(): Connection[] {
    const connections: Connection[] = [];
    for (const list of this.byNode.values()) for (const c of list) if (c.dataConnection !== undefined) connections.push(c);
    return connections;
  }

  /** Outbound connections being set up now. */
  openingCount(): number {
    let opening = 0;
    for (const list of this.byNode.values()) for (const c of list) if (c.outbound && c.dataConnection !== undefined && !c.open) opening++;
    return opening;
  }

  /** Open connections in use. */
  openCount(): number {
    let open = 0;
    for (const list of this.byNode.values()) open += list.filter((c) => c.open).length;
    return open;
  }

  /** Draining connections. */
  drainingCount(): number {
    return this.draining.size;
  }

  /** Nodes with an open connection in use. */
  connectedNodes(): NodeId[] {
    return [...this.byNode].filter(([, list]) => list.some((c) => c.open)).map(([node]) => node);
  }

  /** Whether `node` is kept connected, or has an open connection that is not superseded. */
  isConnected(node: NodeId): boolean {
    return this.keep.has(node) || (this.byNode.get(node)?.some((c) => c.open && !c.superseded) ?? false);
  }

  /**
   * Nodes a relayed signal can be handed to: those with an open connection, and those whose connection
   * is draining (still open both ways for a moment: the other end still reads it). Under churn a node
   * may have every connection draining or opening at once; relaying over the draining ones then keeps
   * it reachable.
   */
  relayNeighbours(): NodeId[] {
    const nodes = new Set(this.connectedNodes());
    for (const c of this.draining) nodes.add(c.node);
    return [...nodes];
  }

  // ── capping and evicting ──

  /** Makes connections to `nodes` the last the cap evicts (the transport opens them: `keepConnected`). */
  keepConnected(nodes: readonly NodeId[]): void {
    this.keep = new Set(nodes);
  }

  /** Whether one more connection fits under the cap. */
  hasRoom(): boolean {
    return this.inUse().length < this.maxConnections;
  }

  /** Whether more connections are open than the cap allows (an accepted one took the cap over). */
  overCap(): boolean {
    return this.inUse().filter((c) => c.open).length > this.maxConnections;
  }

  /**
   * Closes idle duplicates and, with `room`, what must go to make room for one more connection (see
   * {@link connectionsToClose}): a duplicate is dropped, the last connection to a node drained.
   */
  closeConnections(room: boolean): void {
    const closing = connectionsToClose(this.inUse(), this.self, this.maxConnections, Date.now(), room, this.keep);
    for (const connection of closing) {
      const kept = this.forNode(connection.node).some((c) => c !== connection && !closing.includes(c));
      if (kept) {
        this.counters.duplicatesClosed++;
        this.drop(connection);
      } else {
        this.counters.connectionsEvicted++;
        this.drain(connection, true);
      }
    }
  }

  /**
   * Stops using an open connection without losing what is in flight on it (see the header): with
   * `notify`, tells the other end first; it leaves the connections in use at once and is dropped
   * `DRAIN_MS` later. One that is not open is dropped at once.
   */
  drain(connection: Connection, notify: boolean): void {
    if (!connection.open || connection.dataConnection === undefined) {
      this.drop(connection);
      return;
    }
    if (notify) this.hooks.write(connection, framesOf(DRAIN_NOTICE));
    this.remove(connection);
    connection.draining = true;
    this.draining.add(connection);
    connection.openTimer = setTimeout(() => this.drop(connection), DRAIN_MS);
  }

  /** Stops tracking `connection` and closes it soon; what waited on it goes to another open connection to its node, if any. */
  drop(connection: Connection): void {
    if (connection.openTimer) clearTimeout(connection.openTimer);
    const settingUp = connection.outbound && connection.dataConnection !== undefined && !connection.open;
    this.remove(connection);
    this.draining.delete(connection);
    if (connection.queue.length > 0) this.hooks.handOver(connection, this.toUse(connection.node));
    connection.open = false;
    connection.dropped = true;
    if (connection.dataConnection !== undefined) this.hooks.close(connection.dataConnection);
    this.hooks.dropped(connection, settingUp);
  }

  /** Drops every connection to `node`, draining ones included. */
  dropNode(node: NodeId): void {
    for (const c of [...this.forNode(node)]) this.drop(c);
    for (const c of [...this.draining]) if (c.node === node) this.drop(c);
  }

  /** Drops every connection. */
  dropAll(): void {
    for (const node of this.nodes()) this.dropNode(node);
    for (const c of [...this.draining]) this.drop(c);
  }

  /** Removes a connection from those in use. */
  private remove(connection: Connection): void {
    const list = this.byNode.get(connection.node);
    if (!list) return;
    const rest = list.filter((c) => c !== connection);
    if (rest.length > 0) this.byNode.set(connection.node, rest);
    else this.byNode.delete(connection.node);
  }
}
