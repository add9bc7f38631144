/**
 * The main thread's side of the Merkle worker (`merkle-worker.ts`): a `MerkleService` (the core's port
 * to its trees, paper §4.7) whose every call is a comlink message to a dedicated module worker. The
 * worker reads the node's IndexedDB itself, so building the trees costs the main thread nothing but a
 * few messages, and later writes cost it one `postMessage` per task: the updates made in one task
 * (an ownership handoff batch merges hundreds of keys at once) are gathered and sent together, ahead
 * of any other call, so the worker still sees every call in the order it was made.
 *
 * Errors. comlink carries a thrown error across the boundary as a plain `Error` with the original
 * `name`, `message` and `stack`: its class is lost. Callers must compare `error.name`
 * (`'StorageError'`, `'InvalidOptionError'`, `'RangeError'`, `'TypeError'`, and
 * `'MerkleWorkerError'` for the worker itself failing), never use `instanceof`.
 *
 * Worker failure. A comlink call to a worker that died never settles. So every call here races a
 * promise that rejects with {@link MerkleWorkerError} once the worker reported an uncaught error or an
 * undecodable message, or was closed; from then on every call rejects at once. The trees are then
 * lost: the owner should report it (see `onFailure`) — the node keeps serving reads and writes, only
 * anti-entropy stops.
 */
import { wrap, releaseProxy, type Remote } from 'comlink';
import { DynamoError } from '../core/errors.js';
import type { MerkleItem } from '../core/merkle-tree.js';
import type { MerkleService } from '../core/ports.js';
import type { VersionSet } from '../core/types.js';
import type { DigestInput, MerkleWorkerApi, MerkleWorkerStats, UpdateFailure } from './merkle-worker.js';

export type { MerkleWorkerStats } from './merkle-worker.js';

/** The Merkle worker could not start, died, or was closed. Across comlink, match it by `name`. */
export class MerkleWorkerError extends DynamoError {
  override name = 'MerkleWorkerError';
}

/** Options of {@link WorkerMerkleService.start}. */
export interface WorkerMerkleServiceOptions {
  /**
   * Called once if the worker fails after it started (an uncaught error or an undecodable message);
   * every later call of the service rejects with the same {@link MerkleWorkerError}.
   */
  onFailure?: (error: MerkleWorkerError) => void;
}

/** The parts of a version set the digest reads (see `DigestInput` in the worker). */
function digestInput(versions: VersionSet): DigestInput {
  const input: DigestInput = { clock: versions.clock, siblings: versions.siblings.map((s) => (s.data === null ? { dot: s.dot, data: null } : { dot: s.dot })) };
  if (versions.dots !== undefined) input.dots = versions.dots;
  return input;
}

/** An update waiting to be sent, and its caller's promise. */
interface QueuedUpdate {
  key: string;
  input: DigestInput | null;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * `MerkleService` backed by trees in a Web Worker. Create it with {@link WorkerMerkleService.start};
 * release it with {@link WorkerMerkleService.close}.
 */
export class WorkerMerkleService implements MerkleService {
  readonly #worker: Worker;
  readonly #remote: Remote<MerkleWorkerApi>;
  readonly #shape: { fanout: number; depth: number };
  readonly #onFailure: ((error: MerkleWorkerError) => void) | undefined;
  /** Rejects once the worker is unusable; every call races it. */
  readonly #dead: Promise<never>;
  readonly #kill: (error: MerkleWorkerError) => void;
  #failure: MerkleWorkerError | undefined;
  readonly #buildStats: MerkleWorkerStats;
  /** Updates made in the current task, sent at its end (or before the next other call) in one message. */
  #queued: QueuedUpdate[] = [];
  /**
   * Answers of `roots` and `keyCounts` kept while no update or rebuild came since they were read, so
   * that an idle node (anti-entropy rounds, load reports, ownership-handoff checks) does not ask the
   * worker again for what cannot have changed. `#generation` counts the updates and rebuilds made.
   */
  #generation = 0;
  #cachedRoots = new Map<number, Uint8Array>();
  #cachedRootsGeneration = 0;
  #cachedCounts: { generation: number; counts: Map<number, number> } | undefined;

