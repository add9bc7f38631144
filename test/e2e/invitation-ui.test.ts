/**
 * The invitation as a user meets it (issue 16): a first tab starts a cluster of its own and says so;
 * its Invite dialog (opened from the keyboard) shows the link, a QR code of it and a Copy button
 * (which puts the link on the clipboard, or selects it when the browser refuses); the console's
 * `invitation()` gives the same link. Another browser profile opening the link joins, and its
 * address bar keeps no fragment; a profile opening the cluster's name without the link is told it
 * started a cluster of its own. A removal made by the first tab is listed with who removed whom.
 */
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ARTIFACTS, launchBrowser, NodeTab, waitFor } from './fixtures.js';

const VIEWPORT = { width: 1280, height: 860 };

/** The invitation link field's value, once the dialog shows one. */
const shownLink = (page: Page): Promise<string> => page.locator('#invite-link').inputValue();

describe('invitation UI', () => {
  let app: AppProcess;
  let browser: Browser;
  let cluster: string;
  let first: NodeTab;
  let firstContext: BrowserContext;
  let link = '';

  beforeAll(async () => {
    app = await AppProcess.start();
    browser = await launchBrowser();
    cluster = `inv${Date.now().toString(36)}`;
    firstContext = await browser.newContext({ viewport: VIEWPORT });
    await firstContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.origin });
    first = await NodeTab.open(firstContext, `${app.origin}/?cluster=${cluster}&adopt=off`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.kill();
  });

  it('tells the first tab of a cluster that it started a new cluster, and how to join another one instead', async () => {
    const page = first.page;
    expect(await page.evaluate(() => window.dynamo!.node.secretSource)).toBe('created');
    const notice = page.locator('#new-cluster');
    await notice.waitFor({ state: 'visible' });
    expect(await notice.textContent()).toContain(`started a new cluster named “${cluster}”`);
    expect(await notice.textContent()).toContain('invitation link');
    expect(await page.evaluate(() => location.hash)).toBe('');
  });

  it('opens the Invite dialog from the keyboard with the link, a QR code of it and a warning', async () => {
    const page = first.page;
    await page.locator('#invite-open').focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('#invite-dialog');
    await dialog.waitFor({ state: 'visible' });
    expect(await dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);
    expect(await page.locator('#invite-open').getAttribute('aria-expanded')).toBe('true');
    link = await shownLink(page);
    expect(link).toContain(`?cluster=${cluster}`);
    expect(link).toContain('#invite=');
    expect(link.startsWith(app.origin)).toBe(true);
    expect(await page.evaluate(() => window.dynamo!.invitation())).toBe(link);
    expect(await dialog.textContent()).toContain('Anyone with this link can join this cluster');
    // The QR code: a labelled SVG image with dark modules, large enough for a phone to scan off the screen.
    const qr = page.locator('#invite-qr');
    expect(await qr.getAttribute('role')).toBe('img');
    expect(await qr.getAttribute('aria-label')).toContain('QR code of the invitation link');
    expect((await qr.locator('path').getAttribute('d'))?.length ?? 0).toBeGreaterThan(100);
    const box = await qr.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThanOrEqual(200);
    expect(box?.height ?? 0).toBeGreaterThanOrEqual(200);
    // Focus is inside the dialog (on Copy).
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('invite-copy');
    await page.screenshot({ path: '/tmp/invite-panel.png' });
    await page.screenshot({ path: path.join(ARTIFACTS, 'invite-panel.png') });
  });

  it('copies the link to the clipboard, and selects it when the browser refuses', async () => {
    const page = first.page;
    await page.locator('#invite-copy').click();
    await waitFor('the Copied confirmation', async () => (await page.locator('#invite-copy-result').textContent())?.includes('Copied'));
    expect(await page.locator('#invite-copy').textContent()).toBe('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    // A browser that refuses the clipboard: the link is selected instead, and the page says how to copy it.
    await page.evaluate(() => {
      navigator.clipboard.writeText = () => Promise.reject(new DOMException('refused', 'NotAllowedError'));
    });
    await page.locator('#invite-copy').click();
    await waitFor('the refusal to be shown', async () => (await page.locator('#invite-copy-result').getAttribute('data-state')) === 'error');
    expect(await page.locator('#invite-copy-result').textContent()).toContain('Ctrl+C');
    const selection = await page.evaluate(() => {
      const field = document.getElementById('invite-link') as HTMLInputElement;
      return { focused: document.activeElement === field, start: field.selectionStart, end: field.selectionEnd, length: field.value.length };
    });
    expect(selection).toMatchObject({ focused: true, start: 0, end: link.length, length: link.length });
  });

  it('closes with Escape and gives the focus back to the Invite button', async () => {
    const page = first.page;
    await page.keyboard.press('Escape');
    await page.locator('#invite-dialog').waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('invite-open');
    expect(await page.locator('#invite-open').getAttribute('aria-expanded')).toBe('false');
  });

  it('lets another browser profile join through the link, and leaves no fragment in its address bar', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const invited = await NodeTab.open(context, link);
    const page = invited.page;
    expect(await page.evaluate(() => window.dynamo!.node.secretSource)).toBe('invited');
    const address = await page.evaluate(() => ({ hash: location.hash, href: location.href }));
    expect(address.hash).toBe('');
    expect(address.href).not.toContain('#');
    expect(address.href).not.toContain('invite=');
    expect(address.href).toContain(`?cluster=${cluster}`);
    await Promise.all([first.waitMembers(2, 60_000), invited.waitMembers(2, 60_000)]);
    expect(await page.locator('#new-cluster').isHidden()).toBe(true);
    // The first tab is no longer alone: its notice goes.
    await first.page.locator('#new-cluster').waitFor({ state: 'hidden' });
    // The handshake counters of the Connections panel count the accepted handshake.
    await waitFor('an accepted handshake shown', async () => Number(await first.page.locator('#security-counters [data-counter="handshakes accepted"] .value').textContent()) >= 1, 30_000);
    expect(await first.page.locator('#handshake-refusals').textContent()).toMatch(/^Handshakes refused, by reason: /);

    // The first tab removes the invited node: the Nodes panel lists the removal, attributed to it.
    const [firstId, invitedId] = await Promise.all([first.id(), invited.id()]);
    await context.close();
    await first.page.evaluate((id) => window.dynamo!.remove(id), invitedId);
    // (Read as text: the Nodes panel may be off screen, where the page skips its rendering.)
    const line = first.page.locator('#removals li');
    await waitFor('the removal listed', async () => (await line.count()) > 0 && !(await first.page.locator('.removals').evaluate((box) => (box as HTMLElement).hidden)), 10_000);
    expect(await line.first().textContent()).toMatch(new RegExp(`^${invitedId} removed by ${firstId} \\(this tab\\) at .+`));
    expect(await line.first().locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await first.page.evaluate(() => window.dynamo!.removals().map((r) => [r.target, r.by]))).toContainEqual([invitedId, firstId]);
    await first.page.locator('.removals').scrollIntoViewIfNeeded();
    await first.page.locator('.members-panel').screenshot({ path: path.join(ARTIFACTS, 'invite-removals.png') });
    await first.page.locator('#security-counters').scrollIntoViewIfNeeded();
    await first.page.locator('.connections-panel').screenshot({ path: path.join(ARTIFACTS, 'invite-handshakes.png') });
  });

  it('tells a profile that opens the cluster name without an invitation that it started a cluster of its own', async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const stranger = await NodeTab.open(context, `${app.origin}/?cluster=${cluster}&adopt=off`);
    expect(await stranger.page.evaluate(() => window.dynamo!.node.secretSource)).toBe('created');
    const notice = stranger.page.locator('#new-cluster');
    await notice.waitFor({ state: 'visible' });
    expect(await notice.textContent()).toContain('ask one of its members for its invitation link');
    // Dismissed, it stays away.
    await stranger.page.locator('#new-cluster-dismiss').click();
    await notice.waitFor({ state: 'hidden' });
    await stranger.page.waitForTimeout(600);
    expect(await notice.isHidden()).toBe(true);
    await context.close();
  });
});
