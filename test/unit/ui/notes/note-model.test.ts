import { describe, expect, it } from 'vitest';
import {
  BODY_MAX_CHARS,
  commonAncestor,
  descendsFrom,
  MARKERS,
  mergeIndexes,
  nextVersion,
  NoteTooLargeError,
  parseIndex,
  parseNote,
  proposeMerge,
  type NoteValue,
} from '../../../../src/ui/notes/note-model.js';

const T0 = 1_700_000_000_000;

function edit(parent: NoteValue | undefined, inCluster: boolean, title: string, body: string, by: string, rev: string): NoteValue {
  return nextVersion('n1', parent, inCluster, { title, body }, by, T0, rev);
}

describe('note versions', () => {
  it('records lineage and the base the writer knew the cluster had', () => {
    const p = edit(undefined, false, 'Shopping', 'milk\neggs', 'tabA', 'p');
    expect(p.lineage).toEqual([]);
    expect(p.base).toBeUndefined();
    const a1 = edit(p, true, 'Shopping', 'milk\neggs\nbread', 'tabA', 'a1');
    expect(a1.lineage).toEqual(['p']);
    expect(a1.base).toEqual({ rev: 'p', title: 'Shopping', body: 'milk\neggs' });
    // A second edit saved only on this device keeps the base of the first.
    const a2 = edit(a1, false, 'Shopping', 'milk\neggs\nbread\njam', 'tabA', 'a2');
    expect(a2.lineage).toEqual(['a1', 'p']);
    expect(a2.base?.rev).toBe('p');
    expect(descendsFrom(a2, 'p')).toBe(true);
    expect(descendsFrom(a2, 'zz')).toBe(false);
    expect(parseNote(a2)).toEqual(a2);
  });

  it('refuses oversize notes before anything is written', () => {
    expect(() => edit(undefined, false, 'x'.repeat(201), '', 'tabA', 'r')).toThrow(NoteTooLargeError);
    expect(() => edit(undefined, false, 't', 'x'.repeat(BODY_MAX_CHARS + 1), 'tabA', 'r')).toThrow(NoteTooLargeError);
  });

  it('rejects values that are not notes', () => {
    expect(parseNote({ kind: 'note' })).toBeUndefined();
    expect(parseNote('<script>')).toBeUndefined();
    expect(parseNote({ ...edit(undefined, false, 't', 'b', 'x', 'r'), title: 7 })).toBeUndefined();
    expect(parseNote({ ...edit(undefined, false, 't', 'b', 'x', 'r'), id: '../etc' })).toBeUndefined();
  });
});

describe('the notes index', () => {
  it('merges siblings by union and ignores invalid ones', () => {
    const merged = mergeIndexes([{ kind: 'notes-index', ids: ['b', 'a'] }, { kind: 'notes-index', ids: ['c', 'a'] }, { kind: 'other' }, null]);
    expect(merged).toEqual({ kind: 'notes-index', ids: ['a', 'b', 'c'] });
    expect(parseIndex({ kind: 'notes-index', ids: ['A!'] })).toBeUndefined();
  });

  it('leaves out ids removed in any sibling, keeping the latest removal of each, so a stale copy does not bring one back', () => {
    const merged = mergeIndexes([
      { kind: 'notes-index', ids: ['a', 'b', 'c'] },
      { kind: 'notes-index', ids: ['a', 'c'], removed: [{ id: 'b', atMs: 5 }] },
      { kind: 'notes-index', ids: ['d'], removed: [{ id: 'b', atMs: 9 }, { id: 'c', atMs: 2 }] },
    ]);
    expect(merged).toEqual({ kind: 'notes-index', ids: ['a', 'd'], removed: [{ id: 'b', atMs: 9 }, { id: 'c', atMs: 2 }] });
    expect(parseIndex({ kind: 'notes-index', ids: [], removed: [{ id: 'b', atMs: 'x' }] })).toBeUndefined();
  });
});

