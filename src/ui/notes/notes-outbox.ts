/**
 * The outbox: this node's edits of notes that a write quorum does not have yet (paper §2.3, "always
 * writeable"). Every edit goes here first, before it is written, and stays here (in localStorage, per
 * node) until the cluster has it under a write quorum; so nothing typed is lost to a closed tab, a lost
 * connection or a missed quorum. One entry per note: a newer edit replaces an older one.
 *
 * The entries are data; writing them out is outbox-sync.ts.
 */
import type { NoteValue } from './note-model.js';
import type { NotesLocalStorage } from './notes-local-storage.js';

/** An edit waiting in the outbox until a write quorum has it. */
export interface OutboxEntry {
  /** The version written, or null for a delete. */
  value: NoteValue | null;
  /** Context the edit was made on (re-used if the edit never reached any node). */
  context: string;
  /** When the edit was made, ms since the epoch. */
  savedAtMs: number;
}

/** The outbox of one node (see the module comment); every change is stored at once. */
export class NotesOutbox {
  private readonly entries: Map<string, OutboxEntry>;

  /** Loads the entries kept in `slots` (none when there are none or they do not parse). */
  constructor(private readonly slots: NotesLocalStorage) {
    this.entries = new Map(Object.entries(slots.load<Record<string, OutboxEntry>>('outbox') ?? {}));
  }

  /** Edits waiting. */
  get size(): number {
    return this.entries.size;
  }

  get(id: string): OutboxEntry | undefined {
    return this.entries.get(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** A copy of the entries, [note id, entry] (safe to iterate while entries leave). */
  list(): [string, OutboxEntry][] {
    return [...this.entries];
  }

  /** Records the edit of note `id` (replacing an older one). */
  put(id: string, entry: OutboxEntry): void {
    this.entries.set(id, entry);
    this.save();
  }

  /** Removes note `id`'s entry: a write quorum has it (or a conflict shows it). */
  delete(id: string): void {
    this.entries.delete(id);
    this.save();
  }

  /**
   * Removes note `id`'s entry if it is still the edit `value` (null: a delete) — a newer edit may have
   * replaced it while `value` was being written.
   */
  deleteIfStill(id: string, value: NoteValue | null): void {
    const entry = this.entries.get(id);
    if (entry && (entry.value === null ? value === null : entry.value.rev === value?.rev)) this.delete(id);
  }

  private save(): void {
    this.slots.store('outbox', Object.fromEntries(this.entries));
  }
}

/**
 * Whether a read shows the outbox entry's edit, or a version built on it: a note version with its
 * revision or with it in its lineage; for a delete, that nothing live was read (`deleted`).
 */
export function outboxSettled(entry: OutboxEntry, versions: readonly NoteValue[], deleted: boolean): boolean {
  if (entry.value === null) return deleted;
  const rev = entry.value.rev;
  return versions.some((v) => v.rev === rev || v.lineage.includes(rev));
}
