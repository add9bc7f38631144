/**
 * Tombstone purging: a deleted key's tombstones are removed from every store once keeping them can no
 * longer matter. Dynamo keeps a delete as a version (paper §4.4, DESIGN.md §3 "Deletes") so that a
 * replica that missed it cannot bring the value back; this module drops that version once the rule
 * written in anti-entropy.ts's header holds:
 *
 *   (1) every one of the key's N replicas holds exactly that tombstone set (same digest),
 *   (2) no node holds a hint for the key, and no node holds any other version of it,
 *   (3) the grace period `tombstoneGraceMs` has passed since the delete (the newest tombstone's time).
 *
 * The key's first replica (the owner of its partition, the head of its preference list) checks and
 * purges; no other node starts a purge of that key, so two never race. Every `tombstonePurgeIntervalMs`:
 *
 *   candidates   tombstone-only keys deleted before now − grace (from the Merkle service), of which
 *                this node is the first replica; at most MAX_PURGE_KEYS per round
 *   purge-check  sent to every member that has not left (replicas, fallbacks, nodes still handing a
 *                partition off: any of them may hold a hint or an old copy). Each answers, per key,
 *                ABSENT (nothing of it), SAME (exactly that tombstone set, no hint) or OTHER
 *   purge        a key goes when no member answered OTHER and each of its N replicas answered SAME:
 *                every member that answered SAME, and this node, delete it if it is still that
 *                tombstone set and no hint for it arrived meanwhile (under the key's lock)
 *
 * A member that does not answer (unreachable, a closed tab, a version without purging) stops the round:
 * nothing is purged while any member cannot be asked. So a tab closed for good holds purging back until
 * it is removed from the cluster (`remove`), which is what makes the purge safe against its old copies.
 * A purge message that is lost leaves one copy of the tombstone; anti-entropy spreads it back to the
 * others, and the next round purges it again: harmless. A write after the check makes a new version,
 * which no purge touches (its digest differs).
 */
import type { MerkleService } from './ports.js';
import { MAX_WIRE_PURGE_KEYS, type Message, type ReplyMessage } from './messages.js';
import type { Ring } from './ring.js';
import type { NodeId } from './types.js';

/** Settings of tombstone purging. */
export interface TombstonePurgeConfig {
  /** Turns purging on or off (off: tombstones are kept forever, as before). Default on. */
  tombstonePurge: boolean;
  /**
   * Time from a delete until its tombstones may be purged, in ms: longer than any outage the cluster is
   * meant to survive (a replica back after a longer one may bring deleted values back). Default 10 days,
   * longer than `hintTtlMs`'s 7.
   */
  tombstoneGraceMs: number;
  /**
   * Period of purge rounds, in ms; a shorter `tombstoneGraceMs` shortens it to that (a test's or a
   * demo's grace of seconds purges within seconds). Default 60 000.
   */
  tombstonePurgeIntervalMs: number;
}

/** Defaults of {@link TombstonePurgeConfig}. */
export const DEFAULT_TOMBSTONE_PURGE_CONFIG: TombstonePurgeConfig = {
  tombstonePurge: true,
  tombstoneGraceMs: 10 * 24 * 3600 * 1000,
  tombstonePurgeIntervalMs: 60_000,
};

/** Most keys one round checks (and one purge-check or purge message names). */
export const MAX_PURGE_KEYS = MAX_WIRE_PURGE_KEYS;

/** What a member holds of a key a purge-check names. */
export const PURGE_ABSENT = 0;
export const PURGE_SAME = 1;
export const PURGE_OTHER = 2;
/** One of {@link PURGE_ABSENT}, {@link PURGE_SAME}, {@link PURGE_OTHER}. */
export type PurgeHolding = typeof PURGE_ABSENT | typeof PURGE_SAME | typeof PURGE_OTHER;

/** A key and the digest (16 bytes, `versionDigest`) of the tombstone set to purge. */
export interface PurgeItem {
  key: string;
  digest: Uint8Array;
}

/** Requests purging sends. */
export type PurgeRequest = Omit<Extract<Message, { type: 'purge-check' }>, 'requestId'> | Omit<Extract<Message, { type: 'purge' }>, 'requestId'>;

