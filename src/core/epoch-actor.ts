/**
 * Who a coordinator's writes are numbered by, so that its own durable write may run in parallel with
 * the replicas' without ever reusing a dot or overwriting a write it does not hold (Riak's kv679,
 * "lost writes after a crash", and its answer: epoch actors, leased through the vnode status file).
 *
 * The danger of the parallel write: a coordinator sends a new version with dot (A, c) to the replicas
 * and crashes before its own copy is on disk. Restarted with actor A, its stored clock for the key says
 * c − 1, so its next write would be numbered c again — two writes with one dot. Jumping the counter
 * past c is not enough either: the new write's clock entry A: c + k would claim to have seen (A, c),
 * and where a replica holds that lost write (which may itself have overwritten acknowledged ones), the
 * merge would drop it and everything it carried. (The simulation found exactly that.)
 *
 * The rule:
 *   - every start of the node stores `epoch + 1` durably before its first write (one small write per
 *     start), and numbers its writes with its own actor for that epoch, `<node id>x<epoch>`: a new
 *     actor, so its counters start fresh and its clock entry covers nothing written before the start;
 *     whatever the crash lost stays a separate, uncovered dot of the previous epoch's actor;
 *   - within an epoch the key's lock is held until the local write is durable, so the next write of
 *     the key reads the previous one; a local write that failed after its version was sent keeps that
 *     version in memory ({@link unsaved}) and the next write of the key merges it into what it read,
 *     so it numbers past it and overwrites it only as its context says;
 *   - the client is answered only once the local write is durable.
 *
 * The cost: a key's clock holds one entry per coordinating node and epoch (one per page load of the
 * tab), bounded by `maxClockEntries` like any clock (paper §4.4 truncation).
 */
import type { NodeId, VersionSet } from './types.js';

/** The meta record holding the last leased epoch. */
export const META_WRITER_EPOCH = 'writer-epoch';

/** What the lease needs of storage (a subset of the Store port). */
export interface EpochStore {
  getMeta<T = unknown>(name: string): Promise<T | undefined>;
  putMeta(name: string, value: unknown): Promise<void>;
}

/** The actor id of `node`'s writes in `epoch`. */
export function epochActorId(node: NodeId, epoch: number): NodeId {
  return `${node}x${epoch}`;
}

/**
 * The node an actor id names, for display: an epoch actor's node (`<node>x<digits>`), or the id itself.
 * (Node ids may contain `x` and digits; a plain node id ending so reads as an epoch actor of a shorter
 * id — this is for showing who wrote a version, never for routing.)
 */
export function actorNode(actor: NodeId, knownNodes?: ReadonlySet<NodeId>): NodeId {
  if (knownNodes?.has(actor)) return actor;
  const match = /^(.+)x\d+$/.exec(actor);
  return match?.[1] ?? actor;
}

/** This node's epoch actor and the versions it sent whose local writes failed. */
export class EpochActor {
  private epoch: number | undefined;
  private readonly unsavedVersions = new Map<string, VersionSet>();

  constructor(private readonly self: NodeId) {}

  /**
   * Leases the next epoch unless one is leased already: reads the last one and stores its successor
   * durably.
   * @throws StorageError when the store fails; nothing is leased then (the next put tries again).
   */
  async lease(store: EpochStore): Promise<void> {
    if (this.epoch !== undefined) return;
    const last = await store.getMeta<number>(META_WRITER_EPOCH);
    const next = (typeof last === 'number' && Number.isSafeInteger(last) && last >= 0 ? last : 0) + 1;
    await store.putMeta(META_WRITER_EPOCH, next);
    this.epoch = next;
  }

  /** The leased epoch, or undefined before a lease. */
  get leasedEpoch(): number | undefined {
    return this.epoch;
  }

  /**
   * The actor this node numbers its writes with now.
   * @throws Error when no epoch is leased (a programmer error: lease first).
   */
  actor(): NodeId {
    if (this.epoch === undefined) throw new Error('EpochActor.actor: no epoch leased');
    return epochActorId(this.self, this.epoch);
  }

  /** A version of `key` sent to replicas whose local write failed (merged into the key's next write). */
  unsaved(key: string): VersionSet | undefined {
    return this.unsavedVersions.get(key);
  }

  /** Records the outcome of the local write of `versions` for `key`, sent out before it was durable. */
  localWriteEnded(key: string, versions: VersionSet, stored: boolean): void {
    if (stored) this.unsavedVersions.delete(key);
    else this.unsavedVersions.set(key, versions);
  }

  /** Keys with an unsaved version (failed local writes), for statistics. */
  get unsavedKeys(): number {
    return this.unsavedVersions.size;
  }
}
