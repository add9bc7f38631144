/**
 * A node's settings (DESIGN.md §3): the cluster-wide (N, R, W) and partition count, this node's
 * capacity, and the periods and limits of every background protocol, with their defaults and the
 * check that refuses a bad value with a typed error.
 */
import { DEFAULT_ANTI_ENTROPY_CONFIG, type AntiEntropyConfig } from './anti-entropy.js';
import { InvalidOptionError } from './errors.js';
import { DEFAULT_FAILURE_DETECTOR_CONFIG } from './failure-detector.js';
import { DEFAULT_OWNERSHIP_HANDOFF_CONFIG, type OwnershipHandoffConfig } from './ownership-handoff.js';
import { DEFAULT_PARTITION_COUNT } from './ring.js';
import { DEFAULT_TOMBSTONE_PURGE_CONFIG, type TombstonePurgeConfig } from './tombstone-purge.js';
import { DEFAULT_MAX_CLOCK_ENTRIES } from './version-set.js';

/** Cluster-wide settings of a node (DESIGN.md §3). */
export interface NodeConfig extends AntiEntropyConfig, OwnershipHandoffConfig, TombstonePurgeConfig {
  /**
   * Sloppy quorum with hinted handoff (paper §4.6). Off: requests go to the N replicas only and a
   * write that misses one is repaired by read repair and anti-entropy alone. Default on.
   */
  hintedHandoff: boolean;
  /** Replicas per key (paper's N). Default 3. */
  n: number;
  /** Replies a get waits for (R). Default 2. */
  r: number;
  /** Durable acks a put waits for (W). Default 2. */
  w: number;
  /** Partitions of the ring (Q), a power of two, equal on every node of a cluster. Default 256. */
  partitionCount: number;
  /** This node's relative capacity (share of partitions). Default 1. */
  capacity: number;
  /** Default deadline of a client operation and of each request to a peer, in ms. Default 3000. */
  requestTimeoutMs: number;
  /** Period of gossip rounds, in ms (paper §4.8.1). Default 1000. */
  gossipIntervalMs: number;
  /** Vector-clock entries kept before truncation (paper §4.4). Default 10. */
  maxClockEntries: number;
  /** Largest version set (all siblings of a key) a put may create, in bytes. Default 4 MiB. */
  maxVersionSetBytes: number;
  /**
   * Deadline of one replica's answer inside an operation, in ms: a replica silent this long is
   * replaced by the next fallback of the preference list (sloppy quorum, §4.6). Default 1000.
   */
  replicaTimeoutMs: number;
  /** Failure detector: SWIM protocol period, in ms. Default 1000. */
  probeIntervalMs: number;
  /** Failure detector: direct ping deadline before indirect probes, in ms. Default 400. */
  probeTimeoutMs: number;
  /** Failure detector: peers asked to probe indirectly. Default 3. */
  indirectProbes: number;
  /** Failure detector: time a peer stays suspect before it is unreachable, in ms. Default 3000. */
  suspicionTimeoutMs: number;
  /** Period of hinted-handoff delivery rounds, in ms. Default 500. */
  hintIntervalMs: number;
  /** Most hints delivered per round (throttling, so handoff never starves foreground requests). Default 32. */
  hintBatchSize: number;
  /**
   * How long a hint is kept for a node that does not come back, in ms: after it, the hint goes to the
   * key's other current replicas and is dropped once one of them holds it (anti-entropy repairs the
   * node from there should it return). Sized to a long outage. Default 7 days.
   */
  hintTtlMs: number;
  /**
   * How long after a member left its record is kept, in ms: after it, the ring's replay is checkpointed
   * past the departure and the record is no longer stored or gossiped (member-compaction.ts). Default 14 days.
   */
  memberCompactionMs: number;
}

