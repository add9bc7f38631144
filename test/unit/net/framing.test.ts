/**
 * Framing of messages on PeerJS data channels and PeerJS ids (src/net/peerjs-transport.ts, its pure
 * helpers only). A message is cut into frames of `u32 total | u32 offset | payload ≤ 64 KiB`; the
 * receiver reassembles one message at a time per connection, refuses a total over MAX_MESSAGE_BYTES
 * before allocating it, and after any malformed frame starts clean so the next message still arrives.
 */
import { describe, expect, it } from 'vitest';
import { FRAME_PAYLOAD_BYTES, acceptFrame, messagesIn, toFrames } from '../../../src/net/framing.js';
import { nodeIdOfPeer, peerIdOf } from '../../../src/net/peer-ids.js';
import { MAX_MESSAGE_BYTES } from '../../../src/net/wire.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const HEADER_BYTES = 8;

type FrameState = { buffer: Uint8Array | undefined; filled: number };
const freshState = (): FrameState => ({ buffer: undefined, filled: 0 });

/** `size` bytes of a seeded pattern, so a misplaced or repeated chunk shows as different content. */
function patterned(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    bytes[i] = s & 0xff;
  }
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The header fields of a frame. */
function header(frame: Uint8Array): { total: number; offset: number } {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { total: view.getUint32(0), offset: view.getUint32(4) };
}

/** A frame with an arbitrary header and payload. */
function frame(total: number, offset: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, total);
  view.setUint32(4, offset);
  bytes.set(payload, HEADER_BYTES);
  return bytes;
}

/** Feeds frames in order and returns the message the last one completes; fails if any earlier frame completes one. */
function reassemble(state: FrameState, frames: Uint8Array[]): Uint8Array {
  let done: Uint8Array | undefined;
  frames.forEach((f, i) => {
    const out = acceptFrame(state, f);
    if (i < frames.length - 1) expect(out, `frame ${i} of ${frames.length} completed a message early`).toBeUndefined();
    done = out;
  });
  expect(done, 'the last frame completes the message').toBeDefined();
  return done!;
}

describe('toFrames / acceptFrame round trips', () => {
  const sizes: [string, number][] = [
    ['0 B', 0],
    ['1 B', 1],
    ['exactly 64 KiB', 64 * KIB],
    ['64 KiB + 1', 64 * KIB + 1],
    ['1 MiB', MIB],
    ['5 MiB', 5 * MIB],
  ];
  for (const [label, size] of sizes) {
    it(`${label}: ${size === 0 ? 1 : Math.ceil(size / FRAME_PAYLOAD_BYTES)} frame(s), content preserved`, () => {
      expect(FRAME_PAYLOAD_BYTES).toBe(64 * KIB);
      const message = patterned(size, size + 7);
      const frames = toFrames(message);
      expect(frames).toHaveLength(size === 0 ? 1 : Math.ceil(size / (64 * KIB)));
      frames.forEach((f, i) => {
        expect(header(f)).toEqual({ total: size, offset: i * 64 * KIB });
        expect(f.byteLength).toBeLessThanOrEqual(HEADER_BYTES + 64 * KIB);
      });
      const payloadBytes = frames.reduce((sum, f) => sum + f.byteLength - HEADER_BYTES, 0);
      expect(payloadBytes).toBe(size);

      const out = reassemble(freshState(), frames);
      expect(out.byteLength).toBe(size);
      expect(sameBytes(out, message)).toBe(true);
    });
  }

  it('counts the messages a run of frames begins (for messages lost unsent)', () => {
    const frames = [...toFrames(patterned(3, 1)), ...toFrames(patterned(200 * KIB, 2)), ...toFrames(new Uint8Array(0))];
    expect(frames).toHaveLength(1 + 4 + 1);
    expect(messagesIn(frames)).toBe(3);
    // The tail of a message whose first frame was already written begins nothing.
    expect(messagesIn(toFrames(patterned(200 * KIB, 3)).slice(1))).toBe(0);
  });

  it('reassembles several messages in a row on one connection, leaving the state clean after each', () => {
    const state = freshState();
    for (const size of [3, 64 * KIB + 5, 0, 200 * KIB]) {
      const message = patterned(size, size + 1);
      expect(sameBytes(reassemble(state, toFrames(message)), message)).toBe(true);
      expect(state).toEqual({ buffer: undefined, filled: 0 });
    }
  });

  it('reads frames that are views into a larger buffer at an offset', () => {
    const message = patterned(100 * KIB, 3);
    const state = freshState();
    const views = toFrames(message).map((f) => {
      const backing = new Uint8Array(f.byteLength + 13);
      backing.set(f, 13);
      return backing.subarray(13);
    });
    expect(sameBytes(reassemble(state, views), message)).toBe(true);
  });
});

