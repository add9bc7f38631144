/**
 * One connection as the PeerJS transport tracks it (DESIGN.md §2): the record every other piece of
 * the transport reads and updates, and the state it is reported in (`PeerjsTransport.connectionStates`).
 *
 *   waiting ──▶ opening ──▶ (authenticating) ──▶ open ──▶ draining ──▶ dropped
 *      │ for a setup slot      │ handshake.ts      │ evicted: closes DRAIN_MS later
 *      └───────────────────────┴───────────────────┴──▶ dropped (failed, timed out, refused, closed)
 *
 * `waiting`: no PeerJS connection yet (see `maxOpening`, connection-dialer.ts); `opening`: its PeerJS
 * connection is being set up; `open`: data flows both ways; `draining`: evicted, no longer counted or
 * sent on, kept open until what was on its way arrived (connection-table.ts); `dropped`: no longer
 * tracked, its PeerJS connection closed or about to be (close-queue.ts).
 */
import type { DataConnection } from 'peerjs';
import type { NodeId } from '../core/types.js';
import type { ConnectionView } from './connection-policy.js';
import type { SetupPath } from './signaling-router.js';

/** One connection to a node: what the connection policy reads, plus the transport's own state of it. */
export interface Connection extends ConnectionView {
  /** Its PeerJS connection; undefined while it waits for a setup slot (an outbound one, see `maxOpening`). */
  dataConnection: DataConnection | undefined;
  /** When it was made or its setup started, ms (setup times are measured from it). */
  createdMs: number;
  /** Frames waiting for it to open, in order. */
  queue: Uint8Array[];
  /** The other end reads batches (it sent `link-features`, batching.ts). */
  takesBatches: boolean;
  /** Encoded messages of this turn of the event loop, to be written as one batch at its end. */
  outbox: Uint8Array[];
  outboxBytes: number;
  /** Its open timeout while it opens; its close timer while it drains. */
  openTimer: ReturnType<typeof setTimeout> | undefined;
  /** No longer tracked (its PeerJS connection may still be waiting to be closed, see close-queue.ts). */
  dropped: boolean;
  /** Evicted, but kept open for `DRAIN_MS` so that what the other end sent meanwhile still arrives. */
  draining: boolean;
  // Reassembly of the frames it receives (framing.ts `acceptFrame`).
  buffer: Uint8Array | undefined;
  filled: number;
  discarded: number;
}

/** A new connection to `node`, neither started nor open. */
export function newConnection(node: NodeId, outbound: boolean, nowMs: number): Connection {
  return {
    node,
    outbound,
    dataConnection: undefined,
    open: false,
    superseded: false,
    queue: [],
    takesBatches: false,
    outbox: [],
    outboxBytes: 0,
    createdMs: nowMs,
    lastUsedMs: nowMs,
    openTimer: undefined,
    dropped: false,
    draining: false,
    awaitingReply: false,
    buffer: undefined,
    filled: 0,
    discarded: 0,
  };
}

/** One connection, as {@link PeerjsTransport.connectionStates} reports it (for diagnostics). */
export interface ConnectionState {
  node: NodeId;
  /** Opened by this node (else accepted). */
  outbound: boolean;
  /**
   * `waiting`: for a setup slot (see `maxOpening`); `opening`: being set up; `open`: data flows;
   * `draining`: evicted, closing once what is on its way arrived.
   */
  state: 'waiting' | 'opening' | 'open' | 'draining';
  /** Nothing is sent on it any more: the node connected again (see {@link ConnectionView.superseded}). */
  superseded: boolean;
  /** Frames waiting for it to open. */
  queuedFrames: number;
  /** Since it was made (or its setup started), ms. */
  ageMs: number;
  /** Since the last send or receive on it, ms. */
  idleMs: number;
  /** How it was set up (the path of its signaling), once known. */
  setup?: SetupPath;
  /** The data channel is open and the handshake is under way (messages wait for it). */
  authenticating?: boolean;
}

/**
 * The state of `connection` at `nowMs`, with what only others know of it: whether its handshake is
 * under way (connection-authentication.ts) and how it was signalled (signaling-router.ts).
 */
export function connectionState(connection: Connection, nowMs: number, authenticating: boolean, setup: SetupPath | undefined): ConnectionState {
  const c = connection;
  return {
    node: c.node,
    outbound: c.outbound,
    state: c.draining ? 'draining' : c.open ? 'open' : c.dataConnection === undefined ? 'waiting' : 'opening',
    superseded: c.superseded,
    queuedFrames: c.queue.length,
    ageMs: nowMs - c.createdMs,
    idleMs: nowMs - c.lastUsedMs,
    ...(authenticating ? { authenticating: true } : {}),
    ...(setup !== undefined ? { setup } : {}),
  };
}
