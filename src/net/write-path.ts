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
 * On a connection whose other end reads batches (batching.ts), small messages sent in one turn of the
 * event loop wait in the connection's outbox and leave together, as one `link-batch`, when the turn
 * ends (a microtask) or the outbox is full; every other write on the connection writes the outbox
 * first, so the order of messages is the order they were sent in.
 *
 * Buffered-amount backpressure is PeerJS's own (peerjs 1.5.5 `DataConnection._bufferedSend`): above
 * 8 MiB in the data channel's `bufferedAmount`, frames wait in PeerJS's buffer and are retried every
 * 50 ms; this module adds none. Frames queued on a connection that is dropped before it opens go to
 * another open connection to the same node, else they are lost (the core's request deadlines notice).
 */
import type { Message } from '../core/messages.js';
import { BATCH_MAX_BYTES, BATCHED_MESSAGE_MAX_BYTES, type LinkBatch } from './batching.js';
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
    this.flushOutbox(connection);
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

  /**
   * Sends one encoded message on `connection`: into the connection's outbox when the other end reads
   * batches and the message is small (written with the others of this turn at its end), else as
   * {@link send} does.
   */
  sendEncoded(connection: Connection, bytes: Uint8Array): void {
    if (!connection.open || connection.dropped || !connection.takesBatches || bytes.byteLength > BATCHED_MESSAGE_MAX_BYTES) {
      this.send(connection, toFrames(bytes));
      return;
    }
    connection.lastUsedMs = Date.now();
    if (connection.outbox.length === 0) queueMicrotask(() => this.flushOutbox(connection));
    connection.outbox.push(bytes);
    connection.outboxBytes += bytes.byteLength;
    if (connection.outboxBytes >= BATCH_MAX_BYTES) this.flushOutbox(connection);
  }

  /** Writes the messages waiting in `connection`'s outbox: one alone, several as one batch. */
  flushOutbox(connection: Connection): void {
    const messages = connection.outbox;
    if (messages.length === 0) return;
    connection.outbox = [];
    connection.outboxBytes = 0;
    if (connection.dropped || connection.dataConnection === undefined) {
      this.counters.messagesDroppedUnsent += messages.length;
      return;
    }
    if (messages.length > 1) this.counters.batchesSent++;
    const batch: LinkBatch = { type: 'link-batch', messages };
    this.write(connection, messages.length === 1 ? toFrames(messages[0]!) : framesOf(batch));
  }

  /** Writes `frames` on a started connection now; after them, a reply may be on its way (see `awaitingReply`). */
  write(connection: Connection, frames: readonly Uint8Array[]): void {
    this.flushOutbox(connection);
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
    this.flushOutbox(connection);
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
    if (from.outbox.length > 0) {
      // Small messages of this turn waiting on `from` (it was open): they go on `to` when it is open.
      const messages = from.outbox;
      from.outbox = [];
      from.outboxBytes = 0;
      if (to?.open) for (const bytes of messages) this.sendEncoded(to, bytes);
      else this.counters.messagesDroppedUnsent += messages.length;
    }
    if (from.queue.length === 0) return;
    if (to?.open) this.write(to, from.queue);
    else this.counters.messagesDroppedUnsent += messagesIn(from.queue);
    from.queue = [];
  }
}
