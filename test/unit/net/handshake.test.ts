import { describe, expect, it } from 'vitest';
import { HandshakeError, HandshakeSession, sdpFingerprint, type HandshakeOptions, type HandshakeStep } from '../../../src/net/handshake.js';
import { deriveClusterKeys, newClusterSecret, type ClusterKeys } from '../../../src/security/cluster-secret.js';
import { generateNodeKey, type NodeKey } from '../../../src/security/node-key.js';

const FP_D = 'sha-256 AA:11';
const FP_A = 'sha-256 BB:22';

interface End {
  key: NodeKey;
  cluster: ClusterKeys;
}

async function end(secret: Uint8Array): Promise<End> {
  return { key: await generateNodeKey(), cluster: await deriveClusterKeys(secret, 'demo') };
}

function session(self: End, peer: End, dialer: boolean, overrides: Partial<HandshakeOptions> = {}): HandshakeSession {
  return new HandshakeSession({
    key: self.key,
    cluster: self.cluster,
    dialer,
    expectedPeer: peer.key.nodeId,
    localFingerprint: dialer ? FP_D : FP_A,
    remoteFingerprint: dialer ? FP_A : FP_D,
    ...overrides,
  });
}

/** Runs both ends as the transport does: hellos cross, then proofs cross. */
async function run(d: HandshakeSession, a: HandshakeSession): Promise<{ d: HandshakeStep; a: HandshakeStep }> {
  const [dProof, aProof] = await Promise.all([d.receive(a.hello()), a.receive(d.hello())]);
  const [dDone, aDone] = await Promise.all([d.receive(aProof.reply), a.receive(dProof.reply)]);
  return { d: dDone, a: aDone };
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HandshakeError);
    return (error as HandshakeError).reason;
  }
  throw new Error('expected the handshake to fail');
}

