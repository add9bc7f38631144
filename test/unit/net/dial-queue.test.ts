/**
 * The dial queue (src/net/dial-queue.ts) and the translation of PeerJS errors (src/net/peerjs-errors.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DialQueue, type DialGate } from '../../../src/net/dial-queue.js';
import { connectFailureKey, connectionErrorKey, peerErrorMeaning } from '../../../src/net/peerjs-errors.js';

afterEach(() => vi.useRealTimers());

describe('dial queue', () => {
  it('starts in order while the gate says go, waits and looks again after a wait, and stays put after a stop', () => {
    vi.useFakeTimers();
    const queue = new DialQueue<string>(50);
    const started: string[] = [];
    let verdicts: DialGate[] = ['go', 'wait'];
    const gate = (): DialGate => verdicts.shift() ?? 'stop';
    for (const id of ['b', 'c', 'd']) queue.push(id);
    queue.drain(gate, (id) => started.push(id));
    expect(started).toEqual(['b']);
    verdicts = ['go', 'go'];
    vi.advanceTimersByTime(49);
    expect(started).toEqual(['b']);
    vi.advanceTimersByTime(1);
    expect(started).toEqual(['b', 'c', 'd']);
    expect(queue.size).toBe(0);
  });

  it('forgets removed items and, on clear, the pending look', () => {
    vi.useFakeTimers();
    const queue = new DialQueue<string>(50);
    const started: string[] = [];
    queue.push('b');
    queue.push('c');
    queue.remove('b');
    expect(queue.has('b')).toBe(false);
    queue.drain(() => 'wait', (id) => started.push(id));
    queue.clear();
    vi.advanceTimersByTime(100);
    expect(started).toEqual([]);
  });
});

describe('PeerJS errors', () => {
  it('name the node a peer-unavailable error is about, only for this cluster', () => {
    expect(peerErrorMeaning('c', { type: 'peer-unavailable', message: 'Could not connect to peer dyn-c-bb7' })).toEqual({ counter: 'peer-unavailable', unreachable: 'bb7' });
    expect(peerErrorMeaning('c', { type: 'peer-unavailable', message: 'Could not connect to peer dyn-other-bb7' })).toEqual({ counter: 'peer-unavailable' });
    expect(peerErrorMeaning('c', { type: 'webrtc', message: 'x' })).toEqual({ counter: 'webrtc' });
    expect(peerErrorMeaning('c', {})).toEqual({ counter: 'unknown' });
  });

  it('give connection and connect failures their counter keys', () => {
    expect(connectionErrorKey({ type: 'negotiation-failed' })).toBe('connection:negotiation-failed');
    expect(connectionErrorKey(undefined)).toBe('connection:unknown');
    expect(connectFailureKey(new DOMException('too many', 'UnknownError'))).toBe('connect:UnknownError');
    expect(connectFailureKey('no-path')).toBe('connect:no-path');
    expect(connectFailureKey(42)).toBe('connect:unknown');
  });
});
