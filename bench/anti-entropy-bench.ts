/**
 * `npm run bench:ae` (or `npx tsx bench/anti-entropy-bench.ts`): what a Merkle-tree anti-entropy
 * repair (paper §4.7) costs on the wire, measured in the deterministic simulator with the real
 * `NodeCore`, against the alternative of shipping a full (key, digest) listing.
 *
 * Setup of one case (n keys, d of them divergent):
 *   - two nodes n0, n1 with (N, R, W) = (2, 1, 1) and Q = 256, so both replicate every partition;
 *     anti-entropy on with its defaults (a round per ~1 s per node, at most 4 partitions and 256 keys
 *     per partition per round), hinted handoff off, no client traffic at all;
 *   - their stores are filled directly (MemoryStoreData) before the nodes start, so each node builds
 *     its Merkle trees from the store at start; the n keys share one VersionSet each (made with
 *     applyPut, ~100-byte MessagePack value) except d keys, alternately
 *       missing — only the holder has the key,
 *       stale   — the holder has a newer write that descends from the other replica's version,
 *     with the holder alternating between n0 and n1 (so both pull and push are exercised).
 *
 * What is measured, from the first `ae-roots` sent (the first round) on:
 *   - every message the MemoryNetwork encodes (its `stats.bytes` counts each one), split by kind by
 *     decoding the bytes the network is given: roots (ae-roots + reply), tree (ae-hashes + reply),
 *     leaves (ae-leaves + reply), keys (ae-fetch + reply, replica-put + reply) and background
 *     (gossip and failure-detector pings, which cannot be turned off);
 *   - repaired: every divergent key holds equal version sets on both nodes (`versionSetsEqual`,
 *     checked after every simulator event; no other key can change since nothing else writes); that
 *     instant ends "virt ms". The run then goes on until the rounds in progress have finished (no
 *     anti-entropy request unanswered, none sent for QUIET_MS); the bytes window ends at the last
 *     anti-entropy message. Afterwards every key of both stores is compared (`versionSetsEqual`) and
 *     the tap's byte total is checked against `stats.bytes`; a mismatch aborts the bench;
 *   - net bytes = bytes sent in [first round, end] minus the bytes a quiet baseline (same seed, same
 *     nodes and keys, d = 0) sent in the same window of virtual time. The baseline holds gossip,
 *     pings and the ae-roots exchange every round makes even when nothing differs, so net is what
 *     the divergence itself costs; the AE column keeps the roots exchanges of the repair window in.
 *
 * Environment: AE_BENCH_N (default "10000,100000"), AE_BENCH_D (default "1,10,100,1000"),
 * AE_BENCH_SEED (default 7).
 */
import { decode, encode } from '@msgpack/msgpack';
import { versionDigest } from '../src/core/merkle-tree.js';
import type { NodeEvent } from '../src/core/node-api.js';
import type { NodeConfig } from '../src/core/node-config.js';
import type { NodeId, VersionSet } from '../src/core/types.js';
import { encodeValue } from '../src/core/value-codec.js';
import { applyPut, versionSetsEqual } from '../src/core/version-set.js';
import { MemoryStoreData } from '../src/storage/memory-store.js';
import { Simulation } from '../test/sim/harness.js';

const parseList = (text: string | undefined, fallback: number[]): number[] =>
  text === undefined || text.trim() === '' ? fallback : text.split(',').map((s) => Number(s.trim()));

const SIZES = parseList(process.env.AE_BENCH_N, [10_000, 100_000]);
const DIFFS = parseList(process.env.AE_BENCH_D, [1, 10, 100, 1000]);
const SEED = Number(process.env.AE_BENCH_SEED ?? 7);
const CONFIG: Partial<NodeConfig> = { n: 2, r: 1, w: 1, partitionCount: 256, antiEntropy: true, hintedHandoff: false };
/** Give up on a case after this much virtual time. */
const VIRTUAL_DEADLINE_MS = 600_000;
/** Virtual time the baseline runs beyond the longest repair of its n. */
const BASELINE_MARGIN_MS = 2_000;
/** Quiet period that proves no exchange is still running: more than twice the network's 5 ms max delay. */
const QUIET_MS = 20;
const NODE_A: NodeId = 'n0';
const NODE_B: NodeId = 'n1';