  private constructor(
    worker: Worker,
    remote: Remote<MerkleWorkerApi>,
    dead: Promise<never>,
    kill: (error: MerkleWorkerError) => void,
    shape: { fanout: number; depth: number },
    stats: MerkleWorkerStats,
    options: WorkerMerkleServiceOptions,
  ) {
    this.#worker = worker;
    this.#remote = remote;
    this.#dead = dead;
    this.#kill = kill;
    this.#shape = shape;
    this.#buildStats = stats;
    this.#onFailure = options.onFailure;
  }

  /**
   * Starts a Merkle worker on the node database `dbName` and waits until it has built its trees.
   *
   * @param dbName the node's IndexedDB database (`databaseName(cluster, nodeId)`); it should already
   *   exist with its schema (open the `IdbStore` first). A missing database counts as an empty node.
   * @param partitionCount Q, the ring's partitions: a power of two in [1, 65536].
   * @throws MerkleWorkerError when the worker cannot be created or fails to load; errors named
   *   `InvalidOptionError` (bad `partitionCount`) or `StorageError` (the database cannot be read) from
   *   the build. In every case the worker has been terminated.
   */
  static async start(dbName: string, partitionCount: number, options: WorkerMerkleServiceOptions = {}): Promise<WorkerMerkleService> {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./merkle-worker.ts', import.meta.url), { type: 'module', name: `merkle ${dbName}` });
    } catch (error) {
      throw new MerkleWorkerError(`the Merkle worker could not be created: ${describe(error)}`, { cause: error });
    }
    let kill: (error: MerkleWorkerError) => void = () => undefined;
    const dead = new Promise<never>((_resolve, reject) => {
      kill = reject;
    });
    // Read only through Promise.race; keep a rejection nobody races from being reported as unhandled.
    dead.catch(() => undefined);
    let service: WorkerMerkleService | undefined;
    const fail = (error: MerkleWorkerError): void => {
      if (service !== undefined) service.#fail(error);
      else kill(error);
    };
    worker.addEventListener('error', (event) => {
      // An ErrorEvent for an uncaught exception; a plain Event when the script failed to load.
      const detail = event instanceof ErrorEvent && event.message ? event.message : 'the worker script failed to load or threw';
      event.preventDefault();
      fail(new MerkleWorkerError(`the Merkle worker failed: ${detail}`));
    });
    worker.addEventListener('messageerror', () => fail(new MerkleWorkerError('the Merkle worker sent a message that could not be decoded')));
    const remote = wrap<MerkleWorkerApi>(worker);
    try {
      const stats = await Promise.race([remote.open(dbName, partitionCount), dead]);
      const shape = await Promise.race([remote.shape(), dead]);
      service = new WorkerMerkleService(worker, remote, dead, kill, shape, stats, options);
      return service;
    } catch (error) {
      remote[releaseProxy]();
      worker.terminate();
      throw error;
    }
  }

  /**
   * Records `key`'s state after a local write (`undefined`: the key left the store). Only the clock,
   * dot cloud and sibling dots are posted — the digest ignores sibling data — and the worker computes
   * the digest. Calls must come in write order per key (the core makes them under the key's lock).
   * Sent with the other updates of the same task in one message, at the task's end or before the
   * next other call of this service; resolves once the worker applied it.
   * @throws MerkleWorkerError when the worker failed or was closed; a `TypeError` (by name) for a
   *   malformed key or version set.
   */
  update(key: string, versions: VersionSet | undefined): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const input = versions === undefined ? null : digestInput(versions);
    this.#generation++;
    return new Promise<void>((resolve, reject) => {
      if (this.#queued.length === 0) queueMicrotask(() => this.#flush());
      this.#queued.push({ key, input, resolve, reject });
    });
  }

  /** Hashes of nodes `indices` at `level` of `partition`'s tree, 16 bytes each. */
  hashes(partition: number, level: number, indices: readonly number[]): Promise<Uint8Array[]> {
    return this.#call(() => this.#remote.hashes(partition, level, [...indices]));
  }

