/**
 * The opaque context a client carries from a read (or a put) to its next put (paper §4.4: "the context
 * encodes system metadata such as the version of the object").
 *
 * A context is a *causal context*: a vector clock plus a few separate dots. A get returns the merged
 * clock of what it read; a put returns the context it was given plus the dot of its own write. The
 * dot is folded into the clock only when it follows the clock's counter for that node directly;
 * otherwise it stays separate, because the same coordinator may have made writes in between that
 * this client never saw (another client's concurrent write), and a plain clock would claim them and
 * let the next put overwrite them silently.
 *
 *   context = { clock: [a:2, b:1], dots: [a:4] }   ⇒   saw a1, a2, b1 and a4 — not a3
 *
 * Encoded as URL-safe base64 of a MessagePack array, so it can sit in a URL, JSON or a form field.
 */
import { decode, encode } from '@msgpack/msgpack';
import { InvalidContextError } from './errors.js';
import type { ClockEntry, Dot } from './types.js';

/** A client's causal context: what it has seen of one key. */
export interface CausalContext {
  clock: ClockEntry[];
  dots: Dot[];
}

/** Longest context string accepted. */
export const MAX_CONTEXT_LENGTH = 8192;
/** Most clock entries plus separate dots a context may hold. */
export const MAX_CONTEXT_ENTRIES = 64;
/** Most separate dots kept in a context; older ones beyond this are dropped (see {@link contextAfterPut}). */
export const MAX_CONTEXT_DOTS = 8;

/** The empty context: a client that has seen nothing of the key. */
export function emptyContext(): CausalContext {
  return { clock: [], dots: [] };
}

/**
 * The context a client holds after its put made `dot`, given the context it wrote with.
 * The dot joins the clock when contiguous (folding in any separate dots that then become
 * contiguous too); otherwise it is kept as a separate dot. At most {@link MAX_CONTEXT_DOTS}
 * separate dots are kept (oldest dropped: forgetting a dot can only make a later write look
 * concurrent with it — an extra sibling — never lose one).
 */
export function contextAfterPut(context: CausalContext, dot: Dot): CausalContext {
  const clock = new Map(context.clock.map((e) => [e.node, { ...e }]));
  let pending = [...context.dots, dot];
  let folded = true;
  while (folded) {
    folded = false;
    const rest: Dot[] = [];
    for (const d of pending) {
      const entry = clock.get(d.node);
      const counter = entry?.counter ?? 0;
      if (d.counter <= counter) {
        folded = true; // already covered
      } else if (d.counter === counter + 1) {
        clock.set(d.node, { node: d.node, counter: d.counter, timestampMs: Math.max(d.timestampMs, entry?.timestampMs ?? 0) });
        folded = true;
      } else {
        rest.push(d);
      }
    }
    pending = rest;
  }
  // Keep the newest dots by arrival (the new write's dot last, so it is always kept): timestamps come
  // from different coordinators' wall clocks and cannot order them.
  return {
    clock: [...clock.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)),
    dots: pending.slice(-MAX_CONTEXT_DOTS),
  };
}

/** Encodes a context as an opaque URL-safe string ('' for the empty context). */
export function encodeContext(context: CausalContext): string {
  if (context.clock.length === 0 && context.dots.length === 0) return '';
  const packed = [1, context.clock.map(packEntry), context.dots.map(packEntry)];
  return toBase64Url(encode(packed));
}

/**
 * Decodes a string made by {@link encodeContext}. `undefined` and '' give the empty context.
 * @throws InvalidContextError for anything else: wrong type, too long, bad base64 or MessagePack,
 *   wrong shape, counters that are not positive safe integers, duplicate clock entries, too many entries.
 */
export function decodeContext(context: string | undefined): CausalContext {
  if (context === undefined || context === '') return emptyContext();
  if (typeof context !== 'string') throw new InvalidContextError('context must be a string returned by get or put');
  if (context.length > MAX_CONTEXT_LENGTH) throw new InvalidContextError(`context is longer than ${MAX_CONTEXT_LENGTH} characters`);
  const bytes = fromBase64Url(context);
  let raw: unknown;
  try {
    raw = decode(bytes, { maxArrayLength: MAX_CONTEXT_ENTRIES, maxMapLength: 0, maxBinLength: 0, maxExtLength: 0, maxStrLength: 256 });
  } catch (cause) {
    throw new InvalidContextError('context is not one returned by get or put (it does not decode)', { cause });
  }
  if (!Array.isArray(raw) || raw.length !== 3 || raw[0] !== 1 || !Array.isArray(raw[1]) || !Array.isArray(raw[2])) {
    throw new InvalidContextError('context is not one returned by get or put (wrong shape)');
  }
  const clockRaw = raw[1] as unknown[];
  const dotsRaw = raw[2] as unknown[];
  if (clockRaw.length + dotsRaw.length > MAX_CONTEXT_ENTRIES) {
    throw new InvalidContextError(`context has more than ${MAX_CONTEXT_ENTRIES} entries`);
  }
  const clock = clockRaw.map(unpackEntry);
  const seen = new Set<string>();
  for (const entry of clock) {
    if (seen.has(entry.node)) throw new InvalidContextError(`context names node ${entry.node} twice`);
    seen.add(entry.node);
  }
  clock.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { clock, dots: dotsRaw.map(unpackEntry) };
}

function packEntry(e: ClockEntry | Dot): [string, number, number] {
  return [e.node, e.counter, e.timestampMs];
}

function unpackEntry(raw: unknown): ClockEntry {
  if (
    !Array.isArray(raw) ||
    raw.length !== 3 ||
    typeof raw[0] !== 'string' ||
    !/^[a-z0-9]{1,64}$/.test(raw[0]) ||
    !Number.isSafeInteger(raw[1]) ||
    (raw[1] as number) < 1 ||
    typeof raw[2] !== 'number' ||
    !Number.isFinite(raw[2])
  ) {
    throw new InvalidContextError('context is not one returned by get or put (bad entry)');
  }
  return { node: raw[0], counter: raw[1] as number, timestampMs: raw[2] };
}

// URL-safe base64 (RFC 4648 §5) without padding. Strict: only the URL-safe alphabet, no padding, and
// the unused bits of the last character must be zero, so every context has exactly one spelling.
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64URL_VALUE = new Map<string, number>([...BASE64URL].map((ch, i) => [ch, i]));

function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let k = 0; k < chars; k++) out += BASE64URL.charAt((chunk >> (18 - 6 * k)) & 63);
  }
  return out;
}

function fromBase64Url(text: string): Uint8Array {
  if (text.length % 4 === 1) throw new InvalidContextError('context is not valid base64url (bad length)');
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let pos = 0;
  for (const ch of text) {
    const value = BASE64URL_VALUE.get(ch);
    if (value === undefined) throw new InvalidContextError('context is not valid base64url (bad character)');
    acc = ((acc << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[pos++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new InvalidContextError('context is not valid base64url (trailing bits)');
  return out;
}
