/**
 * `npm run bench:explorer`: is the ring explorer fluid with 30 nodes and 100k keys?
 *
 * The observed node is a normal app tab (IndexedDB, Merkle worker, the explorer page). The other
 * EXPLORER_BENCH_NODES − 1 nodes (default 29) are real nodes too — each its own PeerJS peer on the real
 * signaling server, talking over WebRTC — but they run in EXPLORER_BENCH_HOSTS host tabs
 * (bench/cluster-host.html, default 2) with memory storage: 30 app tabs saturate a 2-core machine before
 * the cluster even forms (tried: load average ~50, pages timing out). The explorer's view is the same
 * either way; it only sees members, gossip and events.
 *
 * In the observed tab it records main-thread long tasks (PerformanceObserver 'longtask', every task over
 * 50 ms) and the duration of each explorer redraw, in three phases:
 *   1. load   — EXPLORER_BENCH_KEYS keys (default 100,000) written through the hosted nodes; the
 *               observed node stores its replicas and its page logs and redraws throughout;
 *   2. drive  — partitions selected with the keyboard and the number field, keys typed into the lookup;
 *   3. change — a node joins, one leaves, one changes its capacity, until every handoff is over.
 * It prints them against the 50 ms floor and saves screenshots (test-results/explorer-30-nodes*.png).
 */
import { mkdirSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { ClusterHost, LoadResult } from './cluster-host.js';
import { launchBrowser, NodeTab, startApp, waitFor } from '../test/e2e/fixtures.js';

const NODES = Number(process.env.EXPLORER_BENCH_NODES ?? 30);
const KEYS = Number(process.env.EXPLORER_BENCH_KEYS ?? 100_000);
const HOSTS = Number(process.env.EXPLORER_BENCH_HOSTS ?? 2);
/** Connections each hosted node keeps at most (a page may hold 500 RTCPeerConnections; 15 × 29 fit). */
const HOSTED_MAX_CONNECTIONS = Number(process.env.EXPLORER_BENCH_MAX_CONNECTIONS ?? 30);
/** How long the change phase watches the cluster move data, at most, s. */
const CHANGE_WINDOW_S = Number(process.env.EXPLORER_BENCH_CHANGE_S ?? 120);
const VALUE_BYTES = 100;
const LONG_TASK_FLOOR_MS = 50;
/** EXPLORER_BENCH_PROFILE=load|change: CPU-profile the observed tab in that phase and print where its time went. */
const PROFILE = process.env.EXPLORER_BENCH_PROFILE;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The functions that took most of the profiled thread's time (self time), as printable lines. */
function topSelfTime(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, count: number): string[] {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = byNode.get(id)!.callFrame;
    const where = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop() ?? ''}:${frame.lineNumber + 1}`;
    const us = profile.timeDeltas[i] ?? 0;
    totalUs += us;
    selfUs.set(where, (selfUs.get(where) ?? 0) + us);
  });
  return [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([where, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${where}`);
}

declare global {
  interface Window {
    clusterHost?: ClusterHost;
    benchLongTasks?: { atMs: number; ms: number }[];
    benchProbes?: { atMs: number; ms: number }[];
  }
}

interface PhaseFigures {
  name: string;
  seconds: number;
  longTasks: number[];
  /** Long tasks during which a redraw ran. */
  longTasksWithRedraw: number;
  renderMs: number[];
  renders: number;
  /** Slowest task of each part of a redraw (header, ring, partition, key, members, activity), ms. */
  slowest: Record<string, number>;
  /** Wall time of the fixed control task (≈1 ms of work when the tab gets a core), ms. */
  probes: number[];
}

const log = (text: string): void => void process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);

async function marks(page: Page): Promise<{ tasks: number; renders: number; atMs: number }> {
  return page.evaluate(() => ({ tasks: window.benchLongTasks!.length, renders: window.explorerRenders!.count, atMs: performance.now() }));
}

