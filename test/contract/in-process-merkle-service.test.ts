/**
 * The MerkleService contract (merkle-service-contract.ts) against `InProcessMerkleService`
 * (src/core/merkle-service.ts), built over a `MemoryStore`. The Web Worker implementation runs the
 * same cases in Chromium: test/e2e/merkle-service-contract.test.ts.
 */
import { describe, it } from 'vitest';
import { InProcessMerkleService } from '../../src/core/merkle-service.js';
import { Ring } from '../../src/core/ring.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { merkleServiceContract, runMerkleContractCase, type MerkleServiceFixture } from './merkle-service-contract.js';

function fixture(): MerkleServiceFixture {
  const stores: MemoryStore[] = [];
  return {
    async open(partitionCount, stored = []) {
      const store = new MemoryStore();
      stores.push(store);
      await store.putObjects(stored);
      const ring = Ring.build([], partitionCount);
      return InProcessMerkleService.build(store, () => ring);
    },
    async close() {
      for (const store of stores.splice(0)) await store.close();
    },
  };
}

describe('MerkleService contract: InProcessMerkleService', () => {
  for (const contractCase of merkleServiceContract) it(contractCase.name, () => runMerkleContractCase(contractCase, fixture()));
});
