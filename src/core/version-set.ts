/**
 * Versions of one key: vector clocks, siblings and the opaque context (paper §4.4), kept in the
 * "dotted causal context" form of a dotted version vector set (Preguiça, Baquero, Almeida, Fonte,
 * Gonçalves, "Dotted Version Vectors: Logical Clocks for Optimistic Replication", 2010; Almeida et al.,
 * "Scalable and Accurate Causality Tracking for Eventually Consistent Stores", 2014; Riak's `dvvset`).
 *
 * ```
 *   VersionSet for key "cart"
 *   ┌──────────────────────────────────────────────────────────────┐
 *   │ clock (causal context, sorted by node):                       │
 *   │   [sx,2,t2] [sy,1,t3] [sz,1,t4]   ← join of every write seen  │
 *   │ siblings (sorted by dot):                                     │
 *   │   dot (sy,1,t3) → data D3          ← writes not overwritten,  │
 *   │   dot (sz,1,t4) → data D4            each named by one dot    │
 *   └──────────────────────────────────────────────────────────────┘
 *   invariant: every sibling's dot is covered by the clock (clock[dot.node] >= dot.counter)
 * ```
 *
 * Why dots rather than one vector clock per sibling (the paper's form): a write names exactly the
 * versions it overwrites through the context the client read, so a client that keeps writing with a
 * stale context replaces its own earlier writes instead of piling up siblings. The number of siblings
 * is bounded by the number of truly concurrent writers, not by the number of writes.
 *
 * Pure and deterministic: no clock, randomness or I/O; time arrives as `nowMs` arguments.
 */

import { ClockOverflowError } from './errors.js';
import type { ClockEntry, Dot, NodeId, Sibling, VersionSet } from './types.js';

/** Number of clock entries kept after a put before the oldest are dropped (paper §4.4 uses 10). */
export const DEFAULT_MAX_CLOCK_ENTRIES = 10;

/** Most separate dots (the dot cloud) a version set keeps; beyond it the oldest are forgotten. */
export const MAX_CLOUD_DOTS = 32;

/**
 * How two vector clocks relate (paper §4.4 vocabulary), read as "`a` is ... `b`":
 * `'before'` — `a` is an ancestor of `b` (`b` descends `a`, they differ); `'after'` — the reverse;
 * `'equal'` — same counters; `'concurrent'` — neither descends the other (a conflict).
 */
export type ClockOrder = 'equal' | 'before' | 'after' | 'concurrent';

/** A fresh, empty version set: no writes seen, no siblings. Source: DVV set "new" (empty). */
export function emptyVersionSet(): VersionSet {
  return { clock: [], siblings: [] };
}

/** Code-unit order of node ids; never `localeCompare`, whose result depends on the runtime's locale. */
function compareNodeIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order of stored siblings: by dot node, then dot counter. */
function compareDots(a: Dot, b: Dot): number {
  return compareNodeIds(a.node, b.node) || a.counter - b.counter;
}

/** The counter `clock` holds for `node`, or 0 when it has no entry. */
function counterOf(clock: readonly ClockEntry[], node: NodeId): number {
  for (const entry of clock) {
    if (entry.node === node) return entry.counter;
  }
  return 0;
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.node === b.node && a.counter === b.counter;
}

function copySibling(s: Sibling): Sibling {
  const copy: Sibling = { dot: { node: s.dot.node, counter: s.dot.counter, timestampMs: s.dot.timestampMs }, data: s.data };
  if (s.writeId !== undefined) copy.writeId = s.writeId;
  return copy;
}

/**
 * Whether `clock` has seen the write named by `dot`: `clock[dot.node].counter >= dot.counter`.
 * A missing entry counts as counter 0. Source: DVV "dot is contained in the causal context".
 */
export function covers(clock: readonly ClockEntry[], dot: Dot): boolean {
  return counterOf(clock, dot.node) >= dot.counter;
}

/** Whether a causal context (a clock plus separate dots) has seen `dot`. */
export function coversWithDots(clock: readonly ClockEntry[], dots: readonly Dot[] | undefined, dot: Dot): boolean {
  return covers(clock, dot) || (dots ?? []).some((d) => sameDot(d, dot));
}

