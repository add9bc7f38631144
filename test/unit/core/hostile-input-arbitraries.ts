/**
 * fast-check arbitraries of every peer message (src/core/messages.ts), for the hostile-input tests
 * (DESIGN.md §4; issue 16 item 6). Shared by test/unit/core/hostile-input.test.ts and the hostile member
 * of test/sim/hostile-member.test.ts.
 *
 *   validMessage(ctx)     well-formed, pushed to the limits: 64-entry clocks, 64 siblings, counters at
 *                         Number.MAX_SAFE_INTEGER, keys of 1024 UTF-8 bytes, 1 MiB values, values nested
 *                         64 deep, extra fields and `__proto__` / `constructor` where a name is free
 *   invalidMessage(ctx)   one well-formed message with one thing broken (a field missing, a leaf of the
 *                         wrong type, NaN / Infinity, a number or string or array past its bound, a
 *                         version set that breaks its invariants, value bytes that are no encoded value),
 *                         or something that is no message at all (junk, deep nesting, prototype tricks)
 *   replyTo(ctx, request) a well-formed reply to one of the node's own requests, hostile inside
 *
 * Every piece names node ids and keys from `ctx`, so that a fuzzed message reaches the node's real
 * state (its replicas, its members) instead of missing it by chance.
 */
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import {
  MAX_NODE_ID_LENGTH,
  MAX_WIRE_CLOCK_ENTRIES,
  MAX_WIRE_FETCH_KEYS,
  MAX_WIRE_PURGE_KEYS,
  MAX_WIRE_HANDOFF_ITEMS,
  MAX_WIRE_HANDOFF_PARTS,
  MAX_WIRE_MEMBERS,
  MAX_WIRE_SIBLINGS,
  MAX_WIRE_TREE_ITEMS,
  MAX_WIRE_TREE_NODES,
  type MessageType,
} from '../../../src/core/messages.js';
import type { ClockEntry, Dot, NodeId, Sibling, VersionSet } from '../../../src/core/types.js';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_VALUE_DEPTH } from '../../../src/core/value-codec.js';
import { decodeMessage } from '../../../src/net/wire.js';

/** What the generated messages refer to. */
export interface HostileContext {
  /** Ids of the cluster's nodes (the receiver and its peers, the hostile sender among them). */
  ids: readonly NodeId[];
  /** Keys worth hitting (ones the receiver replicates, say). */
  keys: readonly string[];
  /**
   * Largest member-record version and incarnation a gossip carries. Default Number.MAX_SAFE_INTEGER.
   * (Lowered only by a test that documents why: see hostile-input.test.ts.)
   */
  gossipCounterMax?: number;
}

type Json = Record<string, unknown>;
type Arb<T> = fc.Arbitrary<T>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const ID_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789'];
const REQUEST_TYPES = [
  'ping',
  'ping-req',
  'hinted-put',
  'ae-roots',
  'ae-hashes',
  'ae-leaves',
  'ae-fetch',
  'purge-check',
  'purge',
  'handoff-start',
  'handoff-batch',
  'handoff-finish',
  'handoff-pull',
  'handoff-bundle',
  'replica-get',
  'replica-put',
  'coordinate-get',
  'coordinate-put',
] as const satisfies readonly MessageType[];
const REPLY_TYPES = [
  'ping-reply',
  'hinted-put-reply',
  'ae-hashes-reply',
  'ae-leaves-reply',
  'ae-fetch-reply',
  'purge-check-reply',
  'purge-reply',
  'handoff-reply',
  'handoff-bundle-reply',
  'replica-get-reply',
  'replica-put-reply',
  'coordinate-get-reply',
  'coordinate-put-reply',
  'error-reply',
] as const satisfies readonly MessageType[];
/** Every message type, gossip included. */
export const MESSAGE_TYPES: readonly MessageType[] = ['gossip', ...REQUEST_TYPES, ...REPLY_TYPES];

// ─── value bytes ────────────────────────────────────────────────────────────────────────────────

