/**
 * Signaling only to bootstrap (DESIGN.md §3 "Signaling paths"): six real tabs in four browser profiles
 * (two with two tabs, two with one), `maxConnections=3` so that connections keep being closed and
 * opened again; then the app-and-signaling server process is killed for real.
 * - Read-modify-writes from every tab go on (≥ 99 % succeed over 60 s), new connections are set up
 *   through the cluster (relayed offers), and no offer goes to the server after the kill.
 * - A tab reloaded during the outage starts from its storage, rejoins its browser's other tab within
 *   10 s and reads every key; a lone tab of another profile reloaded during the outage starts, serves
 *   its local data, and joins once the server is back.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, launchBrowser, NodeTab, waitFor } from './fixtures.js';
import { createNote, noteState } from './notes-pages.js';

interface SignalingView {
  server: string;
  offersSent: Record<string, number>;
  setups: Record<string, number>;
  setupsLastMinute: Record<string, number>;
  sameBrowserNodes: string[];
  waitingForFirstContact: boolean;
}

const signalingOf = (tab: NodeTab): Promise<SignalingView> =>
  tab.page.evaluate(() => {
    const s = window.dynamo!.signalingStatus();
    return { server: s.server.state, offersSent: s.offersSent, setups: s.setups, setupsLastMinute: s.setupsLastMinute, sameBrowserNodes: s.sameBrowserNodes, waitingForFirstContact: s.waitingForFirstContact };
  });

/** Each tab starts a read-modify-write this often, ms. */
const RMW_INTERVAL_MS = 250;
/**
 * Deadline of each get and put of a read-modify-write, ms (the API's default is 3000). With a cap of 3
 * and six tabs, nearly every request needs a connection set up through the cluster first (100–300 ms
 * each, seconds when the two cores are saturated by the six tabs); with 3 s, 98.4–100 % succeeded per
 * tab, and a tab fell under 99 % in about half of the runs.
 */
const RMW_TIMEOUT_MS = 5000;

const sum = (views: SignalingView[], pick: (v: SignalingView) => number): number => views.reduce((total, v) => total + pick(v), 0);

/**
 * Every tab runs read-modify-writes (get, then put with the context read) on `keys` for `durationMs`,
 * all at once, each tab starting one every `intervalMs` (as people using the page would, not as fast
 * as the machine allows); returns per tab how many succeeded and the failures by error name.
 */
function readModifyWrites(tabs: NodeTab[], keys: string[], durationMs: number, intervalMs = RMW_INTERVAL_MS): Promise<{ ok: number; failures: Record<string, number>; firstFailures: string[] }[]> {
  return Promise.all(
    tabs.map((tab, t) =>
      tab.page.evaluate(
        async ([keyList, ms, writer, every, deadlineMs]) => {
          const node = window.dynamo!;
          const until = performance.now() + ms;
          let ok = 0;
          const failures: Record<string, number> = {};
          const firstFailures: string[] = [];
          let i = writer;
          while (performance.now() < until) {
            const startedMs = performance.now();
            const key = keyList[(i = (i * 7 + 3) % keyList.length)]!;
            try {
              const read = await node.get(key, { timeoutMs: deadlineMs });
              const n = Math.max(0, ...read.siblings.map((s) => (s.value as { n?: number } | null)?.n ?? 0));
              await node.put(key, { n: n + 1, by: writer }, { context: read.context, timeoutMs: deadlineMs });
              ok++;
            } catch (error) {
              const name = (error as Error).name;
              failures[name] = (failures[name] ?? 0) + 1;
              if (firstFailures.length < 3) firstFailures.push(`${key}: ${(error as Error).message}`);
            }
            await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedMs + every - performance.now())));
          }
          return { ok, failures, firstFailures };
        },
        [keys, durationMs, t, intervalMs, RMW_TIMEOUT_MS] as const,
      ),
    ),
  );
}

