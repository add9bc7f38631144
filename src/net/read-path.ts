/**
 * The read path of the PeerJS transport: what a data channel hands over (bytes, untrusted) becomes
 * one decoded message, counted, once its frames are all in (framing.ts, wire.ts).
 *
 *   data ──▶ bytes? ──▶ acceptFrame (reassembly per connection) ──▶ decodeMessage ──▶ message
 *              │ no          │ malformed frame                          │ undecodable
 *              ▼             ▼                                          ▼
 *           reported as a drop (`onDrop`)                      returned: the caller decides
 *                                                               (before the handshake: refused)
 *
 * Where a decoded message goes (handshake, drain notice, relayed signal, the core) is the transport's
 * business (peerjs-transport.ts `deliver`).
 */
import type { NodeId } from '../core/types.js';
import type { Connection } from './connection.js';
import { acceptFrame } from './framing.js';
import type { TransportCounters } from './transport-stats.js';
import { decodeMessage } from './wire.js';

/** What one piece of data from a connection came to. */
export type ReadResult =
  /** A whole message, decoded (untrusted: the core validates it). */
  | { message: unknown }
  /** A whole message that is not one MessagePack value. */
  | { undecodable: string }
  /** Nothing yet (a message's frames are still coming), or nothing usable (reported as a drop). */
  | undefined;

/** Reassembles and decodes what arrives on connections; counts frames and bytes received. */
export class ReadPath {
  constructor(
    private readonly counters: TransportCounters,
    /** Reports what was dropped, and why. */
    private readonly onDrop: (from: NodeId, reason: string) => void,
  ) {}

  /** Takes one piece of data PeerJS received on `connection`. */
  read(connection: Connection, data: unknown): ReadResult {
    connection.lastUsedMs = Date.now();
    connection.awaitingReply = false;
    let frame: Uint8Array;
    if (data instanceof ArrayBuffer) frame = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      this.onDrop(connection.node, `framing: received a ${typeof data} instead of bytes`);
      return undefined;
    }
    this.counters.framesReceived++;
    this.counters.bytesReceived += frame.byteLength;
    let bytes: Uint8Array | undefined;
    const discardedBefore = connection.discarded;
    try {
      bytes = acceptFrame(connection, frame);
    } catch (error) {
      this.onDrop(connection.node, (error as Error).message);
      return undefined;
    }
    if (connection.discarded > discardedBefore) this.onDrop(connection.node, 'framing: a message restarted before the previous one was complete');
    if (bytes === undefined) return undefined;
    try {
      return { message: decodeMessage(bytes) };
    } catch (error) {
      return { undecodable: `decoding: ${(error as Error).message}` };
    }
  }
}
