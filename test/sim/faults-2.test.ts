/**
 * Mixed-fault seeds, shard 2 of 2 (shard 1 and the replay test are in faults.test.ts). A separate file
 * so that vitest can run the two shards on two workers. See seed-suite.ts for SIM_SEEDS / SIM_SEED_START.
 */
import { defineMixedFaultShard } from './seed-suite.js';

defineMixedFaultShard(1, 2);
