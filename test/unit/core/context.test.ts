/**
 * The opaque causal context a client carries between calls (src/core/context.ts; paper §4.4).
 *
 * Two things are checked: `contextAfterPut` claims exactly what the client saw plus its own write (never
 * a write it did not see), and `decodeContext` refuses anything `encodeContext` could not have made
 * with an `InvalidContextError` (compared by `name`, as callers across a worker boundary must).
 */
import { encode } from '@msgpack/msgpack';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { describe, expect, it } from 'vitest';
import {
  type CausalContext,
  MAX_CONTEXT_DOTS,
  MAX_CONTEXT_ENTRIES,
  MAX_CONTEXT_LENGTH,
  contextAfterPut,
  decodeContext,
  emptyContext,
  encodeContext,
} from '../../../src/core/context.js';
import type { ClockEntry, Dot } from '../../../src/core/types.js';

// ----------------------------------------------------------------------------------------------
// helpers

/** Seeded randomness (pure-rand); every assertion message carries the seed that replays it. */
function seeded(seed: number): { int(from: number, to: number): number; float(): number; pick<T>(items: readonly T[]): T } {
  const rng = xoroshiro128plus(seed);
  return {
    int: (from, to) => uniformInt(rng, from, to),
    float: () => uniformFloat64(rng),
    pick: (items) => items[uniformInt(rng, 0, items.length - 1)]!,
  };
}

const entry = (node: string, counter: number, timestampMs = 0): ClockEntry => ({ node, counter, timestampMs });
const dot = (node: string, counter: number, timestampMs = 0): Dot => ({ node, counter, timestampMs });
const URL_SAFE = /^[A-Za-z0-9_-]*$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** URL-safe base64 of any MessagePack value: a string with the right alphabet but possibly the wrong content. */
const packed = (value: unknown): string => Buffer.from(encode(value)).toString('base64url');

/** Whether a context claims to have seen the write named by `d`: covered by its clock or listed as a dot. */
function claims(context: CausalContext, d: { node: string; counter: number }): boolean {
  const inClock = context.clock.some((e) => e.node === d.node && e.counter >= d.counter);
  return inClock || context.dots.some((x) => x.node === d.node && x.counter === d.counter);
}

/** The error `decodeContext` throws for `context`, or the context it returned. */
function attemptDecode(context: string): { ok: true; context: CausalContext } | { ok: false; error: unknown } {
  try {
    return { ok: true, context: decodeContext(context) };
  } catch (error) {
    return { ok: false, error };
  }
}

function expectInvalid(context: string, label = ''): void {
  const result = attemptDecode(context);
  expect(result.ok, `${label} decodeContext(${JSON.stringify(context.slice(0, 60))}) should throw`).toBe(false);
  if (!result.ok) {
    expect(result.error, label).toBeInstanceOf(Error);
    expect((result.error as Error).name, label).toBe('InvalidContextError');
  }
}