// ─── data ──────────────────────────────────────────────────────────────────────────────────────

/** The keys and, per key, the version set both replicas agree on. */
interface Dataset {
  keys: string[];
  common: VersionSet[];
}

/** Fixed-width keys of 11 ASCII bytes ("item:000042"). */
const keyOf = (i: number): string => `item:${String(i).padStart(6, '0')}`;

const FILLER = 'the quick brown fox jumps over the lazy dog 0123456789';

/** A value of about 100 bytes once MessagePack-encoded, in a buffer of its own. */
function valueBytes(i: number, generation: number): Uint8Array {
  const encoded = encodeValue({ id: i, gen: generation, owner: `user-${i % 977}`, text: FILLER.slice(0, 40 + (i % 8)) });
  return new Uint8Array(encoded); // a copy: encode() returns a view into a larger scratch buffer
}

const T0 = 1_700_000_000_000;

function buildDataset(n: number): Dataset {
  const keys: string[] = [];
  const common: VersionSet[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(keyOf(i));
    common.push(applyPut(undefined, [], i % 2 === 0 ? NODE_A : NODE_B, valueBytes(i, 1), T0 + i).versions);
  }
  return { keys, common };
}

/** One planted divergence. */
interface Divergence {
  index: number;
  kind: 'missing' | 'stale';
  holder: NodeId;
}

/** d keys spread evenly over the key space; kinds alternate, holders alternate every two keys. */
function plan(n: number, d: number): Divergence[] {
  return Array.from({ length: d }, (_, j) => ({
    index: Math.floor(((j + 0.5) * n) / d),
    kind: j % 2 === 0 ? 'missing' : 'stale',
    holder: (j >> 1) % 2 === 0 ? NODE_A : NODE_B,
  }));
}

/**
 * The two nodes' committed stores. Identical keys share one VersionSet object: stores never mutate
 * what they hold (they replace entries and hand out clones), so sharing only saves memory.
 */
function buildStores(data: Dataset, divergences: Divergence[]): Map<NodeId, MemoryStoreData> {
  const stores = new Map<NodeId, MemoryStoreData>([
    [NODE_A, new MemoryStoreData()],
    [NODE_B, new MemoryStoreData()],
  ]);
  for (const store of stores.values()) for (const [i, key] of data.keys.entries()) store.objects.set(key, data.common[i]!);
  for (const { index, kind, holder } of divergences) {
    const key = data.keys[index]!;
    const other = stores.get(holder === NODE_A ? NODE_B : NODE_A)!;
    if (kind === 'missing') {
      other.objects.delete(key);
    } else {
      const older = data.common[index]!;
      const newer = applyPut(older, older.clock, holder, valueBytes(index, 2), T0 + 10_000_000 + index).versions;
      stores.get(holder)!.objects.set(key, newer);
    }
  }
  return stores;
}

/** Bytes of a full listing: MessagePack of [{ key, digest }] over every key (digest 16 bytes). */
function fullListing(data: Dataset): { msgpack: number; raw: number } {
  const items = data.keys.map((key, i) => ({ key, digest: versionDigest(data.common[i]!) }));
  const raw = data.keys.reduce((sum, key) => sum + Buffer.byteLength(key, 'utf8') + 16, 0);
  return { msgpack: encode(items).byteLength, raw };
}

// ─── traffic tap ───────────────────────────────────────────────────────────────────────────────

type Category = 'roots' | 'tree' | 'leaves' | 'keys' | 'background';
const REQUEST_CATEGORY: Record<string, Category> = {
  'ae-roots': 'roots',
  'ae-hashes': 'tree',
  'ae-leaves': 'leaves',
  'ae-fetch': 'keys',
  'replica-put': 'keys',
};
const AE_CATEGORIES: Category[] = ['roots', 'tree', 'leaves', 'keys'];

