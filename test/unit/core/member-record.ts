/** A member record as the unit tests of the core build them. */
import type { MemberRecord } from '../../../src/core/membership.js';
import type { NodeId } from '../../../src/core/types.js';

/** The record of `id`, up with capacity 1 since `joinedAtMs`, at version 1 and incarnation 0, unsigned. */
export const peerRecord = (id: NodeId, joinedAtMs: number): MemberRecord => ({
  id,
  capacity: 1,
  status: 'up',
  version: 1,
  joinedAtMs,
  incarnation: 0,
  history: [{ atMs: joinedAtMs, capacity: 1 }],
  pendingPartitions: [],
  handoffPartitions: [],
});
