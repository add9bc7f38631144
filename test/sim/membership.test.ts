/**
 * Membership changes without loss (paper §4.8.1, §4.9): join, leave, remove and capacity changes under
 * a read/write workload with a lossy network and a crash, over many seeds (test/sim/membership.ts has
 * the checkers). A failing seed prints its replay command.
 */
import { describe, expect, it } from 'vitest';
import { membershipReplayCommand, runMembershipSeed, type MembershipReport } from './membership.js';

/** Seeds run by CI. A seed that once failed joins REGRESSION_SEEDS. */
const SEEDS = Array.from({ length: 40 }, (_, i) => 7_000 + i);
const REGRESSION_SEEDS: number[] = [];

function describeFailure(report: MembershipReport): string {
  return [
    `seed=${report.seed}: ${report.violations.length} violation(s), ${report.lostWrites} acknowledged writes lost`,
    ...report.violations.slice(0, 8).map((v) => `  [${v.checker}] ${v.message}`),
    `  schedule: ${report.events.map((e) => JSON.stringify(e)).join(' ')}`,
    `  replay: ${membershipReplayCommand(report.seed)}`,
  ].join('\n');
}

describe('membership changes under load and faults', () => {
  const reports: MembershipReport[] = [];

  it.each([...REGRESSION_SEEDS, ...SEEDS])('seed %i: nothing lost, keys on their N replicas, rings agree, movement and balance within bounds', async (seed) => {
    const report = await runMembershipSeed({ seed });
    reports.push(report);
    expect(report.violations, describeFailure(report)).toEqual([]);
    expect(report.lostWrites).toBe(0);
    // The seed did something: writes were acknowledged and data moved.
    expect(report.acknowledgedWrites).toBeGreaterThan(300);
  }, 120_000);

  it('the seeds covered every kind of change, concurrent changes included, and moved data', () => {
    const kinds = new Set(reports.flatMap((r) => r.events.map((e) => e.kind)));
    expect([...kinds].sort()).toEqual(['capacity', 'crash-restart', 'join', 'leave', 'remove']);
    const concurrent = reports.filter((r) => r.events.some((e, i) => i > 0 && e.atMs === r.events[i - 1]!.atMs));
    expect(concurrent.length).toBeGreaterThan(0);
    expect(reports.reduce((sum, r) => sum + r.keysHandedOff, 0)).toBeGreaterThan(0);
    const joins = reports.flatMap((r) => r.joins);
    expect(joins.length).toBeGreaterThan(0);
  });
});
