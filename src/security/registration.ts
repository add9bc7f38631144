/**
 * Signed registration with the signaling server (DESIGN.md §3 "Security"): a PeerJS id
 * `dyn-<tag>-<node>` may be registered only by the holder of node's key, so a closed tab's id cannot be
 * squatted (the server would otherwise hand the squatter the messages queued for it).
 *
 * The client adds three query parameters to its WebSocket URL:
 *   pk  = base64url raw Ed25519 public key (its node id must be the id's node part)
 *   ts  = the client's clock, ms since the epoch
 *   sig = base64url Ed25519 signature of UTF-8 "tabdynamo-register/v1\n<peer id>\n<ts>"
 * The server accepts a timestamp within {@link REGISTRATION_WINDOW_MS} of its own clock and each
 * signature once (a replay cache covering the window), so a URL read from a log is useless later.
 */
import { fromBase64Url, toBase64Url, utf8 } from './encoding.js';
import { nodeIdOf, signBytes, verifySignature, type NodeKey } from './node-key.js';

/** How far a registration's timestamp may be from the server's clock, ms. */
export const REGISTRATION_WINDOW_MS = 120_000;

/** What a registration signs. */
export function registrationMessage(peerId: string, timestampMs: number): Uint8Array {
  return utf8(`tabdynamo-register/v1\n${peerId}\n${timestampMs}`);
}

/** The query parameters (`pk`, `ts`, `sig`) proving that `key` may register `peerId` now. */
export async function registrationParams(key: Pick<NodeKey, 'publicKey' | 'privateKey'>, peerId: string, nowMs: number): Promise<Record<'pk' | 'ts' | 'sig', string>> {
  const ts = Math.floor(nowMs);
  const signature = await signBytes(key, registrationMessage(peerId, ts));
  return { pk: toBase64Url(key.publicKey), ts: String(ts), sig: toBase64Url(signature) };
}

/** PeerJS ids of tab nodes: `dyn-<16-char tag>-<24-char node id>` (base32 lowercase). */
const PEER_ID = /^dyn-([a-z2-7]{16})-([a-z2-7]{24})$/;

/** Result of {@link verifyRegistration}. */
export type RegistrationCheck = { ok: true; tag: string; nodeId: string } | { ok: false; reason: string };

/**
 * Checks a registration request: the id's shape, its node part against the public key, the
 * timestamp window and the signature; `seen` (signatures already accepted, with their timestamps)
 * refuses a replay (also one checked concurrently with the original) and is pruned here. Never throws.
 */
export async function verifyRegistration(peerId: string, params: URLSearchParams, nowMs: number, seen: Map<string, number>): Promise<RegistrationCheck> {
  const shape = PEER_ID.exec(peerId);
  if (shape === null) return { ok: false, reason: 'malformed peer id' };
  const publicKey = fromBase64Url(params.get('pk') ?? '');
  const signature = fromBase64Url(params.get('sig') ?? '');
  const tsText = params.get('ts') ?? '';
  const ts = /^\d{1,16}$/.test(tsText) ? Number(tsText) : NaN;
  if (publicKey === undefined || signature === undefined || !Number.isFinite(ts)) return { ok: false, reason: 'missing or malformed proof' };
  if (Math.abs(nowMs - ts) > REGISTRATION_WINDOW_MS) return { ok: false, reason: 'timestamp outside the window' };
  for (const [sig, at] of seen) if (Math.abs(nowMs - at) > REGISTRATION_WINDOW_MS) seen.delete(sig);
  const sigText = params.get('sig')!;
  if (seen.has(sigText)) return { ok: false, reason: 'replayed registration' };
  // Reserved before the awaits below: two concurrent checks of one signature must not both pass.
  seen.set(sigText, ts);
  if ((await nodeIdOf(publicKey)) !== shape[2]) {
    seen.delete(sigText);
    return { ok: false, reason: 'key does not match the node id' };
  }
  if (!(await verifySignature(publicKey, registrationMessage(peerId, ts), signature))) {
    seen.delete(sigText);
    return { ok: false, reason: 'bad signature' };
  }
  return { ok: true, tag: shape[1]!, nodeId: shape[2]! };
}
