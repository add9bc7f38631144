/**
 * One seed of mixed faults, run end to end, in four phases:
 *
 *   start     5 nodes join on a calm network (membership converges)
 *   chaos     the seed's fault schedule runs while clients write; safety checkers watch the stores
 *             and every read (stored states well formed, no phantom elements)
 *   heal      clients stop; partitions heal, loss and duplication end, crashed nodes restart
 *   liveness  no client traffic: how long until the replicas of every key hold equal version sets
 *             and every hint has been handed off (bounded; measured to the poll interval)
 *   verdict   a final read with R = N of every key; set-full and causal accounting on what the clients
 *             saw acknowledged
 *
 * Clients:
 *   set-full   read-modify-write: get → union the element sets of all siblings → add a new unique
 *              element → put with the get's context. Each put's value carries a unique tag (the new
 *              element), so a stored sibling can be traced back to the write that made it.
 *   blind      a few puts without context to their own keys: every acknowledged one must end as a
 *              sibling (nothing that saw it ever overwrote it).
 * Every operation goes through a random running node, like a client library that picks any tab.
 *
 * The report carries a trace hash (every client observation, every fault applied, message counters and
 * every node's final state), so a replay of the seed can be shown to be exact.
 */
import { createHash } from 'node:crypto';
import type { NodeConfig } from '../../src/core/node-config.js';
import type { NodeId, VersionSet } from '../../src/core/types.js';
import { decodeValue } from '../../src/core/value-codec.js';
import type { NetworkStats } from '../../src/net/memory-network.js';
import {
  checkCausalAccounting,
  checkNoPhantoms,
  checkSetFull,
  checkStoredState,
  divergentKeys,
  dotId,
  preview,
  type FinalRead,
  type FinalSibling,
  type Violation,
  type WriteRecord,
} from './checkers.js';
import { countFaults, formatFaultEvent, formatFaultSchedule, generateFaultSchedule, scheduleFaults, type FaultSchedule } from './fault-schedule.js';
import { seededRandom, Simulation, type SimNode } from './harness.js';

/** Settings of one mixed-fault run. Every field but `seed` has a default sized for CI (see `MIXED_DEFAULTS`). */
export interface MixedRunOptions {
  seed: number;
  nodes?: number;
  /** Length of the chaos phase, in virtual ms. */
  chaosMs?: number;
  setClients?: number;
  setKeys?: number;
  blindWriters?: number;
  blindWritesEach?: number;
  /** Bound on the liveness phase, in virtual ms after the heal. */
  livenessDeadlineMs?: number;
  /** Let crashes end in storage wipes (new ids); see `ScheduleOptions.wipes`. */
  wipes?: boolean;
  /**
   * Read every key every 2 s during the liveness phase, so that read repair helps the replicas
   * converge. Off by default: convergence should not need client reads (hinted handoff and
   * anti-entropy, paper §4.6–4.7). On, it tells "no anti-entropy yet" apart from "repair is broken".
   */
  repairReads?: boolean;
  config?: Partial<NodeConfig>;
  /** Use this schedule instead of the seed's own (to replay an edited one). */
  schedule?: FaultSchedule;
  /** Keep the trace lines in the report (for --verbose). */
  keepTrace?: boolean;
}

/** Whether the CI suite (and `npm run sim` by default) runs `seed` with hinted handoff: off for every fourth seed. */
export function ciHintedHandoff(seed: number): boolean {
  return seed % 4 !== 0;
}

/** Defaults of {@link MixedRunOptions}: one seed costs roughly 30–80 ms of real time. */
export const MIXED_DEFAULTS = {
  nodes: 5,
  chaosMs: 12_000,
  setClients: 4,
  setKeys: 3,
  blindWriters: 2,
  blindWritesEach: 4,
  livenessDeadlineMs: 20_000,
  wipes: false,
  repairReads: false,
  config: {} as Partial<NodeConfig>,
};

