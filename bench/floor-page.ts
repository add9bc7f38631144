/**
 * The benchmark's floor page: measures what the store is built on, without the store — a raw PeerJS
 * data-channel round trip between two tabs and a raw IndexedDB put/get — so `bench/run.ts` can print
 * the store's latencies next to them. Exposed as `window.floor` for the driver.
 *
 * The signaling server takes only signed registrations (issue 16, src/security/registration.ts), so
 * each floor peer is a node as far as the server can tell: a fresh Ed25519 key, the PeerJS id
 * `dyn-<tag>-<node id of that key>`, registered through our own signaling (a {@link SignalingRouter}
 * with the server path only, under a {@link openRoutedPeer}). Nothing else of a node runs: no
 * connection handshake, no store; the round trip is that of the bare data channel.
 */
import { openDB } from 'idb';
import type { DataConnection, Peer } from 'peerjs';
import { openRoutedPeer } from '../src/net/routed-peer.js';
import type { ServerStatus } from '../src/net/server-signaling.js';
import { SignalingRouter } from '../src/net/signaling-router.js';
import { generateNodeKey } from '../src/security/node-key.js';
import { registrationParams } from '../src/security/registration.js';
import { peerClientOptions } from '../src/signaling/signaling-urls.js';

function percentiles(samples: number[]): { p50: number; p99: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), n: sorted.length };
}

/** How long a floor peer may take to register with the signaling server, ms. */
const REGISTER_TIMEOUT_MS = 15_000;

/**
 * A PeerJS peer of the signaling tag `tag` (16 chars a–z 2–7), under a new key, registered with the
 * page's signaling server; resolves once the server has accepted the registration (before that, an
 * offer to it would come back as EXPIRE).
 * @throws Error when the server has not accepted it within {@link REGISTER_TIMEOUT_MS}.
 */
async function openFloorPeer(tag: string): Promise<{ peer: Peer; peerId: string }> {
  const key = await generateNodeKey();
  const peerId = `dyn-${tag}-${key.nodeId}`;
  let last: ServerStatus | undefined;
  let registered = (): void => undefined;
  const open = new Promise<void>((resolve) => (registered = resolve));
  const router = new SignalingRouter({
    cluster: tag,
    self: key.nodeId,
    // Server only: the connection is set up as between two browsers, not over BroadcastChannel.
    broadcast: false,
    server: { ...peerClientOptions(location), registration: (id) => registrationParams(key, id, Date.now()) },
    onServerState: (status) => {
      last = status;
      if (status.state === 'open') registered();
    },
  });
  const peer = await openRoutedPeer(peerId, { debug: 0, config: { iceServers: [] } }, router);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${peerId} not registered after ${REGISTER_TIMEOUT_MS} ms (server ${JSON.stringify(last ?? router.serverStatus())})`)), REGISTER_TIMEOUT_MS);
  });
  try {
    await Promise.race([open, timeout]);
  } catch (error) {
    peer.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { peer, peerId };
}

const floor = {
  /**
   * Registers a peer of signaling tag `tag` that echoes every message it receives (the far end of the
   * round trip); its PeerJS id.
   */
  async echo(tag: string): Promise<string> {
    const { peer, peerId } = await openFloorPeer(tag);
    peer.on('connection', (conn: DataConnection) => conn.on('data', (data) => void conn.send(data)));
    return peerId;
  },
  /**
   * Registers a peer of signaling tag `tag` (the echo peer's), then times round trips of `bytes`-byte
   * messages to the echo peer `to` over one raw data channel, sequential, in ms.
   */
  async roundTrips(tag: string, to: string, count: number, bytes: number): Promise<{ p50: number; p99: number; n: number }> {
    const { peer } = await openFloorPeer(tag);
    const conn = peer.connect(to, { serialization: 'raw', reliable: true });
    await new Promise<void>((resolve, reject) => {
      conn.once('open', () => resolve());
      conn.once('error', reject);
      peer.once('error', reject);
    });
    const payload = new Uint8Array(bytes).fill(7);
    const samples: number[] = [];
    for (let i = 0; i < count + 20; i++) {
      const started = performance.now();
      await new Promise<void>((resolve) => {
        conn.once('data', () => resolve());
        void conn.send(payload);
      });
      if (i >= 20) samples.push(performance.now() - started); // the first 20 warm up
    }
    peer.destroy();
    return percentiles(samples);
  },
  /** Puts of `bytes`-byte values, one per transaction with strict durability (as the store does), and gets, in ms. */
  async indexedDb(count: number, bytes: number): Promise<{ put: ReturnType<typeof percentiles>; get: ReturnType<typeof percentiles> }> {
    const name = `bench-floor-${Date.now()}`;
    const db = await openDB(name, 1, { upgrade: (d) => d.createObjectStore('objects') });
    const value = { clock: [{ node: 'bench', counter: 1, timestampMs: Date.now() }], siblings: [{ dot: { node: 'bench', counter: 1, timestampMs: 0 }, data: new Uint8Array(bytes) }] };
    const puts: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const tx = db.transaction('objects', 'readwrite', { durability: 'strict' });
      void tx.store.put(value, `key-${i}`);
      await tx.done;
      puts.push(performance.now() - started);
    }
    const gets: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await db.get('objects', `key-${i}`);
      gets.push(performance.now() - started);
    }
    db.close();
    indexedDB.deleteDatabase(name);
    return { put: percentiles(puts), get: percentiles(gets) };
  },
  /**
   * Raw IndexedDB write throughput with group commit: `total` puts of `bytes`-byte values by `writers`
   * concurrent writers, every write that arrives while a transaction commits joining the next one
   * (strict durability), in writes/s — what a store that batches concurrent writes could reach.
   */
  async indexedDbThroughput(total: number, writers: number, bytes: number): Promise<{ writesPerSecond: number; transactions: number }> {
    const name = `bench-floor-batch-${Date.now()}`;
    const db = await openDB(name, 1, { upgrade: (d) => d.createObjectStore('objects') });
    const value = { clock: [{ node: 'bench', counter: 1, timestampMs: Date.now() }], siblings: [{ dot: { node: 'bench', counter: 1, timestampMs: 0 }, data: new Uint8Array(bytes) }] };
    let waiting: { key: string; done: () => void }[] = [];
    let committing = false;
    let transactions = 0;
    const commit = async (): Promise<void> => {
      committing = true;
      while (waiting.length > 0) {
        const batch = waiting;
        waiting = [];
        const tx = db.transaction('objects', 'readwrite', { durability: 'strict' });
        for (const w of batch) void tx.store.put(value, w.key);
        await tx.done;
        transactions++;
        for (const w of batch) w.done();
      }
      committing = false;
    };
    const put = (key: string): Promise<void> =>
      new Promise<void>((done) => {
        waiting.push({ key, done });
        if (!committing) void commit();
      });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < total) await put(`key-${next++}`);
      }),
    );
    const elapsedMs = performance.now() - started;
    db.close();
    indexedDB.deleteDatabase(name);
    return { writesPerSecond: (total / elapsedMs) * 1000, transactions };
  },
};

declare global {
  interface Window {
    floor?: typeof floor;
  }
}
window.floor = floor;
