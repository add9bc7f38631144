/**
 * How the explorer words signaling (src/ui/explorer/signaling-model.ts): the header's server indicator
 * in each server state (with the retry countdown and what a down server means for this node), the
 * first-contact notice, and the Connections panel's rows and counters, from the shapes
 * `signalingStatus()` and `connections()` return.
 */
import { describe, expect, it } from 'vitest';
import type { SignalingStatus } from '../../../../src/runtime/dynamo-node.js';
import {
  connectionRows,
  connectionsView,
  describeIceStatus,
  describeNetworkPath,
  describeServer,
  describeSetup,
  firstContactNotice,
  formatAgeMs,
  openPeerCount,
  pathRows,
  relayDropsByReason,
  signalingCounters,
  type ConnectionView,
} from '../../../../src/ui/explorer/signaling-model.js';

const NOW_MS = 1_700_000_000_000;
const perPath = (sameBrowser = 0, relay = 0, server = 0): SignalingStatus['setups'] => ({ 'same-browser': sameBrowser, relay, server });

function status(server: SignalingStatus['server'], extra: Partial<SignalingStatus> = {}): SignalingStatus {
  return {
    server,
    sameBrowserNodes: [],
    offersSent: perPath(),
    offersReceived: perPath(),
    setups: perPath(),
    setupsLastMinute: perPath(),
    signalsSent: perPath(),
    signalsReceived: perPath(),
    noPath: 0,
    answerTimeouts: 0,
    malformed: 0,
    relay: { sent: 0, delivered: 0, forwarded: 0, dropped: { malformed: 0, duplicate: 0, 'hop-limit': 0, 'no-route': 0, loop: 0 } },
    waitingForFirstContact: false,
    ...extra,
  };
}

const url = 'ws://127.0.0.1:5173/peerjs/peerjs?key=peerjs';

describe('the signaling server indicator', () => {
  it('says reachable when the server is open, and nothing more', () => {
    expect(describeServer(status({ state: 'open', failures: 0, url, lastOpenAtMs: NOW_MS - 5000 }), 3, NOW_MS)).toEqual({ state: 'open', headline: 'reachable', detail: '' });
  });

  it('counts down to the next retry, naming the attempt it will be (failures + 1)', () => {
    const down = status({ state: 'unreachable', failures: 3, url, nextRetryAtMs: NOW_MS + 11_200 });
    expect(describeServer(down, 0, NOW_MS).headline).toBe('unreachable — retrying in 12 s (attempt 4)');
    expect(describeServer(down, 0, NOW_MS + 11_000).headline).toBe('unreachable — retrying in 1 s (attempt 4)');
    // Past the scheduled time (the retry is starting): never a negative countdown.
    expect(describeServer(down, 0, NOW_MS + 20_000).headline).toBe('unreachable — retrying now (attempt 4)');
  });

  it('says the cluster still works through its members while the server is down and connections are open', () => {
    const down = status({ state: 'unreachable', failures: 1, url, nextRetryAtMs: NOW_MS + 1000 });
    expect(describeServer(down, 4, NOW_MS)).toEqual({
      state: 'unreachable',
      headline: 'unreachable — retrying in 1 s (attempt 2)',
      detail: 'The cluster still works through its members (4 connected): new connections are set up through the cluster.',
    });
    expect(describeServer(down, 0, NOW_MS).detail).toMatch(/^No member connected yet/);
    expect(describeServer({ ...down, waitingForFirstContact: true }, 0, NOW_MS).detail).toBe('No other node known yet.');
  });

  it('names an id still held by an older tab, and a retry in progress', () => {
    expect(describeServer(status({ state: 'id-taken', failures: 2, url, nextRetryAtMs: NOW_MS + 2500 }), 1, NOW_MS).headline).toBe('id still held by an older tab — retrying in 3 s (attempt 3)');
    // The first try after start: just connecting, no detail.
    expect(describeServer(status({ state: 'connecting', failures: 0, url }), 0, NOW_MS)).toEqual({ state: 'connecting', headline: 'connecting…', detail: '' });
    // A retry: its attempt, and what holds meanwhile.
    const retry = describeServer(status({ state: 'connecting', failures: 4, url }), 2, NOW_MS);
    expect(retry.headline).toBe('connecting… (attempt 5)');
    expect(retry.detail).toMatch(/^The cluster still works through its members \(2 connected\)/);
  });

  it('a node without a server says so', () => {
    expect(describeServer(status({ state: 'none' }), 0, NOW_MS).headline).toBe('none configured');
  });
});

