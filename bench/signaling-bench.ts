/**
 * `npm run bench:signaling`: WebRTC connection setup time by signaling path (src/net/signaling-router.ts)
 * — the signaling server, the relay through the cluster's data channels, BroadcastChannel between tabs
 * of one browser — side by side in one run, with the server path as the baseline the others are
 * compared to.
 *
 * Setup: the built app and its signaling server as a process of its own (`vite preview`, killed for
 * real later), one headless Chromium, two browser contexts ("profiles") of three node tabs each on
 * `/?cluster=<fresh>&maxConnections=3`: six nodes, three connections each, so connections keep being
 * closed and set up again. Every tab puts or gets a random key every 200 ms (at most 4 in flight).
 *   phase 1 (server up):     the router tries same browser, then relay, then the server, so the server
 *                            carries bootstraps (a node with no open connection) and setups whose relayed
 *                            offer got no answer (relay is then skipped for that node for 30 s). So that
 *                            the baseline has samples however well the relay does, every 4 s one tab is
 *                            cut off for 1 s (`disconnect()` / `reconnect()`): it comes back with no
 *                            connection, and its first setups go through the server (other profile) and
 *                            the BroadcastChannel (own profile);
 *   phase 2 (server killed): the server process is SIGKILLed; the same traffic and cuts go on, new
 *                            connections go through the relay and the same browser only.
 * The cluster's start (six tabs opening one after another) is reported apart.
 *
 * Measured in each tab by bench/signaling-probe.ts (its header says how): setup time from the
 * transport's start of a connection (initiating end: `connect()`, after any wait for a setup slot;
 * accepting end: the offer's arrival) to the open data channel, and the path of its offer. The main
 * table is the initiating end (the whole setup: offer, answer, ICE, DTLS, SCTP); the accepting end is
 * listed too. Timing targets live here, never in tests. Absolute numbers are noisy on shared machines.
 *
 * Environment: SIGNALING_BENCH_PHASE_S (seconds per phase, default 45), SIGNALING_BENCH_POLL_MS
 * (probe's poll interval, default 20), SIGNALING_BENCH_CUT_EVERY_S (default 4; 0: no cuts),
 * SIGNALING_BENCH_LAYOUT (tabs per profile, default `3,3`), SIGNALING_BENCH_MAX_CONNECTIONS (default 3),
 * SIGNALING_BENCH_EXACT=0 (polling only: no RTCPeerConnection wrapper, every sample an upper bound).
 */
import { closeWithin, runBench } from './bench-exit.js';
import type { BrowserContext } from 'playwright-core';
import { AppProcess, launchBrowser, NodeTab, waitFor } from '../test/e2e/fixtures.js';
import { installProbe, MATCH_MS, type Probe, type ProbePath, type ProbeReport, type SetupSample } from './signaling-probe.js';

const PHASE_MS = Number(process.env.SIGNALING_BENCH_PHASE_S ?? 45) * 1000;
const POLL_MS = Number(process.env.SIGNALING_BENCH_POLL_MS ?? 20);
/** Timestamp data channels' `open` events (exact samples); 0: polling only (upper bounds). */
const OBSERVE_CHANNELS = process.env.SIGNALING_BENCH_EXACT !== '0';
/** Node tabs per browser profile (context). */
const LAYOUT = (process.env.SIGNALING_BENCH_LAYOUT ?? '3,3').split(',').map(Number);
const MAX_CONNECTIONS = Number(process.env.SIGNALING_BENCH_MAX_CONNECTIONS ?? 3);
const TRAFFIC_PERIOD_MS = 200;
const TRAFFIC_KEYS = 256;
const TRAFFIC_IN_FLIGHT = 4;
const CUT_EVERY_MS = Number(process.env.SIGNALING_BENCH_CUT_EVERY_S ?? 4) * 1000;
const CUT_FOR_MS = 1000;
/** The whole run, past which the bench gives up (and still exits). */
const DEADLINE_MS = 2 * PHASE_MS + 150_000;

const PATHS: readonly ProbePath[] = ['server', 'same-browser', 'relay', 'unknown'];
const PHASES = [
  { id: 'start', name: 'cluster start (server up)' },
  { id: 'server-up', name: 'phase 1: server up' },
  { id: 'server-killed', name: 'phase 2: server killed' },
] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Summary {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

/** Nearest-rank percentiles, as bench/run.ts. */
function summarise(values: number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1)! };
}

function probeOf(tab: NodeTab): Promise<void> {
  return tab.page.waitForFunction(() => (window as unknown as { signalingBenchProbe?: Probe }).signalingBenchProbe !== undefined, undefined, { timeout: 10_000 }).then(() => undefined);
}

