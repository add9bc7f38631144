/**
 * The signaling router: which path each WebRTC signal of this node takes, and the socket PeerJS talks
 * to instead of its own server connection (see routed-peer.ts) (DESIGN.md §3 "Signaling paths").
 *
 * Paths, in the order they are tried for a signal to node D:
 *   1. the path the connection's first signal took (an answer goes back the way its offer came), while
 *      that path can still reach D;
 *   2. same browser — D is a tab of this browser (BroadcastChannel presence): no server, no hop;
 *   3. relay — this node has an open data connection to some member: through the cluster;
 *   4. server — the signaling server, when its socket is open: bootstrap only;
 *   5. none — the connection is given up at once (the transport's `giveUp`, reason `no-path`). That
 *      says nothing of D, only that this node cannot signal right now (no server, no tab of this
 *      browser, no open connection to relay through), so PeerJS is not told that D is unavailable:
 *      an EXPIRE (PeerJS `peer-unavailable`) means the signaling server does not know D, and only the
 *      server says that (server-signaling.ts `onExpire`).
 * A path that carried an offer no answer came back on within `answerTimeoutMs` is skipped for that
 * destination for `FAILED_PATH_MS` (D may be unreachable through the cluster but registered with the
 * server, or the reverse); the connection is given up (reason `no-answer`) and the next attempt tries
 * the next path.
 *
 * The router also remembers, per PeerJS connection id, how the connection was set up, counts setups
 * per path (and per minute, for churn) and every signal sent or received per path.
 */
import type { NodeId } from '../core/types.js';
import { BroadcastSignaling } from './broadcast-signaling.js';
import { nodeIdOfPeer, peerIdOf } from './peer-ids.js';
import { RelaySignaling, type RelayEnvelope, type RelayStats } from './relay-signaling.js';
import { ServerSignaling, type ServerStatus } from './server-signaling.js';
import { connectionIdOf, parseSignal, toPlain, type Signal, type SignalKind } from './signal-message.js';

/** A signaling path. */
export type SignalingPath = 'same-browser' | 'relay' | 'server';
export const SIGNALING_PATHS: readonly SignalingPath[] = ['same-browser', 'relay', 'server'];

/** How a connection was set up: the path of its offer (and of the answer, for `via`). */
export interface SetupPath {
  path: SignalingPath;
  /** For `relay`: the neighbour that handed over the offer (inbound) or the answer (outbound). */
  via?: NodeId;
}

/** A count per path. */
export type PerPath = Record<SignalingPath, number>;

/** What {@link SignalingRouter.stats} reports. */
export interface SignalingStats {
  server: ServerStatus | { state: 'none' };
  /** Tabs of this browser in the same cluster, heard recently. */
  sameBrowserNodes: NodeId[];
  /** Offers this node sent, per path. */
  offersSent: PerPath;
  /** Offers this node received, per path. */
  offersReceived: PerPath;
  /** Connections that opened, per path of their setup. */
  setups: PerPath;
  /** Connections that opened in the last minute, per path (connection churn). */
  setupsLastMinute: PerPath;
  /** Every signal sent / received, per path. */
  signalsSent: PerPath;
  signalsReceived: PerPath;
  /** Signals that had no path at all (their connection was given up, reason `no-path`). */
  noPath: number;
  /** Offers given up because no answer came back in time. */
  answerTimeouts: number;
  /** Signals refused (schema) on any path. */
  malformed: number;
  relay: RelayStats;
}

/** Options of {@link SignalingRouter}. */
export interface SignalingRouterOptions {
  cluster: string;
  self: NodeId;
  /**
   * The signaling server; none: same browser and relay only. `registration`: the proof that this node
   * may register its PeerJS id, asked afresh before every (re)connect (see server-signaling.ts).
   */
  server?: { host: string; port: number; path: string; secure: boolean; registration?(peerId: string): Promise<Record<string, string>> };
  /** Use BroadcastChannel between tabs of this browser (default: where it exists). */
  broadcast?: boolean;
  /** Most nodes a relayed signal may pass (default 4). */
  hopLimit?: number;
  /** How long an offer waits for its answer before the path counts as failed, ms (default 8000). */
  answerTimeoutMs?: number;
  /** A node of this browser was heard (a seed for the core). */
  onPresent?(node: NodeId): void;
  onServerState?(status: ServerStatus): void;
}

/** Why the router gave a connection up: its offer got no answer in time, or no path could carry one of its signals. */
export type GiveUpReason = 'no-answer' | 'no-path';

