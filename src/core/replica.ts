/**
 * The replica (riak's vnode): this node's copy of the keys it stores, behind one lock per key.
 *
 * Every change of a key's stored version set happens here, under that key's lock, in the same order
 * for the store and the Merkle trees (paper §4.7 keeps the trees current as writes land):
 *
 *   writeCoordinated   the coordinator's own new version (paper §4.5), read, made and stored in one transaction
 *   merge              a version set from a coordinator, read repair, anti-entropy or a delivered hint
 *   mergeBatch         many version sets in one durable transaction (ownership handoff, §4.9)
 *   dropIfUnchanged    a handed-off key, deleted once its new replicas have it, unless it changed since
 *   purge              a tombstone set deleted for good (tombstone-purge.ts), unless it changed since
 *
 * Reads (`localState`) include the hints this node holds for the key: a fallback answers reads with
 * what it keeps for the replica it stands for.
 */
import { KeyedMutex } from './keyed-mutex.js';
import type { RequestMessage, ReplyBody } from './request-table.js';
import { versionDigest } from './merkle-tree.js';
import type { NodeEvent } from './node-api.js';
import type { MerkleService, Store } from './ports.js';
import type { StageTimings } from './stage-timings.js';
import type { VersionSet } from './types.js';
import { validateKey } from './value-codec.js';
import { deletedAtMs, mergeVersionSets, versionSetsEqual } from './version-set.js';
import { sameBytes } from './bytes.js';
import { PURGE_ABSENT, PURGE_OTHER, PURGE_SAME, type PurgeHolding, type PurgeItem } from './tombstone-purge.js';
import { assertFitsOneMessage } from './version-set-limits.js';

/** What the replica needs from its node. */
export interface ReplicaPorts {
  store: Store;
  /** The node's Merkle trees, once built. */
  merkle(): MerkleService | undefined;
  /** Told after each change of a stored key (anti-entropy ends its idle back-off). */
  storedChanged(): void;
  emit(event: NodeEvent): void;
  reportError(error: unknown, context: string): void;
  /** Largest version set a key may have, in bytes (`maxVersionSetBytes`). */
  maxVersionSetBytes(): number;
  /** True when this node holds any hint (otherwise reads skip the hint index). */
  holdsHints(): boolean;
  /** False while the key's partition is still being received (ownership handoff): answers say so. */
  isComplete(key: string): boolean;
  /** Where stage durations go (the replica's read-merge-write). */
  stages: StageTimings;
  /** A monotonic clock for stage durations, in ms. */
  elapsedMs(): number;
}

/** This node's stored keys, their locks, and the handlers of replica-get and replica-put. */
export class Replica {
  /** One lock per key: every read-modify-write of a key's stored state (object or hint) holds it. */
  readonly locks = new KeyedMutex();

  constructor(private readonly ports: ReplicaPorts) {}

  /** Everything this node holds of `key`: its stored version set merged with hints it keeps for others. */
  async localState(key: string): Promise<VersionSet | undefined> {
    const store = this.ports.store;
    let state = await store.getObject(key);
    if (!this.ports.holdsHints()) return state;
    for (const hint of await store.hintsForKey(key)) state = state === undefined ? hint.versions : mergeVersionSets(state, hint.versions);
    return state;
  }

  /** The merge of the hints this node holds for `key` (it stands in for unreachable replicas), if any. */
  async hintedState(key: string): Promise<VersionSet | undefined> {
    if (!this.ports.holdsHints()) return undefined;
    let state: VersionSet | undefined;
    for (const hint of await this.ports.store.hintsForKey(key)) state = state === undefined ? hint.versions : mergeVersionSets(state, hint.versions);
    return state;
  }

