/**
 * OwnershipHandoff (src/core/ownership-handoff*.ts) driven by hand through its ports: a fake peer
 * network whose answers the test releases, a manual clock, a memory store with in-process Merkle
 * trees. These pin down the rules the 30-node simulation (test/sim/large-cluster.ts) depends on when
 * round trips are long: the throttle holds bundles, not whole transfers, and a sweep does not queue a
 * partition again while a round of it is still running. They pin down how the transfers to one peer
 * travel: several partitions per handoff-bundle, bounded by objects and by bytes, the next bundle
 * sent while the last one is merged, a refused part failing only its own transfer, a resumed
 * transfer starting at its last acknowledged object, and a peer of an earlier version getting one
 * partition at a time. They also pin down how a failed attempt is reported (`TransferState.lastError`,
 * from the typed errors of ownership-handoff-errors.ts), and how a receiver takes a bundle.
 */
import { describe, expect, it } from 'vitest';
import { DynamoError, RequestTimeoutError } from '../../../src/core/errors.js';
import {
  OwnershipHandoff,
  DEFAULT_OWNERSHIP_HANDOFF_CONFIG,
  HANDOFF_BATCH_BYTES,
  VERIFY_ATTEMPTS,
  type HandoffPart,
  type HandoffRequest,
  type OwnershipHandoffConfig,
} from '../../../src/core/ownership-handoff.js';
import {
  describeTransferFailure,
  MerkleTreesNotReadyError,
  OwnershipHandoffError,
  TransferNotWantedError,
  TransferRefusedError,
} from '../../../src/core/ownership-handoff-errors.js';
import { InProcessMerkleService } from '../../../src/core/merkle-service.js';
import { versionDigest } from '../../../src/core/merkle-tree.js';
import type { ReplyMessage } from '../../../src/core/messages.js';
import { Ring } from '../../../src/core/ring.js';
import type { NodeId, VersionSet } from '../../../src/core/types.js';
import { encodeValue } from '../../../src/core/value-codec.js';
import { versionSetSizeBytes } from '../../../src/core/version-set.js';
import { MemoryStore } from '../../../src/storage/memory-store.js';

const SELF = 'a';
const IDS = ['a', 'b', 'c', 'd', 'e'];
const Q = 16;
const N = 3;

const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The ports these tests do not look at: no-op callbacks, fixed timeouts, the test's clock. */
function quietPorts(now: () => number) {
  return {
    publish: () => undefined,
    onDrained: () => undefined,
    now,
    timeoutMs: () => 3_000,
    controlTimeoutMs: () => 1_000,
    reportedKeys: () => undefined,
    holderGraceMs: () => 3_000,
    knowsCluster: () => true,
    onTransfer: () => undefined,
    onPartitionReceived: () => undefined,
  };
}

interface Sent {
  to: NodeId;
  body: HandoffRequest;
  /**
   * Answers the request: a handoff-bundle with handoff-bundle-reply refusing `refused` (none by
   * default), anything else with handoff-reply `accepted` (true by default; a handoff-start's reply
   * says the peer takes bundles unless the setup says it is of an earlier version). `reply` answers
   * with that message instead; an Error rejects.
   */
  answer: (how?: { accepted?: boolean; refused?: number[]; reply?: ReplyMessage; error?: Error }) => void;
}

/** The parts of a handoff-bundle request. */
const partsOf = (s: Sent): HandoffPart[] => (s.body.type === 'handoff-bundle' ? s.body.parts : []);

/** A version set written by SELF, its value `bytes` long. */
function written(i: number, value: unknown): VersionSet {
  return { clock: [{ node: SELF, counter: i + 1, timestampMs: 1 }], siblings: [{ dot: { node: SELF, counter: i + 1, timestampMs: 1 }, data: encodeValue(value) }] };
}

/**
 * A handoff engine for node `a` of a 5-node ring, holding `perPartition` objects of each of
 * `partitions` (none of which it replicates). `isHealthy` is what its failure detector says of a peer;
 * with `merkleReady: false` its Merkle trees are not built yet; `valueBytes` makes each value that
 * long; `config` overrides settings; peers in `earlier` run an earlier version (no bundles).
 */