/** What the router needs from the transport over it, bound once the transport exists ({@link SignalingRouter.attachTransport}). */
export interface RouterTransport {
  /** Nodes a relayed signal can be handed to (those with an open connection). */
  neighbours(): readonly NodeId[];
  /** Writes a relay envelope on an existing connection to `node`, never opening one; false when there is none. */
  sendTo(node: NodeId, envelope: RelayEnvelope): boolean;
  /**
   * Gives up connection `connectionId` to `node` if it has not opened, for `reason`. Not a verdict on
   * `node`: the transport must not report it unreachable for this.
   */
  giveUp(node: NodeId, connectionId: string, reason: GiveUpReason): void;
}

/** A path skipped for a destination after an offer on it got no answer, ms. */
export const FAILED_PATH_MS = 30_000;
const SETUP_WINDOW_MS = 60_000;
const CONNECTIONS_REMEMBERED = 1024;

interface ConnectionRecord {
  node: NodeId;
  setup: SetupPath;
  /** When this node sent the offer (outbound connections), until its answer came. */
  offerSentAtMs?: number;
  atMs: number;
}

type Handler = (...args: unknown[]) => void;

const zero = (): PerPath => ({ 'same-browser': 0, relay: 0, server: 0 });

/**
 * Routes this node's signals and hands PeerJS the ones for it. Implements the socket interface PeerJS
 * 1.5.5 expects of its server connection: an event emitter with `start(id, token)`, `send(message)`,
 * `close()`, emitting `message` events of `{type, src, payload}`.
 */
export class SignalingRouter {
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly broadcast: BroadcastSignaling | undefined;
  private readonly server: ServerSignaling | undefined;
  private relay: RelaySignaling | undefined;
  private transport: RouterTransport | undefined;
  private readonly connections = new Map<string, ConnectionRecord>();
  /** Per destination and path: when an offer on it last got no answer, ms. */
  private readonly failedPaths = new Map<string, number>();
  private readonly recentSetups: { atMs: number; path: SignalingPath }[] = [];
  private readonly answerTimer: ReturnType<typeof setInterval>;
  private readonly answerTimeoutMs: number;
  private closed = false;
  private readonly counters = {
    offersSent: zero(),
    offersReceived: zero(),
    setups: zero(),
    signalsSent: zero(),
    signalsReceived: zero(),
    noPath: 0,
    answerTimeouts: 0,
    malformed: 0,
  };

  constructor(private readonly options: SignalingRouterOptions) {
    this.answerTimeoutMs = options.answerTimeoutMs ?? 8_000;
    const malformed = (): void => void this.counters.malformed++;
    if (options.broadcast ?? typeof BroadcastChannel !== 'undefined') {
      this.broadcast = new BroadcastSignaling({
        cluster: options.cluster,
        self: options.self,
        onSignal: (signal) => this.receive(signal, { path: 'same-browser' }),
        onPresent: (node) => options.onPresent?.(node),
        onMalformed: malformed,
      });
    }
    if (options.server !== undefined) {
      this.server = new ServerSignaling({
        cluster: options.cluster,
        self: options.self,
        ...options.server,
        onSignal: (signal) => this.receive(signal, { path: 'server' }),
        // The server does not know `node` (not registered: its tab is closed). The only EXPIRE PeerJS
        // hears: it becomes `peer-unavailable`, and the transport reports the node unreachable.
        onExpire: (node) => this.emitMessage({ type: 'EXPIRE', src: peerIdOf(options.cluster, node) }),
        onState: (status) => options.onServerState?.(status),
        onMalformed: malformed,
      });
    }
    this.answerTimer = setInterval(() => this.checkAnswers(), 1000);
  }

