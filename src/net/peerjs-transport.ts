/**
 * The core's `Transport` over PeerJS data channels (WebRTC), DESIGN.md §1–2.
 *
 * - Connections are opened on demand, when the core first sends to a node, and capped
 *   (`maxConnections`): at the cap a duplicate connection is closed first, else the least recently
 *   used node's. A browser handles a few dozen peer connections well and caps a page at 500
 *   (BROWSER-FACTS.md), so no full mesh.
 * - At most `maxOpening` connections this node opened are being set up at once; further ones wait
 *   their turn in the dial queue (dial-queue.ts; their messages queued), as do connections the cap
 *   has no room for until a setup in progress ends (only open connections are evicted, and they are
 *   drained, not dropped: see `drain`). Each setup takes several signaling round trips through the
 *   page's main thread; a tab that starts or joins next to 29 others and opens all its connections at
 *   once made every setup slow enough to time out (measured: medians of 5–11 s, p95 up to 18 s of
 *   the 20 s timeout, with 30 nodes on two cores). A connection the other node opens meanwhile takes
 *   over the messages of one still waiting, which is then not opened at all.
 * - Two nodes that connect to each other at the same moment get two connections. Both sides then
 *   send on the one opened by the node with the smaller id, and the other is closed once it has been
 *   idle for `DUPLICATE_IDLE_MS` (so nothing written to it is cut off): duplicates would otherwise
 *   fill the cap and make it evict connections in use. A node that connects while this side still
 *   holds an open connection to it has lost that connection on its side: the old one is superseded
 *   (see `LinkView.superseded`).
 * - A dropped connection is closed in a task of its own (`closeSoon`): closing one blocks the main
 *   thread until the browser's WebRTC thread has torn it down, so closing several at once would make
 *   one long task.
 * - Messages are MessagePack bytes in frames (framing.ts) on a reliable, ordered channel with PeerJS's
 *   `raw` serialization. Signals relayed for other nodes share the channel: a decoded message of type
 *   `signal-relay` goes to the signaling router, never to the core.
 * - Connection setup is signalled by the {@link SignalingRouter} (same browser, relay through the
 *   cluster, or the server), so the transport works whether or not the signaling server is up. A
 *   connection to a node no path can reach is not even started: its messages are dropped at once and
 *   the node reported unreachable.
 * - PeerJS reports errors as events with string types; they are translated here, and only here.
 *
 * Size: this file still holds the links, the cap with its draining, the counters and the getStats
 * reading of network paths (about 900 lines). Framing, the connection policy, the dial queue, PeerJS
 * error translation, every signaling path and the connection handshake (link-authentication.ts) are
 * files of their own; the link table and the cap/drain logic are the next split (issue 18).
 */
import type { DataConnection, Peer, PeerOptions } from 'peerjs';
import type { Message } from '../core/messages.js';
import type { Transport } from '../core/ports.js';
import type { NodeId } from '../core/types.js';
import { decodeMessage, encodeMessage } from './wire.js';
import { DUPLICATE_IDLE_MS, linksToClose, linkToUse, type LinkView } from './connection-policy.js';
import { acceptFrame, messagesIn, toFrames } from './framing.js';
import { DialQueue } from './dial-queue.js';
import { nodeIdOfPeer, peerIdOf } from './peer-ids.js';
import { connectFailureKey, connectionErrorKey, peerErrorMeaning } from './peerjs-errors.js';
import { isRelayEnvelope, type RelayEnvelope } from './relay-signaling.js';
import { openRoutedPeer } from './routed-peer.js';
import { SignalingRouter, type SetupPath, type SignalingRouterOptions } from './signaling-router.js';
import { HandshakeError, isHandshakeMessage } from './handshake.js';
import { LinkAuthentication, type AuthenticationOptions, type AuthenticationStats } from './link-authentication.js';

export type { AuthenticationStats };

