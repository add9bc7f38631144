/**
 * What one message can carry of a key (version-set-limits.ts): a state a peer's schema would refuse
 * (messages.ts) is refused before it is stored, by bytes and by every count the schema bounds.
 */
import { describe, expect, it } from 'vitest';
import { VersionSetTooLargeError } from '../../../src/core/errors.js';
import { MAX_WIRE_CLOCK_ENTRIES, MAX_WIRE_SIBLINGS } from '../../../src/core/messages.js';
import type { VersionSet } from '../../../src/core/types.js';
import { versionSetLimitProblem } from '../../../src/core/version-set-limits.js';

const dot = (node: string, counter: number) => ({ node, counter, timestampMs: 1 });
const writers = (n: number): string[] => Array.from({ length: n }, (_, i) => `w${String(i).padStart(3, '0')}`);
const state = (siblings: number, clock: number, dots: number): VersionSet => ({
  clock: writers(Math.max(clock, siblings)).map((node) => dot(node, 5)),
  siblings: writers(siblings).map((node) => ({ dot: dot(node, 5), data: null })),
  ...(dots > 0 ? { dots: writers(dots).map((node) => dot(node, 9)) } : {}),
});

describe('version set limits', () => {
  it('takes a state at every count limit, and refuses one over any of them, saying which', () => {
    const max = MAX_WIRE_CLOCK_ENTRIES;
    expect(versionSetLimitProblem(state(MAX_WIRE_SIBLINGS, max, max), 1 << 20)).toBeUndefined();
    const siblings = versionSetLimitProblem(state(MAX_WIRE_SIBLINGS + 1, 0, 0), 1 << 20);
    expect(siblings).toBeInstanceOf(VersionSetTooLargeError);
    expect(siblings?.message).toMatch(/siblings/);
    expect(versionSetLimitProblem(state(1, max + 1, 0), 1 << 20)?.message).toMatch(/clock would have/);
    expect(versionSetLimitProblem(state(1, 1, max + 1), 1 << 20)?.message).toMatch(/writes beyond its clock/);
    expect(versionSetLimitProblem(state(2, 2, 0), 10)).toBeInstanceOf(VersionSetTooLargeError);
  });
});
