/**
 * `npx tsx scripts/flapping-hints.ts [nodes] [seconds] [seed]`: hints stored because of a saturated
 * CPU (issue 20 item 6), with and without a node's own stall detection (src/core/local-stalls.ts).
 *
 * Every node's event loop stalls now and then, as tabs on a saturated machine do: on average once every
 * 8 s, for 300–1500 ms (uniform), at random, independently per node, while one client writes 10 keys a
 * second through random nodes. No node crashes, so every hint, fallback write and suspicion is caused by
 * stalls alone. The stalls and the writes come from a generator of their own, the same in both runs.
 * "without" runs the same seeds with each node's stall detection switched off (its
 * `LocalStalls.tick` made to report no stall: the code before item 6); "with" is the product as it is.
 */
import { seededRandom, Simulation } from '../test/sim/harness.js';
import { within } from '../test/sim/workload.js';

const NODES = Number(process.argv[2] ?? 30);
const SECONDS = Number(process.argv[3] ?? 120);
const SEED = Number(process.argv[4] ?? 1);

async function run(detectStalls: boolean): Promise<Record<string, number>> {
  const sim = new Simulation({ seed: SEED, nodes: NODES });
  await sim.start();
  if (!(await sim.settleCluster(120_000))) throw new Error('the cluster did not settle');
  if (!detectStalls) for (const id of sim.liveIds()) (sim.node(id).core as unknown as { stalls: { tick: () => number } }).stalls.tick = () => 0;
  const before = new Map(sim.liveIds().map((id) => [id, sim.node(id).events.length]));
  // The stalls and the writes draw from their own generator, so both runs get the same ones.
  const random = seededRandom(SEED * 7919 + 17);
  const scheduleStall = (id: string): void => {
    sim.schedule(-Math.log(1 - random.next()) * 8_000, () => {
      const durationMs = 300 + random.next() * 1_200;
      try {
        if (sim.nodes.has(id)) sim.stall(id, durationMs);
      } catch {
        // already stalled: this one is skipped
      }
      scheduleStall(id);
    });
  };
  for (const id of sim.liveIds()) scheduleStall(id);
  let acked = 0;
  let failed = 0;
  const ids = sim.liveIds();
  for (let i = 0; i < SECONDS * 10; i++) {
    const started = sim.nowMs;
    const node = sim.node(ids[Math.floor(random.next() * ids.length)]!);
    const put = await sim.settle(within(sim, node.core.put(`k${i % 500}`, i), 5_000), 6_000);
    if (put.ok) acked++;
    else failed++;
    const spent = sim.nowMs - started;
    if (spent < 100) await sim.runFor(100 - spent);
  }
  const sum = (stat: 'hintsStored' | 'fallbackWrites' | 'localStalls'): number => ids.reduce((n, id) => n + sim.node(id).core.stats()[stat], 0);
  const suspicions = ids.reduce((n, id) => n + sim.node(id).events.slice(before.get(id)).filter((e) => e.type === 'reachability' && e.to !== 'alive').length, 0);
  return { acked, failed, suspicions, fallbackWrites: sum('fallbackWrites'), hintsStored: sum('hintsStored'), localStalls: sum('localStalls') };
}

console.log(`${NODES} nodes, ${SECONDS} s of virtual time, seed ${SEED}: every node stalls ~every 8 s for 0.3-1.5 s; 10 writes/s`);
const rows = [['without stall detection', await run(false)] as const, ['with stall detection', await run(true)] as const];
const columns = Object.keys(rows[0]![1]);
console.log(`${''.padEnd(26)}${columns.map((c) => c.padStart(15)).join('')}`);
for (const [name, figures] of rows) console.log(`${name.padEnd(26)}${columns.map((c) => String(figures[c]).padStart(15)).join('')}`);
