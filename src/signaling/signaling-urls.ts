/**
 * URLs of the signaling server, for browser code and for the server alike (no Node imports here).
 *
 * For the default mount path `/peerjs` and peer's default key `peerjs` (peer 1.0.2 / peerjs 1.5.5):
 *   WebSocket   `/peerjs/peerjs?key=peerjs&id=<id>&token=<token>&pk=…&ts=…&sig=…`
 *               (the last three: the signed registration, src/security/registration.ts)
 *   listing     `GET /peerjs/peerjs/peers?tag=<tag>`  → JSON array of the ids of that tag (peer-listing.ts)
 *   stats       `GET /peerjs/stats`                   → JSON counters (signaling-server.ts)
 * A peerjs client given `path: '/peerjs'` normalises it to `/peerjs/` and builds the WebSocket URL
 * as `<path>peerjs?key=<key>&…`.
 */
import { TAG_LENGTH } from '../security/cluster-secret.js';

/** Default URL path under which the signaling server is mounted. */
export const SIGNALING_PATH = '/peerjs';

/** peer's default API key (not a secret: it ships in client code); clients and server both use it. */
export const SIGNALING_KEY = 'peerjs';

const TAG = new RegExp(`^[a-z2-7]{${TAG_LENGTH}}$`);

/** What a peerjs `Peer` needs to reach the signaling server (spread into its options). */
export interface PeerClientOptions {
  host: string;
  port: number;
  path: string;
  secure: boolean;
}

/**
 * Turns `peerjs`, `/peerjs/` or `/peerjs` into `/peerjs`.
 * @throws Error for the root (`/`, ``): the server must live under a path of its own.
 */
export function normalizeMountPath(path: string): string {
  const trimmed = path.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') {
    throw new Error(`signaling path must name a sub-path such as "${SIGNALING_PATH}", got "${path}"`);
  }
  return `/${trimmed}`;
}

/**
 * URL of the scoped discovery listing: answers `GET` with a JSON array of the ids registered under
 * `tag` (`dyn-<tag>-<node>`), nothing of any other tag. New nodes pick their bootstrap seeds from it.
 *
 * @param origin - scheme, host and port of the server, e.g. `http://127.0.0.1:5173` (a trailing
 *   slash is tolerated); in a page, `location.origin`.
 * @param tag - the cluster's signaling tag (16 characters a–z 2–7, from `deriveClusterKeys`).
 * @param path - mount path of the signaling server; defaults to {@link SIGNALING_PATH}.
 * @returns for the defaults, `<origin>/peerjs/peerjs/peers?tag=<tag>`.
 * @throws RangeError when `tag` is not a signaling tag; Error for a root `path`.
 */
export function peersListUrl(origin: string, tag: string, path = SIGNALING_PATH): string {
  if (!TAG.test(tag)) throw new RangeError(`peersListUrl: "${tag}" is not a signaling tag (${TAG_LENGTH} characters a-z 2-7)`);
  return `${origin.replace(/\/+$/, '')}${normalizeMountPath(path)}/${SIGNALING_KEY}/peers?tag=${tag}`;
}

/**
 * URL of the server's counters (registrations accepted and refused, limits hit; no ids, no tags).
 * @returns for the defaults, `<origin>/peerjs/stats`.
 */
export function signalingStatsUrl(origin: string, path = SIGNALING_PATH): string {
  return `${origin.replace(/\/+$/, '')}${normalizeMountPath(path)}/stats`;
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
