/**
 * The explorer's signaling indicator and Connections panel with real tabs, checked against the node's
 * own console API (`window.dynamo.signalingStatus()`, `connections()`): three tabs in one browser
 * profile (their connections are set up over BroadcastChannel: "same browser"), one in another profile,
 * and a lone tab of another cluster. Then the app-and-signaling server process is killed for real: the
 * header must say the server is unreachable with a retry countdown (and that the cluster still works
 * through its members), the lone tab must show the first-contact notice, and all of it must turn back
 * to reachable once the server is started again.
 */
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ARTIFACTS, launchBrowser, NodeTab, waitFor } from './fixtures.js';

/** One row as the panel shows it, or as the API's connections() says it should be shown. */
type Row = [node: string, direction: string, setup: string];

/** The panel's rows. */
const panelRows = (page: Page): Promise<Row[]> =>
  page.locator('#connections tbody tr').evaluateAll((rows) =>
    rows.map((tr) => [(tr as HTMLElement).dataset.node!, tr.querySelector('[data-col=direction]')!.textContent!, tr.querySelector('[data-col=setup]')!.textContent!] as Row),
  );

/** connections() of the page's node, worded as the panel words a setup. */
const apiRows = (page: Page): Promise<Row[]> =>
  page.evaluate(() =>
    window.dynamo!.connections().map((c) => {
      const setup = c.setup === undefined ? '—' : c.setup.path === 'same-browser' ? 'same browser' : c.setup.path === 'relay' ? (c.setup.via === undefined ? 'relay' : `relay via ${c.setup.via}`) : 'server';
      return [c.node, c.outbound ? 'out' : 'in', setup] as Row;
    }),
  );

const sorted = (rows: Row[]): string[] => rows.map((r) => r.join(' ')).sort();
const indicator = (page: Page): Promise<string> => page.locator('#signaling-indicator').textContent().then((t) => t ?? '');

