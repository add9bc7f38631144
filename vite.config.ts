import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import { SIGNALING_PATH, signalingPlugin } from './src/signaling/signaling-plugin';
import { contentSecurityPolicyPlugin } from './src/server/content-security-policy';

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

export default defineConfig({
  plugins: [contentSecurityPolicyPlugin(), signalingPlugin(), announceSignaling()],
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
  build: {
    target: 'es2022',
    rollupOptions: {
      // The app; the floor page `npm run bench` measures raw data channels and IndexedDB with; and the
      // page `bench/merkle-bench.ts` times the Merkle worker on; the page that runs many nodes in one tab
      // for `bench/explorer-bench.ts`.
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        bench: fileURLToPath(new URL('./bench/index.html', import.meta.url)),
        merkle: fileURLToPath(new URL('./bench/merkle.html', import.meta.url)),
        clusterHost: fileURLToPath(new URL('./bench/cluster-host.html', import.meta.url)),
      },
    },
  },
  worker: { format: 'es' },
});
