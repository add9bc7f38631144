/**
 * The signaling plugin against real servers: a Vite dev server, a Vite preview server over a real
 * build of a throwaway root, the repository's vite.config.ts, and the standalone script.
 * Waits are conditions polled against a deadline, never fixed sleeps.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, resolveConfig } from 'vite';
import type { PreviewServer, ViteDevServer } from 'vite';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SIGNALING_PATH,
  peerClientOptions,
  peersListUrl,
  signalingPlugin,
} from '../../src/signaling/signaling-plugin';
import type { PeerClientOptions } from '../../src/signaling/signaling-plugin';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEADLINE_MS = 5_000;

/** Polls `check` until it returns something other than undefined, or fails after the deadline. */
async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const until = Date.now() + DEADLINE_MS;
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

/** Fetches the peer listing and checks that it is a JSON array of strings. */
async function listPeers(origin: string): Promise<string[]> {
  const response = await fetch(peersListUrl(origin));
  expect(response.status).toBe(200);
  const body: unknown = await response.json();
  expect(Array.isArray(body)).toBe(true);
  const ids = body as unknown[];
  expect(ids.every((id) => typeof id === 'string')).toBe(true);
  return ids as string[];
}

/** The WebSocket URL a peerjs 1.5.5 client builds from its options (dist/bundler.mjs, class Socket). */
function peerjsSocketUrl(options: PeerClientOptions, id: string, token: string): string {
  const path = options.path.endsWith('/') ? options.path : `${options.path}/`;
  const scheme = options.secure ? 'wss://' : 'ws://';
  return `${scheme}${options.host}:${options.port}${path}peerjs?key=peerjs&id=${id}&token=${token}`;
}

/** A client WebSocket that records every message it receives (parsed as JSON when possible). */
class RecordingSocket {
  readonly ws: WebSocket;
  readonly messages: unknown[] = [];
  closed = false;

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
    this.ws.on('error', () => {});
    this.ws.on('close', () => {
      this.closed = true;
    });
  }

  /** The first received message with the given `type`. */
  waitForType(type: string): Promise<Record<string, unknown>> {
    return waitFor(`a ${type} message`, () => {
      const found = this.messages.find(
        (m): m is Record<string, unknown> => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type,
      );
      if (found === undefined && this.closed) throw new Error(`socket closed before a ${type} message`);
      return found;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    await waitFor('the socket to close', () => (this.closed ? true : undefined));
  }
}

/** Connects `id` to the signaling server at `origin` the way a peerjs client would. */
function connectPeer(origin: string, id: string): RecordingSocket {
  const url = new URL(origin);
  const options = peerClientOptions({ hostname: url.hostname, port: url.port, protocol: url.protocol });
  return new RecordingSocket(peerjsSocketUrl(options, id, `token-${id}`));
}

/** Registers a peer, checks it is listed, closes it and checks it is gone. */
async function checkPeerLifecycle(origin: string, id: string): Promise<void> {
  const socket = connectPeer(origin, id);
  await socket.waitForType('OPEN');
  expect(await listPeers(origin)).toContain(id);
  await socket.close();
  await waitFor(`${id} to leave the listing`, async () => ((await listPeers(origin)).includes(id) ? undefined : true));
}

/** A throwaway Vite root with just an index.html. */
async function makeRoot(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'tabdynamo-signaling-'));
  await writeFile(path.join(root, 'index.html'), '<!doctype html><title>signaling test</title><p>app</p>\n');
  return root;
}

describe('helpers', () => {
  it('build the listing URL from an origin and a path', () => {
    expect(peersListUrl('http://127.0.0.1:5173')).toBe('http://127.0.0.1:5173/peerjs/peerjs/peers');
    expect(peersListUrl('http://127.0.0.1:5173/', 'signal/')).toBe('http://127.0.0.1:5173/signal/peerjs/peers');
    expect(() => peersListUrl('http://x', '/')).toThrow();
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

describe('dev server with the plugin', () => {
  let root: string;
  let server: ViteDevServer;
  let origin: string;

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

  it('(a) answers the peer listing with 200 and a JSON array', async () => {
    const response = await fetch(`${origin}${SIGNALING_PATH}/peerjs/peers`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toEqual([]);
  });

  it('(b) opens a peer socket at the URL peerjs builds, lists the id while open, drops it after close', async () => {
    const options = peerClientOptions({ hostname: '127.0.0.1', port: new URL(origin).port, protocol: 'http:' });
    expect(peerjsSocketUrl(options, 'nodeA', 'tA')).toBe(
      `ws://127.0.0.1:${new URL(origin).port}/peerjs/peerjs?key=peerjs&id=nodeA&token=tA`,
    );
    await checkPeerLifecycle(origin, 'node-dev-1');
  });

  it('relays a signaling message between two connected peers', async () => {
    const a = connectPeer(origin, 'relay-a');
    const b = connectPeer(origin, 'relay-b');
    await Promise.all([a.waitForType('OPEN'), b.waitForType('OPEN')]);
    a.ws.send(JSON.stringify({ type: 'OFFER', dst: 'relay-b', payload: { sdp: 'x' } }));
    const offer = await b.waitForType('OFFER');
    expect(offer).toMatchObject({ src: 'relay-a', dst: 'relay-b', payload: { sdp: 'x' } });
    await Promise.all([a.close(), b.close()]);
  });

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
    // The page imports the URL helpers, as app code will: the plugin module must stay browser-safe.
    const pluginModule = path.join(REPO, 'src/signaling/signaling-plugin.ts');
    await writeFile(
      path.join(root, 'main.ts'),
      `import { peersListUrl } from ${JSON.stringify(pluginModule)};\n` +
        'document.body.dataset.peers = peersListUrl(location.origin);\n',
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
    expect(clientJs).toContain('/peers');
    expect(clientJs).not.toMatch(/express|WebSocketServer|ExpressPeerServer/);
  });

  it('(d) serves the built app, the peer listing and peer sockets', async () => {
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('signaling test');
    expect(await listPeers(origin)).toEqual([]);
    await checkPeerLifecycle(origin, 'node-preview-1');
  });
});

describe('repository vite.config.ts', () => {
  it('wires the plugin and the agreed server settings', async () => {
    const config = await resolveConfig(
      { configFile: path.join(REPO, 'vite.config.ts'), root: REPO, logLevel: 'silent' },
      'serve',
    );
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

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('(e) prints its listing URL, which answers and tracks peers', async () => {
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
    const listUrl = await waitFor('the script to print its peer list URL', () => {
      if (proc.exitCode !== null) throw new Error(`script exited early: ${stderr}`);
      return /peer list: (http:\/\/127\.0\.0\.1:\d+\/peerjs\/peerjs\/peers)/.exec(stdout)?.[1];
    });
    const origin = new URL(listUrl).origin;
    expect(peersListUrl(origin)).toBe(listUrl);
    expect(await listPeers(origin)).toEqual([]);
    await checkPeerLifecycle(origin, 'node-standalone-1');

    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
