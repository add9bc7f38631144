/**
 * The one place where PeerJS's errors — events with string types, and exceptions from `connect()` —
 * become this transport's terms: a counter key (`stats().transport.errors`) and, for a peer the
 * signaling server says it does not know (an EXPIRE, which PeerJS reports as `peer-unavailable`),
 * that node, which the core then treats as unreachable (`NodeCore.reportUnreachable`: it suspects the
 * node at once and fails its pending requests with `PeerUnreachableError`, core/errors.ts).
 *
 * Two conditions are kept apart here:
 *   - peer unreachable: the server does not know the node (its tab is closed) → `unreachable`;
 *   - no signaling path: this node cannot signal right now (no server, no tab of this browser, no
 *     connection to relay through) → only that connection attempt fails, counted `connect:no-path`
 *     (see {@link connectFailureKey}); the node is not reported, since the fault is this node's.
 */
import type { NodeId } from '../core/types.js';
import { nodeIdOfPeer } from './peer-ids.js';

/** What an error of the peer means here. */
export interface PeerErrorMeaning {
  /** Key under which it is counted: PeerJS's error type (`peer-unavailable`, `network`, `webrtc`, …). */
  counter: string;
  /** The node that cannot be reached (`peer-unavailable`: an EXPIRE from the signaling server). */
  unreachable?: NodeId;
}

/**
 * Reads an error PeerJS emitted on the peer (peerjs 1.5.5 `PeerErrorType`). `peer-unavailable` carries
 * the peer id only in its message ("Could not connect to peer dyn-…").
 */
export function peerErrorMeaning(cluster: string, error: { type?: string; message?: string }): PeerErrorMeaning {
  const counter = typeof error.type === 'string' && error.type !== '' ? error.type : 'unknown';
  if (counter !== 'peer-unavailable') return { counter };
  const match = /dyn-[a-z0-9-]+/.exec(error.message ?? '');
  const node = match ? nodeIdOfPeer(cluster, match[0]) : undefined;
  return node === undefined ? { counter } : { counter, unreachable: node };
}

/** Counter key of an error a connection emitted (`connection:negotiation-failed`, …). */
export function connectionErrorKey(error: { type?: string } | undefined): string {
  return `connection:${error?.type ?? 'unknown'}`;
}

/**
 * Counter key of a connection that could not be started or was given up: `connect()` threw (the
 * browser refusing another RTCPeerConnection: `connect:UnknownError`), returned nothing
 * (`connect:peer-disconnected`), no signaling path could carry its signals (`connect:no-path`: this
 * node's signaling is down, not the node), or its offer got no answer (`connect:no-answer`). None of
 * these reports the node unreachable.
 */
export function connectFailureKey(reason: unknown): string {
  if (typeof reason === 'string') return `connect:${reason}`;
  return `connect:${reason instanceof Error ? reason.name : 'unknown'}`;
}
