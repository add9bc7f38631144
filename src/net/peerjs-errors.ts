/**
 * The one place where PeerJS's errors — events with string types, and exceptions from `connect()` —
 * become this transport's terms: a counter key (`stats().transport.errors`) and, for a peer PeerJS
 * (that is, the signaling router) says cannot be reached, that node, which the core then treats as
 * unreachable (its pending requests fail with `PeerUnreachableError`, core/errors.ts).
 */
import type { NodeId } from '../core/types.js';
import { nodeIdOfPeer } from './peer-ids.js';

/** What an error of the peer means here. */
export interface PeerErrorMeaning {
  /** Key under which it is counted: PeerJS's error type (`peer-unavailable`, `network`, `webrtc`, …). */
  counter: string;
  /** The node that cannot be reached (`peer-unavailable`: an EXPIRE from the server or the router). */
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
 * Counter key of a connection that could not be started: `connect()` threw (the browser refusing
 * another RTCPeerConnection: `connect:UnknownError`), returned nothing (`connect:peer-disconnected`),
 * or no signaling path reaches the node (`connect:no-path`), or its offer got no answer
 * (`connect:no-answer`).
 */
export function connectFailureKey(reason: unknown): string {
  if (typeof reason === 'string') return `connect:${reason}`;
  return `connect:${reason instanceof Error ? reason.name : 'unknown'}`;
}
