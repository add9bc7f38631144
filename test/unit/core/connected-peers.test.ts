/**
 * Below a full mesh (a transport that caps its connections reports which peers are connected):
 * failure-detector probes and gossip go to connected peers, so background traffic makes no new
 * connections (src/core/failure-detector.ts `ProbePorts.isConnected`, src/core/node-core.ts
 * `Transport.isConnected`).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FAILURE_DETECTOR_CONFIG, FailureDetector } from '../../../src/core/failure-detector.js';
import type { NodeId } from '../../../src/core/types.js';

function detector(isConnected?: (peer: NodeId) => boolean): { pinged: NodeId[]; asked: NodeId[]; run: (periods: number) => Promise<void> } {
  const pinged: NodeId[] = [];
  const asked: NodeId[] = [];
  let seed = 7;
  const random = { next: () => ((seed = (seed * 16807) % 2147483647) / 2147483647) };
  const fd = new FailureDetector('a', DEFAULT_FAILURE_DETECTOR_CONFIG, random, {
    ping: async (target) => {
      pinged.push(target);
      // c never answers directly: indirect probes follow.
      if (target === 'c') throw new Error('timeout');
    },
    pingVia: async (via) => {
      asked.push(via);
    },
    onChange: () => undefined,
    ...(isConnected ? { isConnected } : {}),
  });
  fd.setPeers(['b', 'c', 'd', 'e', 'f'], 0);
  return {
    pinged,
    asked,
    run: async (periods) => {
      for (let i = 1; i <= periods; i++) {
        fd.tick(i * DEFAULT_FAILURE_DETECTOR_CONFIG.probeIntervalMs);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    },
  };
}

describe('failure-detector probes below a full mesh', () => {
  it('probe every peer in turn when every peer counts as connected', async () => {
    const { pinged, run } = detector();
    await run(10);
    expect(new Set(pinged)).toEqual(new Set(['b', 'c', 'd', 'e', 'f']));
  });

  it('probe only connected peers, and ask connected helpers for indirect probes', async () => {
    const connected = new Set(['b', 'c', 'e']);
    const { pinged, asked, run } = detector((peer) => connected.has(peer));
    await run(12);
    expect(pinged.length).toBeGreaterThanOrEqual(8);
    expect(new Set(pinged)).toEqual(connected);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((via) => via === 'b' || via === 'e')).toBe(true);
  });

  it('probe nobody while nobody is connected', async () => {
    const { pinged, run } = detector(() => false);
    await run(5);
    expect(pinged).toEqual([]);
  });
});
