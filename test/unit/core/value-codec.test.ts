/**
 * Keys, values and their limits (src/core/value-codec.ts; paper §2: objects under 1 MB).
 * Errors are checked by `name`, as callers across a worker boundary must.
 */
import * as msgpack from '@msgpack/msgpack';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_VALUE_DEPTH, decodeValue, encodeValue, utf8Length, validateKey } from '../../../src/core/value-codec.js';

// Wrap the encoder in a spy (still the real encoder) to see whether encodeValue reaches it at all.
vi.mock('@msgpack/msgpack', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@msgpack/msgpack')>();
  return { ...actual, encode: vi.fn(actual.encode) };
});

/** The error `run` throws, or a failed expectation when it returns. */
function thrownBy(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error;
  }
  expect.unreachable('expected a throw');
}

function expectKeyRefused(key: unknown, label: string): void {
  expect(thrownBy(() => validateKey(key)).name, label).toBe('InvalidKeyError');
}

function expectValueRefused(value: unknown, label: string): Error {
  const error = thrownBy(() => encodeValue(value));
  expect(error.name, label).toBe('InvalidValueError');
  return error;
}

/** `levels` arrays nested in each other around `null`: nest(1) is `[null]`. */
function nest(levels: number): unknown {
  let value: unknown = null;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('validateKey', () => {
  it('accepts ordinary keys, including multi-byte characters and surrogate pairs', () => {
    for (const key of ['a', 'user:42/cart', ' ', 'é', '日本語', '😀', 'x\u0000y']) {
      expect(() => validateKey(key), JSON.stringify(key)).not.toThrow();
    }
  });

  it('refuses the empty string and anything that is not a string', () => {
    expectKeyRefused('', 'empty');
    for (const key of [undefined, null, 42, true, 10n, Symbol('k'), {}, ['a'], new String('a'), () => 'a']) {
      expectKeyRefused(key, String(typeof key));
    }
  });

  it('allows exactly MAX_KEY_BYTES UTF-8 bytes and refuses one more, counting bytes, not characters', () => {
    expect(MAX_KEY_BYTES).toBe(1024);
    // [key at the limit, key one byte over], built from 1-, 2-, 3- and 4-byte characters.
    const cases: [string, string, string][] = [
      ['ascii', 'a'.repeat(1024), 'a'.repeat(1025)],
      ['2-byte é', 'é'.repeat(512), `${'é'.repeat(512)}a`],
      ['3-byte €', `${'€'.repeat(341)}a`, `${'€'.repeat(341)}ab`],
      ['4-byte 😀', '😀'.repeat(256), `${'😀'.repeat(256)}a`],
    ];
    for (const [label, atLimit, over] of cases) {
      expect(utf8Length(atLimit), label).toBe(MAX_KEY_BYTES);
      expect(utf8Length(over), label).toBe(MAX_KEY_BYTES + 1);
      expect(() => validateKey(atLimit), label).not.toThrow();
      expectKeyRefused(over, `${label} + 1 byte`);
    }
    // 512 'é' is 512 UTF-16 code units but 1024 bytes; 513 of them are 1026 bytes in only 513 code units.
    expectKeyRefused('é'.repeat(513), 'few characters, many bytes');
  });

  it('refuses lone surrogates, which have no UTF-8 form', () => {
    for (const key of ['\uD800', '\uDFFF', 'a\uD83Db', 'a\uDE00', '\uDE00\uD83D', '😀'.slice(0, 1)]) {
      expectKeyRefused(key, JSON.stringify(key));
    }
  });
});

describe('encodeValue / decodeValue', () => {
  beforeEach(() => {
    vi.mocked(msgpack.encode).mockClear();
  });

  it('round-trips JSON-compatible data and bytes', () => {
    const values: unknown[] = [
      null,
      true,
      false,
      0,
      -1,
      42,
      1.5,
      -2.25e-300,
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      1e300,
      '',
      'hello',
      'héllo wörld 😀 日本',
      [],
      {},
      [1, 'two', null, false, [3, [4, [5]]]],
      { a: 1, b: { c: [true, { d: 'deep' }] }, 'key with spaces': null, '': 'empty name', 'é😀': 1 },
      new Uint8Array([]),
      new Uint8Array([0, 1, 2, 253, 254, 255]),
      { photo: new Uint8Array([9, 8, 7]), parts: [new Uint8Array([1]), { raw: new Uint8Array(300).fill(7) }] },
      nest(MAX_VALUE_DEPTH),
    ];
    for (const value of values) {
      const bytes = encodeValue(value);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(decodeValue(bytes), JSON.stringify(value)?.slice(0, 80)).toEqual(value);
    }
  });

  it('gives bytes back as Uint8Array, top-level and nested', () => {
    const top = decodeValue(encodeValue(new Uint8Array([1, 2, 3])));
    expect(top).toBeInstanceOf(Uint8Array);
    expect([...(top as Uint8Array)]).toEqual([1, 2, 3]);
    const nested = decodeValue(encodeValue({ list: [new Uint8Array([4, 5])] })) as { list: Uint8Array[] };
    expect(nested.list[0]).toBeInstanceOf(Uint8Array);
    expect([...nested.list[0]!]).toEqual([4, 5]);
  });

  it('accepts an object with a null prototype and a value shared (not cyclic) in two places', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.x = 1;
    expect(decodeValue(encodeValue(bare))).toEqual({ x: 1 });
    const shared = { n: 1 };
    expect(decodeValue(encodeValue({ a: shared, b: shared, c: [shared, shared] }))).toEqual({ a: { n: 1 }, b: { n: 1 }, c: [{ n: 1 }, { n: 1 }] });
  });

  it('refuses what is not JSON-compatible data or bytes, at the top or nested', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const refused: [string, unknown][] = [
      ['undefined', undefined],
      ['function', () => 1],
      ['symbol', Symbol('s')],
      ['bigint', 10n],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['Date', new Date(0)],
      ['Map', new Map([['a', 1]])],
      ['Set', new Set([1])],
      ['class instance', new Point(1, 2)],
      ['RegExp', /x/],
      ['boxed string', new String('s')],
      ['other typed array', new Uint16Array([1])],
      ['ArrayBuffer', new ArrayBuffer(4)],
      ['Error', new Error('e')],
      ['sparse array', [1, , 3]], // eslint-disable-line no-sparse-arrays
      ['array with a hole at the end', new Array(3)],
      ['symbol-keyed property', { [Symbol('k')]: 1 }],
    ];
    for (const [label, bad] of refused) {
      expectValueRefused(bad, label);
      expectValueRefused({ ok: 1, inner: [0, { bad }] }, `nested ${label}`);
    }
    expect(msgpack.encode, 'refused before encoding').not.toHaveBeenCalled();
  });

  it('names the path of the offending part in the message', () => {
    expect(expectValueRefused({ a: [1, { b: undefined }] }, 'nested undefined').message).toContain('$.a[1].b');
    expect(expectValueRefused([0, 0, Number.NaN], 'NaN').message).toContain('$[2]');
  });

  it('refuses cycles through objects and arrays', () => {
    const obj: Record<string, unknown> = { a: 1 };
    obj.self = obj;
    const arr: unknown[] = [1];
    arr.push([arr]);
    const deep: Record<string, unknown> = { x: { y: { z: {} } } };
    ((deep.x as Record<string, unknown>).y as Record<string, unknown>).z = deep;
    for (const [label, cyclic] of [['object', obj], ['array', arr], ['long cycle', deep]] as const) {
      expect(expectValueRefused(cyclic, label).message).toContain('cycle');
    }
  });

  it('allows MAX_VALUE_DEPTH levels of nesting and refuses one more', () => {
    expect(() => encodeValue(nest(MAX_VALUE_DEPTH))).not.toThrow();
    expectValueRefused(nest(MAX_VALUE_DEPTH + 1), 'arrays');
    let objects: unknown = 'leaf';
    for (let i = 0; i < MAX_VALUE_DEPTH + 1; i++) objects = { o: objects };
    expectValueRefused(objects, 'objects');
    expectValueRefused(nest(100_000), 'very deep');
  });

  it('refuses lone surrogates in strings and in property names', () => {
    for (const bad of ['\uD800', 'ok\uDC00', ['x', '\uDBFF'], { a: 'b\uD83D' }, { 'name\uDC00': 1 }, { nested: { '\uD800': 'v' } }]) {
      expectValueRefused(bad, JSON.stringify(bad));
    }
    expect(decodeValue(encodeValue({ '😀': '😀' }))).toEqual({ '😀': '😀' }); // a proper pair is fine
  });

  it('accepts exactly MAX_VALUE_BYTES encoded bytes and refuses one more', () => {
    expect(MAX_VALUE_BYTES).toBe(1024 * 1024);
    // MessagePack stores bytes of this size as `bin 32`: a 5-byte header, then the bytes.
    const atLimit = new Uint8Array(MAX_VALUE_BYTES - 5).fill(0xab);
    const encoded = encodeValue(atLimit);
    expect(msgpack.encode, 'the real encoder measured it').toHaveBeenCalledTimes(1);
    expect(encoded.byteLength).toBe(MAX_VALUE_BYTES);
    expect((decodeValue(encoded) as Uint8Array).byteLength).toBe(MAX_VALUE_BYTES - 5);

    const error = thrownBy(() => encodeValue(new Uint8Array(MAX_VALUE_BYTES - 4)));
    expect(error.name).toBe('ValueTooLargeError');
    expect(error).toMatchObject({ sizeBytes: MAX_VALUE_BYTES + 1, maxBytes: MAX_VALUE_BYTES });
  });

  it('applies a smaller limit when given one', () => {
    expect(encodeValue('abc', 4).byteLength).toBe(4); // fixstr: 1 header byte + 3
    expect(thrownBy(() => encodeValue('abc', 3))).toMatchObject({ name: 'ValueTooLargeError', sizeBytes: 4, maxBytes: 3 });
  });

  it('refuses a 50 MiB string from its size estimate, without calling the encoder', () => {
    const huge = 'x'.repeat(50 * 1024 * 1024);
    const error = thrownBy(() => encodeValue({ huge }));
    expect(error.name).toBe('ValueTooLargeError');
    expect(msgpack.encode, 'the encoder must not run on a value known to be too large').not.toHaveBeenCalled();
    // The reported size is the estimate (3 bytes per UTF-16 unit), not a real encoding (which would be ~50 MiB).
    const sizeBytes = (error as Error & { sizeBytes: number }).sizeBytes;
    expect(sizeBytes).toBeGreaterThanOrEqual(huge.length * 3);
    expect(sizeBytes).toBeLessThan(huge.length * 3 + 100);
  });

  it('decodeValue refuses bytes that are not one MessagePack value', () => {
    const garbage = [
      new Uint8Array([0xc1]), // a never-used type byte
      new Uint8Array([0x92, 0x01]), // array of 2 with only one item
      new Uint8Array([0xa5, 0x61]), // str of 5 with one byte
      new Uint8Array([]),
      new Uint8Array([0x01, 0x02]), // a value, then extra bytes
    ];
    for (const bytes of garbage) {
      expect(thrownBy(() => decodeValue(bytes)).name, `[${[...bytes].join(',')}]`).toBe('InvalidValueError');
    }
  });
});