function setPhase(tabs: NodeTab[], phase: string): Promise<unknown> {
  return Promise.all(tabs.map((tab) => tab.page.evaluate((p) => void ((window as unknown as { signalingBenchProbe: Probe }).signalingBenchProbe.phase = p), phase)));
}

function serverStates(tabs: NodeTab[]): Promise<string[]> {
  return Promise.all(tabs.map((tab) => tab.page.evaluate(() => window.dynamo!.signalingStatus().server.state)));
}

/** Cuts one tab off for `CUT_FOR_MS` every `CUT_EVERY_MS`, round robin, for `ms`; returns how many cuts. */
async function cutTabs(tabs: NodeTab[], ms: number, first: number): Promise<number> {
  const until = Date.now() + ms;
  let cuts = 0;
  if (CUT_EVERY_MS <= 0) {
    await sleep(ms);
    return 0;
  }
  while (Date.now() + CUT_FOR_MS < until) {
    const started = Date.now();
    const tab = tabs[(first + cuts) % tabs.length]!;
    await tab.disconnect();
    await sleep(CUT_FOR_MS);
    await tab.reconnect();
    cuts++;
    await sleep(Math.max(0, Math.min(CUT_EVERY_MS - (Date.now() - started), until - Date.now())));
  }
  return cuts;
}

const fmt = (x: number): string => x.toFixed(0);
const ratio = (x: number, base: number | undefined): string => (base === undefined || base === 0 ? '—' : `${(x / base).toFixed(2)}×`);

function header(phaseColumn: boolean): string {
  return `${phaseColumn ? 'phase'.padEnd(27) : ''}${'path'.padEnd(14)}${'setups'.padStart(7)}${'p50 ms'.padStart(9)}${'p95 ms'.padStart(9)}${'max ms'.padStart(9)}${'exact'.padStart(7)}${'failed'.padStart(8)}   p50 / p95 vs server (phases 1-2)`;
}

/**
 * One row per path, the server first; `baseline` is the server path over phases 1 and 2 (the row that
 * is the baseline says so). A path with no samples says so, and why.
 */
function rows(samples: SetupSample[], failures: { path: ProbePath }[], baseline: Summary | undefined, emptyReason: (path: ProbePath) => string, phaseColumn?: string): string[] {
  const lines: string[] = [];
  for (const path of PATHS) {
    const own = samples.filter((s) => s.path === path);
    const failed = failures.filter((f) => f.path === path).length;
    const s = summarise(own.map((x) => x.ms));
    if (path === 'unknown' && s === undefined && failed === 0) continue;
    const head = `${phaseColumn !== undefined ? phaseColumn.padEnd(27) : ''}${path.padEnd(14)}`;
    if (s === undefined) {
      const outcome = path === 'unknown' ? `${failed} setups given up before their offer was sent` : failed > 0 ? `none of ${failed} setups opened` : 'none seen';
      const why = [emptyReason(path), outcome].filter((x) => x !== '').join('; ');
      lines.push(`${head}${'0'.padStart(7)}   no samples: ${why}`);
      continue;
    }
    const exact = own.filter((x) => x.exact).length;
    const versus = baseline === undefined ? 'no server baseline' : phaseColumn === undefined && path === 'server' ? 'baseline' : `${ratio(s.p50, baseline.p50)} / ${ratio(s.p95, baseline.p95)}`;
    lines.push(`${head}${String(s.n).padStart(7)}${fmt(s.p50).padStart(9)}${fmt(s.p95).padStart(9)}${fmt(s.max).padStart(9)}${String(exact).padStart(7)}${String(failed).padStart(8)}   ${versus}`);
  }
  return lines;
}

function emptyReasonFor(phase: string | undefined): (path: ProbePath) => string {
  return (path) => {
    if (path === 'server' && phase === 'server-killed') return 'the server is down (the router labels a setup it had no path for `server`)';
    if (path === 'server') return 'no setup went through the server (every node had a relay or the same browser)';
    return '';
  };
}

