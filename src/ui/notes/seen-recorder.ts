/**
 * The notes service's side of this browser's cache of notes seen (notes-seen-cache.ts: IndexedDB,
 * shared by all tabs of the browser): every note state read or written goes there, so that a page
 * opened offline, or without a read quorum, lists what this browser has seen.
 *
 * The cache is a convenience: the cluster and the outbox hold the notes. Its writes are fire-and-forget
 * and a failure is said once (an `error` change), never thrown at an edit.
 */
import { describeError, seenOf, type EmitChange, type NoteState } from './note-state.js';
import type { NotesSeenStore } from './notes-seen-cache.js';

/** What the cache held at start. */
export type SeenAtStart = Awaited<ReturnType<NotesSeenStore['load']>>;

/** Records this node's note states in the browser's cache of notes seen (none where IndexedDB is missing). */
export class SeenRecorder {
  private errorReported = false;

  constructor(
    private readonly store: NotesSeenStore | undefined,
    private readonly nodeId: string,
    private readonly now: () => number,
    private readonly emit: EmitChange,
  ) {}

  /** What the cache holds; undefined when there is no cache or it could not be read (said as an `error` change). */
  async load(): Promise<SeenAtStart | undefined> {
    if (!this.store) return undefined;
    try {
      return await this.store.load();
    } catch (error) {
      this.emit({ type: 'error', message: `this browser's copy of the notes could not be read: ${describeError(error)}` });
      return undefined;
    }
  }

  /** Puts a note's state in the cache (a deleted note leaves it); `inCluster`: a write quorum has it. */
  note(state: NoteState, inCluster: boolean): void {
    if (!this.store) return;
    const cache = this.store;
    const done = state.deleted ? cache.removeNote(state.id) : cache.putNote(seenOf(state, inCluster, this.now(), this.nodeId));
    done.catch((error: unknown) => this.reportError(error));
  }

  /** Puts the notes index (its ids and the context they were read or written with) in the cache. */
  index(ids: string[], context: string): void {
    this.store?.putIndex({ ids, context, seenAtMs: this.now() }).catch((error: unknown) => this.reportError(error));
  }

  /** Closes the cache's database. */
  close(): void {
    this.store?.close();
  }

  /** The cache is a convenience (the cluster and the outbox hold the notes): say it failed, once. */
  private reportError(error: unknown): void {
    if (this.errorReported) return;
    this.errorReported = true;
    this.emit({ type: 'error', message: `this browser could not keep its offline copy of the notes: ${describeError(error)}` });
  }
}