/**
 * Watches every message the MemoryNetwork is asked to send (through its public `sendBytes`, which its
 * own send path calls): per message its virtual send time, size and category; the anti-entropy
 * requests still unanswered; the first round's start and the last anti-entropy send.
 */
class Tap {
  readonly times: number[] = [];
  readonly sizes: number[] = [];
  readonly categories: Category[] = [];
  readonly roundStarts: number[] = [];
  /** Unanswered anti-entropy requests, `from>to#requestId` → category (answered = reply sent). */
  readonly outstanding = new Map<string, Category>();
  lastAeSendMs = -Infinity;
  total = 0;

  constructor(private readonly sim: Simulation) {
    const network = sim.network;
    const send = network.sendBytes.bind(network);
    network.sendBytes = (from: NodeId, to: NodeId, bytes: Uint8Array): void => {
      this.observe(from, to, bytes);
      send(from, to, bytes);
    };
  }

  /** Virtual time of the first ae-roots sent: the start of the first round. */
  get startMs(): number | undefined {
    return this.roundStarts[0];
  }

  private observe(from: NodeId, to: NodeId, bytes: Uint8Array): void {
    const message = decode(bytes) as { type: string; requestId?: number };
    let category: Category = 'background';
    const requestCategory = REQUEST_CATEGORY[message.type];
    if (requestCategory !== undefined) {
      category = requestCategory;
      this.outstanding.set(`${from}>${to}#${message.requestId}`, category);
      if (message.type === 'ae-roots') this.roundStarts.push(this.sim.nowMs);
    } else if (message.requestId !== undefined) {
      const id = `${to}>${from}#${message.requestId}`;
      const answered = this.outstanding.get(id);
      if (answered !== undefined) {
        category = answered;
        this.outstanding.delete(id);
      }
    }
    if (category !== 'background') this.lastAeSendMs = this.sim.nowMs;
    this.total += bytes.byteLength;
    this.times.push(this.sim.nowMs);
    this.sizes.push(bytes.byteLength);
    this.categories.push(category);
  }

  /** Bytes sent at virtual times in [fromMs, toMs], in total and per category. */
  window(fromMs: number, toMs: number): { total: number; byCategory: Record<Category, number> } {
    const byCategory: Record<Category, number> = { roots: 0, tree: 0, leaves: 0, keys: 0, background: 0 };
    let total = 0;
    for (let i = 0; i < this.times.length; i++) {
      const t = this.times[i]!;
      if (t < fromMs || t > toMs) continue;
      total += this.sizes[i]!;
      byCategory[this.categories[i]!] += this.sizes[i]!;
    }
    return { total, byCategory };
  }

  /** Rounds (ae-roots requests) started in [fromMs, toMs]. */
  roundsBetween(fromMs: number, toMs: number): number {
    return this.roundStarts.filter((t) => t >= fromMs && t <= toMs).length;
  }
}

// ─── one case ──────────────────────────────────────────────────────────────────────────────────

interface CaseResult {
  n: number;
  d: number;
  startMs: number;
  /** When every divergent key was first seen equal on both nodes (checked after every event). */
  repairedMs: number;
  /** Last anti-entropy message of the rounds running at `repairedMs`: the bytes window ends here. */
  endMs: number;
  windowBytes: number;
  byCategory: Record<Category, number>;
  rounds: number;
  roundsWithDifferences: number;
  keysPulled: number;
  keysPushed: number;
  setupWallMs: number;
  runWallMs: number;
}

interface Started {
  sim: Simulation;
  tap: Tap;
  stores: Map<NodeId, MemoryStoreData>;
  events: { atMs: number; event: NodeEvent }[];
  setupWallMs: number;
}

