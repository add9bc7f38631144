/**
 * The short soak (issue 20 item 7; the long one is `npm run sim:soak`): 45 virtual minutes of a 20-node
 * cluster with steady writes, deletes of half of them, crashes, leaves and joins (soak.ts). Per-node
 * storage, tombstones, member records and the gossip message level off, and no acknowledged write is
 * lost. Without tombstone purging the tombstones per node would reach about 110 by the end (each
 * delete kept on 3 of ~19 nodes), and without member compaction the records would count every member
 * that ever left.
 */
import { describe, expect, it } from 'vitest';
import { CHURN_EVERY_MINUTES, DEFAULT_SOAK_TIMES, formatSample, runSoak, SAMPLE_HEADER, WRITES_PER_MINUTE } from './soak.js';

describe('soak', () => {
  it('45 virtual minutes of churn: storage, tombstones, member records and gossip level off; no acknowledged write lost', async () => {
    const seed = 7;
    const report = await runSoak({ seed, minutes: 45, sampleEveryMinutes: 5 });
    console.log([SAMPLE_HEADER, ...report.samples.map(formatSample)].join('\n'));
    console.log(`seed ${seed}: purged ${report.tombstonesPurged} tombstones, compacted ${report.membersCompacted} records, expired ${report.hintsExpired} hints; churn: ${report.churn.join('; ')}`);
    expect(report.lost, `seed=${seed}: acknowledged writes lost`).toEqual([]);
    const half = report.samples.find((s) => s.minute === 25)!;
    const last = report.samples.at(-1)!;
    // Tombstones live about the grace period plus a purge round or two: deletes per minute over that
    // time, on 3 replicas, spread over the nodes, with room for an uneven spread.
    const graceMinutes = DEFAULT_SOAK_TIMES.tombstoneGraceMs / 60_000 + 3;
    const tombstoneBound = ((WRITES_PER_MINUTE * graceMinutes * 3) / last.nodes) * 1.5;
    for (const s of report.samples.filter((x) => x.minute >= 25)) expect(s.tombstonesMean, `seed=${seed} minute ${s.minute}: tombstones per node`).toBeLessThan(tombstoneBound);
    expect(report.tombstonesPurged).toBeGreaterThan(0);
    // Storage and gossip level off: the last sample within a quarter of the one at minute 25.
    expect(last.objectsMean, `seed=${seed}: keys per node, minute 25 vs 45`).toBeLessThan(half.objectsMean * 1.25);
    expect(last.gossipBytesMax, `seed=${seed}: gossip bytes, minute 25 vs 45`).toBeLessThan(half.gossipBytesMax * 1.25);
    // Member records: the ring's members and at most the departures of the last compaction period.
    const recentDepartures = Math.ceil(DEFAULT_SOAK_TIMES.memberCompactionMs / 60_000 / (3 * CHURN_EVERY_MINUTES)) + 1;
    for (const s of report.samples.filter((x) => x.minute >= 25)) expect(s.memberRecordsMax, `seed=${seed} minute ${s.minute}: member records`).toBeLessThanOrEqual(s.ringMembers + recentDepartures);
    expect(report.membersCompacted).toBeGreaterThan(0);
  }, 240_000);
});
