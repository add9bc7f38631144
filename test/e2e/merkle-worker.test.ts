/**
 * The Merkle worker in real tabs (paper §4.7): three Chromium tabs form a cluster with N = 3, so every
 * tab is a replica of every partition. After 300 writes (then overwrites and deletes) settle, each
 * tab's worker trees must hold exactly the tab's stored keys, partition by partition, and the three
 * replicas of each partition must report the same root hash. A reloaded tab rebuilds its trees by
 * scanning IndexedDB in the worker, and must land on the same roots that incremental updates gave.
 * On the Merkle bench page, writes racing a rebuild must leave the worker's trees equal to a fresh
 * scan's and to the core's in-process trees.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerkleTreesView } from '../../src/runtime/dynamo-node.js';
import { launchBrowser, NodeTab, startApp, waitFor } from './fixtures.js';

const KEYS = 300;

/** A tab's trees next to what its store holds, partitioned the way the ring does. */
interface TabView {
  trees: MerkleTreesView;
  localKeys: number;
  /** Stored keys per partition, computed in the page from `localKeys()` and the ring. */
  storedCounts: Record<number, number>;
}

function view(tab: NodeTab): Promise<TabView> {
  return tab.page.evaluate(async () => {
    const node = window.dynamo!.node;
    const keys = await node.localKeys();
    const ring = node.ring();
    const storedCounts: Record<number, number> = {};
    for (const key of keys) {
      const p = ring.partitionOfKey(key);
      storedCounts[p] = (storedCounts[p] ?? 0) + 1;
    }
    return { trees: await node.merkleTrees(), localKeys: keys.length, storedCounts };
  });
}

/** Writes `keys` from `tab`, one after the other, inside the page. */
function writeAll(tab: NodeTab, keys: string[], round: number): Promise<void> {
  return tab.page.evaluate(
    async ([ks, r]) => {
      for (const key of ks) await window.dynamo!.put(key, { key, round: r, pad: 'x'.repeat(40) });
    },
    [keys, round] as const,
  );
}

/** True when every tab's trees match its store and all tabs agree on every root (what "settled" means here). */
function settled(views: TabView[], expectedKeys: number): boolean {
  for (const v of views) {
    if (v.trees.backend !== 'worker' || v.localKeys !== expectedKeys) return false;
    if (JSON.stringify(v.trees.keyCounts) !== JSON.stringify(v.storedCounts)) return false;
  }
  const roots = JSON.stringify(views[0]!.trees.roots);
  return views.every((v) => JSON.stringify(v.trees.roots) === roots);
}

