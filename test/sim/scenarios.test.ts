/**
 * Fault scenarios that read like short scripts (TigerBeetle style): each sets up one fault, writes,
 * heals, and checks what the paper promises — no acknowledged write lost (§4.6 "always writeable"),
 * concurrent writes surface as siblings (§4.4), replicas converge and hints drain after the heal
 * (§4.6–4.7). Each runs on a few seeds; every failure message carries `seed=S`.
 *
 * All waiting is in virtual time (`runFor`, `awaitQuiescence`); nothing sleeps for real.
 */
import type { NodeConfig } from '../../src/core/node-config.js';
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/core/types.js';
import { decodeValue } from '../../src/core/value-codec.js';
import { checkSiblingBound, dotId, preview } from './checkers.js';
import { Simulation, type SimNode } from './harness.js';
import { awaitQuiescence, countHints, homeReplicas, replicaStates, within } from './workload.js';

const SEEDS = [11, 22, 33];
/** The bound on every liveness wait after a heal, in virtual ms. */
const LIVENESS_MS = 15_000;

// ─── the script's vocabulary ─────────────────────────────────────────────────────────────────────

async function cluster(seed: number, config: Partial<NodeConfig> = {}): Promise<Simulation> {
  const sim = new Simulation({ seed, nodes: 5, config });
  await sim.start();
  expect(await sim.settleCluster(30_000), `cluster did not settle (seed=${seed})`).toBe(true);
  return sim;
}

