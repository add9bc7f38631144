/**
 * Messages between nodes, and their schemas (DESIGN.md §4: every message from a peer is untrusted).
 *
 * A transport hands the core whatever it decoded; `parseMessage` checks it against these schemas
 * (valibot), `checkMessage` checks the rules of its content the shapes do not express (keys, the
 * invariants of version sets, value bytes), and the core drops, counts and logs anything that fails
 * either. Every field has a bound, so a peer cannot make a node allocate without limit.
 *
 * Request/response pairs carry a `requestId` chosen by the requester (unique per requester):
 *
 *   gossip            push-pull of the membership map (paper §4.8.1)
 *   replica-get    →  replica-get-reply          read one replica's version set (§4.5)
 *   replica-put    →  replica-put-reply          merge a version set into a replica, durably (§4.5)
 *   coordinate-get →  coordinate-get-reply       ask a preference-list node to coordinate a get (§4.1)
 *   coordinate-put →  coordinate-put-reply       ask a preference-list node to coordinate a put (§4.1)
 *   hinted-put     →  hinted-put-reply           a fallback keeps a write for an unreachable replica (§4.6)
 *   ping           →  ping-reply                 failure-detector probe (SWIM)
 *   ping-req       →  ping-reply                 probe `target` on the sender's behalf (SWIM indirect probe)
 *   ae-roots       →  ae-hashes-reply            Merkle-tree roots of many partitions, or `same` when the
 *                                                requester's digest of its roots matches (anti-entropy, §4.7)
 *   ae-hashes      →  ae-hashes-reply            Merkle-tree node hashes of a partition
 *   ae-leaves      →  ae-leaves-reply            the (key, digest) items of tree leaves
 *   ae-fetch       →  ae-fetch-reply             version sets of keys found different
 *   handoff-start  →  handoff-reply              a holder is about to hand a partition to a new replica (§4.9)
 *   handoff-batch  →  handoff-reply              a batch of the partition's objects, merged durably
 *   handoff-finish →  handoff-reply              everything the holder had was sent
 *   handoff-pull   →  handoff-reply              a new replica asks a complete replica to hand it a partition
 *   handoff-bundle →  handoff-bundle-reply       objects of several partitions, merged durably in one go, and
 *                                                the finish of each partition sent completely; the reply names
 *                                                the partitions refused (a receiver that knows bundles says so
 *                                                with `bundles` in its handoff-reply to a handoff-start)
 *   purge-check    →  purge-check-reply          what a member holds of tombstone sets a key's first replica
 *                                                would purge: nothing, exactly that, or something else (a
 *                                                hint, another version) (tombstone-purge.ts)
 *   purge          →  purge-reply                delete those tombstone sets where they are still unchanged
 *   any request    →  error-reply                the request failed at the peer
 */
import * as v from 'valibot';
import { encodedValueProblem, MAX_KEY_BYTES, MAX_VALUE_BYTES, validateKey } from './value-codec.js';

/** Most siblings a version set may carry on the wire. */
export const MAX_WIRE_SIBLINGS = 64;
/** Most vector-clock entries a clock may carry on the wire. */
export const MAX_WIRE_CLOCK_ENTRIES = 64;
/** Most member records one gossip message may carry. */
export const MAX_WIRE_MEMBERS = 10_000;
/** Longest node id. */
export const MAX_NODE_ID_LENGTH = 64;

const nodeId = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_NODE_ID_LENGTH), v.regex(/^[a-z0-9]+$/));
const counter = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const timestampMs = v.pipe(v.number(), v.finite());
const requestId = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
// Characters bound the key cheaply here; the UTF-8 byte bound and well-formedness by `checkMessage`.
const key = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_KEY_BYTES));
const timeoutMs = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(600_000));
const quorum = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(64));

const clockEntry = v.object({ node: nodeId, counter, timestampMs });
const clock = v.pipe(v.array(clockEntry), v.maxLength(MAX_WIRE_CLOCK_ENTRIES));
const dot = v.object({ node: nodeId, counter: v.pipe(counter, v.minValue(1)), timestampMs });
const data = v.nullable(
  v.custom<Uint8Array>(
    (bytes) => bytes instanceof Uint8Array && bytes.byteLength <= MAX_VALUE_BYTES,
    `expected bytes of at most ${MAX_VALUE_BYTES}`,
  ),
);
/** A write id (client-operations.ts: a node id, its clock and a counter): at most 128 characters. */
const writeId = v.pipe(v.string(), v.maxLength(128));
const sibling = v.object({ dot, data, writeId: v.optional(writeId) });
/** Schema of a VersionSet on the wire. */
export const versionSetSchema = v.object({
  clock,
  siblings: v.pipe(v.array(sibling), v.maxLength(MAX_WIRE_SIBLINGS)),
  dots: v.optional(v.pipe(v.array(dot), v.maxLength(MAX_WIRE_CLOCK_ENTRIES))),
});

