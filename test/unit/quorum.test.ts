/**
 * awaitQuorum (src/core/quorum.ts; paper §4.5): succeed at the `needed`-th success, fail at the
 * failure that makes `needed` unreachable, and not a step earlier or later. The tests settle each
 * attempt by hand and look at the quorum promise after the microtask queue has drained.
 */
import { describe, expect, it } from 'vitest';
import { QuorumImpossible, type QuorumOutcome, awaitQuorum } from '../../src/core/quorum.js';

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves once every pending microtask (and the promise jobs they queue) has run. */
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One hand-settled attempt per replica id, and the quorum wait over them, with its state observable. */
function setup(replicas: string[], needed: number) {
  const attempts = new Map(replicas.map((id) => [id, deferred<string>()]));
  const wait = awaitQuorum(new Map([...attempts].map(([id, d]) => [id, d.promise])), needed);
  const state: { quorum: 'pending' | 'resolved' | 'rejected'; value?: QuorumOutcome<string>; error?: unknown; settled: boolean } = {
    quorum: 'pending',
    settled: false,
  };
  wait.quorum.then(
    (value) => Object.assign(state, { quorum: 'resolved', value }),
    (error: unknown) => Object.assign(state, { quorum: 'rejected', error }),
  );
  void wait.settled.then(() => (state.settled = true));
  const succeed = async (id: string): Promise<void> => {
    attempts.get(id)!.resolve(`value from ${id}`);
    await drainMicrotasks();
  };
  const fail = async (id: string): Promise<void> => {
    attempts.get(id)!.reject(new Error(`${id} unreachable`));
    await drainMicrotasks();
  };
  return { wait, state, succeed, fail };
}

describe('awaitQuorum', () => {
  it('resolves at exactly the needed-th success, with the successes keyed by replica', async () => {
    const { state, succeed, fail } = setup(['r1', 'r2', 'r3'], 2);
    await drainMicrotasks();
    expect(state.quorum).toBe('pending');
    await succeed('r2');
    expect(state.quorum, 'one success of two needed').toBe('pending');
    await fail('r1');
    expect(state.quorum, 'a failure that leaves the quorum reachable').toBe('pending');
    await succeed('r3');
    expect(state.quorum).toBe('resolved');
    expect([...state.value!.successes]).toEqual([
      ['r2', 'value from r2'],
      ['r3', 'value from r3'],
    ]);
    expect([...state.value!.failures.keys()]).toEqual(['r1']);
    expect((state.value!.failures.get('r1') as Error).message).toBe('r1 unreachable');
  });

  it('rejects with QuorumImpossible at the failure that makes the quorum unreachable, not later', async () => {
    // N = 5, W = 3: two failures leave three chances; the third failure ends it while two are still pending.
    const { state, succeed, fail } = setup(['a', 'b', 'c', 'd', 'e'], 3);
    await succeed('a');
    await fail('b');
    await fail('c');
    expect(state.quorum, 'still reachable: a plus d and e').toBe('pending');
    await fail('d');
    expect(state.quorum).toBe('rejected');
    expect(state.error).toBeInstanceOf(QuorumImpossible);
    const error = state.error as QuorumImpossible<string>;
    expect(error.name).toBe('QuorumImpossible');
    expect([...error.outcome.successes.keys()]).toEqual(['a']);
    expect([...error.outcome.failures.keys()].sort()).toEqual(['b', 'c', 'd']);
    expect(state.settled, 'e is still pending').toBe(false);
    // A late success changes nothing: the wait already failed.
    await succeed('e');
    expect(state.quorum).toBe('rejected');
    expect(state.settled).toBe(true);
  });

  it('with needed = attempts, the first failure is enough to fail', async () => {
    const { state, fail } = setup(['a', 'b', 'c'], 3);
    await fail('b');
    expect(state.quorum).toBe('rejected');
    expect(state.settled).toBe(false);
  });

  it('with needed = 1, one success is enough and failures count only when all failed', async () => {
    const first = setup(['a', 'b', 'c'], 1);
    await first.fail('a');
    await first.fail('b');
    expect(first.state.quorum).toBe('pending');
    await first.succeed('c');
    expect(first.state.quorum).toBe('resolved');

    const second = setup(['a', 'b'], 1);
    await second.fail('a');
    expect(second.state.quorum).toBe('pending');
    await second.fail('b');
    expect(second.state.quorum).toBe('rejected');
  });

  it('when more are needed than attempted, never resolves and has failed once all settled', async () => {
    const { state, succeed } = setup(['a', 'b'], 3);
    await succeed('a');
    await succeed('b');
    expect(state.settled).toBe(true);
    expect(state.quorum).toBe('rejected');
    expect(state.error).toBeInstanceOf(QuorumImpossible);
    expect([...(state.error as QuorumImpossible<string>).outcome.successes.keys()]).toEqual(['a', 'b']);
  });

  it('with no attempts at all, fails at once', async () => {
    const wait = awaitQuorum(new Map<string, Promise<number>>(), 1);
    await expect(wait.quorum).rejects.toBeInstanceOf(QuorumImpossible);
    await expect(wait.settled).resolves.toEqual({ successes: new Map(), failures: new Map() });
  });

  it('settled resolves only after every attempt, with late results in the same outcome maps', async () => {
    const { wait, state, succeed, fail } = setup(['r1', 'r2', 'r3'], 2);
    await succeed('r1');
    await succeed('r2');
    expect(state.quorum).toBe('resolved');
    expect(state.settled, 'r3 is still pending').toBe(false);
    await fail('r3');
    expect(state.settled).toBe(true);
    const outcome = await wait.settled;
    expect(outcome).toBe(state.value); // the very maps the quorum resolved with, now complete
    expect([...outcome.successes.keys()]).toEqual(['r1', 'r2']);
    expect([...outcome.failures.keys()]).toEqual(['r3']);
  });

  it('settled resolves (never rejects) when the quorum failed', async () => {
    const { wait, fail } = setup(['r1', 'r2'], 2);
    await fail('r1');
    await fail('r2');
    await expect(wait.settled).resolves.toMatchObject({ successes: new Map() });
    expect((await wait.settled).failures.size).toBe(2);
  });
});
