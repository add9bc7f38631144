/**
 * The put coordinator (paper §4.5, §4.6): applies a client's write here and replicates it.
 *
 *   1. under the key's lock, in one read-modify-write of the store: read the local state and make
 *      the new version — a new dot of this node's epoch actor (epoch-actor.ts, version-set.ts)
 *   2. send the new version set to the other targets — replicas as replica-put, fallbacks as a hint
 *      for the unreachable replica they take it for (sloppy quorum) — while that transaction
 *      commits; the key's lock is held until it is done, so the next write of the key reads it
 *   3. answer after W durable acks, the local one included and always awaited (a write answered to
 *      its client is on this node's disk). A target that fails is replaced by the next fallback, and
 *      with none left the coordinator keeps the hint itself.
 *
 *   time ─▶  lock ─ [read ─ applyPut ─┬─ write, commit] ──────────────┐
 *                                     └─ send ─ replicas write ─ ack ─┴─ W acks ─▶ answer
 *
 * Sending before the local write is durable is safe because every start numbers writes with a new
 * actor (a crash cannot make it reuse a dot or cover one it lost), and a failed local write's version
 * is merged into the key's next write (epoch-actor.ts). A put while no epoch could be leased (storage
 * failing since the start) fails with the storage error.
 *
 * When this node is not one of the key's replicas (every replica was unreachable), it writes under a
 * fresh actor id — it keeps no lasting record of the key, so its own counters for it could repeat —
 * and keeps its copy as a hint for the first replica; that write is durable before anything is sent.
 */
import type { CausalContext } from './context.js';
import type { EpochActor } from './epoch-actor.js';
import { fanOut, replicaDeadlineMs } from './fan-out.js';
import type { CoordinatorPorts } from './get-coordinator.js';
import type { HintedHandoff } from './hinted-handoff.js';
import type { Target } from './preference-targets.js';
import { QuorumAccumulator } from './quorum.js';
import type { StageTimings } from './stage-timings.js';
import type { Dot, NodeId, VersionSet } from './types.js';
import { applyPut, mergeVersionSets } from './version-set.js';
import { assertFitsOneMessage } from './version-set-limits.js';

/** What a put coordinator needs beyond a get coordinator's. */
export interface PutCoordinatorPorts extends CoordinatorPorts {
  hints: HintedHandoff;
  /** A fresh actor id for writes this node makes without being a replica of the key. */
  freshActorId(): NodeId;
  /** The node's epoch actor. */
  epochActor: EpochActor;
  /** Leases an epoch if the start could not (resolves at once when leased). @throws StorageError */
  leaseEpoch(): Promise<void>;
  /** Where stage durations go. */
  stages: StageTimings;
  /** A monotonic clock for stage durations, in ms. */
  elapsedMs(): number;
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
   * @throws NoReplicasError, VersionSetTooLargeError, ClockOverflowError, QuorumNotReachedError, StorageError
   *   (the local write, or the lease of an epoch, failed).
   */
  async coordinate(key: string, data: Uint8Array | null, context: CausalContext, w: number, timeoutMs: number, writeId?: string): Promise<PutOutcome> {
    const ports = this.ports;
    this.putsCoordinated++;
    const startedMs = ports.elapsedMs();
    const { replicas, targets, fallbacks } = ports.targets(key);
    const isReplica = replicas.includes(ports.self);
    if (isReplica) await ports.leaseEpoch();
    const actor = isReplica ? ports.epochActor.actor() : ports.freshActorId();
    const settings = ports.settings();
    let replication: { quorum: Promise<unknown>; sentMs: number } | undefined;
    const { versions, dot } = await ports.replica.locks.run(key, async () => {
      const writeStartedMs = ports.elapsedMs();
      const make = (local: VersionSet | undefined): { versions: VersionSet; dot: Dot } => {
        const result = applyPut(local, context.clock, actor, data, ports.now(), settings.maxClockEntries, context.dots, writeId);
        assertFitsOneMessage(result.versions, settings.maxVersionSetBytes);
        return result;
      };
      let result: { versions: VersionSet; dot: Dot };
      if (isReplica) {
        // Hints held for the key, and a version sent earlier whose local write failed: this write must
        // number past them and overwrite them only as its context says, as if they had been stored.
        const hinted = await ports.replica.hintedState(key);
        const unsaved = ports.epochActor.unsaved(key);
        let made: { versions: VersionSet; dot: Dot } | undefined;
        try {
          // The new version is made inside the store's read-modify-write and sent from there, so the
          // replicas' writes run while this one commits. (A store retrying the write calls this again
          // with the same state: the version is made and sent once.)
          await ports.replica.writeCoordinated(key, (stored) => {
            if (made !== undefined) return made.versions;
            made = make([stored, hinted, unsaved].reduce<VersionSet | undefined>((acc, v) => (v === undefined ? acc : acc === undefined ? v : mergeVersionSets(acc, v)), undefined));
            replication = this.replicate(key, data, made.versions, replicas, targets, fallbacks, w, timeoutMs);
            return made.versions;
          });
        } catch (error) {
          if (made !== undefined) ports.epochActor.localWriteEnded(key, made.versions, false);
          throw error;
        }
        result = made!;
        ports.epochActor.localWriteEnded(key, result.versions, true);
      } else {
        result = make(await ports.replica.localState(key));
        await ports.hints.write(replicas[0]!, key, result.versions);
      }
      ports.stages.record('localWrite', ports.elapsedMs() - writeStartedMs);
      return result;
    });
    // (Had the local write failed after the replicas were sent the version, the client would get the
    // storage error — the write may or may not survive, as for any failed put — and the replication
    // would go on alone.)
    replication ??= this.replicate(key, data, versions, replicas, targets, fallbacks, w, timeoutMs);
    const answers = (await replication.quorum) as Map<NodeId, unknown>;
    const doneMs = ports.elapsedMs();
    ports.stages.record('quorumWait', doneMs - replication.sentMs);
    ports.stages.record('put', doneMs - startedMs);
    return { dot, acks: answers.size };
  }

  /** Sends `versions` to the key's other targets and counts their acks towards W (the local write counts as one). */
  private replicate(
    key: string,
    data: Uint8Array | null,
    versions: VersionSet,
    replicas: readonly NodeId[],
    targets: readonly Target[],
    fallbacks: readonly NodeId[],
    w: number,
    timeoutMs: number,
  ): { quorum: Promise<unknown>; sentMs: number } {
    const ports = this.ports;
    const sentMs = ports.elapsedMs();
    const local = { node: ports.self, value: undefined, complete: replicas.includes(ports.self) && ports.partitionComplete(key) };
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
    // The quorum may fail while the local write is still running; it is awaited after that write.
    quorum.catch(() => undefined);
    return { quorum, sentMs };
  }
}
