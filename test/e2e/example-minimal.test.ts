/**
 * The library as another app uses it (issue 17, item 3): examples/minimal imports only `tabdynamo`,
 * which resolves through package.json `exports` to the library build (`npm run build:lib`, which
 * `npm test` runs before this suite). The test builds the example with its own Vite config, recording
 * every module that goes into the app and its workers; type-checks it against the shipped declarations;
 * then serves it (with the signaling plugin) and opens it in Chromium, where it must start its node,
 * read back the value it wrote, and run its Merkle trees in the library's worker.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { build, preview, type Plugin, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, REPO, waitFor } from './fixtures.js';

const EXAMPLE = path.join(REPO, 'examples', 'minimal');
const CONFIG = path.join(EXAMPLE, 'vite.config.ts');
const LIBRARY = path.join(REPO, 'dist-lib', 'tabdynamo.js');

/** A plugin that records the id of every module a build (the app's, or a worker's) takes in. */
function moduleRecorder(ids: Set<string>): Plugin {
  return {
    name: 'test:module-recorder',
    generateBundle() {
      for (const id of this.getModuleIds()) ids.add(id);
    },
  };
}

describe('examples/minimal on the library build', () => {
  /** Files (absolute, `/` separators) that went into the example's bundle and its workers'. */
  const modules = new Set<string>();
  let server: PreviewServer;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    if (!existsSync(LIBRARY)) throw new Error('dist-lib/ is missing: run `npm run build:lib` first (npm test does)');
    await build({
      configFile: CONFIG,
      logLevel: 'silent',
      plugins: [moduleRecorder(modules)],
      worker: { plugins: () => [moduleRecorder(modules)] },
    });
    server = await preview({ configFile: CONFIG, logLevel: 'silent', preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
    origin = `http://127.0.0.1:${(server.httpServer.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('bundles the library build and its workers, and no file of src/', () => {
    const files = [...modules].filter((id) => !id.startsWith('\0')).map((id) => id.split('?')[0]!);
    expect(files).toContain(LIBRARY.split(path.sep).join('/'));
    const lib = path.join(REPO, 'dist-lib', 'assets').split(path.sep).join('/');
    expect(files.some((f) => f.startsWith(`${lib}/merkle-worker-`))).toBe(true);
    expect(files.some((f) => f.startsWith(`${lib}/tick-worker-`))).toBe(true);
    const src = `${path.join(REPO, 'src').split(path.sep).join('/')}/`;
    expect(files.filter((f) => f.startsWith(src))).toEqual([]);
  });

  it('type-checks against the declarations the package ships', () => {
    const tsc = spawnSync(path.join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', path.join(EXAMPLE, 'tsconfig.json')], { cwd: REPO, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('starts a node, reads back the value it wrote, and runs its Merkle trees in the worker', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Scripts the page and its workers fetched, with their HTTP status.
    const scripts = new Map<string, number>();
    page.on('response', (response) => {
      if (response.url().endsWith('.js')) scripts.set(new URL(response.url()).pathname, response.status());
    });
    await page.goto(`${origin}/`);
    const result = await waitFor('the example to show what it read', async () => {
      const text = (await page.textContent('#result')) ?? '';
      return text === '—' ? undefined : text;
    });
    expect(result).toBe('{"text":"hello from tabdynamo"}');
    expect(await page.textContent('#node')).toMatch(/^[0-9a-z]+$/);
    expect(await page.textContent('#merkle')).toBe('worker');
    // The tick worker fails silently (the node falls back to a page timer): check that it loaded. Its
    // script may still be on its way when the result shows, so wait for both workers' responses.
    const workers = await waitFor('both workers\' scripts fetched', () => {
      const fetched = [...scripts].filter(([file]) => /\/(merkle|tick)-worker-/.test(file));
      return fetched.length === 2 ? fetched : undefined;
    });
    expect(workers.map(([file, status]) => `${file.includes('merkle') ? 'merkle' : 'tick'} ${status}`).sort()).toEqual(['merkle 200', 'tick 200']);
    expect(errors).toEqual([]);
  });
});
