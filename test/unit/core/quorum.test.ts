/**
 * The quorum accumulator (src/core/quorum.ts; paper §4.5, §4.6) as pure bookkeeping: fed answers and
 * failures by hand, it must decide at exactly the right input, hand failed targets' work to the next
 * fallback, and name the replicas a read must repair.
 */
import { describe, expect, it } from 'vitest';
import { QuorumNotReachedError } from '../../../src/core/errors.js';
import { QuorumAccumulator, readRepairPlan, type Answer } from '../../../src/core/quorum.js';
import type { NodeId, VersionSet } from '../../../src/core/types.js';

const versions = (node: string, counter: number): VersionSet => ({
  clock: [{ node, counter, timestampMs: counter }],
  siblings: [{ dot: { node, counter, timestampMs: counter }, data: new Uint8Array([counter]) }],
});

describe('QuorumAccumulator', () => {
  it('is met at exactly the needed-th complete answer, the coordinator counting as one', () => {
    const q = new QuorumAccumulator<string>('put', 2, [{ node: 'a' }, { node: 'b' }, { node: 'c' }], [], 'a', { node: 'a', value: 'local', complete: true });
    expect(q.start().map((t) => t.node), 'the coordinator does not ask itself').toEqual(['b', 'c']);
    expect(q.poll()).toEqual({});
    q.succeeded('c', undefined, 'from c', true);
    expect(q.poll()).toEqual({ verdict: 'met' });
    q.succeeded('b', undefined, 'from b', true);
    expect(q.poll(), 'the verdict is reported once; done once every attempt ended').toEqual({ done: true });
    expect([...q.successes.keys()]).toEqual(['a', 'c', 'b']);
  });

  it('a failed target hands its work to the next fallback, which answers for the replica (sloppy quorum)', () => {
    const q = new QuorumAccumulator<void>('put', 3, [{ node: 'a' }, { node: 'b' }, { node: 'c' }], ['d', 'e'], 'x');
    expect(q.start()).toHaveLength(3);
    expect(q.failed('b', undefined, 'timeout', true)).toEqual({ launch: { node: 'd', intendedFor: 'b' } });
    // The fallback fails too: the next one takes over for the same replica, not for the fallback.
    expect(q.failed('d', 'b', 'timeout', true)).toEqual({ launch: { node: 'e', intendedFor: 'b' } });
    q.succeeded('a', undefined, undefined, true);
    q.succeeded('c', undefined, undefined, true);
    expect(q.poll()).toEqual({});
    q.succeeded('e', 'b', undefined, false);
    expect(q.poll(), 'a fallback counts as complete for the replica it answers for').toEqual({ verdict: 'met', done: true });
    expect(q.successes.get('e')).toEqual({ value: undefined, intendedFor: 'b' });
  });

  it('with no fallback left the replica is unplaced; once stopped, nothing new is launched', () => {
    const q = new QuorumAccumulator<void>('put', 1, [{ node: 'a' }, { node: 'b' }], ['c'], 'x');
    q.start();
    expect(q.failed('a', undefined, 'gone', false), 'stopped').toEqual({});
    expect(q.failed('b', undefined, 'gone', true), 'the only fallback was used up by the stopped attempt').toEqual({ unplaced: 'b' });
  });

  it('answers from a partition still being received do not count, unless every attempt ended with enough in all', () => {
    const q = new QuorumAccumulator<string>('get', 2, [{ node: 'a' }, { node: 'b' }], [], 'x');
    q.start();
    q.succeeded('a', undefined, 'partial', false);
    expect(q.poll()).toEqual({});
    q.succeeded('b', undefined, 'partial', false);
    expect(q.poll(), 'availability first: all attempts ended with 2 answers').toEqual({ verdict: 'met', done: true });
  });

  it('fails when every attempt ended short, with the numbers and the first failure in the error', () => {
    const q = new QuorumAccumulator<void>('delete', 2, [{ node: 'a' }, { node: 'b' }], [], 'x');
    q.start();
    q.succeeded('a', undefined, undefined, true);
    q.failed('b', undefined, 'b is gone', true);
    expect(q.poll()).toEqual({ verdict: 'failed', done: true });
    const error = q.error();
    expect(error).toBeInstanceOf(QuorumNotReachedError);
    expect([error.answered, error.needed, error.replicas]).toEqual([1, 2, 2]);
    expect(error.message).toContain('b is gone');
  });

  it('the deadline fails an undecided quorum and names itself first; a decided one stays decided', () => {
    const late = new QuorumAccumulator<void>('put', 2, [{ node: 'a' }, { node: 'b' }], [], 'x');
    late.start();
    late.deadlinePassed(300);
    expect(late.poll()).toEqual({ verdict: 'failed' });
    expect(late.error().message).toContain('deadline of 300 ms passed');
    late.succeeded('a', undefined, undefined, true);
    late.succeeded('b', undefined, undefined, true);
    expect(late.poll(), 'answers after the deadline change no verdict').toEqual({ done: true });

    const met = new QuorumAccumulator<void>('put', 1, [{ node: 'a' }, { node: 'b' }], [], 'x');
    met.start();
    met.succeeded('a', undefined, undefined, true);
    expect(met.poll()).toEqual({ verdict: 'met' });
    met.deadlinePassed(300);
    expect(met.poll()).toEqual({});
  });
});

describe('readRepairPlan (paper §5)', () => {
  const answers = (entries: [NodeId, VersionSet | undefined, NodeId?][]): Map<NodeId, Answer<VersionSet | undefined>> =>
    new Map(entries.map(([node, value, intendedFor]) => [node, intendedFor === undefined ? { value } : { value, intendedFor }]));

  it('names every node that returned less than the merge, fallbacks with the replica they hold it for', () => {
    const newer = versions('a', 2);
    const plan = readRepairPlan(answers([['a', newer], ['b', versions('a', 1)], ['c', undefined], ['d', undefined]]), new Map([['d', 'e']]), 1 << 20);
    expect(plan?.merged).toEqual(newer);
    expect(plan?.stale).toEqual([{ node: 'b' }, { node: 'c' }, { node: 'd', intendedFor: 'e' }]);
  });

  it('nothing to repair when all agree, when nothing was found, or when the merge could not be sent', () => {
    expect(readRepairPlan(answers([['a', versions('a', 1)], ['b', versions('a', 1)]]), new Map(), 1 << 20)).toBeUndefined();
    expect(readRepairPlan(answers([['a', undefined], ['b', undefined]]), new Map(), 1 << 20)).toBeUndefined();
    expect(readRepairPlan(answers([['a', versions('a', 1)], ['b', undefined]]), new Map(), 4), 'larger than maxBytes').toBeUndefined();
  });
});
