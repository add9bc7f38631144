/**
 * `npm run bench:peers`: tabdynamo against Yjs, side by side in one run, on the same number of tabs and
 * the same machine (issue: "us against Yjs").
 *
 * The two systems, one after the other, each in a fresh headless Chromium:
 *   tabdynamo  TABS node tabs of one cluster, (N,R,W) = (3,2,2), IndexedDB storage, WebRTC data channels
 *              (PeerJS), the built app's own signaling server (Vite preview, test/e2e/fixtures.ts). A tab
 *              is bench/peers-node.html: the node started from the address as the app starts it, with
 *              the console API and no explorer or notes (PEERS_BENCH_OURS=app uses the app's own page).
 *   Yjs        TABS tabs of bench/peers-yjs.html: one Y.Doc per tab, its key→value data in one Y.Map,
 *              y-indexeddb for storage and y-webrtc for peers, with y-webrtc's own signaling server
 *              (node_modules/y-webrtc/bin/server.js) run as a child process on a loopback port.
 * Every tab is in a browser context of its own, for both systems: tabs of one context would share
 * IndexedDB usage figures, and y-webrtc would carry their updates over BroadcastChannel instead of
 * WebRTC (and our nodes would signal over it); apart, every tab talks to the others over WebRTC data
 * channels only. Service workers are blocked (the app's offline cache is not the store), and the Yjs
 * contexts bypass the page's Content-Security-Policy (the built bench page carries the app's, whose
 * connect-src 'self' would refuse y-webrtc's signaling server on its other port).
 * Values are ~1 KiB strings of pseudo-random letters (bench/peers-probe.ts), the same for both.
 *
 * Measured, for both systems:
 *  (1) a write in tab A visible in tab B, p50/p99 over SAMPLES writes of new keys, A and B rotating
 *      over the tabs. Clock: `performance.timeOrigin + performance.now()` in each tab (the driver prints
 *      the skew between tabs). tabdynamo: t0 when A calls put; "durable on W" when put resolves (W = 2
 *      replicas stored it); "in B" when B — a replica of the key other than A — emits `key-changed`
 *      for it; the figure compared is max(both) − t0: visible elsewhere *and* durable on W nodes. A
 *      tab that is no replica sees the key only by reading it: the row "read in C" is the put's time
 *      plus one get (R = 2) issued in such a tab C right after the put resolved. Yjs: t0 just before
 *      `map.set` in A; t1 when B's map observer sees the key. Nothing is durable at that point.
 *  (2) sustained writes/s: WRITER_TABS tabs write THROUGHPUT_KEYS new keys between them. tabdynamo:
 *      WRITERS_PER_TAB puts in flight per tab, a write counts when its put resolved (W = 2). Yjs: each
 *      writer tab issues its keys as fast as it can, one `map.set` (one update) each, WRITERS_PER_TAB
 *      per task, pausing while a data channel has more than 4 MiB queued; a write counts when it is in
 *      every tab's map (Yjs has no acknowledgement). Rate = keys / (last done − first started).
 *  (3) JS heap and IndexedDB bytes per tab at each of KEY_COUNTS keys (default 10k and 100k), written
 *      in chunks from every tab (tabdynamo: LOAD_CONCURRENCY puts in flight per tab; Yjs: YJS_BATCH_KEYS
 *      keys per transaction); tabdynamo (which runs first) for at most LOAD_BUDGET_S seconds per size.
 *      Where its budget runs out, it is measured at the count it reached and Yjs is loaded to that same
 *      count (with no budget, only a stall check), and the table says so: no figure is claimed for a
 *      count not reached, and no ratio is printed between two different counts. Heap: CDP
 *      `HeapProfiler.collectGarbage` then `Runtime.getHeapUsage` usedSize, of the page and of each of
 *      its workers (tabdynamo's Merkle and clock workers). IndexedDB:
 *      `navigator.storage.estimate().usageDetails.indexedDB` of the tab's own context, and the sum of
 *      its records' key and value sizes. Measured once every tab is quiet (tabdynamo: no partition
 *      moving, no hint held; Yjs: every tab holds every key, no data channel has 64 KiB or more queued
 *      and y-indexeddb has merged its updates).
 *  (4) idle CPU and bytes sent per tab over IDLE_S seconds with no writes, with an empty store and
 *      at the first size. CPU: CDP `Performance.getMetrics` ProcessTime (the tab's renderer process:
 *      page, workers, WebRTC threads; one process per tab since contexts differ) and ThreadTime (the
 *      page's main thread) as % of one core. Bytes: every RTCPeerConnection's `getStats()` transport
 *      bytesSent (payload plus SCTP/DTLS) and data-channel bytesSent, and WebSocket bytes (signaling)
 *      — the same probe in both systems.
 *  (5) time for a new tab to be ready, from its navigation start: tabs 2..TABS as the cluster forms
 *      (empty), and one more tab at the first size (then it leaves the ring / closes). tabdynamo: the
 *      node has started and sees every member (it can coordinate and serve); "has its share": also no
 *      partition of it is still being handed over. Yjs: the provider has reported `synced` (every
 *      connected peer answered its state vector) and the map holds every key.
 *
 * Printed: one table per measure, both systems side by side, ratio tabdynamo / Yjs, and the goal where
 * the issue gives one (per-tab storage and memory at 100k keys ≤ 1/2 of Yjs's with 10 tabs; a write
 * visible elsewhere within 2× of Yjs's latency). Goals are printed, never asserted. What could not be
 * measured is printed as "—" with the reason.
 *
 * Environment: PEERS_BENCH_TABS (10), PEERS_BENCH_KEYS (10000,100000), PEERS_BENCH_VALUE_BYTES (1024),
 * PEERS_BENCH_SAMPLES (200), PEERS_BENCH_THROUGHPUT_KEYS (3000), PEERS_BENCH_WRITER_TABS (5),
 * PEERS_BENCH_WRITERS_PER_TAB (8), PEERS_BENCH_IDLE_S (20), PEERS_BENCH_READY_TIMEOUT_S (60),
 * PEERS_BENCH_LOAD_CONCURRENCY (4), PEERS_BENCH_LOAD_BUDGET_S (180), PEERS_BENCH_YJS_BATCH_KEYS (100),
 * PEERS_BENCH_SYSTEMS (tabdynamo,yjs), PEERS_BENCH_OURS (node | app); E2E_DIST serves another build
 * folder than dist/. The default run took 20–25 minutes on a busy shared 2-core machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { closeWithin, runBench } from './bench-exit.js';
import { peersProbeScript, type StorageBytes, type WireBytes } from './peers-probe.js';
import { freePort, launchBrowser, REPO, startApp, waitFor } from '../test/e2e/fixtures.js';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

const TABS = envNumber('PEERS_BENCH_TABS', 10);
const KEY_COUNTS = (process.env.PEERS_BENCH_KEYS ?? '10000,100000')
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const VALUE_BYTES = envNumber('PEERS_BENCH_VALUE_BYTES', 1024);
const SAMPLES = envNumber('PEERS_BENCH_SAMPLES', 200);
const WRITER_TABS = Math.min(TABS, envNumber('PEERS_BENCH_WRITER_TABS', 5));
const WRITERS_PER_TAB = envNumber('PEERS_BENCH_WRITERS_PER_TAB', 8);
const IDLE_S = envNumber('PEERS_BENCH_IDLE_S', 20);
const READY_TIMEOUT_MS = envNumber('PEERS_BENCH_READY_TIMEOUT_S', 60) * 1000;
const LOAD_CONCURRENCY = envNumber('PEERS_BENCH_LOAD_CONCURRENCY', 4);
/** Seconds each system may spend loading towards each size (see the module header). */
const LOAD_BUDGET_S = envNumber('PEERS_BENCH_LOAD_BUDGET_S', 180);
const THROUGHPUT_KEYS = envNumber('PEERS_BENCH_THROUGHPUT_KEYS', 3000);
const YJS_BATCH_KEYS = envNumber('PEERS_BENCH_YJS_BATCH_KEYS', 100);
const SYSTEMS = (process.env.PEERS_BENCH_SYSTEMS ?? 'tabdynamo,yjs').split(',');
const OURS_PAGE = process.env.PEERS_BENCH_OURS === 'app' ? 'app' : 'node';
/** How long loads and convergence may take before the bench reports them unfinished, ms. */
const LOAD_TIMEOUT_MS = 1_800_000;
/** A Yjs load that makes no progress in any tab for this long is reported as stalled, ms. */
const STALL_MS = 120_000;
/** Quiet time before a measurement of memory, storage or idle cost, ms. */
const SETTLE_MS = 5_000;
/** How often the driver's readiness checks run in a page, ms. */
const READY_POLL_MS = 10;
/** Prefix of the bulk keys and of the latency keys. */
const KV = 'kv:';
const LAT = 'lat:';

