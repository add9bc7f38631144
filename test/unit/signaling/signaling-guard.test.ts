/**
 * The signaling server's guard, its listing and its token bucket (src/signaling/signaling-guard.ts,
 * peer-listing.ts, token-bucket.ts), without any socket: time is passed in, keys are real Ed25519
 * keys from WebCrypto. The same rules against real servers: test/unit/signaling/signaling-server.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { generateNodeKey, type NodeKey } from '../../../src/security/node-key.js';
import { REGISTRATION_WINDOW_MS, registrationParams } from '../../../src/security/registration.js';
import { PeerListing } from '../../../src/signaling/peer-listing.js';
import { addressKey, DEFAULT_SIGNALING_LIMITS, SignalingGuard } from '../../../src/signaling/signaling-guard.js';
import { TokenBucket } from '../../../src/signaling/token-bucket.js';

const TAG = 'abcdefghijklmnop';
const OTHER_TAG = 'qrstuvwxyz234567';
const NOW = 1_700_000_000_000;
const peerIdOf = (tag: string, key: NodeKey): string => `dyn-${tag}-${key.nodeId}`;

/** The upgrade URL a node builds (server-signaling.ts) with `params` as its proof. */
const upgradeUrl = (peerId: string, params: Record<string, string>): string =>
  `/peerjs/peerjs?key=peerjs&id=${peerId}&token=t1&version=1.5.5&${new URLSearchParams(params).toString()}`;

describe('token bucket', () => {
  it('allows a burst, then the rate, and refills up to the burst only', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([1, 2, 3, 4].map(() => bucket.take(1, 0))).toEqual([true, true, true, false]);
    expect(bucket.take(1, 99)).toBe(false);
    expect(bucket.take(1, 100)).toBe(true);
    expect(bucket.isFull(10_000)).toBe(true);
    expect(bucket.take(4, 10_000)).toBe(false);
    expect(bucket.take(3, 10_000)).toBe(true);
    // A clock stepping back neither refills nor drains.
    expect(bucket.take(1, 5_000)).toBe(false);
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
  });
});

