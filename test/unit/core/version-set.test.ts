import { describe, expect, it } from 'vitest';
import { type CausalContext, contextAfterPut, decodeContext, emptyContext, encodeContext } from '../../../src/core/context.js';
import type { ClockEntry, Dot, Sibling, VersionSet } from '../../../src/core/types.js';
import {
  DEFAULT_MAX_CLOCK_ENTRIES,
  applyPut,
  clockDescends,
  compareClocks,
  covers,
  coversWithDots,
  emptyVersionSet,
  isTombstoneOnly,
  liveSiblings,
  mergeClocks,
  mergeVersionSets,
  truncateClock,
  versionSetSizeBytes,
  versionSetsEqual,
} from '../../../src/core/version-set.js';

// ----------------------------------------------------------------------------------------------
// helpers

/** Small seeded PRNG (mulberry32); a failing property prints the seed that replays it. */
function prng(seed: number): { next(): number; int(n: number): number } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const bytes = (s: string): Uint8Array => utf8.encode(s);
const text = (s: Sibling): string | null => (s.data === null ? null : fromUtf8.decode(s.data));
const texts = (v: VersionSet): (string | null)[] => v.siblings.map(text);
const counters = (clock: readonly ClockEntry[]): [string, number][] => clock.map((e) => [e.node, e.counter]);
const e = (node: string, counter: number, timestampMs = 0): ClockEntry => ({ node, counter, timestampMs });

