/**
 * A tab's node identity (DESIGN.md §3 "Tab = node identity").
 *
 * The id lives in sessionStorage, which survives a reload of the tab but belongs to that tab alone, and
 * a Web Lock named after the id is held for the page's lifetime. A duplicated tab starts with a copy of
 * the original's sessionStorage; it finds the lock taken and makes a new id, so it never impersonates
 * the original. After a reload the old page's lock is released as it unloads; we wait briefly for it.
 *
 * Adopting a closed tab's node (`adoptClosed`): a tab without a usable remembered id may instead take
 * over the node of a tab that was closed. Such a node's database is still on disk and nobody holds its
 * lock, so taking the lock makes this tab that node, with its data, instead of a new empty one:
 *
 * ```
 *   remembered id, lock had within waitForReloadMs  →  that id           (reload)
 *   else, adoptClosed: first listed database of this
 *     cluster, by id, whose lock is free right now   →  that id, adopted  (closed tab's node)
 *   else                                             →  a new id, fresh
 * ```
 *
 * The lock is taken before an id is returned, so two tabs adopting at once never get the same node.
 */
import { IdentityLockedError } from '../core/errors.js';
import type { NodeId } from '../core/types.js';

/** The IndexedDB database of node `nodeId` in `cluster`: `tabdynamo-<cluster>-<nodeId>`. */
export function databaseName(cluster: string, nodeId: NodeId): string {
  return `tabdynamo-${cluster}-${nodeId}`;
}

/** A claimed identity; `release()` frees the lock (the page closing frees it too). */
export interface NodeIdentity {
  nodeId: NodeId;
  /** True when this id was made now (not kept from an earlier load of this tab, nor adopted). */
  fresh: boolean;
  /** True when this id was a closed tab's node, taken over with its database (`fresh` is then false). */
  adopted: boolean;
  release(): void;
}

/** Options of {@link claimIdentity}; the defaults are the page's own sessionStorage and Web Locks. */
export interface ClaimOptions {
  storage?: Pick<Storage, 'getItem' | 'setItem'>;
  locks?: LockManager;
  /** How long to wait for the lock of a remembered id before deciding this tab is a duplicate, ms. */
  waitForReloadMs?: number;
  /** Ignore the remembered id and make a new one (its stored state is lost); nothing is adopted either. */
  forceNew?: boolean;
  /**
   * When this tab has no usable remembered id (none, or one whose lock another tab holds, as in a
   * duplicated tab), adopt the node of a closed tab of this cluster (a database whose lock is free)
   * before making a new one. Default false.
   */
  adoptClosed?: boolean;
  /**
   * The databases of this origin, as `indexedDB.databases()` reports them (the default; an empty list
   * where the browser lacks it). Only names `tabdynamo-<cluster>-<id>` of this cluster count. When it
   * rejects, nothing is adopted.
   */
  listDatabases?: () => Promise<{ name?: string }[]>;
  /**
   * Whether a closed node may be adopted (e.g. false for a node that left the ring). Asked with that
   * node's lock already held; on false the lock is released and the next candidate is tried.
   */
  isAdoptable?: (nodeId: NodeId) => Promise<boolean>;
  /**
   * Makes the id of a new node. Default {@link newNodeId}; a tab derives it from a new node key
   * (src/security/node-key.ts), so that nobody can claim the id without the key.
   */
  newId?: () => Promise<NodeId> | NodeId;
}

/** What a remembered or adopted node id must look like. */
const NODE_ID = /^[a-z0-9]{1,64}$/;

/** A new random node id: 12 characters of [a-z0-9]. */
export function newNodeId(): NodeId {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('');
}

/** The Web Lock name held by the tab that runs `nodeId` in `cluster`. */
export function identityLockName(cluster: string, nodeId: NodeId): string {
  return `tabdynamo:${cluster}:node:${nodeId}`;
}

