/**
 * Partition handoff in a 30-node cluster, for humans: runs K seeds of test/sim/large-cluster.ts from
 * S and prints how long each took to settle after a join, a leave and a capacity change. Exits
 * non-zero when a seed broke a check.
 *
 *   npx tsx scripts/sim-large-cluster.ts --seed S --runs K [--keys K] [--delay-min MS --delay-max MS]
 *                                        [--loss P] [--verbose]
 */
import { randomInt } from 'node:crypto';
import { largeClusterReplayCommand, runLargeClusterSeed, SLOW_NETWORK } from '../test/sim/large-cluster.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} needs a non-negative number`);
  return value;
};
const seed0 = flag('--seed', randomInt(0, 2 ** 31 - 1));
const runs = flag('--runs', 3);
const keys = flag('--keys', 2_000);
const network = {
  delayMinMs: flag('--delay-min', SLOW_NETWORK.delayMinMs!),
  delayMaxMs: flag('--delay-max', SLOW_NETWORK.delayMaxMs!),
  lossProbability: flag('--loss', 0),
};
const verbose = argv.includes('--verbose');

console.log(`large-cluster seeds ${seed0}…${seed0 + runs - 1}: ${keys} keys, one-way delays ${network.delayMinMs}–${network.delayMaxMs} ms, loss ${network.lossProbability}`);
let failed = 0;
for (let seed = seed0; seed < seed0 + runs; seed++) {
  const report = await runLargeClusterSeed({ seed, keys, changeNetwork: network, onProgress: verbose ? (line) => console.log(`  ${line}`) : undefined });
  const settled = report.settleMs === undefined ? 'not settled' : `settled in ${(report.settleMs / 1000).toFixed(1)} s`;
  console.log(`seed ${seed}: ${report.joiner} joined, ${report.leaver} left, ${report.grower} capacity 2: ${settled}, ${report.keysHandedOff} objects handed off (real ${(report.realMs / 1000).toFixed(1)} s)`);
  if (report.violations.length > 0) {
    failed++;
    for (const v of report.violations.slice(0, 8)) console.log(`  [${v.checker}] ${v.message}`);
    console.log(`  replay: ${largeClusterReplayCommand(seed)}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