/** Client think time between operations, in virtual ms. */
const THINK_MS: [number, number] = [20, 250];
/** A client gives up on an operation after this long (virtual ms) and counts it as indeterminate. */
const OP_LIMIT_MS = 8_000;
/** Poll interval of the liveness phase: the resolution of the convergence times reported. */
const LIVENESS_POLL_MS = 100;

/** Node event types left out of the trace (one per request or gossip round: noise, and costly). */
const QUIET_EVENTS = new Set<string>(['gossip', 'membership', 'ring', 'get', 'put']);

/** What one seed did and found. */
export interface SeedReport {
  seed: number;
  schedule: FaultSchedule;
  faultsInjected: number;
  attemptedWrites: number;
  acknowledgedWrites: number;
  /** Client operations that failed or timed out (their writes may or may not have happened). */
  failedOps: number;
  /** Acknowledged elements missing from the final reads. */
  lostWrites: number;
  violations: Violation[];
  /** Virtual ms from the heal until the replicas of every key were equal; undefined if never (within the bound). */
  convergenceMs: number | undefined;
  /** Virtual ms from the heal until no node held a hint; undefined if never; 'skipped' without hint support. */
  hintsDrainMs: number | undefined | 'skipped';
  /** Most hints held at once across all nodes (crashed ones included), sampled during the run. */
  hintsPeak: number;
  traceHash: string;
  trace: string[];
  messages: NetworkStats;
  /** Real (wall-clock) ms the seed took. */
  realMs: number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Waits for `promise` in virtual time, giving up after `limitMs` (the operation is then indeterminate). */
export function within<T>(sim: Simulation, promise: Promise<T>, limitMs: number): Promise<Outcome<T>> {
  const settled = promise.then(
    (value): Outcome<T> => ({ ok: true, value }),
    (error: unknown): Outcome<T> => ({ ok: false, error: errorText(error) }),
  );
  const timedOut = sim.sleep(limitMs).then((): Outcome<T> => ({ ok: false, error: `no answer within ${limitMs} virtual ms` }));
  return Promise.race([settled, timedOut]);
}

/** A set-full value: the element set and the tag naming the write. */
interface SetValue {
  tag: string;
  elems: string[];
}

function asSetValue(value: unknown): SetValue | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<SetValue>;
  if (typeof v.tag !== 'string' || !Array.isArray(v.elems) || !v.elems.every((e) => typeof e === 'string')) return undefined;
  return { tag: v.tag, elems: v.elems };
}

/** What the clients of a set-full workload record (the checkers read it afterwards). */
export interface SetWorkload {
  /** Every element or tag a client tried to write. */
  attempted: Set<string>;
  /** Elements acknowledged, by key. */
  acknowledged: Map<string, Set<string>>;
  writes: WriteRecord[];
  /** The dot each write's tag was read under. */
  dotOfTag: Map<string, string>;
  /** The tag each dot was seen with (put results and reads); one dot with two tags is a reused dot (kv679). */
  tagOfDot: Map<string, string>;
  /**
   * Every dot each tag was seen under (put results and reads): a write retried at a second coordinator
   * may have had two versions (twins, merged into one by replicas), each of which later writes may see.
   */
  dotsOfTag: Map<string, Set<string>>;
  violations: Violation[];
}

/** Records that `dot` named the write of `tag`; a dot already seen with another tag is a violation. */
function bindDot(w: SetWorkload, key: string, dot: string, tag: string): void {
  const dots = w.dotsOfTag.get(tag) ?? new Set<string>();
  dots.add(dot);
  w.dotsOfTag.set(tag, dots);
  const known = w.tagOfDot.get(`${key} ${dot}`);
  if (known === undefined) w.tagOfDot.set(`${key} ${dot}`, tag);
  else if (known !== tag) w.violations.push({ checker: 'dot-reuse', message: `${key}: dot ${dot} names two writes, ${known} and ${tag}` });
}