async function setup(
  partitionsWanted: number,
  perPartition: number,
  options: {
    isHealthy?: (id: NodeId) => boolean;
    merkleReady?: boolean;
    valueBytes?: number;
    config?: Partial<OwnershipHandoffConfig>;
    earlier?: ReadonlySet<NodeId>;
    /** Drops wait for it (a slow store). */
    dropGate?: Promise<void>;
  } = {},
) {
  const ring = Ring.build(
    IDS.map((id) => ({ id, capacity: 1, joinedAtMs: 0 })),
    Q,
  );
  const store = new MemoryStore();
  const merkle = await InProcessMerkleService.build(store, () => ring);
  const notMine: number[] = [];
  for (let p = 0; p < Q && notMine.length < partitionsWanted; p++) if (!ring.preferenceListForPartition(p).slice(0, N).includes(SELF)) notMine.push(p);
  const keysOf = new Map<number, string[]>(notMine.map((p) => [p, []]));
  for (let i = 0; [...keysOf.values()].some((keys) => keys.length < perPartition); i++) {
    const key = `key-${i}`;
    const keys = keysOf.get(ring.partitionOfKey(key));
    if (!keys || keys.length >= perPartition) continue;
    keys.push(key);
    const versions = written(i, options.valueBytes === undefined ? key : 'v'.repeat(options.valueBytes));
    await store.putObject(key, versions);
    await merkle.update(key, versions);
  }
  for (const keys of keysOf.values()) keys.sort();
  let nowMs = 1_000;
  const sent: Sent[] = [];
  const dropped: string[] = [];
  const handoff = new OwnershipHandoff(
    { ...DEFAULT_OWNERSHIP_HANDOFF_CONFIG, ...options.config },
    {
      self: SELF,
      n: () => N,
      ring: () => ring,
      members: () => [],
      isHealthy: options.isHealthy ?? (() => true),
      request: (to, body) =>
        new Promise<ReplyMessage>((resolve, reject) => {
          sent.push({
            to,
            body,
            answer: ({ accepted = true, refused = [], reply, error } = {}) => {
              if (error !== undefined) reject(error);
              else if (reply !== undefined) resolve(reply);
              else if (body.type === 'handoff-bundle') resolve({ type: 'handoff-bundle-reply', requestId: 0, refused });
              else if (body.type === 'handoff-start' && !(options.earlier?.has(to) ?? false)) resolve({ type: 'handoff-reply', requestId: 0, accepted, bundles: true });
              else resolve({ type: 'handoff-reply', requestId: 0, accepted });
            },
          });
        }),
      merkle: () => (options.merkleReady === false ? undefined : merkle),
      localObjects: (keys) => store.getObjects(keys),
      mergeBatch: async () => undefined,
      dropIfUnchanged: async (items) => {
        await options.dropGate;
        let count = 0;
        for (const { key, digest } of items) {
          const current = await store.getObject(key);
          if (current === undefined || !versionDigest(current).every((x, i) => x === digest[i])) continue;
          await store.deleteObject(key);
          await merkle.update(key, undefined);
          dropped.push(key);
          count++;
        }
        return count;
      },
      ...quietPorts(() => nowMs),
    },
  );
  const tickAt = async (atMs: number): Promise<void> => {
    nowMs = atMs;
    handoff.tick(nowMs);
    await drain();
  };
  const open = (type: HandoffRequest['type']): Sent[] => sent.filter((s) => s.body.type === type);
  return {
    ring,
    store,
    merkle,
    handoff,
    sent,
    dropped,
    tickAt,
    open,
    partitions: notMine,
    keysOf,
    receiversOf: (p: number) => ring.preferenceListForPartition(p).slice(0, N),
  };
}

/** Answers every request sent so far that passes `filter`, once, and lets the engine react. */
async function answerAll(sent: Sent[], answered: Set<Sent>, filter: (s: Sent) => boolean = () => true): Promise<void> {
  for (;;) {
    const due = sent.filter((s) => !answered.has(s) && filter(s));
    if (due.length === 0) return;
    for (const s of due) {
      answered.add(s);
      s.answer();
    }
    await drain();
    await drain();
  }
}

