/**
 * The render scheduler (src/ui/render-scheduler.ts) on fake clocks, timers and visibility: a redraw
 * draws only the parts whose key changed and is not counted when none did; a hidden page draws nothing
 * and sets no timer, and is redrawn once when shown again; changes of live keys alone are drawn at
 * most every LIVE_PERIOD_MS; requests coalesce; a failing part stops neither the others nor the page.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PageVisibility } from '../../../src/ui/page-visibility.js';
import { LIVE_PERIOD_MS, PERIOD_MIN_MS, RenderScheduler, type RenderJob, type RenderTimers } from '../../../src/ui/render-scheduler.js';

/** Timers run by hand: `advance` moves the clock and runs what fell due, animation frames included. */
class FakeTimers implements RenderTimers {
  now = 1_000_000;
  monotonic = 0;
  private timers: { atMs: number; callback: () => void }[] = [];
  private frames: (() => void)[] = [];
  /** Animation frames asked for so far. */
  framesRequested = 0;

  nowMs(): number {
    return this.now;
  }

  monotonicMs(): number {
    return this.monotonic;
  }

  setTimeout(callback: () => void, delayMs: number): void {
    this.timers.push({ atMs: this.now + delayMs, callback });
  }

  requestAnimationFrame(callback: () => void): void {
    this.framesRequested++;
    this.frames.push(callback);
  }

  /** Timers and frames waiting. */
  get pending(): number {
    return this.timers.length + this.frames.length;
  }

  /** Moves the clock by `ms`, running every timer that falls due and then the animation frames. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.atMs <= until).sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.now = Math.max(this.now, due.atMs);
      due.callback();
      this.runFrames();
    }
    this.now = until;
    this.runFrames();
  }

  private runFrames(): void {
    const frames = this.frames;
    this.frames = [];
    for (const frame of frames) frame();
  }
}

class FakeVisibility implements PageVisibility {
  hidden = false;
  private readonly listeners = new Set<() => void>();

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(hidden: boolean): void {
    this.hidden = hidden;
    for (const listener of this.listeners) listener();
  }
}

/** A page of parts whose keys a test sets; records which parts were drawn. */
class FakePage {
  readonly keys: Record<string, string> = { header: 'h1', ring: 'r1', members: 'm1' };
  readonly liveKeys: Record<string, string> = { header: '', ring: '', members: 'heard 1' };
  readonly drawn: string[] = [];
  plans = 0;
  failing = new Set<string>();
  /** Monotonic ms each part's draw takes. */
  costMs = 0;

  constructor(private readonly timers: FakeTimers) {}

  plan = (): RenderJob[] => {
    this.plans++;
    return Object.keys(this.keys).map((what) => ({
      what,
      key: this.keys[what]!,
      liveKey: this.liveKeys[what]!,
      draw: () => {
        this.timers.monotonic += this.costMs;
        if (this.failing.has(what)) throw new Error(`${what} is broken`);
        this.drawn.push(what);
      },
    }));
  };

