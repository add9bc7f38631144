/**
 * The two hash functions of the Merkle trees (paper §4.7), for the short inputs they are given: MD5
 * (RFC 1321) of a key, to place it on the ring and in its partition's tree, and SHA-256 (FIPS 180-4)
 * of a version set's canonical encoding and of an item (key ‖ 0x00 ‖ digest). Each is one call over
 * a byte array with no allocation but the result, and the same bits as any other implementation
 * (`test/unit/core/merkle-hashes.test.ts` checks them against node:crypto).
 *
 * Why not @noble/hashes, which the rest of the code uses: a rebuild of the trees hashes every stored
 * key three times (100k keys: 300k calls of one or two 64-byte blocks each), and for inputs that short
 * a general streaming hasher spends most of its time on the object, buffers and views it sets up per
 * call, not on the compression itself (measured: DataView creation alone took more time than the
 * SHA-256 rounds). These functions keep their state in module-level typed arrays instead; they are
 * not re-entrant, which JavaScript's one thread per realm allows.
 *
 *   sha256Into(input, length, out, outOffset, outBytes)   first `outBytes` of SHA-256(input[0..length))
 *   md5Top32(input, length)                               first 4 bytes of MD5(input[0..length)), big-endian
 */

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
const SHA256_K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
const SHA256_IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const sha256State = new Int32Array(8);
const sha256Schedule = new Int32Array(64);
/** The last one or two blocks of a message: its tail, the 0x80 byte, zeros and the bit length. */
const tailBlocks = new Uint8Array(128);

/** One SHA-256 compression of the 64-byte block at `offset` of `bytes` into {@link sha256State}. */
function sha256Block(bytes: Uint8Array, offset: number): void {
  const w = sha256Schedule;
  for (let i = 0; i < 16; i++) {
    const at = offset + 4 * i;
    w[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  const h = sha256State;
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let f = h[5]!;
  let g = h[6]!;
  let k = h[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (k + S1 + ch + SHA256_K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + k) | 0;
}

/**
 * Pads the last `length % 64` bytes of a `length`-byte message (Merkle–Damgård: 0x80, zeros, the
 * length in bits as a 64-bit integer, big-endian when `bigEndian`) into {@link tailBlocks}.
 * @returns how many blocks (1 or 2) of it to compress.
 */
function padTail(input: Uint8Array, length: number, bigEndian: boolean): number {
  const rest = length % 64;
  const blocks = rest < 56 ? 1 : 2;
  const end = 64 * blocks;
  const tail = tailBlocks;
  // Byte loops: for the few bytes of a tail they cost less than subarray, set and fill.
  const start = length - rest;
  for (let i = 0; i < rest; i++) tail[i] = input[start + i]!;
  tail[rest] = 0x80;
  for (let i = rest + 1; i < end - 8; i++) tail[i] = 0;
  const bitsLow = (length * 8) >>> 0;
  const bitsHigh = Math.floor(length / 2 ** 29) >>> 0;
  for (let i = 0; i < 4; i++) {
    if (bigEndian) {
      tail[end - 1 - i] = (bitsLow >>> (8 * i)) & 0xff;
      tail[end - 5 - i] = (bitsHigh >>> (8 * i)) & 0xff;
    } else {
      tail[end - 8 + i] = (bitsLow >>> (8 * i)) & 0xff;
      tail[end - 4 + i] = (bitsHigh >>> (8 * i)) & 0xff;
    }
  }
  return blocks;
}

/**
 * Writes the first `outBytes` bytes (a multiple of 4, at most 32) of SHA-256 of `input[0..length)`
 * into `out` at `outOffset`.
 * @throws RangeError when `length` is outside [0, input.length] or `outBytes` is not a multiple of 4 in [4, 32].
 */
export function sha256Into(input: Uint8Array, length: number, out: Uint8Array, outOffset: number, outBytes: number): void {
  if (!Number.isInteger(length) || length < 0 || length > input.length) throw new RangeError(`sha256Into: length must be in [0, ${input.length}], got ${length}`);
  if (!Number.isInteger(outBytes) || outBytes < 4 || outBytes > 32 || outBytes % 4 !== 0) throw new RangeError(`sha256Into: outBytes must be a multiple of 4 in [4, 32], got ${outBytes}`);
  sha256State.set(SHA256_IV);
  const full = length - (length % 64);
  for (let at = 0; at < full; at += 64) sha256Block(input, at);
  const blocks = padTail(input, length, true);
  for (let b = 0; b < blocks; b++) sha256Block(tailBlocks, 64 * b);
  for (let i = 0; i < outBytes / 4; i++) {
    const word = sha256State[i]!;
    const at = outOffset + 4 * i;
    out[at] = word >>> 24;
    out[at + 1] = (word >>> 16) & 0xff;
    out[at + 2] = (word >>> 8) & 0xff;
    out[at + 3] = word & 0xff;
  }
}

/** MD5 per-step additive constants T[i] = floor(2^32 · |sin(i + 1)|) (RFC 1321 §3.4). */
const MD5_T = Int32Array.from([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);

/** MD5 per-step left rotations (RFC 1321 §3.4), four per round. */
const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

const md5State = new Int32Array(4);
const md5Words = new Int32Array(16);

/** One MD5 compression of the 64-byte block at `offset` of `bytes` into {@link md5State}. */
function md5Block(bytes: Uint8Array, offset: number): void {
  const x = md5Words;
  for (let i = 0; i < 16; i++) {
    const at = offset + 4 * i;
    x[i] = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
  }
  let a = md5State[0]!;
  let b = md5State[1]!;
  let c = md5State[2]!;
  let d = md5State[3]!;
  for (let i = 0; i < 64; i++) {
    const round = i >>> 4;
    let f: number;
    let g: number;
    if (round === 0) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (round === 1) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (round === 2) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const s = MD5_S[4 * round + (i & 3)]!;
    const sum = (a + f + MD5_T[i]! + x[g]!) | 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  md5State[0] = (md5State[0]! + a) | 0;
  md5State[1] = (md5State[1]! + b) | 0;
  md5State[2] = (md5State[2]! + c) | 0;
  md5State[3] = (md5State[3]! + d) | 0;
}

/**
 * The first 4 bytes of MD5 of `input[0..length)`, read as a big-endian unsigned 32-bit integer (the
 * top 32 bits of a key's ring position, `keyPosition` in ring.ts).
 * @throws RangeError when `length` is outside [0, input.length].
 */
export function md5Top32(input: Uint8Array, length: number = input.length): number {
  if (!Number.isInteger(length) || length < 0 || length > input.length) throw new RangeError(`md5Top32: length must be in [0, ${input.length}], got ${length}`);
  md5State[0] = 0x67452301;
  md5State[1] = 0xefcdab89 | 0;
  md5State[2] = 0x98badcfe | 0;
  md5State[3] = 0x10325476;
  const full = length - (length % 64);
  for (let at = 0; at < full; at += 64) md5Block(input, at);
  const blocks = padTail(input, length, false);
  for (let b = 0; b < blocks; b++) md5Block(tailBlocks, 64 * b);
  // The digest starts with the first state word, little-endian: its bytes reversed read big-endian.
  const word = md5State[0]!;
  return (((word & 0xff) << 24) | (((word >>> 8) & 0xff) << 16) | (((word >>> 16) & 0xff) << 8) | (word >>> 24)) >>> 0;
}
