/**
 * The contract of the core's `Transport` port (src/core/ports.ts), run against every implementation
 * (STYLE.md habit 4; js-libp2p's transport compliance suite): the in-memory network
 * (memory-transport.test.ts) and PeerJS data channels over stand-in peers (peerjs-transport.test.ts).
 *
 * What the core relies on, and so what every transport must do on a calm network (no faults injected):
 *
 *   addressing   a message sent to a node arrives at that node only, with the sender's id
 *   fidelity     it arrives once, as an equal copy that passes the core's validation (parseMessage):
 *                bytes stay bytes, nothing is shared with the sender's object; large ones arrive whole
 *   order        messages from one node to another arrive in the order sent (the core copes with
 *                reordering — the simulation reorders on purpose — but a calm transport must not)
 *   best effort  send never throws: to an unknown node or a node that is gone, the message is lost
 *                (the core's request deadlines notice)
 *   gone         nothing is delivered to a node that left, not even what was in flight
 *   untrusted    bytes that do not decode never reach the core as a message: the transport drops (and
 *                reports) them, or hands on a value parseMessage refuses, which the core drops and
 *                counts; the messages around them still arrive
 *   isConnected  optional; when present: false for a node never reached, true once a connection to it
 *                carried a message, false again after that node left
 *
 * Receiving is not part of the port (each transport hands decoded messages to its node in its own
 * way), so a fixture wraps an implementation as a small network of endpoints that record what arrives.
 *
 * Not in the contract: that a node that left can send nothing more. PeerjsTransport refuses to send
 * once closed; the memory network still carries what a detached node sends, and the simulation harness
 * drops it instead (a crashed node's core may finish work it had started).
 */
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { parseMessage, type Message } from '../../src/core/messages.js';
import type { Transport } from '../../src/core/ports.js';
import type { NodeId, VersionSet } from '../../src/core/types.js';

/** One node of a {@link TransportNetwork}. */
export interface TransportEndpoint {
  id: NodeId;
  /** What the node's core sends through. */
  transport: Transport;
  /** What arrived at this node, in arrival order: the sender and the decoded (untrusted) message. */
  inbox: { from: NodeId; message: unknown }[];
  /** Messages the transport dropped on arrival and reported (undefined: this transport reports none). */
  dropsReported?: () => number;
}

/** A network of endpoints of one transport implementation, as the contract needs it. */
export interface TransportNetwork {
  /** Starts node `id` (a tab opening) and its transport. */
  join(id: NodeId): Promise<TransportEndpoint>;
  /** Node `id` is gone (its tab closed): its transport closes; the others are not told directly. */
  leave(id: NodeId): Promise<void>;
  /** Lets everything sent so far arrive (runs virtual time, or the stand-in channels, until quiet). */
  settle(): Promise<void>;
  /**
   * Sends bytes that are not one MessagePack value from `from` to `to`, the way a message between
   * them travels (after the messages `from` sent before). Both nodes have exchanged a message already.
   */
  sendUndecodable(from: NodeId, to: NodeId): void;
  /** Releases everything (timers, connections). */
  close(): Promise<void>;
}

/** Makes a fresh network per test. */
export type TransportNetworkFactory = () => Promise<TransportNetwork>;

function versions(data: Uint8Array | null, counter = 1): VersionSet {
  const dot = { node: 'a', counter, timestampMs: 1_700_000_000_000 + counter };
  return { clock: [dot], siblings: [{ dot, data }] };
}

const ping = (requestId: number): Message => ({ type: 'ping', requestId });

/** A replica-put whose value is `size` bytes of a pattern (checked on arrival). */
function putOf(requestId: number, size: number): Extract<Message, { type: 'replica-put' }> {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + requestId) & 0xff;
  return { type: 'replica-put', requestId, key: `k${requestId}`, versions: versions(data, requestId) };
}

const requestIds = (inbox: TransportEndpoint['inbox'], from?: NodeId): number[] =>
  inbox.filter((m) => from === undefined || m.from === from).map((m) => (m.message as { requestId?: number }).requestId ?? -1);

