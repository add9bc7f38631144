/**
 * The render scheduler: decides when the page is redrawn, and what of it. Node events and timers only
 * ask for a redraw; the page is redrawn at most every 250 ms, in an animation frame, so that many tabs
 * gossiping never turn into many redraws. Under load the period stretches (see {@link RenderScheduler.request}).
 *
 * A redraw draws only what changed. The page describes itself as a plan of parts (header, ring,
 * members, …), each with a key: a string that sums up what the part shows, at the precision it shows
 * it. A part whose key equals the one it was last drawn with is not drawn again; a redraw in which no
 * key changed draws nothing, asks for no animation frame, and is not counted as a redraw (it is
 * counted in `skipped`). So an idle cluster, whose events keep asking, costs one reading of the node
 * per period and no drawing.
 *
 * Some of what a part shows moves by itself while nothing happens (the ages of members and
 * connections, the counters of gossip and anti-entropy rounds): that goes into its live key. A change
 * of live keys alone is drawn at most every {@link LIVE_PERIOD_MS}; whenever a redraw happens for
 * another reason, the live parts are drawn with it. The page need not ask for redraws on the routine
 * events of an idle cluster: while the page is shown the scheduler plans by itself every
 * {@link LIVE_PERIOD_MS}, which also catches what changes without an event.
 *
 * While the page is hidden nothing is drawn and no timer is set; when it is shown again it is redrawn
 * once (if anything changed meanwhile).
 *
 * ```
 *   request() ──(wait out the period)──▶ plan ─▶ parts whose key changed? none: done (skipped)
 *        │                                          └─▶ animation frame: 'header', 'ring', … until 8 ms, then yield
 *        │                                                task: … the rest, ≤ 8 ms each slice
 *        ├── coalesced: requests while one is queued add nothing
 *        ├── every LIVE_PERIOD_MS after a plan, while shown: request()
 *        └── hidden page: nothing; visibilitychange to visible ─▶ request()
 * ```
 *
 * Every task is timed into a {@link RenderLog} (exposed as `window.explorerRenders`, e2e tests read it).
 */
import { documentVisibility, type PageVisibility } from './page-visibility.js';

/** The redraws so far, and the tasks they ran as (the last 9,000–10,000). */
export interface RenderLog {
  /** Redraws that drew at least one part. */
  count: number;
  /** Redraws that found nothing changed (no part's key) and drew nothing. */
  skipped: number;
  /** How many times each part was drawn, by its name. */
  drawn: Record<string, number>;
  /** One per task: when it started (performance.now(), ms), how long it took (ms), which part it drew ('plan': reading the node). */
  recent: { atMs: number; ms: number; what: string }[];
}

/** One part of a redraw (see the module comment). */
export interface RenderJob {
  /** Its name, the same at every redraw: `'header'`, `'ring'`, `'members'`… */
  what: string;
  /** What the part shows, summed up; unchanged since it was last drawn, the part is not drawn. */
  key: string;
  /** What it shows that changes by itself in an idle cluster (ages, round counters); '' or absent when nothing does. */
  liveKey?: string;
  /** Draws the part. */
  draw: () => void;
}

/**
 * Reads the node once and returns the parts of the page with their keys, in drawing order; parts not
 * on screen are left out. Must not touch the DOM (it runs at every request, changed or not).
 */
export type RenderPlan = () => RenderJob[];

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
export const PERIOD_MIN_MS = 250;
/** Longest time between two redraws however costly they are, ms (at least one every 2 s). */
const PERIOD_MAX_MS = 2000;
/** The period is this many times the last redraw's cost: redraws take at most about a tenth of the main thread. */
const PERIOD_PER_COST = 10;
/** A change of live keys alone (ages, round counters) is drawn at most this often, ms. */
export const LIVE_PERIOD_MS = 10_000;
/** A redraw task yields to the event loop once it has run this long, ms. */
const SLICE_MS = 8;
/** Tasks kept in the log; beyond it the oldest {@link LOG_DROP} go at once. */
const LOG_MAX = 10_000;
const LOG_DROP = 1000;

/** Schedules the redraws of one page (see the module comment). */
export class RenderScheduler {
  /** The redraws so far (the console API exposes it as `window.explorerRenders`). */
  readonly log: RenderLog = { count: 0, skipped: 0, drawn: {}, recent: [] };
  private queued = false;
  private delayedQueued = false;
  private liveQueued = false;
  private lastRenderMs = 0;
  /** When a redraw last drew the live parts, ms (wall clock). */
  private lastLiveMs = 0;
  /** Main-thread time the last finished redraw took, all its tasks together, ms. */
  private lastRedrawCostMs = 0;
  /** Main-thread time the redraw under way has taken so far, ms. */
  private redrawCostMs = 0;
  /** The keys each part was last drawn with. */
  private readonly drawnKeys = new Map<string, { key: string; liveKey: string }>();
  /** Counts redraws: the tasks of an older one stop when a newer one begins (it draws what they had left). */
  private generation = 0;

