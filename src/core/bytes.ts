/**
 * Byte comparison shared by the core (digests, Merkle hashes, public keys, signatures). Not
 * constant-time: for public values only.
 */

/** True when `a` and `b` have the same length and bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