/** `depth` arrays, each holding the next; the innermost holds null. */
function nested(depth: number): unknown {
  let value: unknown = null;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Values an honest put can make, at their limits (each shared, so generating one costs nothing). */
export const EXTREME_VALUES = {
  /** A binary value whose encoding is exactly MAX_VALUE_BYTES long (bin32 header: 5 bytes). */
  oneMiB: encode(new Uint8Array(MAX_VALUE_BYTES - 5)),
  /** Arrays nested MAX_VALUE_DEPTH deep: the deepest value `encodeValue` takes. */
  deepest: encode(nested(MAX_VALUE_DEPTH)),
  /** A long string of multi-byte characters. */
  longText: encode('é😀'.repeat(40_000)),
  /** Property names that are special in JavaScript, as plain data. */
  oddNames: encode({ constructor: 1, toString: 'x', hasOwnProperty: [], prototype: { valueOf: null } }),
};

/**
 * Byte strings that are no value `encodeValue` could have made: a peer must not get them stored, since
 * every later get of the key would fail or hand the caller something the API never promises.
 */
export const ODD_VALUE_BYTES: Record<string, Uint8Array> = {
  /** 1 MiB of nested one-element arrays: decoding it takes about 160 MB of heap and far over 100 ms. */
  oneMiBOfNesting: (() => {
    const bytes = new Uint8Array(MAX_VALUE_BYTES).fill(0x91);
    bytes[bytes.length - 1] = 0xc0;
    return bytes;
  })(),
  nestedOneTooDeep: encode(nested(MAX_VALUE_DEPTH + 1)),
  notMessagePack: new Uint8Array([0xc1]),
  truncated: new Uint8Array([0x92, 0x01]),
  twoValues: new Uint8Array([0xc0, 0xc0]),
  empty: new Uint8Array(0),
  timestampExtension: encode(new Date(0)),
  nan: encode(Number.NaN),
  infinity: encode(Number.POSITIVE_INFINITY),
  loneSurrogateAsUtf8: new Uint8Array([0xa3, 0xed, 0xa0, 0x80]),
  protoKey: new Uint8Array([0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x01]),
  integerKey: new Uint8Array([0x81, 0x01, 0x02]),
  arrayKey: new Uint8Array([0x81, 0x90, 0x02]),
};

function valueBytes(): Arb<Uint8Array> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => encode(v)) },
    { weight: 1, arbitrary: fc.constantFrom(...Object.values(EXTREME_VALUES)) },
  );
}

/** A sibling's data: an encoded value, or null (a tombstone). */
function data(): Arb<Uint8Array | null> {
  return fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: valueBytes() });
}

// ─── scalars ────────────────────────────────────────────────────────────────────────────────────

function counter(max = MAX_SAFE): Arb<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.nat(Math.min(1000, max)) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 2 ** 31, 2 ** 32, 2 ** 48, MAX_SAFE - 1, MAX_SAFE).filter((c) => c <= max) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max }) },
  );
}
const positiveCounter = (): Arb<number> => counter().map((c) => Math.max(1, c));

function timestampMs(): Arb<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 2e12 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -0, -1, 0.5, Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE, MAX_SAFE) },
    { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  );
}

function nodeId(ctx: HostileContext): Arb<NodeId> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...ctx.ids) },
    { weight: 1, arbitrary: fc.constantFrom('constructor', 'tostring', '0', 'z'.repeat(MAX_NODE_ID_LENGTH)) },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: MAX_NODE_ID_LENGTH }) },
  );
}

/** Keys a put could use: well-formed UTF-16 of at most MAX_KEY_BYTES UTF-8 bytes. */
function key(ctx: HostileContext): Arb<string> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...ctx.keys) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 24 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'k'.repeat(MAX_KEY_BYTES),
        '😀'.repeat(MAX_KEY_BYTES / 4), // 1024 UTF-8 bytes in 512 UTF-16 units
        '__proto__',
        'constructor',
        'hasOwnProperty',
        '\u0000',
      ),
    },
  );
}

const partition = (): Arb<number> => fc.oneof({ weight: 4, arbitrary: fc.nat(255) }, { weight: 1, arbitrary: fc.constantFrom(256, 65_535) }, { weight: 1, arbitrary: fc.nat(65_535) });
const requestId = (): Arb<number> => counter();
const timeoutMs = (): Arb<number> => fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(1, 600_000));
const quorum = (): Arb<number> => fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constantFrom(4, 64));
const hash = (): Arb<Uint8Array> => fc.uint8Array({ minLength: 16, maxLength: 16 });

// ─── version sets ───────────────────────────────────────────────────────────────────────────────

const byNode = (a: { node: NodeId }, b: { node: NodeId }): number => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);
const byDot = (a: Sibling, b: Sibling): number => byNode(a.dot, b.dot) || a.dot.counter - b.dot.counter;

function dot(ctx: HostileContext): Arb<Dot> {
  return fc.record({ node: nodeId(ctx), counter: positiveCounter(), timestampMs: timestampMs() });
}

function clockEntries(ctx: HostileContext, minLength: number): Arb<ClockEntry[]> {
  return fc.uniqueArray(fc.record({ node: nodeId(ctx), counter: positiveCounter(), timestampMs: timestampMs() }), {
    selector: (e) => e.node,
    minLength,
    maxLength: MAX_WIRE_CLOCK_ENTRIES,
  });
}

/**
 * A well-formed version set: clock sorted by node without duplicates, siblings sorted by dot without
 * duplicates, each covered by the clock (`versionSetSchema` plus the invariants of version-set.ts).
 * `full`: 64 clock entries and 64 siblings, one per entry.
 */
