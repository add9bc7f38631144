/**
 * Closing PeerJS connections one per task. Closing a WebRTC connection blocks the main thread until
 * the browser's WebRTC thread has torn it down (the explorer bench saw a prune of idle duplicates take
 * 129 ms in one task while that thread was busy), so a prune, a disconnect or an eviction that closes
 * several at once must not make one long task of them. Frames arriving on a connection waiting here
 * are still delivered.
 */
import type { DataConnection } from 'peerjs';

/** PeerJS connections waiting to be closed, each in a task of its own, in the order they came. */
export class CloseQueue {
  private readonly waiting: DataConnection[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** Closes `connection` in a task of its own, after those queued before it. */
  close(connection: DataConnection): void {
    this.waiting.push(connection);
    this.timer ??= setTimeout(() => this.closeNext(), 0);
  }

  /** Forgets what waits (destroying the PeerJS peer closes its connections: nothing is left to close one by one). */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.length = 0;
  }

  private closeNext(): void {
    this.timer = undefined;
    const connection = this.waiting.shift();
    try {
      connection?.close();
    } catch {
      // already closed
    }
    if (this.waiting.length > 0) this.timer = setTimeout(() => this.closeNext(), 0);
  }
}