if (KEY_COUNTS.length === 0 || KEY_COUNTS.some((n) => !Number.isInteger(n) || n < THROUGHPUT_KEYS)) throw new Error('PEERS_BENCH_KEYS must list integers of at least PEERS_BENCH_THROUGHPUT_KEYS');
if (TABS < 5) throw new Error('PEERS_BENCH_TABS must be at least 5 (a write needs a tab that is no replica of it)');

declare global {
  interface Window {
    /** tabdynamo tabs: when this tab saw `key-changed` for each latency key, probe clock ms. */
    peersSeen?: Map<string, number>;
  }
}

// ─── figures ────────────────────────────────────────────────────────────────────────────────────────

function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}
const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A measured figure, or why there is none. */
type Figure = number | { missing: string };
const has = (f: Figure | undefined): f is number => typeof f === 'number' && Number.isFinite(f);

function log(system: string, what: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${system}: ${what}`);
}

/**
 * Polls `check` every 100 ms until it gives `{ done: true }`, printing its `state` every 30 s so that a
 * long wait shows what it waits for.
 * @throws Error after `timeoutMs`, with the last state.
 */
async function waitUntil(system: string, what: string, check: () => Promise<{ done: boolean; state: string }>, timeoutMs: number): Promise<void> {
  const started = Date.now();
  let reported = started;
  for (;;) {
    const { done, state } = await check();
    if (done) return;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}: ${state}`);
    if (Date.now() - reported > 30_000) {
      reported = Date.now();
      log(system, `still waiting for ${what}: ${state}`);
    }
    await sleep(100);
  }
}

/**
 * The page's own `performance.now()` (ms from its navigation start) when `predicate` first holds, read
 * by polling it in the page every {@link READY_POLL_MS}; the predicate returns that time, false, or a
 * string (a failure that ends the wait). Every 30 s it prints `state()`.
 * @returns the time, or why there is none (the failure, or the last state after `timeoutMs`).
 */
async function timeInPage<A>(system: string, page: Page, what: string, predicate: (arg: A) => number | string | false, arg: A, timeoutMs: number, state: () => Promise<string>): Promise<Figure> {
  const started = Date.now();
  for (;;) {
    const left = timeoutMs - (Date.now() - started);
    try {
      const handle = await page.waitForFunction(predicate as (arg: unknown) => number | string | false, arg as unknown, { polling: READY_POLL_MS, timeout: Math.max(1, Math.min(30_000, left)) });
      const value = (await handle.jsonValue()) as number | string;
      return typeof value === 'number' ? value : { missing: value };
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'TimeoutError') throw error;
      const now = await state().catch((e: Error) => `state unknown: ${e.message}`);
      if (Date.now() - started >= timeoutMs) return { missing: `not within ${(timeoutMs / 1000).toFixed(0)} s: ${now}` };
      log(system, `still waiting for ${what}: ${now}`);
    }
  }
}

// ─── one tab, either system ─────────────────────────────────────────────────────────────────────────

/** Heap of a page and its workers, bytes. */
interface HeapBytes {
  page: number;
  workers: number;
}

/** CPU time of a tab's renderer process and of its page's main thread, seconds, at a CDP timestamp (s). */
interface CpuReading {
  atS: number;
  processS: number;
  threadS: number;
}

/**
 * One tab in a browser context of its own, with a CDP session: heap (page and workers), CPU, the probe.
 * Workers are reached through `Target.setAutoAttach` on the page's session; Playwright's CDP session
 * speaks only to the page, so their commands go through `Target.sendMessageToTarget`.
 */
class BenchTab {
  private readonly workerSessions = new Set<string>();
  private readonly replies = new Map<number, (message: { result?: unknown; error?: { message: string } }) => void>();
  private nextId = 1;

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly cdp: CDPSession,
  ) {
    cdp.on('Target.attachedToTarget', (event) => {
      if (event.targetInfo.type === 'worker') this.workerSessions.add(event.sessionId);
    });
    cdp.on('Target.detachedFromTarget', (event) => {
      if (event.sessionId !== undefined) this.workerSessions.delete(event.sessionId);
    });
    cdp.on('Target.receivedMessageFromTarget', (event) => {
      const message = JSON.parse(event.message) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id === undefined) return;
      this.replies.get(message.id)?.(message);
      this.replies.delete(message.id);
    });
  }

  /** Opens `url` in a new context of `browser` (probe installed) and starts watching it. */
  static async open(browser: Browser, url: string, contextOptions: { bypassCSP?: boolean } = {}): Promise<BenchTab> {
    const context = await browser.newContext({ serviceWorkers: 'block', ...contextOptions });
    await context.addInitScript({ content: peersProbeScript() });
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
    const cdp = await context.newCDPSession(page);
    const tab = new BenchTab(context, page, cdp);
    await cdp.send('Performance.enable');
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    await page.goto(url);
    return tab;
  }

  private sendToWorker(sessionId: string, method: string): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        reject(new Error(`worker did not answer ${method}`));
      }, 30_000);
      this.replies.set(id, (message) => {
        clearTimeout(timer);
        if (message.error) reject(new Error(message.error.message));
        else resolve(message.result);
      });
      this.cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method }) }).catch(reject);
    });
  }

  /** Garbage-collects the page and each worker, then reads their used heap. */
  async heap(): Promise<HeapBytes> {
    await this.cdp.send('HeapProfiler.collectGarbage');
    const page = (await this.cdp.send('Runtime.getHeapUsage')).usedSize;
    let workers = 0;
    for (const session of this.workerSessions) {
      await this.sendToWorker(session, 'HeapProfiler.collectGarbage');
      workers += ((await this.sendToWorker(session, 'Runtime.getHeapUsage')) as { usedSize: number }).usedSize;
    }
    return { page, workers };
  }

  async cpu(): Promise<CpuReading> {
    const { metrics } = await this.cdp.send('Performance.getMetrics');
    const metric = (name: string): number => metrics.find((m) => m.name === name)?.value ?? NaN;
    return { atS: metric('Timestamp'), processS: metric('ProcessTime'), threadS: metric('ThreadTime') };
  }

  wire(): Promise<WireBytes> {
    return this.page.evaluate(() => window.peersProbe!.wire());
  }

  storage(): Promise<StorageBytes> {
    return this.page.evaluate(() => window.peersProbe!.storage());
  }

  /** Offset of this tab's probe clock from the wall clock (`Date.now()`), ms: the mean over many readings. */
  clockOffsetMs(): Promise<number> {
    return this.page.evaluate(() => {
      let sum = 0;
      const n = 20_000;
      for (let i = 0; i < n; i++) sum += window.peersProbe!.now() - Date.now();
      // Date.now() truncates to whole ms: on average it is 0.5 ms behind the true time.
      return sum / n - 0.5;
    });
  }

  async close(): Promise<void> {
    await closeWithin(this.context.close());
  }
}

