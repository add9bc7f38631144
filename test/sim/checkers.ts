/**
 * Checkers: pure functions over what the clients observed and what the nodes ended up storing. None of
 * them touches a simulation, so each can be tested on hand-made histories, and a failure names exactly
 * what was violated. The runner (`workload.ts`) gathers the inputs and adds the seed and fault schedule
 * to every message.
 *
 *   safety, during chaos    stored states well formed; reads return only elements someone tried to add
 *   safety, at the end      set-full: every acknowledged element is in the final read
 *                           causal accounting: every acknowledged write is a final sibling or was seen
 *                             by a later write that is (transitively); with blind writes: is a sibling
 *                           sibling bound: stale-context writers leave at most one sibling each
 *   liveness, after heal    convergence: the replicas of every key hold equal version sets
 *                           hints drain: no node holds a hint
 */
import { covers } from '../../src/core/version-set.js';
import { versionSetsEqual } from '../../src/core/version-set.js';
import type { Dot, NodeId, VersionSet } from '../../src/core/types.js';

/** One broken property. `checker` names the property; `message` says what broke, with the evidence. */
export interface Violation {
  checker: string;
  message: string;
}

/** A dot as a string, `node:counter` (timestamps are not part of a write's identity). */
export function dotId(dot: Pick<Dot, 'node' | 'counter'>): string {
  return `${dot.node}:${dot.counter}`;
}

