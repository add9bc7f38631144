/**
 * Noticing this node's own stalls (issue 20: "a detector not fooled by load"). A tab whose event loop
 * was blocked — a long task, a saturated CPU, a page frozen and resumed — sees its clock jump between
 * two ticks, while the messages that came meanwhile still wait, unread, in its task queue. Judged by
 * that clock, every request in flight would time out and every peer would look silent: the node would
 * suspect healthy peers, send its writes to fallbacks and store hints, all for its own slowness. (This
 * is what made the 30-node bench store thousands of hints per node under CPU saturation.)
 *
 *   tick gap ≤ max(STALL_MIN_MS, STALL_FACTOR × usual gap)   normal: the usual gap is learned (EWMA)
 *   tick gap larger                                          a stall of (gap − usual gap) ms:
 *       requests and timers that fell due meanwhile get a short reprieve, once each
 *         (request-table.ts `reprieve`): the replies waiting in the queue are read first
 *       the failure detector does not count the stall as its peers' silence
 *         (failure-detector.ts `localStall`), as Lifeguard's local health and Cassandra's pause
 *         detection (it skips convictions after a local pause) do
 *
 * Pure: fed the times of the node's ticks.
 */

/** Tick gaps below this are never a stall, whatever the usual gap, ms. */
export const STALL_MIN_MS = 250;
/** A gap this many times the usual one is a stall. */
export const STALL_FACTOR = 3;
/** Longest reprieve a request that fell due during a stall gets, ms. */
export const MAX_REPRIEVE_MS = 1_000;

/** Watches the gaps between a node's ticks. */
export class LocalStalls {
  /** Stalls noticed, and their total length, ms. */
  count = 0;
  totalMs = 0;
  private lastTickMs: number | undefined;
  /** The usual gap between ticks, ms (an exponentially weighted mean of the gaps that were no stall). */
  private usualGapMs: number | undefined;

  /**
   * Takes the time of a tick. @returns the length of the stall that ended now, in ms (the gap beyond
   * the usual one), or 0 when the gap was normal (and at the first tick).
   */
  tick(nowMs: number): number {
    const last = this.lastTickMs;
    this.lastTickMs = nowMs;
    if (last === undefined) return 0;
    const gapMs = nowMs - last;
    const usual = this.usualGapMs;
    if (usual !== undefined && gapMs > Math.max(STALL_MIN_MS, STALL_FACTOR * usual)) {
      const stalledMs = gapMs - usual;
      this.count++;
      this.totalMs += stalledMs;
      return stalledMs;
    }
    if (gapMs >= 0) this.usualGapMs = usual === undefined ? gapMs : usual + 0.1 * (gapMs - usual);
    return 0;
  }
}
