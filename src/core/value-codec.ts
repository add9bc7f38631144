/**
 * Keys, values and their limits (DESIGN.md §3 "Limits"; paper §2: objects under 1 MB).
 *
 * A value is JSON-compatible data (null, booleans, finite numbers, strings, arrays, plain objects) or
 * bytes (`Uint8Array`, also nested inside arrays and objects). It is encoded once, at the API, with
 * MessagePack; replicas store and ship the encoded bytes and never look inside them.
 */
import { decode, encode } from '@msgpack/msgpack';
import { InvalidKeyError, InvalidValueError, ValueTooLargeError } from './errors.js';

/** Largest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Largest encoded value, in bytes (1 MiB). */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Deepest nesting of arrays/objects a value may have. */
export const MAX_VALUE_DEPTH = 64;

/** JSON-compatible data or bytes: what `put` accepts and `get` returns. */
export type Value = null | boolean | number | string | Uint8Array | Value[] | { [key: string]: Value };

const loneSurrogate = /\p{Surrogate}/u;
const utf8 = new TextEncoder();

/** UTF-8 length of a string in bytes. */
export function utf8Length(text: string): number {
  return utf8.encode(text).byteLength;
}

/**
 * Checks a key: a non-empty, well-formed (no lone surrogates) string of at most {@link MAX_KEY_BYTES}
 * UTF-8 bytes.
 * @throws InvalidKeyError otherwise, saying which rule it broke.
 */
export function validateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidKeyError(`key must be a string, got ${describe(key)}`);
  if (key.length === 0) throw new InvalidKeyError('key must not be empty');
  if (key.length > MAX_KEY_BYTES) throw new InvalidKeyError(`key is longer than ${MAX_KEY_BYTES} bytes`);
  if (loneSurrogate.test(key)) throw new InvalidKeyError('key contains a lone UTF-16 surrogate; it has no UTF-8 form');
  const bytes = utf8Length(key);
  if (bytes > MAX_KEY_BYTES) throw new InvalidKeyError(`key is ${bytes} UTF-8 bytes; the limit is ${MAX_KEY_BYTES}`);
}

/**
 * Validates a value and encodes it with MessagePack.
 * @returns the encoded bytes (at most {@link MAX_VALUE_BYTES}).
 * @throws InvalidValueError for anything that is not JSON-compatible data or bytes (undefined,
 *   functions, symbols, bigints, NaN/Infinity, class instances such as Date or Map, cycles, nesting
 *   deeper than {@link MAX_VALUE_DEPTH}, strings with lone surrogates, an own property named
 *   `__proto__`); the message names the path.
 * @throws ValueTooLargeError when the encoding exceeds {@link MAX_VALUE_BYTES}.
 */
export function encodeValue(value: unknown, maxBytes = MAX_VALUE_BYTES): Uint8Array {
  // A cheap running estimate lets us refuse a huge value before allocating its encoding.
  const estimate = checkValue(value, '$', 0, new Set());
  if (estimate > maxBytes * 4 + 64) throw new ValueTooLargeError(estimate, maxBytes);
  const bytes = encode(value);
  if (bytes.byteLength > maxBytes) throw new ValueTooLargeError(bytes.byteLength, maxBytes);
  return bytes;
}

/**
 * Decodes bytes made by {@link encodeValue}.
 * @throws InvalidValueError when the bytes are not a MessagePack value (a corrupt replica).
 */
