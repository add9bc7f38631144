/**
 * The failure detector (src/core/failure-detector.ts; paper §4.8.3 after SWIM), driven directly: fake
 * probe ports whose pings the test answers or fails by hand, a fixed random source, and explicit
 * `tick(nowMs)` calls. Nothing sleeps: after a probe settles, `settle()` only lets the detector's
 * promise callbacks run.
 *
 *   period   tick(0) probes one peer; the next probe waits for tick(probeIntervalMs) and for the
 *            direct ping to settle
 *   probe    ping ──✗──▶ ping-req via k helpers ──✗──▶ suspect ── suspicionTimeoutMs ──▶ unreachable
 *   back     any message (heardFrom), a higher incarnation, or forgetting every suspicion
 */
import { describe, expect, it } from 'vitest';
import { FailureDetector, type FailureDetectorConfig, type ProbePorts, type Reachability } from '../../../src/core/failure-detector.js';
import type { NodeId } from '../../../src/core/types.js';

const CONFIG: FailureDetectorConfig = { probeIntervalMs: 1_000, probeTimeoutMs: 400, indirectProbes: 2, suspicionTimeoutMs: 3_000 };

/** A probe the test settles by hand. */
interface PendingProbe {
  kind: 'ping' | 'ping-req';
  /** The helper asked to probe (ping-req only). */
  via?: NodeId;
  target: NodeId;
  timeoutMs: number;
  ack(): void;
  fail(): void;
}

/** Fake ports: every probe waits for the test; every change of reachability is recorded. */
class FakePorts implements ProbePorts {
  readonly probes: PendingProbe[] = [];
  readonly changes: string[] = [];
  /** Peers with an open connection; undefined: the port has no `isConnected` (every peer counts). */
  connected: Set<NodeId> | undefined;
  isConnected?: (peer: NodeId) => boolean;

  constructor(connected?: readonly NodeId[]) {
    if (connected !== undefined) {
      this.connected = new Set(connected);
      this.isConnected = (peer) => this.connected!.has(peer);
    }
  }

  ping(target: NodeId, timeoutMs: number): Promise<void> {
    return this.pending('ping', undefined, target, timeoutMs);
  }

  pingVia(via: NodeId, target: NodeId, timeoutMs: number): Promise<void> {
    return this.pending('ping-req', via, target, timeoutMs);
  }

  onChange(peer: NodeId, from: Reachability, to: Reachability, nowMs: number): void {
    this.changes.push(`${nowMs} ${peer} ${from}->${to}`);
  }

  /** The probes not settled yet. */
  open(): PendingProbe[] {
    return this.probes.filter((p) => !settledProbes.has(p));
  }

  /** Targets of the direct pings sent so far, in order. */
  pinged(): NodeId[] {
    return this.probes.filter((p) => p.kind === 'ping').map((p) => p.target);
  }

  private pending(kind: PendingProbe['kind'], via: NodeId | undefined, target: NodeId, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const probe: PendingProbe = {
        kind,
        target,
        timeoutMs,
        ...(via !== undefined ? { via } : {}),
        ack: () => {
          settledProbes.add(probe);
          resolve();
        },
        fail: () => {
          settledProbes.add(probe);
          reject(new Error(`${kind} to ${target} timed out`));
        },
      };
      this.probes.push(probe);
    });
  }
}

const settledProbes = new WeakSet<PendingProbe>();

/** Lets the detector's promise callbacks run (no time passes: the detector reads time only from tick). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A fixed random source: 0 keeps the probe order predictable (and is what a test can reason about). */
const zero = { next: (): number => 0 };

/**
 * A detector of node `a` watching `peers`, set at 0 ms. A probe suspects only a peer not heard from
 * since the probe started, so tests that expect a suspicion start probing at 1000 ms.
 */
function detector(peers: readonly NodeId[], ports = new FakePorts(), config: Partial<FailureDetectorConfig> = {}): { fd: FailureDetector; ports: FakePorts } {
  const fd = new FailureDetector('a', { ...CONFIG, ...config }, zero, ports);
  fd.setPeers(['a', ...peers], 0);
  return { fd, ports };
}

