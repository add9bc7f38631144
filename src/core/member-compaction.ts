/**
 * Compaction of departed members (issue 20: "nothing grows forever"). Every member that ever joined
 * keeps a record, because the ring is the replay of every record's history (ring-placement.ts); in a
 * cluster of browser tabs that join and leave for weeks, the records of members long gone would be
 * stored and gossiped forever. A ring checkpoint (ring.ts `RingCheckpoint`) is the replay's state at a
 * time T; with it, the records of members that left at or before T are not needed and are dropped
 * (membership.ts `compact`).
 *
 *   every CHECK_INTERVAL_MS   T = the latest departure older than `memberCompactionMs` (default 14 days:
 *                             by then every member has long seen it); if later than the checkpoint held,
 *                             make the checkpoint at T (from the one held and the records kept) and compact
 *   gossip                    full rounds carry the checkpoint; a node takes one later than its own once
 *                             it is older than `memberCompactionMs` by its own clock too (a peer whose
 *                             clock runs ahead cannot make it compact early), and compacts
 *
 * Every node that holds the same records computes the same checkpoint at T; nodes whose checkpoints
 * differ converge on the latest (ties: the content that sorts first), and from then on compute the same
 * ring. What this gives up: events at or before T that reach a node after it took the checkpoint are
 * ignored (a member that joined while cut off from everyone for `memberCompactionMs`), and a tab that
 * left that long ago and is still open is forgotten by the others until it joins again.
 */
import { checkCheckpoint, Ring, type RingCheckpoint } from './ring.js';
import type { Membership } from './membership.js';

/** How often a node looks for departures old enough to compact, ms. */
export const CHECK_INTERVAL_MS = 60_000;

/** What compaction needs from its node. */
export interface MemberCompactionPorts {
  membership: Membership;
  partitionCount(): number;
  /** `memberCompactionMs`: how long after a departure its record may be dropped, ms. */
  compactionMs(): number;
  /** The view changed: rebuild the ring, save, tell listeners. */
  compacted(): void;
  reportError(error: unknown, context: string): void;
}

/** Makes and takes ring checkpoints, and compacts the membership with them. */
export class MemberCompaction {
  private nextCheckAtMs: number | undefined;
  /** Checkpoints made here, and taken from peers. */
  made = 0;
  taken = 0;

  constructor(private readonly ports: MemberCompactionPorts) {}

  /** Looks for departures to compact when a check is due (the first one period after the first tick). */
  tick(nowMs: number): void {
    const periodMs = Math.min(CHECK_INTERVAL_MS, this.ports.compactionMs());
    if (this.nextCheckAtMs === undefined) this.nextCheckAtMs = nowMs + periodMs;
    if (nowMs < this.nextCheckAtMs) return;
    this.nextCheckAtMs = nowMs + periodMs;
    const { membership } = this.ports;
    const cutoffMs = nowMs - this.ports.compactionMs();
    let atMs = -Infinity;
    for (const record of membership.all()) {
      if (record.id === membership.self || record.status !== 'left') continue;
      const last = record.history[record.history.length - 1];
      if (last !== undefined && last.capacity === 0 && last.atMs <= cutoffMs) atMs = Math.max(atMs, last.atMs);
    }
    const held = membership.checkpoint;
    if (atMs === -Infinity || (held !== undefined && atMs <= held.atMs)) return;
    let checkpoint: RingCheckpoint;
    try {
      checkpoint = Ring.checkpoint(membership.ringMembers(), this.ports.partitionCount(), atMs, held);
    } catch (error) {
      this.ports.reportError(error, 'making a ring checkpoint');
      return;
    }
    if (membership.compact(checkpoint)) {
      this.made++;
      this.ports.compacted();
    }
  }

  /**
   * A checkpoint a peer gossiped: taken when it is well-formed, later than the one held and older than
   * `memberCompactionMs` by this node's clock. @returns whether it was taken (the caller rebuilds).
   */
  offer(checkpoint: RingCheckpoint, nowMs: number): boolean {
    if (checkpoint.atMs > nowMs - this.ports.compactionMs()) return false;
    try {
      checkCheckpoint(checkpoint, this.ports.partitionCount());
    } catch {
      return false;
    }
    if (!this.ports.membership.compact(checkpoint)) return false;
    this.taken++;
    return true;
  }
}
