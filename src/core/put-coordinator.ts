/**
 * The put coordinator (paper §4.5, §4.6): applies a client's write here and replicates it.
 *
 *   1. under the key's lock: read the local state, make the new version (a new dot of this node,
 *      version-set.ts), and store it durably — the coordinator's counter for the key must be on disk
 *      before any other node sees the dot (Riak's kv679)
 *   2. send the new version set to the other targets: replicas as replica-put, fallbacks as a hint
 *      for the unreachable replica they take it for (sloppy quorum)
 *   3. answer after W durable acks (the local write counts); a target that fails is replaced by the
 *      next fallback, and with none left the coordinator keeps the hint itself
 *
 * When this node is not one of the key's replicas (every replica was unreachable), it writes under a
 * fresh actor id — it keeps no lasting record of the key, so its own counters for it could repeat —
 * and keeps its copy as a hint for the first replica.
 */
import type { CausalContext } from './context.js';
import { fanOut, replicaDeadlineMs } from './fan-out.js';
import type { CoordinatorPorts } from './get-coordinator.js';
import type { HintedHandoff } from './hinted-handoff.js';
import { QuorumAccumulator } from './quorum.js';
import type { Dot, NodeId } from './types.js';
import { applyPut } from './version-set.js';
import { assertFitsOneMessage } from './version-set-limits.js';

/** What a put coordinator needs beyond a get coordinator's. */
export interface PutCoordinatorPorts extends CoordinatorPorts {
  hints: HintedHandoff;
  /** A fresh actor id for writes this node makes without being a replica of the key. */
  freshActorId(): NodeId;
}

/** What a coordinated write made. */
export interface PutOutcome {
  dot: Dot;
  acks: number;
}

/** Coordinates writes and deletes (a delete is a write of a tombstone: `data` null). */
export class PutCoordinator {
  putsCoordinated = 0;
  /** Writes sent to fallbacks in place of unreachable replicas, and acknowledged. */
  fallbackWrites = 0;

  constructor(private readonly ports: PutCoordinatorPorts) {}

  /**
   * Writes `data` (null: a delete) over `context` and waits for W acks within `timeoutMs`.
   * @throws NoReplicasError, VersionSetTooLargeError, ClockOverflowError, QuorumNotReachedError, StorageError.
   */
  async coordinate(key: string, data: Uint8Array | null, context: CausalContext, w: number, timeoutMs: number): Promise<PutOutcome> {
    const ports = this.ports;
    this.putsCoordinated++;
    const { replicas, targets, fallbacks } = ports.targets(key);
    const isReplica = replicas.includes(ports.self);
    const actor = isReplica ? ports.self : ports.freshActorId();
    const settings = ports.settings();
    const { versions, dot } = await ports.replica.locks.run(key, async () => {
      const local = await ports.replica.localState(key);
      const result = applyPut(local, context.clock, actor, data, ports.now(), settings.maxClockEntries, context.dots);
      assertFitsOneMessage(result.versions, settings.maxVersionSetBytes);
      if (isReplica) await ports.replica.writeCoordinated(key, result.versions);
      else await ports.hints.write(replicas[0]!, key, result.versions);
      return result;
    });
    const local = { node: ports.self, value: undefined, complete: isReplica && ports.partitionComplete(key) };
    const accumulator = new QuorumAccumulator<void>(data === null ? 'delete' : 'put', w, targets, fallbacks, ports.self, local);
    const { quorum } = fanOut(
      ports,
      accumulator,
      timeoutMs,
      async (node, intendedFor) => {
        const deadlineMs = replicaDeadlineMs(ports.settings().replicaTimeoutMs, timeoutMs);
        if (intendedFor !== undefined) {
          await ports.request(node, { type: 'hinted-put', key, versions, intendedFor }, deadlineMs);
          this.fallbackWrites++;
          return { value: undefined, complete: true };
        }
        const reply = await ports.request(node, { type: 'replica-put', key, versions }, deadlineMs);
        return { value: undefined, complete: reply.type !== 'replica-put-reply' || (reply.complete ?? true) };
      },
      // No node took the write for `replica`: the coordinator keeps it as a hint itself, so the write
      // still reaches every replica once it is back (it does not count towards W).
      (replica) => {
        if (replica !== ports.self && ports.settings().hintedHandoff) ports.hints.store(replica, key, versions).catch((error: unknown) => ports.reportError(error, `keeping a hint for ${replica}`));
      },
    );
    const answers = await quorum;
    return { dot, acks: answers.size };
  }
}
