/**
 * A member turned hostile (issue 16 item 6; DESIGN.md §4), as a seeded scenario:
 *
 *   start     five nodes join and settle (records signed with test keys, as the harness does)
 *   chaos     set-full clients and blind writers work through n0–n3 while n4, still a member that
 *             answers like any other, also sends the honest nodes a fuzzed message every few ms: half
 *             malformed, half well-formed but hostile (hostile-input-arbitraries.ts, drawn from the
 *             seed), never about the clients' keys. One honest node crashes and restarts meanwhile.
 *             An auditor checks every state the honest nodes store, fuzzed keys included.
 *   heal      liveness: the clients' keys converge on their replicas and their hints drain
 *   verdict   final reads with R = N: set-full and causal accounting; every honest node dropped, as
 *             invalid, exactly the malformed messages delivered to it (so it dropped them all, and
 *             no honest message was ever refused); n4 was sent nothing malformed by anyone; no node
 *             keeps a hint for an id that is no member; no promise was left rejected
 *
 * Well-formed fuzz stays off the clients' keys: a member may write any key it likes (that is no attack
 * the store can refuse), so fuzz on them would be writes the checkers cannot account for. Every failure
 * message carries `seed=S`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMessage, parseMessage } from '../../src/core/messages.js';
import type { NodeCore } from '../../src/core/node-core.js';
import { invalidMessage, validMessage, type HostileContext } from '../unit/core/hostile-input-arbitraries.js';
import { checkCausalAccounting, checkSetFull, checkStoredState, preview, type FinalRead, type Violation } from './checkers.js';
import { blockedLinks, seededRandom, Simulation, type SimNode } from './harness.js';
import { addToSet, awaitQuiescence, blindPut, finalRead, setWorkload, storedElements } from './workload.js';

const SEEDS = [16_061, 16_062, 16_063];
const HOSTILE = 'n4';
const CHAOS_MS = 8_000;
const LIVENESS_MS = 20_000;
const OP_LIMIT_MS = 8_000;
/** Fuzzed messages drawn per seed (each kind), and the gap between two of them (virtual ms). */
const POOL = 250;
const FUZZ_GAP_MS: [number, number] = [5, 35];

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Whether a message names one of the clients' keys (fields `key` and `keys`, anywhere in it). */
function namesClientKey(message: unknown): boolean {
  if (message === null || typeof message !== 'object' || message instanceof Uint8Array) return false;
  for (const [name, value] of Object.entries(message)) {
    if (name === 'key' && typeof value === 'string' && /^(set|blind)-/.test(value)) return true;
    if (name === 'keys' && Array.isArray(value) && value.some((k) => typeof k === 'string' && /^(set|blind)-/.test(k))) return true;
    if (namesClientKey(value)) return true;
  }
  return false;
}

