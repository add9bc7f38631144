/**
 * Totals over many seeds of mixed faults, and the table `npm run sim` and the CI shards print:
 *
 *   seeds  failed  faults  acked writes  lost writes  convergence p50  p99     not converged  hints peak  real ms/seed (mean/max)
 *   300    0       2850    17077/17609   0            0ms              1400ms  0              13          52.3/243
 */
import { percentile } from './checkers.js';
import type { SeedReport } from './workload.js';

/** Totals of a batch of seeds. */
export interface SoakSummary {
  seeds: number;
  failedSeeds: number[];
  faultsInjected: number;
  acknowledgedWrites: number;
  attemptedWrites: number;
  lostWrites: number;
  /** Seeds that failed, by checker (a seed counts once per checker it broke). */
  failuresByChecker: Map<string, number>;
  /** Convergence times (virtual ms) of the seeds that converged. */
  convergenceMs: number[];
  notConverged: number;
  hintsSkipped: boolean;
  hintsPeak: number;
  realMsTotal: number;
  realMsMax: number;
}

/** Adds up `reports`. */
export function summarize(reports: readonly SeedReport[]): SoakSummary {
  const failuresByChecker = new Map<string, number>();
  for (const r of reports) for (const c of new Set(r.violations.map((v) => v.checker))) failuresByChecker.set(c, (failuresByChecker.get(c) ?? 0) + 1);
  const converged = reports.map((r) => r.convergenceMs).filter((ms): ms is number => ms !== undefined);
  return {
    seeds: reports.length,
    failedSeeds: reports.filter((r) => r.violations.length > 0).map((r) => r.seed),
    faultsInjected: reports.reduce((sum, r) => sum + r.faultsInjected, 0),
    acknowledgedWrites: reports.reduce((sum, r) => sum + r.acknowledgedWrites, 0),
    attemptedWrites: reports.reduce((sum, r) => sum + r.attemptedWrites, 0),
    lostWrites: reports.reduce((sum, r) => sum + r.lostWrites, 0),
    failuresByChecker,
    convergenceMs: converged,
    notConverged: reports.length - converged.length,
    hintsSkipped: reports.some((r) => r.hintsDrainMs === 'skipped'),
    hintsPeak: reports.reduce((max, r) => Math.max(max, r.hintsPeak), 0),
    realMsTotal: reports.reduce((sum, r) => sum + r.realMs, 0),
    realMsMax: reports.reduce((max, r) => Math.max(max, r.realMs), 0),
  };
}

/** The summary as an aligned text table, followed by the failures per checker when there are any. */
export function formatSummaryTable(s: SoakSummary): string {
  const ms = (v: number | undefined): string => (v === undefined ? '-' : `${v}ms`);
  const header = ['seeds', 'failed', 'faults', 'acked writes', 'lost writes', 'convergence p50', 'p99', 'not converged', 'hints peak', 'real ms/seed (mean/max)'];
  const row = [
    String(s.seeds),
    String(s.failedSeeds.length),
    String(s.faultsInjected),
    `${s.acknowledgedWrites}/${s.attemptedWrites}`,
    String(s.lostWrites),
    ms(percentile(s.convergenceMs, 50)),
    ms(percentile(s.convergenceMs, 99)),
    String(s.notConverged),
    s.hintsSkipped ? 'skipped' : String(s.hintsPeak),
    s.seeds === 0 ? '-' : `${(s.realMsTotal / s.seeds).toFixed(1)}/${s.realMsMax.toFixed(0)}`,
  ];
  const widths = header.map((h, i) => Math.max(h.length, row[i]!.length));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const lines = [line(header), line(row)];
  if (s.failuresByChecker.size > 0) {
    lines.push('failed seeds by checker: ' + [...s.failuresByChecker].map(([c, n]) => `${c}=${n}`).join(' '));
  }
  return lines.join('\n');
}
