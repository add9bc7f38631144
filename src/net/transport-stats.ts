/**
 * The PeerJS transport's counters (`PeerjsTransport.stats`, shown by the explorer and read by the
 * benches): the counters every part of the transport adds to, and the setup times of the last
 * connections that opened, kept in a ring buffer of {@link SETUP_SAMPLES}.
 */

/** Counters of the transport. */
export interface TransportStats {
  /** Connections in use (draining ones not counted: see `drainingConnections`). */
  openConnections: number;
  /** Evicted connections kept open for at most `DRAIN_MS` so that messages on their way arrive. */
  drainingConnections: number;
  connectionsOpened: number;
  /** Connections closed to make room at the cap (every connection to a node, or a duplicate). */
  connectionsEvicted: number;
  /** Second connections to a node closed (both nodes had connected at once). */
  duplicatesClosed: number;
  connectFailures: number;
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Data-channel messages that carried several messages of one turn (batching.ts), sent and received. */
  batchesSent: number;
  batchesReceived: number;
  /** Messages lost before they were written: queued on a connection that closed or never opened, with no other open one to the node. */
  messagesDroppedUnsent: number;
  /** Connections this node opened that had to wait for a setup slot (see `maxOpening`). */
  connectsQueued: number;
  /** Connections waiting for a setup slot right now. */
  connectsWaiting: number;
  /**
   * PeerJS errors by type (the peer's, and `connection:<type>` for a connection's), and connections
   * that could not be started or were given up, by `connect:<reason>` (peerjs-errors.ts).
   */
  errors: Record<string, number>;
  /**
   * How long the last (up to {@link SETUP_SAMPLES}) connections that opened took to open, from
   * `connect` (or the offer's arrival, for an accepted one) to the open data channel, in ms:
   * median, 95th percentile and most. Zeros before any opened.
   */
  setupMs: { p50: number; p95: number; max: number };
}

/** The counters the transport adds to as things happen (the rest of {@link TransportStats} is read when asked). */
export type TransportCounters = Omit<TransportStats, 'openConnections' | 'drainingConnections' | 'setupMs' | 'connectsWaiting'>;

/** Counters at zero. */
export function newTransportCounters(): TransportCounters {
  return {
    connectionsOpened: 0,
    connectionsEvicted: 0,
    duplicatesClosed: 0,
    connectFailures: 0,
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    batchesSent: 0,
    batchesReceived: 0,
    messagesDroppedUnsent: 0,
    connectsQueued: 0,
    errors: {},
  };
}

/** Counts one error under `key` (a key of {@link TransportStats.errors}). */
export function countError(counters: TransportCounters, key: string): void {
  counters.errors[key] = (counters.errors[key] ?? 0) + 1;
}

/** A connection that could not be started or was given up: counted as a failure and under `key`. */
export function countConnectFailure(counters: TransportCounters, key: string): void {
  counters.connectFailures++;
  countError(counters, key);
}

/** Connection setup times kept for {@link TransportStats.setupMs}. */
export const SETUP_SAMPLES = 256;

/** The setup times of the last {@link SETUP_SAMPLES} connections that opened, ms. */
export class SetupTimes {
  /** A ring buffer, indexed by the count of connections opened. */
  private readonly samples: number[] = [];
  /** The samples sorted, until the next one arrives (stats() is read several times a second by the explorer). */
  private sorted: number[] | undefined;

  /** Records the setup time of the `opened`-th connection that opened, ms. */
  record(opened: number, setupMs: number): void {
    this.samples[opened % SETUP_SAMPLES] = setupMs;
    this.sorted = undefined;
  }

  /** Median, 95th percentile and most, ms; zeros before any sample. */
  percentiles(): TransportStats['setupMs'] {
    const sorted = (this.sorted ??= this.samples.filter((ms) => ms !== undefined).sort((a, b) => a - b));
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return { p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0 };
  }
}