export function versionSet(ctx: HostileContext, full = false): Arb<VersionSet> {
  return fc
    .record({
      entries: clockEntries(ctx, full ? MAX_WIRE_CLOCK_ENTRIES : 0),
      picks: fc.array(fc.record({ entry: fc.nat(), back: fc.nat(3), timestampMs: timestampMs(), data: data() }), { maxLength: full ? 0 : MAX_WIRE_SIBLINGS }),
      fullData: data(),
      cloud: fc.option(fc.array(dot(ctx), { maxLength: MAX_WIRE_CLOCK_ENTRIES }), { nil: undefined }),
    })
    .map(({ entries, picks, fullData, cloud }) => {
      const clock = [...entries].sort(byNode);
      const siblings = new Map<string, Sibling>();
      if (full) {
        for (const e of clock) siblings.set(e.node, { dot: { node: e.node, counter: e.counter, timestampMs: e.timestampMs }, data: fullData });
      } else if (clock.length > 0) {
        for (const p of picks) {
          const e = clock[p.entry % clock.length]!;
          const c = Math.max(1, e.counter - p.back);
          siblings.set(`${e.node}:${c}`, { dot: { node: e.node, counter: c, timestampMs: p.timestampMs }, data: p.data });
        }
      }
      const versions: VersionSet = { clock, siblings: [...siblings.values()].sort(byDot) };
      if (cloud !== undefined) versions.dots = cloud;
      return versions;
    });
}

/** 64 siblings of 1 MiB each under 64 clock entries: the most one message may carry, 64 MiB of data. */
export function heaviestVersionSet(ctx: HostileContext): Arb<VersionSet> {
  return versionSet(ctx, true).map((v) => ({ ...v, siblings: v.siblings.map((s) => ({ ...s, data: EXTREME_VALUES.oneMiB })) }));
}

const anyVersionSet = (ctx: HostileContext): Arb<VersionSet> =>
  fc.oneof({ weight: 8, arbitrary: versionSet(ctx) }, { weight: 1, arbitrary: versionSet(ctx, true) }, { weight: 1, arbitrary: heaviestVersionSet(ctx) });

// ─── membership ─────────────────────────────────────────────────────────────────────────────────

function memberRecord(ctx: HostileContext): Arb<Json> {
  const capacity = fc.oneof(fc.constantFrom(Number.MIN_VALUE, 1, 1_000_000), fc.double({ min: Number.MIN_VALUE, max: 1_000_000, noNaN: true }));
  const gossipCounter = counter(ctx.gossipCounterMax ?? MAX_SAFE);
  return fc.record(
    {
      id: nodeId(ctx),
      capacity,
      status: fc.constantFrom('up', 'leaving', 'left'),
      version: gossipCounter,
      joinedAtMs: timestampMs(),
      incarnation: gossipCounter,
      history: fc.array(fc.record({ atMs: timestampMs(), capacity: fc.oneof(fc.constant(0), capacity) }), { minLength: 1, maxLength: 6 }),
      pending: fc.array(partition(), { maxLength: 6 }),
      handoffs: fc.array(partition(), { maxLength: 6 }),
      publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    },
    { requiredKeys: ['id', 'capacity', 'status', 'version', 'joinedAtMs', 'incarnation', 'history', 'pending', 'handoffs'] },
  );
}

function gossip(ctx: HostileContext): Arb<Json> {
  const gossipCounter = counter(ctx.gossipCounterMax ?? MAX_SAFE);
  return fc.record(
    {
      type: fc.constant('gossip'),
      members: fc.array(memberRecord(ctx), { maxLength: 8 }),
      reply: fc.boolean(),
      suspects: fc.array(fc.record({ id: nodeId(ctx), incarnation: gossipCounter }), { maxLength: 8 }),
      loads: fc.array(fc.record({ id: nodeId(ctx), keys: counter(), hints: counter(), seq: counter() }), { maxLength: 8 }),
      removals: fc.array(
        fc.record({ target: nodeId(ctx), by: nodeId(ctx), atMs: timestampMs(), signature: fc.uint8Array({ minLength: 64, maxLength: 64 }) }, { requiredKeys: ['target', 'by', 'atMs'] }),
        { maxLength: 2 },
      ),
      // A ring checkpoint (member compaction): owners of every partition of a small ring, or a wrong length.
      checkpoint: fc.record({
        atMs: timestampMs(),
        members: fc.array(fc.record({ id: nodeId(ctx), joinedAtMs: timestampMs(), capacity: fc.constantFrom(1, 2, 0.5) }), { minLength: 1, maxLength: 3 }),
        owners: fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 0, maxLength: 300 }),
      }),
    },
    { requiredKeys: ['type', 'members', 'reply'] },
  );
}

// ─── messages ───────────────────────────────────────────────────────────────────────────────────

