/**
 * The ICE configuration endpoint (src/server/ice-config.ts) and a tab's side of it
 * (src/runtime/ice-servers.ts): settings, TURN REST credentials as coturn checks them, expiry, the
 * endpoint on a real HTTP server, the answer's schema, and this browser's stored copy.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ICE_CONFIG_PATH, iceConfig, iceConfigPlugin, iceSettings, iceSettingsFromEnv, IceSettingsError, turnCredentials } from '../../../src/server/ice-config.js';
import { fetchIceConfig, ICE_CONFIG_SLOT, nextIceFetchAtMs, parseIceConfig, storedIceConfig } from '../../../src/runtime/ice-servers.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

describe('ICE settings', () => {
  it('take STUN and TURN URLs from the environment, and refuse wrong schemes, TURN without a secret and bad lifetimes', () => {
    expect(iceSettingsFromEnv({ TABDYNAMO_STUN_URLS: 'stun:a:3478, stun:b', TABDYNAMO_TURN_URLS: 'turn:t:3478?transport=udp', TABDYNAMO_TURN_SECRET: 's', TABDYNAMO_TURN_TTL_S: '600' })).toEqual({
      stunUrls: ['stun:a:3478', 'stun:b'],
      turnUrls: ['turn:t:3478?transport=udp'],
      turnSecret: 's',
      turnTtlSeconds: 600,
    });
    expect(iceSettingsFromEnv({})).toEqual({ stunUrls: [], turnUrls: [], turnTtlSeconds: 86_400 });
    expect(() => iceSettings({ stunUrls: ['http://x'] })).toThrow(IceSettingsError);
    expect(() => iceSettings({ turnUrls: ['stun:x'] , turnSecret: 's' })).toThrow(IceSettingsError);
    expect(() => iceSettings({ turnUrls: ['turn:x'] })).toThrow(/secret/);
    expect(() => iceSettings({ turnTtlSeconds: 10 })).toThrow(/lifetime/);
  });
});

describe('TURN REST credentials', () => {
  it('are "<expiry>:user" and base64 HMAC-SHA-1 of it under the shared secret, as coturn use-auth-secret checks', async () => {
    const { username, credential, expiresAtMs } = await turnCredentials('sharedsecret', 3600, NOW);
    const expiry = Math.floor(NOW / 1000) + 3600;
    expect(username).toBe(`${expiry}:tabdynamo`);
    expect(expiresAtMs).toBe(expiry * 1000);
    // The check coturn makes, done independently with Node's crypto.
    expect(credential).toBe(createHmac('sha1', 'sharedsecret').update(username).digest('base64'));
    expect((await turnCredentials('other', 3600, NOW)).credential).not.toBe(credential);
  });

  it('expire with their lifetime: a later request gets a later expiry, and the answer says when', async () => {
    const settings = iceSettings({ stunUrls: ['stun:s'], turnUrls: ['turn:t'], turnSecret: 'k', turnTtlSeconds: 120 });
    const first = await iceConfig(settings, NOW);
    const later = await iceConfig(settings, NOW + 60_000);
    expect(first.expiresAtMs).toBe(NOW + 120_000);
    expect(later.expiresAtMs).toBe(NOW + 180_000);
    expect(first.iceServers).toEqual([{ urls: ['stun:s'] }, { urls: ['turn:t'], username: `${NOW / 1000 + 120}:tabdynamo`, credential: expect.any(String) }]);
    expect(await iceConfig(iceSettings({ stunUrls: ['stun:s'] }), NOW)).toEqual({ iceServers: [{ urls: ['stun:s'] }] });
  });
});

describe('the endpoint', () => {
  let server: Server;
  let origin = '';
  beforeAll(async () => {
    const plugin = iceConfigPlugin(iceSettings({ stunUrls: ['stun:s:3478'], turnUrls: ['turn:t:3478'], turnSecret: 'k' }));
    const handlers: ((req: unknown, res: unknown, next: () => void) => void)[] = [];
    (plugin.configurePreviewServer as (s: unknown) => void)({ middlewares: { use: (fn: (req: unknown, res: unknown, next: () => void) => void) => handlers.push(fn) } });
    server = createServer((req, res) => handlers[0]!(req, res, () => {
      res.statusCode = 404;
      res.end();
    }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers GET with fresh credentials, never cached, and only at its path', async () => {
    const response = await fetch(`${origin}${ICE_CONFIG_PATH}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as { iceServers: { urls: string[]; username?: string }[]; expiresAtMs: number };
    expect(body.iceServers.map((s) => s.urls)).toEqual([['stun:s:3478'], ['turn:t:3478']]);
    expect(body.expiresAtMs).toBeGreaterThan(Date.now());
    expect((await fetch(`${origin}${ICE_CONFIG_PATH}`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${origin}/api/other`)).status).toBe(404);
  });

  it('is what a tab fetches and keeps: the stored copy comes back for a start while the server is down', async () => {
    const storage = new Map<string, string>();
    const store = { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v) };
    const fetched = await fetchIceConfig(`${origin}${ICE_CONFIG_PATH}`, store, NOW);
    expect(fetched?.iceServers[1]?.urls).toEqual(['turn:t:3478']);
    expect(storedIceConfig(store)).toEqual(fetched);
    // The server is down: nothing new, the stored copy stays.
    expect(await fetchIceConfig('http://127.0.0.1:1/api/ice-config', store, NOW)).toBeUndefined();
    expect(storedIceConfig(store)).toEqual(fetched);
    storage.set(ICE_CONFIG_SLOT, '{not json');
    expect(storedIceConfig(store)).toBeUndefined();
  });
});

describe('a tab checks what it is given', () => {
  it('takes only stun/turn URLs within bounds', () => {
    expect(parseIceConfig({ iceServers: [{ urls: 'stun:a' }] }, 1)).toEqual({ iceServers: [{ urls: ['stun:a'] }], fetchedAtMs: 1 });
    expect(parseIceConfig({ iceServers: [{ urls: 'javascript:alert(1)' }] }, 1)).toBeUndefined();
    expect(parseIceConfig({ iceServers: [{ urls: ['turn:a'], username: 'u'.repeat(600) }] }, 1)).toBeUndefined();
    expect(parseIceConfig({ iceServers: Array.from({ length: 17 }, () => ({ urls: 'stun:a' })) }, 1)).toBeUndefined();
    expect(parseIceConfig('nope', 1)).toBeUndefined();
  });

  it('fetches again at half the credentials’ remaining life, a minute after a failure, hourly without TURN', () => {
    expect(nextIceFetchAtMs({ iceServers: [], expiresAtMs: NOW + 3_600_000, fetchedAtMs: NOW }, NOW)).toBe(NOW + 1_800_000);
    expect(nextIceFetchAtMs({ iceServers: [], expiresAtMs: NOW + 10_000, fetchedAtMs: NOW }, NOW)).toBe(NOW + 60_000);
    expect(nextIceFetchAtMs(undefined, NOW)).toBe(NOW + 60_000);
    expect(nextIceFetchAtMs({ iceServers: [], fetchedAtMs: NOW }, NOW)).toBe(NOW + 3_600_000);
  });
});