/** Screenshots of the header and of the Connections panel, at the page's viewport size. */
async function screenshots(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}-top.png`) });
  await page.locator('.connections-panel').screenshot({ path: path.join(ARTIFACTS, `${name}-panel.png`) });
}

describe('explorer: signaling server indicator and connections', () => {
  let app: AppProcess;
  let browser: Browser;
  let url: string;
  /** tabs[0..2]: one profile; tabs[3]: another. */
  const tabs: NodeTab[] = [];
  let lone: NodeTab;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    app = await AppProcess.start();
    browser = await launchBrowser();
    const stamp = Date.now().toString(36);
    url = `${app.origin}/?cluster=signal${stamp}&adopt=off`;
    for (const count of [3, 1]) {
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      contexts.push(context);
      // The second profile joins through an invitation (issue 16).
      const first = tabs.length === 0 ? url : await tabs[0]!.invitation('adopt=off');
      for (let i = 0; i < count; i++) tabs.push(await NodeTab.open(context, i === 0 ? first : url));
    }
    // A tab of a cluster of its own, in a profile of its own: it meets no one.
    const loneContext = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    contexts.push(loneContext);
    lone = await NodeTab.open(loneContext, `${app.origin}/?cluster=lone${stamp}&adopt=off`);
    await Promise.all(tabs.map((tab) => tab.waitMembers(4, 60_000)));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.kill();
  });

  it('says the server is reachable, and lists each connection with how it was set up, as connections() does', async () => {
    for (const tab of [...tabs, lone]) await waitFor('the indicator to say reachable', async () => (await indicator(tab.page)) === 'Signaling server: reachable');
    const page = tabs[0]!.page;
    const sameProfile = await Promise.all(tabs.slice(1, 3).map((tab) => tab.id()));
    // Tabs of this profile were connected over BroadcastChannel, and the panel says so.
    await waitFor('open connections to both other tabs of this profile', () =>
      page.evaluate((ids) => ids.every((id) => window.dynamo!.connections(id).some((c) => c.state === 'open' && c.setup?.path === 'same-browser')), sameProfile),
    30_000);
    await waitFor('the panel to show them set up in this browser', async () => {
      const rows = await panelRows(page);
      return sameProfile.every((id) => rows.some(([node, , setup]) => node === id && setup === 'same browser'));
    });
    // Every row of the panel is a connection of the API, and the reverse (the panel redraws within 2 s).
    await waitFor('the panel to list what connections() lists', async () => {
      const [shown, api] = await Promise.all([panelRows(page), apiRows(page)]);
      return api.length > 0 && JSON.stringify(sorted(shown)) === JSON.stringify(sorted(api));
    });
    // The other profile's tab is not in this browser: its connection was set up through the server or the cluster.
    const other = await tabs[3]!.id();
    for (const [node, , setup] of await panelRows(page)) if (node === other) expect(setup).toMatch(/^(server|relay( via [a-z0-9]+)?)$/);
    // This browser's tabs, and the setups per path, as signalingStatus() has them.
    await waitFor('the tabs of this browser listed', async () => JSON.stringify((await page.locator('#same-browser li[data-node]').evaluateAll((items) => items.map((i) => (i as HTMLElement).dataset.node))).sort()) === JSON.stringify([...sameProfile].sort()));
    // In the colours the legend gives those nodes.
    await waitFor('the tabs of this browser in their legend colours', () =>
      page.evaluate(() => {
        const colourOf = (el: Element | null): string => (el ? getComputedStyle(el).backgroundColor : 'none');
        const legend = new Map([...document.querySelectorAll('#legend li')].map((li) => [(li as HTMLElement).dataset.node!, colourOf(li.querySelector('.swatch'))]));
        return [...document.querySelectorAll('#same-browser li[data-node], #connections tr[data-node]')].every((item) => colourOf(item.querySelector('.swatch')) === legend.get((item as HTMLElement).dataset.node!));
      }),
    );
    await waitFor('the per-path table to match signalingStatus()', async () => {
      const shown = await page.locator('#signaling-paths tbody tr').evaluateAll((rows) => rows.map((tr) => [(tr as HTMLElement).dataset.path, Number(tr.querySelector('[data-col=setups]')!.textContent), Number(tr.querySelector('[data-col=offersSent]')!.textContent)]));
      const status = await page.evaluate(() => window.dynamo!.signalingStatus());
      return JSON.stringify(shown) === JSON.stringify((['same-browser', 'relay', 'server'] as const).map((p) => [p, status.setups[p], status.offersSent[p]]));
    });
    // How each open connection travels (issue 17): on one machine with no STUN/TURN server, a direct
    // pair of host candidates, as connectionPaths() reports from getStats; the panel says so.
    const paths = await waitFor('network paths of the open connections', async () => {
      const found = await page.evaluate(() => window.dynamo!.node.connectionPaths());
      return found.length > 0 && found;
    });
    for (const path of paths) expect([path.localType, path.remoteType, path.protocol]).toEqual(['host', 'host', 'udp']);
    await waitFor('the panel to show a direct path with its round trip', async () => {
      const cells = await page.locator('#connections tbody tr[data-state=open] [data-col=network]').allTextContents();
      return cells.length > 0 && cells.every((text) => /^direct: host ↔ host, udp(, (<1|\d+) ms)?$/.test(text));
    });
    expect(await page.locator('#ice-status').textContent()).toMatch(/^STUN\/TURN servers: none/);
    expect(await page.evaluate(() => window.dynamo!.node.iceStatus().urls)).toEqual([]);
    expect(await page.locator('#first-contact').isHidden()).toBe(true);
    // A lone tab with the server open is alone, not waiting for a first contact.
    expect(await lone.page.locator('#first-contact').isHidden()).toBe(true);
    await screenshots(page, 'explorer-signaling-reachable');
    await page.setViewportSize({ width: 400, height: 800 });
    await screenshots(page, 'explorer-signaling-reachable-narrow');
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  it('says the server is unreachable with a retry countdown when it is killed, and reachable again once it is back', async () => {
    await app.kill();
    const page = tabs[0]!.page;
    for (const tab of tabs) {
      await waitFor('the indicator to count down to a retry', async () => /^Signaling server: unreachable — retrying (in \d+ s|now) \(attempt \d+\)/.test(await indicator(tab.page)), 30_000);
    }
    // The countdown is the router's next retry, give or take a redraw.
    await waitFor('a countdown that matches nextRetryAtMs', () =>
      page.evaluate(() => {
        const server = window.dynamo!.signalingStatus().server;
        const shown = /retrying in (\d+) s/.exec(document.querySelector('#signaling-indicator')!.textContent!)?.[1];
        if (server.state !== 'unreachable' || server.nextRetryAtMs === undefined || shown === undefined) return false;
        return Math.abs(Number(shown) - (server.nextRetryAtMs - Date.now()) / 1000) <= 2;
      }),
    );
    // Members still connected: the cluster works through them.
    await waitFor('the indicator to say the cluster still works', async () => (await indicator(page)).includes('The cluster still works through its members'));
    // The lone tab met no one: it waits for a first contact, and serves its stored data meanwhile.
    await waitFor('the first-contact notice', async () => (await lone.page.locator('#first-contact').isVisible()) && /waiting for a first contact/.test((await lone.page.locator('#first-contact').textContent()) ?? ''), 30_000);
    expect(await lone.page.locator('#status').textContent()).toBe('waiting for a first contact');
    expect(await page.locator('#log li', { hasText: 'signaling server unreachable' }).count()).toBeGreaterThan(0);
    await screenshots(page, 'explorer-signaling-unreachable');
    await lone.page.screenshot({ path: path.join(ARTIFACTS, 'explorer-signaling-first-contact.png') });
    await page.setViewportSize({ width: 400, height: 800 });
    await screenshots(page, 'explorer-signaling-unreachable-narrow');
    await lone.page.setViewportSize({ width: 400, height: 800 });
    await lone.page.screenshot({ path: path.join(ARTIFACTS, 'explorer-signaling-first-contact-narrow.png') });
    await page.setViewportSize({ width: 1366, height: 768 });

    await app.restart();
    // Retries back off to at most 30 s (±20 %).
    for (const tab of [...tabs, lone]) await waitFor('the indicator to say reachable again', async () => (await indicator(tab.page)) === 'Signaling server: reachable', 60_000);
    expect(await lone.page.locator('#first-contact').isHidden()).toBe(true);
    await waitFor('the log to say so', async () => (await page.locator('#log li', { hasText: 'signaling server reachable again' }).count()) > 0);
  }, 180_000);
});