/** The keys of every part of `bundles`, partition by partition, in the order sent. */
function keysSentPerPartition(bundles: readonly Sent[]): Map<number, string[]> {
  const keys = new Map<number, string[]>();
  for (const bundle of bundles) for (const part of partsOf(bundle)) keys.set(part.partition, [...(keys.get(part.partition) ?? []), ...part.items.map((i) => i.key)]);
  return keys;
}

/** The receiver that replicates the most of `partitions` (by `receiversOf`), and those partitions. */
function busiestReceiver(partitions: readonly number[], receiversOf: (p: number) => NodeId[]): { peer: NodeId; its: number[] } {
  const peers = [...new Set(partitions.flatMap(receiversOf))];
  const its = (peer: NodeId): number[] => partitions.filter((p) => receiversOf(p).includes(peer));
  const peer = peers.reduce((a, b) => (its(b).length > its(a).length ? b : a));
  return { peer, its: its(peer) };
}

const byNumber = (a: number, b: number): number => a - b;

/**
 * A holder of `partitionsWanted` partitions whose busiest receiver (two partitions or more) is the only
 * healthy peer from 1 s on; at 1.5 s its transfers to that peer have started (handoff-starts answered).
 */
async function startedTowardsBusiest(
  partitionsWanted: number,
  perPartition: number,
  config: Partial<OwnershipHandoffConfig> = {},
): Promise<{ h: Awaited<ReturnType<typeof setup>>; peer: NodeId; its: number[] }> {
  const healthy = new Set<NodeId>();
  const h = await setup(partitionsWanted, perPartition, { config, isHealthy: (id) => healthy.has(id) });
  const { peer, its } = busiestReceiver(h.partitions, h.receiversOf);
  expect(its.length).toBeGreaterThanOrEqual(2);
  healthy.add(peer);
  await h.tickAt(1_000);
  await h.tickAt(1_500);
  await answerAll(h.sent, new Set(), (s) => s.body.type === 'handoff-start');
  return { h, peer, its };
}