/**
 * Normalizes a causal context in place of a version set's `clock` + `dots`: folds every dot that
 * directly follows the clock's counter for its node into the clock (repeatedly), drops dots the clock
 * covers and duplicates, and keeps at most {@link MAX_CLOUD_DOTS} (the newest by timestamp; forgetting a
 * dot can only make an old write look concurrent again — an extra sibling — never lose one).
 * @returns the new clock (sorted by node) and dots (sorted by dot); inputs are not modified.
 */
export function compactContext(clock: readonly ClockEntry[], dots: readonly Dot[]): { clock: ClockEntry[]; dots: Dot[] } {
  const entries = new Map<NodeId, ClockEntry>(clock.map((e) => [e.node, { node: e.node, counter: e.counter, timestampMs: e.timestampMs }]));
  let pending = dots.map((d) => ({ node: d.node, counter: d.counter, timestampMs: d.timestampMs }));
  let changed = true;
  while (changed && pending.length > 0) {
    changed = false;
    const rest: Dot[] = [];
    for (const d of pending) {
      const entry = entries.get(d.node);
      const counter = entry?.counter ?? 0;
      if (d.counter <= counter) {
        changed = true;
      } else if (d.counter === counter + 1) {
        entries.set(d.node, { node: d.node, counter: d.counter, timestampMs: Math.max(d.timestampMs, entry?.timestampMs ?? d.timestampMs) });
        changed = true;
      } else if (!rest.some((r) => sameDot(r, d))) {
        rest.push(d);
      }
    }
    pending = rest;
  }
  if (pending.length > MAX_CLOUD_DOTS) {
    pending.sort((x, y) => y.timestampMs - x.timestampMs || compareDots(x, y));
    pending = pending.slice(0, MAX_CLOUD_DOTS);
  }
  return {
    clock: [...entries.values()].sort((x, y) => compareNodeIds(x.node, y.node)),
    dots: pending.sort(compareDots),
  };
}

/** Builds a version set, leaving `dots` out when empty. */
function makeVersionSet(clock: ClockEntry[], siblings: Sibling[], dots: Dot[]): VersionSet {
  return dots.length > 0 ? { clock, siblings, dots } : { clock, siblings };
}

/**
 * Join (least upper bound) of two vector clocks: per node the larger counter (paper §4.4
 * "reconciliation"). The timestamp comes from the entry with the larger counter; on equal counters the
 * larger timestamp is kept, so the join is commutative, associative and idempotent.
 *
 * @returns a new array of new entries, sorted by node id (code-unit order), one entry per node.
 *   Inputs are not modified and need not be sorted.
 */
export function mergeClocks(a: readonly ClockEntry[], b: readonly ClockEntry[]): ClockEntry[] {
  const byNode = new Map<NodeId, ClockEntry>();
  for (const entry of [...a, ...b]) {
    const seen = byNode.get(entry.node);
    if (
      seen === undefined ||
      entry.counter > seen.counter ||
      (entry.counter === seen.counter && entry.timestampMs > seen.timestampMs)
    ) {
      byNode.set(entry.node, { node: entry.node, counter: entry.counter, timestampMs: entry.timestampMs });
    }
  }
  return [...byNode.values()].sort((x, y) => compareNodeIds(x.node, y.node));
}

/**
 * Whether clock `a` descends clock `b` (paper §4.4): `a[n] >= b[n]` for every node `n`, a missing entry
 * counting as 0. Equal clocks descend each other; the empty clock is descended by every clock.
 * Timestamps are ignored.
 */
export function clockDescends(a: readonly ClockEntry[], b: readonly ClockEntry[]): boolean {
  for (const entry of b) {
    if (counterOf(a, entry.node) < entry.counter) return false;
  }
  return true;
}

/**
 * Causal order of two vector clocks (paper §4.4): `'equal'`, `'before'` (`a` happened before `b`),
 * `'after'` (`a` happened after `b`) or `'concurrent'`. Timestamps are ignored.
 */