describe('the first-contact notice', () => {
  it('shows while the node has met no one and the server is not open', () => {
    const down = status({ state: 'unreachable', failures: 1, url, nextRetryAtMs: NOW_MS + 1000 }, { waitingForFirstContact: true });
    expect(firstContactNotice(down)).toMatch(/^This node is waiting for a first contact: the signaling server, or another tab of this cluster in this browser\. Meanwhile its stored data is served/);
    expect(firstContactNotice({ ...down, server: { state: 'connecting', failures: 0, url } })).toBeDefined();
  });

  it('does not show once the node met someone, nor while the server is open (a node alone is simply alone)', () => {
    expect(firstContactNotice(status({ state: 'unreachable', failures: 1, url }, { waitingForFirstContact: false }))).toBeUndefined();
    expect(firstContactNotice(status({ state: 'open', failures: 0, url }, { waitingForFirstContact: true }))).toBeUndefined();
  });
});

const link = (node: string, extra: Partial<ConnectionView> = {}): ConnectionView => ({ node, outbound: true, state: 'open', superseded: false, queuedFrames: 0, ageMs: 65_000, idleMs: 1_400, ...extra });

describe('the connections table', () => {
  it('words how each connection was set up', () => {
    expect(describeSetup({ path: 'same-browser' })).toBe('same browser');
    expect(describeSetup({ path: 'relay', via: 'k3x9' })).toBe('relay via k3x9');
    expect(describeSetup({ path: 'relay' })).toBe('relay');
    expect(describeSetup({ path: 'server' })).toBe('server');
    expect(describeSetup(undefined)).toBe('—');
  });

  it('formats ages and idle times coarsely: a healthy idle cluster does not change them every second', () => {
    expect([0, 999, 9_999, 10_000, 12_300, 59_999, 65_000, 3_599_000, 3_600_000 + 5 * 60_000].map(formatAgeMs)).toEqual([
      '< 10 s',
      '< 10 s',
      '< 10 s',
      '10 s',
      '10 s',
      '50 s',
      '1 min',
      '59 min',
      '1 h 5 min',
    ]);
    expect(formatAgeMs(-5)).toBe('< 10 s');
  });

  it('has one row per connection, sorted by node, outbound first, with keys stable for a second link alike', () => {
    const rows = connectionRows([
      link('b', { outbound: false, setup: { path: 'relay', via: 'c' } }),
      link('a', { setup: { path: 'same-browser' } }),
      link('b', { setup: { path: 'server' }, ageMs: 2_000 }),
      link('b', { state: 'draining', setup: { path: 'server' }, ageMs: 90_000 }),
      link('c', { state: 'waiting', queuedFrames: 3, ageMs: 500 }),
      link('d', { state: 'open', superseded: true, outbound: false, setup: { path: 'relay' } }),
    ]);
    expect(rows.map((r) => [r.key, r.direction, r.state, r.setup, r.age, r.idle])).toEqual([
      ['a out', 'out', 'open', 'same browser', '1 min', '< 10 s'],
      ['b out', 'out', 'draining', 'server', '1 min', '< 10 s'],
      ['b out 1', 'out', 'open', 'server', '< 10 s', '< 10 s'],
      ['b in', 'in', 'open', 'relay via c', '1 min', '< 10 s'],
      ['c out', 'out', 'waiting for a setup slot · 3 queued', '—', '< 10 s', '< 10 s'],
      ['d in', 'in', 'open · superseded', 'relay', '1 min', '< 10 s'],
    ]);
    expect(rows.map((r) => r.path)).toEqual(['same-browser', 'server', 'server', 'relay', undefined, 'relay']);
  });

  it('sums the panel up: rows, the summary with the server, counters, drops and the tabs of this browser', () => {
    const view = connectionsView(
      status({ state: 'open', failures: 0, url }, { sameBrowserNodes: ['c', 'a'] }),
      [link('a'), link('b', { state: 'opening' })],
      NOW_MS,
    );
    expect(view.summary).toBe('2 connections, 1 open; signaling server reachable');
    expect(view.rows.map((r) => r.key)).toEqual(['a out', 'b out']);
    expect(view.sameBrowser).toEqual([
      { node: 'a', connected: true },
      { node: 'c', connected: false },
    ]);
    expect(view.drops).toBe('Relay drops: no relayed signal dropped.');
    expect(view.paths.map((p) => p.path)).toEqual(['same-browser', 'relay', 'server']);
  });

  it('counts nodes with an open connection once each', () => {
    expect(openPeerCount([link('a'), link('a', { outbound: false }), link('b', { state: 'opening' }), link('c', { state: 'draining' })])).toBe(1);
  });
});

