/**
 * `npm run bench:handoff`: partition handoff with real tabs (paper §4.9). Four node tabs hold K keys
 * (default 10,000; (N,R,W) = (3,2,2), Q = 256, ~100-byte values); a fifth tab joins and receives its
 * partitions; then one of the first four leaves and hands everything it holds to the new owners.
 *
 * Measured, in headless Chromium on this machine:
 *   - partitions that changed owner on the join and on the leave, against the minimum (the joiner's
 *     partitions; the leaver's partitions);
 *   - time from the join (tab opened) until no tab has a partition pending or being handed off, and
 *     the objects the joiner received in that time (throughput);
 *   - time from the leave (the call) until the node is `left`, and the objects it sent;
 *   - imbalance after each change: the largest |partitions − Q/nodes| / (Q/nodes);
 *   - the floor: strict IndexedDB puts, one per transaction, on the same machine — a receiver merges
 *     every object it is handed in its own durable transaction, so it cannot beat this rate.
 *
 * Environment: HANDOFF_BENCH_KEYS (default 10000).
 */
import { closeWithin, runBench } from './bench-exit.js';
import type { Page } from 'playwright-core';
import { launchBrowser, NodeTab, startApp, waitFor } from '../test/e2e/fixtures.js';

const KEYS = Number(process.env.HANDOFF_BENCH_KEYS ?? 10_000);

async function settled(tabs: NodeTab[]): Promise<boolean> {
  const views = await Promise.all(
    tabs.map((tab) =>
      tab.page.evaluate(() => {
        const h = window.dynamo!.ownershipHandoffStatus();
        return h.pendingPartitions.length + h.handoffPartitions.length + h.transfers.length;
      }),
    ),
  );
  return views.every((v) => v === 0);
}

function stats(tab: NodeTab): Promise<{ sent: number; received: number }> {
  return tab.page.evaluate(() => {
    const s = window.dynamo!.stats();
    return { sent: s.ownershipHandoffKeysSent, received: s.ownershipHandoffKeysReceived };
  });
}

function imbalance(owners: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  const ideal = owners.length / counts.size;
  return Math.max(...[...counts.values()].map((c) => Math.abs(c - ideal) / ideal));
}

async function preload(tabs: NodeTab[], keys: number): Promise<void> {
  const perTab = Math.ceil(keys / tabs.length);
  await Promise.all(
    tabs.map((tab, t) =>
      tab.page.evaluate(
        async ([from, count, total]) => {
          const value = { text: 'x'.repeat(80) };
          for (let i = 0; i < count; i += 32) {
            const batch = [];
            for (let j = i; j < Math.min(count, i + 32) && from + j < total; j++) {
              // A put that misses its quorum on a loaded machine is tried again: the preload is
              // set-up, not measured. (No named functions in here: tsx would wrap them in a helper
              // the page does not have.)
              batch.push(
                (async () => {
                  for (let attempt = 1; ; attempt++) {
                    try {
                      await window.dynamo!.put(`handoff:${from + j}`, { ...value, n: from + j });
                      return;
                    } catch (error) {
                      if (attempt >= 5) throw error;
                    }
                  }
                })(),
              );
            }
            await Promise.all(batch);
          }
        },
        [t * perTab, perTab, keys] as const,
      ),
    ),
  );
}

async function idbFloor(page: Page): Promise<number> {
  await page.waitForFunction(() => window.floor !== undefined, undefined, { timeout: 30_000 });
  const idb = await page.evaluate(() => window.floor!.indexedDb(500, 100));
  return idb.put.p50;
}