describe('acceptFrame refuses malformed input', () => {
  it('a total over MAX_MESSAGE_BYTES throws before allocating anything', () => {
    const state = freshState();
    expect(() => acceptFrame(state, frame(MAX_MESSAGE_BYTES + 1, 0, new Uint8Array(10)))).toThrow(/exceeds/);
    expect(state.buffer, 'no buffer was allocated for it').toBeUndefined();
    expect(() => acceptFrame(state, frame(0xffff_ffff, 0))).toThrow(/exceeds/);
    expect(state.buffer).toBeUndefined();
    // Exactly the limit is allowed (a buffer is prepared for it).
    expect(acceptFrame(state, frame(MAX_MESSAGE_BYTES, 0, new Uint8Array(1)))).toBeUndefined();
    expect(state.buffer?.byteLength).toBe(MAX_MESSAGE_BYTES);
  });

  it('a frame shorter than its header throws, and the next message still reassembles', () => {
    const state = freshState();
    for (const short of [new Uint8Array(0), new Uint8Array(7)]) {
      expect(() => acceptFrame(state, short)).toThrow(/shorter than its header/);
    }
    const message = patterned(70 * KIB, 9);
    expect(sameBytes(reassemble(state, toFrames(message)), message)).toBe(true);
  });

  it('a skipped frame (offset out of sequence) throws, resets the state, and the next message still reassembles', () => {
    const state = freshState();
    const frames = toFrames(patterned(200 * KIB, 4)); // 4 frames
    expect(acceptFrame(state, frames[0]!)).toBeUndefined();
    expect(() => acceptFrame(state, frames[2]!)).toThrow(/out of sequence/);
    expect(state).toEqual({ buffer: undefined, filled: 0 });
    // The rest of the broken message is refused too, not glued onto anything.
    expect(() => acceptFrame(state, frames[3]!)).toThrow(/out of sequence/);

    const next = patterned(130 * KIB, 5);
    expect(sameBytes(reassemble(state, toFrames(next)), next)).toBe(true);
  });

  it('a repeated frame, a first frame at a non-zero offset, and a changed total all throw', () => {
    const frames = toFrames(patterned(150 * KIB, 6));
    const repeated = freshState();
    acceptFrame(repeated, frames[0]!);
    acceptFrame(repeated, frames[1]!);
    expect(() => acceptFrame(repeated, frames[1]!)).toThrow(/out of sequence/);

    expect(() => acceptFrame(freshState(), frames[1]!)).toThrow(/out of sequence/);

    const changed = freshState();
    acceptFrame(changed, frames[0]!);
    expect(() => acceptFrame(changed, frame(150 * KIB + 1, 64 * KIB, new Uint8Array(10)))).toThrow(/out of sequence/);
    expect(changed).toEqual({ buffer: undefined, filled: 0 });
  });

  it('a payload running past the claimed total throws', () => {
    const state = freshState();
    expect(() => acceptFrame(state, frame(4, 0, new Uint8Array(5)))).toThrow(/out of sequence/);
    expect(state).toEqual({ buffer: undefined, filled: 0 });
    acceptFrame(state, frame(10, 0, new Uint8Array(6)));
    expect(() => acceptFrame(state, frame(10, 6, new Uint8Array(5)))).toThrow(/out of sequence/);
    expect(state).toEqual({ buffer: undefined, filled: 0 });
  });

  it('after a message restarts mid-way, the next complete message still reassembles', () => {
    const state = freshState();
    const cut = toFrames(patterned(200 * KIB, 7));
    acceptFrame(state, cut[0]!);
    acceptFrame(state, cut[1]!);
    // A new message begins before the first one finished; whatever acceptFrame makes of it, it must
    // not corrupt the message after it.
    for (const f of toFrames(patterned(100 * KIB, 8))) {
      try {
        acceptFrame(state, f);
      } catch {
        // refused: fine for this test
      }
    }
    const next = patterned(90 * KIB, 9);
    expect(sameBytes(reassemble(state, toFrames(next)), next)).toBe(true);
  });

  // A first frame arriving while a message is incomplete starts the new message; the lost partial
  // message is counted in state.discarded, which PeerjsTransport.onData reports as a drop.
  it('a message restarting mid-way starts over and counts the lost partial message', () => {
    const state = { ...freshState(), discarded: 0 };
    const cut = toFrames(patterned(200 * KIB, 10));
    expect(acceptFrame(state, cut[0]!)).toBeUndefined();
    const restarted = patterned(100 * KIB, 11);
    let whole: Uint8Array | undefined;
    for (const frame of toFrames(restarted)) whole = acceptFrame(state, frame);
    expect(state.discarded).toBe(1);
    expect(whole).toEqual(restarted);
  });
});

describe('PeerJS ids', () => {
  it('peerIdOf and nodeIdOfPeer round-trip', () => {
    for (const node of ['a', 'node42', '0', 'z'.repeat(64)]) {
      const peerId = peerIdOf('demo', node);
      expect(peerId).toBe(`dyn-demo-${node}`);
      expect(nodeIdOfPeer('demo', peerId)).toBe(node);
    }
  });

  it('refuses ids of other clusters and malformed node parts', () => {
    expect(nodeIdOfPeer('demo', peerIdOf('other', 'a'))).toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo2-a'), 'a cluster whose name starts like ours').toBeUndefined();
    expect(nodeIdOfPeer('de', peerIdOf('de-mo', 'a')), 'a cluster whose name extends ours with a dash').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo-A'), 'uppercase').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo-nodeA1'), 'uppercase inside').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo-a-b'), 'an extra dash').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo--a'), 'a doubled dash').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo-'), 'no node part').toBeUndefined();
    expect(nodeIdOfPeer('demo', `dyn-demo-${'a'.repeat(65)}`), 'a node id over 64 characters').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'demo-a'), 'no dyn- prefix').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'DYN-demo-a')).toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo-a '), 'trailing space').toBeUndefined();
    expect(nodeIdOfPeer('demo', 'dyn-demo-a\n'), 'trailing newline').toBeUndefined();
  });
});