/** Checks the stored-shape invariants every function must keep. */
function expectWellFormed(v: VersionSet, label = ''): void {
  for (let i = 1; i < v.clock.length; i++) {
    expect(v.clock[i - 1]!.node < v.clock[i]!.node, `${label} clock sorted, one entry per node`).toBe(true);
  }
  for (let i = 1; i < v.siblings.length; i++) {
    const a = v.siblings[i - 1]!.dot;
    const b = v.siblings[i]!.dot;
    expect(a.node < b.node || (a.node === b.node && a.counter < b.counter), `${label} siblings sorted, unique dots`).toBe(true);
  }
  for (const s of v.siblings) expect(covers(v.clock, s.dot), `${label} sibling ${s.dot.node}:${s.dot.counter} covered`).toBe(true);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const hasDot = (v: VersionSet, d: Dot): boolean => v.siblings.some((s) => s.dot.node === d.node && s.dot.counter === d.counter);

/** The context a get hands a client: the merged clock it read, carried as the opaque string and decoded again. */
const roundTrip = (clock: readonly ClockEntry[]): ClockEntry[] => decodeContext(encodeContext({ clock: [...clock], dots: [] })).clock;

/**
 * A client that keeps only the opaque context string between calls, as an API user would. `put` writes
 * through `applyPut` with the decoded context (clock as context, dots as contextDots) and keeps
 * `contextAfterPut(context, dot)`: its own context plus its own write, never the coordinator's clock.
 */
class Client {
  context = '';

  put(state: VersionSet | undefined, coordinator: string, data: Uint8Array | null, nowMs: number): { versions: VersionSet; dot: Dot } {
    const ctx = decodeContext(this.context);
    const result = applyPut(state, ctx.clock, coordinator, data, nowMs, DEFAULT_MAX_CLOCK_ENTRIES, ctx.dots);
    this.context = encodeContext(contextAfterPut(ctx, result.dot));
    return result;
  }
}

// ----------------------------------------------------------------------------------------------

describe('paper §4.4 Figure 3: version evolution of an object', () => {
  it('D1..D5 through coordinators sx, sy, sz', () => {
    // D1 and D2 are handled by sx; D2 overwrites D1.
    const d1 = applyPut(undefined, [], 'sx', bytes('D1'), 1);
    expect(counters(d1.versions.clock)).toEqual([['sx', 1]]);
    const d2 = applyPut(d1.versions, d1.versions.clock, 'sx', bytes('D2'), 2);
    expect(counters(d2.versions.clock)).toEqual([['sx', 2]]);
    expect(texts(d2.versions)).toEqual(['D2']);
    const ctxD2 = roundTrip(d2.versions.clock);

    // sy and sz hold D2 (replicated) and each handle a write made with D2's context.
    const atSy = mergeVersionSets(undefined, d2.versions);
    const atSz = mergeVersionSets(undefined, d2.versions);
    const d3 = applyPut(atSy, ctxD2, 'sy', bytes('D3'), 3);
    const d4 = applyPut(atSz, ctxD2, 'sz', bytes('D4'), 4);
    expect(counters(d3.versions.clock)).toEqual([['sx', 2], ['sy', 1]]);
    expect(counters(d4.versions.clock)).toEqual([['sx', 2], ['sz', 1]]);
    expect(texts(d3.versions)).toEqual(['D3']);
    expect(texts(d4.versions)).toEqual(['D4']);
    expect(compareClocks(d3.versions.clock, d4.versions.clock)).toBe('concurrent');
    expect(compareClocks(d2.versions.clock, d3.versions.clock)).toBe('before');

    // A read that sees both returns both siblings and the joined context.
    const read = mergeVersionSets(d3.versions, d4.versions);
    expectWellFormed(read);
    expect(texts(read)).toEqual(['D3', 'D4']);
    expect(counters(read.clock)).toEqual([['sx', 2], ['sy', 1], ['sz', 1]]);
    const ctxRead = roundTrip(read.clock);

    // The client reconciles and sx coordinates D5 with the read's context (sx still holds D2).
    const d5 = applyPut(d2.versions, ctxRead, 'sx', bytes('D5'), 5);
    expectWellFormed(d5.versions);
    expect(d5.dot).toMatchObject({ node: 'sx', counter: 3, timestampMs: 5 });
    expect(texts(d5.versions)).toEqual(['D5']);
    expect(counters(d5.versions.clock)).toEqual([['sx', 3], ['sy', 1], ['sz', 1]]);

    // D5 reaching sy and sz overwrites D3 and D4 there too.
    expect(texts(mergeVersionSets(d3.versions, d5.versions))).toEqual(['D5']);
    expect(texts(mergeVersionSets(d5.versions, d4.versions))).toEqual(['D5']);
  });
});

describe('clocks', () => {
  it('compareClocks: equal, before, after, concurrent', () => {
    expect(compareClocks([], [])).toBe('equal');
    expect(compareClocks([e('a', 1)], [e('a', 1, 99)])).toBe('equal'); // timestamps do not order
    expect(compareClocks([e('a', 1), e('b', 0)], [e('a', 1)])).toBe('equal'); // counter 0 = absent
    expect(compareClocks([e('a', 1)], [])).toBe('after');
    expect(compareClocks([], [e('a', 1)])).toBe('before');
    expect(compareClocks([e('a', 1), e('b', 2)], [e('a', 1), e('b', 1)])).toBe('after');
    expect(compareClocks([e('a', 1)], [e('a', 1), e('b', 1)])).toBe('before');
    expect(compareClocks([e('a', 2)], [e('b', 1)])).toBe('concurrent');
    expect(compareClocks([e('a', 1), e('b', 2)], [e('a', 2), e('b', 1)])).toBe('concurrent');
    // entry order does not matter
    expect(compareClocks([e('b', 2), e('a', 1)], [e('a', 1), e('b', 2)])).toBe('equal');
  });

  it('clockDescends is >= pointwise; equal clocks descend each other', () => {
    expect(clockDescends([e('a', 2), e('b', 1)], [e('a', 1)])).toBe(true);
    expect(clockDescends([e('a', 1)], [e('a', 2), e('b', 1)])).toBe(false);
    expect(clockDescends([e('a', 1)], [e('a', 1)])).toBe(true);
    expect(clockDescends([], [])).toBe(true);
    expect(clockDescends([e('a', 1)], [e('b', 1)])).toBe(false);
  });

  it('covers: a dot is covered when the clock counter for its node is at least the dot counter', () => {
    const clock = [e('a', 3), e('b', 1)];
    expect(covers(clock, { node: 'a', counter: 3, timestampMs: 0 })).toBe(true);
    expect(covers(clock, { node: 'a', counter: 4, timestampMs: 0 })).toBe(false);
    expect(covers(clock, { node: 'c', counter: 1, timestampMs: 0 })).toBe(false);
    expect(covers([], { node: 'a', counter: 1, timestampMs: 0 })).toBe(false);
  });

  it('mergeClocks: pointwise max, timestamp of the larger counter, max timestamp on ties, sorted', () => {
    const merged = mergeClocks([e('c', 1, 10), e('a', 3, 1)], [e('a', 2, 99), e('b', 5, 7), e('c', 1, 20)]);
    expect(merged).toEqual([e('a', 3, 1), e('b', 5, 7), e('c', 1, 20)]);
    expect(mergeClocks([], [])).toEqual([]);
  });
});

describe('mergeVersionSets on random states', () => {
  /**
   * Builds states the way a cluster would: a few replicas taking puts (with contexts of every kind:
   * blind, a read's, a previous put's with its separate dots, an old one) and syncing with each other;
   * clocks sometimes truncated.
   */
  function randomStates(seed: number): VersionSet[] {
    const rnd = prng(seed);
    const nodes = ['a', 'b', 'c', 'd'];
    const replicas = new Map<string, VersionSet | undefined>(nodes.map((n) => [n, undefined]));
    const contexts: CausalContext[] = [emptyContext()];
    const pool: VersionSet[] = [emptyVersionSet()];
    const maxEntries = 2 + rnd.int(3);
    let lastPut: { ctx: CausalContext; data: Uint8Array | null; writeId: string | undefined } | undefined;
    for (let step = 0; step < 40; step++) {
      const n = nodes[rnd.int(nodes.length)]!;
      if (rnd.next() < 0.6) {
        // Sometimes the retry of the last write (same write id, data and context) at another
        // coordinator, which may not hold the first attempt's version yet (issue 20): twins.
        const retry = lastPut !== undefined && rnd.next() < 0.2 ? lastPut : undefined;
        const ctx = retry?.ctx ?? contexts[rnd.int(contexts.length)]!;
        const data = retry !== undefined ? retry.data : rnd.next() < 0.2 ? null : bytes(`${seed}-${step}`);
        const writeId = retry?.writeId ?? (rnd.next() < 0.5 ? `w${seed}.${step}` : undefined);
        const { versions, dot } = applyPut(replicas.get(n), ctx.clock, n, data, step, maxEntries, ctx.dots, writeId);
        lastPut = { ctx, data, writeId };
        replicas.set(n, versions);
        contexts.push({ clock: versions.clock, dots: [] }, contextAfterPut(ctx, dot));
        pool.push(versions);
      } else {
        const m = nodes[rnd.int(nodes.length)]!;
        const merged = mergeVersionSets(replicas.get(n), replicas.get(m));
        replicas.set(n, merged);
        pool.push(merged);
      }
    }
    return pool;
  }

  /** Whether the states hold, between them, two siblings of one write id and data under different dots. */
  function hasTwins(states: readonly VersionSet[]): boolean {
    const seen = new Map<string, string>();
    for (const v of states) {
      for (const s of v.siblings) {
        if (s.writeId === undefined) continue;
        const key = `${s.writeId}|${text(s)}`;
        const dot = `${s.dot.node}:${s.dot.counter}`;
        if (seen.has(key) && seen.get(key) !== dot) return true;
        seen.set(key, dot);
      }
    }
    return false;
  }

  it('is commutative, associative (up to retried twins, which converge) and idempotent, and keeps the invariants', () => {
    let twinTrials = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = prng(seed * 7919);
      const pool = randomStates(seed);
      // Dots must be unique: one dot, one write (a property of applyPut when each coordinator uses its own state).
      const dataOf = new Map<string, string | null>();
      for (const v of pool) {
        for (const s of v.siblings) {
          const key = `${s.dot.node}:${s.dot.counter}`;
          if (dataOf.has(key)) expect(dataOf.get(key), `seed ${seed} dot ${key}`).toBe(text(s));
          dataOf.set(key, text(s));
        }
      }
      for (let trial = 0; trial < 30; trial++) {
        const a = pool[rnd.int(pool.length)]!;
        const b = pool[rnd.int(pool.length)]!;
        const c = pool[rnd.int(pool.length)]!;
        const ab = mergeVersionSets(a, b);
        expectWellFormed(ab, `seed ${seed}`);
        expect(ab, `seed ${seed} commutative`).toEqual(mergeVersionSets(b, a));
        const left = mergeVersionSets(ab, c);
        const right = mergeVersionSets(a, mergeVersionSets(b, c));
        if (!hasTwins([a, b, c])) expect(left, `seed ${seed} associative`).toEqual(right);
        else {
          // Retried twins collapse to one, which a context that knew only the other cannot overwrite:
          // the orders may differ for a while, and meet at one state once merged with each other.
          twinTrials++;
          const met = mergeVersionSets(left, right);
          expect(mergeVersionSets(met, left), `seed ${seed} twins converge`).toEqual(met);
          expect(mergeVersionSets(met, right), `seed ${seed} twins converge`).toEqual(met);
        }
        expect(mergeVersionSets(a, a), `seed ${seed} idempotent`).toEqual(a);
        expect(mergeVersionSets(ab, b), `seed ${seed} absorbs`).toEqual(ab);
        expect(versionSetsEqual(ab, mergeVersionSets(b, a))).toBe(true);
      }
    }
    expect(twinTrials, 'the generator must make retried twins').toBeGreaterThan(0);
  });

  it('collapses the twins of a retried write (same write id and data, two coordinators) to the smaller dot everywhere; different data stays apart', () => {
    const data = bytes('buy milk');
    const first = applyPut(undefined, [], 'a', data, 1, 10, [], 'x.1.0').versions;
    const retried = applyPut(undefined, [], 'b', data, 2, 10, [], 'x.1.0').versions;
    const merged = mergeVersionSets(first, retried);
    expect(merged.siblings.map((s) => s.dot.node)).toEqual(['a']);
    expect(mergeVersionSets(retried, first)).toEqual(merged);
    expect(coversWithDots(merged.clock, merged.dots, retried.siblings[0]!.dot), 'the twin dropped is covered').toBe(true);
    // The twin arriving again later is overwritten.
    expect(mergeVersionSets(merged, retried)).toEqual(merged);
    const other = applyPut(undefined, [], 'b', bytes('buy bread'), 2, 10, [], 'x.1.0').versions;
    expect(mergeVersionSets(first, other).siblings).toHaveLength(2);
  });

  it('never drops a sibling unless the other side covers it, and invents none', () => {
    let dropped = 0;
    for (let seed = 100; seed < 160; seed++) {
      const rnd = prng(seed);
      const pool = randomStates(seed);
      for (let trial = 0; trial < 30; trial++) {
        const a = pool[rnd.int(pool.length)]!;
        const b = pool[rnd.int(pool.length)]!;
        const merged = mergeVersionSets(a, b);
        for (const [mine, other] of [
          [a, b],
          [b, a],
        ] as const) {
          for (const s of mine.siblings) {
            if (hasDot(merged, s.dot)) continue;
            // A retried twin gives way to the other with the smaller dot.
            if (s.writeId !== undefined && merged.siblings.some((t) => t.writeId === s.writeId && text(t) === text(s) && (t.dot.node < s.dot.node || (t.dot.node === s.dot.node && t.dot.counter < s.dot.counter)))) continue;
            dropped++;
            expect(coversWithDots(other.clock, other.dots, s.dot), `seed ${seed}: dropped ${s.dot.node}:${s.dot.counter} not covered`).toBe(true);
            expect(hasDot(other, s.dot), `seed ${seed}: dropped a sibling both sides hold`).toBe(false);
          }
        }
        for (const s of merged.siblings) expect(hasDot(a, s.dot) || hasDot(b, s.dot), `seed ${seed}`).toBe(true);
      }
    }
    expect(dropped, 'the generator must exercise overwrites').toBeGreaterThan(0);
  });

  it('treats undefined as the empty state and does not modify its inputs', () => {
    const x = deepFreeze(applyPut(undefined, [], 'a', bytes('x'), 1).versions);
    const y = deepFreeze(applyPut(undefined, [], 'b', bytes('y'), 2).versions);
    const snapshot = structuredClone([x, y]);
    expect(mergeVersionSets(x, undefined)).toEqual(x);
    expect(mergeVersionSets(undefined, undefined)).toEqual(emptyVersionSet());
    expect(texts(mergeVersionSets(x, y))).toEqual(['x', 'y']);
    expect([x, y]).toEqual(snapshot);
  });
});

