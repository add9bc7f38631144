import type { NodeId } from '../src/core/types.js';
import { Simulation } from '../test/sim/harness.js';
import { homeReplicas } from '../test/sim/workload.js';
for (const r of [2, 3]) for (const seed of [11, 22, 33]) {
  const sim = new Simulation({ seed, nodes: 5 });
  await sim.start(); await sim.converge();
  const key = `repair-${seed}`;
  const [first, second, third] = homeReplicas(sim, key) as [NodeId, NodeId, NodeId];
  const others = sim.liveIds().filter((id) => ![first, second, third].includes(id));
  sim.setPartition({ mode: 'one-way', from: [first], to: [third, ...others] });
  await sim.settle(sim.node(first).core.put(key, 'v'));
  await sim.runFor(3000);
  const before = sim.node(third).data.objects.get(key) !== undefined;
  await sim.settle(sim.node(second).core.get(key, { r }));
  const t = await sim.runUntilPolled(() => sim.node(third).data.objects.get(key) !== undefined, sim.nowMs + 5000);
  console.log(`r=${r} seed=${seed} before=${before} repaired=${t !== undefined} readRepairs=${sim.node(second).core.stats().readRepairs}`);
}
