/**
 * The core's `Transport` over PeerJS data channels (WebRTC), DESIGN.md §1–2: the composition of the
 * pieces that do the work, its public API, and where a received message goes.
 *
 *   send ──▶ connection-table (which connection; cap) ──▶ write-path (frames, queue) ──▶ PeerJS
 *              │ none yet: connection-dialer (setup slots) ──▶ PeerJS connect ──┐
 *   PeerJS connection from another node ───────────────────────────────────────┴─▶ connection-setup
 *   data ──▶ read-path (frames, decoding) ──▶ connection-authentication ──▶ deliver: drain notice →
 *            connection-table; relayed signal → signaling router; handshake → refused; else → the core
 *
 * Connections are opened on demand, when the core first sends to a node, and capped: a browser
 * handles a few dozen peer connections well and caps a page at 500 (BROWSER-FACTS.md), so no full
 * mesh. Their setup is signalled by the {@link SignalingRouter} (same browser, relay through the
 * cluster, or the server), so the transport works whether or not the signaling server is up.
 *
 * Two conditions are kept apart (peerjs-errors.ts): a node the signaling server does not know (PeerJS
 * `peer-unavailable`) is reported unreachable (`listen`'s `onUnreachable`), while no signaling path
 * right now fails only that connection attempt (`connect:no-path`): the fault is this node's.
 * PeerJS reports errors as events with string types; they are translated here, and only here.
 */
import type { Peer, PeerOptions } from 'peerjs';
import type { Message } from '../core/messages.js';
import type { Transport } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import { CloseQueue } from './close-queue.js';
import { connectionState, type Connection, type ConnectionState } from './connection.js';
import { ConnectionAuthentication, noAuthenticationStats, type AuthenticationOptions, type AuthenticationStats } from './connection-authentication.js';
import { ConnectionDialer } from './connection-dialer.js';
import { ConnectionSetup } from './connection-setup.js';
import { selectedPath, type ConnectionPath } from './connection-paths.js';
import { DUPLICATE_IDLE_MS } from './connection-policy.js';
import { ConnectionTable, DRAIN_MS, isDrainNotice } from './connection-table.js';
import { toFrames } from './framing.js';
import { HandshakeError, isHandshakeMessage } from './handshake.js';
import { peerIdOf } from './peer-ids.js';
import { connectFailureKey, peerErrorMeaning } from './peerjs-errors.js';
import { ReadPath } from './read-path.js';
import { isRelayEnvelope, type RelayEnvelope } from './relay-signaling.js';
import { openRoutedPeer } from './routed-peer.js';
import { SignalingRouter, type GiveUpReason, type SignalingRouterOptions } from './signaling-router.js';
import { countConnectFailure, countError, newTransportCounters, SETUP_SAMPLES, type TransportCounters, type TransportStats } from './transport-stats.js';
import { framesOf, WritePath } from './write-path.js';
import { batchMessages, isLinkBatch, isLinkFeatures } from './batching.js';
import { decodeMessage, encodeMessage } from './wire.js';

export type { AuthenticationStats, ConnectionPath, ConnectionState, TransportStats };
export { DRAIN_MS, SETUP_SAMPLES };

/** Options of {@link PeerjsTransport.open}. */
export interface PeerjsTransportOptions {
  cluster: string;
  nodeId: NodeId;
  /** PeerJS client options reaching the signaling server (host, port, path, secure); none: no server. */
  peerOptions?: PeerOptions;
  /** Options of the signaling router besides cluster, node and server (callbacks, hop limit). */
  signaling?: Omit<SignalingRouterOptions, 'cluster' | 'self' | 'server'>;
  /** Most open connections (default 24). */
  maxConnections?: number;
  /** Most connections this node opened that are being set up at once (default 6); more wait their turn. */
  maxOpening?: number;
  /**
   * How long to wait for a connection to open, in ms (default 20000). Setting one up takes seconds
   * when dozens start at once on a busy machine, and giving up throws away the work of both ends; a
   * closed tab is reported at once by the signaling server (`peer-unavailable`), not by this timeout.
   */
  connectTimeoutMs?: number;
  /**
   * Authenticates every connection before any message on it is taken (handshake.ts): this node's key,
   * the cluster's keys, and which nodes to talk to at all. Without it connections are not
   * authenticated (unit tests over stand-in peers; the authentication-off benchmark).
   */
  authentication?: AuthenticationOptions;
  /** The proof that this node may register its PeerJS id with the signaling server (src/security/registration.ts). */
  registration?: (peerId: string) => Promise<Record<string, string>>;
}