describe('applyPut', () => {
  it('does not modify its inputs', () => {
    const base = deepFreeze(mergeVersionSets(applyPut(undefined, [], 'a', bytes('x'), 1).versions, applyPut(undefined, [], 'b', bytes('y'), 2).versions));
    const ctx = deepFreeze([e('a', 1, 1)]);
    const snapshot = structuredClone({ base, ctx });
    const { versions } = applyPut(base, ctx, 'a', bytes('z'), 3);
    expect({ base, ctx }).toEqual(snapshot);
    expect(texts(versions)).toEqual(['z', 'y']); // sorted by dot: a:2, b:1
  });

  it('a write with the empty context adds a sibling; a write with the full context replaces all', () => {
    const x = applyPut(undefined, [], 'a', bytes('x'), 1).versions;
    const y = applyPut(undefined, [], 'b', bytes('y'), 2).versions;
    const both = mergeVersionSets(x, y);
    expect(texts(both)).toEqual(['x', 'y']);

    const blind = applyPut(both, [], 'a', bytes('blind'), 3);
    expectWellFormed(blind.versions);
    expect(blind.dot).toEqual({ node: 'a', counter: 2, timestampMs: 3 });
    expect(texts(blind.versions)).toEqual(['x', 'blind', 'y']);

    const resolved = applyPut(blind.versions, roundTrip(blind.versions.clock), 'b', bytes('merged'), 4);
    expectWellFormed(resolved.versions);
    expect(texts(resolved.versions)).toEqual(['merged']);
    expect(counters(resolved.versions.clock)).toEqual([['a', 2], ['b', 2]]);
  });

  it("the new counter exceeds both the local and the context's counter for the coordinator", () => {
    const local = applyPut(undefined, [], 'a', bytes('x'), 1).versions; // a:1
    const ahead = applyPut(local, [e('a', 5, 0)], 'a', bytes('y'), 2);
    expect(ahead.dot.counter).toBe(6);
    expect(counters(ahead.versions.clock)).toEqual([['a', 6]]);
  });

  it('rejects a non-finite time and a bad clock limit (programmer errors)', () => {
    expect(() => applyPut(undefined, [], 'a', null, Number.NaN)).toThrow(RangeError);
    expect(() => applyPut(undefined, [], 'a', null, 1, 0)).toThrow(RangeError);
  });
});

