/**
 * Test keys for the simulation (issue 16: "the simulator may use test keys"): a stand-in for the
 * Ed25519 authority that signs and checks synchronously (already-resolved promises), so that a seed
 * replays exactly, while every code path of signed membership runs as in a tab: records and removals
 * carry a public key and a 64-byte signature, and a wrong one is refused.
 *
 *   public key of node n = SHA-256("test-key/" + n)
 *   signature            = SHA-512("test-secret/" + n ‖ MessagePack(fields))
 *
 * NOT a signature scheme: anyone who knows an id can sign for it. The real scheme is tested with real
 * keys in test/unit/core/membership-verifier.test.ts and test/unit/net/handshake.test.ts.
 */
import { encode } from '@msgpack/msgpack';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import type { MembershipAuthority } from '../../src/core/membership.js';
import type { NodeId } from '../../src/core/types.js';

const idsByKey = new Map<string, NodeId>();

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function testSignature(node: NodeId, fields: unknown[]): Uint8Array {
  const secret = new TextEncoder().encode(`test-secret/${node}`);
  const body = encode(fields);
  const bytes = new Uint8Array(secret.byteLength + body.byteLength);
  bytes.set(secret);
  bytes.set(body, secret.byteLength);
  return sha512(bytes);
}

/** The test public key of `node`. */
export function testPublicKey(node: NodeId): Uint8Array {
  const key = sha256(new TextEncoder().encode(`test-key/${node}`));
  idsByKey.set(hex(key), node);
  return key;
}

/** The test authority of `node` (see the file header). */
export function testAuthority(node: NodeId): MembershipAuthority {
  return {
    publicKey: testPublicKey(node),
    sign: (fields) => Promise.resolve(testSignature(node, fields)),
    verify: (publicKey, fields, signature) => {
      const owner = idsByKey.get(hex(publicKey));
      return Promise.resolve(owner !== undefined && hex(testSignature(owner, fields)) === hex(signature));
    },
    nodeIdOf: (publicKey) => Promise.resolve(idsByKey.get(hex(publicKey)) ?? 'unknown'),
  };
}
