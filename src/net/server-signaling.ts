/**
 * The signaling server path (the `peer` package's PeerServer): used to bootstrap, when a node has no
 * other path to the member it wants (DESIGN.md §3 "Signaling paths").
 *
 * This speaks PeerServer's WebSocket protocol itself (peer 1.0.2 / peerjs 1.5.5: connect to
 * `<path>peerjs?key=&id=&token=&version=`, the server answers OPEN, or ID-TAKEN while another socket
 * holds the id; OFFER/ANSWER/CANDIDATE are relayed as `{type, src, dst, payload}`; EXPIRE says a
 * destination is unknown; a HEARTBEAT every few seconds keeps the socket) instead of PeerJS's own
 * socket, so that a node starts, and keeps its data connections, whether or not the server is up.
 * The socket is reopened with exponential backoff (1 s doubling to 30 s, ±20 % jitter) for as long as
 * the node runs.
 *
 * Registration (issue 16): the server registers a peer id only for the holder of its node's key
 * (src/signaling/signaling-guard.ts), and refuses a signature it has seen before. So, given a
 * `registration` callback, every try (the first and each reconnect) asks it afresh for the proof
 * (`registrationParams` of src/security/registration.ts: `pk`, `ts`, `sig`) and appends it to the URL:
 *   <path>peerjs?key=peerjs&id=dyn-<tag>-<node>&token=<token>&version=1.5.5&pk=…&ts=…&sig=…
 * A refused upgrade (HTTP 403, or 429 for the server's per-address limits) shows as a socket that
 * closes without opening: `unreachable`, retried with the same backoff. So does a callback that rejects.
 */
import type { NodeId } from '../core/types.js';
import { nodeIdOfPeer, peerIdOf } from './peer-ids.js';
import { parseSignal, type Signal } from './signal-message.js';

/** Where the node stands with the signaling server. */
export type ServerState =
  /** A socket is being opened (first try, or a retry). */
  | 'connecting'
  /** Registered: signals flow, and the peer listing shows this node. */
  | 'open'
  /** The last try failed or the socket closed; `nextRetryAtMs` says when the next one starts. */
  | 'unreachable'
  /** The server still holds this id for an older socket (a reloaded tab); retried like unreachable. */
  | 'id-taken';

/** What {@link ServerSignaling.status} reports. */
export interface ServerStatus {
  state: ServerState;
  /** Failed tries since the server was last open. */
  failures: number;
  /** When the next try starts, ms since the epoch (only when not open or connecting). */
  nextRetryAtMs?: number;
  /** When the socket last opened, ms since the epoch. */
  lastOpenAtMs?: number;
  /** The server's signaling URL (without id and token). */
  url: string;
}

/** The part of `WebSocket` used here. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onerror: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** Options of {@link ServerSignaling}. */
export interface ServerSignalingOptions {
  cluster: string;
  self: NodeId;
  host: string;
  port: number;
  /** Mount path with a trailing slash, e.g. `/peerjs/`. */
  path: string;
  secure: boolean;
  /** peer's API key (not a secret: it ships in client code). Default `peerjs`. */
  key?: string;
  onSignal(signal: Signal): void;
  /** The server says `node` is not registered with it. */
  onExpire(node: NodeId): void;
  onState?(status: ServerStatus): void;
  onMalformed?(reason: string): void;
  /**
   * The proof that this node may register `peerId` (query parameters to append, e.g. `pk`, `ts`,
   * `sig`), asked afresh before every try. Names `key`, `id`, `token` and `version` are PeerServer's
   * own: the server reads their first occurrence, which is never one of these. None: no proof sent
   * (a server with the issue 16 guard then refuses the registration).
   */
  registration?(peerId: string): Promise<Record<string, string>>;
  /** Default: the global `WebSocket`. */
  openSocket?(url: string): SocketLike;
  random?(): number;
}

/** Backoff of the retries, ms. */
export const SERVER_RETRY_MIN_MS = 1_000;
export const SERVER_RETRY_MAX_MS = 30_000;
const HEARTBEAT_MS = 5_000;
const OPEN = 1;

/** PeerJS client version announced to the server (the pinned peerjs). */
const PEERJS_VERSION = '1.5.5';

