/**
 * Partition handoff with 30 nodes (paper §4.9): a join, then a leave and a capacity change at the
 * same moment, on a slow network (round trips of 0.6–2.4 s, as between tabs on saturated cores) and
 * on a fast one. test/sim/large-cluster.ts has the scenario and its checks. A failing seed prints its
 * replay command.
 */
import { describe, expect, it } from 'vitest';
import { largeClusterReplayCommand, runLargeClusterSeed, type LargeClusterReport } from './large-cluster.js';

function describeFailure(report: LargeClusterReport): string {
  return [
    `seed=${report.seed}: ${report.joiner} joined, ${report.leaver} left, ${report.grower} capacity 2; ${report.violations.length} violation(s)`,
    ...report.violations.slice(0, 8).map((v) => `  [${v.checker}] ${v.message}`),
    `  replay: ${largeClusterReplayCommand(report.seed)}`,
  ].join('\n');
}

describe('30 nodes: join, then leave + capacity change', () => {
  it('slow network (seed 1): settles, the leaver leaves, every key on its N replicas with its value', async () => {
    // Before handoff deadlines followed round trips, this seed was still unsettled after 240 virtual s.
    const report = await runLargeClusterSeed({ seed: 1, settleDeadlineMs: 90_000 });
    expect(report.violations, describeFailure(report)).toEqual([]);
    expect(report.settleMs, describeFailure(report)).toBeDefined();
    expect(report.keysHandedOff).toBeGreaterThan(0);
  }, 120_000);

  it('fast network (seed 2): settles within seconds', async () => {
    const report = await runLargeClusterSeed({ seed: 2, changeNetwork: { delayMinMs: 1, delayMaxMs: 25 }, settleDeadlineMs: 30_000 });
    expect(report.violations, describeFailure(report)).toEqual([]);
    expect(report.keysHandedOff).toBeGreaterThan(0);
  }, 120_000);
});
