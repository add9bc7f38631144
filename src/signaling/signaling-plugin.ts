/**
 * Signaling for tab nodes: the `peer` package's PeerServer, mounted into Vite's dev and preview
 * servers so that the app and its signaling share one process and one port.
 *
 * URLs, for the default path `/peerjs` and peer's default key `peerjs` (read from peer 1.0.2's
 * dist/module.mjs and peerjs 1.5.5's dist/bundler.mjs):
 * - HTTP API: peer mounts its router at `<path>`, with `GET /:key/id` and `GET /:key/peers`, so the
 *   discovery listing (a JSON array of connected peer ids, on because `allow_discovery: true`) is
 *   `GET /peerjs/peerjs/peers`. peer does not compare `:key` with its configured key there.
 * - WebSocket: peer joins its mount path, `<path>` and the fixed segment `peerjs`, so clients connect
 *   to `/peerjs/peerjs?key=peerjs&id=<id>&token=<token>`; the server answers `{"type":"OPEN"}`.
 * - A peerjs client given `path: '/peerjs'` normalises it to `/peerjs/` and builds exactly those two
 *   URLs (`<path><key>/peers` over HTTP(S), `<path>peerjs?key=<key>&...` over WS(S)).
 *
 * Upgrade routing: peer normally builds `new WebSocketServer({ server, path })` from `ws`. A `ws`
 * server attached that way answers every upgrade whose path is not its own with 400 and destroys the
 * socket, which would kill Vite's HMR socket. So the plugin uses peer's `createWebSocketServer` hook to
 * build the server with `noServer: true` and adds its own `'upgrade'` listener that hands over only
 * requests for the signaling path and ignores all others. Vite's HMR listener does the same for its
 * own path and `vite-hmr` subprotocol, so the two never touch each other's sockets.
 *
 * The server keeps no data and no membership of ours: only peer's own table of open sockets.
 * Known limit of peer 1.0.2: each instance starts two self-rescheduling timers (message expiry, dead
 * socket sweep) with no way to stop them, so they outlive `server.close()` in a long-lived process.
 * `ws` and `express` are loaded as peer's own dependencies (not listed in our package.json).
 *
 * This module has no static imports of Node-only packages: browser code may import the URL helpers.
 */
import type { IncomingMessage, ServerResponse, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Connect, Logger, Plugin } from 'vite';
import type * as PeerModule from 'peer';
import type * as WsModule from 'ws';
import type * as ExpressModule from 'express';

/** Default URL path under which the signaling server is mounted. */
export const SIGNALING_PATH = '/peerjs';

/** peer's default API key; clients use the same default, so neither side sets it. */
const SIGNALING_KEY = 'peerjs';

/** Largest WebSocket frame accepted from a client; SDP offers and ICE candidates are a few KiB. */
const MAX_SIGNALING_FRAME = 64 * 1024;

/**
 * Module names are kept in variables and loaded lazily inside the hooks, so that bundling this file
 * for the browser (for the helpers) never pulls `peer`, `express` or `ws` into the client.
 */
const PEER_MODULE = 'peer';
const WS_MODULE = 'ws';
const EXPRESS_MODULE = 'express';

/** Options of {@link signalingPlugin}. */
export interface SignalingPluginOptions {
  /** URL path to mount the signaling server at; not `/`. Defaults to {@link SIGNALING_PATH}. */
  path?: string;
}

/** What a peerjs `Peer` needs to reach the signaling server (spread into its options). */
export interface PeerClientOptions {
  host: string;
  port: number;
  path: string;
  secure: boolean;
}

/** Turns `peerjs`, `/peerjs/` or `/peerjs` into `/peerjs`; refuses the root. */
function normalizeMountPath(path: string): string {
  const trimmed = path.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') {
    throw new Error(`signaling path must name a sub-path such as "${SIGNALING_PATH}", got "${path}"`);
  }
  return `/${trimmed}`;
}

/** The path part of a request URL, without query string. */
function pathnameOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

/**
 * URL of the discovery listing: answers `GET` with a JSON array of the ids of the peers currently
 * connected to the signaling server. New nodes pick their bootstrap seeds from it.
 *
 * @param origin - scheme, host and port of the server, e.g. `http://127.0.0.1:5173`
 *   (a trailing slash is tolerated); in a page, `location.origin`.
 * @param path - mount path of the signaling server; defaults to {@link SIGNALING_PATH}.
 * @returns for the defaults, `<origin>/peerjs/peerjs/peers`.
 */
export function peersListUrl(origin: string, path = SIGNALING_PATH): string {
  return `${origin.replace(/\/+$/, '')}${normalizeMountPath(path)}/${SIGNALING_KEY}/peers`;
}

