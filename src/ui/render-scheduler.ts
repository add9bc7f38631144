/**
 * The render scheduler: coalesces the page's redraws. Node events only ask for a redraw; the page is
 * redrawn at most every 250 ms, in an animation frame, so that many tabs gossiping never turn into
 * many redraws. Under load the period stretches (see {@link RenderScheduler.request}).
 *
 * A redraw runs as several short tasks, so that input and the node's own messages are never held up
 * behind a whole redraw:
 *
 * ```
 *   request() ──(wait out the period)──▶ animation frame: 'header' (the draw function)
 *        │                                    └─▶ returns the panel jobs
 *        │                                          task: 'ring', 'partition', … ≤ 8 ms, then yield
 *        │                                          task: … the rest, ≤ 8 ms each slice
 *        └── coalesced: requests while one is queued add nothing
 * ```
 *
 * Every task is timed into a {@link RenderLog} (exposed as `window.explorerRenders`, e2e tests read it).
 */

/** The redraws so far: their number, and the tasks they ran as (the last 9,000–10,000). */
export interface RenderLog {
  count: number;
  /** One per task: when it started (performance.now(), ms), how long it took (ms), which part it drew. */
  recent: { atMs: number; ms: number; what: string }[];
}

/** One task of a redraw: a name for the log (`'ring'`, `'members'`…) and the drawing itself. */
export type RenderJob = [what: string, draw: () => void];

/**
 * Draws the part always shown (the header) and returns the jobs that draw the rest, run afterwards in
 * short tasks (none when nothing else is on screen).
 */
export type DrawFunction = () => RenderJob[];

/** The clocks and timers the scheduler uses (the browser's by default; a test may pass fakes). */
export interface RenderTimers {
  /** Wall-clock time, ms (Date.now). */
  nowMs(): number;
  /** Monotonic time for measuring tasks, ms (performance.now). */
  monotonicMs(): number;
  setTimeout(callback: () => void, delayMs: number): void;
  requestAnimationFrame(callback: () => void): void;
}

/** The browser's clocks and timers. */
export function browserTimers(): RenderTimers {
  return {
    nowMs: () => Date.now(),
    monotonicMs: () => performance.now(),
    setTimeout: (callback, delayMs) => void setTimeout(callback, delayMs),
    requestAnimationFrame: (callback) => void requestAnimationFrame(() => callback()),
  };
}

/** Shortest time between two redraws, ms (at most 4 a second). */
const PERIOD_MIN_MS = 250;
/** Longest time between two redraws however costly they are, ms (at least one every 2 s). */
const PERIOD_MAX_MS = 2000;
/** The period is this many times the last redraw's cost: redraws take at most about a tenth of the main thread. */
const PERIOD_PER_COST = 10;
/** A redraw task yields to the event loop once it has run this long, ms. */
const SLICE_MS = 8;
/** Tasks kept in the log; beyond it the oldest {@link LOG_DROP} go at once. */
const LOG_MAX = 10_000;
const LOG_DROP = 1000;

/** Schedules the redraws of one page (see the module comment). */
export class RenderScheduler {
  /** The redraws so far (the console API exposes it as `window.explorerRenders`). */
  readonly log: RenderLog = { count: 0, recent: [] };
  private queued = false;
  private delayedQueued = false;
  private lastRenderMs = 0;
  /** Main-thread time the last finished redraw took, all its tasks together, ms. */
  private lastRedrawCostMs = 0;
  /** Main-thread time the redraw under way has taken so far, ms. */
  private redrawCostMs = 0;

  constructor(
    private readonly draw: DrawFunction,
    private readonly timers: RenderTimers = browserTimers(),
  ) {}

  /**
   * Asks for a redraw: one animation frame after the period since the last redraw has passed. The period
   * is 250 ms, or ten times the last redraw's cost, at most 2 s. Requests while one is queued coalesce.
   */
  request(): void {
    if (this.queued) return;
    this.queued = true;
    const periodMs = Math.min(PERIOD_MAX_MS, Math.max(PERIOD_MIN_MS, PERIOD_PER_COST * this.lastRedrawCostMs));
    const waitMs = Math.max(0, periodMs - (this.timers.nowMs() - this.lastRenderMs));
    this.timers.setTimeout(() => this.timers.requestAnimationFrame(() => this.redrawNow()), waitMs);
  }

  /**
   * Asks for a redraw in `delayMs` (then as {@link request}), once however many ask meanwhile: a
   * countdown on screen (the signaling server's next retry) ticks even when nothing else happens.
   */
  requestIn(delayMs: number): void {
    if (this.delayedQueued) return;
    this.delayedQueued = true;
    this.timers.setTimeout(() => {
      this.delayedQueued = false;
      this.request();
    }, delayMs);
  }

  /** Redraws now (the header in this task, the rest in the tasks after it): for the user's own input. */
  redrawNow(): void {
    this.log.count++;
    this.redrawCostMs = 0;
    let jobs: RenderJob[] = [];
    this.timed('header', () => {
      this.queued = false;
      this.lastRenderMs = this.timers.nowMs();
      jobs = this.draw();
    });
    if (jobs.length === 0) this.lastRedrawCostMs = this.redrawCostMs;
    else this.runSliced(jobs);
  }

  /** Runs `work`, adding its time to the redraw's cost and to the log. */
  private timed(what: string, work: () => void): void {
    const startedMs = this.timers.monotonicMs();
    try {
      work();
    } finally {
      const ms = this.timers.monotonicMs() - startedMs;
      this.redrawCostMs += ms;
      this.log.recent.push({ atMs: startedMs, ms, what });
      if (this.log.recent.length > LOG_MAX) this.log.recent.splice(0, LOG_DROP);
    }
  }

  /** Runs `jobs` in tasks of their own, each slice yielding once it passed {@link SLICE_MS}. */
  private runSliced(jobs: RenderJob[]): void {
    const step = (): void => {
      const sliceStartedMs = this.timers.monotonicMs();
      while (jobs.length > 0) {
        const [what, job] = jobs.shift()!;
        this.timed(what, job);
        if (jobs.length === 0) this.lastRedrawCostMs = this.redrawCostMs;
        if (jobs.length > 0 && this.timers.monotonicMs() - sliceStartedMs > SLICE_MS) {
          this.timers.setTimeout(step, 0);
          return;
        }
      }
    };
    this.timers.setTimeout(step, 0);
  }
}
