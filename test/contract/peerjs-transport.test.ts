/**
 * The Transport contract (transport-contract.ts) against `PeerjsTransport` (src/net/peerjs-transport.ts)
 * over stand-in PeerJS peers: a small in-process "signaling and WebRTC" that connects stand-in peers by
 * id, opens both ends of a connection, and carries each frame to the other end in order, the way a
 * reliable, ordered data channel does. Only the transport's public face is used: `fromPeer` (the
 * constructor over an open peer), `listen`, `close`, and the port's `send` / `isConnected`.
 * Authentication is off (no keys); handshake.test.ts covers it.
 *
 * The stand-in follows the one in test/unit/net/connection-dialer.test.ts, extended to link two peers:
 *
 *   a.connect("dyn-c-b") ─▶ [task] b emits "connection" ─▶ [task] both ends emit "open"
 *   conn.send(frame)     ─▶ [task] the other end emits "data" (an ArrayBuffer, as PeerJS's raw mode)
 *   conn.close()         ─▶ this end emits "close" ─▶ [task] the other end emits "close"
 *   connect to an id no peer has ─▶ [task] the caller's peer emits error "peer-unavailable"
 *
 * Tasks run in order when the contract settles the network (and between them, the timers the transport
 * sets to close connections one per task).
 */
import type { Peer } from 'peerjs';
import type { NodeId } from '../../src/core/types.js';
import { toFrames } from '../../src/net/framing.js';
import { peerIdOf } from '../../src/net/peer-ids.js';
import { PeerjsTransport } from '../../src/net/peerjs-transport.js';
import { runTransportContract, type TransportEndpoint, type TransportNetwork } from './transport-contract.js';
import { Events } from '../unit/net/stand-in-events.js';

const CLUSTER = 'c';


/** One end of a stand-in data connection. */
class StandInConnection extends Events {
  readonly serialization = 'raw';
  /** The other end, once the remote peer took the connection. */
  other: StandInConnection | undefined;
  open = false;
  closed = false;
  constructor(
    private readonly network: StandInNetwork,
    /** The PeerJS id of the peer holding this end. */
    readonly owner: string,
    /** The PeerJS id of the other end's peer (PeerJS's `DataConnection.peer`). */
    readonly peer: string,
    readonly connectionId: string,
  ) {
    super();
  }

  send(data: Uint8Array): void {
    if (!this.open || this.closed) return;
    const copy = data.slice();
    this.network.enqueue(() => this.other?.arrive(copy.buffer));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.open = false;
    this.emit('close');
    this.network.enqueue(() => this.other?.close());
  }

  /** Opens this end (both ends open in the same task). */
  opened(): void {
    if (this.closed) return;
    this.open = true;
    this.emit('open');
  }

  private arrive(data: ArrayBuffer): void {
    if (this.closed) return;
    this.emit('data', data);
  }
}

/** A stand-in PeerJS peer, registered under its id in the network until destroyed. */
class StandInPeer extends Events {
  readonly options = { config: {} };
  destroyed = false;
  constructor(
    private readonly network: StandInNetwork,
    readonly id: string,
  ) {
    super();
  }

  connect(id: string): StandInConnection {
    return this.network.connect(this, id);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.network.remove(this);
  }

  reconnect(): void {}
}

/** Connects stand-in peers by id; carries frames in order; runs its tasks when settled. */
class StandInNetwork {
  private readonly peers = new Map<string, StandInPeer>();
  private readonly connections: StandInConnection[] = [];
  private tasks: (() => void)[] = [];
  private connectionCount = 0;

  add(peer: StandInPeer): void {
    this.peers.set(peer.id, peer);
  }

  enqueue(task: () => void): void {
    this.tasks.push(task);
  }

  connect(from: StandInPeer, to: string): StandInConnection {
    const connectionId = `dc_${++this.connectionCount}`;
    const local = new StandInConnection(this, from.id, to, connectionId);
    this.connections.push(local);
    this.enqueue(() => {
      const target = this.peers.get(to);
      if (target === undefined) {
        // What PeerJS reports when the signaling server does not know the id (a closed tab).
        from.emit('error', { type: 'peer-unavailable', message: `Could not connect to peer ${to}` });
        return;
      }
      const remote = new StandInConnection(this, to, from.id, connectionId);
      this.connections.push(remote);
      local.other = remote;
      remote.other = local;
      target.emit('connection', remote);
      this.enqueue(() => {
        local.opened();
        remote.opened();
      });
    });
    return local;
  }

  /** A destroyed peer: PeerJS closes every connection it holds. */
  remove(peer: StandInPeer): void {
    this.peers.delete(peer.id);
    for (const conn of this.connections) if (conn.owner === peer.id) conn.close();
  }

  /** The newest open end held by `owner` towards `peer`. */
  openEnd(owner: string, peer: string): StandInConnection | undefined {
    return this.connections.findLast((c) => c.owner === owner && c.peer === peer && c.open);
  }

  /**
   * Runs tasks until none are left and two rounds of timers (the transport's one-close-per-task
   * timers) brought no new ones.
   */
  async settle(): Promise<void> {
    for (let idle = 0; idle < 2; ) {
      if (this.tasks.length === 0) idle++;
      else idle = 0;
      while (this.tasks.length > 0) {
        const batch = this.tasks;
        this.tasks = [];
        for (const task of batch) task();
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
}

runTransportContract('PeerjsTransport (stand-in peers)', async () => {
  const network = new StandInNetwork();
  const transports = new Map<NodeId, PeerjsTransport>();
  const fixture: TransportNetwork = {
    async join(id: NodeId): Promise<TransportEndpoint> {
      const peer = new StandInPeer(network, peerIdOf(CLUSTER, id));
      network.add(peer);
      const transport = PeerjsTransport.fromPeer(peer as unknown as Peer, { cluster: CLUSTER, nodeId: id });
      transports.set(id, transport);
      const inbox: TransportEndpoint['inbox'] = [];
      let drops = 0;
      transport.listen(
        (from, message) => inbox.push({ from, message }),
        () => drops++,
      );
      return { id, transport, inbox, dropsReported: () => drops };
    },
    async leave(id) {
      transports.get(id)?.close();
    },
    settle: () => network.settle(),
    sendUndecodable(from, to) {
      const end = network.openEnd(peerIdOf(CLUSTER, from), peerIdOf(CLUSTER, to));
      if (end === undefined) throw new Error(`no open connection from ${from} to ${to}: send a message first`);
      // One frame whose payload is 0xc1, the one byte MessagePack never uses.
      for (const frame of toFrames(Uint8Array.of(0xc1))) end.send(frame);
    },
    async close() {
      for (const transport of transports.values()) transport.close();
      await network.settle();
    },
  };
  return fixture;
});