/** What every decoded context must look like, whatever string it came from. */
function expectWellFormedContext(context: CausalContext, label: string): void {
  const entries = [...context.clock, ...context.dots];
  expect(entries.length, label).toBeLessThanOrEqual(MAX_CONTEXT_ENTRIES);
  for (const e of entries) {
    expect(e.node, label).toMatch(/^[a-z0-9]{1,64}$/);
    expect(Number.isSafeInteger(e.counter) && e.counter >= 1, `${label} counter ${e.counter}`).toBe(true);
    expect(Number.isFinite(e.timestampMs), label).toBe(true);
  }
  for (let i = 1; i < context.clock.length; i++) {
    expect(context.clock[i - 1]!.node < context.clock[i]!.node, `${label} clock sorted, one entry per node`).toBe(true);
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

// ----------------------------------------------------------------------------------------------

describe('emptyContext', () => {
  it('has seen nothing, encodes as the empty string, and is a fresh object each time', () => {
    const a = emptyContext();
    expect(a).toEqual({ clock: [], dots: [] });
    a.clock.push(entry('x', 1));
    expect(emptyContext()).toEqual({ clock: [], dots: [] });
    expect(encodeContext(emptyContext())).toBe('');
    expect(decodeContext('')).toEqual(emptyContext());
    expect(decodeContext(undefined)).toEqual(emptyContext());
  });
});

describe('contextAfterPut', () => {
  it('folds a dot that directly follows the clock counter of its node', () => {
    expect(contextAfterPut({ clock: [entry('a', 2, 10)], dots: [] }, dot('a', 3, 30))).toEqual({ clock: [entry('a', 3, 30)], dots: [] });
    // A node the clock has no entry for counts as 0, so its first write folds in.
    expect(contextAfterPut(emptyContext(), dot('b', 1, 5))).toEqual({ clock: [entry('b', 1, 5)], dots: [] });
  });

  it('keeps a dot with a gap before it separate: the gap is a write the client did not see', () => {
    const after = contextAfterPut({ clock: [entry('a', 2, 10)], dots: [] }, dot('a', 4, 40));
    expect(after).toEqual({ clock: [entry('a', 2, 10)], dots: [dot('a', 4, 40)] });
    expect(claims(after, dot('a', 3)), 'a:3 was not seen').toBe(false);
    expect(claims(after, dot('a', 4))).toBe(true);
    // A first write with counter > 1 at a node the client never saw stays separate too.
    expect(contextAfterPut(emptyContext(), dot('c', 7, 1))).toEqual({ clock: [], dots: [dot('c', 7, 1)] });
  });

  it('folds separate dots once the gap before them is filled', () => {
    const start: CausalContext = { clock: [entry('a', 2, 10)], dots: [dot('a', 5, 50), dot('a', 4, 40)] };
    const after = contextAfterPut(start, dot('a', 3, 30));
    expect(after).toEqual({ clock: [entry('a', 5, 50)], dots: [] });
  });

  it('drops a dot the clock already covers and keeps the larger timestamp when folding', () => {
    expect(contextAfterPut({ clock: [entry('a', 5, 50)], dots: [] }, dot('a', 3, 99))).toEqual({ clock: [entry('a', 5, 50)], dots: [] });
    expect(contextAfterPut({ clock: [entry('a', 1, 70)], dots: [] }, dot('a', 2, 20))).toEqual({ clock: [entry('a', 2, 70)], dots: [] });
  });

  it('the header example: clock [a:2, b:1] with dot a:4 has seen a1, a2, b1 and a4, not a3', () => {
    const context = contextAfterPut({ clock: [entry('b', 1), entry('a', 2)], dots: [] }, dot('a', 4));
    expect(context.clock.map((e) => e.node)).toEqual(['a', 'b']); // sorted by node
    for (const [node, counter, seen] of [['a', 1, true], ['a', 2, true], ['b', 1, true], ['a', 4, true], ['a', 3, false], ['b', 2, false], ['c', 1, false]] as const) {
      expect(claims(context, { node, counter }), `${node}:${counter}`).toBe(seen);
    }
  });

  it('keeps at most MAX_CONTEXT_DOTS separate dots, dropping the oldest', () => {
    let context = emptyContext();
    // Odd counters only: every dot leaves a gap, so none of them folds.
    for (let k = 1; k <= MAX_CONTEXT_DOTS + 4; k++) context = contextAfterPut(context, dot('a', 2 * k + 1, 100 * k));
    expect(context.clock).toEqual([]);
    expect(context.dots).toHaveLength(MAX_CONTEXT_DOTS);
    expect(context.dots.map((d) => d.counter)).toEqual(Array.from({ length: MAX_CONTEXT_DOTS }, (_, i) => 2 * (i + 5) + 1));
    // The dropped dots are forgotten, never turned into a claim on the gaps.
    expect(claims(context, dot('a', 3))).toBe(false);
    expect(claims(context, dot('a', 2))).toBe(false);
  });

  it('does not modify its inputs', () => {
    const context = deepFreeze<CausalContext>({ clock: [entry('a', 2, 1)], dots: [dot('a', 4, 2)] });
    const d = deepFreeze(dot('a', 3, 3));
    const snapshot = structuredClone({ context, d });
    expect(contextAfterPut(context, d)).toEqual({ clock: [entry('a', 4, 3)], dots: [] });
    expect({ context, d }).toEqual(snapshot);
  });

  it('on random contexts claims exactly what the context claimed plus the new dot, never more', () => {
    const nodes = ['a', 'b', 'c'];
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = seeded(seed);
      const clock = nodes.filter(() => rnd.int(0, 2) > 0).map((n) => entry(n, rnd.int(1, 4), rnd.int(0, 1000)));
      const dots = Array.from({ length: rnd.int(0, 4) }, () => dot(rnd.pick(nodes), rnd.int(1, 9), rnd.int(0, 1000)));
      const before: CausalContext = { clock, dots };
      const written = dot(rnd.pick(nodes), rnd.int(1, 9), rnd.int(0, 1000));
      const after = contextAfterPut(before, written);
      for (const n of nodes) {
        for (let c = 1; c <= 10; c++) {
          const expected = claims(before, { node: n, counter: c }) || (written.node === n && written.counter === c);
          expect(claims(after, { node: n, counter: c }), `seed ${seed}: ${n}:${c} in ${JSON.stringify(after)}`).toBe(expected);
        }
      }
      expect(after.dots.length, `seed ${seed}`).toBeLessThanOrEqual(MAX_CONTEXT_DOTS);
      // A separate dot is never one the clock could have absorbed.
      for (const d of after.dots) {
        const counter = after.clock.find((e) => e.node === d.node)?.counter ?? 0;
        expect(d.counter, `seed ${seed}: ${d.node}:${d.counter}`).toBeGreaterThan(counter + 1);
      }
    }
  });
});

describe('encodeContext / decodeContext', () => {
  it('round-trip random contexts as URL-safe strings (clock sorted, dots in order)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = seeded(seed);
      const nodeIds = Array.from({ length: rnd.int(0, 12) }, (_, i) => `n${i}x${rnd.int(0, 999)}`);
      const counter = (): number => (rnd.int(0, 3) === 0 ? 2 ** 40 + rnd.int(0, 99) : rnd.int(1, 50));
      const time = (): number => (rnd.int(0, 1) === 0 ? 1.7e12 + rnd.int(0, 1e9) : rnd.float() * 1000);
      const clock = nodeIds.map((n) => entry(n, counter(), time()));
      // Dots may name the same node more than once, and a node the clock also names.
      const dots = Array.from({ length: rnd.int(0, MAX_CONTEXT_DOTS) }, () => dot(rnd.pick(['a', 'b', ...nodeIds]), counter(), time()));
      const context = encodeContext({ clock, dots });
      expect(context, `seed ${seed}`).toMatch(URL_SAFE);
      const sorted = [...clock].sort((x, y) => (x.node < y.node ? -1 : 1));
      expect(decodeContext(context), `seed ${seed}`).toEqual({ clock: sorted, dots });
    }
  });

  it('refuses a clock that names a node twice but allows repeated nodes among dots', () => {
    expectInvalid(packed([1, [['a', 1, 1], ['a', 2, 2]], []]));
    expect(decodeContext(packed([1, [['a', 1, 1]], [['b', 3, 1], ['b', 5, 2]]]))).toEqual({
      clock: [entry('a', 1, 1)],
      dots: [dot('b', 3, 1), dot('b', 5, 2)],
    });
  });

  it('refuses a value that is not a string', () => {
    for (const value of [42, null, {}, ['abc'], new Uint8Array(3)]) {
      let thrown: unknown;
      try {
        decodeContext(value as unknown as string);
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error | undefined)?.name, String(value)).toBe('InvalidContextError');
    }
  });

  it('refuses random strings unless they are exactly what encodeContext makes', () => {
    const alphabet = `${BASE64URL_ALPHABET}+/= .!é\u0000`;
    let refused = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const rnd = seeded(seed);
      const text = Array.from({ length: rnd.int(1, 60) }, () => alphabet.charAt(rnd.int(0, alphabet.length - 1))).join('');
      const result = attemptDecode(text);
      if (!result.ok) {
        expect((result.error as Error).name, `seed ${seed}: ${JSON.stringify(text)}`).toBe('InvalidContextError');
        refused++;
        continue;
      }
      expectWellFormedContext(result.context, `seed ${seed}`);
      expect(encodeContext(result.context), `seed ${seed}: accepted a non-canonical ${JSON.stringify(text)}`).toBe(text);
    }
    expect(refused, 'nearly every random string must be refused').toBeGreaterThan(1900);
  });

  it('a valid context with one character changed is refused or decodes to a well-formed context', () => {
    const base = encodeContext({
      clock: [entry('alpha', 3, 1.7e12), entry('beta', 1, 1.7e12 + 5), entry('gamma7', 12, 1.7e12 + 9)],
      dots: [dot('alpha', 5, 1.7e12 + 20), dot('beta', 9, 1.7e12 + 30)],
    });
    let refused = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const rnd = seeded(seed);
      const at = rnd.int(0, base.length - 1);
      const replacement = BASE64URL_ALPHABET.charAt(rnd.int(0, 63));
      const text = base.slice(0, at) + replacement + base.slice(at + 1);
      const result = attemptDecode(text);
      if (result.ok) expectWellFormedContext(result.context, `seed ${seed}`);
      else {
        expect((result.error as Error).name, `seed ${seed}`).toBe('InvalidContextError');
        refused++;
      }
    }
    expect(refused, 'many mutations must hit the shape checks').toBeGreaterThan(100);
  });

  it('refuses valid base64 of the wrong shapes', () => {
    const good = ['a', 1, 1];
    const wrongEntries: unknown[] = [
      ['a', 1], // too short
      ['a', 1, 2, 3], // too long
      [1, 1, 1], // node not a string
      ['', 1, 1], // empty node
      ['Node', 1, 1], // not [a-z0-9]
      ['a-b', 1, 1],
      ['x'.repeat(65), 1, 1], // node id too long
      ['a', -1, 1], // negative counter
      ['a', 0, 1], // zero counter
      ['a', 1.5, 1], // non-integer counter
      ['a', 2 ** 60, 1], // not a safe integer
      ['a', '1', 1], // counter as a string
      ['a', 1, Number.NaN],
      ['a', 1, Number.POSITIVE_INFINITY],
      ['a', 1, 'yesterday'],
      ['a', 1, new Date(0)], // an ext type
      { node: 'a', counter: 1, timestampMs: 1 }, // a map
      new Uint8Array([1, 2, 3]), // bytes
      null,
    ];
    const shapes: unknown[] = [
      null,
      true,
      42,
      'a string',
      { a: 1 },
      [],
      [1, []], // two elements
      [1, [], [], []], // four elements
      [2, [good], []], // unknown version
      ['1', [good], []],
      [1, good, []], // clock not an array of entries
      [1, [good], 'dots'],
      [1, { a: 1 }, []],
      ...wrongEntries.flatMap((bad) => [
        [1, [bad], []],
        [1, [good], [bad]],
      ]),
    ];
    shapes.forEach((shape, i) => expectInvalid(packed(shape), `shape ${i}`));
  });

  it('refuses too many entries, in the clock, in the dots or together', () => {
    const entries = (n: number, prefix: string): unknown[] => Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 1, 1]);
    // At the limit: accepted.
    expect(decodeContext(packed([1, entries(MAX_CONTEXT_ENTRIES, 'c'), []])).clock).toHaveLength(MAX_CONTEXT_ENTRIES);
    expect(decodeContext(packed([1, entries(32, 'c'), entries(32, 'd')])).dots).toHaveLength(32);
    // One over: refused.
    expectInvalid(packed([1, entries(MAX_CONTEXT_ENTRIES + 1, 'c'), []]), 'clock');
    expectInvalid(packed([1, [], entries(MAX_CONTEXT_ENTRIES + 1, 'd')]), 'dots');
    expectInvalid(packed([1, entries(40, 'c'), entries(25, 'd')]), 'clock + dots');
  });

  it('refuses bad base64, padding, trailing bytes, truncation and non-zero unused bits', () => {
    const valid = encodeContext({ clock: [entry('a', 1, 5), entry('b', 2, 6)], dots: [dot('a', 3, 7)] });
    expect(decodeContext(valid)).toEqual({ clock: [entry('a', 1, 5), entry('b', 2, 6)], dots: [dot('a', 3, 7)] });

    const standard = Buffer.from(encode([1, [['ab', 1, 5]], []])).toString('base64');
    expect(standard, 'the fixture must need padding').toContain('=');
    expectInvalid(standard, 'padded standard base64');
    expectInvalid(standard.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_') + '==', 'padded base64url');
    expectInvalid(`${valid}A`, 'one character too many');
    expectInvalid(Buffer.from([...encode([1, [['a', 1, 5]], []]), 0]).toString('base64url'), 'a byte after the value');
    expectInvalid(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]).toString('base64url'), 'array header claiming 2^32-1 items');
    expectInvalid(Buffer.from([0x93, 0x01, 0x91]).toString('base64url'), 'truncated');
    expectInvalid('a+b/', 'standard alphabet');
    expectInvalid('####', 'not base64 at all');
    expectInvalid('ab cd', 'a space');

    // The unused low bits of the last character must be zero: one context, one string.
    let tampered = 0;
    for (const node of ['a', 'ab', 'abc', 'abcd']) {
      const s = encodeContext({ clock: [entry(node, 1, 5)], dots: [] });
      if (s.length % 4 === 0) continue; // no unused bits
      const last = BASE64URL_ALPHABET.indexOf(s.charAt(s.length - 1));
      expect(decodeContext(s).clock).toEqual([entry(node, 1, 5)]);
      expectInvalid(s.slice(0, -1) + BASE64URL_ALPHABET.charAt(last | 1), `unused bits set for ${node}`);
      tampered++;
    }
    expect(tampered, 'at least one fixture must have unused bits').toBeGreaterThan(0);
  });

  it('refuses strings longer than MAX_CONTEXT_LENGTH before decoding them', () => {
    // 'AAAA' is valid base64 (three zero bytes); the length of these strings is what refuses them.
    const justOver = 'A'.repeat(MAX_CONTEXT_LENGTH + 4);
    for (const huge of [justOver, 'A'.repeat(5_000_000)]) {
      expectInvalid(huge, `${huge.length} characters`);
      expect(() => decodeContext(huge)).toThrow(/longer than/);
    }
    // A string of exactly the limit is not refused for its length (it fails later, on its content).
    const atLimit = 'A'.repeat(MAX_CONTEXT_LENGTH);
    expectInvalid(atLimit, 'at the limit');
    expect(() => decodeContext(atLimit)).not.toThrow(/longer than/);
  });
});