/** Options of {@link PeerjsTransport.open}. */
export interface PeerjsTransportOptions {
  cluster: string;
  nodeId: NodeId;
  /** PeerJS client options reaching the signaling server (host, port, path, secure); none: no server. */
  peerOptions?: PeerOptions;
  /** Options of the signaling router besides cluster, node and server (callbacks, hop limit). */
  signaling?: Omit<SignalingRouterOptions, 'cluster' | 'self' | 'server' | 'onNoAnswer'>;
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

/**
 * How an open connection's packets travel (issue 17), from its peer connection's selected ICE candidate
 * pair (getStats, https://www.w3.org/TR/webrtc-stats/): `host` (a local address), `srflx` / `prflx` (an
 * address a NAT mapped, found through STUN or by the other end), `relay` (through a TURN server).
 */
export interface ConnectionPath {
  node: NodeId;
  localType: RTCIceCandidateType;
  remoteType: RTCIceCandidateType;
  /** `udp` or `tcp`. */
  protocol: string;
  /** For a relayed local candidate: how it reaches the TURN server (`udp`, `tcp`, `tls`). */
  relayProtocol?: string;
  /** The pair's current round-trip time, ms (from STUN consent checks), when known. */
  rttMs?: number;
}

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
  /** Messages lost before they were written: queued on a connection that closed or never opened, with no other open one to the node. */
  messagesDroppedUnsent: number;
  /** Connections this node opened that had to wait for a setup slot (see `maxOpening`). */
  connectsQueued: number;
  /** Connections waiting for a setup slot right now. */
  connectsWaiting: number;
  /** PeerJS errors by type (the peer's, and `connection:<type>` for a connection's). */
  errors: Record<string, number>;
  /**
   * How long the last (up to {@link SETUP_SAMPLES}) connections that opened took to open, from
   * `connect` (or the offer's arrival, for an accepted one) to the open data channel, in ms:
   * median, 95th percentile and most. Zeros before any opened.
   */
  setupMs: { p50: number; p95: number; max: number };
}

/** One connection, as {@link PeerjsTransport.linkStates} reports it. */
export interface LinkState {
  node: NodeId;
  /** Opened by this node (else accepted). */
  outbound: boolean;
  /**
   * `waiting`: for a setup slot (see `maxOpening`); `opening`: being set up; `open`: data flows;
   * `draining`: evicted, closing once what is on its way arrived.
   */
  state: 'waiting' | 'opening' | 'open' | 'draining';
  /** Nothing is sent on it any more: the node connected again (see {@link LinkView.superseded}). */
  superseded: boolean;
  /** Frames waiting for it to open. */
  queuedFrames: number;
  /** Since it was made (or its setup started), ms. */
  ageMs: number;
  /** Since the last send or receive on it, ms. */
  idleMs: number;
  /** How it was set up (the path of its signaling), once known. */
  setup?: SetupPath;
  /** The data channel is open and the handshake is under way (messages wait for it). */
  authenticating?: boolean;
}

/** Connection setup times kept for {@link TransportStats.setupMs}. */
export const SETUP_SAMPLES = 256;

interface Link extends LinkView {
  /** Undefined while it waits for a setup slot (an outbound connection, see `maxOpening`). */
  conn: DataConnection | undefined;
  open: boolean;
  createdMs: number;
  queue: Uint8Array[];
  lastUsedMs: number;
  openTimer: ReturnType<typeof setTimeout> | undefined;
  /** No longer tracked (its PeerJS connection may still be waiting to be closed, see `closeSoon`). */
  dropped: boolean;
  /** Evicted, but kept open for `DRAIN_MS` so that what the other end sent meanwhile still arrives. */
  draining: boolean;
  awaitingReply: boolean;
  // reassembly
  buffer: Uint8Array | undefined;
  filled: number;
  discarded: number;
}

/** How soon the dial queue looks again when only connections still opening fill the cap, ms. */
const ADMIT_RETRY_MS = 50;

/** How long an evicted connection stays open for messages already on their way, ms (see `drain`). */
export const DRAIN_MS = 2000;

/** The notice that an end evicted a connection (a transport message, never handed to the core). */
const DRAIN_NOTICE = { type: 'link-drain' } as const;

function isDrainNotice(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === DRAIN_NOTICE.type;
}

