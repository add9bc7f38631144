/**
 * Waiting for a quorum (paper §4.5): of `attempts` replica operations, succeed as soon as `needed`
 * have succeeded, fail as soon as so many have failed that `needed` can no longer be reached.
 * Pure promise logic: deadlines are enforced by whoever made the attempts (the core's request table).
 */

/** What a quorum wait saw: the successes so far, keyed by replica, and the failures. */
export interface QuorumOutcome<T> {
  successes: Map<string, T>;
  failures: Map<string, unknown>;
}

/** Thrown (rejected) by {@link awaitQuorum} when the quorum can no longer be reached. */
export class QuorumImpossible<T> extends Error {
  override name = 'QuorumImpossible';
  constructor(readonly outcome: QuorumOutcome<T>) {
    super('quorum cannot be reached');
  }
}

/**
 * Resolves with the outcome once `needed` attempts succeeded (later ones keep landing in the same
 * maps, which the caller may read again after `settled`); rejects with {@link QuorumImpossible} once
 * more than `attempts.size - needed` failed. `settled` resolves when every attempt has settled.
 * `needed` must be ≥ 1; with `needed > attempts.size` the wait fails once all have settled.
 */
export function awaitQuorum<T>(
  attempts: ReadonlyMap<string, Promise<T>>,
  needed: number,
): { quorum: Promise<QuorumOutcome<T>>; settled: Promise<QuorumOutcome<T>> } {
  const outcome: QuorumOutcome<T> = { successes: new Map(), failures: new Map() };
  const total = attempts.size;
  let resolveQuorum!: (o: QuorumOutcome<T>) => void;
  let rejectQuorum!: (e: unknown) => void;
  const quorum = new Promise<QuorumOutcome<T>>((resolve, reject) => {
    resolveQuorum = resolve;
    rejectQuorum = reject;
  });
  let done = false;
  const check = (): void => {
    if (done) return;
    if (outcome.successes.size >= needed) {
      done = true;
      resolveQuorum(outcome);
    } else if (outcome.failures.size > total - needed || outcome.successes.size + outcome.failures.size === total) {
      done = true;
      rejectQuorum(new QuorumImpossible(outcome));
    }
  };
  const settled = Promise.all(
    [...attempts].map(([id, attempt]) =>
      attempt.then(
        (value) => {
          outcome.successes.set(id, value);
          check();
        },
        (error: unknown) => {
          outcome.failures.set(id, error);
          check();
        },
      ),
    ),
  ).then(() => outcome);
  if (total === 0) check();
  return { quorum, settled };
}