describe('the per-path counters', () => {
  it('lists setups (in all and last minute) and offers per path, in the order the router tries them', () => {
    const s = status({ state: 'open', failures: 0, url }, { setups: perPath(2, 5, 1), setupsLastMinute: perPath(0, 3, 0), offersSent: perPath(1, 4, 1), offersReceived: perPath(1, 2, 0) });
    expect(pathRows(s)).toEqual([
      { path: 'same-browser', label: 'same browser', setups: 2, setupsLastMinute: 0, offersSent: 1, offersReceived: 1 },
      { path: 'relay', label: 'relay', setups: 5, setupsLastMinute: 3, offersSent: 4, offersReceived: 2 },
      { path: 'server', label: 'server', setups: 1, setupsLastMinute: 0, offersSent: 1, offersReceived: 0 },
    ]);
  });

  it('sums the relay drops, with the reasons apart', () => {
    const s = status({ state: 'open', failures: 0, url }, {
      noPath: 2,
      answerTimeouts: 1,
      relay: { sent: 4, delivered: 3, forwarded: 7, dropped: { malformed: 0, duplicate: 5, 'hop-limit': 1, 'no-route': 0, loop: 0 } },
    });
    expect(signalingCounters(s)).toEqual([
      ['relayed for others', 7],
      ['relay drops', 6],
      ['signals with no path', 2],
      ['answer timeouts', 1],
      ['malformed signals', 0],
    ]);
    expect(relayDropsByReason(s)).toBe('duplicate 5, hop limit 1');
    expect(relayDropsByReason(status({ state: 'open', failures: 0, url }))).toBe('no relayed signal dropped');
  });
});

describe('network paths (issue 17)', () => {
  it('say how a connection travels: direct, through NAT (STUN) or relayed (TURN), with protocol and round trip', () => {
    expect(describeNetworkPath({ node: 'a', localType: 'host', remoteType: 'host', protocol: 'udp', rttMs: 0.4 })).toBe('direct: host ↔ host, udp, <1 ms');
    expect(describeNetworkPath({ node: 'a', localType: 'srflx', remoteType: 'prflx', protocol: 'udp', rttMs: 23.6 })).toBe('through NAT (STUN): srflx ↔ prflx, udp, 24 ms');
    expect(describeNetworkPath({ node: 'a', localType: 'relay', remoteType: 'srflx', protocol: 'udp', relayProtocol: 'tcp' })).toBe('relayed (TURN): relay ↔ srflx, udp via tcp');
  });

  it('say which STUN/TURN servers new connections use and where they came from', () => {
    const time = (ms: number) => `t${ms}`;
    expect(describeIceStatus({ urls: [], source: 'none' }, time)).toMatch(/none — connections are direct only/);
    expect(describeIceStatus({ urls: ['stun:s', 'turn:t', 'turns:t'], source: 'fetched', expiresAtMs: 5 }, time)).toBe("STUN/TURN servers: 1 STUN and 2 TURN, from the app's server; TURN credentials until t5.");
    expect(describeIceStatus({ urls: ['stun:s'], source: 'stored' }, time)).toBe("STUN/TURN servers: 1 STUN, this browser's copy (the server is not reached yet).");
  });
});
