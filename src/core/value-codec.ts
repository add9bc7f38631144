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
 *   deeper than {@link MAX_VALUE_DEPTH}, strings with lone surrogates); the message names the path.
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
