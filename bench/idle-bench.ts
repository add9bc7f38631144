/**
 * `npm run bench:idle`: what an idle node costs in real tabs (issue 19: "idle is nearly free").
 *
 * IDLE_BENCH_NODES app tabs (default 10) of one cluster, in one headless Chromium, against the built
 * app and its real signaling server. The cluster forms, IDLE_BENCH_KEYS keys (default 1,000) are written
 * so that the trees and the explorer have something to show, every ownership handoff ends, and the
 * cluster is left alone for IDLE_BENCH_SETTLE_S (default 60 s: the first minutes after the writes cost
 * more, as anti-entropy and the JIT settle). Then nothing is asked of any node for
 * two windows of IDLE_BENCH_WINDOW_S each (default 60 s; IDLE_BENCH_PHASES sets their order and number):
 *
 *   visible   every tab on the ring explorer, visible;
 *   hidden    every tab on the ring explorer, hidden.
 *
 * Per tab and window it measures:
 *   cpu        CPU time of the tab's renderer process over the window (/proc/<pid>/stat utime + stime:
 *              the page, its workers — tick, Merkle — and its WebRTC threads), as % of one core;
 *   main       main-thread task time (CDP Performance.getMetrics TaskDuration), % of one core, and of
 *              it script, and style + layout;
 *   sent       bytes the node's transport wrote (`stats().transport.bytesSent`), per second, and the
 *              same bytes by message type (from each frame written on a data channel);
 *   redraws    explorer redraws (`window.explorerRenders.count`) per second;
 *   wakeups    timer and animation-frame callbacks run on the main thread, per second;
 *   idb        IndexedDB writes (put, add, delete, clear) per second, by object store;
 *   to workers messages posted from the page to its workers (tick, Merkle), per second.
 * and the processes the tabs share (browser, GPU, network service, storage service), as % of one core.
 * The goal is printed next to the mean: ≤ 1 % of a core and ≤ 1 KiB/s sent per idle node.
 *
 * How a tab's renderer process is found: every tab stamps a marker into a short Chromium trace
 * (console.timeStamp); the trace records the OS process id of the renderer that stamped it.
 *
 * Hidden: headless Chromium has no hidden tabs (every page reports 'visible'; neither a background
 * target nor a minimised window changes it), so the bench hides a tab the way the page sees it:
 * `document.visibilityState` reads 'hidden' and a `visibilitychange` event fires. The browser's own
 * throttling of hidden tabs (timers, animation frames) is therefore not in these figures: what they show
 * is what the app itself does when it is told it is hidden.
 *
 * The machine is shared (2 cores, other benches and tests may run): CPU figures are inflated by
 * contention; the machine's load average and its total CPU use over each window are printed alongside.
 * E2E_DIST serves another build folder than dist/ (test/e2e/fixtures.ts).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { CDPSession, Page } from 'playwright-core';
import { closeWithin, runBench } from './bench-exit.js';
import { launchBrowser, NodeTab, startApp, waitFor } from '../test/e2e/fixtures.js';

const NODES = Number(process.env.IDLE_BENCH_NODES ?? 10);
const KEYS = Number(process.env.IDLE_BENCH_KEYS ?? 1000);
const SETTLE_S = Number(process.env.IDLE_BENCH_SETTLE_S ?? 60);
const WINDOW_S = Number(process.env.IDLE_BENCH_WINDOW_S ?? 60);
/** IDLE_BENCH_PROFILE=1: CPU-profile the first tab's main thread in each window and print where its time went. */
const PROFILE = process.env.IDLE_BENCH_PROFILE === '1';
/**
 * IDLE_BENCH_PHASES: the windows, in order, comma-separated (default `visible,hidden`); e.g.
 * `hidden,visible,hidden` to tell what visibility costs from what the order of the windows does.
 */
