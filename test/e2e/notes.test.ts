/**
 * The offline-tolerant notes demo with three real tabs: notes written in one tab appear in the others;
 * a tab switched offline keeps saving ("saved on this device, syncing…"); an edit made offline and a
 * concurrent edit elsewhere become a conflict shown in both tabs, merged in one, leaving one version
 * everywhere with every typed line kept; an edit concurrent with a delete is a conflict too; a note
 * holding an XSS payload renders as text and runs nothing, under the page's Content-Security-Policy.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NodeTab, useCluster, waitFor } from './fixtures.js';
import { createNote, editNote, noteState, openNote } from './notes-pages.js';

declare global {
  interface Window {
    xssRan?: string;
  }
}

describe('notes demo', () => {
  const cluster = useCluster('notes', 3, { query: 'adopt=off', viewport: { width: 1280, height: 860 } });
  const tabs = cluster.tabs;

  beforeAll(async () => {
    await Promise.all(tabs.map((tab) => tab.page.evaluate(() => (location.hash = '#/notes'))));
    await Promise.all(tabs.map((tab) => tab.page.locator('#notes-view').waitFor({ state: 'visible' })));
  });

  it('lists, creates, edits and searches notes, and other tabs update live', async () => {
    const [a, b, c] = tabs.map((t) => t.page);
    const id = await createNote(a!, 'Groceries', 'milk\neggs\nbread');
    await waitFor('“saved in the cluster” in tab A', async () => (await a!.locator('#note-state').textContent()) === 'saved in the cluster');
    // Tabs B and C list it without reloading.
    for (const page of [b!, c!]) {
      await waitFor('the note listed in another tab', async () => (await page.locator(`#notes-list li[data-note="${id}"] .title`).allTextContents()).join() === 'Groceries', 10_000);
    }
    // B edits; A, which has the note open, shows the new text.
    await openNote(a!, id);
    await openNote(b!, id);
    await editNote(b!, 'milk\neggs\nbread\ncoffee');
    await waitFor('B’s edit in A’s editor', async () => (await a!.locator('#note-body').inputValue()) === 'milk\neggs\nbread\ncoffee', 10_000);
    await createNote(c!, 'Reading list', 'Dynamo paper, section 4.4');
    // Search by title, in C.
    await waitFor('both notes listed in C', async () => (await c!.locator('#notes-list li').count()) === 2);
    await c!.getByLabel('Search titles').fill('groc');
    await waitFor('one search result', async () => (await c!.locator('#notes-list li').count()) === 1);
    expect(await c!.locator('#notes-list li .title').textContent()).toBe('Groceries');
    await c!.getByLabel('Search titles').fill('nothing like this');
    await waitFor('no result, said so', async () => (await c!.locator('#notes-list li').count()) === 0 && (await c!.locator('#notes-empty').isVisible()));
    expect(await c!.locator('#notes-empty').textContent()).toContain('nothing like this');
    await c!.getByLabel('Search titles').fill('');
    await tabs[0]!.screenshot('notes-list-editor');
  });

  it('an offline tab keeps saving; a concurrent edit elsewhere becomes a conflict shown in both tabs, merged once, nothing lost', async () => {
    const [a, b, c] = tabs.map((t) => t.page);
    const original = 'Plan for the week\nmonday: write the design\ntuesday: review\nwednesday: tests\nthursday: demo';
    const id = await createNote(a!, 'Week plan', original);
    await waitFor('synced', async () => (await noteState(tabs[0]!, id))?.sync === 'synced');
    await openNote(b!, id);
    await waitFor('B has the note', async () => (await b!.locator('#note-body').inputValue()) === original);

    // A goes offline (the page's switch) and edits the first lines.
    await a!.getByRole('button', { name: 'Go offline' }).click();
    await waitFor('A says it is offline', async () => (await a!.locator('#notes-connection').textContent())?.startsWith('Offline') === true);
    const fromA = original.replace('monday: write the design', 'monday: write the design (and the notes page) — typed in A while offline');
    await editNote(a!, fromA);
    await waitFor('A: saved on this device, syncing…', async () => (await a!.locator('#note-state').textContent()) === 'saved on this device, syncing…');
    expect(await a!.locator(`#notes-list li[data-note="${id}"] .badge`).textContent()).toBe('saved on this device, syncing…');
    expect((await noteState(tabs[0]!, id))?.bodies).toEqual([fromA]);
    await tabs[0]!.screenshot('notes-offline');

    // Meanwhile B edits the last line, online.
    const fromB = original.replace('thursday: demo', 'thursday: demo to the team — typed in B');
    await editNote(b!, fromB);
    await waitFor('B: saved in the cluster', async () => (await b!.locator('#note-state').textContent()) === 'saved in the cluster');

    // A comes back: both tabs show the conflict, with both versions side by side.
    await a!.getByRole('button', { name: 'Go back online' }).click();
    for (const [tab, page] of [[tabs[0]!, a!], [tabs[1]!, b!]] as const) {
      await waitFor('the conflict shown', async () => (await page.locator('#conflict').isVisible()) && (await page.locator('#conflict-versions .version').count()) === 2, 20_000);
      expect((await noteState(tab, id))?.bodies.sort()).toEqual([fromA, fromB].sort());
      expect(await page.locator('#note-state').textContent()).toBe('conflict: 2 versions');
    }
    const shown = await b!.locator('#conflict-versions .version-body').allTextContents();
    expect(shown.sort()).toEqual([fromA, fromB].sort());
    await tabs[1]!.screenshot('notes-conflict');

    // The proposed three-way merge keeps both edits (they touched different lines) without clash markers.
    const proposed = await a!.locator('#merge-body').inputValue();
    expect(proposed).toContain('typed in A while offline');
    expect(proposed).toContain('typed in B');
    expect(proposed).not.toContain('<<<<<<<');
    expect(await a!.locator('#merge-info').textContent()).toContain('three-way merge');
    await a!.getByRole('button', { name: 'Save merged version' }).click();

    // One version everywhere, holding everything typed in either tab.
    for (const [i, tab] of tabs.entries()) {
      await waitFor(`one version in tab ${i + 1}`, async () => {
        const state = await noteState(tab, id);
        return state?.sync === 'synced' && state.bodies.length === 1 && state.bodies[0] === proposed;
      }, 20_000);
      const stored = await tab.page.evaluate((key) => window.dynamo!.get(key).then((r) => r.siblings.length), `note:${id}`);
      expect(stored).toBe(1);
    }
    await openNote(c!, id);
    expect(await c!.locator('#note-body').inputValue()).toBe(proposed);
  });

  it('an edit concurrent with a delete is a conflict too, and can be kept deleted or restored', async () => {
    const [a, b] = tabs.map((t) => t.page);
    const id = await createNote(b!, 'Old idea', 'maybe delete this');
    await waitFor('synced in A', async () => (await noteState(tabs[0]!, id))?.sync === 'synced', 10_000);
    await openNote(a!, id);
    await a!.getByRole('button', { name: 'Go offline' }).click();
    a!.once('dialog', (dialog) => void dialog.accept());
    await a!.getByRole('button', { name: 'Delete' }).click();
    await waitFor('A no longer lists it', async () => (await a!.locator(`#notes-list li[data-note="${id}"]`).count()) === 0 || (await a!.locator(`#notes-list li[data-note="${id}"] .badge`).count()) === 1);
    await openNote(b!, id);
    await editNote(b!, 'maybe delete this\nno — keep it, typed in B');
    await a!.getByRole('button', { name: 'Go back online' }).click();
    for (const page of [a!, b!]) {
      await waitFor('the edit-versus-delete conflict', async () => (await page.evaluate((noteId) => window.dynamoNotes!.note(noteId)?.sync, id)) === 'conflict', 20_000);
    }
    await openNote(b!, id);
    expect(await b!.locator('#note-state').textContent()).toBe('conflict: edited and deleted');
    expect(await b!.locator('#conflict-versions .version.deleted').count()).toBe(1);
    // B restores its edit: the merge form holds it; saving collapses the delete.
    expect(await b!.locator('#merge-body').inputValue()).toBe('maybe delete this\nno — keep it, typed in B');
    await b!.getByRole('button', { name: 'Save merged version' }).click();
    for (const tab of tabs) {
      await waitFor('restored everywhere', async () => {
        const state = await noteState(tab, id);
        return state?.sync === 'synced' && state.bodies.length === 1 && state.deletions === 0;
      }, 20_000);
    }
  });

  it('renders a note holding an XSS payload as text, runs nothing, and serves a Content-Security-Policy', async () => {
    const [a, b] = tabs.map((t) => t.page);
    const title = '<img src=x onerror="window.xssRan=\'title\'">';
    const body = '<script>window.xssRan = "body"</script><img src=x onerror="window.xssRan=\'body-img\'"><b>not bold</b>';
    const id = await createNote(a!, title, body);
    await waitFor('listed in B', async () => (await b!.locator(`#notes-list li[data-note="${id}"]`).count()) === 1, 10_000);
    await openNote(b!, id);
    expect(await b!.locator(`#notes-list li[data-note="${id}"] .title`).textContent()).toBe(title);
    expect(await b!.locator('#note-heading').textContent()).toBe(title);
    expect(await b!.locator('#note-body').inputValue()).toBe(body);
    // No element was made from the payload, and nothing ran.
    expect(await b!.locator('#notes-view img, #notes-view script, #notes-view b').count()).toBe(0);
    expect(await b!.evaluate(() => window.xssRan)).toBeUndefined();
    expect(await a!.evaluate(() => window.xssRan)).toBeUndefined();
    // The policy: as a header from the server, and in the built page.
    const response = await fetch(cluster.url);
    const header = response.headers.get('content-security-policy') ?? '';
    expect(header).toContain("script-src 'self'");
    expect(header).toContain("object-src 'none'");
    expect(header).not.toContain('unsafe-inline');
    expect(await b!.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')).toContain("default-src 'self'");
    // An inline script is refused by the page itself.
    const blocked = await b!.evaluate(
      () =>
        new Promise<boolean>((resolve) => {
          document.addEventListener('securitypolicyviolation', () => resolve(true), { once: true });
          const script = document.createElement('script');
          script.textContent = 'window.xssRan = "inline"';
          document.body.append(script);
          setTimeout(() => resolve(false), 1000);
        }),
    );
    expect(blocked).toBe(true);
    expect(await b!.evaluate(() => window.xssRan)).toBeUndefined();
  });

  it('with the other nodes really gone (their tabs closed), edits stay on this device and sync by themselves when they return', async () => {
    const a = tabs[0]!;
    const id = await createNote(a.page, 'Trip', 'tickets');
    await waitFor('synced', async () => (await noteState(a, id))?.sync === 'synced', 10_000);
    const others = [await tabs[1]!.id(), await tabs[2]!.id()];
    await tabs[1]!.page.close();
    await tabs[2]!.page.close();
    await waitFor('A sees it cannot reach a write quorum', async () => (await a.page.locator('#notes-connection').textContent())?.startsWith('Cannot reach enough nodes') === true, 30_000);
    await openNote(a.page, id);
    const edited = 'tickets\npassports — typed while the other tabs were closed';
    await editNote(a.page, edited);
    await waitFor('saved on this device, syncing…', async () => (await a.page.locator('#note-state').textContent()) === 'saved on this device, syncing…');
    expect(await a.page.evaluate(() => window.dynamoNotes!.pendingCount())).toBe(1);
    // The two nodes come back (reopened under their identities, with their data).
    tabs[1] = await NodeTab.open(cluster.context, cluster.url, others[0]);
    tabs[2] = await NodeTab.open(cluster.context, cluster.url, others[1]);
    await waitFor('synced by itself', async () => (await noteState(a, id))?.sync === 'synced' && (await a.page.evaluate(() => window.dynamoNotes!.pendingCount())) === 0, 40_000);
    for (const tab of [tabs[1], tabs[2]]) {
      await tab.page.evaluate(() => (location.hash = '#/notes'));
      await waitFor('the edit in a returned tab', async () => (await noteState(tab, id))?.bodies.join() === edited, 20_000);
    }
  });
});

describe('notes demo: deleted notes leave the index, and their tombstones every store', () => {
  // A grace period of seconds (the page's tombstoneGraceMs parameter) instead of the default ten days.
  const cluster = useCluster('notes-purge', 3, { query: 'adopt=off&tombstoneGraceMs=8000' });
  const tabs = cluster.tabs;

  it('notes deleted in one tab disappear from every tab and from the index; after the grace period no store holds their tombstones', async () => {
    await Promise.all(tabs.map((tab) => tab.page.evaluate(() => (location.hash = '#/notes'))));
    await Promise.all(tabs.map((tab) => tab.page.locator('#notes-view').waitFor({ state: 'visible' })));
    const [a, b] = tabs.map((t) => t.page);
    const kept = await createNote(a!, 'Keep me', 'stays');
    const doomed = [await createNote(a!, 'Delete me 1', 'goes'), await createNote(a!, 'Delete me 2', 'goes too')];
    for (const tab of tabs) {
      await waitFor('all three notes synced in every tab', async () => {
        for (const id of [kept, ...doomed]) if ((await noteState(tab, id))?.sync !== 'synced') return false;
        return true;
      }, 20_000);
    }
    for (const id of doomed) {
      await openNote(b!, id);
      b!.once('dialog', (dialog) => void dialog.accept());
      await b!.getByRole('button', { name: 'Delete' }).click();
      await waitFor('the delete synced in B', async () => {
        const state = await noteState(tabs[1]!, id);
        return state?.deleted === true && state.sync === 'synced';
      }, 10_000);
    }
    const keysOf = (tab: NodeTab): Promise<string[]> => tab.page.evaluate(() => window.dynamo!.localKeys());
    // Within the grace period every replica keeps the tombstones.
    const tombstones = (await Promise.all(tabs.map(keysOf))).flat().filter((key) => doomed.some((id) => key === `note:${id}`)).length;
    const indexIds = (tab: NodeTab): Promise<string[]> =>
      tab.page.evaluate(async () => {
        const got = await window.dynamo!.get('notes:index');
        return got.siblings.flatMap((s) => (s.value as { ids: string[] }).ids);
      });
    // Every tab stops listing them at once (their tombstones are still stored).
    for (const tab of tabs) {
      await waitFor('the deleted notes gone from the list', async () => {
        const listed = await tab.page.locator('#notes-list li').evaluateAll((items) => items.map((li) => li.getAttribute('data-note')));
        return listed.includes(kept) && doomed.every((id) => !listed.includes(id));
      }, 20_000);
    }
    // After the grace period: purged from every store, and from the index.
    for (const tab of tabs) {
      await waitFor('no tombstone of the deleted notes in this tab’s store', async () => (await keysOf(tab)).every((key) => !doomed.some((id) => key === `note:${id}`)), 60_000);
    }
    await waitFor('the index no longer lists the deleted notes', async () => {
      const ids = await indexIds(tabs[2]!);
      return ids.includes(kept) && doomed.every((id) => !ids.includes(id));
    }, 30_000);
    const purged = await Promise.all(tabs.map((tab) => tab.page.evaluate(() => window.dynamo!.stats().tombstonesPurged)));
    console.log(`tombstones of ${doomed.length} deleted notes: ${tombstones} held before the grace period, purged per tab ${purged.join(', ')}`);
    expect(tombstones).toBeGreaterThanOrEqual(doomed.length * 2);
    expect(purged.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(tombstones);
    // The note kept is untouched, everywhere.
    for (const tab of tabs) expect((await noteState(tab, kept))?.sync).toBe('synced');
    await tabs[0]!.screenshot('notes-after-purge');
  });
});
