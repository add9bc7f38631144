/**
 * The Merkle trees' own SHA-256 and MD5 (src/core/merkle-hashes.ts) against node:crypto: every input
 * length from 0 to 300 bytes (one, two and more blocks, and every padding case around 55, 56 and 64
 * bytes), random contents from a seed, a slice of a longer buffer, and the published test vectors.
 */
import { createHash } from 'node:crypto';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { describe, expect, it } from 'vitest';
import { md5Top32, sha256Into } from '../../../src/core/merkle-hashes.js';

const SEED = 19;

function randomBytes(seed: number, length: number): Uint8Array {
  const rng = xoroshiro128plus(seed);
  return Uint8Array.from({ length }, () => uniformInt(rng, 0, 255));
}

const sha256Of = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();
const md5Of = (bytes: Uint8Array): Buffer => createHash('md5').update(bytes).digest();

describe('sha256Into', () => {
  it('equals SHA-256 for every length from 0 to 300 bytes, read from the front of a longer buffer', () => {
    for (let length = 0; length <= 300; length++) {
      const input = randomBytes(SEED + length, length + 7);
      const out = new Uint8Array(32);
      sha256Into(input, length, out, 0, 32);
      expect(Buffer.from(out).toString('hex'), `length ${length}, seed ${SEED + length}`).toBe(sha256Of(input.subarray(0, length)).toString('hex'));
    }
  });

  it('writes the first outBytes of the digest at outOffset and nothing else', () => {
    const input = new TextEncoder().encode('abc');
    const out = new Uint8Array(24).fill(0xee);
    sha256Into(input, input.length, out, 4, 16);
    // FIPS 180-4 example: SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 …
    expect(Buffer.from(out.subarray(4, 20)).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223');
    expect([...out.subarray(0, 4), ...out.subarray(20)]).toEqual(Array(8).fill(0xee));
  });

  it('refuses a length past the input and an output that is not whole words of at most 32 bytes', () => {
    const out = new Uint8Array(32);
    expect(() => sha256Into(new Uint8Array(3), 4, out, 0, 32)).toThrow(RangeError);
    expect(() => sha256Into(new Uint8Array(3), 3, out, 0, 6)).toThrow(RangeError);
    expect(() => sha256Into(new Uint8Array(3), 3, out, 0, 36)).toThrow(RangeError);
  });
});

describe('md5Top32', () => {
  it('is the first 4 bytes of MD5, big-endian, for every length from 0 to 300 bytes', () => {
    for (let length = 0; length <= 300; length++) {
      const input = randomBytes(SEED * 7 + length, length + 5);
      expect(md5Top32(input, length), `length ${length}, seed ${SEED * 7 + length}`).toBe(md5Of(input.subarray(0, length)).readUInt32BE(0));
    }
  });

  it('matches the RFC 1321 test suite and defaults to the whole input', () => {
    const vectors: [string, string][] = [
      ['', 'd41d8cd9'],
      ['a', '0cc175b9'],
      ['abc', '90015098'],
      ['message digest', 'f96b697d'],
      ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a2'],
    ];
    for (const [text, top] of vectors) expect(md5Top32(new TextEncoder().encode(text)).toString(16).padStart(8, '0'), text).toBe(top);
  });

  it('refuses a length past the input', () => {
    expect(() => md5Top32(new Uint8Array(2), 3)).toThrow(RangeError);
  });
});