describe('connection handshake', () => {
  it('authenticates both ends when they share the secret and see the same connection', async () => {
    const secret = newClusterSecret();
    const [x, y] = await Promise.all([end(secret), end(secret)]);
    const d = session(x, y, true);
    const a = session(y, x, false);
    const done = await run(d, a);
    expect(done.d.peer).toBe(y.key.nodeId);
    expect(done.a.peer).toBe(x.key.nodeId);
    expect(d.authenticated && a.authenticated).toBe(true);
  });

  it('refuses an end with another cluster secret (bad MAC), on both sides', async () => {
    const [x, y] = await Promise.all([end(newClusterSecret()), end(newClusterSecret())]);
    const d = session(x, y, true);
    const a = session(y, x, false);
    const [dProof, aProof] = await Promise.all([d.receive(a.hello()), a.receive(d.hello())]);
    expect(await failure(a.receive(dProof.reply))).toBe('bad-mac');
    expect(await failure(d.receive(aProof.reply))).toBe('bad-mac');
    expect(a.authenticated || d.authenticated).toBe(false);
  });

  it('refuses a hello whose key is not the key of the node id it claims', async () => {
    const secret = newClusterSecret();
    const [x, y, z] = await Promise.all([end(secret), end(secret), end(secret)]);
    const a = session(y, x, false);
    // z claims to be x: its own key with x's id.
    const forged = { ...session(z, y, true).hello(), nodeId: x.key.nodeId };
    expect(await failure(a.receive(forged))).toBe('wrong-node');
  });

  it('refuses a proof signed with another key than the one presented (stolen hello)', async () => {
    const secret = newClusterSecret();
    const [x, y, z] = await Promise.all([end(secret), end(secret), end(secret)]);
    // z replays x's hello (x's id and public key) but can only sign with its own key.
    const a = session(y, x, false);
    const xHello = session(x, y, true).hello();
    const aProof = await a.receive(xHello);
    expect(aProof.reply).toBeDefined();
    // z sees a's hello and answers with a proof over the same transcript, but signed by z's key.
    const zAnswer = await new HandshakeSession({
      key: { ...z.key, nodeId: x.key.nodeId, publicKey: x.key.publicKey },
      cluster: z.cluster,
      dialer: true,
      expectedPeer: y.key.nodeId,
      localFingerprint: FP_D,
      remoteFingerprint: FP_A,
      randomNonce: () => xHello.nonce,
    }).receive(a.hello());
    expect(await failure(a.receive(zAnswer.reply))).toBe('bad-signature');
  });

  it('refuses when the two ends saw different DTLS fingerprints (an SDP swapped in the middle)', async () => {
    const secret = newClusterSecret();
    const [x, y] = await Promise.all([end(secret), end(secret)]);
    // The man in the middle gave each end its own certificate: x sees MITM1 as the acceptor's, y sees MITM2 as the dialer's.
    const d = session(x, y, true, { remoteFingerprint: 'sha-256 EE:01' });
    const a = session(y, x, false, { remoteFingerprint: 'sha-256 EE:02' });
    const [dProof, aProof] = await Promise.all([d.receive(a.hello()), a.receive(d.hello())]);
    expect(await failure(a.receive(dProof.reply))).toMatch(/bad-mac|bad-signature/);
    expect(await failure(d.receive(aProof.reply))).toMatch(/bad-mac|bad-signature/);
  });

  it('refuses a proof recorded on an earlier connection (the nonces differ)', async () => {
    const secret = newClusterSecret();
    const [x, y] = await Promise.all([end(secret), end(secret)]);
    const d1 = session(x, y, true);
    const a1 = session(y, x, false);
    const [old] = await Promise.all([d1.receive(a1.hello()), a1.receive(d1.hello())]);
    // The same hello replayed to a new acceptor session, then the old proof.
    const a2 = session(y, x, false);
    await a2.receive(d1.hello());
    expect(await failure(a2.receive(old.reply))).toMatch(/bad-mac|bad-signature/);
  });

  it('refuses a reflected proof (the acceptor echoing the dialer\'s own proof)', async () => {
    const secret = newClusterSecret();
    const [x, y] = await Promise.all([end(secret), end(secret)]);
    const d = session(x, y, true);
    const a = session(y, x, false);
    const [dProof] = await Promise.all([d.receive(a.hello()), a.receive(d.hello())]);
    expect(await failure(d.receive(dProof.reply))).toMatch(/bad-mac|bad-signature/);
  });

  it('refuses nodes it does not admit, a hello from another node than expected, malformed and out-of-order frames', async () => {
    const secret = newClusterSecret();
    const [x, y, z] = await Promise.all([end(secret), end(secret), end(secret)]);
    expect(await failure(session(y, x, false, { admit: () => false }).receive(session(x, y, true).hello()))).toBe('not-admitted');
    expect(await failure(session(y, x, false).receive(session(z, y, true).hello()))).toBe('wrong-node');
    expect(await failure(session(y, x, false).receive({ type: 'auth-proof', signature: new Uint8Array(64), mac: new Uint8Array(32) }))).toBe('malformed');
    expect(await failure(session(y, x, false).receive({ ...session(x, y, true).hello(), extra: 1 }))).toBe('malformed');
    expect(await failure(session(y, x, false).receive('hello'))).toBe('malformed');
    expect(await failure(session(y, x, false, { localFingerprint: '' }).receive(session(x, y, true).hello()))).toBe('no-fingerprint');
  });
});

describe('sdpFingerprint', () => {
  it('reads and normalises every a=fingerprint line', () => {
    const sdp = 'v=0\r\na=fingerprint:SHA-256 ab:cd:ef\r\nm=application 9\r\na=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\n';
    expect(sdpFingerprint(sdp)).toBe('sha-256 AB:CD:EF');
    expect(sdpFingerprint('v=0\r\n')).toBe('');
    expect(sdpFingerprint(undefined)).toBe('');
  });
});
