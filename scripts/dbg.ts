import { runMembershipSeed } from '../test/sim/membership.js';
const seed = Number(process.argv[2]);
const r = await runMembershipSeed({ seed, keepTrace: true });
console.log(JSON.stringify(r.events));
for (const l of r.trace) if (!/ c\d|w\d/.test(l)) console.log(l.slice(0, 300));