/** A fresh {@link SetWorkload} for `keys`. */
export function setWorkload(keys: readonly string[], violations: Violation[]): SetWorkload {
  return { attempted: new Set(), acknowledged: new Map(keys.map((k) => [k, new Set<string>()])), writes: [], dotOfTag: new Map(), tagOfDot: new Map(), dotsOfTag: new Map(), violations };
}

/**
 * One set-full read-modify-write through `node`: reads `key`, checks no phantom element came back,
 * and puts the union of what it read plus `element` under the read's context.
 * @returns false when the get or the put failed or timed out (`note` says which).
 */
export async function addToSet(sim: Simulation, node: SimNode, key: string, element: string, w: SetWorkload, limitMs: number, note: (line: string) => void = () => undefined): Promise<boolean> {
  w.attempted.add(element);
  const read = await within(sim, node.core.get(key), limitMs);
  if (!read.ok) {
    note(`${element} get ${key} via ${node.id} failed: ${read.error}`);
    return false;
  }
  const seen: string[] = [];
  const union = new Set<string>();
  for (const s of read.value.siblings) {
    const v = asSetValue(s.value);
    if (v === undefined) {
      w.violations.push({ checker: 'no-phantoms', message: `a read of ${key} returned a value no client wrote: ${JSON.stringify(s.value)}` });
      continue;
    }
    seen.push(dotId(s.version));
    w.dotOfTag.set(v.tag, dotId(s.version));
    bindDot(w, key, dotId(s.version), v.tag);
    for (const e of v.elems) union.add(e);
  }
  w.violations.push(...checkNoPhantoms(key, union, w.attempted));
  note(`${element} get ${key} via ${node.id}: ${seen.join(' ')}`);
  union.add(element);
  const put = await within(sim, node.core.put(key, { tag: element, elems: [...union].sort() }, { context: read.value.context }), limitMs);
  w.writes.push({ key, tag: element, seen, acknowledged: put.ok, dot: put.ok ? dotId(put.value.version) : undefined });
  if (put.ok) bindDot(w, key, dotId(put.value.version), element);
  if (!put.ok) {
    note(`${element} put ${key} via ${node.id} failed: ${put.error}`);
    return false;
  }
  w.acknowledged.get(key)!.add(element);
  note(`${element} put ${key} via ${node.id}: ${dotId(put.value.version)} acks=${put.value.acks}`);
  return true;
}

/**
 * One blind write (no context: a sibling of whatever is stored) of `tag` to `key` through `node`.
 * @returns false when it failed or timed out.
 */
export async function blindPut(sim: Simulation, node: SimNode, key: string, tag: string, w: SetWorkload, limitMs: number, note: (line: string) => void = () => undefined): Promise<boolean> {
  w.attempted.add(tag);
  const put = await within(sim, node.core.put(key, { tag, elems: [tag] }), limitMs);
  w.writes.push({ key, tag, seen: [], acknowledged: put.ok, dot: put.ok ? dotId(put.value.version) : undefined });
  if (put.ok) bindDot(w, key, dotId(put.value.version), tag);
  if (put.ok) w.acknowledged.get(key)!.add(tag);
  note(`${tag} blind put ${key} via ${node.id}: ${put.ok ? dotId(put.value.version) : `failed: ${put.error}`}`);
  return put.ok;
}

/** The replicas of `key` that can hold it: the first N of its preference list, minus retired ids. */
export function homeReplicas(sim: Simulation, key: string): NodeId[] {
  const viewer = sim.nodes.values().next().value as SimNode | undefined;
  if (viewer === undefined) return [];
  return viewer.core
    .preferenceList(key)
    .slice(0, viewer.core.config.n)
    .filter((id) => !sim.retired.has(id));
}

