/**
 * The transport's side of the connection handshake (handshake.ts; issue 16): one
 * {@link HandshakeSession} per connection from the moment its data channel opens, the messages that
 * arrive before it is authenticated, and the counters.
 *
 *   data channel open ──▶ start(): hello sent ──▶ take(): hello, proof ──▶ hooks.authenticated()
 *                                                        │ anything else first, a bad proof,
 *                                                        ▼ no proof in time
 *                                               hooks.refused(): closed, counted
 *
 * Messages arriving while the handshake is under way (the other end may write right after its proof,
 * before this end has checked it) wait, in order, and are delivered only if it succeeds. Once it has,
 * and nothing is left waiting, messages are delivered at once.
 */
import type { NodeId } from '../core/types.js';
import type { ClusterKeys } from '../security/cluster-secret.js';
import type { NodeKey } from '../security/node-key.js';
import { HandshakeError, HandshakeSession, isHandshakeMessage, sdpFingerprint, type HandshakeFailure, type HandshakeMessage } from './handshake.js';

/** What authenticates connections: this node's key, the cluster's keys, and which nodes to talk to at all. */
export interface AuthenticationOptions {
  key: NodeKey;
  cluster: ClusterKeys;
  /** False for nodes whose connections are refused (removed from the cluster). Default: everyone. */
  admit?: (node: NodeId) => boolean;
}

/** Counters of connection authentication. */
export interface AuthenticationStats {
  /** Connections whose other end proved its key and the cluster secret. */
  handshakesAccepted: number;
  /** Connections closed because the handshake failed (see `refusedByReason`). */
  handshakesRefused: number;
  refusedByReason: Partial<Record<HandshakeFailure, number>>;
  /** Connections refused before any handshake: from a PeerJS id outside this cluster's tag, or not raw. */
  connectionsRefused: number;
  /** Time from the open data channel to the verified proof, ms: median and most of the last 256. */
  handshakeMs: { p50: number; max: number };
}

/** What the transport does for the authentication of one of its connections. */
export interface AuthenticationHooks<L> {
  /** Writes a handshake message on the connection at once (not queued behind other messages). */
  write(link: L, message: HandshakeMessage): void;
  /** The other end proved itself: messages flow both ways from now on. */
  authenticated(link: L): void;
  /** A message from the authenticated other end. */
  deliver(link: L, message: unknown): void;
  /** The handshake failed (counted already): close the connection, dropping what was queued on it. */
  refused(link: L, error: HandshakeError): void;
  /** True once the connection is closed or no longer tracked. */
  dropped(link: L): boolean;
}

const SAMPLES = 256;

interface LinkAuth {
  session: HandshakeSession | undefined;
  chain: Promise<void> | undefined;
  waiting: number;
  startedMs: number;
  authenticated: boolean;
}

/** The handshakes of a transport's connections. */
export class LinkAuthentication<L extends object> {
  private readonly links = new WeakMap<L, LinkAuth>();
  private readonly samples: number[] = [];
  private accepted = 0;
  private readonly counters = { handshakesRefused: 0, refusedByReason: {} as Partial<Record<HandshakeFailure, number>>, connectionsRefused: 0 };

  constructor(
    private readonly options: AuthenticationOptions,
    private readonly hooks: AuthenticationHooks<L>,
  ) {}

  /**
   * The data channel of `link` (to `node`, opened by this end when `dialer`) is open: sends this
   * end's hello. Nothing else is sent or taken on it until {@link AuthenticationHooks.authenticated}.
   */
  start(link: L, node: NodeId, dialer: boolean, pc: RTCPeerConnection | undefined): void {
    const session = new HandshakeSession({
      ...this.options,
      dialer,
      expectedPeer: node,
      localFingerprint: sdpFingerprint(pc?.localDescription?.sdp),
      remoteFingerprint: sdpFingerprint(pc?.remoteDescription?.sdp),
    });
    this.links.set(link, { session, chain: undefined, waiting: 0, startedMs: Date.now(), authenticated: false });
    this.hooks.write(link, session.hello());
  }

  /** True from {@link start} until the handshake succeeded or failed. */
  inProgress(link: L): boolean {
    return this.links.get(link)?.session !== undefined;
  }

  /**
   * Takes a decoded message from the other end of `link`: handshake messages go to its session,
   * others are delivered once (and only if) it is authenticated, in the order they came.
   */
  take(link: L, message: unknown): void {
    const auth = this.links.get(link);
    if (auth === undefined) {
      // Not even started (the data channel is not open here yet): nothing may be taken.
      this.refuse(link, new HandshakeError('malformed', 'a message before the handshake'));
      return;
    }
    if (auth.authenticated && auth.chain === undefined) {
      this.hooks.deliver(link, message);
      return;
    }
    const step = async (): Promise<void> => {
      if (this.hooks.dropped(link)) return;
      if (auth.authenticated) {
        this.hooks.deliver(link, message);
        return;
      }
      const session = auth.session;
      if (session === undefined || !isHandshakeMessage(message)) throw new HandshakeError('malformed', 'a message before the handshake');
      const result = await session.receive(message);
      if (this.hooks.dropped(link)) return;
      if (result.reply !== undefined) this.hooks.write(link, result.reply);
      if (result.peer !== undefined) {
        this.samples[this.accepted++ % SAMPLES] = Date.now() - auth.startedMs;
        auth.session = undefined;
        auth.authenticated = true;
        this.hooks.authenticated(link);
      }
    };
    auth.waiting++;
    auth.chain = (auth.chain ?? Promise.resolve())
      .then(step)
      .catch((error: unknown) => this.refuse(link, error instanceof HandshakeError ? error : new HandshakeError('malformed', (error as Error).message)))
      .finally(() => {
        if (--auth.waiting === 0 && auth.authenticated) auth.chain = undefined;
      });
  }

  /** Fails the handshake of `link` (e.g. no proof in time, undecodable bytes): counted and closed. */
  refuse(link: L, error: HandshakeError): void {
    const auth = this.links.get(link);
    if (this.hooks.dropped(link) || auth?.authenticated) return;
    if (auth !== undefined) auth.session = undefined;
    this.counters.handshakesRefused++;
    this.counters.refusedByReason[error.reason] = (this.counters.refusedByReason[error.reason] ?? 0) + 1;
    this.hooks.refused(link, error);
  }

  /** Counts a connection refused before any handshake (a foreign PeerJS id). */
  countRefusedConnection(): void {
    this.counters.connectionsRefused++;
  }

  /** The counters. */
  stats(): AuthenticationStats {
    const sorted = this.samples.filter((ms) => ms !== undefined).sort((a, b) => a - b);
    return {
      handshakesAccepted: this.accepted,
      ...this.counters,
      refusedByReason: { ...this.counters.refusedByReason },
      handshakeMs: { p50: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0 },
    };
  }
}
