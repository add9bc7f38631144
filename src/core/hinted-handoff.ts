/**
 * Hinted handoff (paper §4.6): writes this node keeps for replicas that could not take them, and
 * their delivery once those replicas are back.
 *
 *   store      a fallback keeps a write for `intendedFor` as a hint (one per (intendedFor, key), merged)
 *   deliver    every `hintIntervalMs`, up to `hintBatchSize` hints go as replica-puts to replicas
 *              seen alive again
 *   pass       a leaving node cannot wait for an unreachable replica: it passes the hints on to a node
 *              that stays, which keeps them as its own
 *   redirect   hints for a node that left the ring go to the key's current replicas instead
 *   expire     a hint older than `hintTtlMs` for a node still not back goes to the key's current
 *              replicas (other than that node); it is dropped once one of them acknowledged it, so
 *              that the node, should it ever return, is repaired by anti-entropy from that replica —
 *              never while no other replica holds what it carries
 *
 * Each of the three hands a hint on the same way ({@link HintedHandoff.handOn}): send it, and delete
 * it only after the send was acknowledged and only if it did not change meanwhile (a newer hinted
 * write merged into it waits for the next round).
 */
import { InvalidOptionError } from './errors.js';
import type { Reachability } from './failure-detector.js';
import type { MemberRecord } from './membership.js';
import type { NodeEvent } from './node-api.js';
import type { Clock, Store } from './ports.js';
import type { Replica } from './replica.js';
import type { RequestBody, RequestMessage, ReplyBody } from './request-table.js';
import type { Ring } from './ring.js';
import type { Hint, NodeId, VersionSet } from './types.js';
import { validateKey } from './value-codec.js';
import { mergeVersionSets, versionSetsEqual } from './version-set.js';
import { assertFitsOneMessage } from './version-set-limits.js';

/** What hinted handoff needs from its node. */
export interface HintedHandoffPorts {
  self: NodeId;
  store: Store;
  clock: Clock;
  replica: Replica;
  settings(): { n: number; hintIntervalMs: number; hintBatchSize: number; hintTtlMs: number; requestTimeoutMs: number; maxVersionSetBytes: number };
  ring(): Ring;
  member(id: NodeId): MemberRecord | undefined;
  reachability(id: NodeId): Reachability;
  isHealthy(id: NodeId): boolean;
  request(to: NodeId, body: RequestBody, timeoutMs: number): Promise<unknown>;
  emit(event: NodeEvent): void;
  reportError(error: unknown, context: string): void;
}

/** The hints this node holds, their delivery rounds and the hinted-put handler. */
export class HintedHandoff {
  /** Nodes this node holds hints for (loaded at start, kept up to date). */
  private readonly targets = new Set<NodeId>();
  /** Leaving, with every partition handed off: hints for unreachable nodes are passed on. */
  private passing = false;
  private nextRoundAtMs = 0;
  private delivering = false;
  hintsStored = 0;
  hintsDelivered = 0;
  hintsPassed = 0;
  /** Hints dropped after `hintTtlMs`, once another replica of their key held what they carried. */
  hintsExpired = 0;

  constructor(private readonly ports: HintedHandoffPorts) {}

  /** Reads which nodes this node holds hints for. @throws StorageError */
  async load(): Promise<void> {
    for (const hint of await this.ports.store.listHints()) this.targets.add(hint.intendedFor);
  }

  /** True when this node holds any hint. */
  holdsHints(): boolean {
    return this.targets.size > 0;
  }

  /** A node seen alive again gets its hints at the next tick (paper §4.6). */
  peerBack(peer: NodeId, nowMs: number): void {
    if (this.targets.has(peer)) this.nextRoundAtMs = nowMs;
  }

  /** Runs a round at the next tick. */
  wake(nowMs: number): void {
    this.nextRoundAtMs = nowMs;
  }

  /** A leaving node whose partitions are handed off starts passing its hints on. */
  startPassing(nowMs: number): void {
    this.passing = true;
    this.nextRoundAtMs = Math.min(this.nextRoundAtMs, nowMs);
  }

  /** Runs a delivery round when one is due at `nowMs` and none is running. */
  tick(nowMs: number): void {
    if (nowMs >= this.nextRoundAtMs && !this.delivering && this.targets.size > 0) {
      this.nextRoundAtMs = nowMs + this.ports.settings().hintIntervalMs;
      void this.deliver();
    }
  }

  /** Keeps a write for `intendedFor` (paper §4.6), merged with any hint already held for that pair. */
  async store(intendedFor: NodeId, key: string, versions: VersionSet): Promise<void> {
    await this.ports.replica.locks.run(key, () => this.write(intendedFor, key, versions));
    this.hintsStored++;
    this.ports.emit({ type: 'hint-stored', key, intendedFor });
  }