describe('common ancestor', () => {
  const p = edit(undefined, false, 'Plan', 'one\ntwo\nthree', 'tabC', 'p');

  it('is the shared base of two edits made apart (one offline twice, one online once)', () => {
    const a1 = edit(p, true, 'Plan', 'one\ntwo\nthree\nfour', 'tabA', 'a1');
    const a2 = edit(a1, false, 'Plan', 'zero\none\ntwo\nthree\nfour', 'tabA', 'a2');
    const b1 = edit(p, true, 'Plan', 'one\n2\nthree', 'tabB', 'b1');
    expect(commonAncestor([a2, b1])).toEqual({ rev: 'p', title: 'Plan', body: 'one\ntwo\nthree' });
  });

  it('comes from the known revisions when no version carries its text', () => {
    const a1 = edit(p, true, 'Plan', 'one', 'tabA', 'a1');
    const a2 = edit(a1, true, 'Plan', 'one!', 'tabA', 'a2');
    const b1 = edit(p, true, 'Plan', 'two', 'tabB', 'b1');
    const b2 = edit(b1, true, 'Plan', 'two!', 'tabB', 'b2');
    expect(commonAncestor([a2, b2])).toBeUndefined();
    const seen = new Map([['p', { rev: 'p', title: 'Plan', body: 'one\ntwo\nthree' }]]);
    expect(commonAncestor([a2, b2], (rev) => seen.get(rev))?.rev).toBe('p');
  });

  it('is undefined for unrelated versions', () => {
    const x = edit(undefined, false, 'X', 'x', 'tabA', 'x');
    const y = edit(undefined, false, 'Y', 'y', 'tabB', 'y');
    expect(commonAncestor([x, y])).toBeUndefined();
  });
});

describe('proposed merge', () => {
  const p = edit(undefined, false, 'Plan', 'one\ntwo\nthree\nfour\nfive', 'tabC', 'p');

  it('keeps both sides of edits to different lines, with no clash', () => {
    const a = edit(p, true, 'Plan', 'ONE\ntwo\nthree\nfour\nfive', 'tabA', 'a');
    const b = edit(p, true, 'Plan for May', 'one\ntwo\nthree\nfour\nfive\nsix', 'tabB', 'b');
    const merged = proposeMerge([a, b], commonAncestor([a, b]));
    expect(merged).toMatchObject({ title: 'Plan for May', body: 'ONE\ntwo\nthree\nfour\nfive\nsix', conflicts: 0 });
  });

  it('marks edits to the same line and keeps both texts', () => {
    const a = edit(p, true, 'Plan A', 'one\nTWO from A\nthree\nfour\nfive', 'tabA', 'a');
    const b = edit(p, true, 'Plan B', 'one\ntwo from B\nthree\nfour\nfive', 'tabB', 'b');
    const merged = proposeMerge([a, b], commonAncestor([a, b]));
    expect(merged.conflicts).toBe(2);
    expect(merged.title).toBe('Plan A / Plan B');
    expect(merged.body).toBe(['one', `${MARKERS.start}tabA`, 'TWO from A', MARKERS.middle, 'two from B', `${MARKERS.end}tabB`, 'three', 'four', 'five'].join('\n'));
  });

  it('without an ancestor keeps every differing part of both', () => {
    const a = edit(undefined, false, 'T', 'alpha', 'tabA', 'a');
    const b = edit(undefined, false, 'T', 'beta', 'tabB', 'b');
    const merged = proposeMerge([a, b], undefined);
    expect(merged.conflicts).toBe(1);
    expect(merged.body).toContain('alpha');
    expect(merged.body).toContain('beta');
  });

  it('folds three versions', () => {
    const a = edit(p, true, 'Plan', 'one!\ntwo\nthree\nfour\nfive', 'tabA', 'a');
    const b = edit(p, true, 'Plan', 'one\ntwo\nthree!\nfour\nfive', 'tabB', 'b');
    const c = edit(p, true, 'Plan', 'one\ntwo\nthree\nfour\nfive!', 'tabC', 'c');
    expect(proposeMerge([a, b, c], commonAncestor([a, b, c])).body).toBe('one!\ntwo\nthree!\nfour\nfive!');
  });
});
