/**
 * The simulation's fault-injecting store (test/sim/faulty-store.ts) must itself be a valid `Store`
 * when it injects no failures: the store contract (store-contract.ts) over it, once healthy and once
 * with slow writes (real milliseconds here), which must still apply in call order.
 */
import { FaultyStore, HEALTHY_STORAGE, type StorageFaults } from '../sim/faulty-store.js';
import { MemoryStore, MemoryStoreData } from '../../src/storage/memory-store.js';
import { runStoreContract } from './store-contract.js';

function faultyOver(data: MemoryStoreData, faults: StorageFaults): FaultyStore {
  let state = 3;
  return new FaultyStore(new MemoryStore(data), {
    faults: () => faults,
    // Any numbers in [0, 1) do: they only spread the delays.
    random: { next: () => (state = (state * 9301 + 49297) % 233280) / 233280 },
    now: () => performance.now(),
    sleep: (delayMs) => new Promise((resolve) => setTimeout(resolve, delayMs)),
    stats: { writesFailed: 0, writesDelayed: 0 },
  });
}

for (const [label, faults] of [
  ['healthy', HEALTHY_STORAGE],
  ['slow writes of 0–2 ms', { ...HEALTHY_STORAGE, writeDelayMinMs: 0, writeDelayMaxMs: 2 }],
] as const) {
  runStoreContract(`FaultyStore over MemoryStore (${label})`, async () => {
    const data = new MemoryStoreData();
    return { store: faultyOver(data, faults), reopen: async () => faultyOver(data, faults) };
  });
}
