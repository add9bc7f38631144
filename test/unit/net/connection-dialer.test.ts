/**
 * The transport's setup slots (src/net/connection-dialer.ts, `maxOpening`): at most that many
 * connections this node opened are set up at once; the others wait with their messages queued, start
 * as setups end (opened, failed or timed out), and give way to a connection the other node opens.
 * PeerJS is replaced by a stand-in that records connects and lets the test open or fail them.
 */
import type { Peer } from 'peerjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encode, decode } from '@msgpack/msgpack';
import { toFrames } from '../../../src/net/framing.js';
import { DRAIN_MS, PeerjsTransport } from '../../../src/net/peerjs-transport.js';
import { Events } from './stand-in-events.js';


class StandInConnection extends Events {
  readonly serialization = 'raw';
  /** Every frame written, the transport's own `link-features` announcement included. */
  readonly frames: Uint8Array[] = [];
  closed = false;
  constructor(readonly peer: string) {
    super();
  }
  send(data: Uint8Array): void {
    this.frames.push(data);
  }
  /** The frames written but the `link-features` announcement each open connection starts with. */
  get sent(): Uint8Array[] {
    return this.frames.filter((frame) => (decode(frame.subarray(8)) as { type?: string }).type !== 'link-features');
  }
  close(): void {
    this.closed = true;
  }
}

class StandInPeer extends Events {
  readonly connects: StandInConnection[] = [];
  destroyed = false;
  /** What the next connects do instead of connecting: throw (the browser refused another RTCPeerConnection) or return nothing (PeerJS, while disconnected from the signaling server). */
  failNext: ('throw' | 'nothing')[] = [];
  connect(id: string): StandInConnection | undefined {
    const failure = this.failNext.shift();
    if (failure === 'throw') throw new DOMException('Cannot create so many PeerConnections', 'UnknownError');
    if (failure === 'nothing') return undefined;
    const conn = new StandInConnection(id);
    this.connects.push(conn);
    return conn;
  }
  destroy(): void {
    this.destroyed = true;
  }
  reconnect(): void {}
}

const transports: PeerjsTransport[] = [];
afterEach(() => {
  for (const t of transports.splice(0)) t.close();
  vi.useRealTimers();
});

function setup(maxOpening: number, connectTimeoutMs = 20_000, maxConnections = 24): { peer: StandInPeer; transport: PeerjsTransport } {
  const peer = new StandInPeer();
  const transport = PeerjsTransport.fromPeer(peer as unknown as Peer, { cluster: 'c', nodeId: 'a', maxOpening, connectTimeoutMs, maxConnections });
  transports.push(transport);
  return { peer, transport };
}

const ping = { type: 'ping', requestId: 1 } as const;
const targets = (peer: StandInPeer): string[] => peer.connects.map((c) => c.peer);

describe('connection setup slots', () => {
  it('sets up at most maxOpening connections at once; the others start as setups end and deliver what waited', () => {
    const { peer, transport } = setup(2);
    for (const node of ['b', 'd', 'e', 'f']) transport.send(node, ping);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d']);
    expect(transport.stats()).toMatchObject({ connectsWaiting: 2, connectsQueued: 2 });

    peer.connects[0]!.emit('open');
    expect(peer.connects[0]!.sent).toHaveLength(1);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d', 'dyn-c-e']);
    // A failed setup frees its slot too.
    peer.connects[1]!.emit('error', { type: 'negotiation-failed' });
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d', 'dyn-c-e', 'dyn-c-f']);
    expect(transport.stats().connectsWaiting).toBe(0);

    peer.connects[2]!.emit('open');
    peer.connects[3]!.emit('open');
    expect(peer.connects[2]!.sent).toHaveLength(1);
    expect(peer.connects[3]!.sent).toHaveLength(1);
    expect(transport.stats().openConnections).toBe(3);
  });

  it('a setup that times out frees its slot', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(1, 1_000);
    transport.send('b', ping);
    transport.send('d', ping);
    expect(targets(peer)).toEqual(['dyn-c-b']);
    vi.advanceTimersByTime(1_000);
    expect(transport.stats().connectFailures).toBe(1);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d']);
  });

  it('a connection the other node opens carries the messages of ours still waiting, which is never opened', () => {
    const { peer, transport } = setup(1);
    transport.send('b', ping);
    transport.send('d', ping);
    transport.send('d', ping);
    expect(targets(peer)).toEqual(['dyn-c-b']);
    const fromD = new StandInConnection('dyn-c-d');
    peer.emit('connection', fromD);
    expect(transport.stats().connectsWaiting).toBe(0);
    fromD.emit('open');
    expect(fromD.sent).toHaveLength(2);
    // Our setup to b ending does not start one to d any more.
    peer.connects[0]!.emit('open');
    expect(targets(peer)).toEqual(['dyn-c-b']);
    expect(transport.stats().messagesDroppedUnsent).toBe(0);
  });

  it('disconnecting drops waiting connections without opening them', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(1);
    transport.send('b', ping);
    transport.send('d', ping);
    transport.disconnect();
    expect(targets(peer)).toEqual(['dyn-c-b']);
    expect(transport.stats().connectsWaiting).toBe(0);
    vi.advanceTimersToNextTimer();
    expect(peer.connects[0]!.closed).toBe(true);
  });
});

