/**
 * Schemas of messages between nodes (src/core/messages.ts; DESIGN.md §4: every message from a peer is
 * untrusted). `parseMessage` must accept every well-formed message and refuse, without throwing,
 * anything that does not fit, naming the first problem.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { describe, expect, it } from 'vitest';
import {
  MAX_NODE_ID_LENGTH,
  MAX_WIRE_CLOCK_ENTRIES,
  MAX_WIRE_MEMBERS,
  MAX_WIRE_SIBLINGS,
  type MessageType,
  type ParseResult,
  isReply,
  messageSchema,
  parseMessage,
} from '../../../src/core/messages.js';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../../src/core/value-codec.js';

// ----------------------------------------------------------------------------------------------
// fixtures: one well-formed message of every type

type Json = Record<string, unknown>;

const versions = (): Json => ({
  clock: [
    { node: 'n1', counter: 2, timestampMs: 1_700_000_000_000 },
    { node: 'n2', counter: 1, timestampMs: 1_700_000_000_500.25 },
  ],
  siblings: [
    { dot: { node: 'n1', counter: 2, timestampMs: 1_700_000_000_000 }, data: new Uint8Array([1, 2, 3]) },
    { dot: { node: 'n2', counter: 1, timestampMs: 1_700_000_000_500.25 }, data: null }, // a tombstone
  ],
});

/** A fresh well-formed message of each type (fresh, so a test may change it). */
const valid: Record<MessageType, () => Json> = {
  gossip: () => ({
    type: 'gossip',
    members: [
      { id: 'n1', capacity: 1, status: 'up', version: 3, joinedAtMs: 1700000000000, incarnation: 2, history: [{ atMs: 1700000000000, capacity: 1 }], pendingPartitions: [3, 4], handoffPartitions: [] },
      { id: 'n2', capacity: 0.5, status: 'leaving', version: 0, joinedAtMs: 0, incarnation: 0, history: [{ atMs: 0, capacity: 0.5 }, { atMs: 9, capacity: 0 }], pendingPartitions: [], handoffPartitions: [7] },
      { id: 'n3', capacity: 2, status: 'left', version: 9, joinedAtMs: 5, incarnation: 1, history: [{ atMs: 5, capacity: 2 }, { atMs: 6, capacity: 0 }], pendingPartitions: [], handoffPartitions: [] },
    ],
    reply: true,
  }),
  'handoff-start': () => ({ type: 'handoff-start', requestId: 11, partition: 17, keys: 300 }),
  'handoff-batch': () => ({ type: 'handoff-batch', requestId: 12, partition: 17, items: [{ key: 'cart:alice', versions: versions() }] }),
  'handoff-finish': () => ({ type: 'handoff-finish', requestId: 13, partition: 17, keys: 300 }),
  'handoff-pull': () => ({ type: 'handoff-pull', requestId: 14, partition: 17 }),
  'handoff-reply': () => ({ type: 'handoff-reply', requestId: 14, accepted: false }),
  'handoff-bundle': () => ({
    type: 'handoff-bundle',
    requestId: 15,
    parts: [
      { partition: 17, items: [{ key: 'cart:alice', versions: versions() }] },
      { partition: 18, items: [], finish: true },
    ],
  }),
  'handoff-bundle-reply': () => ({ type: 'handoff-bundle-reply', requestId: 15, refused: [18] }),
  'replica-get': () => ({ type: 'replica-get', requestId: 7, key: 'cart:alice' }),
  'replica-get-reply': () => ({ type: 'replica-get-reply', requestId: 7, versions: versions() }),
  'replica-put': () => ({ type: 'replica-put', requestId: 8, key: 'cart:alice', versions: versions() }),
  'replica-put-reply': () => ({ type: 'replica-put-reply', requestId: 8 }),
  'coordinate-get': () => ({ type: 'coordinate-get', requestId: 9, key: 'cart:alice', r: 2, timeoutMs: 1000 }),
  'coordinate-get-reply': () => ({ type: 'coordinate-get-reply', requestId: 9, versions: versions(), answeredBy: ['n1', 'n2'] }),
  'coordinate-put': () => ({
    type: 'coordinate-put',
    requestId: 10,
    key: 'cart:alice',
    data: new Uint8Array([4, 5]),
    context: [{ node: 'n1', counter: 2, timestampMs: 5 }],
    contextDots: [{ node: 'n1', counter: 4, timestampMs: 6 }],
    w: 2,
    timeoutMs: 1000,
  }),
  'coordinate-put-reply': () => ({ type: 'coordinate-put-reply', requestId: 10, dot: { node: 'n1', counter: 5, timestampMs: 7 }, answered: 2 }),
  'error-reply': () => ({ type: 'error-reply', requestId: 11, code: 'QuorumNotReachedError', message: 'put: 1 of 2 needed replicas answered', answered: 1, needed: 2, replicas: 3 }),
  ping: () => ({ type: 'ping', requestId: 12 }),
  'ping-req': () => ({ type: 'ping-req', requestId: 13, target: 'n2', timeoutMs: 600 }),
  'ping-reply': () => ({ type: 'ping-reply', requestId: 14 }),
  'hinted-put': () => ({ type: 'hinted-put', requestId: 15, key: 'k', versions: versions(), intendedFor: 'n3' }),
  'hinted-put-reply': () => ({ type: 'hinted-put-reply', requestId: 16 }),
  'ae-roots': () => ({ type: 'ae-roots', requestId: 23, partitions: [0, 1, 255] }),
  'ae-hashes': () => ({ type: 'ae-hashes', requestId: 17, partition: 3, level: 1, indices: [0, 5, 15] }),
  'ae-hashes-reply': () => ({ type: 'ae-hashes-reply', requestId: 18, hashes: [new Uint8Array(16), new Uint8Array(16).fill(7)] }),
  'ae-leaves': () => ({ type: 'ae-leaves', requestId: 19, partition: 3, leaves: [12, 200] }),
  'ae-leaves-reply': () => ({ type: 'ae-leaves-reply', requestId: 20, items: [{ key: 'k', digest: new Uint8Array(16).fill(1) }] }),
  'ae-fetch': () => ({ type: 'ae-fetch', requestId: 21, keys: ['k', 'other'] }),
  'ae-fetch-reply': () => ({ type: 'ae-fetch-reply', requestId: 22, versions: [versions(), null] }),
  'purge-check': () => ({ type: 'purge-check', requestId: 24, items: [{ key: 'k', digest: new Uint8Array(16).fill(3) }] }),
  'purge-check-reply': () => ({ type: 'purge-check-reply', requestId: 25, held: [0, 1, 2] }),
  purge: () => ({ type: 'purge', requestId: 26, items: [{ key: 'k', digest: new Uint8Array(16).fill(3) }] }),
  'purge-reply': () => ({ type: 'purge-reply', requestId: 27, purged: 1 }),
};

