/**
 * `npm run bench`: real tabs, one run, numbers side by side.
 *
 * Measures, in one headless Chromium against the built app and its real signaling server:
 *   floors  — raw PeerJS data-channel round trip between two tabs (100 B), raw IndexedDB put/get
 *             (one strict-durability transaction per put, as the store does);
 *   store   — quorum put and get latency with (N, R, W) = (3, 2, 2) over 5 node tabs, sequential,
 *             issued from every tab in turn (so some requests are coordinated locally, some forwarded).
 * and prints p50/p99 with the ratio of each store figure to its floor:
 *   put floor = data-channel round trip + IndexedDB put  (a replica must receive, store, acknowledge)
 *   get floor = data-channel round trip + IndexedDB get
 * Timing targets live here, never in tests. Absolute numbers are noisy on shared 2-core machines.
 */
import type { Page } from 'playwright-core';
import { launchBrowser, NodeTab, startApp } from '../test/e2e/fixtures.js';

const OPERATIONS = Number(process.env.BENCH_OPERATIONS ?? 300);

interface Summary {
  p50: number;
  p99: number;
  n: number;
}

function percentiles(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), n: sorted.length };
}

async function timeOperations(tabs: NodeTab[], kind: 'put' | 'get', count: number): Promise<Summary> {
  const samples: number[] = [];
  const perTab = Math.ceil(count / tabs.length);
  for (const [t, tab] of tabs.entries()) {
    const batch = await tab.page.evaluate(
      async ([op, n, offset]) => {
        const times: number[] = [];
        const value = { text: 'x'.repeat(60), n: 0 };
        for (let i = 0; i < n; i++) {
          const key = `bench:${offset + i}`;
          const started = performance.now();
          if (op === 'put') await window.dynamo!.put(key, { ...value, n: i });
          else await window.dynamo!.get(key);
          times.push(performance.now() - started);
        }
        return times;
      },
      [kind, perTab, t * perTab] as const,
    );
    samples.push(...batch);
  }
  return percentiles(samples);
}

async function floorPage(page: Page): Promise<void> {
  await page.waitForFunction(() => window.floor !== undefined, undefined, { timeout: 30_000 });
}

function row(name: string, s: Summary, floor?: { p50: number; p99: number }, floorName = ''): string {
  const fmt = (x: number): string => x.toFixed(2).padStart(8);
  const ratio = floor ? `${(s.p50 / floor.p50).toFixed(2).padStart(6)}× ${(s.p99 / floor.p99).toFixed(2).padStart(6)}×  vs ${floorName}` : '';
  return `${name.padEnd(40)} ${fmt(s.p50)} ${fmt(s.p99)} ${String(s.n).padStart(6)}   ${ratio}`;
}

async function main(): Promise<void> {
  const { server, origin } = await startApp();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    // Floors first, on a quiet browser.
    const echo = await context.newPage();
    await echo.goto(`${origin}/bench/index.html`);
    await floorPage(echo);
    const driver = await context.newPage();
    await driver.goto(`${origin}/bench/index.html`);
    await floorPage(driver);
    const echoId = `benchecho${Date.now().toString(36)}`;
    await echo.evaluate((id) => window.floor!.echo(id), echoId);
    const rtt = await driver.evaluate(([to, n]) => window.floor!.roundTrips(`benchdriver${Date.now().toString(36)}`, to, n, 100), [echoId, OPERATIONS] as const);
    const idb = await driver.evaluate((n) => window.floor!.indexedDb(n, 100), OPERATIONS);
    await echo.close();
    await driver.close();

    // The store: five node tabs.
    const url = `${origin}/?cluster=bench${Date.now().toString(36)}`;
    const tabs: NodeTab[] = [];
    for (let i = 0; i < 5; i++) tabs.push(await NodeTab.open(context, url));
    await Promise.all(tabs.map((tab) => tab.waitMembers(5)));
    const put = await timeOperations(tabs, 'put', OPERATIONS);
    const get = await timeOperations(tabs, 'get', OPERATIONS);

    const putFloor = { p50: rtt.p50 + idb.put.p50, p99: rtt.p99 + idb.put.p99 };
    const getFloor = { p50: rtt.p50 + idb.get.p50, p99: rtt.p99 + idb.get.p99 };
    console.log('');
    console.log(`tabdynamo bench — ${new Date().toISOString()} — Chromium headless, 5 tabs, (N,R,W) = (3,2,2), ${OPERATIONS} operations each`);
    console.log(`${'measurement (ms)'.padEnd(40)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'n'.padStart(6)}   ratio p50 / p99 to the floor`);
    console.log('-'.repeat(110));
    console.log(row('floor: data-channel round trip (100 B)', rtt));
    console.log(row('floor: IndexedDB put (strict, 1 per tx)', idb.put));
    console.log(row('floor: IndexedDB get', idb.get));
    console.log(row('floor: put = round trip + IDB put', { ...putFloor, n: rtt.n }));
    console.log(row('floor: get = round trip + IDB get', { ...getFloor, n: rtt.n }));
    console.log(row('store: quorum put (W=2 of N=3)', put, putFloor, 'round trip + IDB put'));
    console.log(row('store: quorum get (R=2 of N=3)', get, getFloor, 'round trip + IDB get'));
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