describe('signaling only to bootstrap', () => {
  let app: AppProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const tabs: NodeTab[] = [];
  let url: string;
  const keys = Array.from({ length: 24 }, (_, i) => `outage:${i}`);
  let noteId = '';

  beforeAll(async () => {
    app = await AppProcess.start();
    browser = await launchBrowser();
    url = `${app.origin}/?cluster=outage${Date.now().toString(36)}&maxConnections=3`;
    // Profiles: [tab 0, tab 1], [tab 2, tab 3], [tab 4], [tab 5].
    for (const count of [2, 2, 1, 1]) {
      const context = await browser.newContext();
      contexts.push(context);
      // A profile after the first joins through an invitation; its browser keeps the secret for its other tabs.
      const first = tabs.length === 0 ? url : await tabs[0]!.invitation('maxConnections=3');
      for (let i = 0; i < count; i++) tabs.push(await NodeTab.open(context, i === 0 ? first : url));
    }
    await Promise.all(tabs.map((tab) => tab.waitMembers(6, 60_000)));
    await waitFor(
      'every tab to have received its partitions',
      async () => (await Promise.all(tabs.map((tab) => tab.page.evaluate(() => window.dynamo!.ownershipHandoffStatus().pendingPartitions.length)))).every((n) => n === 0),
      90_000,
    );
    // Setup writes, not the subject: a write racing the last partition moves is tried again.
    for (const [i, key] of keys.entries()) await waitFor(`the first write of ${key}`, () => tabs[i % tabs.length]!.put(key, { n: 0 }).then(() => true), 30_000);
    // The lone tab of the fourth profile writes a note (its browser's cache of notes seen keeps it).
    const lone = tabs[5]!;
    await lone.page.evaluate(() => (location.hash = '#/notes'));
    await lone.page.locator('#notes-view').waitFor({ state: 'visible' });
    noteId = await createNote(lone.page, 'Packing list', 'tent, stove');
    await waitFor('the note synced', async () => (await noteState(lone, noteId))?.sync === 'synced', 30_000);
    // A reload during the outage needs the app from the service worker. A tab whose page loaded while
    // its browser's first worker was installing can miss the worker's claim; it is controlled from its
    // next load (seen about once in three runs), so such a tab is reloaded once, as a user would.
    for (const tab of tabs) {
      const controlled = (): Promise<boolean> => tab.page.evaluate(() => navigator.serviceWorker.controller !== null);
      const active = (): Promise<boolean> => tab.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.state === 'activated');
      await waitFor('the service worker active', active, 30_000);
      if (!(await waitFor('the service worker controls the tab', controlled, 3_000).catch(() => false))) await tab.reload();
      await waitFor('the service worker controls the tab', controlled, 30_000);
    }
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.kill();
  });

  it('keeps serving read-modify-writes from every tab after the server is killed, setting up connections through the cluster', async () => {
    await waitFor('every tab registered with the server', async () => (await Promise.all(tabs.map(signalingOf))).every((s) => s.server === 'open'), 30_000);
    // Tabs of one profile found each other without the server.
    const sibling = await tabs[1]!.id();
    await waitFor('tab 0 hears its browser\'s other tab', async () => (await signalingOf(tabs[0]!)).sameBrowserNodes.join() === sibling, 20_000);
    await app.kill();
    await waitFor('every tab to see the server gone', async () => (await Promise.all(tabs.map(signalingOf))).every((s) => s.server !== 'open'), 30_000);
    const atKill = await Promise.all(tabs.map(signalingOf));

    const results = await readModifyWrites(tabs, keys, 60_000);
    const after = await Promise.all(tabs.map(signalingOf));
    const diagnostics = await Promise.all(
      tabs.map((tab) =>
        tab.page.evaluate(() => {
          const t = window.dynamo!.stats().transport;
          return { connections: window.dynamo!.connections().map((c) => `${c.node.slice(0, 4)} ${c.state} ${c.setup?.path ?? '?'}`), errors: t.errors, waiting: t.connectsWaiting, dropped: t.messagesDroppedUnsent, evicted: t.connectionsEvicted, health: window.dynamo!.node.peerHealth().map((h) => `${h.id.slice(0, 4)} ${h.status}`) };
        }),
      ),
    );
    for (const [t, result] of results.entries()) {
      const failed = Object.values(result.failures).reduce((a, b) => a + b, 0);
      const seen = `tab ${t}: ${JSON.stringify(result)}; ${JSON.stringify(diagnostics[t])}`;
      expect(result.ok, seen).toBeGreaterThan(30);
      // At most 1% failed, and never more than one on a tab that managed fewer than 100 operations
      // (one failure in 70 is 1.4%: a 99% bound cannot be told apart from "none may fail" there).
      expect(failed, seen).toBeLessThanOrEqual(Math.max(1, Math.floor(0.01 * (result.ok + failed))));
    }
    // New connections were set up through the cluster after the kill, none through the server.
    expect(sum(after, (s) => s.setups.relay ?? 0) - sum(atKill, (s) => s.setups.relay ?? 0)).toBeGreaterThan(0);
    expect(sum(after, (s) => s.offersSent.server ?? 0)).toBe(sum(atKill, (s) => s.offersSent.server ?? 0));
    console.log('setups by path after the outage', JSON.stringify(after.map((s) => s.setups)), 'results', JSON.stringify(results));
  }, 180_000);

  it('starts a tab reloaded during the outage from its storage; it rejoins its browser\'s other tab within 10 s and reads every key', async () => {
    const [tab, sibling] = [tabs[0]!, tabs[1]!];
    const [id, siblingId] = [await tab.id(), await sibling.id()];
    const startedMs = Date.now();
    const response = await tab.page.reload();
    expect(response?.fromServiceWorker(), 'the app shell comes from the service worker').toBe(true);
    await tab.waitStarted();
    expect(await tab.id(), 'the same node, from its storage').toBe(id);
    // Its only tab in this browser is the sibling: a connection set up over BroadcastChannel is one to
    // it (counted when it opened, since the cap may close it again right after).
    await tab.page.waitForFunction(
      (other) => window.dynamo!.signalingStatus().setups['same-browser'] > 0 || window.dynamo!.connections().some((c) => c.node === other && c.state === 'open'),
      siblingId,
      { timeout: 10_000 },
    );
    const rejoinMs = Date.now() - startedMs;
    expect(rejoinMs).toBeLessThan(10_000);
    const view = await signalingOf(tab);
    expect(view.server).not.toBe('open');
    for (const key of keys) {
      const read = await waitFor(`a read of ${key}`, () => tab.get(key), 20_000);
      expect(read.values.length, key).toBeGreaterThan(0);
    }
    console.log(`reloaded tab rejoined its browser's tab in ${rejoinMs} ms; setups ${JSON.stringify((await signalingOf(tab)).setups)}`);
  }, 120_000);

  it('keeps gossip, probes, anti-entropy, hinted handoff and ownership handoff working during the outage', async () => {
    type Counters = { gossipRounds: number; probesSent: number; antiEntropyRounds: number; hintsDelivered: number; ownershipHandoffTransfers: number };
    const counters = (tab: NodeTab): Promise<Counters> =>
      tab.page.evaluate(() => {
        const s = window.dynamo!.stats();
        return { gossipRounds: s.gossipRounds, probesSent: s.probesSent, antiEntropyRounds: s.antiEntropyRounds, hintsDelivered: s.hintsDelivered, ownershipHandoffTransfers: s.ownershipHandoffTransfers };
      });
    const before = await Promise.all(tabs.map(counters));
    // Hinted handoff (§4.6): a tab cut off misses writes; fallbacks keep them as hints and deliver
    // them once it is back, over connections set up through the cluster.
    const [cut, writer] = [tabs[2]!, tabs[4]!];
    const cutId = await cut.id();
    await cut.disconnect();
    await waitFor('the others to see the cut-off tab unreachable', async () => (await writer.reachabilityOf(cutId)) === 'unreachable', 30_000);
    const missed = keys.filter((_, i) => i % 3 === 0);
    for (const key of missed) await waitFor(`a write of ${key}`, () => writer.put(key, { n: -1, hinted: true }).then(() => true), 20_000);
    const hints = async (): Promise<number> => (await Promise.all(tabs.map((tab) => tab.hintCount()))).reduce((a, b) => a + b, 0);
    expect(await hints()).toBeGreaterThan(0);
    await cut.reconnect();
    await waitFor('every hint delivered', async () => (await hints()) === 0, 60_000);
    // Ownership handoff (§4.9): a capacity change moves partitions between tabs.
    await tabs[3]!.page.evaluate(() => window.dynamo!.setCapacity(2));
    await waitFor(
      'the partitions moved',
      async () => (await Promise.all(tabs.map((tab) => tab.page.evaluate(() => window.dynamo!.ownershipHandoffStatus().pendingPartitions.length + window.dynamo!.ownershipHandoffStatus().handoffPartitions.length)))).every((n) => n === 0),
      90_000,
    );
    const after = await Promise.all(tabs.map(counters));
    for (const [t, a] of after.entries()) {
      const b = before[t]!;
      expect(a.gossipRounds, `tab ${t} gossips`).toBeGreaterThan(b.gossipRounds);
      expect(a.probesSent, `tab ${t} probes`).toBeGreaterThan(b.probesSent);
      expect(a.antiEntropyRounds, `tab ${t} compares Merkle trees`).toBeGreaterThan(b.antiEntropyRounds);
    }
    expect(after.reduce((n, a) => n + a.hintsDelivered, 0)).toBeGreaterThan(before.reduce((n, b) => n + b.hintsDelivered, 0));
    expect(after.reduce((n, a) => n + a.ownershipHandoffTransfers, 0)).toBeGreaterThan(before.reduce((n, b) => n + b.ownershipHandoffTransfers, 0));
    expect((await signalingOf(tabs[3]!)).server).not.toBe('open');
  }, 240_000);

  it('starts a lone tab of another profile reloaded during the outage, serves its notes, and joins once the server is back', async () => {
    const lone = tabs[5]!;
    const id = await lone.id();
    const response = await lone.page.reload();
    expect(response?.fromServiceWorker()).toBe(true);
    await lone.waitStarted();
    expect(await lone.id()).toBe(id);
    // Its notes, from this browser's cache of notes seen.
    await lone.page.locator('#notes-view').waitFor({ state: 'visible' });
    await waitFor('the note listed', async () => (await lone.page.locator(`#notes-list li[data-note="${noteId}"]`).count()) === 1, 20_000);
    expect((await noteState(lone, noteId))?.titles).toEqual(['Packing list']);
    // It knows its members from storage, but nothing reaches them: no connection.
    expect((await lone.memberIds()).length).toBe(6);
    expect((await signalingOf(lone)).server).not.toBe('open');

    await app.restart();
    await waitFor('the server open again for the lone tab', async () => (await signalingOf(lone)).server === 'open', 60_000);
    await lone.page.waitForFunction(() => window.dynamo!.connections().some((c) => c.state === 'open'), undefined, { timeout: 30_000 });
    // Its reads reach the cluster again (a replica that missed writes while partitions moved may
    // answer first; read repair and anti-entropy bring it up to date).
    await waitFor(`a read of ${keys[0]} that finds it`, async () => (await lone.get(keys[0]!)).values.length > 0, 30_000);
    await waitFor('the note synced again', async () => (await noteState(lone, noteId))?.sync === 'synced', 30_000);
  }, 150_000);
});
