/**
 * "No signaling path" is not "peer unreachable" (src/net/connection-dialer.ts, signaling-router.ts,
 * peerjs-errors.ts). When this node cannot signal right now (no server, no tab of this browser, no
 * open connection to relay through), only that connection attempt fails, counted `connect:no-path`:
 * the node is not reported unreachable, which would make the core suspect it at once and fail its
 * pending requests (NodeCore.reportUnreachable). Only the signaling server's word that it does not
 * know the node (an EXPIRE, PeerJS `peer-unavailable`) reports it.
 *
 * PeerJS is a stand-in that does with what the router emits what peerjs 1.5.5 `Peer._handleMessage`
 * does: an EXPIRE becomes a `peer-unavailable` error "Could not connect to peer <id>".
 */
import type { Peer } from 'peerjs';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerjsTransport } from '../../../src/net/peerjs-transport.js';
import { SignalingRouter } from '../../../src/net/signaling-router.js';
import { Events } from './stand-in-events.js';


class StandInConnection extends Events {
  readonly serialization = 'raw';
  readonly sent: Uint8Array[] = [];
  closed = false;
  constructor(
    readonly peer: string,
    readonly connectionId: string,
  ) {
    super();
  }
  send(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
  }
}

class StandInPeer extends Events {
  readonly connects: StandInConnection[] = [];
  readonly options = {};
  constructor(router: SignalingRouter) {
    super();
    router.on('message', (message) => {
      const { type, src } = message as { type: string; src?: string };
      if (type === 'EXPIRE') this.emit('error', { type: 'peer-unavailable', message: `Could not connect to peer ${src}` });
    });
  }
  connect(id: string): StandInConnection {
    const conn = new StandInConnection(id, `dc_${this.connects.length}`);
    this.connects.push(conn);
    return conn;
  }
  destroy(): void {}
}

const transports: PeerjsTransport[] = [];
afterEach(() => {
  for (const t of transports.splice(0)) t.close();
});

/** Node aa with no signaling server and no tab of its browser: the relay through open connections is its only path. */
function setup(): { peer: StandInPeer; router: SignalingRouter; transport: PeerjsTransport; unreachable: string[] } {
  const router = new SignalingRouter({ cluster: 'c', self: 'aa', broadcast: false });
  const peer = new StandInPeer(router);
  const transport = PeerjsTransport.fromPeer(peer as unknown as Peer, { cluster: 'c', nodeId: 'aa' }, router);
  transports.push(transport);
  const unreachable: string[] = [];
  transport.listen(
    () => undefined,
    () => undefined,
    (node) => unreachable.push(node),
  );
  return { peer, router, transport, unreachable };
}

/** An open connection `node` made to this node (accepted: no signaling path needed on this side). */
function connectedFrom(peer: StandInPeer, node: string): StandInConnection {
  const conn = new StandInConnection(`dyn-c-${node}`, `dc_from_${node}`);
  peer.emit('connection', conn);
  conn.emit('open');
  return conn;
}

const ping = { type: 'ping', requestId: 1 } as const;
const aTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));
const offerOf = (connectionId: string) => ({ type: 'OFFER', dst: 'dyn-c-bb', payload: { sdp: { type: 'offer', sdp: 'v=0' }, type: 'data', connectionId, label: connectionId, reliable: true, serialization: 'raw' } });

describe('no signaling path', () => {
  it('fails the connection attempt only: counted as connect:no-path, the node not reported unreachable', async () => {
    const { peer, router, transport, unreachable } = setup();
    expect(router.canReach('bb')).toBe(false);
    transport.send('bb', ping);
    await aTask();
    // No RTCPeerConnection was made for an offer nothing could carry; the message is lost (the core times out).
    expect(peer.connects).toEqual([]);
    expect(transport.stats()).toMatchObject({ connectFailures: 1, messagesDroppedUnsent: 1, errors: { 'connect:no-path': 1 } });
    expect(unreachable).toEqual([]);
  });

  it('gives up a connection whose offer finds the only path gone, without telling PeerJS or the core that the node is unavailable', async () => {
    const { peer, router, transport, unreachable } = setup();
    // cc connected to this node: the relay through it can carry signals to bb.
    const fromC = connectedFrom(peer, 'cc');
    expect(router.canReach('bb')).toBe(true);
    transport.send('bb', ping);
    const toB = peer.connects[0]!;
    expect(toB.peer).toBe('dyn-c-bb');
    // cc's connection closes while PeerJS is still making the offer to bb: when it comes, no path is left.
    fromC.emit('close');
    router.send(offerOf(toB.connectionId));
    await aTask();
    expect(router.stats().noPath).toBe(1);
    expect(transport.connectionStates('bb')).toEqual([]);
    expect(transport.stats()).toMatchObject({ connectFailures: 1, messagesDroppedUnsent: 1, errors: { 'connect:no-path': 1 } });
    expect(transport.stats().errors['peer-unavailable']).toBeUndefined();
    expect(unreachable).toEqual([]);
  });
});

describe('peer unreachable', () => {
  it('is what the signaling server says of a node it does not know: reported, and its pending connection failed at once', async () => {
    const { peer, router, transport, unreachable } = setup();
    connectedFrom(peer, 'cc');
    transport.send('bb', ping);
    expect(transport.connectionStates('bb').map((c) => c.state)).toEqual(['opening']);
    // The server's EXPIRE for bb (server-signaling.ts `onExpire`, handed on by the router).
    (router as unknown as { emitMessage(m: unknown): void }).emitMessage({ type: 'EXPIRE', src: 'dyn-c-bb' });
    await aTask();
    expect(unreachable).toEqual(['bb']);
    expect(transport.connectionStates('bb')).toEqual([]);
    expect(transport.stats()).toMatchObject({ connectFailures: 1, errors: { 'peer-unavailable': 1 } });
  });
});