/** One well-formed message of `type` (any request id). */
export function messageOf(ctx: HostileContext, type: MessageType): Arb<Json> {
  const k = key(ctx);
  const rid = requestId();
  const object = <T extends Record<string, Arb<unknown>>>(fields: T): Arb<Json> => fc.record({ type: fc.constant(type), requestId: rid, ...fields }) as Arb<Json>;
  switch (type) {
    case 'gossip':
      return gossip(ctx);
    case 'ping':
    case 'ping-reply':
    case 'hinted-put-reply':
      return object({});
    case 'ping-req':
      return object({ target: nodeId(ctx), timeoutMs: timeoutMs() });
    case 'hinted-put':
      return object({ key: k, versions: anyVersionSet(ctx), intendedFor: nodeId(ctx) });
    case 'ae-roots':
      return object({ partitions: fc.oneof(fc.array(partition(), { maxLength: 300 }), fc.constant(Array.from({ length: 65_536 }, (_, i) => i))) });
    case 'ae-hashes':
      return object({ partition: partition(), level: fc.nat(16), indices: fc.array(fc.oneof(fc.nat(300), fc.constant(2 ** 32 - 1)), { maxLength: MAX_WIRE_TREE_NODES }) });
    case 'ae-hashes-reply':
      return object({ hashes: fc.array(hash(), { maxLength: 300 }) });
    case 'ae-leaves':
      return object({ partition: partition(), leaves: fc.array(fc.oneof(fc.nat(4095), fc.constant(2 ** 32 - 1)), { maxLength: MAX_WIRE_TREE_NODES }) });
    case 'ae-leaves-reply':
      return object({ items: fc.array(fc.record({ key: k, digest: hash() }), { maxLength: 64 }) });
    case 'ae-fetch':
      return object({ keys: fc.array(k, { maxLength: MAX_WIRE_FETCH_KEYS }) });
    case 'ae-fetch-reply':
      return object({ versions: fc.array(fc.option(versionSet(ctx), { nil: null }), { maxLength: 16 }) });
    case 'purge-check':
    case 'purge':
      return object({ items: fc.array(fc.record({ key: k, digest: hash() }), { maxLength: 64 }) });
    case 'purge-check-reply':
      return object({ held: fc.array(fc.constantFrom(0, 1, 2), { maxLength: MAX_WIRE_PURGE_KEYS }) });
    case 'purge-reply':
      return object({ purged: counter() });
    case 'handoff-start':
    case 'handoff-finish':
      return object({ partition: partition(), keys: counter() });
    case 'handoff-batch':
      return object({ partition: partition(), items: fc.array(fc.record({ key: k, versions: versionSet(ctx) }), { maxLength: 24 }) });
    case 'handoff-pull':
      return object({ partition: partition() });
    case 'handoff-reply':
      return fc.record({ type: fc.constant(type), requestId: rid, accepted: fc.boolean(), bundles: fc.constant(true) }, { requiredKeys: ['type', 'requestId', 'accepted'] }) as Arb<Json>;
    case 'handoff-bundle':
      return object({
        parts: fc.array(
          fc.record({ partition: partition(), items: fc.array(fc.record({ key: k, versions: versionSet(ctx) }), { maxLength: 8 }), finish: fc.constant(true) }, { requiredKeys: ['partition', 'items'] }),
          { maxLength: 4 },
        ),
      });
    case 'handoff-bundle-reply':
      return object({ refused: fc.array(partition(), { maxLength: 8 }) });
    case 'replica-get':
      return object({ key: k });
    case 'replica-get-reply':
      return fc.record(
        { type: fc.constant(type), requestId: rid, versions: fc.option(anyVersionSet(ctx), { nil: null }), complete: fc.boolean() },
        { requiredKeys: ['type', 'requestId', 'versions'] },
      ) as Arb<Json>;
    case 'replica-put':
      return object({ key: k, versions: anyVersionSet(ctx) });
    case 'replica-put-reply':
      return fc.record({ type: fc.constant(type), requestId: rid, complete: fc.boolean() }, { requiredKeys: ['type', 'requestId'] }) as Arb<Json>;
    case 'coordinate-get':
      return object({ key: k, r: quorum(), timeoutMs: timeoutMs() });
    case 'coordinate-get-reply':
      return object({ versions: fc.option(anyVersionSet(ctx), { nil: null }), answeredBy: fc.array(nodeId(ctx), { maxLength: 64 }) });
    case 'coordinate-put':
      // A context is a client's: any order, duplicates allowed (applyPut takes it as it is).
      return object({
        key: k,
        data: data(),
        context: fc.array(fc.record({ node: nodeId(ctx), counter: positiveCounter(), timestampMs: timestampMs() }), { maxLength: MAX_WIRE_CLOCK_ENTRIES }),
        contextDots: fc.array(dot(ctx), { maxLength: MAX_WIRE_CLOCK_ENTRIES }),
        w: quorum(),
        timeoutMs: timeoutMs(),
      });
    case 'coordinate-put-reply':
      return object({ dot: dot(ctx), answered: counter() });
    case 'error-reply':
      return fc.record(
        {
          type: fc.constant(type),
          requestId: rid,
          code: fc.oneof(fc.constantFrom('QuorumNotReachedError', 'NodeNotRunningError', 'NoReplicasError', '__proto__', 'x'.repeat(64)), fc.string({ maxLength: 64 })),
          message: fc.string({ maxLength: 2048 }),
          answered: counter(),
          needed: counter(),
          replicas: counter(),
        },
        { requiredKeys: ['type', 'requestId', 'code', 'message'] },
      ) as Arb<Json>;
  }
}