/** Ticks at `nowMs`, fails the direct ping then every indirect probe the tick started; returns the target. */
async function missedProbe(fd: FailureDetector, ports: FakePorts, nowMs: number): Promise<NodeId> {
  fd.tick(nowMs);
  const [ping] = ports.open();
  expect(ping?.kind).toBe('ping');
  ping!.fail();
  await settle();
  for (const probe of ports.open()) probe.fail();
  await settle();
  return ping!.target;
}

describe('the probe cycle', () => {
  it('probes one peer per protocol period, each peer once per pass, with the configured timeout', async () => {
    const { fd, ports } = detector(['b', 'c', 'd']);
    for (let period = 0; period < 3; period++) {
      fd.tick(period * 1_000);
      // Halfway through the period nothing more is sent.
      fd.tick(period * 1_000 + 500);
      expect(ports.open()).toHaveLength(1);
      ports.open()[0]!.ack();
      await settle();
    }
    expect(ports.pinged().sort()).toEqual(['b', 'c', 'd']);
    expect(ports.probes.every((p) => p.timeoutMs === CONFIG.probeTimeoutMs)).toBe(true);
    expect(fd.probesSent).toBe(3);
    // The next pass probes every peer again.
    for (let period = 3; period < 6; period++) {
      fd.tick(period * 1_000);
      ports.open()[0]!.ack();
      await settle();
    }
    expect(ports.pinged().slice(3).sort()).toEqual(['b', 'c', 'd']);
    expect(ports.changes).toEqual([]);
  });

  it('does not start a probe while the previous direct ping is unanswered, even when the period is over', async () => {
    const { fd, ports } = detector(['b', 'c']);
    fd.tick(0);
    fd.tick(1_000);
    fd.tick(2_000);
    expect(ports.probes).toHaveLength(1);
    ports.probes[0]!.ack();
    await settle();
    fd.tick(2_000);
    expect(ports.probes).toHaveLength(2);
  });

  it('watches only the peers set: itself never, a removed peer no more, a new one alive', async () => {
    const { fd, ports } = detector(['b', 'c']);
    expect(fd.snapshot().map((s) => s.id)).toEqual(['b', 'c']);
    const suspected = await missedProbe(fd, ports, 1_000);
    expect(fd.status(suspected)).toBe('suspect');
    fd.setPeers(['a', 'd'], 2_000);
    expect(fd.snapshot().map((s) => [s.id, s.status])).toEqual([['d', 'alive']]);
    // A forgotten peer is no longer reported: unknown ids count as alive.
    expect(fd.status(suspected)).toBe('alive');
    expect(fd.suspicions()).toEqual([]);
    fd.tick(2_000);
    expect(ports.open().map((p) => p.target)).toEqual(['d']);
  });

  it('probes nobody without peers', () => {
    const { fd, ports } = detector([]);
    fd.tick(0);
    fd.tick(5_000);
    expect(ports.probes).toEqual([]);
  });
});