/** At most `max` items of a list, then how many more there were. */
export function preview(items: readonly string[], max = 10): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} … (+${items.length - max} more)`;
}

// ─── safety during chaos ───────────────────────────────────────────────────────────────────────

/**
 * The invariants of a stored version set (src/core/version-set.ts): siblings sorted by dot without
 * duplicates, every sibling's dot covered by the clock, clock entries sorted by node without duplicates
 * and with positive counters.
 */
export function checkStoredState(node: NodeId, key: string, state: VersionSet): Violation[] {
  const problems: string[] = [];
  const clockNodes = state.clock.map((e) => e.node);
  for (let i = 1; i < clockNodes.length; i++) if (!(clockNodes[i - 1]! < clockNodes[i]!)) problems.push(`clock not sorted or duplicated at ${clockNodes[i]}`);
  for (const e of state.clock) if (!(Number.isInteger(e.counter) && e.counter > 0)) problems.push(`clock entry ${e.node} has counter ${e.counter}`);
  const dots = state.siblings.map((s) => s.dot);
  for (let i = 1; i < dots.length; i++) {
    const a = dots[i - 1]!;
    const b = dots[i]!;
    if (!(a.node < b.node || (a.node === b.node && a.counter < b.counter))) problems.push(`siblings not sorted or duplicated at ${dotId(b)}`);
  }
  for (const d of dots) if (!covers(state.clock, d)) problems.push(`sibling ${dotId(d)} not covered by the clock`);
  return problems.map((p) => ({ checker: 'stored-state', message: `${node} stores ${key}: ${p}` }));
}

/**
 * No phantoms: every element a read returned was added by some client (attempted, acknowledged or
 * not). An element nobody wrote means the store invented or corrupted data.
 */
export function checkNoPhantoms(key: string, returned: Iterable<string>, attempted: ReadonlySet<string>): Violation[] {
  const phantoms = [...returned].filter((e) => !attempted.has(e));
  return phantoms.length === 0 ? [] : [{ checker: 'no-phantoms', message: `a read of ${key} returned elements nobody wrote: ${preview(phantoms)}` }];
}

// ─── safety at the end ─────────────────────────────────────────────────────────────────────────

/** The final read of one key: the union of its siblings' elements, or why the read failed. */
export type FinalRead = { ok: true; elements: ReadonlySet<string>; siblings: FinalSibling[] } | { ok: false; error: string };

/** A sibling of a final read: its dot and the tag of the write that made it (when recognisable). */
export interface FinalSibling {
  dot: string;
  tag: string | undefined;
}

/**
 * Set-full (Jepsen's `set-full`, reduced to its end state): every element whose put was acknowledged
 * is in the final read of its key. `storedAnywhere` (optional) is the union over every node's stored
 * objects and hints, to tell "gone" from "stored but not returned by the read".
 */
export function checkSetFull(
  acknowledged: ReadonlyMap<string, ReadonlySet<string>>,
  finalReads: ReadonlyMap<string, FinalRead>,
  storedAnywhere?: ReadonlyMap<string, ReadonlySet<string>>,
): { violations: Violation[]; lost: number } {
  const violations: Violation[] = [];
  let lost = 0;
  for (const [key, elements] of acknowledged) {
    const read = finalReads.get(key);
    if (read === undefined || !read.ok) {
      violations.push({ checker: 'set-full', message: `the final read of ${key} failed (${read?.ok === false ? read.error : 'not attempted'}); ${elements.size} acknowledged elements unverified` });
      continue;
    }
    const missing = [...elements].filter((e) => !read.elements.has(e)).sort();
    if (missing.length === 0) continue;
    lost += missing.length;
    const stored = storedAnywhere?.get(key);
    const stillStored = stored === undefined ? [] : missing.filter((e) => stored.has(e));
    violations.push({
      checker: 'set-full',
      message:
        `${missing.length} of ${elements.size} acknowledged elements of ${key} are missing from the final read: ${preview(missing)}` +
        (stored === undefined ? '' : ` (${stillStored.length} of them still stored on some node or in a hint, ${missing.length - stillStored.length} gone everywhere)`),
    });
  }
  return { violations, lost };
}

/** A write a client issued, as the causal-accounting checker needs it. */
export interface WriteRecord {
  key: string;
  /** Unique per write, stored in the value, so a sibling can be traced to the write that made it. */
  tag: string;
  /** Dots of the siblings the writer read before writing (its context covers exactly these and their past). */
  seen: string[];
  acknowledged: boolean;
  /** The write's dot: from its put result, or from any read that returned its tag; unknown otherwise. */
  dot: string | undefined;
}

/**
 * Causal accounting: every acknowledged write either is a sibling of its key's final read, or was seen
 * by a later write that is itself accounted for (its value, written knowing the first one, survives).
 * Concurrent acknowledged writes must therefore all surface as siblings unless a write that saw them
 * merged them. For blind writes (nobody reads first) it says: every acknowledged write is a sibling.
 *
 * A write with an unknown dot can still account for others when its tag is a final sibling; it cannot
 * be accounted for through others, since no reader saw it (which is fine: it was not acknowledged).
 * A write retried at a second coordinator may have had two versions (`dotsOfTag`: every dot its tag was
 * seen under); replicas keep one of the twins, and a later write that saw either accounts for it.
 */
export function checkCausalAccounting(writes: readonly WriteRecord[], finalReads: ReadonlyMap<string, FinalRead>, dotsOfTag: ReadonlyMap<string, ReadonlySet<string>> = new Map()): Violation[] {
  const violations: Violation[] = [];
  const byKey = new Map<string, WriteRecord[]>();
  for (const w of writes) {
    const list = byKey.get(w.key) ?? [];
    list.push(w);
    byKey.set(w.key, list);
  }
  for (const [key, list] of byKey) {
    const read = finalReads.get(key);
    if (read === undefined || !read.ok) {
      if (list.some((w) => w.acknowledged)) violations.push({ checker: 'causal-accounting', message: `the final read of ${key} failed; causal accounting not possible` });
      continue;
    }
    const finalDots = new Set(read.siblings.map((s) => s.dot));
    const finalTags = new Set(read.siblings.map((s) => s.tag).filter((t): t is string => t !== undefined));
    // Writes that saw a given dot: the dot's possible "mergers".
    const seenBy = new Map<string, WriteRecord[]>();
    for (const w of list) for (const d of w.seen) seenBy.set(d, [...(seenBy.get(d) ?? []), w]);
    const memo = new Map<WriteRecord, boolean>();
    const accounted = (w: WriteRecord): boolean => {
      const known = memo.get(w);
      if (known !== undefined) return known;
      memo.set(w, false); // a cycle would be a broken history; it accounts for nothing
      const dots = new Set([...(w.dot !== undefined ? [w.dot] : []), ...(w.dot !== undefined ? (dotsOfTag.get(w.tag) ?? []) : [])]);
      let ok = finalTags.has(w.tag) || [...dots].some((d) => finalDots.has(d));
      if (!ok) ok = [...dots].some((d) => (seenBy.get(d) ?? []).some((later) => later !== w && accounted(later)));
      memo.set(w, ok);
      return ok;
    };
    const unaccounted = list.filter((w) => w.acknowledged && !accounted(w)).map((w) => `${w.tag}@${w.dot ?? '?'}`);
    if (unaccounted.length > 0) {
      violations.push({
        checker: 'causal-accounting',
        message: `${unaccounted.length} acknowledged writes of ${key} are neither final siblings nor seen by a surviving later write: ${preview(unaccounted)} (final siblings: ${preview([...finalDots])})`,
      });
    }
  }
  return violations;
}

/**
 * Sibling bound: writers that each write with the context their own previous put returned overwrite
 * their own past, so at most one sibling per writer remains.
 */
export function checkSiblingBound(key: string, siblings: number, writers: number): Violation[] {
  return siblings <= writers ? [] : [{ checker: 'sibling-bound', message: `${key} has ${siblings} siblings after ${writers} stale-context writers (at most ${writers} allowed)` }];
}

// ─── liveness after heal ───────────────────────────────────────────────────────────────────────

/**
 * Convergence of one moment: for every key, the states its replicas store (replica → state, `undefined`
 * when the replica has nothing) are equal by `versionSetsEqual`. Returns the keys that still differ,
 * each with a short description of who holds what.
 */
export function divergentKeys(states: ReadonlyMap<string, ReadonlyMap<NodeId, VersionSet | undefined>>): string[] {
  const divergent: string[] = [];
  for (const [key, byReplica] of states) {
    const entries = [...byReplica];
    const first = entries[0]?.[1];
    if (entries.every(([, state]) => versionSetsEqual(state, first))) continue;
    const summary = entries.map(([node, state]) => `${node}:${state === undefined ? '∅' : `{${state.siblings.map((s) => dotId(s.dot)).join(' ')}}`}`).join(' ');
    divergent.push(`${key} (${summary})`);
  }
  return divergent;
}

/** The `p`-th percentile (0–100) of `values` by nearest rank; undefined for an empty list. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
