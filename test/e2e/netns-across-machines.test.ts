/**
 * Across machines (issue 17), on one machine: two homes, each a Chromium behind its own NAT, and a
 * public namespace serving the app over HTTPS (`scripts/serve.mjs`) with coturn for STUN and TURN
 * (topology in netns.ts). pub drops forwarded traffic between the homes, as NATs that cannot be
 * punched through would: whatever connects the homes must be relayed by TURN.
 *
 * - The HTTPS serving command on a non-loopback address: a page opened from another "machine" over
 *   https://198.51.100.1 is a secure context, its node starts, and a browser in the other home joins
 *   its cluster through an invitation.
 * - Two homes, two tabs each, form one cluster of four; a put in one home is read (R=2) in the other;
 *   every connection between the homes runs over a relayed candidate pair, the tabs' server-reflexive
 *   candidates carry their router's WAN address (STUN worked through the NAT), and pub counted the
 *   direct attempts it dropped.
 *
 * Needs root, iproute2, nftables and coturn (.ci/run installs the last two). Elsewhere it is skipped
 * with the reason, except under CI (CI runs as root and must run it), where the reason fails it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, NodeTab, waitFor } from './fixtures.js';
import { ADDRESSES, netnsUnavailable, Topology } from './netns.js';
import { AppServer, Coturn, TURN_PORT } from './netns-services.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/**
 * The suite's launch flags less loopback candidates: a home has an interface of its own, and a browser
 * on a real machine offers no 127.0.0.1 candidate (which coturn refuses to relay to anyway, 403).
 */
const HOME_CHROMIUM_ARGS = CHROMIUM_ARGS.filter((arg) => arg !== '--allow-loopback-in-peer-connection');
const unavailable = netnsUnavailable(['turnserver']);
const skip = unavailable !== undefined && !process.env.CI;
if (skip) console.warn(`netns-across-machines: skipped: ${unavailable}`);

/** A candidate as the test reads it from getStats. */
interface CandidateView {
  type: string;
  address: string;
  protocol: string;
}

/** What one RTCPeerConnection of a tab reports, from getStats (read by the test, not the app). */
interface PeerConnectionView {
  localCandidates: CandidateView[];
  selected?: { local: CandidateView; remote: CandidateView };
}

/**
 * Keeps every RTCPeerConnection a page makes, so the test can read getStats itself and cross-check
 * what the app's `connectionPaths()` reports. Runs before the page's own scripts.
 */
function trackPeerConnections(): void {
  const Native = window.RTCPeerConnection;
  const made: RTCPeerConnection[] = [];
  (window as unknown as { __tdPeerConnections: RTCPeerConnection[] }).__tdPeerConnections = made;
  window.RTCPeerConnection = class extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      made.push(this);
    }
  };
}

/** getStats of every connected RTCPeerConnection in the page. */
async function readPeerConnections(): Promise<PeerConnectionView[]> {
  const made = (window as unknown as { __tdPeerConnections?: RTCPeerConnection[] }).__tdPeerConnections ?? [];
  const views: PeerConnectionView[] = [];
  for (const pc of made) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    const byId = new Map<string, Record<string, unknown>>();
    stats.forEach((s: Record<string, unknown>) => byId.set(s.id as string, s));
    const view = (s: Record<string, unknown> | undefined): CandidateView => ({
      type: String(s?.candidateType),
      address: String(s?.address ?? s?.ip),
      protocol: String(s?.protocol),
    });
    const transport = [...byId.values()].find((s) => s.type === 'transport' && s.selectedCandidatePairId);
    const pair = transport ? byId.get(transport.selectedCandidatePairId as string) : undefined;
    views.push({
      localCandidates: [...byId.values()].filter((s) => s.type === 'local-candidate').map(view),
      ...(pair ? { selected: { local: view(byId.get(pair.localCandidateId as string)), remote: view(byId.get(pair.remoteCandidateId as string)) } } : {}),
    });
  }
  return views;
}