/** Further well-formed messages at the edges of what is allowed. */
const validEdges: [string, Json][] = [
  ['replica-get-reply for an unknown key', { type: 'replica-get-reply', requestId: 0, versions: null }],
  ['coordinate-get-reply with nothing found', { type: 'coordinate-get-reply', requestId: 1, versions: null, answeredBy: ['n1'] }],
  ['coordinate-put of a delete, blind', { ...valid['coordinate-put'](), data: null, context: [], contextDots: [] }],
  ['error-reply without the optional counts', { type: 'error-reply', requestId: 1, code: 'StorageError', message: '' }],
  ['gossip with no members', { type: 'gossip', members: [], reply: false }],
  ['key of MAX_KEY_BYTES characters', { type: 'replica-get', requestId: 1, key: 'k'.repeat(MAX_KEY_BYTES) }],
  ['node id of MAX_NODE_ID_LENGTH characters', { ...valid['coordinate-put-reply'](), dot: { node: 'a'.repeat(MAX_NODE_ID_LENGTH), counter: 1, timestampMs: 0 } }],
  ['data of exactly MAX_VALUE_BYTES', { ...valid['coordinate-put'](), data: new Uint8Array(MAX_VALUE_BYTES) }],
  ['requestId at MAX_SAFE_INTEGER', { type: 'replica-put-reply', requestId: Number.MAX_SAFE_INTEGER }],
  ['clock of MAX_WIRE_CLOCK_ENTRIES entries', { type: 'replica-get-reply', requestId: 1, versions: { clock: clockOf(MAX_WIRE_CLOCK_ENTRIES), siblings: [] } }],
  ['MAX_WIRE_SIBLINGS siblings', { type: 'replica-get-reply', requestId: 1, versions: { clock: clockOf(1), siblings: siblingsOf(MAX_WIRE_SIBLINGS) } }],
  ['MAX_WIRE_MEMBERS members', { type: 'gossip', members: membersOf(MAX_WIRE_MEMBERS), reply: false }],
];