const PHASES = (process.env.IDLE_BENCH_PHASES ?? 'visible,hidden').split(',').map((phase) => {
  if (phase !== 'visible' && phase !== 'hidden') throw new Error(`IDLE_BENCH_PHASES: expected visible or hidden, got "${phase}"`);
  return phase;
});
/** After a change of visibility, how long the tabs are left before the window starts, s. */
const SWITCH_S = 5;
/** The goal per idle node (issue 19). */
const GOAL_CPU_PERCENT = 1;
const GOAL_SENT_BYTES_PER_S = 1024;
/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** What the page-side probe counts (see {@link installProbe}); all counters since the page loaded. */
interface ProbeCounters {
  sentByType: Record<string, number>;
  framesByType: Record<string, number>;
  idbWrites: Record<string, number>;
  workerPosts: number;
  timerCallbacks: number;
  frameCallbacks: number;
}

declare global {
  interface Window {
    idleBench?: { counters: ProbeCounters; setHidden(hidden: boolean): void };
  }
}

/**
 * Runs in every page before its own scripts (an init script): counts what the page sends on data
 * channels by message type, its IndexedDB writes, its posts to workers and its timer and
 * animation-frame callbacks, and lets the bench hide the page (see the module comment). Self-contained:
 * it is serialised into the page.
 */
function installProbe(): void {
  const counters: ProbeCounters = { sentByType: {}, framesByType: {}, idbWrites: {}, workerPosts: 0, timerCallbacks: 0, frameCallbacks: 0 };
  const add = (table: Record<string, number>, key: string, amount: number): void => {
    table[key] = (table[key] ?? 0) + amount;
  };
  // Frames: u32 total, u32 offset, then MessagePack (src/net/framing.ts). The type of a message is the
  // string after its "type" key; frames after the first (offset > 0) count under the type of the first.
  const TYPE_KEY = [0xa4, 0x74, 0x79, 0x70, 0x65];
  const lastType = new WeakMap<RTCDataChannel, string>();
  const typeOf = (bytes: Uint8Array): string => {
    const end = Math.min(bytes.length - TYPE_KEY.length, 8 + 96);
    for (let i = 8; i < end; i++) {
      if (!TYPE_KEY.every((b, k) => bytes[i + k] === b)) continue;
      const at = i + TYPE_KEY.length;
      const head = bytes[at]!;
      const [length, from] = head >= 0xa0 && head <= 0xbf ? [head - 0xa0, at + 1] : head === 0xd9 ? [bytes[at + 1]!, at + 2] : [-1, 0];
      if (length < 0) break;
      return new TextDecoder().decode(bytes.subarray(from, from + length));
    }
    return 'other';
  };
  const originalSend = RTCDataChannel.prototype.send as (this: RTCDataChannel, data: unknown) => void;
  RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: unknown): void {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : undefined;
    if (bytes !== undefined && bytes.length >= 8) {
      const offset = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4);
      const type = offset === 0 ? typeOf(bytes) : (lastType.get(this) ?? 'other');
      lastType.set(this, type);
      add(counters.sentByType, type, bytes.length);
      add(counters.framesByType, type, 1);
    } else {
      add(counters.sentByType, 'not binary', typeof data === 'string' ? data.length : 0);
    }
    originalSend.call(this, data);
  } as RTCDataChannel['send'];
  for (const method of ['put', 'add', 'delete', 'clear'] as const) {
    const original = IDBObjectStore.prototype[method] as (...args: unknown[]) => IDBRequest;
    (IDBObjectStore.prototype as unknown as Record<string, unknown>)[method] = function (this: IDBObjectStore, ...args: unknown[]): IDBRequest {
      add(counters.idbWrites, this.name, 1);
      return original.apply(this, args);
    };
  }
  const post = Worker.prototype.postMessage as (...args: unknown[]) => void;
  Worker.prototype.postMessage = function (this: Worker, ...args: unknown[]): void {
    counters.workerPosts++;
    post.apply(this, args);
  } as Worker['postMessage'];
  const wrapTimer = <F extends (handler: TimerHandler, delay?: number, ...rest: unknown[]) => number>(original: F): F =>
    function (this: unknown, handler: TimerHandler, delay?: number, ...rest: unknown[]): number {
      const counted = typeof handler === 'function' ? (...a: unknown[]) => {
        counters.timerCallbacks++;
        return (handler as (...b: unknown[]) => unknown)(...a);
      } : handler;
      return original.call(this, counted, delay, ...rest);
    } as F;
  window.setTimeout = wrapTimer(window.setTimeout);
  window.setInterval = wrapTimer(window.setInterval);
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (callback) =>
    raf((time) => {
      counters.frameCallbacks++;
      callback(time);
    });
  let hidden = false;
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  window.idleBench = {
    counters,
    setHidden(value: boolean): void {
      if (value === hidden) return;
      hidden = value;
      document.dispatchEvent(new Event('visibilitychange'));
    },
  };
}

