/**
 * The replica's side of tombstone purging (tombstone-purge.ts): what it answers to a purge-check, and
 * what a purge may delete. The whole protocol runs in test/sim/tombstone-purge.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { versionDigest } from '../../../src/core/merkle-tree.js';
import { Replica } from '../../../src/core/replica.js';
import { StageTimings } from '../../../src/core/stage-timings.js';
import { PURGE_ABSENT, PURGE_OTHER, PURGE_SAME } from '../../../src/core/tombstone-purge.js';
import type { VersionSet } from '../../../src/core/types.js';
import { deletedAtMs } from '../../../src/core/version-set.js';
import { MemoryStore } from '../../../src/storage/memory-store.js';

const dot = (counter: number, timestampMs = 1000 + counter) => ({ node: 'n1', counter, timestampMs });
const tombstone = (counter: number): VersionSet => ({ clock: [dot(counter)], siblings: [{ dot: dot(counter), data: null }] });
const value = (counter: number): VersionSet => ({ clock: [dot(counter)], siblings: [{ dot: dot(counter), data: Uint8Array.of(0xa1, 0x78) }] });

function replicaOver(store: MemoryStore): Replica {
  return new Replica({
    store,
    merkle: () => undefined,
    storedChanged: () => undefined,
    emit: () => undefined,
    reportError: (error) => {
      throw error;
    },
    maxVersionSetBytes: () => 1 << 20,
    holdsHints: () => true,
    isComplete: () => true,
    stages: new StageTimings(),
    elapsedMs: () => 0,
  });
}

describe('deletedAtMs', () => {
  it('is the newest tombstone time of a tombstone-only state, and undefined for a value, a mix or nothing', () => {
    const two: VersionSet = { clock: [dot(2), { node: 'n2', counter: 1, timestampMs: 9000 }], siblings: [{ dot: dot(2), data: null }, { dot: { node: 'n2', counter: 1, timestampMs: 9000 }, data: null }] };
    expect(deletedAtMs(two)).toBe(9000);
    expect(deletedAtMs(tombstone(3))).toBe(1003);
    expect(deletedAtMs(value(3))).toBeUndefined();
    expect(deletedAtMs({ ...two, siblings: [two.siblings[0]!, { dot: two.siblings[1]!.dot, data: Uint8Array.of(1) }] })).toBeUndefined();
    expect(deletedAtMs({ clock: [], siblings: [] })).toBeUndefined();
  });
});

describe('replica purge-check and purge', () => {
  it('answers SAME only for exactly that tombstone set without hints; OTHER for a value, another version or a hint; ABSENT for nothing', async () => {
    const store = new MemoryStore();
    const replica = replicaOver(store);
    await store.putObject('same', tombstone(2));
    await store.putObject('newer', tombstone(3));
    await store.putObject('alive', value(2));
    await store.putObject('hinted', tombstone(2));
    await store.putHint({ intendedFor: 'n9', key: 'hinted', versions: value(1), createdAtMs: 0 });
    await store.putHint({ intendedFor: 'n9', key: 'hint-only', versions: value(1), createdAtMs: 0 });
    const digest = versionDigest(tombstone(2));
    const held = await replica.purgeHoldings(['same', 'newer', 'alive', 'hinted', 'hint-only', 'nothing'].map((key) => ({ key, digest })));
    expect(held).toEqual([PURGE_SAME, PURGE_OTHER, PURGE_OTHER, PURGE_OTHER, PURGE_OTHER, PURGE_ABSENT]);
  });

  it('offers as candidates only keys stored as tombstones alone and hinted nowhere here, with their digests', async () => {
    const store = new MemoryStore();
    const replica = replicaOver(store);
    await store.putObject('gone', tombstone(2));
    await store.putObject('alive', value(2));
    await store.putObject('hinted', tombstone(3));
    await store.putHint({ intendedFor: 'n9', key: 'hinted', versions: value(1), createdAtMs: 0 });
    expect(await replica.purgeCandidates(['gone', 'alive', 'hinted', 'nothing'])).toEqual([{ key: 'gone', digest: versionDigest(tombstone(2)) }]);
  });

  it('a purge deletes only keys that are still that tombstone set and hinted nowhere here', async () => {
    const store = new MemoryStore();
    const replica = replicaOver(store);
    await store.putObject('same', tombstone(2));
    await store.putObject('rewritten', tombstone(5)); // deleted again since the check
    await store.putObject('hinted', tombstone(2));
    await store.putHint({ intendedFor: 'n9', key: 'hinted', versions: tombstone(2), createdAtMs: 0 });
    await store.putObject('alive', value(2)); // the digest ignores data: only tombstone-only states go
    const digest = versionDigest(tombstone(2));
    const purged = await replica.purge(['same', 'rewritten', 'hinted', 'alive', 'nothing'].map((key) => ({ key, digest })));
    expect(purged).toBe(1);
    expect(await store.listKeys()).toEqual(['alive', 'hinted', 'rewritten']);
  });
});