  /**
   * The body of {@link store}, for callers that already hold the key's lock.
   * @throws VersionSetTooLargeError when the merged hint would not fit one message; StorageError.
   */
  async write(intendedFor: NodeId, key: string, versions: VersionSet): Promise<void> {
    const existing = await this.ports.store.getHint(intendedFor, key);
    const hint: Hint = {
      intendedFor,
      key,
      versions: existing ? mergeVersionSets(existing.versions, versions) : versions,
      createdAtMs: existing?.createdAtMs ?? this.ports.clock.now(),
    };
    assertFitsOneMessage(hint.versions, this.ports.settings().maxVersionSetBytes);
    await this.ports.store.putHint(hint);
    this.targets.add(intendedFor);
  }

  /**
   * hinted-put: a write for `intendedFor` this node takes as a fallback (or, meant for this node, merges).
   * @throws InvalidOptionError when `intendedFor` is not a member (the hint could never be delivered).
   */
  async onHintedPut(message: Extract<RequestMessage, { type: 'hinted-put' }>): Promise<ReplyBody> {
    validateKey(message.key);
    if (message.intendedFor !== this.ports.self && this.ports.member(message.intendedFor) === undefined) {
      throw new InvalidOptionError(`${message.intendedFor} is not a member: no hint is kept for it`);
    }
    if (message.intendedFor === this.ports.self) await this.ports.replica.merge(message.key, message.versions);
    else await this.store(message.intendedFor, message.key, message.versions);
    return { type: 'hinted-put-reply' };
  }

  /** Number of hints held for other nodes (a cheap count from the store). */
  count(): Promise<number> {
    return this.ports.store.countHints();
  }

  /** Hints held by the node each is for (reads every hint: diagnostics only), and the nodes being delivered to. */
  async byTarget(): Promise<{ held: Record<NodeId, number>; delivering: NodeId[] }> {
    const held: Record<NodeId, number> = {};
    // Own properties only: a node may be called `constructor`.
    for (const hint of await this.ports.store.listHints()) held[hint.intendedFor] = (Object.hasOwn(held, hint.intendedFor) ? held[hint.intendedFor]! : 0) + 1;
    return { held, delivering: [...this.targets].sort() };
  }

  /**
   * One round: for every node this node holds hints for and sees alive, up to `hintBatchSize` hints in
   * all as replica-puts; hints for nodes that left are redirected, and a leaving node passes on those
   * for nodes it cannot reach.
   */
  private async deliver(): Promise<void> {
    this.delivering = true;
    try {
      let budget = this.ports.settings().hintBatchSize;
      for (const target of [...this.targets].sort()) {
        if (budget <= 0) break;
        const record = this.ports.member(target);
        if (record?.status === 'left') {
          budget -= await this.redirect(target, budget);
          continue;
        }
        if (this.ports.reachability(target) !== 'alive' || record === undefined) {
          if (this.passing) budget -= await this.pass(target, budget);
          else budget -= await this.expire(target, budget);
          continue;
        }
        const hints = await this.hintsFor(target, budget);
        if (hints.length === 0) continue;
        budget -= hints.length;
        const timeoutMs = this.ports.settings().requestTimeoutMs;
        const delivered = await Promise.all(hints.map((hint) => this.handOn(hint, () => this.ports.request(target, { type: 'replica-put', key: hint.key, versions: hint.versions }, timeoutMs))));
        const count = delivered.filter(Boolean).length;
        if (count > 0) {
          this.hintsDelivered += count;
          this.ports.emit({ type: 'hints-delivered', peer: target, count });
        }
        // Everything sent went through: look again soon rather than a full period later.
        if (count === hints.length) this.soon();
      }
    } catch (error) {
      this.ports.reportError(error, 'hinted handoff');
    } finally {
      this.delivering = false;
    }
  }

  /**
   * Passes the hints held for the unreachable `target` on: each goes as a hinted-put to the first
   * healthy node of the key's preference list other than this node and `target`, which keeps it as its
   * own hint. A hint with no such node stays for a later round. @returns hints looked at.
   */
  private async pass(target: NodeId, limit: number): Promise<number> {
    const hints = await this.hintsFor(target, limit);
    const passedTo = new Map<NodeId, number>();
    const { self, isHealthy, reachability } = this.ports;
    await Promise.all(
      hints.map(async (hint) => {
        const fallback = this.ports.ring().preferenceList(hint.key).find((id) => id !== self && id !== target && isHealthy(id) && reachability(id) === 'alive');
        if (fallback === undefined) return;
        const sent = { type: 'hinted-put', key: hint.key, versions: hint.versions, intendedFor: target } as const;
        if (await this.handOn(hint, () => this.ports.request(fallback, sent, this.ports.settings().requestTimeoutMs))) passedTo.set(fallback, (passedTo.get(fallback) ?? 0) + 1);
      }),
    );
    for (const [to, count] of passedTo) {
      this.hintsPassed += count;
      this.ports.emit({ type: 'hints-passed', intendedFor: target, to, count });
    }
    if (passedTo.size > 0) this.soon();
    return hints.length;
  }