  /**
   * Binds the router to the transport over it (once the transport exists): the relay goes through the
   * transport's open connections, and connections the router gives up are dropped by it. Until then
   * there is no relay path, and a connection given up is only counted here.
   */
  attachTransport(transport: RouterTransport): void {
    this.transport = transport;
    this.relay = new RelaySignaling({
      self: this.options.self,
      neighbours: () => transport.neighbours(),
      sendTo: (node, envelope) => transport.sendTo(node, envelope),
      deliver: (signal, via) => this.receive(signal, { path: 'relay', via }),
      nowMs: () => Date.now(),
      newId: () => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => (b % 36).toString(36)).join(''),
      ...(this.options.hopLimit !== undefined ? { hopLimit: this.options.hopLimit } : {}),
    });
  }

  /** A decoded data-channel message from `from` that `isRelayEnvelope` (relay-signaling.ts) matched. */
  receiveRelay(from: NodeId, message: unknown): void {
    this.relay?.receive(from, message);
  }

  /** Whether some path could carry a signal to `node` now. */
  canReach(node: NodeId): boolean {
    return this.pathsFor(node).length > 0;
  }

  /** How connection `connectionId` was set up, when this router signalled it. */
  setupOf(connectionId: string): SetupPath | undefined {
    return this.connections.get(connectionId)?.setup;
  }

  /** Connection `connectionId` opened: counts a setup on its path. */
  connectionOpened(connectionId: string): void {
    const record = this.connections.get(connectionId);
    if (record === undefined) return;
    this.counters.setups[record.setup.path]++;
    const nowMs = Date.now();
    this.recentSetups.push({ atMs: nowMs, path: record.setup.path });
    while (this.recentSetups.length > 0 && nowMs - this.recentSetups[0]!.atMs > SETUP_WINDOW_MS) this.recentSetups.shift();
  }

  /** Nodes of this browser heard recently. */
  sameBrowserNodes(): NodeId[] {
    return this.broadcast?.nodes() ?? [];
  }

  /** The server's state, or undefined without a server. */
  serverStatus(): ServerStatus | undefined {
    return this.server?.status();
  }

  /** Tries the server now (e.g. the browser went online). */
  retryServer(): void {
    this.server?.retryNow();
  }

  stats(): SignalingStats {
    const nowMs = Date.now();
    const lastMinute = zero();
    for (const setup of this.recentSetups) if (nowMs - setup.atMs <= SETUP_WINDOW_MS) lastMinute[setup.path]++;
    const copy = (p: PerPath): PerPath => ({ ...p });
    return {
      server: this.server?.status() ?? { state: 'none' },
      sameBrowserNodes: this.sameBrowserNodes(),
      offersSent: copy(this.counters.offersSent),
      offersReceived: copy(this.counters.offersReceived),
      setups: copy(this.counters.setups),
      setupsLastMinute: lastMinute,
      signalsSent: copy(this.counters.signalsSent),
      signalsReceived: copy(this.counters.signalsReceived),
      noPath: this.counters.noPath,
      answerTimeouts: this.counters.answerTimeouts,
      malformed: this.counters.malformed,
      relay: this.relay ? { ...this.relay.stats, dropped: { ...this.relay.stats.dropped } } : { sent: 0, delivered: 0, forwarded: 0, dropped: { malformed: 0, duplicate: 0, 'hop-limit': 0, 'no-route': 0, loop: 0 } },
    };
  }

  // ── the PeerJS socket interface ──

  on(event: string, handler: Handler): this {
    const set = this.handlers.get(event) ?? new Set<Handler>();
    set.add(handler);
    this.handlers.set(event, set);
    return this;
  }

  removeAllListeners(): this {
    this.handlers.clear();
    return this;
  }

  /** PeerJS registers its id: this node is "open" at once; the server registration goes on apart. */
  start(): void {
    setTimeout(() => !this.closed && this.emitMessage({ type: 'OPEN' }), 0);
  }

  /** A message PeerJS would send to its server: signals are routed; heartbeats and the rest are not needed. */
  send(data: unknown): void {
    if (this.closed || typeof data !== 'object' || data === null) return;
    const { type, dst, payload } = data as { type?: unknown; dst?: unknown; payload?: unknown };
    if (type !== 'OFFER' && type !== 'ANSWER' && type !== 'CANDIDATE') return;
    const to = typeof dst === 'string' ? nodeIdOfPeer(this.options.cluster, dst) : undefined;
    if (to === undefined) return;
    let signal: Signal;
    try {
      signal = parseSignal({ kind: type satisfies SignalKind, from: this.options.self, to, payload: toPlain(payload) });
    } catch {
      this.counters.malformed++;
      return;
    }
    this.route(signal);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.answerTimer);
    this.broadcast?.close();
    this.server?.close();
  }

  // ── routing ──

  /** The paths that could carry a signal to `node` now, in the order they are tried. */
  private pathsFor(node: NodeId, connectionId?: string): SignalingPath[] {
    const nowMs = Date.now();
    const usable = (path: SignalingPath): boolean => {
      if (path === 'same-browser') return this.broadcast?.has(node) ?? false;
      if (path === 'relay') return this.relay !== undefined && this.relay.canRoute();
      return this.server?.isOpen ?? false;
    };
    const failed = (path: SignalingPath): boolean => nowMs - (this.failedPaths.get(`${node} ${path}`) ?? -Infinity) < FAILED_PATH_MS;
    const first = connectionId !== undefined ? this.connections.get(connectionId)?.setup.path : undefined;
    const order = SIGNALING_PATHS.filter(usable);
    const fresh = order.filter((p) => !failed(p));
    // The connection's own path first; paths that failed for this node last (better than none).
    const ranked = [...fresh, ...order.filter(failed)];
    return first !== undefined && usable(first) ? [first, ...ranked.filter((p) => p !== first)] : ranked;
  }

  private route(signal: Signal): void {
    const connectionId = connectionIdOf(signal);
    for (const path of this.pathsFor(signal.to, connectionId)) {
      const via = this.sendOn(path, signal);
      if (via === false) continue;
      this.counters.signalsSent[path]++;
      if (signal.kind === 'OFFER') {
        this.counters.offersSent[path]++;
        this.remember(connectionId, { node: signal.to, setup: { path }, offerSentAtMs: Date.now(), atMs: Date.now() });
      } else if (!this.connections.has(connectionId)) {
        this.remember(connectionId, { node: signal.to, setup: { path }, atMs: Date.now() });
      }
      return;
    }
    this.counters.noPath++;
    // Give the connection up now (once per connection: an offer, or the first candidate) rather than
    // at its timeout; in a task of its own, not inside PeerJS's call that sent the signal. Not an
    // EXPIRE: that would tell PeerJS, and through it the core, that the node does not exist.
    if (signal.kind === 'OFFER' || !this.connections.has(connectionId)) {
      this.remember(connectionId, { node: signal.to, setup: { path: 'server' }, atMs: Date.now() });
      setTimeout(() => !this.closed && this.transport?.giveUp(signal.to, connectionId, 'no-path'), 0);
    }
  }

  /** Sends on one path; false when that path could not take it. */
  private sendOn(path: SignalingPath, signal: Signal): boolean {
    if (path === 'same-browser') return this.broadcast?.send(signal) ?? false;
    if (path === 'server') return this.server?.send(signal) ?? false;
    return (this.relay?.send(signal).length ?? 0) > 0;
  }

  private receive(signal: Signal, setup: SetupPath): void {
    if (this.closed || signal.to !== this.options.self) return;
    const path = setup.path;
    this.counters.signalsReceived[path]++;
    const connectionId = connectionIdOf(signal);
    const record = this.connections.get(connectionId);
    if (signal.kind === 'OFFER') {
      this.counters.offersReceived[path]++;
      this.remember(connectionId, { node: signal.from, setup, atMs: Date.now() });
    } else if (signal.kind === 'ANSWER' && record !== undefined) {
      record.offerSentAtMs = undefined;
      // The answer's last hop is the neighbour this connection's signals came through.
      if (setup.via !== undefined && record.setup.path === path) record.setup = setup;
    }
    this.emitMessage({ type: signal.kind, src: peerIdOf(this.options.cluster, signal.from), payload: signal.payload });
  }

  /** Offers without an answer in time: give the connection up and skip its path for that node for a while. */
  private checkAnswers(): void {
    const nowMs = Date.now();
    for (const [connectionId, record] of this.connections) {
      if (record.offerSentAtMs === undefined || nowMs - record.offerSentAtMs < this.answerTimeoutMs) continue;
      record.offerSentAtMs = undefined;
      this.counters.answerTimeouts++;
      this.failedPaths.set(`${record.node} ${record.setup.path}`, nowMs);
      this.transport?.giveUp(record.node, connectionId, 'no-answer');
    }
    for (const [key, atMs] of this.failedPaths) if (nowMs - atMs > FAILED_PATH_MS) this.failedPaths.delete(key);
  }

  private remember(connectionId: string, record: ConnectionRecord): void {
    this.connections.delete(connectionId);
    this.connections.set(connectionId, record);
    // Insertion order is age order: forget the oldest beyond the bound.
    for (const oldest of this.connections.keys()) {
      if (this.connections.size <= CONNECTIONS_REMEMBERED) break;
      this.connections.delete(oldest);
    }
  }

  private emitMessage(message: { type: string; src?: string; payload?: unknown }): void {
    for (const handler of this.handlers.get('message') ?? []) handler(message);
  }
}

