/**
 * OwnershipHandoff (src/core/ownership-handoff*.ts) driven by hand through its ports: a fake peer
 * network whose answers the test releases, a manual clock, a memory store with in-process Merkle
 * trees. These pin down two rules the 30-node simulation (test/sim/large-cluster.ts) depends on when
 * round trips are long: the throttle holds batches, not whole transfers, and a sweep does not queue a
 * partition again while a round of it is still running. They also pin down how a failed attempt is
 * reported (`TransferState.lastError`, from the typed errors of ownership-handoff-errors.ts).
 */
import { describe, expect, it } from 'vitest';
import { DynamoError, RequestTimeoutError } from '../../../src/core/errors.js';
import { OwnershipHandoff, DEFAULT_OWNERSHIP_HANDOFF_CONFIG, VERIFY_ATTEMPTS, type HandoffRequest } from '../../../src/core/ownership-handoff.js';
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
  answer: (accepted?: boolean) => void;
}

/**
 * A handoff engine for node `a` of a 5-node ring, holding `perPartition` objects of each of
 * `partitions` (none of which it replicates). `isHealthy` is what its failure detector says of a peer;
 * with `merkleReady: false` its Merkle trees are not built yet.
 */
async function setup(partitionsWanted: number, perPartition: number, options: { isHealthy?: (id: NodeId) => boolean; merkleReady?: boolean } = {}) {
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
    const versions: VersionSet = { clock: [{ node: SELF, counter: i + 1, timestampMs: 1 }], siblings: [{ dot: { node: SELF, counter: i + 1, timestampMs: 1 }, data: encodeValue(key) }] };
    await store.putObject(key, versions);
    await merkle.update(key, versions);
  }
  let nowMs = 1_000;
  const sent: Sent[] = [];
  const dropped: string[] = [];
  const handoff = new OwnershipHandoff(DEFAULT_OWNERSHIP_HANDOFF_CONFIG, {
    self: SELF,
    n: () => N,
    ring: () => ring,
    members: () => [],
    isHealthy: options.isHealthy ?? (() => true),
    request: (to, body) =>
      new Promise<ReplyMessage>((resolve) => {
        sent.push({ to, body, answer: (accepted = true) => resolve({ type: 'handoff-reply', requestId: 0, accepted }) });
      }),
    merkle: () => (options.merkleReady === false ? undefined : merkle),
    localObjects: (keys) => store.getObjects(keys),
    mergeBatch: async () => undefined,
    dropIfUnchanged: async (key, digest) => {
      const current = await store.getObject(key);
      if (current === undefined || !versionDigest(current).every((x, i) => x === digest[i])) return false;
      await store.deleteObject(key);
      await merkle.update(key, undefined);
      dropped.push(key);
      return true;
    },
    ...quietPorts(() => nowMs),
  });
  const tickAt = async (atMs: number): Promise<void> => {
    nowMs = atMs;
    handoff.tick(nowMs);
    await drain();
  };
  const open = (type: HandoffRequest['type']): Sent[] => sent.filter((s) => s.body.type === type);
  return { ring, store, handoff, sent, dropped, tickAt, open, partitions: notMine, receiversOf: (p: number) => ring.preferenceListForPartition(p).slice(0, N) };
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
  }
}

describe('partition handoff engine', () => {
  it('throttles batches, not transfers: every transfer starts at once, at most ownershipHandoffConcurrency batches are in flight', async () => {
    const h = await setup(4, 5);
    await h.tickAt(1_000); // the sweep finds the left-over partitions
    await h.tickAt(1_500); // and starts their transfers
    const transfers = h.partitions.length * N;
    expect(h.handoff.transferStates()).toHaveLength(transfers);
    expect(h.open('handoff-start')).toHaveLength(transfers);
    const answered = new Set<Sent>();
    await answerAll(h.sent, answered, (s) => s.body.type === 'handoff-start');
    expect(h.open('handoff-batch')).toHaveLength(DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffConcurrency);
    expect(h.handoff.transferStates().filter((t) => t.state === 'running')).toHaveLength(DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffConcurrency);
    // Each acknowledged batch lets exactly one more go.
    h.open('handoff-batch')[0]!.answer();
    answered.add(h.open('handoff-batch')[0]!);
    await drain();
    expect(h.open('handoff-batch')).toHaveLength(DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffConcurrency + 1);
    await answerAll(h.sent, answered);
    expect(h.handoff.transferStates()).toEqual([]);
    expect(h.open('handoff-finish')).toHaveLength(transfers);
    expect(h.dropped).toHaveLength(h.partitions.length * 5);
  });

  it('reports each transfer\'s attempts and why the last one failed, and retries after two handoff intervals', async () => {
    const h = await setup(1, 2);
    const [p] = h.partitions;
    const [receiver] = h.receiversOf(p!);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    const first = h.open('handoff-start').find((s) => s.to === receiver)!;
    expect(h.handoff.transferStates().find((t) => t.peer === receiver)).toMatchObject({ attempts: 1, state: 'running' });
    first.answer(false); // the receiver does not replicate the partition in its ring (yet)
    await drain();
    const failed = h.handoff.transferStates().find((t) => t.peer === receiver)!;
    expect(failed).toMatchObject({ attempts: 1, lastError: 'refused', state: 'waiting' });
    // Not before two handoff intervals have passed.
    await h.tickAt(1_500 + DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffIntervalMs);
    expect(h.open('handoff-start').filter((s) => s.to === receiver)).toHaveLength(1);
    await h.tickAt(1_500 + 2 * DEFAULT_OWNERSHIP_HANDOFF_CONFIG.ownershipHandoffIntervalMs);
    expect(h.open('handoff-start').filter((s) => s.to === receiver)).toHaveLength(2);
    expect(h.handoff.transferStates().find((t) => t.peer === receiver)).toMatchObject({ attempts: 2, lastError: 'refused' });
  });

  it('a sweep does not queue a partition again while a round of it runs, so the round ends and its objects go', async () => {
    const h = await setup(1, 3);
    const [p] = h.partitions;
    const [r1, r2, slow] = h.receiversOf(p!);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    const answered = new Set<Sent>();
    // Two receivers take everything; the third is slow to acknowledge its finish.
    await answerAll(h.sent, answered, (s) => s.to !== slow || s.body.type !== 'handoff-finish');
    expect(h.open('handoff-finish').map((s) => s.to).sort()).toEqual([r1, r2, slow].sort());
    // Sweeps come and go (every 10 handoff intervals) while that finish is outstanding.
    for (let t = 2_000; t <= 20_000; t += 500) await h.tickAt(t);
    expect(h.open('handoff-start')).toHaveLength(N);
    expect(h.dropped).toEqual([]);
    await answerAll(h.sent, answered);
    expect(h.handoff.transferStates()).toEqual([]);
    expect(h.dropped).toHaveLength(3);
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

  it('a batch waiting for a slot is not sent to a receiver found unreachable meanwhile (not wanted now), and the transfer waits', async () => {
    const down = new Set<NodeId>();
    const h = await setup(1, 2, { isHealthy: (id) => !down.has(id) });
    const [p] = h.partitions;
    const [receiver] = h.receiversOf(p!);
    await h.tickAt(1_000);
    await h.tickAt(1_500);
    down.add(receiver!);
    h.open('handoff-start').find((s) => s.to === receiver)!.answer();
    await drain();
    expect(h.open('handoff-batch').filter((s) => s.to === receiver)).toEqual([]);
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
      dropIfUnchanged: async () => true,
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
