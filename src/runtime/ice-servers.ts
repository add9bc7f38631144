/**
 * A tab's ICE servers (issue 17): fetched from the server that serves the app (`GET /api/ice-config`,
 * see src/server/ice-config.ts) and kept in this browser's localStorage, so that a tab starting while
 * the server is down still knows its STUN and TURN servers. The answer is untrusted input: checked
 * against a schema, bounded, and only stun/turn URLs are taken.
 *
 * A node starts with the stored configuration (or none), fetches a fresh one in the background, and
 * fetches again before the TURN credentials expire (at half their remaining life, at least a minute
 * apart). New connections use the newest; open ones keep theirs.
 */
import * as v from 'valibot';

/** The ICE configuration a node uses. */
export interface IceConfig {
  iceServers: RTCIceServer[];
  /** When its TURN credentials expire, ms since the epoch. */
  expiresAtMs?: number;
  /** When it was fetched, ms since the epoch. */
  fetchedAtMs: number;
}

const url = v.pipe(v.string(), v.maxLength(512), v.regex(/^(stuns?|turns?):[^\s]+$/));
const schema = v.object({
  iceServers: v.pipe(
    v.array(
      v.object({
        urls: v.union([url, v.pipe(v.array(url), v.minLength(1), v.maxLength(16))]),
        username: v.optional(v.pipe(v.string(), v.maxLength(512))),
        credential: v.optional(v.pipe(v.string(), v.maxLength(512))),
      }),
    ),
    v.maxLength(16),
  ),
  expiresAtMs: v.optional(v.pipe(v.number(), v.finite())),
});

/** localStorage slot of the last configuration. */
export const ICE_CONFIG_SLOT = 'tabdynamo:ice-config';

/** Parses a configuration (the server's answer, or what was stored); undefined when it does not fit. */
export function parseIceConfig(input: unknown, fetchedAtMs: number): IceConfig | undefined {
  const parsed = v.safeParse(schema, input);
  if (!parsed.success) return undefined;
  const { iceServers, expiresAtMs } = parsed.output;
  return { iceServers: iceServers.map((s) => ({ ...s, urls: typeof s.urls === 'string' ? [s.urls] : s.urls })), ...(expiresAtMs !== undefined ? { expiresAtMs } : {}), fetchedAtMs };
}

/** The configuration this browser last fetched, if any. */
export function storedIceConfig(storage: Pick<Storage, 'getItem'>): IceConfig | undefined {
  try {
    const raw = JSON.parse(storage.getItem(ICE_CONFIG_SLOT) ?? 'null') as { fetchedAtMs?: unknown } | null;
    return raw === null ? undefined : parseIceConfig(raw, typeof raw.fetchedAtMs === 'number' ? raw.fetchedAtMs : 0);
  } catch {
    return undefined;
  }
}

/**
 * Fetches the configuration from `endpoint` and stores it.
 * @returns undefined when the server cannot be reached or answers something else (the stored one stays).
 */
export async function fetchIceConfig(endpoint: string, storage: Pick<Storage, 'setItem'>, nowMs: number, fetcher: typeof fetch = fetch): Promise<IceConfig | undefined> {
  try {
    const response = await fetcher(endpoint, { cache: 'no-store', signal: AbortSignal.timeout(5000) });
    if (!response.ok) return undefined;
    const config = parseIceConfig(await response.json(), nowMs);
    if (config !== undefined) storage.setItem(ICE_CONFIG_SLOT, JSON.stringify(config));
    return config;
  } catch {
    return undefined;
  }
}

/** When to fetch again after `config` (or a failure, `undefined`) at `nowMs`, ms since the epoch. */
export function nextIceFetchAtMs(config: IceConfig | undefined, nowMs: number): number {
  const MINUTE = 60_000;
  if (config === undefined) return nowMs + MINUTE;
  if (config.expiresAtMs === undefined) return nowMs + 60 * MINUTE;
  return nowMs + Math.max(MINUTE, (config.expiresAtMs - nowMs) / 2);
}
