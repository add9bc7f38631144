/**
 * What the signaling server lets in, and what it lets through (issue 16, "members only": the server
 * must learn no cluster name and must not let anyone take a peer id; DESIGN.md §3 "Security").
 *
 * The `peer` package accepts any id from anyone (first come, first served; messages queued for an
 * absent id go to whoever registers it next) and relays any message to any id. This guard sits in
 * front of it, in the server's HTTP `upgrade` hook and on each socket's messages
 * (signaling-server.ts does the I/O), and applies, in this order:
 *
 *   upgrade request ──▶ 1. per address: at most `socketsPerAddressMax` sockets at once       → 429
 *                      2. per address: `upgradesPerAddressPerSecond` (burst `…Burst`)     → 429
 *                      3. signed registration (src/security/registration.ts): the id is
 *                         `dyn-<tag>-<node>` and the request proves the key of <node>,
 *                         fresh (±2 min) and never seen before                               → 403
 *                      └─▶ peer registers the id (or answers ID-TAKEN to an older socket's holder)
 *   each message ────▶ 4. per socket: token bucket, `messagesPerSecond` (burst `messagesBurst`),
 *                         a message costing one token per started `messageTokenBytes`;
 *                         over it: dropped; dropping more than another burst's worth faster
 *                         than the bucket refills: the socket is closed
 *                      5. only OFFER / ANSWER / CANDIDATE / LEAVE to `dyn-<own tag>-<node>`,
 *                         and HEARTBEAT; anything else (another tag, EXPIRE, not JSON): dropped
 *
 * "Address" is the remote IPv4 address, or the /64 prefix of an IPv6 one (one host usually holds a
 * whole /64). Behind a reverse proxy every client shares the proxy's address: raise the limits there
 * (X-Forwarded-For is not trusted: any client can write it).
 *
 * Everything here is pure: time comes in as `nowMs` arguments; only counters and per-address
 * buckets are kept. The counters ({@link SignalingGuardStats}) never hold an id or a tag.
 */
import { TAG_LENGTH } from '../security/cluster-secret.js';
import { NODE_ID_LENGTH } from '../security/node-key.js';
import { verifyRegistration } from '../security/registration.js';
import { TokenBucket } from './token-bucket.js';

/** The limits the guard enforces; every one can be set per server (tests use small ones). */
export interface SignalingLimits {
  /** Sockets one address may hold at once, counting those still being checked. */
  socketsPerAddressMax: number;
  /** Upgrade requests one address may make per second, sustained (refused ones count too). */
  upgradesPerAddressPerSecond: number;
  /** Upgrade requests one address may make at once. */
  upgradesPerAddressBurst: number;
  /** Message tokens a socket earns per second. */
  messagesPerSecond: number;
  /** Message tokens a socket may hold (and spend at once). */
  messagesBurst: number;
  /** A message costs one token per started block of this many bytes (so a small one costs 1). */
  messageTokenBytes: number;
  /** Largest WebSocket frame accepted, bytes; a larger one closes the socket (1009). */
  frameBytesMax: number;
}

/**
 * Defaults. A tab node opens one socket and retries at most once a second (server-signaling.ts), so 64
 * sockets and 20 upgrades per second leave room for a whole browser of tabs (or an office behind one
 * NAT) reloading at once. It sends a heartbeat every 5 s and, per connection it sets up, one offer or
 * answer (1–5 KiB) and a handful of candidates (~300 B): 100 messages per second with a burst of 300
 * is far above that and still bounds what one socket can make the server queue (messages for an
 * absent id wait up to 5 s): 400 KiB/s, 1.2 MiB at once.
 */
export const DEFAULT_SIGNALING_LIMITS: Readonly<SignalingLimits> = Object.freeze({
  socketsPerAddressMax: 64,
  upgradesPerAddressPerSecond: 20,
  upgradesPerAddressBurst: 120,
  messagesPerSecond: 100,
  messagesBurst: 300,
  messageTokenBytes: 4 * 1024,
  frameBytesMax: 64 * 1024,
});

/** The guard's part of what `GET <path>/stats` answers: counters since the server started, and current sockets. */
export interface SignalingGuardStats {
  registrations: {
    /** Upgrades whose registration proof was valid (peer may still answer ID-TAKEN to an older socket's holder). */
    accepted: number;
    /** Refused upgrades (403), by the reason verifyRegistration gave (e.g. `bad signature`, `replayed registration`). */
    refused: Record<string, number>;
  };
  /** Upgrades refused with 429 before any check of their proof. */
  upgradesRefused: {
    /** The address already held `socketsPerAddressMax` sockets. */
    socketsPerAddress: number;
    /** The address made upgrade requests faster than its bucket allows. */
    upgradeRate: number;
  };
  messages: {
    /** Handed to peer. */
    passed: number;
    /** Over the socket's rate. */
    droppedRateLimit: number;
    /** To an id that is not a node of the sender's tag (or with no destination). */
    droppedForeignDestination: number;
    /** Not a JSON object, binary, or a type a client may not send (EXPIRE, OPEN, …). */
    droppedMalformed: number;
  };
  /** Sockets closed for sending far over their rate. */
  socketsClosedForFlooding: number;
  sockets: {
    /** Registered and upgraded, not yet closed. */
    open: number;
    /** Reserved by an upgrade request that is still being checked or upgraded. */
    pending: number;
  };
}