describe('applyPut with contextDots', () => {
  const dot = (node: string, counter: number, timestampMs = 0): Dot => ({ node, counter, timestampMs });

  it('replaces a sibling whose dot is listed; keeps one neither listed nor covered', () => {
    const both = mergeVersionSets(applyPut(undefined, [], 'a', bytes('x'), 1).versions, applyPut(undefined, [], 'b', bytes('y'), 2).versions);
    expect(texts(both)).toEqual(['x', 'y']); // dots a:1, b:1

    // The context clock covers neither sibling; only b:1 is named as a separate dot (its timestamp does not matter).
    const { versions, dot: written } = applyPut(both, [], 'a', bytes('z'), 3, DEFAULT_MAX_CLOCK_ENTRIES, [dot('b', 1, 12345)]);
    expectWellFormed(versions);
    expect(written).toEqual(dot('a', 2, 3));
    expect(hasDot(versions, dot('b', 1)), 'the listed sibling is replaced').toBe(false);
    expect(hasDot(versions, dot('a', 1)), 'the unlisted, uncovered sibling survives').toBe(true);
    expect(texts(versions)).toEqual(['x', 'z']);
    // The clock still covers the replaced write, so a replica that still holds it drops it on merge.
    expect(texts(mergeVersionSets(both, versions))).toEqual(['x', 'z']);
  });

  it('matches dots exactly: a dot of the same node with another counter sees nothing', () => {
    let state = applyPut(undefined, [], 'c', bytes('first'), 1).versions; // c:1
    state = applyPut(state, [], 'c', bytes('second'), 2).versions; // c:2, concurrent with c:1
    expect(texts(state)).toEqual(['first', 'second']);

    const later = applyPut(state, [], 'c', bytes('third'), 3, DEFAULT_MAX_CLOCK_ENTRIES, [dot('c', 2)]).versions;
    expect(texts(later), 'c:2 listed, c:1 not (a dot is not a clock entry)').toEqual(['first', 'third']);
    const unrelated = applyPut(state, [], 'c', bytes('third'), 3, DEFAULT_MAX_CLOCK_ENTRIES, [dot('c', 7), dot('d', 1)]).versions;
    expect(texts(unrelated)).toEqual(['first', 'second', 'third']);
  });
});

