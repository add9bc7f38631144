/**
 * The benchmark's floor page: measures what the store is built on, without the store — a raw PeerJS
 * data-channel round trip between two tabs and a raw IndexedDB put/get — so `bench/run.ts` can print
 * the store's latencies next to them. Exposed as `window.floor` for the driver.
 */
import { openDB } from 'idb';
import Peer, { type DataConnection } from 'peerjs';
import { peerClientOptions } from '../src/signaling/signaling-plugin.js';

function percentiles(samples: number[]): { p50: number; p99: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), n: sorted.length };
}

const options = { ...peerClientOptions(location), config: { iceServers: [] }, debug: 0 as const };

const floor = {
  /** Registers as `id` and echoes every message received (the far end of the round trip). */
  async echo(id: string): Promise<void> {
    const peer = new Peer(id, options);
    await new Promise<void>((resolve, reject) => {
      peer.once('open', () => resolve());
      peer.once('error', reject);
    });
    peer.on('connection', (conn: DataConnection) => conn.on('data', (data) => void conn.send(data)));
  },
  /** Round trips of `bytes`-byte messages to the echo peer `to`, sequential, in ms. */
  async roundTrips(id: string, to: string, count: number, bytes: number): Promise<{ p50: number; p99: number; n: number }> {
    const peer = new Peer(id, options);
    await new Promise<void>((resolve, reject) => {
      peer.once('open', () => resolve());
      peer.once('error', reject);
    });
    const conn = peer.connect(to, { serialization: 'raw', reliable: true });
    await new Promise<void>((resolve, reject) => {
      conn.once('open', () => resolve());
      conn.once('error', reject);
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
};

declare global {
  interface Window {
    floor?: typeof floor;
  }
}
window.floor = floor;