// ─── the systems ────────────────────────────────────────────────────────────────────────────────────

/** How long a new tab took, from its navigation start, ms (or why it is not known). */
interface Readiness {
  readyMs: Figure;
  /** tabdynamo: also holding its share (no partition pending); Yjs: same as ready. */
  dataMs: Figure;
}

/** One latency sample, ms from the write's start. */
interface LatencySample {
  /** When the writer's call returned (tabdynamo: durable on W). */
  writeMs: number;
  /** When B saw it. */
  seenMs: number;
  /** tabdynamo only: put time plus a get in a tab that is no replica. */
  readElsewhereMs?: number;
}

/** A throughput run. */
interface Throughput {
  writes: number;
  failed: number;
  elapsedMs: number;
  /** Yjs: when the writers had issued every write, ms from the start. */
  issuedMs?: number;
  note?: string;
}

/** What the bench does with each system. */
interface System {
  readonly name: string;
  readonly tabs: BenchTab[];
  /** Opens one more tab (the cluster then has `tabs.length` tabs) and waits until it is ready. */
  addTab(expectedKeys: number): Promise<Readiness>;
  /** Waits until every tab is connected and in step (after forming, loading or a tab leaving). */
  settle(expectedKeys: number): Promise<void>;
  /** Writes keys [from, from + count) from the first WRITER_TABS tabs, as (2) describes. */
  throughput(from: number, count: number): Promise<Throughput>;
  /** Writes keys [from, to) from every tab, in batches, and waits until they are everywhere they go. */
  load(from: number, to: number): Promise<{ elapsedMs: number; failed: number }>;
  /** Latency sample `i`: tab A writes key `lat:i`, tab B sees it. */
  latency(i: number): Promise<LatencySample>;
  /** Takes the last tab out (tabdynamo: leaves the ring first) and closes it. */
  removeLastTab(): Promise<void>;
  /** Closes everything of this system. */
  close(): Promise<void>;
}

/** tabdynamo: node tabs of one cluster, joined by its invitation link. */
class Tabdynamo implements System {
  readonly name = 'tabdynamo';
  readonly tabs: BenchTab[] = [];
  private invitation: string | undefined;
  private readonly ids: string[] = [];

  private constructor(
    private readonly browser: Browser,
    private readonly origin: string,
    private readonly cluster: string,
  ) {}

  static async start(origin: string): Promise<Tabdynamo> {
    return new Tabdynamo(await launchBrowser(), origin, `peers${Date.now().toString(36)}`);
  }

  async addTab(): Promise<Readiness> {
    const page = OURS_PAGE === 'app' ? '/' : '/bench/peers-node.html';
    const url = this.invitation ?? `${this.origin}${page}?cluster=${this.cluster}&adopt=off`;
    const tab = await BenchTab.open(this.browser, url);
    this.tabs.push(tab);
    const members = this.tabs.length;
    const handoffState = (): Promise<string> => tab.page.evaluate(() => (window.dynamo ? JSON.stringify(window.dynamo.ownershipHandoffStatus()).slice(0, 300) : 'not started'));
    const ready = await timeInPage(
      this.name,
      tab.page,
      `tab ${members} to see ${members} members`,
      (n) => {
        if (window.dynamoError) return `did not start: ${window.dynamoError.name}: ${window.dynamoError.message}`;
        const d = window.dynamo;
        return d !== undefined && d.members().filter((m) => m.status !== 'left').length >= n ? performance.now() : false;
      },
      members,
      READY_TIMEOUT_MS,
      async () => `${await tab.page.evaluate(() => window.dynamo?.members().length ?? 'not started')} members seen`,
    );
    if (!has(ready)) throw new Error(`tabdynamo tab ${members} not ready: ${ready.missing}`);
    const dataAt = await timeInPage(
      this.name,
      tab.page,
      `tab ${members} to receive its partitions`,
      () => {
        const d = window.dynamo!;
        return d.ring().partitionsOf(d.id).length > 0 && d.ownershipHandoffStatus().pendingPartitions.length === 0 ? performance.now() : false;
      },
      undefined,
      LOAD_TIMEOUT_MS,
      handoffState,
    );
    if (!has(dataAt)) log(this.name, `tab ${members}: ${dataAt.missing}`);
    const id = await tab.page.evaluate(() => window.dynamo!.id);
    this.ids.push(id);
    await tab.page.evaluate(() => {
      window.peersSeen = new Map();
      window.dynamo!.on('key-changed', (event) => {
        if (event.key.startsWith('lat:')) window.peersSeen!.set(event.key, window.peersProbe!.now());
      });
    });
    if (this.invitation === undefined) {
      const link = new URL(await tab.page.evaluate(() => window.dynamo!.invitation()));
      link.searchParams.set('adopt', 'off');
      this.invitation = link.href;
    }
    return { readyMs: ready, dataMs: dataAt };
  }

  async settle(): Promise<void> {
    const count = this.tabs.length;
    await waitUntil(
      this.name,
      `every tab to see ${count} members, with no partition pending or handed off and no hint held`,
      async () => {
        const views = await Promise.all(
          this.tabs.map((tab) =>
            tab.page.evaluate(async () => {
              const d = window.dynamo!;
              const h = d.ownershipHandoffStatus();
              return {
                members: d.members().filter((m) => m.status !== 'left').length,
                moving: h.pendingPartitions.length + h.handoffPartitions.length + h.transfers.length,
                hints: await d.node.hintCount(),
              };
            }),
          ),
        );
        return { done: views.every((v) => v.members === count && v.moving === 0 && v.hints === 0), state: views.map((v) => `${v.members}m/${v.moving}p/${v.hints}h`).join(' ') };
      },
      LOAD_TIMEOUT_MS,
    );
  }

  /** Puts keys [from, from + count) split over `tabs`, `inFlight` puts at a time in each. */
  private async write(tabs: BenchTab[], from: number, count: number, inFlight: number): Promise<{ startedAtMs: number; endedAtMs: number; failed: number; errors: string[] }> {
    const share = Math.ceil(count / tabs.length);
    const runs = await Promise.all(
      tabs.map((tab, t) =>
        tab.page.evaluate(
          async ([first, end, writers, bytes, prefix]) => {
            const probe = window.peersProbe!;
            const d = window.dynamo!;
            let next = first;
            let failed = 0;
            const errors: string[] = [];
            const startedAtMs = probe.now();
            const writer = async (): Promise<void> => {
              while (next < end) {
                const i = next++;
                try {
                  await d.put(`${prefix}${i}`, probe.value(i, bytes));
                } catch (error) {
                  failed++;
                  if (errors.length < 3) errors.push(`${(error as Error).name}: ${(error as Error).message}`);
                }
              }
            };
            await Promise.all(Array.from({ length: writers }, writer));
            return { startedAtMs, endedAtMs: probe.now(), failed, errors };
          },
          [from + t * share, Math.min(from + count, from + (t + 1) * share), inFlight, VALUE_BYTES, KV] as const,
        ),
      ),
    );
    return {
      startedAtMs: Math.min(...runs.map((r) => r.startedAtMs)),
      endedAtMs: Math.max(...runs.map((r) => r.endedAtMs)),
      failed: runs.reduce((sum, r) => sum + r.failed, 0),
      errors: runs.flatMap((r) => r.errors).slice(0, 3),
    };
  }

  async throughput(from: number, count: number): Promise<Throughput> {
    const run = await this.write(this.tabs.slice(0, WRITER_TABS), from, count, WRITERS_PER_TAB);
    return {
      writes: count - run.failed,
      failed: run.failed,
      elapsedMs: run.endedAtMs - run.startedAtMs,
      ...(run.errors.length > 0 ? { note: `errors: ${run.errors.join('; ')}` } : {}),
    };
  }