/** Names `JSON.parse` turns into own properties, and others that are special on objects. */
const SPECIAL_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

/** Extra fields no schema names (a newer peer's, or a prototype-pollution attempt): stripped, never taken. */
function withExtraFields(message: Arb<Json>): Arb<Json> {
  return fc.tuple(message, fc.constantFrom(...SPECIAL_NAMES, 'extra', 'signature')).map(([m, name]) => {
    const copy = JSON.parse(`{${JSON.stringify(name)}: {"polluted": true}}`) as Json;
    return Object.assign(copy, m);
  });
}

/** A well-formed message of any type, `type` being one of `types` (default: all). */
export function validMessage(ctx: HostileContext, types: readonly MessageType[] = MESSAGE_TYPES): Arb<Json> {
  const plain = fc.constantFrom(...types).chain((type) => messageOf(ctx, type));
  return fc.oneof({ weight: 5, arbitrary: plain }, { weight: 1, arbitrary: withExtraFields(plain) });
}

/** A well-formed request (no gossip, no replies). */
export const validRequest = (ctx: HostileContext): Arb<Json> => validMessage(ctx, REQUEST_TYPES);

/** A well-formed reply of any type (any request id). */
export const validReply = (ctx: HostileContext): Arb<Json> => validMessage(ctx, REPLY_TYPES);

/** A well-formed reply of any reply type to `request` (same request id), hostile inside. */
export function replyTo(ctx: HostileContext, request: { requestId: number }): Arb<Json> {
  return fc.constantFrom(...REPLY_TYPES).chain((type) => messageOf(ctx, type).map((reply) => ({ ...reply, requestId: request.requestId })));
}

// ─── malformed input ────────────────────────────────────────────────────────────────────────────

/** Fields the schema lets a message leave out. */
const OPTIONAL_FIELDS = new Set(['suspects', 'loads', 'removals', 'complete', 'answered', 'needed', 'replicas', 'dots', 'publicKey', 'signature', 'bundles', 'finish']);

/** A leaf (or container) of a message and how to reach it. */
interface Site {
  parent: Record<string | number, unknown>;
  name: string | number;
  /** The name of the object field this sits under (for an array element: the array's name). */
  field: string;
  value: unknown;
}

function sites(message: unknown): Site[] {
  const found: Site[] = [];
  const walk = (node: unknown, field: string): void => {
    if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return;
    for (const [name, value] of Object.entries(node)) {
      const here = Array.isArray(node) ? field : name;
      found.push({ parent: node as Record<string, unknown>, name: Array.isArray(node) ? Number(name) : name, field: here, value });
      walk(value, here);
    }
  };
  walk(message, '');
  return found;
}

const NUMBER_FIELDS_OUT_OF_RANGE: Record<string, unknown[]> = {
  requestId: [-1, 1.5, 2 ** 53, 2 ** 64],
  counter: [-1, 0.5, 2 ** 53],
  version: [-1, 0.5, 2 ** 53],
  incarnation: [-1, 2 ** 53],
  keys: [-1, 2 ** 53],
  hints: [-1, 0.25],
  seq: [-1, 2 ** 53],
  answered: [-1, 2 ** 53],
  needed: [-1, 1.5],
  replicas: [-1, 2 ** 60],
  partition: [-1, 65_536, 0.5],
  partitions: [-1, 65_536],
  pending: [-1, 65_536],
  handoffs: [70_000, 1.5],
  level: [17, -1],
  indices: [2 ** 32, -1],
  leaves: [2 ** 32, 0.5],
  r: [0, 65],
  w: [0, 65],
  timeoutMs: [0, 600_001, 2.5],
  capacity: [-1, 1_000_001],
};
const BAD_NODE_IDS = ['', 'N1', 'n-1', '../n1', 'nœud', '__proto__', 'x'.repeat(MAX_NODE_ID_LENGTH + 1)];
const STRING_FIELDS_OUT_OF_RANGE: Record<string, unknown[]> = {
  id: BAD_NODE_IDS,
  node: BAD_NODE_IDS,
  target: BAD_NODE_IDS,
  by: BAD_NODE_IDS,
  intendedFor: BAD_NODE_IDS,
  answeredBy: BAD_NODE_IDS,
  key: ['', 'k'.repeat(MAX_KEY_BYTES + 1)],
  keys: ['', 'k'.repeat(MAX_KEY_BYTES + 1)],
  status: ['gone', '', 'UP'],
  type: ['gossip-v2', '', 'PING', '__proto__', 'constructor'],
  code: ['x'.repeat(65)],
  message: ['x'.repeat(2049)],
};

