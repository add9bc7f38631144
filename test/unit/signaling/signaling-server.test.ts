/**
 * The signaling server against real servers: a bare Node HTTP server with `attachSignaling` (small
 * limits), a Vite dev server and a Vite preview server (over a real build of a throwaway root) with
 * the plugin, the repository's vite.config.ts, and the standalone script. The guard of issue 16
 * (signed registration, scoped listing, per-address and per-socket limits) is checked the same way on
 * the dev server and on the script; the pure rules are in test/unit/signaling/signaling-guard.test.ts.
 * Keys are real Ed25519 keys. Waits are conditions polled against a deadline, never fixed sleeps.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, resolveConfig } from 'vite';
import type { PreviewServer, ViteDevServer } from 'vite';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerSignaling, type ServerStatus, type SocketLike } from '../../../src/net/server-signaling';
import { toBase32 } from '../../../src/security/encoding';
import { generateNodeKey, type NodeKey } from '../../../src/security/node-key';
import { REGISTRATION_WINDOW_MS, registrationParams } from '../../../src/security/registration';
import type { SignalingLimits } from '../../../src/signaling/signaling-guard';
import { SIGNALING_PATH, peerClientOptions, peersListUrl, signalingPlugin, signalingStatsUrl } from '../../../src/signaling/signaling-plugin';
import type { PeerClientOptions } from '../../../src/signaling/signaling-plugin';
import { attachSignaling, type SignalingServer, type SignalingServerStats } from '../../../src/signaling/signaling-server';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEADLINE_MS = 5_000;

/** Polls `check` until it returns something other than undefined, or fails after the deadline. */
async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, deadlineMs = DEADLINE_MS): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/** `http://127.0.0.1:<port>` of a listening server. */
function originOf(server: { address(): AddressInfo | string | null }): string {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
  return `http://127.0.0.1:${address.port}`;
}

/** A fresh signaling tag (what cluster-secret.ts derives: 10 bytes as base32, 16 characters). */
function randomTag(): string {
  return toBase32(crypto.getRandomValues(new Uint8Array(10)));
}

/** A node of a cluster: its key and its PeerJS id `dyn-<tag>-<node id>`. */
interface Member {
  key: NodeKey;
  peerId: string;
}

async function newMember(tag: string): Promise<Member> {
  const key = await generateNodeKey();
  return { key, peerId: `dyn-${tag}-${key.nodeId}` };
}

/** Fetches the scoped listing of `tag` and checks that it is a JSON array of strings. */
async function listPeers(origin: string, tag: string): Promise<string[]> {
  const response = await fetch(peersListUrl(origin, tag));
  expect(response.status).toBe(200);
  const body: unknown = await response.json();
  expect(Array.isArray(body)).toBe(true);
  const ids = body as unknown[];
  expect(ids.every((id) => typeof id === 'string')).toBe(true);
  return ids as string[];
}

async function serverStats(origin: string): Promise<SignalingServerStats> {
  const response = await fetch(signalingStatsUrl(origin));
  expect(response.status).toBe(200);
  return (await response.json()) as SignalingServerStats;
}

/** How often `reason` was counted as a refused registration. */
const refusedFor = (stats: SignalingServerStats, reason: string): number => stats.registrations.refused[reason] ?? 0;

/** The WebSocket URL a peerjs 1.5.5 client builds from its options (dist/bundler.mjs, class Socket). */
function peerjsSocketUrl(options: PeerClientOptions, id: string, token: string): string {
  const path = options.path.endsWith('/') ? options.path : `${options.path}/`;
  const scheme = options.secure ? 'wss://' : 'ws://';
  return `${scheme}${options.host}:${options.port}${path}peerjs?key=peerjs&id=${id}&token=${token}`;
}

/** That URL for `id` at `origin`, with `proof` (registration query parameters) appended. */
function socketUrl(origin: string, id: string, proof: Record<string, string> = {}, token = `token-${id.slice(-6)}`): string {
  const url = new URL(origin);
  const options = peerClientOptions({ hostname: url.hostname, port: url.port, protocol: url.protocol });
  const query = new URLSearchParams(proof).toString();
  return peerjsSocketUrl(options, id, token) + (query === '' ? '' : `&${query}`);
}

