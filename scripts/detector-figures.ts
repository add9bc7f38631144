/**
 * Measured figures of failure detection and gossip, for the issue note:
 *
 *   npx tsx scripts/detector-figures.ts [--jobs J] [--only detector|gossip] [--sizes 5,25,100]
 *                                       [--losses 0,0.05,0.2] [--warmup-ms MS] [--crash-runs K]
 *
 * With no flags it measures the planned figures (RUNS below), in about two to three minutes on two cores.
 *
 * Part 1 runs the production NodeCore in the deterministic simulator (test/sim/harness.ts) with the
 * default NodeConfig, for 5, 25 and 100 nodes at 0 %, 5 % and 20 % message loss (probes, their
 * replies and gossip all cross the same lossy MemoryNetwork):
 *   - detection time: one random node crashes at a random moment after the cluster converged and ran
 *     a while; we record when the first other node, and when every live node, holds it 'unreachable'
 *     (from the cores' 'reachability' events, exact to the harness tick);
 *     (table 1a; table 1c repeats the 100-node, 0 % row after a warm-up of one whole probe pass);
 *   - false positives: with no crash, a window of virtual time in which every transition to 'suspect'
 *     or 'unreachable' is wrong, since every node is up (table 1b).
 * Part 2 (table 2) models gossip dissemination at 1000 nodes without the network and the ring: `Membership`
 * objects exchanging whole maps in synchronous push-pull rounds, as NodeCore's gossip with reply does.
 *
 * Every run is seeded and independent; runs are spread over child processes (one per core unless
 * --jobs says otherwise), and the tables depend only on the seeds, not on how the runs were spread.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Membership, type MemberRecord } from '../src/core/membership.js';
import { DEFAULT_NODE_CONFIG } from '../src/core/node-config.js';
import type { NodeId } from '../src/core/types.js';
import { percentile } from '../test/sim/checkers.js';
import { seededRandom, Simulation } from '../test/sim/harness.js';

// ─── settings of the experiment ─────────────────────────────────────────────────────────────────

const CLUSTER_SIZES = [5, 25, 100] as const;
const LOSSES = [0, 0.05, 0.2] as const;
/** Crash runs per cluster size, and how many of them first run the no-crash false-positive window. */
const RUNS: Record<number, { crashRuns: number; fpRuns: number }> = {
  5: { crashRuns: 20, fpRuns: 20 },
  25: { crashRuns: 20, fpRuns: 10 },
  // Fewer at 100 nodes: under loss, refutations bump member records and every bump rebuilds the ring
  // on all 100 cores, which makes these runs by far the slowest (see the cpu s column).
  100: { crashRuns: 5, fpRuns: 2 },
};
/** The harness's own default tick period (every node's tick(now) runs this often), in virtual ms. */
const TICK_MS = 50;
/** Virtual time after membership converged before anything is measured. */
const WARMUP_MS = 10_000;
/** Length of the no-crash window in which false positives are counted. */
const FP_WINDOW_MS = 60_000;
/** How long after a crash we wait for every live node to declare the crashed one unreachable. */
const DETECTION_DEADLINE_MS = 60_000;
/** Table 1c: crash runs after a warm-up of one whole probe pass. */
const STEADY = { n: 100, loss: 0, crashRuns: 5 };
const GOSSIP_SIZES = [10, 100, 1000] as const;
const GOSSIP_SEEDS = 20;
const GOSSIP_MAX_ROUNDS = 200;

// ─── jobs and their results ─────────────────────────────────────────────────────────────────────

type Job = { kind: 'detector'; n: number; loss: number; seed: number; warmupMs: number; falsePositiveWindow: boolean; steady: boolean } | { kind: 'gossip'; n: number; seed: number };

interface FalsePositiveCounts {
  suspects: number;
  unreachables: number;
  refutations: number;
  nodeMinutes: number;
  /** Distinct ordered (observer, peer) pairs ever marked unreachable, of `pairs`. */
  wrongPairs: number;
  pairs: number;
  /** Observer-peer-ms spent wrongly unreachable, of `pairMs`. */
  unreachablePairMs: number;
  pairMs: number;
}

