/**
 * RequestDeadlines (src/core/request-deadlines.ts): handoff deadlines follow measured round trips and
 * back off after timeouts, so a peer slower than the configured deadline is still waited for.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BACKOFF, MAX_DEADLINE_MS, RequestDeadlines } from '../../../src/core/request-deadlines.js';

/** Sends a request to `peer` at `atMs` and has it answered `rttMs` later. */
function roundTrip(deadlines: RequestDeadlines, peer: string, atMs: number, rttMs: number): void {
  deadlines.answered(deadlines.start(peer, 1, atMs), atMs + rttMs);
}

describe('RequestDeadlines', () => {
  it('uses the floor until it has heard from anyone', () => {
    expect(new RequestDeadlines().start('a', 1_000, 0).deadlineMs).toBe(1_000);
  });

  it('grows past the floor when round trips are longer than it', () => {
    const deadlines = new RequestDeadlines();
    for (let i = 0; i < 20; i++) roundTrip(deadlines, 'a', i * 10_000, 1_500 + (i % 2) * 500);
    const deadlineMs = deadlines.start('a', 1_000, 300_000).deadlineMs;
    // Smoothed round trip ~1.75 s plus four deviations: above every round trip seen, not absurdly so.
    expect(deadlineMs).toBeGreaterThan(2_000);
    expect(deadlineMs).toBeLessThan(4_000);
    // Fast peers stay at the floor.
    const fast = new RequestDeadlines();
    for (let i = 0; i < 20; i++) roundTrip(fast, 'b', i * 1_000, 20);
    expect(fast.start('b', 1_000, 30_000).deadlineMs).toBe(1_000);
  });

  it('a peer not heard from yet gets the estimate over all peers', () => {
    const deadlines = new RequestDeadlines();
    roundTrip(deadlines, 'a', 0, 2_000);
    expect(deadlines.start('new', 1_000, 5_000).deadlineMs).toBe(deadlines.start('a', 1_000, 5_000).deadlineMs);
    expect(deadlines.start('new', 1_000, 5_000).deadlineMs).toBeGreaterThan(2_000);
  });

  it('doubles after each timeout up to its bounds, and an answer ends the backoff', () => {
    const deadlines = new RequestDeadlines();
    const seen: number[] = [];
    for (let i = 0; i < MAX_BACKOFF + 2; i++) {
      const attempt = deadlines.start('a', 1_000, i * 100_000);
      seen.push(attempt.deadlineMs);
      deadlines.timedOut(attempt);
    }
    expect(seen).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    deadlines.answered(deadlines.start('a', 1_000, 1_000_000), 1_000_010);
    expect(deadlines.start('a', 1_000, 2_000_000).deadlineMs).toBe(1_000);
    // The absolute bound holds whatever the floor.
    const slow = new RequestDeadlines();
    for (let i = 0; i < MAX_BACKOFF; i++) slow.timedOut(slow.start('a', 10_000, 0));
    expect(slow.start('a', 10_000, 0).deadlineMs).toBe(MAX_DEADLINE_MS);
  });

  it('requests that time out together back off once (Karn)', () => {
    const deadlines = new RequestDeadlines();
    const together = [deadlines.start('a', 1_000, 0), deadlines.start('a', 1_000, 0), deadlines.start('a', 1_000, 0)];
    for (const attempt of together) deadlines.timedOut(attempt);
    expect(deadlines.start('a', 1_000, 1_000).deadlineMs).toBe(2_000);
  });
});
