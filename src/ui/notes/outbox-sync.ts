/**
 * The outbox's sync: once the cluster is reachable again, every edit waiting in the outbox
 * (notes-outbox.ts) is read back and settled, one note at a time:
 *
 * ```
 *   read the note with the quorum
 *     ├─ siblings, ours among them ───────▶ a conflict: leaves the outbox, the user merges (§4.4)
 *     ├─ the cluster has our edit (or a version built on it)
 *     │     └─ ours is the latest: written once more with the full quorum ▶ leaves the outbox
 *     └─ our edit reached no node read ───▶ written again on the context it was made on ▶ leaves it
 * ```
 *
 * An entry leaves only once a write quorum acknowledged it (or a conflict shows it); nothing typed is
 * dropped before. A note saved offline is then added to the cluster's index if it is missing there.
 */
import { QuorumNotReachedError } from '../../index.js';
import { noteKey, parseNote, type NoteValue } from './note-model.js';
import { describeError, type EmitChange, type NotesNode } from './note-state.js';
import type { NotesIndexSync } from './notes-index-sync.js';
import { outboxSettled, type NotesOutbox } from './notes-outbox.js';
import type { QuorumAccess } from './quorum-access.js';

/** What the sync works with. */
export interface OutboxSyncDeps {
  node: NotesNode;
  quorum: QuorumAccess;
  outbox: NotesOutbox;
  index: Pick<NotesIndexSync, 'addIfMissing'>;
  /** Reads note `id` again and shows what the cluster has (notes-service.ts). */
  refreshNote: (id: string) => Promise<void>;
  emit: EmitChange;
}

/** Writes the outbox's edits to a write quorum (see the module comment); one sync at a time. */
export class OutboxSync {
  private syncing = false;

  constructor(private readonly deps: OutboxSyncDeps) {}

  /**
   * Settles every outbox entry whose note's preference list reaches a quorum now; the others wait for
   * the next sync. Never throws: a failure other than a missed quorum is said as an `error` change.
   * Announces `notes` when done.
   */
  async sync(): Promise<void> {
    const { node, quorum, outbox, index, refreshNote, emit } = this.deps;
    if (this.syncing || outbox.size === 0) return;
    this.syncing = true;
    try {
      for (const [id, entry] of outbox.list()) {
        const key = noteKey(id);
        if (!quorum.canReachQuorum(key)) continue;
        const got = await node.get(key);
        const versions = got.siblings.filter((s) => !s.deleted).map((s) => parseNote(s.value)).filter((n): n is NoteValue => n !== undefined);
        const deleted = got.siblings.length === 0 && got.context !== '';
        if (got.siblings.length > 1 && (entry.value === null || versions.some((v) => v.rev === entry.value!.rev || v.lineage.includes(entry.value!.rev)))) {
          // Concurrent versions, ours among them: a conflict for the user.
          outbox.delete(id);
          await refreshNote(id);
          continue;
        }
        if (outboxSettled(entry, versions, deleted)) {
          // The cluster has it (or a version built on it): confirm it with a full write quorum.
          const current = versions[0];
          if (entry.value === null || current?.rev === entry.value.rev) {
            const written = await quorum.write(key, entry.value === null ? null : current, got.context, true);
            if (written.acks < quorum.w) continue;
          }
          outbox.delete(id);
        } else {
          // The edit reached no node read here: write it again on the context it was made on.
          const written = await quorum.write(key, entry.value, entry.context, true);
          if (written.acks < quorum.w) continue;
          outbox.delete(id);
        }
        await refreshNote(id);
        if (entry.value !== null) await index.addIfMissing(id);
      }
    } catch (error) {
      if (!(error instanceof QuorumNotReachedError)) emit({ type: 'error', message: describeError(error) });
    } finally {
      this.syncing = false;
      emit({ type: 'notes' });
    }
  }
}
