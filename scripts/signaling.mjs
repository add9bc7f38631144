#!/usr/bin/env node
// Standalone PeerJS signaling server for deployments where the app is served as static files
// (`npm run build`) from somewhere that cannot run the Vite plugin.
//
//   node scripts/signaling.mjs [--port 9000] [--host 127.0.0.1]
//   PORT=9000 HOST=0.0.0.0 node scripts/signaling.mjs
//
// A flag wins over the environment. `--port 0` picks a free port; the printed URL shows which.
// It is the same server as the Vite plugin's, built by the same function (attachSignaling in
// src/signaling/signaling-server.ts), with the same URLs and the same guard (issue 16): a peer id
// registers only with a signature by its node's key, the listing answers one tag at a time
// (/peerjs/peerjs/peers?tag=<tag>), /peerjs/stats counts refusals, and each address and socket is
// rate limited (defaults in src/signaling/signaling-guard.ts). It stores nothing.
//
// That shared code is TypeScript: it is loaded through tsx (a dependency of this repository), so run
// the script from a checkout with its dependencies installed.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

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

const [{ attachSignaling }, { SIGNALING_KEY }] = await Promise.all([
  tsImport('../src/signaling/signaling-server.ts', import.meta.url),
  tsImport('../src/signaling/signaling-urls.ts', import.meta.url),
]);

const server = createServer();
// Listen errors (address in use, permission) end the process; per-client errors never reach here.
server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.message}`));
const signaling = await attachSignaling(server);
server.on('request', (req, res) => {
  if (signaling.handleRequest(req, res)) return;
  res.statusCode = 404;
  res.end();
});
server.listen(port, host, () => {
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const origin = `http://${shownHost}:${boundPort}`;
  process.stdout.write(
    `Signaling server (PeerJS, signed registration, scoped listing): ${origin}${signaling.path}\n` +
      `  peer list: ${origin}${signaling.path}/${SIGNALING_KEY}/peers?tag=<tag>\n` +
      `  stats: ${origin}${signaling.path}/stats\n` +
      `  peerjs client: { host: '${shownHost}', port: ${boundPort}, path: '${signaling.path}/', secure: false }\n`,
  );
});

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(0));