interface DetectorResult {
  kind: 'detector';
  n: number;
  loss: number;
  seed: number;
  warmupMs: number;
  steady: boolean;
  victim: NodeId;
  /** Virtual ms from the crash until the first other node suspected it / held it unreachable / until all did. */
  firstSuspectMs: number | undefined;
  firstUnreachableMs: number | undefined;
  allUnreachableMs: number | undefined;
  /** Live nodes that already held the victim suspect or unreachable at the moment it crashed (earlier false positives). */
  alreadySuspectingAtCrash: number;
  /** Times a live node moved the crashed node from suspect/unreachable back to alive after the crash. */
  revivals: number;
  falsePositives: FalsePositiveCounts | undefined;
  wallMs: number;
}

interface GossipResult {
  kind: 'gossip';
  n: number;
  seed: number;
  /** Rounds until every node held the new version; undefined if GOSSIP_MAX_ROUNDS passed first. */
  rounds: number | undefined;
  /** Nodes holding the new version after each round (index 0: before the first round). */
  informed: number[];
  /** Exchanges that went through the merge (the others had identical maps and were skipped). */
  mergingExchanges: number;
  wallMs: number;
}

type Result = DetectorResult | GossipResult;

// ─── part 1: NodeCore in the simulator ──────────────────────────────────────────────────────────

async function runDetector(job: Extract<Job, { kind: 'detector' }>): Promise<DetectorResult> {
  const wallStart = performance.now();
  const sim = new Simulation({ seed: job.seed, nodes: job.n, faults: { lossProbability: job.loss }, tickIntervalMs: TICK_MS });
  await sim.start();
  if (!(await sim.converge(120_000))) throw new Error(`membership did not converge (${sim.describe()})`);
  await sim.runFor(job.warmupMs);

  let falsePositives: FalsePositiveCounts | undefined;
  if (job.falsePositiveWindow) falsePositives = await countFalsePositives(sim, FP_WINDOW_MS);

  // The crash: a node picked at random, at a random phase of the protocol period. The choice has its
  // own seeded randomness, so it does not disturb the simulation's.
  const choice = seededRandom((job.seed * 2654435761) ^ 0x7f4a7c15);
  await sim.runFor(choice.next() * DEFAULT_NODE_CONFIG.probeIntervalMs);
  const ids = sim.liveIds();
  const victim = ids[Math.floor(choice.next() * ids.length)]!;
  const observers = ids.filter((id) => id !== victim);
  sim.crash(victim);
  const crashedAtMs = sim.nowMs;

  // Who holds the victim unreachable right now (only earlier false positives can make this non-empty).
  const holding = new Set(observers.filter((id) => sim.node(id).core.reachability(victim) === 'unreachable'));
  const alreadySuspectingAtCrash = observers.filter((id) => sim.node(id).core.reachability(victim) !== 'alive').length;
  let firstSuspectMs = alreadySuspectingAtCrash > 0 ? 0 : undefined;
  let firstUnreachableMs = holding.size > 0 ? 0 : undefined;
  let allUnreachableMs = holding.size === observers.length ? 0 : undefined;
  let revivals = 0;
  sim.onNodeEvent = (observer, event) => {
    if (event.type !== 'reachability' || event.peer !== victim) return;
    const sinceCrash = sim.nowMs - crashedAtMs;
    if (event.to === 'suspect') firstSuspectMs ??= sinceCrash;
    if (event.to === 'unreachable') {
      holding.add(observer);
      firstUnreachableMs ??= sinceCrash;
      if (holding.size === observers.length) allUnreachableMs ??= sinceCrash;
    } else {
      holding.delete(observer);
      if (event.to === 'alive') revivals++;
    }
  };
  await sim.runUntil(() => allUnreachableMs !== undefined, crashedAtMs + DETECTION_DEADLINE_MS);
  sim.onNodeEvent = undefined;
  return {
    kind: 'detector',
    n: job.n,
    loss: job.loss,
    seed: job.seed,
    warmupMs: job.warmupMs,
    steady: job.steady,
    victim,
    firstSuspectMs,
    firstUnreachableMs,
    allUnreachableMs,
    alreadySuspectingAtCrash,
    revivals,
    falsePositives,
    wallMs: performance.now() - wallStart,
  };
}

