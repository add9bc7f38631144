/**
 * The one forwarding route of client operations (paper §4.5, §6.4): a node that is one of the key's N
 * replicas coordinates itself; any other node forwards to the healthy replicas — connected ones first,
 * else in preference-list order — and coordinates itself only when none of them answers.
 *
 *   client ─▶ this node ──(not a replica)──▶ replica A  (budget: half of what is left)
 *                                       └─▶ replica B  (A silent or gone; the last gets ¾ of what is left)
 *                                       └─▶ this node coordinates with the rest of the deadline
 *
 * A coordinator's "quorum not reached" is final (retrying elsewhere could write twice); only a
 * coordinator that could not act at all (stopped, no replicas yet, silent) is passed over.
 *
 * The serving side remembers the coordinations it ran for peers ({@link ServedRequests}): the network
 * may duplicate a coordinate-put, which must not write twice.
 */
import { QuorumNotReachedError, RemoteError } from './errors.js';
import { errorReply, type ReplyBody } from './request-table.js';
import type { NodeId } from './types.js';

/** What forwarding needs from its node. */
export interface ForwardingPorts {
  self: NodeId;
  now(): number;
  isHealthy(id: NodeId): boolean;
  /** Whether a connection to `id` is open now (absent: every node is). */
  /** The transport's test of an open connection to a node, if it has one (`Transport.isConnected`). */
  connectionTest(): ((id: NodeId) => boolean) | undefined;
}

/** Routes client operations to a coordinator. */
export class Forwarding {
  /** Operations this node forwarded to another coordinator. */
  requestsForwarded = 0;

  constructor(private readonly ports: ForwardingPorts) {}

  /**
   * Runs `operation` on a coordinator of the key whose N replicas are `replicas`, within `timeoutMs`.
   * @param coordinateHere runs it on this node with the given deadline (ms).
   * @param ask asks `coordinator` to run it within `budgetMs`; rejects when it could not.
   * @throws QuorumNotReachedError from the coordinator; whatever `coordinateHere` throws.
   */
  async route<T>(
    operation: 'get' | 'put',
    replicas: readonly NodeId[],
    timeoutMs: number,
    coordinateHere: (timeoutMs: number) => Promise<T>,
    ask: (coordinator: NodeId, budgetMs: number) => Promise<T>,
  ): Promise<T> {
    if (replicas.includes(this.ports.self)) return coordinateHere(timeoutMs);
    const startedMs = this.ports.now();
    const forwarded = await this.forward(replicas, operation, timeoutMs, ask);
    return forwarded.ok ? forwarded.value : coordinateHere(Math.max(1, timeoutMs - (this.ports.now() - startedMs)));
  }

  private async forward<T>(replicas: readonly NodeId[], operation: 'get' | 'put', timeoutMs: number, ask: (coordinator: NodeId, budgetMs: number) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    this.requestsForwarded++;
    const deadlineMs = this.ports.now() + timeoutMs;
    const healthy = replicas.filter((id) => this.ports.isHealthy(id));
    // Any of the N replicas may coordinate (§4.1); one this node is connected to first (a stable
    // sort keeps preference-list order otherwise), so that forwarding makes no new connection.
    const isConnected = this.ports.connectionTest();
    const candidates = isConnected === undefined ? healthy : [...healthy.filter((id) => isConnected(id)), ...healthy.filter((id) => !isConnected(id))];
    for (const [i, coordinator] of candidates.entries()) {
      // Attempts share the caller's deadline: each but the last gets half of what is left, so that a
      // silent coordinator leaves time for the next (and for this node to coordinate itself).
      const leftMs = deadlineMs - this.ports.now();
      const budgetMs = Math.floor(i === candidates.length - 1 ? leftMs * 0.75 : leftMs / 2);
      if (budgetMs < 2) break;
      try {
        return { ok: true, value: await ask(coordinator, budgetMs) };
      } catch (error) {
        if (error instanceof QuorumNotReachedError) throw new QuorumNotReachedError(operation, error.answered, error.needed, error.replicas, `coordinated by ${coordinator}`);
        if (error instanceof RemoteError && error.code !== 'NodeNotRunningError' && error.code !== 'NoReplicasError') throw error;
      }
    }
    return { ok: false };
  }
}

/** Most coordinations remembered; the oldest are forgotten first. */
const SERVED_LIMIT = 4096;

/** Coordinations this node ran for peers, by `sender:requestId`: running, then their reply. */
export class ServedRequests {
  private readonly served = new Map<string, ReplyBody | 'pending'>();

  /**
   * Runs `run` once per (`from`, `requestId`): a duplicate gets the first one's reply again, or no
   * reply while the first still runs. Errors become an error-reply (also remembered).
   */
  async once(from: NodeId, requestId: number, run: () => Promise<ReplyBody>): Promise<ReplyBody | undefined> {
    const key = `${from}:${requestId}`;
    const earlier = this.served.get(key);
    if (earlier !== undefined) return earlier === 'pending' ? undefined : earlier;
    this.served.set(key, 'pending');
    if (this.served.size > SERVED_LIMIT) this.served.delete(this.served.keys().next().value!);
    let reply: ReplyBody;
    try {
      reply = await run();
    } catch (error) {
      reply = errorReply(error);
    }
    if (this.served.has(key)) this.served.set(key, reply);
    return reply;
  }
}
