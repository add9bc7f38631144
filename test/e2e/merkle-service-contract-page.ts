/**
 * The page behind `merkle-service-contract.html`: runs the cases of the MerkleService contract
 * (test/contract/merkle-service-contract.ts, the same module the Node runner uses) against
 * `WorkerMerkleService`, each service a real module Web Worker over its own IndexedDB database written
 * by `IdbStore`, as in a tab. Exposed as `window.merkleContract`; the e2e test asks it to run one case
 * at a time and reports the outcome.
 */
import { WorkerMerkleService } from '../../src/merkle/worker-merkle-service.js';
import { IdbStore } from '../../src/storage/idb-store.js';
import { merkleServiceContract, runMerkleContractCase, type MerkleServiceFixture } from '../contract/merkle-service-contract.js';

let databases = 0;
/** Workers started by the cases so far (the e2e test checks the cases did run in workers). */
let workersStarted = 0;

/** Services over fresh databases; closing the fixture terminates the workers and deletes the databases. */
function workerFixture(): MerkleServiceFixture {
  const services: WorkerMerkleService[] = [];
  const names: string[] = [];
  return {
    async open(partitionCount, stored = []) {
      databases += 1;
      const name = `merkle-contract-${Date.now().toString(36)}-${databases}`;
      names.push(name);
      // The worker reads the node's database itself: it must exist, with the store's schema and data.
      const store = await IdbStore.open(name);
      try {
        if (stored.length > 0) await store.putObjects(stored);
      } finally {
        await store.close();
      }
      const service = await WorkerMerkleService.start(name, partitionCount);
      services.push(service);
      workersStarted += 1;
      return service;
    },
    async close() {
      for (const service of services.splice(0)) service.close();
      for (const name of names.splice(0)) await IdbStore.destroy(name);
    },
  };
}

/** The outcome of one case: `error` is `name: message` of what it threw, absent when it passed. */
export interface CaseOutcome {
  error?: string;
  ms: number;
  /** Workers the case started. */
  workers: number;
}

const contract = {
  /** Names of the cases, in order. */
  cases: merkleServiceContract.map((c) => c.name),
  /** Runs the case called `name` against fresh worker services. */
  async run(name: string): Promise<CaseOutcome> {
    const contractCase = merkleServiceContract.find((c) => c.name === name);
    const started = performance.now();
    const workersBefore = workersStarted;
    if (contractCase === undefined) return { error: `no case called "${name}"`, ms: 0, workers: 0 };
    try {
      await runMerkleContractCase(contractCase, workerFixture());
      return { ms: performance.now() - started, workers: workersStarted - workersBefore };
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return { error: text, ms: performance.now() - started, workers: workersStarted - workersBefore };
    }
  },
};

declare global {
  interface Window {
    merkleContract?: typeof contract;
  }
}
window.merkleContract = contract;
