/**
 * The app opens offline: the service worker (vite-plugin-pwa / Workbox) serves the app shell, chunks
 * and workers from its cache, and the notes page lists the notes this browser has seen (its IndexedDB
 * cache of notes seen, shared by every tab) and edits them into the outbox, which syncs once the browser
 * is back online. Also the update flow: a new version waits, every tab says so, a tab's "Reload" moves
 * the tabs onto it, and a tab with unsaved typing is not reloaded under the user's feet.
 *
 * `context.setOffline(true)` makes every HTTP request and WebSocket of the pages fail (the signaling
 * server too) and `navigator.onLine` false; WebRTC data channels between the tabs, over loopback, are not
 * affected (measured: w = 3 puts keep succeeding), just as tabs of one machine keep reaching each other
 * when it loses its network.
 */
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page, Response } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, REPO, useCluster, waitFor, type NodeTab } from './fixtures.js';
import { createNote, editNote, noteState, openNote } from './notes-pages.js';

declare global {
  interface Window {
    /** Ids of notes the list showed with the "offline copy" badge (recorded from the page's start). */
    offlineCopiesShown?: string[];
    /** Set by the test; gone after a reload. */
    loadMarker?: string;
  }
}

const controlled = (page: Page): Promise<boolean> => page.evaluate(() => navigator.serviceWorker.controller !== null);
const pending = (page: Page): Promise<number> => page.evaluate(() => window.dynamoNotes!.pendingCount());

/** Waits until the page's node has started (or fails with its start error, e.g. while it cannot start offline). */
async function waitStarted(page: Page, what: string): Promise<void> {
  await page.waitForFunction(() => window.dynamo !== undefined || window.dynamoError !== undefined, undefined, { timeout: 30_000 });
  const error = await page.evaluate(() => window.dynamoError);
  if (error) throw new Error(`${what}: the node did not start offline: ${error.name}: ${error.message}`);
}

/** The notes this browser's cache of notes seen holds for `cluster` (read with IndexedDB in the page). */
function cachedNotes(page: Page, cluster: string): Promise<{ id: string; bodies: string[] }[]> {
  return page.evaluate(
    async (name) => {
      // Opening a database that does not exist would create it empty (without the app's stores).
      if (!(await indexedDB.databases()).some((db) => db.name === name)) return [];
      return new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('notes')) return resolve([]);
          const all = db.transaction('notes').objectStore('notes').getAll();
          all.onsuccess = () => {
            resolve((all.result as { id: string; versions: { body: string }[] }[]).map((n) => ({ id: n.id, bodies: n.versions.map((v) => v.body) })));
            db.close();
          };
          all.onerror = () => reject(all.error);
        };
      });
    },
    `tabdynamo-notes-seen:${cluster}`,
  );
}

/**
 * Waits until the service worker controls the tab. The first install claims the open tabs, but a tab
 * whose page loaded while the worker was installing can miss the claim; it is controlled from its next
 * load, so such a tab is reloaded once, as a user would.
 */
async function ensureControlled(tab: NodeTab): Promise<void> {
  await waitFor('the service worker active', () => tab.page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.state === 'activated'), 30_000);
  if (!(await waitFor('the service worker controls the tab', () => controlled(tab.page), 3_000).catch(() => false))) await tab.reload();
  await waitFor('the service worker controls the tab', () => controlled(tab.page), 30_000);
}

