/**
 * This browser's cache of notes seen (src/ui/notes/notes-seen-cache.ts) and the notes service using it:
 * which sighting of a note is kept, the IndexedDB cache shared by the tabs of a browser (fake-indexeddb),
 * and a page opened with the cluster unreachable listing the cached notes and editing them into the
 * outbox on their cached context.
 */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { NoReplicasError, QuorumNotReachedError } from '../../../../src/core/errors.js';
import type { GetResult, PutResult } from '../../../../src/runtime/dynamo-node.js';
import { nextVersion, noteKey, NOTES_INDEX_KEY, type NoteValue } from '../../../../src/ui/notes/note-model.js';
import { isBehind, keepSeen, NotesSeenCache, notesSeenDatabaseName, type SeenNote } from '../../../../src/ui/notes/notes-seen-cache.js';
import { NotesService, type NotesNode } from '../../../../src/ui/notes/notes-service.js';

const T0 = 1_700_000_000_000;
let clusters = 0;
const freshCluster = (): string => `seen${++clusters}x${Date.now().toString(36)}`;

function version(parent: NoteValue | undefined, body: string, rev: string, id = 'n1'): NoteValue {
  return nextVersion(id, parent, true, { title: 'Title', body }, 'tab', T0, rev);
}

function seen(versions: NoteValue[], extra: Partial<SeenNote> = {}): SeenNote {
  return { id: versions[0]?.id ?? 'n1', versions, deletions: [], context: `ctx-${versions.map((v) => v.rev).join('+')}`, inCluster: true, seenAtMs: T0, seenBy: 'tab', ...extra };
}

describe('which sighting of a note is kept', () => {
  const p = version(undefined, 'one', 'p');
  const a = version(p, 'two', 'a');
  const b = version(p, 'three', 'b');

  it('a newer version replaces an older one; an older one read later does not undo it', () => {
    expect(keepSeen(seen([p]), seen([a])).versions).toEqual([a]);
    expect(isBehind(seen([a]), seen([p]))).toBe(true);
    expect(keepSeen(seen([a]), seen([p])).versions).toEqual([a]);
  });

  it('a conflict is kept over a read showing one of its siblings; a merge of them replaces it', () => {
    expect(keepSeen(seen([a, b]), seen([a])).versions).toEqual([a, b]);
    const merged = { ...version(a, 'two and three', 'm'), lineage: ['a', 'b', 'p'] };
    expect(keepSeen(seen([a, b]), seen([merged])).versions).toEqual([merged]);
  });

  it('a concurrent version seen later wins (the latest sighting), and so does a delete', () => {
    expect(keepSeen(seen([a]), seen([b])).versions).toEqual([b]);
    const withDelete = seen([b], { deletions: [{ by: 'tab2', atMs: T0 }] });
    expect(keepSeen(seen([a]), withDelete)).toBe(withDelete);
  });

  it('the same version seen again takes the new context and stays "in the cluster" if it was', () => {
    const kept = keepSeen(seen([a], { context: 'old' }), seen([a], { context: 'new', inCluster: false }));
    expect(kept.context).toBe('new');
    expect(kept.inCluster).toBe(true);
  });
});

describe('the IndexedDB cache of notes seen', () => {
  it('is one database per cluster that no node database name can match', () => {
    expect(notesSeenDatabaseName('demo')).toBe('tabdynamo-notes-seen:demo');
    // Node databases are tabdynamo-<cluster>-<id> with id [a-z0-9]+; the ':' rules out any cluster.
    expect(/^tabdynamo-[a-z0-9-]+-[a-z0-9]+$/.test(notesSeenDatabaseName('demo'))).toBe(false);
  });

  it('is shared by the tabs of a browser: one writes, another reads; a stale sighting does not win', async () => {
    const cluster = freshCluster();
    const tabA = new NotesSeenCache(cluster);
    const tabB = new NotesSeenCache(cluster);
    const p = version(undefined, 'one', 'p');
    const a = version(p, 'two', 'a');
    await tabA.putNote(seen([a]));
    await tabB.putNote(seen([p], { seenBy: 'stale replica' }));
    const loaded = await tabB.load();
    expect(loaded.notes.map((n) => n.versions.map((v) => v.rev))).toEqual([['a']]);
    await tabA.putIndex({ ids: ['n1'], context: 'i1', seenAtMs: T0 });
    await tabB.putIndex({ ids: ['n2'], context: 'i2', seenAtMs: T0 + 1 });
    expect((await tabA.load()).index).toEqual({ ids: ['n1', 'n2'], context: 'i2', seenAtMs: T0 + 1 });
    await tabB.removeNote('n1');
    expect((await tabA.load()).notes).toEqual([]);
    // Another cluster's cache is another database.
    expect((await new NotesSeenCache(freshCluster()).load()).notes).toEqual([]);
    tabA.close();
    tabB.close();
  });
});

