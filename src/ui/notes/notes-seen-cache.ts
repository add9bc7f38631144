/**
 * This browser's copy of the notes it has seen, so that the notes page opened offline (or with too few
 * nodes for a read quorum) still lists them and opens them read-write (paper §2.3 "always writeable").
 *
 * One IndexedDB database per browser profile and cluster, `tabdynamo-notes-seen:<cluster>`, shared by
 * every tab of the browser — unlike a node's replicas (one database per node, holding only the keys its
 * partitions own) it holds every note any tab of this browser has read or written, with the context of
 * that read or write, so an edit made from it supersedes what was seen (§4.4). (The `:` keeps the name
 * out of the node databases' `tabdynamo-<cluster>-<node id>` pattern, which node adoption lists.)
 *
 * ```
 *   notes      note id → SeenNote   the last state of the note seen here (versions, deletes, context)
 *   index      'index' → SeenIndex  the ids of the cluster's notes index seen here, and its context
 * ```
 *
 * Tabs write concurrently; a state is only replaced by one that is not behind it ({@link keepSeen}), so
 * a stale replica read in one tab does not undo a newer version another tab saw. A note read or written
 * as deleted leaves the cache.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { NoteValue } from './note-model.js';

/** A deleted sibling: who deleted the note, and when (ms since the epoch). */
export interface DeletedVersion {
  by: string;
  atMs: number;
}

/** One note as this browser last saw it. */
export interface SeenNote {
  id: string;
  /** Live versions, newest first (several when in conflict). */
  versions: NoteValue[];
  /** Deletes concurrent with the live versions. */
  deletions: DeletedVersion[];
  /** The context of the read or write that showed this state (covers every version above). */
  context: string;
  /** True when a quorum had this state: read with the cluster's R, or written with its W. */
  inCluster: boolean;
  /** When it was seen, ms since the epoch. */
  seenAtMs: number;
  /** The node (tab) that saw it. */
  seenBy: string;
}

/** The cluster's notes index as this browser last saw it. */
export interface SeenIndex {
  ids: string[];
  context: string;
  seenAtMs: number;
}

/** What the notes service needs from the cache (IndexedDB here; anything else in tests). */
export interface NotesSeenStore {
  /** Everything cached for the cluster. */
  load(): Promise<{ notes: SeenNote[]; index: SeenIndex | undefined }>;
  /** Records a note's state, unless the cached one is ahead of it ({@link keepSeen}). */
  putNote(note: SeenNote): Promise<void>;
  /** Forgets a note (it was read or written as deleted). */
  removeNote(id: string): Promise<void>;
  /** Records the index: the union of its ids with those cached, and its latest context. */
  putIndex(index: SeenIndex): Promise<void>;
  close(): void;
}

interface SeenSchema extends DBSchema {
  notes: { key: string; value: SeenNote };
  index: { key: 'index'; value: SeenIndex };
}

/** The cache's database name for `cluster`. */
export function notesSeenDatabaseName(cluster: string): string {
  return `tabdynamo-notes-seen:${cluster}`;
}

/**
 * Whether the sighting `incoming` of a note is behind `cached`: each of its versions is one of the
 * cached versions or an ancestor of one (by lineage), and the cached state has more (a newer revision,
 * or a sibling or delete it lacks). A sighting with a delete, or with a version the cache does not
 * cover, is never behind.
 */
export function isBehind(cached: Pick<SeenNote, 'versions' | 'deletions'>, incoming: Pick<SeenNote, 'versions' | 'deletions'>): boolean {
  if (incoming.deletions.length > 0 || incoming.versions.length === 0 || sameVersions(cached, incoming)) return false;
  return incoming.versions.every((v) => cached.versions.some((c) => c.rev === v.rev || c.lineage.includes(v.rev)));
}

/**
 * Which state of a note to keep when `incoming` is seen: `incoming` (the newer sighting), unless it is
 * behind the cached one ({@link isBehind}). The same versions seen again: the newer sighting (its
 * context), in the cluster if either sighting was.
 */
export function keepSeen(cached: SeenNote | undefined, incoming: SeenNote): SeenNote {
  if (!cached) return incoming;
  if (sameVersions(cached, incoming)) return { ...incoming, inCluster: incoming.inCluster || cached.inCluster };
  return isBehind(cached, incoming) ? cached : incoming;
}

function sameVersions(a: Pick<SeenNote, 'versions' | 'deletions'>, b: Pick<SeenNote, 'versions' | 'deletions'>): boolean {
  const revs = (note: Pick<SeenNote, 'versions'>): string => note.versions.map((v) => v.rev).sort().join(',');
  return a.deletions.length === b.deletions.length && revs(a) === revs(b);
}

/** The IndexedDB cache of notes seen by this browser, for one cluster. Opens lazily; its calls reject when IndexedDB fails. */
export class NotesSeenCache implements NotesSeenStore {
  private db: Promise<IDBPDatabase<SeenSchema>> | undefined;

  constructor(readonly cluster: string) {}

  private open(): Promise<IDBPDatabase<SeenSchema>> {
    if (this.db) return this.db;
    const opening = openDB<SeenSchema>(notesSeenDatabaseName(this.cluster), 1, {
      upgrade(db) {
        db.createObjectStore('notes');
        db.createObjectStore('index');
      },
      // The browser closed it, or another tab wants a newer schema: reopen on the next call.
      terminated: () => this.forget(opening),
      blocking: () => {
        this.forget(opening);
        void opening.then((db) => db.close());
      },
    });
    this.db = opening;
    opening.catch(() => this.forget(opening));
    return opening;
  }

  private forget(opening: Promise<IDBPDatabase<SeenSchema>>): void {
    if (this.db === opening) this.db = undefined;
  }

  async load(): Promise<{ notes: SeenNote[]; index: SeenIndex | undefined }> {
    const db = await this.open();
    const tx = db.transaction(['notes', 'index'], 'readonly');
    const [notes, index] = await Promise.all([tx.objectStore('notes').getAll(), tx.objectStore('index').get('index'), tx.done]);
    return { notes, index };
  }

  async putNote(note: SeenNote): Promise<void> {
    const db = await this.open();
    const tx = db.transaction('notes', 'readwrite');
    await tx.store.put(keepSeen(await tx.store.get(note.id), note), note.id);
    await tx.done;
  }

  async removeNote(id: string): Promise<void> {
    const db = await this.open();
    await db.delete('notes', id);
  }

  async putIndex(index: SeenIndex): Promise<void> {
    const db = await this.open();
    const tx = db.transaction('index', 'readwrite');
    const cached = await tx.store.get('index');
    const ids = [...new Set([...(cached?.ids ?? []), ...index.ids])].sort();
    await tx.store.put({ ids, context: index.context, seenAtMs: index.seenAtMs }, 'index');
    await tx.done;
  }

  close(): void {
    void this.db?.then((db) => db.close()).catch(() => undefined);
    this.db = undefined;
  }
}