  /**
   * Stores the coordinator's new version set of `key` in one read-modify-write (the caller holds the
   * key's lock): `make` gets the stored state and returns the new one (synchronously; it may start
   * sending it). `make` may be called again with the same state if the store retries the write; it
   * must return the same version set then. Durable on return.
   * @returns the stored version set. @throws what `make` throws (nothing stored); StorageError.
   */
  async writeCoordinated(key: string, make: (stored: VersionSet | undefined) => VersionSet): Promise<VersionSet> {
    const { after } = await this.ports.store.updateObject(key, make);
    this.treeUpdate(key, after);
    this.ports.emit({ type: 'key-changed', key, source: 'write' });
    return after!;
  }

  /**
   * Merges `incoming` into the stored version set (under the key's lock); writes only when it changed.
   * @throws VersionSetTooLargeError when the merge would not fit one message; StorageError.
   */
  async merge(key: string, incoming: VersionSet): Promise<void> {
    await this.locks.run(key, async () => {
      const { stages, elapsedMs } = this.ports;
      const startedMs = elapsedMs();
      let changed = false;
      // Read, merge and write in one transaction (the store may group it with concurrent ones).
      const { after } = await this.ports.store.updateObject(key, (local) => {
        const merged = mergeVersionSets(local, incoming);
        changed = local === undefined || !versionSetsEqual(local, merged);
        if (!changed) return undefined;
        // Concurrent siblings accumulate merge after merge: a state that no message could carry is refused.
        assertFitsOneMessage(merged, this.ports.maxVersionSetBytes());
        return merged;
      });
      stages.record('replicaWrite', elapsedMs() - startedMs);
      if (changed) {
        this.treeUpdate(key, after);
        this.ports.emit({ type: 'key-changed', key, source: 'replication' });
      }
    });
  }

  /** Merges many version sets in one durable transaction (ownership handoff). Same errors as {@link merge}. */
  async mergeBatch(items: readonly { key: string; versions: VersionSet }[]): Promise<void> {
    const keys = items.map((item) => item.key);
    await this.locks.runAll(keys, async () => {
      const unique = [...new Set(keys)];
      const stored = await this.ports.store.getObjects(unique);
      const merged = new Map<string, VersionSet | undefined>(unique.map((key, i) => [key, stored[i]]));
      for (const item of items) merged.set(item.key, mergeVersionSets(merged.get(item.key), item.versions));
      const changed = unique
        .map((key, i) => ({ key, versions: merged.get(key)!, before: stored[i] }))
        .filter((e) => e.before === undefined || !versionSetsEqual(e.before, e.versions));
      for (const { versions } of changed) assertFitsOneMessage(versions, this.ports.maxVersionSetBytes());
      await this.ports.store.putObjects(changed.map(({ key, versions }) => ({ key, versions })));
      for (const { key, versions } of changed) {
        this.treeUpdate(key, versions);
        this.ports.emit({ type: 'key-changed', key, source: 'ownership-handoff' });
      }
    });
  }

  /**
   * Deletes a handed-off key if its stored state still has `digest` and `replicated()` is false (this
   * node did not become one of its replicas again meanwhile). @returns whether it was deleted.
   */
  dropIfUnchanged(key: string, digest: Uint8Array, replicated: () => boolean): Promise<boolean> {
    return this.locks.run(key, async () => {
      if (replicated()) return false;
      const current = await this.ports.store.getObject(key);
      if (current === undefined) return false;
      if (!sameBytes(versionDigest(current), digest)) return false;
      await this.ports.store.deleteObject(key);
      this.treeUpdate(key, undefined);
      return true;
    });
  }

  /**
   * What this node holds of each item of a purge-check (tombstone-purge.ts): PURGE_OTHER when it holds
   * a hint for the key or a version set other than exactly that tombstone set, PURGE_SAME when it holds
   * exactly that, PURGE_ABSENT when nothing.
   */
  async purgeHoldings(items: readonly PurgeItem[]): Promise<PurgeHolding[]> {
    const stored = await this.ports.store.getObjects(items.map((item) => item.key));
    return Promise.all(
      items.map(async (item, i) => {
        if (await this.hinted(item.key)) return PURGE_OTHER;
        const versions = stored[i];
        if (versions === undefined) return PURGE_ABSENT;
        return isPurgeable(versions, item.digest) ? PURGE_SAME : PURGE_OTHER;
      }),
    );
  }