async function main(): Promise<void> {
  const runStarted = Date.now();
  let app: AppProcess | undefined = await AppProcess.start();
  const browser = await launchBrowser();
  const watchdog = setTimeout(() => {
    console.error(`signaling bench: gave up after ${DEADLINE_MS / 1000} s`);
    void app?.kill();
    process.exit(1);
  }, DEADLINE_MS);
  watchdog.unref();
  const tabs: NodeTab[] = [];
  try {
    const cluster = `signaling${Date.now().toString(36)}`;
    const url = `${app.origin}/?cluster=${cluster}&maxConnections=${MAX_CONNECTIONS}`;
    const contexts: BrowserContext[] = [];
    for (let p = 0; p < LAYOUT.length; p++) {
      const context = await browser.newContext();
      // tsx compiles named inner functions to `__name(fn, 'name')` calls: give the page a no-op one.
      await context.addInitScript({ content: 'globalThis.__name ??= (target) => target;' });
      await context.addInitScript(installProbe, { pollMs: POLL_MS, matchMs: MATCH_MS, observeChannels: OBSERVE_CHANNELS });
      contexts.push(context);
    }
    // Profiles alternate, so that each profile's first tab bootstraps on its own.
    for (let i = 0; i < Math.max(...LAYOUT); i++) {
      for (const [p, context] of contexts.entries()) if (i < LAYOUT[p]!) tabs.push(await NodeTab.open(context, url, undefined, 60_000));
    }
    await Promise.all(tabs.map(probeOf));
    await Promise.all(tabs.map((tab) => tab.waitMembers(tabs.length, 60_000)));
    const formedMs = Date.now() - runStarted;

    // Phase 1: server up.
    await setPhase(tabs, 'server-up');
    await Promise.all(tabs.map((tab) => tab.page.evaluate(([period, keys, inFlight]) => (window as unknown as { signalingBenchProbe: Probe }).signalingBenchProbe.startTraffic(period, keys, inFlight), [TRAFFIC_PERIOD_MS, TRAFFIC_KEYS, TRAFFIC_IN_FLIGHT] as const)));
    const cuts1 = await cutTabs(tabs, PHASE_MS, 0);

    // Phase 2: the server process is killed.
    await setPhase(tabs, 'server-killed');
    await app.kill();
    app = undefined;
    const killedAt = Date.now();
    const noticed = await waitFor('every tab to see the server gone', async () => (await serverStates(tabs)).every((s) => s !== 'open'), 30_000).then(
      () => `${Date.now() - killedAt} ms`,
      () => 'not within 30 s',
    );
    const cuts2 = await cutTabs(tabs, Math.max(0, PHASE_MS - (Date.now() - killedAt)), cuts1);
    await Promise.all(tabs.map((tab) => tab.page.evaluate(() => (window as unknown as { signalingBenchProbe: Probe }).signalingBenchProbe.stopTraffic())));
    await setPhase(tabs, 'end');

    const reports: ProbeReport[] = await Promise.all(tabs.map((tab) => tab.page.evaluate(() => (window as unknown as { signalingBenchProbe: Probe }).signalingBenchProbe.report())));
    const samples = reports.flatMap((r) => r.samples);
    const failures = reports.flatMap((r) => r.failures).filter((f) => !f.cutOff);
    const cutOffFailures = reports.flatMap((r) => r.failures).filter((f) => f.cutOff).length;
    const gaps = summarise(reports.flatMap((r) => r.gaps));
    const measured = (s: { phase: string }): boolean => s.phase === 'server-up' || s.phase === 'server-killed';
    const initiating = samples.filter((s) => s.outbound);
    const accepting = samples.filter((s) => !s.outbound);

    const out: string[] = [''];
    out.push(`tabdynamo signaling bench — ${new Date().toISOString()} — Chromium headless, ${tabs.length} node tabs in ${LAYOUT.length} profiles (${LAYOUT.join(' + ')}), maxConnections=${MAX_CONNECTIONS}`);
    out.push(`cluster formed in ${(formedMs / 1000).toFixed(1)} s; phase 1 (server up) ${(PHASE_MS / 1000).toFixed(0)} s, ${cuts1} cuts; server killed (tabs noticed in ${noticed}); phase 2 ${(PHASE_MS / 1000).toFixed(0)} s, ${cuts2} cuts`);
    out.push(
      `load: each tab puts or gets a random key of ${TRAFFIC_KEYS} every ${TRAFFIC_PERIOD_MS} ms (≤ ${TRAFFIC_IN_FLIGHT} in flight); ` +
        (CUT_EVERY_MS > 0 ? `every ${CUT_EVERY_MS / 1000} s one tab is cut off for ${CUT_FOR_MS / 1000} s (it comes back with no connection: a bootstrap)` : 'no cuts'),
    );
    out.push('');
    const baselineOf = (end: SetupSample[]): Summary | undefined => summarise(end.filter((x) => measured(x) && x.path === 'server').map((x) => x.ms));
    out.push('connection setup time by signaling path — initiating end (connect() → data channel open), phases 1 and 2', header(false));
    out.push(...rows(initiating.filter(measured), failures.filter((f) => f.outbound && measured(f)), baselineOf(initiating), emptyReasonFor(undefined)));
    out.push('');
    out.push('by phase — initiating end', header(true));
    for (const phase of PHASES) {
      out.push(...rows(initiating.filter((x) => x.phase === phase.id), failures.filter((f) => f.outbound && f.phase === phase.id), baselineOf(initiating), emptyReasonFor(phase.id), phase.name));
    }
    out.push('(server setups in phase 2 had sent their offer before the kill)');
    out.push('');
    out.push('accepting end (offer arrived → data channel open), phases 1 and 2', header(false));
    out.push(...rows(accepting.filter(measured), failures.filter((f) => !f.outbound && measured(f)), baselineOf(accepting), emptyReasonFor(undefined)));
    out.push('');
    const exact = samples.filter((s) => s.exact).length;
    out.push(
      `resolution: ${exact} of ${samples.length} samples exact (data channel 'open' event minus its RTCPeerConnection's creation, ±1 ms); ` +
        `the other ${samples.length - exact} are upper bounds from polling connections() every ${POLL_MS} ms, at most one poll gap high ` +
        (gaps ? `(gap p50 ${fmt(gaps.p50)} ms, p95 ${fmt(gaps.p95)} ms, max ${fmt(gaps.max)} ms)` : '(no gaps measured)'),
    );
    const counted: Record<string, number> = {};
    for (const r of reports) {
      for (const path of ['server', 'same-browser', 'relay'] as const) counted[path] = (counted[path] ?? 0) + (r.routerSetupsNow?.[path] ?? 0) - (r.routerSetupsAtStart?.[path] ?? 0);
    }
    const observed = (path: ProbePath): number => samples.filter((s) => s.path === path).length;
    out.push(`coverage: setups the routers counted since the probes started (both ends) vs samples: ${(['server', 'same-browser', 'relay'] as const).map((p) => `${p} ${counted[p]} / ${observed(p)}`).join(', ')}${observed('unknown') > 0 ? `, path unknown ${observed('unknown')}` : ''}`);
    const sumOf = (pick: (r: ProbeReport) => number): number => reports.reduce((a, r) => a + pick(r), 0);
    const perPath = (pick: (r: NonNullable<ProbeReport['router']>) => Record<string, number>): string =>
      (['server', 'same-browser', 'relay'] as const).map((p) => `${p} ${sumOf((r) => (r.router ? pick(r.router)[p] ?? 0 : 0))}`).join(', ');
    const dropped: Record<string, number> = {};
    for (const r of reports) for (const [reason, n] of Object.entries(r.router?.relay.dropped ?? {})) dropped[reason] = (dropped[reason] ?? 0) + n;
    out.push(
      `routers (whole run, all tabs): offers sent ${perPath((r) => r.offersSent)}; received ${perPath((r) => r.offersReceived)}; answer timeouts ${sumOf((r) => r.router?.answerTimeouts ?? 0)}, no path ${sumOf((r) => r.router?.noPath ?? 0)}; ` +
        `relay: sent ${sumOf((r) => r.router?.relay.sent ?? 0)}, delivered ${sumOf((r) => r.router?.relay.delivered ?? 0)}, forwarded ${sumOf((r) => r.router?.relay.forwarded ?? 0)}, dropped ${Object.entries(dropped).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
    const untracked = sumOf((r) => r.untracked);
    if (untracked > 0) out.push(`${untracked} rows were first seen open after more than a poll gap (a poll missed them): not counted`);
    out.push(
      `failed: setups seen opening that closed without opening (no answer in time, evicted, the other tab cut off; a setup no path could carry is labelled server by the router); ` +
        `${cutOffFailures} more were closed by their own tab's cut, not counted`,
    );
    const traffic = (phase: string): string => {
      const t = reports.map((r) => r.traffic[phase]).filter((x) => x !== undefined);
      const ok = t.reduce((a, x) => a + x.ok, 0);
      const failed = t.reduce((a, x) => a + x.failed, 0);
      const errors: Record<string, number> = {};
      for (const x of t) for (const [name, n] of Object.entries(x.errors)) errors[name] = (errors[name] ?? 0) + n;
      const skipped = t.reduce((a, x) => a + x.skipped, 0);
      return `${ok} ok, ${failed} failed${failed > 0 ? ` (${Object.entries(errors).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}, ${skipped} not issued (${TRAFFIC_IN_FLIGHT} in flight)`;
    };
    out.push(`traffic: phase 1 ${traffic('server-up')}; phase 2 ${traffic('server-killed')}${CUT_EVERY_MS > 0 ? ' (a cut-off tab fails its operations by design)' : ''}`);
    out.push(`run took ${((Date.now() - runStarted) / 1000).toFixed(0)} s`);
    out.push('');
    console.log(out.join('\n'));
  } finally {
    await closeWithin(browser.close());
    await app?.kill();
    clearTimeout(watchdog);
  }
}

runBench(main);