/** A transport over PeerJS. Create with {@link PeerjsTransport.open}. */
export class PeerjsTransport implements Transport {
  readonly counters: TransportCounters = newTransportCounters();
  private readonly table: ConnectionTable;
  private readonly dialer: ConnectionDialer;
  private readonly writes = new WritePath(this.counters);
  private readonly reads: ReadPath;
  private readonly closeQueue = new CloseQueue();
  private readonly setup: ConnectionSetup;
  /** Handshakes of the connections (none when authentication is off). */
  private readonly auth: ConnectionAuthentication<Connection> | undefined;
  private onMessage: (from: NodeId, message: unknown) => void = () => undefined;
  private onDrop: (from: NodeId, reason: string) => void = () => undefined;
  private onUnreachable: (node: NodeId) => void = () => undefined;
  private offline = false;
  private closed = false;
  private readonly pruneTimer: ReturnType<typeof setInterval>;

  private constructor(
    private readonly peer: Peer,
    readonly cluster: string,
    readonly nodeId: NodeId,
    options: Omit<PeerjsTransportOptions, 'peerOptions'>,
    /** The signaling router under `peer` (absent for a stand-in peer in unit tests). */
    readonly signaling?: SignalingRouter,
  ) {
    this.table = new ConnectionTable(nodeId, options.maxConnections ?? 24, this.counters, {
      write: (connection, frames) => this.writes.write(connection, frames),
      handOver: (from, to) => this.writes.handOver(from, to),
      close: (dataConnection) => this.closeQueue.close(dataConnection),
      dropped: (connection, settingUp) => {
        this.dialer.forget(connection);
        // A setup slot came free, or connections wait for room.
        if (settingUp || this.dialer.waiting > 0) this.dialer.admit();
      },
    });
    this.reads = new ReadPath(this.counters, (from, reason) => this.onDrop(from, reason));
    this.auth =
      options.authentication === undefined
        ? undefined
        : new ConnectionAuthentication<Connection>(options.authentication, {
            write: (connection, message) => this.writes.writeNow(connection, message),
            authenticated: (connection) => this.setup.opened(connection),
            deliver: (connection, message) => this.deliver(connection, message),
            refused: (connection, error) => {
              this.onDrop(connection.node, `handshake: ${error.reason}: ${error.message}`);
              connection.queue = [];
              this.table.drop(connection);
            },
            dropped: (connection) => connection.dropped,
          });
    this.setup = new ConnectionSetup({
      self: nodeId,
      cluster,
      table: this.table,
      counters: this.counters,
      writes: this.writes,
      auth: this.auth,
      signaling,
      connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
      offline: () => this.offline,
      admit: () => this.dialer.admit(),
      onDrop: (from, reason) => this.onDrop(from, reason),
      onData: (connection, data) => this.onData(connection, data),
    });
    this.dialer = new ConnectionDialer({
      peer,
      cluster,
      table: this.table,
      counters: this.counters,
      maxOpening: options.maxOpening ?? 6,
      signaling,
      stopped: () => this.closed || this.offline,
      wire: (connection, dataConnection) => this.setup.wire(connection, dataConnection),
    });
    peer.on('connection', (dataConnection) => this.setup.accept(dataConnection));
    this.pruneTimer = setInterval(() => this.table.closeConnections(false), DUPLICATE_IDLE_MS);
    peer.on('error', (error) => this.onPeerError(error));
    signaling?.attachTransport({
      neighbours: () => this.table.relayNeighbours(),
      sendTo: (node, envelope) => this.sendIfOpen(node, envelope),
      giveUp: (node, connectionId, reason) => this.giveUp(node, connectionId, reason),
    });
  }

