/**
 * What one message can carry of a key (paper §4.5 sends a key's whole version set in one message):
 * at most MAX_WIRE_SIBLINGS siblings, MAX_WIRE_CLOCK_ENTRIES clock entries, as many dots in its dot
 * cloud, and `maxVersionSetBytes` bytes. A replica stores nothing it could not send: its peers would drop every message carrying it
 * (reads, repairs, handoff batches), so writes, merges and hints that would exceed it are refused.
 */
import { VersionSetTooLargeError } from './errors.js';
import { MAX_WIRE_CLOCK_ENTRIES, MAX_WIRE_SIBLINGS } from './messages.js';
import type { VersionSet } from './types.js';
import { versionSetSizeBytes } from './version-set.js';

/** Why `versions` does not fit one message, or undefined when it does. `maxBytes` in bytes. */
export function versionSetLimitProblem(versions: VersionSet, maxBytes: number): VersionSetTooLargeError | undefined {
  const size = versionSetSizeBytes(versions);
  const collapse = 'get the key and put a merged value with its context to collapse them';
  if (size > maxBytes) return new VersionSetTooLargeError(size, maxBytes);
  if (versions.siblings.length > MAX_WIRE_SIBLINGS) {
    return new VersionSetTooLargeError(size, maxBytes, `the key's versions would have ${versions.siblings.length} siblings (limit ${MAX_WIRE_SIBLINGS}); ${collapse}`);
  }
  if (versions.clock.length > MAX_WIRE_CLOCK_ENTRIES) {
    return new VersionSetTooLargeError(size, maxBytes, `the key's clock would have ${versions.clock.length} entries (limit ${MAX_WIRE_CLOCK_ENTRIES}); its writers are too many to track`);
  }
  const dots = versions.dots?.length ?? 0;
  if (dots > MAX_WIRE_CLOCK_ENTRIES) {
    return new VersionSetTooLargeError(size, maxBytes, `the key's context would name ${dots} writes beyond its clock (limit ${MAX_WIRE_CLOCK_ENTRIES}); ${collapse}`);
  }
  return undefined;
}

/** @throws VersionSetTooLargeError when `versions` does not fit one message (see {@link versionSetLimitProblem}). */
export function assertFitsOneMessage(versions: VersionSet, maxBytes: number): void {
  const problem = versionSetLimitProblem(versions, maxBytes);
  if (problem !== undefined) throw problem;
}