/** What each home replica of each key stores now (running and crashed nodes; `undefined` when nothing). */
export function replicaStates(sim: Simulation, keys: readonly string[]): Map<string, Map<NodeId, VersionSet | undefined>> {
  const states = new Map<string, Map<NodeId, VersionSet | undefined>>();
  for (const key of keys) {
    const byReplica = new Map<NodeId, VersionSet | undefined>();
    for (const id of homeReplicas(sim, key)) byReplica.set(id, (sim.nodes.get(id)?.data ?? sim.crashed.get(id))?.objects.get(key));
    states.set(key, byReplica);
  }
  return states;
}

/** Whether every running node computes the same ring. */
export function ringsAgree(sim: Simulation): boolean {
  let first: string | undefined;
  for (const node of sim.nodes.values()) {
    const owners = node.core.ring().owners().join(',');
    if (first === undefined) first = owners;
    else if (owners !== first) return false;
  }
  return true;
}

/**
 * Hints held by the running nodes, counted through the Store port; undefined when the store has no
 * `countHints` (hinted handoff not there yet).
 */
export async function countHints(sim: Simulation): Promise<number | undefined> {
  let total = 0;
  for (const node of sim.nodes.values()) {
    const store = node.store as { countHints?: () => Promise<number> };
    if (typeof store.countHints !== 'function') return undefined;
    total += await store.countHints();
  }
  return total;
}

/** Hints held right now by every node, crashed ones included, read from their committed data. */
function hintsHeld(sim: Simulation): number {
  let total = 0;
  const all = [...[...sim.nodes.values()].map((n) => n.data), ...sim.crashed.values()];
  for (const data of all) for (const forTarget of data.hints.values()) total += forTarget.size;
  return total;
}

/**
 * The liveness phase: runs (no client traffic) until the replicas of every key are equal and no hint
 * is left, or `deadlineMs` of virtual time pass. Times count from `sinceMs` (default: now), e.g. the heal.
 */
export async function awaitQuiescence(
  sim: Simulation,
  keys: readonly string[],
  deadlineMs: number,
  sinceMs = sim.nowMs,
): Promise<{ convergenceMs: number | undefined; hintsDrainMs: number | undefined | 'skipped'; divergent: string[]; hintsLeft: number | undefined }> {
  const startMs = sinceMs;
  let convergenceMs: number | undefined;
  let hintsDrainMs: number | undefined | 'skipped';
  let divergent: string[] = [];
  let hintsLeft: number | undefined;
  await sim.runUntilPolled(
    async () => {
      if (convergenceMs === undefined) {
        divergent = ringsAgree(sim) ? divergentKeys(replicaStates(sim, keys)) : ['(the running nodes do not compute the same ring)'];
        if (divergent.length === 0) convergenceMs = Math.round(sim.nowMs - startMs);
      }
      if (hintsDrainMs === undefined) {
        hintsLeft = await countHints(sim);
        if (hintsLeft === undefined) hintsDrainMs = 'skipped';
        else if (hintsLeft === 0) hintsDrainMs = Math.round(sim.nowMs - startMs);
      }
      return convergenceMs !== undefined && hintsDrainMs !== undefined;
    },
    startMs + deadlineMs,
    LIVENESS_POLL_MS,
  );
  return { convergenceMs, hintsDrainMs, divergent, hintsLeft };
}

/** Elements of every sibling of `state` (set-full values only). */
function elementsOf(state: VersionSet | undefined, into: Set<string>): void {
  for (const s of state?.siblings ?? []) {
    if (s.data === null) continue;
    const v = asSetValue(decodeValue(s.data));
    if (v) for (const e of v.elems) into.add(e);
  }
}

/** Union of the elements of `key` over every node's stored object and hints (running or crashed). */
export function storedElements(sim: Simulation, key: string): Set<string> {
  const found = new Set<string>();
  const all = [...[...sim.nodes.values()].map((n) => n.data), ...sim.crashed.values()];
  for (const data of all) {
    elementsOf(data.objects.get(key), found);
    for (const forTarget of data.hints.values()) elementsOf(forTarget.get(key)?.versions, found);
  }
  return found;
}

