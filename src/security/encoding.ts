/**
 * Text encodings of keys, secrets and signatures (@scure/base, never hand-written).
 *
 * - base64url without padding (RFC 4648 §5): secrets in invitation links, keys and signatures in URLs.
 * - lowercase base32 without padding (RFC 4648 §6, alphabet a–z 2–7): node ids and signaling tags, so
 *   that they fit `[a-z0-9]+` (PeerJS ids, database names, Web Lock names).
 */
import { base32nopad, base64urlnopad } from '@scure/base';

/** Bytes as unpadded base64url. */
export function toBase64Url(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes);
}

/**
 * Unpadded base64url as bytes.
 * @returns undefined when `text` is not valid unpadded base64url.
 */
export function fromBase64Url(text: string): Uint8Array | undefined {
  try {
    return base64urlnopad.decode(text);
  } catch {
    return undefined;
  }
}

/** Bytes as unpadded lowercase base32 (a–z, 2–7). */
export function toBase32(bytes: Uint8Array): string {
  return base32nopad.encode(bytes).toLowerCase();
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

/** The concatenation of `parts`. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** A copy of `bytes` backed by a plain ArrayBuffer (what WebCrypto's typings ask for). */
export function ownBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