/** A node of a 3-node cluster (W = 2), in memory, that can be cut off from the other two. */
class FakeNode {
  readonly cluster: string;
  connected = true;
  /** 'online': quorum reads and writes work; 'offline': they fail, this node holds nothing; 'no-ring': no partitions yet. */
  mode: 'online' | 'offline' | 'no-ring' = 'online';
  readonly data = new Map<string, { value: unknown; deleted: boolean; counter: number }>();
  readonly puts: { key: string; value: unknown; options: { context?: string; w?: number } }[] = [];
  private counter = 0;

  constructor(
    readonly id: string,
    cluster: string,
    shared?: FakeNode,
  ) {
    this.cluster = cluster;
    if (shared) this.data = shared.data;
  }

  config(): { n: number; r: number; w: number } {
    return { n: 3, r: 2, w: 2 };
  }

  preferenceList(): string[] {
    return ['other1', 'other2', this.id];
  }

  peerHealth(): { id: string; status: string }[] {
    return this.mode === 'online' ? [{ id: 'other1', status: 'alive' }, { id: 'other2', status: 'alive' }] : [];
  }

  on(): () => void {
    return () => undefined;
  }

  disconnect(): void {
    this.connected = false;
  }

  reconnect(): void {
    this.connected = true;
  }

  async get(key: string, options: { r?: number } = {}): Promise<GetResult> {
    if (this.mode === 'no-ring') throw new NoReplicasError('no node owns partitions yet');
    if (this.mode === 'offline') {
      if (options.r !== 1) throw new QuorumNotReachedError('get', 1, 2, 3);
      return { siblings: [], context: '', clock: [], answeredBy: [this.id] };
    }
    const stored = this.data.get(key);
    if (!stored) return { siblings: [], context: '', clock: [], answeredBy: [this.id] };
    return {
      siblings: stored.deleted ? [] : [{ value: stored.value as never, deleted: false, version: { node: this.id, counter: stored.counter, timestampMs: T0 } }],
      context: `c${stored.counter}`,
      clock: [],
      answeredBy: [this.id, 'other1'],
    };
  }

  async put(key: string, value: unknown, options: { context?: string; w?: number } = {}): Promise<PutResult> {
    return this.write(key, value, false, options);
  }

  async delete(key: string, options: { context?: string; w?: number } = {}): Promise<PutResult> {
    return this.write(key, null, true, options);
  }

  private write(key: string, value: unknown, deleted: boolean, options: { context?: string; w?: number }): PutResult {
    this.puts.push({ key, value, options });
    if (this.mode === 'no-ring') throw new NoReplicasError('no node owns partitions yet');
    if (this.mode === 'offline' && options.w !== 1) throw new QuorumNotReachedError('put', 1, 2, 3);
    const counter = ++this.counter + 1000 * this.puts.length;
    if (this.mode === 'online') this.data.set(key, { value, deleted, counter });
    return { context: `c${counter}`, version: { node: this.id, counter, timestampMs: T0 }, acks: this.mode === 'online' ? 2 : 1 } as PutResult;
  }
}

function memoryStorage(): Pick<Storage, 'getItem' | 'setItem'> {
  const items = new Map<string, string>();
  return { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v) };
}

/** Waits until the cache's pending writes (fire-and-forget in the service) have landed. */
async function settled(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the cache never reached the expected state');
}