  /**
   * Makes this node's PeerJS peer, signalled through a {@link SignalingRouter}, and the transport over
   * it. Resolves without waiting for the signaling server: the router registers with it in the
   * background (retrying with backoff), and tabs of this browser and the cluster's members are reached
   * without it.
   * @throws the PeerJS error when the peer cannot be made (no WebRTC in this browser).
   */
  static async open(options: PeerjsTransportOptions): Promise<PeerjsTransport> {
    const peerOptions = options.peerOptions;
    const router = new SignalingRouter({
      ...options.signaling,
      cluster: options.cluster,
      self: options.nodeId,
      ...(peerOptions?.host !== undefined
        ? {
            server: {
              host: peerOptions.host,
              port: peerOptions.port ?? 443,
              path: peerOptions.path ?? '/',
              secure: peerOptions.secure ?? true,
              ...(options.registration !== undefined ? { registration: options.registration } : {}),
            },
          }
        : {}),
    });
    try {
      const peer = await openRoutedPeer(peerIdOf(options.cluster, options.nodeId), { debug: 0, config: { iceServers: [] }, ...peerOptions }, router);
      return new PeerjsTransport(peer, options.cluster, options.nodeId, options, router);
    } catch (error) {
      router.close();
      throw error;
    }
  }

  /**
   * A transport over a PeerJS peer that is already open; the unit tests pass a stand-in peer, and may
   * pass the {@link SignalingRouter} under it. Use {@link open} otherwise.
   */
  static fromPeer(peer: Peer, options: Omit<PeerjsTransportOptions, 'peerOptions'>, signaling?: SignalingRouter): PeerjsTransport {
    return new PeerjsTransport(peer, options.cluster, options.nodeId, options, signaling);
  }

  /**
   * Sets the receivers of decoded (untrusted) messages, of drop reports, and of peers found
   * unreachable: the signaling server says it does not know them (their tab is closed). A node this
   * node merely has no signaling path to right now is not reported (see the header).
   */
  listen(
    onMessage: (from: NodeId, message: unknown) => void,
    onDrop: (from: NodeId, reason: string) => void,
    onUnreachable: (node: NodeId) => void = () => undefined,
  ): void {
    this.onMessage = onMessage;
    this.onDrop = onDrop;
    this.onUnreachable = onUnreachable;
  }

  /**
   * Cuts this node off, as a network failure would: closes every connection, refuses new ones, and
   * drops whatever is sent or arrives until {@link reconnect}. The signaling registration is kept.
   */
  disconnect(): void {
    this.offline = true;
    this.table.dropAll();
  }

  /** Ends a {@link disconnect}: connections open on demand again. */
  reconnect(): void {
    this.offline = false;
  }

  /** False while disconnected. */
  get connected(): boolean {
    return !this.offline;
  }

  /** Sends a message, opening a connection when needed. Best effort: a failure drops it silently (the core times out). */
  send(to: NodeId, message: Message): void {
    if (this.closed || this.offline) return;
    // A connection that could not even be started (connection-dialer.ts) is dropped already: the
    // write path counts the message lost, and the core times out.
    this.writes.sendEncoded(this.table.toUse(to) ?? this.dialer.connect(to), encodeMessage(message));
  }

  /** Sends raw bytes as one framed message (tests use it to deliver malformed messages). */
  sendBytes(to: NodeId, bytes: Uint8Array): void {
    if (this.closed || this.offline) return;
    this.sendFrames(to, toFrames(bytes));
  }

