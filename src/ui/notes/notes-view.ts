/**
 * The notes page (route `#/notes`, `#/notes/<id>`): a list with search, an editor, the offline switch
 * and the conflict view with a proposed merge. It talks to {@link NotesService} only; every piece of
 * note text is written with `textContent` or into form fields, never parsed as HTML. Notes shown from
 * this browser's cache of notes seen (the page opened offline) carry an "offline copy" badge.
 *
 * It draws only while it is on screen: nothing while its route is not shown or the tab is hidden (and
 * the notes are then not read every 5 s either, see notes-refresh.ts); once shown again it draws
 * once. A redraw writes only what changed: the list is rebuilt only when its summary changed.
 */
import type { ReloadGuard } from '../app-update.js';
import { byId } from '../dom.js';
import { PatchedPanel, setText } from '../explorer/patch.js';
import { documentVisibility, type PageVisibility } from '../page-visibility.js';
import { MARKERS } from './note-model.js';
import type { NoteState } from './note-state.js';
import type { NotesService } from './notes-service.js';
import './notes-offline.css';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** Sets `element.dataset[name]` only when it differs (writing the same value still counts as a change of the page). */
function setData(element: HTMLElement, name: string, value: string): void {
  if (element.dataset[name] !== value) element.dataset[name] = value;
}

/** Shows or hides `element`, touching it only when that changes. */
function setHidden(element: HTMLElement, hidden: boolean): void {
  if (element.hidden !== hidden) element.hidden = hidden;
}

const time = (ms: number): string => new Date(ms).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });

/** Words for a note's sync state, as the list and the editor show them. */
export function syncLabel(note: NoteState): string {
  if (note.sync === 'conflict') return note.deletions.length > 0 ? 'conflict: edited and deleted' : `conflict: ${note.versions.length + note.unreadable} versions`;
  if (note.sync === 'local') return 'saved on this device, syncing…';
  if (note.cached) return `offline copy: as this browser last saw it${note.seenAtMs === undefined ? '' : ` (${time(note.seenAtMs)})`}`;
  return 'saved in the cluster';
}

/**
 * The notes page, wired to `service`; `self` is this tab's node id; `reloadGuard` keeps an update of
 * the app from reloading the tab over unsaved typing. The router shows it with the part of the hash
 * after `#/notes` ({@link NotesView.show}).
 */
export class NotesView {
  private selected: string | 'new' | undefined;
  /** Revision the editor was filled from (to notice a change made elsewhere). */
  private editorRev: string | undefined;
  private dirty = false;
  private mergeDirty = false;
  private mergeFor: string | undefined;
  private active = false;
  private readonly list = new PatchedPanel(byId('notes-list'));
  private readonly conflictVersions = new PatchedPanel(byId('conflict-versions'));

