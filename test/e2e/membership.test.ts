/**
 * Membership changes with real tabs (paper §4.8.1, §4.9): four tabs under a write load, a fifth joins
 * and receives its partitions by handoff, then one tab leaves through the page's button. Nothing
 * acknowledged is lost, every key is readable everywhere with its latest value, and the departed
 * node's database holds no partition any more.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NodeTab, useCluster, waitFor } from './fixtures.js';

interface HandoffView {
  pending: number;
  handoffs: number;
  transfers: number;
  sent: number;
  received: number;
}

function handoffOf(tab: NodeTab): Promise<HandoffView> {
  return tab.page.evaluate(() => {
    const h = window.dynamo!.ownershipHandoffStatus();
    const s = window.dynamo!.stats();
    return { pending: h.pendingPartitions.length, handoffs: h.handoffPartitions.length, transfers: h.transfers.length, sent: s.ownershipHandoffKeysSent, received: s.ownershipHandoffKeysReceived };
  });
}

async function settled(tabs: NodeTab[]): Promise<boolean> {
  const views = await Promise.all(tabs.map(handoffOf));
  return views.every((v) => v.pending === 0 && v.handoffs === 0 && v.transfers === 0);
}

function statusOf(tab: NodeTab, id: string): Promise<string | undefined> {
  return tab.page.evaluate((node) => window.dynamo!.members().find((m) => m.id === node)?.status, id);
}

describe('membership changes with real tabs', () => {
  const cluster = useCluster('members', 4, { viewport: { width: 1280, height: 900 } });
  const tabs = cluster.tabs;

  beforeAll(async () => {
    await waitFor('the four-node cluster to settle', () => settled(tabs), 30_000);
  });

  it('a fifth tab joins and one leaves through the page under a write load: nothing lost, the departed node holds nothing', async () => {
    // The load: each writer owns its keys and writes them in order, so the latest acknowledged value
    // of every key is known.
    const latest = new Map<string, number>();
    /** Highest round tried per key: a write that failed may still have landed somewhere. */
    const tried = new Map<string, number>();
    let stop = false;
    let failures = 0;
    const writer = async (w: number): Promise<void> => {
      for (let round = 0; !stop; round++) {
        for (let k = 0; k < 25 && !stop; k++) {
          const key = `load:${w}:${k}`;
          // Writers 0–3 start on tabs 0–3; tab 1 leaves later and keeps writing as a client.
          const tab = tabs[w]!;
          const before = await tab.get(key).catch(() => undefined);
          tried.set(key, round);
          try {
            await tab.put(key, round, before?.context ? { context: before.context } : {});
            latest.set(key, round);
          } catch {
            failures++;
          }
        }
      }
    };
    const load = [0, 1, 2, 3].map((w) => writer(w));
    await waitFor('the load to write every key once', () => latest.size >= 100, 60_000);

    // A fifth tab joins.
    const ownersBefore = await tabs[0]!.ringOwners();
    const joinedAt = Date.now();
    const joiner = await NodeTab.open(cluster.context, cluster.url);
    tabs.push(joiner);
    const joinerId = await joiner.id();
    await Promise.all(tabs.map((tab) => tab.waitMembers(5)));
    await waitFor('the join to be handed off', () => settled(tabs), 90_000);
    const joinMs = Date.now() - joinedAt;
    const ownersAfter = await tabs[0]!.ringOwners();
    const moved = ownersAfter.filter((owner, p) => owner !== ownersBefore[p]).length;
    const joinerPartitions = ownersAfter.filter((owner) => owner === joinerId).length;
    const received = (await handoffOf(joiner)).received;
    console.info(`join: ${moved} partitions changed owner (the joiner owns ${joinerPartitions}), ${received} objects handed to it, settled ${joinMs} ms after the tab opened`);
    expect(moved).toBe(joinerPartitions);
    expect(joinerPartitions).toBeGreaterThan(0);
    expect(received, 'the joiner received the objects of its partitions by handoff').toBeGreaterThan(0);

    // Tab 1 leaves through the page's button.
    const leaver = tabs[1]!;
    const leaverId = await leaver.id();
    const leftAt = Date.now();
    await leaver.page.getByRole('button', { name: 'Leave the ring' }).click();
    await waitFor('the node to have left', async () => (await statusOf(leaver, leaverId)) === 'left', 90_000);
    const leaveMs = Date.now() - leftAt;
    await waitFor('every tab to see it left', async () => (await Promise.all(tabs.map((t) => statusOf(t, leaverId)))).every((s) => s === 'left'), 30_000);
    const stayers = tabs.filter((t) => t !== leaver);
    await waitFor('the leave to be handed off', () => settled(stayers), 60_000);
    console.info(`leave: handed off in ${leaveMs} ms, ${(await handoffOf(leaver)).sent} objects sent`);
    await leaver.screenshot('membership-left-node');

    stop = true;
    await Promise.all(load);

    // The departed node's database holds no partition: no object, no Merkle tree with keys.
    expect(await leaver.localKeys()).toEqual([]);
    const trees = await leaver.page.evaluate(() => window.dynamo!.node.merkleTrees());
    expect(Object.keys(trees.keyCounts)).toEqual([]);
    expect(await leaver.page.locator('#status').textContent()).toContain('left the ring');
    // It is out of every ring.
    for (const tab of tabs) expect(await tab.ringOwners()).not.toContain(leaverId);

    // Every key readable from every tab (the departed one as a client) with its latest value.
    expect(latest.size).toBe(100);
    for (const tab of tabs) {
      for (const [key, value] of latest) {
        const got = await tab.get(key);
        const newest = Math.max(...got.values.map(Number));
        // The latest acknowledged value, or a later write that failed but landed.
        expect(newest, `${key} from ${await tab.id()}: ${JSON.stringify(got.values)}`).toBeGreaterThanOrEqual(value);
        expect(newest, `${key} from ${await tab.id()}`).toBeLessThanOrEqual(tried.get(key)!);
      }
    }
    // And stored on exactly its N replicas.
    const stored = new Map<string, string[]>();
    for (const tab of stayers) for (const key of await tab.localKeys()) stored.set(key, [...(stored.get(key) ?? []), await tab.id()]);
    for (const key of latest.keys()) {
      const replicas = (await stayers[0]!.preferenceList(key)).slice(0, 3).sort();
      expect((stored.get(key) ?? []).sort(), key).toEqual(replicas);
    }
    console.info(`load: ${failures} writes failed (not acknowledged) during the changes`);
  }, 300_000);
});