/** Runs `body` as one measured phase of the observed page. */
async function phase(page: Page, name: string, body: () => Promise<void>): Promise<PhaseFigures> {
  const before = await marks(page);
  const startedMs = Date.now();
  await body();
  const seconds = (Date.now() - startedMs) / 1000;
  const after = await page.evaluate(
    ([tasksFrom, rendersFrom, fromMs]) => {
      const renders = window.explorerRenders!;
      const slices = renders.recent.filter((r) => r.atMs >= fromMs);
      const tasks = window.benchLongTasks!.slice(tasksFrom);
      const withRedraw = tasks.filter((t) => slices.some((r) => r.atMs >= t.atMs && r.atMs < t.atMs + t.ms)).length;
      const probes = window.benchProbes!.filter((p) => p.atMs >= fromMs).map((p) => p.ms);
      const slowest: Record<string, number> = {};
      for (const r of slices) slowest[r.what] = Math.max(slowest[r.what] ?? 0, r.ms);
      return { longTasks: tasks.map((t) => t.ms), longTasksWithRedraw: withRedraw, renderMs: slices.map((r) => r.ms), renders: renders.count - rendersFrom, slowest, probes };
    },
    [before.tasks, before.renders, before.atMs] as const,
  );
  log(`${name}: ${seconds.toFixed(1)} s, ${after.longTasks.length} long tasks (${after.longTasksWithRedraw} with a redraw in them; longest ${Math.max(0, ...after.longTasks).toFixed(0)} ms), ${after.renders} redraws; slowest task per part: ${Object.entries(after.slowest).map(([what, ms]) => `${what} ${ms.toFixed(1)} ms`).join(', ')}`);
  return { name, seconds, ...after };
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  mkdirSync('test-results', { recursive: true });
  const { server, origin } = await startApp();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const cluster = `explorerbench${Date.now().toString(36)}`;
    const url = `${origin}/?cluster=${cluster}&adopt=off`;
    const startedMs = Date.now();
    const observed = await NodeTab.open(context, url, undefined, 60_000);
    const observedId = await observed.id();
    await observed.page.evaluate(() => {
      window.benchLongTasks = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.benchLongTasks!.push({ atMs: entry.startTime, ms: entry.duration });
      }).observe({ type: 'longtask' });
      // The control: a fixed piece of work (about 1 ms on an idle core) timed every 200 ms. When it takes
      // tens of ms, the tab is starved of CPU, whatever the explorer does.
      window.benchProbes = [];
      setInterval(() => {
        const startedMs = performance.now();
        let sum = 0;
        for (let i = 0; i < 300_000; i++) sum += i % 7;
        if (sum < 0) console.log(sum);
        window.benchProbes!.push({ atMs: startedMs, ms: performance.now() - startedMs });
      }, 200);
    });
    // The hosted nodes, spread over the host tabs.
    const hosts: Page[] = [];
    const hosted = NODES - 1;
    for (let h = 0; h < HOSTS; h++) {
      const page = await context.newPage();
      await page.goto(`${origin}/bench/cluster-host.html`);
      await page.waitForFunction(() => window.clusterHost !== undefined);
      const count = Math.floor(hosted / HOSTS) + (h < hosted % HOSTS ? 1 : 0);
      await page.evaluate(([c, n, max]) => window.clusterHost!.start(c, n, max), [cluster, count, HOSTED_MAX_CONNECTIONS] as const);
      hosts.push(page);
      log(`host tab ${h + 1}: ${count} nodes started`);
    }
    await observed.page.bringToFront();
    await waitFor(
      `every node seeing ${NODES} members`,
      async () => {
        const seen = [await observed.page.evaluate(() => window.dynamo!.members().length), ...(await Promise.all(hosts.map((p) => p.evaluate(() => window.clusterHost!.membersSeen())))).flat()];
        return seen.every((n) => n === NODES);
      },
      300_000,
    );
    const formedMs = Date.now() - startedMs;
    log(`cluster formed: every node sees ${NODES} members after ${(formedMs / 1000).toFixed(1)} s`);
    await observed.screenshot('explorer-30-nodes-formed');

    const phases: PhaseFigures[] = [];
    let loads: LoadResult[] = [];
    const cdp = PROFILE ? await context.newCDPSession(observed.page) : undefined;
    const startProfile = async (): Promise<void> => {
      if (!cdp) return;
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 1000 });
      await cdp.send('Profiler.start');
    };
    const printProfile = async (what: string): Promise<void> => {
      if (!cdp) return;
      const { profile } = (await cdp.send('Profiler.stop')) as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
      console.log(`observed tab ${what}, self time by function:`);
      for (const line of topSelfTime(profile, 30)) console.log(line);
    };
    if (PROFILE === 'load') await startProfile();
    phases.push(
      await phase(observed.page, `load ${KEYS.toLocaleString('en')} keys`, async () => {
        const share = Math.ceil(KEYS / hosts.length);
        loads = await Promise.all(
          hosts.map((page, h) => page.evaluate(([from, count, bytes]) => window.clusterHost!.load('bench:', from, count, 48, bytes), [h * share, Math.min(share, KEYS - h * share), VALUE_BYTES] as const)),
        );
      }),
    );
    if (PROFILE === 'load') await printProfile('while keys loaded');
    const written = loads.reduce((sum, l) => sum + l.written, 0);
    const failed = loads.reduce((sum, l) => sum + l.failed, 0);
    const loadMs = Math.max(...loads.map((l) => l.elapsedMs));
    log(`written ${written}, failed ${failed} in ${(loadMs / 1000).toFixed(1)} s${failed > 0 ? `: ${loads.flatMap((l) => l.errors).join('; ')}` : ''}`);
    const observedKeys = await observed.page.evaluate(() => window.dynamo!.localKeys().then((k) => k.length));

    phases.push(
      await phase(observed.page, 'drive the explorer', async () => {
        await observed.page.locator('#ring').focus();
        for (let i = 0; i < 40; i++) await observed.page.keyboard.press('ArrowRight');
        for (let i = 0; i < 8; i++) await observed.page.keyboard.press('Shift+ArrowRight');
        await observed.page.keyboard.press('End');
        await observed.page.keyboard.press('Home');
        for (const p of ['17', '100', '255']) await observed.page.getByLabel('Partition', { exact: true }).fill(p);
        for (const key of ['cart:alice', 'cart:bob', 'notes:1', 'bench:42', 'bench:99999']) {
          await observed.page.getByLabel('Key', { exact: true }).fill(key);
          await observed.page.waitForTimeout(100);
        }
      }),
    );

    if (PROFILE === 'change') await startProfile();
    let joinedSeenMs = 0;
    let left = false;
    let settle = { pending: 0, handoffs: 0 };
    let settledS: number | undefined;
    phases.push(
      await phase(observed.page, 'join + leave + capacity', async () => {
        // A new tab joins with one node.
        const joinStartedMs = Date.now();
        const joinerTab = await context.newPage();
        await joinerTab.goto(`${origin}/bench/cluster-host.html`);
        await joinerTab.waitForFunction(() => window.clusterHost !== undefined);
        const [joiner] = await joinerTab.evaluate(([c, max]) => window.clusterHost!.start(c, 1, max), [cluster, HOSTED_MAX_CONNECTIONS] as const);
        log(`  ${joiner} started in a new tab`);
        await waitFor('the joiner in the observed table', async () => (await observed.page.locator(`#members tr[data-node="${joiner}"]`).count()) === 1, 60_000);
        joinedSeenMs = Date.now() - joinStartedMs;
        const ids = await hosts[1]!.evaluate(() => window.clusterHost!.ids());
        const leaver = ids[0]!;
        const leaving = hosts[1]!.evaluate((id) => window.clusterHost!.leave(id), leaver).then(() => 'left');
        await hosts[1]!.evaluate((id) => window.clusterHost!.setCapacity(id, 2), ids[1]!);
        // Watch until the leaver has left and every handoff is over (as the observed node sees it), or
        // for CHANGE_WINDOW_S at most: the explorer redraws throughout, which is what is measured.
        const until = Date.now() + CHANGE_WINDOW_S * 1000;
        leaving.then(
          () => (left = true),
          (error: unknown) => log(`  leave failed: ${String(error)}`),
        );
        for (;;) {
          settle = await observed.page.evaluate(() => {
            const members = window.dynamo!.members();
            return { pending: members.reduce((n, m) => n + m.pending.length, 0), handoffs: members.reduce((n, m) => n + m.handoffs.length, 0) };
          });
          if (left && settle.pending === 0 && settle.handoffs === 0) break;
          if (Date.now() > until) break;
          log(`  leaver left: ${left}; partitions being received ${settle.pending}, handed off ${settle.handoffs}`);
          await new Promise((resolve) => setTimeout(resolve, 10_000));
        }
        settledS = left && settle.pending === 0 && settle.handoffs === 0 ? (Date.now() - joinStartedMs) / 1000 : undefined;
      }),
    );
    if (PROFILE === 'change') await printProfile('while the membership changed');
    await observed.page.getByLabel('Partition', { exact: true }).fill('40');
    await observed.page.getByLabel('Key', { exact: true }).fill('cart:alice');
    await observed.page.waitForTimeout(1000);
    await observed.screenshot('explorer-30-nodes');
    const members = await observed.page.evaluate(() => window.dynamo!.members().filter((m) => m.status === 'up').length);

    console.log('');
    console.log(`tabdynamo explorer bench — ${new Date().toISOString()} — ${NODES} nodes (1 app tab observed + ${NODES - 1} in ${HOSTS} host tabs), ${KEYS.toLocaleString('en')} keys of ~${VALUE_BYTES} B, headless Chromium, this machine`);
    console.log(`observed node ${observedId}: cluster formed in ${(formedMs / 1000).toFixed(1)} s; ${written.toLocaleString('en')} keys written (${failed} failed) in ${(loadMs / 1000).toFixed(1)} s (${Math.round(written / (loadMs / 1000))}/s); it stores ${observedKeys.toLocaleString('en')}; joiner in the observed table ${joinedSeenMs} ms after its tab was opened; ${members} members up at the end`);
    console.log(
      settledS !== undefined
        ? `membership changes settled (leaver left, no partition being received or handed off) ${settledS.toFixed(1)} s after the join`
        : `membership changes not settled after the ${CHANGE_WINDOW_S} s window: leaver left ${left}, partitions still being received ${settle.pending}, handed off ${settle.handoffs}`,
    );
    console.log(`${'phase'.padEnd(26)} ${'time'.padStart(8)} ${'redraws'.padStart(8)} ${'task p50'.padStart(11)} ${'p95'.padStart(8)} ${'max'.padStart(8)} ${'long tasks'.padStart(11)} ${'with redraw'.padStart(12)} ${'longest'.padStart(9)} ${'floor'.padStart(7)} ${'control p50/p95/max'.padStart(22)}`);
    console.log('-'.repeat(140));
    for (const p of phases) {
      const longest = p.longTasks.length === 0 ? 0 : Math.max(...p.longTasks);
      console.log(
        `${p.name.padEnd(26)} ${`${p.seconds.toFixed(1)} s`.padStart(8)} ${String(p.renders).padStart(8)} ${`${quantile(p.renderMs, 0.5).toFixed(1)} ms`.padStart(11)} ${`${quantile(p.renderMs, 0.95).toFixed(1)} ms`.padStart(8)} ${`${Math.max(0, ...p.renderMs).toFixed(1)} ms`.padStart(8)} ${String(p.longTasks.length).padStart(11)} ${String(p.longTasksWithRedraw).padStart(12)} ${`${longest.toFixed(0)} ms`.padStart(9)} ${`${LONG_TASK_FLOOR_MS} ms`.padStart(7)} ${`${quantile(p.probes, 0.5).toFixed(1)}/${quantile(p.probes, 0.95).toFixed(1)}/${Math.max(0, ...p.probes).toFixed(0)} ms`.padStart(22)}`,
      );
    }
    console.log('(task p50/p95/max: the tasks a redraw ran as — the header, then the panels, yielding after 8 ms; long tasks: main-thread tasks over 50 ms in the observed tab, whatever ran in them, the explorer or the node itself; "with redraw": a redraw task started inside; control: a fixed ≈1 ms task timed every 200 ms in the same tab — when it stretches, the tab is starved of CPU)');
    console.log('');
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