  async load(from: number, to: number): Promise<{ elapsedMs: number; failed: number }> {
    const run = await this.write(this.tabs, from, to - from, LOAD_CONCURRENCY);
    if (run.errors.length > 0) console.log(`  tabdynamo load: ${run.failed} puts failed, e.g. ${run.errors.join('; ')}`);
    return { elapsedMs: run.endedAtMs - run.startedAtMs, failed: run.failed };
  }

  async latency(i: number): Promise<LatencySample> {
    const key = `${LAT}${i}`;
    const a = this.tabs[i % this.tabs.length]!;
    const aId = this.ids[i % this.tabs.length]!;
    const replicas = (await a.page.evaluate(([k]) => window.dynamo!.preferenceList(k).slice(0, window.dynamo!.config().n), [key] as const)) as string[];
    const b = this.tabs[this.ids.indexOf(replicas.find((id) => id !== aId)!)]!;
    const others = this.ids.filter((id) => id !== aId && !replicas.includes(id));
    const c = this.tabs[this.ids.indexOf(others[i % others.length]!)]!;
    const write = await a.page.evaluate(
      async ([k, n, bytes]) => {
        const probe = window.peersProbe!;
        const value = probe.value(n, bytes);
        const startedAtMs = probe.now();
        await window.dynamo!.put(k, value);
        return { startedAtMs, doneAtMs: probe.now() };
      },
      [key, i, VALUE_BYTES] as const,
    );
    const read = await c.page.evaluate(async ([k]) => {
      const probe = window.peersProbe!;
      const startedAtMs = probe.now();
      const result = await window.dynamo!.get(k);
      return { ms: probe.now() - startedAtMs, found: result.siblings.length > 0 };
    }, [key] as const);
    const seenAt = (await (
      await b.page.waitForFunction(([k]) => window.peersSeen!.get(k) ?? false, [key] as const, { polling: 'raf', timeout: 30_000 })
    ).jsonValue()) as number;
    return {
      writeMs: write.doneAtMs - write.startedAtMs,
      seenMs: seenAt - write.startedAtMs,
      ...(read.found ? { readElsewhereMs: write.doneAtMs - write.startedAtMs + read.ms } : {}),
    };
  }

  async removeLastTab(): Promise<void> {
    const tab = this.tabs.pop()!;
    const id = this.ids.pop()!;
    log(this.name, 'the extra tab leaves the ring');
    await tab.page.evaluate(() => window.dynamo!.leave());
    // leave() resolves once this node has handed everything off and calls itself left; the others learn
    // that by gossip, so the tab stays open until every other tab sees it as left.
    await waitUntil(
      this.name,
      'every other tab to see the extra tab as left',
      async () => {
        const statuses = await Promise.all(this.tabs.map((t) => t.page.evaluate((leaver) => window.dynamo!.members().find((m) => m.id === leaver)?.status ?? 'unknown', id)));
        return { done: statuses.every((status) => status === 'left'), state: statuses.join(' ') };
      },
      120_000,
    );
    await tab.close();
  }

  async close(): Promise<void> {
    for (const tab of this.tabs) await tab.close();
    await closeWithin(this.browser.close());
  }
}

/** Yjs: tabs of one y-webrtc room, each with its own Y.Doc and y-indexeddb. */
class Yjs implements System {
  readonly name = 'Yjs';
  readonly tabs: BenchTab[] = [];
  private readonly latencyKeys = new Set<string>();

  private constructor(
    private readonly browser: Browser,
    private readonly url: string,
  ) {}

  static async start(origin: string, signalingUrl: string): Promise<Yjs> {
    const room = `peers${Date.now().toString(36)}`;
    return new Yjs(await launchBrowser(), `${origin}/bench/peers-yjs.html?room=${room}&signaling=${encodeURIComponent(signalingUrl)}`);
  }

  async addTab(expectedKeys: number): Promise<Readiness> {
    const tab = await BenchTab.open(this.browser, this.url, { bypassCSP: true });
    this.tabs.push(tab);
    const alone = this.tabs.length === 1;
    const status = (): Promise<string> => tab.page.evaluate(() => JSON.stringify(window.yjsPeer?.status() ?? 'not started'));
    let ready = await timeInPage(
      this.name,
      tab.page,
      `tab ${this.tabs.length} to sync`,
      ([n, first]) => {
        const s = window.yjsPeer?.status();
        if (s === undefined) return false;
        const done = first ? s.storedLoadedAtMs !== undefined : s.firstSyncedAtMs !== undefined && s.keys >= n;
        return done ? performance.now() : false;
      },
      [expectedKeys, alone] as const,
      READY_TIMEOUT_MS,
      status,
    );
    if (!has(ready)) {
      const s = await tab.page.evaluate(() => window.yjsPeer!.status());
      const docBytes = await this.tabs[0]!.page.evaluate(() => window.yjsPeer!.encodedBytes());
      ready = {
        missing:
          `not ready after ${READY_TIMEOUT_MS / 1000} s: ${s.open} of ${s.conns} connections open, synced ${s.firstSyncedAtMs !== undefined}, ` +
          `${s.keys} of ${expectedKeys} keys; the document is ${(docBytes / 1048576).toFixed(1)} MiB as one update, ` +
          `the data channels take messages of at most ${s.maxMessageBytes ?? '?'} B, and y-webrtc drops a message whose send fails`,
      };
    }
    return { readyMs: ready, dataMs: ready };
  }

  async settle(expectedKeys: number): Promise<void> {
    const count = this.tabs.length;
    await waitUntil(
      this.name,
      `every tab to have ${count - 1} open connections and ${expectedKeys} keys`,
      async () => {
        const views = await Promise.all(this.tabs.map((tab) => tab.page.evaluate(() => window.yjsPeer!.status())));
        return { done: views.every((s) => s.open >= count - 1 && s.keys >= expectedKeys), state: views.map((s) => `${s.open}c/${s.keys}k`).join(' ') };
      },
      LOAD_TIMEOUT_MS,
    );
    // Relayed copies of updates may still be queued on data channels (every tab forwards every update
    // it applies to all its peers): let them go out, so that idle figures are idle.
    await waitUntil(
      this.name,
      'every data channel to drain',
      async () => {
        const views = await Promise.all(this.tabs.map((tab) => tab.page.evaluate(() => window.yjsPeer!.status())));
        return { done: views.every((s) => s.maxBufferedBytes < 64 * 1024), state: `most queued per tab ${views.map((s) => `${(s.maxBufferedBytes / 1024).toFixed(0)}KiB`).join(' ')}` };
      },
      300_000,
    ).catch((error: Error) => log(this.name, error.message));
    // y-indexeddb merges stored updates 1 s after the last one: let it.
    await sleep(2_000);
  }

  /** Waits for `work`, printing every tab's status every 30 s while it runs. */
  private async reporting<T>(what: string, work: Promise<T>): Promise<T> {
    let finished = false;
    void work.finally(() => (finished = true)).catch(() => undefined);
    const started = Date.now();
    while (!finished) {
      await Promise.race([work.catch(() => undefined), sleep(30_000)]);
      if (finished) break;
      const statuses = await Promise.all(this.tabs.map((tab) => tab.page.evaluate(() => window.yjsPeer!.status()).catch(() => undefined)));
      const state = statuses.map((s) => (s ? `${s.keys}k/${s.open}c/${(s.maxBufferedBytes / 1024).toFixed(0)}KiB${s.pacingGaveUp > 0 ? `/${s.pacingGaveUp}gave-up` : ''}` : '?')).join(' ');
      log(this.name, `still waiting for ${what} (${((Date.now() - started) / 1000).toFixed(0)} s): ${state}`);
    }
    return work;
  }