describe('setup times', () => {
  it('reports p50/p95/max of the connections opened, updated as more open', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(6);
    for (const node of ['b', 'd', 'e']) transport.send(node, ping);
    expect(transport.stats().setupMs).toEqual({ p50: 0, p95: 0, max: 0 });
    vi.advanceTimersByTime(100);
    peer.connects[0]!.emit('open');
    vi.advanceTimersByTime(200);
    peer.connects[1]!.emit('open');
    expect(transport.stats().setupMs).toEqual({ p50: 300, p95: 300, max: 300 });
    expect(transport.stats().setupMs).toEqual({ p50: 300, p95: 300, max: 300 });
    vi.advanceTimersByTime(900);
    peer.connects[2]!.emit('open');
    expect(transport.stats().setupMs).toEqual({ p50: 300, p95: 1200, max: 1200 });
  });
});

describe('a connection that cannot be started', () => {
  it('is dropped at once, its message counted as lost, and the next send connects again', () => {
    const { peer, transport } = setup(6);
    peer.failNext = ['throw'];
    expect(() => transport.send('b', ping)).not.toThrow();
    expect(transport.connectionStates()).toEqual([]);
    expect(transport.stats()).toMatchObject({ connectFailures: 1, messagesDroppedUnsent: 1, errors: { 'connect:UnknownError': 1 } });
    transport.send('b', ping);
    expect(targets(peer)).toEqual(['dyn-c-b']);
    peer.connects[0]!.emit('open');
    expect(peer.connects[0]!.sent).toHaveLength(1);
  });

  it('a waiting connection whose turn comes while PeerJS cannot connect is dropped, and the next waiting one starts', () => {
    const { peer, transport } = setup(1);
    transport.send('b', ping);
    transport.send('d', ping);
    transport.send('d', ping);
    transport.send('e', ping);
    expect(transport.connectionStates().map((l) => `${l.node} ${l.state}`)).toEqual(['b opening', 'd waiting', 'e waiting']);
    peer.failNext = ['nothing'];
    peer.connects[0]!.emit('open');
    // d could not start: its two queued messages are lost (counted) instead of waiting for good on a connection that never opens; e starts.
    expect(transport.connectionStates().map((l) => `${l.node} ${l.state}`)).toEqual(['b open', 'e opening']);
    expect(transport.stats()).toMatchObject({ connectFailures: 1, messagesDroppedUnsent: 2, errors: { 'connect:peer-disconnected': 1 } });
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-e']);
  });
});