/** A signed registration URL for `member`, signed at `atMs`. */
async function signedUrl(origin: string, member: Member, atMs = Date.now()): Promise<string> {
  return socketUrl(origin, member.peerId, await registrationParams(member.key, member.peerId, atMs));
}

/** A client WebSocket that records every message it receives (parsed as JSON when possible), or the refusal of its upgrade. */
class RecordingSocket {
  readonly ws: WebSocket;
  readonly messages: unknown[] = [];
  closed = false;
  closeCode: number | undefined;
  /** The HTTP answer when the server refused the upgrade. */
  refusal: { status: number; body: string } | undefined;

  constructor(url: string, protocol?: string) {
    this.ws = protocol === undefined ? new WebSocket(url) : new WebSocket(url, protocol);
    this.ws.on('message', (data) => {
      const text = String(data);
      try {
        this.messages.push(JSON.parse(text));
      } catch {
        this.messages.push(text);
      }
    });
    this.ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        this.refusal = { status: res.statusCode ?? 0, body };
        this.ws.terminate();
      });
    });
    this.ws.on('error', () => {});
    this.ws.on('close', (code) => {
      this.closeCode = code;
      this.closed = true;
    });
  }

  /** The first received message with the given `type`. */
  waitForType(type: string): Promise<Record<string, unknown>> {
    return waitFor(`a ${type} message`, () => {
      const found = this.received(type);
      if (found === undefined && this.closed) throw new Error(`socket closed before a ${type} message${this.refusal ? ` (${this.refusal.status} ${this.refusal.body.trim()})` : ''}`);
      return found;
    });
  }

  received(type: string): Record<string, unknown> | undefined {
    return this.messages.find((m): m is Record<string, unknown> => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type);
  }

  /** The HTTP refusal of the upgrade (fails if the socket opened instead). */
  waitForRefusal(): Promise<{ status: number; body: string }> {
    return waitFor('the upgrade to be refused', () => {
      if (this.ws.readyState === WebSocket.OPEN) throw new Error('the upgrade was accepted');
      return this.refusal;
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    await waitFor('the socket to close', () => (this.closed ? true : undefined));
  }
}

/** Registers `member` with a fresh signature and waits for OPEN. */
async function connectMember(origin: string, member: Member): Promise<RecordingSocket> {
  const socket = new RecordingSocket(await signedUrl(origin, member));
  await socket.waitForType('OPEN');
  return socket;
}

/** Opens `url` and expects the upgrade to be refused with `status` and `reason`, counted in the stats when given. */
async function expectRefused(origin: string, url: string, status: number, reason: string): Promise<void> {
  const before = await serverStats(origin);
  const socket = new RecordingSocket(url);
  const refusal = await socket.waitForRefusal();
  expect(refusal.status).toBe(status);
  expect(refusal.body).toContain(reason);
  if (status === 403) expect(refusedFor(await serverStats(origin), reason) - refusedFor(before, reason)).toBe(1);
}

/** Registers a peer, checks it is listed under its tag, closes it and checks it is gone. */
async function checkPeerLifecycle(origin: string, tag: string): Promise<void> {
  const member = await newMember(tag);
  const socket = await connectMember(origin, member);
  expect(await listPeers(origin, tag)).toEqual([member.peerId]);
  await socket.close();
  await waitFor(`${member.peerId} to leave the listing`, async () => ((await listPeers(origin, tag)).includes(member.peerId) ? undefined : true));
}

/** A throwaway Vite root with just an index.html. */
async function makeRoot(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'tabdynamo-signaling-'));
  await writeFile(path.join(root, 'index.html'), '<!doctype html><title>signaling test</title><p>app</p>\n');
  return root;
}

/**
 * The guard's rules on registration, listing and destinations, against the server at `originOf()`
 * (with default limits). Run on the dev server with the plugin and on the standalone script.
 */
