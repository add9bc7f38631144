/**
 * The cluster secret (DESIGN.md §3 "Security"): 32 random bytes made by the first tab of a cluster in
 * a browser, shared by that browser's tabs (localStorage) and given to other browsers only inside an
 * invitation link's fragment (never sent to a server: browsers do not send the fragment).
 *
 * Everything else is derived with HKDF-SHA-256 (RFC 5869), salt "tabdynamo/v1", info naming the use
 * and the cluster, so that no derived value reveals the secret or another derived value:
 *
 *   tag           = base32(HKDF(secret, "signaling-tag/" + cluster, 10 bytes))   16 chars, public
 *   handshakeKey  = HMAC-SHA-256 key from HKDF(secret, "handshake/" + cluster)     proves membership
 *
 * The tag names the cluster towards the signaling server (PeerJS ids `dyn-<tag>-<node>`, the scoped
 * listing, the BroadcastChannel), so the server never learns a cluster name, and two clusters of the
 * same name with different secrets never meet.
 */
import { ownBytes, toBase32, utf8 } from './encoding.js';

/** Length of a cluster secret, bytes. */
export const SECRET_BYTES = 32;
/** Length of a signaling tag, characters. */
export const TAG_LENGTH = 16;

/** Values derived from a cluster's secret. */
export interface ClusterKeys {
  /** Public name of the cluster at the signaling server and on BroadcastChannel (16 chars a–z 2–7). */
  tag: string;
  /** HMAC-SHA-256 key; a MAC under it proves knowledge of the secret (handshake.ts). */
  handshakeKey: CryptoKey;
}

/** A new random cluster secret. */
export function newClusterSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
}

const SALT = utf8('tabdynamo/v1');

/**
 * Derives the tag and handshake key of `cluster` from its secret.
 * @throws RangeError when `secret` is not {@link SECRET_BYTES} long.
 */
export async function deriveClusterKeys(secret: Uint8Array, cluster: string): Promise<ClusterKeys> {
  if (secret.byteLength !== SECRET_BYTES) throw new RangeError(`a cluster secret is ${SECRET_BYTES} bytes, got ${secret.byteLength}`);
  const master = await crypto.subtle.importKey('raw', ownBytes(secret), 'HKDF', false, ['deriveBits', 'deriveKey']);
  const tagBits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: utf8(`signaling-tag/${cluster}`) }, master, 80);
  const handshakeKey = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: utf8(`handshake/${cluster}`) },
    master,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign', 'verify'],
  );
  return { tag: toBase32(new Uint8Array(tagBits)), handshakeKey };
}