/** A transport over PeerJS. Create with {@link PeerjsTransport.open}. */
export class PeerjsTransport implements Transport {
  private readonly links = new Map<NodeId, Link[]>();
  /** Evicted connections still open for in-flight messages (see `drain`). */
  private readonly drainingLinks = new Set<Link>();
  /** Nodes whose connections the cap evicts last (see {@link keepConnected}). */
  private keep: ReadonlySet<NodeId> = new Set();
  private onMessage: (from: NodeId, message: unknown) => void = () => undefined;
  private onDrop: (from: NodeId, reason: string) => void = () => undefined;
  private onUnreachable: (node: NodeId) => void = () => undefined;
  private offline = false;
  private readonly maxConnections: number;
  private readonly maxOpening: number;
  /** Outbound connections waiting for a setup slot or room under the cap (see `admit`). */
  private readonly waiting = new DialQueue<Link>(ADMIT_RETRY_MS);
  private readonly connectTimeoutMs: number;
  private closed = false;
  private readonly pruneTimer: ReturnType<typeof setInterval>;
  /** PeerJS connections to close, one per task (see `closeSoon`). */
  private readonly closing: DataConnection[] = [];
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Setup times of recently opened connections, ms (a ring buffer). */
  private readonly setupSamples: number[] = [];
  /** Handshakes of the connections (none when authentication is off). */
  private readonly auth: LinkAuthentication<Link> | undefined;
  /** The samples sorted, until the next one arrives (stats() is read several times a second by the explorer). */
  private setupSorted: number[] | undefined;
  readonly counters: Omit<TransportStats, 'openConnections' | 'drainingConnections' | 'setupMs' | 'connectsWaiting'> = {
    connectionsOpened: 0,
    connectionsEvicted: 0,
    duplicatesClosed: 0,
    connectFailures: 0,
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    messagesDroppedUnsent: 0,
    connectsQueued: 0,
    errors: {},
  };

  private constructor(
    private readonly peer: Peer,
    readonly cluster: string,
    readonly nodeId: NodeId,
    options: Omit<PeerjsTransportOptions, 'peerOptions'>,
    /** The signaling router under `peer` (absent for a stand-in peer in unit tests). */
    readonly signaling?: SignalingRouter,
  ) {
    this.maxConnections = options.maxConnections ?? 24;
    this.maxOpening = options.maxOpening ?? 6;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 20_000;
    this.auth =
      options.authentication === undefined
        ? undefined
        : new LinkAuthentication<Link>(options.authentication, {
            write: (link, message) => this.writeNow(link, message),
            authenticated: (link) => this.opened(link),
            deliver: (link, message) => this.deliver(link, message),
            refused: (link, error) => {
              this.onDrop(link.node, `handshake: ${error.reason}: ${error.message}`);
              link.queue = [];
              this.dropLink(link);
            },
            dropped: (link) => link.dropped,
          });
    peer.on('connection', (conn) => this.accept(conn));
    this.pruneTimer = setInterval(() => this.closeLinks(false), DUPLICATE_IDLE_MS);
    peer.on('error', (error) => this.onPeerError(error));
    signaling?.attachRelay({
      neighbours: () => this.relayNeighbours(),
      sendTo: (node, envelope) => this.sendIfOpen(node, envelope),
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
    let transport: PeerjsTransport | undefined;
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
      onNoAnswer: (node, connectionId) => transport?.giveUp(node, connectionId),
    });
    try {
      const peer = await openRoutedPeer(peerIdOf(options.cluster, options.nodeId), { debug: 0, config: { iceServers: [] }, ...peerOptions }, router);
      transport = new PeerjsTransport(peer, options.cluster, options.nodeId, options, router);
      return transport;
    } catch (error) {
      router.close();
      throw error;
    }
  }

  /**
   * A transport over a PeerJS peer that is already open (registered with the signaling server); the
   * unit tests pass a stand-in. Use {@link open} otherwise.
   */
  static fromPeer(peer: Peer, options: Omit<PeerjsTransportOptions, 'peerOptions'>): PeerjsTransport {
    return new PeerjsTransport(peer, options.cluster, options.nodeId, options);
  }

  /**
   * Sets the receivers of decoded (untrusted) messages, of drop reports, and of peers found
   * unreachable (the signaling server does not know them: their tab is closed).
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
    for (const node of [...this.links.keys()]) this.dropNode(node);
    for (const link of [...this.drainingLinks]) this.dropLink(link);
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
    const frames = toFrames(encodeMessage(message));
    this.sendFrames(to, frames);
  }

  /** Sends raw bytes as one framed message (tests use it to deliver malformed messages). */
  sendBytes(to: NodeId, bytes: Uint8Array): void {
    if (this.closed || this.offline) return;
    this.sendFrames(to, toFrames(bytes));
  }

