/**
 * `npm run bench:explorer`: is the ring explorer fluid with many nodes? Opens EXPLORER_BENCH_NODES
 * node tabs (default 30) in one headless Chromium, writes EXPLORER_BENCH_KEYS keys (default 120),
 * then, in the observed tab, records main-thread long tasks (PerformanceObserver 'longtask', every task
 * over 50 ms) while the explorer is driven and the cluster changes: partitions selected with the
 * keyboard, keys typed into the lookup, a node joins, a node leaves, a capacity change. Prints the
 * long tasks against the 50 ms floor and saves a screenshot (test-results/explorer-30-nodes.png).
 *
 * The explorer's work does not grow with the number of keys: key counts come per partition from the
 * node's Merkle worker, and members' counts arrive as numbers by gossip; what grows is members × Q.
 */
import { launchBrowser, NodeTab, startApp, waitFor } from '../test/e2e/fixtures.js';

const NODES = Number(process.env.EXPLORER_BENCH_NODES ?? 30);
const KEYS = Number(process.env.EXPLORER_BENCH_KEYS ?? 120);

async function main(): Promise<void> {
  const { server, origin } = await startApp();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const url = `${origin}/?cluster=explorerbench${Date.now().toString(36)}&adopt=off`;
    const tabs: NodeTab[] = [];
    const openedAt = Date.now();
    for (let i = 0; i < NODES; i++) {
      tabs.push(await NodeTab.open(context, url, undefined, 180_000));
      process.stdout.write(`\r${i + 1} of ${NODES} tabs started (${((Date.now() - openedAt) / 1000).toFixed(0)} s)`);
    }
    const observed = tabs[0]!;
    // How many tabs see every member, polled for up to 3 minutes (the machine may be saturated).
    let seeingAll = 0;
    for (let round = 0; round < 18; round++) {
      const counts = await Promise.all(tabs.map((t) => t.page.evaluate(() => window.dynamo!.members().length)));
      seeingAll = counts.filter((n) => n === NODES).length;
      process.stdout.write(`\n${seeingAll} of ${NODES} tabs see all ${NODES} members (${((Date.now() - openedAt) / 1000).toFixed(0)} s)`);
      if (seeingAll === NODES) break;
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
    const formedMs = Date.now() - openedAt;
    await observed.page.bringToFront();
    await observed.screenshot('explorer-30-nodes-formed');
    process.stdout.write('\nscreenshot taken; writing keys\n');
    // Keys, written from a few tabs at once.
    const writers = tabs.slice(0, 6);
    await Promise.all(
      writers.map((tab, w) =>
        tab.page.evaluate(
          async ([from, count]) => {
            for (let i = 0; i < count; i += 16) {
              const batch = [];
              for (let j = i; j < Math.min(count, i + 16); j++) batch.push(window.dynamo!.put(`bench:${from + j}`, { n: from + j }).catch(() => undefined));
              await Promise.all(batch);
            }
          },
          [w * Math.ceil(KEYS / writers.length), Math.ceil(KEYS / writers.length)] as const,
        ),
      ),
    );
    process.stdout.write('keys written; observing\n');
    await observed.page.evaluate(() => {
      const w = window as unknown as { longTasks: number[] };
      w.longTasks = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) w.longTasks.push(entry.duration);
      }).observe({ type: 'longtask' });
    });
    const windowStarted = Date.now();
    // Drive the explorer.
    await observed.page.locator('#ring').focus();
    for (let i = 0; i < 40; i++) await observed.page.keyboard.press('ArrowRight');
    for (const key of ['cart:alice', 'cart:bob', 'notes:1', 'bench:42']) await observed.page.getByLabel('Key', { exact: true }).fill(key);
    // Change the cluster: a join, a leave, a capacity change.
    process.stdout.write('driven; a node joins\n');
    const joiner = await NodeTab.open(context, url, undefined, 180_000);
    tabs.push(joiner);
    await waitFor('the joiner in the observed table', async () => (await observed.page.locator(`#members tr[data-node="${await joiner.id()}"]`).count()) === 1, 60_000);
    await tabs[5]!.page.evaluate(() => window.dynamo!.leave());
    await tabs[6]!.page.evaluate(() => window.dynamo!.setCapacity(2));
    for (let i = 0; i < 20; i++) await observed.page.keyboard.press('ArrowLeft');
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const windowMs = Date.now() - windowStarted;
    const longTasks = await observed.page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
    await observed.screenshot('explorer-30-nodes');
    const max = longTasks.length === 0 ? 0 : Math.max(...longTasks);
    console.log('');
    console.log(`tabdynamo explorer bench — ${new Date().toISOString()} — ${NODES} node tabs (+1 joining), ${KEYS} keys, one headless Chromium on this machine`);
    console.log(`${'measurement'.padEnd(58)} ${'value'.padStart(12)} ${'floor'.padStart(10)}`);
    console.log('-'.repeat(84));
    console.log(`${`tabs seeing all ${NODES} members, after`.padEnd(58)} ${`${seeingAll} at ${(formedMs / 1000).toFixed(0)} s`.padStart(12)}`);
    console.log(`${'observed window (driving + join + leave + capacity)'.padEnd(58)} ${`${(windowMs / 1000).toFixed(1)} s`.padStart(12)}`);
    console.log(`${'main-thread long tasks in the observed tab'.padEnd(58)} ${String(longTasks.length).padStart(12)} ${'0'.padStart(10)}`);
    console.log(`${'longest task'.padEnd(58)} ${`${max.toFixed(0)} ms`.padStart(12)} ${'50 ms'.padStart(10)}`);
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