export function compareClocks(a: readonly ClockEntry[], b: readonly ClockEntry[]): ClockOrder {
  const aDescendsB = clockDescends(a, b);
  const bDescendsA = clockDescends(b, a);
  if (aDescendsB && bDescendsA) return 'equal';
  if (aDescendsB) return 'after';
  if (bDescendsA) return 'before';
  return 'concurrent';
}

/**
 * Drops the entries with the oldest timestamps until at most `maxEntries` remain (paper §4.4 clock
 * truncation), never dropping the entry of a node in `keep`. When the `keep` entries alone exceed
 * `maxEntries`, all of them are kept and every other entry is dropped. Ties on timestamp drop the
 * smaller counter first, then the larger node id, so the result is deterministic.
 *
 * Truncation makes a replica forget that it saw some old writes. The worst this can do is false
 * concurrency: an old version another replica still holds is no longer recognised as overwritten and
 * comes back as an extra sibling, to be resolved by the next write. It never loses a write, because
 * the entries of current siblings are kept (so their dots stay covered) and dropping an entry can only
 * make a clock cover fewer dots, never more.
 *
 * @param clock a clock (any order); not modified.
 * @param maxEntries the limit, an integer >= 1.
 * @param keep nodes whose entries must survive (the nodes of the current siblings' dots).
 * @returns a new clock sorted by node id.
 * @throws RangeError when `maxEntries` is not an integer >= 1 (a programmer error).
 */
export function truncateClock(clock: readonly ClockEntry[], maxEntries: number, keep: ReadonlySet<NodeId>): ClockEntry[] {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`truncateClock: maxEntries must be an integer >= 1, got ${maxEntries}`);
  }
  const copy = clock.map((e) => ({ node: e.node, counter: e.counter, timestampMs: e.timestampMs }));
  if (copy.length <= maxEntries) return copy.sort((x, y) => compareNodeIds(x.node, y.node));
  const kept = copy.filter((e) => keep.has(e.node));
  const newestFirst = copy
    .filter((e) => !keep.has(e.node))
    .sort((x, y) => y.timestampMs - x.timestampMs || y.counter - x.counter || compareNodeIds(x.node, y.node));
  const room = Math.max(0, maxEntries - kept.length);
  return [...kept, ...newestFirst.slice(0, room)].sort((x, y) => compareNodeIds(x.node, y.node));
}

/**
 * Coordinator-side put (paper §4.4; DVV set "update"). The coordinator `node` applies a client's write
 * of `data` (or a tombstone when `data` is `null`) made with causal `context` (the clock the client
 * read, `[]` for a blind write) to its local version set `local` (`undefined` when the key is new here).
 *
 * - The new dot is `(node, max(local.clock[node], context[node]) + 1, nowMs)`.
 * - The new siblings are the local siblings whose dots `context` does not cover (they are concurrent
 *   with this write and survive), plus the new sibling.
 * - The new clock is `mergeClocks(local.clock, context)` with `node`'s entry set to the new dot, then
 *   truncated to `maxClockEntries` with {@link truncateClock}, keeping every current sibling's node.
 *   Truncation can only cause false concurrency (extra siblings later), never lost writes.
 *
 * Dots stay unique as long as `local` is the coordinator's own stored state for the key: applyPut
 * always keeps the writer's own entry and {@link mergeVersionSets} never drops entries, so a node's
 * stored clock always holds the counter of its newest write.
 *
 * Inputs are not modified; `data` is stored by reference (not copied).
 *
 * @param nowMs wall or virtual time in milliseconds; recorded in the dot and the clock entry, used only
 *   to choose which entries truncation drops.
 * @param maxClockEntries clock size limit, default {@link DEFAULT_MAX_CLOCK_ENTRIES}.
 * @param contextDots the context's separate dots (overwritten by this write, like its clock).
 * @param writeId the write's id (a retry of one write carries the same): when `local` already holds a
 *   sibling with it, the write was applied before and is not made again — `local` is returned as it
 *   is, with that sibling's dot.
 * @returns the new state to store (siblings sorted by dot, clock by node) and the new write's dot.
 * @throws RangeError when `nowMs` is not finite or `maxClockEntries` is not an integer >= 1;
 *   ClockOverflowError when `node`'s counter in `local` or the context is already Number.MAX_SAFE_INTEGER.
 */