describe('address keys', () => {
  it('limit IPv4 per address and IPv6 per /64', () => {
    expect(addressKey('127.0.0.1')).toBe('127.0.0.1');
    expect(addressKey('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(addressKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0db8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});

describe('signaling guard: upgrades', () => {
  it('caps sockets per address, counting pending ones, and frees a slot on release', () => {
    const guard = new SignalingGuard({ socketsPerAddressMax: 2 });
    const a = guard.admit('10.0.0.1', NOW);
    const b = guard.admit('::ffff:10.0.0.1', NOW);
    expect(a.ok && b.ok).toBe(true);
    expect(guard.admit('10.0.0.1', NOW)).toMatchObject({ ok: false, status: 429 });
    expect(guard.admit('10.0.0.2', NOW).ok).toBe(true);
    expect(guard.stats().upgradesRefused.socketsPerAddress).toBe(1);
    expect(guard.stats().sockets).toEqual({ open: 0, pending: 3 });
    guard.release('10.0.0.1');
    expect(guard.admit('10.0.0.1', NOW).ok).toBe(true);
  });

  it('limits the upgrade rate per address, refused upgrades included', () => {
    const guard = new SignalingGuard({ upgradesPerAddressPerSecond: 2, upgradesPerAddressBurst: 3 });
    const tries = (atMs: number): boolean[] => [1, 2, 3, 4].map(() => {
      const admission = guard.admit('10.0.0.1', atMs);
      if (admission.ok) guard.release(admission.address);
      return admission.ok;
    });
    expect(tries(NOW)).toEqual([true, true, true, false]);
    expect(tries(NOW + 500)).toEqual([true, false, false, false]);
    expect(guard.stats().upgradesRefused.upgradeRate).toBe(4);
  });

  it('accepts a signed registration once, and refuses and counts each kind of bad one', async () => {
    const guard = new SignalingGuard();
    const key = await generateNodeKey();
    const other = await generateNodeKey();
    const id = peerIdOf(TAG, key);
    const good = await registrationParams(key, id, NOW);
    expect(await guard.checkRegistration(upgradeUrl(id, good), NOW)).toEqual({ ok: true, peerId: id, tag: TAG });

    const refusals: [string, string][] = [
      ['replayed registration', upgradeUrl(id, good)],
      ['missing or malformed proof', `/peerjs/peerjs?key=peerjs&id=${id}&token=t1`],
      ['missing or malformed proof', upgradeUrl(id, { ...(await registrationParams(key, id, NOW)), pk: 'not base64url!' })],
      ['malformed peer id', upgradeUrl('node-1', await registrationParams(key, 'node-1', NOW))],
      ['malformed peer id', '/peerjs/peerjs?key=peerjs&token=t1'],
      // Signed by another key: its public key does not hash to the id's node part.
      ['key does not match the node id', upgradeUrl(id, await registrationParams(other, id, NOW))],
      // The right public key, someone else's signature.
      ['bad signature', upgradeUrl(id, { ...(await registrationParams(other, id, NOW)), pk: good.pk })],
      // Signed for another id (same key, another tag).
      ['bad signature', upgradeUrl(id, await registrationParams(key, peerIdOf(OTHER_TAG, key), NOW + 1))],
      ['timestamp outside the window', upgradeUrl(id, await registrationParams(key, id, NOW - REGISTRATION_WINDOW_MS - 1))],
      ['timestamp outside the window', upgradeUrl(id, await registrationParams(key, id, NOW + REGISTRATION_WINDOW_MS + 1))],
    ];
    for (const [reason, url] of refusals) {
      expect(await guard.checkRegistration(url, NOW), reason).toEqual({ ok: false, status: 403, reason });
    }
    expect(guard.stats().registrations).toEqual({
      accepted: 1,
      refused: {
        'replayed registration': 1,
        'missing or malformed proof': 2,
        'malformed peer id': 2,
        'key does not match the node id': 1,
        'bad signature': 2,
        'timestamp outside the window': 2,
      },
    });
  });

  it('accepts a signature only once even when both checks run at the same time', async () => {
    const guard = new SignalingGuard();
    const key = await generateNodeKey();
    const id = peerIdOf(TAG, key);
    const url = upgradeUrl(id, await registrationParams(key, id, NOW));
    const results = await Promise.all([guard.checkRegistration(url, NOW), guard.checkRegistration(url, NOW)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ reason: 'replayed registration' });
  });
});

describe('signaling guard: messages of one socket', () => {
  const node = `dyn-${TAG}-${'a'.repeat(24)}`;
  const json = (message: unknown): string => JSON.stringify(message);

  it('passes signals to nodes of its own tag and heartbeats; drops other tags, EXPIRE, non-JSON and binary', () => {
    const guard = new SignalingGuard();
    const policy = guard.openSocket(TAG, NOW);
    const judge = (text: string | undefined) => policy.inspect(text, text?.length ?? 10, NOW);
    for (const type of ['OFFER', 'ANSWER', 'CANDIDATE', 'LEAVE']) expect(judge(json({ type, dst: node, payload: {} }))).toBe('pass');
    expect(judge(json({ type: 'HEARTBEAT' }))).toBe('pass');
    expect(judge(json({ type: 'OFFER', dst: `dyn-${OTHER_TAG}-${'a'.repeat(24)}`, payload: {} }))).toBe('drop');
    expect(judge(json({ type: 'OFFER', dst: `dyn-${TAG}-short`, payload: {} }))).toBe('drop');
    expect(judge(json({ type: 'LEAVE' }))).toBe('drop');
    expect(judge(json({ type: 'EXPIRE', dst: node }))).toBe('drop');
    expect(judge(json({ type: 'OPEN' }))).toBe('drop');
    expect(judge('not json')).toBe('drop');
    expect(judge('[1]')).toBe('drop');
    expect(judge(undefined)).toBe('drop');
    expect(guard.stats().messages).toEqual({ passed: 5, droppedRateLimit: 0, droppedForeignDestination: 3, droppedMalformed: 5 });
    expect(guard.stats().sockets.open).toBe(1);
    policy.socketClosed();
    policy.socketClosed();
    expect(guard.stats().sockets.open).toBe(0);
  });

  it('drops messages over the rate, charges large ones more, and closes a socket far over it', () => {
    const guard = new SignalingGuard({ messagesPerSecond: 10, messagesBurst: 20, messageTokenBytes: 1024 });
    const heartbeat = json({ type: 'HEARTBEAT' });
    const policy = guard.openSocket(TAG, NOW);
    const verdicts = Array.from({ length: 30 }, () => policy.inspect(heartbeat, heartbeat.length, NOW));
    expect(verdicts.filter((v) => v === 'pass')).toHaveLength(20);
    expect(verdicts.slice(20)).toEqual(Array(10).fill('drop'));
    // A second later: 10 more tokens. A 10 KiB message costs 10 of them; the next small one is over.
    expect(policy.inspect(heartbeat, 10 * 1024, NOW + 1000)).toBe('pass');
    expect(policy.inspect(heartbeat, heartbeat.length, NOW + 1000)).toBe('drop');
    // The grace bucket (burst 20, refilled like the first) lost 10 to the first drops and got them
    // back within the second; one drop since: 19 more are tolerated, the 20th closes the socket.
    const more = Array.from({ length: 20 }, () => policy.inspect(heartbeat, heartbeat.length, NOW + 1000));
    expect(more).toEqual([...Array(19).fill('drop'), 'close']);
    expect(policy.inspect(heartbeat, heartbeat.length, NOW + 60_000)).toBe('drop');
    expect(guard.stats()).toMatchObject({ socketsClosedForFlooding: 1, messages: { passed: 21, droppedRateLimit: 31 } });
  });

  it('keeps a socket that is over its rate but not far over it', () => {
    const guard = new SignalingGuard({ messagesPerSecond: 10, messagesBurst: 20 });
    const heartbeat = json({ type: 'HEARTBEAT' });
    const policy = guard.openSocket(TAG, NOW);
    // Twice the rate for a minute: half dropped, never closed.
    const verdicts: string[] = [];
    for (let ms = 0; ms < 60_000; ms += 50) verdicts.push(policy.inspect(heartbeat, heartbeat.length, NOW + ms));
    expect(verdicts).not.toContain('close');
    expect(verdicts.filter((v) => v === 'pass').length).toBeGreaterThanOrEqual(600);
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_SIGNALING_LIMITS).toEqual({
      socketsPerAddressMax: 64,
      upgradesPerAddressPerSecond: 20,
      upgradesPerAddressBurst: 120,
      messagesPerSecond: 100,
      messagesBurst: 300,
      messageTokenBytes: 4096,
      frameBytesMax: 65536,
    });
  });
});

describe('peer listing', () => {
  it('answers the ids of one tag only, and 400 without a valid tag', () => {
    const listing = new PeerListing();
    const a1 = `dyn-${TAG}-${'a'.repeat(24)}`;
    const a2 = `dyn-${TAG}-${'b'.repeat(24)}`;
    const b1 = `dyn-${OTHER_TAG}-${'a'.repeat(24)}`;
    for (const id of [a1, a2, b1, 'node-1', `dyn-${TAG}-x`]) listing.add(id);
    expect(listing.answer(TAG)).toEqual({ status: 200, body: [a1, a2] });
    expect(listing.answer(OTHER_TAG)).toEqual({ status: 200, body: [b1] });
    expect(listing.answer('a'.repeat(16))).toEqual({ status: 200, body: [] });
    listing.remove(a1);
    listing.remove(b1);
    listing.remove('node-1');
    expect(listing.answer(TAG).body).toEqual([a2]);
    expect(listing.answer(OTHER_TAG).body).toEqual([]);
    for (const bad of [null, '', 'ABCDEFGHIJKLMNOP', 'abcdefghijklmno', 'abcdefghijklmnop0', 'abcdefghijklmno1']) {
      expect(listing.answer(bad)).toMatchObject({ status: 400, body: { error: expect.any(String) } });
    }
    expect(listing.stats()).toEqual({ answered: 5, refused: 6 });
  });
});
