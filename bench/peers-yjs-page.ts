/**
 * The Yjs side of `npm run bench:peers` (bench/peers-bench.ts): one Yjs peer per tab, set up the way the
 * Yjs documentation sets up a shared document, exposed as `window.yjsPeer` for the driver.
 *
 * ```
 *   Y.Doc ── getMap('kv')              key → value (the store under test)
 *     ├── IndexeddbPersistence(room)    every update stored in this tab's IndexedDB (y-indexeddb)
 *     └── WebrtcProvider(room)          updates to every connected peer over WebRTC (y-webrtc, simple-peer),
 *                                       peers found through y-webrtc's own signaling server
 * ```
 *
 * Provider options: `signaling` is the bench's y-webrtc signaling server on loopback; `peerOpts.config`
 * names no ICE servers (the default public STUN servers are unreachable here, and our tabs use none
 * either). `maxConns` (at least 20) and `filterBcConns` keep their defaults: the bench puts every tab
 * in its own browser context, where BroadcastChannel reaches no other tab, so every peer talks to
 * every other over WebRTC data channels, as tabdynamo's nodes do.
 *
 * Times and values come from the probe the driver installs in every tab of both systems
 * (bench/peers-probe.ts): one clock whose readings in two tabs can be subtracted, and the same ~1 KiB
 * values for both stores.
 */
import * as Y from 'yjs';
import { IndexeddbPersistence } from 'y-indexeddb';
import { WebrtcProvider } from 'y-webrtc';
import type { PeersProbe } from './peers-probe.js';

/** Keys whose arrival time the observer records (the latency samples). */
const TIMED_PREFIX = 'lat:';
/** A writer waits while any data channel has more than this queued, bytes (see {@link waitForBuffers}). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** Where this peer stands. */
export interface YjsPeerStatus {
  /** Keys in the map. */
  keys: number;
  /** WebRTC connections and how many of them are open. */
  conns: number;
  open: number;
  /** When y-indexeddb had loaded the stored document; when the provider first reported `synced: true`; clock ms. */
  storedLoadedAtMs?: number;
  firstSyncedAtMs?: number;
  /** The provider's current `synced` (every connection has answered sync step 1). */
  synced: boolean;
  /** When the map last changed, clock ms. */
  lastChangeAtMs?: number;
  /** Most bytes queued on one data channel now. */
  maxBufferedBytes: number;
  /** The largest message the open connections accept (SCTP max-message-size), bytes; undefined with none open. */
  maxMessageBytes?: number;
  /** Times a writer stopped waiting for a full data channel and wrote anyway. */
  pacingGaveUp: number;
}

/** What the page exposes. */
export interface YjsPeer {
  /** Makes the doc, its IndexedDB persistence and its WebRTC provider in room `room` (see the end of the module). */
  start(room: string, signalingUrl: string): void;
  status(): YjsPeerStatus;
  /** `map.set(key, value)`; the clock just before the call, ms. */
  set(key: string, value: string): number;
  /** When the observer saw `key` (keys starting with `lat:` only), clock ms. */
  seenAt(key: string): number | undefined;
  /**
   * Writes keys `prefix{from}` … `prefix{from+count-1}`, one `map.set` (one transaction, one update) per
   * key, `perTask` of them per task, values of `valueBytes` characters. Resolves when all were issued.
   */
  burst(prefix: string, from: number, count: number, perTask: number, valueBytes: number): Promise<{ startedAtMs: number; issuedAtMs: number }>;
  /** The same keys written `batchKeys` per transaction (one update per batch). */
  load(prefix: string, from: number, count: number, batchKeys: number, valueBytes: number): Promise<{ startedAtMs: number; issuedAtMs: number }>;
  /** Bytes of the document encoded as one update (what a new peer's sync needs). */
  encodedBytes(): number;
  /** Disconnects the provider and destroys the doc (the tab's last act). */
  stop(): Promise<void>;
}

declare global {
  interface Window {
    yjsPeer?: YjsPeer;
  }
}

let doc: Y.Doc | undefined;
let map: Y.Map<string> | undefined;
let provider: WebrtcProvider | undefined;
let persistence: IndexeddbPersistence | undefined;
let storedLoadedAtMs: number | undefined;
let firstSyncedAtMs: number | undefined;
let lastChangeAtMs: number | undefined;
const seen = new Map<string, number>();

/** The probe the driver installs in every tab before the page runs (bench/peers-probe.ts): clock and values. */
function probe(): PeersProbe {
  if (window.peersProbe === undefined) throw new Error('the peers probe is not installed (open this page from bench/peers-bench.ts)');
  return window.peersProbe;
}
const wallClockMs = (): number => probe().now();
const benchValue = (index: number, bytes: number): string => probe().value(index, bytes);

function started(): { doc: Y.Doc; map: Y.Map<string>; provider: WebrtcProvider } {
  if (doc === undefined || map === undefined || provider === undefined) throw new Error('yjsPeer.start() was not called');
  return { doc, map, provider };
}

