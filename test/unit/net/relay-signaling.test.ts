/**
 * Relay routing of signals through the cluster (src/net/relay-signaling.ts): a small mesh of relays
 * wired to each other in memory. Checks delivery over several hops, the hop limit, de-duplication of a
 * flood, a destination nobody is connected to, and that only well-formed signals are passed on.
 */
import { describe, expect, it } from 'vitest';
import { RelaySignaling, type RelayEnvelope } from '../../../src/net/relay-signaling.js';
import type { Signal } from '../../../src/net/signal-message.js';

const offer = (from: string, to: string): Signal => ({
  kind: 'OFFER',
  from,
  to,
  payload: { sdp: { type: 'offer', sdp: 'v=0' }, type: 'data', connectionId: 'dc_1', label: 'dc_1', reliable: true, serialization: 'raw' },
});

/** Relays for `edges` (undirected), delivering synchronously; returns them and what each received. */
function mesh(edges: [string, string][], hopLimit?: number) {
  const neighbours = new Map<string, string[]>();
  for (const [a, b] of edges) {
    neighbours.set(a, [...(neighbours.get(a) ?? []), b]);
    neighbours.set(b, [...(neighbours.get(b) ?? []), a]);
  }
  const relays = new Map<string, RelaySignaling>();
  const delivered = new Map<string, { signal: Signal; via: string }[]>();
  const wire: { from: string; to: string; envelope: RelayEnvelope }[] = [];
  let ids = 0;
  for (const node of neighbours.keys()) {
    delivered.set(node, []);
    relays.set(
      node,
      new RelaySignaling({
        self: node,
        neighbours: () => neighbours.get(node) ?? [],
        sendTo: (to, envelope) => {
          wire.push({ from: node, to, envelope });
          relays.get(to)?.receive(node, structuredClone(envelope));
          return true;
        },
        deliver: (signal, via) => delivered.get(node)!.push({ signal, via }),
        nowMs: () => 0,
        newId: () => `env${String(++ids).padStart(8, '0')}`,
        ...(hopLimit !== undefined ? { hopLimit } : {}),
      }),
    );
  }
  return { relays, delivered, wire };
}

describe('relay routing', () => {
  it('delivers a signal over several hops, once, naming the last hop', () => {
    // a - b - c - d, and a - e - c: two routes from a to d.
    const { relays, delivered } = mesh([['a', 'b'], ['b', 'c'], ['c', 'd'], ['a', 'e'], ['e', 'c']]);
    const handed = relays.get('a')!.send(offer('a', 'd'));
    expect(handed.sort()).toEqual(['b', 'e']);
    expect(delivered.get('d')).toEqual([{ signal: offer('a', 'd'), via: 'c' }]);
    expect(delivered.get('b')).toEqual([]);
    // c heard the flood from b and from e and passed it on once; the second copy is a duplicate.
    expect(relays.get('c')!.stats.dropped.duplicate).toBe(1);
    expect(relays.get('c')!.stats.forwarded).toBe(1);
  });

  it('hands a signal straight to the destination when it is a neighbour', () => {
    const { relays, delivered, wire } = mesh([['a', 'b'], ['b', 'd'], ['b', 'c'], ['c', 'x']]);
    relays.get('a')!.send(offer('a', 'd'));
    expect(delivered.get('d')).toHaveLength(1);
    // b sent to d only, not to c as well.
    expect(wire.filter((w) => w.from === 'b').map((w) => w.to)).toEqual(['d']);
  });

  it('stops at the hop limit', () => {
    // A line a - n1 - n2 - n3 - d: three nodes between a and d.
    const line: [string, string][] = [['a', 'n1'], ['n1', 'n2'], ['n2', 'n3'], ['n3', 'd']];
    const short = mesh(line, 2);
    short.relays.get('a')!.send(offer('a', 'd'));
    expect(short.delivered.get('d')).toEqual([]);
    expect(short.relays.get('n3')!.stats.dropped['hop-limit']).toBe(1);
    const enough = mesh(line, 3);
    enough.relays.get('a')!.send(offer('a', 'd'));
    expect(enough.delivered.get('d')).toHaveLength(1);
  });

  it('drops a signal for a node nobody is connected to where the flood ends', () => {
    const { relays, delivered } = mesh([['a', 'b'], ['b', 'c']]);
    relays.get('a')!.send(offer('a', 'zz'));
    expect([...delivered.values()].flat()).toEqual([]);
    expect(relays.get('c')!.stats.dropped['no-route']).toBe(1);
  });

  it('sends nothing without a neighbour', () => {
    const relay = new RelaySignaling({ self: 'a', neighbours: () => [], sendTo: () => true, deliver: () => undefined, nowMs: () => 0, newId: () => 'abcdefgh' });
    expect(relay.canRoute()).toBe(false);
    expect(relay.send(offer('a', 'b'))).toEqual([]);
    expect(relay.stats.sent).toBe(0);
  });

  it('passes on nothing but signals: other payloads, oversize SDPs and bad headers are dropped and counted', () => {
    const { relays, wire } = mesh([['a', 'b'], ['b', 'c']]);
    const b = relays.get('b')!;
    const bad: unknown[] = [
      { type: 'signal-relay', id: 'abcdefgh1', hops: 3, signal: { kind: 'PUT', from: 'a', to: 'c', payload: { key: 'k' } } },
      { type: 'signal-relay', id: 'abcdefgh2', hops: 3, signal: { ...offer('a', 'c'), payload: { ...offer('a', 'c').payload, sdp: { type: 'offer', sdp: 'x'.repeat(17_000) } } } },
      { type: 'signal-relay', id: 'abcdefgh3', hops: 3, signal: { ...offer('a', 'c'), payload: { ...offer('a', 'c').payload, type: 'media' } } },
      { type: 'signal-relay', id: 'NOT VALID', hops: 3, signal: offer('a', 'c') },
      { type: 'signal-relay', id: 'abcdefgh4', hops: 99, signal: offer('a', 'c') },
      { type: 'signal-relay', id: 'abcdefgh5', hops: 2, signal: offer('a', 'c'), extra: new Uint8Array(10) },
    ];
    for (const message of bad.slice(0, 5)) expect(b.receive('a', message)).toBe('malformed');
    expect(b.stats.dropped.malformed).toBe(5);
    expect(wire).toEqual([]);
    // Unknown fields are not passed on: what c gets is exactly the schema's fields.
    expect(b.receive('a', bad[5])).toBeUndefined();
    expect(Object.keys(wire[0]!.envelope).sort()).toEqual(['hops', 'id', 'signal', 'type']);
  });

  it('drops a signal claiming to come from this node that it did not send', () => {
    const { relays } = mesh([['a', 'b'], ['b', 'c']]);
    expect(relays.get('a')!.receive('b', { type: 'signal-relay', id: 'forged123', hops: 3, signal: offer('a', 'c') })).toBe('loop');
  });
});
