/**
 * A PeerJS `Peer` whose signaling goes through this node's {@link SignalingRouter} (server, relay
 * through the cluster, or BroadcastChannel) instead of PeerJS's own socket to the signaling server.
 *
 * Why a subclass of PeerJS and not our own `RTCPeerConnection` code for relayed connections: PeerJS has no
 * public API for other signaling paths (peers/peerjs#775), but everything it does with a connection
 * goes through one object, its server connection, which it builds in the private
 * `Peer._createServerConnection()` and uses only through `start`, `send`, `close` and `message`
 * events. Replacing that one object gives every path the same, well-tested connection code (offer and
 * answer, ICE, the data channel, PeerJS's handling of both sides connecting at once), and the
 * transport above keeps a single kind of connection whatever path set it up. Writing native
 * `RTCPeerConnection` code for relayed connections instead would have meant two connection implementations
 * with different bugs. The cost is a private hook: peerjs is pinned to exactly 1.5.5 in package.json,
 * and test/unit/net/routed-peer.test.ts fails if the hook or the message handler it relies on changes.
 */
import type { Peer, PeerOptions } from 'peerjs';
import type { SignalingRouter } from './signaling-router.js';

/** The PeerJS version the private hook was read in (package.json pins it exactly). */
export const PEERJS_VERSION = '1.5.5';

/** The socket handed to the next `Peer` under construction (the hook runs inside PeerJS's constructor, before subclass fields exist). */
let nextSocket: SignalingRouter | undefined;

type PeerClass = new (id: string, options: PeerOptions) => Peer;
type HandleMessage = (message: unknown) => void;

/**
 * Makes the `Peer` subclass over PeerJS's class (loaded by the caller, so that PeerJS stays a lazy
 * import of the transport).
 */
export function routedPeerClass(Base: PeerClass): new (id: string, options: PeerOptions, router: SignalingRouter) => Peer {
  class RoutedPeer extends Base {
    constructor(id: string, options: PeerOptions, router: SignalingRouter) {
      nextSocket = router;
      try {
        super(id, options);
      } finally {
        nextSocket = undefined;
      }
    }

    /** Overrides PeerJS's private hook: the router is this peer's "server connection". */
    _createServerConnection(): SignalingRouter {
      const socket = nextSocket;
      if (socket === undefined) throw new Error('RoutedPeer: no signaling router handed over');
      const handle = (this as unknown as { _handleMessage: HandleMessage })._handleMessage.bind(this);
      socket.on('message', (message) => handle(message));
      return socket;
    }
  }
  return RoutedPeer;
}

/**
 * A `Peer` for `peerId` whose signals `router` carries. It opens at once (the router answers PeerJS's
 * registration itself); whether the signaling server is reachable is the router's business.
 */
export async function openRoutedPeer(peerId: string, options: PeerOptions, router: SignalingRouter): Promise<Peer> {
  const { default: Base } = await import('peerjs');
  const RoutedPeer = routedPeerClass(Base as unknown as PeerClass);
  const peer = new RoutedPeer(peerId, options, router);
  await new Promise<void>((resolve, reject) => {
    peer.once('open', () => resolve());
    peer.once('error', (error) => reject(error));
  });
  return peer;
}
