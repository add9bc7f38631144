/**
 * Members only (issue 16), as people live it: one person's browser runs a cluster of three tabs and
 * writes 30 keys; a friend's browser joins through the invitation link and reads them all. A stranger's
 * browser that only knows the cluster's name gets a cluster of its own and reads nothing; a stranger
 * who even learned the cluster's signaling tag (as the signaling server knows it) is refused by the
 * handshake, and the refusals are counted; a squatter cannot register a closed tab's peer id. A member
 * injecting a forged record, a replayed old record and a forged removal changes nothing.
 *
 * Separate browser contexts are separate people (separate storage: no shared secret).
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, launchBrowser, NodeTab, waitFor } from './fixtures.js';

const KEYS = Array.from({ length: 30 }, (_, i) => `club-key-${i}`);

/** How many of KEYS a tab reads with a value (errors and empty reads count as not read). */
async function keysRead(tab: NodeTab, r: number): Promise<number> {
  return tab.page.evaluate(
    async ({ keys, r }) => {
      let read = 0;
      for (const key of keys) {
        try {
          const result = await window.dynamo!.get(key, { r, timeoutMs: 2000 });
          if (result.siblings.some((s) => !s.deleted)) read++;
        } catch {
          // not readable here
        }
      }
      return read;
    },
    { keys: KEYS, r },
  );
}

type Security = ReturnType<import('../../src/runtime/dynamo-node.js').DynamoNode['securityStats']>;
const securityOf = (tab: NodeTab): Promise<Security> => tab.page.evaluate(() => window.dynamo!.node.securityStats());

