/**
 * A soak of the deterministic simulator for humans: runs K seeds of mixed faults starting at S and
 * prints what they did. Exits non-zero when any seed broke a checker, printing how to replay it.
 *
 *   npm run sim -- --seed S --runs K [--nodes N] [--chaos-ms MS] [--wipes] [--verbose]
 *
 *   --seed S       first seed (default: a random one, printed so the run can be repeated)
 *   --runs K       how many seeds: S, S+1, …, S+K−1 (default 100)
 *   --nodes N      cluster size (default 5)
 *   --chaos-ms MS  length of the fault window in virtual ms (default 12000)
 *   --wipes        let crashes end in storage wipes (the node returns under a new id)
 *   --repair-reads a client reads every key every 2 s after the heal (read repair helps converge);
 *                  off by default, as in CI: anti-entropy alone must bring every replica level
 *   --hints on|off|ci  hinted handoff on, off, or as CI runs it (default ci: off for every fourth
 *                  seed, so that anti-entropy alone repairs writes that missed a replica)
 *   --verbose      a line per seed; with --runs 1, the fault schedule and the whole trace as well
 *
 * The seeds are the same as the CI suite's (test/sim/seed-suite.ts): a seed that failed in CI replays
 * here exactly, with `--seed S --runs 1 --verbose`.
 */
import { randomInt } from 'node:crypto';
import { formatFaultSchedule } from '../test/sim/fault-schedule.js';
import { formatSummaryTable, summarize } from '../test/sim/soak-summary.js';
import { ciHintedHandoff, describeFailure, MIXED_DEFAULTS, runMixedSeed, type SeedReport } from '../test/sim/workload.js';

interface Args {
  seed: number;
  seedWasChosen: boolean;
  runs: number;
  nodes: number;
  chaosMs: number;
  wipes: boolean;
  repairReads: boolean;
  hints: 'on' | 'off' | 'ci';
  verbose: boolean;
}

const USAGE = 'usage: npm run sim -- --seed S --runs K [--nodes N] [--chaos-ms MS] [--wipes] [--repair-reads] [--hints on|off|ci] [--verbose]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { seed: 0, seedWasChosen: false, runs: 100, nodes: MIXED_DEFAULTS.nodes, chaosMs: MIXED_DEFAULTS.chaosMs, wipes: false, repairReads: false, hints: 'ci', verbose: false };
  const integer = (flag: string, raw: string | undefined, min: number, max: number): number => {
    const value = Number(raw);
    if (raw === undefined || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`${flag} needs an integer from ${min} to ${max}, got ${raw ?? 'nothing'}\n${USAGE}`);
    }
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case '--seed':
        args.seed = integer(flag, argv[++i], 0, 2 ** 31 - 1);
        args.seedWasChosen = true;
        break;
      case '--runs':
        args.runs = integer(flag, argv[++i], 1, 10_000_000);
        break;
      case '--nodes':
        args.nodes = integer(flag, argv[++i], 3, 16);
        break;
      case '--chaos-ms':
        args.chaosMs = integer(flag, argv[++i], 1_000, 3_600_000);
        break;
      case '--wipes':
        args.wipes = true;
        break;
      case '--repair-reads':
        args.repairReads = true;
        break;
      case '--no-repair-reads':
        args.repairReads = false;
        break;
      case '--hints':
        args.hints = oneOf(flag, argv[++i], ['on', 'off', 'ci'] as const);
        break;
      case '--verbose':
        args.verbose = true;
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  if (!args.seedWasChosen) args.seed = randomInt(1, 2 ** 31 - 1 - args.runs);
  return args;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T {
  if (value === undefined || !(allowed as readonly string[]).includes(value)) throw new Error(`${flag} takes one of ${allowed.join(', ')}`);
  return value as T;
}

/** The flags other than --seed/--runs/--verbose that a replay needs to repeat this run. */
function extraFlags(args: Args): string {
  const flags: string[] = [];
  if (args.nodes !== MIXED_DEFAULTS.nodes) flags.push(`--nodes ${args.nodes}`);
  if (args.chaosMs !== MIXED_DEFAULTS.chaosMs) flags.push(`--chaos-ms ${args.chaosMs}`);
  if (args.wipes) flags.push('--wipes');
  if (args.repairReads) flags.push('--repair-reads');
  if (args.hints !== 'ci') flags.push(`--hints ${args.hints}`);
  return flags.join(' ');
}

function seedLine(r: SeedReport): string {
  const status = r.violations.length === 0 ? 'ok  ' : 'FAIL';
  const checkers = [...new Set(r.violations.map((v) => v.checker))].join(',');
  return (
    `${status} seed=${r.seed} faults=${r.faultsInjected} acked=${r.acknowledgedWrites}/${r.attemptedWrites} lost=${r.lostWrites} ` +
    `convergence=${r.convergenceMs === undefined ? 'never' : `${r.convergenceMs}ms`} hints=${r.hintsDrainMs === undefined ? 'not drained' : r.hintsDrainMs === 'skipped' ? 'skipped' : `${r.hintsDrainMs}ms`} ` +
    `(peak ${r.hintsPeak}) real=${r.realMs.toFixed(0)}ms trace=${r.traceHash}${checkers ? ` broke: ${checkers}` : ''}`
  );
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const extra = extraFlags(args);
  console.log(`simulating seeds ${args.seed}…${args.seed + args.runs - 1} (${args.runs} runs, ${args.nodes} nodes, ${args.chaosMs}ms of faults each${args.wipes ? ', with wipes' : ''}${args.repairReads ? ', repair reads after the heal' : ''})`);
  const reports: SeedReport[] = [];
  const failures: SeedReport[] = [];
  const progressEvery = Math.max(1, Math.floor(args.runs / 10));
  for (let i = 0; i < args.runs; i++) {
    const seed = args.seed + i;
    const single = args.runs === 1 && args.verbose;
    const hintedHandoff = args.hints === 'ci' ? ciHintedHandoff(seed) : args.hints === 'on';
    const report = await runMixedSeed({ seed, nodes: args.nodes, chaosMs: args.chaosMs, wipes: args.wipes, repairReads: args.repairReads, config: { hintedHandoff }, keepTrace: single });
    reports.push(report);
    if (report.violations.length > 0) failures.push(report);
    if (single) {
      console.log(formatFaultSchedule(report.schedule));
      console.log('trace (virtual ms, then what happened):');
      for (const line of report.trace) console.log(`  ${line}`);
    }
    if (args.verbose) console.log(seedLine(report));
    else if ((i + 1) % progressEvery === 0 && args.runs >= 20) console.log(`  … ${i + 1} seeds, ${failures.length} failed`);
  }
  console.log('');
  console.log(formatSummaryTable(summarize(reports)));
  if (reports.some((r) => r.hintsDrainMs === 'skipped')) console.log('hints drain: SKIPPED (the store has no countHints; hinted handoff not implemented)');
  if (failures.length === 0) {
    console.log(`all ${reports.length} seeds passed`);
    return 0;
  }
  console.log('');
  for (const r of failures.slice(0, args.verbose ? failures.length : 3)) console.log(describeFailure(r, extra) + '\n');
  console.log(`${failures.length} of ${reports.length} seeds failed. Replay with:`);
  for (const r of failures.slice(0, 10)) console.log(`  npm run sim -- --seed ${r.seed} --runs 1 --verbose${extra ? ` ${extra}` : ''}`);
  if (failures.length > 10) console.log(`  … and ${failures.length - 10} more: ${failures.slice(10).map((r) => r.seed).join(' ')}`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