function guardSuite(originOfServer: () => string): void {
  it('accepts a signed registration, lists it under its tag only, and counts it', async () => {
    const origin = originOfServer();
    const before = await serverStats(origin);
    await checkPeerLifecycle(origin, randomTag());
    expect((await serverStats(origin)).registrations.accepted - before.registrations.accepted).toBe(1);
  });

  it('refuses (403) and counts unsigned, wrong-key, forged, expired, replayed and malformed registrations', async () => {
    const origin = originOfServer();
    const tag = randomTag();
    const member = await newMember(tag);
    const stranger = await newMember(tag);
    await expectRefused(origin, socketUrl(origin, member.peerId), 403, 'missing or malformed proof');
    await expectRefused(origin, socketUrl(origin, member.peerId, await registrationParams(stranger.key, member.peerId, Date.now())), 403, 'key does not match the node id');
    const forged = { ...(await registrationParams(stranger.key, member.peerId, Date.now())), pk: (await registrationParams(member.key, member.peerId, Date.now())).pk };
    await expectRefused(origin, socketUrl(origin, member.peerId, forged), 403, 'bad signature');
    await expectRefused(origin, await signedUrl(origin, member, Date.now() - REGISTRATION_WINDOW_MS - 10_000), 403, 'timestamp outside the window');
    await expectRefused(origin, socketUrl(origin, 'node-1', await registrationParams(member.key, 'node-1', Date.now())), 403, 'malformed peer id');
    // A valid registration, then the very same URL again (read from a log, say).
    const url = await signedUrl(origin, member);
    const first = new RecordingSocket(url);
    await first.waitForType('OPEN');
    await first.close();
    await expectRefused(origin, url, 403, 'replayed registration');
    // Two copies of one URL at the same moment: one gets in.
    const twin = await signedUrl(origin, member);
    const [a, b] = [new RecordingSocket(twin), new RecordingSocket(twin)];
    await waitFor('both answered', () => ((a.received('OPEN') || a.refusal) && (b.received('OPEN') || b.refusal) ? true : undefined));
    expect([a, b].filter((s) => s.received('OPEN') !== undefined)).toHaveLength(1);
    expect([a, b].find((s) => s.refusal !== undefined)?.refusal).toMatchObject({ status: 403, body: expect.stringContaining('replayed registration') });
    await Promise.all([a.close(), b.close()]);
  });

  it("does not let anyone take a connected node's id without its key", async () => {
    const origin = originOfServer();
    const tag = randomTag();
    const victim = await newMember(tag);
    const peer = await newMember(tag);
    const attacker = await newMember(tag);
    const victimUrl = await signedUrl(origin, victim);
    const victimSocket = new RecordingSocket(victimUrl);
    await victimSocket.waitForType('OPEN');
    const peerSocket = await connectMember(origin, peer);
    await expectRefused(origin, socketUrl(origin, victim.peerId, await registrationParams(attacker.key, victim.peerId, Date.now())), 403, 'key does not match the node id');
    await expectRefused(origin, victimUrl, 403, 'replayed registration');
    // The victim keeps its id: signals for it still reach it.
    peerSocket.send({ type: 'OFFER', dst: victim.peerId, payload: { sdp: 'for the victim' } });
    expect(await victimSocket.waitForType('OFFER')).toMatchObject({ src: peer.peerId, payload: { sdp: 'for the victim' } });
    await Promise.all([victimSocket.close(), peerSocket.close()]);
  });

  it("keeps a closed node's id, and the signals queued for it, for the holder of its key", async () => {
    const origin = originOfServer();
    const tag = randomTag();
    const victim = await newMember(tag);
    const peer = await newMember(tag);
    const attacker = await newMember(tag);
    const oldUrl = await signedUrl(origin, victim);
    const old = new RecordingSocket(oldUrl);
    await old.waitForType('OPEN');
    await old.close();
    await waitFor('the victim to leave the listing', async () => ((await listPeers(origin, tag)).includes(victim.peerId) ? undefined : true));
    // peer queues signals for an absent id (up to its 5 s expiry) and hands them to the next registrant.
    const peerSocket = await connectMember(origin, peer);
    peerSocket.send({ type: 'OFFER', dst: victim.peerId, payload: { sdp: 'queued' } });
    await expectRefused(origin, socketUrl(origin, victim.peerId, await registrationParams(attacker.key, victim.peerId, Date.now())), 403, 'key does not match the node id');
    await expectRefused(origin, oldUrl, 403, 'replayed registration');
    const back = await connectMember(origin, victim);
    expect(await back.waitForType('OFFER')).toMatchObject({ src: peer.peerId, payload: { sdp: 'queued' } });
    await Promise.all([back.close(), peerSocket.close()]);
  });

  it('lists one tag at a time: 400 without a valid tag, never another tag, no global listing, no id endpoint', async () => {
    const origin = originOfServer();
    const [tagA, tagB] = [randomTag(), randomTag()];
    const members = await Promise.all([newMember(tagA), newMember(tagA), newMember(tagB)]);
    const sockets = await Promise.all(members.map((m) => connectMember(origin, m)));
    expect((await listPeers(origin, tagA)).sort()).toEqual([members[0]!.peerId, members[1]!.peerId].sort());
    expect(await listPeers(origin, tagB)).toEqual([members[2]!.peerId]);
    expect(await listPeers(origin, randomTag())).toEqual([]);
    for (const query of ['', '?tag=', '?tag=ABCDEFGHIJKLMNOP', `?tag=${tagA}x`, `?other=${tagA}`]) {
      const response = await fetch(`${origin}${SIGNALING_PATH}/peerjs/peers${query}`);
      expect(response.status, query).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      expect(await response.json()).toMatchObject({ error: expect.any(String) });
    }
    expect((await fetch(`${origin}${SIGNALING_PATH}/peerjs/id`)).status).toBe(404);
    expect((await fetch(`${origin}${SIGNALING_PATH}/`)).status).toBe(404);
    const statsText = await (await fetch(signalingStatsUrl(origin))).text();
    for (const secret of [tagA, tagB, 'dyn-']) expect(statsText).not.toContain(secret);
    await Promise.all(sockets.map((s) => s.close()));
  });

  it("relays signals within a tag only: another tag's destination and client EXPIREs are dropped and counted", async () => {
    const origin = originOfServer();
    const [tagA, tagB] = [randomTag(), randomTag()];
    const [a1, a2, b1] = await Promise.all([newMember(tagA), newMember(tagA), newMember(tagB)]);
    const [s1, s2, s3] = await Promise.all([a1, a2, b1].map((m) => connectMember(origin, m)));
    const before = await serverStats(origin);
    s1!.send({ type: 'OFFER', dst: b1.peerId, payload: { sdp: 'across tags' } });
    s1!.send({ type: 'EXPIRE', dst: a2.peerId });
    await waitFor('both drops counted', async () => {
      const now = await serverStats(origin);
      const foreign = now.messages.droppedForeignDestination - before.messages.droppedForeignDestination;
      const malformed = now.messages.droppedMalformed - before.messages.droppedMalformed;
      return foreign === 1 && malformed === 1 ? true : undefined;
    });
    s1!.send({ type: 'OFFER', dst: a2.peerId, payload: { sdp: 'within the tag' } });
    expect(await s2!.waitForType('OFFER')).toMatchObject({ src: a1.peerId, payload: { sdp: 'within the tag' } });
    expect(s2!.received('EXPIRE')).toBeUndefined();
    expect(s3!.received('OFFER')).toBeUndefined();
    await Promise.all([s1!.close(), s2!.close(), s3!.close()]);
  });
}