/** Resolves `promise`, or gives up after `ms` (for teardown steps that must not hang). */
const bounded = <T>(promise: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);

describe.skipIf(skip)(skip ? `across machines: SKIPPED, ${unavailable}` : 'across machines: two homes behind NATs, one public server', () => {
  const secret = randomBytes(18).toString('base64url');
  let topology: Topology | undefined;
  let coturn: Coturn | undefined;
  let app: AppServer | undefined;
  const browsers: Browser[] = [];
  const homes: { h1?: BrowserContext; h2?: BrowserContext } = {};
  const consoleLines: string[] = [];

  /** A fresh profile of the home's browser, trusting the app's self-signed certificate. */
  async function profile(home: 'h1' | 'h2'): Promise<BrowserContext> {
    const browser = browsers[home === 'h1' ? 0 : 1]!;
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    await context.addInitScript(trackPeerConnections);
    context.on('page', (page) => page.on('console', (m) => consoleLines.push(`[${home}] ${m.type()}: ${m.text()}`.slice(0, 500))));
    return context;
  }

  function printLogs(): void {
    console.log(`── serve.mjs ──\n${app?.printed ?? '(not started)'}`);
    console.log(`── coturn (${coturn?.logFile ?? 'not started'}) ──\n${coturn?.log().slice(-20_000) ?? ''}`);
    console.log(`── page consoles (last 200 lines) ──\n${consoleLines.slice(-200).join('\n')}`);
  }

  // A failed beforeAll only marks the tests skipped (vitest), and skipped tests count as no failure in
  // `npm test`: keep the setup's error and make each test fail with it instead.
  let setupError: unknown;
  const ready = (): void => {
    if (setupError !== undefined) throw setupError;
  };

  beforeAll(async () => {
    if (unavailable !== undefined) {
      setupError = new Error(`network namespaces are needed under CI: ${unavailable}`);
      return;
    }
    try {
      topology = await Topology.create({ forbidDirectPath: true });
      coturn = await Coturn.start(topology, secret);
      app = await AppServer.start(topology, {
        stun: [`stun:${ADDRESSES.pub}:${TURN_PORT}`],
        turn: [`turn:${ADDRESSES.pub}:${TURN_PORT}?transport=udp`],
        turnSecret: secret,
        turnTtlSeconds: 600,
      });
      // One browser per home, running inside the home's namespace (a wrapper script execs it there).
      for (const home of ['h1', 'h2'] as const) {
        browsers.push(await chromium.launch({ executablePath: topology.wrapper(home, CHROMIUM), headless: true, args: HOME_CHROMIUM_ARGS }));
      }
    } catch (error) {
      setupError = error;
      printLogs();
    }
  }, 90_000);

  afterEach((context) => {
    if (context.task.result?.state === 'fail') printLogs();
  });

  afterAll(async () => {
    for (const browser of browsers) await bounded(browser.close(), 10_000);
    // Stops coturn and the server too, kills anything left in the namespaces, and removes them.
    await topology?.destroy();
  }, 60_000);

  it('serves the app over HTTPS on a non-loopback address: a page from another home is a secure context, starts its node and joins through an invitation', async () => {
    ready();
    // The certificate covers the address it is served on (checked from home 2, as a client there would).
    const certificate = JSON.parse(
      await topology!.exec('h2', process.execPath, [
        '-e',
        `const tls = require('node:tls');
         const socket = tls.connect({ host: '${ADDRESSES.pub}', port: ${new URL(app!.origin).port}, rejectUnauthorized: false }, () => {
           const cert = socket.getPeerCertificate();
           process.stdout.write(JSON.stringify({ altNames: cert.subjectaltname, mismatch: tls.checkServerIdentity('${ADDRESSES.pub}', cert)?.message ?? null }));
           socket.end();
         });
         socket.setTimeout(5000, () => { socket.destroy(); process.exit(1); });`,
      ]),
    ) as { altNames: string; mismatch: string | null };
    expect(certificate.altNames).toContain(`IP Address:${ADDRESSES.pub}`);
    expect(certificate.mismatch).toBeNull();

    homes.h1 = await profile('h1');
    const cluster = `https${Date.now().toString(36)}`;
    const first = await NodeTab.open(homes.h1, `${app!.origin}/?cluster=${cluster}`, undefined, 45_000);
    const page = await first.page.evaluate(() => ({
      protocol: location.protocol,
      hostname: location.hostname,
      secure: window.isSecureContext,
      subtle: typeof crypto.subtle?.sign === 'function',
      locks: typeof navigator.locks?.request === 'function',
    }));
    expect(page).toEqual({ protocol: 'https:', hostname: ADDRESSES.pub, secure: true, subtle: true, locks: true });

    homes.h2 = await profile('h2');
    const joined = await NodeTab.open(homes.h2, await first.invitation(), undefined, 45_000);
    expect(await joined.page.evaluate(() => window.isSecureContext)).toBe(true);
    await Promise.all([first.waitMembers(2, 60_000), joined.waitMembers(2, 60_000)]);
    expect((await joined.memberIds()).sort()).toEqual([await first.id(), await joined.id()].sort());
    await first.page.close();
    await joined.page.close();
  });

  it('forms one cluster of four tabs across two NATs, reads in one home what the other wrote, and relays every connection between the homes through TURN', async () => {
    ready();
    const h1 = homes.h1 ?? (await profile('h1'));
    const h2 = homes.h2 ?? (await profile('h2'));
    const cluster = `nat${Date.now().toString(36)}`;
    const url = `${app!.origin}/?cluster=${cluster}`;
    const home1 = [await NodeTab.open(h1, url, undefined, 45_000)];
    home1.push(await NodeTab.open(h1, url, undefined, 45_000));

    // The ICE configuration a tab gets: our STUN and TURN servers, TURN with REST credentials that
    // coturn's use-auth-secret accepts (username "<expiry s>[:<id>]", password HMAC-SHA1 of it).
    const config = await home1[0]!.page.evaluate(async () => (await fetch('/api/ice-config')).json() as Promise<{ iceServers: RTCIceServer[]; expiresAtMs?: number }>);
    const urls = config.iceServers.flatMap((s) => (typeof s.urls === 'string' ? [s.urls] : s.urls));
    expect(urls).toContain(`stun:${ADDRESSES.pub}:${TURN_PORT}`);
    const turn = config.iceServers.find((s) => [s.urls].flat().some((u) => u.startsWith('turn:')));
    expect(turn?.username).toMatch(/^\d+(:|$)/);
    expect(turn?.credential).toBe(createHmac('sha1', secret).update(turn!.username!).digest('base64'));
    const expirySeconds = Number(turn!.username!.split(':')[0]);
    expect(expirySeconds * 1000).toBeGreaterThan(Date.now());
    expect(expirySeconds * 1000).toBeLessThanOrEqual(Date.now() + 601_000);

    // Home 2 joins through the invitation; its second tab is the same profile, which now knows the cluster.
    const invitation = await home1[0]!.invitation();
    const joinAtMs = Date.now();
    const home2 = [await NodeTab.open(h2, invitation, undefined, 45_000)];
    home2.push(await NodeTab.open(h2, url, undefined, 45_000));
    const tabs = [...home1, ...home2];
    await Promise.all(tabs.map((tab) => tab.waitMembers(4, 60_000)));
    const membersAfterMs = Date.now() - joinAtMs;
    const ids1 = await Promise.all(home1.map((tab) => tab.id()));
    const ids2 = await Promise.all(home2.map((tab) => tab.id()));
    for (const tab of tabs) {
      expect((await tab.memberIds()).sort()).toEqual([...ids1, ...ids2].sort());
      const ice = await tab.page.evaluate(() => window.dynamo!.node.iceStatus());
      expect(ice.source).toBe('fetched');
      expect(ice.urls).toEqual(expect.arrayContaining([`stun:${ADDRESSES.pub}:${TURN_PORT}`, `turn:${ADDRESSES.pub}:${TURN_PORT}?transport=udp`]));
    }

    // Written in home 1, read with R=2 in home 2. Knowing four members does not mean every connection
    // is open yet: a replica in the other home still unconnected makes the sloppy quorum take a
    // fallback in the writer's home, and a read may be answered before the value reaches it. So the
    // read may be retried, for a bounded time (it normally succeeds at once).
    const value = { from: 'home 1', at: Date.now() };
    const put = await home1[0]!.put('across-nat', value, { w: 2 });
    expect(put.acks).toBeGreaterThanOrEqual(2);
    const putAtMs = Date.now();
    const read = await waitFor(
      'the value written in home 1 to be read in home 2',
      async () => {
        const view = await home2[1]!.get('across-nat', { r: 2 });
        return view.values.some((v) => JSON.stringify(v) === JSON.stringify(value)) && view;
      },
      20_000,
    );
    const readAfterMs = Date.now() - putAtMs;
    expect(read.values).toEqual([value]);
    expect(read.answeredBy.length).toBeGreaterThanOrEqual(2);

    // How the connections between the homes travel, as the app reports it: a relayed candidate pair
    // on at least one side of each, since pub forwards nothing from one home to the other.
    const crossPaths = await waitFor(
      'connection paths between the homes',
      async () => {
        const paths = [];
        for (const [mine, theirs] of [
          [home1, ids2],
          [home2, ids1],
        ] as const) {
          for (const tab of mine) {
            for (const p of await tab.page.evaluate(() => window.dynamo!.node.connectionPaths())) if (theirs.includes(p.node)) paths.push(p);
          }
        }
        return paths.length > 0 && paths;
      },
      30_000,
    );
    for (const p of crossPaths) expect([p.localType, p.remoteType], `connection to ${p.node}: ${JSON.stringify(p)}`).toContain('relay');

    // The same from getStats, read by the test itself: relayed selected pairs use pub's address; the
    // server-reflexive candidates carry each home's router WAN address (STUN answered through the NAT).
    const srflx = new Set<string>();
    let relayed = 0;
    for (const [tabsOfHome, wan] of [
      [home1, ADDRESSES.r1Wan],
      [home2, ADDRESSES.r2Wan],
    ] as const) {
      for (const tab of tabsOfHome) {
        for (const pc of await tab.page.evaluate(readPeerConnections)) {
          for (const c of pc.localCandidates.filter((c) => c.type === 'srflx')) {
            expect(c.address).toBe(wan);
            srflx.add(c.address);
          }
          const selected = pc.selected;
          if (selected && (selected.local.type === 'relay' || selected.remote.type === 'relay')) {
            relayed++;
            expect([selected.local, selected.remote].find((c) => c.type === 'relay')?.address).toBe(ADDRESSES.pub);
          }
        }
      }
    }
    expect(srflx.size, 'server-reflexive candidates of the two homes').toBeGreaterThan(0);
    expect(relayed).toBeGreaterThan(0);
    // ICE did try the direct way between the homes (the server-reflexive pairs); pub dropped it.
    expect(await topology!.directPathDrops()).toBeGreaterThan(0);
    expect(coturn!.log()).toMatch(/ALLOCATE processed, success/);
    console.log(`across NATs: four members ${membersAfterMs} ms after home 2's first tab started; ${crossPaths.length} connection(s) between the homes: ${crossPaths.map((p) => `${p.localType}->${p.remoteType}/${p.protocol}${p.rttMs !== undefined ? ` ${p.rttMs} ms` : ''}`).join(', ')}; server-reflexive ${[...srflx].join(', ')}; ${await topology!.directPathDrops()} direct packets dropped; read in home 2 ${readAfterMs} ms after the put`);
  });
});
