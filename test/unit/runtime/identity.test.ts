/**
 * claimIdentity (src/runtime/identity.ts), in particular adopting a closed tab's node: against a fake
 * LockManager (exclusive locks by name, `ifAvailable` and `signal` as the Web Locks API has them) and
 * a fake sessionStorage, so every tab of a test shares one lock manager as tabs of one origin do.
 */
import { describe, expect, it } from 'vitest';
import { claimIdentity, identityLockName, type ClaimOptions } from '../../../src/runtime/identity.js';

const CLUSTER = 'demo';

/** Exclusive Web Locks by name: a request waits in line unless `ifAvailable` (then gets null) or its signal aborts. */
class FakeLocks {
  private readonly held = new Set<string>();
  private readonly waiting = new Map<string, (() => void)[]>();

  request(name: string, optionsOrCallback: LockOptions | LockGrantedCallback<unknown>, maybeCallback?: LockGrantedCallback<unknown>): Promise<unknown> {
    const options = typeof optionsOrCallback === 'function' ? {} : optionsOrCallback;
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback)!;
    const line = this.waiting.get(name) ?? [];
    this.waiting.set(name, line);
    const free = !this.held.has(name) && line.length === 0;
    if (free) return this.grant(name, callback);
    if (options.ifAvailable) return Promise.resolve().then(() => callback(null));
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        line.splice(line.indexOf(turn), 1);
        reject(signal!.reason);
      };
      const turn = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.grant(name, callback));
      };
      line.push(turn);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Whether someone holds the lock `name` now. */
  isHeld(name: string): boolean {
    return this.held.has(name);
  }

  /** Another tab takes `name` and keeps it until the returned function is called. */
  async holdAsOtherTab(name: string): Promise<() => void> {
    let release!: () => void;
    const granted = new Promise<void>((resolve) => {
      void this.request(name, {}, () => {
        resolve();
        return new Promise<void>((done) => (release = done));
      });
    });
    await granted;
    return release;
  }

  /** Whether `name` could be taken right now (taken and at once given back if so). */
  async isFree(name: string): Promise<boolean> {
    return (await this.request(name, { ifAvailable: true }, (lock) => lock !== null)) as boolean;
  }

  private async grant(name: string, callback: LockGrantedCallback<unknown>): Promise<unknown> {
    this.held.add(name);
    try {
      return await callback({ name, mode: 'exclusive' } as Lock);
    } finally {
      this.held.delete(name);
      this.waiting.get(name)?.shift()?.();
    }
  }
}

/** A tab's sessionStorage. */
function fakeStorage(entries: Record<string, string> = {}): Pick<Storage, 'getItem' | 'setItem'> & { entries: Map<string, string> } {
  const map = new Map(Object.entries(entries));
  return { entries: map, getItem: (key) => map.get(key) ?? null, setItem: (key, value) => void map.set(key, value) };
}

const slot = `tabdynamo:${CLUSTER}:node-id`;
const lockOf = (nodeId: string): string => identityLockName(CLUSTER, nodeId);
const databases = (...names: string[]) => async (): Promise<{ name?: string }[]> => names.map((name) => ({ name }));
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Options for a claim by one tab with its own sessionStorage; `locks` is shared by all tabs of the test. */
function tab(locks: FakeLocks, extra: Omit<ClaimOptions, 'locks' | 'storage'> = {}) {
  return { waitForReloadMs: 20, ...extra, locks: locks as unknown as LockManager, storage: fakeStorage() };
}