describe('helpers', () => {
  it('build the scoped listing and stats URLs from an origin, a tag and a path', () => {
    const tag = 'abcdefghijklmnop';
    expect(peersListUrl('http://127.0.0.1:5173', tag)).toBe(`http://127.0.0.1:5173/peerjs/peerjs/peers?tag=${tag}`);
    expect(peersListUrl('http://127.0.0.1:5173/', tag, 'signal/')).toBe(`http://127.0.0.1:5173/signal/peerjs/peers?tag=${tag}`);
    expect(() => peersListUrl('http://x', tag, '/')).toThrow();
    for (const bad of ['', 'my-cluster', 'ABCDEFGHIJKLMNOP', 'abcdefghijklmno1']) expect(() => peersListUrl('http://x', bad)).toThrow(RangeError);
    expect(signalingStatsUrl('http://127.0.0.1:5173/')).toBe('http://127.0.0.1:5173/peerjs/stats');
  });

  it('derive peerjs client options from a page location', () => {
    expect(peerClientOptions({ hostname: '127.0.0.1', port: '5173', protocol: 'http:' })).toEqual({
      host: '127.0.0.1',
      port: 5173,
      path: '/peerjs/',
      secure: false,
    });
    expect(peerClientOptions({ hostname: 'example.org', port: '', protocol: 'https:' })).toEqual({
      host: 'example.org',
      port: 443,
      path: '/peerjs/',
      secure: true,
    });
    expect(peerClientOptions({ hostname: 'example.org', port: '', protocol: 'http:' }, '/sig').port).toBe(80);
  });
});

