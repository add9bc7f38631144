/**
 * The event stream of a node (STYLE.md habit 8: the UI only consumes the public API and its events):
 * the `DynamoEvent` union and the typed emitter behind `DynamoNode.on(type, listener)`.
 *
 * A listener is called synchronously, in the order of subscription: first those of the event's type,
 * then those of '*'. A listener that throws is logged to the console and does not stop the others.
 */
import type { NodeEvent } from '../core/node-api.js';
import type { NodeId } from '../core/types.js';
import type { ServerStatus } from '../net/server-signaling.js';

/**
 * Events of a node: the core's, plus `seeds` when bootstrap seeds were found (server listing or tabs of
 * this browser), `connectivity` for disconnect/reconnect, and `signaling` when the signaling server's
 * state changes.
 */
export type DynamoEvent =
  | NodeEvent
  | { type: 'seeds'; seeds: NodeId[] }
  | { type: 'connectivity'; connected: boolean }
  | { type: 'signaling'; server: ServerStatus };

/** A listener of the events of type `T`; it receives exactly that member of {@link DynamoEvent}. */
export type DynamoEventListener<T extends DynamoEvent['type']> = (event: Extract<DynamoEvent, { type: T }>) => void;

/** Listeners by event type ('*': every event). One per node: no state is shared between nodes. */
export class DynamoEventEmitter {
  private readonly listeners = new Map<string, Set<(event: DynamoEvent) => void>>();

  /**
   * Subscribes `listener` to events of `type`, or to all with '*'. Subscribing the same function twice
   * to one type calls it once. Returns the unsubscribe function.
   */
  on<T extends DynamoEvent['type']>(type: T, listener: DynamoEventListener<T>): () => void;
  on(type: '*', listener: (event: DynamoEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener as (event: DynamoEvent) => void);
    this.listeners.set(type, set);
    return () => set.delete(listener as (event: DynamoEvent) => void);
  }

  /** Calls the listeners of `event.type`, then those of '*'. Never throws: a failing listener is logged. */
  emit(event: DynamoEvent): void {
    for (const key of [event.type, '*']) {
      for (const listener of this.listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch (error) {
          console.error('listener of', event.type, 'failed', error);
        }
      }
    }
  }
}