/**
 * Claims the node identity of this tab in `cluster` (DESIGN.md §3 "Tab = node identity"): the
 * remembered one when its lock can be had; else, with `adoptClosed`, a closed tab's node whose lock is
 * free (the first by id that `isAdoptable` accepts); else a new one. The chosen id is written to this
 * tab's sessionStorage slot, and its lock is held until `release()` or the page closes.
 *
 * An adopted node's tab may have been reloading rather than closed (its new page not yet asking for
 * the lock); that page then finds its lock taken and goes on as a duplicated tab would. The id stays
 * with one tab at a time either way.
 * @throws IdentityLockedError when not even a new id's lock can be taken (Web Locks unavailable).
 * @throws whatever `isAdoptable` throws (the lock it was asked about is released first).
 */
export async function claimIdentity(cluster: string, options: ClaimOptions = {}): Promise<NodeIdentity> {
  const storage = options.storage ?? sessionStorage;
  const locks = options.locks ?? navigator.locks;
  if (!locks) throw new IdentityLockedError('this browser has no Web Locks API; a node id cannot be protected');
  const slot = `tabdynamo:${cluster}:node-id`;
  const remembered = storage.getItem(slot);
  if (remembered && NODE_ID.test(remembered) && !options.forceNew) {
    const release = await holdLock(locks, identityLockName(cluster, remembered), options.waitForReloadMs ?? 1500);
    if (release) return { nodeId: remembered, fresh: false, adopted: false, release };
  }
  if (options.adoptClosed && !options.forceNew) {
    const adopted = await adoptClosedNode(cluster, locks, options);
    if (adopted) {
      storage.setItem(slot, adopted.nodeId);
      return { nodeId: adopted.nodeId, fresh: false, adopted: true, release: adopted.release };
    }
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const nodeId = await (options.newId ?? newNodeId)();
    const release = await holdLock(locks, identityLockName(cluster, nodeId), 0);
    if (release) {
      storage.setItem(slot, nodeId);
      return { nodeId, fresh: true, adopted: false, release };
    }
  }
  throw new IdentityLockedError('could not take the lock of a new node id');
}

/**
 * The first node of `cluster` with a database whose lock is free now (not waited for) and that
 * `options.isAdoptable` accepts, its lock held; candidates are tried in id order. Null when none.
 * @throws whatever `options.isAdoptable` throws, after releasing the lock it was asked about.
 */
async function adoptClosedNode(cluster: string, locks: LockManager, options: ClaimOptions): Promise<{ nodeId: NodeId; release: () => void } | null> {
  let databases: { name?: string }[];
  try {
    databases = await (options.listDatabases ?? listOriginDatabases)();
  } catch {
    return null;
  }
  const prefix = databaseName(cluster, '');
  const candidates = new Set<NodeId>();
  for (const { name } of databases) {
    // Node ids have no '-', so a longer cluster name sharing this prefix ("a" and "a-b") never matches.
    const nodeId = name?.startsWith(prefix) ? name.slice(prefix.length) : undefined;
    if (nodeId !== undefined && NODE_ID.test(nodeId)) candidates.add(nodeId);
  }
  for (const nodeId of [...candidates].sort()) {
    const release = await holdLock(locks, identityLockName(cluster, nodeId), 0);
    if (!release) continue;
    let adoptable = true;
    try {
      if (options.isAdoptable) adoptable = await options.isAdoptable(nodeId);
    } catch (error) {
      release();
      throw error;
    }
    if (adoptable) return { nodeId, release };
    release();
  }
  return null;
}

/** `indexedDB.databases()`, or no databases where the browser lacks it. */
function listOriginDatabases(): Promise<{ name?: string }[]> {
  return typeof indexedDB !== 'undefined' && typeof indexedDB.databases === 'function' ? indexedDB.databases() : Promise.resolve([]);
}

/** Takes `name` (waiting up to `waitMs`), holding it until the returned function is called; null if not had. */
async function holdLock(locks: LockManager, name: string, waitMs: number): Promise<(() => void) | null> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  return new Promise((resolve) => {
    const options: LockOptions = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    locks
      .request(name, options, (lock) => {
        if (lock === null) {
          resolve(null);
          return undefined;
        }
        resolve(release);
        return held;
      })
      .catch(() => resolve(null));
  });
}
