/**
 * What drives the core's clock (STYLE.md habit 2: the core reacts to `tick(now)`; real timers live
 * here). Ticks come from a dedicated worker (tick-worker.ts), which browsers do not throttle in hidden
 * tabs, or from a page timer when the worker cannot start or fails (the fallback). A page coming back
 * from being frozen (`resume`) or hidden (`visibilitychange` to visible) wakes the core and ticks at
 * once, so that it gossips to catch up instead of waiting for its next period.
 *
 *   tick-worker ──message every intervalMs──▶ tick(clock.now())
 *   (or setInterval on the page)
 *   document resume / visible ──▶ wake(); tick(clock.now())
 */
import type { Clock } from '../core/ports.js';

/** What {@link TickDriver.start} drives. */
export interface TickDriverOptions {
  /** Period of the ticks, ms (the worker never ticks faster than every 10 ms). */
  intervalMs: number;
  /** Where the time of each tick comes from. */
  clock: Clock;
  /** Called on every tick with `clock.now()` (the core's `tick`). */
  tick: (nowMs: number) => void;
  /** Called when the page resumes or becomes visible, just before an extra tick (the core's `wake`). */
  wake: () => void;
}

/** A running clock of one node; {@link stop} ends it. */
export class TickDriver {
  private timer: ReturnType<typeof setInterval> | undefined;
  private worker: Worker | undefined;
  private readonly lifecycle = new AbortController();

  private constructor(private readonly options: TickDriverOptions) {}

  /** Starts ticking: from the tick worker when it starts, else from a page timer. Never throws. */
  static start(options: TickDriverOptions): TickDriver {
    const driver = new TickDriver(options);
    driver.run();
    return driver;
  }

  /** Stops the ticks and forgets the page's lifecycle events. Idempotent. */
  stop(): void {
    clearInterval(this.timer);
    this.worker?.terminate();
    this.lifecycle.abort();
  }

  private run(): void {
    const { intervalMs, clock, tick, wake } = this.options;
    const onTick = (): void => tick(clock.now());
    try {
      this.worker = new Worker(new URL('./tick-worker.ts', import.meta.url), { type: 'module' });
      this.worker.onmessage = onTick;
      this.worker.onerror = () => {
        this.worker?.terminate();
        this.worker = undefined;
        this.timer ??= setInterval(onTick, intervalMs);
      };
      this.worker.postMessage({ intervalMs });
    } catch {
      this.timer = setInterval(onTick, intervalMs);
    }
    if (typeof document !== 'undefined') {
      const resume = (): void => {
        wake();
        onTick();
      };
      document.addEventListener('resume', resume, { signal: this.lifecycle.signal });
      document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && resume(), { signal: this.lifecycle.signal });
    }
  }
}