/** One tab in the bench: its page, node id, renderer process and CDP session. */
interface BenchTab {
  tab: NodeTab;
  node: string;
  pid: number;
  cdp: CDPSession;
}

/** What one tab reads at the start and end of a window. */
interface TabSample {
  cpuTicks: number;
  threads: Map<number, { name: string; ticks: number }>;
  metrics: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
  redraws: number;
  /** Redraws planned (drawn or not) so far. */
  plans: number;
  /** performance.now() of the sample, ms (to pick the plans of the window out of the render log). */
  pageNowMs: number;
  /** Duration of each plan in the render log (reading the node and computing the keys), ms, with when it ran. */
  planTimes: { atMs: number; ms: number }[];
  probe: ProbeCounters;
}

/** The figures of one tab over one window. */
interface TabFigures {
  node: string;
  pid: number;
  cpuPercent: number;
  mainPercent: number;
  scriptPercent: number;
  styleLayoutPercent: number;
  sentPerS: number;
  receivedPerS: number;
  redrawsPerS: number;
  plansPerS: number;
  /** Mean duration of a plan in the window, ms (NaN when none ran). */
  planMs: number;
  wakeupsPerS: number;
  idbWritesPerS: number;
  workerPostsPerS: number;
  sentByType: Record<string, number>;
  idbByStore: Record<string, number>;
  /** % of one core by renderer thread name. */
  cpuByThread: Record<string, number>;
}

/** utime + stime of process `pid`, in clock ticks (/proc/<pid>/stat fields 14 and 15). */
function cpuTicksOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return Number(fields[11]) + Number(fields[12]);
}