/** What this page reads of a simple-peer instance (`_pc` is its RTCPeerConnection). */
interface SimplePeer {
  connected: boolean;
  bufferSize: number;
  _pc?: RTCPeerConnection;
}

/** The simple-peer instances of the provider's WebRTC connections. */
function peers(): SimplePeer[] {
  const room = provider?.room;
  if (!room) return [];
  return [...room.webrtcConns.values()].map((conn) => conn.peer as SimplePeer);
}

const yieldTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** How long a writer waits for a full data channel to drain before it sends anyway, ms. */
const MAX_PACING_WAIT_MS = 10_000;
/** Times a writer gave up waiting for a full data channel (see {@link waitForBuffers}). */
let pacingGaveUp = 0;

/**
 * Waits while an open data channel holds more than {@link MAX_BUFFERED_BYTES}. y-webrtc sends without
 * looking at the buffer and drops a message whose `send` throws (Chromium refuses one once 16 MiB are
 * queued), so a writer that outruns its peers would lose updates; an application writing this fast has
 * to pace itself the same way. A channel that does not drain within {@link MAX_PACING_WAIT_MS} is
 * counted (`pacingGaveUp`) and written to anyway, so that one stuck peer cannot stop the writer.
 */
async function waitForBuffers(): Promise<void> {
  const until = performance.now() + MAX_PACING_WAIT_MS;
  while (peers().some((p) => p.connected && p.bufferSize > MAX_BUFFERED_BYTES)) {
    if (performance.now() > until) {
      pacingGaveUp++;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const yjsPeer: YjsPeer = {
  start(room, signalingUrl) {
    if (doc !== undefined) throw new Error('yjsPeer.start() was called already');
    doc = new Y.Doc();
    map = doc.getMap<string>('kv');
    map.observe((event) => {
      const at = wallClockMs();
      lastChangeAtMs = at;
      for (const key of event.keysChanged) if (key.startsWith(TIMED_PREFIX)) seen.set(key, at);
    });
    persistence = new IndexeddbPersistence(room, doc);
    persistence.on('synced', () => (storedLoadedAtMs ??= wallClockMs()));
    provider = new WebrtcProvider(room, doc, { signaling: [signalingUrl], peerOpts: { config: { iceServers: [] } } });
    provider.on('synced', ({ synced }: { synced: boolean }) => {
      if (synced) firstSyncedAtMs ??= wallClockMs();
    });
  },
  status() {
    const all = peers();
    return {
      keys: map?.size ?? 0,
      conns: all.length,
      open: all.filter((p) => p.connected).length,
      storedLoadedAtMs,
      firstSyncedAtMs,
      synced: provider?.room?.synced ?? false,
      lastChangeAtMs,
      maxBufferedBytes: Math.max(0, ...all.map((p) => p.bufferSize)),
      pacingGaveUp,
      maxMessageBytes: all.reduce<number | undefined>((least, p) => {
        const size = p.connected ? p._pc?.sctp?.maxMessageSize : undefined;
        return size === undefined ? least : Math.min(least ?? Infinity, size);
      }, undefined),
    };
  },
  set(key, value) {
    const at = wallClockMs();
    started().map.set(key, value);
    return at;
  },
  seenAt: (key) => seen.get(key),
  async burst(prefix, from, count, perTask, valueBytes) {
    const { map: kv } = started();
    const startedAtMs = wallClockMs();
    for (let i = from; i < from + count; ) {
      for (const end = Math.min(from + count, i + perTask); i < end; i++) kv.set(`${prefix}${i}`, benchValue(i, valueBytes));
      await waitForBuffers();
      await yieldTask();
    }
    return { startedAtMs, issuedAtMs: wallClockMs() };
  },
  async load(prefix, from, count, batchKeys, valueBytes) {
    const { doc: ydoc, map: kv } = started();
    const startedAtMs = wallClockMs();
    for (let i = from; i < from + count; ) {
      const end = Math.min(from + count, i + batchKeys);
      ydoc.transact(() => {
        for (; i < end; i++) kv.set(`${prefix}${i}`, benchValue(i, valueBytes));
      });
      await waitForBuffers();
      await yieldTask();
    }
    return { startedAtMs, issuedAtMs: wallClockMs() };
  },
  encodedBytes: () => Y.encodeStateAsUpdate(started().doc).byteLength,
  async stop() {
    provider?.destroy();
    await persistence?.destroy();
    doc?.destroy();
  },
};

window.yjsPeer = yjsPeer;
// Opened as peers-yjs.html?room=R&signaling=URL, the peer starts at once (so that a new tab's time to
// be ready counts from its navigation, with no round trip to the driver in it).
const query = new URLSearchParams(location.search);
const room = query.get('room');
const signaling = query.get('signaling');
if (room !== null && signaling !== null) yjsPeer.start(room, signaling);