async function startPair(data: Dataset, divergences: Divergence[]): Promise<Started> {
  const began = performance.now();
  const stores = buildStores(data, divergences);
  const sim = new Simulation({ seed: SEED, nodes: 2, config: CONFIG });
  const tap = new Tap(sim);
  const events: { atMs: number; event: NodeEvent }[] = [];
  sim.onNodeEvent = (_node, event) => {
    if (event.type === 'anti-entropy') events.push({ atMs: sim.nowMs, event });
  };
  // The Merkle trees are built from these stores inside core.start().
  for (const id of [NODE_A, NODE_B]) await sim.addNode(id, stores.get(id)!);
  for (const node of sim.nodes.values()) node.core.addSeeds([NODE_A]);
  return { sim, tap, stores, events, setupWallMs: performance.now() - began };
}

/** Every key of either store, compared; throws on the first mismatch. */
function assertIdentical(stores: Map<NodeId, MemoryStoreData>, label: string): void {
  const a = stores.get(NODE_A)!.objects;
  const b = stores.get(NODE_B)!.objects;
  if (a.size !== b.size) throw new Error(`${label}: n0 holds ${a.size} keys, n1 holds ${b.size}`);
  for (const [key, versions] of a) {
    if (!versionSetsEqual(versions, b.get(key))) throw new Error(`${label}: ${key} still differs`);
  }
}

async function runCase(data: Dataset, d: number): Promise<CaseResult> {
  const n = data.keys.length;
  const divergences = plan(n, d);
  const { sim, tap, stores, events, setupWallMs } = await startPair(data, divergences);
  const a = stores.get(NODE_A)!.objects;
  const b = stores.get(NODE_B)!.objects;
  const pending = divergences.map((x) => data.keys[x.index]!);
  // Once a key is equal on both replicas it stays equal (merges only move both towards the join and
  // nothing else writes), so a cursor over the divergent keys makes the check amortised O(1).
  let cursor = 0;
  const began = performance.now();
  const repaired = await sim.runUntil(() => {
    while (cursor < pending.length && versionSetsEqual(a.get(pending[cursor]!), b.get(pending[cursor]!))) cursor++;
    return cursor === pending.length && tap.startMs !== undefined;
  }, VIRTUAL_DEADLINE_MS);
  const repairedMs = sim.nowMs;
  // Let the rounds in progress finish: a reply is delivered at most `delayMaxMs` after it is sent and
  // the exchange continues at once, so no anti-entropy request unanswered and none sent for QUIET_MS
  // means none is running.
  const quiet = await sim.runUntil(() => tap.outstanding.size === 0 && sim.nowMs - tap.lastAeSendMs >= QUIET_MS, VIRTUAL_DEADLINE_MS);
  const runWallMs = performance.now() - began;
  if (!repaired || !quiet || tap.startMs === undefined) {
    throw new Error(`n=${n} d=${d}: not repaired within ${VIRTUAL_DEADLINE_MS} virtual ms (${sim.describe()})`);
  }
  assertIdentical(stores, `n=${n} d=${d}`);
  if (tap.total !== sim.network.stats.bytes) throw new Error(`tap saw ${tap.total} bytes, the network counted ${sim.network.stats.bytes}`);
  const startMs = tap.startMs;
  const endMs = tap.lastAeSendMs;
  const { total, byCategory } = tap.window(startMs, endMs);
  const reports = events.filter((e) => e.atMs >= startMs).map((e) => e.event as Extract<NodeEvent, { type: 'anti-entropy' }>);
  for (const node of sim.nodes.values()) node.core.stop();
  return {
    n,
    d,
    startMs,
    repairedMs,
    endMs,
    windowBytes: total,
    byCategory,
    rounds: tap.roundsBetween(startMs, endMs),
    roundsWithDifferences: reports.length,
    keysPulled: reports.reduce((sum, r) => sum + r.keysPulled, 0),
    keysPushed: reports.reduce((sum, r) => sum + r.keysPushed, 0),
    setupWallMs,
    runWallMs,
  };
}

