/**
 * The client operations of a node (paper §4.1): get, put and delete, with their per-request options
 * checked (R and W may be chosen per request, §4.5), routed to a coordinator (forwarding.ts), and their
 * results shaped for the caller: siblings decoded, the context encoded.
 */
import { contextAfterPut, decodeContext, encodeContext } from './context.js';
import { actorNode } from './epoch-actor.js';
import { InvalidOptionError, RemoteError } from './errors.js';
import type { Forwarding } from './forwarding.js';
import type { GetCoordinator } from './get-coordinator.js';
import type { ReplyMessage } from './messages.js';
import type { GetOptions, GetResult, NodeEvent, PutOptions, PutResult, SiblingView } from './node-api.js';
import type { NodeConfig } from './node-config.js';
import type { RequestTargets } from './preference-targets.js';
import type { PutCoordinator } from './put-coordinator.js';
import type { RequestBody } from './request-table.js';
import type { NodeId, VersionSet } from './types.js';
import { decodeValue, encodeValue, validateKey } from './value-codec.js';

/** What client operations need from their node. */
export interface ClientOperationPorts {
  self: NodeId;
  config: NodeConfig;
  /** A fresh id for a write this node forwards (at most 128 characters, unique across the cluster). */
  newWriteId(): string;
  /** @throws NodeNotRunningError unless the node runs. */
  assertRunning(): void;
  now(): number;
  targets(key: string): RequestTargets;
  forwarding: Forwarding;
  getCoordinator: GetCoordinator;
  putCoordinator: PutCoordinator;
  request(to: NodeId, body: RequestBody, timeoutMs: number): Promise<ReplyMessage>;
  emit(event: NodeEvent): void;
}

/** get / put / delete as the public API offers them. */
export class ClientOperations {
  constructor(private readonly ports: ClientOperationPorts) {}

  /**
   * Reads a key: waits for R replicas and returns every concurrent version.
   * @throws InvalidKeyError, InvalidOptionError, NoReplicasError, QuorumNotReachedError (how many
   *   answered of how many needed), NodeNotRunningError, StorageError.
   */
  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    this.ports.assertRunning();
    validateKey(key);
    const r = this.quorumOption('r', options.r ?? this.ports.config.r);
    const timeoutMs = this.timeoutOption(options.timeoutMs);
    const startedMs = this.ports.now();
    const outcome = await this.ports.forwarding.route(
      'get',
      this.ports.targets(key).replicas,
      timeoutMs,
      (ms) => this.ports.getCoordinator.coordinate(key, r, ms),
      async (coordinator, budgetMs) => {
        // The coordinator gets most of the budget; the rest covers the two hops.
        const reply = await this.ports.request(coordinator, { type: 'coordinate-get', key, r, timeoutMs: Math.max(1, Math.floor(budgetMs * 0.8)) }, budgetMs);
        if (reply.type !== 'coordinate-get-reply') throw new RemoteError('UnexpectedReply', `${coordinator} answered ${reply.type}`);
        return { versions: reply.versions ?? undefined, answeredBy: reply.answeredBy };
      },
    );
    const siblings = toSiblingViews(outcome.versions);
    const result: GetResult = {
      siblings,
      context: outcome.versions ? encodeContext({ clock: outcome.versions.clock, dots: outcome.versions.dots ?? [] }) : '',
      clock: (outcome.versions?.clock ?? []).map((e) => ({ node: e.node, counter: e.counter })),
      answeredBy: outcome.answeredBy,
    };
    this.ports.emit({ type: 'get', key, siblings: siblings.length, answeredBy: outcome.answeredBy, latencyMs: this.ports.now() - startedMs });
    return result;
  }

  /**
   * Writes a value (paper §4.1 `put(key, context, object)`): answers after W durable acks. Without a
   * context the write is concurrent with every existing version (it becomes a sibling).
   * @throws InvalidKeyError, InvalidValueError, ValueTooLargeError (nothing written), InvalidContextError,
   *   InvalidOptionError, VersionSetTooLargeError, ClockOverflowError, NoReplicasError, QuorumNotReachedError,
   *   NodeNotRunningError, StorageError.
   */
  async put(key: string, value: unknown, options: PutOptions = {}): Promise<PutResult> {
    this.ports.assertRunning();
    validateKey(key);
    return this.write(key, encodeValue(value), options);
  }

  /**
   * Deletes a key by writing a tombstone with the given context (DESIGN.md §3 "Deletes"). A delete
   * concurrent with a write leaves both as siblings. Same errors as {@link put}.
   */
  async delete(key: string, options: PutOptions = {}): Promise<PutResult> {
    this.ports.assertRunning();
    validateKey(key);
    return this.write(key, null, options);
  }

  private async write(key: string, data: Uint8Array | null, options: PutOptions): Promise<PutResult> {
    const context = decodeContext(options.context);
    const w = this.quorumOption('w', options.w ?? this.ports.config.w);
    const timeoutMs = this.timeoutOption(options.timeoutMs);
    const startedMs = this.ports.now();
    const { replicas } = this.ports.targets(key);
    // A write forwarded to a coordinator may be retried at another when the first answers late; every
    // attempt carries one id, so a coordinator that already holds the write answers with its dot
    // instead of making it twice (two siblings of one value).
    const writeId = replicas.includes(this.ports.self) ? undefined : this.ports.newWriteId();
    const outcome = await this.ports.forwarding.route(
      'put',
      replicas,
      timeoutMs,
      (ms) => this.ports.putCoordinator.coordinate(key, data, context, w, ms, writeId),
      async (coordinator, budgetMs) => {
        const body = { type: 'coordinate-put', key, data, context: context.clock, contextDots: context.dots, w, timeoutMs: Math.max(1, Math.floor(budgetMs * 0.8)), ...(writeId !== undefined ? { writeId } : {}) } as const;
        const reply = await this.ports.request(coordinator, body, budgetMs);
        if (reply.type !== 'coordinate-put-reply') throw new RemoteError('UnexpectedReply', `${coordinator} answered ${reply.type}`);
        return { dot: reply.dot, acks: reply.answered };
      },
    );
    this.ports.emit({ type: 'put', key, version: outcome.dot, acks: outcome.acks, coordinator: actorNode(outcome.dot.node), latencyMs: this.ports.now() - startedMs });
    return { context: encodeContext(contextAfterPut(context, outcome.dot)), version: outcome.dot, acks: outcome.acks };
  }

  private quorumOption(name: 'r' | 'w', value: number): number {
    if (!Number.isInteger(value) || value < 1 || value > this.ports.config.n) {
      throw new InvalidOptionError(`${name} must be an integer from 1 to n (${this.ports.config.n}), got ${value}`);
    }
    return value;
  }

  private timeoutOption(value: number | undefined): number {
    const timeoutMs = value ?? this.ports.config.requestTimeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
      throw new InvalidOptionError(`timeoutMs must be an integer from 1 to 600000, got ${timeoutMs}`);
    }
    return timeoutMs;
  }
}

/** Live siblings as values; tombstones only when concurrent with a live value (an edit-vs-delete conflict). */
function toSiblingViews(versions: VersionSet | undefined): SiblingView[] {
  if (versions === undefined) return [];
  const live = versions.siblings.filter((s) => s.data !== null);
  if (live.length === 0) return [];
  return versions.siblings.map((s) => ({
    value: s.data === null ? null : decodeValue(s.data),
    deleted: s.data === null,
    version: { ...s.dot },
  }));
}