describe('stale contexts do not multiply siblings (DVV)', () => {
  // Each client keeps only the context its own previous put returned (contextAfterPut); it never re-reads.

  it('two clients alternating 100 writes each through one coordinator: exactly 2 siblings, the latest', () => {
    let state: VersionSet | undefined;
    const clients = { A: new Client(), B: new Client() };
    for (let i = 1; i <= 100; i++) {
      for (const name of ['A', 'B'] as const) {
        state = clients[name].put(state, 'c1', bytes(`${name}${i}`), 2 * i + (name === 'B' ? 1 : 0)).versions;
        expectWellFormed(state);
        expect(state.siblings.length, `after ${name}${i}`).toBeLessThanOrEqual(2);
        if (i > 1 || name === 'B') expect(state.siblings.length, `after ${name}${i}`).toBe(2);
        expect(texts(state), `after ${name}${i}`).toContain(`${name}${i}`);
      }
    }
    expect(texts(state!).sort()).toEqual(['A100', 'B100']);
  });

  it('random interleaving through one coordinator: at most 2 siblings, the newest write always kept', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed);
      let state: VersionSet | undefined;
      const clients = { A: new Client(), B: new Client() };
      const left = { A: 100, B: 100 };
      const last = { A: '', B: '' };
      for (let step = 0; left.A + left.B > 0; step++) {
        const name = left.B === 0 || (left.A > 0 && rnd.next() < 0.5) ? 'A' : 'B';
        const value = `${name}${100 - left[name]}`;
        left[name]--;
        state = clients[name].put(state, 'c1', bytes(value), step).versions;
        last[name] = value;
        expectWellFormed(state, `seed ${seed}`);
        expect(state.siblings.length, `seed ${seed} step ${step}`).toBeLessThanOrEqual(2);
        expect(texts(state), `seed ${seed}`).toContain(value);
        // The other client's latest write is never lost to this one.
        const other = name === 'A' ? 'B' : 'A';
        if (last[other] !== '') expect(texts(state), `seed ${seed} step ${step}`).toContain(last[other]);
      }
      expect(texts(state!).sort(), `seed ${seed}`).toEqual([last.A, last.B].sort());
    }
  });

  it('writes spread over 3 replicas that sync randomly: at most 2 siblings anywhere, the 2 latest survive', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed);
      const names = ['r1', 'r2', 'r3'];
      const replicas = new Map<string, VersionSet | undefined>(names.map((n) => [n, undefined]));
      const clients = { A: new Client(), B: new Client() };
      let write = 0;
      for (let i = 1; i <= 100; i++) {
        for (const name of ['A', 'B'] as const) {
          const coordinator = names[write % names.length]!; // each write goes to a different replica than the last
          replicas.set(coordinator, clients[name].put(replicas.get(coordinator), coordinator, bytes(`${name}${i}`), write).versions);
          write++;
          // Random anti-entropy between replica pairs (one direction each time).
          const syncs = rnd.int(3);
          for (let k = 0; k < syncs; k++) {
            const from = names[rnd.int(3)]!;
            const to = names[rnd.int(3)]!;
            replicas.set(to, mergeVersionSets(replicas.get(to), replicas.get(from)));
          }
          for (const [replica, v] of replicas) {
            if (v === undefined) continue;
            expectWellFormed(v, `seed ${seed} ${replica}`);
            expect(v.siblings.length, `seed ${seed} ${replica} after write ${write}: ${texts(v).join(',')}`).toBeLessThanOrEqual(2);
          }
        }
      }
      // Heal: full sync; every replica converges on exactly the two latest writes.
      const all = names.reduce<VersionSet | undefined>((acc, n) => mergeVersionSets(acc, replicas.get(n)), undefined)!;
      expect(texts(all).sort(), `seed ${seed}`).toEqual(['A100', 'B100']);
      for (const n of names) expect(versionSetsEqual(mergeVersionSets(replicas.get(n), all), all)).toBe(true);
    }
  });

  it("a put's context is the client's own, not the coordinator's clock: a concurrent write is not lost", () => {
    // B writes first; A then writes blind through the same coordinator, never having seen B's write.
    const b = new Client();
    const b1 = b.put(undefined, 'c1', bytes('B1'), 1);
    const a1 = applyPut(b1.versions, [], 'c1', bytes('A1'), 2);
    expect(texts(a1.versions)).toEqual(['B1', 'A1']);

    // Taking the clock the put produced as A's next context would claim B1 (c1:1) too...
    expect(covers(a1.versions.clock, b1.dot)).toBe(true);
    const lost = applyPut(a1.versions, a1.versions.clock, 'c1', bytes('A2'), 3);
    expect(texts(lost.versions), 'the unsafe context silently overwrites B1').toEqual(['A2']);

    // ...whereas contextAfterPut claims only what A saw (nothing) plus its own write (c1:2).
    const aContext = contextAfterPut(emptyContext(), a1.dot);
    expect(covers(aContext.clock, b1.dot)).toBe(false);
    expect(aContext.dots.some((d) => d.node === b1.dot.node && d.counter === b1.dot.counter)).toBe(false);
    const a = new Client();
    a.context = encodeContext(aContext);
    const kept = a.put(a1.versions, 'c1', bytes('A2'), 3);
    expectWellFormed(kept.versions);
    expect(texts(kept.versions), "B1 survives A's next put; A2 replaces A1").toEqual(['B1', 'A2']);
  });
});

