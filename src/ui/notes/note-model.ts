/**
 * The notes demo's data model (paper §2.3, §4.4, §6.3: the application resolves concurrent versions).
 *
 * A note lives under the key `note:<id>` as a {@link NoteValue}; the list of notes lives under
 * {@link NOTES_INDEX_KEY} as a set of ids. Both are plain JSON values of the store, so any node can read
 * them, and both can have siblings after concurrent writes:
 *
 * - index siblings merge mechanically: the union of their ids, less the union of their removed ids. A
 *   deleted note stays listed while its tombstone lives (an edit concurrent with the delete still finds
 *   the note); once the store purged the tombstone (tombstone-purge.ts), a tab that saw the delete and
 *   now reads nothing under the key removes the id, recording when, so that copies of the index that
 *   still list it do not bring it back. A removal is itself forgotten after the store's grace period;
 *   that bounds the index (a tab away longer than that may list the id again: it reads as nothing);
 * - note siblings are shown to the user, who merges them. To propose a three-way merge the app needs
 *   the versions' common ancestor: every version carries its lineage (the revision ids it descends
 *   from, newest first) and `base`, the text of the last version its writer knew the cluster had
 *   (edits made offline one after another keep the base they started from, so two tabs that edited the
 *   same note apart usually carry their common ancestor's text).
 *
 * Everything here is pure; values read from the store are untrusted and validated with valibot.
 */
import { diff3Merge } from 'node-diff3';
import * as v from 'valibot';

/** Key prefix of notes; the id follows. */
export const NOTE_KEY_PREFIX = 'note:';
/** Key of the set of note ids. */
export const NOTES_INDEX_KEY = 'notes:index';
/** Longest title, characters. */
export const TITLE_MAX_CHARS = 200;
/** Longest body, characters (a note with its base stays far below the store's 1 MiB value limit). */
export const BODY_MAX_CHARS = 100_000;
/** Revision ids kept in a note's lineage. */
export const LINEAGE_MAX = 64;

const NOTE_ID = /^[a-z0-9]{1,32}$/;

/** A note's text at one revision. */
export interface NoteRevision {
  rev: string;
  title: string;
  body: string;
}

/** A note as stored (one version; concurrent writes make several). */
export interface NoteValue extends NoteRevision {
  kind: 'note';
  id: string;
  /** Wall time of the edit on the writer's machine, ms since the epoch (display only). */
  updatedAtMs: number;
  /** Node id of the tab that wrote it. */
  updatedBy: string;
  /** Revision ids this version descends from, newest first, at most {@link LINEAGE_MAX}. */
  lineage: string[];
  /** The last version its writer knew to be in the cluster, which this one descends from. */
  base?: NoteRevision;
}

/** The set of note ids as stored. */
export interface NotesIndex {
  kind: 'notes-index';
  ids: string[];
  /** Ids removed (their notes deleted and purged) and when, ms since the epoch; absent when none. */
  removed?: RemovedNote[];
}

/** A note id removed from the index, and when (ms since the epoch, the remover's clock). */
export interface RemovedNote {
  id: string;
  atMs: number;
}

const revisionSchema = v.object({
  rev: v.pipe(v.string(), v.regex(/^[a-z0-9]{1,32}$/)),
  title: v.pipe(v.string(), v.maxLength(TITLE_MAX_CHARS)),
  body: v.pipe(v.string(), v.maxLength(BODY_MAX_CHARS)),
});

const noteSchema = v.object({
  ...revisionSchema.entries,
  kind: v.literal('note'),
  id: v.pipe(v.string(), v.regex(NOTE_ID)),
  updatedAtMs: v.pipe(v.number(), v.finite()),
  updatedBy: v.pipe(v.string(), v.maxLength(64)),
  lineage: v.pipe(v.array(v.pipe(v.string(), v.maxLength(32))), v.maxLength(LINEAGE_MAX)),
  base: v.optional(revisionSchema),
});

const indexSchema = v.object({
  kind: v.literal('notes-index'),
  ids: v.pipe(v.array(v.pipe(v.string(), v.regex(NOTE_ID))), v.maxLength(100_000)),
  removed: v.optional(v.pipe(v.array(v.object({ id: v.pipe(v.string(), v.regex(NOTE_ID)), atMs: v.pipe(v.number(), v.finite()) })), v.maxLength(100_000))),
});

/** Thrown when a title or body is too long; nothing is written. */
export class NoteTooLargeError extends Error {
  override name = 'NoteTooLargeError';
}

/** The key of note `id`. */
export function noteKey(id: string): string {
  return `${NOTE_KEY_PREFIX}${id}`;
}

/** A new random id (notes and revisions): 12 characters of [a-z0-9]. */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('');
}

/** A stored value as a note, or undefined when it is not a valid one (another program's, or corrupt). */
export function parseNote(value: unknown): NoteValue | undefined {
  const result = v.safeParse(noteSchema, value);
  return result.success ? (result.output as NoteValue) : undefined;
}

/** A stored value as the index, or undefined when it is not a valid one. */
export function parseIndex(value: unknown): NotesIndex | undefined {
  const result = v.safeParse(indexSchema, value);
  return result.success ? result.output : undefined;
}

/**
 * The merge of index siblings (invalid ones contribute nothing): the union of their ids less every id
 * removed in any of them, sorted, and the removals (latest time per id, sorted by id; absent when none).
 */