describe('partition handoff engine', () => {
  it('throttles bundles, not transfers: the transfers to one peer share its bundles, at most ownershipHandoffConcurrency bundles are in flight', async () => {
    const h = await setup(4, 5);
    await h.tickAt(1_000); // the sweep finds the left-over partitions
    await h.tickAt(1_500); // and starts their transfers
    const transfers = h.partitions.length * N;
    expect(h.handoff.transferStates()).toHaveLength(transfers);
    const peers = [...new Set(h.partitions.flatMap(h.receiversOf))].sort();
    const concurrency = DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffConcurrency;
    expect(peers.length).toBeGreaterThan(concurrency);
    // One handoff-start per peer: whether it takes bundles.
    expect(h.open('handoff-start').map((s) => s.to).sort()).toEqual(peers);
    const answered = new Set<Sent>();
    await answerAll(h.sent, answered, (s) => s.body.type === 'handoff-start');
    expect(h.open('handoff-bundle')).toHaveLength(concurrency);
    // A bundle carries every partition its peer receives, each whole and finished.
    for (const bundle of h.open('handoff-bundle')) {
      expect(partsOf(bundle).map((part) => part.partition).sort(byNumber)).toEqual(h.partitions.filter((p) => h.receiversOf(p).includes(bundle.to)).sort(byNumber));
      for (const part of partsOf(bundle)) {
        expect(part.items.map((i) => i.key)).toEqual(h.keysOf.get(part.partition));
        expect(part.finish).toBe(true);
      }
    }
    // Each acknowledged bundle lets exactly one more go.
    const first = h.open('handoff-bundle')[0]!;
    answered.add(first);
    first.answer();
    await drain();
    await drain();
    expect(h.open('handoff-bundle')).toHaveLength(concurrency + 1);
    await answerAll(h.sent, answered);
    expect(h.handoff.transferStates()).toEqual([]);
    expect(h.open('handoff-bundle').map((s) => s.to).sort()).toEqual(peers);
    expect(h.open('handoff-batch')).toEqual([]);
    expect(h.open('handoff-finish')).toEqual([]);
    expect(h.dropped.sort()).toEqual([...h.keysOf.values()].flat().sort());
  });

  it('a bundle carries several partitions up to ownershipHandoffBatchSize objects; the next resumes mid-partition and each finish rides with its last objects', async () => {
    const healthy = new Set<NodeId>();
    const h = await setup(3, 5, { config: { ownershipHandoffBatchSize: 7 }, isHealthy: (id) => healthy.has(id) });
    const { peer, its } = busiestReceiver(h.partitions, h.receiversOf);
    expect(its.length).toBeGreaterThanOrEqual(2);
    healthy.add(peer);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    await answerAll(h.sent, new Set());
    const bundles = h.open('handoff-bundle');
    expect(bundles.every((b) => b.to === peer)).toBe(true);
    expect(bundles.length).toBe(Math.ceil((5 * its.length) / 7));
    for (const bundle of bundles) expect(partsOf(bundle).reduce((n, part) => n + part.items.length, 0)).toBeLessThanOrEqual(7);
    expect(partsOf(bundles[0]!).length).toBeGreaterThanOrEqual(2);
    // Every object once, in order; a partition split over two bundles finishes in the second.
    const sent = keysSentPerPartition(bundles);
    for (const p of its) expect(sent.get(p), `partition ${p}`).toEqual(h.keysOf.get(p));
    for (const p of its) {
      const carrying = bundles.filter((b) => partsOf(b).some((part) => part.partition === p && part.items.length > 0));
      const finishing = bundles.filter((b) => partsOf(b).some((part) => part.partition === p && part.finish === true));
      expect(finishing, `finishes of partition ${p}`).toEqual([carrying[carrying.length - 1]]);
    }
    expect(h.handoff.transferStates().filter((t) => t.peer === peer)).toEqual([]);
  });

  it('a bundle stops at about HANDOFF_BATCH_BYTES of objects, always carrying at least one', async () => {
    const healthy = new Set<NodeId>();
    const valueBytes = 300_000;
    const h = await setup(2, 6, { valueBytes, isHealthy: (id) => healthy.has(id) });
    const { peer, its } = busiestReceiver(h.partitions, h.receiversOf);
    healthy.add(peer);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    await answerAll(h.sent, new Set());
    const bundles = h.open('handoff-bundle');
    const sizes = bundles.map((b) => partsOf(b).flatMap((part) => part.items).reduce((n, item) => n + versionSetSizeBytes(item.versions) + item.key.length, 0));
    const objectBytes = Math.max(...bundles.flatMap((b) => partsOf(b).flatMap((part) => part.items.map((item) => versionSetSizeBytes(item.versions) + item.key.length))));
    expect(objectBytes).toBeGreaterThan(valueBytes);
    expect(bundles.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThan(HANDOFF_BATCH_BYTES + objectBytes);
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(HANDOFF_BATCH_BYTES);
    const sent = keysSentPerPartition(bundles);
    for (const p of its) expect(sent.get(p)).toEqual(h.keysOf.get(p));
  });

  it("sends a peer's next bundle while the last one is merged, never with the same transfer in both", async () => {
    const { h, its } = await startedTowardsBusiest(3, 5, { ownershipHandoffBatchSize: 4 });
    const inFlight = h.open('handoff-bundle');
    expect(inFlight).toHaveLength(DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffConcurrency);
    const [one, two] = inFlight.map((b) => partsOf(b).map((part) => part.partition));
    expect(one!.filter((p) => two!.includes(p))).toEqual([]);
    await answerAll(h.sent, new Set());
    const sent = keysSentPerPartition(h.open('handoff-bundle'));
    for (const p of its) expect(sent.get(p)).toEqual(h.keysOf.get(p));
  });

  it('a refused part fails only its own transfer; the others in the bundle complete', async () => {
    const { h, peer, its } = await startedTowardsBusiest(3, 2);
    const [bundle] = h.open('handoff-bundle');
    const refusedPartition = its[0]!;
    bundle!.answer({ refused: [refusedPartition] });
    await drain();
    await drain();
    expect(h.handoff.transferStates().filter((t) => t.peer === peer)).toEqual([
      expect.objectContaining({ partition: refusedPartition, lastError: 'refused', state: 'waiting', keysSent: 0 }),
    ]);
  });

  it('a bundle answered with an error sends each of its transfers alone next time', async () => {
    const { h, peer, its } = await startedTowardsBusiest(3, 2);
    const [bundle] = h.open('handoff-bundle');
    expect(partsOf(bundle!)).toHaveLength(its.length);
    bundle!.answer({ reply: { type: 'error-reply', requestId: 0, code: 'StorageError', message: 'disk full' } });
    await drain();
    for (const state of h.handoff.transferStates().filter((t) => t.peer === peer)) expect(state).toMatchObject({ lastError: 'refused', attempts: 1 });
    await h.tickAt(1_500 + 2 * DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffIntervalMs);
    const answered = new Set<Sent>([bundle!]);
    await answerAll(h.sent, answered);
    const retries = h.open('handoff-bundle').slice(1);
    expect(retries).toHaveLength(its.length);
    for (const retry of retries) expect(partsOf(retry)).toHaveLength(1);
    expect(h.handoff.transferStates().filter((t) => t.peer === peer)).toEqual([]);
  });

  it('a failed attempt resumes at its last acknowledged object', async () => {
    const healthy = new Set<NodeId>();
    const h = await setup(1, 5, { config: { ownershipHandoffBatchSize: 3, ownershipHandoffConcurrency: 1 }, isHealthy: (id) => healthy.has(id) });
    const [p] = h.partitions;
    const [peer] = h.receiversOf(p!);
    healthy.add(peer!);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    await answerAll(h.sent, new Set(), (s) => s.body.type === 'handoff-start');
    const keys = h.keysOf.get(p!)!;
    const [first] = h.open('handoff-bundle');
    expect(partsOf(first!)[0]!.items.map((i) => i.key)).toEqual(keys.slice(0, 3));
    first!.answer();
    await drain();
    await drain();
    const [, second] = h.open('handoff-bundle');
    expect(partsOf(second!)[0]).toMatchObject({ partition: p, finish: true });
    second!.answer({ error: new RequestTimeoutError('no answer in time') });
    await drain();
    expect(h.handoff.transferStates().filter((t) => t.peer === peer)).toEqual([expect.objectContaining({ keysSent: 3, lastError: 'RequestTimeoutError: no answer in time', state: 'waiting' })]);
    await h.tickAt(1_500 + 2 * DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffIntervalMs);
    await answerAll(h.sent, new Set([first!, second!]), (s) => s.body.type !== 'handoff-bundle' || h.open('handoff-bundle').indexOf(s) >= 2);
    const third = h.open('handoff-bundle')[2]!;
    expect(partsOf(third)).toEqual([expect.objectContaining({ partition: p, items: expect.any(Array), finish: true })]);
    expect(partsOf(third)[0]!.items.map((i) => i.key)).toEqual(keys.slice(3));
    expect(h.handoff.transferStates().filter((t) => t.peer === peer)).toEqual([]);
  });

  it('a peer of an earlier version gets one partition at a time, as handoff-batch and handoff-finish', async () => {
    const healthy = new Set<NodeId>();
    const h0 = await setup(3, 2);
    const { peer, its } = busiestReceiver(h0.partitions, h0.receiversOf);
    const h = await setup(3, 2, { isHealthy: (id) => healthy.has(id), earlier: new Set([peer]) });
    healthy.add(peer);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    await answerAll(h.sent, new Set());
    expect(h.open('handoff-bundle')).toEqual([]);
    expect(h.open('handoff-batch').map((s) => (s.body.type === 'handoff-batch' ? s.body.partition : -1)).sort(byNumber)).toEqual([...its].sort(byNumber));
    expect(h.open('handoff-finish').map((s) => (s.body.type === 'handoff-finish' ? s.body.partition : -1)).sort(byNumber)).toEqual([...its].sort(byNumber));
    for (const batch of h.open('handoff-batch')) {
      if (batch.body.type !== 'handoff-batch') continue;
      expect(batch.body.items.map((i) => i.key)).toEqual(h.keysOf.get(batch.body.partition));
    }
    expect(h.handoff.transferStates().filter((t) => t.peer === peer)).toEqual([]);
  });

  it("reports each transfer's attempts and why the last one failed, and retries after two handoff intervals", async () => {
    const healthy = new Set<NodeId>();
    const h = await setup(1, 2, { isHealthy: (id) => healthy.has(id) });
    const [p] = h.partitions;
    const [receiver] = h.receiversOf(p!);
    healthy.add(receiver!);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    await answerAll(h.sent, new Set(), (s) => s.body.type === 'handoff-start');
    const first = h.open('handoff-bundle').find((s) => s.to === receiver)!;
    expect(h.handoff.transferStates().find((t) => t.peer === receiver)).toMatchObject({ attempts: 1, state: 'running' });
    first.answer({ refused: [p!] }); // the receiver does not replicate the partition in its ring (yet)
    await drain();
    const failed = h.handoff.transferStates().find((t) => t.peer === receiver)!;
    expect(failed).toMatchObject({ attempts: 1, lastError: 'refused', state: 'waiting' });
    // Not before two handoff intervals have passed.
    await h.tickAt(1_500 + DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffIntervalMs);
    expect(h.open('handoff-bundle').filter((s) => s.to === receiver)).toHaveLength(1);
    await h.tickAt(1_500 + 2 * DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffIntervalMs);
    await drain();
    expect(h.open('handoff-bundle').filter((s) => s.to === receiver)).toHaveLength(2);
    expect(h.handoff.transferStates().find((t) => t.peer === receiver)).toMatchObject({ attempts: 2, lastError: 'refused' });
  });

  it('a sweep does not queue a partition again while a round of it runs, so the round ends and its objects go', async () => {
    const h = await setup(1, 3);
    const [p] = h.partitions;
    const [r1, r2, slow] = h.receiversOf(p!);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    const answered = new Set<Sent>();
    // Two receivers take everything; the third is slow to acknowledge its bundle (with the finish).
    await answerAll(h.sent, answered, (s) => s.to !== slow || s.body.type !== 'handoff-bundle');
    expect(h.open('handoff-bundle').map((s) => s.to).sort()).toEqual([r1, r2, slow].sort());
    // Sweeps come and go (every 10 handoff intervals) while that bundle is outstanding.
    for (let t = 2_000; t <= 20_000; t += 500) await h.tickAt(t);
    expect(h.open('handoff-bundle')).toHaveLength(N);
    expect(h.dropped).toEqual([]);
    await answerAll(h.sent, answered);
    expect(h.handoff.transferStates()).toEqual([]);
    expect(h.dropped).toHaveLength(3);
    expect(await h.store.listKeys()).toEqual([]);
  });
});

describe('ownership handoff: dropping what was sent', () => {
  it('drops the objects of a partition handed off in batches, and a sweep sends none of them again meanwhile', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const h = await setup(2, 3, { dropGate: gate });
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    const answered = new Set<Sent>();
    await answerAll(h.sent, answered);
    expect(h.handoff.transferStates()).toEqual([]);
    const bundles = h.open('handoff-bundle').length;
    // Sweeps come and go (every 10 handoff intervals) while the drops wait for the store.
    for (let t = 2_000; t <= 20_000; t += 500) await h.tickAt(t);
    expect(h.open('handoff-bundle')).toHaveLength(bundles);
    expect(h.handoff.transferStates()).toEqual([]);
    expect(h.dropped).toEqual([]);
    open();
    await drain();
    await drain();
    expect(h.dropped.sort()).toEqual([...h.keysOf.values()].flat().sort());
    expect(await h.store.listKeys()).toEqual([]);
  });
});