describe('tombstones', () => {
  it('a delete is a put of null; a delete concurrent with an edit keeps both', () => {
    const written = applyPut(undefined, [], 'a', bytes('x'), 1).versions;
    expect(isTombstoneOnly(written)).toBe(false);
    expect(liveSiblings(written).map(text)).toEqual(['x']);

    const deleted = applyPut(written, written.clock, 'a', null, 2).versions;
    expectWellFormed(deleted);
    expect(deleted.siblings).toHaveLength(1);
    expect(isTombstoneOnly(deleted)).toBe(true);
    expect(liveSiblings(deleted)).toEqual([]);

    // Replica b holds `written` too; one client deletes at a, another edits at b, both from the same read.
    const edited = applyPut(mergeVersionSets(undefined, written), written.clock, 'b', bytes('y'), 3).versions;
    const both = mergeVersionSets(deleted, edited);
    expectWellFormed(both);
    expect(texts(both)).toEqual([null, 'y']);
    expect(isTombstoneOnly(both)).toBe(false);
    expect(liveSiblings(both).map(text)).toEqual(['y']);
    expect(compareClocks(deleted.clock, edited.clock)).toBe('concurrent');

    // A later delete with the merged context removes both.
    const gone = applyPut(both, both.clock, 'a', null, 4).versions;
    expect(isTombstoneOnly(gone)).toBe(true);
    expect(isTombstoneOnly(emptyVersionSet())).toBe(false);
  });
});

