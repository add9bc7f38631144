/**
 * The example's own Vite config. `tabdynamo` is not aliased: it resolves as a package, through the
 * repo's package.json `exports`, to the library build in dist-lib/ (run `npm run build:lib` first).
 * The dev and preview servers also serve signaling on `/peerjs` and the STUN/TURN configuration on
 * `/api/ice-config` (set by TABDYNAMO_* environment variables), as the app's own servers do: a node
 * started with `signaling: peerClientOptions(location)` finds both on the page's origin.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { iceConfigPlugin } from '../../src/server/ice-config';
import { signalingPlugin } from '../../src/signaling/signaling-plugin';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [signalingPlugin(), iceConfigPlugin()],
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: fileURLToPath(new URL('../../dist-example', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  worker: { format: 'es' },
});
