/**
 * The transport's side of the handshake (src/net/link-authentication.ts), with two ends wired to each
 * other through an ordered in-memory channel and real keys.
 */
import { describe, expect, it } from 'vitest';
import type { HandshakeMessage } from '../../src/net/handshake.js';
import { LinkAuthentication } from '../../src/net/link-authentication.js';
import { deriveClusterKeys, newClusterSecret } from '../../src/security/cluster-secret.js';
import { generateNodeKey } from '../../src/security/node-key.js';

interface FakeLink {
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
  const linkA: FakeLink = { name: 'a', dropped: false, delivered: [], authenticated: false };
  const linkB: FakeLink = { name: 'b', dropped: false, delivered: [], authenticated: false };
  // An ordered channel: each end's writes arrive at the other, in order, a task later.
  let endB!: LinkAuthentication<FakeLink>;
  const hooks = (self: () => LinkAuthentication<FakeLink>, other: () => LinkAuthentication<FakeLink>, otherLink: FakeLink) => ({
    write: (_link: FakeLink, message: HandshakeMessage) => void setTimeout(() => other().take(otherLink, message), 0),
    authenticated: (link: FakeLink) => (link.authenticated = true),
    deliver: (link: FakeLink, message: unknown) => void link.delivered.push(message),
    refused: (link: FakeLink, error: { reason: string }) => {
      link.refusedWith = error.reason;
      link.dropped = true;
    },
    dropped: (link: FakeLink) => link.dropped,
  });
  const endA: LinkAuthentication<FakeLink> = new LinkAuthentication({ key: keyA, cluster: clusterA }, hooks(() => endA, () => endB, linkB));
  endB = new LinkAuthentication({ key: keyB, cluster: clusterB }, hooks(() => endB, () => endA, linkA));
  const pcA = { localDescription: sdp('AA'), remoteDescription: sdp('BB') } as unknown as RTCPeerConnection;
  const pcB = { localDescription: sdp('BB'), remoteDescription: sdp('AA') } as unknown as RTCPeerConnection;
  return { endA, endB, linkA, linkB, keyA, keyB, pcA, pcB };
}

const until = async (what: string, check: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

describe('link authentication', () => {
  it('authenticates both ends; messages the other end wrote right after its proof are delivered after, in order', async () => {
    const p = await pair();
    p.endA.start(p.linkA, p.keyB.nodeId, true, p.pcA);
    p.endB.start(p.linkB, p.keyA.nodeId, false, p.pcB);
    expect(p.endA.inProgress(p.linkA)).toBe(true);
    // B's app messages, as soon as B is authenticated, go out behind its proof.
    await until('B authenticated', () => p.linkB.authenticated);
    for (let i = 0; i < 3; i++) setTimeout(() => p.endA.take(p.linkA, { type: 'app', i }), 0);
    await until('A authenticated and the messages delivered', () => p.linkA.delivered.length === 3);
    expect(p.linkA.delivered).toEqual([0, 1, 2].map((i) => ({ type: 'app', i })));
    expect(p.endA.inProgress(p.linkA)).toBe(false);
    // After the handshake messages are delivered at once.
    p.endA.take(p.linkA, { type: 'app', i: 3 });
    expect(p.linkA.delivered).toHaveLength(4);
    expect(p.endA.stats()).toMatchObject({ handshakesAccepted: 1, handshakesRefused: 0 });
  });

  it('refuses and counts a connection whose first message is not a handshake, and delivers nothing', async () => {
    const p = await pair();
    p.endA.start(p.linkA, p.keyB.nodeId, true, p.pcA);
    p.endA.take(p.linkA, { type: 'gossip', members: [] });
    await until('refused', () => p.linkA.refusedWith !== undefined);
    expect(p.linkA.refusedWith).toBe('malformed');
    expect(p.linkA.delivered).toEqual([]);
    expect(p.endA.stats()).toMatchObject({ handshakesRefused: 1, refusedByReason: { malformed: 1 } });
  });

  it('refuses an end with another cluster secret on both sides', async () => {
    const p = await pair(newClusterSecret(), newClusterSecret());
    p.endA.start(p.linkA, p.keyB.nodeId, true, p.pcA);
    p.endB.start(p.linkB, p.keyA.nodeId, false, p.pcB);
    await until('both refused', () => p.linkA.refusedWith !== undefined && p.linkB.refusedWith !== undefined);
    expect([p.linkA.refusedWith, p.linkB.refusedWith]).toEqual(['bad-mac', 'bad-mac']);
    expect(p.linkA.authenticated || p.linkB.authenticated).toBe(false);
  });

  it('refuses a node it does not admit', async () => {
    const p = await pair();
    const picky = new LinkAuthentication<FakeLink>(
      { key: p.keyA, cluster: await deriveClusterKeys(newClusterSecret(), 'c'), admit: () => false },
      { write: () => undefined, authenticated: () => undefined, deliver: () => undefined, refused: (link, e) => (link.refusedWith = e.reason), dropped: () => false },
    );
    const link: FakeLink = { name: 'x', dropped: false, delivered: [], authenticated: false };
    picky.start(link, p.keyB.nodeId, false, p.pcA);
    const helloOfB = { type: 'auth-hello', v: 1, nodeId: p.keyB.nodeId, publicKey: p.keyB.publicKey, nonce: new Uint8Array(32) };
    picky.take(link, helloOfB);
    await until('refused', () => link.refusedWith !== undefined);
    expect(link.refusedWith).toBe('not-admitted');
  });
});
