/**
 * The checkers on hand-made histories: each one passes a good history and catches the bad one it
 * exists for, so a green simulation means the property held, not that the checker looked away.
 */
import { describe, expect, it } from 'vitest';
import type { VersionSet } from '../../src/core/types.js';
import {
  checkCausalAccounting,
  checkNoPhantoms,
  checkSetFull,
  checkSiblingBound,
  checkStoredState,
  divergentKeys,
  percentile,
  type FinalRead,
  type WriteRecord,
} from './checkers.js';

const read = (siblings: [dot: string, tag: string][], elements: string[] = siblings.map(([, t]) => t)): FinalRead => ({
  ok: true,
  elements: new Set(elements),
  siblings: siblings.map(([dot, tag]) => ({ dot, tag })),
});

const write = (tag: string, dot: string | undefined, seen: string[] = [], acknowledged = true, key = 'k'): WriteRecord => ({ key, tag, dot, seen, acknowledged });

const state = (clock: [string, number][], siblings: [string, number][]): VersionSet => ({
  clock: clock.map(([node, counter]) => ({ node, counter, timestampMs: 0 })),
  siblings: siblings.map(([node, counter]) => ({ dot: { node, counter, timestampMs: 0 }, data: null })),
});

describe('set-full', () => {
  it('passes when every acknowledged element is read, and reports each lost one', () => {
    const acknowledged = new Map([['k', new Set(['a', 'b', 'c'])]]);
    expect(checkSetFull(acknowledged, new Map([['k', read([], ['a', 'b', 'c', 'unacked'])]])).violations).toEqual([]);
    const result = checkSetFull(acknowledged, new Map([['k', read([], ['a'])]]), new Map([['k', new Set(['a', 'b'])]]));
    expect(result.lost).toBe(2);
    expect(result.violations[0]!.message).toMatch(/2 of 3 acknowledged elements of k are missing from the final read: b, c \(1 of them still stored.*1 gone everywhere\)/);
  });

  it('reports a final read that failed', () => {
    const result = checkSetFull(new Map([['k', new Set(['a'])]]), new Map([['k', { ok: false, error: 'QuorumNotReachedError' }]]));
    expect(result.violations[0]!.message).toContain('final read of k failed (QuorumNotReachedError)');
  });
});

describe('causal accounting', () => {
  it('blind writes: every acknowledged one must be a final sibling', () => {
    const writes = [write('w1', 'x:1'), write('w2', 'y:1'), write('w3', undefined, [], false)];
    expect(checkCausalAccounting(writes, new Map([['k', read([['x:1', 'w1'], ['y:1', 'w2']])]]))).toEqual([]);
    const violations = checkCausalAccounting(writes, new Map([['k', read([['x:1', 'w1']])]]));
    expect(violations).toHaveLength(1);
    expect(violations[0]!.message).toContain('w2@y:1');
  });

  it('a write overwritten by a later write that saw it is accounted for, through any chain', () => {
    const writes = [write('w1', 'x:1'), write('w2', 'x:2', ['x:1']), write('w3', 'y:1', ['x:2'])];
    expect(checkCausalAccounting(writes, new Map([['k', read([['y:1', 'w3']])]]))).toEqual([]);
  });

  it('an unacknowledged write can carry others forward when its value survives', () => {
    const writes = [write('w1', 'x:1'), write('w2', undefined, ['x:1'], false)];
    expect(checkCausalAccounting(writes, new Map([['k', read([['z:9', 'w2']])]]))).toEqual([]);
  });

  it('a write dropped without a surviving successor is caught, even if some write saw it', () => {
    // w2 saw w1, but w2 itself vanished (not final, nobody saw it): w1's value is gone.
    const writes = [write('w1', 'x:1'), write('w2', 'x:2', ['x:1'], false), write('w3', 'y:1')];
    const violations = checkCausalAccounting(writes, new Map([['k', read([['y:1', 'w3']])]]));
    expect(violations.map((v) => v.message).join()).toContain('w1@x:1');
  });
});

describe('safety during chaos', () => {
  it('stored states: a sibling the clock does not cover, or unsorted siblings, are caught', () => {
    expect(checkStoredState('n0', 'k', state([['a', 2]], [['a', 1], ['a', 2]]))).toEqual([]);
    expect(checkStoredState('n0', 'k', state([['a', 1]], [['a', 2]]))[0]!.message).toContain('sibling a:2 not covered');
    expect(checkStoredState('n0', 'k', state([['a', 2]], [['a', 2], ['a', 1]]))[0]!.message).toContain('not sorted');
    expect(checkStoredState('n0', 'k', state([['b', 1], ['a', 1]], []))[0]!.message).toContain('clock not sorted');
  });

  it('a read returning an element nobody wrote is a phantom', () => {
    expect(checkNoPhantoms('k', ['a'], new Set(['a', 'b']))).toEqual([]);
    expect(checkNoPhantoms('k', ['a', 'zz'], new Set(['a']))[0]!.message).toContain('zz');
  });
});

describe('liveness and bounds', () => {
  it('divergent keys: equal version sets pass, a replica missing a write does not', () => {
    const full = state([['a', 2]], [['a', 2]]);
    const behind = state([['a', 1]], [['a', 1]]);
    expect(divergentKeys(new Map([['k', new Map([['n0', full], ['n1', structuredClone(full)]])]]))).toEqual([]);
    expect(divergentKeys(new Map([['k', new Map([['n0', full], ['n1', behind], ['n2', undefined]])]]))).toEqual(['k (n0:{a:2} n1:{a:1} n2:∅)']);
  });

  it('sibling bound and percentiles', () => {
    expect(checkSiblingBound('k', 2, 2)).toEqual([]);
    expect(checkSiblingBound('k', 3, 2)).toHaveLength(1);
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(values, 50), percentile(values, 99), percentile([], 50)]).toEqual([50, 99, undefined]);
  });
});
