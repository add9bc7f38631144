/**
 * The simulator's own fault machinery (harness.ts): crashes keep exactly the committed storage,
 * restarts reuse it, wipes come back under a new id, partitions block exactly the links they name,
 * network faults change mid-run, and nothing sent to a crashed node reaches its next incarnation.
 */
import { describe, expect, it } from 'vitest';
import { blockedLinks, formatPartition, Simulation } from './harness.js';
import { homeReplicas } from './workload.js';

async function cluster(seed = 5, faults = {}): Promise<Simulation> {
  const sim = new Simulation({ seed, nodes: 5, faults });
  await sim.start();
  expect(await sim.settleCluster(30_000)).toBe(true);
  return sim;
}

const junk = new Uint8Array([0xc1]); // not MessagePack: delivered as undecodable, then counted as dropped by the core

describe('crash, restart and wipe', () => {
  it('a crash keeps only the committed storage; a restart serves it again under the same id', async () => {
    const sim = await cluster();
    const key = 'kept';
    const [replica] = homeReplicas(sim, key);
    await sim.settle(sim.node('n0').core.put(key, 'v1'));
    await sim.runFor(500);
    const before = sim.node(replica!);
    expect(before.data.objects.has(key)).toBe(true);

    sim.crash(replica!);
    expect(sim.nodes.has(replica!)).toBe(false);
    expect(sim.crashed.get(replica!)).toBe(before.data);
    expect(before.core.isRunning).toBe(false);
    await expect(before.store.getObject(key)).rejects.toThrow(/closed/);
    expect(sim.membershipConverged(), 'the running nodes still agree').toBe(true);

    const after = await sim.restart(replica!);
    expect(after.id).toBe(replica);
    expect(after.core).not.toBe(before.core);
    expect(after.data).toBe(before.data);
    expect(await after.store.getObject(key)).toBeDefined();
    expect(sim.crashed.size).toBe(0);
    expect(await sim.converge(10_000)).toBe(true);
    expect(sim.stats).toMatchObject({ crashes: 1, restarts: 1, wipes: 0 });
  });

  it('wipeAndRestart brings the node back empty under a new id; the old id is retired', async () => {
    const sim = await cluster();
    await sim.settle(sim.node('n0').core.put('k', 'v'));
    const fresh = await sim.wipeAndRestart('n3');
    expect(fresh.id).toBe('n5');
    expect(sim.nextFreshId()).toBe('n6');
    expect(fresh.data.objects.size).toBe(0);
    expect(sim.retired.has('n3')).toBe(true);
    expect(sim.crashed.has('n3')).toBe(false);
    expect(sim.liveIds()).toEqual(['n0', 'n1', 'n2', 'n4', 'n5']);
    expect(await sim.converge(10_000)).toBe(true);
    expect(sim.node('n0').core.members().map((m) => m.id)).toContain('n5');
  });

  it('a message in flight to a node that crashes is not delivered to its next incarnation', async () => {
    const sim = await cluster(5, { delayMinMs: 50, delayMaxMs: 50 });
    const key = 'in-flight';
    const replicas = homeReplicas(sim, key);
    const coordinator = replicas[0]!;
    const target = replicas[1]!;
    const put = sim.node(coordinator).core.put(key, 'v').catch(() => undefined);
    await sim.runFor(1); // the replica-put to `target` is on the wire (50 ms)
    sim.crash(target);
    await sim.restart(target);
    await sim.runFor(100);
    expect(sim.stats.staleDeliveriesDropped).toBeGreaterThan(0);
    expect(sim.node(target).data.objects.has(key), 'the new incarnation received a message sent to the old one').toBe(false);
    await sim.settle(put);
  });
});

describe('network faults as data', () => {
  it('each partition shape blocks exactly the links it names', () => {
    expect(blockedLinks({ mode: 'halves', groups: [['a'], ['b', 'c']] }).sort()).toEqual([['a', 'b'], ['a', 'c'], ['b', 'a'], ['c', 'a']]);
    expect(blockedLinks({ mode: 'one-way', from: ['a'], to: ['b', 'c'] }).sort()).toEqual([['a', 'b'], ['a', 'c']]);
    const bridge = blockedLinks({ mode: 'bridge', left: ['a'], right: ['c'], bridge: 'x' });
    expect(bridge.sort()).toEqual([['a', 'c'], ['c', 'a']]);
    expect(formatPartition({ mode: 'bridge', left: ['a', 'b'], right: ['c'], bridge: 'x' })).toBe('bridge [a b] - x - [c]');
  });

  it('a one-way partition drops a→b and delivers b→a; healing delivers both', async () => {
    const sim = await cluster();
    sim.setPartition({ mode: 'one-way', from: ['n0'], to: ['n1'] });
    const dropped = (id: string): number => sim.node(id).core.stats().messagesDropped;
    const [d0, d1, lost] = [dropped('n0'), dropped('n1'), sim.network.stats.dropped];
    sim.network.sendBytes('n0', 'n1', junk);
    sim.network.sendBytes('n1', 'n0', junk);
    await sim.runFor(50);
    expect(dropped('n1'), 'n0 → n1 should be blocked').toBe(d1);
    expect(dropped('n0'), 'n1 → n0 should be delivered').toBe(d0 + 1);
    expect(sim.network.stats.dropped).toBe(lost + 1);
    sim.setPartition(null);
    sim.network.sendBytes('n0', 'n1', junk);
    await sim.runFor(50);
    expect(dropped('n1')).toBe(d1 + 1);
  });

  it('a bridge node reaches both groups, which cannot reach each other', async () => {
    const sim = await cluster();
    sim.setPartition({ mode: 'bridge', left: ['n0', 'n1'], right: ['n3', 'n4'], bridge: 'n2' });
    const before = sim.network.stats.dropped;
    for (const [from, to] of [['n0', 'n2'], ['n2', 'n0'], ['n4', 'n2'], ['n2', 'n4']] as const) sim.network.sendBytes(from, to, junk);
    expect(sim.network.stats.dropped).toBe(before);
    for (const [from, to] of [['n0', 'n3'], ['n4', 'n1']] as const) sim.network.sendBytes(from, to, junk);
    expect(sim.network.stats.dropped).toBe(before + 2);
  });

  it('loss, duplication and delay change mid-run', async () => {
    const sim = await cluster();
    sim.setNetworkFaults({ lossProbability: 1 });
    const { dropped, duplicated } = sim.network.stats;
    for (let i = 0; i < 10; i++) sim.network.sendBytes('n0', 'n1', junk);
    expect(sim.network.stats.dropped - dropped).toBe(10);
    sim.setNetworkFaults({ lossProbability: 0, duplicateProbability: 1, delayMinMs: 200, delayMaxMs: 200 });
    const received = sim.node('n1').core.stats().messagesDropped;
    sim.network.sendBytes('n0', 'n1', junk);
    expect(sim.network.stats.duplicated - duplicated).toBe(1);
    await sim.runFor(150);
    expect(sim.node('n1').core.stats().messagesDropped).toBe(received);
    await sim.runFor(100);
    expect(sim.node('n1').core.stats().messagesDropped).toBe(received + 2);
    await sim.healAll();
    expect(sim.network.faults).toMatchObject({ lossProbability: 0, duplicateProbability: 0 });
  });
});