  /**
   * Hints held for a node that left the ring (or was removed) go to the key's current replicas: merged
   * here when this node is one, sent to the healthy ones, kept as new hints for the others; the old
   * hint is deleted once all of that is done. @returns hints handled.
   */
  private async redirect(target: NodeId, limit: number): Promise<number> {
    const hints = await this.hintsFor(target, limit);
    for (const hint of hints) {
      await this.handOn(hint, async () => {
        let failed: unknown;
        for (const replica of this.ports.ring().preferenceList(hint.key).slice(0, this.ports.settings().n)) {
          try {
            if (replica === this.ports.self) await this.ports.replica.merge(hint.key, hint.versions);
            else if (this.ports.isHealthy(replica)) await this.ports.request(replica, { type: 'replica-put', key: hint.key, versions: hint.versions }, this.ports.settings().requestTimeoutMs);
            else await this.store(replica, hint.key, hint.versions);
          } catch (error) {
            failed = error;
          }
        }
        if (failed !== undefined) throw failed;
      });
    }
    if (hints.length > 0) this.soon();
    return hints.length;
  }

  /**
   * Hands the hints held for the unreachable `target` that are older than `hintTtlMs` to the key's
   * current replicas other than `target` (merged here when this node is one), and drops each once one
   * of them holds it: anti-entropy repairs `target` from there if it ever returns. A hint no other
   * replica took stays. Only the first `limit` hints of `target` (by key) are looked at in a round.
   * @returns hints looked at.
   */
  private async expire(target: NodeId, limit: number): Promise<number> {
    const { clock, ring, self, isHealthy } = this.ports;
    const { hintTtlMs, n, requestTimeoutMs } = this.ports.settings();
    const nowMs = clock.now();
    const hints = (await this.hintsFor(target, limit)).filter((hint) => nowMs - hint.createdAtMs >= hintTtlMs);
    let expired = 0;
    await Promise.all(
      hints.map(async (hint) => {
        const dropped = await this.handOn(hint, async () => {
          const replicas = ring().preferenceList(hint.key).slice(0, n).filter((id) => id !== target);
          const outcomes = await Promise.allSettled(
            replicas.map((replica) =>
              replica === self
                ? this.ports.replica.merge(hint.key, hint.versions)
                : isHealthy(replica)
                  ? this.ports.request(replica, { type: 'replica-put', key: hint.key, versions: hint.versions }, requestTimeoutMs)
                  : Promise.reject(new Error(`${replica} is unreachable`)),
            ),
          );
          if (!outcomes.some((outcome) => outcome.status === 'fulfilled')) throw new Error(`no other replica of ${hint.key} took the expired hint`);
        });
        if (dropped) expired++;
      }),
    );
    if (expired > 0) {
      this.hintsExpired += expired;
      this.ports.emit({ type: 'hints-expired', intendedFor: target, count: expired });
    }
    return hints.length;
  }

  /** Up to `limit` hints for `target`; forgets `target` when there are none left. */
  private async hintsFor(target: NodeId, limit: number): Promise<Hint[]> {
    const hints = await this.ports.store.listHints(target, limit);
    if (hints.length === 0) this.targets.delete(target);
    return hints;
  }

  /**
   * Hands `hint` on with `send`, then deletes it under the key's lock unless it changed meanwhile.
   * @returns whether it was deleted (false also when `send` failed: the hint stays for a later round).
   */
  private async handOn(hint: Hint, send: () => Promise<unknown>): Promise<boolean> {
    try {
      await send();
    } catch {
      return false;
    }
    return this.ports.replica.locks.run(hint.key, async () => {
      const current = await this.ports.store.getHint(hint.intendedFor, hint.key);
      if (current === undefined || !versionSetsEqual(current.versions, hint.versions)) return false;
      await this.ports.store.deleteHint(hint.intendedFor, hint.key);
      return true;
    });
  }

  private soon(): void {
    this.nextRoundAtMs = Math.min(this.nextRoundAtMs, this.ports.clock.now() + 50);
  }
}