describe('ownership handoff transfer failures', () => {
  it('are typed errors with a stable name, shown in lastError by their message alone as before', () => {
    for (const [error, name, message] of [
      [new TransferRefusedError(), 'TransferRefusedError', 'refused'],
      [new TransferNotWantedError(), 'TransferNotWantedError', 'not wanted now'],
      [new MerkleTreesNotReadyError(), 'MerkleTreesNotReadyError', 'no Merkle trees yet'],
    ] as const) {
      expect(error).toBeInstanceOf(OwnershipHandoffError);
      expect(error).toBeInstanceOf(DynamoError);
      expect(error.name).toBe(name);
      expect(describeTransferFailure(error)).toBe(message);
    }
    expect(describeTransferFailure(new RequestTimeoutError('no answer'))).toBe('RequestTimeoutError: no answer');
    expect(describeTransferFailure(new Error('disk gone'))).toBe('disk gone');
    expect(describeTransferFailure('gone')).toBe('gone');
  });

  it('a bundle waiting for a slot is not sent to a receiver found unreachable meanwhile (not wanted now), and the transfer waits', async () => {
    const down = new Set<NodeId>();
    const h = await setup(1, 2, { isHealthy: (id) => !down.has(id) });
    const [p] = h.partitions;
    const [receiver] = h.receiversOf(p!);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    down.add(receiver!);
    h.open('handoff-start').find((s) => s.to === receiver)!.answer();
    await drain();
    expect(h.open('handoff-bundle').filter((s) => s.to === receiver)).toEqual([]);
    expect(h.handoff.transferStates().find((t) => t.peer === receiver)).toMatchObject({ attempts: 1, lastError: 'not wanted now', state: 'waiting' });
  });

  it('a partition is not listed before the Merkle trees are built: the transfer fails without a request and waits', async () => {
    const h = await setup(1, 1, { merkleReady: false });
    const [p] = h.partitions;
    h.handoff.restore([], [p!]);
    await h.tickAt(1_000);
    const states = h.handoff.transferStates();
    expect(states.map((t) => t.peer).sort()).toEqual(h.receiversOf(p!).sort());
    for (const state of states) expect(state).toMatchObject({ reason: 'ownership', attempts: 1, lastError: 'no Merkle trees yet', state: 'waiting' });
    expect(h.sent).toEqual([]);
  });
});

