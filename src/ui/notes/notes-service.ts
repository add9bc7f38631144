/**
 * The notes demo's logic over the store's public API (paper §2.3 "always writeable", §4.4 siblings
 * resolved by the application, §4.6 hinted handoff): listing, editing, deleting and merging notes, and
 * keeping every edit when the tab is offline or cannot reach a write quorum. This file owns the notes as
 * this tab knows them (one {@link NoteState} per note), their reads and writes, and the page's API; the
 * other concepts are files of their own:
 *
 * ```
 *   NotesService ─┬─ QuorumAccess     quorum-access.ts     read / write with the quorum, else this node alone
 *                 ├─ NotesOutbox      notes-outbox.ts      edits not yet under a write quorum (localStorage)
 *                 ├─ OutboxSync       outbox-sync.ts       writing them out once the cluster is reachable
 *                 ├─ NotesIndexSync   notes-index-sync.ts  the `notes:index` key: every note's id
 *                 ├─ KnownRevisions   known-revisions.ts   texts of versions seen, for three-way merges
 *                 ├─ SeenRecorder     seen-recorder.ts     this browser's cache of notes seen (IndexedDB)
 *                 └─ NotesRefresh     notes-refresh.ts     when to read again (events, timers, visibility)
 * ```
 *
 * Writing. An edit is first recorded in the outbox, then written with the cluster's W when enough
 * nodes of the key's preference list are reachable, otherwise with w = 1 — the node keeps it (as a
 * replica, or as a hint for the replicas, §4.6) and the note shows "saved on this device, syncing…".
 * Conflicts. Siblings are shown side by side; a three-way merge against their common ancestor is
 * proposed ({@link proposeMerge}); saving writes with the context of every sibling, so they collapse on
 * every replica. A delete concurrent with an edit is a sibling like any other.
 * Offline. The page starts by listing this browser's cache of notes seen (each note marked `cached`
 * until the cluster is read for it), so a page opened offline, or without a read quorum, lists every
 * note this browser has seen and edits them on the cached context; the edits go to the outbox.
 */
import { actorNode, QuorumNotReachedError, type PutResult } from '../../index.js';
import { KnownRevisions } from './known-revisions.js';
import { commonAncestor, LINEAGE_MAX, newId, nextVersion, NOTE_KEY_PREFIX, noteKey, NOTES_INDEX_KEY, parseNote, proposeMerge, type MergeProposal, type NoteValue } from './note-model.js';
import { describeError, noteState, type NotesChange, type NotesNode, type NoteState, type SyncState } from './note-state.js';
import { NotesIndexSync } from './notes-index-sync.js';
import { NotesLocalStorage, type SlotStorage } from './notes-local-storage.js';
import { outboxSettled, NotesOutbox } from './notes-outbox.js';
import { NotesRefresh } from './notes-refresh.js';
import { isBehind, NotesSeenCache, type DeletedVersion, type NotesSeenStore } from './notes-seen-cache.js';
import { OutboxSync } from './outbox-sync.js';
import { QuorumAccess } from './quorum-access.js';
import { SeenRecorder } from './seen-recorder.js';

export type { DeletedVersion } from './notes-seen-cache.js';
export type { NotesChange, NotesNode, NoteState, SyncState } from './note-state.js';

/** The notes of one cluster, seen from one node. */
export class NotesService {
  private readonly notes = new Map<string, NoteState>();
  private readonly listeners = new Set<(change: NotesChange) => void>();
  private readonly quorum: QuorumAccess;
  private readonly outbox: NotesOutbox;
  private readonly revisions: KnownRevisions;
  private readonly seen: SeenRecorder;
  private readonly index: NotesIndexSync;
  private readonly outboxSync: OutboxSync;
  private readonly refresh: NotesRefresh;

