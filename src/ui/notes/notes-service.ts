/**
 * The notes demo's logic over the store's public API (paper §2.3 "always writeable", §4.4 siblings
 * resolved by the application, §4.6 hinted handoff): listing, editing, deleting and merging notes, and
 * keeping every edit when the tab is offline or cannot reach a write quorum.
 *
 * Writing. An edit is first recorded in this tab's outbox (localStorage, per node), then written:
 *   - with the cluster's W when enough nodes of the key's preference list are reachable;
 *   - otherwise with w = 1 — the node keeps it (as a replica, or as a hint for the replicas, §4.6) and
 *     the note shows "saved on this device, syncing…".
 * Syncing. When the node is back online, every note in the outbox is read again: if the cluster has the
 * edit (or a version built on it) alone, it is written once more with the full quorum and leaves the
 * outbox; if it stands beside concurrent versions, the note is in conflict and the user merges; if the
 * edit never arrived anywhere, it is written again with its original context. Nothing typed is dropped
 * before the cluster has it under a write quorum.
 * Conflicts. Siblings are shown side by side; a three-way merge against their common ancestor is
 * proposed ({@link proposeMerge}); saving writes with the context of every sibling, so they collapse on
 * every replica. A delete concurrent with an edit is a sibling like any other.
 * Offline. Every state of a note read or written here also goes to this browser's cache of notes seen
 * ({@link NotesSeenCache}: IndexedDB, shared by all tabs of the browser, not per node). The page starts
 * by listing that cache (each note marked `cached` until the cluster is read for it), so a page opened
 * offline, or without a read quorum, lists every note this browser has seen and edits them on the
 * cached context; the edits go to the outbox like any other.
 *
 * Size: about 630 lines; the per-browser cache of notes seen is in notes-seen-cache.ts, and the outbox
 * sync is the next piece to move out when the UI is split (issue 18).
 */
import { NoReplicasError, QuorumNotReachedError, type DynamoEvent, type DynamoNode, type GetResult, type PutResult } from '../../index.js';
import {
  commonAncestor,
  LINEAGE_MAX,
  mergeIndexes,
  newId,
  nextVersion,
  NOTE_KEY_PREFIX,
  noteKey,
  NOTES_INDEX_KEY,
  parseNote,
  proposeMerge,
  type MergeProposal,
  type NoteRevision,
  type NoteValue,
} from './note-model.js';
import { isBehind, NotesSeenCache, type DeletedVersion, type NotesSeenStore, type SeenNote } from './notes-seen-cache.js';

export type { DeletedVersion } from './notes-seen-cache.js';

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

/** An edit waiting in the outbox until a write quorum has it. */
interface OutboxEntry {
  /** The version written, or null for a delete. */
  value: NoteValue | null;
  /** Context the edit was made on (re-used if the edit never reached any node). */
  context: string;
  savedAtMs: number;
}

/** What the service tells the page. */
export type NotesChange = { type: 'notes' } | { type: 'note'; id: string } | { type: 'error'; message: string };

const MAX_REVISIONS_CACHED = 500;
const REFRESH_PERIOD_MS = 5000;