/** The quiet cluster: same seed, nodes and keys, nothing divergent, for `durationMs` of virtual time. */
async function runBaseline(data: Dataset, durationMs: number): Promise<Tap> {
  const { sim, tap, stores } = await startPair(data, []);
  await sim.runFor(durationMs);
  assertIdentical(stores, `baseline n=${data.keys.length}`);
  for (const node of sim.nodes.values()) node.core.stop();
  return tap;
}

// ─── report ────────────────────────────────────────────────────────────────────────────────────

const int = (x: number): string => Math.round(x).toLocaleString('en-US');

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const wallStart = performance.now();
  console.log(`anti-entropy repair cost — 2 nodes, ${JSON.stringify(CONFIG)}, other settings default; seed ${SEED}`);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const n of SIZES) {
    const data = buildDataset(n);
    const listing = fullListing(data);
    const results: CaseResult[] = [];
    for (const d of DIFFS) results.push(await runCase(data, d));
    const longest = Math.max(...results.map((r) => r.endMs));
    const baseline = await runBaseline(data, longest + BASELINE_MARGIN_MS);
    const idleFrom = baseline.startMs ?? 0;
    const idleTo = longest + BASELINE_MARGIN_MS;
    const idle = baseline.window(idleFrom, idleTo);
    const idleSeconds = (idleTo - idleFrom) / 1000;
    notes.push(
      `n=${int(n)}: full listing ${int(listing.msgpack)} B msgpack (${int(listing.raw)} B as n × (key + 16)); ` +
        `quiet baseline ${int(idle.byCategory.background / idleSeconds)} B/s gossip+pings + ` +
        `${int(idle.byCategory.roots / idleSeconds)} B/s idle ae-roots rounds (${baseline.roundsBetween(idleFrom, idleTo)} rounds in ${idleSeconds.toFixed(1)} s)`,
    );
    for (const r of results) {
      const net = r.windowBytes - baseline.window(r.startMs, r.endMs).total;
      const ae = AE_CATEGORIES.reduce((sum, c) => sum + r.byCategory[c], 0);
      rows.push([
        int(n),
        int(r.d),
        int(net),
        int(listing.msgpack),
        ((100 * net) / listing.msgpack).toFixed(2),
        int(ae),
        ((100 * ae) / listing.msgpack).toFixed(2),
        int(r.byCategory.roots),
        int(r.byCategory.tree),
        int(r.byCategory.leaves),
        int(r.byCategory.keys),
        int(r.byCategory.background),
        `${r.rounds} (${r.roundsWithDifferences})`,
        int(r.repairedMs - r.startMs),
        int(r.runWallMs),
        int(r.setupWallMs),
      ]);
      if (r.keysPulled + r.keysPushed < r.d) notes.push(`n=${int(n)} d=${r.d}: only ${r.keysPulled} pulled + ${r.keysPushed} pushed`);
    }
  }
  console.log();
  printTable(
    ['n', 'd', 'net B', 'listing B', 'net %', 'AE B', 'AE %', 'roots B', 'tree B', 'leaves B', 'keys B', 'bg B', 'rounds (diff)', 'virt ms', 'wall ms', 'setup ms'],
    rows,
  );
  console.log();
  console.log('net B     all bytes sent from the first ae-roots to the last anti-entropy message of the repair, minus a d = 0 baseline over the same virtual window');
  console.log('AE B      anti-entropy messages only (roots + tree + leaves + keys), including every round\'s ae-roots exchange');
  console.log('roots/tree/leaves/keys  ae-roots, ae-hashes, ae-leaves, ae-fetch + replica-put, each with its reply; bg = gossip + pings');
  console.log('rounds    rounds started by both nodes in the window (those that found differing partitions)');
  console.log('virt ms   first round → every divergent key equal on both nodes; wall ms = that simulated run; setup = stores + Merkle builds');
  for (const note of notes) console.log(note);
  console.log(`total wall time ${((performance.now() - wallStart) / 1000).toFixed(1)} s`);
}

await main();
