/**
 * End-to-end fixtures: the built app served by Vite's preview server with the real signaling plugin,
 * and real Chromium tabs driven by playwright-core (page objects, after peerjs's own e2e tests).
 *
 * Chromium is the system one (`/usr/bin/chromium`, or `CHROMIUM_PATH`). Launch flags follow
 * BROWSER-FACTS.md: WebRTC over loopback needs --allow-loopback-in-peer-connection and
 * --use-fake-ui-for-media-stream; the background-networking flags keep Chromium off the network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { preview, type PreviewServer } from 'vite';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = path.join(REPO, 'test-results');

/** Flags every test launch uses. */
export const CHROMIUM_ARGS = [
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--disable-gpu',
  // Tabs in the background must keep their timers running like a visible one for these tests.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/**
 * Starts the preview server over dist/ (built by `npm run build`) on a free port; `E2E_DIST` serves
 * another build folder instead (as for {@link AppProcess}).
 */
export async function startApp(): Promise<{ server: PreviewServer; origin: string }> {
  const dist = process.env.E2E_DIST ?? 'dist';
  if (!existsSync(path.join(REPO, dist, 'index.html'))) throw new Error(`${dist}/ is missing: run \`npm run build\` first (npm test does)`);
  const server = await preview({
    root: REPO,
    configFile: path.join(REPO, 'vite.config.ts'),
    logLevel: 'silent',
    ...(process.env.E2E_DIST !== undefined ? { build: { outDir: dist } } : {}),
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const address = server.httpServer.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

/** Launches the system Chromium (or `executablePath`: a script that starts it, say at a lower priority). */
export async function launchBrowser(executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** Polls `check` in Node until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** What a get returns inside the page, made serialisable. */
export interface GetView {
  values: unknown[];
  deleted: boolean[];
  context: string;
  answeredBy: string[];
}

/** One tab = one node. Methods run the console API (`window.dynamo`) inside the page. */
export class NodeTab {
  private constructor(
    readonly page: Page,
    readonly url: string,
  ) {}

  /**
   * Opens a tab on `url` and waits until its node has started. With `asNode`, the tab starts with that
   * node id in its sessionStorage — a closed tab reopened (or restored) under its old identity.
   */
  static async open(context: BrowserContext, url: string, asNode?: string, startTimeoutMs = 30_000): Promise<NodeTab> {
    const page = await context.newPage();
    if (asNode !== undefined) {
      const cluster = new URL(url).searchParams.get('cluster') ?? 'default';
      await page.addInitScript(([slot, id]) => sessionStorage.setItem(slot, id), [`tabdynamo:${cluster}:node-id`, asNode] as const);
    }
    const tab = new NodeTab(page, url);
    await page.goto(url, { timeout: startTimeoutMs });
    await tab.waitStarted(startTimeoutMs);
    return tab;
  }

  /** Waits until `window.dynamo` exists (or the page reports a start error). */
  async waitStarted(timeoutMs = 30_000): Promise<void> {
    await this.page.waitForFunction(() => window.dynamo !== undefined || window.dynamoError !== undefined, undefined, { timeout: timeoutMs });
    const error = await this.page.evaluate(() => window.dynamoError);
    if (error) throw new Error(`node failed to start: ${error.name}: ${error.message}`);
  }

  id(): Promise<string> {
    return this.page.evaluate(() => window.dynamo!.id);
  }

  /**
   * This node's invitation link (issue 16): another browser profile joins the cluster by opening it.
   * `query` adds page parameters of the tab that opens it (e.g. `maxConnections=3`).
   */
  async invitation(query = ''): Promise<string> {
    const link = new URL(await this.page.evaluate(() => window.dynamo!.invitation()));
    for (const [name, value] of new URLSearchParams(query)) link.searchParams.set(name, value);
    return link.href;
  }

  memberIds(): Promise<string[]> {
    return this.page.evaluate(() => window.dynamo!.members().map((m) => m.id));
  }

  ringOwners(): Promise<string[]> {
    return this.page.evaluate(() => [...window.dynamo!.ring().owners()]);
  }

  preferenceList(key: string): Promise<string[]> {
    return this.page.evaluate((k) => window.dynamo!.preferenceList(k), key);
  }

  /** Waits until this node sees `count` members. */
  async waitMembers(count: number, timeoutMs = 30_000): Promise<void> {
    await this.page.waitForFunction((n) => window.dynamo!.members().length === n, count, { timeout: timeoutMs });
  }

  put(key: string, value: unknown, options: { context?: string; w?: number } = {}): Promise<{ context: string; acks: number }> {
    return this.page.evaluate(
      async ([k, v, o]) => {
        const result = await window.dynamo!.put(k, v, o);
        return { context: result.context, acks: result.acks };
      },
      [key, value, options] as const,
    );
  }

  delete(key: string, options: { context?: string } = {}): Promise<{ context: string }> {
    return this.page.evaluate(async ([k, o]) => ({ context: (await window.dynamo!.delete(k, o)).context }), [key, options] as const);
  }

  get(key: string, options: { r?: number } = {}): Promise<GetView> {
    return this.page.evaluate(
      async ([k, o]) => {
        const result = await window.dynamo!.get(k, o);
        return {
          values: result.siblings.map((s) => s.value),
          deleted: result.siblings.map((s) => s.deleted),
          context: result.context,
          answeredBy: result.answeredBy,
        };
      },
      [key, options] as const,
    );
  }

  /** Runs an operation in the page and returns the error's name and message (or null when it succeeded). */
  errorOf(script: string): Promise<{ name: string; message: string } | null> {
    return this.page.evaluate(async (code) => {
      try {
        await (0, eval)(code);
        return null;
      } catch (error) {
        const e = error as Error;
        return { name: e.name, message: e.message };
      }
    }, script);
  }

  stats(): Promise<{ messagesDropped: number; dropReasons: Record<string, number>; connectedPeers: string[] }> {
    return this.page.evaluate(() => {
      const s = window.dynamo!.stats();
      return { messagesDropped: s.messagesDropped, dropReasons: s.dropReasons, connectedPeers: s.connectedPeers };
    });
  }

  /** How this tab sees `peer`: 'alive', 'suspect' or 'unreachable'. */
  reachabilityOf(peer: string): Promise<string> {
    return this.page.evaluate((p) => window.dynamo!.node.peerHealth().find((h) => h.id === p)?.status ?? 'unknown', peer);
  }

  hintCount(): Promise<number> {
    return this.page.evaluate(() => window.dynamo!.node.hintCount());
  }

  disconnect(): Promise<void> {
    return this.page.evaluate(() => window.dynamo!.node.disconnect());
  }

  reconnect(): Promise<void> {
    return this.page.evaluate(() => window.dynamo!.node.reconnect());
  }

  localKeys(): Promise<string[]> {
    return this.page.evaluate(() => window.dynamo!.localKeys());
  }

  async reload(): Promise<void> {
    await this.page.reload();
    await this.waitStarted();
  }

  async screenshot(name: string): Promise<string> {
    const file = path.join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }
}

/** A running app, browser and cluster of node tabs, filled in by {@link useCluster}'s `beforeAll`. */
export interface ClusterFixture {
  server: PreviewServer;
  browser: Browser;
  context: BrowserContext;
  /** The page URL of this cluster (open more tabs of it with `NodeTab.open(context, url)`). */
  url: string;
  tabs: NodeTab[];
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start the built app and a browser, open `count` node tabs
 * of a fresh cluster named after `name` (extra URL parameters in `query`), and wait until every tab
 * sees all of them; everything is closed afterwards. Use inside a `describe`.
 */
export function useCluster(name: string, count: number, options: { query?: string; viewport?: { width: number; height: number } } = {}): ClusterFixture {
  const fixture = { tabs: [] as NodeTab[] } as ClusterFixture;
  beforeAll(async () => {
    const app = await startApp();
    fixture.server = app.server;
    fixture.browser = await launchBrowser();
    fixture.context = await fixture.browser.newContext(options.viewport ? { viewport: options.viewport } : {});
    fixture.url = `${app.origin}/?cluster=${name}${Date.now().toString(36)}${options.query ? `&${options.query}` : ''}`;
    for (let i = 0; i < count; i++) fixture.tabs.push(await NodeTab.open(fixture.context, fixture.url));
    await Promise.all(fixture.tabs.map((tab) => tab.waitMembers(count)));
  });
  afterAll(async () => {
    await fixture.browser?.close();
    await fixture.server?.close();
  });
  return fixture;
}

/**
 * The built app and its signaling server as a real process of its own (`vite preview`, as `npm run
 * preview` runs it), so that a test can kill it — an outage as users meet it — and start it again on
 * the same port.
 */
export class AppProcess {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server on a free port and waits until it answers. */
  static async start(): Promise<AppProcess> {
    const port = await freePort();
    const app = new AppProcess(port);
    await app.restart();
    return app;
  }

  /** Starts the server (again) on its port and waits until it serves the page. */
  async restart(): Promise<void> {
    if (this.child !== undefined) throw new Error('the app process is running already');
    // E2E_DIST serves another build folder (a build kept apart from one being rebuilt meanwhile).
    const dist = process.env.E2E_DIST ?? 'dist';
    if (!existsSync(path.join(REPO, dist, 'index.html'))) throw new Error(`${dist}/ is missing: run \`npm run build\` first (npm test does)`);
    this.child = spawn(path.join(REPO, 'node_modules', '.bin', 'vite'), ['preview', '--host', '127.0.0.1', '--port', String(this.port), '--strictPort', '--outDir', dist], {
      cwd: REPO,
      stdio: 'ignore',
    });
    await waitFor(`the app process on port ${this.port}`, async () => (await fetch(`${this.origin}/`).catch(() => undefined))?.ok === true, 30_000);
  }

  /** Kills the process (SIGKILL: no goodbye to any client) and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
