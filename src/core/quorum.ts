/**
 * The quorum of one operation (paper §4.5, §4.6), as pure bookkeeping in the manner of riak_kv's
 * `riak_kv_get_core` (init / add_result / enough / response): the coordinator feeds it every answer
 * and failure, and it says what to do next — launch a fallback, keep a hint, answer, or fail — and,
 * for reads, which replicas to repair. The promises and deadlines around it live in fan-out.ts.
 *
 *   targets answer ─▶ succeeded(node, value, complete)     complete answers count towards `needed`
 *   target fails   ─▶ failed(node) ─▶ next fallback takes   (sloppy quorum: the fallback counts as
 *                                     over its replica      the replica it takes the request for)
 *                                     or, none left: that replica is "unplaced"
 *   poll()         ─▶ 'met'    complete ≥ needed, or every attempt ended with ≥ needed answers in all
 *                     'failed' every attempt ended short of that, or the deadline passed first
 *
 * Only complete answers count: a replica still receiving the key's partition (ownership handoff,
 * §4.9) may lack past writes. When every attempt has ended without enough complete answers but with
 * enough answers in all, the quorum is met with what there is (availability first, as the sloppy
 * quorum does).
 */
import { QuorumNotReachedError } from './errors.js';
import type { Target } from './preference-targets.js';
import type { NodeId, VersionSet } from './types.js';
import { mergeVersionSets, versionSetsEqual } from './version-set.js';
import { versionSetLimitProblem } from './version-set-limits.js';

/** One node's successful answer, and the replica it answered for when it is a fallback. */
export interface Answer<T> {
  value: T;
  intendedFor?: NodeId;
}

/** What follows a failed attempt: a fallback to ask in its place, or the replica left without one. */
export interface AfterFailure {
  launch?: Target;
  unplaced?: NodeId;
}

/** Bookkeeping of one operation's quorum. Construct, launch {@link start}'s targets, feed it answers. */
export class QuorumAccumulator<T> {
  readonly successes = new Map<NodeId, Answer<T>>();
  private complete = 0;
  private readonly failures: string[] = [];
  private readonly queue: NodeId[];
  private readonly asked: number;
  private outstanding = 0;
  private verdict: 'met' | 'failed' | undefined;
  private reportedVerdict = false;
  private reportedDone = false;

  /**
   * @param operation named in the error.
   * @param needed answers needed (R or W).
   * @param local the coordinator's own contribution, already made (counted as one answer), if any.
   */
  constructor(
    private readonly operation: 'get' | 'put' | 'delete',
    private readonly needed: number,
    private readonly targets: readonly Target[],
    fallbacks: readonly NodeId[],
    self: NodeId,
    private readonly local?: { node: NodeId; value: T; complete: boolean },
  ) {
    if (local) {
      this.successes.set(local.node, { value: local.value });
      if (local.complete) this.complete++;
    }
    this.queue = fallbacks.filter((id) => id !== self && !targets.some((t) => t.node === id));
    this.asked = targets.filter((t) => t.node !== local?.node).length + (local ? 1 : 0);
  }

  /** The targets to ask first (every target but the coordinator itself). */
  start(): Target[] {
    const launches = this.targets.filter((t) => t.node !== this.local?.node);
    this.outstanding += launches.length;
    return launches;
  }

  /** `node` answered (as a fallback for `intendedFor`, if set); `complete`: it holds the whole partition. */
  succeeded(node: NodeId, intendedFor: NodeId | undefined, value: T, complete: boolean): void {
    this.successes.set(node, intendedFor === undefined ? { value } : { value, intendedFor });
    // A fallback counts as the replica it takes the request for (sloppy quorum).
    if (complete || intendedFor !== undefined) this.complete++;
    this.outstanding--;
  }

  /**
   * `node` failed or stayed silent. The next fallback takes over whatever the failed node was asked
   * for; with none left, that replica is unplaced (the coordinator may keep a hint for it itself).
   * @param mayLaunch false once the node stopped: nothing new is launched.
   */
  failed(node: NodeId, intendedFor: NodeId | undefined, reason: string, mayLaunch: boolean): AfterFailure {
    this.failures.push(`${node}: ${reason}`);
    this.outstanding--;
    const next = this.queue.shift();
    if (!mayLaunch) return {};
    if (next === undefined) return { unplaced: intendedFor ?? node };
    this.outstanding++;
    return { launch: { node: next, intendedFor: intendedFor ?? node } };
  }

  /** The operation's deadline (`timeoutMs`) passed: the quorum fails unless already decided. */
  deadlinePassed(timeoutMs: number): void {
    if (this.verdict !== undefined) return;
    this.failures.unshift(`deadline of ${timeoutMs} ms passed`);
    this.verdict = 'failed';
  }

  /**
   * What changed since the last poll: `verdict` once, when the quorum is decided; `done` once, when
   * every attempt has ended.
   */
  poll(): { verdict?: 'met' | 'failed'; done?: true } {
    if (this.verdict === undefined && (this.complete >= this.needed || (this.outstanding === 0 && this.successes.size >= this.needed))) this.verdict = 'met';
    if (this.outstanding === 0 && this.verdict === undefined) this.verdict = 'failed';
    const out: { verdict?: 'met' | 'failed'; done?: true } = {};
    if (this.verdict !== undefined && !this.reportedVerdict) {
      this.reportedVerdict = true;
      out.verdict = this.verdict;
    }
    if (this.outstanding === 0 && !this.reportedDone) {
      this.reportedDone = true;
      out.done = true;
    }
    return out;
  }

  /** The error of a failed quorum: how many complete answers of how many needed, and the first failure. */
  error(): QuorumNotReachedError {
    const partial = this.successes.size - this.complete;
    const detail = [this.failures[0] ?? '', partial > 0 ? `${partial} more answered from a partition still being handed to them` : ''].filter(Boolean).join('; ');
    return new QuorumNotReachedError(this.operation, this.complete, this.needed, Math.max(this.asked, this.needed), detail);
  }
}

/** A node to repair, and the replica it holds the key for when it is a fallback (it gets a hint). */
export interface RepairTarget {
  node: NodeId;
  intendedFor?: NodeId;
}

/**
 * Read repair (paper §5): once every target of a read answered, the merge of all answers, and the
 * nodes that returned less. `undefined` when there is nothing to repair, or the merge is too large for
 * one message (`maxBytes`), which every replica would refuse.
 * @param intended the fallbacks among the targets, with the replica each stands for.
 */
export function readRepairPlan(
  answers: ReadonlyMap<NodeId, Answer<VersionSet | undefined>>,
  intended: ReadonlyMap<NodeId, NodeId>,
  maxBytes: number,
): { merged: VersionSet; stale: RepairTarget[] } | undefined {
  let merged: VersionSet | undefined;
  for (const { value } of answers.values()) if (value !== undefined) merged = merged === undefined ? value : mergeVersionSets(merged, value);
  if (merged === undefined || versionSetLimitProblem(merged, maxBytes) !== undefined) return undefined;
  const stale: RepairTarget[] = [];
  for (const [node, answer] of answers) {
    if (versionSetsEqual(answer.value, merged)) continue;
    const intendedFor = answer.intendedFor ?? intended.get(node);
    stale.push(intendedFor === undefined ? { node } : { node, intendedFor });
  }
  return stale.length === 0 ? undefined : { merged, stale };
}