export function applyPut(
  local: VersionSet | undefined,
  context: readonly ClockEntry[],
  node: NodeId,
  data: Uint8Array | null,
  nowMs: number,
  maxClockEntries: number = DEFAULT_MAX_CLOCK_ENTRIES,
  contextDots: readonly Dot[] = [],
  writeId?: string,
): { versions: VersionSet; dot: Dot } {
  if (!Number.isFinite(nowMs)) throw new RangeError(`applyPut: nowMs must be finite, got ${nowMs}`);
  const applied = writeId === undefined ? undefined : local?.siblings.find((s) => s.writeId === writeId);
  if (applied !== undefined) return { versions: local!, dot: { ...applied.dot } };
  const base = local ?? emptyVersionSet();
  // The new counter exceeds every counter of this node anywhere in sight, so a dot is never reused.
  let highest = Math.max(counterOf(base.clock, node), counterOf(context, node));
  for (const d of [...contextDots, ...(base.dots ?? [])]) if (d.node === node) highest = Math.max(highest, d.counter);
  const counter = highest + 1;
  // Past MAX_SAFE_INTEGER, `highest + 1` may equal `highest`: the dot would name an earlier write.
  if (!Number.isSafeInteger(counter)) {
    throw new ClockOverflowError(`the clock of this key already holds counter ${highest} for ${node}: a write coordinated by ${node} cannot be numbered (a peer sent a corrupt clock)`);
  }
  const dot: Dot = { node, counter, timestampMs: nowMs };

  const survivors = base.siblings.filter((s) => !coversWithDots(context, contextDots, s.dot)).map(copySibling);
  const siblings = [...survivors, { dot: { ...dot }, data, ...(writeId !== undefined ? { writeId } : {}) }].sort((x, y) => compareDots(x.dot, y.dot));

  const joined = mergeClocks(base.clock, context).filter((e) => e.node !== node);
  joined.push({ node, counter, timestampMs: nowMs });
  // The context's separate dots were overwritten by this write: remember them even when this replica
  // never held them, so that they are recognised as overwritten when they arrive (never resurrected).
  const compacted = compactContext(joined, [...(base.dots ?? []), ...contextDots]);
  const keep = new Set(siblings.map((s) => s.dot.node));
  const clock = truncateClock(compacted.clock, maxClockEntries, keep);

  return { versions: makeVersionSet(clock, siblings, compacted.dots), dot };
}

/**
 * Chooses between two siblings carrying the same dot. By construction they are the same write and
 * carry the same data; should they ever differ (a reused dot), pick one by a fixed rule (newer
 * timestamp, then larger bytes) so that merging stays commutative.
 */
function pickSameDot(x: Sibling, y: Sibling): Sibling {
  if (x.dot.timestampMs !== y.dot.timestampMs) return x.dot.timestampMs > y.dot.timestampMs ? x : y;
  return compareData(x.data, y.data) >= 0 ? x : y;
}

function compareData(a: Uint8Array | null, b: Uint8Array | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Replica-side merge of two states of one key (paper §4.4 reconciliation, §4.5 read repair, §4.7
 * anti-entropy; DVV set "sync"). A sibling survives when both sides hold it, or when one side holds it
 * and the other side's clock does not cover its dot (the other side never saw it, so it was not
 * overwritten there). The clock is {@link mergeClocks} of both clocks; it is not truncated, so the merge
 * is commutative, associative and idempotent on states that keep the invariant (every sibling's dot
 * covered by its own clock). `undefined` counts as the empty state.
 *
 * @returns a new version set (siblings sorted by dot, clock by node); inputs are not modified and
 *   `data` arrays are shared, not copied.
 */
