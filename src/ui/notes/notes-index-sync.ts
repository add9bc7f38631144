/**
 * The notes index: the one key (`notes:index`) that lists every note's id, so that a tab finds notes it
 * has never seen. Tabs add to it concurrently, so its siblings (§4.4) are merged as a union
 * (mergeIndexes in note-model.ts) and written back, which collapses them; ids only ever join it (a
 * deleted note stays listed, its tombstone says it is deleted).
 *
 * This tab's copy is the union of everything read, cached (notes-seen-cache.ts) or written here,
 * including notes still in the outbox; each write sends the whole union.
 */
import { QuorumNotReachedError } from '../../index.js';
import { mergeIndexes, NOTES_INDEX_KEY } from './note-model.js';
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
}

/** This tab's copy of the notes index, kept in step with the cluster's (see the module comment). */
export class NotesIndexSync {
  private readonly known = new Set<string>();
  /** Context of the last read or write of the index ('' : none yet). */
  private context = '';

  constructor(private readonly deps: NotesIndexDeps) {}

  /** The ids listed, in the order they were first seen. */
  ids(): string[] {
    return [...this.known];
  }

  /** Lists `id` here without writing (a note in the outbox, or from the cache of notes seen). */
  include(id: string): void {
    this.known.add(id);
  }

  /** Takes the index this browser cached (its ids; its context unless one was read meanwhile). */
  includeCached(ids: readonly string[], context: string): void {
    for (const id of ids) this.known.add(id);
    if (this.context === '') this.context = context;
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
    for (const id of merged.ids) this.known.add(id);
    this.context = got.context;
    this.remember(merged.ids);
    const missing = [...this.known].some((id) => !merged.ids.includes(id) && !outbox.has(id));
    // Concurrent additions made siblings: write their union back, which collapses them.
    if ((got.siblings.length > 1 || missing) && quorum.canReachQuorum(NOTES_INDEX_KEY)) {
      const written = await node.put(NOTES_INDEX_KEY, { kind: 'notes-index', ids: [...this.known].sort() }, { context: got.context });
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
      const written = await quorum.write(NOTES_INDEX_KEY, { kind: 'notes-index', ids: [...this.known].sort() }, this.context, withQuorum);
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
    for (const other of merged.ids) this.known.add(other);
    const written = await node.put(NOTES_INDEX_KEY, { kind: 'notes-index', ids: [...this.known].sort() }, got.context !== '' ? { context: got.context } : {});
    this.context = written.context;
    this.remember([...this.known]);
  }

  /** Puts the index in this browser's cache of notes seen. */
  private remember(ids: string[]): void {
    this.deps.seen.index(ids, this.context);
  }
}
