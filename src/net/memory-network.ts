/**
 * An in-memory network for tests and simulation (DESIGN.md §2): every message is encoded to bytes
 * and decoded again (so nodes never share objects), then delivered after a delay drawn from the
 * network's seeded randomness, unless a fault drops it. Time is whatever the `schedule` function
 * given by the host says — a simulator's virtual clock, or real timers.
 *
 * Faults are plain data (`NetworkFaults`), changeable at any time: loss and duplication
 * probabilities, delay bounds, and reachability (a partition is a set of blocked directed links).
 */
import type { Message } from '../core/messages.js';
import type { Transport } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import type { Random } from '../core/ports.js';
import { decodeMessage, encodeMessage } from './wire.js';

/** Fault settings of a {@link MemoryNetwork}. Probabilities are in [0, 1]; delays in ms. */
export interface NetworkFaults {
  lossProbability: number;
  duplicateProbability: number;
  delayMinMs: number;
  delayMaxMs: number;
}

/** Receives a decoded (still untrusted) message. */
export type Deliver = (from: NodeId, message: unknown) => void;

/** Counters of a {@link MemoryNetwork}. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  bytes: number;
}

/** A network of in-memory endpoints. */
export class MemoryNetwork {
  faults: NetworkFaults;
  private readonly endpoints = new Map<NodeId, Deliver>();
  private readonly blocked = new Set<string>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, bytes: 0 };

  /**
   * @param schedule runs `fn` after `delayMs` (virtual or real time)
   * @param random the network's own randomness (delays, loss)
   */
  constructor(
    private readonly schedule: (delayMs: number, fn: () => void) => void,
    private readonly random: Random,
    faults: Partial<NetworkFaults> = {},
  ) {
    this.faults = { lossProbability: 0, duplicateProbability: 0, delayMinMs: 1, delayMaxMs: 5, ...faults };
  }

  /** Connects a node; returns the transport its core sends through. Re-attaching replaces the handler. */
  attach(id: NodeId, deliver: Deliver): Transport {
    this.endpoints.set(id, deliver);
    return { send: (to, message) => this.send(id, to, message) };
  }

  /** Disconnects a node (a crashed or closed tab): messages to it are lost. */
  detach(id: NodeId): void {
    this.endpoints.delete(id);
  }

  /** Blocks messages from `from` to `to` (one direction). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Splits the nodes into groups that cannot reach each other (both directions). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.block(x, y);
  }

  /** Removes every block. */
  heal(): void {
    this.blocked.clear();
  }

  /** Sends raw bytes from `from` to `to` (used by tests to inject malformed messages). */
  sendBytes(from: NodeId, to: NodeId, bytes: Uint8Array): void {
    this.stats.sent++;
    this.stats.bytes += bytes.byteLength;
    if (this.blocked.has(`${from}>${to}`) || this.random.next() < this.faults.lossProbability) {
      this.stats.dropped++;
      return;
    }
    const copies = this.random.next() < this.faults.duplicateProbability ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      const { delayMinMs, delayMaxMs } = this.faults;
      const delayMs = delayMinMs + this.random.next() * Math.max(0, delayMaxMs - delayMinMs);
      this.schedule(delayMs, () => {
        const deliver = this.endpoints.get(to);
        if (deliver === undefined) {
          this.stats.dropped++;
          return;
        }
        let decoded: unknown;
        try {
          decoded = decodeMessage(bytes);
        } catch {
          decoded = { undecodable: true };
        }
        this.stats.delivered++;
        deliver(from, decoded);
      });
    }
  }

  private send(from: NodeId, to: NodeId, message: Message): void {
    this.sendBytes(from, to, encodeMessage(message));
  }
}
