/**
 * `npm run bench`: real tabs, one run, numbers side by side.
 *
 * Measures, in one headless Chromium against the built app and its real signaling server:
 *   floors  — raw PeerJS data-channel round trip between two tabs (100 B; no handshake, no store), raw
 *             IndexedDB put/get (one strict-durability transaction per put, as the store does);
 *   store   — quorum put and get latency with (N, R, W) = (3, 2, 2) over 5 app tabs, sequential,
 *             issued from every tab in turn (so some requests are coordinated locally, some forwarded);
 *             the write path's stages during the put row (each tab's `putStages()`: the coordinator's
 *             local read-modify-write, quorum wait, the replicas' read-merge-write), so the gap to the
 *             floor is explained;
 *             put throughput with 5 tabs × 8 concurrent writers, next to raw IndexedDB throughput with
 *             as many concurrent writers whose writes are grouped into shared transactions;
 *   auth    — what members-only security (issue 16) costs: two clusters of 5 nodes, one node per
 *             cluster host page (bench/cluster-host.ts: IndexedDB storage, no UI), one with
 *             authentication on and one with it off, formed side by side and timed interleaved (a
 *             batch from an "on" node, then one from an "off" node, and so on), so that both see the
 *             same machine; then the handshake per connection, connection setup on vs off, and
 *             Ed25519 sign/verify in the page for reference.
 * and prints p50/p99 with the ratio of each store figure to its floor:
 *   put floor = data-channel round trip + IndexedDB put  (a replica must receive, store, acknowledge)
 *   get floor = data-channel round trip + IndexedDB get
 * and of each "auth on" figure to its "auth off" twin. The handshake runs once per connection, when
 * it opens (during cluster formation here), so the put/get rows show its steady-state cost, which
 * should be none: the request path carries no signatures.
 * Timing targets live here, never in tests. Absolute numbers are noisy on shared 2-core machines.
 *
 * BENCH_OPERATIONS sets the operations per row (default 300), BENCH_THROUGHPUT_WRITES the writes per
 * tab of the throughput row (default 400); E2E_DIST serves another build folder
 * than dist/ (test/e2e/fixtures.ts).
 */
import { randomBytes } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import type { HostedAuthReport } from './cluster-host.js';
import { toBase32 } from '../src/security/encoding.js';
import { closeWithin, runBench } from './bench-exit.js';
import { launchBrowser, NodeTab, startApp, waitFor } from '../test/e2e/fixtures.js';

const OPERATIONS = Number(process.env.BENCH_OPERATIONS ?? 300);
/** Nodes per cluster (app tabs, and each host-page cluster). */
const NODES = 5;
/** Concurrent writers per tab in the throughput row. */
const WRITERS_PER_TAB = 8;
/** Writes per tab in the throughput row. */
const THROUGHPUT_WRITES_PER_TAB = Number(process.env.BENCH_THROUGHPUT_WRITES ?? 400);
/** Ed25519 signatures (and verifications) timed in the page. */
const SIGNATURE_ITERATIONS = 200;

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

function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
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

/**
 * Every tab writes `perTab` keys with `writers` concurrent writers at once.
 * @returns acknowledged writes/s over all tabs, and the writes that failed (counted, not retried).
 */
async function timeThroughput(tabs: NodeTab[], perTab: number, writers: number): Promise<{ writesPerSecond: number; failed: number }> {
  const started = performance.now();
  const failures = await Promise.all(
    tabs.map((tab, t) =>
      tab.page.evaluate(
        async ([n, concurrency, offset]) => {
          let next = 0;
          let failed = 0;
          const value = { text: 'x'.repeat(60) };
          await Promise.all(
            Array.from({ length: concurrency }, async () => {
              while (next < n) await window.dynamo!.put(`throughput:${offset + next++}`, value).catch(() => failed++);
            }),
          );
          return failed;
        },
        [perTab, writers, t * perTab] as const,
      ),
    ),
  );
  const failed = failures.reduce((sum, n) => sum + n, 0);
  return { writesPerSecond: ((perTab * tabs.length - failed) / (performance.now() - started)) * 1000, failed };
}