  /** Waits until every tab's map has `keys` keys; the last change time over the tabs (probe clock ms), or why not. */
  private async converged(keys: number): Promise<number | { missing: string }> {
    let lastTotal = -1;
    let progressAt = Date.now();
    let reportedAt = Date.now();
    for (;;) {
      const statuses = await Promise.all(this.tabs.map((tab) => tab.page.evaluate(() => window.yjsPeer!.status())));
      if (statuses.every((s) => s.keys >= keys)) return Math.max(...statuses.map((s) => s.lastChangeAtMs ?? NaN));
      const state = `keys/open connections/most queued per tab ${statuses.map((s) => `${s.keys}/${s.open}/${(s.maxBufferedBytes / 1024).toFixed(0)}KiB`).join(' ')}`;
      const total = statuses.reduce((sum, s) => sum + s.keys, 0);
      if (total !== lastTotal) {
        lastTotal = total;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS) {
        return { missing: `no tab gained a key for ${STALL_MS / 1000} s while waiting for ${keys} keys in every tab: ${state}` };
      }
      if (Date.now() - reportedAt > 30_000) {
        reportedAt = Date.now();
        log(this.name, `still waiting for every tab to hold ${keys} keys: ${state}`);
      }
      await sleep(100);
    }
  }

  /** Keys [from, from + count) split over `tabs`, written by `write` in each tab; start and issue-end times. */
  private async write(tabs: BenchTab[], from: number, count: number, batch: 'burst' | 'load'): Promise<{ startedAtMs: number; issuedAtMs: number }> {
    const share = Math.ceil(count / tabs.length);
    const perTask = batch === 'burst' ? WRITERS_PER_TAB : YJS_BATCH_KEYS;
    const runs = await this.reporting(`the writers to issue keys ${from}–${from + count - 1}`, Promise.all(
      tabs.map((tab, t) => {
        const first = from + t * share;
        const n = Math.max(0, Math.min(from + count, first + share) - first);
        return tab.page.evaluate(
          ([kind, prefix, start, keys, per, bytes]) => (kind === 'burst' ? window.yjsPeer!.burst(prefix, start, keys, per, bytes) : window.yjsPeer!.load(prefix, start, keys, per, bytes)),
          [batch, KV, first, n, perTask, VALUE_BYTES] as const,
        );
      }),
    ));
    return { startedAtMs: Math.min(...runs.map((r) => r.startedAtMs)), issuedAtMs: Math.max(...runs.map((r) => r.issuedAtMs)) };
  }

  async throughput(from: number, count: number): Promise<Throughput> {
    const run = await this.write(this.tabs.slice(0, WRITER_TABS), from, count, 'burst');
    const done = await this.converged(from + count);
    if (!has(done)) return { writes: 0, failed: 0, elapsedMs: NaN, issuedMs: run.issuedAtMs - run.startedAtMs, note: done.missing };
    return { writes: count, failed: 0, elapsedMs: done - run.startedAtMs, issuedMs: run.issuedAtMs - run.startedAtMs };
  }

  async load(from: number, to: number): Promise<{ elapsedMs: number; failed: number }> {
    const run = await this.write(this.tabs, from, to - from, 'load');
    // The map also holds the latency keys written before.
    const done = await this.converged(to + this.latencyKeys.size);
    if (!has(done)) throw new Error(`Yjs load did not converge: ${done.missing}`);
    return { elapsedMs: done - run.startedAtMs, failed: 0 };
  }

  async latency(i: number): Promise<LatencySample> {
    const key = `${LAT}${i}`;
    this.latencyKeys.add(key);
    const m = this.tabs.length;
    const a = this.tabs[i % m]!;
    const b = this.tabs[(i + 1 + (Math.floor(i / m) % (m - 1))) % m]!;
    const startedAtMs = await a.page.evaluate(([k, n, bytes]) => window.yjsPeer!.set(k, window.peersProbe!.value(n, bytes)), [key, i, VALUE_BYTES] as const);
    const seenAt = (await (await b.page.waitForFunction(([k]) => window.yjsPeer!.seenAt(k) ?? false, [key] as const, { polling: 'raf', timeout: 30_000 })).jsonValue()) as number;
    return { writeMs: 0, seenMs: seenAt - startedAtMs };
  }

  async removeLastTab(): Promise<void> {
    const tab = this.tabs.pop()!;
    await tab.page.evaluate(() => window.yjsPeer!.stop());
    await tab.close();
  }

  async close(): Promise<void> {
    for (const tab of this.tabs) await tab.close();
    await closeWithin(this.browser.close());
  }
}

// ─── the run ────────────────────────────────────────────────────────────────────────────────────────

/** Idle cost per tab over one window. */
interface IdleCost {
  cpuPercent: number[];
  mainThreadPercent: number[];
  transportBytesPerS: number[];
  dataChannelBytesPerS: number[];
  webSocketBytesPerS: number[];
  /** tabdynamo's own transport counter (bytesSent), for comparison with the probe. */
  ownCounterBytesPerS?: number[];
}

/** Memory and storage per tab at one key count. */
interface Footprint {
  /** The key count asked for (an entry of KEY_COUNTS) and the one reached within the load budget. */
  target: number;
  keys: number;
  heapPage: number[];
  heapWorkers: number[];
  idbEstimate: number[];
  recordBytes: number[];
  /** tabdynamo: keys stored per tab (its replicas). */
  localKeys?: number[];
}

/** Everything measured of one system. */
interface Report {
  name: string;
  formation: Readiness[];
  clockSkewMs: number;
  idleEmpty?: IdleCost;
  idleLoaded?: IdleCost;
  throughput?: Throughput;
  latency: LatencySample[];
  footprints: (Footprint | { target: number; missing: string })[];
  newTab?: Readiness;
  loads: { from: number; to: number; elapsedMs: number; failed: number }[];
  /** An unexpected failure that ended this system's run. */
  error?: string;
  /** Keys held when the loaded idle cost and the new tab were measured. */
  idleLoadedKeys?: number;
  newTabKeys?: number;
}

async function idleCost(system: System, ownCounter: boolean): Promise<IdleCost> {
  await sleep(SETTLE_MS);
  const read = (tab: BenchTab) =>
    Promise.all([
      tab.cpu(),
      tab.wire(),
      ownCounter ? tab.page.evaluate(() => window.dynamo!.stats().transport.bytesSent) : Promise.resolve(NaN),
    ]);
  const before = await Promise.all(system.tabs.map(read));
  await sleep(IDLE_S * 1000);
  const after = await Promise.all(system.tabs.map(read));
  const cost: IdleCost = { cpuPercent: [], mainThreadPercent: [], transportBytesPerS: [], dataChannelBytesPerS: [], webSocketBytesPerS: [], ...(ownCounter ? { ownCounterBytesPerS: [] } : {}) };
  for (let t = 0; t < before.length; t++) {
    const [cpu0, wire0, own0] = before[t]!;
    const [cpu1, wire1, own1] = after[t]!;
    const seconds = cpu1.atS - cpu0.atS;
    cost.cpuPercent.push(((cpu1.processS - cpu0.processS) / seconds) * 100);
    cost.mainThreadPercent.push(((cpu1.threadS - cpu0.threadS) / seconds) * 100);
    cost.transportBytesPerS.push((wire1.transportBytesSent - wire0.transportBytesSent) / seconds);
    cost.dataChannelBytesPerS.push((wire1.dataChannelBytesSent - wire0.dataChannelBytesSent) / seconds);
    cost.webSocketBytesPerS.push((wire1.webSocketBytesSent - wire0.webSocketBytesSent) / seconds);
    cost.ownCounterBytesPerS?.push((own1 - own0) / seconds);
  }
  return cost;
}

