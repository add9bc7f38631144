/**
 * How a bench ends: by itself, with exit code 0 when it ran and 1 when it failed (issue 19: every bench
 * runs unattended). Closing the browser or the app's server can hang — a WebSocket left open, and
 * peer 1.0.2's signaling server leaves self-rescheduling timers behind after `server.close()` (see
 * src/signaling/signaling-plugin.ts) — so closes are bounded and the process exits explicitly.
 */

/** How long closing the browser or a server may take before the bench goes on anyway, ms. */
export const CLOSE_TIMEOUT_MS = 15_000;

/** Waits for `closing` at most {@link CLOSE_TIMEOUT_MS}; a failed close is ignored (the report is out). */
export function closeWithin(closing: Promise<unknown>): Promise<unknown> {
  return Promise.race([closing.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())]);
}

/** Runs a bench's `main` and ends the process: 0 when it resolved, 1 (after printing the error) when it threw. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