describe('ownership handoff verification', () => {
  /**
   * Node `a` of a 4-node ring holds objects of a partition it no longer replicates once `e` joined;
   * the new replicas that replicated it before are asked for their Merkle roots first (ae-roots).
   */
  async function ownershipSetup(answerRoots: (partitions: number[]) => ReplyMessage) {
    const before = Ring.build(['a', 'b', 'c', 'd'].map((id) => ({ id, capacity: 1, joinedAtMs: 0 })), Q);
    const after = Ring.build(IDS.map((id, i) => ({ id, capacity: 1, joinedAtMs: i === 4 ? 10 : 0 })), Q);
    const p = [...Array(Q).keys()].find((q) => before.preferenceListForPartition(q).slice(0, N).includes(SELF) && !after.preferenceListForPartition(q).slice(0, N).includes(SELF))!;
    let ring = before;
    const store = new MemoryStore();
    const merkle = await InProcessMerkleService.build(store, () => ring);
    for (let i = 0, stored = 0; stored < 3; i++) {
      const key = `own-${i}`;
      if (before.partitionOfKey(key) !== p) continue;
      const versions: VersionSet = { clock: [{ node: SELF, counter: i + 1, timestampMs: 1 }], siblings: [{ dot: { node: SELF, counter: i + 1, timestampMs: 1 }, data: encodeValue(key) }] };
      await store.putObject(key, versions);
      await merkle.update(key, versions);
      stored++;
    }
    let nowMs = 1_000;
    const requests: { to: NodeId; body: HandoffRequest }[] = [];
    // Every member reports nothing pending: receivers that replicated the partition before are verified, not streamed to.
    const members = IDS.map((id) => ({ id, capacity: 1, status: 'up' as const, version: 1, joinedAtMs: 0, incarnation: 1, history: [{ atMs: 0, capacity: 1 }], pendingPartitions: [], handoffPartitions: [] }));
    const handoff = new OwnershipHandoff(DEFAULT_OWNERSHIP_HANDOFF_CONFIG, {
      self: SELF,
      n: () => N,
      ring: () => ring,
      members: () => members,
      isHealthy: () => true,
      request: async (to, body) => {
        requests.push({ to, body });
        if (body.type === 'ae-roots') return answerRoots(body.partitions);
        return { type: 'handoff-reply', requestId: 0, accepted: true };
      },
      merkle: () => merkle,
      localObjects: (keys) => store.getObjects(keys),
      mergeBatch: async () => undefined,
      dropIfUnchanged: async (items) => items.length,
      ...quietPorts(() => nowMs),
    });
    await handoff.refreshCounts();
    ring = after;
    handoff.ringChanged(before, after);
    const tickAt = async (atMs: number): Promise<void> => {
      nowMs = atMs;
      handoff.tick(nowMs);
      for (let i = 0; i < 5; i++) await drain();
    };
    const wereAsked = after.preferenceListForPartition(p).slice(0, N).filter((id) => before.preferenceListForPartition(p).slice(0, N).includes(id));
    return { p, handoff, requests, tickAt, wereAsked };
  }

  it(`streams to a receiver whose roots cannot be compared, after ${VERIFY_ATTEMPTS} failed comparisons`, async () => {
    const h = await ownershipSetup(() => ({ type: 'error-reply', requestId: 0, code: 'Internal', message: 'no trees yet' }));
    expect(h.wereAsked.length).toBeGreaterThan(0);
    for (let t = 1_000; t <= 6_000; t += 500) await h.tickAt(t);
    for (const peer of h.wereAsked) {
      const asked = h.requests.filter((r) => r.to === peer && r.body.type === 'ae-roots').length;
      expect(asked, `roots asked of ${peer}`).toBe(VERIFY_ATTEMPTS);
      expect(h.requests.some((r) => r.to === peer && r.body.type === 'handoff-start' && r.body.partition === h.p), `a stream to ${peer}`).toBe(true);
    }
    expect(h.handoff.handoffPartitions()).toEqual([]);
  });
});

