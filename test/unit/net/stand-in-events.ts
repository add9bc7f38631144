/**
 * The event surface shared by the stand-ins for PeerJS's `Peer` and `DataConnection` in the transport
 * tests (connection-dialer, signaling-unreachable, and the PeerJS run of the Transport contract):
 * `on(event, handler)` and `emit(event, ...args)`, as PeerJS's EventEmitter offers them.
 */
export type Handler = (...args: unknown[]) => void;

/** A minimal event emitter: handlers run in the order they were added. */
export class Events {
  private readonly handlers = new Map<string, Handler[]>();
  on(event: string, handler: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const handler of this.handlers.get(event) ?? []) handler(...args);
  }
}
