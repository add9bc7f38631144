import { describe, expect, it } from 'vitest';
import { StorageError, StorageQuotaError } from '../../src/core/errors';
import type { Hint, VersionSet } from '../../src/core/types';
import { MemoryStore, MemoryStoreData } from '../../src/storage/memory-store';
import { runStoreContract } from './store-contract';

runStoreContract('MemoryStore', async () => {
  const data = new MemoryStoreData();
  return { store: new MemoryStore(data), reopen: async () => new MemoryStore(data) };
});

function versionSet(byte: number): VersionSet {
  return {
    clock: [{ node: 'a', counter: byte, timestampMs: 0 }],
    siblings: [{ dot: { node: 'a', counter: byte, timestampMs: 0 }, data: Uint8Array.of(byte) }],
  };
}

function hint(intendedFor: string, key: string, byte: number): Hint {
  return { intendedFor, key, versions: versionSet(byte), createdAtMs: 1_000 };
}

/** The settled outcome of `promise`: its rejection, or `undefined` when it resolved. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('MemoryStore', () => {
  it('is of kind "memory"', () => {
    expect(new MemoryStore().kind).toBe('memory');
  });

  it('models a crash and restart: a new store on the same data sees every committed write', async () => {
    const node = new MemoryStore();
    await node.putObject('k', versionSet(1));
    await node.putMeta('node', { id: 'n1' });

    // Crash: the node is dropped; closing its store refuses anything the dead node still tries.
    await node.close();
    await expect(node.putObject('late', versionSet(9))).rejects.toBeInstanceOf(StorageError);

    const restarted = new MemoryStore(node.data);
    expect(await restarted.getObject('k')).toEqual(versionSet(1));
    expect(await restarted.getMeta('node')).toEqual({ id: 'n1' });
    expect(await restarted.listKeys()).toEqual(['k']);
  });

  it('keeps hints across a crash and restart, in MemoryStoreData', async () => {
    const node = new MemoryStore();
    await node.putHint(hint('n2', 'k', 1));
    await node.putHint(hint('n1', 'k', 2));
    await node.putHint(hint('n1', 'j', 3));
    await node.deleteHint('n1', 'j');
    expect([...node.data.hints.keys()].sort()).toEqual(['n1', 'n2']);

    await node.close();
    await expect(node.putHint(hint('n3', 'late', 9))).rejects.toBeInstanceOf(StorageError);

    const restarted = new MemoryStore(node.data);
    expect(await restarted.listHints()).toEqual([hint('n1', 'k', 2), hint('n2', 'k', 1)]);
    expect(await restarted.countHints()).toBe(2);
    expect(await restarted.getHint('n3', 'late')).toBeUndefined();
  });

  it('drops the entry of an intended node once its last hint is deleted', async () => {
    const store = new MemoryStore();
    await store.putHint(hint('n1', 'k', 1));
    await store.deleteHint('n1', 'k');
    expect(store.data.hints.size).toBe(0);
  });

  it('refuses a hint whose intendedFor or key is not a string, as IndexedDB would', async () => {
    const store = new MemoryStore();
    const error = await rejectionOf(store.putHint({ ...hint('n1', 'k', 1), key: 7 } as unknown as Hint));
    expect((error as Error).name).toBe('StorageError');
    expect(await store.countHints()).toBe(0);
  });

  it('keeps separate data for separate stores', async () => {
    const one = new MemoryStore();
    const two = new MemoryStore();
    await one.putObject('k', versionSet(1));
    expect(await two.getObject('k')).toBeUndefined();
  });

  describe('failNextWrites', () => {
    it('fails the next writes with the given typed error, leaving data unchanged, then recovers', async () => {
      const store = new MemoryStore();
      await store.putObject('k', versionSet(1));
      await store.putMeta('m', 'before');
      store.failNextWrites(3, new StorageQuotaError('disk full (injected)'));

      const errors = [
        await rejectionOf(store.putObject('k', versionSet(2))),
        await rejectionOf(store.deleteObject('k')),
        await rejectionOf(store.putMeta('m', 'after')),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(StorageQuotaError);
        expect((error as Error).name).toBe('StorageQuotaError');
      }
      expect(await store.getObject('k')).toEqual(versionSet(1));
      expect(await store.getMeta('m')).toBe('before');

      await store.putObject('k', versionSet(3));
      expect(await store.getObject('k')).toEqual(versionSet(3));
    });

    it('defaults to a StorageError and never fails reads', async () => {
      const store = new MemoryStore();
      await store.putObject('k', versionSet(1));
      store.failNextWrites(1);
      expect(await store.getObject('k')).toEqual(versionSet(1));
      expect(await store.listKeys()).toEqual(['k']);
      const error = await rejectionOf(store.putObject('other', versionSet(2)));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).name).toBe('StorageError');
      expect(await store.countObjects()).toBe(1);
    });

    it('fails hint writes too, leaving the hints unchanged, and never hint reads', async () => {
      const store = new MemoryStore();
      await store.putHint(hint('n1', 'k', 1));
      store.failNextWrites(2, new StorageQuotaError('disk full (injected)'));

      expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', 1));
      expect(await store.listHints()).toHaveLength(1);
      expect(await store.hintsForKey('k')).toHaveLength(1);
      expect(await store.countHints()).toBe(1);
      const errors = [await rejectionOf(store.putHint(hint('n1', 'k', 2))), await rejectionOf(store.deleteHint('n1', 'k'))];
      for (const error of errors) expect((error as Error).name).toBe('StorageQuotaError');
      expect(await store.getHint('n1', 'k')).toEqual(hint('n1', 'k', 1));

      await store.putHint(hint('n2', 'k', 3));
      expect(await store.countHints()).toBe(2);
    });

    it('is cancelled by a count of 0 and refuses a bad count', async () => {
      const store = new MemoryStore();
      store.failNextWrites(2);
      store.failNextWrites(0);
      await store.putObject('k', versionSet(1));
      expect(() => store.failNextWrites(-1)).toThrow(RangeError);
      expect(() => store.failNextWrites(1.5)).toThrow(RangeError);
    });
  });
});