async function main(): Promise<void> {
  const { server, origin } = await startApp();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    const floorTab = await context.newPage();
    await floorTab.goto(`${origin}/bench/index.html`);
    const putP50 = await idbFloor(floorTab);
    await floorTab.close();

    const url = `${origin}/?cluster=handoff${Date.now().toString(36)}&adopt=off`;
    const tabs: NodeTab[] = [];
    for (let i = 0; i < 4; i++) tabs.push(await NodeTab.open(context, url));
    await Promise.all(tabs.map((tab) => tab.waitMembers(4)));
    await waitFor('the cluster to settle', () => settled(tabs), 60_000);
    const loadStarted = Date.now();
    await preload(tabs, KEYS);
    const loadMs = Date.now() - loadStarted;
    const before = await tabs[0]!.ringOwners();

    // Join.
    const joinedAt = Date.now();
    const joiner = await NodeTab.open(context, url);
    tabs.push(joiner);
    await Promise.all(tabs.map((tab) => tab.waitMembers(5)));
    await waitFor('the join to be handed off', () => settled(tabs), 600_000);
    const joinMs = Date.now() - joinedAt;
    const joinerId = await joiner.id();
    const afterJoin = await tabs[0]!.ringOwners();
    const joinMoved = afterJoin.filter((o, p) => o !== before[p]).length;
    const joinMinimum = afterJoin.filter((o) => o === joinerId).length;
    const received = (await stats(joiner)).received;
    const joinerKeys = (await joiner.localKeys()).length;

    // Leave.
    const leaver = tabs[0]!;
    const leaverId = await leaver.id();
    const leaverPartitions = afterJoin.filter((o) => o === leaverId).length;
    const leftAt = Date.now();
    await leaver.page.evaluate(() => window.dynamo!.leave());
    const leaveMs = Date.now() - leftAt;
    const stayers = tabs.slice(1);
    await waitFor('the leave to settle', () => settled(stayers), 600_000);
    const afterLeave = await stayers[0]!.ringOwners();
    const leaveMoved = afterLeave.filter((o, p) => o !== afterJoin[p]).length;
    const sent = (await stats(leaver)).sent;
    const leftover = (await leaver.localKeys()).length;

    const floorRate = 1000 / putP50;
    const line = (name: string, value: string, floor = '', ratio = ''): string => `${name.padEnd(52)} ${value.padStart(14)} ${floor.padStart(16)} ${ratio.padStart(8)}`;
    console.log('');
    console.log(`tabdynamo handoff bench — ${new Date().toISOString()} — Chromium headless, ${KEYS} keys, (N,R,W) = (3,2,2), Q = 256`);
    console.log(line('measurement', 'value', 'floor', 'ratio'));
    console.log('-'.repeat(94));
    console.log(line('preload (4 tabs, 32 puts in flight per tab)', `${(KEYS / (loadMs / 1000)).toFixed(0)} puts/s`));
    console.log(line('join: partitions that changed owner', String(joinMoved), `${joinMinimum} (minimum)`, `${(joinMoved / joinMinimum).toFixed(2)}×`));
    console.log(line('join: objects handed to the joiner', String(received), `${joinerKeys} stored`));
    console.log(line('join: time until every handoff finished', `${joinMs} ms`));
    console.log(line('join: throughput into the joiner', `${(received / (joinMs / 1000)).toFixed(0)} keys/s`, `${floorRate.toFixed(0)} keys/s`, `${(received / (joinMs / 1000) / floorRate).toFixed(2)}×`));
    console.log(line('leave: partitions that changed owner', String(leaveMoved), `${leaverPartitions} (minimum)`, `${(leaveMoved / leaverPartitions).toFixed(2)}×`));
    console.log(line('leave: objects sent by the leaver', String(sent), `${leftover} left behind`));
    console.log(line('leave: time until it had left', `${leaveMs} ms`));
    console.log(line('leave: throughput out of the leaver', `${(sent / (leaveMs / 1000)).toFixed(0)} keys/s`, `${floorRate.toFixed(0)} keys/s`, `${(sent / (leaveMs / 1000) / floorRate).toFixed(2)}×`));
    console.log(line('imbalance after the join / the leave', `${(imbalance(afterJoin) * 100).toFixed(1)}% / ${(imbalance(afterLeave) * 100).toFixed(1)}%`, '≤ 5%'));
    console.log(`floor: IndexedDB put, strict, one per transaction, p50 ${putP50.toFixed(2)} ms`);
    console.log('');
  } finally {
    await closeWithin(browser.close());
    await closeWithin(server.close());
  }
}

runBench(main);
