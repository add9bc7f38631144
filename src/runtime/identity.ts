/**
 * A tab's node identity (DESIGN.md §3 "Tab = node identity").
 *
 * The id lives in sessionStorage, which survives a reload of the tab but belongs to that tab alone, and
 * a Web Lock named after the id is held for the page's lifetime. A duplicated tab starts with a copy of
 * the original's sessionStorage; it finds the lock taken and makes a new id, so it never impersonates
 * the original. After a reload the old page's lock is released as it unloads; we wait briefly for it.
 */
import { IdentityLockedError } from '../core/errors.js';
import type { NodeId } from '../core/types.js';

/** A claimed identity; `release()` frees the lock (the page closing frees it too). */
export interface NodeIdentity {
  nodeId: NodeId;
  /** True when this id was made now (not kept from an earlier load of this tab). */
  fresh: boolean;
  release(): void;
}

/** Options of {@link claimIdentity}; the defaults are the page's own sessionStorage and Web Locks. */
export interface ClaimOptions {
  storage?: Pick<Storage, 'getItem' | 'setItem'>;
  locks?: LockManager;
  /** How long to wait for the lock of a remembered id before deciding this tab is a duplicate, ms. */
  waitForReloadMs?: number;
  /** Ignore the remembered id and make a new one (its stored state is lost). */
  forceNew?: boolean;
}

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
 * Claims the node identity of this tab in `cluster`: the remembered one when its lock can be had,
 * else a new one.
 * @throws IdentityLockedError when not even a new id's lock can be taken (Web Locks unavailable).
 */
export async function claimIdentity(cluster: string, options: ClaimOptions = {}): Promise<NodeIdentity> {
  const storage = options.storage ?? sessionStorage;
  const locks = options.locks ?? navigator.locks;
  if (!locks) throw new IdentityLockedError('this browser has no Web Locks API; a node id cannot be protected');
  const slot = `tabdynamo:${cluster}:node-id`;
  const remembered = storage.getItem(slot);
  if (remembered && /^[a-z0-9]{1,64}$/.test(remembered) && !options.forceNew) {
    const release = await holdLock(locks, identityLockName(cluster, remembered), options.waitForReloadMs ?? 1500);
    if (release) return { nodeId: remembered, fresh: false, release };
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const nodeId = newNodeId();
    const release = await holdLock(locks, identityLockName(cluster, nodeId), 0);
    if (release) {
      storage.setItem(slot, nodeId);
      return { nodeId, fresh: true, release };
    }
  }
  throw new IdentityLockedError('could not take the lock of a new node id');
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