  private sendFrames(to: NodeId, frames: Uint8Array[]): void {
    // A connection that could not even be started (connection-dialer.ts) is dropped already: the
    // write path counts the message lost, and the core times out.
    this.writes.send(this.table.toUse(to) ?? this.dialer.connect(to), frames);
  }

  /** Writes a relay envelope on an open (else a draining) connection to `node`, never opening one; false when there is none. */
  private sendIfOpen(node: NodeId, envelope: RelayEnvelope): boolean {
    if (this.closed || this.offline) return false;
    const best = this.table.toUse(node);
    const connection = best?.open && !best.superseded ? best : this.table.drainingTo(node);
    if (connection === undefined) return false;
    connection.lastUsedMs = Date.now();
    this.writes.write(connection, framesOf(envelope));
    return true;
  }

  /**
   * The signaling router gave up connection `connectionId` to `node`: its offer got no answer
   * (`no-answer`), or no signaling path could carry one of its signals (`no-path`). Drops that
   * connection if it has not opened; says nothing of whether `node` is reachable.
   */
  private giveUp(node: NodeId, connectionId: string, reason: GiveUpReason): void {
    for (const connection of [...this.table.forNode(node)]) {
      if (connection.open || connection.dataConnection?.connectionId !== connectionId) continue;
      countConnectFailure(this.counters, connectFailureKey(reason));
      this.table.drop(connection);
    }
  }

  /**
   * Keeps connections to `nodes` open whatever the cap (see `ringNeighbours`): opens one to each that
   * has none, and the cap evicts them only when nothing else is left to close.
   */
  keepConnected(nodes: readonly NodeId[]): void {
    this.table.keepConnected(nodes);
    if (this.closed || this.offline) return;
    for (const node of nodes) if (node !== this.nodeId && !this.table.has(node)) this.dialer.connect(node);
  }

  /**
   * Whether `node` has an open connection, or is kept connected (see {@link keepConnected}): sending
   * to it makes no new connection, or one that is made anyway. A connection still being set up does
   * not count: its setup may be the slow or failing one.
   */
  isConnected(node: NodeId): boolean {
    return this.table.isConnected(node);
  }

  /** Nodes with an open connection. */
  connectedNodes(): NodeId[] {
    return this.table.connectedNodes();
  }

  /** Counters, with the number of open connections. */
  stats(): TransportStats {
    return {
      ...this.counters,
      errors: { ...this.counters.errors },
      openConnections: this.table.openCount(),
      drainingConnections: this.table.drainingCount(),
      connectsWaiting: this.dialer.waiting,
      setupMs: this.setup.setupTimes.percentiles(),
    };
  }

  /** Authentication counters (zeros when authentication is off). */
  authStats(): AuthenticationStats {
    return this.auth?.stats() ?? noAuthenticationStats();
  }

  /** Every connection (to `node` only, when given), with its state; for diagnostics. */
  connectionStates(node?: NodeId): ConnectionState[] {
    const nowMs = Date.now();
    return this.table.all(node).map((c) => {
      const connectionId = c.dataConnection?.connectionId;
      return connectionState(c, nowMs, this.auth?.inProgress(c) ?? false, connectionId !== undefined ? this.signaling?.setupOf(connectionId) : undefined);
    });
  }

  /**
   * Sets the ICE servers (STUN, TURN) of the connections made from now on (issue 17); open ones keep
   * theirs.
   */
  setIceServers(iceServers: RTCIceServer[]): void {
    const options = this.peer.options as { config?: RTCConfiguration };
    options.config = { ...options.config, iceServers };
  }

  /** The ICE servers new connections use. */
  iceServers(): RTCIceServer[] {
    return (this.peer.options as { config?: RTCConfiguration }).config?.iceServers ?? [];
  }

