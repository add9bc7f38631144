/**
 * Noticing this node's own stalls (src/core/local-stalls.ts) and what a stall gives the requests in
 * flight (src/core/request-table.ts `reprieve`): a tick gap well beyond the usual one is a stall of
 * its excess length; requests that fell due meanwhile get one short reprieve each, never two.
 */
import { describe, expect, it } from 'vitest';
import { RequestTimeoutError } from '../../../src/core/errors.js';
import { LocalStalls, STALL_MIN_MS } from '../../../src/core/local-stalls.js';
import { RequestTable } from '../../../src/core/request-table.js';

describe('LocalStalls', () => {
  it('learns the usual tick gap and reports a gap beyond max(250 ms, 3 × usual) as a stall of its excess', () => {
    const stalls = new LocalStalls();
    let t = 0;
    expect(stalls.tick(t)).toBe(0);
    for (let i = 0; i < 50; i++) expect(stalls.tick((t += 100))).toBe(0);
    // 250 ms is within max(250, 300): no stall; 1.6 s is one of 1.5 s.
    expect(stalls.tick((t += 250))).toBe(0);
    t += 1_600;
    const stalled = stalls.tick(t);
    expect(stalled).toBeGreaterThan(1_480);
    expect(stalled).toBeLessThan(1_520);
    expect(stalls.count).toBe(1);
    expect(stalls.totalMs).toBe(stalled);
    // The stall does not change the usual gap: the next normal gap is normal.
    expect(stalls.tick(t + 100)).toBe(0);
  });

  it('a node ticking slowly on purpose (every second) is not stalled on every tick', () => {
    const stalls = new LocalStalls();
    for (let t = 0; t < 20_000; t += 1_000) expect(stalls.tick(t)).toBe(0);
    expect(stalls.tick(20_000 + STALL_MIN_MS)).toBe(0);
    expect(stalls.count).toBe(0);
  });
});

describe('RequestTable.reprieve', () => {
  it('gives requests and timers that fell due during the stall one reprieve; a reply read in it settles the request', async () => {
    let now = 0;
    const sent: { to: string; requestId: number }[] = [];
    const table = new RequestTable({ now: () => now }, { next: () => 0 }, (to, message) => sent.push({ to, requestId: (message as { requestId: number }).requestId }));
    const answered = table.request('b', { type: 'ping' }, 100);
    const silent = table.request('c', { type: 'ping' }, 100);
    const notDue = table.request('d', { type: 'ping' }, 5_000);
    let fired = 0;
    table.after(100, () => fired++);
    // Stalled until 2 s: everything but `notDue` fell due meanwhile.
    now = 2_000;
    expect(table.reprieve(now, 500)).toBe(3);
    table.expire(now);
    expect(fired).toBe(0);
    // The reply that waited in the task queue is read now, within the reprieve.
    expect(table.settle('b', { type: 'ping-reply', requestId: sent[0]!.requestId })).toBe(true);
    await expect(answered).resolves.toMatchObject({ type: 'ping-reply' });
    // A second stall over the end of the reprieve does not reprieve them again: the silent one times out.
    now = 3_000;
    expect(table.reprieve(now, 500)).toBe(0);
    table.expire(now);
    await expect(silent).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(fired).toBe(1);
    expect(table.size).toBe(1);
    now = 5_000;
    table.expire(now);
    await expect(notDue).rejects.toBeInstanceOf(RequestTimeoutError);
  });
});