/** The write path's stages (`putStages`) of every tab, pooled: count-weighted means of the tabs' figures. */
async function pooledStages(tabs: NodeTab[], reset: boolean): Promise<Map<string, { count: number; meanMs: number; p50Ms: number; p99Ms: number }>> {
  const pooled = new Map<string, { count: number; meanMs: number; p50Ms: number; p99Ms: number }>();
  for (const tab of tabs) {
    const stages = await tab.page.evaluate((r) => window.dynamo!.node.putStages(r), reset);
    for (const [stage, summary] of Object.entries(stages)) {
      if (summary === undefined) continue;
      const sum = pooled.get(stage) ?? { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0 };
      sum.count += summary.count;
      sum.meanMs += summary.meanMs * summary.count;
      sum.p50Ms += summary.p50Ms * summary.count;
      sum.p99Ms += summary.p99Ms * summary.count;
      pooled.set(stage, sum);
    }
  }
  for (const sum of pooled.values()) {
    sum.meanMs /= sum.count;
    sum.p50Ms /= sum.count;
    sum.p99Ms /= sum.count;
  }
  return pooled;
}

/** One node on its own cluster host page. */
interface HostNode {
  page: Page;
  id: string;
}

/** Opens a cluster host page and starts one node of `cluster` on it (IndexedDB storage, as an app tab). */
async function openHostNode(context: BrowserContext, origin: string, cluster: string, authentication: boolean): Promise<HostNode> {
  const page = await context.newPage();
  await page.goto(`${origin}/bench/cluster-host.html`);
  await page.waitForFunction(() => window.clusterHost !== undefined, undefined, { timeout: 30_000 });
  const id = await page.evaluate(([c, auth]) => window.clusterHost!.startNode(c, { storage: 'indexeddb', authentication: auth }), [cluster, authentication] as const);
  return { page, id };
}

/** Waits until every node of `nodes` sees all of them as members. */
async function waitFormed(nodes: HostNode[], what: string): Promise<void> {
  await waitFor(
    `${what} to form (${nodes.length} members seen by every node)`,
    async () => (await Promise.all(nodes.map((n) => n.page.evaluate(() => window.clusterHost!.membersSeen()[0])))).every((seen) => seen === nodes.length),
    60_000,
  );
}

/**
 * Times `count` sequential operations of `kind` on the nodes of each cluster: node t of every cluster
 * in turn (which cluster goes first alternates with t), each issuing its share; the samples per cluster.
 */
async function timeInterleaved(clusters: HostNode[][], kind: 'put' | 'get', count: number): Promise<Summary[]> {
  const samples: number[][] = clusters.map(() => []);
  const perNode = Math.ceil(count / NODES);
  for (let t = 0; t < NODES; t++) {
    const order = clusters.map((_, c) => c);
    if (t % 2 === 1) order.reverse();
    for (const c of order) {
      const node = clusters[c]![t]!;
      const batch = await node.page.evaluate(([id, op, from, n]) => window.clusterHost!.timeOperations(id, op, 'bench:', from, n), [node.id, kind, t * perNode, perNode] as const);
      samples[c]!.push(...batch);
    }
  }
  return samples.map(percentiles);
}

async function authReports(nodes: HostNode[]): Promise<HostedAuthReport[]> {
  return (await Promise.all(nodes.map((n) => n.page.evaluate(() => window.clusterHost!.authReport())))).flat();
}

async function floorPage(page: Page): Promise<void> {
  await page.waitForFunction(() => window.floor !== undefined, undefined, { timeout: 30_000 });
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '—').padStart(8);

function row(name: string, s: Summary, floor?: { p50: number; p99: number }, floorName = ''): string {
  const ratio = floor ? `${(s.p50 / floor.p50).toFixed(2).padStart(6)}× ${(s.p99 / floor.p99).toFixed(2).padStart(6)}×  vs ${floorName}` : '';
  return `${name.padEnd(40)} ${fmt(s.p50)} ${fmt(s.p99)} ${String(s.n).padStart(6)}   ${ratio}`;
}

/** A line of the handshake section: p50, p95, max and a note. */
function costRow(name: string, p50: number, p95: number, max: number, note: string): string {
  return `${name.padEnd(40)} ${fmt(p50)} ${fmt(p95)} ${fmt(max)}   ${note}`;
}

/** Connection setup over a cluster's nodes: the median of their p50s, the largest p95 and max. */
function setupSummary(reports: HostedAuthReport[]): { p50: number; p95: number; max: number; opened: number; perNode: string } {
  return {
    p50: quantile(reports.map((r) => r.setupMs.p50), 0.5),
    p95: Math.max(...reports.map((r) => r.setupMs.p95)),
    max: Math.max(...reports.map((r) => r.setupMs.max)),
    opened: reports.reduce((sum, r) => sum + r.connectionsOpened, 0),
    perNode: reports.map((r) => r.setupMs.p50.toFixed(0)).join(' '),
  };
}