/** Something of another kind than `value`, never `undefined` (absent optional fields are valid). */
function wrongKind(value: unknown): fc.Arbitrary<unknown> {
  if (typeof value === 'number') return fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '7', null, true, [], {});
  if (typeof value === 'string') return fc.constantFrom(1, null, false, [], {}, new Uint8Array(1));
  if (typeof value === 'boolean') return fc.constantFrom('true', 1, 0, null, []);
  // Data is nullable and versions are nullable in replies: null is no mistake for them.
  if (value instanceof Uint8Array) return fc.constantFrom([1, 2, 3], 'bytes', 7, {}, new Uint16Array(8), new ArrayBuffer(16));
  if (Array.isArray(value)) return fc.constantFrom('[]', 1, { 0: 1, length: 1 }, new Uint8Array(1));
  // An object (or null, where null is allowed): anything but an object or null.
  return fc.constantFrom(true, '{}', 1, [], new Uint16Array(2));
}

/** One mutation that makes a well-formed message malformed. Returns a description, for failure messages. */
type Mutation = (message: Json) => string | undefined;

function mutation(): Arb<Mutation> {
  const dropField: Arb<Mutation> = fc.nat().map((pick) => (m) => {
    const required = Object.keys(m).filter((f) => f !== 'type' && !OPTIONAL_FIELDS.has(f));
    if (required.length === 0) return undefined;
    const field = required[pick % required.length]!;
    delete m[field];
    return `without ${field}`;
  });
  const wrongLeaf: Arb<Mutation> = fc.tuple(fc.nat(), fc.nat()).map(([pick, poisonPick]) => (m) => {
    const all = sites(m);
    const site = all[pick % all.length]!;
    const poisons = fc.sample(wrongKind(site.value), { seed: poisonPick, numRuns: 1 });
    site.parent[site.name] = poisons[0];
    return `${site.field}[${String(site.name)}] of the wrong kind: ${String(poisons[0])}`;
  });
  const outOfRange: Arb<Mutation> = fc.tuple(fc.nat(), fc.nat()).map(([pick, valuePick]) => (m) => {
    const candidates = sites(m).filter(
      (s) =>
        (typeof s.value === 'number' && NUMBER_FIELDS_OUT_OF_RANGE[s.field] !== undefined) ||
        (typeof s.value === 'string' && STRING_FIELDS_OUT_OF_RANGE[s.field] !== undefined) ||
        (s.value instanceof Uint8Array && (s.field === 'data' || s.field === 'digest' || s.field === 'hashes')) ||
        (s.field === 'history' && Array.isArray(s.value)),
    );
    if (candidates.length === 0) return undefined;
    const site = candidates[pick % candidates.length]!;
    let bad: unknown;
    if (typeof site.value === 'number') bad = pickOf(NUMBER_FIELDS_OUT_OF_RANGE[site.field]!, valuePick);
    else if (typeof site.value === 'string') bad = pickOf(STRING_FIELDS_OUT_OF_RANGE[site.field]!, valuePick);
    else if (site.field === 'history') bad = [];
    else if (site.field === 'data') bad = new Uint8Array(MAX_VALUE_BYTES + 1);
    else bad = new Uint8Array(valuePick % 2 === 0 ? 15 : 17);
    site.parent[site.name] = bad;
    return `${site.field}[${String(site.name)}] out of range`;
  });
  const oversize: Arb<Mutation> = fc.nat().map((pick) => (m) => {
    const limits: Record<string, number> = {
      clock: MAX_WIRE_CLOCK_ENTRIES,
      context: MAX_WIRE_CLOCK_ENTRIES,
      contextDots: MAX_WIRE_CLOCK_ENTRIES,
      dots: MAX_WIRE_CLOCK_ENTRIES,
      siblings: MAX_WIRE_SIBLINGS,
      members: MAX_WIRE_MEMBERS,
      suspects: MAX_WIRE_MEMBERS,
      loads: MAX_WIRE_MEMBERS,
      partitions: 65_536,
      indices: MAX_WIRE_TREE_NODES,
      leaves: MAX_WIRE_TREE_NODES,
      hashes: 65_536,
      keys: MAX_WIRE_FETCH_KEYS,
      answeredBy: 64,
      history: 1024,
      pending: 65_536,
      items: m.type === 'handoff-batch' || m.type === 'handoff-bundle' ? MAX_WIRE_HANDOFF_ITEMS : m.type === 'purge-check' || m.type === 'purge' ? MAX_WIRE_PURGE_KEYS : MAX_WIRE_TREE_ITEMS,
      held: MAX_WIRE_PURGE_KEYS,
      parts: MAX_WIRE_HANDOFF_PARTS,
      refused: MAX_WIRE_HANDOFF_PARTS,
      versions: MAX_WIRE_FETCH_KEYS,
    };
    const arrays = sites(m).filter((s) => Array.isArray(s.value) && (s.value as unknown[]).length > 0 && limits[String(s.name)] !== undefined);
    if (arrays.length === 0) return undefined;
    const site = arrays[pick % arrays.length]!;
    const items = site.value as unknown[];
    const limit = limits[String(site.name)]!;
    site.parent[site.name] = Array.from({ length: limit + 1 }, (_, i) => items[i % items.length]);
    return `${String(site.name)} with ${limit + 1} items`;
  });
  return fc.oneof(dropField, wrongLeaf, outOfRange, oversize);
}