describe('members only', () => {
  let app: AppProcess;
  let browser: Browser;
  let owner: BrowserContext;
  const cluster = `club${Date.now().toString(36)}`;
  const tabs: NodeTab[] = [];

  beforeAll(async () => {
    app = await AppProcess.start();
    browser = await launchBrowser();
    owner = await browser.newContext();
    for (let i = 0; i < 3; i++) tabs.push(await NodeTab.open(owner, `${app.origin}/?cluster=${cluster}&adopt=off`));
    await waitFor('the owner’s three tabs in one cluster', async () => {
      for (const tab of tabs) if ((await tab.memberIds()).length !== 3) return false;
      return true;
    }, 60_000);
    await tabs[0]!.page.evaluate(async (keys) => {
      for (const key of keys) await window.dynamo!.put(key, { key });
    }, KEYS);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.kill();
  });

  it('a stranger with the cluster name but no invitation gets a cluster of its own and reads 0 keys', async () => {
    const stranger = await NodeTab.open(await browser.newContext(), `${app.origin}/?cluster=${cluster}&adopt=off`);
    expect(await stranger.page.evaluate(() => window.dynamo!.node.secretSource)).toBe('created');
    const ownerTag = await tabs[0]!.page.evaluate(() => window.dynamo!.node.signalingTag);
    expect(await stranger.page.evaluate(() => window.dynamo!.node.signalingTag)).not.toBe(ownerTag);
    // The stranger's signaling listing is its own: it registered with the server and found nobody.
    await waitFor('the stranger registered with the server', () => stranger.page.evaluate(() => window.dynamo!.signalingStatus().server.state === 'open'));
    expect(await keysRead(stranger, 1)).toBe(0);
    expect(await stranger.memberIds()).toEqual([await stranger.id()]);
    for (const tab of tabs) expect(await tab.memberIds()).not.toContain(await stranger.id());
  });

  it('an invited profile joins through the link and reads every key', async () => {
    const link = await tabs[0]!.page.evaluate(() => window.dynamo!.invitation());
    expect(link).toMatch(/#invite=[A-Za-z0-9_-]{43}$/);
    const friend = await NodeTab.open(await browser.newContext(), link);
    expect(await friend.page.evaluate(() => window.dynamo!.node.secretSource)).toBe('invited');
    await waitFor('the friend in the owner’s membership', async () => (await tabs[0]!.memberIds()).includes(await friend.id()), 60_000);
    await waitFor('the friend reads every key', async () => (await keysRead(friend, 2)) === KEYS.length, 60_000);
    tabs.push(friend);
  });

  it('a stranger who learned the signaling tag is refused by the handshake on every connection, and the refusals are counted', async () => {
    const ownerTag = await tabs[0]!.page.evaluate(() => window.dynamo!.node.signalingTag);
    const before = await Promise.all(tabs.map(securityOf));
    const strangerPage = await (await browser.newContext()).newPage();
    await strangerPage.goto(`${app.origin}/?cluster=${cluster}&adopt=off`);
    await strangerPage.waitForFunction(() => window.dynamo !== undefined);
    // A second node in the stranger's page, under the owner's tag but with the stranger's own secret.
    const intruder = await strangerPage.evaluate(async (tag) => {
      const Node = window.dynamo!.node.constructor as typeof import('../../src/runtime/dynamo-node.js').DynamoNode;
      const node = await Node.start({
        cluster: new URL(location.href).searchParams.get('cluster')!,
        storage: 'memory',
        signaling: { host: location.hostname, port: Number(location.port), path: '/peerjs/', secure: false },
        signalingTagForTesting: tag,
      });
      (window as unknown as { intruder: typeof node }).intruder = node;
      return node.id;
    }, ownerTag);
    // It lists the owner's nodes as seeds and they list it: connections are tried both ways, and refused.
    const refusedNow = async (): Promise<number> => {
      const after = await Promise.all(tabs.map(securityOf));
      return after.reduce((sum, s, i) => sum + s.handshakesRefused - before[i]!.handshakesRefused, 0);
    };
    await waitFor('handshakes with the intruder refused', async () => (await refusedNow()) >= 2, 60_000);
    const reasons = (await Promise.all(tabs.map(securityOf))).flatMap((s) => Object.keys(s.refusedByReason));
    expect(reasons).toContain('bad-mac');
    for (const tab of tabs) expect(await tab.memberIds()).not.toContain(intruder);
    const intruderView = await strangerPage.evaluate(async (keys) => {
      const node = (window as unknown as { intruder: import('../../src/runtime/dynamo-node.js').DynamoNode }).intruder;
      let read = 0;
      for (const key of keys) {
        const result = await node.get(key, { r: 1, timeoutMs: 1000 }).catch(() => undefined);
        if (result?.siblings.length) read++;
      }
      return { members: node.members().map((m) => m.id), read, accepted: node.securityStats().handshakesAccepted };
    }, KEYS);
    expect(intruderView).toEqual({ members: [intruder], read: 0, accepted: 0 });
  });

  it('a squatter cannot register a closed tab’s peer id, and gets no message meant for it', async () => {
    const closing = tabs.pop()!;
    const tag = await closing.page.evaluate(() => window.dynamo!.node.signalingTag);
    const closedId = await closing.id();
    await closing.page.close();
    const statsUrl = `${app.origin}/peerjs/stats`;
    const refusedBefore = Object.values(((await (await fetch(statsUrl)).json()) as { registrations: { refused: Record<string, number> } }).registrations.refused).reduce((a, b) => a + b, 0);
    const squatter = await (await browser.newContext()).newPage();
    await squatter.goto(`${app.origin}/?cluster=${cluster}&adopt=off`);
    const outcome = await squatter.evaluate(async (peerId) => {
      return new Promise<{ opened: boolean; messages: string[] }>((resolve) => {
        const messages: string[] = [];
        const socket = new WebSocket(`${location.origin.replace('http', 'ws')}/peerjs/peerjs?key=peerjs&id=${peerId}&token=squat&version=1.5.5`);
        let opened = false;
        socket.onopen = () => (opened = true);
        socket.onmessage = (event) => messages.push(String(event.data));
        socket.onclose = () => resolve({ opened, messages });
        socket.onerror = () => undefined;
      });
    }, `dyn-${tag}-${closedId}`);
    expect(outcome).toEqual({ opened: false, messages: [] });
    const refusedAfter = Object.values(((await (await fetch(statsUrl)).json()) as { registrations: { refused: Record<string, number> } }).registrations.refused).reduce((a, b) => a + b, 0);
    expect(refusedAfter).toBeGreaterThan(refusedBefore);
  });

  it('a forged record, a replayed old record and a forged removal from a member change nothing', async () => {
    const [victim, sender, third] = tabs as [NodeTab, NodeTab, NodeTab];
    const thirdId = await third.id();
    const senderId = await sender.id();
    const recordOf = (tab: NodeTab, id: string) => tab.page.evaluate((id) => window.dynamo!.members().find((m) => m.id === id), id);
    // An old signed record of the sender, then the sender changes its capacity (a newer signed record).
    const old = (await recordOf(victim, senderId))!;
    await sender.page.evaluate(() => window.dynamo!.setCapacity(2));
    await waitFor('the victim sees the sender’s new capacity', async () => (await recordOf(victim, senderId))?.capacity === 2, 30_000);
    const newVersion = (await recordOf(victim, senderId))!.version;
    expect(newVersion).toBeGreaterThan(old.version);
    const before = await securityOf(victim);
    const thirdRecord = (await recordOf(victim, thirdId))!;

    await sender.page.evaluate(
      ({ to, forged, replayed, removal }) => {
        const bytes = (o: unknown) => (o && typeof o === 'object' && !Array.isArray(o) ? new Uint8Array(Object.values(o as Record<string, number>)) : o);
        const fix = (r: Record<string, unknown>) => ({ ...r, publicKey: bytes(r.publicKey), signature: bytes(r.signature) });
        // A record of the third member with a raised version and capacity under its old signature.
        window.dynamo!.node.sendForTesting(to, { type: 'gossip', reply: false, members: [fix(forged)] });
        // The sender's own old record, signed by it and replayed.
        window.dynamo!.node.sendForTesting(to, { type: 'gossip', reply: false, members: [fix(replayed)] });
        // A removal of the third member said to be made by the victim, with a made-up signature.
        window.dynamo!.node.sendForTesting(to, { type: 'gossip', reply: false, members: [], removals: [{ ...removal, signature: new Uint8Array(64).fill(7) }] });
      },
      {
        to: await victim.id(),
        forged: { ...thirdRecord, capacity: 50, version: thirdRecord.version + 100_000 } as unknown as Record<string, unknown>,
        replayed: old as unknown as Record<string, unknown>,
        removal: { target: thirdId, by: await victim.id(), atMs: Date.now() },
      },
    );
    await waitFor('the forged record and removal counted as rejected', async () => {
      const now = await securityOf(victim);
      return now.recordsRejected > before.recordsRejected && now.removalsRejected > before.removalsRejected;
    });
    const third2 = (await recordOf(victim, thirdId))!;
    expect({ capacity: third2.capacity, status: third2.status }).toEqual({ capacity: thirdRecord.capacity, status: 'up' });
    expect(third2.version).toBeLessThan(thirdRecord.version + 100_000);
    const sender2 = (await recordOf(victim, senderId))!;
    expect(sender2.capacity).toBe(2);
    expect(sender2.version).toBeGreaterThanOrEqual(newVersion);
    expect(await victim.page.evaluate(() => window.dynamo!.node.removals())).toEqual([]);
  });
});