describe('ownership handoff: a receiver takes a bundle', () => {
  /** Node `e` joins a ring of `a`..`d`: `mine` is one of the partitions it replicates now (pending), `other` one it does not. */
  function receiverSetup(mergeBatch: (items: readonly { key: string; versions: VersionSet }[]) => Promise<void>) {
    const before = Ring.build(['a', 'b', 'c', 'd'].map((id) => ({ id, capacity: 1, joinedAtMs: 0 })), Q);
    const after = Ring.build(IDS.map((id, i) => ({ id, capacity: 1, joinedAtMs: i === 4 ? 10 : 0 })), Q);
    const replicated = (p: number): boolean => after.preferenceListForPartition(p).slice(0, N).includes('e');
    const mine = [...Array(Q).keys()].find(replicated)!;
    const other = [...Array(Q).keys()].find((p) => !replicated(p))!;
    // `a` advertises `mine`: it is the holder the partition waits for.
    const members = IDS.map((id) => ({
      id,
      capacity: 1,
      status: 'up' as const,
      version: 1,
      joinedAtMs: 0,
      incarnation: 1,
      history: [{ atMs: 0, capacity: 1 }],
      pendingPartitions: [],
      handoffPartitions: id === 'a' ? [mine] : [],
    }));
    const events: string[] = [];
    const handoff = new OwnershipHandoff(DEFAULT_OWNERSHIP_HANDOFF_CONFIG, {
      self: 'e',
      n: () => N,
      ring: () => after,
      members: () => members,
      isHealthy: () => true,
      request: () => new Promise<ReplyMessage>(() => undefined),
      merkle: () => undefined,
      localObjects: async () => [],
      mergeBatch: async (items) => {
        await mergeBatch(items);
        events.push(`merged ${items.map((i) => i.key).join(' ')}`);
      },
      dropIfUnchanged: async () => 0,
      ...quietPorts(() => 1_000),
      onPartitionReceived: (p) => events.push(`received ${p}`),
    });
    handoff.ringChanged(before, after);
    return { handoff, mine, other, events };
  }

  it('merges the parts of partitions it replicates in one transaction, refuses the others, and takes each finish after the merge', async () => {
    const r = receiverSetup(async () => undefined);
    expect(r.handoff.pendingPartitions()).toContain(r.mine);
    const refused = await r.handoff.onBundle('a', [
      { partition: r.mine, items: [{ key: 'k1', versions: written(1, 1) }, { key: 'k2', versions: written(2, 2) }], finish: true },
      { partition: r.other, items: [{ key: 'k3', versions: written(3, 3) }] },
    ]);
    expect(refused).toEqual([r.other]);
    expect(r.events).toEqual(['merged k1 k2', `received ${r.mine}`]);
    expect(r.handoff.pendingPartitions()).not.toContain(r.mine);
    expect(r.handoff.keysReceived).toBe(2);
  });

  it('takes nothing of a bundle whose merge fails: no finish, and the error goes back to the sender', async () => {
    const r = receiverSetup(async () => {
      throw new Error('quota');
    });
    await expect(r.handoff.onBundle('a', [{ partition: r.mine, items: [{ key: 'k1', versions: written(1, 1) }], finish: true }])).rejects.toThrow('quota');
    expect(r.events).toEqual([]);
    expect(r.handoff.pendingPartitions()).toContain(r.mine);
    expect(r.handoff.keysReceived).toBe(0);
  });
});