/** Runs `windowMs` with every node up and counts what the detectors wrongly concluded about each other. */
async function countFalsePositives(sim: Simulation, windowMs: number): Promise<FalsePositiveCounts> {
  const ids = sim.liveIds();
  const startMs = sim.nowMs;
  const refutationsBefore = ids.reduce((sum, id) => sum + sim.node(id).core.stats().refutations, 0);
  let suspects = 0;
  let unreachables = 0;
  const everWrong = new Set<string>();
  // Pairs currently held unreachable, with since when (counted from the window's start if already so).
  const unreachableSince = new Map<string, number>();
  for (const observer of ids) {
    for (const peer of ids) {
      if (peer !== observer && sim.node(observer).core.reachability(peer) === 'unreachable') {
        unreachableSince.set(`${observer}>${peer}`, startMs);
        everWrong.add(`${observer}>${peer}`);
      }
    }
  }
  let unreachablePairMs = 0;
  sim.onNodeEvent = (observer, event) => {
    if (event.type !== 'reachability') return;
    const pair = `${observer}>${event.peer}`;
    if (event.to === 'suspect') suspects++;
    if (event.to === 'unreachable') {
      unreachables++;
      everWrong.add(pair);
      unreachableSince.set(pair, sim.nowMs);
    } else {
      const since = unreachableSince.get(pair);
      if (since !== undefined) unreachablePairMs += sim.nowMs - since;
      unreachableSince.delete(pair);
    }
  };
  await sim.runFor(windowMs);
  sim.onNodeEvent = undefined;
  for (const since of unreachableSince.values()) unreachablePairMs += sim.nowMs - since;
  const refutationsAfter = ids.reduce((sum, id) => sum + sim.node(id).core.stats().refutations, 0);
  const pairs = ids.length * (ids.length - 1);
  return {
    suspects,
    unreachables,
    refutations: refutationsAfter - refutationsBefore,
    nodeMinutes: (ids.length * windowMs) / 60_000,
    wrongPairs: everWrong.size,
    pairs,
    unreachablePairMs,
    pairMs: pairs * windowMs,
  };
}

// ─── part 2: push-pull dissemination over Membership objects ────────────────────────────────────

/**
 * n Membership objects that all know every member at version 1; member 0 then bumps its own record.
 * Each synchronous round, every node picks one other node uniformly at random and the two exchange
 * their whole maps both ways (push-pull). Exchanges within a round use the maps as they stood when the
 * round began, so news moves at most one hop per round. As in NodeCore's onGossip, a node ignores
 * records about itself.
 */
function runGossip(job: Extract<Job, { kind: 'gossip' }>): GossipResult {
  const wallStart = performance.now();
  const random = seededRandom(job.seed);
  const ids = Array.from({ length: job.n }, (_, i) => `m${String(i).padStart(4, '0')}`);
  const views = ids.map((id) => new Membership(id));
  const ownRecords = views.map((view) => view.updateSelf({ status: 'up', capacity: 1, joinedAtMs: 0, incarnation: 1 }));
  for (const view of views) view.merge(ownRecords.filter((r) => r.id !== view.self));

  const origin = 0;
  const news = views[origin]!.updateSelf({ incarnation: 2 });
  const knows = (i: number): boolean => (views[i]!.get(ids[origin]!)?.version ?? 0) >= news.version;
  const informed = [views.filter((_, i) => knows(i)).length];

  // Round-start snapshots of every map, recomputed only for the maps that changed in the last round.
  const snapshots: MemberRecord[][] = views.map((view) => view.all());
  let changedLastRound = new Set<number>([origin]);
  let rounds: number | undefined;
  let mergingExchanges = 0;
  for (let round = 1; round <= GOSSIP_MAX_ROUNDS; round++) {
    for (const i of changedLastRound) snapshots[i] = views[i]!.all();
    const changed = new Set<number>();
    const deliver = (to: number, from: number): void => {
      const incoming = snapshots[from]!.filter((r) => r.id !== ids[to]);
      if (views[to]!.merge(incoming)) changed.add(to);
    };
    let exchanges = 0;
    for (let i = 0; i < job.n; i++) {
      // A uniformly random peer other than i.
      let peer = Math.floor(random.next() * (job.n - 1));
      if (peer >= i) peer++;
      // Two maps with the same version of every member cannot teach each other anything (the merge
      // keeps the current record on equal versions): skip them, it changes no result and saves time.
      if (sameVersions(snapshots[i]!, snapshots[peer]!)) continue;
      exchanges++;
      deliver(peer, i); // push: the initiator's map to the peer
      deliver(i, peer); // pull: the peer's reply to the initiator
    }
    mergingExchanges += exchanges;
    changedLastRound = changed;
    informed.push(views.filter((_, i) => knows(i)).length);
    if (informed[round] === job.n) {
      rounds = round;
      break;
    }
  }
  return { kind: 'gossip', n: job.n, seed: job.seed, rounds, informed, mergingExchanges, wallMs: performance.now() - wallStart };
}

