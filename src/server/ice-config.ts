/**
 * ICE configuration handed to tabs by the server that serves the app (issue 17): the STUN and TURN
 * servers are configured where the app is served (flags of `scripts/serve.mjs`, or environment
 * variables for `npm start` / `npm run preview`), never hard-coded, and tabs fetch them from
 * `GET /api/ice-config`:
 *
 *   { "iceServers": [ { "urls": ["stun:…"] },
 *                     { "urls": ["turn:…"], "username": "<expiry>:tabdynamo", "credential": "<base64>" } ],
 *     "expiresAtMs": 1765100000000 }
 *
 * TURN credentials are short-lived, made with the TURN REST scheme that coturn's `use-auth-secret`
 * implements (draft-uberti-behave-turn-rest-00): username = "<expiry, s since the epoch>:<user>",
 * credential = base64(HMAC-SHA-1(shared secret, username)). The secret never leaves the server; coturn
 * checks the HMAC and refuses the username once its expiry passed.
 *
 * Environment: TABDYNAMO_STUN_URLS, TABDYNAMO_TURN_URLS (comma-separated), TABDYNAMO_TURN_SECRET,
 * TABDYNAMO_TURN_TTL_S (credential lifetime, s; default 86400).
 */
import type { Plugin } from 'vite';

/** Where tabs fetch their ICE configuration, on the app's own origin. */
export const ICE_CONFIG_PATH = '/api/ice-config';

/** Default lifetime of TURN credentials, s. */
export const DEFAULT_TURN_TTL_S = 86_400;

/** The server's ICE settings. */
export interface IceSettings {
  /** `stun:` / `stuns:` URLs. */
  stunUrls: string[];
  /** `turn:` / `turns:` URLs (with `?transport=udp|tcp` when wanted). */
  turnUrls: string[];
  /** coturn's `static-auth-secret`; required when there are TURN URLs. */
  turnSecret?: string;
  /** Lifetime of the credentials handed out, s. */
  turnTtlSeconds: number;
}

/** What `GET /api/ice-config` answers. */
export interface IceConfigResponse {
  iceServers: { urls: string[]; username?: string; credential?: string }[];
  /** When the TURN credentials expire, ms since the epoch (absent without TURN). */
  expiresAtMs?: number;
}

/** A bad ICE setting (thrown at start, before anything is served). */
export class IceSettingsError extends Error {
  override readonly name = 'IceSettingsError';
}

const STUN_URL = /^stuns?:[^\s,]+$/;
const TURN_URL = /^turns?:[^\s,]+$/;

/**
 * Checks and completes ICE settings.
 * @throws IceSettingsError for a URL of the wrong scheme, TURN URLs without a secret, or a bad TTL.
 */
export function iceSettings(input: Partial<IceSettings>): IceSettings {
  const stunUrls = input.stunUrls ?? [];
  const turnUrls = input.turnUrls ?? [];
  for (const url of stunUrls) if (!STUN_URL.test(url)) throw new IceSettingsError(`not a STUN URL (stun:host[:port]): ${url}`);
  for (const url of turnUrls) if (!TURN_URL.test(url)) throw new IceSettingsError(`not a TURN URL (turn:host[:port][?transport=udp|tcp]): ${url}`);
  if (turnUrls.length > 0 && !input.turnSecret) throw new IceSettingsError('TURN URLs need the shared secret of the TURN server (coturn static-auth-secret)');
  const turnTtlSeconds = input.turnTtlSeconds ?? DEFAULT_TURN_TTL_S;
  if (!Number.isInteger(turnTtlSeconds) || turnTtlSeconds < 60 || turnTtlSeconds > 30 * 86_400) {
    throw new IceSettingsError(`the TURN credential lifetime must be 60 s to 30 days, got ${turnTtlSeconds}`);
  }
  return { stunUrls, turnUrls, ...(input.turnSecret ? { turnSecret: input.turnSecret } : {}), turnTtlSeconds };
}

/** ICE settings from the environment (see the file header). @throws IceSettingsError */
export function iceSettingsFromEnv(env: Record<string, string | undefined>): IceSettings {
  const list = (value: string | undefined): string[] => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const ttl = env.TABDYNAMO_TURN_TTL_S;
  return iceSettings({
    stunUrls: list(env.TABDYNAMO_STUN_URLS),
    turnUrls: list(env.TABDYNAMO_TURN_URLS),
    ...(env.TABDYNAMO_TURN_SECRET ? { turnSecret: env.TABDYNAMO_TURN_SECRET } : {}),
    ...(ttl !== undefined && ttl !== '' ? { turnTtlSeconds: Number(ttl) } : {}),
  });
}

/**
 * TURN REST credentials valid for `ttlSeconds` from `nowMs` (HMAC-SHA-1 by WebCrypto, as coturn checks).
 * @returns username `<expiry s>:<user>`, credential base64, and the expiry in ms.
 */
export async function turnCredentials(secret: string, ttlSeconds: number, nowMs: number, user = 'tabdynamo'): Promise<{ username: string; credential: string; expiresAtMs: number }> {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${user}`;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(username)));
  return { username, credential: Buffer.from(mac).toString('base64'), expiresAtMs: expiry * 1000 };
}

/** The configuration a tab gets now. */
export async function iceConfig(settings: IceSettings, nowMs: number): Promise<IceConfigResponse> {
  const iceServers: IceConfigResponse['iceServers'] = [];
  if (settings.stunUrls.length > 0) iceServers.push({ urls: settings.stunUrls });
  if (settings.turnUrls.length === 0 || settings.turnSecret === undefined) return { iceServers };
  const { username, credential, expiresAtMs } = await turnCredentials(settings.turnSecret, settings.turnTtlSeconds, nowMs);
  iceServers.push({ urls: settings.turnUrls, username, credential });
  return { iceServers, expiresAtMs };
}

interface Middlewares {
  middlewares: { use(fn: (req: { url?: string; method?: string }, res: { statusCode: number; setHeader(n: string, v: string): void; end(body?: string): void }, next: () => void) => void): void };
}

/**
 * Vite plugin serving {@link ICE_CONFIG_PATH} from the dev and preview servers (`no-store`: each tab
 * gets fresh credentials). Default settings: from the environment.
 * @throws IceSettingsError (when the plugin is made) for bad settings.
 */
export function iceConfigPlugin(settings: IceSettings = iceSettingsFromEnv(process.env)): Plugin {
  const mount = (server: Middlewares): void => {
    server.middlewares.use((req, res, next) => {
      if ((req.url ?? '').split('?')[0] !== ICE_CONFIG_PATH) {
        next();
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        res.setHeader('Allow', 'GET, HEAD');
        res.end();
        return;
      }
      void iceConfig(settings, Date.now()).then(
        (body) => {
          res.statusCode = 200;
          res.setHeader('Content-Type', 'application/json');
          res.setHeader('Cache-Control', 'no-store');
          res.end(JSON.stringify(body));
        },
        () => {
          res.statusCode = 500;
          res.end();
        },
      );
    });
  };
  return { name: 'tabdynamo:ice-config', configureServer: mount, configurePreviewServer: mount };
}
