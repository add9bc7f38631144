/**
 * How the notes read and write one key: with the cluster's quorum when it is reachable, else on this
 * node alone (paper §2.3 "always writeable": a write with w = 1 is kept here, as a replica or as a hint
 * for the replicas, §4.6; a read with r = 1 shows what this node holds).
 *
 * "Reachable" is judged before trying: the node is connected, the browser online, and at least W nodes
 * of the key's preference list (this one included) are alive to its failure detector (§4.8).
 */
import { NoReplicasError, QuorumNotReachedError, type GetResult, type PutResult } from '../../index.js';
import { NOTES_INDEX_KEY } from './note-model.js';
import type { NotesNode } from './note-state.js';

/** A read, and whether it was made with the cluster's R (`quorum`) or on this node alone. */
export type NotesRead = GetResult & { quorum: boolean };

/** Quorum-or-local reads and writes over `node` (see the module comment). */
export class QuorumAccess {
  constructor(private readonly node: NotesNode) {}

  /** The cluster's write quorum (W). */
  get w(): number {
    return this.node.config().w;
  }

  /**
   * Whether writes go to a quorum now: the node is connected, not switched offline on this page, the
   * browser is online, and at least W nodes of `key`'s preference list (itself included) are reachable.
   */
  canReachQuorum(key: string = NOTES_INDEX_KEY): boolean {
    if (!this.node.connected || (typeof navigator !== 'undefined' && navigator.onLine === false)) return false;
    const health = new Map(this.node.peerHealth().map((h) => [h.id, h.status] as const));
    const reachable = this.node.preferenceList(key).filter((id) => id === this.node.id || health.get(id) === 'alive').length;
    return reachable >= this.node.config().w;
  }

  /**
   * Reads with the cluster's R when it is reachable, else from this node alone (`quorum` says which).
   * A node that owns no partitions yet (alone and new, offline) reads as nothing there.
   * @throws what the node's get throws, except a missed quorum or no replicas on the local read.
   */
  async read(key: string): Promise<NotesRead> {
    if (this.canReachQuorum(key)) {
      try {
        return { ...(await this.node.get(key)), quorum: true };
      } catch (error) {
        if (!(error instanceof QuorumNotReachedError)) throw error;
      }
    }
    try {
      return { ...(await this.node.get(key, { r: 1 })), quorum: false };
    } catch (error) {
      if (error instanceof NoReplicasError || error instanceof QuorumNotReachedError) return { siblings: [], context: '', clock: [], answeredBy: [], quorum: false };
      throw error;
    }
  }

  /**
   * Writes `value` (null: a delete) under `key` on `context` ('' : none), with the cluster's W when
   * `quorum`, else with w = 1. @throws what the node's put or delete throws (QuorumNotReachedError…).
   */
  write(key: string, value: unknown, context: string, quorum: boolean): Promise<PutResult> {
    const options = { ...(context !== '' ? { context } : {}), ...(quorum ? {} : { w: 1 }) };
    return value === null ? this.node.delete(key, options) : this.node.put(key, value, options);
  }
}