/** Defaults of {@link NodeConfig}: (N, R, W) = (3, 2, 2), Q = 256. */
export const DEFAULT_NODE_CONFIG: NodeConfig = {
  n: 3,
  r: 2,
  w: 2,
  partitionCount: DEFAULT_PARTITION_COUNT,
  capacity: 1,
  requestTimeoutMs: 3000,
  gossipIntervalMs: 1000,
  maxClockEntries: DEFAULT_MAX_CLOCK_ENTRIES,
  maxVersionSetBytes: 4 * 1024 * 1024,
  replicaTimeoutMs: 1000,
  ...DEFAULT_FAILURE_DETECTOR_CONFIG,
  hintIntervalMs: 500,
  hintBatchSize: 32,
  hintTtlMs: 7 * 24 * 3600 * 1000,
  memberCompactionMs: 14 * 24 * 3600 * 1000,
  hintedHandoff: true,
  ...DEFAULT_ANTI_ENTROPY_CONFIG,
  ...DEFAULT_OWNERSHIP_HANDOFF_CONFIG,
  ...DEFAULT_TOMBSTONE_PURGE_CONFIG,
};

/** Settings renamed since earlier versions, with their current names (issue 18: one word per concept). */
const RENAMED_SETTINGS: Record<string, string> = {
  handoffIntervalMs: 'ownershipHandoffIntervalMs',
  handoffBatchSize: 'ownershipHandoffBatchSize',
  handoffConcurrency: 'ownershipHandoffConcurrency',
};

/**
 * The settings of a node: `partial` over the defaults, each checked.
 * @throws InvalidOptionError naming the first setting out of range, unknown, or renamed (with its new name).
 */
export function resolveConfig(partial: Partial<NodeConfig> | undefined): NodeConfig {
  for (const name of Object.keys(partial ?? {})) {
    if (Object.hasOwn(DEFAULT_NODE_CONFIG, name)) continue;
    const renamed = RENAMED_SETTINGS[name];
    // A misspelt or renamed setting would otherwise be ignored without a word.
    throw new InvalidOptionError(renamed !== undefined ? `the setting ${name} is now called ${renamed}` : `unknown setting ${name}`);
  }
  const config = { ...DEFAULT_NODE_CONFIG, ...partial };
  const positiveInt = (name: keyof NodeConfig, max: number): void => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      throw new InvalidOptionError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
    }
  };
  positiveInt('n', 16);
  positiveInt('r', config.n);
  positiveInt('w', config.n);
  positiveInt('requestTimeoutMs', 600_000);
  positiveInt('gossipIntervalMs', 3_600_000);
  positiveInt('maxClockEntries', 64);
  positiveInt('maxVersionSetBytes', 64 * 1024 * 1024);
  positiveInt('replicaTimeoutMs', 600_000);
  positiveInt('probeIntervalMs', 3_600_000);
  positiveInt('probeTimeoutMs', config.probeIntervalMs);
  positiveInt('indirectProbes', 16);
  positiveInt('suspicionTimeoutMs', 3_600_000);
  positiveInt('hintIntervalMs', 3_600_000);
  positiveInt('hintBatchSize', 10_000);
  positiveInt('hintTtlMs', 10 * 365 * 24 * 3600 * 1000);
  positiveInt('memberCompactionMs', 10 * 365 * 24 * 3600 * 1000);
  positiveInt('antiEntropyIntervalMs', 3_600_000);
  positiveInt('antiEntropyMaxPartitions', 65_536);
  positiveInt('antiEntropyMaxKeys', 256);
  positiveInt('antiEntropyMaxBackoff', 1024);
  positiveInt('ownershipHandoffIntervalMs', 3_600_000);
  positiveInt('ownershipHandoffBatchSize', 1024);
  positiveInt('ownershipHandoffConcurrency', 64);
  positiveInt('tombstoneGraceMs', 10 * 365 * 24 * 3600 * 1000);
  positiveInt('tombstonePurgeIntervalMs', 3_600_000);
  for (const flag of ['hintedHandoff', 'antiEntropy', 'tombstonePurge'] as const) {
    if (typeof config[flag] !== 'boolean') throw new InvalidOptionError(`${flag} must be true or false, got ${String(config[flag])}`);
  }
  if (!Number.isFinite(config.capacity) || config.capacity <= 0) throw new InvalidOptionError(`capacity must be a positive number, got ${config.capacity}`);
  return config;
}

/** @throws InvalidOptionError unless `capacity` is a finite number in (0, 1000000]. */
export function checkCapacity(capacity: number): void {
  if (typeof capacity !== 'number' || !Number.isFinite(capacity) || capacity <= 0 || capacity > 1_000_000) {
    throw new InvalidOptionError(`capacity must be a finite number in (0, 1000000], got ${String(capacity)}`);
  }
}