async function runHostileSeed(seed: number): Promise<{ violations: Violation[]; invalidDelivered: number; validDelivered: number; acknowledged: number }> {
  const sim = new Simulation({ seed, nodes: 5, faults: { delayMinMs: 1, delayMaxMs: 8 }, tickIntervalMs: 100 });
  const violations: Violation[] = [];
  const random = seededRandom((seed ^ 0x16061606) | 0);
  const between = (min: number, max: number): number => min + random.next() * (max - min);
  await sim.start();
  if (!(await sim.settleCluster(30_000))) violations.push({ checker: 'membership', message: 'the cluster did not settle before the chaos' });
  const honest = sim.liveIds().filter((id) => id !== HOSTILE);
  const chaosEndMs = sim.nowMs + CHAOS_MS;

  // ─── the hostile member ───────────────────────────────────────────────────────────────────────
  // Gossip's record versions and incarnations stay below 2^40: at MAX_SAFE_INTEGER they push the
  // target's own record past it (a known issue in the lead's area, test/unit/core/hostile-input.test.ts).
  const ctx: HostileContext = { ids: sim.liveIds(), keys: ['fuzz-0', 'fuzz-1', 'fuzz-2', 'fuzz-3'], gossipCounterMax: 2 ** 40 };
  const valid = fc.sample(validMessage(ctx), { seed, numRuns: POOL });
  const invalid = fc.sample(invalidMessage(ctx), { seed: seed + 1, numRuns: POOL });
  const invalidDelivered = new Map<NodeCore, number>();
  let validDelivered = 0;
  let invalidTotal = 0;
  const fuzzer = async (): Promise<void> => {
    for (let i = 0; sim.nowMs < chaosEndMs; i++) {
      await sim.sleep(between(...FUZZ_GAP_MS));
      const to = honest[Math.floor(random.next() * honest.length)]!;
      const malformed = random.next() < 0.5;
      const message = malformed ? invalid[i % POOL]!.message : valid[i % POOL]!;
      // Well-formed fuzz never names a client's key (see the header); the pools are drawn from other keys.
      if (!malformed && namesClientKey(message)) continue;
      const blocked = sim.partition !== null && blockedLinks(sim.partition).some(([a, b]) => a === HOSTILE && b === to);
      if (blocked) continue;
      // Straight to the receiver's core after a network delay: some fuzz (undefined, bigints, Maps,
      // Proxies of no wire) has no MessagePack form, and the wire would change the rest.
      sim.schedule(between(1, 8), () => {
        const node = sim.nodes.get(to);
        if (node === undefined || sim.nodes.get(HOSTILE) === undefined) return;
        if (malformed) {
          invalidDelivered.set(node.core, (invalidDelivered.get(node.core) ?? 0) + 1);
          invalidTotal++;
        } else validDelivered++;
        node.core.receive(HOSTILE, message);
      });
    }
  };

  // ─── clients (set-full read-modify-write and blind writers, through honest nodes) ──────────────
  const setKeys = ['set-0', 'set-1', 'set-2'];
  const blindKeys = ['blind-0', 'blind-1'];
  const keys = [...setKeys, ...blindKeys];
  const pickHonest = (): SimNode | undefined => {
    const ids = sim.liveIds().filter((id) => id !== HOSTILE);
    return ids.length === 0 ? undefined : sim.node(ids[Math.floor(random.next() * ids.length)]!);
  };
  const workload = setWorkload(keys, violations);
  const { acknowledged, writes, dotOfTag } = workload;
  const setClient = async (client: number): Promise<void> => {
    for (let i = 0; ; i++) {
      await sim.sleep(between(20, 250));
      if (sim.nowMs >= chaosEndMs) return;
      const node = pickHonest();
      if (node === undefined) continue;
      const key = setKeys[Math.floor(random.next() * setKeys.length)]!;
      await addToSet(sim, node, key, `c${client}.${i}`, workload, OP_LIMIT_MS);
    }
  };
  const blindWriter = async (writer: number): Promise<void> => {
    const key = blindKeys[writer]!;
    for (let j = 0; j < 4; j++) {
      await sim.sleep(between(100, CHAOS_MS / 4));
      if (sim.nowMs >= chaosEndMs) return;
      const node = pickHonest();
      if (node === undefined) continue;
      await blindPut(sim, node, key, `b${writer}.${j}`, workload, OP_LIMIT_MS);
    }
  };
  // The auditor: every version set an honest node stores (objects and hints, fuzzed keys included)
  // keeps its invariants, however hostile the writes that made it.
  const auditor = async (): Promise<void> => {
    while (sim.nowMs < chaosEndMs) {
      await sim.sleep(500);
      for (const node of sim.nodes.values()) {
        if (node.id === HOSTILE) continue;
        for (const [key, state] of node.data.objects) violations.push(...checkStoredState(node.id, key, state));
        for (const [target, hints] of node.data.hints) for (const [key, hint] of hints) violations.push(...checkStoredState(node.id, `${key} (hint for ${target})`, hint.versions));
      }
    }
  };
  // One honest node crashes and comes back during the chaos.
  const victim = honest[Math.floor(random.next() * honest.length)]!;
  sim.schedule(between(1_000, 3_000), () => sim.crash(victim));
  sim.schedule(between(4_000, 6_000), () => void sim.restart(victim));

  const work = [fuzzer(), auditor(), ...[0, 1, 2].map(setClient), ...[0, 1].map(blindWriter)];
  await sim.runFor(CHAOS_MS);
  await sim.settle(Promise.all(work), 2 * OP_LIMIT_MS + 1_000);

  // ─── heal and liveness (the clients' keys) ──────────────────────────────────────────────────────
  const healedAtMs = sim.nowMs;
  await sim.healAll();
  const quiet = await awaitQuiescenceOfKeys(sim, keys, healedAtMs);
  if (!quiet.converged) violations.push({ checker: 'convergence', message: `replicas of the clients' keys still differ ${LIVENESS_MS} virtual ms after the heal: ${preview(quiet.divergent, 3)}` });
  if (quiet.hintsLeft > 0) violations.push({ checker: 'hints-drain', message: `${quiet.hintsLeft} hints for the clients' keys still held ${LIVENESS_MS} virtual ms after the heal` });

  // ─── verdict ──────────────────────────────────────────────────────────────────────────────────
  const finals = new Map<string, FinalRead>();
  const stored = new Map<string, Set<string>>();
  for (const key of keys) {
    stored.set(key, storedElements(sim, key));
    finals.set(key, await finalRead(sim, key, pickHonest));
  }
  for (const w of writes) if (w.dot === undefined) w.dot = dotOfTag.get(w.tag);
  violations.push(...checkSetFull(acknowledged, finals, stored).violations, ...checkCausalAccounting(writes, finals));
  for (const node of sim.nodes.values()) {
    const dropped = node.core.stats().dropReasons.invalid ?? 0;
    const expected = node.id === HOSTILE ? 0 : (invalidDelivered.get(node.core) ?? 0);
    if (dropped !== expected) {
      violations.push({ checker: 'drops', message: `${node.id} dropped ${dropped} messages as invalid; ${expected} malformed ones were delivered to it` });
    }
  }
  // Bounded: no honest node keeps a hint for an id that is no member (it could never be delivered).
  for (const node of sim.nodes.values()) {
    const members = new Set(node.core.members().map((m) => m.id));
    const strangers = [...node.data.hints.keys()].filter((target) => !members.has(target));
    if (strangers.length > 0) violations.push({ checker: 'bounds', message: `${node.id} keeps hints for ids that are no members: ${preview(strangers, 3)}` });
  }
  if (unhandled.length > 0) violations.push({ checker: 'crash', message: `unhandled rejections: ${preview(unhandled.map(String), 3)}` });
  return { violations, invalidDelivered: invalidTotal, validDelivered, acknowledged: writes.filter((w) => w.acknowledged).length };
}