function clockOf(n: number): Json[] {
  return Array.from({ length: n }, (_, i) => ({ node: `n${i}`, counter: i + 1, timestampMs: i }));
}
function siblingsOf(n: number): Json[] {
  return Array.from({ length: n }, (_, i) => ({ dot: { node: 'n0', counter: i + 1, timestampMs: i }, data: null }));
}
function membersOf(n: number): Json[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `m${i}`,
    capacity: 1,
    status: 'up',
    version: 1,
    joinedAtMs: i,
    incarnation: 0,
    history: [{ atMs: i, capacity: 1 }],
    pendingPartitions: [],
    handoffPartitions: [],
  }));
}

/** A well-formed message of `type` with one change applied (to a fresh copy). */
function withChange(type: MessageType, change: (m: Json) => void): Json {
  const message = valid[type]();
  change(message);
  return message;
}
const at = (m: Json, ...path: (string | number)[]): Json => path.reduce<Json>((node, k) => (node as Record<string | number, Json>)[k]!, m);

function parseWithoutThrowing(input: unknown, label: string): ParseResult {
  let result: ParseResult | undefined;
  expect(() => {
    result = parseMessage(input);
  }, label).not.toThrow();
  return result!;
}

function expectRefused(input: unknown, label: string, where?: string): void {
  const result = parseWithoutThrowing(input, label);
  expect(result.ok, `${label} should be refused`).toBe(false);
  if (!result.ok) {
    expect(typeof result.reason, label).toBe('string');
    expect(result.reason.length, label).toBeGreaterThan(0);
    if (where !== undefined) expect(result.reason, label).toContain(where);
  }
}

/** Seeded randomness (pure-rand); assertion messages carry the seed that replays a case. */
function seeded(seed: number): { int(from: number, to: number): number; float(): number; pick<T>(items: readonly T[]): T } {
  const rng = xoroshiro128plus(seed);
  return {
    int: (from, to) => uniformInt(rng, from, to),
    float: () => uniformFloat64(rng),
    pick: (items) => items[uniformInt(rng, 0, items.length - 1)]!,
  };
}

// ----------------------------------------------------------------------------------------------

describe('parseMessage accepts well-formed messages', () => {
  it('has a fixture for every type in messageSchema', () => {
    const types = messageSchema.options.map((option) => option.entries.type.literal).sort();
    expect(Object.keys(valid).sort()).toEqual(types);
  });

  it.each(Object.keys(valid) as MessageType[])('%s', (type) => {
    const input = valid[type]();
    const result = parseMessage(input);
    expect(result).toEqual({ ok: true, message: input });
    if (result.ok) {
      expect(result.message.type).toBe(type);
      expect(isReply(result.message)).toBe(type.endsWith('-reply'));
    }
  });

  it.each(validEdges)('%s', (_label, input) => {
    const result = parseMessage(input);
    expect(result.ok ? 'ok' : result.reason).toBe('ok');
  });
});