/** Most tree nodes (hashes or leaves) one anti-entropy message may name. */
export const MAX_WIRE_TREE_NODES = 4096;
/** Most leaf items one anti-entropy reply may carry. */
export const MAX_WIRE_TREE_ITEMS = 20_000;
/** Most keys one anti-entropy fetch may ask for. */
export const MAX_WIRE_FETCH_KEYS = 256;
/** Most keys one purge-check or purge may name (tombstone-purge.ts MAX_PURGE_KEYS). */
export const MAX_WIRE_PURGE_KEYS = 256;

const partition = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65_535));
const treeLevel = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(16));
const treeIndex = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 32 - 1));
function fixedBytes(length: number) {
  return v.custom<Uint8Array>((bytes) => bytes instanceof Uint8Array && bytes.byteLength === length, `expected ${length} bytes`);
}
const treeHash = v.custom<Uint8Array>((bytes) => bytes instanceof Uint8Array && bytes.byteLength === 16, 'expected a 16-byte hash');
const purgeItems = v.pipe(v.array(v.object({ key, digest: treeHash })), v.maxLength(MAX_WIRE_PURGE_KEYS));

/** Most entries of a member's ring history (joins, capacity changes, leaves) on the wire. */
export const MAX_WIRE_HISTORY = 1024;
const capacityValue = v.pipe(v.number(), v.finite(), v.minValue(Number.MIN_VALUE), v.maxValue(1_000_000));
const partitionList = v.pipe(v.array(partition), v.maxLength(65_536));
const ringCheckpoint = v.object({
  atMs: timestampMs,
  members: v.pipe(v.array(v.object({ id: nodeId, joinedAtMs: timestampMs, capacity: capacityValue })), v.maxLength(MAX_WIRE_MEMBERS)),
  owners: v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(-1), v.maxValue(MAX_WIRE_MEMBERS - 1))), v.maxLength(65_536)),
});

const memberRecordFields = v.object({
  id: nodeId,
  capacity: capacityValue,
  status: v.picklist(['up', 'leaving', 'left']),
  version: counter,
  joinedAtMs: timestampMs,
  incarnation: counter,
  history: v.pipe(
    v.array(v.object({ atMs: timestampMs, capacity: v.pipe(v.number(), v.finite(), v.minValue(0), v.maxValue(1_000_000)) })),
    v.minLength(1),
    v.maxLength(MAX_WIRE_HISTORY),
  ),
  pendingPartitions: v.optional(partitionList),
  handoffPartitions: v.optional(partitionList),
  // The same lists under the names of earlier versions (membership.ts `LegacyRecordFields`).
  pending: v.optional(partitionList),
  handoffs: v.optional(partitionList),
  publicKey: v.optional(fixedBytes(32)),
  signature: v.optional(fixedBytes(64)),
});

/** A member record under either field names, read into the current ones. */
const memberRecord = v.pipe(
  memberRecordFields,
  v.check((r) => (r.pendingPartitions ?? r.pending) !== undefined && (r.handoffPartitions ?? r.handoffs) !== undefined, 'a member record needs its pending and handed-off partitions'),
  v.transform(({ pending, handoffs, pendingPartitions, handoffPartitions, ...rest }) => ({
    ...rest,
    pendingPartitions: (pendingPartitions ?? pending)!,
    handoffPartitions: (handoffPartitions ?? handoffs)!,
  })),
);

/** Most removal statements one gossip message may carry. */
export const MAX_WIRE_REMOVALS = 10_000;
const removal = v.object({ target: nodeId, by: nodeId, atMs: timestampMs, signature: v.optional(fixedBytes(64)) });

/** Most objects one handoff batch may carry, and one handoff bundle over all its parts. */
export const MAX_WIRE_HANDOFF_ITEMS = 1024;
/** Most partitions (parts) one handoff bundle may carry. */
export const MAX_WIRE_HANDOFF_PARTS = 1024;
const handoffItems = v.pipe(v.array(v.object({ key, versions: versionSetSchema })), v.maxLength(MAX_WIRE_HANDOFF_ITEMS));

