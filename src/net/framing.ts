/**
 * Framing of encoded messages on a data channel. Chrome refuses data-channel messages over 256 KiB, so
 * a message is cut into frames of at most `FRAME_PAYLOAD_BYTES` sent over a reliable, ordered channel.
 * Frame layout (big-endian):
 *
 *     ┌──────────────┬──────────────┬──────────────────────────┐
 *     │ u32 total    │ u32 offset   │ payload (≤ 64 KiB)       │
 *     └──────────────┴──────────────┴──────────────────────────┘
 *
 * A receiver reassembles one message at a time per connection (frames of a message are contiguous on
 * an ordered channel) and refuses a total over `MAX_MESSAGE_BYTES` before allocating it.
 */
import { MAX_MESSAGE_BYTES } from './wire.js';

/** Payload bytes per frame. */
export const FRAME_PAYLOAD_BYTES = 64 * 1024;
const HEADER_BYTES = 8;

/** Cuts an encoded message into frames. */
export function toFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength || offset === 0; offset += FRAME_PAYLOAD_BYTES) {
    const payload = bytes.subarray(offset, Math.min(offset + FRAME_PAYLOAD_BYTES, bytes.byteLength));
    const frame = new Uint8Array(HEADER_BYTES + payload.byteLength);
    const view = new DataView(frame.buffer);
    view.setUint32(0, bytes.byteLength);
    view.setUint32(4, offset);
    frame.set(payload, HEADER_BYTES);
    frames.push(frame);
    if (bytes.byteLength === 0) break;
  }
  return frames;
}

/** How many messages `frames` begin (frames whose offset is 0). */
export function messagesIn(frames: readonly Uint8Array[]): number {
  let count = 0;
  for (const frame of frames) if (frame.byteLength >= HEADER_BYTES && new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(4) === 0) count++;
  return count;
}

/**
 * Reassembles frames of one connection.
 * A first frame arriving while a message is incomplete starts the new message and counts the partial
 * one in `state.discarded`.
 * @returns the complete message when this frame finished one, `undefined` while incomplete.
 * @throws Error for a malformed frame (the caller drops the partial message and counts it).
 */
export function acceptFrame(state: { buffer: Uint8Array | undefined; filled: number; discarded?: number }, frame: Uint8Array): Uint8Array | undefined {
  if (frame.byteLength < HEADER_BYTES) throw new Error('framing: frame shorter than its header');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const total = view.getUint32(0);
  const offset = view.getUint32(4);
  const payload = frame.subarray(HEADER_BYTES);
  if (total > MAX_MESSAGE_BYTES) throw new Error(`framing: message of ${total} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  if (offset === 0) {
    // A new message while one was incomplete: the partial one is lost; count it (the caller reports it).
    if (state.buffer !== undefined) state.discarded = (state.discarded ?? 0) + 1;
    state.buffer = new Uint8Array(total);
    state.filled = 0;
  }
  const buffer = state.buffer;
  if (buffer === undefined || buffer.byteLength !== total || offset !== state.filled || offset + payload.byteLength > total) {
    state.buffer = undefined;
    state.filled = 0;
    throw new Error('framing: frame out of sequence');
  }
  buffer.set(payload, offset);
  state.filled += payload.byteLength;
  if (state.filled < total) return undefined;
  state.buffer = undefined;
  state.filled = 0;
  return buffer;
}
