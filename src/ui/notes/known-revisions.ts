/**
 * The text of the note versions this node has seen, kept (in localStorage, the last 500) so that a later
 * merge finds the common ancestor of two siblings (paper §4.4: the application resolves them; see
 * commonAncestor in note-model.ts) even when no replica holds that version any more.
 */
import type { NoteRevision, NoteValue } from './note-model.js';
import type { NotesLocalStorage } from './notes-local-storage.js';

/** Revisions kept; beyond it the oldest seen go first. */
const MAX_REVISIONS_CACHED = 500;

/** The texts of the versions seen, by revision. */
export class KnownRevisions {
  private readonly texts: Map<string, { title: string; body: string }>;

  /** Loads the revisions kept in `slots` (none when there are none or they do not parse). */
  constructor(private readonly slots: NotesLocalStorage) {
    this.texts = new Map(Object.entries(slots.load<Record<string, { title: string; body: string }>>('revisions') ?? {}));
  }

  /** Keeps the text of `note`'s version (once per revision). */
  remember(note: NoteValue): void {
    if (this.texts.has(note.rev)) return;
    this.texts.set(note.rev, { title: note.title, body: note.body });
    while (this.texts.size > MAX_REVISIONS_CACHED) this.texts.delete(this.texts.keys().next().value!);
    this.slots.store('revisions', Object.fromEntries(this.texts));
  }

  /** Revision `rev` with its text, or undefined when this node never saw it (or has forgotten it). */
  known(rev: string): NoteRevision | undefined {
    const text = this.texts.get(rev);
    return text ? { rev, ...text } : undefined;
  }
}
