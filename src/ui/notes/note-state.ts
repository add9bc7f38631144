/**
 * The shapes of the notes as one tab knows them: a note's state (its live versions, concurrent deletes,
 * where it stands: synced, kept locally, in conflict), the changes the notes service announces, and the
 * part of the node the notes use. Pure data and the functions that build it; the service
 * (notes-service.ts) keeps the states.
 */
import type { DynamoNode } from '../../index.js';
import type { NoteValue } from './note-model.js';
import type { DeletedVersion, SeenNote } from './notes-seen-cache.js';

/** The part of a node the notes need (the public API of {@link DynamoNode}). */
export type NotesNode = Pick<DynamoNode, 'id' | 'cluster' | 'get' | 'put' | 'delete' | 'preferenceList' | 'peerHealth' | 'config' | 'on' | 'connected' | 'disconnect' | 'reconnect'>;

/** Where a note stands on this tab. */
export type SyncState =
  /** The cluster has the version shown (read or written with the quorum). */
  | 'synced'
  /** An edit is kept on this device and not yet confirmed by a write quorum. */
  | 'local'
  /** Concurrent versions (siblings) wait for the user to merge them. */
  | 'conflict';

/** One note as this tab knows it. */
export interface NoteState {
  id: string;
  /** Live versions, newest first; one unless in conflict. */
  versions: NoteValue[];
  /** Deletes concurrent with the live versions (edit-versus-delete conflict). */
  deletions: DeletedVersion[];
  /** Siblings that are not notes this app can read (written by another program). */
  unreadable: number;
  /** Context of the last read or write, covering every version above. */
  context: string;
  sync: SyncState;
  /** True when the note is deleted (no live version, no conflict). */
  deleted: boolean;
  /**
   * True while this state comes from this browser's cache of notes seen (the cluster has not been read
   * for the note since the page opened: offline, no read quorum, or not yet); `seenAtMs` says when.
   */
  cached: boolean;
  seenAtMs?: number;
}

/** What the service tells the page: the list changed, one note changed, or something failed (`message` says what). */
export type NotesChange = { type: 'notes' } | { type: 'note'; id: string } | { type: 'error'; message: string };

/** Tells the page about a change (the service's listeners). */
export type EmitChange = (change: NotesChange) => void;

/**
 * A note's state read or written now (not from the cache). It is `deleted` when nothing live is left:
 * no readable or unreadable version, at most one delete, and no conflict.
 */
export function noteState(id: string, versions: NoteValue[], deletions: DeletedVersion[], unreadable: number, context: string, sync: SyncState): NoteState {
  return { id, versions, deletions, unreadable, context, sync, deleted: versions.length === 0 && unreadable === 0 && deletions.length <= 1 && sync !== 'conflict', cached: false };
}

/** A note's state as the cache of notes seen keeps it; `inCluster`: a write quorum has it. */
export function seenOf(state: NoteState, inCluster: boolean, seenAtMs: number, seenBy: string): SeenNote {
  return { id: state.id, versions: state.versions, deletions: state.deletions, context: state.context, inCluster, seenAtMs, seenBy };
}

/** An error as the page shows it: `Name: message`. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
