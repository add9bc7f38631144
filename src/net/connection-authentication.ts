/**
 * Connection authentication: the transport's side of the connection handshake (handshake.ts; issue
 * 16). It owns one {@link HandshakeSession} per connection from the moment its data channel opens,
 * the messages that arrive before the connection is authenticated, and the counters; the transport
 * wires it in through {@link AuthenticationHooks} (connection-setup.ts starts it, peerjs-transport.ts
 * hands it what arrives).
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

/** The counters of a transport that does not authenticate its connections: zeros. */
export function noAuthenticationStats(): AuthenticationStats {
  return { handshakesAccepted: 0, handshakesRefused: 0, refusedByReason: {}, connectionsRefused: 0, handshakeMs: { p50: 0, max: 0 } };
}

/** What the transport does for the authentication of one of its connections. */
export interface AuthenticationHooks<C> {
  /** Writes a handshake message on the connection at once (not queued behind other messages). */
  write(connection: C, message: HandshakeMessage): void;
  /** The other end proved itself: messages flow both ways from now on. */
  authenticated(connection: C): void;
  /** A message from the authenticated other end. */
  deliver(connection: C, message: unknown): void;
  /** The handshake failed (counted already): close the connection, dropping what was queued on it. */
  refused(connection: C, error: HandshakeError): void;
  /** True once the connection is closed or no longer tracked. */
  dropped(connection: C): boolean;
}

const SAMPLES = 256;

interface Authentication {
  session: HandshakeSession | undefined;
  chain: Promise<void> | undefined;
  waiting: number;
  startedMs: number;
  authenticated: boolean;
}

/** The handshakes of a transport's connections. */
export class ConnectionAuthentication<C extends object> {
  private readonly authentications = new WeakMap<C, Authentication>();
  private readonly samples: number[] = [];
  private accepted = 0;
  private readonly counters = { handshakesRefused: 0, refusedByReason: {} as Partial<Record<HandshakeFailure, number>>, connectionsRefused: 0 };

  constructor(
    private readonly options: AuthenticationOptions,
    private readonly hooks: AuthenticationHooks<C>,
  ) {}

  /**
   * The data channel of `connection` (to `node`, opened by this end when `dialer`) is open: sends this
   * end's hello. Nothing else is sent or taken on it until {@link AuthenticationHooks.authenticated}.
   */
  start(connection: C, node: NodeId, dialer: boolean, pc: RTCPeerConnection | undefined): void {
    const session = new HandshakeSession({
      ...this.options,
      dialer,
      expectedPeer: node,
      localFingerprint: sdpFingerprint(pc?.localDescription?.sdp),
      remoteFingerprint: sdpFingerprint(pc?.remoteDescription?.sdp),
    });
    this.authentications.set(connection, { session, chain: undefined, waiting: 0, startedMs: Date.now(), authenticated: false });
    this.hooks.write(connection, session.hello());
  }

  /** True from {@link start} until the handshake succeeded or failed. */
  inProgress(connection: C): boolean {
    return this.authentications.get(connection)?.session !== undefined;
  }

  /**
   * Takes a decoded message from the other end of `connection`: handshake messages go to its session,
   * others are delivered once (and only if) it is authenticated, in the order they came.
   */
  take(connection: C, message: unknown): void {
    const auth = this.authentications.get(connection);
    if (auth === undefined) {
      // Not even started (the data channel is not open here yet): nothing may be taken.
      this.refuse(connection, new HandshakeError('malformed', 'a message before the handshake'));
      return;
    }
    if (auth.authenticated && auth.chain === undefined) {
      this.hooks.deliver(connection, message);
      return;
    }
    const step = async (): Promise<void> => {
      if (this.hooks.dropped(connection)) return;
      if (auth.authenticated) {
        this.hooks.deliver(connection, message);
        return;
      }
      const session = auth.session;
      if (session === undefined || !isHandshakeMessage(message)) throw new HandshakeError('malformed', 'a message before the handshake');
      const result = await session.receive(message);
      if (this.hooks.dropped(connection)) return;
      if (result.reply !== undefined) this.hooks.write(connection, result.reply);
      if (result.peer !== undefined) {
        this.samples[this.accepted++ % SAMPLES] = Date.now() - auth.startedMs;
        auth.session = undefined;
        auth.authenticated = true;
        this.hooks.authenticated(connection);
      }
    };
    auth.waiting++;
    auth.chain = (auth.chain ?? Promise.resolve())
      .then(step)
      .catch((error: unknown) => this.refuse(connection, error instanceof HandshakeError ? error : new HandshakeError('malformed', (error as Error).message)))
      .finally(() => {
        if (--auth.waiting === 0 && auth.authenticated) auth.chain = undefined;
      });
  }

  /** Fails the handshake of `connection` (e.g. no proof in time, undecodable bytes): counted and closed. */
  refuse(connection: C, error: HandshakeError): void {
    const auth = this.authentications.get(connection);
    if (this.hooks.dropped(connection) || auth?.authenticated) return;
    if (auth !== undefined) auth.session = undefined;
    this.counters.handshakesRefused++;
    this.counters.refusedByReason[error.reason] = (this.counters.refusedByReason[error.reason] ?? 0) + 1;
    this.hooks.refused(connection, error);
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
