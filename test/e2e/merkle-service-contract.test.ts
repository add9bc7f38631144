/**
 * The MerkleService contract (test/contract/merkle-service-contract.ts) against the Web Worker
 * implementation (src/merkle/worker-merkle-service.ts) in real Chromium: the page
 * `merkle-service-contract.html` bundles the very cases the Node runner uses
 * (test/contract/in-process-merkle-service.test.ts) and runs them one at a time, each with fresh
 * workers over fresh IndexedDB databases.
 *
 * The page is not an entry of the app's build (vite.config.ts lists the app and the bench pages), so
 * this test bundles it by itself with Vite — the page and the worker chunk, in `dist-merkle-contract/`
 * — and serves that folder with Vite's preview server. It needs no app build, signaling, or tabs.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { merkleServiceContract } from '../contract/merkle-service-contract.js';
import { launchBrowser, REPO } from './fixtures.js';

const OUT_DIR = path.join(REPO, 'dist-merkle-contract');
const PAGE = 'test/e2e/merkle-service-contract.html';

describe('MerkleService contract: WorkerMerkleService in Chromium', () => {
  let server: PreviewServer | undefined;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    await build({
      root: REPO,
      configFile: false,
      logLevel: 'warn',
      build: { outDir: OUT_DIR, emptyOutDir: true, target: 'es2022', rollupOptions: { input: path.join(REPO, PAGE) } },
      worker: { format: 'es' },
    });
    server = await preview({
      root: REPO,
      configFile: false,
      logLevel: 'silent',
      build: { outDir: OUT_DIR },
      preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
    });
    const address = server.httpServer.address() as { port: number };
    browser = await launchBrowser();
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${address.port}/${PAGE}`);
    await page.waitForFunction(() => window.merkleContract !== undefined, undefined, { timeout: 30_000 }).catch((error: unknown) => {
      throw new Error(`the contract page did not load: ${errors.join('; ') || String(error)}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('the page runs the same cases as the Node runner', async () => {
    expect(await page.evaluate(() => window.merkleContract!.cases)).toEqual(merkleServiceContract.map((c) => c.name));
  });

  for (const contractCase of merkleServiceContract) {
    it(contractCase.name, async () => {
      const outcome = await page.evaluate((name) => window.merkleContract!.run(name), contractCase.name);
      expect(outcome.error).toBeUndefined();
      expect(outcome.workers, 'Merkle workers the case started').toBeGreaterThan(0);
    });
  }
});