  /**
   * Root hashes of `partitions`' trees, in one round trip to the worker — or none, when every one of
   * them was read since the last update (the hashes returned are shared: do not modify them).
   */
  async roots(partitions: readonly number[]): Promise<Uint8Array[]> {
    if (this.#cachedRootsGeneration !== this.#generation) {
      this.#cachedRoots.clear();
      this.#cachedRootsGeneration = this.#generation;
    }
    const cached = partitions.map((p) => this.#cachedRoots.get(p));
    if (cached.every((root) => root !== undefined) && this.#failure === undefined) return cached;
    const generation = this.#generation;
    const roots = await this.#call(() => this.#remote.roots([...partitions]));
    if (generation === this.#generation && this.#cachedRootsGeneration === generation) partitions.forEach((p, i) => this.#cachedRoots.set(p, roots[i]!));
    return roots;
  }

  /** The (key, digest) items of `leaves` of `partition`'s tree, sorted by key. */
  leafItems(partition: number, leaves: readonly number[]): Promise<MerkleItem[]> {
    return this.#call(() => this.#remote.leafItems(partition, [...leaves]));
  }

  /** Up to `limit` tombstone-only keys deleted before `deletedBeforeMs` (ms), from the worker. */
  tombstones(deletedBeforeMs: number, limit: number): Promise<string[]> {
    return this.#call(() => this.#remote.tombstones(deletedBeforeMs, limit));
  }

  /** Tree shape, read once at start. */
  shape(): { fanout: number; depth: number } {
    return { ...this.#shape };
  }

  /** Keys per partition, for partitions that hold keys (from the worker unless nothing changed since the last read). */
  async keyCounts(): Promise<Map<number, number>> {
    const cached = this.#cachedCounts;
    if (cached !== undefined && cached.generation === this.#generation && this.#failure === undefined) return new Map(cached.counts);
    const generation = this.#generation;
    const counts = await this.#call(() => this.#remote.keyCounts());
    if (generation === this.#generation) this.#cachedCounts = { generation, counts: new Map(counts) };
    return counts;
  }

  /** The worker's current figures (keys, partitions, last build's time split between scan and hashing). */
  stats(): Promise<MerkleWorkerStats> {
    return this.#call(() => this.#remote.stats());
  }

  /** Figures of the build that {@link start} waited for. */
  get initialBuild(): MerkleWorkerStats {
    return { ...this.#buildStats };
  }

  /**
   * Rebuilds every tree from a fresh scan of the database, in the worker; the current trees answer
   * until the new ones are ready. Resolves with the rebuild's figures. (Maintenance and benchmarks:
   * the trees are kept up to date by {@link update} and never need it.)
   */
  rebuild(): Promise<MerkleWorkerStats> {
    this.#generation++;
    return this.#call(() => this.#remote.rebuild()).finally(() => this.#generation++);
  }

  /** Terminates the worker. Later calls, and calls still waiting, reject with {@link MerkleWorkerError}. */
  close(): void {
    if (this.#failure !== undefined) return;
    this.#failure = new MerkleWorkerError('the Merkle worker was closed');
    for (const update of this.#queued.splice(0)) update.reject(this.#failure);
    this.#kill(this.#failure);
    this.#remote[releaseProxy]();
    this.#worker.terminate();
  }

  #fail(error: MerkleWorkerError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    for (const update of this.#queued.splice(0)) update.reject(error);
    this.#kill(error);
    this.#worker.terminate();
    this.#onFailure?.(error);
  }

  #call<T>(body: () => Promise<T>): Promise<T> {
    // Updates made before this call reach the worker before it, as if each had been sent when made.
    this.#flush();
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return Promise.race([body(), this.#dead]);
  }

  /** Sends the queued updates in one `updateMany` message and settles each caller's promise. */
  #flush(): void {
    if (this.#queued.length === 0) return;
    const batch = this.#queued;
    this.#queued = [];
    if (this.#failure !== undefined) {
      for (const update of batch) update.reject(this.#failure);
      return;
    }
    const sent = Promise.race([this.#remote.updateMany(batch.map((u) => [u.key, u.input] as const)), this.#dead]);
    sent.then(
      (failures: UpdateFailure[]) => {
        const failed = new Map(failures.map((f) => [f.index, f]));
        for (const [i, update] of batch.entries()) {
          const failure = failed.get(i);
          if (failure === undefined) {
            update.resolve();
          } else {
            const error = new Error(failure.message);
            error.name = failure.name;
            update.reject(error);
          }
        }
      },
      (error: unknown) => {
        for (const update of batch) update.reject(error);
      },
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