  /**
   * @param storage where this node keeps its outbox and the revisions seen (localStorage).
   * @param now the clock, ms since the epoch.
   * @param seenStore this browser's cache of notes seen (none where IndexedDB is missing).
   */
  constructor(
    private readonly node: NotesNode,
    storage: SlotStorage = localStorage,
    private readonly now: () => number = Date.now,
    seenStore: NotesSeenStore | undefined = typeof indexedDB === 'undefined' ? undefined : new NotesSeenCache(node.cluster),
  ) {
    const emit = (change: NotesChange): void => this.emit(change);
    // Quota: the cluster still has the notes; say so rather than fail the edit.
    const slots = new NotesLocalStorage(storage, node.cluster, node.id, (error) => emit({ type: 'error', message: `this tab could not keep its notes outbox: ${describeError(error)}` }));
    this.quorum = new QuorumAccess(node);
    this.outbox = new NotesOutbox(slots);
    this.revisions = new KnownRevisions(slots);
    this.seen = new SeenRecorder(seenStore, node.id, now, emit);
    this.index = new NotesIndexSync({ node, quorum: this.quorum, seen: this.seen, outbox: this.outbox, emit, now });
    this.outboxSync = new OutboxSync({ node, quorum: this.quorum, outbox: this.outbox, index: this.index, refreshNote: async (id) => void (await this.refreshNote(id)), emit });
    for (const [id, entry] of this.outbox.list()) {
      this.index.include(id);
      this.notes.set(id, noteState(id, entry.value === null ? [] : [entry.value], entry.value === null ? [{ by: node.id, atMs: entry.savedAtMs }] : [], 0, entry.context, 'local'));
    }
    this.refresh = new NotesRefresh(node, {
      refreshAll: () => this.refreshAll(),
      refreshKey: (key) => this.refreshKey(key),
      pendingCount: () => this.pendingCount(),
      emit,
    });
  }

  /**
   * Lists the notes this browser has seen (its cache), then reads the index and every note, then keeps
   * them fresh: on events, and with a read every 5 s while the notes are on screen ({@link setVisible})
   * or edits wait in the outbox.
   */
  async start(): Promise<void> {
    await this.loadSeen();
    await this.refreshAll();
    this.refresh.start();
  }

  /** Whether the notes are on screen (the periodic read runs only then, or while edits wait to sync). */
  setVisible(visible: boolean): void {
    this.refresh.setVisible(visible);
  }

  /** Stops reading, following events and caching (the page is going away, or a test is done). */
  stop(): void {
    this.refresh.stop();
    this.seen.close();
  }

