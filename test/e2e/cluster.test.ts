/**
 * Five real Chromium tabs form one cluster through the real signaling server and the built app;
 * every check goes through the page's console API (`window.dynamo`) or its visible form.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { ARTIFACTS, launchBrowser, NodeTab, startApp, waitFor } from './fixtures.js';

describe('a cluster of five real tabs', () => {
  let server: PreviewServer;
  let browser: Browser;
  let context: BrowserContext;
  let url: string;
  const tabs: NodeTab[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const app = await startApp();
    server = app.server;
    url = `${app.origin}/?cluster=e2e${Date.now().toString(36)}`;
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    for (let i = 0; i < 5; i++) tabs.push(await NodeTab.open(context, url));
    await Promise.all(tabs.map((tab) => tab.waitMembers(5)));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('forms one cluster: every tab sees the same five members and computes the same ring', async () => {
    const ids = await Promise.all(tabs.map((t) => t.id()));
    expect(new Set(ids).size).toBe(5);
    for (const tab of tabs) expect((await tab.memberIds()).sort()).toEqual([...ids].sort());
    const rings = await Promise.all(tabs.map((t) => t.ringOwners()));
    for (const ring of rings) expect(ring).toEqual(rings[0]);
    expect(new Set(rings[0]).size).toBe(5);
    // Preference lists agree and start with N = 3 distinct replicas.
    const lists = await Promise.all(tabs.map((t) => t.preferenceList('cart:alice')));
    for (const list of lists) expect(list).toEqual(lists[0]);
    expect(new Set(lists[0]!.slice(0, 3)).size).toBe(3);
  });

  it('a put in tab 1 is read in tab 4, and it is stored on the key\'s N replicas', async () => {
    const put = await tabs[0]!.put('cart:alice', { items: ['book', 'lamp'] });
    expect(put.acks).toBeGreaterThanOrEqual(2);
    const got = await tabs[3]!.get('cart:alice');
    expect(got.values).toEqual([{ items: ['book', 'lamp'] }]);
    const replicas = (await tabs[0]!.preferenceList('cart:alice')).slice(0, 3);
    await waitFor('all three replicas to store the key', async () => {
      const holders: string[] = [];
      for (const tab of tabs) if ((await tab.localKeys()).includes('cart:alice')) holders.push(await tab.id());
      return holders.sort().join() === [...replicas].sort().join();
    });
  });

  it('two tabs writing with the same context make two siblings; a put with the merged context collapses them everywhere', async () => {
    const key = 'doc:shared';
    await tabs[1]!.put(key, 'base');
    const { context: base } = await tabs[2]!.get(key, { r: 3 });
    await Promise.all([tabs[2]!.put(key, 'edit from tab 3', { context: base }), tabs[4]!.put(key, 'edit from tab 5', { context: base })]);
    for (const tab of tabs) {
      await waitFor('both siblings', async () => ((await tab.get(key, { r: 3 })).values.length === 2 ? true : undefined));
    }
    const conflict = await tabs[0]!.get(key, { r: 3 });
    expect([...conflict.values].sort()).toEqual(['edit from tab 3', 'edit from tab 5']);
    await tabs[0]!.put(key, 'merged', { context: conflict.context });
    for (const tab of tabs) {
      const got = await waitFor('one version', async () => {
        const g = await tab.get(key, { r: 3 });
        return g.values.length === 1 ? g : undefined;
      });
      expect(got.values).toEqual(['merged']);
    }
  });

  it('the page form puts, gets and shows siblings as text', async () => {
    const page = tabs[1]!.page;
    await page.fill('#key', 'form:key');
    await page.fill('#value', '{"hello": "<b>world</b>"}');
    await page.click('#do-put');
    await expect.poll(() => page.textContent('#kv-result'), { timeout: 10_000 }).toMatch(/^stored “form:key”/);
    const other = tabs[3]!.page;
    await other.fill('#key', 'form:key');
    await other.click('#do-get');
    await expect.poll(() => other.textContent('#siblings'), { timeout: 10_000 }).toContain('<b>world</b>');
    // Rendered as text: no <b> element was created from the value.
    expect(await other.locator('#siblings b').count()).toBe(0);
    expect(await other.locator('#key-lookup li[data-role^="replica"]').count()).toBe(3);
    await tabs[3]!.screenshot('cluster-five-tabs');
  });

  it('a reloaded tab keeps its id and its data', async () => {
    const tab = tabs[2]!;
    const id = await tab.id();
    for (let i = 0; i < 20; i++) await tabs[0]!.put(`reload:${i}`, i);
    const keysBefore = await tab.localKeys();
    expect(keysBefore.length).toBeGreaterThan(0);
    await tab.reload();
    expect(await tab.id()).toBe(id);
    expect((await tab.localKeys()).sort()).toEqual(expect.arrayContaining(keysBefore.sort()));
    await tab.waitMembers(5);
    // The others still count it as the same member (no sixth node).
    for (const other of tabs) expect((await other.memberIds()).length).toBe(5);
    for (let i = 0; i < 20; i++) expect((await tab.get(`reload:${i}`)).values).toEqual([i]);
  });

  it('a duplicated tab (same sessionStorage) runs as a new node, never as the original', async () => {
    const original = tabs[0]!;
    const originalId = await original.id();
    // Emulate the browser's "duplicate tab": a new page that starts with a copy of sessionStorage.
    const page = await context.newPage();
    await page.addInitScript(([slot, id]) => sessionStorage.setItem(slot, id), [`tabdynamo:${new URL(url).searchParams.get('cluster')}:node-id`, originalId] as const);
    await page.goto(url);
    await page.waitForFunction(() => window.dynamo !== undefined, undefined, { timeout: 30_000 });
    const duplicateId = await page.evaluate(() => window.dynamo!.id);
    expect(duplicateId).not.toBe(originalId);
    await page.close();
  });

  it('a malformed message sent to a node is dropped and counted, and the node keeps serving', async () => {
    const target = tabs[3]!;
    const targetId = await target.id();
    const before = (await target.stats()).messagesDropped;
    await tabs[0]!.page.evaluate(
      ([to, junk]) => {
        const node = window.dynamo!.node;
        node.sendRawForTesting(to, new Uint8Array([0xc1, 0x00, 0xff])); // not MessagePack
        node.sendRawForTesting(to, new Uint8Array(junk)); // MessagePack, wrong shape
      },
      [targetId, [...encode({ type: 'replica-put', requestId: 1, key: '', versions: { clock: 5 } })]] as const,
    );
    const after = await waitFor('the drops to be counted', async () => {
      const s = await target.stats();
      return s.messagesDropped >= before + 2 ? s : undefined;
    });
    expect(Object.keys(after.dropReasons)).toEqual(expect.arrayContaining(['decoding', 'invalid']));
    await target.put('after:junk', 'ok');
    expect((await tabs[1]!.get('after:junk')).values).toEqual(['ok']);
  });

  it('bad input gets a typed error and writes nothing', async () => {
    const tab = tabs[4]!;
    expect(await tab.errorOf(`window.dynamo.put('', 1)`)).toMatchObject({ name: 'InvalidKeyError' });
    expect(await tab.errorOf(`window.dynamo.put('big', new Uint8Array(1024 * 1024 + 1))`)).toMatchObject({ name: 'ValueTooLargeError' });
    expect(await tab.errorOf(`window.dynamo.put('fn', { f: () => 1 })`)).toMatchObject({ name: 'InvalidValueError' });
    expect(await tab.errorOf(`window.dynamo.put('ctx', 1, { context: 'garbage!' })`)).toMatchObject({ name: 'InvalidContextError' });
    expect(await tab.errorOf(`window.dynamo.get('x', { r: 4 })`)).toMatchObject({ name: 'InvalidOptionError' });
    for (const t of tabs) expect(await t.localKeys()).not.toEqual(expect.arrayContaining(['big']));
    // A 1 MiB value (the limit) is accepted and read back elsewhere intact.
    const sum = await tab.page.evaluate(async () => {
      const bytes = new Uint8Array(1024 * 1024 - 16).map((_, i) => i % 251);
      await window.dynamo!.put('blob', bytes);
      return bytes.reduce((a, b) => a + b, 0);
    });
    const readSum = await tabs[0]!.page.evaluate(async () => {
      const got = await window.dynamo!.get('blob');
      const value = got.siblings[0]!.value as Uint8Array;
      return value.reduce((a, b) => a + b, 0);
    });
    expect(readSum).toBe(sum);
  });
});
