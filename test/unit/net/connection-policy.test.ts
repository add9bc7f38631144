/**
 * Which connections a node closes (src/net/connection-policy.ts, `connectionsToClose` and `isPreferredConnection`):
 * duplicates — two connections to one node, made when both connected at once — go first and, once
 * idle, on their own; at the cap, the least recently used node's connections make room.
 */
import { describe, expect, it } from 'vitest';
import { DUPLICATE_IDLE_MS, isPreferredConnection, connectionsToClose, connectionToUse, ringNeighbours, type ConnectionView } from '../../../src/net/connection-policy.js';

const connection = (node: string, outbound: boolean, lastUsedMs: number, open = true, superseded = false): ConnectionView => ({ node, outbound, open, superseded, lastUsedMs });
const NOW = 100_000;

describe('preferred connection', () => {
  it('is the one opened by the node with the smaller id, as both ends see it', () => {
    // "a" < "b": a's outbound connection and b's inbound connection are the same one.
    expect(isPreferredConnection('a', { node: 'b', outbound: true })).toBe(true);
    expect(isPreferredConnection('a', { node: 'b', outbound: false })).toBe(false);
    expect(isPreferredConnection('b', { node: 'a', outbound: false })).toBe(true);
    expect(isPreferredConnection('b', { node: 'a', outbound: true })).toBe(false);
  });
});

describe('connectionToUse', () => {
  it('sends on the preferred one of two open connections, from both ends', () => {
    const fromA = [connection('b', false, 0), connection('b', true, 0)];
    expect(connectionToUse(fromA, 'a')).toBe(fromA[1]);
    const fromB = [connection('a', true, 0), connection('a', false, 0)];
    expect(connectionToUse(fromB, 'b')).toBe(fromB[1]);
  });

  it('waits for a new connection rather than sending on a superseded one', () => {
    const stale = connection('b', true, 0, true, true);
    const opening = connection('b', false, 0, false);
    expect(connectionToUse([stale, opening], 'a')).toBe(opening);
    // With nothing else, the superseded one is still better than dropping the message.
    expect(connectionToUse([stale], 'a')).toBe(stale);
  });
});

