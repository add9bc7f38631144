/** The explorer's activity log model: merging bursts of one kind, the line limit, revisions. */
import { describe, expect, it } from 'vitest';
import { ActivityLog, LOG_MERGE_WINDOW_MS, logLineText } from '../../../../src/ui/explorer/activity-log.js';

describe('activity log', () => {
  it('events of one kind within the window share the first one’s line, showing the latest and the count', () => {
    const log = new ActivityLog(40);
    log.add('put', 'put a', 1_000);
    log.add('put', 'put b', 1_400);
    log.add('put', 'put c', 1_000 + LOG_MERGE_WINDOW_MS - 1);
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({ atMs: 1_000, count: 3, text: 'put c' });
    expect(logLineText(log.entries[0]!)).toBe('put c (+2 more like it within 1 s)');
  });

  it('a new line begins once the window of the first event is over', () => {
    const log = new ActivityLog(40);
    log.add('put', 'put a', 1_000);
    log.add('put', 'put b', 1_000 + LOG_MERGE_WINDOW_MS);
    expect(log.entries.map((e) => [e.text, e.count])).toEqual([
      ['put b', 1],
      ['put a', 1],
    ]);
    expect(logLineText(log.entries[1]!)).toBe('put a');
  });

  it('kinds merge separately, even interleaved; events without a kind always get their own line', () => {
    const log = new ActivityLog(40);
    log.add('put', 'put a', 0);
    log.add('hint-stored', 'hint x', 10);
    log.add(undefined, 'n3: leave', 20);
    log.add('put', 'put b', 30);
    log.add('hint-stored', 'hint y', 40);
    log.add(undefined, 'n4: leave', 50);
    expect(log.entries.map((e) => [e.text, e.count])).toEqual([
      ['n4: leave', 1],
      ['n3: leave', 1],
      ['hint y', 2],
      ['put b', 2],
    ]);
  });

  it('keeps the newest lines only, and changes a line’s revision whenever its text changes', () => {
    const log = new ActivityLog(3);
    for (let i = 0; i < 5; i++) log.add(undefined, `event ${i}`, i);
    expect(log.entries.map((e) => e.text)).toEqual(['event 4', 'event 3', 'event 2']);
    const seqs = log.entries.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(3);
    log.add('put', 'put a', 100);
    const rev = log.entries[0]!.rev;
    log.add('put', 'put b', 200);
    expect(log.entries[0]!.rev).toBeGreaterThan(rev);
    expect(log.entries[0]!.seq).toBe(Math.max(...seqs) + 1);
  });
});