describe('the app offline', () => {
  const cluster = useCluster('offline', 3, { query: 'adopt=off', viewport: { width: 1280, height: 800 } });
  const tabs = cluster.tabs;

  beforeAll(async () => {
    await Promise.all(tabs.map((tab) => tab.page.evaluate(() => (location.hash = '#/notes'))));
    await Promise.all(tabs.map((tab) => tab.page.locator('#notes-view').waitFor({ state: 'visible' })));
  });

  it('reloads offline from the service worker, lists the notes seen, edits into the outbox and syncs once online', async () => {
    const [a, b, c] = tabs as [NodeTab, NodeTab, NodeTab];
    const clusterName = new URL(cluster.url).searchParams.get('cluster')!;
    // The first install takes the open tabs (clientsClaim): each is controlled once the app is cached.
    for (const tab of tabs) await ensureControlled(tab);

    const packing = await createNote(a.page, 'Packing list', 'tent\nstove');
    const recipes = await createNote(b.page, 'Recipes', 'soup');
    for (const [id, title] of [[packing, 'Packing list'], [recipes, 'Recipes']] as const) {
      await waitFor(`“${title}” synced and listed in tab C`, async () => (await noteState(c, id))?.sync === 'synced' && (await c.page.locator(`#notes-list li[data-note="${id}"]`).count()) === 1, 20_000);
    }
    // The browser's cache of notes seen has both (written as the tabs read and wrote them).
    await waitFor('both notes in this browser’s cache', async () => (await cachedNotes(c.page, clusterName)).map((n) => n.id).sort().join() === [packing, recipes].sort().join());

    await cluster.context.setOffline(true);
    expect(await c.page.evaluate(() => navigator.onLine)).toBe(false);
    expect(await c.page.evaluate(() => fetch('/peerjs/peerjs/peers').then(() => 'reached', () => 'failed'))).toBe('failed');

    // Tab C reloads with the network gone: the page comes from the service worker.
    const reloaded = (await c.page.reload()) as Response | null;
    expect(reloaded?.fromServiceWorker()).toBe(true);
    await waitStarted(c.page, 'tab C reloaded offline');
    await c.page.locator('#notes-view').waitFor({ state: 'visible' });
    for (const id of [packing, recipes]) await waitFor('the note listed after the offline reload', async () => (await c.page.locator(`#notes-list li[data-note="${id}"]`).count()) === 1, 20_000);
    await waitFor('C says the browser is offline', async () => (await c.page.locator('#notes-connection').textContent())?.startsWith('The browser is offline') === true);

    // It opens read-write; the edit waits in the outbox.
    await openNote(c.page, packing);
    expect(await c.page.locator('#note-body').inputValue()).toBe('tent\nstove');
    const fromC = 'tent\nstove\nmatches — typed in C, offline';
    await editNote(c.page, fromC);
    await waitFor('C: saved on this device, syncing…', async () => (await c.page.locator('#note-state').textContent()) === 'saved on this device, syncing…');
    expect(await pending(c.page)).toBe(1);
    expect(await c.page.locator(`#notes-list li[data-note="${packing}"] .badge`).textContent()).toBe('saved on this device, syncing…');
    await c.screenshot('notes-offline-reload');

    // A new tab opened offline is a new node holding none of the notes: it lists them from this
    // browser's cache ("offline copy"; C's edit as C saved it) and edits them too.
    const d = await cluster.context.newPage();
    await d.setViewportSize({ width: 1280, height: 800 });
    await d.addInitScript(() => {
      const shown = new Set<string>();
      window.offlineCopiesShown = [];
      new MutationObserver(() => {
        for (const item of document.querySelectorAll<HTMLElement>('#notes-list li')) {
          if (item.querySelector('.badge.cached') && !shown.has(item.dataset.note!)) {
            shown.add(item.dataset.note!);
            window.offlineCopiesShown!.push(item.dataset.note!);
          }
        }
      }).observe(document, { subtree: true, childList: true });
    });
    const opened = (await d.goto(`${cluster.url}#/notes`)) as Response | null;
    expect(opened?.fromServiceWorker()).toBe(true);
    await waitStarted(d, 'a new tab opened offline');
    const tabD = { page: d };
    await waitFor('D lists both notes', async () => (await d.locator(`#notes-list li[data-note="${packing}"], #notes-list li[data-note="${recipes}"]`).count()) === 2, 20_000);
    expect(await d.evaluate(() => window.offlineCopiesShown)).toContain(recipes);
    expect((await noteState(tabD, packing))?.bodies).toEqual([fromC]);
    await openNote(d, recipes);
    expect(await d.locator('#note-body').inputValue()).toBe('soup');
    const fromD = 'soup\nbread — typed in a new tab, offline';
    await editNote(d, fromD);
    await waitFor('D: saved on this device, syncing…', async () => (await d.locator('#note-state').textContent()) === 'saved on this device, syncing…');
    expect(await pending(d)).toBe(1);
    await d.screenshot({ path: path.join(ARTIFACTS, 'notes-offline-new-tab.png'), fullPage: true });

    // Back online: both outboxes sync by themselves, and tab A reads both edits.
    await cluster.context.setOffline(false);
    for (const [page, id, text] of [[c.page, packing, fromC], [d, recipes, fromD]] as const) {
      await waitFor('the edit synced', async () => (await pending(page)) === 0 && (await noteState({ page }, id))?.sync === 'synced', 60_000);
      await waitFor('tab A reads the edit', async () => (await noteState(a, id))?.bodies.join() === text, 30_000);
    }
    await d.close();
  });
});

describe('app updates', () => {
  const cluster = useCluster('update', 2, { query: 'adopt=off' });
  const tabs = cluster.tabs;

  it('a new version waits; every tab offers it; a Reload moves the tabs onto it, except one with unsaved typing', async () => {
    const [a, b] = tabs as [NodeTab, NodeTab];
    for (const tab of tabs) await ensureControlled(tab);
    await Promise.all(tabs.map((tab) => tab.page.evaluate(() => (window.loadMarker = 'before the update'))));
    // B has typed a note it has not saved.
    await b.page.evaluate(() => (location.hash = '#/notes'));
    await b.page.getByRole('button', { name: 'New note' }).click();
    await b.page.getByLabel('Title', { exact: true }).first().fill('Not saved yet');

    // A new version: a service worker that differs (a comment is enough); restored afterwards.
    const sw = path.join(REPO, process.env.E2E_DIST ?? 'dist', 'sw.js');
    const saved = `${sw}.before-update-test`;
    copyFileSync(sw, saved);
    try {
      writeFileSync(sw, `${readFileSync(sw, 'utf8')}\n// a new version ${Date.now()}\n`);
      await a.page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r!.update()));
      for (const tab of tabs) {
        await waitFor('the update notice', async () => (await tab.page.locator('#app-update[data-state="available"]').isVisible()), 30_000);
      }
      expect(await a.page.locator('#app-update').textContent()).toContain('A new version of tabdynamo is available.');
      expect(await a.page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r!.waiting !== null))).toBe(true);
      await a.screenshot('app-update-notice');

      await a.page.locator('#app-update').getByRole('button', { name: 'Reload' }).click();
      await waitFor('A reloaded onto the new version', async () => (await a.page.evaluate(() => window.loadMarker).catch(() => 'navigating')) === undefined, 30_000);
      await a.waitStarted();
      expect(await a.page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r!.waiting === null && navigator.serviceWorker.controller?.state === 'activated'))).toBe(true);
      // B keeps its typing and says what to do.
      await waitFor('B told to save, then reload', async () => (await b.page.locator('#app-update[data-state="updated-elsewhere"]').isVisible()), 30_000);
      expect(await b.page.evaluate(() => window.loadMarker)).toBe('before the update');
      expect(await b.page.locator('#note-title').inputValue()).toBe('Not saved yet');
    } finally {
      copyFileSync(saved, sw);
      rmSync(saved);
    }
  });
});
