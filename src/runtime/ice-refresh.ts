/**
 * Which STUN/TURN servers a node's new connections use, and keeping them fresh (issue 17). The
 * configuration itself (schema, storage slot, when to fetch again) is ice-servers.ts; this file wires
 * it to one node:
 *
 *   start:   iceServers option ──▶ 'option' (never fetched)
 *            else this browser's stored copy ──▶ 'stored' (or 'none')
 *   running: fetch <iceConfigUrl> ──▶ 'fetched', transport.setIceServers, store the copy
 *            └─ again at half the TURN credentials' remaining life (≥ 1 min; 1 min after a failure)
 *
 * Open connections keep the servers they were set up with; only new ones use a newer configuration.
 */
import type { PeerjsTransport } from '../net/peerjs-transport.js';
import { fetchIceConfig, nextIceFetchAtMs, storedIceConfig, type IceConfig } from './ice-servers.js';
import { signalingOrigin, type DynamoNodeOptions } from './node-options.js';

/** What `DynamoNode.iceStatus()` reports: the STUN/TURN servers new connections use (issue 17). */
export interface IceStatus {
  /** The servers' URLs (credentials are not shown). */
  urls: string[];
  /**
   * `fetched`: from the app's server in this run; `stored`: this browser's copy of an earlier fetch
   * (the server is not reached yet); `option`: given to `start`; `none`: no STUN or TURN server (only
   * direct connections, e.g. on one machine or one LAN).
   */
  source: 'fetched' | 'stored' | 'option' | 'none';
  fetchedAtMs?: number;
  /** When the TURN credentials expire, ms since the epoch. */
  expiresAtMs?: number;
}

/**
 * Where this node fetches its ICE configuration: `iceConfigUrl`, by default `/api/ice-config` on the
 * signaling server's origin; `undefined` when it fetches none (`iceServers` given, or `iceConfigUrl: null`).
 */
export function iceConfigUrlOf(options: Pick<DynamoNodeOptions, 'iceServers' | 'iceConfigUrl' | 'signaling'>): string | undefined {
  if (options.iceServers !== undefined || options.iceConfigUrl === null) return undefined;
  return options.iceConfigUrl ?? `${signalingOrigin(options.signaling)}/api/ice-config`;
}

/** The ICE configuration of one node and its refresh; {@link stop} ends the refresh. */
export class IceRefresh {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  private constructor(
    private current: { config: IceConfig | undefined; source: IceStatus['source'] },
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'>,
  ) {}

  /**
   * The configuration a node starts with: `iceServers` when given, else the copy of an earlier fetch
   * kept in `storage` (this browser's localStorage), else none.
   */
  static initial(iceServers: RTCIceServer[] | undefined, storage: Pick<Storage, 'getItem' | 'setItem'>): IceRefresh {
    if (iceServers !== undefined) return new IceRefresh({ config: { iceServers, fetchedAtMs: 0 }, source: 'option' }, storage);
    const stored = storedIceConfig(storage);
    return new IceRefresh({ config: stored, source: stored !== undefined ? 'stored' : 'none' }, storage);
  }

  /** The servers a connection set up now uses (empty: direct connections only). */
  iceServers(): RTCIceServer[] {
    return this.current.config?.iceServers ?? [];
  }

  /**
   * Fetches the configuration from `url` now and again before its TURN credentials expire; each one
   * fetched goes to `transport` for its new connections. Never rejects: a failed fetch keeps the
   * current configuration and is retried a minute later.
   */
  async start(transport: Pick<PeerjsTransport, 'setIceServers'>, url: string): Promise<void> {
    if (this.stopped) return;
    const config = await fetchIceConfig(url, this.storage, Date.now());
    if (this.stopped) return;
    if (config !== undefined) {
      this.current = { config, source: 'fetched' };
      transport.setIceServers(config.iceServers);
    }
    this.timer = setTimeout(() => void this.start(transport, url), nextIceFetchAtMs(config, Date.now()) - Date.now());
  }

  /** Ends the refresh: a fetch under way is dropped. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The servers new connections use, and where they came from. */
  status(): IceStatus {
    const config = this.current.config;
    const urls = (config?.iceServers ?? []).flatMap((s) => (typeof s.urls === 'string' ? [s.urls] : s.urls));
    return {
      urls,
      source: urls.length === 0 && this.current.source !== 'fetched' ? 'none' : this.current.source,
      ...(config?.fetchedAtMs ? { fetchedAtMs: config.fetchedAtMs } : {}),
      ...(config?.expiresAtMs !== undefined ? { expiresAtMs: config.expiresAtMs } : {}),
    };
  }
}
