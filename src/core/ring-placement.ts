/**
 * Placement: which member owns which partition of the ring (paper §6.2 strategy 3; a "claim" in
 * riak_core's words). Pure and deterministic; `Ring.build` in `ring.ts` validates the members, sorts
 * them in join order and calls `replayJoins`.
 *
 * Owners are chosen by replaying the joins.
 *   Members are taken in join order — `joinedAtMs`, then id, both gossiped with the member — and each
 *   join is applied to the ring of the members before it:
 *     1. Quotas. Every member's share is Q * capacity / total capacity; it gets floor(share) or
 *        ceil(share) partitions, Q in total, by the largest-remainder method. Equal remainders (always
 *        the case for equal capacities) go to the members already holding more, so no one gives up a
 *        partition it would have to take back.
 *     2. Release. A member holding more than its quota releases the surplus: the partitions it scores
 *        lowest (a per-(partition, node) pseudo-random score from MD5 of the id, as in rendezvous
 *        hashing), so what it gives up is scattered around the ring.
 *     3. Claim. Released partitions go to members below quota, best score first.
 *   A join appended at the end of the order therefore moves exactly the partitions the newcomer must
 *   own (plus a rounding seat at most): the minimum. The result depends only on the set of members
 *   (ids, capacities, join times) — never on the order gossip delivered them — so every node that
 *   sees the same members computes the same owners. Two nodes that join concurrently are ordered by
 *   (joinedAtMs, id) like any others. Members without a join time count as joined at 0.
 *
 * A member's `history` (leaves, removals, re-joins, capacity changes; paper §4.8.1, §4.9) is replayed
 * the same way: every entry is an event, and steps 1–3 run again after each one, a member at capacity
 * 0 holding no quota. A departed member is kept in the replay so that its departure moves only its own
 * partitions.
 *
 * Checkpoints (issue 20, compaction of departed members). The replay's state after every event up to a
 * time T — each partition's owner and each member's capacity — is all that later events depend on: a
 * member at capacity 0 that holds nothing never wins a tie, and the tie-breaks compare members only by
 * their relative join order, which leaving others out does not change. So a replay may start from that
 * state (`ReplayState`) and take only the events after T, and members whose whole history is at or
 * before T and who were out of the ring at T need not be known at all: their records can be dropped.
 *
 * Measured in test/unit/core/ring.test.ts: counts are exact (floor or ceil of the share); a join moves the
 * minimum number of partitions; consecutive partitions belong to unrelated nodes, so a preference list
 * meets N distinct nodes about as fast as with independently drawn owners.
 */

import { md5 } from '@noble/hashes/legacy.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import type { RingEvent, RingMember } from './ring.js';

/**
 * A member's ring history, oldest first: `history` when given (entries kept in time order, a
 * member's own order breaking ties), else a join at `joinedAtMs` (default 0) with `capacity` and,
 * when `leftAtMs` is set, a departure no earlier than the join.
 *
 * @param m a member already checked by `Ring.build` (finite times, capacities >= 0, history non-empty).
 * @returns a fresh frozen array of frozen events; never empty.
 */
export function historyOf(m: RingMember): readonly RingEvent[] {
  if (m.history !== undefined) {
    return Object.freeze(
      m.history
        .map((e, seq) => ({ atMs: e.atMs, capacity: e.capacity, seq }))
        .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)
        .map(({ atMs, capacity }) => Object.freeze({ atMs, capacity })),
    );
  }
  const joined = m.joinedAtMs ?? 0;
  const events: RingEvent[] = [{ atMs: joined, capacity: m.capacity }];
  if (m.leftAtMs !== undefined) events.push({ atMs: Math.max(m.leftAtMs, joined), capacity: 0 });
  return Object.freeze(events.map((e) => Object.freeze(e)));
}

/**
 * Largest-remainder apportionment of `partitionCount` seats to `capacities`. Ties on the remainder go
 * to the member holding more partitions now (`current`), then to the earlier member.
 */
function quotasOf(capacities: ArrayLike<number>, current: Int32Array, partitionCount: number): Int32Array {
  const n = capacities.length;
  // Divide by the largest capacity first so the total cannot overflow to Infinity.
  let largest = 0;
  for (let i = 0; i < n; i++) largest = Math.max(largest, capacities[i]!);
  let total = 0;
  for (let i = 0; i < n; i++) total += capacities[i]! / largest;
  const quotas = new Int32Array(n);
  const remainders = new Float64Array(n);
  let seated = 0;
  for (let i = 0; i < n; i++) {
    const share = (partitionCount * (capacities[i]! / largest)) / total;
    quotas[i] = Math.floor(share);
    remainders[i] = share - quotas[i]!;
    seated += quotas[i]!;
  }
  const order = Array.from({ length: n }, (_, i) => i)
    .filter((i) => capacities[i]! > 0)
    .sort((a, b) => remainders[b]! - remainders[a]! || current[b]! - current[a]! || a - b);
  for (let k = 0; seated < partitionCount; k = (k + 1) % order.length) {
    quotas[order[k]!]!++;
    seated++;
  }
  return quotas;
}

