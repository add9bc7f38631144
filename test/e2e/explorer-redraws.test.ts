/**
 * When the ring explorer redraws (issue 19: idle is nearly free): not when nothing changed, not at all
 * while the tab is hidden, once when it is shown again, and at once for a real change. The notes page
 * likewise draws nothing while hidden.
 *
 * Redraws are counted two ways: the render scheduler's own log (`window.explorerRenders`: `count`
 * redraws that drew something, `skipped` ones that found nothing changed, `drawn` per part), and a
 * MutationObserver over the header and the explorer — what actually changed on the page.
 *
 * Hidden: headless Chromium has no hidden tabs (every page is 'visible'), so an init script lets the
 * test hide a page the way the page sees it: `document.visibilityState` reads 'hidden' and a
 * `visibilitychange` event fires. No timing is asserted; every wait is for a condition.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreviewServer } from 'vite';
import { launchBrowser, NodeTab, startApp, waitFor } from './fixtures.js';

declare global {
  interface Window {
    /** Set by {@link installTestHooks}: hides or shows the page, and counts mutations of what the scheduler draws and of the notes page. */
    redrawTest?: { setHidden(hidden: boolean): void; mutations: number; notesMutations: number };
  }
}

/** Runs in every page before its scripts: the visibility switch and the mutation counter (see the module comment). */
function installTestHooks(): void {
  let hidden = false;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  const hooks = {
    mutations: 0,
    notesMutations: 0,
    setHidden(value: boolean): void {
      hidden = value;
      document.dispatchEvent(new Event('visibilitychange'));
    },
  };
  window.redrawTest = hooks;
  document.addEventListener('DOMContentLoaded', () => {
    // The parts the render scheduler draws: the header and the explorer.
    const observer = new MutationObserver((records) => {
      hooks.mutations += records.length;
    });
    for (const target of [document.querySelector('header.top')!, document.querySelector('#explorer-view')!]) {
      observer.observe(target, { subtree: true, childList: true, characterData: true, attributes: true });
    }
    new MutationObserver((records) => {
      hooks.notesMutations += records.length;
    }).observe(document.querySelector('#notes-view')!, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

/** What a tab's redraw counters say now. */
interface Redraws {
  count: number;
  skipped: number;
  drawn: Record<string, number>;
  mutations: number;
}

function redraws(page: Page): Promise<Redraws> {
  return page.evaluate(() => ({ count: window.explorerRenders!.count, skipped: window.explorerRenders!.skipped, drawn: { ...window.explorerRenders!.drawn }, mutations: window.redrawTest!.mutations }));
}

function setHidden(page: Page, hidden: boolean): Promise<void> {
  return page.evaluate((h) => window.redrawTest!.setHidden(h), hidden);
}

/**
 * Makes the page plan a redraw and waits until it did: hidden and shown again, a page asks for one
 * (nothing changed meanwhile: the plan should draw nothing).
 */
async function planOnce(page: Page): Promise<void> {
  const before = await redraws(page);
  await setHidden(page, true);
  await setHidden(page, false);
  await waitFor('the request planned', async () => {
    const now = await redraws(page);
    return now.skipped + now.count > before.skipped + before.count;
  });
}

describe('explorer redraws', () => {
  let server: PreviewServer;
  let origin: string;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let context: BrowserContext;

  beforeAll(async () => {
    ({ server, origin } = await startApp());
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    // tsx (esbuild, keepNames) wraps named functions of scripts handed to pages in `__name(…)`.
    await context.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await context.addInitScript(installTestHooks);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('a tab whose node has nothing new draws nothing, however often it is asked; a put of its own is drawn at once', async () => {
    const lone = await NodeTab.open(context, `${origin}/?cluster=lone${Date.now().toString(36)}`);
    const page = lone.page;
    await waitFor('the lone node settled: server reachable, alone, no handoff, first redraw done', () =>
      page.evaluate(() => {
        const handoff = window.dynamo!.ownershipHandoffStatus();
        return window.dynamo!.signalingStatus().server.state === 'open' && handoff.pendingPartitions.length + handoff.handoffPartitions.length === 0 && document.querySelector('#status')!.textContent!.startsWith('alone') && window.explorerRenders!.count > 0;
      }),
    );
    // Settled once three requests in a row found nothing to draw: from then on, nothing changes by itself.
    const settled = await waitFor('three redraw requests in a row that found nothing changed', async () => {
      const first = await redraws(page);
      for (let i = 0; i < 3; i++) await planOnce(page);
      const after = await redraws(page);
      return after.count === first.count && after;
    });
    // Shown again and again, each time asking for a redraw: planned, never drawn.
    for (let i = 0; i < 5; i++) await planOnce(page);
    const idle = await redraws(page);
    expect(idle.skipped).toBeGreaterThanOrEqual(settled.skipped + 5);
    expect(idle.count).toBe(settled.count);
    expect(idle.drawn).toEqual(settled.drawn);
    expect(idle.mutations).toBe(settled.mutations);

    // A real change: the page shows it, and that is a redraw.
    await lone.put('redraw:lone', { n: 1 }, { w: 1 });
    await waitFor('the put in the log and the counter', async () =>
      page.evaluate(
        () => [...document.querySelectorAll('#log li')].some((li) => li.textContent!.includes('put redraw:lone')) && document.querySelector('#counters li[data-counter="puts coordinated"] .value')!.textContent === '1',
      ),
    );
    const changed = await redraws(page);
    expect(changed.count).toBeGreaterThan(idle.count);
    expect(changed.drawn.activity).toBeGreaterThan(idle.drawn.activity ?? 0);
    expect(changed.mutations).toBeGreaterThan(idle.mutations);
    // What the put did not change was not drawn again.
    expect(changed.drawn.ring).toBe(idle.drawn.ring);
    await lone.page.close();
  });

  it('a hidden tab draws nothing while its cluster changes, and shows every change once it is visible again', async () => {
    const url = `${origin}/?cluster=hidden${Date.now().toString(36)}&adopt=off`;
    const observed = await NodeTab.open(context, url);
    const other = await NodeTab.open(context, url);
    await Promise.all([observed.waitMembers(2), other.waitMembers(2)]);
    const otherId = await other.id();
    await waitFor('the observer’s table to show both nodes', async () => (await observed.page.locator('#members tbody tr').count()) === 2);

    // In front: headless Chromium runs the animation frames of pages behind it late, which would hide a redraw.
    await observed.page.bringToFront();
    await setHidden(observed.page, true);
    const hidden = await redraws(observed.page);
    // The cluster changes: the other node writes and halves its share of the ring.
    for (let i = 0; i < 20; i++) await other.put(`redraw:hidden:${i}`, { i });
    await other.page.evaluate(() => window.dynamo!.setCapacity(2));
    await waitFor('the observer’s node to know the new capacity and ring', () =>
      observed.page.evaluate((id) => window.dynamo!.members().find((m) => m.id === id)?.capacity === 2 && window.dynamo!.ring().partitionsOf(id).length > 128, otherId),
    );
    // Give a redraw asked for by those events every chance to run (it would not be drawn with nothing to wait
    // for): a redraw period of the scheduler (250 ms), then two animation frames.
    await observed.page.evaluate(() => new Promise<void>((resolve) => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() => resolve())), 300)));
    const whileHidden = await redraws(observed.page);
    expect(whileHidden.count).toBe(hidden.count);
    expect(whileHidden.skipped).toBe(hidden.skipped);
    expect(whileHidden.mutations).toBe(hidden.mutations);
    expect(await observed.page.locator(`#members tr[data-node="${otherId}"] td[data-col=capacity]`).textContent()).toBe('1');

    await setHidden(observed.page, false);
    await waitFor('the table and the legend to show the new capacity and share', () =>
      observed.page.evaluate((id) => {
        const capacity = document.querySelector(`#members tr[data-node="${id}"] td[data-col=capacity]`)?.textContent;
        const legend = document.querySelector(`#legend li[data-node="${id}"]`)?.textContent ?? '';
        return capacity === '2' && legend.endsWith(`: ${window.dynamo!.ring().partitionsOf(id).length}`);
      }, otherId),
    );
    const shown = await redraws(observed.page);
    expect(shown.count).toBeGreaterThan(whileHidden.count);
    expect(shown.drawn.ring).toBeGreaterThan(whileHidden.drawn.ring ?? 0);
    await observed.screenshot('explorer-redraws-shown-again');
    await observed.page.close();
    await other.page.close();
  });

  it('the notes page draws nothing while hidden, and shows a note written meanwhile once shown again', async () => {
    const url = `${origin}/?cluster=notes${Date.now().toString(36)}&adopt=off`;
    const reader = await NodeTab.open(context, `${url}#/notes`);
    const writer = await NodeTab.open(context, url);
    await Promise.all([reader.waitMembers(2), writer.waitMembers(2)]);
    await waitFor('the notes page to be on screen', () => reader.page.evaluate(() => !document.querySelector<HTMLElement>('#notes-view')!.hidden && window.dynamoNotes !== undefined));
    await reader.page.bringToFront();
    await setHidden(reader.page, true);
    const before = await reader.page.evaluate(() => window.redrawTest!.notesMutations);
    const id = await writer.page.evaluate(() => window.dynamoNotes!.create({ title: 'written while hidden', body: 'b' }));
    // The reader's node holds a replica of the note (two nodes, N = 3): its service learns it from the event.
    await waitFor('the hidden reader to know the note', () => reader.page.evaluate((noteId) => window.dynamoNotes!.list().some((n) => n.id === noteId), id));
    await reader.page.evaluate(() => new Promise<void>((resolve) => setTimeout(() => requestAnimationFrame(() => resolve()), 300)));
    expect(await reader.page.evaluate(() => window.redrawTest!.notesMutations)).toBe(before);
    expect(await reader.page.locator(`#notes-list li[data-note="${id}"]`).count()).toBe(0);
    await setHidden(reader.page, false);
    await waitFor('the note in the list', async () => (await reader.page.locator(`#notes-list li[data-note="${id}"]`).count()) === 1);
    await reader.page.close();
    await writer.page.close();
  });

  it('an idle cluster does not redraw its header, ring or key lookup', async () => {
    const url = `${origin}/?cluster=idle${Date.now().toString(36)}&adopt=off`;
    const tabs = [await NodeTab.open(context, url), await NodeTab.open(context, url), await NodeTab.open(context, url)];
    await Promise.all(tabs.map((tab) => tab.waitMembers(3)));
    const page = tabs[0]!.page;
    await waitFor('every ownership handoff to end', async () =>
      (
        await Promise.all(
          tabs.map((tab) =>
            tab.page.evaluate(() => {
              const status = window.dynamo!.ownershipHandoffStatus();
              return status.pendingPartitions.length + status.handoffPartitions.length + status.transfers.length === 0 && window.dynamo!.connections().every((c) => c.state === 'open');
            }),
          ),
        )
      ).every(Boolean),
    );
    // Settled once a dozen plans in a row drew neither the header nor the ring.
    const idle = await waitFor(
      'a dozen plans without a redraw of the header or the ring',
      async () => {
        const from = await redraws(page);
        for (let i = 0; i < 12; i++) await planOnce(page);
        const to = await redraws(page);
        return to.drawn.header === from.drawn.header && to.drawn.ring === from.drawn.ring && to.drawn.key === from.drawn.key && { from, to };
      },
      90_000,
    );
    // Most plans drew nothing at all: only the live parts (ages, round counters), at most every 10 s.
    const plans = idle.to.skipped + idle.to.count - idle.from.skipped - idle.from.count;
    expect(idle.to.count - idle.from.count).toBeLessThan(plans);
    await Promise.all(tabs.map((tab) => tab.page.close()));
  });
});
