/**
 * Serializes asynchronous read-modify-write sections per key, so that two merges into the same key's
 * version set (a local put and a replica-put from a peer, say) can never interleave and lose one.
 * Sections for different keys run concurrently. Pure promise logic: no timers, no I/O.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `section` once every earlier section for `key` has settled; resolves or rejects as it does. */
  run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(section, section);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /**
   * Runs `section` holding the locks of all `keys` at once. Locks are taken one by one in code-unit
   * order, so two multi-key sections can never wait on each other in a cycle (and single-key sections
   * hold one lock only).
   */
  runAll<T>(keys: readonly string[], section: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const acquire = (i: number): Promise<T> => (i === sorted.length ? section() : this.run(sorted[i]!, () => acquire(i + 1)));
    return acquire(0);
  }

  /** Number of keys with a section running or queued (for tests and stats). */
  get activeKeys(): number {
    return this.tails.size;
  }
}