/**
 * Options for `new Peer(id, { ...peerClientOptions(location), config: { iceServers: [] } })` that
 * point a peerjs client at the signaling server served from the same origin as the page.
 *
 * @param location - the page's location (or any object with the same three fields).
 * @param path - mount path of the signaling server; defaults to {@link SIGNALING_PATH}.
 * @returns `host` (the hostname, brackets kept for IPv6), `port` (the explicit port, otherwise 443
 *   for https and 80 for http), `path` (with the trailing slash peerjs appends anyway) and `secure`
 *   (true for https, so the client uses `wss:`).
 */
export function peerClientOptions(
  location: { hostname: string; port: string; protocol: string },
  path = SIGNALING_PATH,
): PeerClientOptions {
  const secure = location.protocol === 'https:';
  const port = location.port === '' ? (secure ? 443 : 80) : Number(location.port);
  return { host: location.hostname, port, path: `${normalizeMountPath(path)}/`, secure };
}

/** The parts of Vite's dev and preview servers that the plugin uses. */
interface HostServer {
  middlewares: Connect.Server;
  httpServer: unknown;
  config: { logger: Logger };
}

/** Node's http and http2 servers both emit `'upgrade'` and `'close'`; typed once here. */
interface UpgradeEmitter {
  on(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  off(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** An express app called as plain middleware (its runtime signature; the typings omit `next`). */
type ExpressHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** Mounts one PeerServer on `server`: HTTP routes on its middleware stack, WebSocket on its upgrades. */
async function mountSignaling(server: HostServer, mountPath: string): Promise<void> {
  const httpServer = server.httpServer as UpgradeEmitter | null;
  if (httpServer === null) {
    server.config.logger.warn('[signaling] no http server (middleware mode): signaling is not mounted');
    return;
  }
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
    allow_discovery: true,
    createWebSocketServer: (options) => {
      wsPath = options.path ?? '';
      wss = new WebSocketServer({ noServer: true, path: wsPath, maxPayload: MAX_SIGNALING_FRAME });
      return wss;
    },
  });
  // peer re-emits socket errors and unparsable client frames as 'error' on its app; an EventEmitter
  // without an 'error' listener would throw and take Vite down. Clients are untrusted: drop quietly.
  peerApp.on('error', () => {});
  // peer sets itself up when express fires 'mount', i.e. when an express app `use`s it. Vite's
  // connect stack never does that, so a bare express app hosts it. Mounted at '/', peer's WebSocket
  // path becomes `<path>/peerjs`.
  const host = express();
  host.disable('x-powered-by');
  peerApp.disable('x-powered-by');
  host.use(peerApp);

  const socketServer = wss;
  if (socketServer === undefined || wsPath === '') {
    throw new Error('[signaling] peer did not create its WebSocket server on mount');
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Not ours (Vite HMR, a proxy rule, ...): leave the socket alone for the other listeners.
    if (pathnameOf(req.url) !== wsPath) return;
    socketServer.handleUpgrade(req, socket, head, (ws) => {
      socketServer.emit('connection', ws, req);
    });
  };
  httpServer.on('upgrade', onUpgrade);
  httpServer.once('close', () => {
    httpServer.off('upgrade', onUpgrade);
    for (const client of socketServer.clients) client.terminate();
    socketServer.close();
  });

  const handle = host as unknown as ExpressHandler;
  server.middlewares.use((req, res, next) => {
    const pathname = pathnameOf(req.url);
    if (pathname !== mountPath && !pathname.startsWith(`${mountPath}/`)) {
      next();
      return;
    }
    handle(req, res, (err) => {
      if (err !== undefined) {
        next(err);
        return;
      }
      // The signaling namespace is peer's alone: no SPA fallback to index.html under it.
      res.statusCode = 404;
      res.end();
    });
  });
}

/**
 * Vite plugin that serves the PeerJS signaling server (package `peer`, discovery on) from the dev
 * server (`vite`) and the preview server (`vite preview`), on the app's own HTTP server and port.
 *
 * Its middleware runs before Vite's own; WebSocket upgrades are routed by path so that Vite's HMR
 * socket keeps working. It logs nothing except a warning in middleware mode, where there is no
 * HTTP server to attach WebSockets to.
 *
 * @param options - `path`: where to mount it (default {@link SIGNALING_PATH}). Clients must use the
 *   same path: see {@link peerClientOptions} and {@link peersListUrl}.
 * @returns the plugin, named `tabdynamo:signaling`.
 */
export function signalingPlugin(options: SignalingPluginOptions = {}): Plugin {
  const mountPath = normalizeMountPath(options.path ?? SIGNALING_PATH);
  return {
    name: 'tabdynamo:signaling',
    async configureServer(server) {
      await mountSignaling(server, mountPath);
    },
    async configurePreviewServer(server) {
      await mountSignaling(server, mountPath);
    },
  };
}
