/**
 * Dialing: how the connections this node opens get started (DESIGN.md §2). A connection to a node
 * is made when the core first sends to it; it waits in the dial queue (dial-queue.ts, its messages
 * queued on it) until a setup slot is free (`maxOpening`) and the cap leaves room, then PeerJS is
 * asked to connect.
 *
 *   connect(node) ──▶ dial queue ──(slot free, room under the cap)──▶ start ──▶ PeerJS connect ──▶ wire
 *                                                                       │ no signaling path, or
 *                                                                       ▼ PeerJS cannot connect
 *                                                               dropped at once, counted `connect:<reason>`
 *
 * Why a setup slot: each setup takes several signaling round trips through the page's main thread; a
 * tab that starts or joins next to 29 others and opens all its connections at once made every setup
 * slow enough to time out (measured: medians of 5–11 s, p95 up to 18 s of the 20 s timeout, with 30
 * nodes on two cores). Room is made by evicting open connections (connection-table.ts), never one
 * still opening: when only connections still opening fill the cap, the queue waits for one of them to
 * open (it is tried again shortly, and whenever a setup ends).
 *
 * A connection no signaling path can reach now is not started (signaling-router.ts `canReach`): that
 * says nothing of the node, only that this node cannot signal right now, so only that attempt fails
 * (`connect:no-path`); the node is not reported unreachable.
 */
import type { DataConnection, Peer } from 'peerjs';
import type { NodeId } from '../core/types.js';
import type { Connection } from './connection.js';
import type { ConnectionTable } from './connection-table.js';
import { DialQueue } from './dial-queue.js';
import { peerIdOf } from './peer-ids.js';
import { connectFailureKey } from './peerjs-errors.js';
import type { SignalingRouter } from './signaling-router.js';
import { countConnectFailure, type TransportCounters } from './transport-stats.js';

/** How soon the dial queue looks again when only connections still opening fill the cap, ms. */
const ADMIT_RETRY_MS = 50;

/** What the dialer works with. */
export interface DialerOptions {
  peer: Peer;
  cluster: string;
  table: ConnectionTable;
  counters: TransportCounters;
  /** Most connections this node opened that are being set up at once. */
  maxOpening: number;
  /** The signaling router under `peer`; absent (a stand-in peer in unit tests): every node is assumed reachable. */
  signaling: SignalingRouter | undefined;
  /** Whether nothing may be started now (the transport is closed or disconnected). */
  stopped(): boolean;
  /** Attaches a started PeerJS connection to its record: open timer and events. */
  wire(connection: Connection, dataConnection: DataConnection): void;
}

/** Starts the connections this node opens, in order, as setup slots and room allow. */
export class ConnectionDialer {
  /** Outbound connections waiting for a setup slot or room under the cap (see {@link admit}). */
  private readonly queue = new DialQueue<Connection>(ADMIT_RETRY_MS);

  constructor(private readonly options: DialerOptions) {}

  /** Connections waiting for a setup slot right now. */
  get waiting(): number {
    return this.queue.size;
  }

  /** A new outbound connection to `node`, started now if it may be, else waiting its turn. */
  connect(node: NodeId): Connection {
    const connection = this.options.table.add(node, true);
    this.queue.push(connection);
    this.admit();
    if (this.queue.has(connection)) this.options.counters.connectsQueued++;
    return connection;
  }

  /** Takes `connection` out of the queue (it was dropped, or an accepted connection took its messages). */
  forget(connection: Connection): void {
    this.queue.remove(connection);
  }

  /** Forgets every waiting connection (the transport closes). */
  clear(): void {
    this.queue.clear();
  }

  /**
   * Starts waiting connections, first come first served, while a setup slot is free (`maxOpening`)
   * and the cap leaves room, making room by evicting open connections (see
   * `ConnectionTable.closeConnections`), never one still opening.
   */
  admit(): void {
    const { table } = this.options;
    this.queue.drain(
      () => {
        if (this.options.stopped() || table.openingCount() >= this.options.maxOpening) return 'stop';
        if (table.hasRoom()) return 'go';
        table.closeConnections(true);
        return table.hasRoom() ? 'go' : 'wait';
      },
      (connection) => {
        // Dropped meanwhile (evicted, disconnected): nothing to start.
        if (table.tracks(connection)) this.start(connection);
      },
    );
  }

  /**
   * Opens a tracked outbound connection. PeerJS returns nothing while the peer is disconnected from
   * the signaling server, and the browser throws when it will not create another RTCPeerConnection (a
   * page holds at most 500, closed ones until they are garbage-collected): the connection is then
   * dropped at once (its queued messages counted as lost) and the next send tries again. Left in
   * place, such a connection was used for every later send and queued them for good (seen in the
   * explorer bench: two nodes of a 15-node host page each queued hundreds of frames for four minutes,
   * and a partition handoff between them never finished).
   */
  private start(connection: Connection): void {
    const { table, counters, signaling } = this.options;
    if (signaling !== undefined && !signaling.canReach(connection.node)) {
      // No tab of this browser, no open connection to relay through, no server: starting a
      // connection (an RTCPeerConnection, costly to make and to close) could not even send its offer.
      // This node's signaling is down, not the other node: only this attempt fails.
      countConnectFailure(counters, connectFailureKey('no-path'));
      table.drop(connection);
      return;
    }
    let dataConnection: Connection['dataConnection'];
    let failure = connectFailureKey('peer-disconnected');
    try {
      dataConnection = this.options.peer.connect(peerIdOf(this.options.cluster, connection.node), { serialization: 'raw', reliable: true });
    } catch (error) {
      failure = connectFailureKey(error);
    }
    if (dataConnection === undefined) {
      countConnectFailure(counters, failure);
      table.drop(connection);
      return;
    }
    connection.createdMs = Date.now();
    this.options.wire(connection, dataConnection);
  }
}