describe('suspicion', () => {
  it('suspects a peer whose ping and indirect probes all fail, telling onChange once', async () => {
    const { fd, ports } = detector(['b', 'c', 'd', 'e']);
    fd.tick(1_000);
    const ping = ports.open()[0]!;
    ping.fail();
    await settle();
    const indirect = ports.open();
    // k = 2 of the 3 other peers, neither of them the target, each asked for the rest of the period.
    expect(indirect.map((p) => p.kind)).toEqual(['ping-req', 'ping-req']);
    expect(indirect.every((p) => p.target === ping.target && p.via !== ping.target)).toBe(true);
    expect(new Set(indirect.map((p) => p.via)).size).toBe(2);
    expect(indirect.every((p) => p.timeoutMs === CONFIG.probeIntervalMs - CONFIG.probeTimeoutMs)).toBe(true);
    expect(fd.status(ping.target)).toBe('alive');
    fd.tick(1_700);
    indirect[0]!.fail();
    await settle();
    expect(fd.status(ping.target)).toBe('alive');
    indirect[1]!.fail();
    await settle();
    expect(fd.status(ping.target)).toBe('suspect');
    expect(fd.isHealthy(ping.target)).toBe(true);
    expect(ports.changes).toEqual([`1700 ${ping.target} alive->suspect`]);
    expect(fd.suspicions()).toEqual([{ id: ping.target, incarnation: 0 }]);
    expect(fd.indirectRounds).toBe(1);
  });

  it('keeps a peer alive when one indirect probe gets an ack', async () => {
    const { fd, ports } = detector(['b', 'c', 'd']);
    fd.tick(0);
    ports.open()[0]!.fail();
    await settle();
    const [first, second] = ports.open();
    first!.fail();
    second!.ack();
    await settle();
    expect(fd.suspicions()).toEqual([]);
    expect(ports.changes).toEqual([]);
  });

  it('keeps a peer alive when a message from it arrived while it was being probed', async () => {
    const { fd, ports } = detector(['b', 'c', 'd']);
    fd.tick(1_000);
    const ping = ports.open()[0]!;
    fd.heardFrom(ping.target, 1_300);
    ping.fail();
    await settle();
    for (const probe of ports.open()) probe.fail();
    await settle();
    expect(fd.status(ping.target)).toBe('alive');
  });

  it('suspects at once when no other peer can probe indirectly', async () => {
    const { fd, ports } = detector(['b']);
    await missedProbe(fd, ports, 1_000);
    expect(fd.status('b')).toBe('suspect');
    expect(fd.indirectRounds).toBe(0);
  });

  it('asks only alive peers to probe indirectly', async () => {
    const { fd, ports } = detector(['b', 'c', 'd']);
    fd.suspicionHeard('c', 0, 5_000);
    expect(fd.status('c')).toBe('suspect');
    // Probe until the target is b or d: the helpers then exclude the suspected c.
    for (let t = 5_000; ; t += 1_000) {
      fd.tick(t);
      const ping = ports.open()[0]!;
      if (ping.target === 'c') {
        ping.ack();
        await settle();
        fd.suspicionHeard('c', 0, t + 1_500);
        continue;
      }
      ping.fail();
      await settle();
      expect(ports.open().map((p) => p.via)).toEqual([ping.target === 'b' ? 'd' : 'b']);
      return;
    }
  });
});

describe('unreachable', () => {
  it('declares a suspect unreachable suspicionTimeoutMs after the suspicion, not before', async () => {
    const { fd, ports } = detector(['b']);
    await missedProbe(fd, ports, 1_000);
    expect(ports.changes).toEqual(['1000 b alive->suspect']);
    fd.tick(3_999);
    expect(fd.status('b')).toBe('suspect');
    fd.tick(4_000);
    expect(fd.status('b')).toBe('unreachable');
    expect(fd.isHealthy('b')).toBe(false);
    expect(ports.changes).toEqual(['1000 b alive->suspect', '4000 b suspect->unreachable']);
    expect(fd.suspicions()).toEqual([{ id: 'b', incarnation: 0 }]);
  });

  it('waits longer in larger clusters: the timeout grows with log n beyond 5 members', () => {
    const peers = Array.from({ length: 24 }, (_, i) => `p${i}`);
    const { fd, ports } = detector(peers);
    // 25 members: 3000 · log 25 / log 5 = 6000 ms.
    expect(fd.suspicionTimeoutMs()).toBe(6_000);
    expect(detector(['b', 'c', 'd', 'e']).fd.suspicionTimeoutMs()).toBe(3_000);
    fd.unreachableReported('p7', 10_000);
    fd.tick(15_999);
    expect(fd.status('p7')).toBe('suspect');
    fd.tick(16_000);
    expect(fd.status('p7')).toBe('unreachable');
    expect(ports.changes.at(-1)).toBe('16000 p7 suspect->unreachable');
  });

  it('a connection that could not be opened makes an alive peer suspect at once, and leaves an unreachable one unreachable', () => {
    const { fd, ports } = detector(['b', 'c']);
    fd.unreachableReported('b', 100);
    expect(fd.status('b')).toBe('suspect');
    fd.tick(3_100);
    expect(fd.status('b')).toBe('unreachable');
    fd.unreachableReported('b', 3_200);
    expect(fd.status('b')).toBe('unreachable');
    fd.unreachableReported('nobody', 3_200);
    expect(fd.snapshot().map((s) => s.id)).toEqual(['b', 'c']);
    expect(ports.changes).toEqual(['100 b alive->suspect', '3100 b suspect->unreachable']);
  });
});