  /**
   * Nodes a relayed signal can be handed to: those with an open connection, and those whose connection
   * is draining (still open both ways for a moment: the other end still reads it). Under churn a node
   * may have every connection draining or opening at once; relaying over the draining ones then keeps
   * it reachable.
   */
  private relayNeighbours(): NodeId[] {
    const nodes = new Set(this.connectedNodes());
    for (const link of this.drainingLinks) nodes.add(link.node);
    return [...nodes];
  }

  /** Writes a relay envelope on an open (else a draining) connection to `node`, never opening one; false when there is none. */
  private sendIfOpen(node: NodeId, envelope: RelayEnvelope): boolean {
    if (this.closed || this.offline) return false;
    const best = this.bestLink(node);
    const link = best?.open && !best.superseded ? best : [...this.drainingLinks].find((l) => l.node === node);
    if (link === undefined) return false;
    link.lastUsedMs = Date.now();
    this.write(link, toFrames(encodeMessage(envelope as unknown as Message)));
    return true;
  }

  /** The signaling router got no answer to the offer of `connectionId`: drop that connection if it has not opened. */
  private giveUp(node: NodeId, connectionId: string): void {
    for (const link of [...(this.links.get(node) ?? [])]) {
      if (link.open || link.conn?.connectionId !== connectionId) continue;
      this.countFailure(connectFailureKey('no-answer'));
      this.dropLink(link);
    }
  }

  private countFailure(type: string): void {
    this.counters.connectFailures++;
    this.counters.errors[type] = (this.counters.errors[type] ?? 0) + 1;
  }

  /**
   * Keeps connections to `nodes` open whatever the cap (see `ringNeighbours`): opens one to each that
   * has none, and the cap evicts them only when nothing else is left to close.
   */
  keepConnected(nodes: readonly NodeId[]): void {
    this.keep = new Set(nodes);
    if (this.closed || this.offline) return;
    for (const node of nodes) if (node !== this.nodeId && !this.links.has(node)) this.connect(node);
  }

  /**
   * Whether `node` has an open connection, or is kept connected (see {@link keepConnected}): sending
   * to it makes no new connection, or one that is made anyway. A connection still being set up does
   * not count: its setup may be the slow or failing one.
   */
  isConnected(node: NodeId): boolean {
    return this.keep.has(node) || (this.links.get(node)?.some((l) => l.open && !l.superseded) ?? false);
  }

  /** Nodes with an open connection. */
  connectedNodes(): NodeId[] {
    return [...this.links].filter(([, links]) => links.some((l) => l.open)).map(([node]) => node);
  }

  /** Counters, with the number of open connections. */
  stats(): TransportStats {
    let open = 0;
    for (const links of this.links.values()) open += links.filter((l) => l.open).length;
    const sorted = (this.setupSorted ??= this.setupSamples.filter((ms) => ms !== undefined).sort((a, b) => a - b));
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return { ...this.counters, errors: { ...this.counters.errors }, openConnections: open, drainingConnections: this.drainingLinks.size, connectsWaiting: this.waiting.size, setupMs: { p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0 } };
  }

  /** Every connection (to `node` only, when given), with its state; for diagnostics. */
  linkStates(node?: NodeId): LinkState[] {
    const nowMs = Date.now();
    const lists = node === undefined ? [...this.links.values(), [...this.drainingLinks]] : [this.links.get(node) ?? [], [...this.drainingLinks].filter((l) => l.node === node)];
    return lists.flat().map((l) => ({
      node: l.node,
      outbound: l.outbound,
      state: l.draining ? 'draining' : l.open ? 'open' : l.conn === undefined ? 'waiting' : 'opening',
      superseded: l.superseded,
      queuedFrames: l.queue.length,
      ageMs: nowMs - l.createdMs,
      idleMs: nowMs - l.lastUsedMs,
      ...(this.auth?.inProgress(l) ? { authenticating: true } : {}),
      ...(l.conn !== undefined && this.signaling?.setupOf(l.conn.connectionId) !== undefined ? { setup: this.signaling.setupOf(l.conn.connectionId)! } : {}),
    }));
  }

  /** Closes every connection and leaves the signaling server. */
  close(): void {
    this.closed = true;
    clearInterval(this.pruneTimer);
    this.waiting.clear();
    for (const node of [...this.links.keys()]) this.dropNode(node);
    for (const link of [...this.drainingLinks]) this.dropLink(link);
    // Destroying the peer closes its connections: nothing is left to close one by one.
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.closing.length = 0;
    this.peer.destroy();
    this.signaling?.close();
  }

