/**
 * A token bucket (the classic rate limiter): it holds at most `burst` tokens, refills continuously at
 * `ratePerSecond` tokens per second, and an action goes ahead only if it can take its cost in tokens.
 * So a client may do `burst` actions at once, then `ratePerSecond` per second for as long as it likes.
 *
 * Pure: the caller passes the time (ms, any monotonic-enough clock), so tests drive it without timers.
 */
export class TokenBucket {
  private tokens: number;
  private atMs: number;

  /**
   * @param ratePerSecond - refill rate, tokens per second (> 0).
   * @param burst - capacity, tokens (> 0); the bucket starts full.
   * @param nowMs - the current time, ms.
   * @throws RangeError when the rate or the burst is not a positive finite number.
   */
  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    nowMs: number,
  ) {
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond)) || !(burst > 0 && Number.isFinite(burst))) {
      throw new RangeError(`a token bucket needs a positive rate and burst, got ${ratePerSecond}/s, burst ${burst}`);
    }
    this.tokens = burst;
    this.atMs = nowMs;
  }

  /** Takes `cost` tokens if there are that many at `nowMs`; true when it did (the action may go ahead). */
  take(cost: number, nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Whether the bucket is full at `nowMs`: it then behaves exactly like a new one and may be dropped. */
  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.burst;
  }

  private refill(nowMs: number): void {
    // A clock that steps back refills nothing (and does not drain either).
    if (nowMs <= this.atMs) return;
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.atMs) * this.ratePerSecond) / 1000);
    this.atMs = nowMs;
  }
}