describe('adopting a closed tab’s node (DESIGN.md §3)', () => {
  const cluster = useCluster('adopt', 4);
  const tabs = cluster.tabs;

  it('a new tab takes over a closed tab’s node with its data; with adopt=off it starts a node of its own', async () => {
    for (let i = 0; i < 40; i++) await tabs[i % 4]!.put(`adopt:${i}`, i);
    const closing = tabs[3]!;
    const closedId = await closing.id();
    const keysBefore = (await closing.localKeys()).sort();
    expect(keysBefore.length).toBeGreaterThan(0);
    await closing.page.close();
    tabs.pop();

    // adopt=off: a node of its own, although a closed node is free.
    const own = await NodeTab.open(cluster.context, `${cluster.url}&adopt=off`);
    const ownId = await own.id();
    expect(ownId).not.toBe(closedId);
    expect(await own.page.evaluate(() => window.dynamo!.node.adopted)).toBe(false);

    // The default: the closed node comes back in the new tab, with its database.
    const adopter = await NodeTab.open(cluster.context, cluster.url);
    expect(await adopter.id()).toBe(closedId);
    expect(await adopter.page.evaluate(() => window.dynamo!.node.adopted)).toBe(true);
    // It still stores every key it replicates (the newcomer took some partitions, which it hands off).
    const local = new Set(await adopter.localKeys());
    for (const key of keysBefore) {
      if ((await adopter.preferenceList(key)).slice(0, 3).includes(closedId)) expect(local.has(key), key).toBe(true);
      expect((await adopter.get(key)).values, key).toEqual([Number(key.split(':')[1])]);
    }
    await waitFor('the others to see the adopted node alive', async () => (await Promise.all(tabs.map((t) => t.reachabilityOf(closedId)))).every((s) => s === 'alive'), 30_000);
    // No extra member: the cluster has the four nodes plus the adopt=off one.
    expect((await tabs[0]!.memberIds()).sort()).toEqual([...(await Promise.all(tabs.map((t) => t.id()))), closedId, ownId].sort());
    expect(await adopter.page.locator('#node-id').textContent()).toBe(`${closedId} (a closed tab's node, taken over with its data)`);
  });
});
