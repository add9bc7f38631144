/**
 * The browser's implementations of the core's ports (src/core/ports.ts, STYLE.md habit 1): the wall
 * clock, `crypto` randomness, the store (IndexedDB or memory), the Merkle worker, and the transport
 * port over the PeerJS transport. Thin adapters: they translate, the policies stay in the core.
 *
 *   port           here                                   in the simulation
 *   Clock          wallClock (Date.now)                   virtual clock
 *   Random         cryptoRandom (crypto.getRandomValues)  seeded generator
 *   Store          openStore: IdbStore | MemoryStore      MemoryStore
 *   MerkleService  startMerkleWorker, else in process     in process
 *   Transport      deferredTransport(PeerjsTransport)     memory network
 */
import { DynamoError } from '../core/errors.js';
import type { NodeEvent } from '../core/node-api.js';
import type { Clock, Random, Transport } from '../core/ports.js';
import { Ring } from '../core/ring.js';
import { MerkleWorkerError, WorkerMerkleService } from '../merkle/worker-merkle-service.js';
import type { PeerjsTransport } from '../net/peerjs-transport.js';
import { IdbStore } from '../storage/idb-store.js';
import { MemoryStore } from '../storage/memory-store.js';

/** The wall clock: ms since the epoch. */
export const wallClock: Clock = Object.freeze({ now: () => Date.now(), elapsedMs: () => performance.now() });

/** Uniform numbers in [0, 1) from `crypto.getRandomValues` (32 bits each). */
export const cryptoRandom: Random = Object.freeze({ next: () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32 });

/**
 * Opens the node's store: a new `MemoryStore` for `'memory'`, else the IndexedDB database `dbName`.
 * When another tab upgrades or deletes that database, or the browser closes it, every later storage
 * call fails with `StorageError`, and `report` gets an 'error' event saying so.
 * @throws StorageError (IndexedDB unavailable, blocked, or over quota).
 */
export async function openStore(storage: 'indexeddb' | 'memory' | undefined, dbName: string, report: (event: NodeEvent) => void): Promise<IdbStore | MemoryStore> {
  if (storage === 'memory') return new MemoryStore();
  return IdbStore.open(dbName, {
    onForcedClose: (error) => report({ type: 'error', error, context: 'the database was closed' }),
  });
}

/**
 * The core's transport port over a PeerJS transport that is opened after the core is built (the
 * transport's callbacks need the core). Until `current()` returns one, messages are dropped and no
 * node counts as connected; the core's timeouts treat that like any loss.
 */
export function deferredTransport(current: () => PeerjsTransport | undefined): Transport {
  return {
    send: (to, message) => current()?.send(to, message),
    isConnected: (peer) => current()?.isConnected(peer) ?? false,
  };
}

/**
 * Starts the Merkle worker on the node's database. When that fails (no `Worker` in this context, the
 * worker script does not load, or the worker cannot read the database), reports an 'error' event and
 * returns `undefined`: the core then builds its trees in this thread, which works wherever the main
 * thread's store works, at the cost of hashing on the main thread.
 */
export async function startMerkleWorker(dbName: string, partitionCount: number, report: (event: NodeEvent) => void): Promise<WorkerMerkleService | undefined> {
  try {
    // A bad Q is for the core to refuse, with its own InvalidOptionError; do not start a worker for it.
    Ring.build([], partitionCount);
  } catch {
    return undefined;
  }
  const fallback = 'the Merkle worker could not be started, so the anti-entropy trees are built and kept on the main thread';
  if (typeof Worker === 'undefined') {
    report({ type: 'error', error: new MerkleWorkerError('Web Workers are not available here'), context: fallback });
    return undefined;
  }
  try {
    return await WorkerMerkleService.start(dbName, partitionCount, {
      onFailure: (error) => report({ type: 'error', error, context: 'the Merkle worker failed; anti-entropy stops until the page is reloaded' }),
    });
  } catch (error) {
    // Errors from inside the worker arrive as plain Errors that keep only their name.
    const reported =
      error instanceof DynamoError
        ? error
        : new MerkleWorkerError(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
    report({ type: 'error', error: reported, context: fallback });
    // Events reported while the node starts reach no listener yet (none can subscribe before start()
    // returns), so say it on the console as well.
    console.warn(`tabdynamo: ${fallback}:`, reported);
    return undefined;
  }
}
