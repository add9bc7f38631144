/**
 * The probe `npm run bench:peers` (bench/peers-bench.ts) installs in every tab of both systems before
 * the page's own scripts run (`context.addInitScript`), so that both are measured by the same code:
 *
 *   now()      the clock: `performance.timeOrigin + performance.now()`, ms since the epoch with sub-ms
 *              resolution. Every tab derives it from the machine's one clock, so a time taken in tab A
 *              and one taken in tab B can be subtracted (the driver checks the skew between tabs).
 *   value(i)   the value of key i: `bytes` characters of a fixed pseudo-random sequence over 64 letters
 *              (xorshift32 seeded by i), the same for both stores; random, so that neither storage
 *              engine can compress it away.
 *   wire()     bytes this tab has sent: every RTCPeerConnection the page made (the constructor is
 *              wrapped) read through `getStats()` — `transport` bytesSent (what went out on the ICE
 *              transport: data-channel payload plus SCTP and DTLS framing) and `data-channel` bytesSent
 *              (payload only) — plus bytes passed to `WebSocket.prototype.send` (signaling). A closed
 *              connection keeps the figures of its last reading.
 *   storage()  IndexedDB bytes of this tab: `navigator.storage.estimate()` (per origin and browser
 *              context; the bench gives every tab a context of its own, so it is this tab's) and the
 *              sum of key and value sizes of every record in every database of the context (strings by
 *              length, byte arrays by byteLength, 8 per number), which does not depend on how the
 *              engine lays records out.
 */

/** Bytes a tab has sent (see the module header). */
export interface WireBytes {
  transportBytesSent: number;
  dataChannelBytesSent: number;
  webSocketBytesSent: number;
  /** Peer connections made, and how many are not closed. */
  connections: number;
  open: number;
}

/** A tab's IndexedDB bytes (see the module header). */
export interface StorageBytes {
  /** `estimate().usage` and `usageDetails.indexedDB` (undefined where the browser gives no details). */
  usage: number;
  indexedDb: number | undefined;
  databases: number;
  records: number;
  recordBytes: number;
}

/** What the probe puts on `window.peersProbe`. */
export interface PeersProbe {
  now(): number;
  value(index: number, bytes: number): string;
  wire(): Promise<WireBytes>;
  storage(): Promise<StorageBytes>;
}

declare global {
  interface Window {
    peersProbe?: PeersProbe;
  }
}

/**
 * Installs `window.peersProbe`. Runs in the page as an init script: it must not refer to anything
 * outside its own body (it is sent as source text).
 */
export function installPeersProbe(): void {
  if (window.peersProbe !== undefined) return;
  const connections: { pc: RTCPeerConnection; transport: number; dataChannel: number }[] = [];
  const Native = window.RTCPeerConnection;
  // Every peer connection the page makes (PeerJS and simple-peer both take the global constructor).
  window.RTCPeerConnection = class extends Native {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      connections.push({ pc: this, transport: 0, dataChannel: 0 });
    }
  };
  let webSocketBytesSent = 0;
  const nativeSend = WebSocket.prototype.send;
  WebSocket.prototype.send = function send(this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
    if (typeof data === 'string') webSocketBytesSent += new TextEncoder().encode(data).byteLength;
    else if (data instanceof Blob) webSocketBytesSent += data.size;
    else webSocketBytesSent += data.byteLength;
    return nativeSend.call(this, data);
  };

  const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const sizeOf = (value: unknown): number => {
    if (typeof value === 'string') return value.length;
    if (typeof value === 'number') return 8;
    if (typeof value === 'boolean' || value === null || value === undefined) return 1;
    if (ArrayBuffer.isView(value)) return value.byteLength;
    if (value instanceof ArrayBuffer) return value.byteLength;
    if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + sizeOf(item), 0);
    if (typeof value === 'object') return Object.entries(value).reduce((sum, [k, v]) => sum + k.length + sizeOf(v), 0);
    return 0;
  };
  const request = <T>(req: IDBRequest<T>): Promise<T> =>
    new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });

  window.peersProbe = {
    now: () => performance.timeOrigin + performance.now(),
    value(index, bytes) {
      let state = (index * 2654435761) >>> 0 || 1;
      const out = new Array<string>(bytes);
      for (let i = 0; i < bytes; i++) {
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        out[i] = LETTERS[state & 63]!;
      }
      return out.join('');
    },
    async wire() {
      for (const entry of connections) {
        if (entry.pc.connectionState === 'closed' || entry.pc.signalingState === 'closed') continue;
        let transport = 0;
        let dataChannel = 0;
        try {
          const report = await entry.pc.getStats();
          report.forEach((stat: { type: string; bytesSent?: number }) => {
            if (stat.type === 'transport') transport += stat.bytesSent ?? 0;
            if (stat.type === 'data-channel') dataChannel += stat.bytesSent ?? 0;
          });
        } catch {
          continue; // closed meanwhile: keep the last reading
        }
        entry.transport = Math.max(entry.transport, transport);
        entry.dataChannel = Math.max(entry.dataChannel, dataChannel);
      }
      return {
        transportBytesSent: connections.reduce((sum, c) => sum + c.transport, 0),
        dataChannelBytesSent: connections.reduce((sum, c) => sum + c.dataChannel, 0),
        webSocketBytesSent,
        connections: connections.length,
        open: connections.filter((c) => c.pc.connectionState !== 'closed').length,
      };
    },
    async storage() {
      const estimate = (await navigator.storage.estimate()) as StorageEstimate & { usageDetails?: { indexedDB?: number } };
      let records = 0;
      let recordBytes = 0;
      const databases = await indexedDB.databases();
      for (const info of databases) {
        if (info.name === undefined) continue;
        const db = await request(indexedDB.open(info.name));
        try {
          for (const store of db.objectStoreNames) {
            const cursorRequest = db.transaction(store, 'readonly').objectStore(store).openCursor();
            await new Promise<void>((resolve, reject) => {
              cursorRequest.onerror = () => reject(cursorRequest.error);
              cursorRequest.onsuccess = () => {
                const cursor = cursorRequest.result;
                if (cursor === null) return resolve();
                records++;
                recordBytes += sizeOf(cursor.primaryKey) + sizeOf(cursor.value);
                cursor.continue();
              };
            });
          }
        } finally {
          db.close();
        }
      }
      return { usage: estimate.usage ?? 0, indexedDb: estimate.usageDetails?.indexedDB, databases: databases.length, records, recordBytes };
    },
  };
}

/**
 * The init script's source: {@link installPeersProbe}, called. tsx compiles the bench with esbuild's
 * `keepNames`, which wraps named functions in calls to a `__name` helper that exists only in Node; the
 * first line gives the page one that does nothing. (The same helper lets the driver's `page.evaluate`
 * callbacks use named inner functions.)
 */
export function peersProbeScript(): string {
  return `globalThis.__name ??= (target) => target;\n(${installPeersProbe.toString()})();`;
}