function pickOf<T>(items: readonly T[], pick: number): T {
  return items[pick % items.length]!;
}

/** A deep copy that keeps Uint8Arrays (so a mutation never touches a shared constant). */
function copy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * Version sets that fit the schema but break the invariants every honest one keeps (version-set.ts):
 * a sibling its own clock does not cover, the same sibling twice, a clock out of order or naming a node
 * twice. Stored, they would corrupt the replica (a sibling no context can ever overwrite, say).
 */
export function brokenVersionSet(ctx: HostileContext): Arb<{ versions: VersionSet; broken: string }> {
  return fc
    .tuple(versionSet(ctx).filter((v) => v.clock.length >= 2 && v.siblings.length >= 1), fc.nat(3))
    .map(([v, how]) => {
      const versions = copy(v);
      switch (how) {
        case 0: {
          const s = versions.siblings[0]!;
          const entry = versions.clock.find((e) => e.node === s.dot.node)!;
          versions.siblings.push({ dot: { node: s.dot.node, counter: Math.min(MAX_SAFE, entry.counter + 1), timestampMs: 0 }, data: null });
          if (entry.counter === MAX_SAFE) versions.clock = versions.clock.filter((e) => e !== entry);
          versions.siblings.sort(byDot);
          return { versions, broken: 'a sibling its clock does not cover' };
        }
        case 1:
          versions.siblings.splice(1, 0, copy(versions.siblings[0]!));
          return { versions, broken: 'a sibling twice' };
        case 2:
          versions.clock.reverse();
          return { versions, broken: 'a clock out of order' };
        default:
          versions.clock.push({ ...versions.clock[0]! });
          versions.clock.sort(byNode);
          return { versions, broken: 'a clock naming a node twice' };
      }
    });
}

/** Keys that fit the schema's character bound but not the key rules (validateKey). */
export const BAD_KEYS = ['\ud800', 'a\udfffb', '€'.repeat(342) /* 1026 UTF-8 bytes */, '😀'.repeat(257) /* 1028 UTF-8 bytes */];