describe('the notes page with the cluster unreachable', () => {
  it('lists the notes this browser has seen, opens them read-write into the outbox, on their cached context', async () => {
    const cluster = freshCluster();
    const cache = new NotesSeenCache(cluster);
    // Tab A, online, writes a note and reads another one written elsewhere.
    const a = new FakeNode('nodea', cluster);
    const elsewhere = version(undefined, 'from another browser', 'r0', 'n2');
    a.data.set(noteKey('n2'), { value: elsewhere, deleted: false, counter: 7 });
    a.data.set(NOTES_INDEX_KEY, { value: { kind: 'notes-index', ids: ['n2'] }, deleted: false, counter: 8 });
    const serviceA = new NotesService(a as unknown as NotesNode, memoryStorage(), () => T0, cache);
    await serviceA.start();
    const id = await serviceA.create({ title: 'Groceries', body: 'milk' });
    expect(serviceA.note(id)?.sync).toBe('synced');
    serviceA.stop();
    await settled(async () => (await cache.load()).notes.length === 2 && (await cache.load()).index?.ids.includes(id) === true);

    // Tab B: another node of this browser, opened offline — it holds none of the notes itself.
    const b = new FakeNode('nodeb', cluster);
    b.mode = 'offline';
    const storageB = memoryStorage();
    const serviceB = new NotesService(b as unknown as NotesNode, storageB, () => T0 + 1000, new NotesSeenCache(cluster));
    await serviceB.start();
    const listed = serviceB.list();
    expect(listed.map((n) => n.versions[0]?.title).sort()).toEqual(['Groceries', 'Title']);
    expect(listed.every((n) => n.cached && n.sync === 'synced')).toBe(true);
    const cachedContext = serviceB.note(id)!.context;
    expect(cachedContext).not.toBe('');

    await serviceB.save(id, { title: 'Groceries', body: 'milk\neggs' });
    const put = b.puts.at(-1)!;
    expect(put).toMatchObject({ key: noteKey(id), options: { context: cachedContext, w: 1 } });
    const saved = serviceB.note(id)!;
    expect(saved).toMatchObject({ sync: 'local', cached: false });
    expect(saved.versions[0]?.body).toBe('milk\neggs');
    // It descends from the cached version, whose text it carries as its base (for a later merge).
    expect(saved.versions[0]?.base?.body).toBe('milk');
    expect(serviceB.pendingCount()).toBe(1);
    expect(JSON.parse(storageB.getItem(`tabdynamo:${cluster}:nodeb:notes-outbox`)!)[id].context).toBe(cachedContext);
    // The edit is what this browser has seen last: a third tab opened offline lists it.
    await settled(async () => (await cache.load()).notes.find((n) => n.id === id)?.versions[0]?.body === 'milk\neggs');
    const c = new FakeNode('nodec', cluster);
    c.mode = 'no-ring';
    const serviceC = new NotesService(c as unknown as NotesNode, memoryStorage(), () => T0, new NotesSeenCache(cluster));
    await serviceC.start();
    expect(serviceC.note(id)).toMatchObject({ cached: true, sync: 'local' });
    expect(serviceC.list()).toHaveLength(2);
    serviceB.stop();
    serviceC.stop();
  });

  it('a note read or written as deleted leaves the cache; an online read replaces the cached state', async () => {
    const cluster = freshCluster();
    const cache = new NotesSeenCache(cluster);
    const a = new FakeNode('nodea', cluster);
    const service = new NotesService(a as unknown as NotesNode, memoryStorage(), () => T0, cache);
    await service.start();
    const keep = await service.create({ title: 'Keep', body: 'k' });
    const gone = await service.create({ title: 'Gone', body: 'g' });
    await settled(async () => (await cache.load()).notes.length === 2);
    await service.remove(gone);
    await settled(async () => (await cache.load()).notes.map((n) => n.id).join() === keep);
    service.stop();

    // Deleted elsewhere, read here: gone from the cache too.
    const b = new FakeNode('nodeb', cluster, a);
    const serviceB = new NotesService(b as unknown as NotesNode, memoryStorage(), () => T0, new NotesSeenCache(cluster));
    a.data.set(noteKey(keep), { value: null, deleted: true, counter: 99 });
    await serviceB.start();
    expect(serviceB.note(keep)).toMatchObject({ deleted: true, cached: false });
    await settled(async () => (await cache.load()).notes.length === 0);
    serviceB.stop();
  });
});