/** utime + stime of every thread of process `pid` so far, in clock ticks, by thread id, with the thread's name. */
function threadTicksOf(pid: number): Map<number, { name: string; ticks: number }> {
  const threads = new Map<number, { name: string; ticks: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(Number(tid), { name, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return threads;
}

/**
 * CPU ticks by thread name between two readings of {@link threadTicksOf} (numbers in names dropped, so
 * that a pool's threads add up; a thread that ended meanwhile is missing).
 */
function ticksByThreadName(before: Map<number, { name: string; ticks: number }>, after: Map<number, { name: string; ticks: number }>): Record<string, number> {
  const byName: Record<string, number> = {};
  for (const [tid, { name, ticks }] of after) {
    const key = name.replace(/[0-9]+/g, '#');
    byName[key] = (byName[key] ?? 0) + ticks - (before.get(tid)?.ticks ?? 0);
  }
  return byName;
}

/** The machine's busy and total CPU time so far, in clock ticks (/proc/stat, every core). */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (line[3] ?? 0) + (line[4] ?? 0);
  const total = line.slice(0, 8).reduce((sum, n) => sum + n, 0);
  return { busy: total - idle, total };
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

async function sampleTab(t: BenchTab): Promise<TabSample> {
  const [{ metrics }, page] = await Promise.all([
    t.cdp.send('Performance.getMetrics') as Promise<{ metrics: { name: string; value: number }[] }>,
    t.tab.page.evaluate(() => {
      const stats = window.dynamo!.stats();
      const renders = window.explorerRenders;
      return {
        bytesSent: stats.transport.bytesSent,
        bytesReceived: stats.transport.bytesReceived,
        redraws: renders?.count ?? 0,
        // Builds before issue 19 have no `skipped`: every plan was a redraw.
        plans: (renders?.count ?? 0) + ((renders as { skipped?: number } | undefined)?.skipped ?? 0),
        pageNowMs: performance.now(),
        planTimes: (renders?.recent ?? []).filter((r) => r.what === 'plan').map((r) => ({ atMs: r.atMs, ms: r.ms })),
        probe: structuredClone(window.idleBench!.counters),
      };
    }),
  ]);
  return { cpuTicks: cpuTicksOf(t.pid), threads: threadTicksOf(t.pid), metrics: Object.fromEntries(metrics.map((m) => [m.name, m.value])), ...page };
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((key) => [key, after[key]! - (before[key] ?? 0)]));
}

function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}

function figuresOf(t: BenchTab, before: TabSample, after: TabSample, seconds: number): TabFigures {
  const metric = (name: string): number => (after.metrics[name] ?? 0) - (before.metrics[name] ?? 0);
  const perS = (n: number): number => n / seconds;
  const idb = difference(after.probe.idbWrites, before.probe.idbWrites);
  return {
    node: t.node,
    pid: t.pid,
    cpuPercent: (100 * (after.cpuTicks - before.cpuTicks)) / CLOCK_TICKS_PER_S / seconds,
    mainPercent: (100 * metric('TaskDuration')) / seconds,
    scriptPercent: (100 * metric('ScriptDuration')) / seconds,
    styleLayoutPercent: (100 * (metric('RecalcStyleDuration') + metric('LayoutDuration'))) / seconds,
    sentPerS: perS(after.bytesSent - before.bytesSent),
    receivedPerS: perS(after.bytesReceived - before.bytesReceived),
    redrawsPerS: perS(after.redraws - before.redraws),
    plansPerS: perS(after.plans - before.plans),
    planMs: mean(after.planTimes.filter((p) => p.atMs >= before.pageNowMs).map((p) => p.ms)),
    wakeupsPerS: perS(after.probe.timerCallbacks - before.probe.timerCallbacks + after.probe.frameCallbacks - before.probe.frameCallbacks),
    idbWritesPerS: perS(Object.values(idb).reduce((sum, n) => sum + n, 0)),
    workerPostsPerS: perS(after.probe.workerPosts - before.probe.workerPosts),
    sentByType: Object.fromEntries(Object.entries(difference(after.probe.sentByType, before.probe.sentByType)).map(([type, bytes]) => [type, perS(bytes)])),
    idbByStore: Object.fromEntries(Object.entries(idb).map(([store, n]) => [store, perS(n)])),
    cpuByThread: Object.fromEntries(Object.entries(ticksByThreadName(before.threads, after.threads)).map(([name, ticks]) => [name, (100 * ticks) / CLOCK_TICKS_PER_S / seconds])),
  };
}

/** The processes the tabs share, by Chromium's type, with their CPU ticks so far. */
async function sharedProcesses(browserCdp: CDPSession, tabPids: ReadonlySet<number>): Promise<{ type: string; pid: number; ticks: number }[]> {
  const { processInfo } = (await browserCdp.send('SystemInfo.getProcessInfo')) as { processInfo: { type: string; id: number }[] };
  return processInfo
    .filter((p) => !tabPids.has(p.id))
    .flatMap((p) => {
      try {
        return [{ type: p.type, pid: p.id, ticks: cpuTicksOf(p.id) }];
      } catch {
        return [];
      }
    });
}

/** Measures every tab over one window of `WINDOW_S`; prints and returns the figures. */
async function measureWindow(name: string, tabs: BenchTab[], browserCdp: CDPSession): Promise<TabFigures[]> {
  const tabPids = new Set(tabs.map((t) => t.pid));
  const sharedBefore = await sharedProcesses(browserCdp, tabPids);
  const machineBefore = machineTicks();
  const before = await Promise.all(tabs.map(sampleTab));
  const startedMs = Date.now();
  if (PROFILE) {
    await tabs[0]!.cdp.send('Profiler.enable');
    await tabs[0]!.cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    await tabs[0]!.cdp.send('Profiler.start');
  }
  await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1000));
  const after = await Promise.all(tabs.map(sampleTab));
  if (PROFILE) printProfile((await tabs[0]!.cdp.send('Profiler.stop')).profile as Profile, WINDOW_S);
  const seconds = (Date.now() - startedMs) / 1000;
  const machineAfter = machineTicks();
  const sharedAfter = await sharedProcesses(browserCdp, tabPids);
  const figures = tabs.map((t, i) => figuresOf(t, before[i]!, after[i]!, seconds));
  printWindow(name, seconds, figures);
  const sharedByType = new Map<string, number>();
  for (const p of sharedAfter) {
    const was = sharedBefore.find((q) => q.pid === p.pid)?.ticks ?? p.ticks;
    sharedByType.set(p.type, (sharedByType.get(p.type) ?? 0) + (p.ticks - was));
  }
  const percentOf = (ticks: number): number => (100 * ticks) / CLOCK_TICKS_PER_S / seconds;
  const sharedTotal = [...sharedByType.values()].reduce((sum, n) => sum + n, 0);
  console.log(`shared processes: ${[...sharedByType].map(([type, ticks]) => `${type} ${percentOf(ticks).toFixed(2)} %`).join(', ')}; in all ${percentOf(sharedTotal).toFixed(2)} % of a core (${(percentOf(sharedTotal) / tabs.length).toFixed(2)} % per tab)`);
  const machineBusy = (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
  console.log(`machine: ${(100 * machineBusy).toFixed(0)} % of all cores busy over the window (this bench and whatever else runs); load average now ${loadAverage()}`);
  console.log('');
  return figures;
}

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** The profiled main thread's time by function (self time) and by the task's entry function, as % of one core. */
function printProfile(profile: Profile, seconds: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const rootId = profile.nodes[0]!.id;
  const label = (id: number): string => {
    const frame = byId.get(id)!.callFrame;
    return `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop() ?? ''}:${frame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const entries = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const name = byId.get(id)!.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') return;
    self.set(label(id), (self.get(label(id)) ?? 0) + us);
    let at = id;
    while (parent.has(at) && parent.get(at) !== rootId) at = parent.get(at)!;
    entries.set(label(at), (entries.get(label(at)) ?? 0) + us);
  });
  const percent = (us: number): string => `${((100 * us) / 1e6 / seconds).toFixed(3)} %`;
  const top = (table: Map<string, number>): string => [...table].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, us]) => `    ${percent(us).padStart(9)}  ${name}`).join('\n');
  console.log(`first tab's main thread, sampled (JavaScript and GC; not style, layout or paint):\n  by entry (what a task ran):\n${top(entries)}\n  by function (self time):\n${top(self)}`);
}

const column = (text: string, width: number): string => text.padStart(width);

function printWindow(name: string, seconds: number, figures: TabFigures[]): void {
  console.log(`${name}: ${figures.length} tabs, ${seconds.toFixed(0)} s idle`);
  const header = ['tab', 'node', 'pid', 'cpu %', 'main %', 'script %', 'style+layout %', 'sent B/s', 'recv B/s', 'redraws/s', 'plans/s', 'plan ms', 'wakeups/s', 'idb writes/s', 'to workers/s'];
  const widths = [4, 26, 8, 7, 7, 9, 15, 9, 9, 10, 8, 8, 10, 13, 13];
  console.log(header.map((h, i) => (i === 1 ? h.padEnd(widths[i]!) : column(h, widths[i]!))).join(' '));
  console.log('-'.repeat(widths.reduce((sum, w) => sum + w + 1, 0)));
  const row = (label: string, node: string, pid: string, f: Omit<TabFigures, 'node' | 'pid' | 'sentByType' | 'idbByStore' | 'cpuByThread'>): string =>
    [
      column(label, widths[0]!),
      node.padEnd(widths[1]!),
      column(pid, widths[2]!),
      column(f.cpuPercent.toFixed(2), widths[3]!),
      column(f.mainPercent.toFixed(2), widths[4]!),
      column(f.scriptPercent.toFixed(2), widths[5]!),
      column(f.styleLayoutPercent.toFixed(2), widths[6]!),
      column(f.sentPerS.toFixed(0), widths[7]!),
      column(f.receivedPerS.toFixed(0), widths[8]!),
      column(f.redrawsPerS.toFixed(2), widths[9]!),
      column(f.plansPerS.toFixed(2), widths[10]!),
      column(Number.isNaN(f.planMs) ? '—' : f.planMs.toFixed(2), widths[11]!),
      column(f.wakeupsPerS.toFixed(1), widths[12]!),
      column(f.idbWritesPerS.toFixed(2), widths[13]!),
      column(f.workerPostsPerS.toFixed(1), widths[14]!),
    ].join(' ');
  figures.forEach((f, i) => console.log(row(String(i + 1), f.node, String(f.pid), f)));
  const meanOf = (pick: (f: TabFigures) => number): number => mean(figures.map(pick).filter((v) => !Number.isNaN(v)));
  const means = {
    cpuPercent: meanOf((f) => f.cpuPercent),
    mainPercent: meanOf((f) => f.mainPercent),
    scriptPercent: meanOf((f) => f.scriptPercent),
    styleLayoutPercent: meanOf((f) => f.styleLayoutPercent),
    sentPerS: meanOf((f) => f.sentPerS),
    receivedPerS: meanOf((f) => f.receivedPerS),
    redrawsPerS: meanOf((f) => f.redrawsPerS),
    plansPerS: meanOf((f) => f.plansPerS),
    planMs: meanOf((f) => f.planMs),
    wakeupsPerS: meanOf((f) => f.wakeupsPerS),
    idbWritesPerS: meanOf((f) => f.idbWritesPerS),
    workerPostsPerS: meanOf((f) => f.workerPostsPerS),
  };
  console.log('-'.repeat(widths.reduce((sum, w) => sum + w + 1, 0)));
  console.log(row('mean', '', '', means));
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(`goal per idle node: cpu ≤ ${GOAL_CPU_PERCENT} % of a core (mean ${means.cpuPercent.toFixed(2)} %: ${verdict(means.cpuPercent <= GOAL_CPU_PERCENT)}), sent ≤ ${GOAL_SENT_BYTES_PER_S} B/s (mean ${means.sentPerS.toFixed(0)} B/s: ${verdict(means.sentPerS <= GOAL_SENT_BYTES_PER_S)})`);
  const byType = new Map<string, number>();
  for (const f of figures) for (const [type, bytes] of Object.entries(f.sentByType)) byType.set(type, (byType.get(type) ?? 0) + bytes / figures.length);
  const framed = [...byType.values()].reduce((sum, n) => sum + n, 0);
  console.log(`sent by message type, mean per tab (B/s, frames with their 8-byte headers; ${framed.toFixed(0)} B/s in all against ${means.sentPerS.toFixed(0)} counted by the transport): ${[...byType].filter(([, b]) => b >= 0.5).sort((a, b) => b[1] - a[1]).map(([type, bytes]) => `${type} ${bytes.toFixed(0)}`).join(', ') || 'none'}`);
  const byThread = new Map<string, number>();
  for (const f of figures) for (const [name, percent] of Object.entries(f.cpuByThread)) byThread.set(name, (byThread.get(name) ?? 0) + percent / figures.length);
  console.log(`renderer cpu by thread, mean per tab (% of a core): ${[...byThread].filter(([, p]) => p >= 0.005).sort((a, b) => b[1] - a[1]).map(([name, percent]) => `${name} ${percent.toFixed(2)}`).join(', ')}`);
  const byStore = new Map<string, number>();
  for (const f of figures) for (const [store, n] of Object.entries(f.idbByStore)) byStore.set(store, (byStore.get(store) ?? 0) + n / figures.length);
  console.log(`IndexedDB writes by object store, mean per tab (/s): ${[...byStore].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([store, n]) => `${store} ${n.toFixed(2)}`).join(', ') || 'none'}`);
}

/** Each tab's renderer process id, from a marker each tab stamps into a short trace (see the module comment). */
async function rendererPids(tabs: NodeTab[], browser: Awaited<ReturnType<typeof launchBrowser>>): Promise<number[]> {
  await browser.startTracing(undefined, { categories: ['devtools.timeline'] });
  for (const [i, tab] of tabs.entries()) await tab.page.evaluate((marker) => console.timeStamp(marker), `idle-bench tab ${i}`);
  const trace = JSON.parse((await browser.stopTracing()).toString('utf8')) as { traceEvents: { name: string; pid: number; args?: { data?: { message?: string } } }[] };
  return tabs.map((_, i) => {
    const stamp = trace.traceEvents.find((e) => e.name === 'TimeStamp' && e.args?.data?.message === `idle-bench tab ${i}`);
    if (stamp === undefined) throw new Error(`tab ${i}'s marker is not in the trace: its renderer process is unknown`);
    return stamp.pid;
  });
}

/** Writes `count` keys from `page`, 16 at a time; returns how many failed. */
async function writeKeys(page: Page, count: number): Promise<number> {
  return page.evaluate(async (n) => {
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        await window.dynamo!.put(`idle:${i}`, { n: i, text: 'x'.repeat(80) }).catch(() => failed++);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    return failed;
  }, count);
}

async function main(): Promise<void> {
  const log = (text: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
  const { server, origin } = await startApp();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext();
    // tsx (esbuild, keepNames) wraps named functions in the scripts handed to pages in `__name(…)`.
    await context.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await context.addInitScript(installProbe);
    const url = `${origin}/?cluster=idle${Date.now().toString(36)}`;
    const tabs: NodeTab[] = [];
    for (let i = 0; i < NODES; i++) tabs.push(await NodeTab.open(context, url));
    await waitFor(`every tab seeing ${NODES} members`, async () => (await Promise.all(tabs.map((t) => t.page.evaluate(() => window.dynamo!.members().length)))).every((n) => n === NODES), 120_000);
    log(`${NODES} tabs formed a cluster`);
    const failed = KEYS > 0 ? await writeKeys(tabs[0]!.page, KEYS) : 0;
    log(`${KEYS} keys written (${failed} failed)`);
    await waitFor(
      'every ownership handoff to end',
      async () =>
        (
          await Promise.all(
            tabs.map((t) =>
              t.page.evaluate(() => {
                const status = window.dynamo!.ownershipHandoffStatus();
                return status.pendingPartitions.length + status.handoffPartitions.length + status.transfers.length === 0;
              }),
            ),
          )
        ).every(Boolean),
      180_000,
    );
    log(`handoffs over; leaving the cluster alone for ${SETTLE_S} s`);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_S * 1000));
    const pids = await rendererPids(tabs, browser);
    if (new Set(pids).size < pids.length) log('warning: some tabs share a renderer process; their cpu figures are the process, not the tab');
    const benchTabs: BenchTab[] = [];
    for (const [i, tab] of tabs.entries()) {
      const cdp = await context.newCDPSession(tab.page);
      await cdp.send('Performance.enable');
      benchTabs.push({ tab, node: await tab.id(), pid: pids[i]!, cdp });
    }
    const browserCdp = await browser.newBrowserCDPSession();

    console.log('');
    console.log(`tabdynamo idle bench — ${new Date().toISOString()} — ${NODES} app tabs, ${KEYS} keys, headless Chromium, this machine (load average ${loadAverage()})`);
    console.log('');
    const summaries: string[] = [];
    let hidden = false;
    for (const phase of PHASES) {
      if ((phase === 'hidden') !== hidden) {
        hidden = phase === 'hidden';
        await Promise.all(tabs.map((t) => t.page.evaluate((h) => window.idleBench!.setHidden(h), hidden)));
        await new Promise((resolve) => setTimeout(resolve, SWITCH_S * 1000));
      }
      const figures = await measureWindow(hidden ? 'hidden (ring explorer; visibilityState "hidden", see the header)' : 'visible (ring explorer)', benchTabs, browserCdp);
      const mean = (pick: (f: TabFigures) => number): string => (figures.reduce((sum, f) => sum + pick(f), 0) / figures.length).toFixed(2);
      summaries.push(`${phase} ${mean((f) => f.cpuPercent)} % cpu, ${Number(mean((f) => f.sentPerS)).toFixed(0)} B/s sent, ${mean((f) => f.redrawsPerS)} redraws/s`);
    }
    console.log(`summary (mean per tab): ${summaries.join('; ')}; goal ≤ ${GOAL_CPU_PERCENT} % and ≤ ${GOAL_SENT_BYTES_PER_S} B/s`);
    console.log('(cpu: the tab\'s renderer process, all its threads; main: its main thread\'s tasks; wakeups: timer and animation-frame callbacks on the main thread; CPU figures are inflated by whatever else the machine runs)');
  } finally {
    await closeWithin(browser.close());
    await closeWithin(server.close());
  }
}

runBench(main);
