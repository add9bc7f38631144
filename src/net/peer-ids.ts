/**
 * Node ids as PeerJS ids: `dyn-<cluster>-<node>`, so clusters sharing a signaling server never mix.
 */
import type { NodeId } from '../core/types.js';

/** The PeerJS id of a node in a cluster. */
export function peerIdOf(cluster: string, node: NodeId): string {
  return `dyn-${cluster}-${node}`;
}

/** The node id behind a PeerJS id of `cluster`, or undefined when it belongs to no node of it. */
export function nodeIdOfPeer(cluster: string, peerId: string): NodeId | undefined {
  const prefix = `dyn-${cluster}-`;
  if (!peerId.startsWith(prefix)) return undefined;
  const node = peerId.slice(prefix.length);
  return /^[a-z0-9]{1,64}$/.test(node) ? node : undefined;
}
