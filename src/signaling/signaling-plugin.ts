/**
 * Signaling for tab nodes, mounted into Vite's dev and preview servers so that the app and its
 * signaling share one process and one port. The server itself (the `peer` package's PeerServer behind
 * the issue 16 guard: signed registration, scoped listing, per-address and per-socket limits) is
 * signaling-server.ts; its URLs are signaling-urls.ts, re-exported here for the code that imports them
 * from this module.
 *
 * Routing: the plugin's middleware runs before Vite's own and hands every request under the mount
 * path to the signaling server (listing, stats, else 404: no SPA fallback there); all others go on to
 * Vite. WebSocket upgrades are routed by path by the server's own `'upgrade'` listener, and Vite's HMR
 * listener does the same for its own path and `vite-hmr` subprotocol, so the two never touch each
 * other's sockets.
 *
 * This module has no static imports of Node-only packages: browser code may import the URL helpers.
 */
import type { Logger, Plugin, Connect } from 'vite';
import { attachSignaling, type UpgradeEmitter } from './signaling-server.js';
import type { SignalingLimits } from './signaling-guard.js';
import { SIGNALING_PATH, normalizeMountPath } from './signaling-urls.js';

export {
  SIGNALING_KEY,
  SIGNALING_PATH,
  normalizeMountPath,
  peerClientOptions,
  peersListUrl,
  signalingStatsUrl,
  type PeerClientOptions,
} from './signaling-urls.js';

/** Options of {@link signalingPlugin}. */
export interface SignalingPluginOptions {
  /** URL path to mount the signaling server at; not `/`. Defaults to {@link SIGNALING_PATH}. */
  path?: string;
  /** Overrides of the server's limits (`DEFAULT_SIGNALING_LIMITS` in signaling-guard.ts). */
  limits?: Partial<SignalingLimits>;
}

/** The parts of Vite's dev and preview servers that the plugin uses. */
interface HostServer {
  middlewares: Connect.Server;
  httpServer: unknown;
  config: { logger: Logger };
}

/** Mounts one signaling server on `server`: HTTP on its middleware stack, WebSocket on its upgrades. */
async function mountSignaling(server: HostServer, mountPath: string, limits: Partial<SignalingLimits> | undefined): Promise<void> {
  const httpServer = server.httpServer as UpgradeEmitter | null;
  if (httpServer === null) {
    server.config.logger.warn('[signaling] no http server (middleware mode): signaling is not mounted');
    return;
  }
  const signaling = await attachSignaling(httpServer, { path: mountPath, ...(limits !== undefined ? { limits } : {}) });
  server.middlewares.use((req, res, next) => {
    if (!signaling.handleRequest(req, res)) next();
  });
}

/**
 * Vite plugin that serves the PeerJS signaling server (package `peer`, behind the guard of
 * signaling-server.ts) from the dev server (`vite`) and the preview server (`vite preview`), on the
 * app's own HTTP server and port.
 *
 * It logs nothing except a warning in middleware mode, where there is no HTTP server to attach
 * WebSockets to.
 *
 * @param options - `path`: where to mount it (default {@link SIGNALING_PATH}); clients must use the
 *   same path (see `peerClientOptions` and `peersListUrl`). `limits`: overrides of the guard's limits.
 * @returns the plugin, named `tabdynamo:signaling`.
 */
export function signalingPlugin(options: SignalingPluginOptions = {}): Plugin {
  const mountPath = normalizeMountPath(options.path ?? SIGNALING_PATH);
  return {
    name: 'tabdynamo:signaling',
    async configureServer(server) {
      await mountSignaling(server, mountPath, options.limits);
    },
    async configurePreviewServer(server) {
      await mountSignaling(server, mountPath, options.limits);
    },
  };
}