describe('closing connections', () => {
  it('closes dropped connections one per task, and a connection dropped while opening stays dropped when it opens', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(6);
    for (const node of ['b', 'd', 'e']) transport.send(node, ping);
    peer.connects[0]!.emit('open');
    peer.connects[1]!.emit('open');
    expect(transport.stats().openConnections).toBe(2);
    transport.disconnect();
    // Nothing is closed in the disconnect's own task: each close may block the main thread.
    expect(peer.connects.map((c) => c.closed)).toEqual([false, false, false]);
    expect(transport.stats().openConnections).toBe(0);
    vi.advanceTimersToNextTimer();
    expect(peer.connects.filter((c) => c.closed)).toHaveLength(1);
    vi.advanceTimersToNextTimer();
    expect(peer.connects.filter((c) => c.closed)).toHaveLength(2);
    // The third, still being set up, opens before its turn to be closed: it is not used.
    peer.connects[2]!.emit('open');
    expect(transport.stats()).toMatchObject({ openConnections: 0, connectionsOpened: 2 });
    expect(peer.connects[2]!.sent).toHaveLength(0);
    vi.advanceTimersToNextTimer();
    expect(peer.connects.map((c) => c.closed)).toEqual([true, true, true]);
  });
});

describe('the cap', () => {
  const decodeAll = (conn: StandInConnection): unknown[] => conn.sent.map((frame) => decode(frame.subarray(8)));

  it('makes room by draining the least recently used open connection: it is told, stops counting, and closes after DRAIN_MS', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(6, 20_000, 2);
    transport.send('b', ping);
    vi.advanceTimersByTime(10);
    transport.send('d', ping);
    for (const conn of peer.connects) conn.emit('open');
    vi.advanceTimersByTime(10);
    transport.send('e', ping);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d', 'dyn-c-e']);
    const [b] = peer.connects;
    // b was told to stop sending on it (after the ping it carried), and is not closed yet.
    expect(decodeAll(b!).at(-1)).toEqual({ type: 'link-drain' });
    expect(b!.closed).toBe(false);
    expect(transport.stats()).toMatchObject({ openConnections: 1, drainingConnections: 1, connectionsEvicted: 1 });
    // A reply b sent before it heard of the drain still arrives.
    const received: unknown[] = [];
    transport.listen((_from, message) => received.push(message), () => undefined);
    b!.emit('data', toFrames(encode({ type: 'ping-reply', requestId: 1 }))[0]);
    expect(received).toEqual([{ type: 'ping-reply', requestId: 1 }]);
    vi.advanceTimersByTime(DRAIN_MS + 10);
    expect(b!.closed).toBe(true);
    expect(transport.stats().drainingConnections).toBe(0);
    expect(transport.stats().messagesDroppedUnsent).toBe(0);
  });

  it('never evicts a connection still opening: a new one waits for it to open, then takes the room', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(6, 20_000, 2);
    transport.send('b', ping);
    transport.send('d', ping);
    transport.send('e', ping);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d']);
    expect(transport.stats().connectsWaiting).toBe(1);
    vi.advanceTimersByTime(200);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d']);
    peer.connects[0]!.emit('open');
    vi.advanceTimersByTime(100);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d', 'dyn-c-e']);
    // b carried its ping before it was drained; nothing was lost.
    expect(decodeAll(peer.connects[0]!)).toEqual([ping, { type: 'link-drain' }]);
    expect(transport.stats().messagesDroppedUnsent).toBe(0);
  });

  it('stops sending on a connection the other end drains, and connects again for the next message', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(6);
    transport.send('b', ping);
    peer.connects[0]!.emit('open');
    peer.connects[0]!.emit('data', toFrames(encode({ type: 'link-drain' }))[0]);
    expect(transport.stats()).toMatchObject({ openConnections: 0, drainingConnections: 1 });
    transport.send('b', ping);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-b']);
    expect(peer.connects[0]!.sent).toHaveLength(1);
  });

  it('keeps connections to kept nodes (ring neighbours) while others can go', () => {
    vi.useFakeTimers();
    const { peer, transport } = setup(6, 20_000, 2);
    transport.keepConnected(['b']);
    expect(targets(peer)).toEqual(['dyn-c-b']);
    vi.advanceTimersByTime(10);
    transport.send('d', ping);
    for (const conn of peer.connects) conn.emit('open');
    vi.advanceTimersByTime(10);
    transport.send('d', ping);
    vi.advanceTimersByTime(10);
    // e needs room: b is the least recently used, but it is kept, so d goes.
    transport.send('e', ping);
    expect(targets(peer)).toEqual(['dyn-c-b', 'dyn-c-d', 'dyn-c-e']);
    expect(decodeAll(peer.connects[1]!).at(-1)).toEqual({ type: 'link-drain' });
    expect(decodeAll(peer.connects[0]!)).toEqual([]);
    expect(transport.isConnected('b')).toBe(true);
    expect(transport.isConnected('d')).toBe(false);
  });
});

