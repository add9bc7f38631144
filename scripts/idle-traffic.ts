/**
 * `npx tsx scripts/idle-traffic.ts [nodes] [seconds]`: bytes an idle simulated cluster sends, per node
 * and per second, by message type (issue 19 item 2: idle must be nearly free). The cluster settles
 * first; then nothing is written for `seconds` of virtual time while every byte sent is counted.
 */
import { decode } from '@msgpack/msgpack';
import { Simulation } from '../test/sim/harness.js';

const NODES = Number(process.argv[2] ?? 10);
const SECONDS = Number(process.argv[3] ?? 60);

const sim = new Simulation({ seed: 1, nodes: NODES });
await sim.start();
if (!(await sim.settleCluster(60_000))) throw new Error('the cluster did not settle');
await sim.runFor(10_000);
const byType = new Map<string, number>();
let total = 0;
const network = sim.network;
const send = network.sendBytes.bind(network);
network.sendBytes = (from, to, bytes): void => {
  const type = (decode(bytes) as { type: string }).type;
  byType.set(type, (byType.get(type) ?? 0) + bytes.byteLength);
  total += bytes.byteLength;
  send(from, to, bytes);
};
await sim.runFor(SECONDS * 1000);
const perNode = (bytes: number): string => (bytes / NODES / SECONDS).toFixed(0).padStart(8);
console.log(`idle ${NODES} nodes for ${SECONDS} s of virtual time: bytes sent per node per second`);
for (const [type, bytes] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`${type.padEnd(22)}${perNode(bytes)}`);
console.log(`${'total'.padEnd(22)}${perNode(total)}`);
