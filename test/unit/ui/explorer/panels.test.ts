/**
 * The explorer's text panels without the DOM (src/ui/explorer/panels.ts): how the partition panel
 * words a transfer (progress while it runs, and after a failure the attempt count and why it failed,
 * so a handoff that keeps failing is visible rather than looking like one that is slow), and the
 * members table's rows as drawn — whose last-heard ages, apart from the rest, move only coarsely.
 */
import { describe, expect, it } from 'vitest';
import type { MemberRecord } from '../../../../src/index.js';
import { comparedAgo, describeTransfer, memberRowViews, type MemberRow, type TransferView } from '../../../../src/ui/explorer/panels.js';

const base: TransferView = { peer: 'b3k', reason: 'ownership', keysSent: 0, keysTotal: 0, state: 'running', attempts: 1 };

describe('describeTransfer', () => {
  it('shows progress while a transfer runs', () => {
    expect(describeTransfer({ ...base, keysSent: 128, keysTotal: 512 })).toBe('→ b3k 128/512 keys, running · ownership');
    expect(describeTransfer(base)).toBe('→ b3k keys not listed yet, running · ownership');
  });

  it('shows the attempt and the last failure once one failed', () => {
    expect(describeTransfer({ ...base, state: 'waiting', attempts: 3, lastError: 'refused', reason: 'sweep' })).toBe('→ b3k keys not listed yet, waiting to retry (attempt 3; last: refused) · sweep');
    expect(describeTransfer({ ...base, keysSent: 256, keysTotal: 512, attempts: 2, lastError: 'RequestTimeoutError: no answer' })).toBe(
      '→ b3k 256/512 keys, retrying (attempt 2; last: RequestTimeoutError: no answer) · ownership',
    );
  });
});

const NOW_MS = 1_700_000_000_000;

function row(id: string, extra: Partial<MemberRow> = {}, record: Partial<MemberRecord> = {}): MemberRow {
  return {
    record: { id, capacity: 1, status: 'up', version: 1, joinedAtMs: 0, incarnation: 2, history: [], pendingPartitions: [], handoffPartitions: [], ...record } as MemberRecord,
    seen: 'alive',
    partitions: 80,
    ideal: 85.3,
    keys: 300,
    hints: 0,
    lastHeardMs: NOW_MS - 3_000,
    connected: true,
    ...extra,
  };
}

describe('memberRowViews', () => {
  const colours = new Map([
    ['a', '#111'],
    ['b', '#222'],
    ['c', '#333'],
  ]);

  it('words each column, with the last-heard age apart and coarse', () => {
    const [self, peer, silent] = memberRowViews([row('a'), row('b'), row('c', { seen: 'unreachable', lastHeardMs: NOW_MS - 125_000, connected: false })], 'a', colours, NOW_MS);
    expect(self!.texts.node).toBe('a (this tab)');
    expect(self!.lastHeard).toBe('now');
    expect(peer!.texts).toEqual({ node: 'b', status: 'up', incarnation: '2', capacity: '1', partitions: '80 / 85.3', keys: '300', hints: '0' });
    expect(peer!.lastHeard).toBe('< 10 s ago · connected');
    expect(peer!.removable).toBe(false);
    expect(silent!.status).toBe('unreachable');
    expect(silent!.lastHeard).toBe('2 min ago');
    expect(silent!.removable).toBe(true);
    expect(silent!.colour).toBe('#333');
  });

  it('gives the same rows a few seconds later in a healthy cluster (nothing to redraw)', () => {
    const rows = [row('a'), row('b', { lastHeardMs: NOW_MS - 1_000 })];
    const later = [row('a'), row('b', { lastHeardMs: NOW_MS + 4_000 - 2_500 })];
    expect(memberRowViews(later, 'a', colours, NOW_MS + 4_000)).toEqual(memberRowViews(rows, 'a', colours, NOW_MS));
  });

  it('draws the load bar against the ideal share, none for a member outside the ring', () => {
    const [inRing, outside] = memberRowViews([row('a', { partitions: 128, ideal: 64 }), row('b', { partitions: 0, ideal: 0 })], 'a', colours, NOW_MS);
    expect(inRing!.bar).toEqual({ fillPercent: 100, tickPercent: 50 });
    expect(outside!.bar).toBeUndefined();
  });

  it('says when a partition was last compared, coarsely', () => {
    expect(comparedAgo({ lastComparedMs: NOW_MS - 4_000 }, NOW_MS)).toBe('< 10 s ago');
    expect(comparedAgo({ lastComparedMs: NOW_MS - 34_000 }, NOW_MS)).toBe('30 s ago');
  });
});