describe('connectionsToClose', () => {
  it('closes an idle duplicate and keeps the preferred connection, even under the cap', () => {
    const preferred = connection('b', true, NOW - 10_000);
    const duplicate = connection('b', false, NOW - DUPLICATE_IDLE_MS);
    expect(connectionsToClose([preferred, duplicate], 'a', 32, NOW, false)).toEqual([duplicate]);
  });

  it('leaves a duplicate that carried traffic lately (it may still hold messages in flight)', () => {
    const connections = [connection('b', true, NOW - 10_000), connection('b', false, NOW - DUPLICATE_IDLE_MS + 1)];
    expect(connectionsToClose(connections, 'a', 32, NOW, false)).toEqual([]);
  });

  it('never closes a connection still opening on its own (the other end may be about to use it)', () => {
    const open = connection('b', false, NOW - 60_000);
    const connecting = connection('b', true, NOW - 60_000, false);
    expect(connectionsToClose([open, connecting], 'a', 32, NOW, false)).toEqual([]);
  });

  it('closes a superseded connection once idle, while its replacement is open', () => {
    const stale = connection('b', true, NOW - 60_000, true, true);
    const fresh = connection('b', false, NOW - 60_000);
    expect(connectionsToClose([stale, fresh], 'a', 32, NOW, false)).toEqual([stale]);
    // Not while the replacement is still opening.
    expect(connectionsToClose([stale, { ...fresh, open: false }], 'a', 32, NOW, false)).toEqual([]);
  });

  it('leaves everything alone under the cap when nothing is a duplicate', () => {
    expect(connectionsToClose([connection('b', true, 0), connection('c', false, 0)], 'a', 3, NOW, true)).toEqual([]);
  });

  it('makes room at the cap with a busy duplicate before closing any node', () => {
    const duplicate = connection('b', false, NOW - 10);
    const connections = [connection('b', true, NOW - 5), duplicate, connection('c', true, NOW - 50_000)];
    expect(connectionsToClose(connections, 'a', 3, NOW, true)).toEqual([duplicate]);
  });

  it('makes room at the cap by closing the least recently used node, all its connections', () => {
    const old = connection('c', true, NOW - 50_000);
    const connections = [connection('b', true, NOW - 5), old, connection('d', false, NOW - 1_000)];
    expect(connectionsToClose(connections, 'a', 3, NOW, true)).toEqual([old]);
    const twoToC = [connection('b', true, NOW - 5), connection('c', true, NOW - 50_000), connection('c', false, NOW - 40_000, false), connection('d', false, NOW - 100)];
    // At a cap of 2, room for one more leaves one connection. c has one still opening (messages wait
    // for it): neither of c's is closed; d, then b go instead, least recently used first.
    const closed = connectionsToClose(twoToC, 'a', 2, NOW, true);
    expect(closed.map((c) => c.node)).toEqual(['d', 'b']);
  });

  it('never closes a connection still opening to make room: fewer come back and the caller waits', () => {
    const connections = [connection('b', true, NOW - 50_000, false), connection('c', true, NOW - 40_000, false), connection('d', false, NOW - 10)];
    expect(connectionsToClose(connections, 'a', 3, NOW, true)).toEqual([connections[2]]);
    expect(connectionsToClose(connections.slice(0, 2), 'a', 2, NOW, true)).toEqual([]);
  });

  it('closes connections to ring neighbours last, and those awaiting a reply after those that do not', () => {
    const neighbour = connection('b', true, NOW - 50_000);
    const awaiting = { ...connection('c', true, NOW - 40_000), awaitingReply: true };
    const quiet = connection('d', true, NOW - 10);
    const connections = [neighbour, awaiting, quiet];
    expect(connectionsToClose(connections, 'a', 3, NOW, true, new Set(['b']))).toEqual([quiet]);
    expect(connectionsToClose(connections, 'a', 2, NOW, true, new Set(['b']))).toEqual([quiet, awaiting]);
    // Never for room that others still opening hold: c's connection opening, b stays, nothing goes.
    const opening = [neighbour, { ...awaiting, open: false }];
    expect(connectionsToClose(opening, 'a', 2, NOW, true, new Set(['b']))).toEqual([]);
    // Only when kept nodes alone are more than the cap allows does one go.
    expect(connectionsToClose(connections, 'a', 1, NOW, true, new Set(['b']))).toEqual([quiet, awaiting, neighbour]);
    expect(connectionsToClose([neighbour, quiet], 'a', 2, NOW, true, new Set(['b', 'd']))).toEqual([neighbour]);
  });

  it('trims open connections back to the cap when it was exceeded (an accepted connection while all were opening)', () => {
    const connections = [connection('b', true, NOW - 5), connection('c', false, NOW - 900), connection('d', true, NOW - 50)];
    expect(connectionsToClose(connections, 'a', 2, NOW, false)).toEqual([connections[1]]);
    expect(connectionsToClose(connections, 'a', 3, NOW, false)).toEqual([]);
  });
});

describe('ringNeighbours', () => {
  it('is the successor and the predecessor by id, which both ends agree on', () => {
    const members = ['e', 'a', 'c', 'b', 'd'];
    expect(ringNeighbours('c', members)).toEqual(['d', 'b']);
    expect(ringNeighbours('e', members)).toEqual(['a', 'd']);
    expect(ringNeighbours('a', members)).toEqual(['b', 'e']);
    // Every node is the successor of exactly one node and the predecessor of exactly one: a ring.
    const successors = members.map((m) => ringNeighbours(m, members)[0]);
    expect(new Set(successors).size).toBe(members.length);
    for (const m of members) {
      const [next] = ringNeighbours(m, members);
      expect(ringNeighbours(next!, members)[1]).toBe(m);
    }
  });

  it('has one neighbour with two nodes, none alone, and counts this node even when not listed', () => {
    expect(ringNeighbours('a', ['a', 'b'])).toEqual(['b']);
    expect(ringNeighbours('a', ['a'])).toEqual([]);
    expect(ringNeighbours('b', ['a', 'c'])).toEqual(['c', 'a']);
  });
});