  private sendFrames(to: NodeId, frames: Uint8Array[]): void {
    const link = this.bestLink(to) ?? this.connect(to);
    if (link.dropped) {
      // The connection could not even be started (see `start`): the message is lost, the core times out.
      this.counters.messagesDroppedUnsent++;
      return;
    }
    link.lastUsedMs = Date.now();
    if (!link.open) {
      link.queue.push(...frames);
      return;
    }
    this.write(link, frames);
  }

  private write(link: Link, frames: Uint8Array[]): void {
    if (link.conn === undefined) return;
    if (frames.length > 0) link.awaitingReply = true;
    for (const frame of frames) {
      this.counters.framesSent++;
      this.counters.bytesSent += frame.byteLength;
      void link.conn.send(frame);
    }
  }

  private bestLink(node: NodeId): Link | undefined {
    const links = this.links.get(node);
    if (!links || links.length === 0) return undefined;
    return linkToUse(links, this.nodeId);
  }

  private connect(node: NodeId): Link {
    const link = this.track(node, undefined, true);
    this.waiting.push(link);
    this.admit();
    if (this.waiting.has(link)) this.counters.connectsQueued++;
    return link;
  }

  /** Outbound connections being set up now. */
  private openingCount(): number {
    let opening = 0;
    for (const links of this.links.values()) for (const l of links) if (l.outbound && l.conn !== undefined && !l.open) opening++;
    return opening;
  }

  /** Connections being set up or open (not those waiting their turn). */
  private inUse(): Link[] {
    const links: Link[] = [];
    for (const list of this.links.values()) for (const l of list) if (l.conn !== undefined) links.push(l);
    return links;
  }

  /**
   * The dial queue: starts waiting connections, first come first served, while a setup slot is free
   * (`maxOpening`) and the cap leaves room — making room by evicting open connections (see
   * `linksToClose`), never one still opening. When only connections still opening fill the cap, the
   * queue waits for one of them to open (it is tried again shortly, and whenever a setup ends).
   */
  private admit(): void {
    this.waiting.drain(
      () => {
        if (this.closed || this.offline || this.openingCount() >= this.maxOpening) return 'stop';
        if (this.inUse().length < this.maxConnections) return 'go';
        this.closeLinks(true);
        return this.inUse().length < this.maxConnections ? 'go' : 'wait';
      },
      (link) => {
        // Dropped meanwhile (evicted, disconnected): nothing to start.
        if ((this.links.get(link.node) ?? []).includes(link)) this.start(link);
      },
    );
  }

  /**
   * Opens a tracked outbound connection. PeerJS returns nothing while the peer is disconnected from
   * the signaling server, and the browser throws when it will not create another RTCPeerConnection (a
   * page holds at most 500, closed ones until they are garbage-collected): the link is then dropped at
   * once (its queued messages counted as lost) and the next send tries again. Left in place, such a
   * link was used for every later send and queued them for good (seen in the explorer bench: two
   * nodes of a 15-node host page each queued hundreds of frames for four minutes, and a partition
   * handoff between them never finished).
   */
  private start(link: Link): void {
    if (this.signaling !== undefined && !this.signaling.canReach(link.node)) {
      // No tab of this browser, no open connection to relay through, no server: starting a
      // connection (an RTCPeerConnection, costly to make and to close) could not even send its offer.
      this.countFailure(connectFailureKey('no-path'));
      this.dropLink(link);
      const node = link.node;
      setTimeout(() => !this.closed && this.onUnreachable(node), 0);
      return;
    }
    let conn: DataConnection | undefined;
    let failure = connectFailureKey('peer-disconnected');
    try {
      conn = this.peer.connect(peerIdOf(this.cluster, link.node), { serialization: 'raw', reliable: true });
    } catch (error) {
      failure = connectFailureKey(error);
    }
    if (conn === undefined) {
      this.countFailure(failure);
      this.dropLink(link);
      return;
    }
    link.createdMs = Date.now();
    this.wire(link, conn);
  }