  take(): string[] {
    return this.drawn.splice(0);
  }
}

function setup(): { timers: FakeTimers; visibility: FakeVisibility; page: FakePage; scheduler: RenderScheduler } {
  const timers = new FakeTimers();
  const visibility = new FakeVisibility();
  const page = new FakePage(timers);
  const scheduler = new RenderScheduler(page.plan, timers, visibility);
  return { timers, visibility, page, scheduler };
}

/** {@link setup}, with the first redraw (every part) already drawn and taken. */
function setupDrawn(): ReturnType<typeof setup> {
  const parts = setup();
  parts.scheduler.request();
  parts.timers.advance(PERIOD_MIN_MS);
  parts.page.take();
  return parts;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('RenderScheduler', () => {
  it('draws every part at the first redraw, then only the parts whose key changed', () => {
    const { timers, page, scheduler } = setup();
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual(['header', 'ring', 'members']);
    expect(scheduler.log.count).toBe(1);

    page.keys.ring = 'r2';
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual(['ring']);
    expect(scheduler.log.count).toBe(2);
    expect(scheduler.log.drawn).toEqual({ header: 1, ring: 2, members: 1 });
  });

  it('does not redraw when nothing changed: the plan is read, nothing is drawn, and it is counted as skipped', () => {
    const { timers, page, scheduler } = setupDrawn();
    for (let i = 0; i < 20; i++) {
      scheduler.request();
      timers.advance(PERIOD_MIN_MS);
    }
    expect(page.take()).toEqual([]);
    expect(scheduler.log.count).toBe(1);
    expect(scheduler.log.skipped).toBe(20);
    // Only the first redraw asked for an animation frame (a frame costs the compositor even when nothing is drawn).
    expect(timers.framesRequested).toBe(1);
    // One timer left: the scheduler's own round, LIVE_PERIOD_MS on.
    expect(timers.pending).toBe(1);
  });

  it('plans by itself every LIVE_PERIOD_MS while shown, so that a change no event announced shows', () => {
    const { timers, page, scheduler } = setup();
    scheduler.redrawNow();
    page.take();
    page.keys.members = 'a connection opened';
    timers.advance(LIVE_PERIOD_MS - 1);
    expect(page.take()).toEqual([]);
    timers.advance(1);
    expect(page.take()).toEqual(['members']);
    const plans = page.plans;
    timers.advance(10 * LIVE_PERIOD_MS);
    expect(page.plans).toBe(plans + 10);
    expect(scheduler.log.count).toBe(2);
  });

  it('coalesces requests: many while one is queued make one plan', () => {
    const { timers, page, scheduler } = setup();
    for (let i = 0; i < 50; i++) scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(page.plans).toBe(1);
  });

  it('draws nothing and sets no timer while the page is hidden, and redraws once when it is shown again', () => {
    const { timers, visibility, page, scheduler } = setupDrawn();
    visibility.set(true);
    page.keys.members = 'm2';
    page.keys.ring = 'r2';
    for (let i = 0; i < 10; i++) {
      scheduler.request();
      scheduler.requestIn(1000);
      scheduler.redrawNow();
      timers.advance(1000);
    }
    expect(page.take()).toEqual([]);
    expect(page.plans).toBe(1);
    expect(timers.pending).toBe(0);

    visibility.set(false);
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual(['ring', 'members']);
    expect(scheduler.log.count).toBe(2);
    // Shown again with nothing changed: the plan is read, nothing drawn.
    visibility.set(true);
    visibility.set(false);
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual([]);
    expect(scheduler.log.count).toBe(2);
  });

  it('a redraw queued before the page was hidden draws nothing', () => {
    const { timers, visibility, page, scheduler } = setup();
    scheduler.request();
    visibility.set(true);
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual([]);
    expect(page.plans).toBe(0);
  });

  it('draws a change of live keys alone at most every LIVE_PERIOD_MS, and with any other change at once', () => {
    const { timers, page, scheduler } = setupDrawn();

    page.liveKeys.members = 'heard 2';
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual([]);
    expect(scheduler.log.skipped).toBe(1);
    // The scheduler comes back by itself when the live parts are due, without another request.
    timers.advance(LIVE_PERIOD_MS);
    expect(page.take()).toEqual(['members']);

    page.liveKeys.members = 'heard 3';
    page.keys.header = 'h2';
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual(['header', 'members']);
  });

  it('ticks a countdown with requestIn, whatever live parts wait', () => {
    const { timers, page, scheduler } = setupDrawn();
    page.liveKeys.members = 'heard 2';
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    page.keys.header = 'retrying in 4 s';
    scheduler.requestIn(1000);
    timers.advance(1000 + PERIOD_MIN_MS);
    expect(page.take()).toEqual(['header', 'members']);
  });

  it('redrawNow draws what changed in the same task, for the user’s own input', () => {
    const { page, scheduler } = setup();
    scheduler.redrawNow();
    expect(page.take()).toEqual(['header', 'ring', 'members']);
    page.keys.ring = 'selected 17';
    scheduler.redrawNow();
    expect(page.take()).toEqual(['ring']);
  });

  it('yields between parts once a slice ran 8 ms, and a newer redraw supersedes the rest of an older one', () => {
    const { timers, page, scheduler } = setup();
    page.costMs = 5;
    scheduler.redrawNow();
    // header (5 ms), ring (10 ms: over the slice), then the rest in a task of its own.
    expect(page.take()).toEqual(['header', 'ring']);
    page.costMs = 0;
    page.keys.header = 'h2';
    scheduler.redrawNow();
    expect(page.take()).toEqual(['header', 'members']);
    timers.advance(0);
    expect(page.take()).toEqual([]);
  });

  it('a part that throws does not stop the others, and is not drawn again until its key changes', () => {
    const { timers, page, scheduler } = setup();
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    page.failing.add('ring');
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual(['header', 'members']);
    expect(logged).toHaveBeenCalledTimes(1);
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(logged).toHaveBeenCalledTimes(1);
    page.failing.clear();
    page.keys.ring = 'r2';
    scheduler.request();
    timers.advance(PERIOD_MIN_MS);
    expect(page.take()).toEqual(['ring']);
  });
});
