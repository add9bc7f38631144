/**
 * The core's {@link MembershipAuthority} in a tab: Ed25519 signatures (WebCrypto, node-key.ts) over
 * the MessagePack encoding of the signed fields, prefixed with the cluster's tag so that a record or
 * removal signed for one cluster means nothing in another.
 *
 *   signed bytes = msgpack([tag, ...fields])      fields: recordSigningFields / removalSigningFields
 */
import { encode } from '@msgpack/msgpack';
import type { MembershipAuthority } from '../core/membership.js';
import { nodeIdOf, signBytes, verifySignature, type NodeKey } from './node-key.js';

/** The authority of the node holding `key`, in the cluster whose signaling tag is `tag`. */
export function webCryptoAuthority(key: NodeKey, tag: string): MembershipAuthority {
  const bytes = (fields: unknown[]): Uint8Array => encode([tag, ...fields]);
  return {
    publicKey: key.publicKey,
    sign: (fields) => signBytes(key, bytes(fields)),
    verify: (publicKey, fields, signature) => verifySignature(publicKey, bytes(fields), signature),
    nodeIdOf,
  };
}
