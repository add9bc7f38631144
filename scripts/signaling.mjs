#!/usr/bin/env node
// Standalone PeerJS signaling server for deployments where the app is served as static files
// (`npm run build`) from somewhere that cannot run the Vite plugin.
//
//   node scripts/signaling.mjs [--port 9000] [--host 127.0.0.1]
//   PORT=9000 HOST=0.0.0.0 node scripts/signaling.mjs
//
// A flag wins over the environment. `--port 0` picks a free port; the printed URL shows which.
// It serves the same URLs as the Vite plugin (src/signaling/signaling-plugin.ts): mount path
// /peerjs, peer list at /peerjs/peerjs/peers, WebSocket at /peerjs/peerjs. It stores nothing.
import { parseArgs } from 'node:util';
import { PeerServer } from 'peer';
import { WebSocketServer } from 'ws';

// Keep in step with SIGNALING_PATH and the frame limit in src/signaling/signaling-plugin.ts.
const SIGNALING_PATH = '/peerjs';
const SIGNALING_KEY = 'peerjs';
const MAX_SIGNALING_FRAME = 64 * 1024;

function fail(message) {
  process.stderr.write(`signaling: ${message}\n`);
  process.exit(1);
}

let flags;
try {
  ({ values: flags } = parseArgs({
    options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  }));
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
if (flags.help) {
  process.stdout.write('usage: node scripts/signaling.mjs [--port N] [--host ADDR]  (or PORT, HOST)\n');
  process.exit(0);
}

const portText = flags.port ?? process.env.PORT ?? '9000';
const port = Number(portText);
if (!/^\d+$/.test(portText) || port > 65535) fail(`invalid port "${portText}"`);
const host = flags.host ?? process.env.HOST ?? '127.0.0.1';

const app = PeerServer(
  {
    host,
    port,
    path: SIGNALING_PATH,
    key: SIGNALING_KEY,
    allow_discovery: true,
    createWebSocketServer: (options) => new WebSocketServer({ ...options, maxPayload: MAX_SIGNALING_FRAME }),
  },
  (server) => {
    const address = server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const origin = `http://${shownHost}:${boundPort}`;
    process.stdout.write(
      `Signaling server (PeerJS, discovery on): ${origin}${SIGNALING_PATH}\n` +
        `  peer list: ${origin}${SIGNALING_PATH}/${SIGNALING_KEY}/peers\n` +
        `  peerjs client: { host: '${shownHost}', port: ${boundPort}, path: '${SIGNALING_PATH}/', secure: false }\n`,
    );
  },
);

// Listen errors (address in use, permission) reach here through the WebSocket server, which
// re-emits the HTTP server's errors; so do per-client socket errors and malformed frames, which
// are untrusted input and are dropped.
app.on('error', (err) => {
  const code = err && typeof err === 'object' && 'code' in err ? err.code : undefined;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    fail(`cannot listen on ${host}:${port}: ${err.message}`);
  }
});

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(0));
