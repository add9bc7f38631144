/**
 * Signed membership (issue 16 item 4) with real Ed25519 keys: a record is taken only when signed by
 * its own node, a removal only when signed by a member, and steady-state gossip checks no signature.
 */
import { describe, expect, it } from 'vitest';
import { recordSigningFields, removalSigningFields, type MemberRecord, type MembershipAuthority, type Removal } from '../../../src/core/membership.js';
import type { Message } from '../../../src/core/messages.js';
import { NodeCore } from '../../../src/core/node-core.js';
import { webCryptoAuthority } from '../../../src/security/membership-authority.js';
import { generateNodeKey, type NodeKey } from '../../../src/security/node-key.js';
import { MemoryStore } from '../../../src/storage/memory-store.js';

const TAG = 'abcdefghijklmnop';
const T0 = 1_700_000_000_000;

interface Counting extends MembershipAuthority {
  verifies: number;
}

function counting(authority: MembershipAuthority): Counting {
  const out: Counting = {
    publicKey: authority.publicKey,
    verifies: 0,
    sign: (f) => authority.sign(f),
    verify: (k, f, s) => {
      out.verifies++;
      return authority.verify(k, f, s);
    },
    nodeIdOf: (k) => authority.nodeIdOf(k),
  };
  return out;
}

async function signedRecord(key: NodeKey, change: Partial<MemberRecord> = {}, tag = TAG): Promise<MemberRecord> {
  const record: MemberRecord = { id: key.nodeId, capacity: 1, status: 'up', version: 3, joinedAtMs: T0, incarnation: 1, history: [{ atMs: T0, capacity: 1 }], pendingPartitions: [], handoffPartitions: [], publicKey: key.publicKey, ...change };
  record.signature = await webCryptoAuthority(key, tag).sign(recordSigningFields(record));
  return record;
}

async function signedRemoval(by: NodeKey, target: string, atMs = T0 + 5): Promise<Removal> {
  const removal: Removal = { target, by: by.nodeId, atMs };
  removal.signature = await webCryptoAuthority(by, TAG).sign(removalSigningFields(removal));
  return removal;
}