  /**
   * How each open connection's packets travel: its selected ICE candidate pair, read from getStats
   * (one call per connection). Connections whose stats are not available yet are left out.
   */
  async connectionPaths(): Promise<ConnectionPath[]> {
    const open = this.table.all().filter((c) => !c.draining && c.open && c.dataConnection !== undefined);
    const paths = await Promise.all(open.map((c) => selectedPath(c.node, c.dataConnection!.peerConnection as RTCPeerConnection | undefined)));
    return paths.filter((p): p is ConnectionPath => p !== undefined);
  }

  /** Closes every connection to `node` (a node removed from the cluster: the handshake refuses it from now on). */
  disconnectNode(node: NodeId): void {
    this.table.dropNode(node);
  }

  /** Closes every connection and leaves the signaling server. */
  close(): void {
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.dialer.clear();
    this.table.dropAll();
    // Destroying the peer closes its connections: nothing is left to close one by one.
    this.closeQueue.clear();
    this.peer.destroy();
    this.signaling?.close();
  }

  // ── what arrives ──

  private onData(connection: Connection, data: unknown): void {
    if (this.offline) return;
    const result = this.reads.read(connection, data);
    if (result === undefined) return;
    if ('undecodable' in result) {
      if (!connection.open && this.auth !== undefined) this.auth.refuse(connection, new HandshakeError('malformed', result.undecodable));
      else this.onDrop(connection.node, result.undecodable);
      return;
    }
    if (this.auth !== undefined) this.auth.take(connection, result.message);
    else this.deliver(connection, result.message);
  }

  /** Hands a decoded message from an open (authenticated) connection to whoever takes it. */
  private deliver(connection: Connection, message: unknown): void {
    if (isHandshakeMessage(message)) {
      this.onDrop(connection.node, 'handshake: a handshake message after the handshake');
      return;
    }
    if (isDrainNotice(message)) {
      // The other end evicted this connection: send nothing more on it; it closes it soon.
      if (!connection.draining) this.table.drain(connection, false);
      return;
    }
    if (isRelayEnvelope(message)) {
      this.signaling?.receiveRelay(connection.node, message);
      return;
    }
    if (isLinkFeatures(message)) {
      connection.takesBatches = message.batches === true;
      return;
    }
    if (isLinkBatch(message)) {
      this.deliverBatch(connection, message);
      return;
    }
    this.onMessage(connection.node, message);
  }

  /** Delivers each message of a batch in order, as if it had come alone; a malformed batch is dropped whole. */
  private deliverBatch(connection: Connection, batch: unknown): void {
    let messages: Uint8Array[];
    try {
      messages = batchMessages(batch);
    } catch (error) {
      this.onDrop(connection.node, (error as Error).message);
      return;
    }
    this.counters.batchesReceived++;
    for (const bytes of messages) {
      let message: unknown;
      try {
        message = decodeMessage(bytes);
      } catch (error) {
        this.onDrop(connection.node, `decoding: ${(error as Error).message}`);
        continue;
      }
      // Batches carry messages, not batches or handshakes: nothing nests.
      if (isLinkBatch(message)) this.onDrop(connection.node, 'link-batch: a batch inside a batch');
      else this.deliver(connection, message);
      if (connection.dropped) return;
    }
  }

  /**
   * An error PeerJS emitted on the peer, translated (peerjs-errors.ts) and counted. A node the
   * signaling server does not know (`peer-unavailable`) is unreachable: its pending connections fail
   * at once instead of at the timeout, and the core is told.
   */
  private onPeerError(error: { type: string; message: string }): void {
    const meaning = peerErrorMeaning(this.cluster, error);
    countError(this.counters, meaning.counter);
    const node = meaning.unreachable;
    if (node === undefined) return;
    this.counters.connectFailures++;
    for (const c of [...this.table.forNode(node)]) if (!c.open) this.table.drop(c);
    this.onUnreachable(node);
  }
}
