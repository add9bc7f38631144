/**
 * Message encoding on the wire: MessagePack (@msgpack/msgpack), which carries `Uint8Array` values as
 * binary without base64. Decoding yields `unknown`: the core validates it (`parseMessage`).
 */
import { decode, encode } from '@msgpack/msgpack';
import type { Message } from '../core/messages.js';

/** Largest encoded message a node sends or accepts, in bytes: a 4 MiB version set plus headroom. */
export const MAX_MESSAGE_BYTES = 6 * 1024 * 1024;

/** Encodes a message. */
export function encodeMessage(message: Message): Uint8Array {
  return encode(message);
}

/**
 * Decodes bytes from a peer into an untrusted value.
 * @throws Error when the bytes are not one MessagePack value (callers drop and count the message).
 */
export function decodeMessage(bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) throw new Error(`message of ${bytes.byteLength} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  return decode(bytes, { maxStrLength: MAX_MESSAGE_BYTES, maxBinLength: MAX_MESSAGE_BYTES, maxArrayLength: 100_000, maxMapLength: 1_000 });
}