  /**
   * Those of `keys` this node stores as tombstones only, holding no hint for them, each with the digest
   * of its tombstone set: what its purge-check asks the others about (tombstone-purge.ts).
   */
  async purgeCandidates(keys: readonly string[]): Promise<PurgeItem[]> {
    const stored = await this.ports.store.getObjects(keys);
    const items = await Promise.all(
      keys.map(async (key, i) => {
        const versions = stored[i];
        if (versions === undefined || deletedAtMs(versions) === undefined || (await this.hinted(key))) return undefined;
        return { key, digest: versionDigest(versions) };
      }),
    );
    return items.filter((item) => item !== undefined);
  }

  /**
   * Deletes each item's key if it still holds exactly that tombstone set and no hint for it (each under
   * the key's lock, as every change). @returns the keys deleted.
   */
  async purge(items: readonly PurgeItem[]): Promise<number> {
    const deleted = await Promise.all(
      items.map((item) =>
        this.locks.run(item.key, async () => {
          if (await this.hinted(item.key)) return false;
          const current = await this.ports.store.getObject(item.key);
          if (current === undefined || !isPurgeable(current, item.digest)) return false;
          await this.ports.store.deleteObject(item.key);
          this.treeUpdate(item.key, undefined);
          return true;
        }),
      ),
    );
    return deleted.filter(Boolean).length;
  }

  /** replica-get (paper §4.5): this node's state of the key, and whether its partition is complete here. */
  async onGet(message: Extract<RequestMessage, { type: 'replica-get' }>): Promise<ReplyBody> {
    validateKey(message.key);
    const versions = await this.localState(message.key);
    // The replica merged with the hints held for the key may exceed what one message carries.
    if (versions !== undefined) assertFitsOneMessage(versions, this.ports.maxVersionSetBytes());
    const complete = this.ports.isComplete(message.key);
    return { type: 'replica-get-reply', versions: versions ?? null, ...(complete ? {} : { complete }) };
  }

  /** replica-put (paper §4.5): merges the version set durably, then acknowledges. */
  async onPut(message: Extract<RequestMessage, { type: 'replica-put' }>): Promise<ReplyBody> {
    validateKey(message.key);
    await this.merge(message.key, message.versions);
    const complete = this.ports.isComplete(message.key);
    return { type: 'replica-put-reply', ...(complete ? {} : { complete }) };
  }

  /** ae-fetch (anti-entropy, paper §4.7): the stored version sets of keys found different. */
  async onFetch(message: Extract<RequestMessage, { type: 'ae-fetch' }>): Promise<ReplyBody> {
    const versions = await Promise.all(message.keys.map((k) => this.ports.store.getObject(k).then((v) => v ?? null)));
    return { type: 'ae-fetch-reply', versions };
  }

  private async hinted(key: string): Promise<boolean> {
    return this.ports.holdsHints() && (await this.ports.store.hintsForKey(key)).length > 0;
  }

  /** Tells the Merkle trees of a local change (in order per key: calls are made under the key's lock). */
  private treeUpdate(key: string, versions: VersionSet | undefined): void {
    this.ports.storedChanged();
    this.ports.merkle()?.update(key, versions).catch((error: unknown) => this.ports.reportError(error, `updating the Merkle tree of ${key}`));
  }
}

/** Whether `versions` is tombstone-only with digest `digest` (what a purge may delete). */
function isPurgeable(versions: VersionSet, digest: Uint8Array): boolean {
  return deletedAtMs(versions) !== undefined && sameBytes(versionDigest(versions), digest);
}