/** Outcome of {@link SignalingGuard.admit}: a reserved slot, or the HTTP refusal to send. */
export type SocketAdmission = { ok: true; address: string } | { ok: false; status: 429; reason: string };

/** Outcome of {@link SignalingGuard.checkRegistration}. */
export type RegistrationAdmission = { ok: true; peerId: string; tag: string } | { ok: false; status: 403; reason: string };

/** What to do with one inbound message: hand it to peer, drop it, or drop it and close the socket. */
export type MessageVerdict = 'pass' | 'drop' | 'close';

/** Message types a client may send; peer would also relay a client's EXPIRE, which only the server should say. */
const CLIENT_TYPES = new Set(['OFFER', 'ANSWER', 'CANDIDATE', 'HEARTBEAT', 'LEAVE']);
const NODE_PART = new RegExp(`^[a-z2-7]{${NODE_ID_LENGTH}}$`);
const TAG = new RegExp(`^[a-z2-7]{${TAG_LENGTH}}$`);
/** Sweep full (forgettable) per-address buckets when there are more than this many, at most once a second. */
const ADDRESS_BUCKETS_SWEEP_AT = 1024;

/**
 * The key an address is limited by: IPv4 as is (also when IPv4-mapped, `::ffff:a.b.c.d`), IPv6 by its
 * /64 prefix (`2001:db8:0:1::/64`), `unknown` when the socket has no address (already closed).
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || remoteAddress === '') return 'unknown';
  const address = remoteAddress.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(address);
  if (mapped !== null) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [headText = '', tailText] = address.split('::');
  const groups = (text: string): string[] => (text === '' ? [] : text.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const head = groups(headText);
  const tail = tailText === undefined ? [] : groups(tailText);
  const all = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return `${all.slice(0, 4).map((g) => (Number.parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** The rate limit and destination rule of one socket (made by {@link SignalingGuard.openSocket}). */
export class SocketPolicy {
  private readonly bucket: TokenBucket;
  /** Refills like `bucket`; each dropped message spends from it; empty: the socket floods and is closed. */
  private readonly grace: TokenBucket;
  private readonly destinationPrefix: string;
  /** After a `close` verdict or {@link socketClosed}: every frame is dropped. */
  private closed = false;
  /** Whether {@link socketClosed} has taken this socket off the open count. */
  private released = false;

  /** @internal Made by {@link SignalingGuard.openSocket}. */
  constructor(
    tag: string,
    private readonly limits: SignalingLimits,
    private readonly stats: SignalingGuardStats,
    nowMs: number,
  ) {
    this.bucket = new TokenBucket(limits.messagesPerSecond, limits.messagesBurst, nowMs);
    this.grace = new TokenBucket(limits.messagesPerSecond, limits.messagesBurst, nowMs);
    this.destinationPrefix = `dyn-${tag}-`;
    stats.sockets.open++;
  }

  /**
   * Judges one inbound frame.
   * @param text - the frame as text, or undefined for a binary frame.
   * @param bytes - its length, bytes (what it costs).
   * @param nowMs - the current time, ms.
   * @returns `pass` (hand it to peer), `drop`, or `close` (drop it and close the socket: it floods).
   *   After `close`, every later frame is dropped.
   */
  inspect(text: string | undefined, bytes: number, nowMs: number): MessageVerdict {
    if (this.closed) return 'drop';
    const cost = Math.max(1, Math.ceil(bytes / this.limits.messageTokenBytes));
    if (!this.bucket.take(cost, nowMs)) {
      this.stats.messages.droppedRateLimit++;
      if (this.grace.take(cost, nowMs)) return 'drop';
      this.closed = true;
      this.stats.socketsClosedForFlooding++;
      return 'close';
    }
    const message = parseObject(text);
    if (message === undefined || typeof message.type !== 'string' || !CLIENT_TYPES.has(message.type)) {
      this.stats.messages.droppedMalformed++;
      return 'drop';
    }
    if (message.type !== 'HEARTBEAT' && !this.isOwnTag(message.dst)) {
      this.stats.messages.droppedForeignDestination++;
      return 'drop';
    }
    this.stats.messages.passed++;
    return 'pass';
  }

  /** The socket closed (for whatever reason): it no longer counts as open. Idempotent. */
  socketClosed(): void {
    this.closed = true;
    if (this.released) return;
    this.released = true;
    this.stats.sockets.open--;
  }

  private isOwnTag(dst: unknown): boolean {
    return typeof dst === 'string' && dst.startsWith(this.destinationPrefix) && NODE_PART.test(dst.slice(this.destinationPrefix.length));
  }
}

/** A JSON object, or undefined for anything else (binary, not JSON, an array, a primitive). */
function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The guard of one signaling server: per-address slots and upgrade buckets, the replay cache of
 * registrations, and the counters. One per server; never shared (no module state).
 */
