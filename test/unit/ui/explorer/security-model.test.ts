/**
 * How the page words the members-only cluster (src/ui/explorer/security-model.ts): the invitation
 * fragment taken off the address, the notice of a browser that started a cluster of its own, the
 * removal statements (newest first, with who removed whom) and the handshake counters.
 */
import { describe, expect, it } from 'vitest';
import {
  formatRemovalTime,
  handshakeTime,
  newClusterNotice,
  refusalReasons,
  removalLines,
  securityCounters,
  withoutInvitation,
  type SecurityStatsView,
} from '../../../../src/ui/explorer/security-model.js';

describe('withoutInvitation', () => {
  it('drops an invitation fragment and keeps the query', () => {
    expect(withoutInvitation('http://127.0.0.1:4173/?cluster=team#invite=AbC-_12')).toBe('http://127.0.0.1:4173/?cluster=team');
    expect(withoutInvitation('https://example.org/app/index.html?cluster=a&n=3#invite=x')).toBe('https://example.org/app/index.html?cluster=a&n=3');
  });

  it('leaves an address without an invitation alone (no fragment, or a route of the page)', () => {
    expect(withoutInvitation('http://127.0.0.1:4173/?cluster=team')).toBeUndefined();
    expect(withoutInvitation('http://127.0.0.1:4173/?cluster=team#/notes/abc')).toBeUndefined();
    expect(withoutInvitation('http://127.0.0.1:4173/?cluster=team#/')).toBeUndefined();
  });
});

describe('newClusterNotice', () => {
  it('tells a tab that created the secret, alone, how to join an existing cluster instead', () => {
    const notice = newClusterNotice('created', 'team', 0);
    expect(notice).toContain('started a new cluster named “team”');
    expect(notice).toContain('ask one of its members for its invitation link');
    expect(notice).toContain('Invite button');
  });

  it('says nothing once others are there, or when the secret came from this browser or an invitation', () => {
    expect(newClusterNotice('created', 'team', 1)).toBeUndefined();
    expect(newClusterNotice('stored', 'team', 0)).toBeUndefined();
    expect(newClusterNotice('invited', 'team', 0)).toBeUndefined();
  });
});

describe('removalLines', () => {
  const time = (atMs: number): string => `t${atMs}`;

  it('lists who removed whom and when, newest first', () => {
    const lines = removalLines(
      [
        { target: 'aaa', by: 'bbb', atMs: 1_000 },
        { target: 'ccc', by: 'ddd', atMs: 3_000 },
        { target: 'eee', by: 'bbb', atMs: 2_000 },
      ],
      'zzz',
      time,
    );
    expect(lines.map((l) => l.text)).toEqual(['ccc removed by ddd at t3000', 'eee removed by bbb at t2000', 'aaa removed by bbb at t1000']);
    expect(lines[0]).toMatchObject({ who: 'ccc removed by ddd', time: 't3000', atMs: 3_000 });
  });

  it('marks this tab, keeps a stable order for statements of the same time, and gives each its own key', () => {
    const lines = removalLines(
      [
        { target: 'bbb', by: 'me1', atMs: 5 },
        { target: 'aaa', by: 'me1', atMs: 5 },
        { target: 'me1', by: 'ccc', atMs: 4 },
      ],
      'me1',
      time,
    );
    expect(lines.map((l) => l.text)).toEqual(['aaa removed by me1 (this tab) at t5', 'bbb removed by me1 (this tab) at t5', 'me1 (this tab) removed by ccc at t4']);
    expect(new Set(lines.map((l) => l.key)).size).toBe(3);
  });

  it('leaves the input unsorted and gives an empty list for no removals', () => {
    const removals = [{ target: 'a', by: 'b', atMs: 1 }, { target: 'c', by: 'b', atMs: 2 }];
    removalLines(removals, 'x', time);
    expect(removals[0]!.target).toBe('a');
    expect(removalLines([], 'x', time)).toEqual([]);
  });
});

describe('formatRemovalTime', () => {
  it('gives the time of day for a removal of today, and the date too for an older one', () => {
    const nowMs = new Date(2025, 4, 20, 15, 0, 0).getTime();
    const today = new Date(2025, 4, 20, 9, 30, 5).getTime();
    const earlier = new Date(2025, 4, 18, 9, 30, 5).getTime();
    expect(formatRemovalTime(today, nowMs, 'en-GB')).toBe('09:30:05');
    expect(formatRemovalTime(earlier, nowMs, 'en-GB')).toBe(new Date(earlier).toLocaleString('en-GB'));
    expect(formatRemovalTime(earlier, nowMs, 'en-GB')).toContain('18/05/2025');
  });
});

describe('handshake counters', () => {
  const stats = (refusedByReason: Record<string, number>, accepted = 7): SecurityStatsView => ({
    handshakesAccepted: accepted,
    handshakesRefused: Object.values(refusedByReason).reduce((a, b) => a + b, 0),
    refusedByReason,
    connectionsRefused: 4,
    handshakeMs: { p50: 12.4, max: 80.6 },
    recordsRejected: 2,
    removalsRejected: 1,
  });

  it('names every counter', () => {
    expect(securityCounters(stats({ 'bad-mac': 3 }))).toEqual([
      ['handshakes accepted', 7],
      ['handshakes refused', 3],
      ['connections refused', 4],
      ['records rejected', 2],
      ['removals rejected', 1],
    ]);
  });

  it('lists refusals by reason in words, most frequent first', () => {
    expect(refusalReasons(stats({ timeout: 1, 'bad-mac': 3, 'not-admitted': 1, 'wrong-node': 0 }))).toBe('no cluster secret 3, removed node 1, timed out 1');
    expect(refusalReasons(stats({ 'some-new_reason': 2 }))).toBe('some new reason 2');
    expect(refusalReasons(stats({}))).toBe('none');
    expect(refusalReasons(stats({ 'bad-mac': 0 }))).toBe('none');
  });

  it('gives the handshake time once a handshake was accepted', () => {
    expect(handshakeTime(stats({}))).toBe('median 12 ms, at most 81 ms');
    expect(handshakeTime(stats({}, 0))).toBeUndefined();
  });
});