  /** `visibility`: whether the tab is on screen (the browser's by default). */
  constructor(
    private readonly service: NotesService,
    private readonly self: string,
    reloadGuard: Pick<ReloadGuard, 'holdReloadWhile'>,
    private readonly visibility: PageVisibility = documentVisibility(),
  ) {
    // Hidden: no periodic reads and no drawing; shown again: read everything and draw once.
    visibility.onChange(() => {
      this.service.setVisible(this.active && !visibility.hidden);
      this.render();
    });
    // An update of the app made in another tab must not reload this one over unsaved typing.
    reloadGuard.holdReloadWhile(() => this.dirty || this.mergeDirty);
    service.subscribe((change) => {
      if (change.type === 'error') this.showError(change.message);
      if (this.active) this.render();
    });
    byId('note-new').addEventListener('click', () => {
      // Empty the editor now, not when the hashchange event arrives (typing may start before it).
      location.hash = '#/notes/new';
      this.show(true, '/new');
      byId('note-title').focus();
    });
    byId('notes-search').addEventListener('input', () => this.render());
    byId('notes-offline').addEventListener('click', () => {
      this.service.setOffline(!this.service.offline);
      this.render();
    });
    const form = byId<HTMLFormElement>('note-form');
    form.addEventListener('input', () => {
      this.dirty = true;
      this.renderEditorState();
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.saveEditor();
    });
    form.addEventListener('keydown', (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === 's') {
        event.preventDefault();
        void this.saveEditor();
      }
    });
    byId('note-delete').addEventListener('click', () => {
      const id = this.selected;
      if (id === undefined || id === 'new') return;
      if (!confirm('Delete this note on every node?')) return;
      this.run(async () => {
        await this.service.remove(id);
        location.hash = '#/notes';
      });
    });
    const merge = byId<HTMLFormElement>('merge-form');
    merge.addEventListener('input', () => (this.mergeDirty = true));
    merge.addEventListener('submit', (event) => {
      event.preventDefault();
      const id = this.selected;
      if (id === undefined || id === 'new') return;
      const edit = { title: byId<HTMLInputElement>('merge-title').value, body: byId<HTMLTextAreaElement>('merge-body').value };
      this.run(async () => {
        await this.service.resolve(id, edit);
        this.mergeDirty = false;
        this.mergeFor = undefined;
        this.load(id);
      });
    });
    byId('merge-delete').addEventListener('click', () => {
      const id = this.selected;
      if (id === undefined || id === 'new') return;
      this.run(async () => {
        await this.service.resolve(id, 'delete');
        location.hash = '#/notes';
      });
    });
    byId('conflict-versions').addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-use]');
      const note = this.selected !== undefined && this.selected !== 'new' ? this.service.note(this.selected) : undefined;
      if (!button || !note) return;
      const use = button.dataset.use!;
      if (use === 'delete') {
        byId('merge-delete').hidden = false;
        byId('merge-delete').focus();
        return;
      }
      const version = note.versions.find((v) => v.rev === use);
      if (!version) return;
      byId<HTMLInputElement>('merge-title').value = version.title;
      byId<HTMLTextAreaElement>('merge-body').value = version.body;
      this.mergeDirty = true;
      byId('merge-info').textContent = `Taking the version written by ${version.updatedBy}; edit it if you like, then save.`;
    });
  }

  private who(node: string): string {
    return node === this.self ? `${node} (this tab)` : node;
  }

  /** Shows or hides the page; `route` is what follows `#/notes` ('' or '/<id>' or '/new'). */
  show(active: boolean, route = ''): void {
    this.active = active;
    this.service.setVisible(active && !this.visibility.hidden);
    byId('notes-view').hidden = !active;
    if (!active) return;
    const id = route.startsWith('/') ? route.slice(1) : '';
    this.select(id === '' ? undefined : id);
    this.render();
  }

  private select(id: string | undefined): void {
    if (id === this.selected) return;
    this.selected = id;
    byId('notes-view').dataset.selected = id ?? '';
    this.mergeDirty = false;
    this.mergeFor = undefined;
    this.showError('');
    this.load(id);
  }

  /** Fills the editor from the note (or empties it for a new one). */
  private load(id: string | undefined): void {
    const note = id !== undefined && id !== 'new' ? this.service.note(id) : undefined;
    const version = note?.versions[0];
    byId<HTMLInputElement>('note-title').value = version?.title ?? '';
    byId<HTMLTextAreaElement>('note-body').value = version?.body ?? '';
    this.editorRev = version?.rev;
    this.dirty = false;
  }

  private async saveEditor(): Promise<void> {
    const id = this.selected;
    if (id === undefined) return;
    const edit = { title: byId<HTMLInputElement>('note-title').value, body: byId<HTMLTextAreaElement>('note-body').value };
    this.run(async () => {
      if (id === 'new') {
        const created = await this.service.create(edit);
        this.selected = created;
        byId('notes-view').dataset.selected = created;
        this.dirty = false;
        this.editorRev = this.service.note(created)?.versions[0]?.rev;
        location.hash = `#/notes/${created}`;
      } else {
        await this.service.save(id, edit);
        this.dirty = false;
        this.editorRev = this.service.note(id)?.versions[0]?.rev;
      }
    });
  }

  private run(action: () => Promise<void>): void {
    this.showError('');
    action().then(
      () => this.render(),
      (error: unknown) => this.showError(error instanceof Error ? `${error.name}: ${error.message}` : String(error)),
    );
  }

  private showError(message: string): void {
    byId('note-error').textContent = message;
  }

  /** Draws the page from the service's notes (nothing while it is not on screen). */
  render(): void {
    if (!this.active || this.visibility.hidden) return;
    this.renderConnection();
    this.renderList();
    this.renderEditorState();
  }

  private renderConnection(): void {
    const status = byId('notes-connection');
    const pending = this.service.pendingCount();
    const waiting = pending === 0 ? '' : ` ${pending} edit${pending === 1 ? '' : 's'} waiting to sync.`;
    const button = byId<HTMLButtonElement>('notes-offline');
    setText(button, this.service.offline ? 'Go back online' : 'Go offline');
    if (button.getAttribute('aria-pressed') !== String(this.service.offline)) button.setAttribute('aria-pressed', String(this.service.offline));
    const [state, text] = this.service.offline
      ? ['offline', `Offline (switched off on this page): edits are saved on this device and sync when you go back online.${waiting}`]
      : typeof navigator !== 'undefined' && navigator.onLine === false
        ? ['offline', `The browser is offline: edits are saved on this device and sync when it is back online.${waiting}${this.cachedNote()}`]
        : !this.service.canReachQuorum()
          ? ['offline', `Cannot reach enough nodes for a write quorum: edits are saved on this device and sync by themselves.${waiting}${this.cachedNote()}`]
          : [pending > 0 ? 'syncing' : 'online', pending > 0 ? `Online, syncing.${waiting}` : 'Online: every save is confirmed by a write quorum.'];
    if (status.dataset.state !== state) status.dataset.state = state;
    setText(status, text);
  }

  /** A sentence on notes shown from this browser's cache, if any are. */
  private cachedNote(): string {
    return this.service.list().some((note) => note.cached) ? ' Notes marked “offline copy” are as this browser last saw them.' : '';
  }

  private renderList(): void {
    const search = byId<HTMLInputElement>('notes-search').value;
    const notes = this.service.list(search);
    // What the list shows, summed up: the periodic read (every 5 s) mostly brings nothing new.
    const signature = JSON.stringify([
      this.selected,
      notes.map((note) => [note.id, note.sync, note.cached, note.seenAtMs, note.versions.length, note.unreadable, note.deletions.length, note.versions[0]?.title, note.versions[0]?.updatedAtMs, note.versions[0]?.updatedBy]),
    ]);
    this.list.patchIfChanged(signature, (list) => {
      for (const note of notes) {
        const version = note.versions[0];
        const item = el('li');
        item.dataset.key = `note-${note.id}`;
        item.dataset.note = note.id;
        item.dataset.sync = note.sync;
        if (note.id === this.selected) item.setAttribute('aria-current', 'true');
        const link = el('a');
        link.href = `#/notes/${note.id}`;
        link.append(el('span', version?.title || 'Untitled', 'title'));
        const meta = el('span', version ? `${time(version.updatedAtMs)} · ${this.who(version.updatedBy)}` : 'deleted', 'meta');
        link.append(meta);
        if (note.sync !== 'synced') link.append(el('span', syncLabel(note), `badge ${note.sync}`));
        else if (note.cached) link.append(el('span', 'offline copy', 'badge cached'));
        item.append(link);
        list.append(item);
      }
    });
    const empty = byId('notes-empty');
    if (empty.hidden !== notes.length > 0) empty.hidden = notes.length > 0;
    setText(empty, search !== '' ? `No note title contains “${search}”.` : 'No notes yet. Every tab of this cluster sees the notes you write here, even the ones you write offline.');
  }

  private renderEditorState(): void {
    const id = this.selected;
    const form = byId<HTMLFormElement>('note-form');
    const conflict = byId('conflict');
    const heading = byId('note-heading');
    const state = byId('note-state');
    if (id === undefined) {
      setText(heading, 'No note selected');
      setText(state, 'Choose a note on the left, or make a new one.');
      setData(state, 'sync', 'none');
      setHidden(form, true);
      setHidden(conflict, true);
      return;
    }
    if (id === 'new') {
      setText(heading, 'New note');
      setText(state, this.service.canReachQuorum() ? '' : 'Offline: it will be saved on this device and sync later.');
      setData(state, 'sync', 'new');
      setHidden(form, false);
      setHidden(conflict, true);
      setHidden(byId('note-delete'), true);
      setText(byId('note-dirty'), this.dirty ? 'not saved yet' : '');
      return;
    }
    const note = this.service.note(id);
    setHidden(byId('note-delete'), false);
    if (!note || (note.deleted && note.sync !== 'local')) {
      setText(heading, note ? 'Deleted note' : 'Unknown note');
      setText(state, note ? 'This note was deleted.' : 'This tab has not seen this note (yet).');
      setData(state, 'sync', 'none');
      setHidden(form, true);
      setHidden(conflict, true);
      return;
    }
    const version = note.versions[0];
    setText(heading, version?.title || (note.deleted ? 'Deleted note' : 'Untitled'));
    setText(state, syncLabel(note));
    setData(state, 'sync', note.sync);
    setData(state, 'cached', String(note.cached));
    if (note.sync === 'conflict') {
      setHidden(form, true);
      setHidden(conflict, false);
      this.renderConflict(note);
      return;
    }
    setHidden(conflict, true);
    setHidden(form, note.deleted);
    // Another tab changed the note: refresh the editor unless the user is typing.
    if (version && version.rev !== this.editorRev) {
      if (!this.dirty) this.load(id);
    }
    setText(
      byId('note-dirty'),
      !this.dirty
        ? ''
        : version && version.rev !== this.editorRev
          ? 'not saved; this note changed elsewhere since you opened it — saving keeps both versions for you to merge'
          : 'not saved yet',
    );
  }

  private renderConflict(note: NoteState): void {
    setText(
      byId('conflict-explain'),
      note.deletions.length > 0
        ? 'One tab deleted this note while another edited it. Keep an edited version (or a merge), or keep it deleted.'
        : 'Tabs edited this note concurrently (for example one of them offline). Both versions are kept until you merge them; saving the merge replaces them on every node.',
    );
    const versionsShown = JSON.stringify([note.versions.map((v) => [v.rev, v.title, v.body, v.updatedBy, v.updatedAtMs]), note.deletions, note.unreadable]);
    this.conflictVersions.patchIfChanged(versionsShown, (box) => {
      note.versions.forEach((version, i) => {
        const card = el('article', undefined, 'version');
        card.dataset.key = `v-${version.rev}`;
        card.dataset.rev = version.rev;
        card.append(el('h4', `Version ${i + 1} · by ${this.who(version.updatedBy)}`), el('p', time(version.updatedAtMs), 'muted'));
        card.append(el('p', version.title || 'Untitled', 'version-title'), el('pre', version.body, 'version-body'));
        const use = el('button', 'Use this version', 'secondary small');
        use.type = 'button';
        use.dataset.use = version.rev;
        card.append(use);
        box.append(card);
      });
      note.deletions.forEach((deletion, i) => {
        const card = el('article', undefined, 'version deleted');
        card.dataset.key = `d-${i}-${deletion.by}`;
        card.append(el('h4', `Deleted · by ${this.who(deletion.by)}`), el('p', time(deletion.atMs), 'muted'), el('p', 'This version deletes the note.'));
        const use = el('button', 'Keep it deleted', 'secondary small');
        use.type = 'button';
        use.dataset.use = 'delete';
        card.append(use);
        box.append(card);
      });
      if (note.unreadable > 0) box.append(el('p', `${note.unreadable} version(s) are not notes this page can read; saving a merge replaces them.`, 'muted'));
    });
    setHidden(byId('merge-delete'), note.deletions.length === 0);
    // Propose a merge once per conflict (and never over what the user typed).
    const signature = `${note.id}:${note.context}`;
    if (this.mergeDirty || this.mergeFor === signature) return;
    this.mergeFor = signature;
    const proposal = this.service.proposal(note.id);
    byId<HTMLInputElement>('merge-title').value = proposal?.title ?? '';
    byId<HTMLTextAreaElement>('merge-body').value = proposal?.body ?? '';
    byId('merge-info').textContent = !proposal
      ? 'Nothing to merge: only a delete remains.'
      : proposal.ancestor
        ? `Proposed: a three-way merge against the version both started from (“${proposal.ancestor.title}”). ${proposal.conflicts === 0 ? 'The edits did not overlap.' : `${proposal.conflicts} place(s) changed on both sides are kept from each, between ${MARKERS.start.trim()} and ${MARKERS.end.trim()} lines: edit them before saving.`}`
        : `No common version is known, so both texts are kept between ${MARKERS.start.trim()} and ${MARKERS.end.trim()} lines: edit before saving.`;
  }
}
