/**
 * The notes index: the one key (`notes:index`) that lists every note's id, so that a tab finds notes it
 * has never seen. Tabs add to it concurrently, so its siblings (§4.4) are merged as a union
 * (mergeIndexes in note-model.ts) and written back, which collapses them. A deleted note stays listed
 * while its tombstone lives (its tombstone says it is deleted); once the store purged the tombstone, the
 * tab that finds the key empty removes the id ({@link forget}): the index records the removal, so that
 * copies still listing the id do not bring it back, and forgets the removal itself after the store's
 * `tombstoneGraceMs`, so the index does not grow with every note ever deleted.
 *
 * This tab's copy is the union of everything read, cached (notes-seen-cache.ts) or written here,
 * including notes still in the outbox, less what was removed; each write sends it whole.
 */
import { QuorumNotReachedError } from '../../index.js';
import { indexValue, mergeIndexes, NOTES_INDEX_KEY, type NotesIndex } from './note-model.js';
import { describeError, type EmitChange, type NotesNode } from './note-state.js';
import type { NotesOutbox } from './notes-outbox.js';
import type { QuorumAccess } from './quorum-access.js';
import type { SeenRecorder } from './seen-recorder.js';

/** What the index works with. */
export interface NotesIndexDeps {
  node: NotesNode;
  quorum: QuorumAccess;
  seen: SeenRecorder;
  /** Notes whose edits wait in the outbox are listed here even when the cluster's index lacks them. */
  outbox: Pick<NotesOutbox, 'has'>;
  emit: EmitChange;
  /** The clock, ms since the epoch. */
  now: () => number;
}

/** This tab's copy of the notes index, kept in step with the cluster's (see the module comment). */
export class NotesIndexSync {
  private readonly known = new Set<string>();
  /** Ids removed from the index (their notes purged), and when, ms: kept for the store's grace period. */
  private readonly removed = new Map<string, number>();
  /** Context of the last read or write of the index ('' : none yet). */
  private context = '';

  constructor(private readonly deps: NotesIndexDeps) {}

  /** The ids listed, in the order they were first seen. */
  ids(): string[] {
    return [...this.known];
  }

  /** Lists `id` here without writing (a note in the outbox, or from the cache of notes seen), unless it was removed. */
  include(id: string): void {
    if (!this.removed.has(id)) this.known.add(id);
  }

  /** Takes the index this browser cached (its ids; its context unless one was read meanwhile). */
  includeCached(ids: readonly string[], context: string): void {
    for (const id of ids) this.include(id);
    if (this.context === '') this.context = context;
  }

  /**
   * Removes `id`: its note was deleted and the store purged its tombstone (the caller saw the delete,
   * and now reads nothing under the key with a quorum). Written with the next {@link refresh}.
   */
  forget(id: string): void {
    this.known.delete(id);
    this.removed.set(id, this.deps.now());
  }

  /**
   * Reads the cluster's index (quorum, or this node alone) and adds its ids here; when it has siblings,
   * or lacks ids known here, writes the union back (with the quorum only). Nothing read: keeps what is
   * known. @throws what the node's get or put throws.
   */
  async refresh(): Promise<void> {
    const { node, quorum, outbox } = this.deps;
    const got = await quorum.read(NOTES_INDEX_KEY);
    if (got.context === '') return; // nothing here (offline, not a replica): keep what is known
    const merged = mergeIndexes(got.siblings.map((s) => s.value));
    for (const { id, atMs } of merged.removed ?? []) {
      this.removed.set(id, Math.max(atMs, this.removed.get(id) ?? -Infinity));
      this.known.delete(id);
    }
    for (const id of merged.ids) this.include(id);
    this.context = got.context;
    this.remember(merged.ids);
    const missing = [...this.known].some((id) => !merged.ids.includes(id) && !outbox.has(id));
    const expired = this.expireRemovals();
    const unrecorded = [...this.removed.keys()].some((id) => !(merged.removed ?? []).some((r) => r.id === id));
    // Concurrent additions made siblings: write their union back, which collapses them. Removals made
    // here, or forgotten after the grace period, are written too.
    if ((got.siblings.length > 1 || missing || expired || unrecorded) && quorum.canReachQuorum(NOTES_INDEX_KEY)) {
      const written = await node.put(NOTES_INDEX_KEY, this.value(), { context: got.context });
      this.context = written.context;
      this.remember([...this.known]);
    }
  }

  /**
   * Adds a new note's id and writes the index (with w = 1 when no quorum is reachable). A failure is
   * not thrown: the note is in the outbox, and its sync adds it again ({@link addIfMissing}).
   */
  async add(id: string): Promise<void> {
    const { quorum, emit } = this.deps;
    this.known.add(id);
    emit({ type: 'notes' });
    const withQuorum = quorum.canReachQuorum(NOTES_INDEX_KEY);
    try {
      const written = await quorum.write(NOTES_INDEX_KEY, this.value(), this.context, withQuorum);
      this.context = written.context;
      this.remember([...this.known]);
    } catch (error) {
      // The note itself is in the outbox; its sync adds it to the index again.
      if (!(error instanceof QuorumNotReachedError)) emit({ type: 'error', message: `the list of notes will be updated later: ${describeError(error)}` });
    }
  }

  /**
   * A note saved offline may be missing from the cluster's index: reads it with the quorum and adds
   * `id` (with every id known here) unless it is there alone. @throws what the node's get or put throws.
   */
  async addIfMissing(id: string): Promise<void> {
    const { node } = this.deps;
    const got = await node.get(NOTES_INDEX_KEY);
    const merged = mergeIndexes(got.siblings.map((s) => s.value));
    if (merged.ids.includes(id) && got.siblings.length <= 1) return;
    this.known.add(id);
    for (const other of merged.ids) this.include(other);
    for (const { id: gone, atMs } of merged.removed ?? []) if (gone !== id) this.removed.set(gone, Math.max(atMs, this.removed.get(gone) ?? -Infinity));
    const written = await node.put(NOTES_INDEX_KEY, this.value(), got.context !== '' ? { context: got.context } : {});
    this.context = written.context;
    this.remember([...this.known]);
  }

  /** The index to write: the ids known here and the removals still within the grace period. */
  private value(): NotesIndex {
    return indexValue(this.known, this.removed);
  }

  /** Forgets removals older than the store's grace period. @returns whether any was. */
  private expireRemovals(): boolean {
    const graceMs = this.deps.node.config().tombstoneGraceMs;
    const now = this.deps.now();
    let expired = false;
    for (const [id, atMs] of this.removed) {
      if (atMs + graceMs < now) {
        this.removed.delete(id);
        expired = true;
      }
    }
    return expired;
  }

  /** Puts the index in this browser's cache of notes seen. */
  private remember(ids: string[]): void {
    this.deps.seen.index(ids, this.context);
  }
}