/** Waits until the core handled what was given to it (signature checks are asynchronous). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function startNode() {
  const key = await generateNodeKey();
  const sent: { to: string; message: Message }[] = [];
  const authority = counting(webCryptoAuthority(key, TAG));
  const core = new NodeCore({
    id: key.nodeId,
    clock: { now: () => T0 + 1000 },
    random: { next: () => 0.5 },
    transport: { send: (to, message) => void sent.push({ to, message }) },
    store: new MemoryStore(),
    authority,
  });
  await core.start();
  return { key, core, sent, authority };
}

describe('signed membership', () => {
  it('takes a record signed by its own node; refuses a tampered one, one signed by another key, one for another cluster and an unsigned one', async () => {
    const node = await startNode();
    const [b, c, d] = await Promise.all([generateNodeKey(), generateNodeKey(), generateNodeKey()]);
    const good = await signedRecord(b);
    const tampered = { ...(await signedRecord(c)), capacity: 50 };
    // d signs a record that claims c's id, with d's key.
    const claimed = { ...(await signedRecord(d)), id: c.nodeId };
    claimed.signature = await webCryptoAuthority(d, TAG).sign(recordSigningFields(claimed));
    const otherCluster = await signedRecord(d, {}, 'zzzzzzzzzzzzzzzz');
    const unsigned: MemberRecord = { ...(await signedRecord(d, { version: 9 })) };
    delete unsigned.signature;
    node.core.receive(b.nodeId, { type: 'gossip', reply: false, members: [good, tampered, claimed, otherCluster, unsigned] });
    await settle();
    expect(node.core.members().map((m) => m.id).sort()).toEqual([node.key.nodeId, b.nodeId].sort());
    expect(node.core.stats().recordsRejected).toBe(4);
  });

  it('a replayed older record changes nothing, and gossip that brings nothing new checks no signature', async () => {
    const node = await startNode();
    const b = await generateNodeKey();
    const old = await signedRecord(b, { version: 3, capacity: 1 });
    const current = await signedRecord(b, { version: 4, capacity: 2, history: [{ atMs: T0, capacity: 1 }, { atMs: T0 + 1, capacity: 2 }] });
    node.core.receive(b.nodeId, { type: 'gossip', reply: false, members: [current] });
    await settle();
    const verifies = node.authority.verifies;
    expect(verifies).toBe(1);
    for (let i = 0; i < 5; i++) node.core.receive(b.nodeId, { type: 'gossip', reply: false, members: [current, old] });
    await settle();
    expect(node.authority.verifies).toBe(verifies);
    expect(node.core.members().find((m) => m.id === b.nodeId)!.capacity).toBe(2);
  });

  it('signs its own record: what it gossips verifies under its key', async () => {
    const node = await startNode();
    const b = await generateNodeKey();
    node.core.receive(b.nodeId, { type: 'gossip', reply: true, members: [await signedRecord(b)] });
    await settle();
    const answer = node.sent.find((s) => s.message.type === 'gossip' && s.to === b.nodeId)?.message as Extract<Message, { type: 'gossip' }>;
    expect(answer).toBeDefined();
    const own = answer.members.find((m) => m.id === node.key.nodeId)!;
    expect(own.signature).toBeInstanceOf(Uint8Array);
    expect(await webCryptoAuthority(b, TAG).verify(node.key.publicKey, recordSigningFields(own), own.signature!)).toBe(true);
  });

  it('takes a removal signed by a member, attributes it, and refuses the removed node from then on; refuses forged removals', async () => {
    const node = await startNode();
    const [b, c, stranger] = await Promise.all([generateNodeKey(), generateNodeKey(), generateNodeKey()]);
    const members = [await signedRecord(b), await signedRecord(c)];
    node.core.receive(b.nodeId, { type: 'gossip', reply: false, members });
    await settle();
    // Forged: c's removal "by b" but signed by the stranger; and one by a node nobody knows.
    const forged = { ...(await signedRemoval(stranger, c.nodeId)), by: b.nodeId };
    const byStranger = await signedRemoval(stranger, c.nodeId);
    node.core.receive(b.nodeId, { type: 'gossip', reply: false, members, removals: [forged, byStranger] });
    await settle();
    expect(node.core.removals()).toEqual([]);
    expect(node.core.stats().removalsRejected).toBe(2);
    expect(node.core.members().find((m) => m.id === c.nodeId)!.status).toBe('up');

    const real = await signedRemoval(b, c.nodeId);
    node.core.receive(b.nodeId, { type: 'gossip', reply: false, members, removals: [real] });
    await settle();
    expect(node.core.removals()).toEqual([{ target: c.nodeId, by: b.nodeId, atMs: real.atMs }]);
    expect(node.core.isRemoved(c.nodeId)).toBe(true);
    expect(node.core.members().find((m) => m.id === c.nodeId)!.status).toBe('left');
    // c writes a newer record of itself: it stays removed.
    node.core.receive(b.nodeId, { type: 'gossip', reply: false, members: [await signedRecord(c, { version: 99 })] });
    await settle();
    expect(node.core.members().find((m) => m.id === c.nodeId)!.status).toBe('left');
  });

  it('makes signed removals of its own that another member verifies', async () => {
    const node = await startNode();
    const [b, c] = await Promise.all([generateNodeKey(), generateNodeKey()]);
    node.core.receive(b.nodeId, { type: 'gossip', reply: false, members: [await signedRecord(b), await signedRecord(c)] });
    await settle();
    await node.core.remove(b.nodeId);
    const [removal] = node.core.removals();
    expect(removal).toMatchObject({ target: b.nodeId, by: node.key.nodeId });
    // A member whose view differs asks for every record (digest-only gossip, issue 19).
    node.core.receive(c.nodeId, { type: 'gossip', reply: true, members: [], digest: new Uint8Array(16) });
    await settle();
    const gossip = node.sent.filter((s) => s.message.type === 'gossip' && s.to === c.nodeId).at(-1)?.message as Extract<Message, { type: 'gossip' }> | undefined;
    const sent = gossip?.removals?.[0];
    expect(sent?.signature).toBeInstanceOf(Uint8Array);
    expect(await webCryptoAuthority(c, TAG).verify(node.key.publicKey, removalSigningFields(sent!), sent!.signature!)).toBe(true);
  });
});