describe('batches of one turn (batching.ts)', () => {
  const decodeFrame = (frame: Uint8Array): { type?: string; messages?: Uint8Array[] } => decode(frame.subarray(8)) as { type?: string; messages?: Uint8Array[] };

  it('announces on open that it reads batches, and sends one only to a peer that announced it too', async () => {
    const { peer, transport } = setup(6);
    transport.send('b', ping);
    const b = peer.connects[0]!;
    b.emit('open');
    // What waited for the open goes first, then the announcement.
    expect(b.frames.map((frame) => decodeFrame(frame).type)).toEqual(['ping', 'link-features']);
    // The peer has not said it reads batches: two messages of one turn go as two.
    transport.send('b', { type: 'ping', requestId: 2 });
    transport.send('b', { type: 'ping', requestId: 3 });
    await Promise.resolve();
    expect(b.sent.map((frame) => decodeFrame(frame))).toEqual([ping, { type: 'ping', requestId: 2 }, { type: 'ping', requestId: 3 }]);
    // Now it has: three small messages of one turn leave as one batch, in order, at the turn's end.
    b.emit('data', toFrames(encode({ type: 'link-features', batches: true }))[0]);
    for (const requestId of [4, 5, 6]) transport.send('b', { type: 'ping', requestId });
    expect(b.sent).toHaveLength(3);
    await Promise.resolve();
    expect(b.sent).toHaveLength(4);
    const batch = decodeFrame(b.sent[3]!);
    expect(batch.type).toBe('link-batch');
    expect(batch.messages!.map((bytes) => decode(bytes))).toEqual([4, 5, 6].map((requestId) => ({ type: 'ping', requestId })));
    expect(transport.stats().batchesSent).toBe(1);
    // A lone message of a turn goes as it is; a large one goes alone, after what waited before it.
    transport.send('b', { type: 'ping', requestId: 7 });
    await Promise.resolve();
    expect(decodeFrame(b.sent.at(-1)!)).toEqual({ type: 'ping', requestId: 7 });
    transport.send('b', { type: 'ping', requestId: 8 });
    transport.send('b', { type: 'replica-put-reply', requestId: 9, pad: new Uint8Array(20_000) } as never);
    expect(b.sent.slice(-2).map((frame) => decodeFrame(frame).type)).toEqual(['ping', 'replica-put-reply']);
    expect(transport.stats().messagesDroppedUnsent).toBe(0);
  });

  it('delivers the messages of a received batch in order; a malformed batch is dropped whole and counted', () => {
    const { peer, transport } = setup(6);
    const received: unknown[] = [];
    const drops: string[] = [];
    transport.listen((_from, message) => received.push(message), (_from, reason) => drops.push(reason));
    transport.send('b', ping);
    const b = peer.connects[0]!;
    b.emit('open');
    const messages = [1, 2, 3].map((requestId) => encode({ type: 'ping-reply', requestId }));
    b.emit('data', toFrames(encode({ type: 'link-batch', messages }))[0]);
    expect(received).toEqual([1, 2, 3].map((requestId) => ({ type: 'ping-reply', requestId })));
    expect(transport.stats().batchesReceived).toBe(1);
    b.emit('data', toFrames(encode({ type: 'link-batch', messages: ['not bytes'] }))[0]);
    b.emit('data', toFrames(encode({ type: 'link-batch', messages: [encode({ type: 'link-batch', messages: [] })] }))[0]);
    expect(received).toHaveLength(3);
    expect(drops).toEqual(['link-batch: a message is not bytes', 'link-batch: a batch inside a batch']);
  });
});