/** Until the replicas of `keys` hold equal states and no node holds a hint for one of them (bounded). */
async function awaitQuiescenceOfKeys(sim: Simulation, keys: readonly string[], sinceMs: number): Promise<{ converged: boolean; divergent: string[]; hintsLeft: number }> {
  const wanted = new Set(keys);
  const hintsFor = (): number => {
    let count = 0;
    for (const node of sim.nodes.values()) for (const byKey of node.data.hints.values()) for (const key of byKey.keys()) if (wanted.has(key)) count++;
    return count;
  };
  const quiet = await awaitQuiescence(sim, keys, LIVENESS_MS, sinceMs);
  // awaitQuiescence waits for every hint, fuzzed keys' too; a fuzzed key's hint may be refused for good
  // by a replica its merge would overflow, so only the clients' keys' hints must drain.
  return { converged: quiet.convergenceMs !== undefined, divergent: quiet.divergent, hintsLeft: hintsFor() };
}

describe('a hostile member on a 5-node cluster (issue 16 item 6)', () => {
  it.for(SEEDS)('the honest nodes drop its malformed messages, survive the rest, and lose no acknowledged write (seed %i)', async (seed) => {
    const report = await runHostileSeed(seed);
    const summary = report.violations.map((v) => `[${v.checker}] ${v.message}`);
    expect(summary, `seed=${seed}: ${summary.length} violation(s)`).toEqual([]);
    // The scenario did what it says, or the checks above are vacuous.
    expect(report.invalidDelivered, `seed=${seed}: malformed messages delivered`).toBeGreaterThan(50);
    expect(report.validDelivered, `seed=${seed}: well-formed fuzz delivered`).toBeGreaterThan(50);
    expect(report.acknowledged, `seed=${seed}: acknowledged client writes`).toBeGreaterThan(20);
  });

  it('every malformed message in the pool is one the node refuses, and every well-formed one one it takes', () => {
    const ctx: HostileContext = { ids: ['n0', 'n1', 'n2', 'n3', 'n4'], keys: ['fuzz-0'], gossipCounterMax: 2 ** 40 };
    for (const { message, why } of fc.sample(invalidMessage(ctx), { seed: SEEDS[0]! + 1, numRuns: POOL })) {
      const parsed = parseMessage(message);
      expect(parsed.ok && checkMessage(parsed.message) === undefined, `seed=${SEEDS[0]! + 1}: not refused: ${why}`).toBe(false);
    }
    for (const message of fc.sample(validMessage(ctx), { seed: SEEDS[0]!, numRuns: POOL })) {
      const parsed = parseMessage(message);
      expect(parsed.ok ? checkMessage(parsed.message) : parsed.reason, `seed=${SEEDS[0]}: refused a well-formed ${String(message.type)}`).toBeUndefined();
    }
  });
});