export function decodeValue(bytes: Uint8Array): Value {
  try {
    return decode(bytes) as Value;
  } catch (error) {
    throw new InvalidValueError(`stored value could not be decoded: ${(error as Error).message}`);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const PROTO_KEY = utf8.encode('__proto__');

/**
 * Checks that `bytes` could have come from {@link encodeValue}: exactly one MessagePack value made of
 * nil, booleans, integers, finite floats, well-formed UTF-8 strings, binary, arrays, and maps with
 * string keys other than `__proto__` (the decoder refuses that one), nested at most
 * {@link MAX_VALUE_DEPTH} arrays and maps deep. Replicas take value bytes from peers without decoding
 * them; this walks the bytes without building the value, so a hostile encoding costs O(bytes) time and
 * O(depth) memory — decoding 1 MiB of nested arrays instead takes ~160 MB and a good part of a second,
 * and every `get` of the key would do it again.
 * @returns undefined when the bytes are a value, else what is wrong with them.
 */
export function encodedValueProblem(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  // Items still to read in each open array or map (a map counts keys and values), innermost last.
  const left: number[] = [];
  const inMap: boolean[] = [];
  let topLevel = 1;
  for (;;) {
    while (left.length > 0 && left[left.length - 1] === 0) {
      left.pop();
      inMap.pop();
    }
    if (left.length === 0 && topLevel === 0) break;
    let isKey = false;
    if (left.length > 0) {
      const top = left.length - 1;
      isKey = inMap[top]! && left[top]! % 2 === 0;
      left[top]!--;
    } else {
      topLevel--;
    }
    if (at >= bytes.length) return 'the bytes end inside a value';
    const type = bytes[at++]!;
    const length = (size: 1 | 2 | 4): number | undefined => {
      if (at + size > bytes.length) return undefined;
      const n = size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : view.getUint32(at);
      at += size;
      return n;
    };
    // Strings (fixstr, str 8/16/32): the only kind a map key may be.
    const strLength = type >= 0xa0 && type <= 0xbf ? type & 0x1f : type === 0xd9 ? length(1) : type === 0xda ? length(2) : type === 0xdb ? length(4) : -1;
    if (strLength === undefined || (strLength >= 0 && at + strLength > bytes.length)) return 'the bytes end inside a string';
    if (strLength >= 0) {
      const text = bytes.subarray(at, at + strLength);
      at += strLength;
      if (!text.every((b) => b < 0x80)) {
        try {
          strictUtf8.decode(text);
        } catch {
          return 'a string is not well-formed UTF-8';
        }
      }
      if (isKey && text.length === PROTO_KEY.length && text.every((b, i) => b === PROTO_KEY[i])) return 'a map key is __proto__';
      continue;
    }
    if (isKey) return 'a map key is not a string';
    if (type <= 0x7f || type >= 0xe0 || type === 0xc0 || type === 0xc2 || type === 0xc3) continue; // fixints, nil, booleans
    const skip = (n: number): boolean => (at += n) <= bytes.length;
    let items: number;
    switch (type) {
      case 0xcc: // uint 8, int 8
      case 0xd0:
        if (!skip(1)) return 'the bytes end inside a number';
        continue;
      case 0xcd:
      case 0xd1:
        if (!skip(2)) return 'the bytes end inside a number';
        continue;
      case 0xce:
      case 0xd2:
        if (!skip(4)) return 'the bytes end inside a number';
        continue;
      case 0xcf:
      case 0xd3:
        if (!skip(8)) return 'the bytes end inside a number';
        continue;
      case 0xca:
      case 0xcb: {
        const size = type === 0xca ? 4 : 8;
        if (at + size > bytes.length) return 'the bytes end inside a number';
        const number = size === 4 ? view.getFloat32(at) : view.getFloat64(at);
        at += size;
        if (!Number.isFinite(number)) return `${number} is not a finite number`;
        continue;
      }
      case 0xc4:
      case 0xc5:
      case 0xc6: {
        const n = length(type === 0xc4 ? 1 : type === 0xc5 ? 2 : 4);
        if (n === undefined || !skip(n)) return 'the bytes end inside binary data';
        continue;
      }
      case 0xdc:
      case 0xdd:
      case 0xde:
      case 0xdf: {
        const n = length(type === 0xdc || type === 0xde ? 2 : 4);
        if (n === undefined) return 'the bytes end inside a length';
        items = type >= 0xde ? 2 * n : n;
        break;
      }
      default:
        if (type >= 0x90 && type <= 0x9f) items = type & 0x0f;
        else if (type >= 0x80 && type <= 0x8f) items = 2 * (type & 0x0f);
        else return `type 0x${type.toString(16)} (an extension or unused type) is not JSON-compatible`;
    }
    // An array or a map, inside `left.length` others (as in checkValue: at most MAX_VALUE_DEPTH in all).
    if (left.length >= MAX_VALUE_DEPTH) return `nested deeper than ${MAX_VALUE_DEPTH} levels`;
    if (items > 0) {
      left.push(items);
      inMap.push(type === 0xde || type === 0xdf || (type >= 0x80 && type <= 0x8f));
    }
  }
  return at === bytes.length ? undefined : 'more bytes follow the value';
}

/** Walks the value, throwing on anything not allowed; returns a rough upper bound of its encoded size. */
function checkValue(value: unknown, path: string, depth: number, seen: Set<object>): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidValueError(`${path}: ${value} is not a finite number`);
    return 9;
  }
  if (typeof value === 'string') {
    if (loneSurrogate.test(value)) throw new InvalidValueError(`${path}: string contains a lone UTF-16 surrogate`);
    return value.length * 3 + 5;
  }
  if (value instanceof Uint8Array) return value.byteLength + 5;
  if (typeof value !== 'object') throw new InvalidValueError(`${path}: ${describe(value)} is not JSON-compatible`);
  if (depth >= MAX_VALUE_DEPTH) throw new InvalidValueError(`${path}: nested deeper than ${MAX_VALUE_DEPTH} levels`);
  if (seen.has(value)) throw new InvalidValueError(`${path}: value contains a cycle`);
  seen.add(value);
  let size = 5;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new InvalidValueError(`${path}[${i}]: sparse arrays are not JSON-compatible`);
      size += checkValue(value[i], `${path}[${i}]`, depth + 1, seen);
    }
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidValueError(`${path}: ${describe(value)} is not a plain object`);
    }
    for (const key of Object.keys(value)) {
      if (loneSurrogate.test(key)) throw new InvalidValueError(`${path}: property name contains a lone UTF-16 surrogate`);
      // An own `__proto__` (JSON.parse makes one) encodes, but the decoder refuses it: every get would fail.
      if (key === '__proto__') throw new InvalidValueError(`${path}: a property named __proto__ cannot be stored`);
      size += key.length * 3 + 5 + checkValue((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, seen);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) throw new InvalidValueError(`${path}: symbol-keyed properties are not JSON-compatible`);
  }
  seen.delete(value);
  return size;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  return typeof value;
}
