/**
 * No full mesh: with `maxConnections=3`, five real tabs still serve every put and get, no tab holds
 * more than three connections in use (but for one accepted while its others are still opening, until
 * one of those can be drained), and connections are closed (least recently used first) to make
 * room — the cap is exercised, not just unreached.
 */
import type { Browser } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, NodeTab, startApp, waitFor } from './fixtures.js';

describe('connection cap', () => {
  let server: PreviewServer;
  let browser: Browser;
  const tabs: NodeTab[] = [];

  beforeAll(async () => {
    const app = await startApp();
    server = app.server;
    browser = await launchBrowser();
    const context = await browser.newContext();
    const url = `${app.origin}/?cluster=cap${Date.now().toString(36)}&maxConnections=3`;
    for (let i = 0; i < 5; i++) tabs.push(await NodeTab.open(context, url));
    await Promise.all(tabs.map((tab) => tab.waitMembers(5)));
    // Tabs that joined one after another still receive their partitions for a moment, and a replica
    // still receiving one does not count towards a quorum (by design). The test is about the cap, so
    // it starts once every tab has its partitions (a get failed this way once in CI).
    await waitFor(
      'every tab to have received its partitions',
      async () => (await Promise.all(tabs.map((tab) => tab.page.evaluate(() => window.dynamo!.ownershipHandoffStatus().pendingPartitions.length)))).every((n) => n === 0),
      60_000,
    );
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const transportOf = (tab: NodeTab): Promise<{ openConnections: number; connectionsEvicted: number; connectionsOpened: number; setupMs: { p50: number; p95: number; max: number } }> =>
    tab.page.evaluate(() => {
      const t = window.dynamo!.stats().transport;
      return { openConnections: t.openConnections, connectionsEvicted: t.connectionsEvicted, connectionsOpened: t.connectionsOpened, setupMs: t.setupMs };
    });

  it('serves every operation while no tab holds more than three connections once quiet (four at most meanwhile)', async () => {
    let peak = 0;
    let missed = 0;
    for (let i = 0; i < 40; i++) {
      const writer = tabs[i % 5]!;
      const reader = tabs[(i + 2) % 5]!;
      await writer.put(`cap:${i}`, { i });
      const read = await reader.get(`cap:${i}`);
      if (read.values.length === 0) {
        const stats = await Promise.all(tabs.map((tab) => tab.page.evaluate(() => {
          const s = window.dynamo!.stats();
          return { id: window.dynamo!.id, fallbackWrites: s.fallbackWrites, hintsStored: s.hintsStored, dropped: s.messagesDropped, reasons: s.dropReasons, unsent: s.transport.messagesDroppedUnsent, failures: s.transport.connectFailures, errors: s.transport.errors, auth: window.dynamo!.node.securityStats().refusedByReason };
        })));
        const replicas = await writer.page.evaluate((key) => window.dynamo!.preferenceList(key).slice(0, 3), `cap:${i}`);
        console.log(`read of cap:${i} missed the write; for the next look:`, JSON.stringify({ replicas, writer: await writer.id(), reader: await reader.id(), read, stats }));
      }
      if (read.values.length === 0) {
        // A sloppy quorum does not promise read-your-writes: a fallback stood in for a replica whose
        // connection was still being set up under the cap (the counters above say which). The write
        // must still reach the reader's quorum soon (hinted handoff, read repair); the miss is counted.
        missed++;
        await waitFor(`cap:${i} readable after a missed read`, async () => JSON.stringify((await reader.get(`cap:${i}`)).values) === JSON.stringify([{ i }]), 15_000);
      } else expect(read.values).toEqual([{ i }]);
      for (const tab of tabs) peak = Math.max(peak, (await transportOf(tab)).openConnections);
    }
    // A connection another tab opens is accepted even when this tab's others are all still opening (to
    // refuse it would lose what that tab queued on it); the cap is restored as soon as one of those
    // opens and can be drained. So one over the cap, briefly, and back under it once quiet.
    expect(peak).toBeLessThanOrEqual(4);
    // Seen: at most 1 of 40 reads missed (about 2 runs in 9); many more would be a broken quorum.
    console.log(`reads that missed the write just acknowledged: ${missed} of 40`);
    expect(missed, 'reads that missed a write just acknowledged').toBeLessThanOrEqual(4);
    await waitFor('every tab back under the cap', async () => (await Promise.all(tabs.map(transportOf))).every((t) => t.openConnections <= 3), 10_000);
    const evicted = (await Promise.all(tabs.map(transportOf))).reduce((sum, t) => sum + t.connectionsEvicted, 0);
    expect(evicted, 'the cap must have closed connections to make room').toBeGreaterThan(0);
  });

  it('reports how long its connections took to open', async () => {
    for (const tab of tabs) {
      const t = await transportOf(tab);
      expect(t.connectionsOpened).toBeGreaterThan(0);
      // WebRTC setup (offer, answer, ICE, DTLS) takes a few ms at least, and well under the 20 s timeout.
      expect(t.setupMs.p50).toBeGreaterThan(0);
      expect(t.setupMs.p50).toBeLessThanOrEqual(t.setupMs.p95);
      expect(t.setupMs.p95).toBeLessThanOrEqual(t.setupMs.max);
      expect(t.setupMs.max).toBeLessThan(20_000);
    }
  });
});