/** `&name=value` for each entry of `params`, URL-encoded ('' for none). */
function queryOf(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([name, value]) => `&${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('');
}

/** Delay before retry number `failures` (1, 2, …), before jitter, ms. */
export function retryDelayMs(failures: number): number {
  return Math.min(SERVER_RETRY_MAX_MS, SERVER_RETRY_MIN_MS * 2 ** Math.max(0, failures - 1));
}

/** This node's socket to the signaling server. */
export class ServerSignaling {
  private socket: SocketLike | undefined;
  private registered = false;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private nextRetryAtMs: number | undefined;
  private lastOpenAtMs: number | undefined;
  private state: ServerState = 'connecting';
  private closed = false;
  /** Tries started; a registration proof that arrives for an older try is thrown away. */
  private tries = 0;
  /** A try is waiting for its registration proof (no socket yet). */
  private signing = false;
  private readonly token = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(36)).join('');
  readonly url: string;

  constructor(private readonly options: ServerSignalingOptions) {
    this.url = `${options.secure ? 'wss' : 'ws'}://${options.host}:${options.port}${options.path}peerjs?key=${encodeURIComponent(options.key ?? 'peerjs')}`;
    this.connect();
  }

  /** Whether signals can go to the server now. */
  get isOpen(): boolean {
    return this.registered && this.socket?.readyState === OPEN;
  }

  status(): ServerStatus {
    return {
      state: this.state,
      failures: this.failures,
      url: this.url,
      ...(this.nextRetryAtMs !== undefined && this.state !== 'open' && this.state !== 'connecting' ? { nextRetryAtMs: this.nextRetryAtMs } : {}),
      ...(this.lastOpenAtMs !== undefined ? { lastOpenAtMs: this.lastOpenAtMs } : {}),
    };
  }

  /** Sends `signal` through the server; false when it is not open (nothing sent). */
  send(signal: Signal): boolean {
    if (!this.isOpen) return false;
    try {
      this.socket!.send(JSON.stringify({ type: signal.kind, dst: peerIdOf(this.options.cluster, signal.to), payload: signal.payload }));
      return true;
    } catch {
      return false;
    }
  }

  /** Tries now instead of at the scheduled retry (e.g. the browser says it is online again). */
  retryNow(): void {
    if (this.closed || this.socket !== undefined || this.signing) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** Closes the socket for good. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.teardown();
  }

  private connect(): void {
    if (this.closed) return;
    this.retryTimer = undefined;
    this.setState('connecting');
    const peerId = peerIdOf(this.options.cluster, this.options.self);
    const url = `${this.url}&id=${encodeURIComponent(peerId)}&token=${this.token}&version=${PEERJS_VERSION}`;
    const registration = this.options.registration;
    if (registration === undefined) {
      this.open(url);
      return;
    }
    const attempt = ++this.tries;
    this.signing = true;
    const current = (): boolean => !this.closed && attempt === this.tries;
    registration(peerId).then(
      (params) => {
        if (!current()) return;
        this.signing = false;
        this.open(`${url}${queryOf(params)}`);
      },
      () => {
        if (!current()) return;
        this.signing = false;
        this.failed('unreachable');
      },
    );
  }

  /** Opens the socket to `url` (the full registration URL). */
  private open(url: string): void {
    let socket: SocketLike;
    try {
      socket = this.options.openSocket ? this.options.openSocket(url) : (new WebSocket(url) as unknown as SocketLike);
    } catch {
      this.failed('unreachable');
      return;
    }
    this.socket = socket;
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onclose = () => this.failed(this.state === 'id-taken' ? 'id-taken' : 'unreachable');
    socket.onerror = () => undefined;
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string' || data.length > 64 * 1024) {
      this.options.onMalformed?.('server: a message that is not JSON text, or too long');
      return;
    }
    let message: { type?: unknown; src?: unknown; payload?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      this.options.onMalformed?.('server: a message that is not JSON');
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    switch (message.type) {
      case 'OPEN':
        this.registered = true;
        this.failures = 0;
        this.lastOpenAtMs = Date.now();
        clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.isOpen && this.socket!.send(JSON.stringify({ type: 'HEARTBEAT' })), HEARTBEAT_MS);
        this.setState('open');
        return;
      case 'ID-TAKEN':
        this.failed('id-taken');
        return;
      case 'EXPIRE': {
        const node = typeof message.src === 'string' ? nodeIdOfPeer(this.options.cluster, message.src) : undefined;
        if (node !== undefined) this.options.onExpire(node);
        return;
      }
      case 'OFFER':
      case 'ANSWER':
      case 'CANDIDATE': {
        const from = typeof message.src === 'string' ? nodeIdOfPeer(this.options.cluster, message.src) : undefined;
        try {
          if (from === undefined) throw new Error(`server: a ${message.type} from a peer of no node of this cluster`);
          this.options.onSignal(parseSignal({ kind: message.type, from, to: this.options.self, payload: message.payload }));
        } catch (error) {
          this.options.onMalformed?.((error as Error).message);
        }
        return;
      }
      default:
        // HEARTBEAT answers, LEAVE, ERROR, INVALID-KEY: nothing to do (an ERROR closes the socket).
        return;
    }
  }

  /** The socket closed or could not open: schedule the next try. */
  private failed(state: 'unreachable' | 'id-taken'): void {
    this.teardown();
    if (this.closed || this.retryTimer !== undefined) return;
    this.failures++;
    const random = this.options.random ?? Math.random;
    const delayMs = retryDelayMs(this.failures) * (0.8 + 0.4 * random());
    this.nextRetryAtMs = Date.now() + delayMs;
    this.setState(state);
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  private teardown(): void {
    this.registered = false;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return;
    socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
    try {
      socket.close();
    } catch {
      // already closed
    }
  }

  private setState(state: ServerState): void {
    if (this.state === state && state !== 'unreachable') return;
    this.state = state;
    this.options.onState?.(this.status());
  }
}
