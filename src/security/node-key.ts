/**
 * A node's identity key (DESIGN.md §3 "Security"): an Ed25519 key pair made by WebCrypto, its
 * private half non-extractable, kept in the node's own IndexedDB database (a CryptoKey survives the
 * structured clone). The node id is derived from the public key, so nobody can claim an id without
 * the key:
 *
 *   node id = lowercase base32 of the first 15 bytes of SHA-256(raw 32-byte public key)   (24 chars)
 *
 * 120 bits: finding a key for a given id is a second-preimage search on SHA-256 truncated to 120 bits.
 * Ed25519 is RFC 8032; WebCrypto's Ed25519 is in the Secure Curves draft and in Chromium and Node 20+.
 */
import type { NodeId } from '../core/types.js';
import { ownBytes, toBase32 } from './encoding.js';

/** Length of a raw Ed25519 public key, bytes. */
export const PUBLIC_KEY_BYTES = 32;
/** Length of an Ed25519 signature, bytes. */
export const SIGNATURE_BYTES = 64;
/** Length of a node id derived from a key, characters. */
export const NODE_ID_LENGTH = 24;

/** A node's key pair and the id derived from it. */
export interface NodeKey {
  nodeId: NodeId;
  /** The raw public key (32 bytes). */
  publicKey: Uint8Array;
  /** Non-extractable: it can sign, never be read out. */
  privateKey: CryptoKey;
}

/** The stored form of a {@link NodeKey} (what goes into the node's IndexedDB meta store). */
export interface StoredNodeKey {
  publicKey: Uint8Array;
  privateKey: CryptoKey;
}

/** Makes a new Ed25519 key pair (private key non-extractable) and derives its node id. */
export async function generateNodeKey(): Promise<NodeKey> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { nodeId: await nodeIdOf(publicKey), publicKey, privateKey: pair.privateKey };
}

/**
 * The key stored for `nodeId`, when it is one and belongs to that id; undefined otherwise (nothing
 * stored, a foreign shape, or a key of another id).
 */
export async function restoreNodeKey(nodeId: NodeId, stored: unknown): Promise<NodeKey | undefined> {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const { publicKey, privateKey } = stored as Partial<StoredNodeKey>;
  if (!(publicKey instanceof Uint8Array) || publicKey.byteLength !== PUBLIC_KEY_BYTES) return undefined;
  if (typeof CryptoKey === 'undefined' || !(privateKey instanceof CryptoKey) || privateKey.type !== 'private') return undefined;
  if ((await nodeIdOf(publicKey)) !== nodeId) return undefined;
  return { nodeId, publicKey, privateKey };
}

/** The id of the node whose raw public key is `publicKey` (see the file header). */
export async function nodeIdOf(publicKey: Uint8Array): Promise<NodeId> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', ownBytes(publicKey)));
  return toBase32(digest.subarray(0, 15));
}

/** Signs `bytes` with the node's private key: a 64-byte Ed25519 signature. */
export async function signBytes(key: Pick<NodeKey, 'privateKey'>, bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, ownBytes(bytes)));
}

/** Imported public keys, by their base32 text (bounded: oldest dropped first). */
const importedKeys = new Map<string, Promise<CryptoKey>>();
const MAX_IMPORTED_KEYS = 4096;

function importPublicKey(publicKey: Uint8Array): Promise<CryptoKey> {
  const name = toBase32(publicKey);
  let key = importedKeys.get(name);
  if (key === undefined) {
    key = crypto.subtle.importKey('raw', ownBytes(publicKey), { name: 'Ed25519' }, false, ['verify']);
    importedKeys.set(name, key);
    if (importedKeys.size > MAX_IMPORTED_KEYS) importedKeys.delete(importedKeys.keys().next().value!);
  }
  return key;
}

/**
 * Whether `signature` is the Ed25519 signature of `bytes` under the raw public key `publicKey`.
 * Never throws: a malformed key or signature is simply not valid.
 */
export async function verifySignature(publicKey: Uint8Array, bytes: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES || signature.byteLength !== SIGNATURE_BYTES) return false;
  try {
    return await crypto.subtle.verify({ name: 'Ed25519' }, await importPublicKey(publicKey), ownBytes(signature), ownBytes(bytes));
  } catch {
    importedKeys.delete(toBase32(publicKey));
    return false;
  }
}