describe('parseMessage refuses malformed messages without throwing', () => {
  it('values that are not message objects', () => {
    const values: unknown[] = [undefined, null, 0, 42, 'gossip', true, [], ['gossip'], new Uint8Array([1]), () => 1, Symbol('x'), 10n, new Date(0), new Map([['type', 'gossip']])];
    for (const value of values) expectRefused(value, String(typeof value));
  });

  it('unknown or missing types', () => {
    expectRefused({}, 'no type', 'type');
    expectRefused({ ...valid.gossip(), type: 'gossip-v2' }, 'unknown type', 'type');
    expectRefused({ ...valid['replica-get'](), type: 'REPLICA-GET' }, 'wrong case', 'type');
    expectRefused({ ...valid['replica-get'](), type: 42 }, 'type not a string', 'type');
    expectRefused({ ...valid['replica-get'](), type: null }, 'type null', 'type');
  });

  it('missing fields, for every type', () => {
    let checked = 0;
    for (const type of Object.keys(valid) as MessageType[]) {
      for (const field of Object.keys(valid[type]())) {
        if (field === 'type') continue;
        const optional = type === 'error-reply' && ['answered', 'needed', 'replicas'].includes(field);
        const message = withChange(type, (m) => delete m[field]);
        if (optional) expect(parseMessage(message).ok, `${type} without optional ${field}`).toBe(true);
        else {
          expectRefused(message, `${type} without ${field}`, field);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  // [label, message, the path the reason should name]
  const cases: [string, Json, string][] = [
    // wrong types
    ['requestId as a string', withChange('replica-get', (m) => (m.requestId = '7')), 'requestId'],
    ['key as a number', withChange('replica-get', (m) => (m.key = 42)), 'key'],
    ['reply as a string', withChange('gossip', (m) => (m.reply = 'yes')), 'reply'],
    ['members not an array', withChange('gossip', (m) => (m.members = { 0: {} })), 'members'],
    ['versions as a string', withChange('replica-put', (m) => (m.versions = 'v')), 'versions'],
    ['versions null in a replica-put', withChange('replica-put', (m) => (m.versions = null)), 'versions'],
    ['clock not an array', withChange('replica-put', (m) => (at(m, 'versions').clock = {})), 'versions.clock'],
    ['sibling without data', withChange('replica-put', (m) => delete at(m, 'versions', 'siblings', 0).data), 'versions.siblings.0.data'],
    ['unknown member status', withChange('gossip', (m) => (at(m, 'members', 0).status = 'gone')), 'members.0.status'],
    ['zero capacity', withChange('gossip', (m) => (at(m, 'members', 0).capacity = 0)), 'members.0.capacity'],
    ['negative capacity', withChange('gossip', (m) => (at(m, 'members', 0).capacity = -1)), 'members.0.capacity'],
    ['NaN capacity', withChange('gossip', (m) => (at(m, 'members', 0).capacity = Number.NaN)), 'members.0.capacity'],
    ['r of 0', withChange('coordinate-get', (m) => (m.r = 0)), 'r'],
    ['w of 65', withChange('coordinate-put', (m) => (m.w = 65)), 'w'],
    ['timeoutMs of 0', withChange('coordinate-get', (m) => (m.timeoutMs = 0)), 'timeoutMs'],
    ['timeoutMs over ten minutes', withChange('coordinate-put', (m) => (m.timeoutMs = 600_001)), 'timeoutMs'],
    ['fractional timeoutMs', withChange('coordinate-get', (m) => (m.timeoutMs = 1.5)), 'timeoutMs'],
    ['timestamp as a string', withChange('replica-put', (m) => (at(m, 'versions', 'clock', 0).timestampMs = 'now')), 'versions.clock.0.timestampMs'],
    ['NaN timestamp', withChange('coordinate-put-reply', (m) => (at(m, 'dot').timestampMs = Number.NaN)), 'dot.timestampMs'],
    ['infinite timestamp', withChange('coordinate-put', (m) => (at(m, 'contextDots', 0).timestampMs = Number.POSITIVE_INFINITY)), 'contextDots.0.timestampMs'],
    ['error code over 64 characters', withChange('error-reply', (m) => (m.code = 'E'.repeat(65))), 'code'],
    ['error message over 2048 characters', withChange('error-reply', (m) => (m.message = 'm'.repeat(2049))), 'message'],
    ['optional count of the wrong type', withChange('error-reply', (m) => (m.needed = '2')), 'needed'],
    // node ids
    ['uppercase node id in a clock', withChange('replica-put', (m) => (at(m, 'versions', 'clock', 0).node = 'N1')), 'versions.clock.0.node'],
    ['node id with a dash', withChange('coordinate-put-reply', (m) => (at(m, 'dot').node = 'n-1')), 'dot.node'],
    ['node id with a slash', withChange('coordinate-put', (m) => (at(m, 'context', 0).node = '../n1')), 'context.0.node'],
    ['non-ASCII node id', withChange('gossip', (m) => (at(m, 'members', 1).id = 'nœud')), 'members.1.id'],
    ['empty node id', withChange('replica-put', (m) => (at(m, 'versions', 'siblings', 0, 'dot').node = '')), 'versions.siblings.0.dot.node'],
    ['node id too long', withChange('gossip', (m) => (at(m, 'members', 0).id = 'a'.repeat(MAX_NODE_ID_LENGTH + 1))), 'members.0.id'],
    ['node id not a string', withChange('coordinate-put', (m) => (at(m, 'contextDots', 0).node = 1)), 'contextDots.0.node'],
    // counters
    ['negative clock counter', withChange('replica-put', (m) => (at(m, 'versions', 'clock', 0).counter = -1)), 'versions.clock.0.counter'],
    ['fractional clock counter', withChange('coordinate-put', (m) => (at(m, 'context', 0).counter = 1.5)), 'context.0.counter'],
    ['unsafe clock counter', withChange('replica-get-reply', (m) => (at(m, 'versions', 'clock', 1).counter = 2 ** 53)), 'versions.clock.1.counter'],
    ['dot counter of 0', withChange('coordinate-put-reply', (m) => (at(m, 'dot').counter = 0)), 'dot.counter'],
    ['negative dot counter', withChange('coordinate-put', (m) => (at(m, 'contextDots', 0).counter = -3)), 'contextDots.0.counter'],
    ['fractional sibling dot counter', withChange('replica-put', (m) => (at(m, 'versions', 'siblings', 1, 'dot').counter = 0.5)), 'versions.siblings.1.dot.counter'],
    ['negative requestId', withChange('replica-put-reply', (m) => (m.requestId = -1)), 'requestId'],
    ['fractional requestId', withChange('replica-get', (m) => (m.requestId = 7.25)), 'requestId'],
    ['negative member version', withChange('gossip', (m) => (at(m, 'members', 2).version = -1)), 'members.2.version'],
    ['answeredBy with a bad node id', withChange('coordinate-get-reply', (m) => (m.answeredBy = ['n1', 'N 2'])), 'answeredBy'],
    // data
    ['data as a number array', withChange('coordinate-put', (m) => (m.data = [4, 5])), 'data'],
    ['data as a string', withChange('coordinate-put', (m) => (m.data = 'bytes')), 'data'],
    ['data as an ArrayBuffer', withChange('coordinate-put', (m) => (m.data = new ArrayBuffer(2))), 'data'],
    ['data as another typed array', withChange('coordinate-put', (m) => (m.data = new Uint16Array(2))), 'data'],
    ['data as undefined', withChange('coordinate-put', (m) => (m.data = undefined)), 'data'],
    ['data over MAX_VALUE_BYTES', withChange('coordinate-put', (m) => (m.data = new Uint8Array(MAX_VALUE_BYTES + 1))), 'data'],
    ['sibling data over MAX_VALUE_BYTES', withChange('replica-put', (m) => (at(m, 'versions', 'siblings', 0).data = new Uint8Array(MAX_VALUE_BYTES + 1))), 'versions.siblings.0.data'],
    ['sibling data as a plain object', withChange('replica-get-reply', (m) => (at(m, 'versions', 'siblings', 0).data = { 0: 1, length: 1 })), 'versions.siblings.0.data'],
    // sizes
    ['too many siblings', withChange('replica-put', (m) => (m.versions = { clock: clockOf(1), siblings: siblingsOf(MAX_WIRE_SIBLINGS + 1) })), 'versions.siblings'],
    ['too many clock entries', withChange('replica-get-reply', (m) => (at(m, 'versions').clock = clockOf(MAX_WIRE_CLOCK_ENTRIES + 1))), 'versions.clock'],
    ['too many context entries', withChange('coordinate-put', (m) => (m.context = clockOf(MAX_WIRE_CLOCK_ENTRIES + 1))), 'context'],
    ['too many context dots', withChange('coordinate-put', (m) => (m.contextDots = clockOf(MAX_WIRE_CLOCK_ENTRIES + 1))), 'contextDots'],
    ['too many members', withChange('gossip', (m) => (m.members = membersOf(MAX_WIRE_MEMBERS + 1))), 'members'],
    ['key too long', withChange('replica-put', (m) => (m.key = 'k'.repeat(MAX_KEY_BYTES + 1))), 'key'],
    ['empty key', withChange('coordinate-get', (m) => (m.key = '')), 'key'],
    ['r of 65', withChange('coordinate-get', (m) => (m.r = 65)), 'r'],
  ];

  it.each(cases)('%s', (label, message, where) => {
    expectRefused(message, label, where);
  });
});

describe('parseMessage on random input (seeded fuzz)', () => {
  const types = Object.keys(valid) as MessageType[];
  const junkStrings = ['', 'a', 'A', 'n1', '-1', 'gossip', 'é', '\uD800', 'x'.repeat(70), '__proto__', 'constructor'];

  /** A random value of any kind, nested at most `depth` more levels. */
  function randomValue(rnd: ReturnType<typeof seeded>, depth: number): unknown {
    switch (rnd.int(0, depth > 0 ? 13 : 10)) {
      case 0:
        return undefined;
      case 1:
        return null;
      case 2:
        return rnd.int(0, 1) === 1;
      case 3:
        return rnd.int(-5, 70);
      case 4:
        return rnd.pick([Number.NaN, Number.POSITIVE_INFINITY, -0, 0.5, 2 ** 53, -(2 ** 60), Number.MIN_VALUE, rnd.float() * 1e15]);
      case 5:
        return rnd.pick(junkStrings);
      case 6:
        return rnd.pick(types);
      case 7:
        return new Uint8Array(rnd.int(0, 8));
      case 8:
        return rnd.pick([new Date(0), new Map(), new Set(), 10n, Symbol('s'), () => 1, new ArrayBuffer(1), new Uint16Array(1)]);
      case 9:
        return Object.create(null) as object;
      case 10:
      case 11:
        return Array.from({ length: rnd.int(0, 4) }, () => randomValue(rnd, depth - 1));
      default: {
        const names = ['type', 'requestId', 'key', 'versions', 'clock', 'siblings', 'dot', 'node', 'counter', 'timestampMs', 'data', 'members', ...junkStrings];
        const object: Record<string, unknown> = {};
        for (let i = rnd.int(0, 5); i > 0; i--) object[rnd.pick(names)] = randomValue(rnd, depth - 1);
        return object;
      }
    }
  }

  /** Somewhere inside a well-formed message, replace, delete or add one thing. */
  function mutate(rnd: ReturnType<typeof seeded>, message: Json): Json {
    const containers: (Json | unknown[])[] = [];
    const walk = (node: unknown): void => {
      if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return;
      containers.push(node as Json);
      for (const child of Object.values(node)) walk(child);
    };
    walk(message);
    const target = rnd.pick(containers) as Record<string, unknown>;
    const keys = Object.keys(target);
    const action = rnd.int(0, 2);
    if (action === 0 && keys.length > 0) delete target[rnd.pick(keys)];
    else if (action === 1 && keys.length > 0) target[rnd.pick(keys)] = randomValue(rnd, 2);
    else target[rnd.pick(['extra', '0', ...keys])] = randomValue(rnd, 2);
    return message;
  }

  it('2,000 random values and mutated messages never make it throw', () => {
    let accepted = 0;
    let refused = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const rnd = seeded(seed);
      const input = seed % 2 === 0 ? randomValue(rnd, 4) : mutate(rnd, valid[rnd.pick(types)]());
      const result = parseWithoutThrowing(input, `seed ${seed}`);
      if (result.ok) {
        accepted++;
        expect(types, `seed ${seed}`).toContain(result.message.type);
      } else {
        refused++;
        expect(typeof result.reason === 'string' && result.reason.length > 0, `seed ${seed}`).toBe(true);
      }
    }
    // The fuzz must reach both sides of the schema, or it tests nothing.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(1000);
  });
});

describe('member records under either field names (compatible decoder)', () => {
  const record = { id: 'n1', capacity: 1, status: 'up', version: 3, joinedAtMs: 1, incarnation: 2, history: [{ atMs: 1, capacity: 1 }] };
  const membersOf = (result: ParseResult): unknown => (result.ok && result.message.type === 'gossip' ? result.message.members : result);

  it('reads the current names, the names of earlier versions, or both, into the current names only', () => {
    const expected = [{ ...record, pendingPartitions: [3], handoffPartitions: [7] }];
    const current = { ...record, pendingPartitions: [3], handoffPartitions: [7] };
    const legacy = { ...record, pending: [3], handoffs: [7] };
    const both = { ...current, pending: [3], handoffs: [7] };
    for (const member of [current, legacy, both]) expect(membersOf(parseMessage({ type: 'gossip', reply: false, members: [member] }))).toEqual(expected);
  });

  it('refuses a record that has neither name for a list', () => {
    expectRefused({ type: 'gossip', reply: false, members: [{ ...record, pendingPartitions: [] }] }, 'no handed-off partitions');
    expectRefused({ type: 'gossip', reply: false, members: [{ ...record, handoffs: [] }] }, 'no pending partitions');
  });
});
