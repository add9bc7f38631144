/**
 * Membership changes under load, for humans: runs K seeds of test/sim/membership.ts starting at S and
 * prints what they did (joins' movement, balance, handoff, settle time). Exits non-zero when a seed
 * broke a checker.
 *
 *   npm run sim:membership -- --seed S --runs K [--changes C] [--verbose]
 */
import { randomInt } from 'node:crypto';
import { membershipReplayCommand, runMembershipSeed } from '../test/sim/membership.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} needs a non-negative integer`);
  return value;
};
const seed0 = flag('--seed', randomInt(0, 2 ** 31 - 1));
const runs = flag('--runs', 20);
const changes = flag('--changes', 4);
const verbose = argv.includes('--verbose');

console.log(`membership seeds ${seed0}…${seed0 + runs - 1} (${changes} changes each)`);
let failed = 0;
let lost = 0;
let worst = 0;
let handedOff = 0;
const moved: number[] = [];
const minimum: number[] = [];
const settle: number[] = [];
for (let seed = seed0; seed < seed0 + runs; seed++) {
  const report = await runMembershipSeed({ seed, changes, keepTrace: verbose && runs === 1 });
  lost += report.lostWrites;
  worst = Math.max(worst, report.worstImbalance);
  handedOff += report.keysHandedOff;
  for (const j of report.joins) {
    moved.push(j.moved);
    minimum.push(j.minimum);
  }
  if (report.settleMs !== undefined) settle.push(report.settleMs);
  if (verbose) {
    console.log(`seed ${seed}: ${report.violations.length === 0 ? 'ok' : 'FAILED'} events=${report.events.map((e) => e.kind).join(',')} joins=${report.joins.map((j) => `${j.moved}/${j.minimum}`).join(' ')} settle=${report.settleMs ?? '-'}ms handoff=${report.keysHandedOff} keys real=${report.realMs.toFixed(0)}ms`);
    if (runs === 1) for (const line of report.trace) console.log(`  ${line}`);
  }
  if (report.violations.length > 0) {
    failed++;
    console.log(`seed=${seed} FAILED (${report.lostWrites} lost)`);
    for (const v of report.violations.slice(0, 8)) console.log(`  [${v.checker}] ${v.message}`);
    console.log(`  schedule: ${report.events.map((e) => JSON.stringify(e)).join(' ')}`);
    console.log(`  replay: ${membershipReplayCommand(seed)}`);
  }
}
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const sorted = [...settle].sort((a, b) => a - b);
console.log('');
console.log('seeds  failed  lost  joins  moved/minimum  worst imbalance  keys handed off  settle p50 / max (virtual ms)');
console.log(
  `${String(runs).padEnd(7)}${String(failed).padEnd(8)}${String(lost).padEnd(6)}${String(moved.length).padEnd(7)}${`${sum(moved)}/${sum(minimum)}`.padEnd(15)}${`${(worst * 100).toFixed(2)}%`.padEnd(17)}${String(handedOff).padEnd(17)}${sorted[Math.floor(sorted.length / 2)] ?? '-'} / ${sorted[sorted.length - 1] ?? '-'}`,
);
process.exitCode = failed > 0 ? 1 : 0;