describe('Merkle trees in a worker, three real tabs', () => {
  let server: PreviewServer;
  let browser: Browser;
  let context: BrowserContext;
  const tabs: NodeTab[] = [];

  beforeAll(async () => {
    const app = await startApp();
    server = app.server;
    browser = await launchBrowser();
    context = await browser.newContext();
    const url = `${app.origin}/?cluster=merkle${Date.now().toString(36)}`;
    for (let i = 0; i < 3; i++) tabs.push(await NodeTab.open(context, url));
    await Promise.all(tabs.map((tab) => tab.waitMembers(3)));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('every tab runs its trees in the worker, built from its (empty) database', async () => {
    for (const tab of tabs) {
      const { trees } = await view(tab);
      expect(trees.backend).toBe('worker');
      expect(trees.stats?.builds).toBe(1);
      expect(trees.stats?.skipped).toBe(0);
    }
  });

  it(`after ${KEYS} writes settle, each tab's trees hold its stored keys and the replicas' roots agree`, async () => {
    const keys = Array.from({ length: KEYS }, (_, i) => `mk:${i}`);
    await Promise.all(tabs.map((tab, t) => writeAll(tab, keys.filter((_, i) => i % tabs.length === t), 1)));
    const views = await waitFor('trees to match the stores and agree', async () => {
      const vs = await Promise.all(tabs.map(view));
      return settled(vs, KEYS) ? vs : undefined;
    }, 60_000);
    for (const v of views) {
      const total = Object.values(v.trees.keyCounts).reduce((a, b) => a + b, 0);
      expect(total).toBe(v.localKeys);
      expect(v.trees.stats?.keys).toBe(KEYS);
      expect(v.trees.keyCounts).toEqual(v.storedCounts);
    }
    // 300 keys over Q = 256 partitions: most partitions hold a key, and each has one root on all three replicas.
    const partitions = Object.keys(views[0]!.trees.roots);
    expect(partitions.length).toBeGreaterThan(150);
    for (const p of partitions) {
      const roots = new Set(views.map((v) => v.trees.roots[Number(p)]));
      expect(roots.size, `partition ${p}`).toBe(1);
    }
  });

  it('overwrites and deletes move the roots, and the replicas agree again', async () => {
    const before = (await view(tabs[0]!)).trees.roots;
    const overwritten = Array.from({ length: 30 }, (_, i) => `mk:${i * 7}`);
    await writeAll(tabs[1]!, overwritten, 2);
    const deleted = Array.from({ length: 10 }, (_, i) => `mk:${i * 11 + 1}`);
    await tabs[2]!.page.evaluate(async (ks) => {
      for (const key of ks) {
        const { context } = await window.dynamo!.get(key);
        await window.dynamo!.delete(key, { context });
      }
    }, deleted);
    // Tombstones stay stored (and in the trees) until purged, so the key count does not change.
    const views = await waitFor('trees to agree after overwrites and deletes', async () => {
      const vs = await Promise.all(tabs.map(view));
      return settled(vs, KEYS) ? vs : undefined;
    }, 60_000);
    const ring = await tabs[0]!.page.evaluate(
      (ks) => ks.map((k) => window.dynamo!.node.ring().partitionOfKey(k)),
      [...overwritten, ...deleted],
    );
    for (const p of new Set(ring)) expect(views[0]!.trees.roots[p], `partition ${p}`).not.toBe(before[p]);
  });

  it('an idle tab asks its Merkle worker nothing: roots and key counts are kept until the next update', async () => {
    // Anti-entropy rounds (every second), load reports and ownership-handoff checks all read roots or key
    // counts; with nothing written, none of them may cost a message to the worker.
    const counts = await Promise.all(
      tabs.map((tab) =>
        tab.page.evaluate(async () => {
          const original = Worker.prototype.postMessage;
          let posted = 0;
          Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
            posted++;
            return original.apply(this, args);
          } as Worker['postMessage'];
          try {
            await new Promise((resolve) => setTimeout(resolve, 2_000));
            const warm = posted;
            const roundsBefore = window.dynamo!.stats().antiEntropyRounds;
            await new Promise((resolve) => setTimeout(resolve, 5_000));
            return { posted: posted - warm, rounds: window.dynamo!.stats().antiEntropyRounds - roundsBefore };
          } finally {
            Worker.prototype.postMessage = original;
          }
        }),
      ),
    );
    // Anti-entropy still ran (backed off, but at least once in 5 s) and found nothing to ask the worker.
    expect(counts.reduce((sum, c) => sum + c.rounds, 0)).toBeGreaterThan(0);
    for (const c of counts) expect(c.posted).toBe(0);
    // (That kept answers follow every update is the Merkle service contract's, run on the worker in
    // merkle-service-contract.test.ts.) An overwrite after the idle spell: the replicas agree again.
    await writeAll(tabs[0]!, ['mk:0'], 3);
    await waitFor('trees to agree after one more write', async () => settled(await Promise.all(tabs.map(view)), KEYS), 60_000);
  });

  it('writes racing a rebuild are not lost: the trees equal a fresh scan and the in-process trees', async () => {
    const page = await context.newPage();
    await page.goto(new URL('/bench/merkle.html', tabs[0]!.url).href);
    await page.waitForFunction(() => window.merkleBench !== undefined, undefined, { timeout: 30_000 });
    const dbName = `tabdynamo-merkletest-${Date.now().toString(36)}`;
    const result = await page.evaluate(([db]) => window.merkleBench!.concurrency(db, 256, 10_000, 600), [dbName] as const);
    await page.evaluate((db) => window.merkleBench!.destroy(db), dbName);
    await page.close();
    // Some writes must actually have landed during the scan, or this checked nothing.
    expect(result.updatesDuringBuild).toBeGreaterThan(0);
    expect(result.deletes).toBeGreaterThan(0);
    expect(result.liveKeys).toBe(result.keys);
    expect(result.versusFreshScan).toEqual({ equal: true, differing: 0 });
    expect(result.versusInProcess).toEqual({ equal: true, differing: 0 });
  });

  it('a tab that cannot create the Merkle worker falls back to in-process trees, says so, and still works', async () => {
    const isolated = await browser.newContext();
    try {
      // Refuse only the Merkle worker; the clock's tick worker is created as usual.
      await isolated.addInitScript(() => {
        const Real = window.Worker;
        window.Worker = class extends Real {
          constructor(url: string | URL, options?: WorkerOptions) {
            if (String(url).includes('merkle-worker')) throw new DOMException('refused by the test', 'SecurityError');
            super(url, options);
          }
        };
      });
      const page = await isolated.newPage();
      const warnings: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'warning') warnings.push(message.text());
      });
      const url = new URL(tabs[0]!.url);
      url.searchParams.set('cluster', `fallback${Date.now().toString(36)}`);
      await page.goto(url.href);
      await page.waitForFunction(() => window.dynamo !== undefined || window.dynamoError !== undefined, undefined, { timeout: 30_000 });
      expect(await page.evaluate(() => window.dynamoError)).toBeUndefined();
      expect((await page.evaluate(() => window.dynamo!.node.merkleTrees())).backend).toBe('in-process');
      expect(warnings.some((w) => w.includes('Merkle worker could not be started'))).toBe(true);
      await page.evaluate(() => window.dynamo!.put('fallback:1', 'still works', { w: 1 }));
      expect(await page.evaluate(async () => (await window.dynamo!.get('fallback:1', { r: 1 })).siblings.map((s) => s.value))).toEqual(['still works']);
    } finally {
      await isolated.close();
    }
  });

  it('a reloaded tab scans its database in the worker and rebuilds the same roots', async () => {
    const tab = tabs[0]!;
    const before = await view(tab);
    await tab.reload();
    await tab.waitMembers(3);
    const after = await view(tab);
    expect(after.trees.backend).toBe('worker');
    expect(after.trees.stats?.scanned).toBe(KEYS);
    expect(after.trees.stats?.skipped).toBe(0);
    expect(after.trees.keyCounts).toEqual(before.trees.keyCounts);
    expect(after.trees.roots).toEqual(before.trees.roots);
  });
});