/** Declares the contract suite for one implementation. */
export function runTransportContract(name: string, factory: TransportNetworkFactory): void {
  describe(`Transport contract: ${name}`, () => {
    let network: TransportNetwork;

    beforeEach(async () => {
      network = await factory();
    });

    afterEach(async () => {
      await network.close();
    });

    describe('addressing', () => {
      it('delivers a message to its addressee, with the sender id', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        a.transport.send('b', ping(1));
        await network.settle();
        expect(b.inbox).toEqual([{ from: 'a', message: ping(1) }]);
        expect(a.inbox).toEqual([]);
      });

      it('delivers to the addressee only, telling senders apart, among four nodes sending to each other', async () => {
        const ids = ['a', 'b', 'c', 'd'];
        const nodes = await Promise.all(ids.map((id) => network.join(id)));
        // requestId = 10·sender + addressee: each arrival says who sent it and whom it was for.
        for (const [s, sender] of nodes.entries()) {
          for (const [r, receiver] of nodes.entries()) if (sender !== receiver) sender.transport.send(receiver.id, ping(10 * s + r));
        }
        await network.settle();
        for (const [r, receiver] of nodes.entries()) {
          const got = receiver.inbox.map((m) => [m.from, (m.message as { requestId: number }).requestId]).sort();
          const expected = ids.flatMap((id, s) => (s === r ? [] : [[id, 10 * s + r]])).sort();
          expect(got, `what ${receiver.id} received`).toEqual(expected);
        }
      });

      it('answers go back to the sender: a reply sent on arrival reaches the requester', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        a.transport.send('b', ping(7));
        await network.settle();
        const [request] = b.inbox;
        b.transport.send(request!.from, { type: 'ping-reply', requestId: 7 });
        await network.settle();
        expect(a.inbox).toEqual([{ from: 'b', message: { type: 'ping-reply', requestId: 7 } }]);
      });
    });

    describe('fidelity', () => {
      it('delivers each message once, equal to what was sent and valid for the core', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        const sent: Message[] = [
          putOf(1, 16),
          { type: 'replica-put', requestId: 2, key: 'tomb', versions: versions(null, 2) },
          { type: 'ae-hashes-reply', requestId: 3, hashes: [new Uint8Array(16), Uint8Array.from({ length: 16 }, (_, i) => i)] },
          { type: 'coordinate-put', requestId: 4, key: 'k', data: Uint8Array.of(1, 2, 3), context: [], contextDots: [], w: 2, timeoutMs: 1_000 },
          { type: 'error-reply', requestId: 5, code: 'QuorumNotReachedError', message: 'ünïcode ✓', answered: 1, needed: 2 },
        ];
        for (const message of sent) a.transport.send('b', message);
        await network.settle();
        expect(b.inbox.map((m) => m.message)).toEqual(sent);
        for (const { message } of b.inbox) expect(parseMessage(message).ok, JSON.stringify(message)).toBe(true);
        const put = b.inbox[0]!.message as Extract<Message, { type: 'replica-put' }>;
        expect(put.versions.siblings[0]!.data).toBeInstanceOf(Uint8Array);
        expect((b.inbox[1]!.message as Extract<Message, { type: 'replica-put' }>).versions.siblings[0]!.data).toBeNull();
      });

      it('shares nothing with the sender: changing the message after send changes nothing that arrives', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        const message = putOf(1, 8);
        const bytes = message.versions.siblings[0]!.data!;
        const expected = structuredClone(message);
        a.transport.send('b', message);
        bytes.fill(0);
        message.key = 'changed';
        message.versions.clock.length = 0;
        await network.settle();
        expect(b.inbox.map((m) => m.message)).toEqual([expected]);
        const arrived = (b.inbox[0]!.message as typeof message).versions.siblings[0]!.data!;
        expect(arrived.buffer).not.toBe(bytes.buffer);
      });

      it('delivers a large message whole (a value of 300 KiB, several data-channel frames)', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        const large = putOf(1, 300 * 1024);
        a.transport.send('b', ping(0));
        a.transport.send('b', large);
        a.transport.send('b', ping(2));
        await network.settle();
        expect(requestIds(b.inbox)).toEqual([0, 1, 2]);
        const arrived = b.inbox[1]!.message as typeof large;
        const bytesOf = (m: typeof large): Uint8Array => m.versions.siblings[0]!.data!;
        expect({ ...arrived, versions: null }).toEqual({ ...large, versions: null });
        expect(arrived.versions.clock).toEqual(large.versions.clock);
        // Compared as one buffer: an element-wise comparison of 300 KiB takes most of a second.
        expect(Buffer.compare(bytesOf(arrived), bytesOf(large))).toBe(0);
      });
    });

    describe('order', () => {
      it('delivers the messages of one sender in the order sent, those sent before a connection existed included', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        const c = await network.join('c');
        for (let i = 0; i < 30; i++) {
          a.transport.send('b', ping(i));
          c.transport.send('b', ping(100 + i));
          // Part of the way, let what was sent arrive (connections open meanwhile, where there are any).
          if (i === 10) await network.settle();
        }
        await network.settle();
        expect(requestIds(b.inbox, 'a')).toEqual(Array.from({ length: 30 }, (_, i) => i));
        expect(requestIds(b.inbox, 'c')).toEqual(Array.from({ length: 30 }, (_, i) => 100 + i));
      });

      it('keeps each direction in order when two nodes send to each other at once', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        for (let i = 0; i < 10; i++) {
          a.transport.send('b', ping(i));
          b.transport.send('a', ping(50 + i));
        }
        await network.settle();
        expect(requestIds(b.inbox, 'a')).toEqual(Array.from({ length: 10 }, (_, i) => i));
        expect(requestIds(a.inbox, 'b')).toEqual(Array.from({ length: 10 }, (_, i) => 50 + i));
      });
    });

    describe('best effort, and nodes that are gone', () => {
      it('send to a node that never existed does not throw and delivers nothing anywhere', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        expect(() => a.transport.send('nobody', ping(1))).not.toThrow();
        await network.settle();
        a.transport.send('b', ping(2));
        await network.settle();
        expect(requestIds(b.inbox)).toEqual([2]);
        expect(a.inbox).toEqual([]);
      });

      it('delivers nothing to a node that left, neither what was in flight nor what is sent later', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        a.transport.send('b', ping(1));
        await network.settle();
        a.transport.send('b', ping(2));
        await network.leave('b');
        expect(() => a.transport.send('b', ping(3))).not.toThrow();
        await network.settle();
        expect(requestIds(b.inbox)).toEqual([1]);
        // The sender still reaches the others.
        const c = await network.join('c');
        a.transport.send('c', ping(4));
        await network.settle();
        expect(requestIds(c.inbox)).toEqual([4]);
      });
    });

    describe('untrusted input', () => {
      it('never hands undecodable bytes to the core as a message; the messages around them arrive', async () => {
        const a = await network.join('a');
        const b = await network.join('b');
        a.transport.send('b', ping(1));
        await network.settle();
        const dropsBefore = b.dropsReported?.() ?? 0;
        a.transport.send('b', ping(2));
        network.sendUndecodable('a', 'b');
        a.transport.send('b', ping(3));
        await network.settle();
        const valid = b.inbox.filter((m) => parseMessage(m.message).ok);
        expect(valid.map((m) => m.message)).toEqual([ping(1), ping(2), ping(3)]);
        const refused = b.inbox.length - valid.length;
        const dropped = (b.dropsReported?.() ?? 0) - dropsBefore;
        // Dropped by the transport (and reported) or refused by the core's validation: one or the other.
        expect(refused + dropped, `refused by the core: ${refused}, dropped by the transport: ${dropped}`).toBe(1);
        if (b.dropsReported !== undefined) expect(dropped).toBe(1);
      });
    });

    describe('isConnected (optional)', () => {
      it('is false for a node never reached, true once a message reached it, false after it left', async (context) => {
        const a = await network.join('a');
        const b = await network.join('b');
        const isConnected = a.transport.isConnected?.bind(a.transport);
        if (isConnected === undefined) context.skip();
        expect(isConnected!('b')).toBe(false);
        expect(isConnected!('nobody')).toBe(false);
        a.transport.send('b', ping(1));
        await network.settle();
        expect(requestIds(b.inbox)).toEqual([1]);
        expect(isConnected!('b')).toBe(true);
        // The node that was reached sees the connection too.
        expect(b.transport.isConnected!('a')).toBe(true);
        await network.leave('b');
        await network.settle();
        expect(isConnected!('b')).toBe(false);
      });

      it('does not count a connection whose node is unknown, even after sending to it', async (context) => {
        const a = await network.join('a');
        if (a.transport.isConnected === undefined) context.skip();
        a.transport.send('nobody', ping(1));
        await network.settle();
        expect(a.transport.isConnected!('nobody')).toBe(false);
      });
    });
  });
}