  private accept(conn: DataConnection): void {
    const node = nodeIdOfPeer(this.cluster, conn.peer);
    if (this.offline) {
      conn.close();
      return;
    }
    if (node === undefined || node === this.nodeId || conn.serialization !== 'raw') {
      this.auth?.countRefusedConnection();
      this.onDrop(conn.peer.slice(0, 80), `connection: refused a connection from ${conn.peer.slice(0, 80)}`);
      conn.close();
      return;
    }
    // The node connects although we hold an open connection to it: it has none on its side any
    // more, so ours is dead at the other end (its close not noticed here yet). Sending on it would lose
    // messages; they wait for this new connection instead.
    for (const link of this.links.get(node) ?? []) if (link.open) link.superseded = true;
    this.closeLinks(true);
    const accepted = this.track(node, conn, false);
    // Our own connection to it still waits for a setup slot: this one carries its messages instead.
    for (const link of [...(this.links.get(node) ?? [])]) {
      if (link.conn !== undefined || link === accepted) continue;
      accepted.queue.push(...link.queue);
      link.queue = [];
      this.dropLink(link);
    }
  }

  /** Records a connection to `node`; `conn` undefined: an outbound one waiting for a setup slot. */
  private track(node: NodeId, conn: DataConnection | undefined, outbound: boolean): Link {
    const link: Link = { node, conn: undefined, outbound, open: false, superseded: false, queue: [], createdMs: Date.now(), lastUsedMs: Date.now(), openTimer: undefined, dropped: false, draining: false, awaitingReply: false, buffer: undefined, filled: 0, discarded: 0 };
    const list = this.links.get(node) ?? [];
    list.push(link);
    this.links.set(node, list);
    if (conn !== undefined) this.wire(link, conn);
    return link;
  }

  /** Attaches a PeerJS connection to its link: open timer and events. */
  private wire(link: Link, conn: DataConnection): void {
    link.conn = conn;
    // Either way a connection that does not open in time is dropped (an accepted one too: messages
    // queued on it would otherwise wait forever, and nothing else would be tried).
    link.openTimer = setTimeout(() => {
      if (!link.open) {
        if (this.auth?.inProgress(link)) this.auth.refuse(link, new HandshakeError('timeout', 'no proof in time'));
        else {
          this.counters.connectFailures++;
          this.dropLink(link);
        }
      }
    }, this.connectTimeoutMs);
    conn.on('open', () => {
      // Dropped before it opened (timed out, evicted); its close is on the way.
      if (link.dropped) return;
      this.signaling?.connectionOpened(conn.connectionId);
      // A peer connection that failed (ICE consent lost, its TURN allocation gone) can leave its data
      // channel saying "open" while nothing gets through: drop the link, so messages go elsewhere.
      const pc = conn.peerConnection as RTCPeerConnection | undefined;
      pc?.addEventListener('connectionstatechange', () => {
        if (pc.connectionState !== 'failed' || link.dropped) return;
        this.counters.errors['connection:failed'] = (this.counters.errors['connection:failed'] ?? 0) + 1;
        this.dropLink(link);
      });
      if (this.auth === undefined) this.opened(link);
      // Nothing is taken from, or sent on, the channel before both ends proved themselves.
      else this.auth.start(link, link.node, link.outbound, pc);
    });
    conn.on('data', (data) => this.onData(link, data));
    conn.on('close', () => this.dropLink(link));
    conn.on('error', (error: { type?: string }) => {
      const type = connectionErrorKey(error);
      this.counters.errors[type] = (this.counters.errors[type] ?? 0) + 1;
      this.dropLink(link);
    });
  }

  /** Writes one message on a connection at once, queue or not (handshake messages). */
  private writeNow(link: Link, message: unknown): void {
    if (link.conn === undefined || link.dropped) return;
    for (const frame of toFrames(encodeMessage(message as Message))) {
      this.counters.framesSent++;
      this.counters.bytesSent += frame.byteLength;
      void link.conn.send(frame);
    }
  }

  /** Authentication counters (zeros when authentication is off). */
  authStats(): AuthenticationStats {
    return this.auth?.stats() ?? { handshakesAccepted: 0, handshakesRefused: 0, refusedByReason: {}, connectionsRefused: 0, handshakeMs: { p50: 0, max: 0 } };
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
    const open = [...this.links.values()].flat().filter((l) => l.open && l.conn !== undefined);
    const paths = await Promise.all(open.map((l) => selectedPath(l.node, l.conn!.peerConnection as RTCPeerConnection | undefined)));
    return paths.filter((p): p is ConnectionPath => p !== undefined);
  }