/** murmur3's 32-bit finaliser: a cheap bijective mix with full avalanche. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85eb_ca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2_ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The claim score of (partition, node), from the node's two seed words (MD5 of its id). */
function claimScore(partition: number, seedA: number, seedB: number): number {
  return mix32((mix32(Math.imul(partition, 0x9e37_79b1) ^ seedA) + seedB) | 0);
}

/**
 * Where a replay stands after every event up to `atMs`: each partition's owner (an index into the
 * replay's members, -1 for none) and each member's capacity then (0: out of the ring).
 */
export interface ReplayState {
  atMs: number;
  owner: Int32Array;
  weight: Float64Array;
}

/**
 * Replays the joins of `members` (already in join order) and returns the owner of every partition
 * as an index into `members` (module header, steps 1–3; paper §6.2 strategy 3).
 *
 * Cost: one MD5 per member; then, per history event, O(Q * members) claim scores and a sort of the
 * (released partition, member below quota) pairs.
 *
 * @param members in join order (`joinedAtMs`, then id), already checked by `Ring.build`.
 * @param partitionCount Q, a power of two in [1, 65536].
 * @param from a state to start from (indices into `members`): only events after its `atMs` are replayed.
 * @param untilMs replay only the events at or before this time (a checkpoint's state).
 * @returns the state at the end: `owner`, a fresh `Int32Array` of length Q (the owner's index into
 *   `members`, or -1 for every partition when no member is in the ring at the end of the replay), and
 *   each member's capacity then.
 */
export function replay(members: readonly RingMember[], partitionCount: number, from?: ReplayState, untilMs = Infinity): { owner: Int32Array; weight: Float64Array } {
  const n = members.length;
  const seeds = new Uint32Array(2 * n);
  members.forEach((m, i) => {
    const digest = md5(utf8ToBytes(m.id));
    const view = new DataView(digest.buffer, digest.byteOffset, digest.byteLength);
    seeds[2 * i] = view.getUint32(0);
    seeds[2 * i + 1] = view.getUint32(4);
  });
  const score = (p: number, i: number): number => claimScore(p, seeds[2 * i]!, seeds[2 * i + 1]!);
  const owner = from ? Int32Array.from(from.owner) : new Int32Array(partitionCount).fill(-1);
  const counts = new Int32Array(n);
  for (const i of owner) if (i >= 0) counts[i]!++;
  const afterMs = from?.atMs ?? -Infinity;
  // Events in time order; at equal times a member's own entries keep their order, then joins (and
  // capacity changes) come before departures, then members in join order.
  const events: { atMs: number; seq: number; capacity: number; i: number }[] = [];
  members.forEach((m, i) => {
    historyOf(m).forEach((e, seq) => {
      if (e.atMs > afterMs && e.atMs <= untilMs) events.push({ atMs: e.atMs, seq, capacity: e.capacity, i });
    });
  });
  events.sort((a, b) => a.atMs - b.atMs || (a.i === b.i ? a.seq - b.seq : (a.capacity === 0 ? 1 : 0) - (b.capacity === 0 ? 1 : 0) || a.i - b.i));
  const weight = from ? Float64Array.from(from.weight) : new Float64Array(n); // capacity while active, 0 otherwise
  for (const event of events) {
    weight[event.i] = event.capacity;
    if (!weight.some((w) => w > 0)) {
      owner.fill(-1);
      counts.fill(0);
      continue;
    }
    const active = n;
    const quotas = quotasOf(weight, counts, partitionCount);
    const pool: number[] = [];
    for (let p = 0; p < partitionCount; p++) if (owner[p] === -1) pool.push(p);
    for (let i = 0; i < active; i++) {
      const surplus = counts[i]! - quotas[i]!;
      if (surplus <= 0) continue;
      const held: number[] = [];
      for (let p = 0; p < partitionCount; p++) if (owner[p] === i) held.push(p);
      held.sort((a, b) => score(a, i) - score(b, i) || a - b);
      for (const p of held.slice(0, surplus)) {
        owner[p] = -1;
        pool.push(p);
      }
      counts[i] = quotas[i]!;
    }
    const needy: number[] = [];
    for (let i = 0; i < active; i++) if (counts[i]! < quotas[i]!) needy.push(i);
    const pairs: { p: number; i: number; s: number }[] = [];
    for (const p of pool) for (const i of needy) pairs.push({ p, i, s: score(p, i) });
    pairs.sort((a, b) => b.s - a.s || a.i - b.i || a.p - b.p);
    for (const { p, i } of pairs) {
      if (owner[p] !== -1 || counts[i]! >= quotas[i]!) continue;
      owner[p] = i;
      counts[i]!++;
    }
  }
  return { owner, weight };
}
