/**
 * The in-page probe of `npm run bench:signaling` (bench/signaling-bench.ts): installed in every node tab
 * as an init script, before the app's own scripts, it records how long each WebRTC connection took to
 * set up and which signaling path carried its offer, using only the public console API and the
 * browser's own WebRTC objects (nothing in src/ is touched).
 *
 * - Every `pollMs` it reads `window.dynamo.connections()` and follows each row (node, end, start time
 *   derived from `ageMs`) from `opening` to `open`. A row's start is the transport's own `createdMs`:
 *   `connect()` for the initiating end (after any wait for a setup slot), the offer's arrival for the
 *   accepting end (src/net/peerjs-transport.ts); its `setup.path` is the path of its offer.
 * - `RTCPeerConnection` is wrapped (a subclass, nothing else changes) so that each data channel's `open`
 *   event — the moment PeerJS emits `open` and the transport records its setup sample — is timestamped.
 *   A row that turned open is matched to the channel whose connection was created at its start time
 *   (±`MATCH_MS`): its setup time is then that channel's open minus its RTCPeerConnection's creation,
 *   exact to the millisecond (the connection is created in the same task as the row). When that match
 *   is ambiguous (two connections started in the same few ms, opened between the same two polls, on
 *   different paths) or missing, the sample is the row's `ageMs` at the first poll that saw it open: an
 *   upper bound, at most one poll gap above the true time.
 * - It also runs the paced put/get traffic of the benchmark.
 *
 * The installer is a plain function serialised by Playwright; tsx (esbuild keepNames) wraps named
 * inner functions and classes in `__name(…)`, so the bench installs a no-op `__name` first.
 */
import type { SignalingPath, SignalingStats } from '../src/net/signaling-router.js';

/** A path as the probe reports it: `unknown` when the row never showed one (its offer was not sent). */
export type ProbePath = SignalingPath | 'unknown';

/** One connection that opened. */
export interface SetupSample {
  path: ProbePath;
  /** The initiating end (else the accepting end). */
  outbound: boolean;
  /** Setup time, ms. */
  ms: number;
  /** From the data channel's `open` event (else an upper bound from polling). */
  exact: boolean;
  /** Phase when the open was seen. */
  phase: string;
}

/** A connection that was seen opening and vanished without opening. */
export interface SetupFailure {
  path: ProbePath;
  outbound: boolean;
  phase: string;
  /** This tab was cut off (`disconnect()`) at the time: its own doing, not a failed setup. */
  cutOff: boolean;
}

/** What a tab's probe hands back. */
export interface ProbeReport {
  samples: SetupSample[];
  failures: SetupFailure[];
  /** Gaps between consecutive polls, ms (the resolution of the polled bounds). */
  gaps: number[];
  /** Rows first seen open although they had started before the previous poll (missed by the tracking; not counted). */
  untracked: number;
  /** The router's setups per path at the first poll, and now. */
  routerSetupsAtStart: Record<SignalingPath, number> | undefined;
  routerSetupsNow: Record<SignalingPath, number> | undefined;
  /** The router's counters now (since the node started). */
  router: Pick<SignalingStats, 'offersSent' | 'offersReceived' | 'answerTimeouts' | 'noPath' | 'relay'> | undefined;
  /** Traffic, per phase. */
  traffic: Record<string, { ok: number; failed: number; skipped: number; errors: Record<string, number> }>;
}

/** The probe's handle on `window.signalingBenchProbe`. */
export interface Probe {
  phase: string;
  report(): ProbeReport;
  startTraffic(periodMs: number, keys: number, inFlight: number): void;
  stopTraffic(): void;
}

/** How far apart a data channel's connection creation and a row's start may be to match, ms. */
export const MATCH_MS = 4;