export class SignalingGuard {
  readonly limits: Readonly<SignalingLimits>;
  private readonly socketsByAddress = new Map<string, number>();
  private readonly upgradeBuckets = new Map<string, TokenBucket>();
  private lastSweepMs = -Infinity;
  /** Registration signatures accepted within the window (verifyRegistration's replay cache). */
  private readonly seen = new Map<string, number>();
  private readonly counters: SignalingGuardStats = {
    registrations: { accepted: 0, refused: {} },
    upgradesRefused: { socketsPerAddress: 0, upgradeRate: 0 },
    messages: { passed: 0, droppedRateLimit: 0, droppedForeignDestination: 0, droppedMalformed: 0 },
    socketsClosedForFlooding: 0,
    sockets: { open: 0, pending: 0 },
  };

  /** @param limits - overrides of {@link DEFAULT_SIGNALING_LIMITS}. */
  constructor(limits: Partial<SignalingLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_SIGNALING_LIMITS, ...limits });
  }

  /**
   * Steps 1 and 2: reserves a socket slot for an upgrade request from `remoteAddress`, or says why not
   * (429). A reserved slot must be given back with {@link release} when the socket closes, whatever
   * happens to the request after this.
   */
  admit(remoteAddress: string | undefined, nowMs: number): SocketAdmission {
    const address = addressKey(remoteAddress);
    const held = this.socketsByAddress.get(address) ?? 0;
    if (held >= this.limits.socketsPerAddressMax) {
      this.counters.upgradesRefused.socketsPerAddress++;
      return { ok: false, status: 429, reason: `at most ${this.limits.socketsPerAddressMax} signaling sockets per address` };
    }
    this.sweepUpgradeBuckets(nowMs);
    let bucket = this.upgradeBuckets.get(address);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.limits.upgradesPerAddressPerSecond, this.limits.upgradesPerAddressBurst, nowMs);
      this.upgradeBuckets.set(address, bucket);
    }
    if (!bucket.take(1, nowMs)) {
      this.counters.upgradesRefused.upgradeRate++;
      return { ok: false, status: 429, reason: 'too many signaling upgrades from this address; retry later' };
    }
    this.socketsByAddress.set(address, held + 1);
    return { ok: true, address };
  }

  /** Gives back the slot {@link admit} reserved for `address` (call once per admitted request). */
  release(address: string): void {
    const held = this.socketsByAddress.get(address) ?? 0;
    if (held <= 1) this.socketsByAddress.delete(address);
    else this.socketsByAddress.set(address, held - 1);
  }

  /**
   * Step 3: checks the signed registration in an upgrade request's URL (its `id`, `pk`, `ts`, `sig`
   * query parameters; see src/security/registration.ts) and counts the outcome. Never throws.
   * @param url - the request's URL (path and query; only the query is read).
   * @param nowMs - the server's clock, ms since the epoch (registrations carry wall-clock time).
   */
  async checkRegistration(url: string | undefined, nowMs: number): Promise<RegistrationAdmission> {
    let params: URLSearchParams;
    try {
      params = new URL(url ?? '', 'http://signaling.invalid').searchParams;
    } catch {
      params = new URLSearchParams();
    }
    const peerId = params.get('id') ?? '';
    const check = await verifyRegistration(peerId, params, nowMs, this.seen);
    if (!check.ok) {
      const refused = this.counters.registrations.refused;
      refused[check.reason] = (refused[check.reason] ?? 0) + 1;
      return { ok: false, status: 403, reason: check.reason };
    }
    this.counters.registrations.accepted++;
    return { ok: true, peerId, tag: check.tag };
  }

  /** Steps 4 and 5 for a socket registered under `tag`: its policy, to ask about each message. */
  openSocket(tag: string, nowMs: number): SocketPolicy {
    if (!TAG.test(tag)) throw new Error(`openSocket: "${tag}" is not a signaling tag`);
    return new SocketPolicy(tag, this.limits, this.counters, nowMs);
  }

  /** A copy of the counters; `sockets.pending` is the reserved slots not (yet) open. */
  stats(): SignalingGuardStats {
    let reserved = 0;
    for (const held of this.socketsByAddress.values()) reserved += held;
    const c = this.counters;
    return {
      registrations: { accepted: c.registrations.accepted, refused: { ...c.registrations.refused } },
      upgradesRefused: { ...c.upgradesRefused },
      messages: { ...c.messages },
      socketsClosedForFlooding: c.socketsClosedForFlooding,
      sockets: { open: c.sockets.open, pending: Math.max(0, reserved - c.sockets.open) },
    };
  }

  /** Forgets full upgrade buckets (a full bucket is the same as none) once there are many. */
  private sweepUpgradeBuckets(nowMs: number): void {
    if (this.upgradeBuckets.size <= ADDRESS_BUCKETS_SWEEP_AT || nowMs - this.lastSweepMs < 1000) return;
    this.lastSweepMs = nowMs;
    for (const [address, bucket] of this.upgradeBuckets) if (bucket.isFull(nowMs)) this.upgradeBuckets.delete(address);
  }
}
