/**
 * The transport's side of the handshake (src/net/connection-authentication.ts), with two ends wired to each
 * other through an ordered in-memory channel and real keys.
 */
import { describe, expect, it } from 'vitest';
import type { HandshakeMessage } from '../../../src/net/handshake.js';
import { ConnectionAuthentication } from '../../../src/net/connection-authentication.js';
import { deriveClusterKeys, newClusterSecret } from '../../../src/security/cluster-secret.js';
import { generateNodeKey } from '../../../src/security/node-key.js';

interface FakeConnection {
  name: string;
  dropped: boolean;
  delivered: unknown[];
  authenticated: boolean;
  refusedWith?: string;
}

const sdp = (fp: string) => ({ sdp: `v=0\r\na=fingerprint:sha-256 ${fp}\r\n` });

async function pair(secretA = newClusterSecret(), secretB = secretA) {
  const [keyA, keyB] = await Promise.all([generateNodeKey(), generateNodeKey()]);
  const [clusterA, clusterB] = await Promise.all([deriveClusterKeys(secretA, 'c'), deriveClusterKeys(secretB, 'c')]);
  const connectionA: FakeConnection = { name: 'a', dropped: false, delivered: [], authenticated: false };
  const connectionB: FakeConnection = { name: 'b', dropped: false, delivered: [], authenticated: false };
  // An ordered channel: each end's writes arrive at the other, in order, a task later.
  let endB!: ConnectionAuthentication<FakeConnection>;
  const hooks = (self: () => ConnectionAuthentication<FakeConnection>, other: () => ConnectionAuthentication<FakeConnection>, otherConnection: FakeConnection) => ({
    write: (_connection: FakeConnection, message: HandshakeMessage) => void setTimeout(() => other().take(otherConnection, message), 0),
    authenticated: (connection: FakeConnection) => (connection.authenticated = true),
    deliver: (connection: FakeConnection, message: unknown) => void connection.delivered.push(message),
    refused: (connection: FakeConnection, error: { reason: string }) => {
      connection.refusedWith = error.reason;
      connection.dropped = true;
    },
    dropped: (connection: FakeConnection) => connection.dropped,
  });
  const endA: ConnectionAuthentication<FakeConnection> = new ConnectionAuthentication({ key: keyA, cluster: clusterA }, hooks(() => endA, () => endB, connectionB));
  endB = new ConnectionAuthentication({ key: keyB, cluster: clusterB }, hooks(() => endB, () => endA, connectionA));
  const pcA = { localDescription: sdp('AA'), remoteDescription: sdp('BB') } as unknown as RTCPeerConnection;
  const pcB = { localDescription: sdp('BB'), remoteDescription: sdp('AA') } as unknown as RTCPeerConnection;
  return { endA, endB, connectionA, connectionB, keyA, keyB, pcA, pcB };
}

const until = async (what: string, check: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

describe('connection authentication', () => {
  it('authenticates both ends; messages the other end wrote right after its proof are delivered after, in order', async () => {
    const p = await pair();
    p.endA.start(p.connectionA, p.keyB.nodeId, true, p.pcA);
    p.endB.start(p.connectionB, p.keyA.nodeId, false, p.pcB);
    expect(p.endA.inProgress(p.connectionA)).toBe(true);
    // B's app messages, as soon as B is authenticated, go out behind its proof.
    await until('B authenticated', () => p.connectionB.authenticated);
    for (let i = 0; i < 3; i++) setTimeout(() => p.endA.take(p.connectionA, { type: 'app', i }), 0);
    await until('A authenticated and the messages delivered', () => p.connectionA.delivered.length === 3);
    expect(p.connectionA.delivered).toEqual([0, 1, 2].map((i) => ({ type: 'app', i })));
    expect(p.endA.inProgress(p.connectionA)).toBe(false);
    // After the handshake messages are delivered at once.
    p.endA.take(p.connectionA, { type: 'app', i: 3 });
    expect(p.connectionA.delivered).toHaveLength(4);
    expect(p.endA.stats()).toMatchObject({ handshakesAccepted: 1, handshakesRefused: 0 });
  });

  it('refuses and counts a connection whose first message is not a handshake, and delivers nothing', async () => {
    const p = await pair();
    p.endA.start(p.connectionA, p.keyB.nodeId, true, p.pcA);
    p.endA.take(p.connectionA, { type: 'gossip', members: [] });
    await until('refused', () => p.connectionA.refusedWith !== undefined);
    expect(p.connectionA.refusedWith).toBe('malformed');
    expect(p.connectionA.delivered).toEqual([]);
    expect(p.endA.stats()).toMatchObject({ handshakesRefused: 1, refusedByReason: { malformed: 1 } });
  });

  it('refuses an end with another cluster secret on both sides', async () => {
    const p = await pair(newClusterSecret(), newClusterSecret());
    p.endA.start(p.connectionA, p.keyB.nodeId, true, p.pcA);
    p.endB.start(p.connectionB, p.keyA.nodeId, false, p.pcB);
    await until('both refused', () => p.connectionA.refusedWith !== undefined && p.connectionB.refusedWith !== undefined);
    expect([p.connectionA.refusedWith, p.connectionB.refusedWith]).toEqual(['bad-mac', 'bad-mac']);
    expect(p.connectionA.authenticated || p.connectionB.authenticated).toBe(false);
  });

  it('refuses a node it does not admit', async () => {
    const p = await pair();
    const picky = new ConnectionAuthentication<FakeConnection>(
      { key: p.keyA, cluster: await deriveClusterKeys(newClusterSecret(), 'c'), admit: () => false },
      { write: () => undefined, authenticated: () => undefined, deliver: () => undefined, refused: (connection, e) => (connection.refusedWith = e.reason), dropped: () => false },
    );
    const connection: FakeConnection = { name: 'x', dropped: false, delivered: [], authenticated: false };
    picky.start(connection, p.keyB.nodeId, false, p.pcA);
    const helloOfB = { type: 'auth-hello', v: 1, nodeId: p.keyB.nodeId, publicKey: p.keyB.publicKey, nonce: new Uint8Array(32) };
    picky.take(connection, helloOfB);
    await until('refused', () => connection.refusedWith !== undefined);
    expect(connection.refusedWith).toBe('not-admitted');
  });
});