describe('coming back', () => {
  it('any message from a suspect or unreachable peer makes it alive', () => {
    const { fd, ports } = detector(['b', 'c']);
    fd.unreachableReported('b', 0);
    fd.heardFrom('b', 10);
    expect(fd.status('b')).toBe('alive');
    fd.unreachableReported('c', 0);
    fd.tick(3_000);
    fd.heardFrom('c', 3_010);
    expect(fd.status('c')).toBe('alive');
    expect(ports.changes).toEqual(['0 b alive->suspect', '10 b suspect->alive', '0 c alive->suspect', '3000 c suspect->unreachable', '3010 c unreachable->alive']);
  });

  it('a record with a higher incarnation refutes the suspicion; the same incarnation does not', () => {
    const { fd, ports } = detector(['b']);
    fd.suspicionHeard('b', 0, 5_000);
    expect(fd.status('b')).toBe('suspect');
    fd.incarnationSeen('b', 0, 5_100);
    expect(fd.status('b')).toBe('suspect');
    fd.incarnationSeen('b', 1, 5_200);
    expect(fd.status('b')).toBe('alive');
    // The refuted incarnation is old news now: gossip still carrying it suspects nothing.
    fd.suspicionHeard('b', 0, 9_000);
    expect(fd.status('b')).toBe('alive');
    // A suspicion of the new incarnation does.
    fd.suspicionHeard('b', 1, 9_000);
    expect(fd.suspicions()).toEqual([{ id: 'b', incarnation: 1 }]);
    expect(ports.changes).toEqual(['5000 b alive->suspect', '5200 b suspect->alive', '9000 b alive->suspect']);
  });

  it('refutes an unreachable peer too, and then takes a full suspicion timeout before declaring it again', () => {
    const { fd } = detector(['b']);
    fd.unreachableReported('b', 0);
    fd.tick(3_000);
    expect(fd.status('b')).toBe('unreachable');
    fd.incarnationSeen('b', 2, 3_500);
    expect(fd.status('b')).toBe('alive');
    fd.suspicionHeard('b', 2, 5_000);
    fd.tick(7_999);
    expect(fd.status('b')).toBe('suspect');
    fd.tick(8_000);
    expect(fd.status('b')).toBe('unreachable');
  });

  it('forgetSuspicions makes every peer alive, and what was heard just now counts as news', () => {
    const { fd, ports } = detector(['b', 'c', 'd']);
    fd.unreachableReported('b', 0);
    fd.unreachableReported('c', 0);
    fd.tick(3_000);
    expect(fd.suspicions().map((s) => s.id)).toEqual(['b', 'c']);
    fd.forgetSuspicions(4_000);
    expect(fd.suspicions()).toEqual([]);
    expect(fd.snapshot().map((s) => [s.id, s.status, s.lastHeardMs])).toEqual([
      ['b', 'alive', 4_000],
      ['c', 'alive', 4_000],
      ['d', 'alive', 4_000],
    ]);
    // Every peer counts as heard from at 4000: a gossiped suspicion within the next period is ignored.
    fd.suspicionHeard('d', 0, 4_999);
    expect(fd.status('d')).toBe('alive');
    fd.suspicionHeard('d', 0, 5_000);
    expect(fd.status('d')).toBe('suspect');
    expect(ports.changes.filter((c) => c.startsWith('4000'))).toEqual(['4000 b unreachable->alive', '4000 c unreachable->alive']);
  });
});

