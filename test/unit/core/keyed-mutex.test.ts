/**
 * KeyedMutex (src/core/keyed-mutex.ts): read-modify-write sections on one key never interleave;
 * sections on different keys do. No timers: tests step the promises themselves and wait for the
 * microtask queue to drain, never for a fixed time.
 */
import { describe, expect, it } from 'vitest';
import { KeyedMutex } from '../../../src/core/keyed-mutex.js';

/** A promise the test settles by hand. */
function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
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

/** A read-modify-write of a shared counter with an await between the read and the write, as a store merge has. */
function increment(shared: { value: number }): () => Promise<number> {
  return async () => {
    const read = shared.value;
    await Promise.resolve(); // e.g. store.getObject
    await Promise.resolve();
    shared.value = read + 1; // e.g. store.putObject(merge(read, incoming))
    return shared.value;
  };
}

describe('KeyedMutex', () => {
  it('without it, interleaved read-modify-writes lose updates (the hazard it exists for)', async () => {
    const shared = { value: 0 };
    await Promise.all(Array.from({ length: 10 }, () => increment(shared)()));
    expect(shared.value).toBeLessThan(10);
  });

  it('with it, the same sections on one key lose nothing and run in call order', async () => {
    const mutex = new KeyedMutex();
    const shared = { value: 0 };
    const results = await Promise.all(Array.from({ length: 10 }, () => mutex.run('k', increment(shared))));
    expect(shared.value).toBe(10);
    expect(results).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('runs at most one section per key at a time, each only after the previous one settled', async () => {
    const mutex = new KeyedMutex();
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      mutex.run('k', async () => {
        started.push(i);
        await gate.promise;
        return i;
      }),
    );
    await drainMicrotasks();
    expect(started).toEqual([0]);
    gates[1]!.resolve(); // releasing a later section first must not let it jump the queue
    await drainMicrotasks();
    expect(started).toEqual([0]);
    gates[0]!.resolve();
    await drainMicrotasks();
    expect(started).toEqual([0, 1, 2]); // 1 was already released, so 2 starts right after it
    gates[2]!.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
  });

  it('runs sections on different keys concurrently', async () => {
    const mutex = new KeyedMutex();
    const holdA = deferred();
    const started: string[] = [];
    const a = mutex.run('a', async () => {
      started.push('a');
      await holdA.promise;
      return 'a done';
    });
    const b = mutex.run('b', async () => {
      started.push('b');
      return 'b done';
    });
    await drainMicrotasks();
    expect(started).toEqual(['a', 'b']);
    // b finished while a still holds its key.
    expect(await b).toBe('b done');
    expect(mutex.activeKeys).toBe(1);
    holdA.resolve();
    expect(await a).toBe('a done');
  });

  it('keeps going after a section rejects or throws, and passes the error to that caller only', async () => {
    const mutex = new KeyedMutex();
    const shared = { value: 0 };
    const boom = new Error('boom');
    const first = mutex.run('k', increment(shared));
    const failing = mutex.run('k', async () => {
      await Promise.resolve();
      throw boom;
    });
    const throwingSync = mutex.run('k', () => {
      throw new TypeError('not even a promise');
    });
    const last = mutex.run('k', increment(shared));
    await expect(first).resolves.toBe(1);
    await expect(failing).rejects.toBe(boom);
    await expect(throwingSync).rejects.toBeInstanceOf(TypeError);
    await expect(last).resolves.toBe(2);
    // And the key is usable afterwards.
    await expect(mutex.run('k', increment(shared))).resolves.toBe(3);
  });

  it('forgets a key once its last section settled (no growth with the number of keys)', async () => {
    const mutex = new KeyedMutex();
    const hold = deferred();
    const held = mutex.run('x', () => hold.promise);
    await Promise.all(Array.from({ length: 100 }, (_, i) => mutex.run(`key${i}`, async () => i)));
    await drainMicrotasks();
    expect(mutex.activeKeys).toBe(1); // only x, still held
    hold.resolve();
    await held;
    await drainMicrotasks();
    expect(mutex.activeKeys).toBe(0);
  });

  it('runAll holds every key of a batch: single-key sections on those keys wait, and two overlapping batches never deadlock', async () => {
    const mutex = new KeyedMutex();
    const gate = deferred();
    const order: string[] = [];
    const batch = mutex.runAll(['b', 'a', 'b'], async () => {
      order.push('batch start');
      await gate.promise;
      order.push('batch end');
    });
    const single = mutex.run('a', async () => void order.push('single a'));
    const other = mutex.run('z', async () => void order.push('single z'));
    // Reversed key order in the second batch: locks are still taken in one global order.
    const second = mutex.runAll(['b', 'a'], async () => void order.push('second batch'));
    await other;
    for (let i = 0; i < 20; i++) await Promise.resolve();
    // The batch runs, a key outside it is free, and its keys are held.
    expect([...order].sort()).toEqual(['batch start', 'single z']);
    gate.resolve();
    await Promise.all([batch, single, second]);
    expect(order.slice(2)).toEqual(['batch end', 'single a', 'second batch']);
  });
});