async function footprint(system: System, target: number, keys: number, ours: boolean): Promise<Footprint> {
  await sleep(SETTLE_MS);
  const result: Footprint = { target, keys, heapPage: [], heapWorkers: [], idbEstimate: [], recordBytes: [], ...(ours ? { localKeys: [] } : {}) };
  for (const tab of system.tabs) {
    const heap = await tab.heap();
    result.heapPage.push(heap.page);
    result.heapWorkers.push(heap.workers);
  }
  for (const tab of system.tabs) {
    const storage = await tab.storage();
    result.idbEstimate.push(storage.indexedDb ?? storage.usage);
    result.recordBytes.push(storage.recordBytes);
    if (ours) result.localKeys!.push(await tab.page.evaluate(async () => (await window.dynamo!.localKeys()).length));
  }
  return result;
}


/**
 * Runs every measurement on `system`. `limits` caps the key count loaded for each size (target → keys):
 * the counts tabdynamo reached within its load budget, so that Yjs is measured at the same counts.
 */
async function runSystem(system: System, report: Report, ours: boolean, limits?: Map<number, number>): Promise<void> {
  const started = Date.now();
  log(system.name, `forming ${TABS} tabs`);
  for (let i = 0; i < TABS; i++) {
    const ready = await system.addTab(0);
    if (i > 0) report.formation.push(ready);
    await system.settle(0);
  }
  const offsets = await Promise.all(system.tabs.map((tab) => tab.clockOffsetMs()));
  report.clockSkewMs = Math.max(...offsets) - Math.min(...offsets);

  log(system.name, `idle ${IDLE_S} s, empty`);
  report.idleEmpty = await idleCost(system, ours);

  log(system.name, `throughput: ${THROUGHPUT_KEYS} keys from ${WRITER_TABS} tabs`);
  report.throughput = await system.throughput(0, THROUGHPUT_KEYS);
  await system.settle(THROUGHPUT_KEYS);

  log(system.name, `latency: ${SAMPLES} writes`);
  for (let i = 0; i < SAMPLES; i++) report.latency.push(await system.latency(i));
  const keysHeld = (n: number): number => n + SAMPLES;
  await system.settle(keysHeld(THROUGHPUT_KEYS));

  let loaded = THROUGHPUT_KEYS;
  for (const target of KEY_COUNTS) {
    // Yjs goes as far as tabdynamo got within its budget, so that both are measured at one key count.
    // It has no time budget of its own then (only the stall check): a comparison at two counts is none.
    const limit = limits?.get(target);
    const goal = Math.min(target, limit ?? target);
    const chunk = Math.max(1_000, Math.round(target / 20));
    const budgetEnds = limit === undefined ? Date.now() + LOAD_BUDGET_S * 1000 : Infinity;
    if (loaded < goal) log(system.name, `loading ${loaded} → ${goal} keys (${limit === undefined ? `budget ${LOAD_BUDGET_S} s` : 'the count tabdynamo reached'})`);
    try {
      while (loaded < goal && Date.now() < budgetEnds) {
        const to = Math.min(goal, loaded + chunk);
        const load = await system.load(loaded, to);
        report.loads.push({ from: loaded, to, ...load });
        loaded = to;
      }
      if (loaded < goal) log(system.name, `load budget spent at ${loaded} keys`);
      await system.settle(keysHeld(loaded));
      log(system.name, `memory and storage at ${loaded} keys`);
      report.footprints.push(await footprint(system, target, loaded, ours));
    } catch (error) {
      report.footprints.push({ target, missing: (error as Error).message });
      break;
    }
    if (target !== KEY_COUNTS[0]) continue;
    log(system.name, `idle ${IDLE_S} s, ${loaded} keys`);
    report.idleLoaded = await idleCost(system, ours);
    report.idleLoadedKeys = loaded;
    log(system.name, `a new tab at ${loaded} keys`);
    report.newTab = await system.addTab(keysHeld(loaded));
    report.newTabKeys = loaded;
    await system.removeLastTab();
    await system.settle(keysHeld(loaded));
  }
  log(system.name, `done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * Starts `system`, runs it into a new report and closes it. An unexpected failure is kept in the report
 * (what was measured before it is still printed) and makes the bench exit with 1.
 */
async function measure(start: () => Promise<System>, name: string, ours: boolean, limits?: Map<number, number>): Promise<Report> {
  const report: Report = { name, formation: [], clockSkewMs: NaN, latency: [], footprints: [], loads: [] };
  let system: System | undefined;
  try {
    system = await start();
    await runSystem(system, report, ours, limits);
  } catch (error) {
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(name, `failed: ${report.error}`);
  } finally {
    await system?.close();
  }
  return report;
}

// ─── the report ─────────────────────────────────────────────────────────────────────────────────────

const MiB = 1024 * 1024;
const LABEL_WIDTH = 62;
const LOAD_AT_START = os.loadavg()[0]!;
function show(f: Figure | undefined, digits = 2, unit = ''): string {
  if (f === undefined) return '—';
  return has(f) ? `${f.toFixed(digits)}${unit}` : '—';
}
function ratio(ours: Figure | undefined, theirs: Figure | undefined): string {
  return has(ours) && has(theirs) && theirs !== 0 ? `${(ours / theirs).toFixed(2)}×` : '—';
}

/** Prints one measure as a table: rows of (label, ours, theirs, goal). */
function table(title: string, rows: { label: string; ours?: Figure; theirs?: Figure; digits?: number; goal?: string; ratio?: boolean }[], notes: string[] = []): void {
  console.log('');
  console.log(title);
  console.log(`${''.padEnd(LABEL_WIDTH)} ${'tabdynamo'.padStart(12)} ${'Yjs'.padStart(12)} ${'ratio'.padStart(8)}  goal`);
  console.log('-'.repeat(110));
  for (const r of rows) {
    const digits = r.digits ?? 2;
    const theRatio = r.ratio === false ? '' : ratio(r.ours, r.theirs);
    console.log(`${r.label.padEnd(LABEL_WIDTH)} ${show(r.ours, digits).padStart(12)} ${show(r.theirs, digits).padStart(12)} ${theRatio.padStart(8)}  ${r.goal ?? ''}`);
  }
  for (const note of notes) console.log(`  ${note}`);
}

/** The key count of a row measured in both systems: one number, or "ours/theirs" when they differ. */
function keysLabel(ours: number | undefined, theirs: number | undefined): string {
  const known = [ours, theirs].filter((n): n is number => n !== undefined);
  return known.length === 2 && known[0] !== known[1] ? `${known[0]}/${known[1]}` : String(known[0] ?? KEY_COUNTS[0]);
}

function figures(xs: readonly (Figure | undefined)[]): number[] {
  return xs.filter(has);
}

function missingNotes(name: string, xs: readonly (Figure | undefined)[]): string[] {
  return xs.filter((x): x is { missing: string } => x !== undefined && !has(x) && typeof x === 'object').map((x) => `${name}: ${x.missing}`);
}

function printReport(ours: Report | undefined, theirs: Report | undefined): void {
  const goalLatency = 'visible elsewhere ≤ 2× Yjs (and durable on W)';
  console.log('');
  console.log(
    `tabdynamo vs Yjs — ${new Date().toISOString()} — Chromium headless, ${TABS} tabs (each its own browser context), ` +
      `(N,R,W) = (3,2,2), values ${VALUE_BYTES} B, tabdynamo page: ${OURS_PAGE === 'app' ? 'the app' : 'node without UI'}`,
  );
  for (const r of [ours, theirs]) if (r?.error !== undefined) console.log(`${r.name} DID NOT RUN TO THE END: ${r.error.split('\n')[0]}`);
  console.log(`machine: ${os.cpus().length} cores, load average (1 min) ${LOAD_AT_START.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end (other work on a shared machine slows both systems)`);
  console.log(`clock skew between tabs (probe clock − Date.now(), max − min over tabs): tabdynamo ${show(ours?.clockSkewMs, 2, ' ms')}, Yjs ${show(theirs?.clockSkewMs, 2, ' ms')}`);

  // (1) latency
  const seen = (r: Report | undefined, pick: (s: LatencySample) => number | undefined) => (r ? figures(r.latency.map(pick)) : []);
  const oursVisible = seen(ours, (s) => Math.max(s.writeMs, s.seenMs));
  const oursPut = seen(ours, (s) => s.writeMs);
  const oursSeen = seen(ours, (s) => s.seenMs);
  const oursRead = seen(ours, (s) => s.readElsewhereMs);
  const theirsSeen = seen(theirs, (s) => s.seenMs);
  const q = (xs: number[], p: number): Figure => (xs.length > 0 ? quantile(xs, p) : { missing: 'no samples' });
  table(`(1) a write in tab A visible in tab B, ms (${SAMPLES} writes of new ~1 KiB keys, A and B rotating)`, [
    { label: 'p50  tabdynamo: in B and durable on W=2 | Yjs: B observes', ours: q(oursVisible, 0.5), theirs: q(theirsSeen, 0.5), goal: goalLatency },
    { label: 'p99', ours: q(oursVisible, 0.99), theirs: q(theirsSeen, 0.99), goal: goalLatency },
    { label: '  tabdynamo: put resolved in A (W=2 durable acks), p50', ours: q(oursPut, 0.5), ratio: false },
    { label: '  tabdynamo: put resolved in A, p99', ours: q(oursPut, 0.99), ratio: false },
    { label: '  tabdynamo: key-changed in replica B, p50', ours: q(oursSeen, 0.5), theirs: q(theirsSeen, 0.5) },
    { label: '  tabdynamo: key-changed in replica B, p99', ours: q(oursSeen, 0.99), theirs: q(theirsSeen, 0.99) },
    { label: '  tabdynamo: read in C, no replica (put + get R=2), p50', ours: q(oursRead, 0.5), theirs: q(theirsSeen, 0.5) },
    { label: '  tabdynamo: read in C, no replica (put + get R=2), p99', ours: q(oursRead, 0.99), theirs: q(theirsSeen, 0.99) },
  ], [
    'tabdynamo: B is a replica of the key other than A (a tab holding no replica sees a key only by reading it: row "read in C").',
    'Yjs: B is any other tab; when B observes the write it is in memory only (y-indexeddb stores it afterwards, in A and in B).',
  ]);

  // (2) throughput
  const rate = (t: Throughput | undefined): Figure => (t === undefined ? { missing: 'not run' } : has(t.elapsedMs) && t.elapsedMs > 0 ? (t.writes / t.elapsedMs) * 1000 : { missing: t.note ?? 'did not finish' });
  table(`(2) sustained writes/s, ${THROUGHPUT_KEYS} new keys of ~1 KiB from ${WRITER_TABS} of ${TABS} tabs (tabdynamo: ${WRITERS_PER_TAB} puts in flight per tab)`, [
    { label: 'writes/s (tabdynamo: put resolved, W=2 | Yjs: in every tab)', ours: rate(ours?.throughput), theirs: rate(theirs?.throughput), digits: 0 },
    { label: '  Yjs: writes/s issued by the writers (in memory, local)', theirs: theirs?.throughput?.issuedMs ? (THROUGHPUT_KEYS / theirs.throughput.issuedMs) * 1000 : undefined, digits: 0, ratio: false },
    { label: '  failed writes', ours: ours?.throughput?.failed, theirs: theirs?.throughput?.failed, digits: 0, ratio: false },
  ], [ours?.throughput?.note ? `tabdynamo: ${ours.throughput.note}` : '', theirs?.throughput?.note ? `Yjs: ${theirs.throughput.note}` : ''].filter((n) => n !== ''));

  // (3) footprint
  const footprintRows: Parameters<typeof table>[1] = [];
  const footprintNotes: string[] = [];
  for (const target of KEY_COUNTS) {
    const mine = ours?.footprints.find((f) => f.target === target);
    const yours = theirs?.footprints.find((f) => f.target === target);
    const pick = (f: typeof mine, get: (f: Footprint) => number[], how: (xs: number[]) => number, unit = MiB): Figure | undefined => {
      if (f === undefined) return undefined;
      if ('missing' in f) return { missing: f.missing };
      return how(get(f)) / unit;
    };
    const total = (f: Footprint): number[] => f.heapPage.map((p, i) => p + f.heapWorkers[i]!);
    const max = (xs: number[]): number => Math.max(...xs);
    const comparable = mine === undefined || yours === undefined || 'missing' in mine || 'missing' in yours || mine.keys === yours.keys;
    const goal = target === KEY_COUNTS[KEY_COUNTS.length - 1] && target >= 100_000 && TABS === 10 ? `≤ 0.5× Yjs${mine && !('missing' in mine) && mine.keys < target ? ` (at ${mine.keys} here)` : ''}` : '';
    const label = `${target / 1000}k`;
    if (!comparable) footprintNotes.push(`${label}: the two systems reached different key counts, so no ratio is printed.`);
    footprintRows.push(
      { label: `${label}: keys written (reached within the load budget)`, ours: pick(mine, (f) => [f.keys], max, 1), theirs: pick(yours, (f) => [f.keys], max, 1), digits: 0, ratio: false },
      { label: `${label}: JS heap, page + workers, mean per tab (MiB)`, ours: pick(mine, total, mean), theirs: pick(yours, total, mean), goal, ratio: comparable },
      { label: `${label}: JS heap, page + workers, max per tab (MiB)`, ours: pick(mine, total, max), theirs: pick(yours, total, max), ratio: comparable },
      { label: `${label}:   of which workers, mean (MiB)`, ours: pick(mine, (f) => f.heapWorkers, mean), theirs: pick(yours, (f) => f.heapWorkers, mean), ratio: false },
      { label: `${label}: IndexedDB (storage estimate), mean per tab (MiB)`, ours: pick(mine, (f) => f.idbEstimate, mean), theirs: pick(yours, (f) => f.idbEstimate, mean), goal, ratio: comparable },
      { label: `${label}: IndexedDB (storage estimate), max per tab (MiB)`, ours: pick(mine, (f) => f.idbEstimate, max), theirs: pick(yours, (f) => f.idbEstimate, max), ratio: comparable },
      { label: `${label}: IndexedDB records, key + value bytes, mean (MiB)`, ours: pick(mine, (f) => f.recordBytes, mean), theirs: pick(yours, (f) => f.recordBytes, mean), ratio: comparable },
    );
    if (mine !== undefined && !('missing' in mine) && mine.localKeys) {
      footprintNotes.push(`${label}: tabdynamo tabs hold ${Math.min(...mine.localKeys)}–${Math.max(...mine.localKeys)} keys each (N = 3 replicas of ${mine.keys + SAMPLES} keys over ${TABS} tabs ≈ ${Math.round((3 * (mine.keys + SAMPLES)) / TABS)}); a Yjs tab holds every key.`);
    }
    for (const [name, f] of [['tabdynamo', mine], ['Yjs', yours]] as const) {
      if (f === undefined) continue;
      if ('missing' in f) footprintNotes.push(`${name} at ${label}: not measured: ${f.missing}`);
      else if (f.keys < target) footprintNotes.push(`${name} at ${label}: measured at ${f.keys} keys, not ${target}: ${name === 'Yjs' ? 'loaded to the count tabdynamo reached' : `its load budget (PEERS_BENCH_LOAD_BUDGET_S=${LOAD_BUDGET_S}) ran out`}; no figure at ${target} is claimed.`);
    }
  }
  table(`(3) memory and storage per tab, ${TABS} tabs, values of ~1 KiB (plus the ${SAMPLES} latency keys)`, footprintRows, footprintNotes);

  // (4) idle
  const idleRows: Parameters<typeof table>[1] = [];
  for (const [label, pick] of [
    ['empty', (r: Report) => r.idleEmpty],
    [`${keysLabel(ours?.idleLoadedKeys, theirs?.idleLoadedKeys)} keys`, (r: Report) => r.idleLoaded],
  ] as const) {
    const a = ours ? pick(ours) : undefined;
    const b = theirs ? pick(theirs) : undefined;
    const m = (c: IdleCost | undefined, get: (c: IdleCost) => number[] | undefined, how: (xs: number[]) => number): Figure | undefined => {
      const xs = c ? get(c) : undefined;
      return xs && xs.length > 0 ? how(xs) : undefined;
    };
    const max = (xs: number[]): number => Math.max(...xs);
    idleRows.push(
      { label: `${label}: CPU, % of one core per tab (renderer process), mean`, ours: m(a, (c) => c.cpuPercent, mean), theirs: m(b, (c) => c.cpuPercent, mean) },
      { label: `${label}: CPU, % of one core per tab, max`, ours: m(a, (c) => c.cpuPercent, max), theirs: m(b, (c) => c.cpuPercent, max) },
      { label: `${label}:   of which page main-thread tasks, mean`, ours: m(a, (c) => c.mainThreadPercent, mean), theirs: m(b, (c) => c.mainThreadPercent, mean) },
      { label: `${label}: bytes/s sent per tab (WebRTC transport), mean`, ours: m(a, (c) => c.transportBytesPerS, mean), theirs: m(b, (c) => c.transportBytesPerS, mean), digits: 0 },
      { label: `${label}: bytes/s sent per tab (WebRTC transport), max`, ours: m(a, (c) => c.transportBytesPerS, max), theirs: m(b, (c) => c.transportBytesPerS, max), digits: 0 },
      { label: `${label}:   data-channel payload bytes/s, mean`, ours: m(a, (c) => c.dataChannelBytesPerS, mean), theirs: m(b, (c) => c.dataChannelBytesPerS, mean), digits: 0 },
      { label: `${label}:   signaling WebSocket bytes/s, mean`, ours: m(a, (c) => c.webSocketBytesPerS, mean), theirs: m(b, (c) => c.webSocketBytesPerS, mean), digits: 1 },
      { label: `${label}:   tabdynamo's own transport counter bytes/s, mean`, ours: m(a, (c) => c.ownCounterBytesPerS, mean), digits: 0, ratio: false },
    );
  }
  table(`(4) idle cost per tab over ${IDLE_S} s with no writes`, idleRows, [
    'Transport bytes count what left the tab during the window (data-channel payload with SCTP/DTLS framing, SCTP acks and heartbeats, ICE consent checks);',
    'data-channel bytes count what the page handed to send() during the window. Each window starts once the system is quiet (tabdynamo: no partition',
    'moving, no hint held; Yjs: every tab holds every key and no data channel has 64 KiB or more queued — every Yjs tab forwards each update it applies).',
  ]);

  // (5) new tab
  const formation = (r: Report | undefined, pick: (x: Readiness) => Figure): number[] => (r ? figures(r.formation.map(pick)) : []);
  const fq = (xs: number[], how: (xs: number[]) => number): Figure => (xs.length > 0 ? how(xs) : { missing: 'no samples' });
  const oursForm = formation(ours, (x) => x.readyMs);
  const oursFormData = formation(ours, (x) => x.dataMs);
  const theirsForm = formation(theirs, (x) => x.readyMs);
  const maxOf = (xs: number[]): number => Math.max(...xs);
  table(`(5) a new tab ready, ms from its navigation start`, [
    { label: `empty, tabs 2..${TABS} as the cluster forms: median`, ours: fq(oursForm, (xs) => quantile(xs, 0.5)), theirs: fq(theirsForm, (xs) => quantile(xs, 0.5)), digits: 0 },
    { label: `empty: max`, ours: fq(oursForm, maxOf), theirs: fq(theirsForm, maxOf), digits: 0 },
    { label: `empty: tabdynamo with its partitions received, median`, ours: fq(oursFormData, (xs) => quantile(xs, 0.5)), theirs: fq(theirsForm, (xs) => quantile(xs, 0.5)), digits: 0 },
    { label: `${keysLabel(ours?.newTabKeys, theirs?.newTabKeys)} keys: tab ${TABS + 1} ready (Yjs: synced, every key)`, ours: ours?.newTab?.readyMs, theirs: theirs?.newTab?.readyMs, digits: 0 },
    { label: `${keysLabel(ours?.newTabKeys, theirs?.newTabKeys)} keys: tabdynamo with its share received`, ours: ours?.newTab?.dataMs, theirs: theirs?.newTab?.dataMs, digits: 0 },
  ], [
    'tabdynamo ready: node started and it sees every member (it coordinates and serves requests); its share: no partition of it is still pending.',
    'Yjs ready: the provider reported synced (every connected peer answered its state vector) and the map holds every key.',
    ...missingNotes('tabdynamo', [ours?.newTab?.readyMs, ours?.newTab?.dataMs]),
    ...missingNotes('Yjs', [theirs?.newTab?.readyMs]),
  ]);

  const loads = [ours, theirs]
    .filter((r): r is Report => r !== undefined)
    .map((r) => {
      const keys = r.loads.reduce((sum, l) => sum + (l.to - l.from), 0);
      const ms = r.loads.reduce((sum, l) => sum + l.elapsedMs, 0);
      const failed = r.loads.reduce((sum, l) => sum + l.failed, 0);
      return keys > 0 ? `${r.name} ${keys} keys at ${((1000 * keys) / ms).toFixed(0)} keys/s${failed > 0 ? ` (${failed} puts failed)` : ''}` : '';
    })
    .filter((line) => line !== '');
  if (loads.length > 0) console.log(`\nloads (batches: tabdynamo ${LOAD_CONCURRENCY} puts in flight per tab on all tabs; Yjs ${YJS_BATCH_KEYS} keys per transaction): ${loads.join('; ')}`);
  console.log('');
}