describe('suspicion heard from gossip', () => {
  it('is adopted only when the peer was not heard from within the last protocol period', () => {
    const { fd } = detector(['b']);
    fd.heardFrom('b', 10_000);
    fd.suspicionHeard('b', 0, 10_999);
    expect(fd.status('b')).toBe('alive');
    fd.suspicionHeard('b', 0, 11_000);
    expect(fd.status('b')).toBe('suspect');
  });

  it('is ignored for an unknown peer, and for an older incarnation than known', () => {
    const { fd, ports } = detector(['b']);
    fd.incarnationSeen('b', 3, 0);
    fd.suspicionHeard('b', 2, 5_000);
    fd.suspicionHeard('x', 9, 5_000);
    expect(fd.suspicions()).toEqual([]);
    expect(ports.changes).toEqual([]);
    fd.suspicionHeard('b', 3, 5_000);
    expect(fd.suspicions()).toEqual([{ id: 'b', incarnation: 3 }]);
  });

  it('does not restart the timeout of a peer already suspected', () => {
    const { fd } = detector(['b']);
    fd.suspicionHeard('b', 0, 5_000);
    fd.suspicionHeard('b', 0, 7_000);
    fd.tick(8_000);
    expect(fd.status('b')).toBe('unreachable');
  });
});

describe('connected peers first (Transport.isConnected)', () => {
  it('probes only connected peers, and nobody while none is connected', async () => {
    const ports = new FakePorts([]);
    const { fd } = detector(['b', 'c', 'd'], ports);
    fd.tick(0);
    expect(ports.probes).toEqual([]);
    ports.connected!.add('c');
    for (let t = 1_000; t <= 3_000; t += 1_000) {
      fd.tick(t);
      ports.open()[0]!.ack();
      await settle();
    }
    expect(ports.pinged()).toEqual(['c', 'c', 'c']);
  });

  it('asks connected helpers when there are any, else any alive peer', async () => {
    const ports = new FakePorts(['b', 'd']);
    const { fd } = detector(['b', 'c', 'd', 'e'], ports, { indirectProbes: 3 });
    fd.tick(1_000);
    const ping = ports.open()[0]!;
    ping.fail();
    await settle();
    const other = ping.target === 'b' ? 'd' : 'b';
    // Three helpers wanted, but only one other peer is connected: only it is asked.
    expect(ports.open().map((p) => p.via)).toEqual([other]);
    ports.open()[0]!.fail();
    await settle();
    expect(fd.status(ping.target)).toBe('suspect');

    // With no connected helper left, the alive peers are asked even though that opens connections.
    const lonely = new FakePorts(['c']);
    const second = detector(['b', 'c', 'd'], lonely).fd;
    second.tick(0);
    lonely.open()[0]!.fail();
    await settle();
    expect(lonely.open().map((p) => p.via).sort()).toEqual(['b', 'd']);
  });
});

describe('a stall of this node (local-stalls.ts)', () => {
  it('does not count as its peers\' silence: a suspicion is not concluded, nor a gossiped one adopted, for the time it could not listen', () => {
    const { fd, ports } = detector(['b', 'c']);
    fd.unreachableReported('b', 100);
    fd.heardFrom('c', 900);
    // This node stalls from 1 s to 6 s. At its first tick after, b's suspicion is 5.9 s old by the
    // clock, but for only 0.9 s of it could this node have read a refutation.
    fd.localStall(5_000);
    fd.tick(6_000);
    expect(fd.status('b')).toBe('suspect');
    // c was last heard 5.15 s ago by the clock, 0.15 s of listening: a suspicion gossiped now is not adopted.
    fd.suspicionHeard('c', 0, 6_050);
    expect(fd.status('c')).toBe('alive');
    // b's suspicion runs out after 3 s of listening: at 100 + 5000 + 3000.
    fd.tick(8_099);
    expect(fd.status('b')).toBe('suspect');
    fd.tick(8_100);
    expect(fd.status('b')).toBe('unreachable');
    expect(ports.changes).toEqual(['100 b alive->suspect', '8100 b suspect->unreachable']);
  });
});