export function mergeVersionSets(a: VersionSet | undefined, b: VersionSet | undefined): VersionSet {
  const left = a ?? emptyVersionSet();
  const right = b ?? emptyVersionSet();
  const siblings: Sibling[] = [];
  for (const s of left.siblings) {
    const twin = right.siblings.find((t) => sameDot(t.dot, s.dot));
    if (twin !== undefined) siblings.push(copySibling(pickSameDot(s, twin)));
    else if (!coversWithDots(right.clock, right.dots, s.dot)) siblings.push(copySibling(s));
  }
  for (const t of right.siblings) {
    const twin = left.siblings.find((s) => sameDot(s.dot, t.dot));
    if (twin === undefined && !coversWithDots(left.clock, left.dots, t.dot)) siblings.push(copySibling(t));
  }
  siblings.sort((x, y) => compareDots(x.dot, y.dot));
  const context = compactContext(mergeClocks(left.clock, right.clock), [...(left.dots ?? []), ...(right.dots ?? [])]);
  return makeVersionSet(context.clock, withoutRetriedTwins(siblings), context.dots);
}

/**
 * `siblings` (sorted by dot) less the later twins of a retried write: two siblings with the same write
 * id and the same data are one client write that two coordinators each made a version of (a retry
 * that reached the second before the first's version did, issue 20). The one with the smaller dot is
 * kept; the merged clock covers the other's dot, so it is overwritten everywhere it arrives, and every
 * replica keeps the same one.
 */
function withoutRetriedTwins(siblings: Sibling[]): Sibling[] {
  if (siblings.length < 2 || !siblings.some((s) => s.writeId !== undefined)) return siblings;
  return siblings.filter((s, i) => s.writeId === undefined || !siblings.slice(0, i).some((t) => t.writeId === s.writeId && sameData(t.data, s.data)));
}

function sameData(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Whether two states hold the same knowledge: the same clock counters per node and the same sibling
 * dots (node, counter). Timestamps are ignored (they only guide truncation), entries with counter 0
 * count as absent, and `undefined` equals the empty state. Used to skip needless read repair.
 */
export function versionSetsEqual(a: VersionSet | undefined, b: VersionSet | undefined): boolean {
  const left = a ?? emptyVersionSet();
  const right = b ?? emptyVersionSet();
  if (compareClocks(left.clock, right.clock) !== 'equal') return false;
  const leftDots = left.dots ?? [];
  const rightDots = right.dots ?? [];
  if (leftDots.length !== rightDots.length || !leftDots.every((d) => rightDots.some((e) => sameDot(d, e)))) return false;
  if (left.siblings.length !== right.siblings.length) return false;
  return left.siblings.every((s) => right.siblings.some((t) => sameDot(s.dot, t.dot)));
}

/** The siblings that hold a value (not tombstones), in stored order. Returns a new array. */
export function liveSiblings(v: VersionSet): Sibling[] {
  return v.siblings.filter((s) => s.data !== null);
}

/**
 * Whether the key is deleted: it has at least one sibling and every sibling is a tombstone
 * (`data === null`). An empty state is not tombstone-only (it was never written).
 */
export function isTombstoneOnly(v: VersionSet): boolean {
  return v.siblings.length > 0 && v.siblings.every((s) => s.data === null);
}

/**
 * When a tombstone-only state was deleted: the newest of its tombstones' dot times (ms, the
 * coordinators' wall clocks); `undefined` when it is not tombstone-only ({@link isTombstoneOnly}).
 * Takes the sibling dots and data only, so the Merkle worker's stripped form (a tombstone keeps
 * `data: null`) answers the same. Tombstone purging waits a grace period from this time.
 */
export function deletedAtMs<T extends { siblings: readonly { dot: { timestampMs: number }; data?: unknown }[] }>(v: T): number | undefined {
  if (v.siblings.length === 0) return undefined;
  let newest = -Infinity;
  for (const s of v.siblings) {
    if (s.data !== null) return undefined;
    if (s.dot.timestampMs > newest) newest = s.dot.timestampMs;
  }
  return newest;
}

/**
 * Approximate size of a state on the wire, in bytes: the sum of sibling data lengths, plus for every
 * sibling and every clock entry its node id length + 24 bytes (counter, timestamp and framing).
 * Used to enforce message limits (`VersionSetTooLargeError`), not for exact accounting.
 */
export function versionSetSizeBytes(v: VersionSet): number {
  let total = 0;
  for (const s of v.siblings) total += (s.data?.length ?? 0) + s.dot.node.length + 24;
  for (const e of [...v.clock, ...(v.dots ?? [])]) total += e.node.length + 24;
  return total;
}