async function main(): Promise<void> {
  const { server, origin } = await startApp();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    // Floors first, on a quiet browser. Both floor peers register under one signaling tag of their own.
    const tag = toBase32(randomBytes(10));
    const echo = await context.newPage();
    await echo.goto(`${origin}/bench/index.html`);
    await floorPage(echo);
    const driver = await context.newPage();
    await driver.goto(`${origin}/bench/index.html`);
    await floorPage(driver);
    const echoId = await echo.evaluate((t) => window.floor!.echo(t), tag);
    const rtt = await driver.evaluate(([t, to, n]) => window.floor!.roundTrips(t, to, n, 100), [tag, echoId, OPERATIONS] as const);
    const idb = await driver.evaluate((n) => window.floor!.indexedDb(n, 100), OPERATIONS);
    const idbBatched = await driver.evaluate(([total, writers]) => window.floor!.indexedDbThroughput(total, writers, 100), [NODES * THROUGHPUT_WRITES_PER_TAB, NODES * WRITERS_PER_TAB] as const);
    await echo.close();
    await driver.close();

    // The store: five app tabs (closed afterwards, so that they do not load the machine meanwhile).
    const url = `${origin}/?cluster=bench${Date.now().toString(36)}`;
    const tabs: NodeTab[] = [];
    for (let i = 0; i < NODES; i++) tabs.push(await NodeTab.open(context, url));
    await Promise.all(tabs.map((tab) => tab.waitMembers(NODES)));
    await pooledStages(tabs, true);
    const put = await timeOperations(tabs, 'put', OPERATIONS);
    const stages = await pooledStages(tabs, true);
    const get = await timeOperations(tabs, 'get', OPERATIONS);
    const throughput = await timeThroughput(tabs, THROUGHPUT_WRITES_PER_TAB, WRITERS_PER_TAB);
    for (const tab of tabs) await tab.page.close();

    // Authentication on vs off: two clusters of host pages, opened alternately so both form alike.
    const stamp = Date.now().toString(36);
    const on: HostNode[] = [];
    const off: HostNode[] = [];
    for (let i = 0; i < NODES; i++) {
      on.push(await openHostNode(context, origin, `bench-on-${stamp}`, true));
      off.push(await openHostNode(context, origin, `bench-off-${stamp}`, false));
    }
    await waitFormed(on, 'the authentication-on cluster');
    await waitFormed(off, 'the authentication-off cluster');
    const [putOn, putOff] = await timeInterleaved([on, off], 'put', OPERATIONS);
    const [getOn, getOff] = await timeInterleaved([on, off], 'get', OPERATIONS);
    const reportsOn = await authReports(on);
    const reportsOff = await authReports(off);
    const signatures = await on[0]!.page.evaluate((n) => window.clusterHost!.signatureCost(n), SIGNATURE_ITERATIONS);

    const putFloor = { p50: rtt.p50 + idb.put.p50, p99: rtt.p99 + idb.put.p99 };
    const getFloor = { p50: rtt.p50 + idb.get.p50, p99: rtt.p99 + idb.get.p99 };
    console.log('');
    console.log(`tabdynamo bench — ${new Date().toISOString()} — Chromium headless, ${NODES} nodes per cluster, (N,R,W) = (3,2,2), ${OPERATIONS} operations each`);
    console.log(`${'measurement (ms)'.padEnd(40)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'n'.padStart(6)}   ratio p50 / p99`);
    console.log('-'.repeat(110));
    console.log(row('floor: data-channel round trip (100 B)', rtt));
    console.log(row('floor: IndexedDB put (strict, 1 per tx)', idb.put));
    console.log(row('floor: IndexedDB get', idb.get));
    console.log(row('floor: put = round trip + IDB put', { ...putFloor, n: rtt.n }));
    console.log(row('floor: get = round trip + IDB get', { ...getFloor, n: rtt.n }));
    console.log(row('store: quorum put (app tabs)', put, putFloor, 'round trip + IDB put'));
    console.log(row('store: quorum get (app tabs)', get, getFloor, 'round trip + IDB get'));
    console.log(
      `${'store: put throughput (writes/s)'.padEnd(40)} ${throughput.writesPerSecond.toFixed(0).padStart(8)} ${''.padStart(8)} ${String(NODES * THROUGHPUT_WRITES_PER_TAB).padStart(6)}   ` +
        `${(throughput.writesPerSecond / idbBatched.writesPerSecond).toFixed(2)}× batched raw IndexedDB (${idbBatched.writesPerSecond.toFixed(0)} writes/s, ${idbBatched.transactions} transactions); ${NODES} tabs × ${WRITERS_PER_TAB} writers; ${throughput.failed} failed`,
    );
    console.log(row('put, auth on (host pages)', putOn!, putOff, 'auth off'));
    console.log(row('put, auth off (host pages)', putOff!, putFloor, 'round trip + IDB put'));
    console.log(row('get, auth on (host pages)', getOn!, getOff, 'auth off'));
    console.log(row('get, auth off (host pages)', getOff!, getFloor, 'round trip + IDB get'));
    console.log('');
    console.log(`${'write path stages, quorum put row (ms)'.padEnd(40)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'n'.padStart(6)}   mean   (count-weighted over the tabs)`);
    console.log('-'.repeat(110));
    for (const stage of ['put', 'localWrite', 'quorumWait', 'replicaWrite']) {
      const s = stages.get(stage);
      if (s !== undefined) console.log(`${`  ${stage}`.padEnd(40)} ${s.p50Ms.toFixed(2).padStart(8)} ${s.p99Ms.toFixed(2).padStart(8)} ${String(s.count).padStart(6)}   ${s.meanMs.toFixed(2)}`);
    }
    console.log(`  (localWrite and replicaWrite: read, merge and durable write in one transaction; quorumWait − replicaWrite ≈ network, encoding, validation and scheduling both ways; put − max(localWrite, quorumWait) ≈ locks and reading hints)`);
    console.log('');

    const handshakeP50s = reportsOn.map((r) => r.security.handshakeMs.p50);
    const accepted = reportsOn.reduce((sum, r) => sum + r.security.handshakesAccepted, 0);
    const refused = reportsOn.reduce((sum, r) => sum + r.security.handshakesRefused, 0);
    const reasons: Record<string, number> = {};
    for (const r of reportsOn) for (const [reason, n] of Object.entries(r.security.refusedByReason)) reasons[reason] = (reasons[reason] ?? 0) + (n ?? 0);
    const offHandshakes = reportsOff.reduce((sum, r) => sum + r.security.handshakesAccepted + r.security.handshakesRefused, 0);
    const setupOn = setupSummary(reportsOn);
    const setupOff = setupSummary(reportsOff);
    const signMeanMs = signatures.signTotalMs / SIGNATURE_ITERATIONS;
    const verifyMeanMs = signatures.verifyTotalMs / SIGNATURE_ITERATIONS;
    console.log(`${'handshake and connection setup (ms)'.padEnd(40)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)}`);
    console.log('-'.repeat(110));
    console.log(
      costRow(
        'handshake per connection, auth on',
        quantile(handshakeP50s, 0.5),
        NaN,
        Math.max(...reportsOn.map((r) => r.security.handshakeMs.max)),
        `p50: median of the ${reportsOn.length} nodes' p50s (${handshakeP50s.map((ms) => ms.toFixed(0)).join(' ')}); accepted ${accepted}, refused ${refused}${refused > 0 ? ` ${JSON.stringify(reasons)}` : ''}`,
      ),
    );
    console.log(costRow('connection setup, auth on', setupOn.p50, setupOn.p95, setupOn.max, `${setupOn.opened} opened; node p50s ${setupOn.perNode}; p95/max: largest node's`));
    console.log(costRow('connection setup, auth off', setupOff.p50, setupOff.p95, setupOff.max, `${setupOff.opened} opened; node p50s ${setupOff.perNode}; handshakes ${offHandshakes}`));
    console.log(`${'  setup ratio on / off (p50, p95)'.padEnd(40)} ${`${(setupOn.p50 / setupOff.p50).toFixed(2)}×`.padStart(8)} ${`${(setupOn.p95 / setupOff.p95).toFixed(2)}×`.padStart(8)}`);
    console.log(costRow(`Ed25519 sign (WebCrypto, ×${SIGNATURE_ITERATIONS})`, quantile(signatures.signMs, 0.5), quantile(signatures.signMs, 0.95), Math.max(...signatures.signMs), `mean ${signMeanMs.toFixed(3)} ms (performance.now() is coarsened to 0.1 ms)`));
    console.log(costRow(`Ed25519 verify (WebCrypto, ×${SIGNATURE_ITERATIONS})`, quantile(signatures.verifyMs, 0.5), quantile(signatures.verifyMs, 0.95), Math.max(...signatures.verifyMs), `mean ${verifyMeanMs.toFixed(3)} ms`));
    console.log('');
  } finally {
    await closeWithin(browser.close());
    await closeWithin(server.close());
  }
}

runBench(main);
