/**
 * The signaling server: the `peer` package's PeerServer (1.0.2) on an existing Node HTTP server,
 * behind the guard of issue 16 ("members only": the server must learn no cluster name and must not
 * let anyone take a peer id). One function, {@link attachSignaling}, used by the Vite plugin
 * (signaling-plugin.ts) and by the standalone scripts/signaling.mjs, so both enforce the same rules.
 *
 * What it serves under the mount path `<path>` (default `/peerjs`; URLs in signaling-urls.ts):
 *   WS   <path>/peerjs?key=peerjs&id=dyn-<tag>-<node>&token=…&pk=…&ts=…&sig=…
 *          the HTTP `upgrade` is checked before peer sees it (signaling-guard.ts):
 *          429 per-address socket cap or upgrade rate, 403 `registration refused: <reason>`;
 *          then every inbound message passes the socket's rate limit and tag rule, or is dropped
 *   GET  <path>/peerjs/peers?tag=<tag>   JSON ids of that tag only; 400 without a valid tag (peer-listing.ts)
 *   GET  <path>/stats                    JSON {@link SignalingServerStats}: counters, no ids, no tags
 *   anything else under <path>           404 (peer's own HTTP API, `/peerjs/id` and the global
 *                                        listing included, is never reached)
 *
 * How it hooks into peer (read in peer 1.0.2's dist/module.mjs):
 * - peer builds its WebSocket server through the `createWebSocketServer` option; this one is made
 *   with `noServer: true`, so nothing reaches it but what this module's own `'upgrade'` listener hands
 *   over with `handleUpgrade` (after the checks) and then `emit('connection', ws, req)`. A `ws` server
 *   attached to the HTTP server directly would also answer every other path's upgrade with 400 and
 *   kill Vite's HMR socket; this listener ignores requests for other paths.
 * - peer listens with `socket.on('message')` in its own `'connection'` handler; to judge messages
 *   before it does, the socket's `emit` is wrapped before the connection is handed over, and a
 *   message the guard refuses is simply never emitted.
 * - peer only initialises when an express app `use`s it (express's `'mount'` event): a bare express
 *   app does that, and is used for nothing else. peer's `'connection'` / `'disconnect'` events keep
 *   the scoped listing up to date.
 *
 * Known limit of peer 1.0.2: each instance starts two self-rescheduling timers (message expiry, dead
 * socket sweep) with no way to stop them, so they outlive {@link SignalingServer.close}.
 *
 * `peer`, `ws` and `express` are loaded lazily (module names in variables), so that browser code
 * importing signaling-plugin.ts for its URL helpers never pulls them into a bundle; Node types only.
 */