/** Messages whose keys, version sets or value bytes break the rules of their content (not the schema's shape). */
function badContent(ctx: HostileContext): Arb<{ message: Json; why: string }> {
  const rid = requestId();
  const badKey = fc.constantFrom(...BAD_KEYS);
  const oddBytes = fc.constantFrom(...Object.entries(ODD_VALUE_BYTES));
  const withOddData = fc.tuple(versionSet(ctx).filter((v) => v.siblings.length > 0), oddBytes, fc.nat()).map(([v, [name, bytes], pick]) => {
    const versions = copy(v);
    versions.siblings[pick % versions.siblings.length]!.data = bytes;
    return { versions, why: `value bytes: ${name}` };
  });
  const brokenSet = brokenVersionSet(ctx).map(({ versions, broken }) => ({ versions, why: `version set with ${broken}` }));
  const badSet = fc.oneof(withOddData, brokenSet);
  return fc.oneof(
    fc.tuple(rid, badKey, fc.constantFrom('replica-get', 'coordinate-get')).map(([id, k, type]) => ({ message: { type, requestId: id, key: k, r: 1, timeoutMs: 100 }, why: `key ${JSON.stringify(k)}` })),
    fc.tuple(rid, badKey, versionSet(ctx)).map(([id, k, versions]) => ({ message: { type: 'replica-put', requestId: id, key: k, versions }, why: `key ${JSON.stringify(k)}` })),
    fc.tuple(rid, badKey).map(([id, k]) => ({ message: { type: 'ae-fetch', requestId: id, keys: ['ok', k] }, why: `key ${JSON.stringify(k)}` })),
    fc.tuple(rid, badKey, hash()).map(([id, k, digest]) => ({ message: { type: 'ae-leaves-reply', requestId: id, items: [{ key: k, digest }] }, why: `key ${JSON.stringify(k)}` })),
    fc.tuple(rid, badKey, hash(), fc.constantFrom('purge-check', 'purge')).map(([id, k, digest, type]) => ({ message: { type, requestId: id, items: [{ key: k, digest }] }, why: `key ${JSON.stringify(k)}` })),
    fc.tuple(rid, key(ctx), badSet).map(([id, k, { versions, why }]) => ({ message: { type: 'replica-put', requestId: id, key: k, versions }, why })),
    fc.tuple(rid, key(ctx), badSet, nodeId(ctx)).map(([id, k, { versions, why }, to]) => ({ message: { type: 'hinted-put', requestId: id, key: k, versions, intendedFor: to }, why })),
    fc.tuple(rid, key(ctx), badSet).map(([id, k, { versions, why }]) => ({ message: { type: 'handoff-batch', requestId: id, partition: 0, items: [{ key: k, versions }] }, why })),
    fc.tuple(rid, key(ctx), badSet).map(([id, k, { versions, why }]) => ({
      message: { type: 'handoff-bundle', requestId: id, parts: [{ partition: 0, items: [] }, { partition: 1, items: [{ key: k, versions }], finish: true }] },
      why,
    })),
    fc.tuple(rid, badKey).map(([id, k]) => ({ message: { type: 'handoff-bundle', requestId: id, parts: [{ partition: 2, items: [{ key: k, versions: { clock: [], siblings: [] } }] }] }, why: `key ${JSON.stringify(k)}` })),
    fc.tuple(rid, badSet).map(([id, { versions, why }]) => ({ message: { type: 'replica-get-reply', requestId: id, versions }, why })),
    fc.tuple(rid, badSet).map(([id, { versions, why }]) => ({ message: { type: 'ae-fetch-reply', requestId: id, versions: [null, versions] }, why })),
    fc.tuple(rid, badSet).map(([id, { versions, why }]) => ({ message: { type: 'coordinate-get-reply', requestId: id, versions, answeredBy: [] }, why })),
    fc.tuple(rid, key(ctx), oddBytes).map(([id, k, [name, bytes]]) => ({
      message: { type: 'coordinate-put', requestId: id, key: k, data: bytes, context: [], contextDots: [], w: 1, timeoutMs: 100 },
      why: `value bytes: ${name}`,
    })),
  );
}

/** Inputs that are no message object at all. */
function junk(): Arb<unknown> {
  const deepArray = nested(200_000);
  const deepObject = (() => {
    let o: unknown = { type: 'ping', requestId: 1 };
    for (let i = 0; i < 10_000; i++) o = { type: 'ping', requestId: o };
    return o;
  })();
  return fc.oneof(
    fc.anything({ maxDepth: 3, withDate: true, withMap: true, withSet: true, withTypedArray: true, withBigInt: true, withNullPrototype: true, withBoxedValues: true }),
    fc.constantFrom<unknown>(
      undefined,
      null,
      0,
      Number.NaN,
      '',
      'ping',
      'x'.repeat(4 * 1024 * 1024),
      [],
      deepArray,
      deepObject,
      new Uint8Array(16),
      { undecodable: true },
      { type: 'x'.repeat(1024 * 1024) },
      JSON.parse('{"__proto__": {"type": "ping", "requestId": 1}}'),
      JSON.parse('{"constructor": {"prototype": {"type": "ping"}}}'),
      { type: ['ping'], requestId: 1 },
      { type: 'ping', requestId: 1n },
      { type: 'ping', requestId: new Number(1) },
      { type: new String('ping'), requestId: 1 },
    ),
    // Random bytes through the wire decoder, as a transport hands them over (undecodable: as the
    // in-memory network delivers them).
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => {
      try {
        return decodeMessage(bytes);
      } catch {
        return { undecodable: true };
      }
    }),
  );
}

/**
 * A malformed input with a short description of what is wrong with it. `message` is what to pass to
 * `core.receive`. Every one must be refused: by the schema (`parseMessage`) or by the core's checks of
 * keys, version sets and value bytes (`checkMessage`).
 */
export function invalidMessage(ctx: HostileContext): Arb<{ message: unknown; why: string }> {
  // From messages without extra fields: a mutation of an extra field would leave the message valid.
  const plain = fc.constantFrom(...MESSAGE_TYPES).chain((type) => messageOf(ctx, type));
  const mutated = fc.tuple(plain.map(copy), mutation()).map(([m, mutate]) => {
    const why = mutate(m);
    return why === undefined ? undefined : { message: m as unknown, why: `${String(m.type)} ${why}` };
  });
  return fc.oneof(
    { weight: 6, arbitrary: mutated.filter((x): x is { message: unknown; why: string } => x !== undefined) },
    { weight: 2, arbitrary: badContent(ctx) },
    { weight: 1, arbitrary: junk().map((message) => ({ message, why: 'junk' })) },
  );
}
