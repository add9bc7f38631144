/**
 * The request table: every request this node sent and still waits an answer for, and the deadlines of
 * whole operations (paper §4.5 gives each request and each client operation a deadline).
 *
 *   request(to, body, timeoutMs) ──▶ id ─▶ { to, deadlineMs, resolve, reject }
 *   settle(from, reply)              the reply of `id` from the node it was sent to resolves it
 *                                    (an error-reply rejects it with the remote error)
 *   expire(nowMs)                    requests past their deadline reject with RequestTimeoutError,
 *                                    operation timers that are due fire
 *
 * A reply from another node than the one asked, or after the deadline, matches nothing and is counted.
 * Ids start at a random point, so a restarted node's ids do not repeat its previous life's.
 */
import { DynamoError, QuorumNotReachedError, RemoteError, RequestTimeoutError } from './errors.js';
import type { Message, ReplyMessage } from './messages.js';
import type { Clock, Random } from './ports.js';
import type { NodeId } from './types.js';

/** Messages that expect a reply. */
export type RequestMessage = Exclude<Message, ReplyMessage | Extract<Message, { type: 'gossip' }>>;
/** A request without its id, which {@link RequestTable.request} assigns. */
export type RequestBody = RequestMessage extends infer M ? (M extends RequestMessage ? Omit<M, 'requestId'> : never) : never;
/** A reply without its id, as request handlers return it (the node adds the request's id). */
export type ReplyBody = ReplyMessage extends infer M ? (M extends ReplyMessage ? Omit<M, 'requestId'> : never) : never;

interface PendingRequest {
  to: NodeId;
  deadlineMs: number;
  /** Its deadline fell in a stall of this node and was moved once already (see {@link RequestTable.reprieve}). */
  reprieved?: boolean;
  resolve: (reply: ReplyMessage) => void;
  reject: (error: unknown) => void;
}

interface Timer {
  atMs: number;
  fire: () => void;
  cancelled: boolean;
  reprieved?: boolean;
}

/** Pending requests by id, and operation timers; time comes from the caller (`expire`). */
export class RequestTable {
  private readonly pending = new Map<number, PendingRequest>();
  private timers: Timer[] = [];
  private nextRequestId: number;
  /** Replies that matched no pending request (late or spoofed). */
  repliesUnmatched = 0;

  constructor(
    private readonly clock: Clock,
    random: Random,
    private readonly send: (to: NodeId, message: Message) => void,
  ) {
    this.nextRequestId = 1 + Math.floor(random.next() * 2 ** 40);
  }

  /** Requests waiting for an answer. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Sends `body` to `to` with a fresh id and resolves with its reply.
   * @throws (rejects) RequestTimeoutError after `timeoutMs`; RemoteError or QuorumNotReachedError for an
   *   error-reply; whatever {@link failPeer} or {@link failAll} gives.
   */
  request(to: NodeId, body: RequestBody, timeoutMs: number): Promise<ReplyMessage> {
    const requestId = this.nextRequestId++;
    return new Promise<ReplyMessage>((resolve, reject) => {
      this.pending.set(requestId, { to, deadlineMs: this.clock.now() + timeoutMs, resolve, reject });
      this.send(to, { ...body, requestId } as Message);
    });
  }

  /** Matches `reply` from `from` to its request. @returns false when nothing waited for it (counted). */
  settle(from: NodeId, reply: ReplyMessage): boolean {
    const request = this.pending.get(reply.requestId);
    if (request === undefined || request.to !== from) {
      this.repliesUnmatched++;
      return false;
    }
    this.pending.delete(reply.requestId);
    if (reply.type === 'error-reply') {
      if (reply.code === 'QuorumNotReachedError' && reply.needed !== undefined) {
        request.reject(new QuorumNotReachedError('get', reply.answered ?? 0, reply.needed, reply.replicas ?? 0, `at ${from}`));
      } else {
        request.reject(new RemoteError(reply.code, `${from}: ${reply.message}`));
      }
    } else {
      request.resolve(reply);
    }
    return true;
  }

  /** Rejects requests past their deadline and fires the operation timers that are due at `nowMs`. */
  expire(nowMs: number): void {
    for (const [id, request] of this.pending) {
      if (request.deadlineMs <= nowMs) {
        this.pending.delete(id);
        request.reject(new RequestTimeoutError(`no answer from ${request.to} in time`));
      }
    }
    if (this.timers.length > 0) {
      const due = this.timers.filter((t) => t.atMs <= nowMs);
      this.timers = this.timers.filter((t) => t.atMs > nowMs && !t.cancelled);
      for (const timer of due) if (!timer.cancelled) timer.fire();
    }
  }

  /**
   * This node's own event loop was stalled until `nowMs` (a long task, a saturated CPU): the replies
   * to requests whose deadlines passed meanwhile may be waiting in its task queue, unread. Each such
   * request and timer gets `graceMs` more, once (a request is never reprieved twice, so even a node
   * that stalls on every tick still times its requests out).
   * @returns how many requests and timers were reprieved.
   */
  reprieve(nowMs: number, graceMs: number): number {
    let reprieved = 0;
    for (const request of this.pending.values()) {
      if (request.deadlineMs > nowMs || request.reprieved) continue;
      request.deadlineMs = nowMs + graceMs;
      request.reprieved = true;
      reprieved++;
    }
    for (const timer of this.timers) {
      if (timer.cancelled || timer.atMs > nowMs || timer.reprieved) continue;
      timer.atMs = nowMs + graceMs;
      timer.reprieved = true;
      reprieved++;
    }
    return reprieved;
  }

  /** Rejects every request waiting on `peer` with `error` (the peer is known to be unreachable). */
  failPeer(peer: NodeId, error: DynamoError): void {
    for (const [id, request] of this.pending) {
      if (request.to === peer) {
        this.pending.delete(id);
        request.reject(error);
      }
    }
  }

  /** Rejects every request with `error` and drops every timer (the node stops). */
  failAll(error: DynamoError): void {
    this.timers = [];
    for (const [id, request] of this.pending) {
      this.pending.delete(id);
      request.reject(error);
    }
  }

  /** Runs `fire` at `delayMs` (ms) from now, checked by {@link expire}; returns a handle to cancel it. */
  after(delayMs: number, fire: () => void): { cancel(): void } {
    const timer = { atMs: this.clock.now() + delayMs, fire, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }
}

/** The error-reply that reports `error` to a requester (its class name is the stable `code`). */
export function errorReply(error: unknown): ReplyBody {
  const err = error instanceof Error ? error : new Error(String(error));
  const quorum = error instanceof QuorumNotReachedError ? error : undefined;
  return {
    type: 'error-reply',
    code: err.name.slice(0, 64),
    message: err.message.slice(0, 2048),
    ...(quorum ? { answered: quorum.answered, needed: quorum.needed, replicas: quorum.replicas } : {}),
  };
}