/** Keys (named `prefix-<i>`) whose N replicas include `node`, or exclude it when `include` is false. */
function keysReplicatedOn(sim: Simulation, node: NodeId, count: number, prefix: string, include = true): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}-${i}`;
    if (homeReplicas(sim, key).includes(node) === include) keys.push(key);
  }
  return keys;
}

/**
 * Set-full's read-modify-write through `via`: read, union the siblings' elements, add `element`,
 * write with the read's context. Returns whether the write was acknowledged.
 */
async function addElement(sim: Simulation, via: SimNode, key: string, element: string): Promise<boolean> {
  const read = await sim.settle(within(sim, via.core.get(key), 10_000), 11_000);
  if (!read.ok) return false;
  const elems = new Set<string>([element]);
  for (const s of read.value.siblings) for (const e of (s.value as { elems?: string[] } | null)?.elems ?? []) elems.add(e);
  const put = await sim.settle(within(sim, via.core.put(key, { tag: element, elems: [...elems].sort() }, { context: read.value.context }), 10_000), 11_000);
  return put.ok;
}

/** The elements of the key's final read (R = N) through `via`, or the read's error. */
async function readElements(sim: Simulation, key: string, via?: SimNode): Promise<{ elements: Set<string>; tags: string[]; context: string }> {
  const reader = via ?? sim.node(sim.liveIds()[0]!);
  const got = await sim.settle(within(sim, reader.core.get(key, { r: 3 }), 10_000), 11_000);
  if (!got.ok) throw new Error(`the read of ${key} through ${reader.id} failed (seed=${sim.seed}): ${got.error}`);
  const elements = new Set<string>();
  const tags: string[] = [];
  for (const s of got.value.siblings) {
    const v = s.value as { tag: string; elems: string[] };
    tags.push(v.tag);
    for (const e of v.elems) elements.add(e);
  }
  return { elements, tags: tags.sort(), context: got.value.context };
}

function missing(expected: Iterable<string>, found: ReadonlySet<string>): string[] {
  return [...expected].filter((e) => !found.has(e));
}

/** Heals everything, then waits (bounded) for equal replicas and no hints; fails with the details. */
async function healAndAwaitQuiescence(sim: Simulation, keys: string[]): Promise<void> {
  await sim.healAll();
  const quiet = await awaitQuiescence(sim, keys, LIVENESS_MS);
  expect(quiet.hintsDrainMs, `hints still held ${LIVENESS_MS} virtual ms after the heal: ${quiet.hintsLeft} (seed=${sim.seed})`).not.toBeUndefined();
  expect(quiet.convergenceMs, `replicas still differ ${LIVENESS_MS} virtual ms after the heal (seed=${sim.seed}): ${preview(quiet.divergent, 3)}`).not.toBeUndefined();
}

// ─── scenarios ───────────────────────────────────────────────────────────────────────────────────

describe('fault scenarios on a 5-node cluster (N=3, R=2, W=2)', () => {
  it.for(SEEDS)('a replica crashes, 50 writes are acknowledged, it restarts, hints drain, all replicas equal (seed %i)', async (seed, context) => {
    const sim = await cluster(seed);
    const victim = 'n2';
    const keys = keysReplicatedOn(sim, victim, 5, `crash-${seed}`);
    const writers = sim.liveIds().filter((id) => id !== victim);
    sim.crash(victim);
    await sim.runFor(3_000); // long enough for the others to notice

    const acknowledged = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const element = `e${i}`;
      const ok = await addElement(sim, sim.node(writers[i % writers.length]!), keys[i % keys.length]!, element);
      expect(ok, `write ${i} of 50 was not acknowledged with ${victim} down (seed=${seed})`).toBe(true);
      acknowledged.add(element);
    }
    const hints = await countHints(sim);
    if (hints === undefined) return context.skip('hinted handoff not implemented: the store has no countHints');
    expect(hints, `no hint was stored for ${victim} while it was down (seed=${seed})`).toBeGreaterThan(0);

    await sim.restart(victim);
    await healAndAwaitQuiescence(sim, keys);
    // The restarted replica holds every element itself, not only the others.
    const own = new Set<string>();
    for (const key of keys) for (const s of sim.node(victim).data.objects.get(key)?.siblings ?? []) for (const e of (decodeValue(s.data!) as { elems: string[] }).elems) own.add(e);
    expect(missing(acknowledged, own), `${victim} lacks elements after the hints drained (seed=${seed})`).toEqual([]);
    for (const key of keys) {
      const { elements } = await readElements(sim, key);
      const expected = [...acknowledged].filter((e) => Number(e.slice(1)) % keys.length === keys.indexOf(key));
      expect(missing(expected, elements), `${key} lost acknowledged elements (seed=${seed})`).toEqual([]);
    }
  });

  it.for(SEEDS)('a node holding hints for a crashed replica leaves: it passes them on, has left, and the replica gets every write once back (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const victim = 'n2';
    const keys = keysReplicatedOn(sim, victim, 5, `pass-${seed}`);
    const writers = sim.liveIds().filter((id) => id !== victim);
    sim.crash(victim);
    await sim.runFor(3_000);
    const acknowledged = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const element = `e${i}`;
      expect(await addElement(sim, sim.node(writers[i % writers.length]!), keys[i % keys.length]!, element), `write ${i} failed (seed=${seed})`).toBe(true);
      acknowledged.add(element);
    }
    const heldFor = (id: NodeId): number => sim.node(id).data.hints.get(victim)?.size ?? 0;
    const leaver = [...writers].sort((a, b) => heldFor(b) - heldFor(a))[0]!;
    const held = heldFor(leaver);
    expect(held, `no node holds a hint for ${victim} (seed=${seed})`).toBeGreaterThan(0);

    // The replica stays down all along: the leave cannot wait for it.
    const left = await sim.settle(within(sim, sim.node(leaver).core.leave(), 60_000), 61_000);
    expect(left, `${leaver} did not leave while holding ${held} hints for ${victim} (seed=${seed}) ${JSON.stringify(sim.node(leaver).core.ownershipHandoffStatus())} hints=${heldFor(leaver)}`).toEqual({ ok: true, value: undefined });
    expect(heldFor(leaver), `${leaver} left with hints (seed=${seed})`).toBe(0);
    expect(sim.node(leaver).core.stats().hintsPassed, `seed=${seed}`).toBeGreaterThanOrEqual(held);
    const passed = sim.node(leaver).events.filter((e) => e.type === 'hints-passed');
    expect(passed.length, `seed=${seed}`).toBeGreaterThan(0);
    for (const e of passed) if (e.type === 'hints-passed') expect([leaver, victim], `seed=${seed}`).not.toContain(e.to);
    // Someone that stays holds them now.
    expect(writers.filter((id) => id !== leaver).reduce((sum, id) => sum + heldFor(id), 0), `seed=${seed}`).toBeGreaterThan(0);

    await sim.restart(victim);
    await healAndAwaitQuiescence(sim, keys);
    const own = new Set<string>();
    for (const key of keys) for (const s of sim.node(victim).data.objects.get(key)?.siblings ?? []) for (const e of (decodeValue(s.data!) as { elems: string[] }).elems) own.add(e);
    expect(missing(acknowledged, own), `${victim} lacks elements after the passed hints drained (seed=${seed})`).toEqual([]);
  });

  it.for(SEEDS)('a partition splits 2|3, both sides write the same key, heal: siblings on both sides, a merging put collapses them (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    // A key with one replica on the small side: each side can only reach a W=2 quorum sloppily or
    // with the replicas it has.
    const key = keysReplicatedOn(sim, 'n0', 1, `split-${seed}`)[0]!;
    const replicas = homeReplicas(sim, key);
    const outsider = sim.liveIds().find((id) => !replicas.includes(id))!;
    const small = [replicas[0]!, outsider].sort();
    const large = sim.liveIds().filter((id) => !small.includes(id));
    expect(await addElement(sim, sim.node(small[0]!), key, 'base'), `the first write failed (seed=${seed})`).toBe(true);
    const base = await readElements(sim, key);

    sim.setPartition({ mode: 'halves', groups: [small, large] });
    await sim.runFor(3_000);
    const left = await sim.settle(within(sim, sim.node(small[0]!).core.put(key, { tag: 'left', elems: ['base', 'left'] }, { context: base.context }), 10_000), 11_000);
    const right = await sim.settle(within(sim, sim.node(large[0]!).core.put(key, { tag: 'right', elems: ['base', 'right'] }, { context: base.context }), 10_000), 11_000);
    expect(left.ok ? 'acknowledged' : left.error, `the small side's write (${small.join(' ')}) (seed=${seed})`).toBe('acknowledged');
    expect(right.ok ? 'acknowledged' : right.error, `the large side's write (seed=${seed})`).toBe('acknowledged');

    await healAndAwaitQuiescence(sim, [key]);
    const fromSmall = await readElements(sim, key, sim.node(small[0]!));
    const fromLarge = await readElements(sim, key, sim.node(large[0]!));
    expect(fromSmall.tags, `siblings seen from the small side (seed=${seed})`).toEqual(['left', 'right']);
    expect(fromLarge.tags, `siblings seen from the large side (seed=${seed})`).toEqual(['left', 'right']);

    const merged = await sim.settle(sim.node(large[1]!).core.put(key, { tag: 'merged', elems: ['base', 'left', 'right'] }, { context: fromLarge.context }));
    await healAndAwaitQuiescence(sim, [key]);
    expect((await readElements(sim, key)).tags, `after the merging put (seed=${seed})`).toEqual(['merged']);
    for (const [id, state] of replicaStates(sim, [key]).get(key)!) {
      expect(state?.siblings.map((s) => dotId(s.dot)), `replica ${id} (seed=${seed})`).toEqual([dotId(merged.version)]);
    }
  });

  it.for(SEEDS)('blind writes from both sides of a partition all surface as siblings after the heal (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const key = `blind-${seed}`;
    sim.setPartition({ mode: 'halves', groups: [['n0', 'n1'], ['n2', 'n3', 'n4']] });
    await sim.runFor(3_000);
    const acknowledged: string[] = [];
    for (const id of sim.liveIds()) {
      const put = await sim.settle(within(sim, sim.node(id).core.put(key, { tag: `from-${id}`, elems: [`from-${id}`] }), 10_000), 11_000);
      if (put.ok) acknowledged.push(`from-${id}`);
    }
    expect(acknowledged.length, `only ${acknowledged.join(' ')} acknowledged (seed=${seed})`).toBe(5);
    await healAndAwaitQuiescence(sim, [key]);
    expect((await readElements(sim, key)).tags, `siblings after the heal (seed=${seed})`).toEqual(acknowledged.sort());
  });

  it.for(SEEDS)("a one-way link drops a replica's answers: writes are still acknowledged, and after the heal replicas agree (seed %i)", async (seed) => {
    const sim = await cluster(seed);
    const deaf = 'n3';
    const keys = keysReplicatedOn(sim, deaf, 3, `oneway-${seed}`);
    // n3 hears everyone but nobody hears n3: its acks and answers are lost.
    sim.setPartition({ mode: 'one-way', from: [deaf], to: sim.liveIds().filter((id) => id !== deaf) });
    await sim.runFor(3_000);
    const writers = sim.liveIds().filter((id) => id !== deaf);
    const acknowledged: string[] = [];
    for (let i = 0; i < 15; i++) {
      const ok = await addElement(sim, sim.node(writers[i % writers.length]!), keys[i % keys.length]!, `e${i}`);
      expect(ok, `write ${i} not acknowledged (seed=${seed})`).toBe(true);
      acknowledged.push(`e${i}`);
    }
    await healAndAwaitQuiescence(sim, keys);
    const all = new Set<string>();
    for (const key of keys) for (const e of (await readElements(sim, key)).elements) all.add(e);
    expect(missing(acknowledged, all), `lost (seed=${seed})`).toEqual([]);
  });

  it.for(SEEDS)('a bridge node links two halves that cannot see each other: every acknowledged write survives the heal (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    sim.setPartition({ mode: 'bridge', left: ['n0', 'n1'], right: ['n3', 'n4'], bridge: 'n2' });
    await sim.runFor(3_000);
    const keys = [`bridge-${seed}-a`, `bridge-${seed}-b`];
    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) {
      const via = sim.node(sim.liveIds()[i % 5]!);
      if (await addElement(sim, via, keys[i % 2]!, `e${i}`)) acknowledged.push(`e${i}`);
    }
    expect(acknowledged.length, `acknowledged during the bridge partition (seed=${seed})`).toBeGreaterThanOrEqual(18);
    await healAndAwaitQuiescence(sim, keys);
    const all = new Set<string>();
    for (const key of keys) for (const e of (await readElements(sim, key)).elements) all.add(e);
    expect(missing(acknowledged, all), `lost (seed=${seed})`).toEqual([]);
  });

  it.for(SEEDS)('a 50% loss burst during writes loses no acknowledged element, and replicas converge after it (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const key = `lossy-${seed}`;
    sim.setNetworkFaults({ lossProbability: 0.5, delayMinMs: 1, delayMaxMs: 30 });
    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) if (await addElement(sim, sim.node(sim.liveIds()[i % 5]!), key, `e${i}`)) acknowledged.push(`e${i}`);
    expect(acknowledged.length, `nothing was acknowledged through 50% loss (seed=${seed})`).toBeGreaterThan(0);
    await healAndAwaitQuiescence(sim, [key]);
    expect(missing(acknowledged, (await readElements(sim, key)).elements), `lost (seed=${seed})`).toEqual([]);
  });

  it.for(SEEDS)('an R = N read repairs a replica that missed a write (seed %i)', async (seed) => {
    // Anti-entropy off: it would repair the replica by itself; this checks read repair alone.
    const sim = await cluster(seed, { antiEntropy: false });
    const key = `repair-${seed}`;
    const [first, second, third] = homeReplicas(sim, key) as [NodeId, NodeId, NodeId];
    const others = sim.liveIds().filter((id) => ![first, second, third].includes(id));
    // The coordinator cannot reach the third replica nor any stand-in, so no hint can repair the third
    // replica: only read repair (by the second replica, which reaches everyone) can.
    sim.setPartition({ mode: 'one-way', from: [first], to: [third, ...others] });
    const put = await sim.settle(sim.node(first).core.put(key, { tag: 'v', elems: ['v'] }));
    await sim.runFor(3_000);
    expect(sim.node(third).data.objects.get(key), `precondition: ${third} missed the write (seed=${seed})`).toBeUndefined();
    const read = await sim.settle(sim.node(second).core.get(key, { r: 3 }));
    expect(read.siblings.map((s) => dotId(s.version))).toEqual([dotId(put.version)]);
    const repaired = await sim.runUntilPolled(() => sim.node(third).data.objects.get(key) !== undefined, sim.nowMs + 5_000);
    expect(repaired, `${third} was not repaired within 5000 virtual ms of an R=3 read through ${second} that saw it lacked ${dotId(put.version)} (seed=${seed})`).not.toBeUndefined();
  });

  it.for(SEEDS)('a tab whose storage was evicted returns under a new id, and no acknowledged element is lost (seed %i)', async (seed) => {
    const sim = await cluster(seed);
    const victim = 'n1';
    const keys = keysReplicatedOn(sim, victim, 3, `evict-${seed}`);
    const acknowledged: string[] = [];
    for (let i = 0; i < 15; i++) if (await addElement(sim, sim.node(sim.liveIds()[i % 5]!), keys[i % 3]!, `e${i}`)) acknowledged.push(`e${i}`);
    expect(acknowledged).toHaveLength(15);
    const fresh = await sim.wipeAndRestart(victim);
    expect(fresh.id).toBe('n5');
    expect(await sim.converge(10_000), `the fresh node did not join (seed=${seed})`).toBe(true);
    await sim.runFor(5_000);
    const all = new Set<string>();
    for (const key of keys) for (const e of (await readElements(sim, key)).elements) all.add(e);
    expect(missing(acknowledged, all), `lost after ${victim}'s storage was wiped (seed=${seed})`).toEqual([]);
  });
});

