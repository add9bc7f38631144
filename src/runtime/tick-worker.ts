/**
 * A dedicated worker that only keeps time: it posts a message every `intervalMs`. Browsers throttle
 * timers of hidden tabs' pages (to once a second, later once a minute) but not of dedicated workers,
 * so a node in a background tab keeps gossiping, probing and answering on time.
 */
const scope = self as unknown as { postMessage(message: unknown): void; onmessage: ((event: MessageEvent<{ intervalMs: number }>) => void) | null };
let timer: ReturnType<typeof setInterval> | undefined;

scope.onmessage = (event) => {
  if (timer !== undefined) clearInterval(timer);
  timer = setInterval(() => scope.postMessage(0), Math.max(10, event.data.intervalMs));
};
