/**
 * `npm run sim:soak -- [hours] [seed]`: the soak of test/sim/soak.ts (issue 20 item 7) — a 20-node
 * cluster under steady writes, deletes of half of them, crashes, leaves and joins for `hours` of virtual
 * time (default 24), printing per-node storage, hints, member records and the full gossip message's size
 * every 30 virtual minutes, then whether any acknowledged write was lost. Exits 1 if one was.
 */
import { DEFAULT_SOAK_TIMES, formatSample, runSoak, SAMPLE_HEADER } from '../test/sim/soak.js';

const hours = Number(process.argv[2] ?? 24);
const seed = Number(process.argv[3] ?? 1);
const t = DEFAULT_SOAK_TIMES;
console.log(`soak: 20 nodes, ${hours} h of virtual time, seed ${seed}; tombstoneGraceMs ${t.tombstoneGraceMs / 60_000} min, memberCompactionMs ${t.memberCompactionMs / 60_000} min, hintTtlMs ${t.hintTtlMs / 60_000} min`);
console.log('nodes: running/in the ring; keys/node and tombstones: mean/max over running nodes; records: member records (max); gossip B: largest full gossip message');
console.log(SAMPLE_HEADER);
const started = Date.now();
const report = await runSoak({ seed, minutes: Math.round(hours * 60), sampleEveryMinutes: 30, onSample: (sample) => console.log(formatSample(sample)) });
console.log(`tombstones purged ${report.tombstonesPurged}, member records compacted ${report.membersCompacted}, hints expired ${report.hintsExpired} (summed over the nodes running at the end)`);
console.log(`churn events: ${report.churn.length}; took ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (report.lost.length > 0) {
  console.log(`LOST ${report.lost.length} acknowledged writes (seed ${seed}):`);
  for (const line of report.lost.slice(0, 20)) console.log(`  ${line}`);
  process.exit(1);
}
console.log('no acknowledged write lost');