describe('clock truncation (paper §4.4)', () => {
  it('15 coordinators in sequence: 10 newest entries kept, the current writer always kept', () => {
    expect(DEFAULT_MAX_CLOCK_ENTRIES).toBe(10);
    // One client writes through 15 coordinators in turn, each write with the context its previous put returned.
    let state: VersionSet | undefined;
    const client = new Client();
    const nodes = Array.from({ length: 15 }, (_, i) => `n${String(i + 1).padStart(2, '0')}`);
    nodes.forEach((node, i) => {
      const { versions, dot } = client.put(state, node, bytes(node), 1000 * (i + 1));
      state = versions;
      expectWellFormed(versions);
      expect(versions.clock.length).toBe(Math.min(i + 1, 10));
      expect(covers(versions.clock, dot)).toBe(true);
      expect(versions.clock.map((c) => c.node)).toEqual(nodes.slice(Math.max(0, i - 9), i + 1));
    });
    expect(texts(state!)).toEqual(['n15']);
    expect(state!.clock.map((c) => [c.node, c.timestampMs])).toEqual(nodes.slice(5).map((n, k) => [n, 1000 * (k + 6)]));
  });

  it("never drops a current sibling's entry, even the oldest", () => {
    // `old` writes first; a second client then writes through 14 coordinators, its context knowing only its own writes.
    let state = applyPut(undefined, [], 'old', bytes('old'), 0).versions;
    const client = new Client();
    for (let i = 1; i <= 14; i++) {
      state = client.put(state, `w${String(i).padStart(2, '0')}`, bytes(`w${i}`), 1000 * i).versions;
      expectWellFormed(state);
      expect(state.clock.length).toBeLessThanOrEqual(10);
      expect(texts(state)).toEqual(['old', `w${i}`]);
    }
    // Kept: `old` (a sibling, oldest timestamp) + the 9 newest.
    expect(state.clock.map((c) => c.node)).toEqual(['old', 'w06', 'w07', 'w08', 'w09', 'w10', 'w11', 'w12', 'w13', 'w14']);
  });

  it('keeps every sibling entry when they alone exceed the limit', () => {
    let state: VersionSet | undefined;
    for (let i = 0; i < 15; i++) state = applyPut(state, [], `n${i}`, bytes(`v${i}`), i).versions; // 15 blind, concurrent writes
    expect(state!.siblings).toHaveLength(15);
    expect(state!.clock).toHaveLength(15);
    expectWellFormed(state!);

    const clock = [e('a', 1, 1), e('b', 1, 2), e('c', 1, 3), e('d', 1, 4)];
    expect(truncateClock(clock, 2, new Set(['a', 'b', 'c']))).toEqual([e('a', 1, 1), e('b', 1, 2), e('c', 1, 3)]);
    expect(truncateClock(clock, 2, new Set(['a']))).toEqual([e('a', 1, 1), e('d', 1, 4)]);
    expect(truncateClock(clock, 4, new Set())).toEqual(clock);
    expect(() => truncateClock(clock, 0, new Set())).toThrow(RangeError);
  });
});