/** The notes of one cluster, seen from one node. */
export class NotesService {
  private readonly notes = new Map<string, NoteState>();
  private indexIds = new Set<string>();
  private indexContext = '';
  private readonly outbox: Map<string, OutboxEntry>;
  private readonly revisions: Map<string, { title: string; body: string }>;
  private readonly listeners = new Set<(change: NotesChange) => void>();
  private readonly refreshQueue = new Set<string>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshAllTimer: ReturnType<typeof setTimeout> | undefined;
  private periodic: ReturnType<typeof setInterval> | undefined;
  private syncing = false;
  private visible = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly node: NotesNode,
    private readonly storage: Pick<Storage, 'getItem' | 'setItem'> = localStorage,
    private readonly now: () => number = Date.now,
    /** This browser's cache of notes seen (none where IndexedDB is missing). */
    private readonly seen: NotesSeenStore | undefined = typeof indexedDB === 'undefined' ? undefined : new NotesSeenCache(node.cluster),
  ) {
    this.outbox = new Map(Object.entries(this.load<Record<string, OutboxEntry>>('outbox') ?? {}));
    this.revisions = new Map(Object.entries(this.load<Record<string, { title: string; body: string }>>('revisions') ?? {}));
    for (const [id, entry] of this.outbox) {
      this.indexIds.add(id);
      this.notes.set(id, stateOf(id, entry.value === null ? [] : [entry.value], entry.value === null ? [{ by: node.id, atMs: entry.savedAtMs }] : [], 0, entry.context, 'local'));
    }
    const unsubscribe = node.on('*', (event: DynamoEvent) => this.onEvent(event));
    // The browser's own idea of the network (a real loss of connection): show it, and sync when it is back.
    const online = (): void => void this.refreshAll();
    const offline = (): void => this.emit({ type: 'notes' });
    if (typeof window !== 'undefined') {
      window.addEventListener('online', online);
      window.addEventListener('offline', offline);
    }
    this.unsubscribe = () => {
      unsubscribe();
      if (typeof window !== 'undefined') {
        window.removeEventListener('online', online);
        window.removeEventListener('offline', offline);
      }
    };
  }

  /**
   * Lists the notes this browser has seen (its cache), then reads the index and every note, then keeps
   * them fresh: on events, and with a read every 5 s while the notes are on screen ({@link setVisible})
   * or edits wait in the outbox.
   */
  async start(): Promise<void> {
    await this.loadSeen();
    await this.refreshAll();
    this.periodic = setInterval(() => {
      if (this.visible || this.outbox.size > 0) void this.refreshAll();
    }, REFRESH_PERIOD_MS);
  }

  /** Whether the notes are on screen (the periodic read runs only then, or while edits wait to sync). */
  setVisible(visible: boolean): void {
    const was = this.visible;
    this.visible = visible;
    if (visible && !was) void this.refreshAll();
  }

  stop(): void {
    clearInterval(this.periodic);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.refreshAllTimer);
    this.unsubscribe();
    this.seen?.close();
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
    if (!this.node.connected || (typeof navigator !== 'undefined' && navigator.onLine === false)) return false;
    const health = new Map(this.node.peerHealth().map((h) => [h.id, h.status] as const));
    const reachable = this.node.preferenceList(key).filter((id) => id === this.node.id || health.get(id) === 'alive').length;
    return reachable >= this.node.config().w;
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
    await this.addToIndex(id);
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
    const ancestor = commonAncestor(state.versions, (rev) => this.knownRevision(rev));
    return proposeMerge(state.versions, ancestor);
  }

  /**
   * Resolves a conflict: writes `edit` (or a delete, for `'delete'`) with the context of every sibling,
   * so they collapse into one version on every replica.
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

  /** Reads the index and every listed note; syncs the outbox when the cluster is reachable. */
  async refreshAll(): Promise<void> {
    try {
      await this.refreshIndex();
      await Promise.all([...this.indexIds].map((id) => this.refreshNote(id)));
      this.emit({ type: 'notes' });
      await this.syncOutbox();
    } catch (error) {
      this.emit({ type: 'error', message: describe(error) });
    }
  }

  // ── internals ──

  private async write(id: string, value: NoteValue | null, context: string): Promise<void> {
    // First into the outbox, so that nothing typed is lost whatever happens next.
    this.outbox.set(id, { value, context, savedAtMs: this.now() });
    this.saveOutbox();
    if (value) this.remember(value);
    const key = noteKey(id);
    const quorum = this.canReachQuorum(key);
    const previous = this.notes.get(id);
    this.notes.set(id, stateOf(id, value ? [value] : [], value ? [] : [{ by: this.node.id, atMs: this.now() }], 0, previous?.context ?? context, 'local'));
    this.emit({ type: 'note', id });
    let written: PutResult;
    try {
      written = await this.writeKey(key, value, context, quorum);
    } catch (error) {
      // Kept in the outbox (and shown as saved on this device); the next sync writes it again. Only
      // a missed quorum is expected; anything else (no ring yet, storage trouble) is also said.
      if (!(error instanceof QuorumNotReachedError)) this.emit({ type: 'error', message: `saved on this device only for now: ${describe(error)}` });
      this.rememberSeen(this.notes.get(id)!, false);
      return;
    }
    const synced = written.acks >= this.node.config().w;
    if (synced) this.dropFromOutbox(id, value);
    const next = stateOf(id, value ? [value] : [], value ? [] : [{ by: this.node.id, atMs: this.now() }], 0, written.context, synced ? 'synced' : 'local');
    this.notes.set(id, next);
    this.rememberSeen(next, synced);
    this.emit({ type: 'note', id });
    // A concurrent edit elsewhere shows up as siblings on the next read.
    if (synced) this.queueRefresh(key);
  }

  private writeKey(key: string, value: unknown, context: string, quorum: boolean): Promise<PutResult> {
    const options = { ...(context !== '' ? { context } : {}), ...(quorum ? {} : { w: 1 }) };
    return value === null ? this.node.delete(key, options) : this.node.put(key, value, options);
  }

  private dropFromOutbox(id: string, value: NoteValue | null): void {
    const entry = this.outbox.get(id);
    // Only the entry this write made (a newer edit may have replaced it meanwhile).
    if (entry && (entry.value === null ? value === null : entry.value.rev === value?.rev)) {
      this.outbox.delete(id);
      this.saveOutbox();
    }
  }

  private async addToIndex(id: string): Promise<void> {
    this.indexIds.add(id);
    this.emit({ type: 'notes' });
    const quorum = this.canReachQuorum(NOTES_INDEX_KEY);
    try {
      const written = await this.writeKey(NOTES_INDEX_KEY, { kind: 'notes-index', ids: [...this.indexIds].sort() }, this.indexContext, quorum);
      this.indexContext = written.context;
      this.rememberIndex([...this.indexIds]);
    } catch (error) {
      // The note itself is in the outbox; its sync adds it to the index again.
      if (!(error instanceof QuorumNotReachedError)) this.emit({ type: 'error', message: `the list of notes will be updated later: ${describe(error)}` });
    }
  }

  /**
   * Reads with the cluster's R when it is reachable, else from this node alone (`quorum` says which).
   * A node that owns no partitions yet (alone and new, offline) reads as nothing there.
   */
  private async read(key: string): Promise<GetResult & { quorum: boolean }> {
    if (this.canReachQuorum(key)) {
      try {
        return { ...(await this.node.get(key)), quorum: true };
      } catch (error) {
        if (!(error instanceof QuorumNotReachedError)) throw error;
      }
    }
    try {
      return { ...(await this.node.get(key, { r: 1 })), quorum: false };
    } catch (error) {
      if (error instanceof NoReplicasError || error instanceof QuorumNotReachedError) return { siblings: [], context: '', clock: [], answeredBy: [], quorum: false };
      throw error;
    }
  }

  private async refreshIndex(): Promise<void> {
    const got = await this.read(NOTES_INDEX_KEY);
    if (got.context === '') return; // nothing here (offline, not a replica): keep what is known
    const merged = mergeIndexes(got.siblings.map((s) => s.value));
    for (const id of merged.ids) this.indexIds.add(id);
    this.indexContext = got.context;
    this.rememberIndex(merged.ids);
    const missing = [...this.indexIds].some((id) => !merged.ids.includes(id) && !this.outbox.has(id));
    // Concurrent additions made siblings: write their union back, which collapses them.
    if ((got.siblings.length > 1 || missing) && this.canReachQuorum(NOTES_INDEX_KEY)) {
      const written = await this.node.put(NOTES_INDEX_KEY, { kind: 'notes-index', ids: [...this.indexIds].sort() }, { context: got.context });
      this.indexContext = written.context;
      this.rememberIndex([...this.indexIds]);
    }
  }

  private async refreshNote(id: string): Promise<void> {
    const got = await this.read(noteKey(id));
    const pending = this.outbox.get(id);
    if (got.context === '') {
      // Nothing on the nodes read: keep what this tab knows (offline, and not a replica of the note).
      return;
    }
    const versions: NoteValue[] = [];
    const deletions: DeletedVersion[] = [];
    let unreadable = 0;
    for (const sibling of got.siblings) {
      if (sibling.deleted) {
        deletions.push({ by: sibling.version.node, atMs: sibling.version.timestampMs });
        continue;
      }
      const note = parseNote(sibling.value);
      if (note && note.id === id) {
        versions.push(note);
        this.remember(note);
      } else unreadable++;
    }
    versions.sort((a, b) => b.updatedAtMs - a.updatedAtMs);
    const siblings = versions.length + deletions.length + unreadable;
    let sync: SyncState = siblings > 1 ? 'conflict' : 'synced';
    // An edit still in the outbox that this read does not show yet: keep showing it.
    if (pending && sync !== 'conflict' && !this.outboxSettled(pending, versions, got.siblings.length === 0)) {
      return;
    }
    if (pending && sync === 'synced' && !this.canReachQuorum(noteKey(id))) sync = 'local';
    const before = this.notes.get(id);
    const next = stateOf(id, versions, deletions, unreadable, got.context, sync);
    // This node alone (no quorum) holds an older state than the one this browser saw (a replica that
    // missed writes while its tab was closed): keep showing the newer one.
    if (!got.quorum && before?.cached && isBehind(before, next)) return;
    this.notes.set(id, next);
    this.rememberSeen(next, got.quorum && sync === 'synced');
    if (!before || before.cached || before.context !== next.context || before.sync !== next.sync) this.emit({ type: 'note', id });
  }

  /** Whether a read shows the outbox entry's edit (or something built on it). */
  private outboxSettled(entry: OutboxEntry, versions: NoteValue[], deleted: boolean): boolean {
    if (entry.value === null) return deleted;
    const rev = entry.value.rev;
    return versions.some((v) => v.rev === rev || v.lineage.includes(rev));
  }

  /**
   * Writes every outbox entry to a quorum once the cluster is reachable (see the module comment).
   * Entries whose note is in conflict leave the outbox: the conflict shows them, and the merge is the
   * quorum write.
   */
  private async syncOutbox(): Promise<void> {
    if (this.syncing || this.outbox.size === 0) return;
    this.syncing = true;
    try {
      for (const [id, entry] of [...this.outbox]) {
        const key = noteKey(id);
        if (!this.canReachQuorum(key)) continue;
        const got = await this.node.get(key);
        const versions = got.siblings.filter((s) => !s.deleted).map((s) => parseNote(s.value)).filter((n): n is NoteValue => n !== undefined);
        const deleted = got.siblings.length === 0 && got.context !== '';
        if (got.siblings.length > 1 && (entry.value === null || versions.some((v) => v.rev === entry.value!.rev || v.lineage.includes(entry.value!.rev)))) {
          // Concurrent versions, ours among them: a conflict for the user.
          this.outbox.delete(id);
          this.saveOutbox();
          await this.refreshNote(id);
          continue;
        }
        if (this.outboxSettled(entry, versions, deleted)) {
          // The cluster has it (or a version built on it): confirm it with a full write quorum.
          const current = versions[0];
          if (entry.value === null || current?.rev === entry.value.rev) {
            const written = await this.writeKey(key, entry.value === null ? null : current, got.context, true);
            if (written.acks < this.node.config().w) continue;
          }
          this.outbox.delete(id);
          this.saveOutbox();
        } else {
          // The edit reached no node read here: write it again on the context it was made on.
          const written = await this.writeKey(key, entry.value, entry.context, true);
          if (written.acks < this.node.config().w) continue;
          this.outbox.delete(id);
          this.saveOutbox();
        }
        await this.refreshNote(id);
        if (entry.value !== null) await this.addToIndexIfMissing(id);
      }
    } catch (error) {
      if (!(error instanceof QuorumNotReachedError)) this.emit({ type: 'error', message: describe(error) });
    } finally {
      this.syncing = false;
      this.emit({ type: 'notes' });
    }
  }

  /** A note saved offline may be missing from the cluster's index: add it. */
  private async addToIndexIfMissing(id: string): Promise<void> {
    const got = await this.node.get(NOTES_INDEX_KEY);
    const merged = mergeIndexes(got.siblings.map((s) => s.value));
    if (merged.ids.includes(id) && got.siblings.length <= 1) return;
    this.indexIds.add(id);
    for (const other of merged.ids) this.indexIds.add(other);
    const written = await this.node.put(NOTES_INDEX_KEY, { kind: 'notes-index', ids: [...this.indexIds].sort() }, got.context !== '' ? { context: got.context } : {});
    this.indexContext = written.context;
    this.rememberIndex([...this.indexIds]);
  }

  private onEvent(event: DynamoEvent): void {
    if (event.type === 'key-changed' && (event.key === NOTES_INDEX_KEY || event.key.startsWith(NOTE_KEY_PREFIX))) this.queueRefresh(event.key);
    else if (event.type === 'connectivity' || event.type === 'hints-delivered' || (event.type === 'reachability' && event.to === 'alive')) {
      // Connectivity came back: sync soon (the failure detector needs a moment to see peers alive).
      this.emit({ type: 'notes' });
      if (this.visible || this.outbox.size > 0) this.refreshSoon();
    } else if (event.type === 'reachability') this.emit({ type: 'notes' });
  }

  /** One full refresh 300 ms from now, however many events ask for it meanwhile (peers flapping between suspect and alive send many). */
  private refreshSoon(): void {
    if (this.refreshAllTimer !== undefined) return;
    this.refreshAllTimer = setTimeout(() => {
      this.refreshAllTimer = undefined;
      void this.refreshAll();
    }, 300);
  }

  /** Refreshes changed keys shortly after (one read per key however many events arrived). */
  private queueRefresh(key: string): void {
    this.refreshQueue.add(key);
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      const keys = [...this.refreshQueue];
      this.refreshQueue.clear();
      void (async () => {
        try {
          for (const key of keys) {
            if (key === NOTES_INDEX_KEY) {
              await this.refreshIndex();
              await Promise.all([...this.indexIds].filter((id) => !this.notes.has(id)).map((id) => this.refreshNote(id)));
            } else await this.refreshNote(key.slice(NOTE_KEY_PREFIX.length));
          }
          this.emit({ type: 'notes' });
        } catch (error) {
          this.emit({ type: 'error', message: describe(error) });
        }
      })();
    }, 150);
  }

  /**
   * Shows the notes this browser has seen (its cache) before anything is read: a page opened offline
   * lists them at once. This node's own outbox entries stay as they are (they are its latest edits).
   */
  private async loadSeen(): Promise<void> {
    if (!this.seen) return;
    let cached: Awaited<ReturnType<NotesSeenStore['load']>>;
    try {
      cached = await this.seen.load();
    } catch (error) {
      this.emit({ type: 'error', message: `this browser's copy of the notes could not be read: ${describe(error)}` });
      return;
    }
    if (cached.index) {
      for (const id of cached.index.ids) this.indexIds.add(id);
      if (this.indexContext === '') this.indexContext = cached.index.context;
    }
    for (const note of cached.notes) {
      if (this.notes.has(note.id)) continue;
      this.indexIds.add(note.id);
      const siblings = note.versions.length + note.deletions.length;
      const sync: SyncState = siblings > 1 ? 'conflict' : note.inCluster ? 'synced' : 'local';
      this.notes.set(note.id, { ...stateOf(note.id, note.versions, note.deletions, 0, note.context, sync), cached: true, seenAtMs: note.seenAtMs });
    }
    this.emit({ type: 'notes' });
  }

  /** Puts a note's state in this browser's cache of notes seen (a deleted note leaves it). */
  private rememberSeen(state: NoteState, inCluster: boolean): void {
    if (!this.seen) return;
    const cache = this.seen;
    const done = state.deleted ? cache.removeNote(state.id) : cache.putNote(seenOf(state, inCluster, this.now(), this.node.id));
    done.catch((error: unknown) => this.reportCacheError(error));
  }

  private rememberIndex(ids: string[]): void {
    this.seen?.putIndex({ ids, context: this.indexContext, seenAtMs: this.now() }).catch((error: unknown) => this.reportCacheError(error));
  }

  private cacheErrorReported = false;

  /** The cache is a convenience (the cluster and the outbox hold the notes): say it failed, once. */
  private reportCacheError(error: unknown): void {
    if (this.cacheErrorReported) return;
    this.cacheErrorReported = true;
    this.emit({ type: 'error', message: `this browser could not keep its offline copy of the notes: ${describe(error)}` });
  }

  private knownRevision(rev: string): NoteRevision | undefined {
    const text = this.revisions.get(rev);
    return text ? { rev, ...text } : undefined;
  }

  /** Keeps the text of every version seen, so later merges find their common ancestor. */
  private remember(note: NoteValue): void {
    if (this.revisions.has(note.rev)) return;
    this.revisions.set(note.rev, { title: note.title, body: note.body });
    while (this.revisions.size > MAX_REVISIONS_CACHED) this.revisions.delete(this.revisions.keys().next().value!);
    this.store('revisions', Object.fromEntries(this.revisions));
  }

  private saveOutbox(): void {
    this.store('outbox', Object.fromEntries(this.outbox));
  }

  private slot(name: string): string {
    return `tabdynamo:${this.node.cluster}:${this.node.id}:notes-${name}`;
  }

  private load<T>(name: string): T | undefined {
    try {
      const raw = this.storage.getItem(this.slot(name));
      return raw === null ? undefined : (JSON.parse(raw) as T);
    } catch {
      return undefined;
    }
  }

  private store(name: string, value: unknown): void {
    try {
      this.storage.setItem(this.slot(name), JSON.stringify(value));
    } catch (error) {
      // Quota: the cluster still has the notes; say so rather than fail the edit.
      this.emit({ type: 'error', message: `this tab could not keep its notes outbox: ${describe(error)}` });
    }
  }

  private emit(change: NotesChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

function stateOf(id: string, versions: NoteValue[], deletions: DeletedVersion[], unreadable: number, context: string, sync: SyncState): NoteState {
  return { id, versions, deletions, unreadable, context, sync, deleted: versions.length === 0 && unreadable === 0 && deletions.length <= 1 && sync !== 'conflict', cached: false };
}

/** A note's state as the cache of notes seen keeps it. */
function seenOf(state: NoteState, inCluster: boolean, seenAtMs: number, seenBy: string): SeenNote {
  return { id: state.id, versions: state.versions, deletions: state.deletions, context: state.context, inCluster, seenAtMs, seenBy };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