/** Installs the probe (runs in the page, before its scripts). */
export function installProbe(options: { pollMs: number; matchMs: number; observeChannels: boolean }): void {
  interface Opened {
    createdAt: number;
    openAt: number;
    used: boolean;
  }
  interface Tracked {
    node: string;
    outbound: boolean;
    /** When the transport started it, ms: between these two (the poll's clock reads around connections()). */
    createdLo: number;
    createdHi: number;
    open: boolean;
    path: ProbePath | undefined;
  }
  const opens: Opened[] = [];
  const Native = window.RTCPeerConnection;
  if (options.observeChannels && Native !== undefined) {
    class ObservedPeerConnection extends Native {
      constructor(configuration?: RTCConfiguration) {
        super(configuration);
        const createdAt = Date.now();
        const watch = (channel: RTCDataChannel): void => channel.addEventListener('open', () => opens.push({ createdAt, openAt: Date.now(), used: false }), { once: true });
        this.addEventListener('datachannel', (event) => watch(event.channel));
        const create = this.createDataChannel.bind(this);
        this.createDataChannel = (label: string, init?: RTCDataChannelInit): RTCDataChannel => {
          const channel = create(label, init);
          watch(channel);
          return channel;
        };
      }
    }
    window.RTCPeerConnection = ObservedPeerConnection;
  }

  const report: ProbeReport = { samples: [], failures: [], gaps: [], untracked: 0, routerSetupsAtStart: undefined, routerSetupsNow: undefined, router: undefined, traffic: {} };
  let tracked: Tracked[] = [];
  let lastPoll: number | undefined;
  let trafficTimer: ReturnType<typeof setInterval> | undefined;
  const probe: Probe = {
    phase: 'start',
    report: () => {
      const api = window.dynamo;
      if (api !== undefined) {
        const s = api.signalingStatus();
        report.routerSetupsNow = { ...s.setups };
        report.router = { offersSent: s.offersSent, offersReceived: s.offersReceived, answerTimeouts: s.answerTimeouts, noPath: s.noPath, relay: s.relay };
      }
      return report;
    },
    startTraffic: (periodMs, keys, inFlight) => {
      probe.stopTraffic();
      let running = 0;
      trafficTimer = setInterval(() => {
        const api = window.dynamo;
        if (api === undefined) return;
        const counts = (report.traffic[probe.phase] ??= { ok: 0, failed: 0, skipped: 0, errors: {} });
        if (running >= inFlight) {
          counts.skipped++;
          return;
        }
        const key = `signaling-bench:${Math.floor(Math.random() * keys)}`;
        running++;
        const op = Math.random() < 0.5 ? api.put(key, { at: Date.now() }) : api.get(key);
        op.then(
          () => void counts.ok++,
          (error: unknown) => {
            counts.failed++;
            const name = error instanceof Error ? error.name : 'unknown';
            counts.errors[name] = (counts.errors[name] ?? 0) + 1;
          },
        ).finally(() => void running--);
      }, periodMs);
    },
    stopTraffic: () => {
      if (trafficTimer !== undefined) clearInterval(trafficTimer);
      trafficTimer = undefined;
    },
  };
  (window as unknown as { signalingBenchProbe: Probe }).signalingBenchProbe = probe;

  const poll = (): void => {
    const api = window.dynamo;
    if (api === undefined) return;
    const t = Date.now();
    const rows = api.connections().filter((row) => row.state !== 'waiting');
    const after = Date.now();
    const first = lastPoll === undefined;
    const previousPoll = lastPoll;
    if (lastPoll !== undefined) report.gaps.push(t - lastPoll);
    lastPoll = t;
    if (first) report.routerSetupsAtStart = { ...api.signalingStatus().setups };
    const next: Tracked[] = [];
    const seen = new Set<Tracked>();
    const newlyOpen: { row: Tracked; ageMs: number }[] = [];
    for (const row of rows) {
      const createdLo = t - row.ageMs;
      const createdHi = after - row.ageMs;
      const open = row.state !== 'opening';
      let entry = tracked.find((k) => !seen.has(k) && k.node === row.node && k.outbound === row.outbound && k.createdLo <= createdHi + 1 && createdLo <= k.createdHi + 1);
      if (entry === undefined) {
        entry = { node: row.node, outbound: row.outbound, createdLo, createdHi, open, path: row.setup?.path };
        // Rows open at the first poll opened before the probe could watch them: not counted. A row
        // started before the previous poll should have been seen then: a tracking miss, not counted.
        if (open && !first) {
          if (previousPoll !== undefined && createdHi < previousPoll - 1) report.untracked++;
          else newlyOpen.push({ row: entry, ageMs: row.ageMs });
        }
      } else {
        entry.path = row.setup?.path ?? entry.path;
        if (open && !entry.open) {
          entry.open = true;
          newlyOpen.push({ row: entry, ageMs: row.ageMs });
        }
      }
      seen.add(entry);
      next.push(entry);
    }
    for (const gone of tracked) {
      if (!seen.has(gone) && !gone.open) report.failures.push({ path: gone.path ?? 'unknown', outbound: gone.outbound, phase: probe.phase, cutOff: !api.node.connected });
    }
    tracked = next;

    // Exact times: each newly open row with the data channel opened for its connection.
    const candidates = newlyOpen.map(({ row }) => opens.filter((o) => !o.used && o.createdAt >= row.createdLo - options.matchMs && o.createdAt <= row.createdHi + options.matchMs));
    const done = new Set<number>();
    for (let i = 0; i < newlyOpen.length; i++) {
      if (done.has(i)) continue;
      // The rows that share a candidate with row i (transitively).
      const group = [i];
      for (let g = 0; g < group.length; g++) {
        for (let j = 0; j < newlyOpen.length; j++) {
          if (!group.includes(j) && candidates[j]!.some((o) => candidates[group[g]!]!.includes(o))) group.push(j);
        }
      }
      const pool = [...new Set(group.flatMap((j) => candidates[j]!))].sort((a, b) => a.openAt - b.openAt);
      const same = group.every((j) => newlyOpen[j]!.row.path === newlyOpen[i]!.row.path && newlyOpen[j]!.row.outbound === newlyOpen[i]!.row.outbound);
      // One row, one channel; or rows of one path and end with as many channels: each channel's time
      // (its open minus its connection's creation) is exact, whichever row it is counted for.
      const exact = pool.length === group.length && (group.length === 1 || same);
      group.forEach((j, k) => {
        const { row, ageMs } = newlyOpen[j]!;
        const ms = exact ? pool[k]!.openAt - pool[k]!.createdAt : ageMs;
        report.samples.push({ path: row.path ?? 'unknown', outbound: row.outbound, ms, exact, phase: probe.phase });
        done.add(j);
      });
      for (const o of pool) o.used = true;
    }
    // Channels no row claimed (a connection dropped before it opened): forget them after a while.
    while (opens.length > 0 && (opens[0]!.used || t - opens[0]!.openAt > 10_000)) opens.shift();
  };
  setInterval(() => {
    try {
      poll();
    } catch {
      // The node is starting or closing.
    }
  }, options.pollMs);
}