/** Schema of every message a node accepts. */
export const messageSchema = v.variant('type', [
  v.object({
    type: v.literal('gossip'),
    members: v.pipe(v.array(memberRecord), v.maxLength(MAX_WIRE_MEMBERS)),
    reply: v.boolean(),
    suspects: v.optional(v.pipe(v.array(v.object({ id: nodeId, incarnation: counter })), v.maxLength(MAX_WIRE_MEMBERS))),
    // Each node's own load (objects, hints held), numbered by its reporter; relayed like the records.
    loads: v.optional(v.pipe(v.array(v.object({ id: nodeId, keys: counter, hints: counter, seq: counter })), v.maxLength(MAX_WIRE_MEMBERS))),
    // Removal statements (issue 16), signed by their makers where records are signed.
    removals: v.optional(v.pipe(v.array(removal), v.maxLength(MAX_WIRE_REMOVALS))),
    // The sender's digest of its membership view (membership.ts membershipDigest). A message with a
    // digest and no records is a digest-only round: views that hash the same exchange no records.
    digest: v.optional(treeHash),
    // The ring checkpoint the sender compacted departed members into (ring.ts RingCheckpoint; issue 20).
    checkpoint: v.optional(ringCheckpoint),
  }),
  v.object({ type: v.literal('ping'), requestId }),
  v.object({ type: v.literal('ping-req'), requestId, target: nodeId, timeoutMs }),
  v.object({ type: v.literal('ping-reply'), requestId }),
  v.object({ type: v.literal('hinted-put'), requestId, key, versions: versionSetSchema, intendedFor: nodeId }),
  v.object({ type: v.literal('hinted-put-reply'), requestId }),
  // `digest`: the requester's hash over its own roots of `partitions` (merkle-diff.ts rootsDigest);
  // when the responder's is the same it answers `same` instead of every root (an idle round costs one hash).
  v.object({ type: v.literal('ae-roots'), requestId, partitions: v.pipe(v.array(partition), v.maxLength(65_536)), digest: v.optional(treeHash) }),
  v.object({ type: v.literal('ae-hashes'), requestId, partition, level: treeLevel, indices: v.pipe(v.array(treeIndex), v.maxLength(MAX_WIRE_TREE_NODES)) }),
  v.object({ type: v.literal('ae-hashes-reply'), requestId, hashes: v.pipe(v.array(treeHash), v.maxLength(65_536)), same: v.optional(v.literal(true)) }),
  v.object({ type: v.literal('ae-leaves'), requestId, partition, leaves: v.pipe(v.array(treeIndex), v.maxLength(MAX_WIRE_TREE_NODES)) }),
  v.object({
    type: v.literal('ae-leaves-reply'),
    requestId,
    items: v.pipe(v.array(v.object({ key, digest: treeHash })), v.maxLength(MAX_WIRE_TREE_ITEMS)),
  }),
  v.object({ type: v.literal('ae-fetch'), requestId, keys: v.pipe(v.array(key), v.maxLength(MAX_WIRE_FETCH_KEYS)) }),
  v.object({ type: v.literal('ae-fetch-reply'), requestId, versions: v.pipe(v.array(v.nullable(versionSetSchema)), v.maxLength(MAX_WIRE_FETCH_KEYS)) }),
  v.object({ type: v.literal('purge-check'), requestId, items: purgeItems }),
  // Per item: 0 nothing of the key, 1 exactly that tombstone set, 2 anything else (tombstone-purge.ts).
  v.object({ type: v.literal('purge-check-reply'), requestId, held: v.pipe(v.array(v.picklist([0, 1, 2])), v.maxLength(MAX_WIRE_PURGE_KEYS)) }),
  v.object({ type: v.literal('purge'), requestId, items: purgeItems }),
  v.object({ type: v.literal('purge-reply'), requestId, purged: counter }),
  v.object({ type: v.literal('handoff-start'), requestId, partition, keys: counter }),
  v.object({ type: v.literal('handoff-batch'), requestId, partition, items: handoffItems }),
  v.object({ type: v.literal('handoff-finish'), requestId, partition, keys: counter }),
  v.object({ type: v.literal('handoff-pull'), requestId, partition }),
  // `bundles`: the receiver takes handoff-bundle (earlier versions leave it out, and get batches).
  v.object({ type: v.literal('handoff-reply'), requestId, accepted: v.boolean(), bundles: v.optional(v.literal(true)) }),
  v.object({
    type: v.literal('handoff-bundle'),
    requestId,
    // Per partition: objects, and `finish` when they end what the sender holds of it (handoff-finish).
    parts: v.pipe(
      v.array(v.object({ partition, items: handoffItems, finish: v.optional(v.literal(true)) })),
      v.maxLength(MAX_WIRE_HANDOFF_PARTS),
      v.check((parts) => parts.reduce((n, part) => n + part.items.length, 0) <= MAX_WIRE_HANDOFF_ITEMS, `at most ${MAX_WIRE_HANDOFF_ITEMS} objects over all parts`),
    ),
  }),
  v.object({ type: v.literal('handoff-bundle-reply'), requestId, refused: v.pipe(v.array(partition), v.maxLength(MAX_WIRE_HANDOFF_PARTS)) }),
  v.object({ type: v.literal('replica-get'), requestId, key }),
  // \`complete\`: false when the replica is still receiving the key's partition (or does not hold it),
  // so its answer must not count towards a quorum (paper §4.9). Absent means true.
  v.object({ type: v.literal('replica-get-reply'), requestId, versions: v.nullable(versionSetSchema), complete: v.optional(v.boolean()) }),
  v.object({ type: v.literal('replica-put'), requestId, key, versions: versionSetSchema }),
  v.object({ type: v.literal('replica-put-reply'), requestId, complete: v.optional(v.boolean()) }),
  v.object({ type: v.literal('coordinate-get'), requestId, key, r: quorum, timeoutMs }),
  v.object({ type: v.literal('coordinate-get-reply'), requestId, versions: v.nullable(versionSetSchema), answeredBy: v.pipe(v.array(nodeId), v.maxLength(64)) }),
  v.object({
    type: v.literal('coordinate-put'),
    requestId,
    key,
    data,
    context: clock,
    contextDots: v.pipe(v.array(dot), v.maxLength(MAX_WIRE_CLOCK_ENTRIES)),
    w: quorum,
    timeoutMs,
    writeId: v.optional(writeId),
  }),
  v.object({ type: v.literal('coordinate-put-reply'), requestId, dot, answered: counter }),
  v.object({
    type: v.literal('error-reply'),
    requestId,
    code: v.pipe(v.string(), v.maxLength(64)),
    message: v.pipe(v.string(), v.maxLength(2048)),
    answered: v.optional(counter),
    needed: v.optional(counter),
    replicas: v.optional(counter),
  }),
]);

