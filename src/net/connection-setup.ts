/**
 * Connection setup in the PeerJS transport: from a PeerJS connection, made by this node
 * (connection-dialer.ts) or by the other node (`accept`), to an open connection messages flow on.
 *
 *   dialer: started ──┐
 *                     ├─▶ wire: open timer, PeerJS events ──▶ data channel open ──▶ handshake ──▶ opened
 *   accept ───────────┘        │ no open in time, error,         (connection-authentication.ts,
 *     │ foreign id, not raw:   ▼ closed, ICE failed                when authentication is on)
 *     ▼ refused, counted     dropped (connection-table.ts)
 *
 * Once open, what waited on the connection is written (write-path.ts), its setup time recorded,
 * the cap trimmed if an accepted connection took it over, and the next waiting dial admitted.
 */
import type { DataConnection } from 'peerjs';
import type { NodeId } from '../core/types.js';
import type { Connection } from './connection.js';
import type { ConnectionAuthentication } from './connection-authentication.js';
import type { ConnectionTable } from './connection-table.js';
import { HandshakeError } from './handshake.js';
import { nodeIdOfPeer } from './peer-ids.js';
import { connectionErrorKey } from './peerjs-errors.js';
import type { SignalingRouter } from './signaling-router.js';
import { countError, SetupTimes, type TransportCounters } from './transport-stats.js';
import type { WritePath } from './write-path.js';
import { LINK_FEATURES } from './batching.js';

/** What connection setup works with. */
export interface SetupOptions {
  self: NodeId;
  cluster: string;
  table: ConnectionTable;
  counters: TransportCounters;
  writes: WritePath;
  /** Handshakes of the connections; undefined: connections are open as soon as their data channel is. */
  auth: ConnectionAuthentication<Connection> | undefined;
  /** The signaling router, told which connections opened (it counts setups per path). */
  signaling: SignalingRouter | undefined;
  /** How long a connection may take to open, ms. */
  connectTimeoutMs: number;
  /** Whether the transport is disconnected (new connections are refused). */
  offline(): boolean;
  /** A setup ended: the dialer may start the next waiting connection. */
  admit(): void;
  /** Reports what was refused or dropped, and why. */
  onDrop(from: NodeId, reason: string): void;
  /** Data PeerJS received on a connection (read-path.ts). */
  onData(connection: Connection, data: unknown): void;
}

/** Sets connections up, in both directions, until they are open. */
export class ConnectionSetup {
  /** How long connections took to open (`stats().setupMs`). */
  readonly setupTimes = new SetupTimes();

  constructor(private readonly options: SetupOptions) {}

  /** A connection the other node opened: refused unless it comes from a node of this cluster, with raw serialization. */
  accept(dataConnection: DataConnection): void {
    const { table, self } = this.options;
    const node = nodeIdOfPeer(this.options.cluster, dataConnection.peer);
    if (this.options.offline()) {
      dataConnection.close();
      return;
    }
    if (node === undefined || node === self || dataConnection.serialization !== 'raw') {
      this.options.auth?.countRefusedConnection();
      this.options.onDrop(dataConnection.peer.slice(0, 80), `connection: refused a connection from ${dataConnection.peer.slice(0, 80)}`);
      dataConnection.close();
      return;
    }
    // The node connects although we hold an open connection to it: it has none on its side any
    // more, so ours is dead at the other end (its close not noticed here yet). Sending on it would lose
    // messages; they wait for this new connection instead.
    for (const c of table.forNode(node)) if (c.open) c.superseded = true;
    table.closeConnections(true);
    const accepted = table.add(node, false);
    this.wire(accepted, dataConnection);
    // Our own connection to it still waits for a setup slot: this one carries its messages instead.
    for (const c of [...table.forNode(node)]) {
      if (c.dataConnection !== undefined || c === accepted) continue;
      accepted.queue.push(...c.queue);
      c.queue = [];
      table.drop(c);
    }
  }

  /** Attaches a PeerJS connection to its record: open timer and events. */
  wire(connection: Connection, dataConnection: DataConnection): void {
    const { table, counters, auth } = this.options;
    connection.dataConnection = dataConnection;
    // Either way a connection that does not open in time is dropped (an accepted one too: messages
    // queued on it would otherwise wait forever, and nothing else would be tried).
    connection.openTimer = setTimeout(() => {
      if (connection.open) return;
      if (auth?.inProgress(connection)) auth.refuse(connection, new HandshakeError('timeout', 'no proof in time'));
      else {
        counters.connectFailures++;
        table.drop(connection);
      }
    }, this.options.connectTimeoutMs);
    dataConnection.on('open', () => {
      // Dropped before it opened (timed out, evicted); its close is on the way.
      if (connection.dropped) return;
      this.options.signaling?.connectionOpened(dataConnection.connectionId);
      // A peer connection that failed (ICE consent lost, its TURN allocation gone) can leave its data
      // channel saying "open" while nothing gets through: drop it, so messages go elsewhere.
      const pc = dataConnection.peerConnection as RTCPeerConnection | undefined;
      pc?.addEventListener('connectionstatechange', () => {
        if (pc.connectionState !== 'failed' || connection.dropped) return;
        countError(counters, 'connection:failed');
        table.drop(connection);
      });
      if (auth === undefined) this.opened(connection);
      // Nothing is taken from, or sent on, the channel before both ends proved themselves.
      else auth.start(connection, connection.node, connection.outbound, pc);
    });
    dataConnection.on('data', (data) => this.options.onData(connection, data));
    dataConnection.on('close', () => table.drop(connection));
    dataConnection.on('error', (error: { type?: string }) => {
      countError(counters, connectionErrorKey(error));
      table.drop(connection);
    });
  }

  /** The data channel is open (and authenticated, when authentication is on): messages flow. */
  opened(connection: Connection): void {
    const { table, counters } = this.options;
    connection.open = true;
    counters.connectionsOpened++;
    this.setupTimes.record(counters.connectionsOpened, Date.now() - connection.createdMs);
    if (connection.openTimer) clearTimeout(connection.openTimer);
    this.options.writes.flush(connection);
    // Small messages of one turn may come to this node as one batch (batching.ts).
    this.options.writes.writeNow(connection, LINK_FEATURES);
    // An accepted connection may have taken the cap over while the others were still opening:
    // back under it as soon as one of those is open and can be drained.
    if (table.overCap()) table.closeConnections(false);
    if (connection.outbound) this.options.admit();
  }
}
