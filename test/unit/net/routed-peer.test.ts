/**
 * Guard of the private PeerJS hook the signaling paths rely on (src/net/routed-peer.ts): peerjs must
 * be exactly the version the hook was read in, `Peer` must still build its server connection in
 * `_createServerConnection()` and hand what arrives on it to `_handleMessage()`. If an upgrade moves
 * either, this fails before any browser test does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PEERJS_VERSION, routedPeerClass } from '../../../src/net/routed-peer.js';
import { SignalingRouter } from '../../../src/net/signaling-router.js';

describe('the PeerJS hook', () => {
  it('is pinned: package.json asks for exactly the version installed and read', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    const installed = JSON.parse(readFileSync(new URL('../../../node_modules/peerjs/package.json', import.meta.url), 'utf8')) as { version: string };
    expect(pkg.dependencies.peerjs).toBe(PEERJS_VERSION);
    expect(installed.version).toBe(PEERJS_VERSION);
  });

  it('makes the router the peer\'s server connection, and what the router emits reaches PeerJS\'s message handler', async () => {
    const { default: Peer } = await import('peerjs');
    const proto = Peer.prototype as unknown as Record<string, unknown>;
    expect(typeof proto._createServerConnection).toBe('function');
    expect(typeof proto._handleMessage).toBe('function');

    const router = new SignalingRouter({ cluster: 'c', self: 'aa', broadcast: false });
    try {
      const RoutedPeer = routedPeerClass(Peer as never);
      const peer = new RoutedPeer('dyn-c-aa', { debug: 0 }, router);
      expect(peer.socket).toBe(router);
      const errors: { type: string; message: string }[] = [];
      peer.on('error', (error) => errors.push({ type: error.type, message: error.message }));
      // An EXPIRE from the router is what the server would say of an unknown peer.
      (router as unknown as { emitMessage(m: unknown): void }).emitMessage({ type: 'EXPIRE', src: 'dyn-c-bb' });
      expect(errors).toContainEqual({ type: 'peer-unavailable', message: 'Could not connect to peer dyn-c-bb' });
    } finally {
      router.close();
    }
  });
});
