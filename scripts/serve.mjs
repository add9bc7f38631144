#!/usr/bin/env node
// Serves the built app to other devices (issue 17): the app, its signaling server and its ICE
// configuration on one HTTPS port of a LAN or public address, so that every device gets a secure
// context (Web Locks, crypto.subtle and service workers exist only there).
//
//   npm run build
//   npm run serve -- --host 192.168.1.20 --self-signed
//   npm run serve -- --host 0.0.0.0 --port 443 --cert fullchain.pem --key privkey.pem \
//       --stun stun:turn.example.org:3478 --turn turn:turn.example.org:3478 --turn-secret "$TURN_SECRET"
//
// Flags:
//   --host ADDR         address to listen on (default 0.0.0.0: every interface)
//   --port N            port (default 8443; 0 picks a free one)
//   --cert F --key F    the certificate (PEM, with its chain) and its key, e.g. from Let's Encrypt
//   --self-signed       a certificate made now for --host (and --name, localhost): for a LAN. Browsers
//                       warn once per device ("Your connection is not private" → Advanced → Proceed);
//                       the page then works, but a browser does not install the service worker of a
//                       page whose certificate it does not trust, so the app does not open offline
//   --name DNS          another name the self-signed certificate covers (repeatable)
//   --stun URL          a STUN server handed to tabs (repeatable)
//   --turn URL          a TURN server handed to tabs (repeatable), with --turn-secret
//   --turn-secret S     coturn's static-auth-secret: tabs get short-lived credentials (TURN REST)
//   --turn-ttl S        their lifetime, s (default 86400)
//   --dist DIR          the built app (default dist)
// The environment variables TABDYNAMO_STUN_URLS, TABDYNAMO_TURN_URLS, TABDYNAMO_TURN_SECRET and
// TABDYNAMO_TURN_TTL_S do the same as the ICE flags (a flag wins).
//
// Prints `tabdynamo serving https://<host>:<port>/` once it listens.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(message) {
  process.stderr.write(`serve: ${message}\n`);
  process.exit(1);
}

let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'self-signed': { type: 'boolean' },
      name: { type: 'string', multiple: true },
      stun: { type: 'string', multiple: true },
      turn: { type: 'string', multiple: true },
      'turn-secret': { type: 'string' },
      'turn-ttl': { type: 'string' },
      dist: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
if (flags.help) {
  const header = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3));
  process.stdout.write(`${header.join('\n')}\n`);
  process.exit(0);
}

const host = flags.host ?? '0.0.0.0';
const portText = flags.port ?? '8443';
if (!/^\d+$/.test(portText) || Number(portText) > 65535) fail(`invalid port "${portText}"`);
const port = Number(portText);
const dist = path.resolve(REPO, flags.dist ?? 'dist');
if (!existsSync(path.join(dist, 'index.html'))) fail(`${dist} has no built app: run \`npm run build\` first`);

if ((flags.cert === undefined) !== (flags.key === undefined)) fail('--cert and --key go together');
if (flags.cert !== undefined && flags['self-signed']) fail('use either --cert/--key or --self-signed');
if (flags.cert === undefined && !flags['self-signed']) fail('HTTPS needs a certificate: --cert F --key F, or --self-signed for a LAN');

// The ICE settings reach the app's config (src/server/ice-config.ts) through the environment.
if (flags.stun) process.env.TABDYNAMO_STUN_URLS = flags.stun.join(',');
if (flags.turn) process.env.TABDYNAMO_TURN_URLS = flags.turn.join(',');
if (flags['turn-secret']) process.env.TABDYNAMO_TURN_SECRET = flags['turn-secret'];
if (flags['turn-ttl']) process.env.TABDYNAMO_TURN_TTL_S = flags['turn-ttl'];

/** A certificate for this host, made now: valid 30 days, for the address(es) it serves and the names given. */
async function selfSigned() {
  const { generate } = await import('selfsigned');
  const ips = new Set(['127.0.0.1']);
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (!i.internal) ips.add(i.address);
  } else if (/^[\d.]+$|:/.test(host)) ips.add(host);
  const names = new Set(['localhost', ...(flags.name ?? [])]);
  if (!/^[\d.]+$|:/.test(host) && host !== '0.0.0.0') names.add(host);
  const notAfterDate = new Date(Date.now() + 30 * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: [...names][names.size - 1] ?? 'tabdynamo' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...[...names].map((value) => ({ type: 2, value })), ...[...ips].map((ip) => ({ type: 7, ip }))] },
    ],
  });
  process.stdout.write(`self-signed certificate for ${[...names, ...ips].join(', ')} (SHA-256 ${new X509Certificate(pems.cert).fingerprint256}), valid until ${notAfterDate.toISOString().slice(0, 10)}\n`);
  return { cert: pems.cert, key: pems.private };
}

const https = flags.cert !== undefined ? { cert: readFileSync(flags.cert), key: readFileSync(flags.key) } : await selfSigned();

const { preview } = await import('vite');
let server;
try {
  server = await preview({
    root: REPO,
    configFile: path.join(REPO, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: dist },
    preview: { host, port, strictPort: true, open: false, https },
  });
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
const address = server.httpServer.address();
const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
process.stdout.write(`tabdynamo serving https://${shown}:${address.port}/\n`);
const stop = () => {
  void server.close().finally(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
