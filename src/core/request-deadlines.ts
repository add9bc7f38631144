/**
 * Deadlines for background requests (partition handoff) that follow how long peers take to answer,
 * instead of a fixed number of milliseconds.
 *
 * A fixed deadline shorter than the round trip fails every time: the request is retried with the
 * same deadline and fails again, so the work never advances. That is what stalled partition handoff
 * in a 30-node cluster whose tabs shared two CPU cores: round trips took over a second, the 1 s
 * deadline of handoff-start, handoff-finish and ae-roots was never met, and partitions stayed pending
 * for minutes. Here, as in TCP's retransmission timer (Jacobson/Karels, RFC 6298, with Karn's rule):
 *
 *   answered in time   sample = elapsed ms;  srtt ← 7/8·srtt + 1/8·sample
 *                                            rttvar ← 3/4·rttvar + 1/4·|srtt − sample|
 *                                            the peer's backoff is cleared
 *   timed out          no sample (the round trip is unknown, only longer); the peer's backoff grows
 *                      by one: its next deadline is doubled, up to 2^MAX_BACKOFF times
 *
 *   deadline(peer, floor) = max(floor, srtt + 4·rttvar) · 2^backoff,  at most MAX_DEADLINE_MS
 *
 * (An answer that arrives after its deadline is not matched to its request any more, so no sample
 * ever comes from a request that timed out.)
 *
 * A peer never heard from yet uses the estimate over every peer (when this node is slow, it is slow
 * with everyone). Pure: elapsed times come from the caller's clock.
 */
import type { NodeId } from './types.js';

/** Doublings of a deadline after consecutive timeouts, at most (×8). */
export const MAX_BACKOFF = 3;
/** No deadline grows past this (ms): a lost message, or a peer gone for good, is noticed within half a minute. */
export const MAX_DEADLINE_MS = 30_000;

interface Estimate {
  srttMs: number;
  rttvarMs: number;
}

/** One request under way: what its deadline was built from. */
export interface Attempt {
  peer: NodeId;
  sentAtMs: number;
  /** The peer's backoff when the request was sent. */
  backoff: number;
  deadlineMs: number;
}

/** Round-trip estimates and timeout backoff per peer. */
export class RequestDeadlines {
  private readonly peers = new Map<NodeId, { estimate: Estimate | undefined; backoff: number }>();
  private overall: Estimate | undefined;

  /** Starts a request to `peer` at `nowMs`: its deadline (ms, never below `floorMs`). */
  start(peer: NodeId, floorMs: number, nowMs: number): Attempt {
    const state = this.peers.get(peer);
    const estimate = state?.estimate ?? this.overall;
    const expectedMs = estimate === undefined ? 0 : estimate.srttMs + 4 * estimate.rttvarMs;
    const backoff = state?.backoff ?? 0;
    const deadlineMs = Math.min(MAX_DEADLINE_MS, Math.ceil(Math.max(floorMs, expectedMs) * 2 ** backoff));
    return { peer, sentAtMs: nowMs, backoff, deadlineMs };
  }

  /** The request was answered at `nowMs`: a round-trip sample, and the peer's backoff is over. */
  answered(attempt: Attempt, nowMs: number): void {
    const sampleMs = Math.max(0, nowMs - attempt.sentAtMs);
    const state = this.state(attempt.peer);
    state.estimate = update(state.estimate, sampleMs);
    state.backoff = 0;
    this.overall = update(this.overall, sampleMs);
  }

  /**
   * The request got no answer by its deadline: the peer's next deadline doubles. Requests sent
   * together and timing out together count once (Karn: back off per deadline, not per request).
   */
  timedOut(attempt: Attempt): void {
    const state = this.state(attempt.peer);
    state.backoff = Math.min(MAX_BACKOFF, Math.max(state.backoff, attempt.backoff + 1));
  }

  private state(peer: NodeId): { estimate: Estimate | undefined; backoff: number } {
    let state = this.peers.get(peer);
    if (!state) this.peers.set(peer, (state = { estimate: undefined, backoff: 0 }));
    return state;
  }
}

function update(estimate: Estimate | undefined, sampleMs: number): Estimate {
  if (estimate === undefined) return { srttMs: sampleMs, rttvarMs: sampleMs / 2 };
  const rttvarMs = 0.75 * estimate.rttvarMs + 0.25 * Math.abs(estimate.srttMs - sampleMs);
  return { srttMs: 0.875 * estimate.srttMs + 0.125 * sampleMs, rttvarMs };
}