describe('sibling bound', () => {
  /**
   * Two clients each write 100 times with the context their own previous put returned (never reading),
   * through changing coordinators. Each write overwrites its writer's previous one, so at most 2
   * siblings remain — at the end, and on every replica after every write.
   */
  async function staleWriters(seed: number, faults: { delayMaxMs: number; duplicateProbability: number }): Promise<void> {
    const sim = new Simulation({ seed, nodes: 5, faults: { delayMinMs: 1, ...faults } });
    await sim.start();
    expect(await sim.converge(30_000)).toBe(true);
    const key = `stale-${seed}`;
    let most = 0;
    const client = async (name: string, offset: number): Promise<void> => {
      let context = '';
      for (let i = 0; i < 100; i++) {
        const via = sim.node(sim.liveIds()[(i + offset) % 5]!);
        const put = await via.core.put(key, `${name}${i}`, { context });
        context = put.context;
        for (const id of homeReplicas(sim, key)) most = Math.max(most, sim.node(id).data.objects.get(key)?.siblings.length ?? 0);
      }
    };
    await sim.settle(Promise.all([client('a', 0), client('b', 2)]), 600_000);
    await sim.runFor(2_000);
    const final = await sim.settle(sim.node('n0').core.get(key, { r: 3 }));
    const values = final.siblings.map((s) => `${String(s.value)}@${dotId(s.version)}`);
    expect(checkSiblingBound(key, final.siblings.length, 2), `seed=${seed}: final siblings ${values.join(' ')}`).toEqual([]);
    expect(final.siblings.map((s) => s.value).sort(), `seed=${seed}`).toEqual(['a99', 'b99']);
    expect(most, `a replica held ${most} siblings at some point (seed=${seed})`).toBeLessThanOrEqual(2);
  }

  it.for([1, 2, 3, 4, 5])('two clients interleaving 100 stale-context writes each under reordering leave at most 2 siblings (seed %i)', async (seed) => {
    await staleWriters(seed, { delayMaxMs: 80, duplicateProbability: 0 });
  });

  it.for([1, 2, 3, 4, 5])('the same under 10% message duplication: a duplicated request must not apply a write twice (seed %i)', async (seed) => {
    await staleWriters(seed, { delayMaxMs: 20, duplicateProbability: 0.1 });
  });
});