describe('versionSetsEqual, liveSiblings, versionSetSizeBytes', () => {
  it('compares clock counters and sibling dots; undefined equals empty', () => {
    const x = applyPut(undefined, [], 'a', bytes('x'), 1).versions;
    const y = applyPut(undefined, [], 'b', bytes('y'), 1).versions;
    expect(versionSetsEqual(undefined, emptyVersionSet())).toBe(true);
    expect(versionSetsEqual(undefined, undefined)).toBe(true);
    expect(versionSetsEqual(x, structuredClone(x))).toBe(true);
    expect(versionSetsEqual(x, y)).toBe(false);
    expect(versionSetsEqual(x, undefined)).toBe(false);
    const xy = mergeVersionSets(x, y);
    // Same clock, different siblings.
    expect(versionSetsEqual(xy, { clock: xy.clock, siblings: xy.siblings.slice(1) })).toBe(false);
  });

  it('sizes data plus per-sibling and per-entry overhead', () => {
    const v: VersionSet = {
      clock: [e('ab', 1), e('cde', 2)],
      siblings: [
        { dot: { node: 'ab', counter: 1, timestampMs: 0 }, data: new Uint8Array(100) },
        { dot: { node: 'cde', counter: 2, timestampMs: 0 }, data: null },
      ],
    };
    expect(versionSetSizeBytes(v)).toBe(100 + (2 + 24) + (3 + 24) + (2 + 24) + (3 + 24));
    expect(versionSetSizeBytes(emptyVersionSet())).toBe(0);
  });
});