import type { IncomingMessage, ServerResponse, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type * as PeerModule from 'peer';
import type * as WsModule from 'ws';
import type * as ExpressModule from 'express';
import { PeerListing, type ListingStats } from './peer-listing.js';
import { SignalingGuard, type SignalingGuardStats, type SignalingLimits, type SocketPolicy } from './signaling-guard.js';
import { SIGNALING_KEY, SIGNALING_PATH, normalizeMountPath } from './signaling-urls.js';

const PEER_MODULE = 'peer';
const WS_MODULE = 'ws';
const EXPRESS_MODULE = 'express';

/** Options of {@link attachSignaling}. */
export interface SignalingServerOptions {
  /** URL path to mount the server at; not `/`. Default {@link SIGNALING_PATH}. */
  path?: string;
  /** Overrides of the guard's limits (`DEFAULT_SIGNALING_LIMITS` in signaling-guard.ts). */
  limits?: Partial<SignalingLimits>;
}

/** What `GET <path>/stats` answers (JSON): the guard's counters and the listing's. */
export interface SignalingServerStats extends SignalingGuardStats {
  listings: ListingStats;
}

/** A signaling server attached to an HTTP server. */
export interface SignalingServer {
  /** The normalised mount path, e.g. `/peerjs`. */
  readonly path: string;
  /**
   * Answers an HTTP request if its path is under the mount path (listing, stats, or 404) and returns
   * true; returns false, touching nothing, for any other path (the host serves it).
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** The counters served at `<path>/stats`. */
  stats(): SignalingServerStats;
  /** Stops taking upgrades and closes every signaling socket. Idempotent. Called on the HTTP server's `close`. */
  close(): void;
}

/** Node's http and http2 servers both emit `'upgrade'` and `'close'`; typed once here. */
export interface UpgradeEmitter {
  on(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  off(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

const STATUS_TEXT = { 403: 'Forbidden', 429: 'Too Many Requests' } as const;

/** The path part of a request URL, without query string. */
export function pathnameOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

/**
 * Mounts a guarded PeerServer on `httpServer`: its `'upgrade'` listener takes the signaling path's
 * WebSocket requests (see the file header); HTTP requests reach it only through
 * {@link SignalingServer.handleRequest}, which the host calls from its own request handling.
 *
 * @param httpServer - a Node `http.Server` (or anything emitting `'upgrade'` and `'close'` like one).
 * @param options - mount path and limits.
 * @returns the server; it closes itself when `httpServer` emits `'close'`.
 * @throws Error for a root mount path, or when peer does not build its WebSocket server.
 */
export async function attachSignaling(httpServer: UpgradeEmitter, options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const mountPath = normalizeMountPath(options.path ?? SIGNALING_PATH);
  const listPath = `${mountPath}/${SIGNALING_KEY}/peers`;
  const statsPath = `${mountPath}/stats`;
  const guard = new SignalingGuard(options.limits);
  const listing = new PeerListing();

  const [{ ExpressPeerServer }, { WebSocketServer }, { default: express }] = await Promise.all([
    import(/* @vite-ignore */ PEER_MODULE) as Promise<typeof PeerModule>,
    import(/* @vite-ignore */ WS_MODULE) as Promise<typeof WsModule>,
    import(/* @vite-ignore */ EXPRESS_MODULE) as Promise<{ default: typeof ExpressModule }>,
  ]);

  let wss: WsModule.WebSocketServer | undefined;
  let wsPath = '';
  const peerApp = ExpressPeerServer(httpServer as unknown as HttpServer, {
    path: mountPath,
    key: SIGNALING_KEY,
    // The global listing stays off; the scoped one is served here (peer's HTTP API is never reached anyway).
    allow_discovery: false,
    createWebSocketServer: (wsOptions) => {
      wsPath = wsOptions.path ?? '';
      wss = new WebSocketServer({ noServer: true, path: wsPath, maxPayload: guard.limits.frameBytesMax });
      return wss;
    },
  });
  // peer re-emits socket errors and unparsable frames as 'error' on its app; an EventEmitter without
  // an 'error' listener would throw and take the host down. Clients are untrusted: drop quietly.
  peerApp.on('error', () => {});
  peerApp.on('connection', (client) => listing.add(client.getId()));
  peerApp.on('disconnect', (client) => listing.remove(client.getId()));
  // Mounted at '/', peer's WebSocket path becomes `<path>/peerjs`.
  const host = express();
  host.disable('x-powered-by');
  host.use(peerApp);

  const socketServer = wss;
  if (socketServer === undefined || wsPath === '') {
    throw new Error('[signaling] peer did not create its WebSocket server on mount');
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Not ours (Vite HMR, a proxy rule, ...): leave the socket alone for the other listeners.
    if (pathnameOf(req.url) !== wsPath) return;
    // Node's HTTP server drops its own error listener on upgrade: a reset during the check below
    // would otherwise be an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    const admission = guard.admit(req.socket.remoteAddress, Date.now());
    if (!admission.ok) {
      refuse(socket, admission.status, admission.reason);
      return;
    }
    socket.once('close', () => guard.release(admission.address));
    void guard.checkRegistration(req.url, Date.now()).then((registration) => {
      if (socket.destroyed) return;
      if (!registration.ok) {
        refuse(socket, registration.status, `registration refused: ${registration.reason}`);
        return;
      }
      socketServer.handleUpgrade(req, socket, head, (ws) => {
        const policy = guard.openSocket(registration.tag, Date.now());
        ws.once('close', () => policy.socketClosed());
        judgeMessages(ws, policy);
        socketServer.emit('connection', ws, req);
      });
    });
  };
  httpServer.on('upgrade', onUpgrade);

  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    httpServer.off('upgrade', onUpgrade);
    for (const client of socketServer.clients) client.terminate();
    socketServer.close();
  };
  httpServer.once('close', close);

  const stats = (): SignalingServerStats => ({ ...guard.stats(), listings: listing.stats() });

  return {
    path: mountPath,
    stats,
    close,
    handleRequest(req, res) {
      const pathname = pathnameOf(req.url);
      if (pathname !== mountPath && !pathname.startsWith(`${mountPath}/`)) return false;
      if (pathname !== listPath && pathname !== statsPath) {
        // The signaling namespace is ours alone: no SPA fallback to index.html under it.
        res.statusCode = 404;
        res.end();
        return true;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        res.setHeader('Allow', 'GET, HEAD');
        res.end();
        return true;
      }
      if (pathname === statsPath) {
        sendJson(res, 200, stats());
        return true;
      }
      let tag: string | null = null;
      try {
        tag = new URL(req.url ?? '', 'http://signaling.invalid').searchParams.get('tag');
      } catch {
        // An unparsable query has no tag.
      }
      const answer = listing.answer(tag);
      sendJson(res, answer.status, answer.body);
      return true;
    },
  };
}

/** Answers an upgrade request with an HTTP error and closes the socket once it is written. */
function refuse(socket: Duplex, status: keyof typeof STATUS_TEXT, reason: string): void {
  const body = `${reason}\n`;
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${new TextEncoder().encode(body).byteLength}`,
    ...(status === 429 ? ['Retry-After: 1'] : []),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * Puts `policy` between the socket and peer: the socket's `emit('message', data, isBinary)` (how `ws`
 * delivers a frame) reaches peer's listener only for frames the policy passes; a flooding socket is
 * terminated.
 */
function judgeMessages(ws: WsModule.WebSocket, policy: SocketPolicy): void {
  const emit = ws.emit.bind(ws) as (event: string | symbol, ...args: unknown[]) => boolean;
  const judged = (event: string | symbol, ...args: unknown[]): boolean => {
    if (event === 'message') {
      const [data, isBinary] = args as [WsModule.RawData, boolean];
      const bytes = rawBytes(data);
      const verdict = policy.inspect(isBinary ? undefined : new TextDecoder().decode(bytes), bytes.byteLength, Date.now());
      if (verdict === 'close') ws.terminate();
      if (verdict !== 'pass') return false;
    }
    return emit(event, ...args);
  };
  ws.emit = judged as typeof ws.emit;
}

/** A frame's bytes, whatever form `ws` handed it in (Buffer by default; fragments; ArrayBuffer). */
function rawBytes(data: WsModule.RawData): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (!Array.isArray(data)) return data;
  const out = new Uint8Array(data.reduce((n, part) => n + part.byteLength, 0));
  let offset = 0;
  for (const part of data) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Writes `body` as JSON; never cached; readable cross-origin (it holds nothing a page may not see). */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.end(JSON.stringify(body));
}