/** What purging needs from its node. */
export interface TombstonePurgePorts {
  self: NodeId;
  n(): number;
  ring(): Ring;
  /** Every member but this node that has not left the cluster. */
  members(): NodeId[];
  isHealthy(id: NodeId): boolean;
  request(to: NodeId, body: PurgeRequest, timeoutMs: number): Promise<ReplyMessage>;
  merkle: MerkleService;
  /** Those of `keys` this node holds as tombstones only and hints nowhere, with their digests (replica.ts `purgeCandidates`). */
  candidates(keys: readonly string[]): Promise<PurgeItem[]>;
  /** Deletes each item still holding exactly that tombstone set and no hint (replica.ts `purge`). @returns keys deleted */
  purge(items: readonly PurgeItem[]): Promise<number>;
  timeoutMs(): number;
  /** Told of this node's purges (`count` keys deleted). */
  onPurged(count: number): void;
  reportError(error: unknown, context: string): void;
}

/** The tombstone purger of one node. */
export class TombstonePurge {
  private nextRoundAtMs: number | undefined;
  private running = false;
  /** Keys this node deleted by purging; rounds run; rounds stopped because a member could not be asked. */
  purged = 0;
  rounds = 0;
  roundsBlocked = 0;

  constructor(
    private readonly config: TombstonePurgeConfig,
    private readonly ports: TombstonePurgePorts,
  ) {}

  /** Starts a round when one is due (the first one interval after the first tick). */
  tick(nowMs: number): void {
    if (!this.config.tombstonePurge || this.running) return;
    const periodMs = Math.min(this.config.tombstonePurgeIntervalMs, this.config.tombstoneGraceMs);
    if (this.nextRoundAtMs === undefined) this.nextRoundAtMs = nowMs + periodMs;
    if (nowMs < this.nextRoundAtMs) return;
    this.nextRoundAtMs = nowMs + periodMs;
    this.running = true;
    this.round(nowMs)
      .catch((error: unknown) => this.ports.reportError(error, 'purging tombstones'))
      .finally(() => {
        this.running = false;
      });
  }

  /**
   * One round (see the module header): @returns the keys this node purged. Exposed for tests and the
   * explorer; rounds run by themselves from {@link tick}.
   */
  async round(nowMs: number): Promise<number> {
    const { ports } = this;
    this.rounds++;
    const ring = ports.ring();
    const candidates = (await ports.merkle.tombstones(nowMs - this.config.tombstoneGraceMs, MAX_PURGE_KEYS)).filter((key) => ring.preferenceList(key)[0] === ports.self);
    if (candidates.length === 0) return 0;
    const members = ports.members();
    if (members.some((m) => !ports.isHealthy(m))) {
      this.roundsBlocked++;
      return 0;
    }
    const checked = await ports.candidates(candidates);
    if (checked.length === 0) return 0;
    const timeoutMs = ports.timeoutMs();
    const answers = await Promise.all(
      members.map((m) =>
        ports.request(m, { type: 'purge-check', items: checked }, timeoutMs).then(
          (reply) => (reply.type === 'purge-check-reply' && reply.held.length === checked.length ? (reply.held as PurgeHolding[]) : undefined),
          () => undefined,
        ),
      ),
    );
    if (answers.some((a) => a === undefined)) {
      this.roundsBlocked++;
      return 0;
    }
    const held = new Map(members.map((m, i) => [m, answers[i]!]));
    const n = ports.n();
    const purgeable = checked.flatMap((item, i) => {
      if (members.some((m) => held.get(m)![i] === PURGE_OTHER)) return [];
      const replicas = ring.preferenceList(item.key).slice(0, n);
      return replicas.every((r) => r === ports.self || held.get(r)?.[i] === PURGE_SAME) ? [{ item, index: i }] : [];
    });
    if (purgeable.length === 0) return 0;
    // Every holder deletes its copy; a lost purge leaves a copy that anti-entropy spreads back and a later round takes.
    await Promise.all(
      members.map((m) => {
        const theirs = purgeable.filter(({ index }) => held.get(m)![index] === PURGE_SAME).map(({ item }) => item);
        if (theirs.length === 0) return undefined;
        return ports.request(m, { type: 'purge', items: theirs }, timeoutMs).catch(() => undefined);
      }),
    );
    return this.purgeHere(purgeable.map(({ item }) => item));
  }

  /**
   * A purge from `from`: deletes what still matches here, of the keys whose first replica `from` is in
   * this node's ring (no other node decides a key's purge). @returns keys deleted
   */
  onPurge(from: NodeId, items: readonly PurgeItem[]): Promise<number> {
    const ring = this.ports.ring();
    return this.purgeHere(items.filter((item) => ring.preferenceList(item.key)[0] === from));
  }

  private async purgeHere(items: readonly PurgeItem[]): Promise<number> {
    const count = await this.ports.purge(items);
    if (count > 0) {
      this.purged += count;
      this.ports.onPurged(count);
    }
    return count;
  }
}