/** A bare Node HTTP server with `attachSignaling` and the given limits. */
async function bareServer(limits: Partial<SignalingLimits>): Promise<{ origin: string; http: HttpServer; signaling: SignalingServer }> {
  const http = createHttpServer();
  const signaling = await attachSignaling(http, { limits });
  http.on('request', (req, res) => {
    if (signaling.handleRequest(req, res)) return;
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { origin: originOf(http), http, signaling };
}

async function closeHttp(http: HttpServer | undefined): Promise<void> {
  if (http === undefined) return;
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
}

describe('limits per address and per socket (attachSignaling on a bare HTTP server)', () => {
  let capped: Awaited<ReturnType<typeof bareServer>>;
  let slow: Awaited<ReturnType<typeof bareServer>>;

  beforeAll(async () => {
    capped = await bareServer({ socketsPerAddressMax: 3, upgradesPerAddressBurst: 1000, upgradesPerAddressPerSecond: 1000, messagesPerSecond: 10, messagesBurst: 20 });
    slow = await bareServer({ upgradesPerAddressPerSecond: 1, upgradesPerAddressBurst: 2 });
  });

  afterAll(async () => {
    await closeHttp(capped?.http);
    await closeHttp(slow?.http);
  });

  it('refuses (429) a socket over the per-address cap, counts it, and frees the slot when one closes', async () => {
    const { origin } = capped;
    const tag = randomTag();
    const members = await Promise.all([1, 2, 3, 4, 5].map(() => newMember(tag)));
    const open = await Promise.all(members.slice(0, 3).map((m) => connectMember(origin, m)));
    await expectRefused(origin, await signedUrl(origin, members[3]!), 429, 'at most 3 signaling sockets per address');
    expect((await serverStats(origin)).upgradesRefused.socketsPerAddress).toBe(1);
    expect((await serverStats(origin)).sockets).toEqual({ open: 3, pending: 0 });
    await open[0]!.close();
    await waitFor('the slot to be free', async () => ((await serverStats(origin)).sockets.open === 2 ? true : undefined));
    const fourth = await connectMember(origin, members[4]!);
    await Promise.all([fourth.close(), ...open.slice(1).map((s) => s.close())]);
  });

  it('refuses (429) upgrades faster than the per-address rate, before checking any proof', async () => {
    const { origin } = slow;
    const member = await newMember(randomTag());
    const unsigned = socketUrl(origin, member.peerId);
    await expectRefused(origin, unsigned, 403, 'missing or malformed proof');
    await expectRefused(origin, unsigned, 403, 'missing or malformed proof');
    await expectRefused(origin, unsigned, 429, 'too many signaling upgrades');
    expect((await serverStats(origin)).upgradesRefused.upgradeRate).toBe(1);
  });

  it('drops messages over the rate and closes a socket far over it', async () => {
    const { origin } = capped;
    const member = await newMember(randomTag());
    const socket = await connectMember(origin, member);
    const before = await serverStats(origin);
    const judged = async (): Promise<{ passed: number; dropped: number }> => {
      const now = await serverStats(origin);
      return { passed: now.messages.passed - before.messages.passed, dropped: now.messages.droppedRateLimit - before.messages.droppedRateLimit };
    };
    // Burst 20 at 10/s: 25 at once leaves about 5 over.
    for (let i = 0; i < 25; i++) socket.send({ type: 'HEARTBEAT' });
    const first = await waitFor('25 heartbeats judged', async () => {
      const counts = await judged();
      return counts.passed + counts.dropped === 25 ? counts : undefined;
    });
    expect(first.passed).toBeGreaterThanOrEqual(20);
    expect(first.dropped).toBeGreaterThanOrEqual(3);
    expect(socket.closed).toBe(false);
    // Another 100 at once: far over, the socket is closed.
    for (let i = 0; i < 100; i++) socket.send({ type: 'HEARTBEAT' });
    await waitFor('the flooding socket to be closed', () => (socket.closed ? true : undefined));
    expect((await serverStats(origin)).socketsClosedForFlooding - before.socketsClosedForFlooding).toBe(1);
    await waitFor('the socket to be counted closed', async () => ((await serverStats(origin)).sockets.open === 0 ? true : undefined));
  });

  it('closes a socket that sends a frame over 64 KiB (1009)', async () => {
    const { origin } = capped;
    const socket = await connectMember(origin, await newMember(randomTag()));
    socket.send('x'.repeat(64 * 1024 + 1));
    await waitFor('the socket to close', () => (socket.closed ? true : undefined));
    expect(socket.closeCode).toBe(1009);
  });

  it("registers the node's own client (ServerSignaling) with the proof its callback makes, and refuses it without", async () => {
    const { origin } = capped;
    const tag = randomTag();
    const key = await generateNodeKey();
    const port = Number(new URL(origin).port);
    const states: ServerStatus[] = [];
    const openSocket = (url: string): SocketLike => {
      const ws = new WebSocket(url);
      // ServerSignaling drops its handlers on teardown; ws must always have an 'error' listener in Node.
      ws.on('error', () => {});
      return ws as unknown as SocketLike;
    };
    const base = { cluster: tag, self: key.nodeId, host: '127.0.0.1', port, path: '/peerjs/', secure: false, onSignal: () => undefined, onExpire: () => undefined, openSocket };
    const signed = new ServerSignaling({ ...base, registration: (peerId) => registrationParams(key, peerId, Date.now()), onState: (s) => states.push(s) });
    try {
      await waitFor('the signed client to open', () => (signed.status().state === 'open' ? true : undefined));
      expect(await listPeers(origin, tag)).toEqual([`dyn-${tag}-${key.nodeId}`]);
    } finally {
      signed.close();
    }
    const other = await generateNodeKey();
    const before = await serverStats(origin);
    const unsigned = new ServerSignaling({ ...base, self: other.nodeId });
    try {
      await waitFor('the unsigned client to fail', () => (unsigned.status().state === 'unreachable' ? true : undefined));
      expect(unsigned.status().failures).toBe(1);
      expect(refusedFor(await serverStats(origin), 'missing or malformed proof') - refusedFor(before, 'missing or malformed proof')).toBe(1);
    } finally {
      unsigned.close();
    }
  });
});

describe('dev server with the plugin', () => {
  let root: string;
  let server: ViteDevServer;
  let origin = '';

  beforeAll(async () => {
    root = await makeRoot();
    server = await createServer({
      configFile: false,
      root,
      logLevel: 'silent',
      plugins: [signalingPlugin()],
      server: { host: '127.0.0.1', port: 0 },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    if (server.httpServer === null) throw new Error('dev server has no http server');
    origin = originOf(server.httpServer);
  });

  afterAll(async () => {
    await server?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('(a) answers the scoped listing with 200 and a JSON array, and its stats', async () => {
    const response = await fetch(peersListUrl(origin, randomTag()));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual([]);
    expect(await serverStats(origin)).toMatchObject({ registrations: { accepted: expect.any(Number) }, sockets: { open: 0 } });
  });

  it('(b) opens a peer socket at the URL peerjs builds (plus the proof)', async () => {
    const options = peerClientOptions({ hostname: '127.0.0.1', port: new URL(origin).port, protocol: 'http:' });
    expect(peerjsSocketUrl(options, 'nodeA', 'tA')).toBe(`ws://127.0.0.1:${new URL(origin).port}/peerjs/peerjs?key=peerjs&id=nodeA&token=tA`);
    await checkPeerLifecycle(origin, randomTag());
  });

  guardSuite(() => origin);

  it('(c) leaves Vite HMR websocket upgrades to Vite', async () => {
    const hmr = new RecordingSocket(`${origin.replace('http:', 'ws:')}/`, 'vite-hmr');
    expect(await hmr.waitForType('connected')).toMatchObject({ type: 'connected' });
    // 'connected' is sent during the upgrade itself; a second ws server that answers the same upgrade
    // with 400 would break the socket only afterwards. So check that it still carries a later push.
    server.ws.send({ type: 'custom', event: 'signaling-test:probe', data: { n: 1 } });
    expect(await hmr.waitForType('custom')).toMatchObject({ event: 'signaling-test:probe', data: { n: 1 } });
    expect(hmr.ws.readyState).toBe(WebSocket.OPEN);
    await hmr.close();
  });

  it('still serves the app and answers 404 for unknown paths under the signaling path', async () => {
    const page = await fetch(`${origin}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('signaling test');
    const unknown = await fetch(`${origin}${SIGNALING_PATH}/peerjs/nothing-here`, { headers: { accept: 'text/html' } });
    expect(unknown.status).toBe(404);
  });
});

describe('preview server with the plugin', () => {
  let root: string;
  let server: PreviewServer;
  let origin: string;
  let clientJs = '';

  beforeAll(async () => {
    root = await makeRoot();
    // The page imports the URL helpers, as app code does: the plugin module must stay browser-safe.
    const pluginModule = path.join(REPO, 'src/signaling/signaling-plugin.ts');
    await writeFile(
      path.join(root, 'main.ts'),
      `import { peersListUrl } from ${JSON.stringify(pluginModule)};\n` +
        "document.body.dataset.peers = peersListUrl(location.origin, 'abcdefghijklmnop');\n",
    );
    await writeFile(
      path.join(root, 'index.html'),
      '<!doctype html><title>signaling test</title><p>app</p><script type="module" src="/main.ts"></script>\n',
    );
    const outDir = path.join(root, 'dist');
    const output = await build({ configFile: false, root, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
    const outputs = Array.isArray(output) ? output : [output];
    for (const o of outputs) {
      if (!('output' in o)) throw new Error('expected a finished build, not a watcher');
      for (const chunk of o.output) if (chunk.type === 'chunk') clientJs += chunk.code;
    }
    server = await preview({
      configFile: false,
      root,
      logLevel: 'silent',
      plugins: [signalingPlugin()],
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0 },
    });
    origin = originOf(server.httpServer);
  });

  afterAll(async () => {
    await server?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('builds a client bundle from the helpers without the Node-only server packages', () => {
    expect(clientJs).toContain('/peers?tag=');
    expect(clientJs).not.toMatch(/express|WebSocketServer|ExpressPeerServer/);
  });

  it('(d) serves the built app, the scoped listing and signed peer sockets, and refuses unsigned ones', async () => {
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('signaling test');
    await checkPeerLifecycle(origin, randomTag());
    await expectRefused(origin, socketUrl(origin, (await newMember(randomTag())).peerId), 403, 'missing or malformed proof');
  });
});

describe('repository vite.config.ts', () => {
  it('wires the plugin and the agreed server settings', async () => {
    const config = await resolveConfig({ configFile: path.join(REPO, 'vite.config.ts'), root: REPO, logLevel: 'silent' }, 'serve');
    expect(config.plugins.map((p) => p.name)).toContain('tabdynamo:signaling');
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.server.port).toBe(5173);
    expect(config.preview.host).toBe('127.0.0.1');
    expect(config.preview.port).toBe(4173);
    expect(config.build.target).toBe('es2022');
    expect(config.worker.format).toBe('es');
  });
});

describe('standalone scripts/signaling.mjs', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  let origin = '';
  let printedList = '';

  beforeAll(async () => {
    // Port 0 lets the OS pick a free port without a probe-then-bind race; the script prints the real one.
    const proc = spawn(process.execPath, [path.join(REPO, 'scripts/signaling.mjs'), '--port', '0'], {
      cwd: REPO,
      env: { ...process.env, HOST: '127.0.0.1' },
    });
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The script loads the shared TypeScript through tsx first: allow for a slow start.
    printedList = await waitFor(
      'the script to print its peer list URL',
      () => {
        if (proc.exitCode !== null) throw new Error(`script exited early: ${stderr}`);
        return /peer list: (http:\/\/127\.0\.0\.1:\d+\/peerjs\/peerjs\/peers\?tag=<tag>)/.exec(stdout)?.[1];
      },
      30_000,
    );
    origin = new URL(printedList).origin;
  }, 40_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('(e) prints the URL template of its scoped listing', () => {
    const tag = randomTag();
    expect(peersListUrl(origin, tag)).toBe(printedList.replace('<tag>', tag));
  });

  guardSuite(() => origin);

  it('exits 0 on SIGTERM', async () => {
    const proc = child!;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