export function mergeIndexes(values: unknown[]): NotesIndex {
  const ids = new Set<string>();
  const removed = new Map<string, number>();
  for (const value of values) {
    const index = parseIndex(value);
    for (const id of index?.ids ?? []) ids.add(id);
    for (const { id, atMs } of index?.removed ?? []) removed.set(id, Math.max(atMs, removed.get(id) ?? -Infinity));
  }
  return indexValue(ids, removed);
}

/** The index listing `ids` less `removed`'s ids, with `removed` (id → when, ms). */
export function indexValue(ids: Iterable<string>, removed: ReadonlyMap<string, number>): NotesIndex {
  const listed = [...ids].filter((id) => !removed.has(id)).sort();
  if (removed.size === 0) return { kind: 'notes-index', ids: listed };
  const entries = [...removed].map(([id, atMs]) => ({ id, atMs })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { kind: 'notes-index', ids: listed, removed: entries };
}

/**
 * The next version of a note after an edit.
 * @param parent the version being edited (undefined for a new note)
 * @param parentInCluster whether the writer knows the cluster has `parent` (it was read from the
 *   cluster, or written with a full write quorum); when not (an edit saved only on this device), the
 *   new version keeps the parent's base.
 * @throws NoteTooLargeError when the title or body is too long.
 */
export function nextVersion(
  id: string,
  parent: NoteValue | undefined,
  parentInCluster: boolean,
  edit: { title: string; body: string },
  by: string,
  nowMs: number,
  rev: string = newId(),
): NoteValue {
  if (edit.title.length > TITLE_MAX_CHARS) throw new NoteTooLargeError(`a title has at most ${TITLE_MAX_CHARS} characters, this one ${edit.title.length}`);
  if (edit.body.length > BODY_MAX_CHARS) throw new NoteTooLargeError(`a note has at most ${BODY_MAX_CHARS.toLocaleString('en')} characters, this one ${edit.body.length.toLocaleString('en')}`);
  const base = parent === undefined ? undefined : parentInCluster ? { rev: parent.rev, title: parent.title, body: parent.body } : parent.base;
  return {
    kind: 'note',
    id,
    rev,
    title: edit.title,
    body: edit.body,
    updatedAtMs: nowMs,
    updatedBy: by,
    lineage: parent === undefined ? [] : [parent.rev, ...parent.lineage].slice(0, LINEAGE_MAX),
    ...(base !== undefined ? { base } : {}),
  };
}

/** Whether `version` is `rev` or descends from it. */
export function descendsFrom(version: NoteValue, rev: string): boolean {
  return version.rev === rev || version.lineage.includes(rev);
}

/**
 * The most recent common ancestor of `versions` whose text is known: from a version's base, one of the
 * versions itself, or `known` (e.g. revisions this tab has seen). Undefined when none is known.
 */
export function commonAncestor(versions: readonly NoteValue[], known: (rev: string) => NoteRevision | undefined = () => undefined): NoteRevision | undefined {
  if (versions.length === 0) return undefined;
  const texts = new Map<string, NoteRevision>();
  for (const version of versions) {
    texts.set(version.rev, { rev: version.rev, title: version.title, body: version.body });
    if (version.base) texts.set(version.base.rev, version.base);
  }
  const [first, ...rest] = versions;
  for (const rev of [first!.rev, ...first!.lineage]) {
    if (!rest.every((other) => descendsFrom(other, rev))) continue;
    const text = texts.get(rev) ?? known(rev);
    if (text !== undefined) return text;
  }
  return undefined;
}

/** A proposed merge of concurrent versions. */
export interface MergeProposal {
  title: string;
  body: string;
  /** Regions where the versions changed the same lines differently (marked in `body`), plus a title clash. */
  conflicts: number;
  /** The ancestor the merge was computed against (undefined: none known, so every difference clashes). */
  ancestor: NoteRevision | undefined;
}

/** Marker lines around a clash in a proposed body. */
export const MARKERS = { start: '<<<<<<< ', middle: '=======', end: '>>>>>>> ' } as const;

/**
 * Three-way merge of the bodies (by line, node-diff3) and titles of `versions` against `ancestor`,
 * folded left to right. Where two versions changed the same lines differently both are kept, between
 * marker lines naming their writers, for the user to edit; a title clash joins both titles with " / ".
 */
export function proposeMerge(versions: readonly NoteValue[], ancestor: NoteRevision | undefined): MergeProposal {
  if (versions.length === 0) throw new Error('nothing to merge');
  let title = versions[0]!.title;
  let body = versions[0]!.body;
  let label = versions[0]!.updatedBy;
  let conflicts = 0;
  const origin = ancestor ?? { rev: '', title: '', body: '' };
  for (const other of versions.slice(1)) {
    // Titles: one line each, merged as a whole.
    if (other.title !== title) {
      if (title === origin.title) title = other.title;
      else if (other.title !== origin.title) {
        title = `${title} / ${other.title}`.slice(0, TITLE_MAX_CHARS);
        conflicts++;
      }
    }
    const lines: string[] = [];
    for (const region of diff3Merge(body.split('\n'), origin.body.split('\n'), other.body.split('\n'), { excludeFalseConflicts: true })) {
      if (region.ok) lines.push(...region.ok);
      else if (region.conflict) {
        conflicts++;
        lines.push(`${MARKERS.start}${label}`, ...region.conflict.a, MARKERS.middle, ...region.conflict.b, `${MARKERS.end}${other.updatedBy}`);
      }
    }
    body = lines.join('\n');
    label = `${label} + ${other.updatedBy}`;
  }
  return { title, body, conflicts, ancestor };
}
