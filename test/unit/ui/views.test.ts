/** The explorer's node colours (src/ui/views.ts, `nodeColours`): stable per node as members come and go. */
import { describe, expect, it } from 'vitest';
import { nodeColours } from '../../../src/ui/views.js';

const member = (id: string, joinedAtMs = 0): { id: string; joinedAtMs: number } => ({ id, joinedAtMs });

describe('node colours', () => {
  it('a node joining later takes a new colour and changes no one else’s, whatever the ids', () => {
    const before = Array.from({ length: 30 }, (_, i) => member(`n${(i * 7919) % 1000}`, 1_000 + i));
    const colours = nodeColours(before);
    // Ids that sort first, last and in between: none moves anyone.
    for (const id of ['a0', 'zz9', 'n500']) {
      const after = nodeColours([...before, member(id, 5_000)]);
      for (const m of before) expect(after.get(m.id)).toBe(colours.get(m.id));
      expect([...colours.values()]).not.toContain(after.get(id));
    }
  });

  it('is the same in every tab: it does not depend on the order members are listed in', () => {
    const members = [member('c', 3), member('a', 1), member('b', 2), member('d')];
    const reversed = nodeColours([...members].reverse());
    expect([...nodeColours(members)].sort()).toEqual([...reversed].sort());
  });

  it('gives the first ten distinct colours, and distinct hues after them', () => {
    const colours = nodeColours(Array.from({ length: 40 }, (_, i) => member(`m${i}`, i)));
    expect(new Set(colours.values()).size).toBe(40);
  });
});