/** A message between nodes. */
export type Message = v.InferOutput<typeof messageSchema>;
/** The `type` tags of messages. */
export type MessageType = Message['type'];
/** Messages that answer a request. */
export type ReplyMessage = Extract<
  Message,
  {
    type:
      | 'replica-get-reply'
      | 'replica-put-reply'
      | 'coordinate-get-reply'
      | 'coordinate-put-reply'
      | 'ping-reply'
      | 'hinted-put-reply'
      | 'ae-hashes-reply'
      | 'ae-leaves-reply'
      | 'ae-fetch-reply'
      | 'purge-check-reply'
      | 'purge-reply'
      | 'handoff-reply'
      | 'handoff-bundle-reply'
      | 'error-reply';
  }
>;

/** Result of {@link parseMessage}. */
export type ParseResult = { ok: true; message: Message } | { ok: false; reason: string };

/**
 * Checks an untrusted decoded value against {@link messageSchema}.
 * Never throws: a misfit is returned as `{ ok: false, reason }` naming the first problem.
 */
export function parseMessage(input: unknown): ParseResult {
  let result: ReturnType<typeof v.safeParse<typeof messageSchema>>;
  try {
    result = v.safeParse(messageSchema, input);
  } catch (error) {
    // Only an object built in process can throw here (a getter, a Proxy): a decoder yields plain data.
    return { ok: false, reason: `unreadable: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (result.success) return { ok: true, message: result.output };
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  return { ok: false, reason: `${path ? `${path}: ` : ''}${issue.message}` };
}

/** True for messages that answer a request. */
export function isReply(message: Message): message is ReplyMessage {
  return message.type.endsWith('-reply');
}

/**
 * The rules of a message's content that its schema does not express, checked after
 * {@link parseMessage} (the core drops a message that breaks one, as it drops a misfit):
 *
 *   keys          well-formed UTF-16 of at most MAX_KEY_BYTES UTF-8 bytes (`validateKey`), wherever a
 *                 key appears, replies included (an anti-entropy answer names keys to fetch and store)
 *   version sets  the invariants every honest one keeps (version-set.ts): clock sorted by node without
 *                 duplicates and counters from 1, siblings sorted by dot without duplicates, every
 *                 sibling's dot covered by the clock. A sibling its clock does not cover could never be
 *                 overwritten by a put; a counter of 0 names no write (so does a put's context's)
 *   value bytes   each sibling's data and a coordinate-put's data is a value `encodeValue` could have
 *                 made (`encodedValueProblem`): else every later get of the key fails, or hands the
 *                 caller something nested a million deep
 *
 * @returns undefined when the message keeps them all, else the first rule broken. Never throws.
 */
export function checkMessage(message: Message): string | undefined {
  switch (message.type) {
    case 'replica-get':
    case 'coordinate-get':
      return keyProblem(message.key);
    case 'replica-put':
    case 'hinted-put':
      return keyProblem(message.key) ?? versionSetProblem(message.versions, 'versions');
    case 'coordinate-put':
      return (
        keyProblem(message.key) ??
        firstOf(message.context, (e, i) => (e.counter >= 1 ? undefined : `context.${i}.counter: a context names only writes, counters from 1`)) ??
        (message.data === null ? undefined : prefixed('data', encodedValueProblem(message.data)))
      );
    case 'handoff-batch':
      return firstOf(message.items, (item, i) => keyProblem(item.key, `items.${i}.key`) ?? versionSetProblem(item.versions, `items.${i}.versions`));
    case 'handoff-bundle':
      return firstOf(message.parts, (part, p) =>
        firstOf(part.items, (item, i) => keyProblem(item.key, `parts.${p}.items.${i}.key`) ?? versionSetProblem(item.versions, `parts.${p}.items.${i}.versions`)),
      );
    case 'ae-fetch':
      return firstOf(message.keys, (key, i) => keyProblem(key, `keys.${i}`));
    case 'ae-leaves-reply':
    case 'purge-check':
    case 'purge':
      return firstOf(message.items, (item, i) => keyProblem(item.key, `items.${i}.key`));
    case 'ae-fetch-reply':
      return firstOf(message.versions, (versions, i) => (versions === null ? undefined : versionSetProblem(versions, `versions.${i}`)));
    case 'replica-get-reply':
    case 'coordinate-get-reply':
      return message.versions === null ? undefined : versionSetProblem(message.versions, 'versions');
    default:
      return undefined;
  }
}

function prefixed(path: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `${path}: ${problem}`;
}

function firstOf<T>(items: readonly T[], problem: (item: T, index: number) => string | undefined): string | undefined {
  for (let i = 0; i < items.length; i++) {
    const found = problem(items[i]!, i);
    if (found !== undefined) return found;
  }
  return undefined;
}

function keyProblem(key: string, path = 'key'): string | undefined {
  try {
    validateKey(key);
    return undefined;
  } catch (error) {
    return `${path}: ${(error as Error).message}`;
  }
}

function versionSetProblem(versions: v.InferOutput<typeof versionSetSchema>, path: string): string | undefined {
  const { clock, siblings } = versions;
  for (let i = 0; i < clock.length; i++) {
    if (i > 0 && !(clock[i - 1]!.node < clock[i]!.node)) return `${path}.clock.${i}: clock entries must be sorted by node, each node once`;
    if (clock[i]!.counter < 1) return `${path}.clock.${i}.counter: a clock names only writes, counters from 1`;
  }
  for (let i = 1; i < siblings.length; i++) {
    const a = siblings[i - 1]!.dot;
    const b = siblings[i]!.dot;
    if (!(a.node < b.node || (a.node === b.node && a.counter < b.counter))) return `${path}.siblings.${i}: siblings must be sorted by dot, each dot once`;
  }
  for (const [i, sibling] of siblings.entries()) {
    const entry = clock.find((e) => e.node === sibling.dot.node);
    if (entry === undefined || entry.counter < sibling.dot.counter) return `${path}.siblings.${i}: the clock does not cover this sibling's dot`;
    if (sibling.data !== null) {
      const problem = encodedValueProblem(sibling.data);
      if (problem !== undefined) return `${path}.siblings.${i}.data: ${problem}`;
    }
  }
  return undefined;
}
