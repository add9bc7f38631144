/**
 * Durations of the stages of the write path, kept so that a benchmark can explain where a put's time
 * goes (the coordinator's local read-modify-write, waiting for the replicas; a replica's read-merge-write).
 *
 * Each stage keeps its last {@link SAMPLES_PER_STAGE} durations in a ring buffer, so memory is fixed
 * however long the node runs. Durations come from the Clock port's `elapsedMs` when it has one (a
 * monotonic high-resolution clock: `performance.now()` in tabs), else from `now()`.
 */

/** Durations kept per stage. */
export const SAMPLES_PER_STAGE = 2048;

/** The stages timed. */
export type Stage =
  /** Coordinator: reading the key, making the new version and storing it durably (one transaction). */
  | 'localWrite'
  /** Coordinator: from sending the new version to the replicas until W acknowledgements (the local one included). */
  | 'quorumWait'
  /** Coordinator: a whole coordinated put, from taking the key's lock to the answer. */
  | 'put'
  /** Replica: reading, merging and storing a version set durably (one transaction). */
  | 'replicaWrite';

/** Percentiles of one stage, in ms, over its kept samples. */
export interface StageSummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

/** Ring buffers of stage durations. */
export class StageTimings {
  private readonly samples = new Map<Stage, { values: Float64Array; next: number; count: number }>();

  /** Records one duration of `stage`, in ms. */
  record(stage: Stage, durationMs: number): void {
    let ring = this.samples.get(stage);
    if (ring === undefined) {
      ring = { values: new Float64Array(SAMPLES_PER_STAGE), next: 0, count: 0 };
      this.samples.set(stage, ring);
    }
    ring.values[ring.next] = durationMs;
    ring.next = (ring.next + 1) % SAMPLES_PER_STAGE;
    ring.count++;
  }

  /** Summaries of every stage recorded so far (`count` counts every sample, the percentiles the kept ones). */
  summary(): Partial<Record<Stage, StageSummary>> {
    const out: Partial<Record<Stage, StageSummary>> = {};
    for (const [stage, ring] of this.samples) {
      const kept = Array.from(ring.values.subarray(0, Math.min(ring.count, SAMPLES_PER_STAGE))).sort((a, b) => a - b);
      const at = (q: number): number => kept[Math.min(kept.length - 1, Math.floor(q * kept.length))] ?? 0;
      out[stage] = { count: ring.count, meanMs: kept.reduce((sum, x) => sum + x, 0) / kept.length, p50Ms: at(0.5), p99Ms: at(0.99) };
    }
    return out;
  }

  /** Forgets every sample (a benchmark starts its measured phase). */
  reset(): void {
    this.samples.clear();
  }
}