  /** Closes every connection to `node` (a node removed from the cluster: the handshake refuses it from now on). */
  disconnectNode(node: NodeId): void {
    this.dropNode(node);
  }

  /** The data channel is open (and authenticated, when authentication is on): messages flow. */
  private opened(link: Link): void {
    link.open = true;
    this.counters.connectionsOpened++;
    this.setupSamples[this.counters.connectionsOpened % SETUP_SAMPLES] = Date.now() - link.createdMs;
    this.setupSorted = undefined;
    if (link.openTimer) clearTimeout(link.openTimer);
    const queued = link.queue;
    link.queue = [];
    this.write(link, queued);
    // An accepted connection may have taken the cap over while the others were still opening:
    // back under it as soon as one of those is open and can be drained.
    if (this.inUse().filter((l) => l.open).length > this.maxConnections) this.closeLinks(false);
    if (link.outbound) this.admit();
  }

  private onData(link: Link, data: unknown): void {
    if (this.offline) return;
    link.lastUsedMs = Date.now();
    link.awaitingReply = false;
    let frame: Uint8Array;
    if (data instanceof ArrayBuffer) frame = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      this.onDrop(link.node, `framing: received a ${typeof data} instead of bytes`);
      return;
    }
    this.counters.framesReceived++;
    this.counters.bytesReceived += frame.byteLength;
    let bytes: Uint8Array | undefined;
    const discardedBefore = link.discarded;
    try {
      bytes = acceptFrame(link, frame);
    } catch (error) {
      this.onDrop(link.node, (error as Error).message);
      return;
    }
    if (link.discarded > discardedBefore) this.onDrop(link.node, 'framing: a message restarted before the previous one was complete');
    if (bytes === undefined) return;
    let message: unknown;
    try {
      message = decodeMessage(bytes);
    } catch (error) {
      if (!link.open && this.auth !== undefined) this.auth.refuse(link, new HandshakeError('malformed', `decoding: ${(error as Error).message}`));
      else this.onDrop(link.node, `decoding: ${(error as Error).message}`);
      return;
    }
    if (this.auth !== undefined) this.auth.take(link, message);
    else this.deliver(link, message);
  }

  /** Hands a decoded message from an open (authenticated) connection to whoever takes it. */
  private deliver(link: Link, message: unknown): void {
    if (isHandshakeMessage(message)) {
      this.onDrop(link.node, 'handshake: a handshake message after the handshake');
      return;
    }
    if (isDrainNotice(message)) {
      // The other end evicted this connection: send nothing more on it; it closes it soon.
      if (!link.draining) this.drain(link, false);
      return;
    }
    if (isRelayEnvelope(message)) {
      this.signaling?.receiveRelay(link.node, message);
      return;
    }
    this.onMessage(link.node, message);
  }

  /** Closes idle duplicates, and with `room`, what must go to make room for one more connection (see {@link linksToClose}). */
  private closeLinks(room: boolean): void {
    const closing = linksToClose(this.inUse(), this.nodeId, this.maxConnections, Date.now(), room, this.keep);
    for (const link of closing) {
      const kept = (this.links.get(link.node) ?? []).some((l) => l !== link && !closing.includes(l));
      if (kept) {
        this.counters.duplicatesClosed++;
        this.dropLink(link);
      } else {
        this.counters.connectionsEvicted++;
        this.drain(link, true);
      }
    }
  }

  /**
   * Stops using an open connection without losing what is in flight on it (as HTTP/2's GOAWAY does):
   * with `notify`, this end tells the other to stop sending on it (a `link-drain` notice, after
   * everything this end wrote before); either way the connection leaves the links in use at once (it
   * no longer counts towards the cap) and is closed `DRAIN_MS` later. Closing an evicted connection at
   * once lost the replies the other end was writing on it, and each lost reply held a request until
   * its deadline: below a full mesh, where connections are evicted every few requests, that made most
   * read-modify-writes take seconds and some miss their quorum (six tabs with a cap of 3).
   */
  private drain(link: Link, notify: boolean): void {
    if (!link.open || link.conn === undefined) {
      this.dropLink(link);
      return;
    }
    if (notify) this.write(link, toFrames(encodeMessage(DRAIN_NOTICE as unknown as Message)));
    this.untrack(link);
    link.draining = true;
    this.drainingLinks.add(link);
    link.openTimer = setTimeout(() => this.dropLink(link), DRAIN_MS);
  }

  /** Removes a link from the links in use (and from the setup queue). */
  private untrack(link: Link): void {
    this.waiting.remove(link);
    const list = this.links.get(link.node);
    if (list) {
      const rest = list.filter((l) => l !== link);
      if (rest.length > 0) this.links.set(link.node, rest);
      else this.links.delete(link.node);
    }
  }

  private dropLink(link: Link): void {
    if (link.openTimer) clearTimeout(link.openTimer);
    const settingUp = link.outbound && link.conn !== undefined && !link.open;
    this.untrack(link);
    this.drainingLinks.delete(link);
    if (link.queue.length > 0) {
      // Hand queued frames to another open link to the same node, if one exists; else they are lost
      // (the core's request deadlines notice).
      const other = this.bestLink(link.node);
      if (other?.open) this.write(other, link.queue);
      else this.counters.messagesDroppedUnsent += messagesIn(link.queue);
      link.queue = [];
    }
    link.open = false;
    link.dropped = true;
    if (link.conn !== undefined) this.closeSoon(link.conn);
    // A setup slot came free.
    if (settingUp || this.waiting.size > 0) this.admit();
  }

  /**
   * Closes `conn` in a task of its own, after those queued before it. Closing a WebRTC connection
   * blocks the main thread until the browser's WebRTC thread has torn it down (the explorer bench saw
   * a prune of idle duplicates take 129 ms in one task while that thread was busy), so a prune, a
   * disconnect or an eviction that closes several at once must not make one long task of them.
   * Frames arriving meanwhile are still delivered.
   */
  private closeSoon(conn: DataConnection): void {
    this.closing.push(conn);
    this.closeTimer ??= setTimeout(() => this.closeNext(), 0);
  }

  private closeNext(): void {
    this.closeTimer = undefined;
    const conn = this.closing.shift();
    try {
      conn?.close();
    } catch {
      // already closed
    }
    if (this.closing.length > 0) this.closeTimer = setTimeout(() => this.closeNext(), 0);
  }

  private dropNode(node: NodeId): void {
    for (const link of [...(this.links.get(node) ?? [])]) this.dropLink(link);
    for (const link of [...this.drainingLinks]) if (link.node === node) this.dropLink(link);
  }

  private onPeerError(error: { type: string; message: string }): void {
    const meaning = peerErrorMeaning(this.cluster, error);
    this.counters.errors[meaning.counter] = (this.counters.errors[meaning.counter] ?? 0) + 1;
    const node = meaning.unreachable;
    if (node === undefined) return;
    // Fail its pending connection at once instead of at the timeout.
    this.counters.connectFailures++;
    for (const link of [...(this.links.get(node) ?? [])]) if (!link.open) this.dropLink(link);
    this.onUnreachable(node);
  }
}

