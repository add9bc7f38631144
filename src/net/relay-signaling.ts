/**
 * Signaling through the cluster: WebRTC offers, answers and ICE candidates for a member this node is
 * not connected to travel over the data channels it has, hop by hop (DESIGN.md §3 "Signaling paths";
 * the idea of libp2p's browser-to-browser transport, which signals over a relayed stream).
 *
 *     A ──(no connection)── D          A wants a connection to D
 *     │                     │
 *     B ───────────────────C           A → B → C → D: OFFER   (each hop: hops - 1, seen-id check)
 *                                      D → C → B → A: ANSWER, CANDIDATEs the same way
 *
 * Routing is a bounded flood: a node holding an open connection to the destination hands the signal
 * to it; otherwise it passes the signal to every neighbour but the one it came from, while hops remain.
 * Every envelope has a random id, and a node forwards or delivers an id once (duplicates of a flood are
 * dropped and counted). A relay forwards only envelopes whose signal passes the schema
 * (`parseSignal`): nothing but offers, answers and candidates of data connections, bounded in size.
 * Lost envelopes are not resent here: a connection whose offer or answer was lost never opens, and the
 * router's answer timeout gives up on it so that the next attempt may take another path.
 *
 * The flood costs up to one message per connection between members for each signal that cannot be
 * handed to a neighbour of the destination directly; with the default cap of connections most
 * destinations are one hop away.
 */
import * as v from 'valibot';
import type { NodeId } from '../core/types.js';
import { parseSignal, type Signal } from './signal-message.js';

/** How many nodes may pass a signal on between its origin and its destination, by default. */
export const DEFAULT_HOP_LIMIT = 4;
/** How long an envelope id is remembered (duplicates within it are dropped), ms. */
export const SEEN_TTL_MS = 60_000;
/** Most envelope ids remembered; the oldest are forgotten first. */
export const SEEN_MAX = 4096;

/** What travels on a data channel: a signal and its routing header. */
export interface RelayEnvelope {
  type: 'signal-relay';
  /** Random id of this envelope, the same on every hop (de-duplication). */
  id: string;
  /** How many more nodes may pass it on. */
  hops: number;
  signal: Signal;
}

const envelopeHeader = v.object({
  type: v.literal('signal-relay'),
  id: v.pipe(v.string(), v.regex(/^[a-z0-9]{8,32}$/)),
  hops: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(16)),
  signal: v.unknown(),
});

/** Whether a decoded message is meant for the relay (and not for the core). */
export function isRelayEnvelope(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'signal-relay';
}

/** Why an envelope was not delivered or passed on. */
export type RelayDropReason = 'malformed' | 'duplicate' | 'hop-limit' | 'no-route' | 'loop';

/** Counters of the relay. */
export interface RelayStats {
  /** Signals this node started through the relay. */
  sent: number;
  /** Signals delivered here (this node was the destination). */
  delivered: number;
  /** Envelopes passed on to another node (one per copy). */
  forwarded: number;
  /** Envelopes dropped, by reason. */
  dropped: Record<RelayDropReason, number>;
}

/** What the relay needs from the node hosting it. */
export interface RelayPorts {
  self: NodeId;
  /** Nodes with an open data connection right now. */
  neighbours(): readonly NodeId[];
  /** Writes an envelope on the open connection to `node`; false when there is none. */
  sendTo(node: NodeId, envelope: RelayEnvelope): boolean;
  /** A signal for this node arrived; `via` is the neighbour that handed it over. */
  deliver(signal: Signal, via: NodeId): void;
  nowMs(): number;
  /** A fresh envelope id, `[a-z0-9]{8,32}`. */
  newId(): string;
  hopLimit?: number;
}

/** The relay of one node. */
export class RelaySignaling {
  private readonly seen = new Map<string, number>();
  private readonly hopLimit: number;
  readonly stats: RelayStats = { sent: 0, delivered: 0, forwarded: 0, dropped: { malformed: 0, duplicate: 0, 'hop-limit': 0, 'no-route': 0, loop: 0 } };

  constructor(private readonly ports: RelayPorts) {
    this.hopLimit = ports.hopLimit ?? DEFAULT_HOP_LIMIT;
  }

  /** Whether any neighbour could carry a signal now. */
  canRoute(): boolean {
    return this.ports.neighbours().length > 0;
  }

  /**
   * Sends `signal` (from this node) towards its destination.
   * @returns the neighbours it was handed to (empty: no open connection, nothing sent).
   */
  send(signal: Signal): NodeId[] {
    const envelope: RelayEnvelope = { type: 'signal-relay', id: this.ports.newId(), hops: this.hopLimit, signal };
    this.remember(envelope.id);
    const handed = this.pass(envelope, undefined);
    if (handed.length > 0) this.stats.sent++;
    return handed;
  }

  /**
   * An envelope arrived from neighbour `from` (decoded, untrusted): delivers it here, passes it on, or
   * drops it and counts why.
   * @returns the reason it was dropped, or undefined.
   */
  receive(from: NodeId, message: unknown): RelayDropReason | undefined {
    const header = v.safeParse(envelopeHeader, message);
    let signal: Signal;
    try {
      if (!header.success) throw new Error('bad header');
      signal = parseSignal(header.output.signal);
    } catch {
      return this.drop('malformed');
    }
    const envelope: RelayEnvelope = { type: 'signal-relay', id: header.output.id, hops: header.output.hops, signal };
    if (this.seen.has(envelope.id)) return this.drop('duplicate');
    this.remember(envelope.id);
    if (signal.to === this.ports.self) {
      this.stats.delivered++;
      this.ports.deliver(signal, from);
      return undefined;
    }
    // A signal claiming to come from this node was not sent by it (its own ids are remembered).
    if (signal.from === this.ports.self) return this.drop('loop');
    if (envelope.hops <= 0) return this.drop('hop-limit');
    const handed = this.pass({ ...envelope, hops: envelope.hops - 1 }, from);
    return handed.length > 0 ? undefined : this.drop('no-route');
  }

  /** Hands an envelope to the destination when it is a neighbour, else to every neighbour but `from` and the origin. */
  private pass(envelope: RelayEnvelope, from: NodeId | undefined): NodeId[] {
    const neighbours = this.ports.neighbours();
    const { to, from: origin } = envelope.signal;
    const targets = neighbours.includes(to) ? [to] : neighbours.filter((n) => n !== from && n !== origin && n !== this.ports.self);
    const handed = targets.filter((node) => this.ports.sendTo(node, envelope));
    if (from !== undefined) this.stats.forwarded += handed.length;
    return handed;
  }

  private remember(id: string): void {
    const nowMs = this.ports.nowMs();
    this.seen.set(id, nowMs + SEEN_TTL_MS);
    // Map order is insertion order: the oldest ids come first.
    for (const [old, expiresMs] of this.seen) {
      if (this.seen.size <= SEEN_MAX && expiresMs > nowMs) break;
      this.seen.delete(old);
    }
  }

  private drop(reason: RelayDropReason): RelayDropReason {
    this.stats.dropped[reason]++;
    return reason;
  }
}
