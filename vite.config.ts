import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { SIGNALING_PATH, signalingPlugin } from './src/signaling/signaling-plugin';
import { contentSecurityPolicyPlugin } from './src/server/content-security-policy';
import { iceConfigPlugin } from './src/server/ice-config';

/** After Vite's own URL lines, one line on where signaling lives and what a tab is. */
function announceSignaling(): Plugin {
  const announce = (server: {
    printUrls(): void;
    resolvedUrls: { local: string[] } | null;
    config: { logger: { info(msg: string): void } };
  }): void => {
    const printUrls = server.printUrls.bind(server);
    server.printUrls = () => {
      printUrls();
      const origin = server.resolvedUrls?.local[0]?.replace(/\/+$/, '');
      if (origin === undefined) return;
      server.config.logger.info(
        `  ➜  Signaling: ${origin}${SIGNALING_PATH} (same port); every tab you open is a storage node`,
      );
    };
  };
  return { name: 'tabdynamo:announce', configureServer: announce, configurePreviewServer: announce };
}

/**
 * The files of the built bundle that only the bench pages use (their HTML and the chunks no page of the
 * app reaches), found after each build, so that the service worker does not precache them.
 */
function benchOnlyFiles(): Plugin & { files: Set<string> } {
  const files = new Set<string>();
  return {
    name: 'tabdynamo:bench-only-files',
    apply: 'build',
    files,
    generateBundle(_options, bundle) {
      files.clear();
      const reachable = new Set<string>();
      const visit = (fileName: string): void => {
        const chunk = bundle[fileName];
        if (reachable.has(fileName) || chunk?.type !== 'chunk') return;
        reachable.add(fileName);
        for (const next of [...chunk.imports, ...chunk.dynamicImports]) visit(next);
      };
      for (const chunk of Object.values(bundle)) {
        if (chunk.type === 'chunk' && chunk.isEntry && chunk.name === 'main') visit(chunk.fileName);
      }
      for (const [fileName, output] of Object.entries(bundle)) {
        if ((output.type === 'chunk' && !reachable.has(fileName)) || (output.type === 'asset' && fileName.startsWith('bench/'))) files.add(fileName);
      }
    },
  };
}

const benchOnly = benchOnlyFiles();

/**
 * The service worker (vite-plugin-pwa, Workbox `generateSW`): it precaches the app shell (index.html),
 * its JS and CSS chunks, the Merkle and clock workers and public/ assets, so that the app opens offline.
 * Updates are prompted, never forced: a new worker waits (the old version's files stay cached) until a
 * tab's "Reload" (src/ui/app-update.ts) tells it to take over, and then the open tabs reload onto it. Only
 * navigations to the app page itself fall back to the cached shell; signaling (`/peerjs`, HTTP and
 * WebSocket) and anything not precached go to the network untouched.
 */
const serviceWorker = VitePWA({
  registerType: 'prompt',
  // Registered from the app's own bundle (virtual:pwa-register): the CSP allows no inline script.
  injectRegister: false,
  manifest: false,
  devOptions: { enabled: false },
  workbox: {
    globPatterns: ['**/*.{js,css,html,svg,png,ico,woff2}'],
    globIgnores: ['bench/**'],
    manifestTransforms: [async (entries) => ({ manifest: entries.filter((entry) => !benchOnly.files.has(entry.url)), warnings: [] })],
    navigateFallback: 'index.html',
    navigateFallbackAllowlist: [/^\/(?:index\.html)?(?:\?.*)?$/],
    navigateFallbackDenylist: [new RegExp(`^${SIGNALING_PATH}`)],
    cleanupOutdatedCaches: true,
    // The first install takes the open tabs at once (there is no older version to break); an update
    // waits for a tab's "Reload" (skipWaiting only on its message).
    clientsClaim: true,
    skipWaiting: false,
  },
});

export default defineConfig({
  plugins: [contentSecurityPolicyPlugin(), signalingPlugin(), iceConfigPlugin(), announceSignaling(), benchOnly, serviceWorker],
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
  build: {
    target: 'es2022',
    rollupOptions: {
      // The app; the floor page `npm run bench` measures raw data channels and IndexedDB with; and the
      // page `bench/merkle-bench.ts` times the Merkle worker on; the page that runs many nodes in one tab
      // for `bench/explorer-bench.ts`; the node tab without the app's page and the Yjs tab that
      // `bench/peers-bench.ts` measures side by side.
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        bench: fileURLToPath(new URL('./bench/index.html', import.meta.url)),
        merkle: fileURLToPath(new URL('./bench/merkle.html', import.meta.url)),
        clusterHost: fileURLToPath(new URL('./bench/cluster-host.html', import.meta.url)),
        peersNode: fileURLToPath(new URL('./bench/peers-node.html', import.meta.url)),
        peersYjs: fileURLToPath(new URL('./bench/peers-yjs.html', import.meta.url)),
      },
    },
  },
  worker: { format: 'es' },
});
