/**
 * Sends one operation's requests to its targets and drives its {@link QuorumAccumulator} (the promise
 * and deadline glue around the pure bookkeeping of quorum.ts). Work continues in the background after
 * the answer, so every replica (or the fallback that took over for it) gets the request.
 */
import { QuorumAccumulator, type Answer } from './quorum.js';
import type { NodeId } from './types.js';

/** What {@link fanOut} needs from the node. */
export interface FanOutPorts {
  /** False once the node stopped: failed targets are not replaced any more. */
  running(): boolean;
  /** Runs `fire` after `delayMs` ms (the node's timers); returns a handle to cancel it. */
  after(delayMs: number, fire: () => void): { cancel(): void };
}

/**
 * Asks every target of `accumulator` with `send`, replaces failed ones by fallbacks, and settles:
 * @returns `quorum`, resolving with the answers by node once the quorum is met (rejecting with
 *   QuorumNotReachedError on the deadline `timeoutMs` or when the targets ran out), and `done`,
 *   resolving with every answer once all attempts ended.
 * @param unplaced told of a replica whose target failed when no fallback was left.
 */
export function fanOut<T>(
  ports: FanOutPorts,
  accumulator: QuorumAccumulator<T>,
  timeoutMs: number,
  send: (node: NodeId, intendedFor: NodeId | undefined) => Promise<{ value: T; complete: boolean }>,
  unplaced?: (replica: NodeId) => void,
): { quorum: Promise<Map<NodeId, Answer<T>>>; done: Promise<Map<NodeId, Answer<T>>> } {
  let resolveQuorum!: (answers: Map<NodeId, Answer<T>>) => void;
  let rejectQuorum!: (error: unknown) => void;
  const quorum = new Promise<Map<NodeId, Answer<T>>>((resolve, reject) => {
    resolveQuorum = resolve;
    rejectQuorum = reject;
  });
  let resolveDone!: (answers: Map<NodeId, Answer<T>>) => void;
  const done = new Promise<Map<NodeId, Answer<T>>>((resolve) => (resolveDone = resolve));
  const poll = (): void => {
    const { verdict, done: allEnded } = accumulator.poll();
    if (verdict !== undefined) deadline.cancel();
    if (verdict === 'met') resolveQuorum(accumulator.successes);
    if (verdict === 'failed') rejectQuorum(accumulator.error());
    if (allEnded) resolveDone(accumulator.successes);
  };
  const deadline = ports.after(timeoutMs, () => {
    accumulator.deadlinePassed(timeoutMs);
    poll();
  });
  const launch = (node: NodeId, intendedFor: NodeId | undefined): void => {
    send(node, intendedFor).then(
      ({ value, complete }) => {
        accumulator.succeeded(node, intendedFor, value, complete);
        poll();
      },
      (error: unknown) => {
        const next = accumulator.failed(node, intendedFor, error instanceof Error ? error.message : String(error), ports.running());
        if (next.launch !== undefined) launch(next.launch.node, next.launch.intendedFor);
        else if (next.unplaced !== undefined) unplaced?.(next.unplaced);
        poll();
      },
    );
  };
  for (const target of accumulator.start()) launch(target.node, target.intendedFor);
  poll();
  return { quorum, done };
}

/**
 * A replica's deadline within an operation of `timeoutMs` (ms): `replicaTimeoutMs`, but at most half
 * the operation's, so that a fallback replacing a silent replica still has time to answer.
 */
export function replicaDeadlineMs(replicaTimeoutMs: number, timeoutMs: number): number {
  return Math.max(1, Math.min(replicaTimeoutMs, Math.floor(timeoutMs / 2)));
}