/** The selected candidate pair of `pc` as a {@link ConnectionPath}; undefined when there is none yet. */
async function selectedPath(node: NodeId, pc: RTCPeerConnection | undefined): Promise<ConnectionPath | undefined> {
  if (pc === undefined || typeof pc.getStats !== 'function') return undefined;
  let report: RTCStatsReport;
  try {
    report = await pc.getStats();
  } catch {
    return undefined;
  }
  type Stat = Record<string, unknown> & { id: string; type: string };
  const stats = new Map<string, Stat>();
  report.forEach((stat: Stat) => stats.set(stat.id, stat));
  let pair: Stat | undefined;
  for (const stat of stats.values()) {
    if (stat.type === 'transport' && typeof stat.selectedCandidatePairId === 'string') pair = stats.get(stat.selectedCandidatePairId);
  }
  // Browsers without `selectedCandidatePairId`: the nominated pair that succeeded.
  pair ??= [...stats.values()].find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded');
  if (pair === undefined) return undefined;
  const local = stats.get(String(pair.localCandidateId));
  const remote = stats.get(String(pair.remoteCandidateId));
  if (local === undefined || remote === undefined) return undefined;
  const rtt = typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : undefined;
  return {
    node,
    localType: local.candidateType as RTCIceCandidateType,
    remoteType: remote.candidateType as RTCIceCandidateType,
    protocol: String(local.protocol ?? ''),
    ...(typeof local.relayProtocol === 'string' ? { relayProtocol: local.relayProtocol } : {}),
    ...(rtt !== undefined ? { rttMs: rtt } : {}),
  };
}