  /** Calls `listener` on every change of the list or of a note; returns the unsubscribe function. */
  subscribe(listener: (change: NotesChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Notes to list (not deleted, or in conflict), newest first; `search` filters titles (case-insensitive). */
  list(search = ''): NoteState[] {
    const needle = search.trim().toLocaleLowerCase();
    return [...this.notes.values()]
      // A deleted note has no live version; in conflict it is listed so that it can be resolved.
      .filter((note) => note.versions.length > 0 || note.sync === 'conflict')
      .filter((note) => needle === '' || note.versions.some((v) => v.title.toLocaleLowerCase().includes(needle)))
      .sort((a, b) => (b.versions[0]?.updatedAtMs ?? 0) - (a.versions[0]?.updatedAtMs ?? 0));
  }

  /** Note `id` as this tab knows it, or undefined when it does not know it. */
  note(id: string): NoteState | undefined {
    return this.notes.get(id);
  }

  /** Edits waiting for a write quorum. */
  pendingCount(): number {
    return this.outbox.size;
  }

  /**
   * Whether writes go to a quorum now: the node is connected, not switched offline on this page, the
   * browser is online, and at least W nodes of `key`'s preference list (itself included) are reachable.
   */
  canReachQuorum(key: string = NOTES_INDEX_KEY): boolean {
    return this.quorum.canReachQuorum(key);
  }

  /** True while the node is cut off the network (the page's offline switch, or the explorer's Disconnect). */
  get offline(): boolean {
    return !this.node.connected;
  }

  /**
   * The page's offline switch (a demonstration of a lost connection): cuts the node off the network
   * (DynamoNode.disconnect: peers see it unreachable, its writes stay here as hints) or reconnects it;
   * the sync of what was saved meanwhile follows the 'connectivity' event.
   */
  setOffline(offline: boolean): void {
    if (offline === this.offline) return;
    if (offline) this.node.disconnect();
    else this.node.reconnect();
  }

  /**
   * Creates a note. @returns its id.
   * @throws NoteTooLargeError (nothing written). A write the store refuses for now (no quorum, no ring
   *   yet, storage trouble) stays in the outbox for the next sync and is reported as an `error` change.
   */
  async create(edit: { title: string; body: string }): Promise<string> {
    const id = newId();
    const value = nextVersion(id, undefined, false, edit, this.node.id, this.now());
    await this.write(id, value, '');
    await this.index.add(id);
    return id;
  }

  /**
   * Saves an edit of note `id` on top of the version shown (its context). If the note changed
   * elsewhere meanwhile, the result is a conflict to merge, never a lost edit.
   * @throws NoteTooLargeError (nothing written); other failures as for {@link create}.
   */
  async save(id: string, edit: { title: string; body: string }): Promise<void> {
    const state = this.notes.get(id);
    const parent = state?.versions[0];
    const value = nextVersion(id, parent, state?.sync === 'synced', edit, this.node.id, this.now());
    await this.write(id, value, state?.context ?? '');
  }

  /** Deletes note `id` (a tombstone with the context shown). */
  async remove(id: string): Promise<void> {
    await this.write(id, null, this.notes.get(id)?.context ?? '');
  }

  /** The merge proposed for a note in conflict (three-way against the common ancestor when known). */
  proposal(id: string): MergeProposal | undefined {
    const state = this.notes.get(id);
    if (!state || state.versions.length === 0) return undefined;
    const ancestor = commonAncestor(state.versions, (rev) => this.revisions.known(rev));
    return proposeMerge(state.versions, ancestor);
  }

  /**
   * Resolves a conflict: writes `edit` (or a delete, for `'delete'`) with the context of every sibling,
   * so they collapse into one version on every replica.
   * @throws Error when this tab does not know note `id`; NoteTooLargeError (nothing written).
   */
  async resolve(id: string, edit: { title: string; body: string } | 'delete'): Promise<void> {
    const state = this.notes.get(id);
    if (!state) throw new Error(`no note ${id}`);
    if (edit === 'delete') return this.write(id, null, state.context);
    const value = nextVersion(id, state.versions[0], true, edit, this.node.id, this.now());
    // The merge descends from every sibling.
    const lineage = new Set<string>();
    for (const version of state.versions) for (const rev of [version.rev, ...version.lineage]) lineage.add(rev);
    value.lineage = [...lineage].slice(0, LINEAGE_MAX);
    await this.write(id, value, state.context);
  }

  /**
   * Reads the index and every listed note; syncs the outbox when the cluster is reachable. Notes found
   * purged (deleted, and now nothing under their key) leave the index, written at once. Never throws.
   */
  async refreshAll(): Promise<void> {
    try {
      await this.index.refresh();
      const purged = await Promise.all(this.index.ids().map((id) => this.refreshNote(id)));
      if (purged.includes('purged')) await this.index.refresh();
      this.emit({ type: 'notes' });
      await this.outboxSync.sync();
    } catch (error) {
      this.emit({ type: 'error', message: describeError(error) });
    }
  }

  // ── reads and writes of one note ──

  /** Writes an edit (null: a delete) of note `id` made on `context`: into the outbox first, then to the store. */
  private async write(id: string, value: NoteValue | null, context: string): Promise<void> {
    // First into the outbox, so that nothing typed is lost whatever happens next.
    this.outbox.put(id, { value, context, savedAtMs: this.now() });
    if (value) this.revisions.remember(value);
    const key = noteKey(id);
    const quorum = this.quorum.canReachQuorum(key);
    const previous = this.notes.get(id);
    this.notes.set(id, noteState(id, value ? [value] : [], value ? [] : [{ by: this.node.id, atMs: this.now() }], 0, previous?.context ?? context, 'local'));
    this.emit({ type: 'note', id });
    let written: PutResult;
    try {
      written = await this.quorum.write(key, value, context, quorum);
    } catch (error) {
      // Kept in the outbox (and shown as saved on this device); the next sync writes it again. Only
      // a missed quorum is expected; anything else (no ring yet, storage trouble) is also said.
      if (!(error instanceof QuorumNotReachedError)) this.emit({ type: 'error', message: `saved on this device only for now: ${describeError(error)}` });
      this.seen.note(this.notes.get(id)!, false);
      return;
    }
    const synced = written.acks >= this.quorum.w;
    if (synced) this.outbox.deleteIfStill(id, value);
    const next = noteState(id, value ? [value] : [], value ? [] : [{ by: this.node.id, atMs: this.now() }], 0, written.context, synced ? 'synced' : 'local');
    this.notes.set(id, next);
    this.seen.note(next, synced);
    this.emit({ type: 'note', id });
    // A concurrent edit elsewhere shows up as siblings on the next read.
    if (synced) this.refresh.queueRefresh(key);
  }

  /**
   * Reads note `id` and shows what was read: one version (synced), several (a conflict), or nothing new
   * — an edit still in the outbox that the read does not show yet, or an older state read from this
   * node alone than the one this browser saw, keeps what is shown. A note this tab saw deleted that now
   * reads as nothing with the quorum had its tombstone purged (tombstone-purge.ts): it leaves the index
   * and this tab (`'purged'`).
   */
  private async refreshNote(id: string): Promise<'purged' | undefined> {
    const got = await this.quorum.read(noteKey(id));
    const pending = this.outbox.get(id);
    const before = this.notes.get(id);
    if (got.quorum && got.siblings.length === 0 && !pending && before !== undefined && before.deleted && !before.cached) {
      this.notes.delete(id);
      this.index.forget(id);
      this.emit({ type: 'note', id });
      return 'purged';
    }
    if (got.context === '') {
      // Nothing on the nodes read: keep what this tab knows (offline, and not a replica of the note).
      return;
    }
    const versions: NoteValue[] = [];
    const deletions: DeletedVersion[] = [];
    let unreadable = 0;
    for (const sibling of got.siblings) {
      if (sibling.deleted) {
        deletions.push({ by: actorNode(sibling.version.node), atMs: sibling.version.timestampMs });
        continue;
      }
      const note = parseNote(sibling.value);
      if (note && note.id === id) {
        versions.push(note);
        this.revisions.remember(note);
      } else unreadable++;
    }
    versions.sort((a, b) => b.updatedAtMs - a.updatedAtMs);
    const siblings = versions.length + deletions.length + unreadable;
    let sync: SyncState = siblings > 1 ? 'conflict' : 'synced';
    // An edit still in the outbox that this read does not show yet: keep showing it.
    if (pending && sync !== 'conflict' && !outboxSettled(pending, versions, got.siblings.length === 0)) {
      return;
    }
    if (pending && sync === 'synced' && !this.quorum.canReachQuorum(noteKey(id))) sync = 'local';
    const next = noteState(id, versions, deletions, unreadable, got.context, sync);
    // This node alone (no quorum) holds an older state than the one this browser saw (a replica that
    // missed writes while its tab was closed): keep showing the newer one.
    if (!got.quorum && before?.cached && isBehind(before, next)) return;
    this.notes.set(id, next);
    this.seen.note(next, got.quorum && sync === 'synced');
    if (!before || before.cached || before.context !== next.context || before.sync !== next.sync) this.emit({ type: 'note', id });
    return undefined;
  }

  /** Reads a key that changed (NotesRefresh): the index and the notes it newly lists, or one note. */
  private async refreshKey(key: string): Promise<void> {
    if (key === NOTES_INDEX_KEY) {
      await this.index.refresh();
      await Promise.all(this.index.ids().filter((id) => !this.notes.has(id)).map((id) => this.refreshNote(id)));
    } else if ((await this.refreshNote(key.slice(NOTE_KEY_PREFIX.length))) === 'purged') await this.index.refresh();
  }

  /**
   * Shows the notes this browser has seen (its cache) before anything is read: a page opened offline
   * lists them at once. This node's own outbox entries stay as they are (they are its latest edits).
   */
  private async loadSeen(): Promise<void> {
    const cached = await this.seen.load();
    if (!cached) return;
    if (cached.index) this.index.includeCached(cached.index.ids, cached.index.context);
    for (const note of cached.notes) {
      if (this.notes.has(note.id)) continue;
      this.index.include(note.id);
      const siblings = note.versions.length + note.deletions.length;
      const sync: SyncState = siblings > 1 ? 'conflict' : note.inCluster ? 'synced' : 'local';
      this.notes.set(note.id, { ...noteState(note.id, note.versions, note.deletions, 0, note.context, sync), cached: true, seenAtMs: note.seenAtMs });
    }
    this.emit({ type: 'notes' });
  }

  private emit(change: NotesChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