// ─── y-webrtc's signaling server ────────────────────────────────────────────────────────────────────

/** Starts y-webrtc's own signaling server (its bin/server.js, which takes PORT) as a child process. */
async function startYjsSignaling(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(REPO, 'node_modules', 'y-webrtc', 'bin', 'server.js')], { cwd: REPO, env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  await waitFor(`y-webrtc's signaling server on port ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.ok === true, 20_000);
  return { child, url: `ws://127.0.0.1:${port}` };
}

async function main(): Promise<void> {
  const { server, origin } = await startApp();
  const signaling = await startYjsSignaling();
  let ours: Report | undefined;
  let theirs: Report | undefined;
  try {
    if (SYSTEMS.includes('tabdynamo')) ours = await measure(() => Tabdynamo.start(origin), 'tabdynamo', true);
    if (SYSTEMS.includes('yjs')) {
      const limits = new Map((ours?.footprints ?? []).filter((f): f is Footprint => 'keys' in f).map((f) => [f.target, f.keys]));
      theirs = await measure(() => Yjs.start(origin, signaling.url), 'Yjs', false, limits);
    }
    printReport(ours, theirs);
    const failed = [ours, theirs].filter((r) => r?.error !== undefined).map((r) => r!.name);
    if (failed.length > 0) throw new Error(`${failed.join(' and ')} did not run to the end (see above)`);
  } finally {
    signaling.child.kill();
    await closeWithin(server.close());
  }
}

runBench(main);
