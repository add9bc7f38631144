/**
 * The notes page (route `#/notes`, `#/notes/<id>`): a list with search, an editor, the offline switch
 * and the conflict view with a proposed merge. It talks to {@link NotesService} only; every piece of
 * note text is written with `textContent` or into form fields, never parsed as HTML. Notes shown from
 * this browser's cache of notes seen (the page opened offline) carry an "offline copy" badge.
 */
import type { ReloadGuard } from '../app-update.js';
import { byId } from '../dom.js';
import { patch } from '../explorer/patch.js';
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

  constructor(
    private readonly service: NotesService,
    private readonly self: string,
    reloadGuard: Pick<ReloadGuard, 'holdReloadWhile'>,
  ) {
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
    this.service.setVisible(active);
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

  render(): void {
    if (!this.active) return;
    this.renderConnection();
    this.renderList();
    this.renderEditorState();
  }

  private renderConnection(): void {
    const status = byId('notes-connection');
    const pending = this.service.pendingCount();
    const waiting = pending === 0 ? '' : ` ${pending} edit${pending === 1 ? '' : 's'} waiting to sync.`;
    const button = byId<HTMLButtonElement>('notes-offline');
    button.textContent = this.service.offline ? 'Go back online' : 'Go offline';
    button.setAttribute('aria-pressed', String(this.service.offline));
    if (this.service.offline) {
      status.dataset.state = 'offline';
      status.textContent = `Offline (switched off on this page): edits are saved on this device and sync when you go back online.${waiting}`;
    } else if (typeof navigator !== 'undefined' && navigator.onLine === false) {
      status.dataset.state = 'offline';
      status.textContent = `The browser is offline: edits are saved on this device and sync when it is back online.${waiting}${this.cachedNote()}`;
    } else if (!this.service.canReachQuorum()) {
      status.dataset.state = 'offline';
      status.textContent = `Cannot reach enough nodes for a write quorum: edits are saved on this device and sync by themselves.${waiting}${this.cachedNote()}`;
    } else {
      status.dataset.state = pending > 0 ? 'syncing' : 'online';
      status.textContent = pending > 0 ? `Online, syncing.${waiting}` : 'Online: every save is confirmed by a write quorum.';
    }
  }

  /** A sentence on notes shown from this browser's cache, if any are. */
  private cachedNote(): string {
    return this.service.list().some((note) => note.cached) ? ' Notes marked “offline copy” are as this browser last saw them.' : '';
  }

  private renderList(): void {
    const search = byId<HTMLInputElement>('notes-search').value;
    const notes = this.service.list(search);
    patch(byId('notes-list'), (list) => {
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
    byId('notes-empty').hidden = notes.length > 0;
    byId('notes-empty').textContent = search !== '' ? `No note title contains “${search}”.` : 'No notes yet. Every tab of this cluster sees the notes you write here, even the ones you write offline.';
  }

  private renderEditorState(): void {
    const id = this.selected;
    const form = byId<HTMLFormElement>('note-form');
    const conflict = byId('conflict');
    const heading = byId('note-heading');
    const state = byId('note-state');
    if (id === undefined) {
      heading.textContent = 'No note selected';
      state.textContent = 'Choose a note on the left, or make a new one.';
      state.dataset.sync = 'none';
      form.hidden = true;
      conflict.hidden = true;
      return;
    }
    if (id === 'new') {
      heading.textContent = 'New note';
      state.textContent = this.service.canReachQuorum() ? '' : 'Offline: it will be saved on this device and sync later.';
      state.dataset.sync = 'new';
      form.hidden = false;
      conflict.hidden = true;
      byId('note-delete').hidden = true;
      byId('note-dirty').textContent = this.dirty ? 'not saved yet' : '';
      return;
    }
    const note = this.service.note(id);
    byId('note-delete').hidden = false;
    if (!note || (note.deleted && note.sync !== 'local')) {
      heading.textContent = note ? 'Deleted note' : 'Unknown note';
      state.textContent = note ? 'This note was deleted.' : 'This tab has not seen this note (yet).';
      state.dataset.sync = 'none';
      form.hidden = true;
      conflict.hidden = true;
      return;
    }
    const version = note.versions[0];
    heading.textContent = version?.title || (note.deleted ? 'Deleted note' : 'Untitled');
    state.textContent = syncLabel(note);
    state.dataset.sync = note.sync;
    state.dataset.cached = String(note.cached);
    if (note.sync === 'conflict') {
      form.hidden = true;
      conflict.hidden = false;
      this.renderConflict(note);
      return;
    }
    conflict.hidden = true;
    form.hidden = note.deleted;
    // Another tab changed the note: refresh the editor unless the user is typing.
    if (version && version.rev !== this.editorRev) {
      if (!this.dirty) this.load(id);
    }
    byId('note-dirty').textContent = !this.dirty
      ? ''
      : version && version.rev !== this.editorRev
        ? 'not saved; this note changed elsewhere since you opened it — saving keeps both versions for you to merge'
        : 'not saved yet';
  }

  private renderConflict(note: NoteState): void {
    byId('conflict-explain').textContent =
      note.deletions.length > 0
        ? 'One tab deleted this note while another edited it. Keep an edited version (or a merge), or keep it deleted.'
        : 'Tabs edited this note concurrently (for example one of them offline). Both versions are kept until you merge them; saving the merge replaces them on every node.';
    patch(byId('conflict-versions'), (box) => {
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
    byId('merge-delete').hidden = note.deletions.length === 0;
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
