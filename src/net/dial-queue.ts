/**
 * The dial queue: connections this node wants to open wait here, first come first served, until the
 * transport has room for them — a free setup slot (`maxOpening`) and room under the cap
 * (`maxConnections`). The transport decides what room there is (it may evict to make some); this
 * keeps the order, and looks again shortly when it was told to wait for a setup in progress.
 */

/** What the transport's gate says about starting the next connection. */
export type DialGate =
  /** Start it now. */
  | 'go'
  /** No room until a setup in progress ends; look again in a moment. */
  | 'wait'
  /** Nothing to do until an event (a setup ending, a connection closing) calls {@link DialQueue.drain} again. */
  | 'stop';

export class DialQueue<T> {
  private readonly items: T[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** @param retryMs how soon to look again after a `wait`, ms. */
  constructor(private readonly retryMs: number) {}

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.items.includes(item);
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Takes `item` out (it was dropped or handed to another connection). */
  remove(item: T): void {
    const at = this.items.indexOf(item);
    if (at >= 0) this.items.splice(at, 1);
  }

  /** Starts waiting items in order for as long as `gate` says `go`. */
  drain(gate: () => DialGate, start: (item: T) => void): void {
    while (this.items.length > 0) {
      const verdict = gate();
      if (verdict === 'stop') return;
      if (verdict === 'wait') {
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          this.drain(gate, start);
        }, this.retryMs);
        return;
      }
      start(this.items.shift()!);
    }
  }

  /** Forgets every item and the pending look. */
  clear(): void {
    this.items.length = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