describe('claimIdentity', () => {
  it('adopts a closed node whose lock is free: holds its lock until release and remembers it in this tab', async () => {
    const locks = new FakeLocks();
    const options = tab(locks, { adoptClosed: true, listDatabases: databases('tabdynamo-demo-closed1') });
    const identity = await claimIdentity(CLUSTER, options);
    expect(identity).toMatchObject({ nodeId: 'closed1', fresh: false, adopted: true });
    expect(options.storage.entries.get(slot)).toBe('closed1');
    expect(locks.isHeld(lockOf('closed1'))).toBe(true);
    identity.release();
    await drainMicrotasks();
    expect(await locks.isFree(lockOf('closed1'))).toBe(true);
  });

  it('tries candidates in id order, whatever order they are listed in, and ignores names that are not node ids', async () => {
    const locks = new FakeLocks();
    const listDatabases = databases('tabdynamo-demo-ccc', 'tabdynamo-demo-', 'tabdynamo-demo-UPPER', 'tabdynamo-demo-bbb', 'tabdynamo-demo-aaa');
    const first = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases }));
    const second = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases }));
    const third = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases }));
    expect([first.nodeId, second.nodeId, third.nodeId]).toEqual(['aaa', 'bbb', 'ccc']);
    const fourth = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases }));
    expect(fourth).toMatchObject({ fresh: true, adopted: false });
    expect(['', 'UPPER', 'aaa', 'bbb', 'ccc']).not.toContain(fourth.nodeId);
  });

  it('skips a node whose lock another tab holds (that tab is still open)', async () => {
    const locks = new FakeLocks();
    await locks.holdAsOtherTab(lockOf('aaa'));
    const identity = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases: databases('tabdynamo-demo-aaa', 'tabdynamo-demo-bbb') }));
    expect(identity).toMatchObject({ nodeId: 'bbb', adopted: true });
    expect(locks.isHeld(lockOf('aaa'))).toBe(true);
  });

  it('prefers the remembered id whose lock is free (a reload keeps its id) over adopting', async () => {
    const locks = new FakeLocks();
    const options = tab(locks, { adoptClosed: true, listDatabases: databases('tabdynamo-demo-aaa', 'tabdynamo-demo-mine') });
    options.storage.setItem(slot, 'mine');
    const identity = await claimIdentity(CLUSTER, options);
    expect(identity).toMatchObject({ nodeId: 'mine', fresh: false, adopted: false });
    expect(locks.isHeld(lockOf('mine'))).toBe(true);
    expect(await locks.isFree(lockOf('aaa'))).toBe(true);
  });

  it('a duplicated tab (its remembered id held by the original) adopts a closed node instead', async () => {
    const locks = new FakeLocks();
    await locks.holdAsOtherTab(lockOf('orig'));
    const options = tab(locks, { adoptClosed: true, listDatabases: databases('tabdynamo-demo-orig', 'tabdynamo-demo-zzz') });
    options.storage.setItem(slot, 'orig');
    const identity = await claimIdentity(CLUSTER, options);
    expect(identity).toMatchObject({ nodeId: 'zzz', fresh: false, adopted: true });
    expect(options.storage.entries.get(slot)).toBe('zzz');
  });

  it('skips a node isAdoptable refuses, asking with its lock held and releasing that lock afterwards', async () => {
    const locks = new FakeLocks();
    const asked: { nodeId: string; lockHeld: boolean }[] = [];
    const isAdoptable = async (nodeId: string): Promise<boolean> => {
      asked.push({ nodeId, lockHeld: locks.isHeld(lockOf(nodeId)) });
      return nodeId !== 'aaa';
    };
    const identity = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, isAdoptable, listDatabases: databases('tabdynamo-demo-aaa', 'tabdynamo-demo-bbb') }));
    expect(identity).toMatchObject({ nodeId: 'bbb', adopted: true });
    expect(asked).toEqual([
      { nodeId: 'aaa', lockHeld: true },
      { nodeId: 'bbb', lockHeld: true },
    ]);
    await drainMicrotasks();
    expect(await locks.isFree(lockOf('aaa'))).toBe(true);
    expect(locks.isHeld(lockOf('bbb'))).toBe(true);
  });

  it('makes a new id when isAdoptable refuses every closed node, leaving all their locks free', async () => {
    const locks = new FakeLocks();
    const identity = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, isAdoptable: async () => false, listDatabases: databases('tabdynamo-demo-aaa') }));
    expect(identity).toMatchObject({ fresh: true, adopted: false });
    expect(identity.nodeId).not.toBe('aaa');
    await drainMicrotasks();
    expect(await locks.isFree(lockOf('aaa'))).toBe(true);
  });

  it('does not adopt when adoptClosed is false or absent: makes a new id without listing databases', async () => {
    const locks = new FakeLocks();
    let listed = 0;
    const listDatabases = async (): Promise<{ name?: string }[]> => {
      listed++;
      return [{ name: 'tabdynamo-demo-aaa' }];
    };
    for (const adoptClosed of [false, undefined]) {
      const identity = await claimIdentity(CLUSTER, tab(locks, { adoptClosed, listDatabases }));
      expect(identity).toMatchObject({ fresh: true, adopted: false });
      expect(identity.nodeId).not.toBe('aaa');
    }
    expect(listed).toBe(0);
    expect(await locks.isFree(lockOf('aaa'))).toBe(true);
  });

  it("ignores other clusters' databases, including a cluster whose name extends this one's", async () => {
    const locks = new FakeLocks();
    const listDatabases = databases('tabdynamo-other-aaa', 'tabdynamo-demo-x-bbb', 'tabdynamo-demox-ccc', 'something-else', 'tabdynamo-demo-zzz');
    const first = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases }));
    expect(first).toMatchObject({ nodeId: 'zzz', adopted: true });
    const second = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases }));
    expect(second).toMatchObject({ fresh: true, adopted: false });
    expect(['aaa', 'bbb', 'x-bbb', 'ccc', 'zzz']).not.toContain(second.nodeId);
  });

  it('adopts nothing (and makes a new id) when the databases cannot be listed', async () => {
    const locks = new FakeLocks();
    const identity = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases: () => Promise.reject(new Error('no')) }));
    expect(identity).toMatchObject({ fresh: true, adopted: false });
  });

  it('two tabs claiming at once never adopt the same node', async () => {
    const locks = new FakeLocks();
    const listDatabases = databases('tabdynamo-demo-aaa', 'tabdynamo-demo-bbb');
    const [a, b] = await Promise.all([
      claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases })),
      claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases })),
    ]);
    expect(new Set([a.nodeId, b.nodeId])).toEqual(new Set(['aaa', 'bbb']));
    expect([a.adopted, b.adopted]).toEqual([true, true]);
    await drainMicrotasks();
    // Each holds its node's lock, so a third tab cannot take either id while they run.
    expect([locks.isHeld(lockOf('aaa')), locks.isHeld(lockOf('bbb'))]).toEqual([true, true]);
    const third = await claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases }));
    expect(third).toMatchObject({ fresh: true, adopted: false });
  });

  it('of two tabs claiming at once with one closed node, one adopts it and the other gets a new id', async () => {
    const locks = new FakeLocks();
    const listDatabases = databases('tabdynamo-demo-aaa');
    const slow = async (): Promise<boolean> => {
      await drainMicrotasks(); // both tabs are mid-claim at the same time
      return true;
    };
    const claims = await Promise.all([
      claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases, isAdoptable: slow })),
      claimIdentity(CLUSTER, tab(locks, { adoptClosed: true, listDatabases, isAdoptable: slow })),
    ]);
    const adopted = claims.filter((identity) => identity.adopted);
    const fresh = claims.filter((identity) => identity.fresh);
    expect(adopted.map((identity) => identity.nodeId)).toEqual(['aaa']);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.nodeId).not.toBe('aaa');
    await drainMicrotasks();
    expect(claims.map((identity) => locks.isHeld(lockOf(identity.nodeId)))).toEqual([true, true]);
  });
});
