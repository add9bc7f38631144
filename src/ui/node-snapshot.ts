/**
 * What one redraw reads from the node, once, and hands to every part it draws (the header and the
 * explorer's panels): the ring, the members, their colours, how this node sees each of them, and the
 * time. Reading it once keeps the parts of one redraw consistent with each other.
 */
import type { DynamoNode, MemberRecord, Ring } from '../index.js';
import { nodeColours } from './views.js';

/** How this node sees node `id`: 'this tab', 'cut off' (this node is disconnected), or its peer health ('alive', 'suspect', 'unreachable', 'unknown'). */
export type SeenFrom = (id: string) => string;

/** The node's state as one redraw shows it. */
export interface NodeSnapshot {
  ring: Ring;
  members: MemberRecord[];
  /** A colour per member (stable per node as members come and go). */
  colours: ReadonlyMap<string, string>;
  seen: SeenFrom;
  /** Wall-clock time of the redraw, ms. */
  nowMs: number;
}

/** The part of the node a snapshot reads. */
export type SnapshotNode = Pick<DynamoNode, 'id' | 'connected' | 'peerHealth' | 'ring' | 'members'>;

/** How `node` sees each node right now (its failure detector's view, §4.8). */
export function seenFrom(node: SnapshotNode): SeenFrom {
  const health = new Map(node.peerHealth().map((h) => [h.id, h.status] as const));
  return (id) => (id === node.id ? 'this tab' : !node.connected ? 'cut off' : (health.get(id) ?? 'unknown'));
}

/** Reads a {@link NodeSnapshot} of `node` at `nowMs` (ms). */
export function takeSnapshot(node: SnapshotNode, nowMs: number): NodeSnapshot {
  const ring = node.ring();
  const members = node.members();
  return { ring, members, colours: nodeColours(members), seen: seenFrom(node), nowMs };
}