  constructor(
    private readonly plan: RenderPlan,
    private readonly timers: RenderTimers = browserTimers(),
    private readonly visibility: PageVisibility = documentVisibility(),
  ) {
    // Shown again: one redraw of whatever changed while hidden.
    visibility.onChange(() => {
      if (!visibility.hidden) this.request();
    });
  }

  /**
   * Asks for a redraw: one animation frame after the period since the last redraw has passed. The period
   * is 250 ms, or ten times the last redraw's cost, at most 2 s. Requests while one is queued coalesce;
   * while the page is hidden they are dropped (it is redrawn when shown).
   */
  request(): void {
    if (this.queued || this.visibility.hidden) return;
    this.queued = true;
    const periodMs = Math.min(PERIOD_MAX_MS, Math.max(PERIOD_MIN_MS, PERIOD_PER_COST * this.lastRedrawCostMs));
    const waitMs = Math.max(0, periodMs - (this.timers.nowMs() - this.lastRenderMs));
    this.timers.setTimeout(() => this.redraw(false), waitMs);
  }

  /**
   * Asks for a redraw in `delayMs` (then as {@link request}), once however many ask meanwhile: a
   * countdown on screen (the signaling server's next retry) ticks even when nothing else happens.
   * Nothing while the page is hidden.
   */
  requestIn(delayMs: number): void {
    if (this.delayedQueued || this.visibility.hidden) return;
    this.delayedQueued = true;
    this.timers.setTimeout(() => {
      this.delayedQueued = false;
      this.request();
    }, delayMs);
  }

  /** Redraws what changed now (the first parts in this task, the rest in the tasks after it): for the user's own input. */
  redrawNow(): void {
    this.redraw(true);
  }

  /**
   * Reads the plan and draws the parts whose key changed (live keys: see the module comment), `now`
   * in this task, else in the next animation frame.
   */
  private redraw(now: boolean): void {
    this.queued = false;
    if (this.visibility.hidden) return;
    const generation = ++this.generation;
    this.redrawCostMs = 0;
    let jobs: RenderJob[] = [];
    this.timed('plan', () => {
      jobs = this.plan();
    });
    const nowMs = this.timers.nowMs();
    const drawn = (job: RenderJob) => this.drawnKeys.get(job.what);
    const keyChanged = jobs.some((job) => drawn(job)?.key !== job.key);
    const liveChanged = jobs.some((job) => drawn(job)?.key === job.key && drawn(job)!.liveKey !== (job.liveKey ?? ''));
    if (!keyChanged) {
      const liveWaitMs = this.lastLiveMs + LIVE_PERIOD_MS - nowMs;
      if (!liveChanged || liveWaitMs > 0) {
        this.log.skipped++;
        this.lastRedrawCostMs = this.redrawCostMs;
        // The next round of the page's own: when the live parts waiting now are due, or a period on.
        this.requestLiveIn(liveChanged ? liveWaitMs : LIVE_PERIOD_MS);
        return;
      }
    }
    this.requestLiveIn(LIVE_PERIOD_MS);
    // Something is drawn: with it, every part whose live key moved.
    const due = jobs.filter((job) => drawn(job)?.key !== job.key || drawn(job)!.liveKey !== (job.liveKey ?? ''));
    this.log.count++;
    this.lastRenderMs = nowMs;
    this.lastLiveMs = nowMs;
    if (now) this.runSliced(due, generation);
    else this.timers.requestAnimationFrame(() => this.runSliced(due, generation));
  }

  /**
   * Asks for a redraw in `delayMs`: the scheduler's own round, when live parts are due (its own timer:
   * a countdown's does not delay it). One at a time; none while the page is hidden.
   */
  private requestLiveIn(delayMs: number): void {
    if (this.liveQueued || this.visibility.hidden) return;
    this.liveQueued = true;
    this.timers.setTimeout(() => {
      this.liveQueued = false;
      this.request();
    }, delayMs);
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

  /**
   * Draws `jobs` in order, starting in this task: each slice yields once it passed {@link SLICE_MS}. A
   * part that throws is logged and counts as drawn with its key (it is tried again when its key
   * changes, not at every redraw).
   */
  private runSliced(jobs: RenderJob[], generation: number): void {
    const step = (): void => {
      // A newer redraw draws what is left; a hidden page draws nothing (what is left waits for it to be shown).
      if (generation !== this.generation || this.visibility.hidden) return;
      const sliceStartedMs = this.timers.monotonicMs();
      while (jobs.length > 0) {
        const job = jobs.shift()!;
        this.timed(job.what, () => {
          this.drawnKeys.set(job.what, { key: job.key, liveKey: job.liveKey ?? '' });
          this.log.drawn[job.what] = (this.log.drawn[job.what] ?? 0) + 1;
          try {
            job.draw();
          } catch (error) {
            console.error(`redraw of ${job.what} failed`, error);
          }
        });
        if (jobs.length === 0) this.lastRedrawCostMs = this.redrawCostMs;
        if (jobs.length > 0 && this.timers.monotonicMs() - sliceStartedMs > SLICE_MS) {
          this.timers.setTimeout(step, 0);
          return;
        }
      }
    };
    step();
  }
}