/** Whether two maps (sorted by id, as `Membership.all()` returns them) hold the same members at the same versions. */
function sameVersions(a: readonly MemberRecord[], b: readonly MemberRecord[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k]!.id !== b[k]!.id || a[k]!.version !== b[k]!.version) return false;
  return true;
}

// ─── running jobs, in this process or in child processes ────────────────────────────────────────

async function runJob(job: Job): Promise<Result> {
  return job.kind === 'detector' ? runDetector(job) : runGossip(job);
}

/** Runs every job on `workers` child processes (or here when 1), returning results in job order. */
async function runAll(jobs: Job[], workers: number, onDone: (done: number) => void): Promise<Result[]> {
  const results: Result[] = new Array<Result>(jobs.length);
  // Expensive jobs first, so that the last ones to finish are short.
  const order = jobs.map((job, index) => ({ job, index })).sort((a, b) => estimateCost(b.job) - estimateCost(a.job));
  let done = 0;
  if (workers <= 1) {
    for (const { job, index } of order) {
      results[index] = await runJob(job);
      onDone(++done);
    }
    return results;
  }
  const script = fileURLToPath(import.meta.url);
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, () =>
      new Promise<void>((resolve, reject) => {
        // The child inherits this process's execArgv, which carries tsx's loader.
        const child: ChildProcess = fork(script, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        let current = -1;
        const feed = (): void => {
          const item = order[next++];
          if (item === undefined) {
            child.send({ type: 'exit' });
            return;
          }
          current = item.index;
          child.send({ type: 'job', job: item.job });
        };
        child.on('message', (message: { type: 'result'; result: Result } | { type: 'error'; error: string }) => {
          if (message.type === 'error') {
            reject(new Error(`job ${JSON.stringify(jobs[current])} failed: ${message.error}`));
            child.kill();
            return;
          }
          results[current] = message.result;
          onDone(++done);
          feed();
        });
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a worker exited with code ${code}`))));
        feed();
      }),
    ),
  );
  return results;
}

function estimateCost(job: Job): number {
  if (job.kind === 'gossip') return job.n * job.n * 3e-6;
  const virtualS = (job.warmupMs + (job.falsePositiveWindow ? FP_WINDOW_MS : 0) + 15_000) / 1000;
  return virtualS * job.n * (1 + 30 * job.loss) * (job.n >= 100 ? 3 : 1) * 1e-3;
}

function workerMain(): void {
  process.on('message', (message: { type: 'job'; job: Job } | { type: 'exit' }) => {
    if (message.type === 'exit') {
      process.disconnect();
      return;
    }
    runJob(message.job).then(
      (result) => process.send!({ type: 'result', result }),
      (error: unknown) => process.send!({ type: 'error', error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
}

// ─── tables ─────────────────────────────────────────────────────────────────────────────────────

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const seconds = (ms: number | undefined, digits = 2): string => (ms === undefined ? '-' : (ms / 1000).toFixed(digits));
const mean = (values: readonly number[]): number | undefined => (values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length);
const distinct = (values: readonly number[]): number[] => [...new Set(values)].sort((a, b) => a - b);
const percent = (loss: number): string => `${Math.round(loss * 100)}%`;

/** A short hash of every file of src/core, naming the code these figures were measured on. */
function sourceFingerprint(): string {
  const dir = fileURLToPath(new URL('../src/core/', import.meta.url));
  const hash = createHash('sha256');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
    hash.update(name).update('\0').update(readFileSync(dir + name)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** SWIM (Das et al. 2002, §3.1): expected protocol periods until some member first probes a failed one. */
function swimExpectedPeriods(n: number): number {
  return 1 / (1 - (1 - 1 / (n - 1)) ** (n - 1));
}

function printConfig(args: Args): void {
  const c = DEFAULT_NODE_CONFIG;
  console.log('Detector configuration: DEFAULT_NODE_CONFIG of src/core/node-core.ts');
  console.log(
    table(
      ['setting', 'value'],
      [
        ['probeIntervalMs (SWIM period T)', String(c.probeIntervalMs)],
        ['probeTimeoutMs (direct ping deadline)', String(c.probeTimeoutMs)],
        ['indirectProbes (SWIM k)', String(c.indirectProbes)],
        ['suspicionTimeoutMs', String(c.suspicionTimeoutMs)],
        ['gossipIntervalMs (push-pull, ±20% jitter)', String(c.gossipIntervalMs)],
        ['harness tickIntervalMs', String(TICK_MS)],
        ['network delay (MemoryNetwork default)', '1-5 ms, uniform'],
      ],
    ),
  );
  console.log(`Whole DEFAULT_NODE_CONFIG (other periodic traffic also crosses the lossy network, and any message from a peer clears a suspicion of it):`);
  console.log(`  ${JSON.stringify(c)}`);
  console.log(`Measured source: sha256 of src/core/*.ts = ${sourceFingerprint()} (the code changes; compare before comparing figures)`);
  console.log(
    `Crash runs per size (table 1a): ${args.sizes.map((n) => `n=${n}: ${runsFor(n, args).crashRuns} crash runs (seeds 1..${runsFor(n, args).crashRuns}), ${runsFor(n, args).fpRuns} with a false-positive window`).join('; ')}.`,
  );
  console.log(
    `Each run: start, converge, ${(args.warmupMs ?? WARMUP_MS) / 1000} s warm-up, [${FP_WINDOW_MS / 1000} s no-crash false-positive window], then a random node crashes at a random phase of T; ` +
      `we wait up to ${DETECTION_DEADLINE_MS / 1000} s for every live node to hold it unreachable. Worker processes: ${args.workers}.`,
  );
  console.log('');
}

function printDetection(results: DetectorResult[], heading: string[], legend: boolean): void {
  const c = DEFAULT_NODE_CONFIG;
  for (const line of heading) console.log(line);
  const rows: string[][] = [];
  for (const n of distinct(results.map((r) => r.n))) {
    for (const loss of distinct(results.map((r) => r.loss))) {
      const group = results.filter((r) => r.n === n && r.loss === loss);
      const first = group.map((r) => r.firstUnreachableMs).filter((v): v is number => v !== undefined);
      const all = group.map((r) => r.allUnreachableMs).filter((v): v is number => v !== undefined);
      const suspect = group.map((r) => r.firstSuspectMs).filter((v): v is number => v !== undefined);
      const clean = group.filter((r) => r.alreadySuspectingAtCrash === 0);
      const firstClean = clean.map((r) => r.firstUnreachableMs).filter((v): v is number => v !== undefined);
      const periods = swimExpectedPeriods(n);
      rows.push([
        String(n),
        percent(loss),
        String(group.length),
        seconds(mean(suspect)),
        seconds(mean(first)),
        seconds(percentile(first, 50)),
        seconds(percentile(first, 99)),
        `${seconds(mean(firstClean))} (${clean.length})`,
        seconds(mean(all)),
        seconds(percentile(all, 50)),
        seconds(percentile(all, 99)),
        String(group.length - all.length),
        String(group.filter((r) => r.alreadySuspectingAtCrash > 0).length),
        String(group.reduce((sum, r) => sum + r.revivals, 0)),
        periods.toFixed(3),
        seconds(periods * c.probeIntervalMs),
        seconds(periods * c.probeIntervalMs + c.suspicionTimeoutMs),
        (group.reduce((sum, r) => sum + r.wallMs, 0) / 1000).toFixed(1),
      ]);
    }
  }
  console.log(
    table(
      ['n', 'loss', 'runs', 'susp mean', 'first mean', 'first p50', 'first p99', 'first clean', 'all mean', 'all p50', 'all p99', 'not all', 'pre-susp', 'revivals', 'SWIM E[periods]', 'E*T', 'E*T+susp', 'cpu s'],
      rows,
    ),
  );
  if (!legend) {
    console.log('');
    return;
  }
  console.log('    not all  = runs in which some live node still did not hold the crashed node unreachable after the deadline');
  console.log('    pre-susp = runs in which some live node already suspected the victim when it crashed (an earlier false positive; its time counts as 0)');
  console.log('    first clean = mean of first over the runs without pre-susp (how many in brackets)');
  console.log('    revivals = transitions of the crashed node back to alive at a live node after the crash');
  console.log('    cpu s    = real seconds the runs of the row took, summed (false-positive windows included)');
  console.log(`    SWIM E[periods] = 1/(1-(1-1/(n-1))^(n-1)) (-> e/(e-1) = ${(Math.E / (Math.E - 1)).toFixed(3)}); E*T+susp adds suspicionTimeoutMs = ${c.suspicionTimeoutMs / 1000} s`);
  console.log('');
}

function printFalsePositives(results: DetectorResult[]): void {
  console.log(`1b. False positives with every node up (${FP_WINDOW_MS / 1000} virtual s per run, after the warm-up; NodeCore in the simulator)`);
  console.log('    Every transition counted is wrong. Rates are per node-minute of observers (each node watches n-1 peers).');
  const rows: string[][] = [];
  for (const n of distinct(results.map((r) => r.n))) {
    for (const loss of distinct(results.map((r) => r.loss))) {
      const group = results.filter((r) => r.n === n && r.loss === loss && r.falsePositives !== undefined).map((r) => r.falsePositives!);
      if (group.length === 0) continue;
      const sum = (pick: (f: FalsePositiveCounts) => number): number => group.reduce((total, f) => total + pick(f), 0);
      const nodeMinutes = sum((f) => f.nodeMinutes);
      rows.push([
        String(n),
        percent(loss),
        String(group.length),
        nodeMinutes.toFixed(0),
        String(sum((f) => f.suspects)),
        (sum((f) => f.suspects) / nodeMinutes).toFixed(3),
        String(sum((f) => f.unreachables)),
        (sum((f) => f.unreachables) / nodeMinutes).toFixed(3),
        (sum((f) => f.refutations) / nodeMinutes).toFixed(3),
        `${sum((f) => f.wrongPairs)}/${sum((f) => f.pairs)}`,
        `${((100 * sum((f) => f.wrongPairs)) / sum((f) => f.pairs)).toFixed(2)}%`,
        `${((100 * sum((f) => f.unreachablePairMs)) / sum((f) => f.pairMs)).toFixed(3)}%`,
      ]);
    }
  }
  console.log(
    table(
      ['n', 'loss', 'runs', 'node-min', '->suspect', 'per node-min', '->unreachable', 'per node-min', 'refutations/node-min', 'pairs ever unreachable', 'share', 'pair-time unreachable'],
      rows,
    ),
  );
  console.log('    pairs ever unreachable = ordered (observer, peer) pairs, summed over runs, that were wrongly unreachable at some moment of the window');
  console.log('    pair-time unreachable  = share of observer-peer time spent wrongly unreachable (requests avoid the peer then)');
  console.log('');
}

function printGossip(results: GossipResult[]): void {
  console.log('2. Gossip dissemination: synchronous push-pull rounds until a membership change reaches every node');
  console.log('   MODEL, not the simulator: n Membership objects (src/core/membership.ts, the real merge); each round every node');
  console.log('   picks one uniformly random other node and both exchange their whole maps (push + pull, as NodeCore gossip with');
  console.log('   reply: true), using the maps as they stood at the start of the round. No network, loss, ring, timers or detector.');
  console.log('   Exchanges between two maps with equal versions everywhere are skipped (the merge would change nothing).');
  const rows: string[][] = [];
  for (const n of GOSSIP_SIZES) {
    const group = results.filter((r) => r.n === n);
    const rounds = group.map((r) => r.rounds).filter((v): v is number => v !== undefined);
    rows.push([
      String(n),
      String(group.length),
      mean(rounds)?.toFixed(2) ?? '-',
      String(percentile(rounds, 50) ?? '-'),
      String(rounds.length === 0 ? '-' : Math.min(...rounds)),
      String(rounds.length === 0 ? '-' : Math.max(...rounds)),
      String(group.length - rounds.length),
      (mean(group.map((r) => r.mergingExchanges)) ?? 0).toFixed(0),
      Math.log2(n).toFixed(2),
      (Math.log(n) + Math.log(Math.log(n))).toFixed(2),
      (Math.log(n) / Math.log(3)).toFixed(2),
    ]);
  }
  console.log(table(['n', 'seeds', 'rounds mean', 'p50', 'min', 'max', 'unfinished', 'merging exchanges/run', 'log2 n', 'ln n + ln ln n', 'log3 n'], rows));
  console.log('   ln n + ln ln n: the push-pull estimate quoted in the issue note; log3 n: the leading term of push-pull rumor');
  console.log('   spreading (Karp, Schindelhauer, Shenker, Vöcking, FOCS 2000). One round is about one gossipIntervalMs of NodeCore');
  console.log(`   (${DEFAULT_NODE_CONFIG.gossipIntervalMs} ms), whose rounds are jittered rather than synchronous, so news can also move more than one hop per period.`);
  const largest = GOSSIP_SIZES[GOSSIP_SIZES.length - 1]!;
  const curves = results.filter((r) => r.n === largest);
  const longest = Math.max(...curves.map((r) => r.informed.length));
  const curveRows: string[][] = [];
  for (let round = 0; round < longest; round++) {
    // A run that finished keeps all n informed in later rounds.
    const counts = curves.map((r) => r.informed[round] ?? r.informed[r.informed.length - 1]!);
    curveRows.push([String(round), mean(counts)!.toFixed(1), String(Math.min(...counts)), String(Math.max(...counts))]);
  }
  console.log('');
  console.log(`   Nodes holding the new version after each round, n = ${largest}, over ${curves.length} seeds:`);
  console.log(table(['round', 'mean', 'min', 'max'], curveRows));
  console.log('');
}

// ─── main ───────────────────────────────────────────────────────────────────────────────────────

interface Args {
  workers: number;
  only: 'detector' | 'gossip' | undefined;
  sizes: number[];
  losses: number[];
  /** Warm-up after convergence; undefined: WARMUP_MS. */
  warmupMs: number | undefined;
  /** Crash runs per (size, loss), overriding RUNS; false-positive windows are then capped at it. */
  crashRuns: number | undefined;
}

const USAGE =
  'usage: npx tsx scripts/detector-figures.ts [--jobs J] [--only detector|gossip] [--sizes 5,25,100] [--losses 0,0.05,0.2] [--warmup-ms MS] [--crash-runs K]';

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { workers: Math.max(1, availableParallelism()), only: undefined, sizes: [...CLUSTER_SIZES], losses: [...LOSSES], warmupMs: undefined, crashRuns: undefined };
  const integer = (flag: string, raw: string | undefined, min: number, max: number): number => {
    const value = Number(raw);
    if (raw === undefined || !Number.isInteger(value) || value < min || value > max) throw new Error(`${flag} needs an integer from ${min} to ${max}\n${USAGE}`);
    return value;
  };
  const list = (flag: string, raw: string | undefined, valid: (v: number) => boolean): number[] => {
    const values = (raw ?? '').split(',').map(Number);
    if (raw === undefined || values.some((v) => !Number.isFinite(v) || !valid(v))) throw new Error(`${flag} got ${raw ?? 'nothing'}\n${USAGE}`);
    return values;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--jobs') args.workers = integer(flag, argv[++i], 1, 64);
    else if (flag === '--only') {
      const what = argv[++i];
      if (what !== 'detector' && what !== 'gossip') throw new Error(`--only needs detector or gossip\n${USAGE}`);
      args.only = what;
    } else if (flag === '--sizes') args.sizes = list(flag, argv[++i], (v) => Number.isInteger(v) && v >= 3 && v <= 500);
    else if (flag === '--losses') args.losses = list(flag, argv[++i], (v) => v >= 0 && v < 1);
    else if (flag === '--warmup-ms') args.warmupMs = integer(flag, argv[++i], 0, 3_600_000);
    else if (flag === '--crash-runs') args.crashRuns = integer(flag, argv[++i], 1, 10_000);
    else throw new Error(`unknown argument ${flag}\n${USAGE}`);
  }
  return args;
}

/** How many crash runs, and how many of them with a false-positive window, a cluster of `n` gets. */
function runsFor(n: number, args: Args): { crashRuns: number; fpRuns: number } {
  const planned = RUNS[n] ?? RUNS[100]!;
  if (args.crashRuns === undefined) return planned;
  return { crashRuns: args.crashRuns, fpRuns: Math.min(planned.fpRuns, args.crashRuns) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const jobs: Job[] = [];
  if (args.only !== 'gossip') {
    for (const n of args.sizes) {
      const { crashRuns, fpRuns } = runsFor(n, args);
      for (const loss of args.losses) {
        for (let seed = 1; seed <= crashRuns; seed++) jobs.push({ kind: 'detector', n, loss, seed, warmupMs: args.warmupMs ?? WARMUP_MS, falsePositiveWindow: seed <= fpRuns, steady: false });
      }
    }
    // The steady-state check (table 1c), with the planned settings only.
    if (args.warmupMs === undefined && args.sizes.includes(STEADY.n) && args.losses.includes(STEADY.loss)) {
      const warmupMs = (STEADY.n - 1) * DEFAULT_NODE_CONFIG.probeIntervalMs + 10_000;
      for (let seed = 1; seed <= (args.crashRuns ?? STEADY.crashRuns); seed++) {
        jobs.push({ kind: 'detector', n: STEADY.n, loss: STEADY.loss, seed, warmupMs, falsePositiveWindow: false, steady: true });
      }
    }
  }
  if (args.only !== 'detector') {
    for (const n of GOSSIP_SIZES) for (let seed = 1; seed <= GOSSIP_SEEDS; seed++) jobs.push({ kind: 'gossip', n, seed });
  }
  const wallStart = performance.now();
  printConfig(args);
  const results = await runAll(jobs, args.workers, (done) => {
    if (process.stderr.isTTY) process.stderr.write(`\r  ${done}/${jobs.length} runs done`);
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  const detector = results.filter((r): r is DetectorResult => r.kind === 'detector');
  const gossip = results.filter((r): r is GossipResult => r.kind === 'gossip');
  const planned = detector.filter((r) => !r.steady);
  const steady = detector.filter((r) => r.steady);
  if (planned.length > 0) {
    printDetection(
      planned,
      [
        '1a. Failure-detection time after a crash (virtual seconds from the crash; NodeCore in the simulator)',
        '    first = first live node holds it unreachable; all = every live node does at once; susp = first node suspects it.',
        '    p99 is nearest-rank: with 20 runs or fewer it is the maximum.',
      ],
      true,
    );
  }
  if (steady.length > 0) {
    printDetection(
      steady,
      [
        `1c. The same after a warm-up of one whole probe pass, (n-1)*T + 10 s = ${(steady[0]!.warmupMs / 1000).toFixed(0)} s, instead of ${WARMUP_MS / 1000} s (same seeds).`,
        '    A peer learned in the middle of a pass is not probed before the next pass (FailureDetector.setPeers keeps the current',
        '    round-robin order), and at 100 nodes a pass lasts 99 s: soon after the cluster formed, fewer nodes probe a given peer.',
      ],
      false,
    );
  }
  if (planned.length > 0) printFalsePositives(planned);
  if (gossip.length > 0) printGossip(gossip);
  const cpuMs = results.reduce((sum, r) => sum + r.wallMs, 0);
  console.log(`${jobs.length} runs, ${((performance.now() - wallStart) / 1000).toFixed(1)} s wall clock (${(cpuMs / 1000).toFixed(1)} s summed over runs, ${args.workers} worker(s))`);
}

if (process.argv[2] === '--worker') {
  workerMain();
} else {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