/**
 * Reads `key` with R = N through a running node, retrying a few times (the network is healed, but a
 * failure detector may still be catching up). Returns the union of the siblings' elements.
 */
export async function finalRead(sim: Simulation, key: string, pick: () => SimNode | undefined): Promise<FinalRead> {
  let lastError = 'no running node';
  for (let attempt = 0; attempt < 3; attempt++) {
    const node = pick();
    if (node === undefined) break;
    // `within` settles in virtual time, so the simulation has to run while we wait.
    const got = await sim.settle(within(sim, node.core.get(key, { r: node.core.config.n, timeoutMs: 3_000 }), OP_LIMIT_MS), OP_LIMIT_MS + 1_000);
    if (got.ok) {
      const elements = new Set<string>();
      const siblings: FinalSibling[] = [];
      for (const s of got.value.siblings) {
        const v = asSetValue(s.value);
        siblings.push({ dot: dotId(s.version), tag: v?.tag });
        if (v) for (const e of v.elems) elements.add(e);
      }
      return { ok: true, elements, siblings };
    }
    lastError = `through ${node.id}: ${got.error}`;
    await sim.runFor(500);
  }
  return { ok: false, error: lastError };
}

/** Runs one seed of mixed faults (see the module header) and checks it. Never throws for a protocol failure. */
export async function runMixedSeed(options: MixedRunOptions): Promise<SeedReport> {
  const startedRealMs = performance.now();
  const o = { ...MIXED_DEFAULTS, ...options, config: { ...MIXED_DEFAULTS.config, ...options.config } };
  const { seed } = o;
  const hash = createHash('sha256');
  const trace: string[] = [];
  const sim = new Simulation({ seed, nodes: o.nodes, config: o.config, tickIntervalMs: 100 });
  const note = (line: string): void => {
    const stamped = `${sim.nowMs.toFixed(1)} ${line}`;
    hash.update(stamped + '\n');
    if (o.keepTrace) trace.push(stamped);
  };
  // Node events worth a line in the trace: hints, read repair, errors, failure detection — not the
  // per-request and gossip chatter.
  sim.onNodeEvent = (id, event) => {
    if (QUIET_EVENTS.has(event.type)) return;
    const { type, ...rest } = event as { type: string } & Record<string, unknown>;
    note(`event ${id} ${type} ${JSON.stringify(rest, (_, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v))}`);
  };
  const violations: Violation[] = [];
  const random = seededRandom((seed ^ 0x68e31da4) | 0);
  const between = (min: number, max: number): number => min + random.next() * (max - min);
  const pickLive = (): SimNode | undefined => {
    const ids = sim.liveIds();
    return ids.length === 0 ? undefined : sim.node(ids[Math.floor(random.next() * ids.length)]!);
  };

  await sim.start();
  if (!(await sim.settleCluster(30_000))) violations.push({ checker: 'membership', message: 'the cluster did not settle (membership, handoffs) before the faults started' });

  const schedule =
    o.schedule ?? generateFaultSchedule(seed, { nodeIds: sim.liveIds(), durationMs: o.chaosMs, wipes: o.wipes, nextNodeIndex: Number(sim.nextFreshId().slice(1)) });
  const chaosStartMs = sim.nowMs;
  const chaosEndMs = chaosStartMs + o.chaosMs;
  scheduleFaults(
    sim,
    schedule,
    (e) => note(`fault ${formatFaultEvent(e)}`),
    (error) => violations.push({ checker: 'harness', message: `applying a fault failed: ${errorText(error)}` }),
  );

  const setKeys = Array.from({ length: o.setKeys }, (_, i) => `set-${i}`);
  const blindKeys = Array.from({ length: o.blindWriters }, (_, i) => `blind-${i}`);
  const workload = setWorkload([...setKeys, ...blindKeys], violations);
  const { acknowledged, writes, dotOfTag } = workload;
  let failedOps = 0;

  const setClient = async (client: number): Promise<void> => {
    for (let i = 0; ; i++) {
      await sim.sleep(between(...THINK_MS));
      if (sim.nowMs >= chaosEndMs) return;
      const node = pickLive();
      if (node === undefined) continue;
      const key = setKeys[Math.floor(random.next() * setKeys.length)]!;
      if (!(await addToSet(sim, node, key, `c${client}.${i}`, workload, OP_LIMIT_MS, note))) failedOps++;
    }
  };

  const blindWriter = async (writer: number): Promise<void> => {
    const key = blindKeys[writer]!;
    for (let j = 0; j < o.blindWritesEach; j++) {
      await sim.sleep(between(100, o.chaosMs / o.blindWritesEach));
      if (sim.nowMs >= chaosEndMs) return;
      const node = pickLive();
      if (node === undefined) continue;
      if (!(await blindPut(sim, node, key, `b${writer}.${j}`, workload, OP_LIMIT_MS, note))) failedOps++;
    }
  };

  // The auditor: safety checks on every stored state while the faults run.
  let hintsPeak = 0;
  const auditor = async (): Promise<void> => {
    while (sim.nowMs < chaosEndMs) {
      await sim.sleep(500);
      for (const node of sim.nodes.values()) {
        for (const [key, state] of node.data.objects) violations.push(...checkStoredState(node.id, key, state));
        for (const [intendedFor, hints] of node.data.hints) {
          for (const [key, hint] of hints) violations.push(...checkStoredState(node.id, `${key} (hint for ${intendedFor})`, hint.versions));
        }
      }
      hintsPeak = Math.max(hintsPeak, hintsHeld(sim));
    }
  };

  const clients = [
    ...Array.from({ length: o.setClients }, (_, c) => setClient(c)),
    ...Array.from({ length: o.blindWriters }, (_, w) => blindWriter(w)),
    auditor(),
  ];
  await sim.runFor(o.chaosMs);
  // Clients finish the operation they are in (each bounded by OP_LIMIT_MS) and stop.
  try {
    await sim.settle(Promise.all(clients), 2 * OP_LIMIT_MS + 1_000);
  } catch (error) {
    violations.push({ checker: 'harness', message: `clients did not stop: ${errorText(error)}` });
  }
  hintsPeak = Math.max(hintsPeak, hintsHeld(sim));

  // Heal, then liveness.
  note('heal');
  const healedAtMs = sim.nowMs;
  await sim.healAll();
  if (!(await sim.converge(10_000))) violations.push({ checker: 'membership', message: 'the membership did not converge within 10000 virtual ms of the heal' });
  const keys = [...setKeys, ...blindKeys];
  // Opt-in diagnostic: a reader that reads every key every 2 s while the liveness phase runs. Default R:
  // every replica is still asked, and read repair follows once all have answered.
  let livenessOver = false;
  const repairReader = async (): Promise<void> => {
    while (!livenessOver) {
      for (const key of keys) {
        const node = pickLive();
        if (node === undefined || livenessOver) break;
        const read = await within(sim, node.core.get(key), OP_LIMIT_MS);
        note(`repair read ${key} via ${node.id}: ${read.ok ? 'ok' : read.error}`);
      }
      await sim.sleep(2_000);
    }
  };
  const reader = o.repairReads ? repairReader() : Promise.resolve();
  const quiet = await awaitQuiescence(sim, keys, o.livenessDeadlineMs, healedAtMs);
  livenessOver = true;
  await sim.settle(reader, 2 * OP_LIMIT_MS);
  if (quiet.convergenceMs === undefined) {
    violations.push({ checker: 'convergence', message: `replicas still differ ${o.livenessDeadlineMs} virtual ms after the heal: ${preview(quiet.divergent, 4)}` });
  }
  if (quiet.hintsDrainMs === undefined) {
    violations.push({ checker: 'hints-drain', message: `${quiet.hintsLeft} hints still held ${o.livenessDeadlineMs} virtual ms after the heal` });
  }
  note(`liveness converged=${quiet.convergenceMs ?? 'no'} hints=${quiet.hintsDrainMs ?? 'left'}`);

  // Verdict.
  const finals = new Map<string, FinalRead>();
  const stored = new Map<string, Set<string>>();
  for (const key of keys) {
    stored.set(key, storedElements(sim, key));
    const read = await finalRead(sim, key, pickLive);
    finals.set(key, read);
    note(`final ${key}: ${read.ok ? `${read.siblings.map((s) => s.dot).join(' ')} elements=${read.elements.size}` : read.error}`);
  }
  for (const w of writes) if (w.dot === undefined) w.dot = dotOfTag.get(w.tag);
  for (const [key, read] of finals) if (read.ok) for (const s of read.siblings) if (s.tag !== undefined) bindDot(workload, key, s.dot, s.tag);
  const setFull = checkSetFull(acknowledged, finals, stored);
  violations.push(...setFull.violations, ...checkCausalAccounting(writes, finals, workload.dotsOfTag));

  // Everything observable goes into the trace hash.
  note(`network ${JSON.stringify(sim.network.stats)} harness ${JSON.stringify(sim.stats)}`);
  for (const node of [...sim.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const s = node.core.stats();
    note(`node ${node.id} sent=${s.messagesSent} received=${s.messagesReceived} dropped=${s.messagesDropped}`);
    for (const key of [...node.data.objects.keys()].sort()) {
      const state = node.data.objects.get(key)!;
      note(`  ${key} clock=${state.clock.map((e) => dotId(e)).join(' ')} siblings=${state.siblings.map((x) => dotId(x.dot)).join(' ')}`);
    }
  }

  const acknowledgedWrites = writes.filter((w) => w.acknowledged).length;
  return {
    seed,
    schedule,
    faultsInjected: countFaults(schedule),
    attemptedWrites: writes.length,
    acknowledgedWrites,
    failedOps,
    lostWrites: setFull.lost,
    violations,
    convergenceMs: quiet.convergenceMs,
    hintsDrainMs: quiet.hintsDrainMs,
    hintsPeak,
    traceHash: hash.digest('hex').slice(0, 16),
    trace,
    messages: { ...sim.network.stats },
    realMs: performance.now() - startedRealMs,
  };
}

/** The command that replays one seed (printed with every failure). */
export function replayCommand(seed: number, extra = ''): string {
  return `npm run sim -- --seed ${seed} --runs 1 --verbose${extra ? ` ${extra}` : ''}`;
}

/** A failure message: the seed, what broke, how to replay it, and the fault schedule. */
export function describeFailure(report: SeedReport, extra = ''): string {
  const byChecker = new Map<string, Violation[]>();
  for (const v of report.violations) byChecker.set(v.checker, [...(byChecker.get(v.checker) ?? []), v]);
  const lines = [`seed=${report.seed}: ${report.violations.length} violation(s) (${[...byChecker.keys()].join(', ')})`];
  for (const [checker, list] of byChecker) {
    for (const v of list.slice(0, 3)) lines.push(`  [${checker}] ${v.message}`);
    if (list.length > 3) lines.push(`  [${checker}] … ${list.length - 3} more`);
  }
  lines.push(`  acknowledged=${report.acknowledgedWrites}/${report.attemptedWrites} lost=${report.lostWrites} convergence=${report.convergenceMs ?? 'never'}ms hints=${report.hintsDrainMs ?? 'not drained'} (peak ${report.hintsPeak})`);
  lines.push(`  replay: ${replayCommand(report.seed, extra)}`);
  lines.push(formatFaultSchedule(report.schedule).replace(/^/gm, '  '));
  return lines.join('\n');
}
