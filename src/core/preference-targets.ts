/**
 * Where a key's requests go (paper §4.5, §4.6, §4.9), computed from plain arguments (pure).
 *
 *   preference list   r1 r2 r3 │ f1 f2 f3 …        (N = 3 replicas, then the fallbacks in ring order)
 *   healthy?           ✓  ✗  ✓  │  ✓  ✗  ✓
 *   targets            r1, r3, f1 (for r2)          each healthy replica for itself; for every
 *                                                   unreachable replica the next healthy fallback,
 *                                                   which takes the write as a hint for it (sloppy quorum)
 *   + holders          nodes still handing the key's partition to its new replicas (ownership
 *                      handoff): they hold its past writes, so they are asked too
 *   fallbacks          f3 …                         the remaining healthy fallbacks, in order, to
 *                                                   replace targets that fail during the request
 *
 * Without hinted handoff (a strict quorum) only the N replicas are ever asked.
 */
import { NoReplicasError } from './errors.js';
import type { NodeId } from './types.js';

/** One node a request goes to, and the replica it takes the request for when it is a fallback. */
export interface Target {
  node: NodeId;
  /** Set when `node` is a fallback: the unreachable replica it takes the request for (as a hint). */
  intendedFor?: NodeId;
}

/** A key's replicas, the targets of a request for it, and the fallbacks left to replace failed targets. */
export interface RequestTargets {
  /** The key's N replicas (the first N nodes of its preference list), healthy or not. */
  replicas: NodeId[];
  targets: Target[];
  fallbacks: NodeId[];
}

/** What {@link requestTargets} needs to know. */
export interface TargetInput {
  /** The key's preference list: every ring node, the N replicas first (paper §4.3). */
  preferenceList: readonly NodeId[];
  n: number;
  /** This node (always counted healthy). */
  self: NodeId;
  isHealthy(node: NodeId): boolean;
  /** Sloppy quorum with hinted handoff (paper §4.6); off: the N replicas only. */
  hintedHandoff: boolean;
  /** Members advertising the key's partition as being handed off (ownership handoff, §4.9), in member order. */
  holders: readonly NodeId[];
}

/**
 * The targets of a request for a key. @throws NoReplicasError when the preference list is empty (no
 * node owns partitions yet).
 */
export function requestTargets(input: TargetInput): RequestTargets {
  const list = input.preferenceList;
  if (list.length === 0) throw new NoReplicasError('no node owns partitions yet; wait for the node to join the ring');
  const replicas = list.slice(0, input.n);
  const healthy = (id: NodeId): boolean => id === input.self || input.isHealthy(id);
  const fallbacks = input.hintedHandoff ? list.slice(input.n).filter(healthy) : [];
  const targets: Target[] = replicas.filter(healthy).map((node) => ({ node }));
  for (const replica of replicas) {
    if (healthy(replica)) continue;
    const fallback = fallbacks.shift();
    if (fallback !== undefined) targets.push({ node: fallback, intendedFor: replica });
  }
  for (const holder of input.holders) {
    if (!healthy(holder) || targets.some((t) => t.node === holder)) continue;
    targets.push({ node: holder });
    const i = fallbacks.indexOf(holder);
    if (i >= 0) fallbacks.splice(i, 1);
  }
  return { replicas, targets, fallbacks };
}
