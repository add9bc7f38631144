/**
 * Real-tab fault tests (paper §4.6, §4.8): five tabs with (N, R, W) = (3, 2, 2) keep accepting writes
 * while a tab is closed, frozen or cut off, and every write reaches every replica once it is back.
 */
import { describe, expect, it } from 'vitest';
import { NodeTab, useCluster, waitFor } from './fixtures.js';

describe('faults with five real tabs', () => {
  const cluster = useCluster('faults', 5);
  const tabs = cluster.tabs;

  it('a closed tab misses no write: hints are delivered when it reopens under its identity', async () => {
    const closed = tabs[4]!;
    const closedId = await closed.id();
    await closed.page.close();
    const writers = tabs.slice(0, 4);
    // 200 keys, all acknowledged while the tab is closed.
    for (let i = 0; i < 200; i++) {
      const result = await writers[i % 4]!.put(`closed:${i}`, { i, round: 1 });
      expect(result.acks).toBeGreaterThanOrEqual(2);
    }
    const replicasOfClosed = [];
    for (let i = 0; i < 200; i++) if ((await writers[0]!.preferenceList(`closed:${i}`)).slice(0, 3).includes(closedId)) replicasOfClosed.push(i);
    expect(replicasOfClosed.length).toBeGreaterThan(0);
    // A put is acknowledged by W replicas; the fallback's hint for the closed one may land just after.
    let held = 0;
    await waitFor('fallbacks to hold a hint for each of the closed node’s keys', async () => {
      held = (await Promise.all(writers.map((t) => t.hintCount()))).reduce((a, b) => a + b, 0);
      return held >= replicasOfClosed.length;
    }, 10_000);

    await writers[0]!.screenshot('faults-closed-tab');
    const reopenedAt = Date.now();
    const reopened = await NodeTab.open(cluster.context, cluster.url, closedId);
    expect(await reopened.id()).toBe(closedId);
    tabs[4] = reopened;
    await waitFor('every hint to be delivered', async () => ((await Promise.all(tabs.map((t) => t.hintCount()))).every((n) => n === 0) ? true : undefined), 60_000);
    const drainMs = Date.now() - reopenedAt;
    console.info(`hint backlog of ${held} drained ${drainMs} ms after the tab reopened`);
    // The reopened node now stores every key it is a replica of.
    const local = new Set(await reopened.localKeys());
    for (const i of replicasOfClosed) expect(local.has(`closed:${i}`), `closed:${i}`).toBe(true);
    // Every key is readable from every tab with its latest value.
    for (const tab of tabs) {
      for (let i = 0; i < 200; i += 1) expect((await tab.get(`closed:${i}`)).values, `closed:${i}`).toEqual([{ i, round: 1 }]);
    }
  });

  it('a frozen tab is marked unreachable, writes continue, and after unfreezing it catches up', async () => {
    const frozen = tabs[3]!;
    const frozenId = await frozen.id();
    // A frozen tab runs no script. `Page.setWebLifecycleState: frozen` left this headless Chromium's
    // timers running (measured: 20 of 20 ticks in 2 s), so the tab is frozen the way a debugger does it:
    // its main thread stops at the next statement and runs nothing until resumed.
    const cdp = await cluster.context.newCDPSession(frozen.page);
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    try {
      await waitFor('the others to mark the frozen tab unreachable', async () => {
        const views = await Promise.all(tabs.filter((t) => t !== frozen).map((t) => t.reachabilityOf(frozenId)));
        return views.every((v) => v === 'unreachable') ? true : undefined;
      }, 30_000);
      for (let i = 0; i < 30; i++) expect((await tabs[i % 3]!.put(`frozen:${i}`, i)).acks).toBeGreaterThanOrEqual(2);
    } finally {
      await cdp.send('Debugger.resume');
      await cdp.send('Debugger.disable');
    }
    await waitFor('the frozen tab to be alive again everywhere', async () => {
      const views = await Promise.all(tabs.filter((t) => t !== frozen).map((t) => t.reachabilityOf(frozenId)));
      return views.every((v) => v === 'alive') ? true : undefined;
    }, 30_000);
    await waitFor('hints to drain', async () => ((await Promise.all(tabs.map((t) => t.hintCount()))).every((n) => n === 0) ? true : undefined), 30_000);
    const local = new Set(await frozen.localKeys());
    for (let i = 0; i < 30; i++) {
      if ((await frozen.preferenceList(`frozen:${i}`)).slice(0, 3).includes(frozenId)) expect(local.has(`frozen:${i}`), `frozen:${i}`).toBe(true);
      expect((await frozen.get(`frozen:${i}`)).values).toEqual([i]);
    }
  });

  it('a tab whose storage was wiped does not reuse its old identity (kv679): it comes back as a new node', async () => {
    const tab = tabs[1]!;
    const oldId = await tab.id();
    await tab.put('wipe:before', 'kept by the other replicas');
    // Wipe the node's database as the browser would when evicting storage: the open connection is
    // asked to close (versionchange), the database is deleted, then the tab reloads.
    await tab.page.evaluate(async (name) => {
      await new Promise<void>((resolve, reject) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = () => resolve();
        request.onerror = () => reject(request.error);
      });
    }, `tabdynamo-${new URL(cluster.url).searchParams.get('cluster')}-${oldId}`);
    await tab.reload();
    const newId = await tab.id();
    expect(newId).not.toBe(oldId);
    await waitFor('the others to see the new node', async () => ((await tabs[0]!.memberIds()).includes(newId) ? true : undefined), 20_000);
    // Data written before is still served by the other replicas.
    expect((await tab.get('wipe:before')).values).toEqual(['kept by the other replicas']);
  });

  it('two tabs write one key while one of them is cut off: siblings after heal, a merging put collapses them', async () => {
    const key = 'cut:shared';
    await tabs[0]!.put(key, 'base');
    const { context: base } = await tabs[1]!.get(key, { r: 3 });
    const cut = tabs[2]!;
    await cut.disconnect();
    try {
      // Cut off, the tab cannot reach a write quorum: a default put fails at once, without waiting…
      const started = Date.now();
      expect(await cut.errorOf(`window.dynamo.put(${JSON.stringify(key)}, 'lost', { context: ${JSON.stringify(base)} })`)).toMatchObject({ name: 'QuorumNotReachedError' });
      expect(Date.now() - started).toBeLessThan(2000);
      // …but with w = 1 it accepts the write locally, while the rest of the cluster writes the same key.
      await cut.put(key, 'from the cut-off tab', { context: base, w: 1 });
      await cut.screenshot('faults-disconnected-tab');
      await tabs[1]!.put(key, 'from tab 2', { context: base });
    } finally {
      await cut.reconnect();
    }
    for (const tab of tabs) {
      await waitFor('both writes as siblings everywhere', async () => {
        const values = (await tab.get(key, { r: 3 })).values as string[];
        return values.includes('from tab 2') && values.includes('from the cut-off tab') ? true : undefined;
      }, 20_000);
    }
    // A read reaches whichever nodes answer first (a fallback holding a hint, say), and read repair is
    // asynchronous, so the read whose context the merge uses waits for both siblings too.
    const conflict = await waitFor('both siblings in the read that merges them', async () => {
      const got = await tabs[4]!.get(key, { r: 3 });
      return (got.values as string[]).includes('from tab 2') && (got.values as string[]).includes('from the cut-off tab') ? got : undefined;
    }, 20_000);
    await tabs[4]!.put(key, 'merged', { context: conflict.context });
    for (const tab of tabs) {
      await waitFor('one version everywhere', async () => {
        const got = await tab.get(key, { r: 3 });
        return got.values.length === 1 && got.values[0] === 'merged' ? true : undefined;
      }, 20_000);
    }
  });
});
