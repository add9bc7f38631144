/**
 * The write path of the PeerJS transport: a message becomes MessagePack bytes (wire.ts), cut into
 * frames (framing.ts), queued on its connection until that opens, then written in order and counted,
 * on a reliable, ordered data channel with PeerJS's `raw` serialization (connection-dialer.ts).
 *
 *   send(connection, frames) ──▶ dropped?  ──▶ lost (counted in `messagesDroppedUnsent`)
 *                                 not open? ──▶ connection.queue ──(flush, once open)──┐
 *                                 open      ──▶ write ◀──────────────────────────────────┘
 *                                                 │ PeerJS DataConnection.send, one frame at a time
 *
 * Buffered-amount backpressure is PeerJS's own (peerjs 1.5.5 `DataConnection._bufferedSend`): above
 * 8 MiB in the data channel's `bufferedAmount`, frames wait in PeerJS's buffer and are retried every
 * 50 ms; this module adds none. Frames queued on a connection that is dropped before it opens go to
 * another open connection to the same node, else they are lost (the core's request deadlines notice).
 */
import type { Message } from '../core/messages.js';
import type { Connection } from './connection.js';
import { messagesIn, toFrames } from './framing.js';
import type { TransportCounters } from './transport-stats.js';
import { encodeMessage } from './wire.js';

/** The frames of one message (a core message, or one of the transport's own: relay envelope, drain notice, handshake). */
export function framesOf(message: unknown): Uint8Array[] {
  return toFrames(encodeMessage(message as Message));
}

/** Writes frames on connections, queueing them until a connection opens; counts frames and bytes sent. */
export class WritePath {
  constructor(private readonly counters: TransportCounters) {}

  /**
   * Sends `frames` (one message or more) on `connection`: written at once when it is open, queued
   * until it opens otherwise; lost (counted) when it was dropped already (it could not even start).
   */
  send(connection: Connection, frames: Uint8Array[]): void {
    if (connection.dropped) {
      this.counters.messagesDroppedUnsent++;
      return;
    }
    connection.lastUsedMs = Date.now();
    if (!connection.open) {
      connection.queue.push(...frames);
      return;
    }
    this.write(connection, frames);
  }

  /** Writes `frames` on a started connection now; after them, a reply may be on its way (see `awaitingReply`). */
  write(connection: Connection, frames: readonly Uint8Array[]): void {
    const dataConnection = connection.dataConnection;
    if (dataConnection === undefined) return;
    if (frames.length > 0) connection.awaitingReply = true;
    for (const frame of frames) {
      this.counters.framesSent++;
      this.counters.bytesSent += frame.byteLength;
      void dataConnection.send(frame);
    }
  }

  /** Writes one message on a connection at once, whatever waits in its queue (handshake messages, before it is open). */
  writeNow(connection: Connection, message: unknown): void {
    const dataConnection = connection.dataConnection;
    if (dataConnection === undefined || connection.dropped) return;
    for (const frame of framesOf(message)) {
      this.counters.framesSent++;
      this.counters.bytesSent += frame.byteLength;
      void dataConnection.send(frame);
    }
  }

  /** The connection opened: writes what waited for it, in order. */
  flush(connection: Connection): void {
    const queued = connection.queue;
    connection.queue = [];
    this.write(connection, queued);
  }

  /**
   * `from` is dropped: what waited on it goes to `to` when that is open, else it is lost (counted in
   * `messagesDroppedUnsent`, one per message the frames begin).
   */
  handOver(from: Connection, to: Connection | undefined): void {
    if (from.queue.length === 0) return;
    if (to?.open) this.write(to, from.queue);
    else this.counters.messagesDroppedUnsent += messagesIn(from.queue);
    from.queue = [];
  }
}
